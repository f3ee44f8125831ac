/*
 * Limited-use download links: the routes that make, list and revoke them,
 * the media_download location's checks, and their directives.
 */

#ifndef _NGX_HTTP_MEDIA_DOWNLOADS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_DOWNLOADS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_download_create(ngx_http_request_t *r);
ngx_int_t ngx_http_media_download_list(ngx_http_request_t *r);
ngx_int_t ngx_http_media_download_revoke(ngx_http_request_t *r);

ngx_int_t ngx_http_media_downloads_init(ngx_conf_t *cf);
char *ngx_http_media_download_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_media_download(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_MEDIA_DOWNLOADS_H_INCLUDED_ */
