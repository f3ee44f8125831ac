/*
 * The reports room: reports and copyright notices, the uploader's appeal,
 * the notices a user is sent, and publishing a draft.
 */

#ifndef _NGX_HTTP_MEDIA_REPORTS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_REPORTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_report_create(ngx_http_request_t *r);
ngx_int_t ngx_http_media_report_appeal(ngx_http_request_t *r);
ngx_int_t ngx_http_media_notices(ngx_http_request_t *r);
ngx_int_t ngx_http_media_notice_seen(ngx_http_request_t *r);
ngx_int_t ngx_http_media_publish(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_REPORTS_H_INCLUDED_ */
