/*
 * /api/v1/uploads: resumable uploads, tus 1.0
 * (https://tus.io/protocols/resumable-upload), so that tus-js-client and
 * Uppy work unchanged and a dropped connection costs one chunk, not the
 * upload.  sql/033 holds the rows; media_tus.c parses the headers.
 *
 *   POST /uploads     Upload-Length, Upload-Metadata (filename, filetype):
 *                     the quota and size limits as a single-request upload
 *                     meets them (402, 413), storage reserved for the
 *                     whole length, 201 and Location; a body
 *                     (creation-with-upload) is appended as a PATCH's
 *   HEAD /uploads/x   Upload-Offset, Upload-Length, Upload-Expires
 *   PATCH /uploads/x  the body is read by nginx into media_storage/tmp,
 *                     the upload leased (423 while another PATCH holds
 *                     it), the body appended to uploads/<id>.tus at
 *                     Upload-Offset on the thread pool and synced, then
 *                     the offset moved; the last PATCH hands the file to
 *                     ngx_http_media_upload_store, the single-request
 *                     upload's own path (sniff, media and job rows,
 *                     queue), and answers Media-Id and Location
 *   DELETE /uploads/x the row (and its reservation), then the file
 *   OPTIONS           Tus-Version, Tus-Extension, Tus-Max-Size
 *
 * The bytes of a PATCH count only once all of them arrived: a PATCH cut
 * off mid-way adds nothing, and the client sends that chunk again from
 * HEAD's offset.  Clients that upload over weak connections send chunks
 * (tus-js-client's chunkSize; the web client sends 8 MB).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_upload.h"
#include "ngx_http_media_tus.h"
#include "media_shared.h"
#include "media_tus.h"
#include "media_utf8.h"


/* not in nginx's table: RFC 9110 15.5.11, RFC 4918 11.3 */
#define NGX_HTTP_MEDIA_GONE    410
#define NGX_HTTP_MEDIA_LOCKED  423


typedef struct {
    ngx_http_request_t   *request;
    ngx_str_t             id;                  /* the upload's uuid */
    char                  file[NGX_MAX_PATH];  /* uploads/<id>.tus */
    ngx_fd_t              body;                /* this request's body */
    off_t                 offset;              /* where this body goes */
    off_t                 length;              /* Upload-Length */
    off_t                 bytes;               /* this body's */
    time_t                expires;
    ngx_str_t             lease;
    ngx_str_t             reservation;
    ngx_str_t             filename;
    ngx_str_t             filetype;
    unsigned              created:1;           /* POST: 201 */
    unsigned              draft:1;             /* the media's a draft */

    /* the thread's verdict */
    ngx_err_t             err;
    const char           *failed;              /* the step, or NULL */
} ngx_http_media_tus_t;


static ngx_http_media_tus_t *ngx_http_media_tus_begin(ngx_http_request_t *r,
    ngx_int_t *rc);
static ngx_int_t ngx_http_media_tus_number(ngx_http_request_t *r,
    const char *name, off_t *out, ngx_int_t *rc);
static ngx_int_t ngx_http_media_tus_length(ngx_http_request_t *r,
    ngx_http_media_tus_t *t, ngx_int_t *rc);
static ngx_int_t ngx_http_media_tus_metadata(ngx_http_request_t *r,
    ngx_http_media_tus_t *t, ngx_table_elt_t *meta, ngx_int_t *rc);
static ngx_int_t ngx_http_media_tus_body_type(ngx_http_request_t *r,
    ngx_int_t *rc);
static ngx_int_t ngx_http_media_tus_take(ngx_http_request_t *r,
    ngx_http_media_tus_t *t, ngx_uint_t take,
    ngx_http_media_pg_handler_pt handler);
