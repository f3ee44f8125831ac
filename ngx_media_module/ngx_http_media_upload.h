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


#endif /* _NGX_HTTP_MEDIA_UPLOAD_H_INCLUDED_ */
