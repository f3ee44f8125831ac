/*
 * Search (full text over media, users and playlists) and the catalogue
 * (public media by kind and tag, newest or most played first).
 */

#ifndef _NGX_HTTP_MEDIA_SEARCH_H_INCLUDED_
#define _NGX_HTTP_MEDIA_SEARCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_search(ngx_http_request_t *r);
ngx_int_t ngx_http_media_catalog(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_SEARCH_H_INCLUDED_ */
