/*
 * The reply kit under every route: the request ctx, JSON answers, the
 * error object and the headers every answer carries.
 *
 * Errors are {"error":{"code","message","request_id"}}; the request id is
 * nginx's $request_id, also sent as X-Request-Id and written in every log
 * line about the request, so a user's report leads to the log.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"


static u_char *ngx_http_media_bytes(u_char *p, u_char *last, off_t n);
static ngx_int_t ngx_http_media_pg_blocked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res);
static ngx_int_t ngx_http_media_verror(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *field, const char *fmt,
    va_list args);


ngx_http_media_ctx_t *
ngx_http_media_get_ctx(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    if (ctx) {
        return ctx;
    }

    /* the request id is taken when first logged or answered, not here:
     * $request_id costs a RAND_bytes, and a segment needs none */
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_media_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_media_module);

    return ctx;
}


ngx_str_t *
ngx_http_media_request_id(ngx_http_request_t *r)
{
    static ngx_str_t             none = ngx_string("-");
    ngx_http_media_ctx_t        *ctx;
    ngx_http_variable_value_t   *vv;
    ngx_http_media_main_conf_t  *mmcf;

    ctx = ngx_http_media_get_ctx(r);
    if (ctx == NULL) {
        return &none;
    }

    if (ctx->request_id.len) {
        return &ctx->request_id;
    }

    ngx_str_set(&ctx->request_id, "-");

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    vv = ngx_http_get_indexed_variable(r, mmcf->request_id_index);
    if (vv && !vv->not_found) {
        ctx->request_id.data = vv->data;
        ctx->request_id.len = vv->len;
    }

    return &ctx->request_id;
}


