/*
 * The blocked set (see ngx_http_media_blocked.h).
 *
 * Shared memory: two open-addressing hash tables of (kind, 16-byte id),
 * linear probing, at most half full; one is active.  Readers take no
 * lock: a sequence counter, odd while a writer changes the active table
 * or switches tables, tells them to look again (after a few tries they
 * take the writers' mutex).  A full reload fills the inactive table and
 * switches, so a reader never sees half a reload.
 *
 * Feeding it: nginx worker 0 alone (the master respawns a worker 0 that
 * dies, under the same number, and a reload starts a new one) keeps a
 * hiredis connection of its own, SUBSCRIBEd to "media:blocked", and
 * applies each message to the set at once.  Every time the subscription
 * is confirmed (first start, and each reconnect: Redis restarted or was
 * away, and messages published meanwhile are lost), it reloads the whole
 * set from PostgreSQL; messages that arrive while that query runs are
 * applied at once and again after the reload, so a change committed
 * after the query's snapshot is not undone by it.  A worker of an older
 * configuration still shutting down keeps its subscriber until it exits;
 * both write the same, under the mutex.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_reply.h"
#include "ngx_http_media_blocked.h"
#include "media_token.h"


#define NGX_HTTP_MEDIA_BLOCKED_TRIES        8     /* lock-free reads */

/*
 * The readers' side of the sequence lock: an acquiring load, then an
 * acquiring fence before the second look (Boehm, "Can seqlocks get along
 * with programming language memory models?").  On x86 both are plain
 * loads: no fence instruction on the segment path.  The writers keep
 * nginx's full barriers.
 */
#define ngx_http_media_blocked_seq(sh)                                        \
    __atomic_load_n(&(sh)->seq, __ATOMIC_ACQUIRE)
#define ngx_http_media_blocked_reseq(sh)                                      \
    (__atomic_thread_fence(__ATOMIC_ACQUIRE),                                 \
     __atomic_load_n(&(sh)->seq, __ATOMIC_RELAXED))
#define NGX_HTTP_MEDIA_BLOCKED_PENDING      1024  /* messages in a reload */
#define NGX_HTTP_MEDIA_BLOCKED_BACKOFF_MIN  100
#define NGX_HTTP_MEDIA_BLOCKED_BACKOFF_MAX  3000


typedef struct {
    u_char                  id[16];
    uint32_t                kind;          /* 0: an empty slot */
} ngx_http_media_blocked_entry_t;


typedef struct {
    ngx_atomic_t            seq;           /* odd: being written */
    ngx_atomic_t            active;        /* 0 or 1 */
    ngx_uint_t              nslots;        /* per table, a power of 2 */
    ngx_uint_t              count[2];
    ngx_uint_t              kinds[2][3];   /* count[t] by kind: 0 skips */
    ngx_uint_t              full;          /* ids that found no room */
    ngx_http_media_blocked_entry_t  *table[2];
} ngx_http_media_blocked_sh_t;


typedef struct {
    ngx_shm_zone_t               *zone;
    ngx_slab_pool_t              *shpool;
    ngx_http_media_blocked_sh_t  *sh;
} ngx_http_media_blocked_set_t;


typedef struct {
    u_char                  id[16];
    uint32_t                kind;
    ngx_uint_t              on;
} ngx_http_media_blocked_msg_t;


/* the subscriber, in worker 0 */
typedef struct {
    ngx_http_media_redis_link_t    link;       /* link.ac, link.c */
    ngx_http_media_redis_finder_t  finder;     /* sentinel:// */
    ngx_http_media_main_conf_t    *conf;
    ngx_http_media_blocked_set_t  *set;
    ngx_log_t                     *log;
    ngx_event_t                    reconnect;
    ngx_event_t                    connect_timer;
    ngx_msec_t                     backoff;

    /* the reload in flight: its generation, the messages since it began */
    ngx_pool_t                    *pool;       /* its own request's */
    ngx_event_t                    free_pool;  /* posted once it is read */
    ngx_uint_t                     generation;
    ngx_uint_t                     npending;
    ngx_http_media_blocked_msg_t   pending[NGX_HTTP_MEDIA_BLOCKED_PENDING];
    unsigned                       overflow:1;
    unsigned                       loading:1;
    unsigned                       exiting:1;
} ngx_http_media_blocked_sub_t;


