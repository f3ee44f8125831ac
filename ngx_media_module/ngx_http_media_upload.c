/*
 * POST /api/v1/media: an upload becomes a media row, a job row and a
 * stream entry.
 *
 *   the quota gate: the plan's media count and storage, with this upload's
 *      Content-Length reserved (402 otherwise), before the body is read
 *   nginx reads the body into <media_storage>/tmp (never into memory)
 *   -> ingest, on the thread pool: a raw body is renamed to
 *      uploads/<id>; a multipart body is parsed as a stream and its "file"
 *      part written to uploads/<id>; either way the first bytes must look
 *      like a media container (else 415)
 *   -> one statement inserts the media and its transcode job, and settles
 *      the reservation (the media row now counts its real size)
 *   -> XADD media:transcode * job <job id>
 *   -> 202 {media, job}
 *
 * If Redis does not take the entry, the upload still succeeds: the job row
 * says queued, and the reconciler enqueues what the rows say is pending.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include <openssl/rand.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_upload.h"
#include "media_multipart.h"
#include "media_sniff.h"
#include "media_utf8.h"


/* characters, as the database counts them (media.title, source_name) */
#define NGX_HTTP_MEDIA_TITLE_MAX  200
#define NGX_HTTP_MEDIA_NAME_MAX   255


typedef struct {
    ngx_http_request_t   *request;
    char                  id[37];              /* the new media's uuid */
    char                  reservation[37];     /* storage held, or "" */
    char                  boundary[MEDIA_MULTIPART_MAX_BOUNDARY + 1];
    char                  src[NGX_MAX_PATH];   /* the body's temp file */
    char                  dst[NGX_MAX_PATH];   /* uploads/<id> */
    char                  part[NGX_MAX_PATH];  /* uploads/<id>.part */
    char                  title[NGX_HTTP_MEDIA_TITLE_MAX * 4];
    ngx_str_t             content_type;        /* NULL data: none */
    ngx_uint_t            draft;
    ngx_http_media_upload_stored_pt  stored;
    void                 *stored_data;
    size_t                title_len;
    char                  filename[MEDIA_MULTIPART_NAME_MAX];
    size_t                filename_len;        /* safe UTF-8, cut whole */
    unsigned char         head[MEDIA_SNIFF_LEN];
    size_t                head_len;
    const char           *format;              /* sniffed container */
    off_t                 size;
    int                   fd;                  /* the part being written */
    unsigned              in_file:1;
    unsigned              in_title:1;
    unsigned              seen_file:1;

    /* the thread's verdict, for the event loop */
    ngx_uint_t            status;              /* 0: accepted */
    const char           *code;
    const char           *field;
    char                  message[256];
    ngx_err_t             err;
} ngx_http_media_upload_t;


static void ngx_http_media_ingest(void *data, ngx_log_t *log);
static void ngx_http_media_ingest_raw(ngx_http_media_upload_t *u);
static void ngx_http_media_ingest_multipart(ngx_http_media_upload_t *u);
static int ngx_http_media_part_begin(void *data,
    const media_multipart_part_t *part);
static int ngx_http_media_part_chunk(void *data, const unsigned char *p,
    size_t len);
static int ngx_http_media_part_end(void *data);
static ngx_int_t ngx_http_media_title_check(ngx_http_media_upload_t *u,
    u_char *p, size_t len);
static void ngx_http_media_upload_refuse(ngx_http_media_upload_t *u,
    ngx_uint_t status, const char *code, const char *fmt, ...);
