/*
 * Non-blocking Redis for nginx workers: hiredis' async context on an
 * adapter onto nginx events, one connection per worker (commands are
 * pipelined on it), reconnect with backoff, a timeout on every command.
 */

#ifndef _NGX_HTTP_MEDIA_REDIS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


typedef enum {
    NGX_HTTP_MEDIA_REDIS_OK = 0,     /* a reply that is not an error */
    NGX_HTTP_MEDIA_REDIS_ERROR,      /* Redis answered with an error */
    NGX_HTTP_MEDIA_REDIS_TIMEOUT,
    NGX_HTTP_MEDIA_REDIS_UNAVAILABLE
} ngx_http_media_redis_status_e;


/* a reply as plain values in the request pool */
typedef struct {
    ngx_http_media_redis_status_e  status;
    ngx_int_t                      integer;
    ngx_str_t                      str;      /* status, string or error */
    ngx_uint_t                     nelts;    /* for an array reply */
    ngx_str_t                     *elts;     /* its string elements */
} ngx_http_media_redis_result_t;


typedef void (*ngx_http_media_redis_handler_pt)(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);


/*
 * A hiredis async context driven by nginx events: its socket wrapped in
 * an nginx connection (link->c), hiredis' event hooks onto that.  The
 * command client here keeps one; so does the blocked set's subscriber
 * (ngx_http_media_blocked.c), which sets its own callbacks on link->ac
 * (ac->data is the owner's; ac->ev.data is the link's).
 */
typedef struct {
    struct redisAsyncContext      *ac;    /* NULL: none */
    ngx_connection_t              *c;     /* NULL once hiredis closed it */
} ngx_http_media_redis_link_t;


/* starts connecting to addr; NGX_ERROR (logged) when it cannot even
 * start, or its socket cannot be watched */
ngx_int_t ngx_http_media_redis_open(ngx_http_media_redis_link_t *link,
    media_addr_t *addr, ngx_log_t *log);


/*
 * The primary that Redis Sentinel names (media_redis sentinel://...):
 * each search asks the sentinels in turn, from the one after the last
 * that failed us, over a short-lived context of its own, and calls the
 * handler from the event loop with the address of the first answer, or
 * NULL when none answered.  A primary that then fails (refuses, drops,
 * answers ROLE as a replica or READONLY) is reported with find_next, so
 * that the next search begins with another sentinel.
 */
typedef void (*ngx_http_media_redis_found_pt)(void *data,
    media_addr_t *primary);

typedef struct {
    ngx_http_media_redis_link_t     link;      /* to the sentinel asked */
    media_redis_addr_t             *conf;
    ngx_msec_t                      timeout;
    ngx_log_t                      *log;
    ngx_event_t                     timer;
    ngx_event_t                     step;      /* posted: go on */
    ngx_int_t                       next;      /* the sentinel to ask */
    ngx_int_t                       tried;     /* in this search */
    media_addr_t                    primary;
    ngx_http_media_redis_found_pt   handler;
    void                           *data;
    unsigned                        found:1;
    unsigned                        busy:1;
} ngx_http_media_redis_finder_t;

void ngx_http_media_redis_finder_init(ngx_http_media_redis_finder_t *f,
    ngx_http_media_main_conf_t *mmcf, ngx_log_t *log,
    ngx_http_media_redis_found_pt handler, void *data);
void ngx_http_media_redis_find(ngx_http_media_redis_finder_t *f);
void ngx_http_media_redis_find_next(ngx_http_media_redis_finder_t *f);
void ngx_http_media_redis_find_cancel(ngx_http_media_redis_finder_t *f);


ngx_int_t ngx_http_media_redis_init(ngx_cycle_t *cycle,
    ngx_http_media_main_conf_t *mmcf);
void ngx_http_media_redis_done(void);

/*
 * Sends one command.  As with the PostgreSQL pool: NGX_OK means the
 * handler will be called later from the event loop (unless the request is
 * gone first), NGX_ERROR means it will not be.  With handler NULL the
 * command is detached from r: nobody waits for it, r may end at once, and
 * a failure is only logged (for an XADD whose job row is already
 * committed: the workers' reconciler enqueues it from the row).
 */
ngx_int_t ngx_http_media_redis_command(ngx_http_request_t *r,
    ngx_http_media_redis_handler_pt handler, void *data,
    int argc, const char **argv, const size_t *argvlen);

/* XADD stream * job <id>: the entry only names its row (media_shared.h) */
ngx_int_t ngx_http_media_redis_enqueue(ngx_http_request_t *r,
    const char *stream, ngx_str_t *job,
    ngx_http_media_redis_handler_pt handler, void *data);

/*
 * A fixed-window rate limit: counts this request under key and answers
 * res->integer 0 when it is within limit for the window, else the ms
 * until the window ends (for Retry-After).
 */
ngx_int_t ngx_http_media_redis_limit(ngx_http_request_t *r, ngx_str_t *key,
    ngx_uint_t limit, ngx_msec_t window,
    ngx_http_media_redis_handler_pt handler, void *data);


/* this worker process's command connection (/metrics) */
void ngx_http_media_redis_stats(ngx_http_media_pool_stats_t *st);


#endif /* _NGX_HTTP_MEDIA_REDIS_H_INCLUDED_ */
