/*
 * Pictures.
 *
 *   media answers carry "pictures": the URLs of the cover art (512 and 128
 *       pixels), the poster, the thumbnail strip (a WebVTT track and its
 *       sprite) and the waveform, on the playback token path, signed with a
 *       pictures-only token;
 *   PUT /api/v1/media/{id}/cover  -> 202 {media_id, job}: a JPEG or PNG
 *       body (told by its bytes), at most 10 MB and 8000x8000 pixels,
 *       kept as <media_storage>/covers/<id> and made into the two sizes by
 *       a cover job (the transcoder, between transcodes);
 *   PUT /api/v1/me/avatar  -> 202 {job}: the same checks and pipeline for
 *       the caller's avatar, kept as covers/avatar-<user id> and made into
 *       avatars/<key>-256.jpg and -64.jpg by a cover job without a media
 *       (payload {"avatar": <key>}, a new key each upload: a new URL).
 *
 * The owner is checked before the body is read; the body goes to a temp
 * file, its header is read and the file renamed into place on the thread
 * pool, never in the event loop.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_thread_pool.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_pictures.h"
#include "ngx_http_media_s3.h"
#include "media_picture.h"
#include "media_token.h"


#define NGX_HTTP_MEDIA_PICTURES_BUCKET  3600   /* s: URLs last this long */


typedef struct {
    ngx_http_request_t   *request;
    ngx_uint_t            avatar;              /* PUT /me/avatar */
    char                  src[NGX_MAX_PATH];   /* the body's temp file */
    char                  dir[NGX_MAX_PATH];   /* media_storage/covers */
    char                  dst[NGX_MAX_PATH];   /* .../covers/<id> */
    u_char               *head;
    size_t                head_len;
    media_picture_t       pic;
    media_picture_rc_e    prc;
    ngx_err_t             err;
    const char           *step;                /* what failed, with err */
} ngx_http_media_cover_t;


static ngx_int_t ngx_http_media_pictures_sign(ngx_http_request_t *r,
    ngx_str_t *id, ngx_str_t *state, ngx_uint_t *bits, ngx_uint_t *version,
    u_char **base, size_t *len);
static void ngx_http_media_pictures_url(yajl_gen g, const char *key,
    ngx_uint_t present, u_char *base, size_t base_len, const char *file,
    ngx_uint_t version);
