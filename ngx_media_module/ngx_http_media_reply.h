/*
 * The reply kit: the request ctx, JSON answers and the error object, for
 * every route and every access check.
 */

#ifndef _NGX_HTTP_MEDIA_REPLY_H_INCLUDED_
#define _NGX_HTTP_MEDIA_REPLY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_types.h"
#include "ngx_http_media_pg.h"


/* nginx 1.22 has no name for it */
#define NGX_HTTP_MEDIA_UNPROCESSABLE  422
#define NGX_HTTP_MEDIA_PAYMENT_REQUIRED  402
/* RFC 7725, a taken-down media (ngx_http_media_blocked.c) */
#define NGX_HTTP_MEDIA_LEGAL  451

/* what sql/024 raises when a taken-down media's row refuses a change;
 * ngx_http_media_pg_failed() answers it as 451 media_blocked */
#define NGX_HTTP_MEDIA_BLOCKED_SQLSTATE  "MB451"



ngx_http_media_ctx_t *ngx_http_media_get_ctx(ngx_http_request_t *r);

/*
 * At postconfiguration, for a location that checks its requests in the
 * access phase (playback, download links): adds the cacheable variable
 * that logs the check's outcome, with its getter, and the access handler.
 * Returns the variable's index, or NGX_ERROR.
 */
ngx_int_t ngx_http_media_add_access(ngx_conf_t *cf, ngx_str_t *status_name,
    ngx_http_get_variable_pt get, ngx_http_handler_pt handler);

/* sends {"error":{"code":code,"message":fmt...,"request_id":...}} */
ngx_int_t ngx_http_media_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...);

/*
 * 429 {"error":{"code":code,"message":fmt... "; try again in N seconds"}}
 * with Retry-After: N, N the limiter's wait in ms rounded up to seconds
 * (at least 1): the one answer of every rate-limited route
 */
ngx_int_t ngx_http_media_too_many(ngx_http_request_t *r, ngx_msec_int_t ms,
    const char *code, const char *fmt, ...);

/* {"error":{"code":code,"field":field,"message":...}} with status */
ngx_int_t ngx_http_media_bad_field(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *field, const char *fmt, ...);

/* 422 {"error":{"code":"invalid_field","field":field,"message":...}} */
ngx_int_t ngx_http_media_field_error(ngx_http_request_t *r, const char *field,
    const char *fmt, ...);

ngx_int_t ngx_http_media_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json);
ngx_int_t ngx_http_media_no_content(ngx_http_request_t *r);

/* an answer of headers only (201, 204, HEAD's 200): an unread body is
 * read away first, as a refusal's is */
ngx_int_t ngx_http_media_send_empty(ngx_http_request_t *r,
    ngx_uint_t status);

/*
 * 200 with the text in b as its whole body, of type ("text/csv;
 * charset=utf-8"); the answer's own headers are added before
 */
ngx_int_t ngx_http_media_send_buf(ngx_http_request_t *r, const char *type,
    ngx_buf_t *b);

#if (NGX_THREADS)
/*
 * Runs handler(task->ctx) on media_thread_pool, then done (its event's
 * data: data) back in the event loop.  The request is held meanwhile
 * (r->main->blocked, which done gives back).  NGX_ERROR: nothing posted.
 */
ngx_int_t ngx_http_media_thread_post(ngx_http_request_t *r,
    ngx_thread_task_t *task, void (*handler)(void *data, ngx_log_t *log),
    ngx_event_handler_pt done, void *data);
#endif

/* sends what g holds and frees g */
ngx_int_t ngx_http_media_send_gen(ngx_http_request_t *r, ngx_uint_t status,
    yajl_gen g);

ngx_int_t ngx_http_media_add_header(ngx_http_request_t *r, const char *key,
    ngx_str_t *value);

/*
 * Whether the cookies set on this answer carry Secure: media_cookie_secure
 * on, or auto and the request came over TLS (or from a TLS terminator on
 * this machine: X-Forwarded-Proto: https from a loopback address)
 */
ngx_uint_t ngx_http_media_cookie_secure(ngx_http_request_t *r);

/* the client's address as an inet's text, or null for a unix socket's */
void ngx_http_media_client_address(ngx_http_request_t *r, ngx_str_t *addr);

/* the request's header by name (any case), or NULL: the first of them */
ngx_table_elt_t *ngx_http_media_header_in(ngx_http_request_t *r,
    const char *name, size_t len);

void ngx_http_media_json_str(yajl_gen g, const char *key, ngx_str_t *value);
void ngx_http_media_json_error_object(yajl_gen g, ngx_http_request_t *r,
    const char *code, const char *field, ngx_str_t *message);

/* a string member of the JSON body; NULL when absent or not a string */
ngx_str_t *ngx_http_media_body_str(ngx_http_request_t *r, const char *name);

/* the body's member of any type (check it with YAJL_IS_*), or NULL */
yajl_val ngx_http_media_body_value(ngx_http_request_t *r, const char *name);

/* 503 when PostgreSQL is away, else 500 with the reason in the log */
ngx_int_t ngx_http_media_pg_failed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, const char *site);

/* 500 for the user, the reason in the log */
ngx_int_t ngx_http_media_internal(ngx_http_request_t *r, const char *site,
    ngx_str_t *reason);

/* the request's id ($request_id), "-" when there is none */
/*
 * 402 quota_exceeded: which limit ("storage", "media", "exports",
 * "downloads"), what is used, what the plan allows, the plan, the plan
 * that lifts it (NULL data: none) and how much the refused work needed
 * (bytes of an upload; 1 for a count).  Strings as PostgreSQL gave them
 * (media_storage_reserve, media_quota_state).
 */
ngx_int_t ngx_http_media_quota_exceeded(ngx_http_request_t *r,
    ngx_str_t *quantity, ngx_str_t *used, ngx_str_t *allowed,
    ngx_str_t *plan, ngx_str_t *lifted_by, off_t asked);

ngx_str_t *ngx_http_media_request_id(ngx_http_request_t *r);

/* a 36-character UUID: NGX_OK */
ngx_int_t ngx_http_media_is_uuid(ngx_str_t *s);

u_char *ngx_http_media_iso8601(u_char *buf, time_t t);

/* ?limit= and ?cursor= of a list; limit: N + 1 as text for the statement;
 * NGX_ERROR: refused, *rc is the answer's */
ngx_int_t ngx_http_media_page_args(ngx_http_request_t *r, ngx_uint_t dflt,
    ngx_uint_t max, ngx_uint_t *n, ngx_str_t *cursor, ngx_str_t *limit,
    ngx_int_t *rc);

/* 200 {"items", "next_cursor"} from rows of (cursor, item JSON) */
ngx_int_t ngx_http_media_send_page(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_uint_t n, const char *site);


/*
 * One answer of a statement whose row is (verdict, JSON, detail): the
 * entry whose verdict matches (the last one, verdict NULL, for any other):
 * status 200 or 201 sends the JSON column, 204 nothing, any other status
 * the error code, field and message; a "%V" in the message is the detail.
 */
typedef struct {
    const char                 *verdict;
    ngx_uint_t                  status;
    const char                 *code;
    const char                 *field;
    const char                 *message;
} ngx_http_media_verdict_t;

ngx_int_t ngx_http_media_send_verdict(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, const ngx_http_media_verdict_t *v,
    const char *site);



#endif /* _NGX_HTTP_MEDIA_REPLY_H_INCLUDED_ */
