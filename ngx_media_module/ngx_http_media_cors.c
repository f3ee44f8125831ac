/*
 * media_cors: streams and the API usable from other origins.
 *
 *   media_cors off | * | origin ...;        (http, server, location)
 *
 * A header filter adds Access-Control-Allow-Origin to every answer of a
 * location where media_cors is on (playlists, segments, pictures, the
 * API, errors included, so a player can read why it was refused):
 *   "*"       Access-Control-Allow-Origin: *; no credentials (a Bearer
 *             header or a token in the URL need none; the signed-cookie
 *             mode does, and needs origins named)
 *   origins   the request's Origin when it is one of them, with
 *             Access-Control-Allow-Credentials: true; nothing for another
 *             origin; Vary: Origin on every answer, since it varies
 *
 * A preflight (OPTIONS with Origin and Access-Control-Request-Method) is
 * answered in the preaccess phase, before any token or sign-in check (a
 * preflight carries no credentials): 204 with the methods and headers
 * allowed and Access-Control-Max-Age, or 403 JSON for an origin not
 * listed.  An OPTIONS without those headers is left to the location.
 *
 * Tokens are checked in one location and the files served from an
 * internal one after a redirect: the filter reads the configuration of
 * the location that answers, so media_cors belongs at server level (or
 * in both).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"
#include "ngx_http_media_reply.h"
#include "ngx_http_media_cors.h"


#define NGX_HTTP_MEDIA_CORS_MAX_AGE  "7200"

#define NGX_HTTP_MEDIA_CORS_METHODS                                          \
    "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

/* what a player, tus-js-client or the web client sends */
#define NGX_HTTP_MEDIA_CORS_HEADERS                                          \
    "Authorization, Content-Type, Range, If-Range, Idempotency-Key, "        \
    "Upload-Offset, Upload-Length, Upload-Metadata, Tus-Resumable, "         \
    "X-Requested-With"

/* what scripts may read of an answer besides the CORS-safelisted ones */
#define NGX_HTTP_MEDIA_CORS_EXPOSE                                           \
    "Content-Length, Content-Range, Accept-Ranges, Retry-After, Location, "  \
    "ETag, Upload-Offset, Upload-Length, Tus-Resumable, Upload-Expires, "    \
    "Upload-Metadata, Tus-Version, Tus-Extension, Tus-Max-Size, Media-Id"


static ngx_int_t ngx_http_media_cors_allowed(ngx_array_t *origins,
    ngx_str_t *origin);
static ngx_int_t ngx_http_media_cors_add(ngx_http_request_t *r,
    ngx_array_t *origins, ngx_str_t *origin, ngx_uint_t preflight);
