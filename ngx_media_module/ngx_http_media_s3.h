/*
 * Renditions in object storage (media_storage s3://bucket/prefix): the
 * directives, and the signed requests the module makes of the bucket.
 * After the token check, a playback file is an internal redirect to the
 * media_hls files location with a presigned query (SigV4, media_s3.c),
 * which that location proxies to the bucket; nothing on the segment path
 * blocks or touches the database.
 */

#ifndef _NGX_HTTP_MEDIA_S3_H_INCLUDED_
#define _NGX_HTTP_MEDIA_S3_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"
#include "media_s3.h"


typedef struct {
    media_s3_url_t    url;
    ngx_str_t         endpoint;      /* media_s3_endpoint, as written */
    ngx_str_t         host;          /* its host[:port]: what is signed */
    ngx_str_t         region;        /* media_s3_region */
    ngx_str_t         credentials;   /* media_s3_credentials: the file */
    media_s3_keys_t   keys;          /* read from it at configuration */
    ngx_str_t         path;          /* "/<bucket>/<prefix>/" */
} ngx_http_media_s3_conf_t;


/* media_storage s3://bucket/prefix [spool=path] */
char *ngx_http_media_s3_storage(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf, ngx_str_t *value, ngx_uint_t n);

char *ngx_http_media_s3_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_media_s3_region(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_media_s3_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* init_main_conf: what s3:// needs is there; the credentials read */
char *ngx_http_media_s3_init_conf(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf);

/*
 * The presigned query for GET <bucket>/<prefix>/<dir><file> (dir: "hls/"
 * for media_hls, "" for media_download; file: what follows the files
 * location's prefix in its URI), in r's pool.
 */
ngx_int_t ngx_http_media_s3_args(ngx_http_request_t *r, const char *dir,
    u_char *file, size_t len, ngx_str_t *args);


#endif /* _NGX_HTTP_MEDIA_S3_H_INCLUDED_ */