static void ngx_http_media_upload_reserved(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_ingested(ngx_event_t *ev);
static void ngx_http_media_upload_released(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_upload_refused(ngx_http_request_t *r,
    ngx_http_media_upload_t *u);
static void ngx_http_media_upload_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_upload_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_uuid(char *out);


static const media_multipart_cb_t  ngx_http_media_part_cb = {
    ngx_http_media_part_begin,
    ngx_http_media_part_chunk,
    ngx_http_media_part_end
};


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_reserve =
    ngx_http_media_pg_stmt("upload_reserve", 2,
        "SELECT reservation, quantity, used, limit_value, plan, lifted_by"
        " FROM media_storage_reserve($1, $2)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_release =
    ngx_http_media_pg_stmt("upload_release", 1,
        "DELETE FROM storage_reservations WHERE id = $1");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_insert =
    ngx_http_media_pg_stmt("upload_insert", 10,
        "WITH m AS ("
        "  INSERT INTO media (id, owner_id, title, content_type,"
        "                     source_size, source_name, source_format,"
        "                     draft_privacy)"
        "  VALUES ($1, $2, $3, $4, $5, $6, $7,"
        "          CASE WHEN $10::boolean THEN 'public' END)"
        "  RETURNING id, title, status, privacy, created_at),"
        " j AS ("
        "  INSERT INTO jobs (type, media_id, user_id, payload)"
        "  SELECT 'transcode', id, $2,"
        "         jsonb_build_object('source', $8::text) FROM m"
        "  RETURNING id, status, progress, attempts),"
        " settled AS ("
        "  DELETE FROM storage_reservations WHERE id = $9)"
        " SELECT m.id, m.title, m.status, m.privacy,"
        "        media_iso8601(m.created_at),"
        "        j.id, j.status, j.progress, j.attempts"
        "   FROM m, j");


typedef struct {
    ngx_http_client_body_handler_pt   next;
} ngx_http_media_gate_t;


ngx_int_t
ngx_http_media_upload_gate(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt next)
{
    ngx_str_t               params[2];
    ngx_http_media_ctx_t   *ctx;
    ngx_http_media_gate_t  *gate;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    /* ?draft=1: its owner's only until published (sql/025) */
    if (ngx_http_media_upload_draft(r) == NGX_ERROR) {
        return ngx_http_media_field_error(r, "draft", "draft must be 1 or "
                                          "true (a draft: yours only until "
                                          "published), 0 or false");
    }

    gate = ngx_palloc(r->pool, sizeof(ngx_http_media_gate_t));
    params[1].data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (gate == NULL || params[1].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    gate->next = next;
    params[0] = ctx->user->id;
    params[1].len = ngx_sprintf(params[1].data, "%O",
                                ngx_max(r->headers_in.content_length_n, 0))
                    - params[1].data;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_reserve, params,
                                ngx_http_media_upload_reserved, gate)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the reference the answer's finalization gives back */
    r->main->count++;

    return NGX_DONE;
}


ngx_int_t
ngx_http_media_upload_draft(ngx_http_request_t *r)
{
    ngx_str_t  v;

    if (ngx_http_arg(r, (u_char *) "draft", 5, &v) != NGX_OK) {
        return 0;
    }

    if ((v.len == 1 && v.data[0] == '1')
        || (v.len == 4 && ngx_strncmp(v.data, "true", 4) == 0))
    {
        return 1;
    }

    if ((v.len == 1 && v.data[0] == '0')
        || (v.len == 5 && ngx_strncmp(v.data, "false", 5) == 0))
    {
        return 0;
    }

    return NGX_ERROR;
}


static void
ngx_http_media_upload_reserved(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_gate_t  *gate = data;

    ngx_int_t              rc;
    ngx_str_t             *id;
    ngx_http_media_ctx_t  *ctx;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media upload quota"));
        return;
    }

    id = ngx_http_media_pg_value(res, 0, 0);

    if (id->data == NULL) {
        ngx_http_finalize_request(r, ngx_http_media_quota_exceeded(r,
            ngx_http_media_pg_value(res, 0, 1),
            ngx_http_media_pg_value(res, 0, 2),
            ngx_http_media_pg_value(res, 0, 3),
            ngx_http_media_pg_value(res, 0, 4),
            ngx_http_media_pg_value(res, 0, 5),
            r->headers_in.content_length_n));
        return;
    }

    /* the reservation's id, for the statement that settles it */
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    ctx->state = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (ctx->state == NULL || id->len != 36) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *(ngx_str_t *) ctx->state = *id;

    rc = ngx_http_read_client_request_body(r, gate->next);

    ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc
                                                                 : NGX_DONE);
}


/*
 * The body is in its temp file (see ngx_http_media_api_handler, which
 * asked for that and checked the size and type).
 */
ngx_int_t
ngx_http_media_upload(ngx_http_request_t *r)
{
    ngx_temp_file_t               *tf;
    ngx_http_media_ctx_t          *ctx;
    ngx_http_media_upload_src_t    src;

    tf = r->request_body ? r->request_body->temp_file : NULL;

    if (tf == NULL || tf->file.offset == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "body_required", "the upload is "
                                         "empty: send the file as the body "
                                         "or as the multipart field \"file\"");
    }

    ngx_memzero(&src, sizeof(ngx_http_media_upload_src_t));

    src.path = tf->file.name;
    src.size = tf->file.offset;
    src.content_type = r->headers_in.content_type->value;
    src.multipart = 1;
    src.draft = ngx_http_media_upload_draft(r) == 1;

    /* ngx_http_media_upload_gate left the reservation's id */
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    if (ctx->state) {
        src.reservation = *(ngx_str_t *) ctx->state;
        ctx->state = NULL;
    }

    return ngx_http_media_upload_store(r, &src);
}