static ngx_int_t ngx_http_media_cors_preflight(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_cors_filter(ngx_http_request_t *r);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


char *
ngx_http_media_cors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_loc_conf_t *mlcf = conf;

    size_t       scheme;
    ngx_str_t   *value, *o;
    ngx_uint_t   i;

    if (mlcf->cors != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2
        && ngx_strcmp(value[1].data, "off") == 0)
    {
        mlcf->cors = NULL;
        return NGX_CONF_OK;
    }

    mlcf->cors = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                  sizeof(ngx_str_t));
    if (mlcf->cors == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 1 && value[i].data[0] == '*') {
            if (cf->args->nelts != 2) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"*\" in \"media_cors\" stands alone: "
                                   "any origin, or the origins listed");
                return NGX_CONF_ERROR;
            }

        } else {
            scheme = (value[i].len > 7
                      && ngx_strncmp(value[i].data, "http://", 7) == 0)
                     ? 7
                     : (value[i].len > 8
                        && ngx_strncmp(value[i].data, "https://", 8) == 0)
                     ? 8 : 0;

            if (scheme == 0
                || ngx_strlchr(value[i].data + scheme,
                               value[i].data + value[i].len, '/'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"media_cors\" takes origins as "
                                   "browsers send them: a scheme and a host, "
                                   "with a port if not the default, no path:"
                                   " \"https://example.com\", not \"%V\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }
        }

        o = ngx_array_push(mlcf->cors);
        if (o == NULL) {
            return NGX_CONF_ERROR;
        }

        *o = value[i];
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_media_cors_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_media_cors_filter;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_media_cors_preflight;

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_cors_preflight(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_table_elt_t            *origin;
    ngx_http_media_loc_conf_t  *mlcf;

    if (r->method != NGX_HTTP_OPTIONS || r != r->main) {
        return NGX_DECLINED;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    if (mlcf->cors == NULL) {
        return NGX_DECLINED;
    }

    origin = ngx_http_media_header_in(r, "Origin", 6);

    if (origin == NULL
        || ngx_http_media_header_in(r, "Access-Control-Request-Method",
                                      29) == NULL)
    {
        return NGX_DECLINED;        /* not a preflight */
    }

    if (!ngx_http_media_cors_allowed(mlcf->cors, &origin->value)) {
        /* the header filter adds Vary */
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_FORBIDDEN, "cors_origin_refused",
                                  "the origin %V may not use this server "
                                  "from a browser; the server's media_cors "
                                  "lists the origins that may",
                                  &origin->value));
        return NGX_DONE;
    }

    if (ngx_http_media_cors_add(r, mlcf->cors, &origin->value, 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    rc = ngx_http_send_header(r);

    ngx_http_finalize_request(r, rc);
    return NGX_DONE;
}


static ngx_int_t
ngx_http_media_cors_filter(ngx_http_request_t *r)
{
    ngx_table_elt_t            *origin;
    ngx_http_media_loc_conf_t  *mlcf;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    /* an answered preflight has its own */
    if (mlcf->cors == NULL
        || (r->method == NGX_HTTP_OPTIONS
            && r->headers_out.status == NGX_HTTP_NO_CONTENT))
    {
        return ngx_http_next_header_filter(r);
    }

    origin = ngx_http_media_header_in(r, "Origin", 6);

    if (ngx_http_media_cors_add(r, mlcf->cors, origin ? &origin->value : NULL,
                                0)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The CORS headers of one answer: Vary when the answer depends on Origin,
 * Allow-Origin (and Allow-Credentials) when the origin may, Expose-Headers
 * on an answer, the methods, headers and max age on a preflight.
 */
static ngx_int_t
ngx_http_media_cors_add(ngx_http_request_t *r, ngx_array_t *origins,
    ngx_str_t *origin, ngx_uint_t preflight)
{
    ngx_str_t    v;
    ngx_uint_t   any;

    static ngx_str_t  star = ngx_string("*");
    static ngx_str_t  yes = ngx_string("true");
    static ngx_str_t  vary = ngx_string("Origin");
    static ngx_str_t  methods = ngx_string(NGX_HTTP_MEDIA_CORS_METHODS);
    static ngx_str_t  headers = ngx_string(NGX_HTTP_MEDIA_CORS_HEADERS);
    static ngx_str_t  expose = ngx_string(NGX_HTTP_MEDIA_CORS_EXPOSE);
    static ngx_str_t  max_age = ngx_string(NGX_HTTP_MEDIA_CORS_MAX_AGE);

    any = (origins->nelts == 1
           && ((ngx_str_t *) origins->elts)[0].len == 1
           && ((ngx_str_t *) origins->elts)[0].data[0] == '*');

    if (!any && ngx_http_media_add_header(r, "Vary", &vary) != NGX_OK) {
        return NGX_ERROR;
    }

    if (origin == NULL || !ngx_http_media_cors_allowed(origins, origin)) {
        return NGX_OK;
    }

    if (any) {
        if (ngx_http_media_add_header(r, "Access-Control-Allow-Origin",
                                      &star) != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else {
        /* the header's value lives in the request's headers_in */
        v = *origin;

        if (ngx_http_media_add_header(r, "Access-Control-Allow-Origin", &v)
            != NGX_OK
            || ngx_http_media_add_header(r,
                                         "Access-Control-Allow-Credentials",
                                         &yes)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (!preflight) {
        return ngx_http_media_add_header(r, "Access-Control-Expose-Headers",
                                         &expose);
    }

    if (ngx_http_media_add_header(r, "Access-Control-Allow-Methods",
                                  &methods) != NGX_OK
        || ngx_http_media_add_header(r, "Access-Control-Allow-Headers",
                                     &headers) != NGX_OK
        || ngx_http_media_add_header(r, "Access-Control-Max-Age", &max_age)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_cors_allowed(ngx_array_t *origins, ngx_str_t *origin)
{
    ngx_str_t   *o;
    ngx_uint_t   i;

    o = origins->elts;

    for (i = 0; i < origins->nelts; i++) {
        if (o[i].len == 1 && o[i].data[0] == '*') {
            return 1;
        }

        /* scheme and host compare without case, as browsers send them */
        if (o[i].len == origin->len
            && ngx_strncasecmp(o[i].data, origin->data, o[i].len) == 0)
        {
            return 1;
        }
    }

    return 0;
}
