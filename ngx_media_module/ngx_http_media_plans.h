/*
 * Plans, the caller's subscription and usage: GET /api/v1/plans,
 * /subscription and /usage.
 */

#ifndef _NGX_HTTP_MEDIA_PLANS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_PLANS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_plans(ngx_http_request_t *r);
ngx_int_t ngx_http_media_subscription(ngx_http_request_t *r);
ngx_int_t ngx_http_media_usage(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_PLANS_H_INCLUDED_ */
