/*
 * Exports and enhance presets.
 *
 *   POST /api/v1/media/{id}/exports {format, codec?, bitrate?,
 *        sample_rate?, audio_only?, enhance?}
 *      the body is checked against the format's table (media_export.c:
 *      422 naming the field and what it may be)
 *   -> the user's rate (Redis, 10 a minute: 429 with Retry-After)
 *   -> media_export_begin(): the media (404, 409), the plan's exports a
 *      month (402), counted, and the export and its job written, all
 *      under a lock on the user's row (sql/011_exports_jobs.sql)
 *   -> XADD media:export * job <id>
 *   -> 202 {export, job}
 *
 *   GET /api/v1/exports/{id}, GET /api/v1/media/{id}/exports: the rows as
 *   PostgreSQL writes them (media_export_json), progress live from the job.
 *   DELETE /api/v1/exports/{id}: marked deleted (its bytes stop counting)
 *   and its file removed.
 *   GET /api/v1/enhance/presets: the presets and the formats' table.
 *
 * Someone else's media or export is not there: 404, never 403.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_exports.h"
#include "ngx_http_media_blocked.h"
#include "media_export.h"


#define NGX_HTTP_MEDIA_EXPORT_RATE    10       /* exports a minute */
#define NGX_HTTP_MEDIA_EXPORT_WINDOW  60000    /* ms */

/* media_export_begin's parameters */
#define NGX_HTTP_MEDIA_EXPORT_PARAMS  9


typedef struct {
    ngx_str_t                     params[NGX_HTTP_MEDIA_EXPORT_PARAMS];
    ngx_str_t                     key;          /* the rate's Redis key */
    ngx_http_media_pg_result_t    row;          /* what was made */
    const media_export_format_t  *format;
    ngx_int_t                     rc;           /* a refusal's, when sent */
} ngx_http_media_export_t;


static ngx_int_t ngx_http_media_export_body(ngx_http_request_t *r,
    ngx_http_media_export_t *x);
static ngx_int_t ngx_http_media_export_rates(ngx_http_request_t *r,
    ngx_http_media_export_t *x, const media_export_codec_t *c);
static ngx_int_t ngx_http_media_export_enhance(ngx_http_request_t *r,
    ngx_http_media_export_t *x, ngx_uint_t video);
static ngx_int_t ngx_http_media_export_int(ngx_http_request_t *r,
    ngx_http_media_export_t *x, const char *name, ngx_int_t *n);
