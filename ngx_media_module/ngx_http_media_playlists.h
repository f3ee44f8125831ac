/*
 * Playlists: create, list, read, rename, set privacy, delete; add, remove
 * and reorder items.
 */

#ifndef _NGX_HTTP_MEDIA_PLAYLISTS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_PLAYLISTS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_playlist_create(ngx_http_request_t *r);
ngx_int_t ngx_http_media_playlist_list(ngx_http_request_t *r);
ngx_int_t ngx_http_media_playlist_get(ngx_http_request_t *r);
ngx_int_t ngx_http_media_playlist_patch(ngx_http_request_t *r);
ngx_int_t ngx_http_media_playlist_delete(ngx_http_request_t *r);
/* PUT adds, DELETE removes */
ngx_int_t ngx_http_media_playlist_item(ngx_http_request_t *r);
ngx_int_t ngx_http_media_playlist_order(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_PLAYLISTS_H_INCLUDED_ */