/*
 * A whole file in media_storage becomes a media: on the thread pool it is
 * sniffed and moved to uploads/<media id> (a multipart body is parsed and
 * its "file" part written there), then the media and job rows are written
 * and the job queued.  Each way of uploading ends here.
 */
ngx_int_t
ngx_http_media_upload_store(ngx_http_request_t *r,
    ngx_http_media_upload_src_t *src)
{
    ngx_http_media_upload_t      *u;
    ngx_http_media_main_conf_t   *mmcf;
#if (NGX_THREADS)
    ngx_thread_task_t            *task;
#endif

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

#if (NGX_THREADS)
    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_media_upload_t));
    if (task == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u = task->ctx;
    u->request = r;
    u->fd = -1;
    u->size = src->size;
    u->content_type = src->content_type;
    u->draft = src->draft;
    u->stored = src->stored;
    u->stored_data = src->data;
    ngx_http_media_uuid(u->id);

    if (src->reservation.len == 36) {
        ngx_memcpy(u->reservation, src->reservation.data, 36);
    }

    if (!src->multipart || src->content_type.data == NULL
        || media_multipart_boundary((char *) src->content_type.data,
                                    src->content_type.len, u->boundary,
                                    sizeof(u->boundary))
           != 0)
    {
        u->boundary[0] = '\0';
    }

    if (src->path.len >= sizeof(u->src)
        || mmcf->storage.len + sizeof("/" MEDIA_DIR_UPLOADS "/.part") + 36
           >= sizeof(u->dst))
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a name the client gave (tus' filename), kept as a safe name */
    if (src->filename.len) {
        u->filename_len = media_utf8_safe((u_char *) u->filename,
                                          src->filename.data,
                                          ngx_min(src->filename.len,
                                                  sizeof(u->filename)));
        u->filename_len = media_utf8_prefix((u_char *) u->filename,
                                            u->filename_len,
                                            NGX_HTTP_MEDIA_NAME_MAX);
    }

    ngx_cpystrn((u_char *) u->src, src->path.data, src->path.len + 1);
    ngx_sprintf((u_char *) u->dst, "%V/" MEDIA_DIR_UPLOADS "/%s%Z",
                &mmcf->storage, u->id);
    ngx_sprintf((u_char *) u->part, "%s.part%Z", u->dst);

    if (ngx_http_media_thread_post(r, task, ngx_http_media_ingest,
                                   ngx_http_media_ingested, u)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
#else
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
#endif
}


/* in a pool thread: files only, no nginx structures */
static void
ngx_http_media_ingest(void *data, ngx_log_t *log)
{
    ngx_http_media_upload_t  *u = data;

    if (u->boundary[0]) {
        ngx_http_media_ingest_multipart(u);
    } else {
        ngx_http_media_ingest_raw(u);
    }

    if (u->status == 0) {
        u->format = media_sniff(u->head, u->head_len);

        if (u->format == NULL) {
            ngx_http_media_upload_refuse(u, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "not_media", "the file is not audio "
                                         "or video in any container this "
                                         "server reads");
            (void) unlink(u->dst);
        }
    }
}


static void
ngx_http_media_ingest_raw(ngx_http_media_upload_t *u)
{
    int      fd;
    ssize_t  n;

    fd = open(u->src, O_RDONLY);
    if (fd == -1) {
        u->err = errno;
        ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "open the received body");
        return;
    }

    n = read(fd, u->head, sizeof(u->head));
    close(fd);

    if (n < 0) {
        u->err = errno;
        ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "read the received body");
        return;
    }

    u->head_len = (size_t) n;

    /* same filesystem (media_storage/tmp): a metadata change, not a copy */
    if (rename(u->src, u->dst) == -1) {
        u->err = errno;
        ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "move the upload into "
                                     "media_storage/uploads");
    }
}


