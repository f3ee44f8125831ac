/*
 * The errors nginx raises itself under the API, answered as JSON: 413
 * from client_max_body_size, 429 or 503 from limit_req, 502 and 504 from
 * a proxied location inside the API, 500 from a body nginx could not
 * write (507 when its disk is full), 400 for a bad or too large header,
 * 405 for TRACE.
 *
 * nginx sends its HTML page for those unless error_page names another.
 * media_api gives its location, and every location inside it, an entry
 * for each status from 400 to 599 that the admin did not set there:
 *
 *     error_page <status> $media_error_uri;
 *
 * $media_error_uri is the request's own path with "?media_error": the
 * internal redirect finds the same location again, and the rewrite-phase
 * handler below, before any access check, answers it with the JSON error
 * for r->err_status, which nginx keeps across the redirect when the entry
 * has no "=code" (ngx_http_send_error_page).  The argument marks our
 * redirects, so an admin's own error_page into the API is left alone.
 *
 * Errors raised before a location is chosen (a bad or too large header,
 * TRACE, an unknown Transfer-Encoding) look in the server's error_pages:
 * for those statuses media_api adds the same entry to its server.  The
 * redirect then finds the request's location; outside the API the handler
 * gives the status back to nginx, which sends its own page, as before.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/statvfs.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_api.h"
#include "ngx_http_media_errors.h"


#define NGX_HTTP_MEDIA_ERROR_ARG  "media_error"

/* a body nginx failed to write, with less than this left on its disk */
#define NGX_HTTP_MEDIA_DISK_FULL  (1024 * 1024)


typedef struct {
    ngx_uint_t    status;
    const char   *code;
    const char   *message;
} ngx_http_media_error_t;


static ngx_array_t *ngx_http_media_error_pages(ngx_conf_t *cf,
    ngx_array_t *own, ngx_uint_t server);
