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
#include "ngx_http_media_auth.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "media_router.h"


/* route flags */
#define NGX_HTTP_MEDIA_BODY      0x01   /* a JSON object body is required */
#define NGX_HTTP_MEDIA_BODY_OPT  0x02   /* a JSON body may come, or none */
#define NGX_HTTP_MEDIA_USER      0x04   /* a signed-in user is required */
#define NGX_HTTP_MEDIA_ADMIN     0x08   /* ... with the admin role */
#define NGX_HTTP_MEDIA_FILE      0x10   /* a media upload, kept on disk */

#define NGX_HTTP_MEDIA_MAX_JSON  65536



typedef struct {
    ngx_http_media_route_pt   handler;
    ngx_uint_t                flags;
} ngx_http_media_route_def_t;


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
static void ngx_http_media_api_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_api_file(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_api_parse(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx, ngx_int_t *rc);
static void ngx_http_media_api_run(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_api_json(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx);
static void ngx_http_media_json_cleanup(void *data);
static ngx_int_t ngx_http_media_healthz(ngx_http_request_t *r);
static void ngx_http_media_healthz_pg(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_healthz_redis(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_healthz_done(ngx_http_request_t *r,
    ngx_http_media_healthz_ctx_t *ctx);
static ngx_str_t *ngx_http_media_request_id(ngx_http_request_t *r);


/* media_route_t.id indexes ngx_http_media_route_defs */
static const media_route_t  ngx_http_media_routes[] = {
    { MEDIA_GET, "/api/v1/healthz", 0 },
    { MEDIA_POST, "/api/v1/auth/signup", 1 },
    { MEDIA_POST, "/api/v1/auth/login", 2 },
    { MEDIA_POST, "/api/v1/auth/refresh", 3 },
    { MEDIA_POST, "/api/v1/auth/logout", 4 },
    { MEDIA_GET, "/api/v1/auth/me", 5 },
    { MEDIA_GET, "/api/v1/admin/users", 6 },
    { MEDIA_POST, "/api/v1/media", 7 },
    { MEDIA_GET, "/api/v1/media", 8 },
    { MEDIA_GET, "/api/v1/media/{id}", 9 },
    { MEDIA_PATCH, "/api/v1/media/{id}", 10 },
    { MEDIA_DELETE, "/api/v1/media/{id}", 11 },
    { MEDIA_GET, "/api/v1/jobs/{id}", 12 },
    { MEDIA_POST, "/api/v1/media/{id}/playback", 13 },
};


static const ngx_http_media_route_def_t  ngx_http_media_route_defs[] = {
    { ngx_http_media_healthz, 0 },
    { ngx_http_media_signup, NGX_HTTP_MEDIA_BODY },
    { ngx_http_media_login, NGX_HTTP_MEDIA_BODY },
    { ngx_http_media_refresh, NGX_HTTP_MEDIA_BODY_OPT },
    { ngx_http_media_logout, NGX_HTTP_MEDIA_BODY_OPT | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_me, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_admin_users,
      NGX_HTTP_MEDIA_USER | NGX_HTTP_MEDIA_ADMIN },
    { ngx_http_media_upload, NGX_HTTP_MEDIA_FILE | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_list, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_get, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_patch, NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_USER },
    { ngx_http_media_delete, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_job, NGX_HTTP_MEDIA_USER },
    { ngx_http_media_playback, NGX_HTTP_MEDIA_BODY_OPT },
};


/*
 * The content handler: route, check who may call it, read the body if it
 * takes one, then run it.  Whatever the route does, the request is
 * finalized exactly once, by ngx_http_media_api_run or by the route's last
 * asynchronous step.
 */
ngx_int_t
ngx_http_media_api_handler(ngx_http_request_t *r)
{
    int                                 rc;
    char                                allow[64];
    ngx_str_t                           value;
    ngx_int_t                           drc;
    media_route_match_t                 m;
    ngx_http_media_ctx_t               *ctx;
    const ngx_http_media_route_def_t   *def;

    ctx = ngx_http_media_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = media_route_match(ngx_http_media_routes,
                           sizeof(ngx_http_media_routes)
                           / sizeof(ngx_http_media_routes[0]),
                           ngx_http_media_api_method(r),
                           (char *) r->uri.data, r->uri.len, &m);

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

    def = &ngx_http_media_route_defs[m.id];
    ctx->route = (void *) def;

    if (m.ncaptures) {
        ctx->capture.data = (u_char *) m.captures[0].data;
        ctx->capture.len = m.captures[0].len;
    }

    if ((def->flags & NGX_HTTP_MEDIA_USER) && ctx->user == NULL) {
        return ngx_http_media_unauthorized(r, "missing_token",
                                           "sign in first: send "
                                           "\"Authorization: Bearer <access "
                                           "token>\" or the media_access "
                                           "cookie");
    }

    if ((def->flags & NGX_HTTP_MEDIA_ADMIN)
        && !(ctx->user->role.len == 5
             && ngx_strncmp(ctx->user->role.data, "admin", 5) == 0))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                         "this route is for admins; you are "
                                         "signed in as %V", &ctx->user->role);
    }

    /* every body's size is known, and checked, before it is read */
    if ((def->flags & (NGX_HTTP_MEDIA_FILE | NGX_HTTP_MEDIA_BODY
                       | NGX_HTTP_MEDIA_BODY_OPT))
        && r->headers_in.chunked)
    {
        return ngx_http_media_send_error(r, NGX_HTTP_LENGTH_REQUIRED,
                                         "length_required", "send the body "
                                         "with a Content-Length, not "
                                         "chunked");
    }

    if (def->flags & NGX_HTTP_MEDIA_FILE) {
        return ngx_http_media_api_file(r);
    }

    if (def->flags & (NGX_HTTP_MEDIA_BODY | NGX_HTTP_MEDIA_BODY_OPT)) {
        if (r->headers_in.content_length_n > NGX_HTTP_MEDIA_MAX_JSON) {
            return ngx_http_media_send_error(r,
                                   NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                   "body_too_large", "a JSON body may hold "
                                   "at most %d bytes", NGX_HTTP_MEDIA_MAX_JSON);
        }

        /* one buffer when it fits client_body_buffer_size */
        r->request_body_in_single_buf = 1;

        drc = ngx_http_read_client_request_body(r, ngx_http_media_api_body);
        if (drc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return drc;
        }

        return NGX_DONE;
    }

    drc = ngx_http_discard_request_body(r);
    if (drc != NGX_OK) {
        return drc;
    }

    /* the reference ngx_http_media_api_run's finalization gives back */
    r->main->count++;
    ngx_http_media_api_run(r);

    return NGX_DONE;
}


/*
 * A media upload: an audio or video type as the body, or multipart.
 * nginx writes it to a temp file in <media_storage>/tmp, never memory.
 */
static ngx_int_t
ngx_http_media_api_file(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                   *ct;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    if (ct == NULL
        || !((ct->len > 6 && ngx_strncasecmp(ct->data, (u_char *) "audio/", 6)
                             == 0)
             || (ct->len > 6
                 && ngx_strncasecmp(ct->data, (u_char *) "video/", 6) == 0)
             || (ct->len > 19
                 && ngx_strncasecmp(ct->data,
                                    (u_char *) "multipart/form-data", 19)
                    == 0)))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "unsupported_media_type",
                                         "send the file as the body with an "
                                         "audio/* or video/* Content-Type, "
                                         "or as the field \"file\" of a "
                                         "multipart/form-data body");
    }

    if (r->headers_in.content_length_n > mmcf->upload_max) {
        return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "too_large", "the upload is %O "
                                         "bytes; this server takes at most "
                                         "%O (media_upload_max_size)",
                                         r->headers_in.content_length_n,
                                         mmcf->upload_max);
    }

    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_media_api_run);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* the body has been read (ngx_http_read_client_request_body took a ref) */
