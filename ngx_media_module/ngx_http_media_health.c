/*
 * GET /api/v1/healthz: whether this node can serve, for load balancers and
 * for people: PostgreSQL (and its schema version) and Redis.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_health.h"


typedef struct {
    ngx_uint_t     pending;
    unsigned       postgres_ok:1;
    unsigned       redis_ok:1;
    ngx_str_t      postgres;       /* "ok", "unavailable", "timeout", ... */
    ngx_str_t      redis;
    ngx_str_t      schema;         /* applied migration version */
    ngx_str_t      problem;        /* what to tell the user on a 503 */
} ngx_http_media_healthz_ctx_t;


static void ngx_http_media_healthz_pg(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_healthz_redis(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_healthz_done(ngx_http_request_t *r,
    ngx_http_media_healthz_ctx_t *ctx);


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_schema =
    ngx_http_media_pg_stmt("health_schema", 0,
        "SELECT coalesce(max(version), 0) "
        "FROM media_schema_migrations");


/*
 * GET /api/v1/healthz: asks PostgreSQL (which schema version is applied)
 * and Redis (PING) at once; 200 when both answer, 503 naming the one that
 * does not.
 */
ngx_int_t
ngx_http_media_healthz(ngx_http_request_t *r)
{
    const char                    *argv[1];
    size_t                         argvlen[1];
    ngx_http_media_healthz_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_media_healthz_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&ctx->postgres, "unavailable");
    ngx_str_set(&ctx->redis, "unavailable");

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_schema,
            NULL, ngx_http_media_healthz_pg, ctx)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->pending++;

    argv[0] = "PING";
    argvlen[0] = 4;

    if (ngx_http_media_redis_command(r, ngx_http_media_healthz_redis, ctx,
                                     1, argv, argvlen)
        != NGX_OK)
    {
        /* the query is on its way; its handler finalizes */
        ngx_str_set(&ctx->redis, "error");
        return NGX_DONE;
    }

    ctx->pending++;

    return NGX_DONE;
}


static void
ngx_http_media_healthz_pg(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_healthz_ctx_t  *ctx = data;

    switch (res->status) {

    case NGX_HTTP_MEDIA_PG_OK:
        ngx_str_set(&ctx->postgres, "ok");
        ctx->postgres_ok = 1;
        if (res->nrows == 1) {
            ctx->schema = *ngx_http_media_pg_value(res, 0, 0);
        }
        break;

    case NGX_HTTP_MEDIA_PG_ERROR:
        /* 42P01: undefined_table, the migrations never ran */
        if (ngx_strcmp(res->sqlstate, "42P01") == 0) {
            ngx_str_set(&ctx->postgres, "no_schema");
            ngx_str_set(&ctx->problem, "postgres: schema missing, apply "
                        "the migrations in sql/ (media-migrate)");
        } else {
            ngx_str_set(&ctx->postgres, "error");
        }
        break;

    case NGX_HTTP_MEDIA_PG_TIMEOUT:
        ngx_str_set(&ctx->postgres, "timeout");
        break;

    default:
        ngx_str_set(&ctx->postgres, "unavailable");
        break;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media healthz: postgres %V: %V, request_id: %V",
                      &ctx->postgres, &res->error,
                      ngx_http_media_request_id(r));
    }

    ngx_http_media_healthz_done(r, ctx);
}


static void
ngx_http_media_healthz_redis(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_healthz_ctx_t  *ctx = data;

    switch (res->status) {

    case NGX_HTTP_MEDIA_REDIS_OK:
        ngx_str_set(&ctx->redis, "ok");
        ctx->redis_ok = 1;
        break;

    case NGX_HTTP_MEDIA_REDIS_TIMEOUT:
        ngx_str_set(&ctx->redis, "timeout");
        break;

    case NGX_HTTP_MEDIA_REDIS_ERROR:
        ngx_str_set(&ctx->redis, "error");
        break;

    default:
        ngx_str_set(&ctx->redis, "unavailable");
        break;
    }

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
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
    ngx_uint_t  ok;
    yajl_gen    g;

    if (--ctx->pending) {
        return;
    }

    ok = ctx->postgres_ok && ctx->redis_ok;

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

    if (!ok) {
        if (ctx->problem.len == 0) {
            if (!ctx->postgres_ok) {
                ngx_str_set(&ctx->problem, "postgres does not answer");
            } else {
                ngx_str_set(&ctx->problem, "redis does not answer");
            }
        }

        ngx_http_media_json_error_object(g, r, "unavailable", NULL,
                                         &ctx->problem);
    }

    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r,
                                 ok ? NGX_HTTP_OK
                                    : NGX_HTTP_SERVICE_UNAVAILABLE, g));
}