static void ngx_http_media_export_limited(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_export_begun(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_export_refused(ngx_http_request_t *r,
    ngx_http_media_export_t *x, ngx_http_media_pg_result_t *res);
static void ngx_http_media_export_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_export_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_export_deleted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_export_wrap(ngx_http_request_t *r,
    ngx_uint_t status, const char *key, ngx_str_t *json);
static ngx_int_t ngx_http_media_export_owned(ngx_http_request_t *r,
    ngx_str_t *params);
static void ngx_http_media_json_rates(yajl_gen g, const char *key,
    const int *list);


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_export_begin =
    ngx_http_media_pg_stmt("export_begin", 9,
        "SELECT refused, detail, quantity, used, limit_value, plan,"
        "       lifted_by, export, job, enqueue"
        " FROM media_export_begin($1, $2, $3, $4, $5, $6, $7, $8, $9)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_export_get =
    ngx_http_media_pg_stmt("export_get", 2,
        "SELECT media_export_json(e) FROM exports e"
        " WHERE e.id = $1 AND e.user_id = $2 AND e.deleted_at IS NULL");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_export_list =
    ngx_http_media_pg_stmt("export_list", 2,
        "SELECT coalesce((SELECT json_agg(media_export_json(e)"
        "                             ORDER BY e.created_at DESC, e.id DESC)"
        "                   FROM exports e"
        "                  WHERE e.media_id = m.id AND e.user_id = $2"
        "                    AND e.deleted_at IS NULL), '[]')"
        " FROM media m"
        " WHERE m.id = $1 AND m.deleted_at IS NULL"
        "   AND (m.owner_id = $2"
        "        OR EXISTS (SELECT 1 FROM entitlements n"
        "                    WHERE n.user_id = $2 AND n.media_id = m.id))");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_export_delete =
    ngx_http_media_pg_stmt("export_delete", 2,
        "UPDATE exports SET deleted_at = now(), status = 'deleted'"
        " WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL"
        " RETURNING id, format");


/* POST /api/v1/media/{id}/exports ---------------------------------------- */

ngx_int_t
ngx_http_media_export_create(ngx_http_request_t *r)
{
    u_char                   *p;
    ngx_http_media_ctx_t     *ctx;
    ngx_http_media_export_t  *x;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    x = ngx_pcalloc(r->pool, sizeof(ngx_http_media_export_t));
    if (x == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_media_export_owned(r, x->params) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    /* media_export_begin($1 user, $2 media, ...): owned gave the reverse */
    x->params[2] = x->params[0];
    x->params[0] = x->params[1];
    x->params[1] = x->params[2];

    if (ngx_http_media_export_body(r, x) != NGX_OK) {
        return x->rc;
    }

    x->key.len = sizeof(MEDIA_KEY_EXPORT_RATE) - 1 + ctx->user->id.len;
    x->key.data = ngx_pnalloc(r->pool, x->key.len);
    if (x->key.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(x->key.data, MEDIA_KEY_EXPORT_RATE,
                   sizeof(MEDIA_KEY_EXPORT_RATE) - 1);
    ngx_memcpy(p, ctx->user->id.data, ctx->user->id.len);

    if (ngx_http_media_redis_limit(r, &x->key, NGX_HTTP_MEDIA_EXPORT_RATE,
                                   NGX_HTTP_MEDIA_EXPORT_WINDOW,
                                   ngx_http_media_export_limited, x)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * The body into params[2..8]: format, codec, audio_only, wants_video,
 * bitrate, sample_rate, enhance.  NGX_OK; else NGX_DECLINED with the
 * refusal sent and its rc in x->rc (a sent response's rc may be NGX_OK).
 */
static ngx_int_t
ngx_http_media_export_body(ngx_http_request_t *r, ngx_http_media_export_t *x)
{
    char                         names[128];
    yajl_val                     v;
    ngx_str_t                   *format, *codec;
    ngx_int_t                    rc;
    ngx_uint_t                   audio_only, video;
    const media_export_codec_t  *c;

    format = ngx_http_media_body_str(r, "format");

    if (format == NULL
        || (x->format = media_export_format((char *) format->data,
                                            format->len))
           == NULL)
    {
        (void) media_export_names(names, sizeof(names));
        x->rc = ngx_http_media_field_error(r, "format", "format must be one "
                                           "of %s", names);
        return NGX_DECLINED;
    }

    v = ngx_http_media_body_value(r, "codec");
    codec = ngx_http_media_body_str(r, "codec");

    if (v && !YAJL_IS_NULL(v)) {
        c = codec ? media_export_codec(x->format, (char *) codec->data,
                                       codec->len)
                  : NULL;

        if (c == NULL) {
            x->rc = ngx_http_media_field_error(r, "codec", "codec must be "
                        "%s%s%s for %s, or left out",
                        x->format->codecs[0]->name,
                        x->format->codecs[1] ? " or " : "",
                        x->format->codecs[1] ? x->format->codecs[1]->name : "",
                        x->format->name);
            return NGX_DECLINED;
        }

    } else {
        c = x->format->codecs[0];
    }

    v = ngx_http_media_body_value(r, "audio_only");
    audio_only = 0;

    if (v && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
            x->rc = ngx_http_media_field_error(r, "audio_only", "audio_only "
                                               "must be true or false");
            return NGX_DECLINED;
        }
        audio_only = YAJL_IS_TRUE(v);
    }

    video = x->format->video && !audio_only;

    x->params[2].data = (u_char *) x->format->name;
    x->params[2].len = ngx_strlen(x->format->name);
    x->params[3].data = (u_char *) c->name;
    x->params[3].len = ngx_strlen(c->name);

    if (audio_only) {
        ngx_str_set(&x->params[4], "t");
    } else {
        ngx_str_set(&x->params[4], "f");
    }

    if (video) {
        ngx_str_set(&x->params[5], "t");
    } else {
        ngx_str_set(&x->params[5], "f");
    }

    rc = ngx_http_media_export_rates(r, x, c);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_media_export_enhance(r, x, video);
}


/* params[6] the bitrate (the codec's default), params[7] the sample rate
 * (NULL: the exporter keeps the source's, or the nearest allowed) */
static ngx_int_t
ngx_http_media_export_rates(ngx_http_request_t *r,
    ngx_http_media_export_t *x, const media_export_codec_t *c)
{
    char       list[256];
    ngx_int_t  n, rc;

    rc = ngx_http_media_export_int(r, x, "bitrate", &n);
    if (rc == NGX_ABORT) {
        return NGX_DECLINED;
    }

    if (rc == NGX_OK && c->bitrates == NULL) {
        x->rc = ngx_http_media_field_error(r, "bitrate", "bitrate does not "
                                           "apply to %s: it is lossless; "
                                           "leave bitrate out",
                                           x->format->name);
        return NGX_DECLINED;
    }

    if (rc == NGX_OK
        && (n > NGX_MAX_INT32_VALUE
            || !media_export_allowed(c->bitrates, (int) n)))
    {
        (void) media_export_list(c->bitrates, list, sizeof(list));
        x->rc = ngx_http_media_field_error(r, "bitrate", "bitrate for %s "
                                           "(%s) is in bits a second, one "
                                           "of %s", x->format->name, c->name,
                                           list);
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        n = c->bitrate;
    }

    x->params[6].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (x->params[6].data == NULL) {
        x->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    x->params[6].len = ngx_sprintf(x->params[6].data, "%i", n)
                       - x->params[6].data;

    if (c->bitrates == NULL) {
        ngx_str_null(&x->params[6]);
    }

    rc = ngx_http_media_export_int(r, x, "sample_rate", &n);
    if (rc == NGX_ABORT) {
        return NGX_DECLINED;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_null(&x->params[7]);
        return NGX_OK;
    }

    if (n > NGX_MAX_INT32_VALUE
        || !media_export_allowed(c->sample_rates, (int) n))
    {
        (void) media_export_list(c->sample_rates, list, sizeof(list));
        x->rc = ngx_http_media_field_error(r, "sample_rate", "sample_rate "
                                           "for %s (%s) is in Hz, one of %s",
                                           x->format->name, c->name, list);
        return NGX_DECLINED;
    }

    x->params[7].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (x->params[7].data == NULL) {
        x->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    x->params[7].len = ngx_sprintf(x->params[7].data, "%i", n)
                       - x->params[7].data;

    return NGX_OK;
}


/* params[8]: the presets as a PostgreSQL array, in the order they apply */
static ngx_int_t
ngx_http_media_export_enhance(ngx_http_request_t *r,
    ngx_http_media_export_t *x, ngx_uint_t video)
{
    int          i;
    u_char      *p;
    size_t       k;
    yajl_val     v, e;
    ngx_uint_t   seen;

    v = ngx_http_media_body_value(r, "enhance");
    seen = 0;

    if (v && !YAJL_IS_NULL(v) && !YAJL_IS_ARRAY(v)) {
        x->rc = ngx_http_media_field_error(r, "enhance", "enhance must be a "
                                           "list of preset names (see GET "
                                           "/api/v1/enhance/presets)");
        return NGX_DECLINED;
    }

    for (k = 0; v && YAJL_IS_ARRAY(v) && k < v->u.array.len; k++) {
        e = v->u.array.values[k];

        i = YAJL_IS_STRING(e) ? media_enhance_find(e->u.string,
                                                   ngx_strlen(e->u.string))
                              : -1;
        if (i < 0) {
            x->rc = ngx_http_media_field_error(r, "enhance", "enhance item "
                                               "%uz is not a preset: see GET "
                                               "/api/v1/enhance/presets",
                                               k + 1);
            return NGX_DECLINED;
        }

        if (seen & (1 << i)) {
            x->rc = ngx_http_media_field_error(r, "enhance", "enhance names "
                                               "%s twice; name each preset "
                                               "once",
                                               media_enhance_presets[i].name);
            return NGX_DECLINED;
        }

        if (media_enhance_presets[i].video && !video) {
            x->rc = ngx_http_media_field_error(r, "enhance", "%s filters the "
                                               "picture, and this export "
                                               "has none (%s%s); leave it "
                                               "out",
                                               media_enhance_presets[i].name,
                                               x->format->name,
                                               x->format->video
                                               ? ", audio_only" : "");
            return NGX_DECLINED;
        }

        seen |= 1 << i;
    }

    p = ngx_pnalloc(r->pool, 2 + MEDIA_ENHANCE_N * 16);
    if (p == NULL) {
        x->rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    x->params[8].data = p;
    *p++ = '{';

    for (i = 0; i < MEDIA_ENHANCE_N; i++) {
        if (seen & (1 << i)) {
            if (p[-1] != '{') {
                *p++ = ',';
            }
            p = ngx_cpymem(p, media_enhance_presets[i].name,
                           ngx_strlen(media_enhance_presets[i].name));
        }
    }

    *p++ = '}';
    x->params[8].len = p - x->params[8].data;

    return NGX_OK;
}


/* an integer member: NGX_OK with *n, NGX_DECLINED when absent (or null),
 * NGX_ABORT with the 422 sent (its rc in x->rc) */
static ngx_int_t
ngx_http_media_export_int(ngx_http_request_t *r, ngx_http_media_export_t *x,
    const char *name, ngx_int_t *n)
{
    yajl_val  v;

    v = ngx_http_media_body_value(r, name);

    if (v == NULL || YAJL_IS_NULL(v)) {
        return NGX_DECLINED;
    }

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) <= 0) {
        x->rc = ngx_http_media_field_error(r, name, "%s must be a positive "
                                            "whole number", name);
        return NGX_ABORT;
    }

    *n = (ngx_int_t) YAJL_GET_INTEGER(v);

    return NGX_OK;
}


static void
ngx_http_media_export_limited(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_export_t  *x = data;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        /* open: the plan's quota still holds, in PostgreSQL */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media export rate: not checked (redis: %V), "
                      "request_id: %V", &res->str,
                      ngx_http_media_request_id(r));

    } else if (res->integer > 0) {
        ngx_http_finalize_request(r, ngx_http_media_too_many(r,
                                  res->integer, "rate_limited",
                                  "you may start %d exports a minute",
                                  NGX_HTTP_MEDIA_EXPORT_RATE));
        return;
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_export_begin,
                                x->params, ngx_http_media_export_begun, x)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_export_begun(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_export_t  *x = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1
        || res->ncols != 10)
    {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media export begin"));
        return;
    }

    if (ngx_http_media_pg_value(res, 0, 0)->data) {
        ngx_http_finalize_request(r, ngx_http_media_export_refused(r, x,
                                                                   res));
        return;
    }

    /* res lives on the caller's stack; its values are in the pool */
    x->row = *res;

    if (ngx_http_media_redis_enqueue(r, MEDIA_STREAM_EXPORT,
                                     ngx_http_media_pg_value(res, 0, 9),
                                     ngx_http_media_export_queued, x)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static ngx_int_t
ngx_http_media_export_refused(ngx_http_request_t *r,
    ngx_http_media_export_t *x, ngx_http_media_pg_result_t *res)
{
    ngx_str_t  *why, *detail;

    why = ngx_http_media_pg_value(res, 0, 0);
    detail = ngx_http_media_pg_value(res, 0, 1);

    if (why->len == 5 && ngx_strncmp(why->data, "quota", 5) == 0) {
        return ngx_http_media_quota_exceeded(r,
                   ngx_http_media_pg_value(res, 0, 2),
                   ngx_http_media_pg_value(res, 0, 3),
                   ngx_http_media_pg_value(res, 0, 4),
                   ngx_http_media_pg_value(res, 0, 5),
                   ngx_http_media_pg_value(res, 0, 6), 1);
    }

    /* taken down: no new export (ngx_http_media_blocked.c) */
    if (why->len == 9 && ngx_strncmp(why->data, "not_ready", 9) == 0
        && detail->len == 7 && ngx_strncmp(detail->data, "blocked", 7) == 0)
    {
        return ngx_http_media_blocked_refuse(r, NULL);
    }

    if (why->len == 9 && ngx_strncmp(why->data, "not_ready", 9) == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "not_ready",
                                         "the media is %V, not ready: "
                                         "export it once its transcode is "
                                         "done (GET /api/v1/media/{id} "
                                         "says status ready)", detail);
    }

    if (why->len == 14 && ngx_strncmp(why->data, "source_removed", 14) == 0)
    {
        return ngx_http_media_send_error(r, NGX_HTTP_CONFLICT,
                                         "source_removed",
                                         "the original upload of this media "
                                         "was removed at %V "
                                         "(media_source_retention): it "
                                         "cannot be exported any more",
                                         detail);
    }

    if (why->len == 11 && ngx_strncmp(why->data, "needs_video", 11) == 0) {
        return ngx_http_media_field_error(r, "format", "%s holds a "
                                          "picture, and this media is %V: "
                                          "export it as mp3, wav, flac, ogg "
                                          "or m4a", x->format->name, detail);
    }

    return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                     "no such media");
}


static void
ngx_http_media_export_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_export_t  *x = data;

    u_char     *p;
    ngx_str_t   json, *export, *job;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        /* the row is queued; the reconciler will enqueue it */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media export queue: XADD failed (%V); the job waits "
                      "for the reconciler, request_id: %V", &res->str,
                      ngx_http_media_request_id(r));
    }

    export = ngx_http_media_pg_value(&x->row, 0, 7);
    job = ngx_http_media_pg_value(&x->row, 0, 8);

    json.len = sizeof("{\"export\":,\"job\":}") - 1 + export->len + job->len;
    json.data = ngx_pnalloc(r->pool, json.len);
    if (json.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* trusted: written by PostgreSQL's json functions */
    p = ngx_cpymem(json.data, "{\"export\":", 10);
    p = ngx_cpymem(p, export->data, export->len);
    p = ngx_cpymem(p, ",\"job\":", 7);
    p = ngx_cpymem(p, job->data, job->len);
    *p = '}';

    ngx_http_finalize_request(r, ngx_http_media_send_json(r,
                              NGX_HTTP_ACCEPTED, &json));
}


/*
 * GET /api/v1/exports/{id} -> {"export": ...} and GET
 * /api/v1/media/{id}/exports -> {"items": [...]}, newest first: one row,
 * one JSON value, or 404 naming what is not there
 */

typedef struct {
    ngx_http_media_pg_stmt_t  *stmt;
    const char                *key;       /* the answer's member */
    const char                *what;      /* "export", "media" */
} ngx_http_media_export_read_t;


static ngx_int_t ngx_http_media_export_read(ngx_http_request_t *r,
    ngx_http_media_export_read_t *rd);


static ngx_http_media_export_read_t  ngx_http_media_export_one =
    { &ngx_http_media_sql_export_get, "export", "export" };

static ngx_http_media_export_read_t  ngx_http_media_export_all =
    { &ngx_http_media_sql_export_list, "items", "media" };


ngx_int_t
ngx_http_media_export_get(ngx_http_request_t *r)
{
    return ngx_http_media_export_read(r, &ngx_http_media_export_one);
}


ngx_int_t
ngx_http_media_export_list(ngx_http_request_t *r)
{
    return ngx_http_media_export_read(r, &ngx_http_media_export_all);
}


static ngx_int_t
ngx_http_media_export_read(ngx_http_request_t *r,
    ngx_http_media_export_read_t *rd)
{
    ngx_str_t  params[2];

    if (ngx_http_media_export_owned(r, params) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such %s", rd->what);
    }

    if (ngx_http_media_pg_query(r, rd->stmt, params,
                                ngx_http_media_export_found, rd)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_export_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_export_read_t  *rd = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media export read"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such %s", rd->what));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_export_wrap(r, NGX_HTTP_OK,
                              rd->key, ngx_http_media_pg_value(res, 0, 0)));
}


/* DELETE /api/v1/exports/{id} ------------------------------------------- */

ngx_int_t
ngx_http_media_export_delete(ngx_http_request_t *r)
{
    ngx_str_t  params[2];

    if (ngx_http_media_export_owned(r, params) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such export");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_export_delete, params,
                                ngx_http_media_export_deleted, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * The row says deleted first (its bytes stop counting, links to it answer
 * 410), then the file goes: an unlink is one metadata change on local
 * disk.  A file this misses (a job that publishes after the row was
 * marked removes its own; a failed unlink) is the sweeper's.
 */
static void
ngx_http_media_export_deleted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    u_char                      *path;
    ngx_str_t                   *id, *format;
    ngx_http_media_main_conf_t  *mmcf;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media export delete"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such export"));
        return;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    id = ngx_http_media_pg_value(res, 0, 0);
    format = ngx_http_media_pg_value(res, 0, 1);

    /* both from our own rows: a uuid and a format of the table */
    path = ngx_pnalloc(r->pool, mmcf->storage.len + id->len + format->len
                                + sizeof("/" MEDIA_DIR_EXPORTS "/."));
    if (path == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_sprintf(path, "%V/" MEDIA_DIR_EXPORTS "/%V.%V%Z", &mmcf->storage, id,
                format);

    if (ngx_delete_file(path) == NGX_FILE_ERROR && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, ngx_errno,
                      "media export delete: " ngx_delete_file_n " \"%s\" "
                      "failed; the sweeper will retry, request_id: %V",
                      path, ngx_http_media_request_id(r));
    }

    ngx_http_finalize_request(r, ngx_http_media_no_content(r));
}


/* GET /api/v1/enhance/presets: the presets and the formats -------------- */

ngx_int_t
ngx_http_media_enhance_presets(ngx_http_request_t *r)
{
    int                           i, k;
    yajl_gen                      g;
    ngx_str_t                     s;
    const media_enhance_t        *e;
    const media_export_codec_t   *c;
    const media_export_format_t  *f;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "presets", 7);
    yajl_gen_array_open(g);

    for (i = 0; i < MEDIA_ENHANCE_N; i++) {
        e = &media_enhance_presets[i];

        yajl_gen_map_open(g);
        s.data = (u_char *) e->name;
        s.len = ngx_strlen(e->name);
        ngx_http_media_json_str(g, "name", &s);
        if (e->video) {
            ngx_str_set(&s, "video");
        } else {
            ngx_str_set(&s, "audio");
        }
        ngx_http_media_json_str(g, "applies_to", &s);
        s.data = (u_char *) e->description;
        s.len = ngx_strlen(e->description);
        ngx_http_media_json_str(g, "description", &s);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    yajl_gen_string(g, (const unsigned char *) "formats", 7);
    yajl_gen_array_open(g);

    for (i = 0; i < MEDIA_EXPORT_FORMATS; i++) {
        f = &media_export_formats[i];

        yajl_gen_map_open(g);
        s.data = (u_char *) f->name;
        s.len = ngx_strlen(f->name);
        ngx_http_media_json_str(g, "name", &s);
        s.data = (u_char *) f->video;
        s.len = f->video ? ngx_strlen(f->video) : 0;
        ngx_http_media_json_str(g, "video_codec", f->video ? &s : NULL);

        yajl_gen_string(g, (const unsigned char *) "codecs", 6);
        yajl_gen_array_open(g);

        for (k = 0; k < 2 && f->codecs[k]; k++) {
            c = f->codecs[k];

            yajl_gen_map_open(g);
            s.data = (u_char *) c->name;
            s.len = ngx_strlen(c->name);
            ngx_http_media_json_str(g, "name", &s);
            ngx_http_media_json_rates(g, "bitrates", c->bitrates);
            yajl_gen_string(g, (const unsigned char *) "bitrate", 7);
            if (c->bitrates) {
                yajl_gen_integer(g, c->bitrate);
            } else {
                yajl_gen_null(g);
            }
            ngx_http_media_json_rates(g, "sample_rates", c->sample_rates);
            yajl_gen_map_close(g);
        }

        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, NGX_HTTP_OK, g);
}


static void
ngx_http_media_json_rates(yajl_gen g, const char *key, const int *list)
{
    yajl_gen_string(g, (const unsigned char *) key, ngx_strlen(key));

    if (list == NULL) {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_array_open(g);

    for ( /* void */ ; *list; list++) {
        yajl_gen_integer(g, *list);
    }

    yajl_gen_array_close(g);
}


/* helpers ---------------------------------------------------------------- */

/* {"key": json} */
static ngx_int_t
ngx_http_media_export_wrap(ngx_http_request_t *r, ngx_uint_t status,
    const char *key, ngx_str_t *json)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   out;

    len = ngx_strlen(key);

    out.len = len + json->len + sizeof("{\"\":}") - 1;
    out.data = ngx_pnalloc(r->pool, out.len);
    if (out.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(out.data, "{\"", 2);
    p = ngx_cpymem(p, key, len);
    p = ngx_cpymem(p, "\":", 2);
    p = ngx_cpymem(p, json->data, json->len);
    *p = '}';

    return ngx_http_media_send_json(r, status, &out);
}


/*
 * params[0] the {id} of the route, params[1] the signed-in user.
 * NGX_DECLINED when {id} is not a UUID (no such row can exist).
 */
static ngx_int_t
ngx_http_media_export_owned(ngx_http_request_t *r, ngx_str_t *params)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params[0] = ctx->capture;
    params[1] = ctx->user->id;

    return ngx_http_media_is_uuid(&params[0]) == NGX_OK ? NGX_OK
                                                        : NGX_DECLINED;
}
