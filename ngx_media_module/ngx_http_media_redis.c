/*
 * Non-blocking Redis for nginx workers.
 *
 * One hiredis async context per nginx worker process; commands are
 * pipelined on it.  hiredis' event hooks map onto nginx events on the
 * socket hiredis owns (level-triggered, see ngx_http_media_watch).
 *
 * When a working connection breaks, the module reconnects at once; only
 * repeated failures back off (100 ms doubling to 3 s).  Between attempts,
 * commands fail at once (the caller answers 503); while a connection is
 * being made, they wait for it.  A command that
 * gets no reply within media_redis_timeout fails with TIMEOUT, and the
 * connection is dropped and remade, since a server that does not answer
 * one command will not answer the ones queued behind it.
 *
 * A command's state outlives its request: hiredis holds a pointer to it
 * until it calls back, which it always does, with a NULL reply when the
 * context is freed.
 *
 * With sentinel:// each connection begins with a search for the primary
 * (ngx_http_media_redis_find, asynchronous like the rest; commands fail at
 * once during it, as between attempts), and its first command is ROLE:
 * a server that is not (or no longer) the primary is let go, as is one
 * that answers a command READONLY (demoted while we stayed connected),
 * and the next search begins with the next sentinel.  No restart: the
 * new primary is found the way a lost connection is remade.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <arpa/inet.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_media_fd.h"
#include "ngx_http_media_redis.h"


#define NGX_HTTP_MEDIA_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_MEDIA_REDIS_BACKOFF_MAX  3000


typedef struct {
    ngx_http_media_redis_link_t      link;      /* link.ac, link.c */
    ngx_http_media_redis_finder_t    finder;    /* sentinel:// */
    ngx_http_media_main_conf_t      *conf;
    ngx_log_t                       *log;
    ngx_event_t                      reconnect;
    ngx_event_t                      connect_timer;
    ngx_msec_t                       backoff;
    ngx_uint_t                       pending;   /* sent, not answered */
    ngx_uint_t                       errors;    /* since start: /metrics */
    ngx_uint_t                       connects;
    unsigned                         connected:1;
    unsigned                         exiting:1;
} ngx_http_media_redis_client_t;


typedef struct {
    ngx_http_request_t              *request;   /* NULL once it went away */
    ngx_pool_cleanup_t              *cleanup;
    ngx_http_media_redis_handler_pt  handler;
    void                            *data;
    ngx_event_t                      timer;
    ngx_event_t                      failed;    /* posted: failed at once */
    unsigned                         done:1;    /* answered or abandoned */
    unsigned                         sent:1;    /* hiredis holds it */
    unsigned                         detached:1; /* no one waits for it */
    u_char                           what[80];  /* detached: for the log */
} ngx_http_media_redis_cmd_t;


static void ngx_http_media_redis_connect(ngx_http_media_redis_client_t *rc);
static void ngx_http_media_redis_found(void *data, media_addr_t *primary);
static void ngx_http_media_redis_attach(ngx_http_media_redis_client_t *rc,
    media_addr_t *addr);