static void ngx_http_media_tus_created(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_tus_peeked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_tus_read(ngx_http_request_t *r,
    ngx_http_media_tus_t *t);
static void ngx_http_media_tus_body(ngx_http_request_t *r);
static void ngx_http_media_tus_taken(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_tus_append(void *data, ngx_log_t *log);
static void ngx_http_media_tus_appended(ngx_event_t *ev);
static void ngx_http_media_tus_advanced(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_tus_stored(ngx_http_request_t *r,
    ngx_str_t *media_id, void *data);
static void ngx_http_media_tus_headed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_tus_terminated(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_tus_verdict(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_http_media_tus_t *t, ngx_int_t *rc);
static ngx_int_t ngx_http_media_tus_answer(ngx_http_request_t *r,
    ngx_http_media_tus_t *t, ngx_str_t *media_id);
static ngx_int_t ngx_http_media_tus_header(ngx_http_request_t *r,
    const char *name, const char *fmt, ...);
static ngx_int_t ngx_http_media_tus_path(ngx_http_request_t *r,
    ngx_http_media_tus_t *t);


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_tus_create =
    ngx_http_media_pg_stmt("tus_create", 7,
        "SELECT upload_id, expires, quantity, used, limit_value, plan,"
        "       lifted_by"
        "  FROM media_tus_create($1, $2, $3, $4, $5, $7,"
        "                        $6::bigint * interval '1 second')");

/* $3 NULL: HEAD, no lease; $5: lease the upload when it may be written */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_tus_take =
    ngx_http_media_pg_stmt("tus_take", 5,
        "SELECT verdict, upload_offset, upload_length, expires, lease,"
        "       metadata, filename, filetype, reservation, draft"
        "  FROM media_tus_take($1, $2, $3, $4, $5)");

/* the lease given back, the offset moved (or not, after a failure) */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_tus_advance =
    ngx_http_media_pg_stmt("tus_advance", 3,
        "UPDATE uploads SET upload_offset = $3, lease = NULL,"
        "       lease_until = NULL"
        " WHERE id = $1 AND lease = $2"
        " RETURNING upload_offset");

/* the reservation goes, and the upload row with it (ON DELETE CASCADE) */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_tus_terminate =
    ngx_http_media_pg_stmt("tus_terminate", 2,
        "WITH x AS ("
        "  SELECT reservation, coalesce(lease_until > now(), false) AS busy"
        "    FROM uploads WHERE id = $1 AND user_id = $2 FOR UPDATE),"
        " d AS ("
        "  DELETE FROM storage_reservations s USING x"
        "   WHERE s.id = x.reservation AND NOT x.busy RETURNING s.id)"
        " SELECT x.busy FROM x");


/* OPTIONS ----------------------------------------------------------------- */

ngx_int_t
ngx_http_media_tus_options(ngx_http_request_t *r)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (ngx_http_media_tus_header(r, "Tus-Resumable", MEDIA_TUS_VERSION)
        != NGX_OK
        || ngx_http_media_tus_header(r, "Tus-Version", MEDIA_TUS_VERSION)
           != NGX_OK
        || ngx_http_media_tus_header(r, "Tus-Extension",
                                     MEDIA_TUS_EXTENSIONS)
           != NGX_OK
        || ngx_http_media_tus_header(r, "Tus-Max-Size", "%O",
                                     mmcf->upload_max)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_media_send_empty(r, NGX_HTTP_NO_CONTENT);
}


/*
 * What every request but OPTIONS starts with: Tus-Resumable in the answer,
 * the version checked (412), the state.  NULL: *rc answers.
 */
static ngx_http_media_tus_t *
ngx_http_media_tus_begin(ngx_http_request_t *r, ngx_int_t *rc)
{
    ngx_table_elt_t       *h;
    ngx_http_media_ctx_t  *ctx;
    ngx_http_media_tus_t  *t;

    if (ngx_http_media_tus_header(r, "Tus-Resumable", MEDIA_TUS_VERSION)
        != NGX_OK)
    {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }

    h = ngx_http_media_header_in(r, "Tus-Resumable", 13);

    if (h == NULL
        || !media_tus_version_ok((char *) h->value.data, h->value.len))
    {
        if (ngx_http_media_tus_header(r, "Tus-Version", MEDIA_TUS_VERSION)
            != NGX_OK)
        {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NULL;
        }

        *rc = ngx_http_media_send_error(r, NGX_HTTP_PRECONDITION_FAILED,
                                        "tus_version", "send "
                                        "\"Tus-Resumable: " MEDIA_TUS_VERSION
                                        "\": this server speaks tus "
                                        MEDIA_TUS_VERSION " only");
        return NULL;
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_http_media_tus_t));
    if (t == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }

    t->request = r;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    ctx->state = t;

    if (ctx->capture.len) {
        if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
            *rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND,
                                            "not_found", "no such upload");
            return NULL;
        }

        t->id = ctx->capture;

        if (ngx_http_media_tus_path(r, t) != NGX_OK) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NULL;
        }
    }

    return t;
}


