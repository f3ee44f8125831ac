/*
 * A user's library: list, read, edit and delete media, and read jobs.
 *
 * Every query names the owner: someone else's media (or a deleted one) is
 * not there, so the answer is 404, never 403 (which would say it exists).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_search.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_library.h"
#include "ngx_http_media_pictures.h"
#include "ngx_http_media_hls.h"
#include "media_utf8.h"
#include "media_search.h"


#define NGX_HTTP_MEDIA_PAGE_MAX  100

/* a price, in the currency's smallest unit: Stripe's smallest charge is
 * about 50 cents (or 50 yen), sql/010 checks the top */
#define NGX_HTTP_MEDIA_PRICE_MIN  50
#define NGX_HTTP_MEDIA_PRICE_MAX  99999999


/*
 * the columns every media answer carries, and their JSON types: one row,
 * no join; the latest job's progress and the renditions are kept on the
 * media row by triggers (sql/006_media_read.sql)
 */
#define NGX_HTTP_MEDIA_COLUMNS                                                \
    "m.id, m.title, m.kind, m.status, m.privacy, m.duration_ms,"              \
    " to_char(m.created_at AT TIME ZONE 'UTC',"                               \
    "         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"                          \
    " m.progress, m.error, m.job_id, m.renditions, m.price_cents,"            \
    " m.currency, m.description, array_to_json(m.tags),"                  \
    " (m.draft_privacy IS NOT NULL)::text, "                                 \
    NGX_HTTP_MEDIA_PICTURES_COLUMN ","                                        \
    " CASE WHEN " NGX_HTTP_MEDIA_PLAYABLE " THEN 'true' ELSE 'false' END,"    \
    " m.blocked_reason"


typedef enum {
    NGX_HTTP_MEDIA_T_STR = 0,
    NGX_HTTP_MEDIA_T_NUM,
    NGX_HTTP_MEDIA_T_RAW,         /* already JSON */
    NGX_HTTP_MEDIA_T_PICTURES     /* ngx_http_media_pictures_json's */
} ngx_http_media_json_type_e;


typedef struct {
    const char                  *name;
    ngx_http_media_json_type_e   type;
} ngx_http_media_field_t;


static const ngx_http_media_field_t  ngx_http_media_media_fields[] = {
    { "id", NGX_HTTP_MEDIA_T_STR },
    { "title", NGX_HTTP_MEDIA_T_STR },
    { "kind", NGX_HTTP_MEDIA_T_STR },
    { "status", NGX_HTTP_MEDIA_T_STR },
    { "privacy", NGX_HTTP_MEDIA_T_STR },
    { "duration_ms", NGX_HTTP_MEDIA_T_NUM },
    { "created_at", NGX_HTTP_MEDIA_T_STR },
    { "progress", NGX_HTTP_MEDIA_T_NUM },
    { "error", NGX_HTTP_MEDIA_T_STR },
    { "job_id", NGX_HTTP_MEDIA_T_STR },
    { "renditions", NGX_HTTP_MEDIA_T_RAW },
    { "price_cents", NGX_HTTP_MEDIA_T_NUM },
    { "currency", NGX_HTTP_MEDIA_T_STR },
    { "description", NGX_HTTP_MEDIA_T_STR },
    { "tags", NGX_HTTP_MEDIA_T_RAW },
    { "draft", NGX_HTTP_MEDIA_T_RAW },          /* sql/025 */
    { "pictures", NGX_HTTP_MEDIA_T_PICTURES },
    /* playback may be asked for: ready, or a rung listed while it
     * transcodes ("renditions" names the rungs listed so far) */
    { "playable", NGX_HTTP_MEDIA_T_RAW },
    { "blocked_reason", NGX_HTTP_MEDIA_T_STR },   /* status "blocked" */
};

#define NGX_HTTP_MEDIA_NFIELDS                                                \
    (sizeof(ngx_http_media_media_fields)                                      \
     / sizeof(ngx_http_media_media_fields[0]))