static void ngx_http_media_cover_owned(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_cover_body(ngx_http_request_t *r);
static void ngx_http_media_cover_read(void *data, ngx_log_t *log);
static void ngx_http_media_cover_checked(ngx_event_t *ev);
static ngx_int_t ngx_http_media_cover_check(ngx_http_request_t *r,
    const char *what);
static void ngx_http_media_cover_read_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_cover_refuse(ngx_http_request_t *r,
    ngx_http_media_cover_t *c);
static void ngx_http_media_cover_recorded(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_cover_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static ngx_int_t ngx_http_media_avatar_file(ngx_http_request_t *r);


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_cover_owned =
    ngx_http_media_pg_stmt("pictures_cover_owned", 2,
        "SELECT 1 FROM media"
        " WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL");

/* an avatar's job: its key made here, shown when the job is done */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_avatar_job =
    ngx_http_media_pg_stmt("pictures_avatar_job", 1,
        "INSERT INTO jobs (type, user_id, payload)"
        " VALUES ('cover', $1, json_build_object('avatar',"
        "         replace(gen_random_uuid()::text, '-', '')))"
        " RETURNING id");

/* the new version and the job in one statement: the file is in place */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_cover_job =
    ngx_http_media_pg_stmt("pictures_cover_job", 2,
        "WITH m AS ("
        "  UPDATE media SET cover_version = cover_version + 1,"
        "                   cover_source = 'upload'"
        "   WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL"
        "  RETURNING id, owner_id)"
        " INSERT INTO jobs (type, media_id, user_id)"
        " SELECT 'cover', id, owner_id FROM m RETURNING id");


/* URLs in media answers ---------------------------------------------------- */

void
ngx_http_media_pictures_json(ngx_http_request_t *r, yajl_gen g, ngx_str_t *id,
    ngx_str_t *state)
{
    size_t       len;
    u_char      *base;
    ngx_uint_t   bits, version;

    yajl_gen_string(g, (const unsigned char *) "pictures", 8);

    if (ngx_http_media_pictures_sign(r, id, state, &bits, &version, &base,
                                     &len)
        != NGX_OK)
    {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_media_pictures_url(g, "cover_512", bits & MEDIA_PIC_COVER, base,
                                len, "cover-512.jpg", version);
    ngx_http_media_pictures_url(g, "cover_128", bits & MEDIA_PIC_COVER, base,
                                len, "cover-128.jpg", version);
    ngx_http_media_pictures_url(g, "poster", bits & MEDIA_PIC_POSTER, base,
                                len, "poster.jpg", 0);
    ngx_http_media_pictures_url(g, "thumbnails", bits & MEDIA_PIC_THUMBS,
                                base, len, "thumbs.vtt", 0);
    ngx_http_media_pictures_url(g, "thumbnails_sprite",
                                bits & MEDIA_PIC_THUMBS, base, len,
                                "thumbs.jpg", 0);
    ngx_http_media_pictures_url(g, "waveform", bits & MEDIA_PIC_WAVEFORM,
                                base, len, "waveform.json", 0);
    yajl_gen_map_close(g);
}


ngx_int_t
ngx_http_media_pictures_path(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *state, ngx_uint_t bit, ngx_str_t *url)
{
    size_t       len;
    u_char      *base, *p;
    ngx_uint_t   bits, version;

    ngx_str_null(url);

    if (ngx_http_media_pictures_sign(r, id, state, &bits, &version, &base,
                                     &len)
        != NGX_OK
        || !(bits & bit))
    {
        return NGX_DECLINED;
    }

    switch (bit) {

    case MEDIA_PIC_COVER:
        p = ngx_sprintf(base + len, "cover-512.jpg?v=%ui", version);
        break;

    case MEDIA_PIC_POSTER:
        p = ngx_cpymem(base + len, "poster.jpg", sizeof("poster.jpg") - 1);
        break;

    case MEDIA_PIC_WAVEFORM:
        p = ngx_cpymem(base + len, "waveform.json",
                       sizeof("waveform.json") - 1);
        break;

    default:
        return NGX_DECLINED;
    }

    url->data = base;
    url->len = p - base;

    return NGX_OK;
}


/*
 * The pictures' common part, <location><token>/<id>/, signed with a
 * pictures-only token (in base, with room after len for the longest file
 * name and query), and the state's bits and cover version; NGX_DECLINED
 * when there is none to sign (no media_url_key, a state or id unread)
 */
static ngx_int_t
ngx_http_media_pictures_sign(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *state, ngx_uint_t *bits, ngx_uint_t *version, u_char **base,
    size_t *len)
{
    size_t                       n;
    u_char                      *p, *colon;
    time_t                       exp;
    ngx_int_t                    b, v;
    media_token_t                t;
    ngx_http_media_main_conf_t  *mmcf;
    char                         token[MEDIA_TOKEN_LEN + 1];

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    colon = state && state->data
            ? ngx_strlchr(state->data, state->data + state->len, ':') : NULL;

    b = colon ? ngx_atoi(state->data, colon - state->data) : NGX_ERROR;
    v = colon ? ngx_atoi(colon + 1, state->data + state->len - colon - 1)
              : NGX_ERROR;

    ngx_memzero(&t, sizeof(media_token_t));

    if (mmcf->url_nkeys == 0 || b == NGX_ERROR || v == NGX_ERROR
        || id->len != 36
        || media_uuid_parse((char *) id->data, 36, t.media) != 0)
    {
        return NGX_DECLINED;
    }

    /* the same URL for an hour (cacheable), and at least a playback
     * URL's life */
    exp = ngx_time() + (time_t) (mmcf->url_ttl / 1000);
    exp += NGX_HTTP_MEDIA_PICTURES_BUCKET
           - exp % NGX_HTTP_MEDIA_PICTURES_BUCKET;

    t.expires = (uint32_t) exp;
    t.flags = MEDIA_TOKEN_PICTURES;

    n = media_token_sign(&ngx_http_media_tenant(r)->url_keys[0], &t, token);

    *len = mmcf->hls_location.len + n + 1 + 36 + 1;
    *base = ngx_pnalloc(r->pool, *len + sizeof("cover-512.jpg?v=")
                                 + NGX_INT_T_LEN);
    if (*base == NULL || n == 0) {
        return NGX_DECLINED;
    }

    /* <location><token>/<id>/ (no memcpy from NULL without a location) */
    p = *base;

    if (mmcf->hls_location.len) {
        p = ngx_cpymem(p, mmcf->hls_location.data, mmcf->hls_location.len);
    }

    p = ngx_cpymem(p, token, n);
    *p++ = '/';
    media_uuid_format(t.media, (char *) p);
    p += 36;
    *p++ = '/';

    *bits = (ngx_uint_t) b;
    *version = (ngx_uint_t) v;

    return NGX_OK;
}


/* base + file (+ "?v=N": a new upload is a new URL), or null */
static void
ngx_http_media_pictures_url(yajl_gen g, const char *key, ngx_uint_t present,
    u_char *base, size_t base_len, const char *file, ngx_uint_t version)
{
    u_char  *p;

    yajl_gen_string(g, (const unsigned char *) key, ngx_strlen(key));

    if (!present) {
        yajl_gen_null(g);
        return;
    }

    /* base has room after base_len for the longest file and query */
    p = ngx_cpymem(base + base_len, file, ngx_strlen(file));

    if (version) {
        p = ngx_sprintf(p, "?v=%ui", version);
    }

    yajl_gen_string(g, base, p - base);
}


/* PUT /api/v1/media/{id}/cover -------------------------------------------- */

ngx_int_t
ngx_http_media_cover_put(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_str_t                    params[2];
    ngx_http_media_ctx_t        *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    rc = ngx_http_media_cover_check(r, "cover");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    params[0] = ctx->capture;
    params[1] = ctx->user->id;

    /* someone else's media: 404 before a byte of the body is read */
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_cover_owned, params,
                                ngx_http_media_cover_owned, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the reference the answer's finalization gives back */
    r->main->count++;

    return NGX_DONE;
}


/* PUT /api/v1/me/avatar --------------------------------------------------- */

ngx_int_t
ngx_http_media_avatar_put(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_media_cover_check(r, "avatar");
    if (rc != NGX_DECLINED) {
        return rc;
    }

    r->main->count++;

    ngx_http_media_cover_read_body(r);

    return NGX_DONE;
}


/* the refusals told by the headers alone (their rc), or NGX_DECLINED */
static ngx_int_t
ngx_http_media_cover_check(ngx_http_request_t *r, const char *what)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (r->headers_in.content_length_n <= 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                         "body_required", "send the %s "
                                         "picture (a JPEG or PNG file) as "
                                         "the body", what);
    }

    if (r->headers_in.content_length_n > MEDIA_COVER_MAX_SIZE) {
        return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         what[0] == 'c' ? "cover_too_large"
                                                        : "avatar_too_large",
                                         "the %s is %O "
                                         "bytes; it may hold at most %O "
                                         "bytes (10 MB): save it smaller "
                                         "or as a JPEG", what,
                                         r->headers_in.content_length_n,
                                         (off_t) MEDIA_COVER_MAX_SIZE);
    }

#if !(NGX_THREADS)
    return ngx_http_media_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "not_configured", "picture uploads "
                                     "need an nginx built with threads");
