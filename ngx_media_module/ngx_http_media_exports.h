/*
 * Exports: a media converted (and perhaps enhanced) into a file of its
 * own by the exporter, and the enhance presets.
 */

#ifndef _NGX_HTTP_MEDIA_EXPORTS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_EXPORTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_export_create(ngx_http_request_t *r);
ngx_int_t ngx_http_media_export_list(ngx_http_request_t *r);
ngx_int_t ngx_http_media_export_get(ngx_http_request_t *r);
ngx_int_t ngx_http_media_export_delete(ngx_http_request_t *r);
ngx_int_t ngx_http_media_enhance_presets(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_EXPORTS_H_INCLUDED_ */