static void
ngx_http_media_ingest_multipart(ngx_http_media_upload_t *u)
{
    int                 in;
    ssize_t             n;
    media_multipart_t  *mp;
    u_char              buf[65536];

    mp = media_multipart_new(u->boundary, &ngx_http_media_part_cb, u);
    if (mp == NULL) {
        ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "out of memory");
        return;
    }

    in = open(u->src, O_RDONLY);
    if (in == -1) {
        u->err = errno;
        ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "open the received body");
        media_multipart_free(mp);
        return;
    }

    /* constant memory, whatever the size: one buffer at a time */
    for ( ;; ) {
        n = read(in, buf, sizeof(buf));

        if (n < 0) {
            u->err = errno;
            ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "internal", "read the received "
                                         "body");
            break;
        }

        if (n == 0) {
            if (media_multipart_finish(mp) != 0 && u->status == 0) {
                ngx_http_media_upload_refuse(u, NGX_HTTP_BAD_REQUEST,
                                             "invalid_multipart",
                                             "multipart body: %s",
                                             media_multipart_error(mp));
            }
            break;
        }

        if (media_multipart_feed(mp, buf, (size_t) n) != 0) {
            if (u->status == 0) {
                ngx_http_media_upload_refuse(u, NGX_HTTP_BAD_REQUEST,
                                             "invalid_multipart",
                                             "multipart body: %s",
                                             media_multipart_error(mp));
            }
            break;
        }
    }

    close(in);
    media_multipart_free(mp);

    if (u->fd != -1) {
        close(u->fd);
        u->fd = -1;
    }

    if (u->status == 0 && !u->seen_file) {
        u->field = "file";
        ngx_http_media_upload_refuse(u, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                     "invalid_field", "file is required: "
                                     "send the media as the multipart field "
                                     "\"file\"");
    }

    if (u->status == 0 && rename(u->part, u->dst) == -1) {
        u->err = errno;
        ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "internal", "move the upload into "
                                     "place");
    }

    if (u->status) {
        (void) unlink(u->part);
    }
}


static int
ngx_http_media_part_begin(void *data, const media_multipart_part_t *part)
{
    ngx_http_media_upload_t  *u = data;

    if (ngx_strcmp(part->name, "file") == 0) {
        if (u->seen_file) {
            u->field = "file";
            ngx_http_media_upload_refuse(u, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                         "invalid_field", "send one file "
                                         "per upload");
            return -1;
        }

        u->fd = open(u->part, O_WRONLY|O_CREAT|O_EXCL, 0644);
        if (u->fd == -1) {
            u->err = errno;
            ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "internal", "create the upload "
                                         "file");
            return -1;
        }

        /* any bytes a browser sent, kept as a safe name */
        u->filename_len = media_utf8_safe((u_char *) u->filename,
                                          (u_char *) part->filename,
                                          ngx_strlen(part->filename));
        u->filename_len = media_utf8_prefix((u_char *) u->filename,
                                            u->filename_len,
                                            NGX_HTTP_MEDIA_NAME_MAX);
        u->seen_file = 1;
        u->in_file = 1;
        u->size = 0;
        return 0;
    }

    if (ngx_strcmp(part->name, "title") == 0) {
        u->in_title = 1;
        u->title_len = 0;
    }

    /* other fields are ignored */
    return 0;
}


static int
ngx_http_media_part_chunk(void *data, const unsigned char *p, size_t len)
{
    ngx_http_media_upload_t  *u = data;

    size_t   n;
    ssize_t  w;

    if (u->in_title) {
        if (u->title_len + len > sizeof(u->title)) {
            u->field = "title";
            ngx_http_media_upload_refuse(u, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                         "invalid_field", "title is too "
                                         "long: at most %d characters",
                                         NGX_HTTP_MEDIA_TITLE_MAX);
            return -1;
        }

        ngx_memcpy(u->title + u->title_len, p, len);
        u->title_len += len;
        return 0;
    }

    if (!u->in_file) {
        return 0;
    }

    if (u->head_len < sizeof(u->head)) {
        n = ngx_min(len, sizeof(u->head) - u->head_len);
        ngx_memcpy(u->head + u->head_len, p, n);
        u->head_len += n;
    }

    while (len) {
        w = write(u->fd, p, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            u->err = errno;

            /* the client may try again once there is room: not a 500 */
            if (u->err == NGX_ENOSPC || u->err == EDQUOT) {
                ngx_http_media_upload_refuse(u, NGX_HTTP_INSUFFICIENT_STORAGE,
                                             "storage_full", "the server's "
                                             "storage is full, so the upload "
                                             "was not kept; try again later");
                return -1;
            }

            ngx_http_media_upload_refuse(u, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "internal", "write the upload");
            return -1;
        }
        p += w;
        len -= (size_t) w;
        u->size += w;
    }

    return 0;
}