/* a header holding a tus number: NGX_OK, NGX_DECLINED absent, or *rc */
static ngx_int_t
ngx_http_media_tus_number(ngx_http_request_t *r, const char *name,
    off_t *out, ngx_int_t *rc)
{
    int64_t           v;
    ngx_table_elt_t  *h;

    h = ngx_http_media_header_in(r, name, ngx_strlen(name));
    if (h == NULL) {
        return NGX_DECLINED;
    }

    if (media_tus_number((char *) h->value.data, h->value.len, &v) != 0) {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_header", name, "%s must be "
                                       "a non-negative integer of bytes",
                                       name);
        return NGX_ERROR;
    }

    *out = (off_t) v;

    return NGX_OK;
}


/* POST /api/v1/uploads ---------------------------------------------------- */

ngx_int_t
ngx_http_media_tus_create(ngx_http_request_t *r)
{
    ngx_int_t                    rc, draft;
    ngx_str_t                    params[7];
    ngx_table_elt_t             *meta;
    ngx_http_media_tus_t        *t;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    t = ngx_http_media_tus_begin(r, &rc);
    if (t == NULL) {
        return rc;
    }

    t->created = 1;

    /* ?draft=1, as POST /media takes it */
    draft = ngx_http_media_upload_draft(r);
    if (draft == NGX_ERROR) {
        return ngx_http_media_field_error(r, "draft", "draft must be 1 or "
                                          "true (a draft: yours only until "
                                          "published), 0 or false");
    }

    meta = ngx_http_media_header_in(r, "Upload-Metadata", 15);

    if (ngx_http_media_tus_length(r, t, &rc) != NGX_OK
        || ngx_http_media_tus_metadata(r, t, meta, &rc) != NGX_OK)
    {
        return rc;
    }

    /* creation-with-upload: the first bytes come with the creation */
    if (r->headers_in.content_length_n > 0
        && ngx_http_media_tus_body_type(r, &rc) != NGX_OK)
    {
        return rc;
    }

    params[0] = ctx->user->id;
    params[1].data = ngx_pnalloc(r->pool, 2 * NGX_OFF_T_LEN);
    if (params[1].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[1].len = ngx_sprintf(params[1].data, "%O", t->length)
                    - params[1].data;
    params[2].data = meta ? meta->value.data : NULL;
    params[2].len = meta ? meta->value.len : 0;
    params[3] = t->filename;
    params[4] = t->filetype;
    params[5].data = params[1].data + NGX_OFF_T_LEN;
    params[5].len = ngx_sprintf(params[5].data, "%T", mmcf->tus_expires)
                    - params[5].data;

    if (draft) {
        ngx_str_set(&params[6], "true");
    } else {
        ngx_str_set(&params[6], "false");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_tus_create, params,
                                ngx_http_media_tus_created, t)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/*
 * Upload-Length: there (Upload-Defer-Length is not offered), not zero, and
 * within media_upload_max_size (413 naming it, as POST /media does).
 * NGX_OK, or NGX_DECLINED with the refusal sent and its rc in *rc.
 */
static ngx_int_t
ngx_http_media_tus_length(ngx_http_request_t *r, ngx_http_media_tus_t *t,
    ngx_int_t *rc)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (ngx_http_media_header_in(r, "Upload-Defer-Length", 19)) {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_header",
                                       "Upload-Defer-Length", "this server "
                                       "needs the length at creation: send "
                                       "Upload-Length");
        return NGX_DECLINED;
    }

    switch (ngx_http_media_tus_number(r, "Upload-Length", &t->length, rc)) {
    case NGX_OK:
        break;
    case NGX_DECLINED:
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_header", "Upload-Length",
                                       "send Upload-Length, the size of "
                                       "the whole file in bytes");
        return NGX_DECLINED;
    default:
        return NGX_DECLINED;
    }

    if (t->length == 0) {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_header", "Upload-Length",
                                       "the upload is empty: a media has "
                                       "at least one byte");
        return NGX_DECLINED;
    }

    if (t->length <= mmcf->upload_max) {
        return NGX_OK;
    }

    if (ngx_http_media_tus_header(r, "Tus-Max-Size", "%O", mmcf->upload_max)
        != NGX_OK)
    {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    *rc = ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "too_large", "the upload is %O bytes; "
                                    "this server takes at most %O "
                                    "(media_upload_max_size)",
                                    t->length, mmcf->upload_max);
    return NGX_DECLINED;
}


