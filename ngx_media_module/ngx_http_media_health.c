/*
 * GET /api/v1/healthz: whether this node can serve, for load balancers and
 * for people: PostgreSQL (reachable, our credentials, our schema), Redis,
 * and the workers (seen by their heartbeat, workers/common/beat.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "media_shared.h"
#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_health.h"


/* the worker types healthz counts: an upload needs the first */
#define NGX_HTTP_MEDIA_HEALTH_TRANSCODE  0
#define NGX_HTTP_MEDIA_HEALTH_BILLING    1
#define NGX_HTTP_MEDIA_HEALTH_NWORKERS   2


typedef struct ngx_http_media_healthz_ctx_s  ngx_http_media_healthz_ctx_t;


/* one ZCOUNT's answer: which worker type it counts */
typedef struct {
    ngx_http_media_healthz_ctx_t  *ctx;
    ngx_uint_t                     type;
} ngx_http_media_healthz_count_t;


struct ngx_http_media_healthz_ctx_s {
    ngx_uint_t                      pending;
    unsigned                        postgres_ok:1;
    unsigned                        redis_ok:1;
    unsigned                        redis_failed:1;
    ngx_str_t                       postgres;  /* "ok", "unreachable", ... */
    ngx_str_t                       redis;
    ngx_str_t                       schema;    /* applied migration version */
    ngx_str_t                       problem;   /* for people, on a 503 */
    ngx_int_t                       workers[NGX_HTTP_MEDIA_HEALTH_NWORKERS];
    ngx_http_media_healthz_count_t  counts[NGX_HTTP_MEDIA_HEALTH_NWORKERS];
};


static void ngx_http_media_healthz_pg(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_healthz_pg_state(ngx_http_media_healthz_ctx_t *ctx,
    ngx_http_media_pg_result_t *res);
static void ngx_http_media_healthz_workers(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_healthz_done(ngx_http_request_t *r,
    ngx_http_media_healthz_ctx_t *ctx);
static ngx_uint_t ngx_http_media_healthz_ok(ngx_http_media_healthz_ctx_t *ctx);


static const char  *ngx_http_media_healthz_types[] = {
    "transcode", "billing"
};


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_schema =
    ngx_http_media_pg_stmt("health_schema", 0,
        "SELECT coalesce(max(version), 0) "
        "FROM media_schema_migrations");


/*
 * GET /api/v1/healthz: asks PostgreSQL (which schema version is applied)
 * and Redis (how many transcode and billing consumers beat within
 * MEDIA_WORKERS_SEEN) at once; 200 when uploads would be processed, 503
 * naming what stops them.
 */
ngx_int_t
ngx_http_media_healthz(ngx_http_request_t *r)
{
    u_char                        *p;
    size_t                         argvlen[4];
    ngx_uint_t                     i;
    ngx_time_t                    *tp;
    const char                    *argv[4];
    ngx_http_media_healthz_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_media_healthz_ctx_t)
                               + 2 * (sizeof(MEDIA_KEY_WORKERS "billing")
                                      + NGX_INT64_LEN + 1));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&ctx->postgres, "unreachable");
    ngx_str_set(&ctx->redis, "unreachable");

    for (i = 0; i < NGX_HTTP_MEDIA_HEALTH_NWORKERS; i++) {
        ctx->workers[i] = -1;
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_schema,
            NULL, ngx_http_media_healthz_pg, ctx)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->pending++;

    /* ZCOUNT media:workers:<type> <now - MEDIA_WORKERS_SEEN> +inf */

    tp = ngx_timeofday();
    p = (u_char *) (ctx + 1);

    argv[2] = (char *) p;
    p = ngx_sprintf(p, "%M", (ngx_msec_t) (tp->sec * 1000 + tp->msec
                                           - MEDIA_WORKERS_SEEN));
    argvlen[2] = p - (u_char *) argv[2];
    *p++ = '\0';

    argv[0] = "ZCOUNT";
    argvlen[0] = 6;
    argv[3] = "+inf";
    argvlen[3] = 4;

    for (i = 0; i < NGX_HTTP_MEDIA_HEALTH_NWORKERS; i++) {
        argv[1] = (char *) p;
        p = ngx_sprintf(p, MEDIA_KEY_WORKERS "%s",
                        ngx_http_media_healthz_types[i]);
        argvlen[1] = p - (u_char *) argv[1];
        *p++ = '\0';

        ctx->counts[i].ctx = ctx;
        ctx->counts[i].type = i;

        if (ngx_http_media_redis_command(r, ngx_http_media_healthz_workers,
                                         &ctx->counts[i], 4, argv, argvlen)
            != NGX_OK)
        {
            /* what is on its way finalizes */
            ngx_str_set(&ctx->redis, "error");
            return NGX_DONE;
        }

        ctx->pending++;
    }

    return NGX_DONE;
}


static void
ngx_http_media_healthz_pg(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_healthz_ctx_t  *ctx = data;

    ngx_http_media_healthz_pg_state(ctx, res);

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media healthz: postgres %V: %V, request_id: %V",
                      &ctx->postgres, &res->error,
                      ngx_http_media_request_id(r));
    }

    ngx_http_media_healthz_done(r, ctx);
}


/*
 * What the admin has to do differs: start PostgreSQL or fix media_pg's
 * host (unreachable), fix its password or pg_hba.conf (auth_failed),
 * create the database or run the migrations (no_schema).
 */
