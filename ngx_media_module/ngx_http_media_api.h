/*
 * JSON responses and the error model, for every API handler.
 */

#ifndef _NGX_HTTP_MEDIA_API_H_INCLUDED_
#define _NGX_HTTP_MEDIA_API_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_module.h"


ngx_http_media_ctx_t *ngx_http_media_get_ctx(ngx_http_request_t *r);

/* sends {"error":{"code":code,"message":fmt...,"request_id":...}} */
ngx_int_t ngx_http_media_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...);
ngx_int_t ngx_http_media_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *json);

void ngx_http_media_json_str(yajl_gen g, const char *key, ngx_str_t *value);
void ngx_http_media_json_error_object(yajl_gen g, ngx_http_request_t *r,
    const char *code, ngx_str_t *message);


#endif /* _NGX_HTTP_MEDIA_API_H_INCLUDED_ */