static void ngx_http_media_redis_role(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_media_redis_ask(ngx_http_media_redis_finder_t *f);
static void ngx_http_media_redis_answer(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_media_redis_ask_timeout(ngx_event_t *ev);
static void ngx_http_media_redis_step(ngx_event_t *ev);
static void ngx_http_media_redis_failed_over(
    ngx_http_media_redis_client_t *rc, redisReply *rp);
static void ngx_http_media_redis_schedule(ngx_http_media_redis_client_t *rc);
static void ngx_http_media_redis_drop(ngx_http_media_redis_client_t *rc,
    const char *why);
static void ngx_http_media_redis_reconnect(ngx_event_t *ev);
static void ngx_http_media_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_media_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_media_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_media_redis_read(ngx_event_t *ev);
static void ngx_http_media_redis_write(ngx_event_t *ev);
static void ngx_http_media_redis_add_read(void *data);
static void ngx_http_media_redis_del_read(void *data);
static void ngx_http_media_redis_add_write(void *data);
static void ngx_http_media_redis_del_write(void *data);
static void ngx_http_media_redis_ev_cleanup(void *data);
static void ngx_http_media_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_media_redis_timeout(ngx_event_t *ev);
static void ngx_http_media_redis_failed(ngx_event_t *ev);
static void ngx_http_media_redis_complete(ngx_http_media_redis_cmd_t *cmd,
    ngx_http_media_redis_status_e status, redisReply *reply);
static ngx_int_t ngx_http_media_redis_copy(ngx_http_request_t *r,
    redisReply *reply, ngx_http_media_redis_result_t *res);
static void ngx_http_media_redis_cleanup(void *data);
static void ngx_http_media_redis_free(ngx_http_media_redis_cmd_t *cmd);


static ngx_http_media_redis_client_t  *ngx_http_media_redis_client;


ngx_int_t
ngx_http_media_redis_init(ngx_cycle_t *cycle,
    ngx_http_media_main_conf_t *mmcf)
{
    ngx_http_media_redis_client_t  *rc;

    rc = ngx_pcalloc(cycle->pool, sizeof(ngx_http_media_redis_client_t));
    if (rc == NULL) {
        return NGX_ERROR;
    }

    rc->conf = mmcf;
    rc->log = cycle->log;

    rc->reconnect.handler = ngx_http_media_redis_reconnect;
    rc->reconnect.data = rc;
    rc->reconnect.log = cycle->log;
    rc->reconnect.cancelable = 1;

    rc->connect_timer.handler = ngx_http_media_redis_connect_timeout;
    rc->connect_timer.data = rc;
    rc->connect_timer.log = cycle->log;
    rc->connect_timer.cancelable = 1;

    ngx_http_media_redis_finder_init(&rc->finder, mmcf, cycle->log,
                                     ngx_http_media_redis_found, rc);

    ngx_http_media_redis_client = rc;

    ngx_http_media_redis_connect(rc);

    return NGX_OK;
}


void
ngx_http_media_redis_done(void)
{
    ngx_http_media_redis_client_t  *rc;

    rc = ngx_http_media_redis_client;
    if (rc == NULL) {
        return;
    }

    rc->exiting = 1;

    if (rc->reconnect.timer_set) {
        ngx_del_timer(&rc->reconnect);
    }

    ngx_http_media_redis_find_cancel(&rc->finder);
    ngx_http_media_redis_drop(rc, NULL);

    ngx_http_media_redis_client = NULL;
}


static void
ngx_http_media_redis_connect(ngx_http_media_redis_client_t *rc)
{
    if (rc->conf->redis_addr.nsentinels == 0) {
        ngx_http_media_redis_attach(rc, &rc->conf->redis_addr.addr);
        return;
    }

    if (!rc->finder.busy) {
        ngx_http_media_redis_find(&rc->finder);
    }
}


static void
ngx_http_media_redis_found(void *data, media_addr_t *primary)
{
    ngx_http_media_redis_client_t  *rc = data;

    if (primary == NULL) {
        rc->errors++;
        ngx_http_media_redis_schedule(rc);
        return;
    }

    ngx_http_media_redis_attach(rc, primary);
}


static void
ngx_http_media_redis_attach(ngx_http_media_redis_client_t *rc,
    media_addr_t *addr)
{
    redisAsyncContext  *ac;

    if (ngx_http_media_redis_open(&rc->link, addr, rc->log) != NGX_OK) {
        ngx_http_media_redis_find_next(&rc->finder);
        ngx_http_media_redis_schedule(rc);
        return;
    }

    ac = rc->link.ac;
    ac->data = rc;

    /* hiredis waits for the first write event to see the connect finish */
    redisAsyncSetDisconnectCallback(ac, ngx_http_media_redis_on_disconnect);
    redisAsyncSetConnectCallback(ac, ngx_http_media_redis_on_connect);

    ngx_add_timer(&rc->connect_timer, rc->conf->redis_timeout);

    /* sent first, so answered before any command queued behind it */
    if (rc->conf->redis_addr.nsentinels
        && redisAsyncCommand(ac, ngx_http_media_redis_role, rc, "ROLE")
           != REDIS_OK)
    {
        ngx_http_media_redis_drop(rc, "ROLE could not be sent");
    }
}


/* the primary a sentinel named must say so itself */
static void
ngx_http_media_redis_role(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                     *rp = reply;
    ngx_http_media_redis_client_t  *rc = privdata;

    if (rp == NULL || rc->link.ac != ac) {
        return;
    }

    if (rp->type == REDIS_REPLY_ARRAY && rp->elements > 0
        && rp->element[0]->type == REDIS_REPLY_STRING
        && ngx_strcmp(rp->element[0]->str, "master") == 0)
    {
        ngx_log_error(NGX_LOG_INFO, rc->log, 0, "media redis role: the "
                      "primary \"%s\" named by the sentinels is at %s:%d",
                      rc->conf->redis_addr.master, rc->finder.primary.host,
                      rc->finder.primary.port);
        return;
    }

    /* freed once this callback returns; what is queued behind fails */
    ngx_http_media_redis_find_next(&rc->finder);
    ngx_http_media_redis_drop(rc, "the server the sentinel named is not "
                              "a primary (a failover under way?)");
}


static void
ngx_http_media_redis_schedule(ngx_http_media_redis_client_t *rc)
{
    if (rc->exiting || ngx_exiting || ngx_terminate || ngx_quit
        || rc->reconnect.timer_set)
    {
        return;
    }

    /* 0 the first time: the next turn of the event loop */
    ngx_add_timer(&rc->reconnect, rc->backoff);

    rc->backoff = rc->backoff
                  ? ngx_min(rc->backoff * 2, NGX_HTTP_MEDIA_REDIS_BACKOFF_MAX)
                  : NGX_HTTP_MEDIA_REDIS_BACKOFF_MIN;
}


/* frees the context; hiredis calls every pending callback with NULL */
static void
ngx_http_media_redis_drop(ngx_http_media_redis_client_t *rc, const char *why)
{
    redisAsyncContext  *ac;

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }

    ac = rc->link.ac;
    if (ac == NULL) {
        return;
    }

    if (why) {
        ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                      "media redis drop: %s, reconnecting", why);
        rc->errors++;
    }

    rc->link.ac = NULL;
    rc->connected = 0;
    redisAsyncFree(ac);

    ngx_http_media_redis_schedule(rc);
}