static ngx_int_t ngx_http_media_error_uri(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_media_error_phase(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_error_send(ngx_http_request_t *r,
    ngx_uint_t status);
static ngx_int_t ngx_http_media_error_405(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_error_413(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_error_494(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_error_500(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_error_retry(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *message);


static ngx_str_t  ngx_http_media_error_uri_name =
    ngx_string("media_error_uri");

static ngx_str_t  ngx_http_media_error_uri_value =
    ngx_string("$media_error_uri");


/* what nginx refuses before it chooses a location (ngx_http_request.c) */
static ngx_uint_t  ngx_http_media_server_errors[] = {
    NGX_HTTP_BAD_REQUEST,
    NGX_HTTP_NOT_ALLOWED,                  /* TRACE, CONNECT */
    NGX_HTTP_MISDIRECTED_REQUEST,
    NGX_HTTP_REQUEST_HEADER_TOO_LARGE,
    NGX_HTTPS_CERT_ERROR,
    NGX_HTTPS_NO_CERT,
    NGX_HTTP_TO_HTTPS,
    NGX_HTTP_NOT_IMPLEMENTED,              /* Transfer-Encoding */
    0
};


/* the statuses whose message needs no argument */
static ngx_http_media_error_t  ngx_http_media_errors[] = {
    { NGX_HTTP_BAD_REQUEST, "bad_request",
      "the request is malformed: nginx could not read its request line or "
      "a header; fix the request" },
    { NGX_HTTP_UNAUTHORIZED, "unauthorized",
      "this path needs credentials; sign in first" },
    { NGX_HTTP_REQUEST_TIME_OUT, "request_timeout",
      "the request did not arrive in time; send it again" },
    { 410, "gone", "this path is gone for good" },
    { NGX_HTTP_LENGTH_REQUIRED, "length_required",
      "send the body with a Content-Length" },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, "uri_too_long",
      "the request's path is longer than this server takes" },
    { NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
      "this path does not take a body of that Content-Type" },
    { NGX_HTTP_RANGE_NOT_SATISFIABLE, "range_not_satisfiable",
      "the requested range lies outside the resource" },
    { NGX_HTTP_MISDIRECTED_REQUEST, "misdirected_request",
      "this connection does not serve that host name; open a new "
      "connection for it" },
    { NGX_HTTPS_CERT_ERROR, "bad_certificate",
      "the client certificate was refused" },
    { NGX_HTTPS_NO_CERT, "no_certificate",
      "this server requires a client certificate; send one" },
    { NGX_HTTP_TO_HTTPS, "plain_http",
      "this port speaks HTTPS: send the request over TLS" },
    { NGX_HTTP_NOT_IMPLEMENTED, "not_implemented",
      "nginx does not implement what the request asks (such as its "
      "Transfer-Encoding); send the body with a Content-Length" },
    { NGX_HTTP_BAD_GATEWAY, "bad_gateway",
      "the server behind this path did not answer properly; try again "
      "later" },
    { NGX_HTTP_GATEWAY_TIME_OUT, "gateway_timeout",
      "the server behind this path did not answer in time; try again "
      "later" },
    { NGX_HTTP_VERSION_NOT_SUPPORTED, "version_not_supported",
      "send the request with HTTP/1.0, 1.1 or 2" },
    { 0, NULL, NULL }
};


/* ---------------------------------------------------------------------- */
/* configuration                                                          */


char *
ngx_http_media_errors_merge(ngx_conf_t *cf, ngx_http_media_loc_conf_t *prev,
    ngx_http_media_loc_conf_t *conf)
{
    ngx_uint_t                  inherited;
    ngx_http_core_srv_conf_t   *cscf;
    ngx_http_core_loc_conf_t   *clcf, *sclcf;
    ngx_http_media_loc_conf_t  *smlcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /*
     * nginx's own merge, done by now, gave a location without error_page
     * its parent's list: the very same array
     */
    inherited = (clcf->error_pages == prev->error_pages);
    conf->error_pages = clcf->error_pages;

    if (conf->api) {
        conf->json_errors = 1;
    }

    ngx_conf_merge_value(conf->json_errors, prev->json_errors, 0);

    if (!conf->json_errors) {
        conf->json_pages = clcf->error_pages;
        return NGX_CONF_OK;
    }

    if (inherited && prev->json_errors) {
        /* inside an API location: its list, ours already in it */
        clcf->error_pages = prev->json_pages;

    } else {
        /*
         * error_page set in this location wins over ours; a list it
         * inherits from the server (error_page 500 /50x.html) does not:
         * the API answers JSON
         */
        clcf->error_pages = ngx_http_media_error_pages(cf,
                                          inherited ? NULL : clcf->error_pages,
                                          0);
        if (clcf->error_pages == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    conf->json_pages = clcf->error_pages;

    if (!conf->api) {
        return NGX_CONF_OK;
    }

    /*
     * The server's own list, once per server: a new array, since its
     * locations may share the old one (they have been merged already).
     */
    cscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_core_module);
    sclcf = cscf->ctx->loc_conf[ngx_http_core_module.ctx_index];
    smlcf = cscf->ctx->loc_conf[ngx_http_media_module.ctx_index];

    if (smlcf->server_pages) {
        return NGX_CONF_OK;
    }

    sclcf->error_pages = ngx_http_media_error_pages(cf, sclcf->error_pages, 1);
    if (sclcf->error_pages == NULL) {
        return NGX_CONF_ERROR;
    }

    smlcf->server_pages = 1;

    return NGX_CONF_OK;
}


/*
 * A copy of own, plus "error_page <status> $media_error_uri" for each
 * status own does not have: every one from 400 to 599 for a location,
 * those raised before a location is chosen for a server.
 */
static ngx_array_t *
ngx_http_media_error_pages(ngx_conf_t *cf, ngx_array_t *own,
    ngx_uint_t server)
{
    void                              *p;
    ngx_uint_t                         i, j, n, status;
    ngx_array_t                       *pages;
    ngx_http_err_page_t               *err, *set;
    ngx_http_complex_value_t           cv;
    ngx_http_compile_complex_value_t   ccv;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &ngx_http_media_error_uri_value;
    ccv.complex_value = &cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    n = own ? own->nelts : 0;

    pages = ngx_array_create(cf->pool, n + 200, sizeof(ngx_http_err_page_t));
    if (pages == NULL) {
        return NULL;
    }

    if (n) {
        p = ngx_array_push_n(pages, n);
        if (p == NULL) {
            return NULL;
        }

        ngx_memcpy(p, own->elts, n * sizeof(ngx_http_err_page_t));
    }

    set = pages->elts;

    for (i = 0; /* void */; i++) {
        status = server ? ngx_http_media_server_errors[i]
                        : NGX_HTTP_BAD_REQUEST + i;

        if (status == 0 || status > 599) {
            break;
        }

        /* nginx answers neither: it closes the connection */
        if (status == NGX_HTTP_CLOSE || status == 499) {
            continue;
        }

        for (j = 0; j < n; j++) {
            if (set[j].status == (ngx_int_t) status) {
                break;
            }
        }

        if (j < n) {
            continue;
        }

        err = ngx_array_push(pages);
        if (err == NULL) {
            return NULL;
        }

        err->status = status;
        err->overwrite = -1;       /* r->err_status stays the status */
        err->value = cv;
        ngx_str_null(&err->args);
    }

    return pages;
}


ngx_int_t
ngx_http_media_errors_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_variable_t        *var;
    ngx_http_core_main_conf_t  *cmcf;

    var = ngx_http_add_variable(cf, &ngx_http_media_error_uri_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_media_error_uri;

    /* pushed last, run first: before rewrite's own directives */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_media_error_phase;

    return NGX_OK;
}


/* ---------------------------------------------------------------------- */
/* requests                                                               */


/*
 * The request's path, each "?" in it as "%3F" so that the marker is the
 * only argument ngx_http_send_error_page splits off.  A request line nginx
 * could not read has no path: "/" then.
 */
static ngx_int_t
ngx_http_media_error_uri(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char      *p;
    size_t       len;
    ngx_str_t    uri;
    ngx_uint_t   i;

    uri = r->uri;

    if (uri.len == 0 || uri.data[0] != '/') {
        ngx_str_set(&uri, "/");
    }

    len = uri.len + sizeof("?" NGX_HTTP_MEDIA_ERROR_ARG) - 1;

    for (i = 0; i < uri.len; i++) {
        if (uri.data[i] == '?') {
            len += 2;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    for (i = 0; i < uri.len; i++) {
        if (uri.data[i] == '?') {
            p = ngx_cpymem(p, "%3F", 3);

        } else {
            *p++ = uri.data[i];
        }
    }

    p = ngx_cpymem(p, "?" NGX_HTTP_MEDIA_ERROR_ARG,
                   sizeof("?" NGX_HTTP_MEDIA_ERROR_ARG) - 1);

    v->len = p - v->data;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* the first rewrite-phase handler: our error redirects end here */
static ngx_int_t
ngx_http_media_error_phase(ngx_http_request_t *r)
{
    ngx_uint_t                  status;
    ngx_http_media_loc_conf_t  *mlcf;

    if (!r->internal
        || r->err_status < NGX_HTTP_BAD_REQUEST
        || r->args.len != sizeof(NGX_HTTP_MEDIA_ERROR_ARG) - 1
        || ngx_strncmp(r->args.data, NGX_HTTP_MEDIA_ERROR_ARG,
                       sizeof(NGX_HTTP_MEDIA_ERROR_ARG) - 1) != 0)
    {
        return NGX_DECLINED;
    }

    status = r->err_status;
    ngx_str_null(&r->args);

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    if (!mlcf->json_errors) {
        /*
         * a server-level error outside the API: nginx's own page, with
         * no second look at error_page
         */
        r->error_page = 1;
        return status;
    }

    /* the status sent is the one chosen below (ngx_http_send_header) */
    r->err_status = 0;

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_http_media_error_send(r, status);
}


static ngx_int_t
ngx_http_media_error_send(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_http_media_error_t  *e;

    switch (status) {

    case NGX_HTTP_FORBIDDEN:
        return ngx_http_media_send_error(r, status, "forbidden",
                                         "this server's configuration "
                                         "denies access to %V", &r->uri);

    case NGX_HTTP_NOT_FOUND:
        return ngx_http_media_send_error(r, status, "not_found",
                                         "no such path: %V", &r->uri);

    case NGX_HTTP_NOT_ALLOWED:
        return ngx_http_media_error_405(r);

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return ngx_http_media_error_413(r);

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return ngx_http_media_error_retry(r, status, "rate_limited",
                                          "too many requests from this "
                                          "client; wait the seconds in "
                                          "Retry-After, then retry");

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return ngx_http_media_error_retry(r, status, "unavailable",
                                          "the service is unavailable or "
                                          "over its request limit; wait the "
                                          "seconds in Retry-After, then "
                                          "retry");

    case NGX_HTTP_REQUEST_HEADER_TOO_LARGE:
        return ngx_http_media_error_494(r);

    case NGX_HTTP_INTERNAL_SERVER_ERROR:
        return ngx_http_media_error_500(r);
    }

    for (e = ngx_http_media_errors; e->status; e++) {
        if (e->status == status) {
            /* 495 to 497 are nginx's names for kinds of 400 */
            return ngx_http_media_send_error(r,
                                   status >= NGX_HTTP_NGINX_CODES
                                   && status < NGX_HTTP_INTERNAL_SERVER_ERROR
                                   ? NGX_HTTP_BAD_REQUEST : status,
                                   e->code, "%s", e->message);
        }
    }

    if (status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
        return ngx_http_media_send_error(r, status, "refused", "the server "
                                         "refused the request (status %ui)",
                                         status);
    }

    return ngx_http_media_send_error(r, status, "server_error", "the server "
                                     "could not answer (status %ui); try "
                                     "again later", status);
}


/*
 * nginx refuses TRACE and CONNECT before any handler, and a module may
 * refuse a method: the route table says what the path takes.  The method
 * itself was replaced by GET for the redirect; the request line keeps it.
 */
static ngx_int_t
ngx_http_media_error_405(ngx_http_request_t *r)
{
    u_char     *sp;
    ngx_str_t   method, allow;

    method = r->request_line;

    sp = ngx_strlchr(method.data, method.data + method.len, ' ');
    if (sp) {
        method.len = sp - method.data;
    }

    if (ngx_http_media_api_allow(r, &allow) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                         "method_not_allowed",
                                         "%V is not allowed here", &method);
    }

    if (ngx_http_media_add_header(r, "Allow", &allow) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_media_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "method_not_allowed",
                                     "%V is not allowed here; allowed: %V",
                                     &method, &allow);
}


/* nginx's client_max_body_size; the API's own limits answer themselves */
static ngx_int_t
ngx_http_media_error_413(ngx_http_request_t *r)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (clcf->client_max_body_size == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body_too_large", "the body is "
                                         "larger than this server takes; "
                                         "send a smaller one");
    }

    return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     "body_too_large", "the body is larger "
                                     "than this path takes: at most %O bytes "
                                     "(client_max_body_size); send a smaller "
                                     "one", clcf->client_max_body_size);
}


/* nginx's 494 is a 400 on the wire */
static ngx_int_t
ngx_http_media_error_494(ngx_http_request_t *r)
{
    ngx_http_core_srv_conf_t  *cscf;

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);

    return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                     "header_too_large", "a request header "
                                     "is larger than this server takes: at "
                                     "most %uz bytes a line and %uz in all "
                                     "(large_client_header_buffers); send "
                                     "smaller headers or fewer cookies",
                                     cscf->large_client_header_buffers.size,
                                     cscf->large_client_header_buffers.size
                                     * cscf->large_client_header_buffers.num);
}


/*
 * nginx writes a body it cannot keep in memory to a temporary file (an
 * upload's goes to <media_storage>/tmp); when that write fails it answers
 * 500 and logs why.  A write that failed on a full disk is the client's
 * to retry later: 507.  The partial file goes with the request's pool.
 */
static ngx_int_t
ngx_http_media_error_500(ngx_http_request_t *r)
{
    int               rc;
    off_t             left;
    struct statvfs    fs;
    ngx_temp_file_t  *tf;

    tf = r->request_body ? r->request_body->temp_file : NULL;

    if (tf == NULL) {
        goto internal;
    }

    rc = (tf->file.fd != NGX_INVALID_FILE)
         ? fstatvfs(tf->file.fd, &fs)
         : statvfs((char *) tf->path->name.data, &fs);

    if (rc == -1) {
        goto internal;
    }

    left = (off_t) fs.f_bavail * fs.f_frsize;

    if (left >= NGX_HTTP_MEDIA_DISK_FULL) {
        goto internal;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "media error page: the body could not be written to "
                  "\"%V\", which has %O bytes left: 507, request_id: %V",
                  &tf->path->name, left, ngx_http_media_request_id(r));

    return ngx_http_media_send_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                     "storage_full", "the server's storage "
                                     "is full, so the body was not kept; "
                                     "try again later");

internal:

    return ngx_http_media_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "the server failed; quote "
                                     "the request id when reporting it");
}


/*
 * limit_req tells no one when it would take the request: the location's
 * media_retry_after says (a zone's 1 / rate), in whole seconds rounded up;
 * one second, the shortest wait that means anything, by default.
 */
static ngx_int_t
ngx_http_media_error_retry(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    u_char                     *p;
    ngx_str_t                   wait;
    ngx_http_media_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    wait.data = p;
    wait.len = ngx_sprintf(p, "%M", (mlcf->retry_after + 999) / 1000) - p;

    if (ngx_http_media_add_header(r, "Retry-After", &wait) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_media_send_error(r, status, code, "%s", message);
}