static void
ngx_http_media_api_body(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_api_parse(r, ctx, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_media_api_run(r);
}


static void
ngx_http_media_api_run(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_http_media_ctx_t               *ctx;
    const ngx_http_media_route_def_t   *def;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    def = ctx->route;

    rc = def->handler(r);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * The body as a JSON object into ctx->json: NGX_OK.  Otherwise the refusal
 * is sent, its rc put in *rc (a sent response may well be NGX_OK), and
 * NGX_DECLINED returned.  Bodies are small (64 KB at most); one that nginx
 * wrote to a temporary file is read back from it.
 */
static ngx_int_t
ngx_http_media_api_parse(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx,
    ngx_int_t *rc)
{
    *rc = ngx_http_media_api_json(r, ctx);

    return ctx->json || *rc == NGX_DECLINED ? NGX_OK : NGX_DECLINED;
}


/* NGX_DECLINED: no body, and none needed; else see above */
static ngx_int_t
ngx_http_media_api_json(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx)
{
    off_t                               size;
    u_char                             *text, *p;
    char                                err[256];
    ssize_t                             n;
    ngx_buf_t                          *b;
    yajl_val                            json;
    ngx_chain_t                        *cl;
    ngx_table_elt_t                    *ct;
    ngx_pool_cleanup_t                 *cln;
    const ngx_http_media_route_def_t   *def;

    def = ctx->route;

    size = 0;
    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            size += ngx_buf_size(cl->buf);
        }
    }

    if (size == 0) {
        if (def->flags & NGX_HTTP_MEDIA_BODY_OPT) {
            return NGX_DECLINED;
        }

        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "body_required", "send a JSON "
                                         "object with Content-Type: "
                                         "application/json");
    }

    if (size > NGX_HTTP_MEDIA_MAX_JSON) {
        return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body_too_large", "a JSON body may "
                                         "hold at most %d bytes",
                                         NGX_HTTP_MEDIA_MAX_JSON);
    }

    ct = r->headers_in.content_type;

    if (ct == NULL || ct->value.len < 16
        || ngx_strncasecmp(ct->value.data, (u_char *) "application/json", 16)
           != 0
        || (ct->value.len > 16 && ct->value.data[16] != ';'
            && ct->value.data[16] != ' '))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "unsupported_media_type",
                                         "send the body as "
                                         "Content-Type: application/json");
    }

    text = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = text;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last
                                                    - b->file_pos),
                              b->file_pos);
            if (n == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';

    if (ngx_strlen(text) != (size_t) (p - text)) {
        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_json", "the body holds a "
                                         "NUL byte");
    }

    json = yajl_tree_parse((char *) text, err, sizeof(err));

    if (json == NULL || !YAJL_IS_OBJECT(json)) {
        if (json) {
            yajl_tree_free(json);
            ngx_cpystrn((u_char *) err, (u_char *) "not an object",
                        sizeof(err));
        }

        /* yajl's message spans lines; the first one is the useful part */
        p = (u_char *) ngx_strchr(err, '\n');
        if (p) {
            *p = '\0';
        }

        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_json", "the body is not a "
                                         "JSON object: %s", err);
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        yajl_tree_free(json);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_media_json_cleanup;
    cln->data = json;
    ctx->json = json;

    return NGX_OK;
}


