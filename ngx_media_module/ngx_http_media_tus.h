/*
 * /api/v1/uploads: resumable uploads, tus 1.0 (core, creation,
 * creation-with-upload, termination, expiration).
 */

#ifndef _NGX_HTTP_MEDIA_TUS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_TUS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* OPTIONS /uploads, /uploads/{id}: what this server speaks */
ngx_int_t ngx_http_media_tus_options(ngx_http_request_t *r);

/* POST /uploads: a new upload, with its first bytes or none */
ngx_int_t ngx_http_media_tus_create(ngx_http_request_t *r);

/* HEAD /uploads/{id}: where the upload is */
ngx_int_t ngx_http_media_tus_head(ngx_http_request_t *r);

/* PATCH /uploads/{id}: bytes appended at Upload-Offset */
ngx_int_t ngx_http_media_tus_patch(ngx_http_request_t *r);

/* DELETE /uploads/{id}: the upload and its bytes are gone */
ngx_int_t ngx_http_media_tus_delete(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_TUS_H_INCLUDED_ */
