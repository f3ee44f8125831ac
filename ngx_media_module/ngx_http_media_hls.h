/*
 * Playback: the playback route, the media_hls location's checks, and
 * their directives.
 */

#ifndef _NGX_HTTP_MEDIA_HLS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_HLS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * SQL: may media m be played?  Once ready, and while it transcodes as
 * soon as the transcoder listed a rung (a renditions row): progressive.
 */
#define NGX_HTTP_MEDIA_PLAYABLE                                               \
    "(m.status = 'ready' OR (m.status = 'processing'"                        \
    " AND m.renditions::text <> '[]'))"


ngx_int_t ngx_http_media_playback(ngx_http_request_t *r);

ngx_int_t ngx_http_media_hls_init(ngx_conf_t *cf);
char *ngx_http_media_url_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_media_hls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_media_free_rung(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_MEDIA_HLS_H_INCLUDED_ */
