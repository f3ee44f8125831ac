/*
 * The REST API: the content handler of a "media_api" location, a route
 * table for media_router, the JSON error model, and the handlers.
 *
 * Every answer is JSON.  Errors are {"error":{"code","message",
 * "request_id"}}; the request id is nginx's $request_id, also sent as
 * X-Request-Id and written in every log line about the request, so a user's
 * report leads to the log.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_module.h"
#include "ngx_http_media_api.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "media_router.h"


typedef enum {
    NGX_HTTP_MEDIA_ROUTE_HEALTHZ = 0
} ngx_http_media_route_e;


typedef struct {
    ngx_uint_t     pending;
    unsigned       postgres_ok:1;
    unsigned       redis_ok:1;
    ngx_str_t      postgres;       /* "ok", "unavailable", "timeout", ... */
    ngx_str_t      redis;
    ngx_str_t      schema;         /* applied migration version */
    ngx_str_t      problem;        /* what to tell the user on a 503 */
} ngx_http_media_healthz_ctx_t;


static unsigned ngx_http_media_api_method(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_healthz(ngx_http_request_t *r);
static void ngx_http_media_healthz_pg(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_healthz_redis(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_healthz_done(ngx_http_request_t *r,
    ngx_http_media_healthz_ctx_t *ctx);
static ngx_int_t ngx_http_media_add_header(ngx_http_request_t *r,
    const char *key, ngx_str_t *value);
static ngx_str_t *ngx_http_media_request_id(ngx_http_request_t *r);


static const media_route_t  ngx_http_media_routes[] = {
    { MEDIA_GET, "/api/v1/healthz", NGX_HTTP_MEDIA_ROUTE_HEALTHZ },
};


ngx_int_t
ngx_http_media_api_handler(ngx_http_request_t *r)
{
    int                  rc;
    char                 allow[64];
    ngx_str_t            value;
    ngx_int_t            drc;
    media_route_match_t  m;

    rc = media_route_match(ngx_http_media_routes,
                           sizeof(ngx_http_media_routes)
                           / sizeof(ngx_http_media_routes[0]),
                           ngx_http_media_api_method(r),
                           (char *) r->uri.data, r->uri.len, &m);

    /* no route reads a body yet */
    drc = ngx_http_discard_request_body(r);
    if (drc != NGX_OK) {
        return drc;
    }

    if (rc == MEDIA_ROUTE_NOT_FOUND) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such API route: %V", &r->uri);
    }

    if (rc == MEDIA_ROUTE_NOT_ALLOWED) {
        value.len = media_route_allow_header(m.allow, allow, sizeof(allow));
        value.data = (u_char *) allow;

        if (ngx_http_media_add_header(r, "Allow", &value) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_media_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "method_not_allowed",
                                         "%V is not allowed here; allowed: %V",
                                         &r->method_name, &value);
    }

    switch (m.id) {

    case NGX_HTTP_MEDIA_ROUTE_HEALTHZ:
        return ngx_http_media_healthz(r);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static unsigned
ngx_http_media_api_method(ngx_http_request_t *r)
{
    switch (r->method) {
    case NGX_HTTP_GET:
        return MEDIA_GET;
    case NGX_HTTP_HEAD:
        return MEDIA_HEAD;
    case NGX_HTTP_POST:
        return MEDIA_POST;
    case NGX_HTTP_PUT:
        return MEDIA_PUT;
    case NGX_HTTP_PATCH:
        return MEDIA_PATCH;
    case NGX_HTTP_DELETE:
        return MEDIA_DELETE;
    case NGX_HTTP_OPTIONS:
        return MEDIA_OPTIONS;
    default:
        return 0;
    }
}


/*
 * GET /api/v1/healthz: asks PostgreSQL (which schema version is applied)
 * and Redis (PING) at once; 200 when both answer, 503 naming the one that
 * does not.
 */
static ngx_int_t
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

    if (ngx_http_media_pg_query(r, "SELECT coalesce(max(version), 0) "
                                "FROM media_schema_migrations",
                                0, NULL, ngx_http_media_healthz_pg, ctx)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->pending++;
    r->main->count++;

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
    ngx_int_t           rc;
    ngx_uint_t          ok;
    yajl_gen            g;
    ngx_str_t           json;
    const u_char       *buf;
    size_t              len;

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

        ngx_http_media_json_error_object(g, r, "unavailable", &ctx->problem);
    }

    yajl_gen_map_close(g);

    yajl_gen_get_buf(g, &buf, &len);
    json.data = (u_char *) buf;
    json.len = len;

    rc = ngx_http_media_send_json(r, ok ? NGX_HTTP_OK
                                        : NGX_HTTP_SERVICE_UNAVAILABLE, &json);
    yajl_gen_free(g);

    ngx_http_finalize_request(r, rc);
}


/* JSON helpers, shared by every handler */

void
ngx_http_media_json_str(yajl_gen g, const char *key, ngx_str_t *value)
{
    yajl_gen_string(g, (const unsigned char *) key, ngx_strlen(key));

    if (value == NULL || value->data == NULL) {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_string(g, value->data, value->len);
}


void
ngx_http_media_json_error_object(yajl_gen g, ngx_http_request_t *r,
    const char *code, ngx_str_t *message)
{
    ngx_str_t  c;

    c.data = (u_char *) code;
    c.len = ngx_strlen(code);

    yajl_gen_string(g, (const unsigned char *) "error", 5);
    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "code", &c);
    ngx_http_media_json_str(g, "message", message);
    ngx_http_media_json_str(g, "request_id", ngx_http_media_request_id(r));
    yajl_gen_map_close(g);
}


ngx_int_t
ngx_http_media_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char        msg[NGX_MAX_ERROR_STR], *p;
    size_t        len;
    ngx_uint_t    level;
    va_list       args;
    yajl_gen      g;
    ngx_int_t     rc;
    ngx_str_t     message, json;
    const u_char *buf;

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    message.data = msg;
    message.len = p - msg;

    level = (status >= NGX_HTTP_INTERNAL_SERVER_ERROR) ? NGX_LOG_ERR
                                                       : NGX_LOG_INFO;

    ngx_log_error(level, r->connection->log, 0,
                  "media api: %ui %s: %V, request_id: %V",
                  status, code, &message, ngx_http_media_request_id(r));

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_error_object(g, r, code, &message);
    yajl_gen_map_close(g);

    yajl_gen_get_buf(g, &buf, &len);
    json.data = (u_char *) buf;
    json.len = len;

    rc = ngx_http_media_send_json(r, status, &json);
    yajl_gen_free(g);

    return rc;
}


/* sends a complete JSON response; json is copied, the caller keeps it */
ngx_int_t
ngx_http_media_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json)
{
    ngx_buf_t    *b;
    ngx_int_t     rc;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = json->len + 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_media_add_header(r, "X-Request-Id",
                                  ngx_http_media_request_id(r))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a response refusing the request must not be cached */
    if (status >= NGX_HTTP_BAD_REQUEST) {
        ngx_str_t  no_store = ngx_string("no-store");

        if (ngx_http_media_add_header(r, "Cache-Control", &no_store)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_create_temp_buf(r->pool, json->len + 1);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->last, json->data, json->len);
    *b->last++ = '\n';
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_media_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value = *value;

    return NGX_OK;
}


ngx_http_media_ctx_t *
ngx_http_media_get_ctx(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t         *ctx;
    ngx_http_variable_value_t    *vv;
    ngx_http_media_main_conf_t   *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_media_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_str_set(&ctx->request_id, "-");

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    vv = ngx_http_get_indexed_variable(r, mmcf->request_id_index);
    if (vv && !vv->not_found) {
        ctx->request_id.data = vv->data;
        ctx->request_id.len = vv->len;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_media_module);

    return ctx;
}


static ngx_str_t *
ngx_http_media_request_id(ngx_http_request_t *r)
{
    static ngx_str_t       none = ngx_string("-");
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_media_get_ctx(r);

    return ctx ? &ctx->request_id : &none;
}
