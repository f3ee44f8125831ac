/*
 * The API location's content handler: the route table on top of the
 * resources.
 */

#ifndef _NGX_HTTP_MEDIA_API_H_INCLUDED_
#define _NGX_HTTP_MEDIA_API_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_api_handler(ngx_http_request_t *r);

/* the methods the route table takes at r->uri ("GET, HEAD") in *allow;
 * NGX_DECLINED when no route has that path */
ngx_int_t ngx_http_media_api_allow(ngx_http_request_t *r, ngx_str_t *allow);


/* the route table's size, and route i's methods (MEDIA_GET ...) and
 * pattern, for /metrics and $media_route */
ngx_uint_t ngx_http_media_api_nroutes(void);
const char *ngx_http_media_api_route(ngx_uint_t i, unsigned *methods);

/*
 * The index of the route that served r, or NGX_DECLINED (no route chosen,
 * or its ctx went with an internal redirect); *upload says whether the
 * route takes a media file.
 */
ngx_int_t ngx_http_media_api_route_of(ngx_http_request_t *r,
    ngx_uint_t *upload);


#endif /* _NGX_HTTP_MEDIA_API_H_INCLUDED_ */
