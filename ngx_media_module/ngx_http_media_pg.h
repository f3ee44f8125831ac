/*
 * Non-blocking PostgreSQL for nginx workers: libpq's async API driven by
 * nginx events, a per-worker connection pool, a timeout on every query.
 */

#ifndef _NGX_HTTP_MEDIA_PG_H_INCLUDED_
#define _NGX_HTTP_MEDIA_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


typedef enum {
    NGX_HTTP_MEDIA_PG_OK = 0,      /* rows or a completed command */
    NGX_HTTP_MEDIA_PG_ERROR,       /* the server refused it: sqlstate set */
    NGX_HTTP_MEDIA_PG_TIMEOUT,     /* media_pg_timeout passed */
    NGX_HTTP_MEDIA_PG_UNAVAILABLE  /* no connection could be had or kept;
                                      sqlstate set when the server refused
                                      it: 28P01, 28000, 3D000 */
} ngx_http_media_pg_status_e;


/* a result as plain values in the request pool; libpq's objects are gone */
typedef struct {
    ngx_http_media_pg_status_e  status;
    u_char                      sqlstate[6];
    ngx_str_t                   error;      /* for the log, not for users */
    ngx_uint_t                  nrows;
    ngx_uint_t                  ncols;
    ngx_str_t                  *values;     /* row-major; NULL: data NULL */
} ngx_http_media_pg_result_t;


#define ngx_http_media_pg_value(res, row, col)                               \
    (&(res)->values[(row) * (res)->ncols + (col)])


/*
 * A named statement: prepared once on each pooled connection (the first
 * time that connection runs it, and again after a reconnect), then run by
 * name.  Each room keeps a table of its own statements and names one per
 * query; index is the pool's, set on first use.
 */
typedef struct {
    const char                 *name;       /* unique: "media_<room>_..." */
    ngx_uint_t                  nparams;
    const char                 *sql;
    ngx_uint_t                  index;      /* 0: not yet seen */
    ngx_uint_t                  read;       /* replica: see below */
} ngx_http_media_pg_stmt_t;


#define ngx_http_media_pg_stmt(name, nparams, sql)                          \
    { "media_" name, nparams, sql, 0, 0 }

/*
 * A statement that only reads, and whose answer may be as old as
 * media_pg_replica_max_lag: run in a GET or HEAD request, it goes to
 * media_pg_replica when one is set and within its bound (the rules are in
 * ngx_http_media_replica.c), else to the primary.  Only what a reader
 * could have loaded a few seconds earlier: never what decides access.
 */
#define ngx_http_media_pg_read_stmt(name, nparams, sql)                     \
    { "media_" name, nparams, sql, 0, 1 }

/* statements a worker may prepare on a connection */
#define NGX_HTTP_MEDIA_PG_MAX_STMTS  128


/* called once per query unless the request went away first */
typedef void (*ngx_http_media_pg_handler_pt)(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


ngx_int_t ngx_http_media_pg_init(ngx_cycle_t *cycle,
    ngx_http_media_main_conf_t *mmcf);
void ngx_http_media_pg_done(void);

/*
 * Runs stmt with text parameters ($1..., stmt->nparams of them; a param
 * with data NULL is SQL NULL; params are copied).  stmt must outlive the
 * request (a static table), since a query whose request went away still
 * runs to its end.
 * Returns NGX_OK when the handler will be called later from the event loop
 * (never from inside this call), NGX_ERROR on allocation failure (the
 * handler is not called).  The caller holds the request
 * (r->main->count++) until the handler runs.
 */
ngx_int_t ngx_http_media_pg_query(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    ngx_http_media_pg_handler_pt handler, void *data);


/*
 * A request no client sent, for work a worker process does for no server
 * (the blocked set's load, a batch of plays): a pool of its own, a
 * connection with the log and nothing else; its queries go through every
 * tenant's pool ("*").  The caller destroys r->pool once it is done, never
 * from inside a handler of the query (libpq's result is read from it).
 */
ngx_http_request_t *ngx_http_media_pg_request(ngx_log_t *log);

/*
 * A query that r does not wait for (an answer read anew for the next
 * callers): stmt runs on a request of its own (ngx_http_media_pg_request)
 * with r's configuration, so as r's tenant.  Returns size zeroed bytes in
 * that request's pool, for the caller to fill before the event loop runs
 * again: handler gets them as its data, and calls
 * ngx_http_media_pg_detached_done() with them once through.  NULL when
 * memory is short (handler is not called).
 */
void *ngx_http_media_pg_detached(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    ngx_http_media_pg_handler_pt handler, size_t size);

/* a detached query's handler is through: its request is freed from the
 * event loop, after the handler returns */
void ngx_http_media_pg_detached_done(void *data);

/* this worker process's pools, summed over tenants (/metrics) */
void ngx_http_media_pg_stats(ngx_http_media_pool_stats_t *st);


#endif /* _NGX_HTTP_MEDIA_PG_H_INCLUDED_ */