static int
ngx_http_media_part_end(void *data)
{
    ngx_http_media_upload_t  *u = data;

    if (u->in_title) {
        u->in_title = 0;

        if (ngx_http_media_title_check(u, (u_char *) u->title, u->title_len)
            != NGX_OK)
        {
            return -1;
        }
    }

    u->in_file = 0;
    return 0;
}


/* a title is UTF-8 text of at most NGX_HTTP_MEDIA_TITLE_MAX characters */
static ngx_int_t
ngx_http_media_title_check(ngx_http_media_upload_t *u, u_char *p, size_t len)
{
    u->field = "title";

    if (!media_utf8_valid(p, len)) {
        ngx_http_media_upload_refuse(u, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                     "invalid_field", "title is not UTF-8 "
                                     "text (or holds a control character); "
                                     "send it UTF-8 encoded");
        return NGX_ERROR;
    }

    if (media_utf8_chars(p, len) > NGX_HTTP_MEDIA_TITLE_MAX) {
        ngx_http_media_upload_refuse(u, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                     "invalid_field", "title is too long: "
                                     "at most %d characters",
                                     NGX_HTTP_MEDIA_TITLE_MAX);
        return NGX_ERROR;
    }

    u->field = NULL;

    return NGX_OK;
}


static void
ngx_http_media_upload_refuse(ngx_http_media_upload_t *u, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    va_list  args;

    if (u->status) {
        return;        /* the first reason stands */
    }

    u->status = status;
    u->code = code;

    va_start(args, fmt);
    ngx_vslprintf((u_char *) u->message,
                  (u_char *) u->message + sizeof(u->message) - 1, fmt, args);
    va_end(args);
}


/* back on the event loop */
static void
ngx_http_media_ingested(ngx_event_t *ev)
{
    ngx_http_media_upload_t  *u = ev->data;

    ngx_str_t                     params[10];
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_http_media_ctx_t         *ctx;

    r = u->request;
    c = r->connection;
    r->main->blocked--;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (u->status) {
        /* the storage it held is free again before the answer goes */
        params[0].data = (u_char *) u->reservation;
        params[0].len = 36;

        if (u->reservation[0] == '\0'
            || ngx_http_media_pg_query(r, &ngx_http_media_sql_release,
                                       params, ngx_http_media_upload_released,
                                       u)
               != NGX_OK)
        {
            ngx_http_media_upload_refused(r, u);
        }

        goto done;
    }

    /* the title: the multipart field, else the file's name, else none */
    params[0].data = (u_char *) u->id;
    params[0].len = 36;
    params[1] = ctx->user->id;
    params[2].data = (u_char *) (u->title_len ? u->title : u->filename);
    params[2].len = u->title_len ? u->title_len
                                 : media_utf8_prefix((u_char *) u->filename,
                                                     u->filename_len,
                                                     NGX_HTTP_MEDIA_TITLE_MAX);
    params[3] = u->content_type;
    params[4].data = ngx_pnalloc(r->pool, NGX_OFF_T_LEN);
    if (params[4].data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        goto done;
    }
    params[4].len = ngx_sprintf(params[4].data, "%O", u->size)
                    - params[4].data;
    params[5].data = (u_char *) u->filename;
    params[5].len = u->filename_len;
    params[6].data = (u_char *) u->format;
    params[6].len = ngx_strlen(u->format);
    params[7].data = (u_char *) u->dst;
    params[7].len = ngx_strlen(u->dst);

    params[8].data = (u_char *) u->reservation;
    params[8].len = 36;

    if (params[5].len == 0) {
        params[5].data = NULL;
    }

    if (u->reservation[0] == '\0') {
        params[8].data = NULL;
    }

    if (u->draft) {
        ngx_str_set(&params[9], "true");
    } else {
        ngx_str_set(&params[9], "false");
    }

    /* the media and its job in one statement: both or neither */
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_insert,
            params, ngx_http_media_upload_stored, u)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

