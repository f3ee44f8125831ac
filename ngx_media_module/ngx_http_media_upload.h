/*
 * POST /api/v1/media: uploads, raw or multipart, streamed to disk.
 */

#ifndef _NGX_HTTP_MEDIA_UPLOAD_H_INCLUDED_
#define _NGX_HTTP_MEDIA_UPLOAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The quota gate, before a byte of the body is read: reserves the upload's
 * Content-Length against the caller's storage and media count (402 when
 * the plan does not allow it), then reads the body and calls next.
 */
ngx_int_t ngx_http_media_upload_gate(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt next);

/* the body is in its temp file: ingest it, store the media, queue it */
ngx_int_t ngx_http_media_upload(ngx_http_request_t *r);


/* the ?draft= argument: 1 (a draft), 0 (none or false), NGX_ERROR */
ngx_int_t ngx_http_media_upload_draft(ngx_http_request_t *r);


/* called with the new media's id once it is stored and queued */
typedef void (*ngx_http_media_upload_stored_pt)(ngx_http_request_t *r,
    ngx_str_t *media_id, void *data);


/* a whole file on its way to becoming a media */
typedef struct {
    ngx_str_t                         path;   /* in media_storage: moved */
    off_t                             size;
    ngx_str_t                         reservation;  /* 36 chars, or none */
    ngx_str_t                         content_type; /* data NULL: none */
    ngx_str_t                         filename;     /* as the client sent */
    ngx_uint_t                        draft;
    unsigned                          multipart:1;  /* may be multipart */
    ngx_http_media_upload_stored_pt   stored;  /* NULL: 202 {media, job} */
    void                             *data;
} ngx_http_media_upload_src_t;


/*
 * The file becomes a media through the single-request upload's own steps
 * (sniff, move, media and job rows settling the reservation, queue), then
 * src->stored answers, or 202 {media, job}.  Refusals (415 not_media ...)
 * release the reservation and remove the file.  NGX_DONE, or an rc.
 */
ngx_int_t ngx_http_media_upload_store(ngx_http_request_t *r,
    ngx_http_media_upload_src_t *src);


#endif /* _NGX_HTTP_MEDIA_UPLOAD_H_INCLUDED_ */
