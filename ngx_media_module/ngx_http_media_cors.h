/*
 * media_cors: the CORS headers and preflights (ngx_http_media_cors.c).
 */

#ifndef _NGX_HTTP_MEDIA_CORS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_CORS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the media_cors directive */
char *ngx_http_media_cors(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* postconfiguration: the header filter and the preflight handler */
ngx_int_t ngx_http_media_cors_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MEDIA_CORS_H_INCLUDED_ */