static ngx_int_t ngx_http_media_blocked_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_uint_t ngx_http_media_blocked_slot(ngx_http_media_blocked_sh_t *sh,
    ngx_uint_t kind, const u_char *id);
static ngx_int_t ngx_http_media_blocked_find(
    ngx_http_media_blocked_entry_t *table, ngx_uint_t nslots,
    ngx_uint_t kind, const u_char *id, ngx_uint_t *at);
static ngx_int_t ngx_http_media_blocked_insert(
    ngx_http_media_blocked_sh_t *sh, ngx_uint_t t, ngx_uint_t kind,
    const u_char *id);
static void ngx_http_media_blocked_remove(ngx_http_media_blocked_sh_t *sh,
    ngx_uint_t t, ngx_uint_t kind, const u_char *id);
static void ngx_http_media_blocked_set(ngx_http_media_blocked_set_t *set,
    ngx_log_t *log, ngx_http_media_blocked_msg_t *m);

static void ngx_http_media_blocked_connect(ngx_http_media_blocked_sub_t *s);
static void ngx_http_media_blocked_found(void *data, media_addr_t *primary);
static void ngx_http_media_blocked_attach(ngx_http_media_blocked_sub_t *s,
    media_addr_t *addr);
static void ngx_http_media_blocked_schedule(ngx_http_media_blocked_sub_t *s);
static void ngx_http_media_blocked_drop(ngx_http_media_blocked_sub_t *s,
    const char *why);
static void ngx_http_media_blocked_reconnect(ngx_event_t *ev);
static void ngx_http_media_blocked_connect_timeout(ngx_event_t *ev);
static void ngx_http_media_blocked_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_media_blocked_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_media_blocked_message(redisAsyncContext *ac,
    void *reply, void *privdata);
static ngx_int_t ngx_http_media_blocked_parse(u_char *p, size_t len,
    ngx_http_media_blocked_msg_t *m);

static ngx_http_media_blocked_other_pt  ngx_http_media_blocked_other;
static void ngx_http_media_blocked_reload(ngx_http_media_blocked_sub_t *s);
static void ngx_http_media_blocked_loaded(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_blocked_free_pool(ngx_event_t *ev);


static ngx_http_media_pg_stmt_t  ngx_http_media_sql_blocked_load =
    ngx_http_media_pg_stmt("blocked_load", 0,
        "SELECT 'm', b::text FROM media_blocked_ids() AS b"
        " UNION ALL"
        " SELECT 'u', b::text FROM media_banned_ids() AS b");


static ngx_http_media_blocked_sub_t  *ngx_http_media_blocked_sub;


/* configuration --------------------------------------------------------- */

char *
ngx_http_media_blocked_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (mmcf->blocked_size) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    /* 64 KB: two tables of 1024 slots (512 ids) and the slab's pages */
    if (size == NGX_ERROR || size < 65536) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_blocked_zone \"%V\": expected a "
                           "size of at least 64k (512 ids), such as 16m "
                           "(131072 ids)", &value[1]);
        return NGX_CONF_ERROR;
    }

    mmcf->blocked_size = (size_t) size;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_media_blocked_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_media_main_conf_t    *mmcf;
    ngx_http_media_blocked_set_t  *set;

    static ngx_str_t  name = ngx_string("media_blocked");

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);

    if (mmcf->blocked_size == 0) {
        mmcf->blocked_size = NGX_HTTP_MEDIA_BLOCKED_ZONE;
    }

    set = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_blocked_set_t));
    if (set == NULL) {
        return NGX_ERROR;
    }

    set->zone = ngx_shared_memory_add(cf, &name, mmcf->blocked_size,
                                      &ngx_http_media_module);
    if (set->zone == NULL) {
        return NGX_ERROR;
    }

    set->zone->init = ngx_http_media_blocked_init_zone;
    set->zone->data = set;

    mmcf->blocked = set;

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_blocked_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_media_blocked_set_t  *old = data;

    size_t                         room, bytes;
    ngx_uint_t                     nslots;
    ngx_http_media_blocked_sh_t   *sh;
    ngx_http_media_blocked_set_t  *set;

    set = zone->data;
    set->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    /* a reload keeps the set: it is still true, and is reloaded anyway */
    if (old) {
        set->sh = old->sh;
        return NGX_OK;
    }

    if (zone->shm.exists) {
        set->sh = set->shpool->data;
        return NGX_OK;
    }

    /* two tables of the same power of 2 of slots, as many as fit in 7/8
     * of the zone (the rest: the slab's own pages and the header); a
     * table is at most half full, so 16m holds 131072 ids */
    room = zone->shm.size - zone->shm.size / 8;
    nslots = 1024;

    while (2 * (2 * nslots) * sizeof(ngx_http_media_blocked_entry_t) <= room) {
        nslots *= 2;
    }

    bytes = nslots * sizeof(ngx_http_media_blocked_entry_t);

    sh = ngx_slab_alloc(set->shpool, sizeof(ngx_http_media_blocked_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh, sizeof(ngx_http_media_blocked_sh_t));

    sh->table[0] = ngx_slab_alloc(set->shpool, bytes);
    sh->table[1] = ngx_slab_alloc(set->shpool, bytes);

    if (sh->table[0] == NULL || sh->table[1] == NULL) {
        ngx_log_error(NGX_LOG_EMERG, ngx_cycle->log, 0,
                      "media blocked zone: %uz bytes hold no two tables of "
                      "%ui slots; raise media_blocked_zone",
                      zone->shm.size, nslots);
        return NGX_ERROR;
    }

    ngx_memzero(sh->table[0], bytes);
    ngx_memzero(sh->table[1], bytes);
    sh->nslots = nslots;

    set->sh = sh;
    set->shpool->data = sh;
    set->shpool->log_nomem = 0;

    return NGX_OK;
}