/*
 * Upload-Metadata: well-formed, a filetype (when given) that is audio or
 * video, as POST /media takes, and the filename kept as the media will
 * keep it (safe UTF-8, 255 characters).  As above.
 */
static ngx_int_t
ngx_http_media_tus_metadata(ngx_http_request_t *r, ngx_http_media_tus_t *t,
    ngx_table_elt_t *meta, ngx_int_t *rc)
{
    char                   err[256];
    u_char                *name;
    media_tus_metadata_t  *m;

    m = ngx_palloc(r->pool, sizeof(media_tus_metadata_t));
    name = ngx_pnalloc(r->pool, MEDIA_TUS_VALUE_MAX);
    if (m == NULL || name == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    if (media_tus_metadata(meta ? (char *) meta->value.data : "",
                           meta ? meta->value.len : 0, m, err, sizeof(err))
        != 0)
    {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_header", "Upload-Metadata",
                                       "%s", err);
        return NGX_DECLINED;
    }

    t->filetype.len = m->filetype_len;
    t->filetype.data = m->filetype_len ? (u_char *) m->filetype : NULL;

    if (m->filetype_len
        && !(m->filetype_len > 6
             && (ngx_strncasecmp((u_char *) m->filetype, (u_char *) "audio/",
                                 6) == 0
                 || ngx_strncasecmp((u_char *) m->filetype,
                                    (u_char *) "video/", 6) == 0)))
    {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                        "unsupported_media_type",
                                        "the metadata's filetype is \"%V\"; "
                                        "upload an audio or video file",
                                        &t->filetype);
        return NGX_DECLINED;
    }

    if (m->filetype_len > 255) {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_header", "Upload-Metadata",
                                       "the filetype is %uz bytes; a media "
                                       "type has at most 255",
                                       m->filetype_len);
        return NGX_DECLINED;
    }

    t->filename.len = media_utf8_safe(name, (u_char *) m->filename,
                                      m->filename_len);
    t->filename.len = media_utf8_prefix(name, t->filename.len, 255);
    t->filename.data = t->filename.len ? name : NULL;

    return NGX_OK;
}


/* a body's Content-Type is tus': NGX_OK, or as above (415) */
static ngx_int_t
ngx_http_media_tus_body_type(ngx_http_request_t *r, ngx_int_t *rc)
{
    ngx_str_t  *ct;

    ct = r->headers_in.content_type ? &r->headers_in.content_type->value
                                    : NULL;

    if (ct && media_tus_content_type_ok((char *) ct->data, ct->len)) {
        return NGX_OK;
    }

    *rc = ngx_http_media_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                    "unsupported_media_type", "send the "
                                    "upload's bytes as Content-Type: "
                                    MEDIA_TUS_CONTENT_TYPE);
    return NGX_DECLINED;
}


static void
ngx_http_media_tus_created(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_tus_t  *t = data;

    ngx_str_t  *id;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media tus create"));
        return;
    }

    id = ngx_http_media_pg_value(res, 0, 0);

    if (id->data == NULL) {
        ngx_http_finalize_request(r, ngx_http_media_quota_exceeded(r,
            ngx_http_media_pg_value(res, 0, 2),
            ngx_http_media_pg_value(res, 0, 3),
            ngx_http_media_pg_value(res, 0, 4),
            ngx_http_media_pg_value(res, 0, 5),
            ngx_http_media_pg_value(res, 0, 6),
            t->length));
        return;
    }

    t->id = *id;
    t->expires = (time_t) ngx_atotm(ngx_http_media_pg_value(res, 0, 1)->data,
                                    ngx_http_media_pg_value(res, 0, 1)->len);

    if (ngx_http_media_tus_path(r, t) != NGX_OK
        || ngx_http_media_tus_header(r, "Location", "/api/v1/uploads/%V",
                                     &t->id)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (r->headers_in.content_length_n <= 0) {
        ngx_http_finalize_request(r, ngx_http_media_tus_answer(r, t, NULL));
        return;
    }

    ngx_http_media_tus_read(r, t);
}