static const ngx_http_media_field_t  ngx_http_media_job_fields[] = {
    { "id", NGX_HTTP_MEDIA_T_STR },
    { "type", NGX_HTTP_MEDIA_T_STR },
    { "status", NGX_HTTP_MEDIA_T_STR },
    { "progress", NGX_HTTP_MEDIA_T_NUM },
    { "attempts", NGX_HTTP_MEDIA_T_NUM },
    { "error", NGX_HTTP_MEDIA_T_STR },
    { "media_id", NGX_HTTP_MEDIA_T_STR },
    { "updated_at", NGX_HTTP_MEDIA_T_STR },
    { "result", NGX_HTTP_MEDIA_T_RAW },     /* a billing job's {"url"} */
};


static ngx_int_t ngx_http_media_owned_id(ngx_http_request_t *r,
    ngx_str_t *params);
static ngx_int_t ngx_http_media_patch_price(ngx_http_request_t *r,
    ngx_str_t *params, ngx_int_t *rc);
static ngx_int_t ngx_http_media_patch_words(ngx_http_request_t *r,
    ngx_str_t *params, ngx_int_t *rc);
static void ngx_http_media_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_one_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_deleted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_sweep_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_job_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_send_row(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, const char *key,
    const ngx_http_media_field_t *fields, ngx_uint_t n);
static void ngx_http_media_json_row(ngx_http_request_t *r, yajl_gen g,
    ngx_http_media_pg_result_t *res, ngx_uint_t row,
    const ngx_http_media_field_t *fields, ngx_uint_t n);


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_list =
    ngx_http_media_pg_stmt("library_list", 3,
        "SELECT " NGX_HTTP_MEDIA_COLUMNS
        " FROM media m"
        " WHERE m.owner_id = $1 AND m.deleted_at IS NULL"
        "   AND ($2::uuid IS NULL OR (m.created_at, m.id) <"
        "        (SELECT created_at, id FROM media WHERE id = $2))"
        " ORDER BY m.created_at DESC, m.id DESC LIMIT $3");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_get =
    ngx_http_media_pg_stmt("library_get", 2,
        "SELECT " NGX_HTTP_MEDIA_COLUMNS
        " FROM media m"
        " WHERE m.id = $1 AND m.owner_id = $2 AND m.deleted_at IS NULL");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_patch =
    ngx_http_media_pg_stmt("library_patch", 9,
        "WITH m AS ("
        "  UPDATE media SET title = coalesce($3, title),"
        "                   privacy = coalesce($4, privacy),"
        "                   price_cents = CASE WHEN $7::boolean"
        "                     THEN $5::integer ELSE price_cents END,"
        "                   currency = CASE WHEN $7::boolean"
        "                     THEN $6 ELSE currency END,"
        "                   description = coalesce($8, description),"
        "                   tags = CASE WHEN $9::json IS NULL THEN tags"
        "                     ELSE media_tags_from_json($9::json) END"
        "   WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL"
        "  RETURNING *)"
        " SELECT " NGX_HTTP_MEDIA_COLUMNS
        " FROM m");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_delete =
    ngx_http_media_pg_stmt("library_delete", 2,
        "WITH m AS ("
        "  UPDATE media SET deleted_at = now()"
        "   WHERE id = $1 AND owner_id = $2 AND deleted_at IS NULL"
        "  RETURNING id, owner_id)"
        " INSERT INTO jobs (type, media_id, user_id)"
        " SELECT 'sweep', id, owner_id FROM m RETURNING id");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_job =
    ngx_http_media_pg_stmt("library_job", 2,
        "SELECT id, type, status, progress, attempts, error, media_id,"
        " to_char(updated_at AT TIME ZONE 'UTC',"
        "         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), result"
        " FROM jobs WHERE id = $1 AND user_id = $2");


/* GET /api/v1/media?limit=N&cursor=C: newest first ------------------------ */