/* the table --------------------------------------------------------------- */

static ngx_uint_t
ngx_http_media_blocked_slot(ngx_http_media_blocked_sh_t *sh, ngx_uint_t kind,
    const u_char *id)
{
    uint64_t  h;

    /* a v4 UUID's first 8 bytes are random: mixed once, they spread */
    ngx_memcpy(&h, id, sizeof(h));
    h ^= kind;
    h *= 0x9e3779b97f4a7c15ULL;

    return (ngx_uint_t) (h >> 32) & (sh->nslots - 1);
}


/* NGX_OK: at *at; NGX_DECLINED: *at is the empty slot that ended it */
static ngx_int_t
ngx_http_media_blocked_find(ngx_http_media_blocked_entry_t *table,
    ngx_uint_t nslots, ngx_uint_t kind, const u_char *id, ngx_uint_t *at)
{
    ngx_uint_t                       i, n;
    ngx_http_media_blocked_entry_t  *e;

    i = *at;

    /* bounded: a reader may look while a writer moves entries */
    for (n = 0; n < nslots; n++) {
        e = &table[i];

        if (e->kind == 0) {
            *at = i;
            return NGX_DECLINED;
        }

        if (e->kind == kind && ngx_memcmp(e->id, id, 16) == 0) {
            *at = i;
            return NGX_OK;
        }

        i = (i + 1) & (nslots - 1);
    }

    return NGX_ERROR;
}


ngx_atomic_uint_t
ngx_http_media_blocked_version(ngx_http_media_main_conf_t *mmcf)
{
    ngx_http_media_blocked_set_t  *set;

    set = mmcf->blocked;
    if (set == NULL || set->sh == NULL) {
        return 0;
    }

    return ngx_http_media_blocked_seq(set->sh) & ~(ngx_atomic_uint_t) 1;
}