static void
ngx_http_media_json_cleanup(void *data)
{
    yajl_tree_free(data);
}


ngx_str_t *
ngx_http_media_body_str(ngx_http_request_t *r, const char *name)
{
    yajl_val               v;
    ngx_str_t             *s;
    const char            *path[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    if (ctx == NULL || ctx->json == NULL) {
        return NULL;
    }

    path[0] = name;
    path[1] = NULL;

    v = yajl_tree_get(ctx->json, path, yajl_t_string);
    if (v == NULL) {
        return NULL;
    }

    s = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (s == NULL) {
        return NULL;
    }

    s->data = (u_char *) v->u.string;
    s->len = ngx_strlen(v->u.string);

    return s;
}


ngx_int_t
ngx_http_media_internal(ngx_http_request_t *r, const char *site,
    ngx_str_t *reason)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "%s: %V, request_id: %V",
                  site, reason, ngx_http_media_request_id(r));

    return ngx_http_media_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "the server failed; quote "
                                     "the request id when reporting it");
}


/* 204, no body */
ngx_int_t
ngx_http_media_no_content(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


/* "2026-11-22T10:00:00Z" into buf; returns its end */
u_char *
ngx_http_media_iso8601(u_char *buf, time_t t)
{
    ngx_tm_t  tm;

    ngx_gmtime(t, &tm);

    return ngx_sprintf(buf, "%4d-%02d-%02dT%02d:%02d:%02dZ", tm.ngx_tm_year,
                       tm.ngx_tm_mon, tm.ngx_tm_mday, tm.ngx_tm_hour,
                       tm.ngx_tm_min, tm.ngx_tm_sec);
}


/* a query that did not succeed: 503 if the database is away, 500 else */
ngx_int_t
ngx_http_media_pg_failed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, const char *site)
{
    if (res->status == NGX_HTTP_MEDIA_PG_UNAVAILABLE
        || res->status == NGX_HTTP_MEDIA_PG_TIMEOUT)
    {
        return ngx_http_media_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "unavailable", "the database is "
                                         "unavailable; try again");
    }

    return ngx_http_media_internal(r, site, &res->error);
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
    const char *code, const char *field, ngx_str_t *message)
{
    ngx_str_t  c;

    c.data = (u_char *) code;
    c.len = ngx_strlen(code);

    yajl_gen_string(g, (const unsigned char *) "error", 5);
    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "code", &c);

    if (field) {
        c.data = (u_char *) field;
        c.len = ngx_strlen(field);
        ngx_http_media_json_str(g, "field", &c);
    }

    ngx_http_media_json_str(g, "message", message);
    ngx_http_media_json_str(g, "request_id", ngx_http_media_request_id(r));
    yajl_gen_map_close(g);
}


static ngx_int_t ngx_http_media_verror(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *field, const char *fmt,
    va_list args);


ngx_int_t
ngx_http_media_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    rc = ngx_http_media_verror(r, status, code, NULL, fmt, args);
    va_end(args);

    return rc;
}


ngx_int_t
ngx_http_media_field_error(ngx_http_request_t *r, const char *field,
    const char *fmt, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    rc = ngx_http_media_verror(r, NGX_HTTP_MEDIA_UNPROCESSABLE,
                               "invalid_field", field, fmt, args);
    va_end(args);

    return rc;
}


static ngx_int_t
ngx_http_media_verror(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *fmt, va_list args)
{
    u_char      msg[NGX_MAX_ERROR_STR], *p;
    yajl_gen    g;
    ngx_str_t   message;
    ngx_uint_t  level;

    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);

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
    ngx_http_media_json_error_object(g, r, code, field, &message);
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, status, g);
}


ngx_int_t
ngx_http_media_send_gen(ngx_http_request_t *r, ngx_uint_t status, yajl_gen g)
{
    size_t         len;
    ngx_int_t      rc;
    ngx_str_t      json;
    const u_char  *buf;

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

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


ngx_int_t
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