ngx_int_t
ngx_http_media_add_access(ngx_conf_t *cf, ngx_str_t *status_name,
    ngx_http_get_variable_pt get, ngx_http_handler_pt handler)
{
    ngx_int_t                   index;
    ngx_http_handler_pt        *h;
    ngx_http_variable_t        *var;
    ngx_http_core_main_conf_t  *cmcf;

    /* cacheable: its value is taken before the internal redirect, which
     * clears module contexts, and survives it for the access log */
    var = ngx_http_add_variable(cf, status_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = get;

    index = ngx_http_get_variable_index(cf, status_name);
    if (index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = handler;

    return index;
}


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
ngx_http_media_bad_field(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *fmt, ...)
{
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    rc = ngx_http_media_verror(r, status, code, field, fmt, args);
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


ngx_int_t
ngx_http_media_too_many(ngx_http_request_t *r, ngx_msec_int_t ms,
    const char *code, const char *fmt, ...)
{
    u_char      msg[NGX_MAX_ERROR_STR], *p, *last;
    va_list     args;
    ngx_int_t   secs;
    ngx_str_t   retry;

    secs = (ms + 999) / 1000;
    if (secs < 1) {
        secs = 1;
    }

    retry.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (retry.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    retry.len = ngx_sprintf(retry.data, "%i", secs) - retry.data;

    if (ngx_http_media_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = msg + sizeof(msg);

    va_start(args, fmt);
    p = ngx_vslprintf(msg, last, fmt, args);
    va_end(args);

    p = ngx_slprintf(p, last, "; try again in %i second%s", secs,
                     secs == 1 ? "" : "s");

    return ngx_http_media_send_error(r, NGX_HTTP_TOO_MANY_REQUESTS, code,
                                     "%*s", (size_t) (p - msg), msg);
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

    /* nginx knows no reason phrase past 429 */
    if (status == NGX_HTTP_MEDIA_LEGAL
        && r->headers_out.status_line.len == 0)
    {
        ngx_str_set(&r->headers_out.status_line,
                    "451 Unavailable For Legal Reasons");
    }

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
ngx_http_media_quota_exceeded(ngx_http_request_t *r, ngx_str_t *quantity,
    ngx_str_t *used, ngx_str_t *allowed, ngx_str_t *plan,
    ngx_str_t *lifted_by, off_t asked)
{
    u_char      msg[NGX_MAX_ERROR_STR], *p, *last;
    off_t       u, a;
    yajl_gen    g;
    ngx_str_t   message, code = ngx_string("quota_exceeded");

    u = ngx_atoof(used->data, used->len);
    a = ngx_atoof(allowed->data, allowed->len);
    last = msg + sizeof(msg);

    if (quantity->len == 7 && ngx_strncmp(quantity->data, "storage", 7) == 0) {
        p = ngx_slprintf(msg, last, "this upload would pass the storage "
                         "limit of the %V plan: ", plan);
        p = ngx_http_media_bytes(p, last, u);
        p = ngx_slprintf(p, last, " used of ");
        p = ngx_http_media_bytes(p, last, a);
        p = ngx_slprintf(p, last, ", and the upload is ");
        p = ngx_http_media_bytes(p, last, asked);
        p = ngx_slprintf(p, last, "; delete media you no longer need");

    } else if (quantity->len == 5
               && ngx_strncmp(quantity->data, "media", 5) == 0)
    {
        p = ngx_slprintf(msg, last, "you have %O media, the most the %V "
                         "plan allows; delete one", u, plan);

    } else {
        p = ngx_slprintf(msg, last, "you have used %O of the %O %V a month "
                         "the %V plan allows; wait for next month", u, a,
                         quantity, plan);
    }

    if (lifted_by->data) {
        p = ngx_slprintf(p, last, ", or upgrade to the %V plan", lifted_by);
    }

    message.data = msg;
    message.len = p - msg;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "media api: 402 quota_exceeded: %V, request_id: %V",
                  &message, ngx_http_media_request_id(r));

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "error", 5);
    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "code", &code);
    ngx_http_media_json_str(g, "message", &message);
    ngx_http_media_json_str(g, "limit", quantity);
    yajl_gen_string(g, (const unsigned char *) "used", 4);
    yajl_gen_number(g, (const char *) used->data, used->len);
    yajl_gen_string(g, (const unsigned char *) "allowed", 7);
    yajl_gen_number(g, (const char *) allowed->data, allowed->len);
    ngx_http_media_json_str(g, "plan", plan);
    ngx_http_media_json_str(g, "lifted_by", lifted_by->data ? lifted_by
                                                           : NULL);
    ngx_http_media_json_str(g, "request_id", ngx_http_media_request_id(r));
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, NGX_HTTP_MEDIA_PAYMENT_REQUIRED, g);
}


/* "4.7 GB", "512 KB", "10 bytes": for messages people read */
static u_char *
ngx_http_media_bytes(u_char *p, u_char *last, off_t n)
{
    static const char  *units[] = { "KB", "MB", "GB", "TB" };

    ngx_uint_t  i;
    double      v;

    if (n < 1024) {
        return ngx_slprintf(p, last, "%O bytes", n);
    }

    v = (double) n / 1024;

    for (i = 0; v >= 1024 && i < 3; i++) {
        v /= 1024;
    }

    return ngx_slprintf(p, last, "%.1f %s", v, units[i]);
}


ngx_int_t
ngx_http_media_send_buf(ngx_http_request_t *r, const char *type,
    ngx_buf_t *b)
{
    u_char       *semi;
    ngx_int_t     rc;
    ngx_chain_t   out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);

    /* the type without its parameters, as nginx keeps it */
    semi = ngx_strlchr(r->headers_out.content_type.data,
                       r->headers_out.content_type.data
                       + r->headers_out.content_type.len, ';');
    r->headers_out.content_type_len = semi
                       ? (size_t) (semi - r->headers_out.content_type.data)
                       : r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* sends a complete JSON response; json is copied, the caller keeps it */
ngx_int_t
ngx_http_media_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json)
{
    ngx_buf_t    *b;
    ngx_int_t     rc;
    ngx_chain_t   out;

    /*
     * A refusal before the body was read (413, 415, 507 of an upload): nginx
     * reads the body away, so the client can finish sending it and read
     * the answer, and the connection stays usable; no "100 Continue".
     */
    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

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


#if (NGX_THREADS)

ngx_int_t
ngx_http_media_thread_post(ngx_http_request_t *r, ngx_thread_task_t *task,
    void (*handler)(void *data, ngx_log_t *log), ngx_event_handler_pt done,
    void *data)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    task->handler = handler;
    task->event.handler = done;
    task->event.data = data;

    if (ngx_thread_task_post(mmcf->thread_pool, task) != NGX_OK) {
        return NGX_ERROR;
    }

    r->main->blocked++;

    return NGX_OK;
}

#endif


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


/* 204, no body */
ngx_int_t
ngx_http_media_no_content(ngx_http_request_t *r)
{
    return ngx_http_media_send_empty(r, NGX_HTTP_NO_CONTENT);
}


ngx_int_t
ngx_http_media_send_empty(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_int_t  rc;

    r->expect_tested = 1;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return rc;
    }

    return ngx_http_send_special(r, NGX_HTTP_LAST);
}


