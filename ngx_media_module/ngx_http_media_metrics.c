/*
 * /metrics, in Prometheus' text exposition format (0.0.4).
 *
 * Every nginx worker process counts the requests it ends, in the log
 * phase, into one shared memory zone ("media_metrics") of atomics: by
 * route and status, a latency histogram per route, token refusals by
 * check and reason, media upload bytes.  Each worker also copies its
 * PostgreSQL pool's and Redis connection's state into its own slot of the
 * zone once a second, and at exit; a scrape sums the slots.  The counters
 * outlive a reload (the zone is kept when its layout is the same).
 *
 * The jobs' numbers (rows by type and status, queue depth, the oldest
 * queued job, transcode seconds) come from one statement, run by the
 * scrape that finds them older than NGX_HTTP_MEDIA_METRICS_JOBS_TTL
 * seconds: its text is kept in the zone for the others, so PostgreSQL sees
 * at most one such query every few seconds however often Prometheus (or
 * several of them) scrape.  The scrape that runs it waits for it,
 * asynchronously; meanwhile the others answer with what the zone holds.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_api.h"
#include "ngx_http_media_metrics.h"
#include "media_router.h"


#define NGX_HTTP_MEDIA_METRICS_SLOTS     64     /* worker processes */
#define NGX_HTTP_MEDIA_METRICS_REFUSALS  64     /* (check, reason) pairs */
#define NGX_HTTP_MEDIA_METRICS_REASON    32
#define NGX_HTTP_MEDIA_METRICS_JOBS_TTL  5      /* s */
#define NGX_HTTP_MEDIA_METRICS_JOBS_MAX  8192   /* bytes of text */
#define NGX_HTTP_MEDIA_METRICS_PUBLISH   1000   /* ms */

/* jobs.type and jobs.status values (sql/001's checks) */
#define NGX_HTTP_MEDIA_NTYPES            5
#define NGX_HTTP_MEDIA_NSTATES           5

/* route labels past the API's own routes */
#define NGX_HTTP_MEDIA_LABEL_API         0      /* no route chosen */
#define NGX_HTTP_MEDIA_LABEL_HLS         1
#define NGX_HTTP_MEDIA_LABEL_DOWNLOAD    2
#define NGX_HTTP_MEDIA_LABEL_METRICS     3
#define NGX_HTTP_MEDIA_LABEL_OTHER       4
#define NGX_HTTP_MEDIA_LABEL_EXTRA       5

/* per route: NSTATUS counts, NBUCKETS + 1 bucket counts, the sum in ms */
#define NGX_HTTP_MEDIA_NSTATUS   (sizeof(ngx_http_media_statuses)            \
                                  / sizeof(ngx_http_media_statuses[0]))
#define NGX_HTTP_MEDIA_NBUCKETS  (sizeof(ngx_http_media_buckets)             \
                                  / sizeof(ngx_http_media_buckets[0]))
#define NGX_HTTP_MEDIA_PER_ROUTE (NGX_HTTP_MEDIA_NSTATUS                     \
                                  + NGX_HTTP_MEDIA_NBUCKETS + 2)


typedef enum {
    NGX_HTTP_MEDIA_CHECK_ACCESS = 0,    /* $media_auth_status */
    NGX_HTTP_MEDIA_CHECK_PLAYBACK,      /* $media_token_status */
    NGX_HTTP_MEDIA_CHECK_DOWNLOAD       /* $media_download_status */
} ngx_http_media_check_e;


/* one worker process's gauges, as it last saw them */
typedef struct {
    ngx_atomic_t            pid;        /* 0: free */
    ngx_atomic_t            pg_open;
    ngx_atomic_t            pg_busy;
    ngx_atomic_t            pg_waiting;
    ngx_atomic_t            redis_open;
    ngx_atomic_t            redis_busy;
} ngx_http_media_metrics_slot_t;


/* written once under the zone's mutex, then only counted */
typedef struct {
    ngx_atomic_t            used;
    ngx_uint_t              check;
    u_char                  reason[NGX_HTTP_MEDIA_METRICS_REASON];
    ngx_atomic_t            count;
} ngx_http_media_metrics_refusal_t;


typedef struct {
    size_t                  size;       /* of this layout: kept on reload
                                           only when the same */
    ngx_atomic_t            pg_errors;
    ngx_atomic_t            pg_connects;
    ngx_atomic_t            redis_errors;
    ngx_atomic_t            redis_connects;
    ngx_atomic_t            upload_bytes;

    ngx_http_media_metrics_slot_t     slots[NGX_HTTP_MEDIA_METRICS_SLOTS];
    ngx_http_media_metrics_refusal_t  refusals[NGX_HTTP_MEDIA_METRICS_REFUSALS];

    ngx_atomic_t            refresh;    /* ngx_time() a query began, 0 */
    ngx_atomic_t            jobs_time;  /* ngx_time() of jobs[] */
    size_t                  jobs_len;   /* under the mutex */
    u_char                  jobs[NGX_HTTP_MEDIA_METRICS_JOBS_MAX];

    ngx_atomic_t            routes[1];  /* nlabels * PER_ROUTE */
} ngx_http_media_metrics_sh_t;