ngx_uint_t
ngx_http_media_blocked(ngx_http_media_main_conf_t *mmcf, ngx_uint_t kind,
    const u_char *id)
{
    ngx_int_t                       rc;
    ngx_uint_t                      tries, at, t;
    ngx_atomic_uint_t               seq;
    ngx_http_media_blocked_sh_t    *sh;
    ngx_http_media_blocked_set_t   *set;

    set = mmcf->blocked;
    if (set == NULL || set->sh == NULL) {
        return 0;
    }

    sh = set->sh;

    for (tries = 0; tries < NGX_HTTP_MEDIA_BLOCKED_TRIES; tries++) {
        seq = ngx_http_media_blocked_seq(sh);

        if (seq & 1) {
            ngx_cpu_pause();
            continue;
        }

        t = sh->active & 1;

        /* no id of this kind at all (no user banned): nothing to probe */
        if (sh->kinds[t][kind] == 0) {
            rc = NGX_DECLINED;

        } else {
            at = ngx_http_media_blocked_slot(sh, kind, id);
            rc = ngx_http_media_blocked_find(sh->table[t], sh->nslots, kind,
                                             id, &at);
        }

        if (ngx_http_media_blocked_reseq(sh) == seq) {
            return rc == NGX_OK;
        }
    }

    /* a writer kept changing it: ask under its lock */
    ngx_shmtx_lock(&set->shpool->mutex);

    at = ngx_http_media_blocked_slot(sh, kind, id);
    rc = ngx_http_media_blocked_find(sh->table[sh->active & 1], sh->nslots,
                                     kind, id, &at);

    ngx_shmtx_unlock(&set->shpool->mutex);

    return rc == NGX_OK;
}


ngx_uint_t
ngx_http_media_blocked_text(ngx_http_media_main_conf_t *mmcf,
    ngx_uint_t kind, ngx_str_t *id)
{
    u_char  bin[16];

    if (id == NULL || id->data == NULL
        || media_uuid_parse((char *) id->data, id->len, bin) != 0)
    {
        return 0;
    }

    return ngx_http_media_blocked(mmcf, kind, bin);
}


/* with the mutex held; NGX_ERROR: the table is half full already */
static ngx_int_t
ngx_http_media_blocked_insert(ngx_http_media_blocked_sh_t *sh, ngx_uint_t t,
    ngx_uint_t kind, const u_char *id)
{
    ngx_uint_t                       at;
    ngx_http_media_blocked_entry_t  *e;

    at = ngx_http_media_blocked_slot(sh, kind, id);

    if (ngx_http_media_blocked_find(sh->table[t], sh->nslots, kind, id, &at)
        != NGX_DECLINED)
    {
        return NGX_OK;                /* there already */
    }

    if (sh->count[t] >= sh->nslots / 2) {
        sh->full++;
        return NGX_ERROR;
    }

    e = &sh->table[t][at];
    ngx_memcpy(e->id, id, 16);
    e->kind = (uint32_t) kind;
    sh->count[t]++;
    sh->kinds[t][kind]++;

    return NGX_OK;
}


/* with the mutex held: linear probing's deletion, moving back the entries
 * that the freed slot would cut off from their home slot */
static void
ngx_http_media_blocked_remove(ngx_http_media_blocked_sh_t *sh, ngx_uint_t t,
    ngx_uint_t kind, const u_char *id)
{
    ngx_uint_t                       i, j, home, mask;
    ngx_http_media_blocked_entry_t  *table;

    table = sh->table[t];
    mask = sh->nslots - 1;

    i = ngx_http_media_blocked_slot(sh, kind, id);

    if (ngx_http_media_blocked_find(table, sh->nslots, kind, id, &i)
        != NGX_OK)
    {
        return;
    }

    j = i;

    for ( ;; ) {
        table[i].kind = 0;

        for ( ;; ) {
            j = (j + 1) & mask;

            if (table[j].kind == 0) {
                sh->count[t]--;
                sh->kinds[t][kind]--;
                return;
            }

            home = ngx_http_media_blocked_slot(sh, table[j].kind,
                                               table[j].id);

            /* j stays reachable unless its home lies in (i, j] */
            if ((i <= j) ? (i < home && home <= j)
                         : (i < home || home <= j))
            {
                continue;
            }

            break;
        }

        table[i] = table[j];
        i = j;
    }
}


void
ngx_http_media_blocked_on_other(ngx_http_media_blocked_other_pt handler)
{
    ngx_http_media_blocked_other = handler;
}