static void
ngx_http_media_redis_reconnect(ngx_event_t *ev)
{
    ngx_http_media_redis_connect(ev->data);
}


static void
ngx_http_media_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_media_redis_drop(ev->data, "connect timed out");
}


static void
ngx_http_media_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_media_redis_client_t  *rc = ac->data;

    if (rc->connect_timer.timer_set) {
        ngx_del_timer(&rc->connect_timer);
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                      "media redis on connect: %s", ac->errstr);
        rc->errors++;
        rc->link.ac = NULL;
        ngx_http_media_redis_find_next(&rc->finder);
        ngx_http_media_redis_schedule(rc);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, rc->log, 0, "media redis on connect: "
                  "connected");

    rc->backoff = 0;
    rc->connected = 1;
    rc->connects++;
}


static void
ngx_http_media_redis_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_media_redis_client_t  *rc = ac->data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rc->log, 0,
                      "media redis on disconnect: %s", ac->errstr);
        rc->errors++;
    }

    if (rc->link.ac == ac) {
        rc->link.ac = NULL;
        rc->connected = 0;
        ngx_http_media_redis_find_next(&rc->finder);
    }

    ngx_http_media_redis_schedule(rc);
}


/* the link: a context on nginx events --------------------------------- */

ngx_int_t
ngx_http_media_redis_open(ngx_http_media_redis_link_t *link,
    media_addr_t *addr, ngx_log_t *log)
{
    redisAsyncContext  *ac;

    /* the address is numeric (resolved at configuration time) */
    if (addr->port) {
        ac = redisAsyncConnect(addr->host, addr->port);
    } else {
        ac = redisAsyncConnectUnix(addr->path);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "media redis connect: out of memory");
        return NGX_ERROR;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "media redis connect: %s", ac->errstr);
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    link->c = ngx_http_media_wrap_fd(ac->c.fd, log, link,
                                     ngx_http_media_redis_read,
                                     ngx_http_media_redis_write);
    if (link->c == NULL) {
        redisAsyncFree(ac);
        return NGX_ERROR;
    }

    link->ac = ac;
    ac->ev.data = link;
    ac->ev.addRead = ngx_http_media_redis_add_read;
    ac->ev.delRead = ngx_http_media_redis_del_read;
    ac->ev.addWrite = ngx_http_media_redis_add_write;
    ac->ev.delWrite = ngx_http_media_redis_del_write;
    ac->ev.cleanup = ngx_http_media_redis_ev_cleanup;

    return NGX_OK;
}


