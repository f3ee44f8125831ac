/*
 * The social room: comments on a moment of a media, likes, reposts,
 * follows and the feed of whom one follows.
 */

#ifndef _NGX_HTTP_MEDIA_SOCIAL_H_INCLUDED_
#define _NGX_HTTP_MEDIA_SOCIAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_comment_create(ngx_http_request_t *r);
ngx_int_t ngx_http_media_comment_list(ngx_http_request_t *r);
ngx_int_t ngx_http_media_comment_delete(ngx_http_request_t *r);
ngx_int_t ngx_http_media_like(ngx_http_request_t *r);
ngx_int_t ngx_http_media_repost(ngx_http_request_t *r);
ngx_int_t ngx_http_media_follow(ngx_http_request_t *r);
ngx_int_t ngx_http_media_social_state(ngx_http_request_t *r);
ngx_int_t ngx_http_media_feed(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_SOCIAL_H_INCLUDED_ */