/* one message, applied to the active table */
static void
ngx_http_media_blocked_set(ngx_http_media_blocked_set_t *set, ngx_log_t *log,
    ngx_http_media_blocked_msg_t *m)
{
    ngx_int_t                     rc;
    ngx_uint_t                    t;
    ngx_http_media_blocked_sh_t  *sh;

    sh = set->sh;
    rc = NGX_OK;

    ngx_shmtx_lock(&set->shpool->mutex);

    t = sh->active & 1;

    (void) ngx_atomic_fetch_add(&sh->seq, 1);
    ngx_memory_barrier();

    if (m->on) {
        rc = ngx_http_media_blocked_insert(sh, t, m->kind, m->id);
    } else {
        ngx_http_media_blocked_remove(sh, t, m->kind, m->id);
    }

    ngx_memory_barrier();
    (void) ngx_atomic_fetch_add(&sh->seq, 1);

    ngx_shmtx_unlock(&set->shpool->mutex);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "media blocked set: full at %ui ids, an id is not "
                      "refused on the segment path; raise "
                      "media_blocked_zone", sh->nslots / 2);
    }
}


/* the subscriber ---------------------------------------------------------- */

ngx_int_t
ngx_http_media_blocked_init_process(ngx_cycle_t *cycle,
    ngx_http_media_main_conf_t *mmcf)
{
    ngx_http_media_blocked_sub_t  *s;

    /* one subscriber per node: worker 0 (or the single process) */
    if (mmcf->blocked == NULL || !mmcf->redis_set
        || mmcf->pg_conninfo.data == NULL || ngx_worker != 0)
    {
        return NGX_OK;
    }

    s = ngx_pcalloc(cycle->pool, sizeof(ngx_http_media_blocked_sub_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->conf = mmcf;
    s->set = mmcf->blocked;
    s->log = cycle->log;

    s->reconnect.handler = ngx_http_media_blocked_reconnect;
    s->reconnect.data = s;
    s->reconnect.log = cycle->log;
    s->reconnect.cancelable = 1;

    s->connect_timer.handler = ngx_http_media_blocked_connect_timeout;
    s->connect_timer.data = s;
    s->connect_timer.log = cycle->log;
    s->connect_timer.cancelable = 1;

    ngx_http_media_redis_finder_init(&s->finder, mmcf, cycle->log,
                                     ngx_http_media_blocked_found, s);

    s->free_pool.handler = ngx_http_media_blocked_free_pool;
    s->free_pool.data = s;
    s->free_pool.log = cycle->log;

    ngx_http_media_blocked_sub = s;

    ngx_http_media_blocked_connect(s);

    return NGX_OK;
}


/*
 * exit_process, before the PostgreSQL pool goes: the reload's request
 * pool lets go of its query first
 */
void
ngx_http_media_blocked_done(void)
{
    ngx_http_media_blocked_sub_t  *s;

    s = ngx_http_media_blocked_sub;
    if (s == NULL) {
        return;
    }

    s->exiting = 1;

    if (s->reconnect.timer_set) {
        ngx_del_timer(&s->reconnect);
    }

    ngx_http_media_redis_find_cancel(&s->finder);
    ngx_http_media_blocked_drop(s, NULL);

    if (s->free_pool.posted) {
        ngx_delete_posted_event(&s->free_pool);
    }

    if (s->pool) {
        ngx_destroy_pool(s->pool);
        s->pool = NULL;
    }

    ngx_http_media_blocked_sub = NULL;
}


/*
 * With sentinel:// the primary is found first; a replica would do as well
 * (messages published on the primary reach its replicas' subscribers), so
 * no ROLE: the subscription moves when its server goes away.
 */
static void
ngx_http_media_blocked_connect(ngx_http_media_blocked_sub_t *s)
{
    if (s->conf->redis_addr.nsentinels == 0) {
        ngx_http_media_blocked_attach(s, &s->conf->redis_addr.addr);

    } else if (!s->finder.busy) {
        ngx_http_media_redis_find(&s->finder);
    }
}


static void
ngx_http_media_blocked_found(void *data, media_addr_t *primary)
{
    ngx_http_media_blocked_sub_t  *s = data;

    if (primary == NULL) {
        ngx_http_media_blocked_schedule(s);
        return;
    }

    ngx_http_media_blocked_attach(s, primary);
}


static void
ngx_http_media_blocked_attach(ngx_http_media_blocked_sub_t *s,
    media_addr_t *addr)
{
    redisAsyncContext  *ac;

    /* a connection of its own: a subscribed one takes no other command */
    if (ngx_http_media_redis_open(&s->link, addr, s->log) != NGX_OK) {
        ngx_http_media_redis_find_next(&s->finder);
        ngx_http_media_blocked_schedule(s);
        return;
    }

    ac = s->link.ac;
    ac->data = s;

    /* a peer that vanished without a word is found by the kernel */
    if (addr->port) {
        (void) redisEnableKeepAlive(&ac->c);
    }

    redisAsyncSetDisconnectCallback(ac, ngx_http_media_blocked_on_disconnect);
    redisAsyncSetConnectCallback(ac, ngx_http_media_blocked_on_connect);

    /* buffered until connected; its reply confirms the subscription */
    if (redisAsyncCommand(ac, ngx_http_media_blocked_message, s,
                          "SUBSCRIBE %s", NGX_HTTP_MEDIA_BLOCKED_CHANNEL)
        != REDIS_OK)
    {
        ngx_http_media_blocked_drop(s, "SUBSCRIBE could not be sent");
        return;
    }

    ngx_add_timer(&s->connect_timer, s->conf->redis_timeout);
}


static void
ngx_http_media_blocked_schedule(ngx_http_media_blocked_sub_t *s)
{
    if (s->exiting || ngx_exiting || ngx_terminate || ngx_quit
        || s->reconnect.timer_set)
    {
        return;
    }

    ngx_add_timer(&s->reconnect, s->backoff);

    s->backoff = s->backoff
                 ? ngx_min(s->backoff * 2, NGX_HTTP_MEDIA_BLOCKED_BACKOFF_MAX)
                 : NGX_HTTP_MEDIA_BLOCKED_BACKOFF_MIN;
}


static void
ngx_http_media_blocked_drop(ngx_http_media_blocked_sub_t *s, const char *why)
{
    redisAsyncContext  *ac;

    if (s->connect_timer.timer_set) {
        ngx_del_timer(&s->connect_timer);
    }

    ac = s->link.ac;
    if (ac == NULL) {
        return;
    }

    if (why) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "media blocked drop: %s, reconnecting", why);
    }

    s->link.ac = NULL;
    redisAsyncFree(ac);

    ngx_http_media_blocked_schedule(s);
}