static void
ngx_http_media_redis_read(ngx_event_t *ev)
{
    ngx_connection_t             *c = ev->data;
    ngx_http_media_redis_link_t  *link = c->data;

    /* may free the context (and so this connection) on EOF or error */
    redisAsyncHandleRead(link->ac);
}


static void
ngx_http_media_redis_write(ngx_event_t *ev)
{
    ngx_connection_t             *c = ev->data;
    ngx_http_media_redis_link_t  *link = c->data;

    redisAsyncHandleWrite(link->ac);
}


static void
ngx_http_media_redis_add_read(void *data)
{
    ngx_http_media_redis_link_t  *link = data;

    (void) ngx_http_media_watch(link->c->read, 1);
}


static void
ngx_http_media_redis_del_read(void *data)
{
    ngx_http_media_redis_link_t  *link = data;

    (void) ngx_http_media_watch(link->c->read, 0);
}


static void
ngx_http_media_redis_add_write(void *data)
{
    ngx_http_media_redis_link_t  *link = data;

    (void) ngx_http_media_watch(link->c->write, 1);
}


static void
ngx_http_media_redis_del_write(void *data)
{
    ngx_http_media_redis_link_t  *link = data;

    (void) ngx_http_media_watch(link->c->write, 0);
}


/* hiredis is about to close its socket: let nginx forget it first */
static void
ngx_http_media_redis_ev_cleanup(void *data)
{
    ngx_http_media_redis_link_t  *link = data;

    if (link->c) {
        ngx_http_media_unwrap_fd(link->c, 0);
        link->c = NULL;
    }
}


/* finding the primary through Sentinel ----------------------------------- */

void
ngx_http_media_redis_finder_init(ngx_http_media_redis_finder_t *f,
    ngx_http_media_main_conf_t *mmcf, ngx_log_t *log,
    ngx_http_media_redis_found_pt handler, void *data)
{
    ngx_memzero(f, sizeof(ngx_http_media_redis_finder_t));

    f->conf = &mmcf->redis_addr;
    f->timeout = mmcf->redis_timeout;
    f->log = log;
    f->handler = handler;
    f->data = data;

    f->timer.handler = ngx_http_media_redis_ask_timeout;
    f->timer.data = f;
    f->timer.log = log;
    f->timer.cancelable = 1;

    f->step.handler = ngx_http_media_redis_step;
    f->step.data = f;
    f->step.log = log;
}


void
ngx_http_media_redis_find(ngx_http_media_redis_finder_t *f)
{
    f->busy = 1;
    f->found = 0;
    f->tried = 0;

    ngx_http_media_redis_ask(f);
}


void
ngx_http_media_redis_find_next(ngx_http_media_redis_finder_t *f)
{
    if (f->conf->nsentinels) {
        f->next = (f->next + 1) % f->conf->nsentinels;
    }
}


void
ngx_http_media_redis_find_cancel(ngx_http_media_redis_finder_t *f)
{
    redisAsyncContext  *ac;

    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    if (f->step.posted) {
        ngx_delete_posted_event(&f->step);
    }

    ac = f->link.ac;
    f->link.ac = NULL;
    f->busy = 0;

    if (ac) {
        redisAsyncFree(ac);
    }
}


