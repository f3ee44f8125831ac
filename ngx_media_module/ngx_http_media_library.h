/*
 * The media library routes: list, get, patch, delete, jobs.
 */

#ifndef _NGX_HTTP_MEDIA_LIBRARY_H_INCLUDED_
#define _NGX_HTTP_MEDIA_LIBRARY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_list(ngx_http_request_t *r);
ngx_int_t ngx_http_media_get(ngx_http_request_t *r);
ngx_int_t ngx_http_media_patch(ngx_http_request_t *r);
ngx_int_t ngx_http_media_delete(ngx_http_request_t *r);
ngx_int_t ngx_http_media_job(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_LIBRARY_H_INCLUDED_ */