ngx_uint_t
ngx_http_media_cookie_secure(ngx_http_request_t *r)
{
    ngx_table_elt_t             *h;
    struct sockaddr_in          *sin;
    ngx_http_media_main_conf_t  *mmcf;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6         *sin6;
#endif

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->cookie_secure != NGX_HTTP_MEDIA_SECURE_AUTO) {
        return mmcf->cookie_secure == NGX_HTTP_MEDIA_SECURE_ON;
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return 1;
    }
#endif

    /* a proxy's word counts only from this machine */
    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) {
            return 0;
        }
        break;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
        if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)) {
            return 0;
        }
        break;
#endif

#if (NGX_HAVE_UNIX_DOMAIN)
    case AF_UNIX:
        break;
#endif

    default:
        return 0;
    }

    h = ngx_http_media_header_in(r, "X-Forwarded-Proto",
                                 sizeof("X-Forwarded-Proto") - 1);

    return h && h->value.len == 5
           && ngx_strncasecmp(h->value.data, (u_char *) "https", 5) == 0;
}


void
ngx_http_media_client_address(ngx_http_request_t *r, ngx_str_t *addr)
{
    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
#if (NGX_HAVE_INET6)
    case AF_INET6:
#endif
        *addr = r->connection->addr_text;
        break;

    default:
        ngx_str_null(addr);
    }
}


