/*
 * Non-blocking PostgreSQL for nginx workers.
 *
 * Each nginx worker process keeps, per tenant (media_tenant), its own pool
 * of at most media_pg_pool connections, which say the tenant when they
 * connect (ngx_http_media_tenant.c); a request uses its server's.  A query
 * takes an idle connection, opens a new one while the pool has room, or
 * waits in line.  Every libpq call made here is one
 * of the non-blocking ones (PQconnectStartParams/PQconnectPoll,
 * PQsendPrepare/PQsendQueryPrepared/PQflush, PQconsumeInput/PQisBusy/
 * PQgetResult), driven by nginx events on the socket libpq owns.
 *
 * Every query is a named statement, prepared on a connection the first
 * time that connection runs it: parse and plan once, then only Bind and
 * Execute.  A connection remembers what it prepared; a new one (after a
 * reconnect) starts with nothing and prepares again.
 *
 * One timer per query (media_pg_timeout) covers waiting for a connection,
 * connecting, sending and reading; when it fires the request gets a
 * TIMEOUT result and the connection is closed, since its state is unknown.
 * The server's statement_timeout is a little shorter (see
 * ngx_http_media_pg_params), so a merely slow statement is cancelled by
 * the server and its connection is kept.
 *
 * A connection goes back to the pool only after PQgetResult() returned
 * NULL and the session is outside any transaction.
 *
 * With media_pg_replica each tenant has a second pool, on the replica,
 * for the statements marked as reads (ngx_http_media_pg_read_stmt) when
 * ngx_http_media_replica_usable() says so.  A read the replica fails
 * (refused, dropped, cancelled by recovery) is sent to the primary within
 * the same timer, and the replica is marked down until worker 0 measures
 * it again: the client sees no error.  Worker 0 measures the replica's
 * lag every second on a request of its own.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>

#include "ngx_http_media_fd.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_replica.h"


typedef struct ngx_http_media_pg_conn_s   ngx_http_media_pg_conn_t;
typedef struct ngx_http_media_pg_query_s  ngx_http_media_pg_query_t;
typedef struct ngx_http_media_pg_pool_s   ngx_http_media_pg_pool_t;


typedef enum {
    NGX_HTTP_MEDIA_PG_CONNECTING = 0,
    NGX_HTTP_MEDIA_PG_IDLE,
    NGX_HTTP_MEDIA_PG_SENDING,
    NGX_HTTP_MEDIA_PG_READING
} ngx_http_media_pg_state_e;


struct ngx_http_media_pg_query_s {
    ngx_queue_t                    queue;      /* in pool->waiting */
    ngx_http_request_t            *request;    /* NULL once it went away */
    ngx_pool_cleanup_t            *cleanup;
    ngx_http_media_pg_handler_pt   handler;
    void                          *data;
    ngx_http_media_pg_pool_t      *pool;
    ngx_http_media_pg_conn_t      *conn;
    ngx_event_t                    timer;
    ngx_event_t                    deliver;    /* posted: see _complete */
    ngx_http_media_pg_status_e     status;
    PGresult                      *result;
    u_char                         error[256];
    u_char                         sqlstate[6];  /* a refused connection's */
    ngx_http_media_pg_stmt_t      *stmt;
    const char                   **params;
    ngx_http_media_pg_pool_t      *primary;    /* on the replica: if it fails */
    unsigned                       waiting:1;
    unsigned                       preparing:1;  /* Parse sent, not run */
    unsigned                       in_call:1;  /* inside _pg_query() */
};


struct ngx_http_media_pg_conn_s {
    ngx_queue_t                    all;        /* in pool->conns */
    ngx_queue_t                    idle;       /* in pool->idle when idle */
    ngx_http_media_pg_pool_t      *pool;
    PGconn                        *pg;
    ngx_connection_t              *c;
    ngx_http_media_pg_state_e      state;
    ngx_http_media_pg_query_t     *query;
    uint64_t                       prepared[NGX_HTTP_MEDIA_PG_MAX_STMTS / 64];
    unsigned                       parked:1;   /* in pool->idle */
};


struct ngx_http_media_pg_pool_s {
    ngx_http_media_main_conf_t    *conf;
    const char                   **keywords;   /* media_pg's or the replica's */
    const char                   **values;     /* the tenant's parameters */
    ngx_log_t                     *log;
    ngx_queue_t                    conns;
    ngx_queue_t                    idle;
    ngx_queue_t                    waiting;
    ngx_uint_t                     nconns;
    unsigned                       replica:1;
};


/* worker 0's measure of the replica's lag, on a request of its own */
typedef struct {
    ngx_event_t                    timer;
    ngx_pool_t                    *pool;       /* the last measure's */
    ngx_http_media_main_conf_t    *conf;
    ngx_log_t                     *log;
    unsigned                       busy:1;
} ngx_http_media_pg_lag_t;


static ngx_http_media_pg_pool_t *ngx_http_media_pg_pool(ngx_cycle_t *cycle,
    ngx_http_media_main_conf_t *mmcf, const char **keywords,
    const char **values);
static void ngx_http_media_pg_drain(ngx_http_media_pg_pool_t *pool);
static ngx_int_t ngx_http_media_pg_run(ngx_http_request_t *r,
    ngx_http_media_pg_pool_t *pool, ngx_http_media_pg_stmt_t *stmt,
    ngx_str_t *params, ngx_http_media_pg_handler_pt handler, void *data);
static ngx_uint_t ngx_http_media_pg_fall_back(ngx_http_media_pg_query_t *q,
    ngx_http_media_pg_status_e status);