/* HEAD /api/v1/uploads/{id} ----------------------------------------------- */

ngx_int_t
ngx_http_media_tus_head(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_media_tus_t  *t;

    t = ngx_http_media_tus_begin(r, &rc);
    if (t == NULL) {
        return rc;
    }

    /* t->offset -1: where it is, whatever it is */
    t->offset = -1;

    if (ngx_http_media_tus_take(r, t, 0, ngx_http_media_tus_headed)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_tus_headed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_tus_t  *t = data;

    ngx_int_t   rc;
    ngx_str_t  *meta;

    if (ngx_http_media_tus_verdict(r, res, t, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    meta = ngx_http_media_pg_value(res, 0, 5);

    /* a client must not take an offset from a cache (tus 1.0, HEAD) */
    if (ngx_http_media_tus_header(r, "Upload-Length", "%O", t->length)
        != NGX_OK
        || ngx_http_media_tus_header(r, "Cache-Control", "no-store")
           != NGX_OK
        || (meta->len
            && ngx_http_media_tus_header(r, "Upload-Metadata", "%V", meta)
               != NGX_OK))
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    t->created = 0;

    ngx_http_finalize_request(r, ngx_http_media_tus_answer(r, t, NULL));
}


/* PATCH /api/v1/uploads/{id} ---------------------------------------------- */

ngx_int_t
ngx_http_media_tus_patch(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_media_tus_t  *t;

    t = ngx_http_media_tus_begin(r, &rc);
    if (t == NULL) {
        return rc;
    }

    if (ngx_http_media_tus_body_type(r, &rc) != NGX_OK) {
        return rc;
    }

    switch (ngx_http_media_tus_number(r, "Upload-Offset", &t->offset, &rc)) {
    case NGX_OK:
        break;
    case NGX_DECLINED:
        return ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_header", "Upload-Offset",
                                        "send Upload-Offset, where these "
                                        "bytes go (HEAD tells where the "
                                        "upload is)");
    default:
        return rc;
    }

    t->bytes = ngx_max(r->headers_in.content_length_n, 0);

    /* refused before a byte of the body is read: 404, 409, 410, 413, 423 */
    if (ngx_http_media_tus_take(r, t, 0, ngx_http_media_tus_peeked)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_media_tus_peeked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_tus_t  *t = data;

    ngx_int_t  rc;

    if (ngx_http_media_tus_verdict(r, res, t, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* an empty PATCH moves nothing: it tells the offset */
    if (t->bytes == 0) {
        ngx_http_finalize_request(r, ngx_http_media_tus_answer(r, t, NULL));
        return;
    }

    ngx_http_media_tus_read(r, t);
}


/* the body to a file in media_storage/tmp, as an upload's */
static void
ngx_http_media_tus_read(ngx_http_request_t *r, ngx_http_media_tus_t *t)
{
    ngx_int_t  rc;

    t->bytes = r->headers_in.content_length_n;

    r->request_body_in_file_only = 1;
    r->request_body_in_clean_file = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_media_tus_body);

    ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc
                                                                 : NGX_DONE);
}


/* all of the body arrived: lease the upload to append it */
static void
ngx_http_media_tus_body(ngx_http_request_t *r)
{
    ngx_temp_file_t       *tf;
    ngx_http_media_ctx_t  *ctx;
    ngx_http_media_tus_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    t = ctx->state;

    tf = r->request_body ? r->request_body->temp_file : NULL;

    if (tf == NULL || tf->file.offset != t->bytes) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_BAD_REQUEST, "body_required",
                                  "the body did not hold the %O bytes its "
                                  "Content-Length said", t->bytes));
        return;
    }

    /* nginx's temp file, open (and unlinked) until the request ends */
    t->body = tf->file.fd;

    if (ngx_http_media_tus_take(r, t, 1, ngx_http_media_tus_taken)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_tus_taken(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_tus_t  *t = data;

    ngx_int_t                     rc;
#if (NGX_THREADS)
    ngx_thread_task_t            *task;
#endif

    if (ngx_http_media_tus_verdict(r, res, t, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    t->lease = *ngx_http_media_pg_value(res, 0, 4);

#if (NGX_THREADS)
    task = ngx_thread_task_alloc(r->pool, 0);
    if (task == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    task->ctx = t;

    /* the reference this query held is the thread's now */
    if (ngx_http_media_thread_post(r, task, ngx_http_media_tus_append,
                                   ngx_http_media_tus_appended, t)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
#else
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
#endif
}


/*
 * In a pool thread: files only.  Bytes past the offset are an earlier
 * append's that did not end (its offset never moved): cut them first.
 */
static void
ngx_http_media_tus_append(void *data, ngx_log_t *log)
{
    ngx_http_media_tus_t  *t = data;

    int      out;
    off_t    at, from;
    ssize_t  n, w;
    u_char   buf[65536], *p;

    at = t->offset;
    from = 0;

    out = open(t->file, O_WRONLY|O_CREAT, 0644);
    if (out == -1) {
        t->failed = "open";
        goto failed;
    }

    if (ftruncate(out, t->offset) == -1) {
        t->failed = "truncate";
        goto failed;
    }

    for ( ;; ) {
        n = pread(t->body, buf, sizeof(buf), from);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1) {
            t->failed = "read the body of";
            goto failed;
        }

        if (n == 0) {
            break;
        }

        from += n;

        for (p = buf; n > 0; p += w, n -= w, at += w) {
            w = pwrite(out, p, n, at);

            if (w == -1 && errno == EINTR) {
                w = 0;
                continue;
            }

            if (w == -1) {
                t->failed = "write";
                goto failed;
            }
        }
    }

    /* the offset the client is told is on disk, whatever happens next */
    if (fdatasync(out) == -1) {
        t->failed = "sync";
        goto failed;
    }

    if (at != t->offset + t->bytes) {
        t->failed = "copy all of the body to";
        goto failed;
    }

    close(out);

    return;

failed:

    t->err = errno;

    if (out != -1) {
        close(out);
    }
}


/* back on the event loop: the offset moves, and the lease is given back */
static void
ngx_http_media_tus_appended(ngx_event_t *ev)
{
    ngx_http_media_tus_t  *t = ev->data;

    off_t                 to;
    ngx_str_t             params[3];
    ngx_connection_t     *c;
    ngx_http_request_t   *r;

    r = t->request;
    c = r->connection;
    r->main->blocked--;

    if (t->failed) {
        ngx_log_error(NGX_LOG_ERR, c->log, t->err,
                      "media tus append: %s \"%s\" failed, request_id: %V",
                      t->failed, t->file, ngx_http_media_request_id(r));
    }

    to = t->failed ? t->offset : t->offset + t->bytes;

    params[0] = t->id;
    params[1] = t->lease;
    params[2].data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (params[2].data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        goto done;
    }

    params[2].len = ngx_sprintf(params[2].data, "%O", to) - params[2].data;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_tus_advance, params,
                                ngx_http_media_tus_advanced, t)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

done:

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_media_tus_advanced(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_tus_t  *t = data;

    ngx_int_t                     rc;
    ngx_http_media_upload_src_t   src;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media tus advance"));
        return;
    }

    /* the lease ran out and another PATCH took the upload meanwhile */
    if (res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_CONFLICT, "tus_lease_lost",
                                  "this PATCH took longer than its lease "
                                  "and its bytes were not counted; ask HEAD "
                                  "for the offset and send from there"));
        return;
    }

    if (t->failed) {
        if (t->err == NGX_ENOSPC || t->err == EDQUOT) {
            ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                      NGX_HTTP_INSUFFICIENT_STORAGE,
                                      "storage_full", "the server's storage "
                                      "is full, so these bytes were not "
                                      "kept; try again later from the same "
                                      "offset"));
            return;
        }

        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "these bytes could not be stored; quote "
                                  "the request id when reporting it"));
        return;
    }

    t->offset += t->bytes;

    if (t->offset < t->length) {
        ngx_http_finalize_request(r, ngx_http_media_tus_answer(r, t, NULL));
        return;
    }

    /* the last bytes: the file becomes a media as a single upload does */
    ngx_memzero(&src, sizeof(ngx_http_media_upload_src_t));

    src.path.data = (u_char *) t->file;
    src.path.len = ngx_strlen(t->file);
    src.size = t->length;
    src.reservation = t->reservation;
    src.content_type = t->filetype;
    src.filename = t->filename;
    src.draft = t->draft;
    src.stored = ngx_http_media_tus_stored;
    src.data = t;

    if (src.content_type.len == 0) {
        src.content_type.data = NULL;
    }

    rc = ngx_http_media_upload_store(r, &src);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static void