/* the next sentinel that can be asked, or the search's end posted */
static void
ngx_http_media_redis_ask(ngx_http_media_redis_finder_t *f)
{
    media_addr_t       *sentinel;
    redisAsyncContext  *ac;

    while (f->tried < f->conf->nsentinels) {
        sentinel = &f->conf->sentinels[f->next];

        if (ngx_http_media_redis_open(&f->link, sentinel, f->log) == NGX_OK) {
            ac = f->link.ac;
            ac->data = f;

            if (redisAsyncCommand(ac, ngx_http_media_redis_answer, f,
                                  "SENTINEL get-master-addr-by-name %s",
                                  f->conf->master)
                == REDIS_OK)
            {
                ngx_add_timer(&f->timer, f->timeout);
                return;
            }

            f->link.ac = NULL;
            redisAsyncFree(ac);
        }

        f->tried++;
        ngx_http_media_redis_find_next(f);
    }

    ngx_log_error(NGX_LOG_ERR, f->log, 0, "media redis find: none of the "
                  "%d sentinels named a primary \"%s\", trying again",
                  f->conf->nsentinels, f->conf->master);

    ngx_post_event(&f->step, &ngx_posted_events);
}


/* [host, port], or nil when the sentinel watches no such name */
static void
ngx_http_media_redis_answer(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                     *rp = reply;
    ngx_http_media_redis_finder_t  *f = privdata;

    long                            port;
    media_addr_t                   *sentinel, *p;
    struct in6_addr                 a6;

    if (f->link.ac != ac) {
        return;                             /* let go of (timer, cancel) */
    }

    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    f->link.ac = NULL;

    sentinel = &f->conf->sentinels[f->next];
    p = &f->primary;

    if (rp == NULL) {
        /* hiredis is freeing the context: refused, or dropped */
        ngx_log_error(NGX_LOG_ERR, f->log, 0, "media redis find: sentinel "
                      "%s:%d: %s", sentinel->host, sentinel->port,
                      ac->errstr[0] ? ac->errstr : "connection lost");

    } else if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 2
               || rp->element[0]->type != REDIS_REPLY_STRING
               || rp->element[1]->type != REDIS_REPLY_STRING
               || rp->element[0]->len >= sizeof(p->host)
               || media_conf_parse_uint(rp->element[1]->str,
                                        rp->element[1]->len, 65535, &port)
                  != 0)
    {
        ngx_log_error(NGX_LOG_ERR, f->log, 0, "media redis find: sentinel "
                      "%s:%d does not know a primary named \"%s\" (%s): "
                      "check media_redis and its \"sentinel monitor\"",
                      sentinel->host, sentinel->port, f->conf->master,
                      rp->type == REDIS_REPLY_ERROR ? rp->str : "no answer");

    } else if (inet_pton(AF_INET, rp->element[0]->str, &a6) != 1
               && inet_pton(AF_INET6, rp->element[0]->str, &a6) != 1)
    {
        /* a name would be looked up by hiredis, blocking */
        ngx_log_error(NGX_LOG_ERR, f->log, 0, "media redis find: sentinel "
                      "%s:%d names the primary by the host name \"%s\": "
                      "give the sentinels addresses (sentinel monitor, "
                      "replica-announce-ip)", sentinel->host, sentinel->port,
                      rp->element[0]->str);

    } else {
        ngx_memzero(p, sizeof(media_addr_t));
        ngx_memcpy(p->host, rp->element[0]->str, rp->element[0]->len);
        p->port = (int) port;
        f->found = 1;
    }

    if (!f->found) {
        f->tried++;
        ngx_http_media_redis_find_next(f);
    }

    /* freed once this callback returns (or being freed already) */
    if (rp) {
        redisAsyncFree(ac);
    }

    /* on the next turn: the context and its connection are gone by then */
    ngx_post_event(&f->step, &ngx_posted_events);
}