typedef struct {
    ngx_http_media_metrics_sh_t  *sh;
    ngx_slab_pool_t              *shpool;
    ngx_uint_t                    nroutes;   /* the API's */
    ngx_uint_t                    nlabels;   /* + the extra ones */
} ngx_http_media_metrics_t;


static ngx_int_t ngx_http_media_metrics_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_media_metrics_log(ngx_http_request_t *r);
static ngx_uint_t ngx_http_media_metrics_label(ngx_http_request_t *r,
    ngx_uint_t *upload);
static void ngx_http_media_metrics_refusal(ngx_http_request_t *r);
static void ngx_http_media_metrics_refused(ngx_uint_t check,
    ngx_str_t *reason);
static ngx_int_t ngx_http_media_metrics_handler(ngx_http_request_t *r);
static void ngx_http_media_metrics_jobs(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static u_char *ngx_http_media_metrics_jobs_text(
    ngx_http_media_pg_result_t *res, u_char *p, u_char *last);
static u_char *ngx_http_media_metrics_by_type(u_char *p, u_char *last,
    const char *name, const char *help, ngx_uint_t *values);
static ngx_uint_t ngx_http_media_metrics_find(const char **names,
    ngx_uint_t n, ngx_str_t *v);
static ngx_int_t ngx_http_media_metrics_send(ngx_http_request_t *r);
static u_char *ngx_http_media_metrics_routes(u_char *p, u_char *last);
static u_char *ngx_http_media_metrics_pools(u_char *p, u_char *last);
static u_char *ngx_http_media_metrics_name(u_char *p, u_char *last,
    ngx_uint_t label);
static void ngx_http_media_metrics_publish(ngx_event_t *ev);
static ngx_int_t ngx_http_media_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/* statuses counted by their own label; any other is "other" */
static const ngx_uint_t  ngx_http_media_statuses[] = {
    200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
    400, 401, 402, 403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 415,
    416, 422, 429, 451, 499, 500, 502, 503, 504, 507,
    0
};

/* histogram bounds in ms: 5 ms to 10 s, then +Inf */
static const ngx_msec_t  ngx_http_media_buckets[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

static const char  *ngx_http_media_extra_labels[] = {
    "api", "hls", "download", "metrics", "other"
};

static const char  *ngx_http_media_checks[] = {
    "access", "playback", "download"
};

static const char  *ngx_http_media_job_types[NGX_HTTP_MEDIA_NTYPES] = {
    "transcode", "export", "enhance", "billing", "sweep"
};

static const char  *ngx_http_media_job_statuses[NGX_HTTP_MEDIA_NSTATES] = {
    MEDIA_JOB_QUEUED, MEDIA_JOB_RUNNING, MEDIA_JOB_DONE, MEDIA_JOB_FAILED,
    MEDIA_JOB_DEAD
};


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_metrics_jobs =
    ngx_http_media_pg_stmt("metrics_jobs", 0,
        "SELECT type, status, count(*),"
        "  coalesce(extract(epoch FROM now() - min(created_at)), 0)::bigint,"
        "  coalesce(sum(extract(epoch FROM finished_at - started_at)), 0)"
        "    ::numeric(20,3)"
        " FROM jobs GROUP BY type, status");


static ngx_http_media_metrics_t  *ngx_http_media_metrics_conf;

static ngx_event_t  ngx_http_media_metrics_timer;

/* what nginx's debug log reads a timer's data as */
static ngx_connection_t  ngx_http_media_metrics_dummy;

/* what this process has already added to the zone's counters */
static ngx_http_media_pool_stats_t  ngx_http_media_metrics_pg_seen;
static ngx_http_media_pool_stats_t  ngx_http_media_metrics_redis_seen;

static ngx_str_t  ngx_http_media_metrics_zone_name =
    ngx_string("media_metrics");

static ngx_str_t  ngx_http_media_route_name = ngx_string("media_route");


char *
ngx_http_media_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate or conflicts with another content handler";
    }

    clcf->handler = ngx_http_media_metrics_handler;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_media_metrics_init(ngx_conf_t *cf)
{
    size_t                      size;
    ngx_shm_zone_t             *zone;
    ngx_http_handler_pt        *h;
    ngx_http_variable_t        *var;
    ngx_http_media_metrics_t   *m;
    ngx_http_core_main_conf_t  *cmcf;

    m = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->nroutes = ngx_http_media_api_nroutes();
    m->nlabels = m->nroutes + NGX_HTTP_MEDIA_LABEL_EXTRA;

    /* the slab pool's own pages, then ours */
    size = sizeof(ngx_http_media_metrics_sh_t)
           + m->nlabels * NGX_HTTP_MEDIA_PER_ROUTE * sizeof(ngx_atomic_t);
    size = ngx_align(size + 8 * ngx_pagesize, ngx_pagesize);

    zone = ngx_shared_memory_add(cf, &ngx_http_media_metrics_zone_name, size,
                                 &ngx_http_media_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_media_metrics_zone;
    zone->data = m;

    ngx_http_media_metrics_conf = m;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_media_metrics_log;

    var = ngx_http_add_variable(cf, &ngx_http_media_route_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_media_route_variable;

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_metrics_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_media_metrics_t *old = data;

    size_t                        size;
    ngx_http_media_metrics_t     *m;
    ngx_http_media_metrics_sh_t  *sh;

    m = zone->data;
    m->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    size = sizeof(ngx_http_media_metrics_sh_t)
           + m->nlabels * NGX_HTTP_MEDIA_PER_ROUTE * sizeof(ngx_atomic_t);

    /* a reload: the counters go on, unless the route table changed */
    if (old && old->sh && old->sh->size == size) {
        m->sh = old->sh;
        return NGX_OK;
    }

    if (zone->shm.exists && m->shpool->data
        && ((ngx_http_media_metrics_sh_t *) m->shpool->data)->size == size)
    {
        m->sh = m->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(m->shpool, size);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    sh->size = size;
    m->shpool->data = sh;
    m->sh = sh;

    return NGX_OK;
}


/* the log phase ------------------------------------------------------- */

static ngx_int_t
ngx_http_media_metrics_log(ngx_http_request_t *r)
{
    ngx_msec_int_t                ms;
    ngx_uint_t                    label, status, i, upload;
    ngx_time_t                   *tp;
    ngx_atomic_t                 *cell;
    ngx_http_media_metrics_t     *m;

    m = ngx_http_media_metrics_conf;
    if (m == NULL || m->sh == NULL) {
        return NGX_OK;
    }

    label = ngx_http_media_metrics_label(r, &upload);
    cell = &m->sh->routes[label * NGX_HTTP_MEDIA_PER_ROUTE];

    status = r->err_status ? r->err_status : r->headers_out.status;

    for (i = 0; ngx_http_media_statuses[i]; i++) {
        if (ngx_http_media_statuses[i] == status) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&cell[i], 1);

    /* as $request_time counts it */
    tp = ngx_timeofday();
    ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                           + (tp->msec - r->start_msec));
    ms = ngx_max(ms, 0);

    cell += NGX_HTTP_MEDIA_NSTATUS;

    for (i = 0; i < NGX_HTTP_MEDIA_NBUCKETS; i++) {
        if ((ngx_msec_t) ms <= ngx_http_media_buckets[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&cell[i], 1);
    (void) ngx_atomic_fetch_add(&cell[NGX_HTTP_MEDIA_NBUCKETS + 1], ms);

    if (upload && status < NGX_HTTP_SPECIAL_RESPONSE
        && r->headers_in.content_length_n > 0)
    {
        (void) ngx_atomic_fetch_add(&m->sh->upload_bytes,
                                    r->headers_in.content_length_n);
    }

    ngx_http_media_metrics_refusal(r);

    return NGX_OK;
}


/*
 * The request's route label: the API route that served it, else what
 * kind of location ended it.  Playback and download checks are told by
 * their cacheable status variables, which survive the internal redirect
 * to the files' location (module contexts do not).
 */
static ngx_uint_t
ngx_http_media_metrics_label(ngx_http_request_t *r, ngx_uint_t *upload)
{
    ngx_int_t                    i;
    ngx_http_variable_value_t   *vv;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_media_loc_conf_t   *mlcf;
    ngx_http_media_main_conf_t  *mmcf;
    ngx_http_media_metrics_t    *m;

    m = ngx_http_media_metrics_conf;
    *upload = 0;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (r->variables && mmcf->token_status_index != NGX_ERROR) {
        vv = &r->variables[mmcf->token_status_index];
        if (vv->valid && !vv->not_found) {
            return m->nroutes + NGX_HTTP_MEDIA_LABEL_HLS;
        }
    }

    if (r->variables && mmcf->dl_status_index != NGX_ERROR) {
        vv = &r->variables[mmcf->dl_status_index];
        if (vv->valid && !vv->not_found) {
            return m->nroutes + NGX_HTTP_MEDIA_LABEL_DOWNLOAD;
        }
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->handler == ngx_http_media_metrics_handler) {
        return m->nroutes + NGX_HTTP_MEDIA_LABEL_METRICS;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    if (mlcf->api || mlcf->json_errors) {
        i = ngx_http_media_api_route_of(r, upload);

        return (i >= 0 && (ngx_uint_t) i < m->nroutes)
               ? (ngx_uint_t) i : m->nroutes + NGX_HTTP_MEDIA_LABEL_API;
    }

    return m->nroutes + NGX_HTTP_MEDIA_LABEL_OTHER;
}


/* a refused access token, playback token or download link, by reason */
static void
ngx_http_media_metrics_refusal(ngx_http_request_t *r)
{
    ngx_str_t                    reason;
    ngx_uint_t                   check;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_variable_value_t   *vv;
    ngx_http_media_main_conf_t  *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ctx && ctx->auth_status && ctx->token_status) {
        reason.data = (u_char *) ctx->token_status;
        reason.len = ngx_strlen(ctx->token_status);
        ngx_http_media_metrics_refused(NGX_HTTP_MEDIA_CHECK_ACCESS, &reason);
    }

    if (r->variables == NULL) {
        return;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    for (check = NGX_HTTP_MEDIA_CHECK_PLAYBACK;
         check <= NGX_HTTP_MEDIA_CHECK_DOWNLOAD;
         check++)
    {
        if ((check == NGX_HTTP_MEDIA_CHECK_PLAYBACK
             ? mmcf->token_status_index : mmcf->dl_status_index)
            == NGX_ERROR)
        {
            continue;
        }

        vv = &r->variables[check == NGX_HTTP_MEDIA_CHECK_PLAYBACK
                           ? mmcf->token_status_index
                           : mmcf->dl_status_index];

        if (!vv->valid || vv->not_found || vv->len == 0
            || (vv->len == 2 && ngx_strncmp(vv->data, "ok", 2) == 0))
        {
            continue;
        }

        reason.data = vv->data;
        reason.len = vv->len;
        ngx_http_media_metrics_refused(check, &reason);
    }
}


static void
ngx_http_media_metrics_refused(ngx_uint_t check, ngx_str_t *reason)
{
    ngx_uint_t                         i;
    ngx_http_media_metrics_t          *m;
    ngx_http_media_metrics_refusal_t  *f;

    m = ngx_http_media_metrics_conf;

    if (reason->len >= NGX_HTTP_MEDIA_METRICS_REASON) {
        ngx_str_set(reason, "other");
    }

    /* the pairs seen so far are read without the lock: they never change */
    for (i = 0; i < NGX_HTTP_MEDIA_METRICS_REFUSALS; i++) {
        f = &m->sh->refusals[i];

        if (!f->used) {
            break;
        }

        if (f->check == check && ngx_strlen(f->reason) == reason->len
            && ngx_strncmp(f->reason, reason->data, reason->len) == 0)
        {
            (void) ngx_atomic_fetch_add(&f->count, 1);
            return;
        }
    }

    ngx_shmtx_lock(&m->shpool->mutex);

    for (i = 0; i < NGX_HTTP_MEDIA_METRICS_REFUSALS; i++) {
        f = &m->sh->refusals[i];

        if (!f->used) {
            f->check = check;
            ngx_memcpy(f->reason, reason->data, reason->len);
            f->reason[reason->len] = '\0';
            f->count = 1;
            ngx_memory_barrier();
            f->used = 1;
            break;
        }

        if (f->check == check && ngx_strlen(f->reason) == reason->len
            && ngx_strncmp(f->reason, reason->data, reason->len) == 0)
        {
            (void) ngx_atomic_fetch_add(&f->count, 1);
            break;
        }
    }

    /* a full table: more pairs than any build of ours makes; not counted */

    ngx_shmtx_unlock(&m->shpool->mutex);
}


/* the scrape ---------------------------------------------------------- */

static ngx_int_t
ngx_http_media_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_atomic_uint_t             began;
    ngx_http_media_metrics_t     *m;
    ngx_http_media_main_conf_t   *mmcf;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_media_metrics_conf;
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    /* this worker's own state is as of now */
    ngx_http_media_metrics_publish(NULL);

    if (mmcf->pg_conninfo.data == NULL
        || ngx_time() - (time_t) m->sh->jobs_time
           < NGX_HTTP_MEDIA_METRICS_JOBS_TTL)
    {
        return ngx_http_media_metrics_send(r);
    }

    /* one scrape asks; a query older than the timeout is given up */
    began = m->sh->refresh;

    if ((began && ngx_time() - (time_t) began
                  < NGX_HTTP_MEDIA_METRICS_JOBS_TTL
                    + (time_t) (mmcf->pg_timeout / 1000) + 1)
        || !ngx_atomic_cmp_set(&m->sh->refresh, began, ngx_time()))
    {
        return ngx_http_media_metrics_send(r);
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_metrics_jobs, NULL,
                                ngx_http_media_metrics_jobs, NULL)
        != NGX_OK)
    {
        m->sh->refresh = 0;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/* the jobs' numbers as text, kept in the zone for every scrape */
static void
ngx_http_media_metrics_jobs(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    u_char                     *p, *buf;
    ngx_http_media_metrics_t   *m;

    m = ngx_http_media_metrics_conf;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media metrics jobs: %V, request_id: %V; the last "
                      "numbers are sent", &res->error,
                      ngx_http_media_request_id(r));
        m->sh->refresh = 0;
        ngx_http_finalize_request(r, ngx_http_media_metrics_send(r));
        return;
    }

    buf = ngx_pnalloc(r->pool, NGX_HTTP_MEDIA_METRICS_JOBS_MAX);
    if (buf == NULL) {
        m->sh->refresh = 0;
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_http_media_metrics_jobs_text(res, buf,
                                         buf + NGX_HTTP_MEDIA_METRICS_JOBS_MAX);

    ngx_shmtx_lock(&m->shpool->mutex);
    m->sh->jobs_len = p - buf;
    ngx_memcpy(m->sh->jobs, buf, p - buf);
    ngx_shmtx_unlock(&m->shpool->mutex);

    m->sh->jobs_time = ngx_time();
    m->sh->refresh = 0;

    ngx_http_finalize_request(r, ngx_http_media_metrics_send(r));
}


/* rows of (type, status, count, oldest age, seconds) as metrics */
static u_char *
ngx_http_media_metrics_jobs_text(ngx_http_media_pg_result_t *res, u_char *p,
    u_char *last)
{
    ngx_str_t   *v, seconds;
    ngx_uint_t   row, t, s;

    /* by type, then status; the oldest queued job's age by type */
    ngx_uint_t   count[NGX_HTTP_MEDIA_NTYPES][NGX_HTTP_MEDIA_NSTATES];
    ngx_uint_t   oldest[NGX_HTTP_MEDIA_NTYPES];
    ngx_uint_t   column[NGX_HTTP_MEDIA_NTYPES];

    ngx_memzero(count, sizeof(count));
    ngx_memzero(oldest, sizeof(oldest));
    ngx_str_set(&seconds, "0");

    for (row = 0; row < res->nrows; row++) {
        t = ngx_http_media_metrics_find(ngx_http_media_job_types,
                                        NGX_HTTP_MEDIA_NTYPES,
                                        ngx_http_media_pg_value(res, row, 0));
        s = ngx_http_media_metrics_find(ngx_http_media_job_statuses,
                                        NGX_HTTP_MEDIA_NSTATES,
                                        ngx_http_media_pg_value(res, row, 1));

        if (t == NGX_HTTP_MEDIA_NTYPES || s == NGX_HTTP_MEDIA_NSTATES) {
            continue;
        }

        v = ngx_http_media_pg_value(res, row, 2);
        count[t][s] = ngx_atoi(v->data, v->len);

        if (s == 0) {                                   /* queued */
            v = ngx_http_media_pg_value(res, row, 3);
            oldest[t] = ngx_atoi(v->data, v->len);
        }

        if (t == 0 && s == 2) {                         /* transcode done */
            seconds = *ngx_http_media_pg_value(res, row, 4);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP media_jobs Job rows by type and status.\n"
            "# TYPE media_jobs gauge\n");

    for (t = 0; t < NGX_HTTP_MEDIA_NTYPES; t++) {
        for (s = 0; s < NGX_HTTP_MEDIA_NSTATES; s++) {
            p = ngx_slprintf(p, last,
                             "media_jobs{type=\"%s\",status=\"%s\"} %ui\n",
                             ngx_http_media_job_types[t],
                             ngx_http_media_job_statuses[s], count[t][s]);
        }
    }

    for (t = 0; t < NGX_HTTP_MEDIA_NTYPES; t++) {
        column[t] = count[t][0];
    }

    p = ngx_http_media_metrics_by_type(p, last, "media_queue_depth",
                                       "Jobs queued for a worker, by type.",
                                       column);

    for (t = 0; t < NGX_HTTP_MEDIA_NTYPES; t++) {
        column[t] = count[t][1];
    }

    p = ngx_http_media_metrics_by_type(p, last, "media_queue_pending",
                                       "Jobs a worker holds (running), by "
                                       "type.", column);

    p = ngx_http_media_metrics_by_type(p, last, "media_queue_oldest_seconds",
                                       "Age of the oldest queued job, by "
                                       "type; 0 when none is queued.",
                                       oldest);

    return ngx_slprintf(p, last,
            "# HELP media_transcode_seconds_total Wall-clock seconds of the "
            "transcode jobs done, from their rows.\n"
            "# TYPE media_transcode_seconds_total counter\n"
            "media_transcode_seconds_total %V\n", &seconds);
}


/* a gauge by job type */
static u_char *
ngx_http_media_metrics_by_type(u_char *p, u_char *last, const char *name,
    const char *help, ngx_uint_t *values)
{
    ngx_uint_t  t;

    p = ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s gauge\n", name, help,
                     name);

    for (t = 0; t < NGX_HTTP_MEDIA_NTYPES; t++) {
        p = ngx_slprintf(p, last, "%s{type=\"%s\"} %ui\n", name,
                         ngx_http_media_job_types[t], values[t]);
    }

    return p;
}


/* the index of v in names, n when it is none of them */
static ngx_uint_t
ngx_http_media_metrics_find(const char **names, ngx_uint_t n, ngx_str_t *v)
{
    ngx_uint_t  i;

    for (i = 0; i < n; i++) {
        if (ngx_strlen(names[i]) == v->len
            && ngx_strncmp(names[i], v->data, v->len) == 0)
        {
            break;
        }
    }

    return i;
}


static ngx_int_t
ngx_http_media_metrics_send(ngx_http_request_t *r)
{
    size_t                      size;
    u_char                     *p, *last;
    ngx_buf_t                  *b;
    ngx_uint_t                  i;
    ngx_atomic_t               *cell;
    ngx_http_media_metrics_t   *m;

    m = ngx_http_media_metrics_conf;

    /* a line is under 256 bytes; the lines of a route with no request
     * are left out */
    size = 16384 + m->sh->jobs_len;

    for (i = 0; i < m->nlabels * NGX_HTTP_MEDIA_PER_ROUTE; i++) {
        cell = &m->sh->routes[i];
        if (*cell) {
            size += 256 * (NGX_HTTP_MEDIA_NBUCKETS + 4);
        }
    }

    size += NGX_HTTP_MEDIA_METRICS_REFUSALS * 256;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->last;
    last = b->end;

    p = ngx_http_media_metrics_routes(p, last);
    p = ngx_http_media_metrics_pools(p, last);

    if (m->sh->jobs_time) {
        ngx_shmtx_lock(&m->shpool->mutex);
        p = ngx_cpymem(p, m->sh->jobs, ngx_min(m->sh->jobs_len,
                                                (size_t) (last - p)));
        ngx_shmtx_unlock(&m->shpool->mutex);

        p = ngx_slprintf(p, last,
                "# HELP media_jobs_age_seconds How old the job numbers "
                "above are (they are read at most every %d seconds).\n"
                "# TYPE media_jobs_age_seconds gauge\n"
                "media_jobs_age_seconds %T\n",
                NGX_HTTP_MEDIA_METRICS_JOBS_TTL,
                ngx_time() - (time_t) m->sh->jobs_time);
    }

    b->last = p;

    return ngx_http_media_send_buf(r, "text/plain; version=0.0.4; "
                                   "charset=utf-8", b);
}


static u_char *
ngx_http_media_metrics_routes(u_char *p, u_char *last)
{
    ngx_uint_t                  l, i, n, total;
    ngx_atomic_t               *cell;
    ngx_http_media_metrics_t   *m;

    m = ngx_http_media_metrics_conf;

    p = ngx_slprintf(p, last,
            "# HELP media_http_requests_total Requests ended, by route and "
            "status.\n"
            "# TYPE media_http_requests_total counter\n");

    for (l = 0; l < m->nlabels; l++) {
        cell = &m->sh->routes[l * NGX_HTTP_MEDIA_PER_ROUTE];

        for (i = 0; i < NGX_HTTP_MEDIA_NSTATUS; i++) {
            if (cell[i] == 0) {
                continue;
            }

            p = ngx_slprintf(p, last, "media_http_requests_total{route=\"");
            p = ngx_http_media_metrics_name(p, last, l);

            if (ngx_http_media_statuses[i]) {
                p = ngx_slprintf(p, last, "\",status=\"%ui\"} %uA\n",
                                 ngx_http_media_statuses[i], cell[i]);
            } else {
                p = ngx_slprintf(p, last, "\",status=\"other\"} %uA\n",
                                 cell[i]);
            }
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP media_http_request_duration_seconds Time from the "
            "request's first byte to its log line, by route.\n"
            "# TYPE media_http_request_duration_seconds histogram\n");

    for (l = 0; l < m->nlabels; l++) {
        cell = &m->sh->routes[l * NGX_HTTP_MEDIA_PER_ROUTE
                              + NGX_HTTP_MEDIA_NSTATUS];

        total = 0;
        for (i = 0; i <= NGX_HTTP_MEDIA_NBUCKETS; i++) {
            total += cell[i];
        }

        if (total == 0) {
            continue;
        }

        n = 0;

        for (i = 0; i <= NGX_HTTP_MEDIA_NBUCKETS; i++) {
            n += cell[i];

            p = ngx_slprintf(p, last,
                             "media_http_request_duration_seconds_bucket"
                             "{route=\"");
            p = ngx_http_media_metrics_name(p, last, l);

            if (i < NGX_HTTP_MEDIA_NBUCKETS) {
                p = ngx_slprintf(p, last, "\",le=\"%ui.%03ui\"} %ui\n",
                                 ngx_http_media_buckets[i] / 1000,
                                 ngx_http_media_buckets[i] % 1000, n);
            } else {
                p = ngx_slprintf(p, last, "\",le=\"+Inf\"} %ui\n", n);
            }
        }

        p = ngx_slprintf(p, last,
                         "media_http_request_duration_seconds_sum{route=\"");
        p = ngx_http_media_metrics_name(p, last, l);
        p = ngx_slprintf(p, last, "\"} %uA.%03uA\n",
                         cell[NGX_HTTP_MEDIA_NBUCKETS + 1] / 1000,
                         cell[NGX_HTTP_MEDIA_NBUCKETS + 1] % 1000);

        p = ngx_slprintf(p, last,
                         "media_http_request_duration_seconds_count"
                         "{route=\"");
        p = ngx_http_media_metrics_name(p, last, l);
        p = ngx_slprintf(p, last, "\"} %ui\n", n);
    }

    return p;
}


static u_char *
ngx_http_media_metrics_pools(u_char *p, u_char *last)
{
    ngx_uint_t                          i;
    ngx_uint_t                          g[5];
    ngx_http_media_metrics_t           *m;
    ngx_http_media_metrics_slot_t      *s;
    ngx_http_media_metrics_refusal_t   *f;

    m = ngx_http_media_metrics_conf;

    p = ngx_slprintf(p, last,
            "# HELP media_token_refusals_total Tokens refused, by check "
            "(access token, playback token, download link) and reason.\n"
            "# TYPE media_token_refusals_total counter\n");

    for (i = 0; i < NGX_HTTP_MEDIA_METRICS_REFUSALS; i++) {
        f = &m->sh->refusals[i];
        if (!f->used) {
            break;
        }

        p = ngx_slprintf(p, last, "media_token_refusals_total{check=\"%s\","
                         "reason=\"%s\"} %uA\n",
                         ngx_http_media_checks[f->check], f->reason,
                         f->count);
    }

    p = ngx_slprintf(p, last,
            "# HELP media_upload_bytes_total Bytes of media uploads "
            "accepted.\n"
            "# TYPE media_upload_bytes_total counter\n"
            "media_upload_bytes_total %uA\n", m->sh->upload_bytes);

    ngx_memzero(g, sizeof(g));

    for (i = 0; i < NGX_HTTP_MEDIA_METRICS_SLOTS; i++) {
        s = &m->sh->slots[i];
        if (s->pid == 0) {
            continue;
        }

        g[0] += s->pg_open;
        g[1] += s->pg_busy;
        g[2] += s->pg_waiting;
        g[3] += s->redis_open;
        g[4] += s->redis_busy;
    }

    return ngx_slprintf(p, last,
            "# HELP media_pg_connections PostgreSQL connections of the "
            "nginx workers, by state.\n"
            "# TYPE media_pg_connections gauge\n"
            "media_pg_connections{state=\"in_use\"} %ui\n"
            "media_pg_connections{state=\"idle\"} %ui\n"
            "# HELP media_pg_waiting Queries waiting for a PostgreSQL "
            "connection.\n"
            "# TYPE media_pg_waiting gauge\n"
            "media_pg_waiting %ui\n"
            "# HELP media_pg_errors_total PostgreSQL connections that "
            "failed and queries that timed out.\n"
            "# TYPE media_pg_errors_total counter\n"
            "media_pg_errors_total %uA\n"
            "# HELP media_pg_connects_total PostgreSQL connections "
            "opened (the first ones, and every reconnect).\n"
            "# TYPE media_pg_connects_total counter\n"
            "media_pg_connects_total %uA\n"
            "# HELP media_redis_connections Redis command connections of "
            "the nginx workers that are up.\n"
            "# TYPE media_redis_connections gauge\n"
            "media_redis_connections %ui\n"
            "# HELP media_redis_pending Redis commands sent and not yet "
            "answered.\n"
            "# TYPE media_redis_pending gauge\n"
            "media_redis_pending %ui\n"
            "# HELP media_redis_errors_total Redis connections that failed "
            "or were dropped (a command timed out).\n"
            "# TYPE media_redis_errors_total counter\n"
            "media_redis_errors_total %uA\n"
            "# HELP media_redis_connects_total Redis connections made.\n"
            "# TYPE media_redis_connects_total counter\n"
            "media_redis_connects_total %uA\n",
            g[1], g[0] - ngx_min(g[0], g[1]), g[2], m->sh->pg_errors,
            m->sh->pg_connects, g[3], g[4], m->sh->redis_errors,
            m->sh->redis_connects);
}


/* "GET /api/v1/media/{id}", "PUT|DELETE /api/...", "hls", ... */
static u_char *
ngx_http_media_metrics_name(u_char *p, u_char *last, ngx_uint_t label)
{
    char                        methods[64];
    unsigned                    bits;
    const char                 *pattern;
    ngx_http_media_metrics_t   *m;

    m = ngx_http_media_metrics_conf;

    if (label >= m->nroutes) {
        return ngx_slprintf(p, last, "%s",
                            ngx_http_media_extra_labels[label - m->nroutes]);
    }

    pattern = ngx_http_media_api_route(label, &bits);
    (void) media_route_methods(bits, "|", methods, sizeof(methods));

    return ngx_slprintf(p, last, "%s %s", methods, pattern);
}


static ngx_int_t
ngx_http_media_route_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char      *p;
    ngx_uint_t   upload;

    if (ngx_http_media_metrics_conf == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, 256);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_http_media_metrics_name(p, p + 256,
                           ngx_http_media_metrics_label(r, &upload)) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* per worker process -------------------------------------------------- */

ngx_int_t
ngx_http_media_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_http_media_metrics_t  *m;

    m = ngx_http_media_metrics_conf;
    if (m == NULL || m->sh == NULL) {
        return NGX_OK;
    }

    ngx_memzero(&ngx_http_media_metrics_pg_seen,
                sizeof(ngx_http_media_pool_stats_t));
    ngx_memzero(&ngx_http_media_metrics_redis_seen,
                sizeof(ngx_http_media_pool_stats_t));

    ngx_http_media_metrics_timer.handler = ngx_http_media_metrics_publish;
    ngx_http_media_metrics_timer.log = cycle->log;
    ngx_http_media_metrics_dummy.fd = (ngx_socket_t) -1;
    ngx_http_media_metrics_timer.data = &ngx_http_media_metrics_dummy;
    ngx_http_media_metrics_timer.cancelable = 1;

    ngx_add_timer(&ngx_http_media_metrics_timer,
                  NGX_HTTP_MEDIA_METRICS_PUBLISH);

    return NGX_OK;
}


void
ngx_http_media_metrics_exit_process(void)
{
    ngx_http_media_metrics_t       *m;
    ngx_http_media_metrics_slot_t  *s;

    m = ngx_http_media_metrics_conf;
    if (m == NULL || m->sh == NULL || !ngx_http_media_metrics_timer.handler
        || ngx_worker >= NGX_HTTP_MEDIA_METRICS_SLOTS)
    {
        return;
    }

    /* the counters' last increments; the gauges are this process's no
     * more (a new process of the same number writes its own) */
    ngx_http_media_metrics_publish(NULL);

    s = &m->sh->slots[ngx_worker];
    (void) ngx_atomic_cmp_set(&s->pid, ngx_pid, 0);
}


/*
 * This process's pools into its slot, and their counters' increments
 * since the last time into the sums; ev is NULL when called outside the
 * timer.
 */
static void
ngx_http_media_metrics_publish(ngx_event_t *ev)
{
    ngx_http_media_metrics_t       *m;
    ngx_http_media_pool_stats_t     pg, rd, *seen;
    ngx_http_media_metrics_slot_t  *s;

    m = ngx_http_media_metrics_conf;

    if (m == NULL || m->sh == NULL
        || ngx_worker >= NGX_HTTP_MEDIA_METRICS_SLOTS)
    {
        return;
    }

    ngx_http_media_pg_stats(&pg);
    ngx_http_media_redis_stats(&rd);

    s = &m->sh->slots[ngx_worker];
    s->pid = ngx_pid;
    s->pg_open = pg.open;
    s->pg_busy = pg.busy;
    s->pg_waiting = pg.waiting;
    s->redis_open = rd.open;
    s->redis_busy = rd.busy;

    seen = &ngx_http_media_metrics_pg_seen;
    (void) ngx_atomic_fetch_add(&m->sh->pg_errors, pg.errors - seen->errors);
    (void) ngx_atomic_fetch_add(&m->sh->pg_connects,
                                pg.connects - seen->connects);
    *seen = pg;

    seen = &ngx_http_media_metrics_redis_seen;
    (void) ngx_atomic_fetch_add(&m->sh->redis_errors,
                                rd.errors - seen->errors);
    (void) ngx_atomic_fetch_add(&m->sh->redis_connects,
                                rd.connects - seen->connects);
    *seen = rd;

    if (ev && !ngx_exiting) {
        ngx_add_timer(ev, NGX_HTTP_MEDIA_METRICS_PUBLISH);
    }
}