static void
ngx_http_media_blocked_reconnect(ngx_event_t *ev)
{
    ngx_http_media_blocked_connect(ev->data);
}


static void
ngx_http_media_blocked_connect_timeout(ngx_event_t *ev)
{
    ngx_http_media_blocked_drop(ev->data, "subscribing timed out");
}


static void
ngx_http_media_blocked_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_media_blocked_sub_t  *s = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback */
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "media blocked on connect: %s", ac->errstr);

        if (s->connect_timer.timer_set) {
            ngx_del_timer(&s->connect_timer);
        }

        s->link.ac = NULL;
        ngx_http_media_redis_find_next(&s->finder);
        ngx_http_media_blocked_schedule(s);
    }

    /* connected: the connect timer runs on until SUBSCRIBE is confirmed */
}


static void
ngx_http_media_blocked_on_disconnect(const redisAsyncContext *ac, int status)
{
    ngx_http_media_blocked_sub_t  *s = ac->data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "media blocked on disconnect: %s", ac->errstr);
    }

    if (s->link.ac == ac) {
        s->link.ac = NULL;
        ngx_http_media_redis_find_next(&s->finder);
    }

    if (s->connect_timer.timer_set) {
        ngx_del_timer(&s->connect_timer);
    }

    ngx_http_media_blocked_schedule(s);
}


/*
 * Every reply on the subscription: ["subscribe", channel, n] once it
 * holds (then the set is reloaded), ["message", channel, text] for each
 * change; NULL when the context is freed.
 */