ngx_http_media_tus_stored(ngx_http_request_t *r, ngx_str_t *media_id,
    void *data)
{
    ngx_http_media_tus_t  *t = data;

    ngx_http_finalize_request(r, ngx_http_media_tus_answer(r, t, media_id));
}


/* DELETE /api/v1/uploads/{id} --------------------------------------------- */

ngx_int_t
ngx_http_media_tus_delete(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;
    ngx_http_media_tus_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    t = ngx_http_media_tus_begin(r, &rc);
    if (t == NULL) {
        return rc;
    }

    params[0] = t->id;
    params[1] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_tus_terminate, params,
                                ngx_http_media_tus_terminated, t)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_tus_terminated(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_tus_t  *t = data;

    ngx_str_t  *busy;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media tus terminate"));
        return;
    }

    if (res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such upload: it finished, expired or "
                                  "was terminated, or is not yours"));
        return;
    }

    busy = ngx_http_media_pg_value(res, 0, 0);

    if (busy->len && busy->data[0] == 't') {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_MEDIA_LOCKED, "tus_locked",
                                  "a PATCH is appending to this upload; "
                                  "terminate it once that ends"));
        return;
    }

    /*
     * The row is gone, so no request writes the file any more.  An unlink
     * frees the blocks of at most media_upload_max_size bytes; the
     * sweeper removes a file left behind should this one fail.
     */
    if (ngx_delete_file(t->file) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, ngx_errno,
                      "media tus terminate: unlink \"%s\" failed, "
                      "request_id: %V", t->file,
                      ngx_http_media_request_id(r));
    }

    ngx_http_finalize_request(r, ngx_http_media_send_empty(r,
                                                         NGX_HTTP_NO_CONTENT));
}