#endif

    if (mmcf->thread_pool == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DECLINED;
}


static void
ngx_http_media_cover_owned(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media cover"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such media"));
        return;
    }

    ngx_http_media_cover_read_body(r);
}


/* the body into a temp file, then ngx_http_media_cover_body */
static void
ngx_http_media_cover_read_body(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    r->request_body_in_file_only = 1;
    r->request_body_in_persistent_file = 1;
    r->request_body_in_clean_file = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_media_cover_body);

    ngx_http_finalize_request(r, rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc
                                                                 : NGX_DONE);
}


/* the body is in its temp file: its header is read on the thread pool */
static void
ngx_http_media_cover_body(ngx_http_request_t *r)
{
#if (NGX_THREADS)
    ngx_temp_file_t              *tf;
    ngx_thread_task_t            *task;
    ngx_http_media_ctx_t         *ctx;
    ngx_http_media_cover_t       *c;
    ngx_http_media_main_conf_t   *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    tf = r->request_body ? r->request_body->temp_file : NULL;

    if (tf == NULL || tf->file.offset == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_BAD_REQUEST, "body_required",
                                  "the %s is empty: send a JPEG or PNG "
                                  "file as the body",
                                  ctx->capture.len ? "cover" : "avatar"));
        return;
    }

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_media_cover_t));
    if (task == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    c = task->ctx;
    c->request = r;

    /* the avatar route has no {id} */
    c->avatar = ctx->capture.len == 0;
    c->head = ngx_pnalloc(r->pool, MEDIA_PICTURE_HEAD);

    if (c->head == NULL || tf->file.name.len >= sizeof(c->src)
        || mmcf->storage.len + sizeof("/" MEDIA_DIR_COVERS "/avatar-") + 36
           >= sizeof(c->dst))
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_cpystrn((u_char *) c->src, tf->file.name.data, tf->file.name.len + 1);
    ngx_sprintf((u_char *) c->dir, "%V/" MEDIA_DIR_COVERS "%Z",
                &mmcf->storage);
    if (c->avatar) {
        ngx_sprintf((u_char *) c->dst, "%s/avatar-%V%Z", c->dir,
                    &ctx->user->id);
    } else {
        ngx_sprintf((u_char *) c->dst, "%s/%V%Z", c->dir, &ctx->capture);
    }

    if (ngx_http_media_thread_post(r, task, ngx_http_media_cover_read,
                                   ngx_http_media_cover_checked, c)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
#else
    ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
#endif
}


/* in a pool thread: files only, no nginx structures */
static void
ngx_http_media_cover_read(void *data, ngx_log_t *log)
{
    ngx_http_media_cover_t  *c = data;

    int      fd;
    ssize_t  n;

    fd = open(c->src, O_RDONLY);
    if (fd == -1) {
        c->err = errno;
        c->step = "open the received body";
        return;
    }

    n = read(fd, c->head, MEDIA_PICTURE_HEAD);
    close(fd);

    if (n < 0) {
        c->err = errno;
        c->step = "read the received body";
        return;
    }

    c->head_len = (size_t) n;
    c->prc = media_picture_probe(c->head, c->head_len, &c->pic);

    if (c->prc != MEDIA_PICTURE_OK
        || c->pic.width > MEDIA_COVER_MAX_SIDE
        || c->pic.height > MEDIA_COVER_MAX_SIDE)
    {
        return;                       /* refused; the temp file goes */
    }

    /* same filesystem (media_storage/tmp): a new inode in one step */
    if (rename(c->src, c->dst) == -1 && errno == ENOENT
        && (mkdir(c->dir, 0755) == 0 || errno == EEXIST))
    {
        (void) rename(c->src, c->dst);
    }

    if (access(c->dst, F_OK) != 0) {
        c->err = errno;
        c->step = "move the cover into media_storage/covers";
    }
}


static void
ngx_http_media_cover_checked(ngx_event_t *ev)
{
    ngx_http_media_cover_t  *c = ev->data;

    ngx_int_t              rc;
    ngx_str_t              params[2];
    ngx_connection_t      *conn;
    ngx_http_request_t    *r;
    ngx_http_media_ctx_t  *ctx;

    r = c->request;
    conn = r->connection;
    r->main->blocked--;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    rc = ngx_http_media_cover_refuse(r, c);

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
        ngx_http_run_posted_requests(conn);
        return;
    }

    params[0] = ctx->capture;
    params[1] = ctx->user->id;

    if (c->avatar) {
        params[0] = ctx->user->id;
    }

    if (ngx_http_media_pg_query(r, c->avatar
                                   ? &ngx_http_media_sql_avatar_job
                                   : &ngx_http_media_sql_cover_job,
                                params, ngx_http_media_cover_recorded, NULL)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(conn);
}


/* the refusal sent (its rc), or NGX_DECLINED when the cover is in place */
static ngx_int_t
ngx_http_media_cover_refuse(ngx_http_request_t *r, ngx_http_media_cover_t *c)
{
    const char  *what;

    what = c->avatar ? "avatar" : "cover";

    if (c->step) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, c->err,
                      "media cover: %s failed, request_id: %V", c->step,
                      ngx_http_media_request_id(r));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (c->prc) {

    case MEDIA_PICTURE_NOT:
        return ngx_http_media_send_error(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         "unsupported_media_type", "a %s "
                                         "is a JPEG or PNG picture, and this "
                                         "file is neither (told by its bytes, "
                                         "not its Content-Type): save it as "
                                         "JPEG or PNG", what);

    case MEDIA_PICTURE_BROKEN:
        return ngx_http_media_send_error(r, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                         "unreadable_picture", "the %s "
                                         "file's header is damaged: save "
                                         "the picture again and upload that",
                                         c->pic.type);

    case MEDIA_PICTURE_FAR:
        return ngx_http_media_send_error(r, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                         "unreadable_picture", "the JPEG's "
                                         "size is not within its first %d "
                                         "bytes (metadata comes first): save "
                                         "it again without metadata",
                                         MEDIA_PICTURE_HEAD);

    default:
        break;
    }

    if (c->pic.width > MEDIA_COVER_MAX_SIDE
        || c->pic.height > MEDIA_COVER_MAX_SIDE)
    {
        return ngx_http_media_send_error(r, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                         "picture_too_large", "the %s is "
                                         "%ulx%ul pixels; at most %dx%d: "
                                         "scale it down (%ss are shown at "
                                         "%d pixels)", what, c->pic.width,
                                         c->pic.height, MEDIA_COVER_MAX_SIDE,
                                         MEDIA_COVER_MAX_SIDE, what,
                                         c->avatar ? 256 : 512);
    }

    return NGX_DECLINED;
}