static void ngx_http_media_pg_lag_check(ngx_event_t *ev);
static void ngx_http_media_pg_detached_end(ngx_event_t *ev);
static void ngx_http_media_pg_lag_done(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_pg_dispatch(ngx_http_media_pg_query_t *q);
static void ngx_http_media_pg_kick(ngx_http_media_pg_pool_t *pool);
static ngx_int_t ngx_http_media_pg_open(ngx_http_media_pg_query_t *q);
static void ngx_http_media_pg_event(ngx_event_t *ev);
static void ngx_http_media_pg_connect_poll(ngx_http_media_pg_conn_t *pc);
static ngx_int_t ngx_http_media_pg_rewrap(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_ready(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_send(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_flush(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_read(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_prepared(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_finish(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_fail(ngx_http_media_pg_conn_t *pc,
    const char *site);
static void ngx_http_media_pg_close(ngx_http_media_pg_conn_t *pc);
static void ngx_http_media_pg_timeout(ngx_event_t *ev);
static void ngx_http_media_pg_complete(ngx_http_media_pg_query_t *q,
    ngx_http_media_pg_status_e status);
static void ngx_http_media_pg_deliver(ngx_event_t *ev);
static ngx_int_t ngx_http_media_pg_copy_result(ngx_http_request_t *r,
    ngx_http_media_pg_query_t *q, ngx_http_media_pg_status_e status,
    ngx_http_media_pg_result_t *res);
static void ngx_http_media_pg_cleanup(void *data);
static void ngx_http_media_pg_free(ngx_http_media_pg_query_t *q);
static void ngx_http_media_pg_set_error(ngx_http_media_pg_query_t *q,
    const char *msg);
static const char *ngx_http_media_pg_refused(PGconn *pg);


/* one per tenant, by ngx_http_media_tenant_t.index; NULL: not set up */
static ngx_http_media_pg_pool_t  **ngx_http_media_pg_pools;
static ngx_uint_t                  ngx_http_media_pg_npools;

/* the same on media_pg_replica; NULL: none */
static ngx_http_media_pg_pool_t  **ngx_http_media_pg_replicas;
static ngx_http_media_pg_lag_t    *ngx_http_media_pg_lag;


static ngx_http_media_pg_stmt_t  ngx_http_media_sql_replica_lag =
    ngx_http_media_pg_stmt("pg_replica_lag", 0,
        /* a standby that replayed all it received is not behind, however
         * old its last transaction: the primary may be idle */
        "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0"
        "  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
        "  ELSE coalesce(1000 * extract(epoch FROM"
        "    now() - pg_last_xact_replay_timestamp()), 0) END::bigint");

/* statement indexes given out, shared by the pools: a connection of any
 * pool marks what it prepared by the same index */
static ngx_uint_t                  ngx_http_media_pg_nstmts;

/* since this process started, for /metrics */
static ngx_uint_t                  ngx_http_media_pg_errors;
static ngx_uint_t                  ngx_http_media_pg_connects;


ngx_int_t
ngx_http_media_pg_init(ngx_cycle_t *cycle, ngx_http_media_main_conf_t *mmcf)
{
    ngx_uint_t                  i, n;
    ngx_http_media_pg_lag_t    *lag;
    ngx_http_media_tenant_t   **tenants;
    ngx_http_media_pg_pool_t  **pools, **replicas;

    /* no server {}: no tenant, nothing could query */
    n = mmcf->tenants.nelts;
    tenants = mmcf->tenants.elts;

    pools = ngx_pcalloc(cycle->pool,
                        (n + 1) * sizeof(ngx_http_media_pg_pool_t *));
    replicas = ngx_pcalloc(cycle->pool,
                           (n + 1) * sizeof(ngx_http_media_pg_pool_t *));
    if (pools == NULL || replicas == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        pools[i] = ngx_http_media_pg_pool(cycle, mmcf, mmcf->pg_keywords,
                                          tenants[i]->pg_values);
        if (pools[i] == NULL) {
            return NGX_ERROR;
        }

        if (tenants[i]->pg_replica_values == NULL) {
            continue;
        }

        replicas[i] = ngx_http_media_pg_pool(cycle, mmcf,
                                             mmcf->pg_replica_keywords,
                                             tenants[i]->pg_replica_values);
        if (replicas[i] == NULL) {
            return NGX_ERROR;
        }

        replicas[i]->replica = 1;
    }

    ngx_http_media_pg_pools = pools;
    ngx_http_media_pg_npools = n;

    if (n == 0 || replicas[0] == NULL) {
        return NGX_OK;
    }

    ngx_http_media_pg_replicas = replicas;

    /* one measure per node: worker 0 (or the single process) */
    if (ngx_worker != 0) {
        return NGX_OK;
    }

    lag = ngx_pcalloc(cycle->pool, sizeof(ngx_http_media_pg_lag_t));
    if (lag == NULL) {
        return NGX_ERROR;
    }

    lag->conf = mmcf;
    lag->log = cycle->log;
    lag->timer.handler = ngx_http_media_pg_lag_check;
    lag->timer.data = lag;
    lag->timer.log = cycle->log;
    lag->timer.cancelable = 1;

    ngx_http_media_pg_lag = lag;

    ngx_add_timer(&lag->timer, 1);

    return NGX_OK;
}


static ngx_http_media_pg_pool_t *
ngx_http_media_pg_pool(ngx_cycle_t *cycle, ngx_http_media_main_conf_t *mmcf,
    const char **keywords, const char **values)
{
    ngx_http_media_pg_pool_t  *pool;

    pool = ngx_pcalloc(cycle->pool, sizeof(ngx_http_media_pg_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->conf = mmcf;
    pool->keywords = keywords;
    pool->values = values;
    pool->log = cycle->log;
    ngx_queue_init(&pool->conns);
    ngx_queue_init(&pool->idle);
    ngx_queue_init(&pool->waiting);

    return pool;
}


/* exit_process: requests are gone, so no handler is called */
void
ngx_http_media_pg_done(void)
{
    ngx_uint_t  i;

    if (ngx_http_media_pg_pools == NULL) {
        return;
    }

    if (ngx_http_media_pg_lag) {
        if (ngx_http_media_pg_lag->timer.timer_set) {
            ngx_del_timer(&ngx_http_media_pg_lag->timer);
        }

        ngx_http_media_pg_lag = NULL;
    }

    for (i = 0; i < ngx_http_media_pg_npools; i++) {
        ngx_http_media_pg_drain(ngx_http_media_pg_pools[i]);

        if (ngx_http_media_pg_replicas && ngx_http_media_pg_replicas[i]) {
            ngx_http_media_pg_drain(ngx_http_media_pg_replicas[i]);
        }
    }

    ngx_http_media_pg_pools = NULL;
    ngx_http_media_pg_replicas = NULL;
    ngx_http_media_pg_npools = 0;
}


static void
ngx_http_media_pg_drain(ngx_http_media_pg_pool_t *pool)
{
    ngx_queue_t                *qe;
    ngx_http_media_pg_conn_t   *pc;
    ngx_http_media_pg_query_t  *q;

    while (!ngx_queue_empty(&pool->waiting)) {
        qe = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(qe, ngx_http_media_pg_query_t, queue);
        ngx_queue_remove(qe);
        ngx_http_media_pg_free(q);
    }

    while (!ngx_queue_empty(&pool->conns)) {
        qe = ngx_queue_head(&pool->conns);
        pc = ngx_queue_data(qe, ngx_http_media_pg_conn_t, all);

        q = pc->query;
        ngx_http_media_pg_close(pc);

        if (q) {
            ngx_http_media_pg_free(q);
        }
    }
}


ngx_http_request_t *
ngx_http_media_pg_request(ngx_log_t *log)
{
    ngx_pool_t          *pool;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE, log);
    if (pool == NULL) {
        return NULL;
    }

    r = ngx_pcalloc(pool, sizeof(ngx_http_request_t));
    c = ngx_pcalloc(pool, sizeof(ngx_connection_t));
    if (r == NULL || c == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    /* no module's context, as a request has before its first phase: what
     * reads one (the replica's rules, for a statement that writes) finds
     * none instead of following a NULL array */
    r->ctx = ngx_pcalloc(pool, sizeof(void *) * ngx_http_max_module);
    if (r->ctx == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    c->log = log;
    c->pool = pool;
    c->data = r;
    c->fd = (ngx_socket_t) -1;
    r->connection = c;
    r->main = r;
    r->pool = pool;

    return r;
}


/* a detached query: its request's end, before the caller's bytes */
typedef struct {
    ngx_event_t                 done;
    ngx_uint_t                  pad;       /* the bytes aligned */
} ngx_http_media_pg_detached_t;


void *
ngx_http_media_pg_detached(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    ngx_http_media_pg_handler_pt handler, size_t size)
{
    ngx_log_t                     *log;
    ngx_http_request_t            *nr;
    ngx_http_media_pg_detached_t  *d;

    nr = ngx_http_media_pg_request(r->connection->log);
    if (nr == NULL) {
        return NULL;
    }

    /*
     * The caller's log lives in its connection's pool, which its client
     * may close before this query ends: a copy, without the request's
     * handler and context (freed with it too), in this query's own pool.
     */
    log = ngx_palloc(nr->pool, sizeof(ngx_log_t));
    if (log == NULL) {
        ngx_destroy_pool(nr->pool);
        return NULL;
    }

    *log = *r->connection->log;
    log->handler = NULL;
    log->data = NULL;
    log->action = NULL;
    nr->pool->log = log;
    nr->connection->log = log;

    /* the caller's configuration: its server's tenant and pool */
    nr->main_conf = r->main_conf;
    nr->srv_conf = r->srv_conf;
    nr->loc_conf = r->loc_conf;

    d = ngx_pcalloc(nr->pool, sizeof(ngx_http_media_pg_detached_t) + size);
    if (d == NULL) {
        ngx_destroy_pool(nr->pool);
        return NULL;
    }

    d->done.handler = ngx_http_media_pg_detached_end;
    d->done.data = nr;
    d->done.log = log;

    /* the handler runs later, from the event loop: the caller fills the
     * bytes first */
    if (ngx_http_media_pg_query(nr, stmt, params, handler, d + 1)
        != NGX_OK)
    {
        ngx_destroy_pool(nr->pool);
        return NULL;
    }

    return d + 1;
}


void
ngx_http_media_pg_detached_done(void *data)
{
    ngx_http_media_pg_detached_t  *d;

    d = (ngx_http_media_pg_detached_t *) data - 1;

    ngx_post_event(&d->done, &ngx_posted_events);
}


static void
ngx_http_media_pg_detached_end(ngx_event_t *ev)
{
    ngx_http_request_t  *nr = ev->data;

    /* ev lives in the pool: nothing is touched after this */
    ngx_destroy_pool(nr->pool);
}


ngx_int_t
ngx_http_media_pg_query(ngx_http_request_t *r, ngx_http_media_pg_stmt_t *stmt,
    ngx_str_t *params, ngx_http_media_pg_handler_pt handler, void *data)
{
    ngx_uint_t                   tenant;
    ngx_http_media_pg_pool_t    *pool, *replica;
    ngx_http_media_main_conf_t  *mmcf;

    /* a request of a server: its tenant's pool; one made up for work of
     * no server (the blocked set's load): every tenant's, [0] */
    tenant = r->srv_conf ? ngx_http_media_tenant(r)->index : 0;
    pool = tenant < ngx_http_media_pg_npools
           ? ngx_http_media_pg_pools[tenant] : NULL;

    replica = NULL;

    if (ngx_http_media_pg_replicas && pool && r->srv_conf) {
        mmcf = pool->conf;

        if (!stmt->read) {
            ngx_http_media_replica_wrote(r, mmcf);

        } else if (ngx_http_media_replica_usable(r, mmcf)) {
            replica = ngx_http_media_pg_replicas[tenant];
        }
    }

    return ngx_http_media_pg_run(r, replica ? replica : pool, stmt, params,
                                 handler, data);
}


static ngx_int_t
ngx_http_media_pg_run(ngx_http_request_t *r, ngx_http_media_pg_pool_t *pool,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    ngx_http_media_pg_handler_pt handler, void *data)
{
    size_t                      size;
    u_char                     *p;
    ngx_uint_t                  i, nparams, tenant;
    ngx_pool_cleanup_t         *cln;
    ngx_http_media_pg_query_t  *q;

    nparams = stmt->nparams;

    /* one allocation: the query, the param pointers, the param strings;
     * a NULL param's len means nothing */
    size = sizeof(ngx_http_media_pg_query_t) + nparams * sizeof(char *);
    for (i = 0; i < nparams; i++) {
        if (params[i].data) {
            size += params[i].len + 1;
        }
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    q = ngx_alloc(size, r->connection->log);
    if (q == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(q, sizeof(ngx_http_media_pg_query_t));

    q->request = r;
    q->handler = handler;
    q->data = data;
    q->pool = pool;
    q->stmt = stmt;
    q->params = (const char **) (q + 1);

    if (pool && pool->replica && r->srv_conf) {
        tenant = ngx_http_media_tenant(r)->index;
        q->primary = ngx_http_media_pg_pools[tenant];
    }

    p = (u_char *) (q->params + nparams);

    for (i = 0; i < nparams; i++) {
        if (params[i].data == NULL) {
            q->params[i] = NULL;
            continue;
        }

        q->params[i] = (const char *) p;
        p = ngx_cpymem(p, params[i].data, params[i].len);
        *p++ = '\0';
    }

    cln->handler = ngx_http_media_pg_cleanup;
    cln->data = q;
    q->cleanup = cln;

    q->deliver.handler = ngx_http_media_pg_deliver;
    q->deliver.data = q;
    q->deliver.log = r->connection->log;

    /* whatever happens now, the handler runs later, from the event loop */
    q->in_call = 1;

    if (pool == NULL || pool->values == NULL) {
        ngx_http_media_pg_set_error(q, MEDIA_SET_PG " is not configured");
        ngx_http_media_pg_complete(q, NGX_HTTP_MEDIA_PG_UNAVAILABLE);

    } else if (stmt->index == 0
               && ngx_http_media_pg_nstmts == NGX_HTTP_MEDIA_PG_MAX_STMTS - 1)
    {
        ngx_http_media_pg_set_error(q, "more statements than "
                                    "NGX_HTTP_MEDIA_PG_MAX_STMTS");
        ngx_http_media_pg_complete(q, NGX_HTTP_MEDIA_PG_ERROR);

    } else {
        if (stmt->index == 0) {
            stmt->index = ++ngx_http_media_pg_nstmts;
        }

        q->timer.handler = ngx_http_media_pg_timeout;
        q->timer.data = q;
        q->timer.log = pool->log;
        ngx_add_timer(&q->timer, pool->conf->pg_timeout);

        ngx_http_media_pg_dispatch(q);
    }

    q->in_call = 0;

    return NGX_OK;
}


static void
ngx_http_media_pg_dispatch(ngx_http_media_pg_query_t *q)
{
    ngx_queue_t               *qe;
    ngx_http_media_pg_conn_t  *pc;
    ngx_http_media_pg_pool_t  *pool;

    pool = q->pool;

    if (!ngx_queue_empty(&pool->idle)) {
        qe = ngx_queue_head(&pool->idle);
        pc = ngx_queue_data(qe, ngx_http_media_pg_conn_t, idle);
        ngx_queue_remove(qe);

        pc->parked = 0;
        pc->c->idle = 0;
        pc->query = q;
        q->conn = pc;

        ngx_http_media_pg_send(pc);
        return;
    }

    if (pool->nconns < pool->conf->pg_pool) {
        if (ngx_http_media_pg_open(q) != NGX_OK) {
            ngx_http_media_pg_complete(q, NGX_HTTP_MEDIA_PG_UNAVAILABLE);
        }
        return;
    }

    ngx_queue_insert_tail(&pool->waiting, &q->queue);
    q->waiting = 1;
}


/* starts waiting queries while connections can be had */
static void
ngx_http_media_pg_kick(ngx_http_media_pg_pool_t *pool)
{
    ngx_queue_t                *qe;
    ngx_http_media_pg_query_t  *q;

    while (!ngx_queue_empty(&pool->waiting)
           && (!ngx_queue_empty(&pool->idle)
               || pool->nconns < pool->conf->pg_pool))
    {
        qe = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(qe, ngx_http_media_pg_query_t, queue);
        ngx_queue_remove(qe);
        q->waiting = 0;

        ngx_http_media_pg_dispatch(q);
    }
}


static ngx_int_t
ngx_http_media_pg_open(ngx_http_media_pg_query_t *q)
{
    PGconn                    *pg;
    ngx_connection_t          *c;
    ngx_http_media_pg_conn_t  *pc;
    ngx_http_media_pg_pool_t  *pool;

    pool = q->pool;

    /* expand_dbname 0: the keywords were parsed at configuration time */
    pg = PQconnectStartParams(pool->keywords, pool->values, 0);
    if (pg == NULL) {
        ngx_http_media_pg_set_error(q, "out of memory");
        return NGX_ERROR;
    }

    if (PQstatus(pg) == CONNECTION_BAD || PQsetnonblocking(pg, 1) != 0) {
        ngx_http_media_pg_set_error(q, PQerrorMessage(pg));
        ngx_log_error(NGX_LOG_ERR, pool->log, 0,
                      "media pg open: %s", q->error);
        PQfinish(pg);
        return NGX_ERROR;
    }

    pc = ngx_calloc(sizeof(ngx_http_media_pg_conn_t), pool->log);
    if (pc == NULL) {
        PQfinish(pg);
        ngx_http_media_pg_set_error(q, "out of memory");
        return NGX_ERROR;
    }

    c = ngx_http_media_wrap_fd(PQsocket(pg), pool->log, pc,
                               ngx_http_media_pg_event,
                               ngx_http_media_pg_event);
    if (c == NULL) {
        ngx_free(pc);
        PQfinish(pg);
        ngx_http_media_pg_set_error(q, "no free nginx connection");
        return NGX_ERROR;
    }

    pc->pool = pool;
    pc->pg = pg;
    pc->c = c;
    pc->state = NGX_HTTP_MEDIA_PG_CONNECTING;
    pc->query = q;
    q->conn = pc;

    ngx_queue_insert_tail(&pool->conns, &pc->all);
    pool->nconns++;
    ngx_http_media_pg_connects++;

    /* libpq: behave as if PQconnectPoll had returned PGRES_POLLING_WRITING */
    if (ngx_http_media_watch(c->write, 1) != NGX_OK) {
        ngx_http_media_pg_fail(pc, "media pg open");
    }

    return NGX_OK;
}


static void
ngx_http_media_pg_event(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_media_pg_conn_t  *pc;
    ngx_http_media_pg_pool_t  *pool;

    c = ev->data;
    pc = c->data;

    if (c->close) {
        /* nginx is shutting down and closes idle connections */
        ngx_http_media_pg_close(pc);
        return;
    }

    switch (pc->state) {

    case NGX_HTTP_MEDIA_PG_CONNECTING:
        ngx_http_media_pg_connect_poll(pc);
        return;

    case NGX_HTTP_MEDIA_PG_SENDING:
        if (!ev->write && !PQconsumeInput(pc->pg)) {
            ngx_http_media_pg_fail(pc, "media pg send");
            return;
        }
        ngx_http_media_pg_flush(pc);
        return;

    case NGX_HTTP_MEDIA_PG_READING:
        if (!ev->write) {
            ngx_http_media_pg_read(pc);
        }
        return;

    case NGX_HTTP_MEDIA_PG_IDLE:
        if (ev->write) {
            return;
        }

        /* the server closed it, or sent a notice: either way, look */
        if (!PQconsumeInput(pc->pg) || PQstatus(pc->pg) != CONNECTION_OK) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "media pg idle: connection lost: %s",
                          PQerrorMessage(pc->pg));
            pool = pc->pool;
            ngx_http_media_pg_close(pc);
            ngx_http_media_pg_kick(pool);
        }
        return;
    }
}


/*
 * libpq may replace the socket inside PQconnectPoll (next host in a list,
 * sslmode=prefer falling back to plain), and the new descriptor often has
 * the old number.  So events are removed while the old socket is still
 * open, and set again on whatever PQsocket() says afterwards.
 */
static void
ngx_http_media_pg_connect_poll(ngx_http_media_pg_conn_t *pc)
{
    PostgresPollingStatusType  st;

    (void) ngx_http_media_watch(pc->c->read, 0);
    (void) ngx_http_media_watch(pc->c->write, 0);

    st = PQconnectPoll(pc->pg);

    if (st == PGRES_POLLING_FAILED) {
        ngx_http_media_pg_fail(pc, "media pg connect");
        return;
    }

    if (ngx_http_media_pg_rewrap(pc) != NGX_OK) {
        ngx_http_media_pg_fail(pc, "media pg connect");
        return;
    }

    switch (st) {

    case PGRES_POLLING_READING:
        if (ngx_http_media_watch(pc->c->read, 1) != NGX_OK) {
            ngx_http_media_pg_fail(pc, "media pg connect");
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_http_media_watch(pc->c->write, 1) != NGX_OK) {
            ngx_http_media_pg_fail(pc, "media pg connect");
        }
        return;

    default: /* PGRES_POLLING_OK */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, pc->c->log, 0,
                       "media pg connect: connected");
        pc->state = NGX_HTTP_MEDIA_PG_IDLE;
        ngx_http_media_pg_ready(pc);
        return;
    }
}


static ngx_int_t
ngx_http_media_pg_rewrap(ngx_http_media_pg_conn_t *pc)
{
    ngx_socket_t       fd;
    ngx_connection_t  *c;

    fd = PQsocket(pc->pg);

    if (fd == pc->c->fd) {
        return NGX_OK;
    }

    if (fd == (ngx_socket_t) -1) {
        return NGX_ERROR;
    }

    /* events were removed already; the old descriptor is libpq's business */
    ngx_free_connection(pc->c);
    pc->c->fd = (ngx_socket_t) -1;
    pc->c = NULL;

    c = ngx_http_media_wrap_fd(fd, pc->pool->log, pc,
                               ngx_http_media_pg_event,
                               ngx_http_media_pg_event);
    if (c == NULL) {
        return NGX_ERROR;
    }

    pc->c = c;

    return NGX_OK;
}


/* a connection with no result pending: give it work or park it */
static void
ngx_http_media_pg_ready(ngx_http_media_pg_conn_t *pc)
{
    ngx_queue_t                *qe;
    ngx_http_media_pg_query_t  *q;
    ngx_http_media_pg_pool_t   *pool;

    pool = pc->pool;

    if (pc->query == NULL && !ngx_queue_empty(&pool->waiting)) {
        qe = ngx_queue_head(&pool->waiting);
        q = ngx_queue_data(qe, ngx_http_media_pg_query_t, queue);
        ngx_queue_remove(qe);
        q->waiting = 0;

        pc->query = q;
        q->conn = pc;
    }

    if (pc->query) {
        ngx_http_media_pg_send(pc);
        return;
    }

    pc->state = NGX_HTTP_MEDIA_PG_IDLE;
    pc->c->idle = 1;
    pc->parked = 1;
    ngx_queue_insert_tail(&pool->idle, &pc->idle);

    (void) ngx_http_media_watch(pc->c->write, 0);

    if (ngx_http_media_watch(pc->c->read, 1) != NGX_OK) {
        ngx_http_media_pg_close(pc);
    }
}


static void
ngx_http_media_pg_send(ngx_http_media_pg_conn_t *pc)
{
    uint64_t                    bit;
    ngx_uint_t                  i;
    ngx_http_media_pg_stmt_t   *st;
    ngx_http_media_pg_query_t  *q;

    q = pc->query;
    st = q->stmt;
    i = st->index / 64;
    bit = (uint64_t) 1 << (st->index % 64);

    if (!(pc->prepared[i] & bit)) {
        /* first time on this connection: Parse, then run it (_read) */
        if (!PQsendPrepare(pc->pg, st->name, st->sql, (int) st->nparams,
                           NULL))
        {
            ngx_http_media_pg_fail(pc, "media pg prepare");
            return;
        }

        q->preparing = 1;

    /* text parameters, text results; never a string built into the SQL */
    } else if (!PQsendQueryPrepared(pc->pg, st->name, (int) st->nparams,
                                    q->params, NULL, NULL, 0))
    {
        ngx_http_media_pg_fail(pc, "media pg send");
        return;
    }

    pc->state = NGX_HTTP_MEDIA_PG_SENDING;
    ngx_http_media_pg_flush(pc);
}


/*
 * After PQsend* the query may sit in libpq's buffer: PQflush until it
 * returns 0, reading whatever the server says meanwhile.
 */
static void
ngx_http_media_pg_flush(ngx_http_media_pg_conn_t *pc)
{
    int  rc;

    rc = PQflush(pc->pg);

    if (rc == -1) {
        ngx_http_media_pg_fail(pc, "media pg flush");
        return;
    }

    if (ngx_http_media_watch(pc->c->write, rc == 1) != NGX_OK
        || ngx_http_media_watch(pc->c->read, 1) != NGX_OK)
    {
        ngx_http_media_pg_fail(pc, "media pg flush");
        return;
    }

    if (rc == 0) {
        pc->state = NGX_HTTP_MEDIA_PG_READING;
    }
}


static void
ngx_http_media_pg_read(ngx_http_media_pg_conn_t *pc)
{
    PGresult                   *res;
    PGnotify                   *n;
    ngx_http_media_pg_query_t  *q;

    if (!PQconsumeInput(pc->pg)) {
        ngx_http_media_pg_fail(pc, "media pg read");
        return;
    }

    while ((n = PQnotifies(pc->pg)) != NULL) {
        PQfreemem(n);
    }

    q = pc->query;

    while (!PQisBusy(pc->pg)) {
        res = PQgetResult(pc->pg);

        if (res == NULL) {
            if (q->preparing) {
                ngx_http_media_pg_prepared(pc);
                return;
            }

            ngx_http_media_pg_finish(pc);
            return;
        }

        /* keep the first result, or the error that ended the query */
        if (q->result == NULL
            || PQresultStatus(res) == PGRES_FATAL_ERROR)
        {
            PQclear(q->result);
            q->result = res;

        } else {
            PQclear(res);
        }
    }
}


/* PQgetResult returned NULL: the query is over, the connection is free */
/*
 * The Parse of the query's statement is answered: remember it on this
 * connection and run the query, or end it with the server's refusal.
 */
static void
ngx_http_media_pg_prepared(ngx_http_media_pg_conn_t *pc)
{
    ngx_http_media_pg_query_t  *q;
    ngx_http_media_pg_stmt_t   *st;

    q = pc->query;
    st = q->stmt;
    q->preparing = 0;

    if (q->result && PQresultStatus(q->result) != PGRES_COMMAND_OK) {
        ngx_http_media_pg_finish(pc);
        return;
    }

    PQclear(q->result);
    q->result = NULL;

    pc->prepared[st->index / 64] |= (uint64_t) 1 << (st->index % 64);

    ngx_http_media_pg_send(pc);
}


static void
ngx_http_media_pg_finish(ngx_http_media_pg_conn_t *pc)
{
    ngx_http_media_pg_query_t  *q;

    q = pc->query;
    pc->query = NULL;
    q->conn = NULL;

    if (PQstatus(pc->pg) == CONNECTION_OK
        && PQtransactionStatus(pc->pg) == PQTRANS_IDLE)
    {
        ngx_http_media_pg_ready(pc);

    } else {
        ngx_log_error(NGX_LOG_WARN, pc->c->log, 0,
                      "media pg finish: connection left in a transaction "
                      "or broken, closed");
        ngx_http_media_pg_close(pc);
        ngx_http_media_pg_kick(q->pool);
    }

    ngx_http_media_pg_complete(q, NGX_HTTP_MEDIA_PG_OK);
}


/* the connection failed: its query fails with libpq's message */
static void
ngx_http_media_pg_fail(ngx_http_media_pg_conn_t *pc, const char *site)
{
    ngx_http_media_pg_query_t  *q;
    ngx_http_media_pg_pool_t   *pool;

    q = pc->query;
    pc->query = NULL;
    pool = pc->pool;

    ngx_log_error(NGX_LOG_ERR, pc->c ? pc->c->log : pool->log,
                  0, "%s: %s", site, PQerrorMessage(pc->pg));

    ngx_http_media_pg_errors++;

    if (q) {
        q->conn = NULL;
        ngx_http_media_pg_set_error(q, PQerrorMessage(pc->pg));

        if (pc->state == NGX_HTTP_MEDIA_PG_CONNECTING) {
            ngx_cpystrn(q->sqlstate, (u_char *) ngx_http_media_pg_refused(
                            pc->pg), sizeof(q->sqlstate));
        }
    }

    ngx_http_media_pg_close(pc);

    if (q) {
        ngx_http_media_pg_complete(q, NGX_HTTP_MEDIA_PG_UNAVAILABLE);
    }

    ngx_http_media_pg_kick(pool);
}


static void
ngx_http_media_pg_close(ngx_http_media_pg_conn_t *pc)
{
    ngx_http_media_pg_pool_t  *pool;

    pool = pc->pool;

    if (pc->parked) {
        ngx_queue_remove(&pc->idle);
    }

    ngx_queue_remove(&pc->all);
    pool->nconns--;

    if (pc->query) {
        pc->query->conn = NULL;
    }

    /* nginx lets go of the descriptor first, then libpq closes it */
    if (pc->c) {
        ngx_http_media_unwrap_fd(pc->c, PQsocket(pc->pg) != pc->c->fd);
    }

    PQfinish(pc->pg);
    ngx_free(pc);
}


static void
ngx_http_media_pg_timeout(ngx_event_t *ev)
{
    ngx_http_media_pg_conn_t   *pc;
    ngx_http_media_pg_query_t  *q;

    q = ev->data;

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "media pg timeout: no result after %M ms",
                  q->pool->conf->pg_timeout);

    ngx_http_media_pg_set_error(q, "timed out");
    ngx_http_media_pg_errors++;

    if (q->waiting) {
        ngx_queue_remove(&q->queue);
        q->waiting = 0;

    } else if (q->conn) {
        /* the connection's state is unknown now: close it */
        pc = q->conn;
        pc->query = NULL;
        q->conn = NULL;
        ngx_http_media_pg_close(pc);
        ngx_http_media_pg_kick(q->pool);
    }

    ngx_http_media_pg_complete(q, NGX_HTTP_MEDIA_PG_TIMEOUT);
}


/*
 * The query is over (q is on no connection and in no line).  Hands the
 * result to the request, if it is still there, and frees q.  A query that
 * ends while ngx_http_media_pg_query() is still running (no connection
 * could be opened, a pooled one turned out dead) is delivered from a posted
 * event instead, so the caller never sees its handler run before it has
 * taken its reference on the request.
 */
static void
ngx_http_media_pg_complete(ngx_http_media_pg_query_t *q,
    ngx_http_media_pg_status_e status)
{
    if (q->primary && ngx_http_media_pg_fall_back(q, status)) {
        return;
    }

    q->status = status;

    if (q->timer.timer_set) {
        ngx_del_timer(&q->timer);
    }

    if (q->in_call) {
        ngx_post_event(&q->deliver, &ngx_posted_events);
        return;
    }

    ngx_http_media_pg_deliver(&q->deliver);
}


/*
 * A read the replica could not serve goes to the primary, on the same
 * timer: the replica refused or dropped the connection, or cancelled the
 * statement (40001: a conflict with recovery; class 57: shutting down).
 * An error of the statement itself would be the primary's too.
 */
static ngx_uint_t
ngx_http_media_pg_fall_back(ngx_http_media_pg_query_t *q,
    ngx_http_media_pg_status_e status)
{
    char                      *state;
    ngx_http_media_pg_pool_t  *primary;

    if (q->request == NULL || status == NGX_HTTP_MEDIA_PG_TIMEOUT) {
        return 0;
    }

    if (status == NGX_HTTP_MEDIA_PG_OK) {
        if (q->result == NULL
            || PQresultStatus(q->result) != PGRES_FATAL_ERROR)
        {
            return 0;
        }

        state = PQresultErrorField(q->result, PG_DIAG_SQLSTATE);

        if (state == NULL
            || (ngx_strcmp(state, "40001") != 0
                && ngx_strncmp(state, "57", 2) != 0))
        {
            return 0;
        }

        ngx_http_media_pg_set_error(q, PQresultErrorMessage(q->result));
        PQclear(q->result);
        q->result = NULL;
    }

    ngx_log_error(NGX_LOG_WARN, q->request->connection->log, 0,
                  "media pg replica: %s, reading from the primary until "
                  "it is measured again", q->error);

    (void) ngx_http_media_replica_set(q->pool->conf,
                                      NGX_HTTP_MEDIA_REPLICA_DOWN);

    primary = q->primary;
    q->primary = NULL;
    q->pool = primary;
    q->error[0] = '\0';
    q->sqlstate[0] = '\0';

    ngx_http_media_pg_dispatch(q);

    return 1;
}


/* worker 0, every NGX_HTTP_MEDIA_REPLICA_EVERY ms ----------------------- */

static void
ngx_http_media_pg_lag_check(ngx_event_t *ev)
{
    ngx_http_media_pg_lag_t  *lag = ev->data;

    ngx_http_request_t  *r;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    ngx_add_timer(&lag->timer, NGX_HTTP_MEDIA_REPLICA_EVERY);

    /* the last one still runs (media_pg_timeout bounds it) */
    if (lag->busy) {
        return;
    }

    /* the last measure's request is over: its handler has returned */
    if (lag->pool) {
        ngx_destroy_pool(lag->pool);
        lag->pool = NULL;
    }

    r = ngx_http_media_pg_request(lag->log);
    if (r == NULL) {
        return;
    }

    lag->pool = r->pool;

    if (ngx_http_media_pg_run(r, ngx_http_media_pg_replicas[0],
                              &ngx_http_media_sql_replica_lag, NULL,
                              ngx_http_media_pg_lag_done, lag)
        != NGX_OK)
    {
        return;
    }

    lag->busy = 1;
}


static void
ngx_http_media_pg_lag_done(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_pg_lag_t  *lag = data;

    ngx_int_t   ms;
    ngx_str_t  *v;

    lag->busy = 0;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        if (ngx_http_media_replica_set(lag->conf, NGX_HTTP_MEDIA_REPLICA_DOWN)
            != NGX_HTTP_MEDIA_REPLICA_DOWN)
        {
            ngx_log_error(NGX_LOG_WARN, lag->log, 0, "media pg replica: "
                          "%V, reads go to the primary", &res->error);
        }

        return;
    }

    v = ngx_http_media_pg_value(res, 0, 0);
    ms = v->data ? ngx_atoi(v->data, v->len) : 0;
    if (ms < 0) {
        ms = 0;
    }

    /* down, as measured or as a read found it */
    if (ngx_http_media_replica_set(lag->conf, (ngx_msec_t) ms)
        == NGX_HTTP_MEDIA_REPLICA_DOWN)
    {
        ngx_log_error(NGX_LOG_NOTICE, lag->log, 0, "media pg replica: "
                      "answering again, %i ms behind", ms);
    }
}


static void
ngx_http_media_pg_deliver(ngx_event_t *ev)
{
    ngx_http_media_pg_query_t  *q = ev->data;

    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_media_pg_result_t   res;

    r = q->request;

    if (r == NULL) {
        ngx_http_media_pg_free(q);
        return;
    }

    q->cleanup->handler = NULL;

    if (ngx_http_media_pg_copy_result(r, q, q->status, &res) != NGX_OK) {
        res.status = NGX_HTTP_MEDIA_PG_ERROR;
        ngx_str_set(&res.error, "out of memory");
    }

    c = r->connection;

    q->handler(r, &res, q->data);
    ngx_http_media_pg_free(q);

    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_media_pg_copy_result(ngx_http_request_t *r,
    ngx_http_media_pg_query_t *q, ngx_http_media_pg_status_e status,
    ngx_http_media_pg_result_t *res)
{
    char        *s;
    ngx_str_t   *v;
    ngx_uint_t   row, col;

    ngx_memzero(res, sizeof(ngx_http_media_pg_result_t));
    res->status = status;

    if (status != NGX_HTTP_MEDIA_PG_OK) {
        res->error.data = q->error;
        res->error.len = ngx_strlen(q->error);
        ngx_memcpy(res->sqlstate, q->sqlstate, sizeof(res->sqlstate));
        return NGX_OK;
    }

    if (q->result == NULL) {
        res->status = NGX_HTTP_MEDIA_PG_UNAVAILABLE;
        ngx_str_set(&res->error, "no result");
        return NGX_OK;
    }

    switch (PQresultStatus(q->result)) {

    case PGRES_TUPLES_OK:
    case PGRES_COMMAND_OK:
        break;

    default:
        s = PQresultErrorField(q->result, PG_DIAG_SQLSTATE);
        if (s) {
            ngx_cpystrn(res->sqlstate, (u_char *) s, sizeof(res->sqlstate));
        }

        /* 57014: our statement_timeout cancelled it */
        res->status = ngx_strcmp(res->sqlstate, "57014") == 0
                      ? NGX_HTTP_MEDIA_PG_TIMEOUT : NGX_HTTP_MEDIA_PG_ERROR;

        s = PQresultErrorMessage(q->result);
        res->error.len = ngx_strlen(s);
        res->error.data = ngx_pnalloc(r->pool, res->error.len);
        if (res->error.data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(res->error.data, s, res->error.len);

        /* the message ends in a newline, which a log line does not want */
        while (res->error.len && res->error.data[res->error.len - 1] == '\n') {
            res->error.len--;
        }

        return NGX_OK;
    }

    res->nrows = PQntuples(q->result);
    res->ncols = PQnfields(q->result);

    if (res->nrows == 0 || res->ncols == 0) {
        return NGX_OK;
    }

    res->values = ngx_pcalloc(r->pool,
                              res->nrows * res->ncols * sizeof(ngx_str_t));
    if (res->values == NULL) {
        return NGX_ERROR;
    }

    for (row = 0; row < res->nrows; row++) {
        for (col = 0; col < res->ncols; col++) {
            if (PQgetisnull(q->result, row, col)) {
                continue;
            }

            v = ngx_http_media_pg_value(res, row, col);
            v->len = PQgetlength(q->result, row, col);
            v->data = ngx_pnalloc(r->pool, v->len + 1);
            if (v->data == NULL) {
                return NGX_ERROR;
            }

            /* NUL-terminated too, for callers handing it to libc */
            ngx_memcpy(v->data, PQgetvalue(q->result, row, col), v->len);
            v->data[v->len] = '\0';
        }
    }

    return NGX_OK;
}


/*
 * The request is being freed.  A query not yet on a connection goes away
 * with it; one on a connection is left to finish (or time out) so that
 * the connection comes back clean, and is freed then.
 */
static void
ngx_http_media_pg_cleanup(void *data)
{
    ngx_http_media_pg_query_t  *q = data;

    q->request = NULL;

    if (q->conn) {
        return;
    }

    if (q->waiting) {
        ngx_queue_remove(&q->queue);
    }

    ngx_http_media_pg_free(q);
}


static void
ngx_http_media_pg_free(ngx_http_media_pg_query_t *q)
{
    if (q->timer.timer_set) {
        ngx_del_timer(&q->timer);
    }

    if (q->deliver.posted) {
        ngx_delete_posted_event(&q->deliver);
    }

    PQclear(q->result);
    ngx_free(q);
}


static void
ngx_http_media_pg_set_error(ngx_http_media_pg_query_t *q, const char *msg)
{
    u_char  *p;

    p = ngx_cpystrn(q->error, (u_char *) msg, sizeof(q->error));

    /* libpq's messages end in a newline */
    while (p > q->error && (p[-1] == '\n' || p[-1] == ' ')) {
        *--p = '\0';
    }
}


void
ngx_http_media_pg_stats(ngx_http_media_pool_stats_t *st)
{
    ngx_uint_t                 i;
    ngx_queue_t               *qe;
    ngx_http_media_pg_pool_t  *pool;

    ngx_memzero(st, sizeof(ngx_http_media_pool_stats_t));

    st->errors = ngx_http_media_pg_errors;
    st->connects = ngx_http_media_pg_connects;

    for (i = 0; i < ngx_http_media_pg_npools; i++) {
        pool = ngx_http_media_pg_pools[i];
        if (pool == NULL) {
            continue;
        }

        st->open += pool->nconns;
        st->busy += pool->nconns;

        for (qe = ngx_queue_head(&pool->idle);
             qe != ngx_queue_sentinel(&pool->idle);
             qe = ngx_queue_next(qe))
        {
            st->busy--;
        }

        for (qe = ngx_queue_head(&pool->waiting);
             qe != ngx_queue_sentinel(&pool->waiting);
             qe = ngx_queue_next(qe))
        {
            st->waiting++;
        }
    }
}


/*
 * Why the server refused a connection, as the SQLSTATE it sent: libpq
 * keeps the code of a failed connection to itself and hands out only the
 * message, so the message is read (PostgreSQL's own wording, as with
 * lc_messages C or English): 28P01 a wrong or missing password (the
 * server says so also for an unknown role), 28000 no pg_hba.conf line or
 * another method failing, 3D000 no such database; "" when the server was
 * not reached (the caller's UNAVAILABLE says the rest).
 */
static const char *
ngx_http_media_pg_refused(PGconn *pg)
{
    char  *msg;

    msg = PQerrorMessage(pg);

    if (PQconnectionNeedsPassword(pg)
        || ngx_strstr(msg, "password authentication failed"))
    {
        return "28P01";
    }

    if (ngx_strstr(msg, "authentication failed")
        || ngx_strstr(msg, "no pg_hba.conf entry")
        || (ngx_strstr(msg, "role \"")
            && ngx_strstr(msg, "does not exist")))
    {
        return "28000";
    }

    if (ngx_strstr(msg, "database \"") && ngx_strstr(msg, "does not exist")) {
        return "3D000";
    }

    return "";
}