static void
ngx_http_media_blocked_message(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                    *rp = reply;
    ngx_http_media_blocked_sub_t  *s = privdata;

    redisReply                    *type, *text;
    ngx_http_media_blocked_msg_t   m;

    if (rp == NULL || rp->type != REDIS_REPLY_ARRAY || rp->elements != 3) {
        if (rp && rp->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, s->log, 0,
                          "media blocked subscribe: %s", rp->str);
        }
        return;
    }

    type = rp->element[0];
    text = rp->element[2];

    if (type->type != REDIS_REPLY_STRING) {
        return;
    }

    if (type->len == 9 && ngx_strncmp(type->str, "subscribe", 9) == 0) {
        if (s->connect_timer.timer_set) {
            ngx_del_timer(&s->connect_timer);
        }

        ngx_log_error(NGX_LOG_INFO, s->log, 0, "media blocked subscribe: "
                      "subscribed to " NGX_HTTP_MEDIA_BLOCKED_CHANNEL
                      ", reloading the set");

        ngx_http_media_blocked_reload(s);
        return;
    }

    if (type->len != 7 || ngx_strncmp(type->str, "message", 7) != 0
        || text->type != REDIS_REPLY_STRING)
    {
        return;
    }

    if (text->len && text->str[0] == NGX_HTTP_MEDIA_BLOCKED_OTHER
        && ngx_http_media_blocked_other
        && ngx_http_media_blocked_other(s->conf, (u_char *) text->str,
                                        text->len)
           == NGX_OK)
    {
        return;
    }

    if (ngx_http_media_blocked_parse((u_char *) text->str, text->len, &m)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, s->log, 0,
                      "media blocked message: \"%*s\" ignored, expected "
                      "\"+m <uuid>\", \"-m\", \"+u\", \"-u\", \"~ <node>\" "
                      "or \"~o <uuid> <node>\"",
                      ngx_min(text->len, 64), text->str);
        return;
    }

    ngx_http_media_blocked_set(s->set, s->log, &m);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, s->log, 0,
                   "media blocked message: %*s", text->len, text->str);

    /* applied again over the reload in flight, whose snapshot may be
     * older than this change */
    if (s->loading) {
        if (s->npending < NGX_HTTP_MEDIA_BLOCKED_PENDING) {
            s->pending[s->npending++] = m;
        } else {
            s->overflow = 1;
        }
    }
}


/* "+m <uuid>": 1 + 1 + 1 + 36 bytes */
static ngx_int_t
ngx_http_media_blocked_parse(u_char *p, size_t len,
    ngx_http_media_blocked_msg_t *m)
{
    if (len != 39 || (p[0] != '+' && p[0] != '-')
        || (p[1] != 'm' && p[1] != 'u') || p[2] != ' '
        || media_uuid_parse((char *) p + 3, 36, m->id) != 0)
    {
        return NGX_ERROR;
    }

    m->on = (p[0] == '+');
    m->kind = (p[1] == 'm') ? NGX_HTTP_MEDIA_BLOCKED_MEDIA
                            : NGX_HTTP_MEDIA_BLOCKED_USER;

    return NGX_OK;
}


/*
 * The whole set from PostgreSQL, through the pool of this worker: the
 * pool serves requests, so the query rides on a request of our own that
 * no client sent (ngx_http_media_pg_request()).
 */
static void
ngx_http_media_blocked_reload(ngx_http_media_blocked_sub_t *s)
{
    ngx_pool_t          *pool;
    ngx_http_request_t  *r;

    /* a reload still running is abandoned: its snapshot predates this
     * subscription */
    if (s->free_pool.posted) {
        ngx_delete_posted_event(&s->free_pool);
    }

    if (s->pool) {
        ngx_destroy_pool(s->pool);
        s->pool = NULL;
    }

    s->generation++;
    s->npending = 0;
    s->overflow = 0;
    s->loading = 1;

    r = ngx_http_media_pg_request(s->log);
    if (r == NULL) {
        goto failed;
    }

    pool = r->pool;
    s->pool = pool;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_blocked_load, NULL,
                                ngx_http_media_blocked_loaded,
                                (void *) (uintptr_t) s->generation)
        != NGX_OK)
    {
        ngx_destroy_pool(pool);
        s->pool = NULL;
        goto failed;
    }

    return;

failed:

    s->loading = 0;

    /* a new subscription reloads: drop this one and try again */
    ngx_http_media_blocked_drop(s, "the set could not be reloaded (out of "
                                "memory)");
}


