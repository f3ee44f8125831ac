/*
 * JSON for the errors nginx raises itself in and under a media_api
 * location: error_page entries made at configuration time, answered in
 * the rewrite phase.
 */

#ifndef _NGX_HTTP_MEDIA_ERRORS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_ERRORS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


/* from merge_loc_conf, after conf->api is settled */
char *ngx_http_media_errors_merge(ngx_conf_t *cf,
    ngx_http_media_loc_conf_t *prev, ngx_http_media_loc_conf_t *conf);

/* postconfiguration: $media_error_uri and the rewrite-phase handler */
ngx_int_t ngx_http_media_errors_init(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MEDIA_ERRORS_H_INCLUDED_ */
