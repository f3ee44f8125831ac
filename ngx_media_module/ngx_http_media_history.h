/*
 * The listening side of a user: watch progress and history, a creator's
 * stats, and trending.
 */

#ifndef _NGX_HTTP_MEDIA_HISTORY_H_INCLUDED_
#define _NGX_HTTP_MEDIA_HISTORY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_progress_put(ngx_http_request_t *r);
ngx_int_t ngx_http_media_progress_get(ngx_http_request_t *r);
ngx_int_t ngx_http_media_history(ngx_http_request_t *r);
ngx_int_t ngx_http_media_stats(ngx_http_request_t *r);
ngx_int_t ngx_http_media_trending(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_HISTORY_H_INCLUDED_ */