static void
ngx_http_media_cover_recorded(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media cover job"));
        return;
    }

    /* deleted while the body came: its sweep takes the file */
    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such media"));
        return;
    }

    if (ngx_http_media_redis_enqueue(r, MEDIA_STREAM_COVER,
                                     ngx_http_media_pg_value(res, 0, 0),
                                     ngx_http_media_cover_queued,
                                     ngx_http_media_pg_value(res, 0, 0))
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_cover_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_str_t  *job = data;

    yajl_gen               g;
    ngx_str_t              status;
    ngx_http_media_ctx_t  *ctx;

    /* the row is the truth: a missed XADD is the reconciler's to redo */
    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media cover queue: XADD failed (%V); the job waits "
                      "for the reconciler, request_id: %V", &res->str,
                      ngx_http_media_request_id(r));
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_str_set(&status, "queued");

    yajl_gen_map_open(g);
    if (ctx->capture.len) {
        ngx_http_media_json_str(g, "media_id", &ctx->capture);
    }
    yajl_gen_string(g, (const unsigned char *) "job", 3);
    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "id", job);
    ngx_http_media_json_str(g, "status", &status);
    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r,
                              NGX_HTTP_ACCEPTED, g));
}


/* media_avatars: the avatars' files ---------------------------------------- */

