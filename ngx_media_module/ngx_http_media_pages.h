/*
 * The public side: the share page (/m/<id>), the embed player
 * (/embed/<id>) and the profile page (/u/<handle>), made here as HTML
 * since link unfurlers run no JavaScript; oEmbed, profiles as JSON and
 * PATCH /me for the API.
 */

#ifndef _NGX_HTTP_MEDIA_PAGES_H_INCLUDED_
#define _NGX_HTTP_MEDIA_PAGES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* media_pages: this location serves /m/, /embed/ and /u/ */
char *ngx_http_media_pages(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* GET /api/v1/oembed?url=...&format=json */
ngx_int_t ngx_http_media_oembed(ngx_http_request_t *r);

/* GET /api/v1/users/{handle} */
ngx_int_t ngx_http_media_user_get(ngx_http_request_t *r);

/* PATCH /api/v1/me {handle?, display_name?, bio?} */
ngx_int_t ngx_http_media_me_patch(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_PAGES_H_INCLUDED_ */