ngx_int_t
ngx_http_media_list(ngx_http_request_t *r)
{
    ngx_int_t              n;
    ngx_str_t              limit, cursor, params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    n = 20;

    if (ngx_http_arg(r, (u_char *) "limit", 5, &limit) == NGX_OK) {
        n = ngx_atoi(limit.data, limit.len);
        if (n < 1 || n > NGX_HTTP_MEDIA_PAGE_MAX) {
            return ngx_http_media_field_error(r, "limit", "limit must be a "
                                              "number from 1 to %d",
                                              NGX_HTTP_MEDIA_PAGE_MAX);
        }
    }

    /* the cursor is the last item's id: the page goes on after it */
    if (ngx_http_arg(r, (u_char *) "cursor", 6, &cursor) == NGX_OK) {
        if (ngx_http_media_is_uuid(&cursor) != NGX_OK) {
            return ngx_http_media_field_error(r, "cursor", "cursor is not "
                                              "one this server gave out");
        }
        params[1] = cursor;

    } else {
        params[1].data = NULL;
        params[1].len = 0;
    }

    params[0] = ctx->user->id;
    params[2].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (params[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    params[2].len = ngx_sprintf(params[2].data, "%i", n + 1) - params[2].data;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_list,
            params, ngx_http_media_listed, (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_listed(ngx_http_request_t *r, ngx_http_media_pg_result_t *res,
    void *data)
{
    ngx_uint_t  n = (uintptr_t) data;

    yajl_gen    g;
    ngx_uint_t  i, rows;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media list"));
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rows = ngx_min(res->nrows, n);

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "items", 5);
    yajl_gen_array_open(g);

    for (i = 0; i < rows; i++) {
        ngx_http_media_json_row(r, g, res, i, ngx_http_media_media_fields,
                                NGX_HTTP_MEDIA_NFIELDS);
    }

    yajl_gen_array_close(g);

    /* one row more than asked for means there is a next page */
    ngx_http_media_json_str(g, "next_cursor", res->nrows > n
                            ? ngx_http_media_pg_value(res, n - 1, 0) : NULL);

    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_OK, g));
}


/* GET /api/v1/media/{id} ------------------------------------------------- */

ngx_int_t
ngx_http_media_get(ngx_http_request_t *r)
{
    ngx_str_t  params[2];

    if (ngx_http_media_owned_id(r, params) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_get,
            params, ngx_http_media_one_found, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * PATCH /api/v1/media/{id}:
 * {title?, privacy?, price_cents?, currency?, description?, tags?}
 */

ngx_int_t
ngx_http_media_patch(ngx_http_request_t *r)
{
    ngx_int_t   rc, price, words;
    ngx_str_t   params[9], *title, *privacy;

    if (ngx_http_media_owned_id(r, params) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    title = ngx_http_media_body_str(r, "title");
    privacy = ngx_http_media_body_str(r, "privacy");

    price = ngx_http_media_patch_price(r, params, &rc);
    if (price == NGX_ERROR) {
        return rc;
    }

    words = ngx_http_media_patch_words(r, params, &rc);
    if (words == NGX_ERROR) {
        return rc;
    }

    if (title == NULL && privacy == NULL && price == NGX_DECLINED
        && words == NGX_DECLINED)
    {
        return ngx_http_media_field_error(r, "title", "send title (a string), "
                                          "privacy (public, unlisted or "
                                          "private), price_cents with "
                                          "currency (null: not for sale), "
                                          "description or tags");
    }

    /* JSON strings are UTF-8 already; count characters, as PostgreSQL */
    if (title && !media_utf8_valid(title->data, title->len)) {
        return ngx_http_media_field_error(r, "title", "title may not hold "
                                          "control characters");
    }

    if (title && media_utf8_chars(title->data, title->len) > 200) {
        return ngx_http_media_field_error(r, "title", "title is too long: "
                                          "at most 200 characters");
    }

    if (privacy
        && !(privacy->len == 6
             && ngx_strncmp(privacy->data, "public", 6) == 0)
        && !(privacy->len == 8
             && ngx_strncmp(privacy->data, "unlisted", 8) == 0)
        && !(privacy->len == 7
             && ngx_strncmp(privacy->data, "private", 7) == 0))
    {
        return ngx_http_media_field_error(r, "privacy", "privacy must be "
                                          "public, unlisted or private");
    }

    ngx_str_null(&params[2]);
    ngx_str_null(&params[3]);

    if (title) {
        params[2] = *title;
    }

    if (privacy) {
        params[3] = *privacy;
    }

    /* data: a write, which search's cache must forget */
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_patch,
            params, ngx_http_media_one_found, (void *) 1)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * The price of a PATCH into params[4..6]: price_cents (a whole number of
 * the currency's smallest unit) with currency (ISO 4217, any case), or
 * price_cents null, which takes the media off sale.  NGX_DECLINED when the
 * body names no price; NGX_OK when it does; NGX_ERROR when it is refused,
 * with *rc the refusal's.
 */
static ngx_int_t
ngx_http_media_patch_price(ngx_http_request_t *r, ngx_str_t *params,
    ngx_int_t *rc)
{
    char       *code;
    u_char     *p;
    yajl_val    price, currency;
    long long   cents;

    ngx_str_null(&params[4]);
    ngx_str_null(&params[5]);
    ngx_str_set(&params[6], "false");

    price = ngx_http_media_body_value(r, "price_cents");
    currency = ngx_http_media_body_value(r, "currency");

    if (price == NULL) {
        if (currency != NULL) {
            *rc = ngx_http_media_field_error(r, "price_cents", "currency "
                                             "comes with price_cents: send "
                                             "both, e.g. {\"price_cents\": "
                                             "499, \"currency\": \"usd\"}");
            return NGX_ERROR;
        }

        return NGX_DECLINED;
    }

    ngx_str_set(&params[6], "true");

    if (YAJL_IS_NULL(price)) {
        if (currency != NULL && !YAJL_IS_NULL(currency)) {
            *rc = ngx_http_media_field_error(r, "currency", "a media off "
                                             "sale has no currency: send "
                                             "price_cents null alone");
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    if (!YAJL_IS_INTEGER(price)) {
        *rc = ngx_http_media_field_error(r, "price_cents", "price_cents must "
                                         "be a whole number of cents (the "
                                         "currency's smallest unit), or "
                                         "null to stop selling");
        return NGX_ERROR;
    }

    cents = YAJL_GET_INTEGER(price);

    if (cents < NGX_HTTP_MEDIA_PRICE_MIN || cents > NGX_HTTP_MEDIA_PRICE_MAX) {
        *rc = ngx_http_media_field_error(r, "price_cents", "price_cents must "
                                         "be from %d (the smallest charge "
                                         "the payment provider takes) to %d",
                                         NGX_HTTP_MEDIA_PRICE_MIN,
                                         NGX_HTTP_MEDIA_PRICE_MAX);
        return NGX_ERROR;
    }

    code = currency ? YAJL_GET_STRING(currency) : NULL;

    if (code == NULL || ngx_strlen(code) != 3) {
        *rc = ngx_http_media_field_error(r, "currency", "currency is "
                                         "required with price_cents: a "
                                         "three-letter ISO 4217 code such "
                                         "as \"usd\" or \"eur\"");
        return NGX_ERROR;
    }

    params[5].len = 3;
    params[5].data = ngx_pnalloc(r->pool, 3);
    if (params[5].data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    ngx_strlow(params[5].data, (u_char *) code, 3);

    for (p = params[5].data; p < params[5].data + 3; p++) {
        if (*p < 'a' || *p > 'z') {
            *rc = ngx_http_media_field_error(r, "currency", "currency is "
                                             "three letters (ISO 4217), "
                                             "such as \"usd\"");
            return NGX_ERROR;
        }
    }

    params[4].data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (params[4].data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    params[4].len = ngx_sprintf(params[4].data, "%L", (int64_t) cents)
                    - params[4].data;

    return NGX_OK;
}


/*
 * The description and tags of a PATCH into params[7] (the text) and
 * params[8] (the tags as a JSON array of trimmed strings; PostgreSQL
 * lower-cases them and drops duplicates, media_tags_from_json).  Both are
 * what search reads.  NGX_DECLINED when the body names neither.
 */
static ngx_int_t
ngx_http_media_patch_words(ngx_http_request_t *r, ngx_str_t *params,
    ngx_int_t *rc)
{
    char          *t;
    size_t         i, len, start;
    yajl_gen       g;
    yajl_val       desc, tags, tag;
    const u_char  *buf;

    ngx_str_null(&params[7]);
    ngx_str_null(&params[8]);

    desc = ngx_http_media_body_value(r, "description");
    tags = ngx_http_media_body_value(r, "tags");

    if (desc) {
        t = YAJL_GET_STRING(desc);

        if (t == NULL || !media_search_text_ok((u_char *) t, ngx_strlen(t))) {
            *rc = ngx_http_media_field_error(r, "description", "description "
                                             "must be text (line ends and "
                                             "tabs allowed, no other "
                                             "control characters)");
            return NGX_ERROR;
        }

        len = ngx_strlen(t);

        if (media_utf8_chars((u_char *) t, len) > MEDIA_SEARCH_DESC_MAX) {
            *rc = ngx_http_media_field_error(r, "description", "description "
                                             "is too long: at most %d "
                                             "characters",
                                             MEDIA_SEARCH_DESC_MAX);
            return NGX_ERROR;
        }

        params[7].data = (u_char *) t;
        params[7].len = len;
    }

    if (tags == NULL) {
        return desc ? NGX_OK : NGX_DECLINED;
    }

    if (!YAJL_IS_ARRAY(tags)
        || YAJL_GET_ARRAY(tags)->len > MEDIA_SEARCH_TAGS_MAX)
    {
        *rc = ngx_http_media_field_error(r, "tags", "tags must be an array "
                                         "of at most %d strings, e.g. "
                                         "[\"jazz\", \"live\"]",
                                         MEDIA_SEARCH_TAGS_MAX);
        return NGX_ERROR;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    yajl_gen_array_open(g);

    for (i = 0; i < YAJL_GET_ARRAY(tags)->len; i++) {
        tag = YAJL_GET_ARRAY(tags)->values[i];
        t = YAJL_GET_STRING(tag);
        len = t ? ngx_strlen(t) : 0;
        len = t ? media_search_trim((u_char *) t, len, &start) : 0;

        if (len == 0 || !media_utf8_valid((u_char *) t + start, len)
            || media_utf8_chars((u_char *) t + start, len)
               > MEDIA_SEARCH_TAG_MAX)
        {
            yajl_gen_free(g);
            *rc = ngx_http_media_field_error(r, "tags", "tag %uz must be a "
                                             "string of 1 to %d characters "
                                             "(no control characters)",
                                             i + 1, MEDIA_SEARCH_TAG_MAX);
            return NGX_ERROR;
        }

        yajl_gen_string(g, (u_char *) t + start, len);
    }

    yajl_gen_array_close(g);

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        yajl_gen_free(g);
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    params[8].data = ngx_pnalloc(r->pool, len);
    if (params[8].data == NULL) {
        yajl_gen_free(g);
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    params[8].len = len;
    ngx_memcpy(params[8].data, buf, len);
    yajl_gen_free(g);

    return NGX_OK;
}


static void
ngx_http_media_one_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (data && res->status == NGX_HTTP_MEDIA_PG_OK && res->nrows) {
        ngx_http_media_search_forget(r);
    }

    ngx_http_finalize_request(r, ngx_http_media_send_row(r, res, "media",
                              ngx_http_media_media_fields,
                              NGX_HTTP_MEDIA_NFIELDS));
}


/* {key: the first row} with 200, 404 when there is none */
static ngx_int_t
ngx_http_media_send_row(ngx_http_request_t *r, ngx_http_media_pg_result_t *res,
    const char *key, const ngx_http_media_field_t *fields, ngx_uint_t n)
{
    yajl_gen  g;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        return ngx_http_media_pg_failed(r, res, key);
    }

    if (res->nrows == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such %s", key);
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) key, ngx_strlen(key));
    ngx_http_media_json_row(r, g, res, 0, fields, n);
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, NGX_HTTP_OK, g);
}


/* DELETE /api/v1/media/{id}: gone at once, files swept by a worker ------ */

ngx_int_t
ngx_http_media_delete(ngx_http_request_t *r)
{
    ngx_str_t  params[2];

    if (ngx_http_media_owned_id(r, params) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    /* marked deleted and its sweep job written in one statement */
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_delete,
            params, ngx_http_media_deleted, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_deleted(ngx_http_request_t *r, ngx_http_media_pg_result_t *res,
    void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media delete"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such media"));
        return;
    }

    ngx_http_media_search_forget(r);

    if (ngx_http_media_redis_enqueue(r, MEDIA_STREAM_SWEEP,
                                     ngx_http_media_pg_value(res, 0, 0),
                                     ngx_http_media_sweep_queued, NULL)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_sweep_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    /* the row is the truth: a missed XADD is the reconciler's to redo */
    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media delete queue: XADD failed (%V); the sweep waits "
                      "for the reconciler", &res->str);
    }

    ngx_http_finalize_request(r, ngx_http_media_no_content(r));
}


/* GET /api/v1/jobs/{id} -------------------------------------------------- */

ngx_int_t
ngx_http_media_job(ngx_http_request_t *r)
{
    ngx_str_t  params[2];

    if (ngx_http_media_owned_id(r, params) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such job");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_job,
            params, ngx_http_media_job_found, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_job_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_row(r, res, "job",
                              ngx_http_media_job_fields,
                              sizeof(ngx_http_media_job_fields)
                              / sizeof(ngx_http_media_job_fields[0])));
}


/* helpers ---------------------------------------------------------------- */

/*
 * What every "one of yours" query binds: params[0] the {id} of the route,
 * params[1] the signed-in user.  NGX_DECLINED when {id} is not a UUID (no
 * such row can exist, so the caller answers 404 without asking PostgreSQL).
 */
static ngx_int_t
ngx_http_media_owned_id(ngx_http_request_t *r, ngx_str_t *params)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params[0] = ctx->capture;
    params[1] = ctx->user->id;

    return ngx_http_media_is_uuid(&params[0]) == NGX_OK ? NGX_OK
                                                        : NGX_DECLINED;
}


/* one row as a JSON object: SQL NULL as null, numbers and JSON as such */
static void
ngx_http_media_json_row(ngx_http_request_t *r, yajl_gen g,
    ngx_http_media_pg_result_t *res, ngx_uint_t row,
    const ngx_http_media_field_t *fields, ngx_uint_t n)
{
    ngx_str_t   *v;
    ngx_uint_t   i;

    yajl_gen_map_open(g);

    for (i = 0; i < n && i < res->ncols; i++) {
        v = ngx_http_media_pg_value(res, row, i);

        /* the URLs of the media's pictures (column 0 is its id) */
        if (fields[i].type == NGX_HTTP_MEDIA_T_PICTURES) {
            ngx_http_media_pictures_json(r, g,
                                         ngx_http_media_pg_value(res, row, 0),
                                         v);
            continue;
        }

        yajl_gen_string(g, (const unsigned char *) fields[i].name,
                        ngx_strlen(fields[i].name));

        if (v->data == NULL) {
            yajl_gen_null(g);
            continue;
        }

        switch (fields[i].type) {
        case NGX_HTTP_MEDIA_T_NUM:
            yajl_gen_number(g, (const char *) v->data, v->len);
            break;
        case NGX_HTTP_MEDIA_T_RAW:
            /* trusted: built by PostgreSQL's json functions */
            yajl_gen_number(g, (const char *) v->data, v->len);
            break;
        default:
            yajl_gen_string(g, v->data, v->len);
        }
    }

    yajl_gen_map_close(g);
}