static void
ngx_http_media_redis_ask_timeout(ngx_event_t *ev)
{
    ngx_http_media_redis_finder_t  *f = ev->data;

    redisAsyncContext  *ac;

    ngx_log_error(NGX_LOG_ERR, f->log, 0, "media redis find: sentinel "
                  "%s:%d did not answer in time",
                  f->conf->sentinels[f->next].host,
                  f->conf->sentinels[f->next].port);

    ac = f->link.ac;
    f->link.ac = NULL;

    if (ac) {
        redisAsyncFree(ac);
    }

    f->tried++;
    ngx_http_media_redis_find_next(f);

    ngx_post_event(&f->step, &ngx_posted_events);
}


static void
ngx_http_media_redis_step(ngx_event_t *ev)
{
    ngx_http_media_redis_finder_t  *f = ev->data;

    if (!f->found && f->tried < f->conf->nsentinels) {
        ngx_http_media_redis_ask(f);
        return;
    }

    f->busy = 0;

    f->handler(f->data, f->found ? &f->primary : NULL);
}


/* commands ------------------------------------------------------------- */

ngx_int_t
ngx_http_media_redis_command(ngx_http_request_t *r,
    ngx_http_media_redis_handler_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen)
{
    ngx_pool_cleanup_t              *cln;
    ngx_http_media_redis_cmd_t      *cmd;
    ngx_http_media_redis_client_t   *rc;

    cln = NULL;

    if (handler) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }
    }

    cmd = ngx_calloc(sizeof(ngx_http_media_redis_cmd_t), ngx_cycle->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->failed.handler = ngx_http_media_redis_failed;
    cmd->failed.data = cmd;

    if (handler) {
        cmd->request = r;
        cmd->handler = handler;
        cmd->data = data;
        cmd->cleanup = cln;
        cln->handler = ngx_http_media_redis_cleanup;
        cln->data = cmd;
        cmd->failed.log = r->connection->log;

    } else {
        /* the request may end before the answer comes: nothing of it is
         * kept but a line for the log */
        cmd->detached = 1;
        cmd->failed.log = ngx_cycle->log;
        ngx_snprintf(cmd->what, sizeof(cmd->what) - 1, "%*s %*s %*s",
                     argvlen[0], argv[0], argc > 1 ? argvlen[1] : 0,
                     argc > 1 ? argv[1] : "", argc > 0 ? argvlen[argc - 1] : 0,
                     argv[argc - 1]);
    }

    rc = ngx_http_media_redis_client;

    /*
     * While connecting, hiredis buffers the command and writes it once
     * connected (or calls back with NULL if that fails); only with no
     * context at all, between reconnect attempts, do we fail at once.
     */
    if (rc == NULL || rc->link.ac == NULL
        || redisAsyncCommandArgv(rc->link.ac, ngx_http_media_redis_reply, cmd,
                                 argc, argv, argvlen)
           != REDIS_OK)
    {
        ngx_post_event(&cmd->failed, &ngx_posted_events);
        return NGX_OK;
    }

    cmd->sent = 1;
    rc->pending++;

    cmd->timer.handler = ngx_http_media_redis_timeout;
    cmd->timer.data = cmd;
    cmd->timer.log = rc->log;
    ngx_add_timer(&cmd->timer, rc->conf->redis_timeout);

    return NGX_OK;
}


ngx_int_t
ngx_http_media_redis_enqueue(ngx_http_request_t *r, const char *stream,
    ngx_str_t *job, ngx_http_media_redis_handler_pt handler, void *data)
{
    const char  *argv[5];
    size_t       argvlen[5];

    argv[0] = "XADD";
    argvlen[0] = 4;
    argv[1] = stream;
    argvlen[1] = ngx_strlen(stream);
    argv[2] = "*";
    argvlen[2] = 1;
    argv[3] = MEDIA_STREAM_FIELD_JOB;
    argvlen[3] = sizeof(MEDIA_STREAM_FIELD_JOB) - 1;
    argv[4] = (char *) job->data;
    argvlen[4] = job->len;

    return ngx_http_media_redis_command(r, handler, data, 5, argv, argvlen);
}