/* the pieces ----------------------------------------------------------- */

/*
 * media_tus_take for the caller's upload: whether t->bytes may go at
 * t->offset (-1: HEAD, any offset), leased to this request with take.
 */
static ngx_int_t
ngx_http_media_tus_take(ngx_http_request_t *r, ngx_http_media_tus_t *t,
    ngx_uint_t take, ngx_http_media_pg_handler_pt handler)
{
    ngx_str_t              params[5];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params[0] = t->id;
    params[1] = ctx->user->id;
    params[2].data = ngx_pnalloc(r->pool, 2 * NGX_OFF_T_LEN);
    if (params[2].data == NULL) {
        return NGX_ERROR;
    }

    params[2].len = ngx_sprintf(params[2].data, "%O", t->offset)
                    - params[2].data;
    params[3].data = params[2].data + NGX_OFF_T_LEN;
    params[3].len = ngx_sprintf(params[3].data, "%O", t->bytes)
                    - params[3].data;

    if (t->offset < 0) {
        ngx_str_null(&params[2]);
    }

    if (take) {
        ngx_str_set(&params[4], "true");
    } else {
        ngx_str_set(&params[4], "false");
    }

    return ngx_http_media_pg_query(r, &ngx_http_media_sql_tus_take, params,
                                   handler, t);
}


/*
 * media_tus_take's verdict: NGX_OK with the upload's numbers in t, or
 * NGX_DECLINED with the refusal sent and its rc in *rc.
 */