ngx_table_elt_t *
ngx_http_media_header_in(ngx_http_request_t *r, const char *name,
    size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
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


yajl_val
ngx_http_media_body_value(ngx_http_request_t *r, const char *name)
{
    const char            *path[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    if (ctx == NULL || ctx->json == NULL) {
        return NULL;
    }

    path[0] = name;
    path[1] = NULL;

    return yajl_tree_get(ctx->json, path, yajl_t_any);
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

    /* a taken-down media's row refused the change (sql/024) */
    if (ngx_strcmp(res->sqlstate, NGX_HTTP_MEDIA_BLOCKED_SQLSTATE) == 0) {
        return ngx_http_media_pg_blocked(r, res);
    }

    return ngx_http_media_internal(r, site, &res->error);
}


/* 451 media_blocked, the reason from the error's first line */
static ngx_int_t
ngx_http_media_pg_blocked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res)
{
    u_char     *p, *end, *nl;
    ngx_str_t   reason;

    /* "ERROR:  <reason>\nCONTEXT: ...": the first line, past its label */
    p = res->error.data;
    end = p + res->error.len;

    if (p && res->error.len > sizeof("ERROR:  ") - 1
        && ngx_strncmp(p, "ERROR:  ", sizeof("ERROR:  ") - 1) == 0)
    {
        p += sizeof("ERROR:  ") - 1;
    }

    reason.data = p;
    reason.len = 0;

    if (p) {
        nl = ngx_strlchr(p, end, '\n');
        reason.len = (nl ? nl : end) - p;
    }

    return ngx_http_media_send_error(r, NGX_HTTP_MEDIA_LEGAL,
                                     "media_blocked",
                                     "this media was removed: %V", &reason);
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


ngx_int_t
ngx_http_media_is_uuid(ngx_str_t *s)
{
    ngx_uint_t  i;

    if (s->len != 36) {
        return NGX_DECLINED;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s->data[i] != '-') {
                return NGX_DECLINED;
            }

        } else if (!isxdigit(s->data[i])) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * A list's page arguments: ?limit=N (1 to max, dflt without) and
 * ?cursor=... (as sent, for the caller to check; data NULL without).
 * *limit is N + 1 as text, for the statement: one row more than asked
 * for says there is a next page.  NGX_OK; NGX_ERROR when refused, with
 * *rc what the route returns.
 */
ngx_int_t
ngx_http_media_page_args(ngx_http_request_t *r, ngx_uint_t dflt,
    ngx_uint_t max, ngx_uint_t *n, ngx_str_t *cursor, ngx_str_t *limit,
    ngx_int_t *rc)
{
    ngx_int_t  v;
    ngx_str_t  arg;

    *n = dflt;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &arg) == NGX_OK) {
        v = ngx_atoi(arg.data, arg.len);
        if (v < 1 || (ngx_uint_t) v > max) {
            *rc = ngx_http_media_field_error(r, "limit", "limit must be a "
                                             "number from 1 to %ui", max);
            return NGX_ERROR;
        }
        *n = v;
    }

    if (ngx_http_arg(r, (u_char *) "cursor", 6, cursor) != NGX_OK) {
        ngx_str_null(cursor);
    }

    limit->data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (limit->data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    limit->len = ngx_sprintf(limit->data, "%ui", *n + 1) - limit->data;

    return NGX_OK;
}


/*
 * 200 {"items": [...], "next_cursor": ...} from rows of (cursor, item):
 * each item JSON built by PostgreSQL; up to n of them, and the cursor of
 * the last one shown when a row more came back.
 */
ngx_int_t
ngx_http_media_send_page(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_uint_t n, const char *site)
{
    yajl_gen     g;
    ngx_str_t   *item;
    ngx_uint_t   i, rows;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->ncols < 2) {
        return ngx_http_media_pg_failed(r, res, site);
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rows = ngx_min(res->nrows, n);

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "items", 5);
    yajl_gen_array_open(g);

    for (i = 0; i < rows; i++) {
        item = ngx_http_media_pg_value(res, i, 1);

        /* trusted: built by PostgreSQL's json functions */
        yajl_gen_number(g, (const char *) item->data, item->len);
    }

    yajl_gen_array_close(g);

    ngx_http_media_json_str(g, "next_cursor", res->nrows > n
                            ? ngx_http_media_pg_value(res, n - 1, 0) : NULL);

    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, NGX_HTTP_OK, g);
}


ngx_int_t
ngx_http_media_send_verdict(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, const ngx_http_media_verdict_t *v,
    const char *site)
{
    size_t      len;
    ngx_str_t  *verdict, *json, none = ngx_string("");

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1
        || res->ncols < 2)
    {
        return ngx_http_media_pg_failed(r, res, site);
    }

    verdict = ngx_http_media_pg_value(res, 0, 0);

    for ( /* void */ ; v->verdict; v++) {
        len = ngx_strlen(v->verdict);

        if (verdict->data && verdict->len == len
            && ngx_strncmp(verdict->data, v->verdict, len) == 0)
        {
            break;
        }
    }

    if (v->status == NGX_HTTP_NO_CONTENT) {
        return ngx_http_media_no_content(r);
    }

    if (v->status == NGX_HTTP_OK || v->status == NGX_HTTP_CREATED) {
        json = ngx_http_media_pg_value(res, 0, 1);

        if (json->data == NULL) {
            return ngx_http_media_internal(r, site, &none);
        }

        return ngx_http_media_send_json(r, v->status, json);
    }

    return ngx_http_media_bad_field(r, v->status, v->code, v->field,
                                    v->message,
                                    res->ncols > 2
                                    && ngx_http_media_pg_value(res, 0, 2)->data
                                    ? ngx_http_media_pg_value(res, 0, 2)
                                    : &none);
}