/*
 * One Lua script, so counting and reading the count are one step: two
 * requests at the same moment cannot both take the last place.  A key
 * found without an expiry (it cannot be made so here, but a hand may)
 * gets one rather than counting for ever.
 */
static const char  ngx_http_media_redis_limit_script[] =
    "local n = redis.call('INCR', KEYS[1]) "
    "if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end "
    "if n <= tonumber(ARGV[1]) then return 0 end "
    "local t = redis.call('PTTL', KEYS[1]) "
    "if t < 0 then "
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "  t = tonumber(ARGV[2]) "
    "end "
    "return t";


ngx_int_t
ngx_http_media_redis_limit(ngx_http_request_t *r, ngx_str_t *key,
    ngx_uint_t limit, ngx_msec_t window,
    ngx_http_media_redis_handler_pt handler, void *data)
{
    u_char      *buf;
    const char  *argv[6];
    size_t       argvlen[6];

    buf = ngx_pnalloc(r->pool, 2 * NGX_INT_T_LEN);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = ngx_http_media_redis_limit_script;
    argvlen[1] = sizeof(ngx_http_media_redis_limit_script) - 1;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = (char *) key->data;
    argvlen[3] = key->len;
    argv[4] = (char *) buf;
    argvlen[4] = ngx_sprintf(buf, "%ui", limit) - buf;
    argv[5] = (char *) buf + argvlen[4];
    argvlen[5] = ngx_sprintf(buf + argvlen[4], "%M", window)
                 - (buf + argvlen[4]);

    return ngx_http_media_redis_command(r, handler, data, 6, argv, argvlen);
}

static void
ngx_http_media_redis_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    redisReply                  *rp = reply;
    ngx_http_media_redis_cmd_t  *cmd = privdata;

    cmd->sent = 0;

    if (ngx_http_media_redis_client && ngx_http_media_redis_client->pending) {
        ngx_http_media_redis_client->pending--;
    }

    if (!cmd->done) {
        ngx_http_media_redis_complete(cmd,
                 rp == NULL ? NGX_HTTP_MEDIA_REDIS_UNAVAILABLE
                 : rp->type == REDIS_REPLY_ERROR ? NGX_HTTP_MEDIA_REDIS_ERROR
                 : NGX_HTTP_MEDIA_REDIS_OK,
                 rp);
    }

    ngx_http_media_redis_free(cmd);

    if (rp && rp->type == REDIS_REPLY_ERROR && ngx_http_media_redis_client
        && ngx_http_media_redis_client->link.ac == ac)
    {
        ngx_http_media_redis_failed_over(ngx_http_media_redis_client, rp);
    }
}


/*
 * READONLY: Sentinel made our primary a replica while we stayed connected
 * (its old primary came back); MASTERDOWN: a replica cut off from its
 * primary.  Either way, ask the sentinels again.  Without sentinels the
 * same server would be found again: the error is only answered.
 */
static void
ngx_http_media_redis_failed_over(ngx_http_media_redis_client_t *rc,
    redisReply *rp)
{
    if (rc->conf->redis_addr.nsentinels == 0
        || (ngx_strncmp(rp->str, "READONLY", 8) != 0
            && ngx_strncmp(rp->str, "MASTERDOWN", 10) != 0))
    {
        return;
    }

    ngx_http_media_redis_find_next(&rc->finder);
    ngx_http_media_redis_drop(rc, "the primary became a replica "
                              "(READONLY), asking the sentinels");
}


static void
ngx_http_media_redis_timeout(ngx_event_t *ev)
{
    ngx_http_media_redis_cmd_t  *cmd = ev->data;

    ngx_http_media_redis_complete(cmd, NGX_HTTP_MEDIA_REDIS_TIMEOUT, NULL);

    /* freeing the context calls back with NULL, which frees cmd */
    ngx_http_media_redis_drop(ngx_http_media_redis_client,
                              "command timed out");
}


