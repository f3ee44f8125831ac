/*
 * The free tier's ads: GET /api/v1/admin/ads, PUT and DELETE
 * /api/v1/admin/ads/{media id}, POST /api/v1/ads/{media id}/impressions.
 */

#ifndef _NGX_HTTP_MEDIA_ADS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_ADS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_ads(ngx_http_request_t *r);
ngx_int_t ngx_http_media_ad_put(ngx_http_request_t *r);
ngx_int_t ngx_http_media_ad_delete(ngx_http_request_t *r);
ngx_int_t ngx_http_media_ad_impression(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_ADS_H_INCLUDED_ */