static void
ngx_http_media_blocked_loaded(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_uint_t                     i, t, kind, before, full, nm, nu;
    ngx_str_t                     *k, *id;
    ngx_http_media_blocked_sh_t   *sh;
    ngx_http_media_blocked_set_t  *set;
    ngx_http_media_blocked_sub_t  *s;
    u_char                         bin[16];

    s = ngx_http_media_blocked_sub;

    if (s == NULL || (uintptr_t) data != s->generation) {
        return;
    }

    s->loading = 0;

    /* the result lives in the pool, and the caller still uses its
     * connection: freed from the event loop, after this */
    ngx_post_event(&s->free_pool, &ngx_posted_events);

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "media blocked reload: %V; subscribing again",
                      &res->error);
        ngx_http_media_blocked_drop(s, "the set could not be reloaded");
        return;
    }

    /* subscribed and loaded: a later failure reconnects at once */
    s->backoff = 0;

    set = s->set;
    sh = set->sh;
    nm = 0;
    nu = 0;

    ngx_shmtx_lock(&set->shpool->mutex);

    /* the inactive table: no reader looks at it until the switch */
    t = (sh->active & 1) ^ 1;
    before = sh->full;

    ngx_memzero(sh->table[t],
                sh->nslots * sizeof(ngx_http_media_blocked_entry_t));
    sh->count[t] = 0;
    ngx_memzero(sh->kinds[t], sizeof(sh->kinds[t]));

    for (i = 0; i < res->nrows; i++) {
        k = ngx_http_media_pg_value(res, i, 0);
        id = ngx_http_media_pg_value(res, i, 1);

        if (k->len != 1 || id->data == NULL
            || media_uuid_parse((char *) id->data, id->len, bin) != 0)
        {
            continue;
        }

        kind = (k->data[0] == 'm') ? NGX_HTTP_MEDIA_BLOCKED_MEDIA
                                   : NGX_HTTP_MEDIA_BLOCKED_USER;

        if (ngx_http_media_blocked_insert(sh, t, kind, bin) == NGX_OK) {
            if (kind == NGX_HTTP_MEDIA_BLOCKED_MEDIA) {
                nm++;
            } else {
                nu++;
            }
        }
    }

    /* the changes that came in while the query ran */
    for (i = 0; i < s->npending; i++) {
        if (s->pending[i].on) {
            (void) ngx_http_media_blocked_insert(sh, t, s->pending[i].kind,
                                                 s->pending[i].id);
        } else {
            ngx_http_media_blocked_remove(sh, t, s->pending[i].kind,
                                          s->pending[i].id);
        }
    }

    (void) ngx_atomic_fetch_add(&sh->seq, 1);
    ngx_memory_barrier();
    sh->active = t;
    ngx_memory_barrier();
    (void) ngx_atomic_fetch_add(&sh->seq, 1);

    full = sh->full - before;

    ngx_shmtx_unlock(&set->shpool->mutex);

    ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                  "media blocked reload: %ui media, %ui users, %ui changes "
                  "during the reload; room for %ui", nm, nu, s->npending,
                  sh->nslots / 2);

    if (full) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "media blocked reload: %ui ids found no room (the "
                      "zone holds %ui); raise media_blocked_zone", full,
                      sh->nslots / 2);
    }

    if (s->overflow) {
        /* more changes than remembered: once more */
        ngx_http_media_blocked_drop(s, "too many changes during the reload");
    }

}


static void
ngx_http_media_blocked_free_pool(ngx_event_t *ev)
{
    ngx_http_media_blocked_sub_t  *s = ev->data;

    if (s->pool && !s->loading) {
        ngx_destroy_pool(s->pool);
        s->pool = NULL;
    }
}


/* the refusal ------------------------------------------------------------ */

ngx_int_t
ngx_http_media_blocked_refuse(ngx_http_request_t *r, ngx_str_t *reason)
{
    if (reason && reason->len) {
        return ngx_http_media_send_error(r,
                                         NGX_HTTP_MEDIA_BLOCKED_STATUS,
                                         "media_blocked",
                                         "this media was removed: %V",
                                         reason);
    }

    return ngx_http_media_send_error(r, NGX_HTTP_MEDIA_BLOCKED_STATUS,
                                     "media_blocked",
                                     "this media was removed by a "
                                     "moderator");
}