static void
ngx_http_media_redis_failed(ngx_event_t *ev)
{
    ngx_http_media_redis_cmd_t  *cmd = ev->data;

    ngx_http_media_redis_complete(cmd, NGX_HTTP_MEDIA_REDIS_UNAVAILABLE,
                                  NULL);
    ngx_http_media_redis_free(cmd);
}


static void
ngx_http_media_redis_complete(ngx_http_media_redis_cmd_t *cmd,
    ngx_http_media_redis_status_e status, redisReply *reply)
{
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_media_redis_result_t   res;

    cmd->done = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    r = cmd->request;
    if (r == NULL) {
        if (cmd->detached && status != NGX_HTTP_MEDIA_REDIS_OK) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "media redis: \"%s\" failed (%s)%s", cmd->what,
                          status == NGX_HTTP_MEDIA_REDIS_TIMEOUT
                          ? "timed out"
                          : status == NGX_HTTP_MEDIA_REDIS_UNAVAILABLE
                          ? "not connected" : "an error answer",
                          ngx_strncmp(cmd->what, "XADD", 4) == 0
                          ? "; the workers' reconciler enqueues the job "
                            "from its row" : "");
        }
        return;
    }

    cmd->request = NULL;
    cmd->cleanup->handler = NULL;

    ngx_memzero(&res, sizeof(ngx_http_media_redis_result_t));
    res.status = status;

    switch (status) {

    case NGX_HTTP_MEDIA_REDIS_TIMEOUT:
        ngx_str_set(&res.str, "timed out");
        break;

    case NGX_HTTP_MEDIA_REDIS_UNAVAILABLE:
        ngx_str_set(&res.str, "not connected");
        break;

    default:
        if (ngx_http_media_redis_copy(r, reply, &res) != NGX_OK) {
            res.status = NGX_HTTP_MEDIA_REDIS_ERROR;
            ngx_str_set(&res.str, "out of memory");
        }
    }

    c = r->connection;

    cmd->handler(r, &res, cmd->data);

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_media_redis_copy(ngx_http_request_t *r, redisReply *reply,
    ngx_http_media_redis_result_t *res)
{
    size_t       i;
    ngx_str_t    s;
    redisReply  *e;

    res->integer = (ngx_int_t) reply->integer;

    if (reply->str) {
        s.data = (u_char *) reply->str;
        s.len = reply->len;

        res->str.data = ngx_pstrdup(r->pool, &s);
        if (res->str.data == NULL) {
            return NGX_ERROR;
        }
        res->str.len = s.len;
    }

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        return NGX_OK;
    }

    res->elts = ngx_pcalloc(r->pool, reply->elements * sizeof(ngx_str_t));
    if (res->elts == NULL) {
        return NGX_ERROR;
    }

    res->nelts = reply->elements;

    for (i = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->str == NULL) {
            continue;
        }

        s.data = (u_char *) e->str;
        s.len = e->len;

        res->elts[i].data = ngx_pstrdup(r->pool, &s);
        if (res->elts[i].data == NULL) {
            return NGX_ERROR;
        }
        res->elts[i].len = s.len;
    }

    return NGX_OK;
}


static void
ngx_http_media_redis_cleanup(void *data)
{
    ngx_http_media_redis_cmd_t  *cmd = data;

    cmd->request = NULL;
    cmd->done = 1;

    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (!cmd->sent) {
        ngx_http_media_redis_free(cmd);
    }
}


static void
ngx_http_media_redis_free(ngx_http_media_redis_cmd_t *cmd)
{
    if (cmd->timer.timer_set) {
        ngx_del_timer(&cmd->timer);
    }

    if (cmd->failed.posted) {
        ngx_delete_posted_event(&cmd->failed);
    }

    ngx_free(cmd);
}


void
ngx_http_media_redis_stats(ngx_http_media_pool_stats_t *st)
{
    ngx_http_media_redis_client_t  *rc;

    ngx_memzero(st, sizeof(ngx_http_media_pool_stats_t));

    rc = ngx_http_media_redis_client;
    if (rc == NULL) {
        return;
    }

    st->open = rc->connected;
    st->busy = rc->pending;
    st->errors = rc->errors;
    st->connects = rc->connects;
}
