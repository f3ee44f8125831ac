/*
 * Pictures: the URLs of a media's cover art, poster, thumbnail strip and
 * waveform in media answers, and cover uploads.
 */

#ifndef _NGX_HTTP_MEDIA_PICTURES_H_INCLUDED_
#define _NGX_HTTP_MEDIA_PICTURES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>


/*
 * The SQL expression a media answer selects for
 * ngx_http_media_pictures_json, from media m: "<bits>:<cover version>"
 */
#define NGX_HTTP_MEDIA_PICTURES_COLUMN                                        \
    "m.pictures || ':' || m.cover_version"

/*
 * "pictures": {cover_512, cover_128, poster, thumbnails, thumbnails_sprite,
 * waveform} into g, each a URL or null.  The URLs carry a pictures-only
 * token (MEDIA_TOKEN_PICTURES): they open no playlist or segment, so any
 * answer that shows the media may carry them.  Its expiry is rounded up to
 * the hour, so the same picture keeps the same URL for an hour and
 * browsers cache it.  state is the NGX_HTTP_MEDIA_PICTURES_COLUMN value.
 */
void ngx_http_media_pictures_json(ngx_http_request_t *r, yajl_gen g,
    ngx_str_t *id, ngx_str_t *state);

/*
 * One picture's URL path for the public pages' cards, the same as in
 * ngx_http_media_pictures_json: bit is MEDIA_PIC_COVER (the 512 pixel
 * one), MEDIA_PIC_POSTER or MEDIA_PIC_WAVEFORM; NGX_DECLINED (url NULL)
 * when the media has none or there is no media_url_key
 */
ngx_int_t ngx_http_media_pictures_path(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *state, ngx_uint_t bit, ngx_str_t *url);

/* PUT /api/v1/media/{id}/cover: a JPEG or PNG body */
ngx_int_t ngx_http_media_cover_put(ngx_http_request_t *r);

/* PUT /api/v1/me/avatar: the same, as the caller's avatar */
ngx_int_t ngx_http_media_avatar_put(ngx_http_request_t *r);

/*
 * media_avatars /internal/prefix/: this location serves the avatars'
 * files, <key>-256.jpg and <key>-64.jpg, through the internal location
 * (presigned for the bucket with media_storage s3://)
 */
char *ngx_http_media_avatars(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_MEDIA_PICTURES_H_INCLUDED_ */