done:

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_media_upload_released(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_upload_t  *u = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        /* it stops counting when it expires */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media upload: the storage reservation %s stays until "
                      "it expires: %V, request_id: %V", u->reservation,
                      &res->error, ngx_http_media_request_id(r));
    }

    ngx_http_media_upload_refused(r, u);
}


/* the thread's verdict on a body it did not take */
static void
ngx_http_media_upload_refused(ngx_http_request_t *r,
    ngx_http_media_upload_t *u)
{
    if (u->status == NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, u->err,
                      "media upload: %s, request_id: %V", u->message,
                      ngx_http_media_request_id(r));
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                  "the upload could not be stored; quote the "
                                  "request id when reporting it"));
        return;
    }

    if (u->status == NGX_HTTP_INSUFFICIENT_STORAGE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, u->err,
                      "media upload: storage full writing \"%s\", "
                      "request_id: %V", u->part,
                      ngx_http_media_request_id(r));
    }

    ngx_http_finalize_request(r, u->field
        ? ngx_http_media_field_error(r, u->field, "%s", u->message)
        : ngx_http_media_send_error(r, u->status, u->code, "%s",
                                    u->message));
}


static void
ngx_http_media_upload_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_upload_t  *u = data;

    ngx_http_media_pg_result_t  *row;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        (void) unlink(u->dst);

        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media upload store"));
        return;
    }

    /* res lives on the caller's stack; its values are in the pool */
    row = ngx_palloc(r->pool, sizeof(ngx_http_media_pg_result_t));
    if (row == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    *row = *res;
    ((ngx_http_media_ctx_t *) ngx_http_get_module_ctx(r,
                                   ngx_http_media_module))->state = row;

    if (ngx_http_media_redis_enqueue(r, MEDIA_STREAM_TRANSCODE,
                                     ngx_http_media_pg_value(row, 0, 5),
                                     ngx_http_media_upload_queued, u)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_upload_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_upload_t  *u = data;

    yajl_gen                     g;
    ngx_uint_t                   i;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_pg_result_t  *row;

    static const char  *media_cols[] = { "id", "title", "status", "privacy",
                                         "created_at" };
    static const char  *job_cols[] = { "id", "status", "progress",
                                       "attempts" };

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    row = ctx->state;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        /* the row is queued; the reconciler will enqueue it */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media upload queue: XADD failed (%V); the job waits "
                      "for the reconciler, request_id: %V", &res->str,
                      ngx_http_media_request_id(r));
    }

    if (u->stored) {
        u->stored(r, ngx_http_media_pg_value(row, 0, 0), u->stored_data);
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);

    yajl_gen_string(g, (const unsigned char *) "media", 5);
    yajl_gen_map_open(g);
    for (i = 0; i < 5; i++) {
        ngx_http_media_json_str(g, media_cols[i],
                                ngx_http_media_pg_value(row, 0, i));
    }
    yajl_gen_string(g, (const unsigned char *) "kind", 4);
    yajl_gen_null(g);
    yajl_gen_map_close(g);

    yajl_gen_string(g, (const unsigned char *) "job", 3);
    yajl_gen_map_open(g);
    for (i = 0; i < 4; i++) {
        ngx_str_t  *v = ngx_http_media_pg_value(row, 0, 5 + i);

        yajl_gen_string(g, (const unsigned char *) job_cols[i],
                        ngx_strlen(job_cols[i]));
        if (i >= 2) {
            yajl_gen_number(g, (const char *) v->data, v->len);
        } else {
            yajl_gen_string(g, v->data, v->len);
        }
    }
    yajl_gen_map_close(g);

    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_ACCEPTED,
                                                         g));
}


/* a random (version 4) UUID, as text */
static void
ngx_http_media_uuid(char *out)
{
    u_char  b[16];

    if (RAND_bytes(b, sizeof(b)) != 1) {
        ngx_memzero(b, sizeof(b));
    }

    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;

    ngx_sprintf((u_char *) out,
                "%02xd%02xd%02xd%02xd-%02xd%02xd-%02xd%02xd-%02xd%02xd-"
                "%02xd%02xd%02xd%02xd%02xd%02xd%Z",
                b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
                b[10], b[11], b[12], b[13], b[14], b[15]);
}