static ngx_int_t
ngx_http_media_tus_verdict(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_http_media_tus_t *t, ngx_int_t *rc)
{
    u_char      date[MEDIA_TUS_DATE_LEN + 1];
    ngx_str_t  *v, *n;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        *rc = ngx_http_media_pg_failed(r, res, "media tus take");
        return NGX_DECLINED;
    }

    v = ngx_http_media_pg_value(res, 0, 0);

    if (v->len == 9 && ngx_strncmp(v->data, "not_found", 9) == 0) {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "no such upload: it finished, "
                                        "expired or was terminated, or is "
                                        "not yours");
        return NGX_DECLINED;
    }

    n = ngx_http_media_pg_value(res, 0, 3);
    t->expires = ngx_atotm(n->data, n->len);
    n = ngx_http_media_pg_value(res, 0, 2);
    t->length = ngx_atoof(n->data, n->len);
    t->reservation = *ngx_http_media_pg_value(res, 0, 8);
    t->filename = *ngx_http_media_pg_value(res, 0, 6);
    t->filetype = *ngx_http_media_pg_value(res, 0, 7);
    t->draft = ngx_http_media_pg_value(res, 0, 9)->len
               && ngx_http_media_pg_value(res, 0, 9)->data[0] == 't';

    n = ngx_http_media_pg_value(res, 0, 1);

    if (v->len == 7 && ngx_strncmp(v->data, "expired", 7) == 0) {
        date[media_tus_http_date((char *) date, t->expires)] = '\0';

        *rc = ngx_http_media_send_error(r, NGX_HTTP_MEDIA_GONE,
                                        "tus_expired", "the upload expired "
                                        "at %s (media_tus_expires after it "
                                        "began); start a new one", date);
        return NGX_DECLINED;
    }

    if (v->len == 6 && ngx_strncmp(v->data, "leased", 6) == 0) {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_MEDIA_LOCKED,
                                        "tus_locked", "another PATCH is "
                                        "appending to this upload; send "
                                        "yours once it ends");
        return NGX_DECLINED;
    }

    if (v->len == 6 && ngx_strncmp(v->data, "offset", 6) == 0) {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "tus_offset",
                                        "Upload-Offset is %O but the upload "
                                        "is at %V; ask HEAD and send from "
                                        "there", t->offset, n);
        return NGX_DECLINED;
    }

    if (v->len == 8 && ngx_strncmp(v->data, "too_long", 8) == 0) {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "too_long", "these %O bytes at %O "
                                        "pass the Upload-Length of %O",
                                        t->bytes, t->offset, t->length);
        return NGX_DECLINED;
    }

    t->offset = ngx_atoof(n->data, n->len);

    return NGX_OK;
}


/* 201 (POST), 200 (HEAD) or 204 (PATCH), with the upload's headers */
static ngx_int_t
ngx_http_media_tus_answer(ngx_http_request_t *r, ngx_http_media_tus_t *t,
    ngx_str_t *media_id)
{
    u_char      date[MEDIA_TUS_DATE_LEN + 1];
    ngx_uint_t  status;

    date[media_tus_http_date((char *) date, t->expires)] = '\0';

    if (ngx_http_media_tus_header(r, "Upload-Offset", "%O", t->offset)
        != NGX_OK
        || ngx_http_media_tus_header(r, "Upload-Expires", "%s", date)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the media the upload became: POST keeps Location for the upload */
    if (media_id
        && (ngx_http_media_tus_header(r, "Media-Id", "%V", media_id)
            != NGX_OK
            || (!t->created
                && ngx_http_media_tus_header(r, "Location",
                                             "/api/v1/media/%V", media_id)
                   != NGX_OK)))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (t->created) {
        status = NGX_HTTP_CREATED;

    } else if (r->method == NGX_HTTP_HEAD) {
        status = NGX_HTTP_OK;

    } else {
        status = NGX_HTTP_NO_CONTENT;
    }

    return ngx_http_media_send_empty(r, status);
}


static ngx_int_t
ngx_http_media_tus_header(ngx_http_request_t *r, const char *name,
    const char *fmt, ...)
{
    u_char     *p;
    va_list     args;
    ngx_str_t   value;

    p = ngx_pnalloc(r->pool, 256 + MEDIA_TUS_METADATA_MAX);
    if (p == NULL) {
        return NGX_ERROR;
    }

    va_start(args, fmt);
    value.len = ngx_vslprintf(p, p + 256 + MEDIA_TUS_METADATA_MAX, fmt, args)
                - p;
    va_end(args);

    value.data = p;

    return ngx_http_media_add_header(r, name, &value);
}


/* <media_storage>/uploads/<id>.tus */
static ngx_int_t
ngx_http_media_tus_path(ngx_http_request_t *r, ngx_http_media_tus_t *t)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (t->id.len != 36
        || mmcf->storage.len + sizeof("/" MEDIA_DIR_UPLOADS "/.tus") + 36
           > sizeof(t->file))
    {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) t->file, "%V/" MEDIA_DIR_UPLOADS "/%V.tus%Z",
                &mmcf->storage, &t->id);

    return NGX_OK;
}