static void
ngx_http_media_healthz_pg_state(ngx_http_media_healthz_ctx_t *ctx,
    ngx_http_media_pg_result_t *res)
{
    u_char  *s;

    s = res->sqlstate;

    switch (res->status) {

    case NGX_HTTP_MEDIA_PG_OK:
        ngx_str_set(&ctx->postgres, "ok");
        ctx->postgres_ok = 1;
        if (res->nrows == 1) {
            ctx->schema = *ngx_http_media_pg_value(res, 0, 0);
        }
        return;

    case NGX_HTTP_MEDIA_PG_TIMEOUT:
        ngx_str_set(&ctx->postgres, "timeout");
        ngx_str_set(&ctx->problem, "postgres: no answer within "
                    "media_pg_timeout");
        return;

    default:
        break;
    }

    /* 28xxx: invalid authorization (password, pg_hba.conf, role) */
    if (s[0] == '2' && s[1] == '8') {
        ngx_str_set(&ctx->postgres, "auth_failed");
        ngx_str_set(&ctx->problem, "postgres: authentication failed, check "
                    "the user and password in media_pg and pg_hba.conf");

    /* 42P01 undefined_table: the migrations never ran; 3D000: no database */
    } else if (ngx_strcmp(s, "42P01") == 0 || ngx_strcmp(s, "3D000") == 0) {
        ngx_str_set(&ctx->postgres, "no_schema");
        ngx_str_set(&ctx->problem, "postgres: schema missing, create the "
                    "database media_pg names and run media-migrate");

    } else if (res->status == NGX_HTTP_MEDIA_PG_ERROR) {
        ngx_str_set(&ctx->postgres, "error");
        ngx_str_set(&ctx->problem, "postgres: the schema query failed, "
                    "see the error log");

    } else {
        ngx_str_set(&ctx->problem, "postgres: unreachable, check that it "
                    "runs and the host and port in media_pg");
    }
}


static void
ngx_http_media_healthz_workers(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_healthz_count_t  *count = data;

    ngx_http_media_healthz_ctx_t  *ctx;

    ctx = count->ctx;

    /* the first failure says why: a timeout drops the connection, and
     * the command behind it then fails as unreachable */
    switch (ctx->redis_failed ? NGX_HTTP_MEDIA_REDIS_OK : res->status) {

    case NGX_HTTP_MEDIA_REDIS_OK:
        if (res->status == NGX_HTTP_MEDIA_REDIS_OK) {
            ctx->workers[count->type] = res->integer;
        }
        break;

    case NGX_HTTP_MEDIA_REDIS_TIMEOUT:
        ngx_str_set(&ctx->redis, "timeout");
        break;

    case NGX_HTTP_MEDIA_REDIS_ERROR:
        ngx_str_set(&ctx->redis, "error");
        break;

    default:
        ngx_str_set(&ctx->redis, "unreachable");
        break;
    }

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ctx->redis_failed = 1;
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media healthz: redis %V: %V, request_id: %V",
                      &ctx->redis, &res->str, ngx_http_media_request_id(r));
    }

    ngx_http_media_healthz_done(r, ctx);
}


static void
ngx_http_media_healthz_done(ngx_http_request_t *r,
    ngx_http_media_healthz_ctx_t *ctx)
{
    ngx_uint_t  i, ok;
    yajl_gen    g;

    if (--ctx->pending) {
        return;
    }

    ok = ngx_http_media_healthz_ok(ctx);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "postgres", &ctx->postgres);
    ngx_http_media_json_str(g, "redis", &ctx->redis);

    if (ctx->schema.data) {
        ngx_http_media_json_str(g, "schema_version", &ctx->schema);
    }

    if (ctx->redis_ok) {
        yajl_gen_string(g, (const unsigned char *) "workers", 7);
        yajl_gen_map_open(g);

        for (i = 0; i < NGX_HTTP_MEDIA_HEALTH_NWORKERS; i++) {
            yajl_gen_string(g, (const unsigned char *)
                            ngx_http_media_healthz_types[i],
                            ngx_strlen(ngx_http_media_healthz_types[i]));
            yajl_gen_integer(g, ctx->workers[i]);
        }

        yajl_gen_map_close(g);
    }

    if (!ok) {
        ngx_http_media_json_error_object(g, r, "unavailable", NULL,
                                         &ctx->problem);
    }

    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r,
                                 ok ? NGX_HTTP_OK
                                    : NGX_HTTP_SERVICE_UNAVAILABLE, g));
}


/*
 * Whether an upload made now would be processed: PostgreSQL and Redis
 * answer and a transcoder is alive.  Billing is counted, not required:
 * without it payments wait in their rows, uploads do not.
 */
static ngx_uint_t
ngx_http_media_healthz_ok(ngx_http_media_healthz_ctx_t *ctx)
{
    ngx_uint_t  i;

    ctx->redis_ok = 1;

    for (i = 0; i < NGX_HTTP_MEDIA_HEALTH_NWORKERS; i++) {
        if (ctx->workers[i] < 0) {
            ctx->redis_ok = 0;
        }
    }

    if (ctx->redis_ok) {
        ngx_str_set(&ctx->redis, "ok");
    }

    if (!ctx->postgres_ok) {
        return 0;
    }

    if (!ctx->redis_ok) {
        ngx_str_set(&ctx->problem, "redis: unreachable, check that it runs "
                    "and the address in media_redis");
        return 0;
    }

    if (ctx->workers[NGX_HTTP_MEDIA_HEALTH_TRANSCODE] == 0) {
        ngx_str_set(&ctx->problem, "workers: no transcoder seen in the last "
                    "30 s, uploads would wait: start media-transcoder");
        return 0;
    }

    return 1;
}