/*
 * Avatars are public (the profiles that show them are), named by a random
 * key: any file of that shape is served, nothing else reaches the files
 * location.  On disk an alias would do as well; in a bucket the request
 * must be signed, which this location does, as media_hls does for
 * renditions.
 */
char *
ngx_http_media_avatars(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_loc_conf_t *mlcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (mlcf->avatar_files.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '/'
        || value[1].data[value[1].len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_avatars \"%V\": expected the "
                           "prefix of the internal location serving "
                           "media_storage/avatars, such as "
                           "\"/_media_avatars/\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/') {
        return "must be in a prefix location ending in \"/\"";
    }

    mlcf->avatar_files = value[1];
    mlcf->avatar_prefix = clcf->name;
    clcf->handler = ngx_http_media_avatar_file;

    return NGX_CONF_OK;
}


/* <location><32 hex digits>-256.jpg or -64.jpg: to the files location */
static ngx_int_t
ngx_http_media_avatar_file(ngx_http_request_t *r)
{
    u_char                      *name, *p;
    size_t                       len;
    ngx_int_t                    rc;
    ngx_str_t                    uri, args;
    ngx_uint_t                   i;
    ngx_http_media_loc_conf_t   *mlcf;
    ngx_http_media_main_conf_t  *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    if (r->uri.len <= mlcf->avatar_prefix.len) {
        return NGX_HTTP_NOT_FOUND;
    }

    name = r->uri.data + mlcf->avatar_prefix.len;
    len = r->uri.len - mlcf->avatar_prefix.len;

    /* the key as the worker names it (sql/026: 32 hex digits) */
    if (!((len == 32 + sizeof("-256.jpg") - 1
           && ngx_strncmp(name + 32, "-256.jpg", 8) == 0)
          || (len == 32 + sizeof("-64.jpg") - 1
              && ngx_strncmp(name + 32, "-64.jpg", 7) == 0)))
    {
        return NGX_HTTP_NOT_FOUND;
    }

    for (i = 0; i < 32; i++) {
        if (!((name[i] >= '0' && name[i] <= '9')
              || (name[i] >= 'a' && name[i] <= 'f')))
        {
            return NGX_HTTP_NOT_FOUND;
        }
    }

    uri.len = mlcf->avatar_files.len + len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(uri.data, mlcf->avatar_files.data, mlcf->avatar_files.len);
    ngx_memcpy(p, name, len);

    /* media_storage s3://: the files location proxies to the bucket */
    ngx_str_null(&args);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->s3
        && ngx_http_media_s3_args(r, MEDIA_DIR_AVATARS "/", p, len, &args)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_internal_redirect(r, &uri, args.len ? &args : NULL);
}
