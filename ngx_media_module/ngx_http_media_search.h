/*
 * Search (full text over media, users and playlists) and the catalogue
 * (public media by kind and tag, newest or most played first).
 */

#ifndef _NGX_HTTP_MEDIA_SEARCH_H_INCLUDED_
#define _NGX_HTTP_MEDIA_SEARCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* a page of results kept for media_search_cache: larger ones are not */
#define NGX_HTTP_MEDIA_SEARCH_CACHE_VALUE  16384

/* media_search_cache 5s 16m; */
#define NGX_HTTP_MEDIA_SEARCH_CACHE_TTL    5000
#define NGX_HTTP_MEDIA_SEARCH_CACHE_SIZE   (16 * 1024 * 1024)


/* media_search_cache off | time [size]; */
char *ngx_http_media_search_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_media_search_init(ngx_conf_t *cf);

/*
 * What is cached on this node is forgotten: called once a write that
 * takes something out of what everyone may see (privacy, deletion, a
 * handle, a playlist) has committed.  Other nodes keep theirs for at most
 * media_search_cache; takedowns and bans reach every node at once.
 */
void ngx_http_media_search_forget(ngx_http_request_t *r);

ngx_int_t ngx_http_media_search(ngx_http_request_t *r);
ngx_int_t ngx_http_media_catalog(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_SEARCH_H_INCLUDED_ */
