/*
 * The free tier's ads: admins mark uploaded media as ads, players count
 * what they showed.
 *
 *   GET    /api/v1/admin/ads                 every ad, live or not, with
 *                                            30 days of impressions
 *   PUT    /api/v1/admin/ads/{media id}      {weight?, starts_at?, ends_at?}
 *   DELETE /api/v1/admin/ads/{media id}
 *   POST   /api/v1/ads/{media id}/impressions  {url}: one more today (UTC)
 *
 * An impression names the playback URL the schedule gave the player for
 * that ad: its token proves the ad was scheduled for someone (signed,
 * not expired, for this ad), and a token counts once per client address
 * (a Redis SET NX that lives as long as the token), so a script cannot
 * count an ad up without asking for a playback URL each time.  (Tokens
 * drawn in the same second for the same rung are the same text, hence
 * the address.)
 *
 * Which ads a viewer gets is drawn with the playback URL (sql/009_ads.sql,
 * media_ad_schedule; ngx_http_media_hls.c puts the schedule in the answer).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_cache.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_ads.h"
#include "ngx_http_media_roles.h"
#include "media_shared.h"
#include "media_token.h"


#define NGX_HTTP_MEDIA_AD_WEIGHT_MAX  1000


static void ngx_http_media_ads_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_ad_set(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_ad_gone(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_ad_shown(ngx_http_request_t *r,
    ngx_str_t *token, time_t left);
static void ngx_http_media_ad_first(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static ngx_int_t ngx_http_media_ad_time(ngx_http_request_t *r,
    const char *name, ngx_str_t *out);


/* the statements of this room, each prepared once per pooled connection */

#define NGX_HTTP_MEDIA_AD_JSON                                                \
    "json_build_object('id', a.media_id, 'title', m.title,"                   \
    "  'status', m.status, 'duration_ms', m.duration_ms,"                     \
    "  'weight', a.weight, 'starts_at', media_iso8601(a.starts_at),"          \
    "  'ends_at', media_iso8601(a.ends_at),"                                  \
    "  'live', m.status = 'ready'"                                            \
    "          AND (a.starts_at IS NULL OR a.starts_at <= now())"             \
    "          AND (a.ends_at IS NULL OR a.ends_at > now()),"                 \
    "  'impressions', (SELECT coalesce(json_agg(json_build_object("          \
    "      'day', i.day, 'impressions', i.impressions)"                       \
    "      ORDER BY i.day DESC), '[]')"                                       \
    "    FROM ad_impressions i WHERE i.media_id = a.media_id"                 \
    "      AND i.day > (now() AT TIME ZONE 'UTC')::date - 30))"

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_ads =
    ngx_http_media_pg_stmt("ads_list", 3,
        "SELECT json_build_object('ads', coalesce(json_agg("
        NGX_HTTP_MEDIA_AD_JSON " ORDER BY a.created_at), '[]')),"
        /* an admin reading others' media: on the record (sql/023) */
        "   media_audit($1::uuid, $2, 'admin.read', 'ads', NULL, NULL,"
        "     $3::inet, NULL, jsonb_build_object('route',"
        "     'GET /api/v1/admin/ads', 'rows', count(*)))"
        " FROM ads a JOIN media m ON m.id = a.media_id"
        " WHERE m.deleted_at IS NULL");

/* a PUT replaces the ad whole: what it leaves out is the default */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_ad_put =
    ngx_http_media_pg_stmt("ads_put", 4,
        "WITH a AS ("
        "  INSERT INTO ads (media_id, weight, starts_at, ends_at)"
        "  SELECT id, $2::integer, $3::timestamptz, $4::timestamptz"
        "    FROM media WHERE id = $1 AND deleted_at IS NULL"
        "  ON CONFLICT (media_id) DO UPDATE SET weight = excluded.weight,"
        "    starts_at = excluded.starts_at, ends_at = excluded.ends_at"
        "  RETURNING *)"
        " SELECT json_build_object('ad', " NGX_HTTP_MEDIA_AD_JSON ")"
        " FROM a JOIN media m ON m.id = a.media_id");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_ad_delete =
    ngx_http_media_pg_stmt("ads_delete", 1,
        "DELETE FROM ads WHERE media_id = $1 RETURNING media_id");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_impression =
    ngx_http_media_pg_stmt("ads_impression", 1,
        "INSERT INTO ad_impressions (media_id, day, impressions)"
        " SELECT media_id, (now() AT TIME ZONE 'UTC')::date, 1"
        "   FROM ads WHERE media_id = $1"
        " ON CONFLICT (media_id, day) DO UPDATE"
        "   SET impressions = ad_impressions.impressions + 1"
        " RETURNING media_id");


/* GET /api/v1/admin/ads (admins) */
ngx_int_t
ngx_http_media_ads(ngx_http_request_t *r)
{
    ngx_str_t              params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params[0] = ctx->user->id;
    params[1] = ctx->user->role;
    ngx_http_media_client_address(r, &params[2]);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_ads, params,
                                ngx_http_media_ads_listed, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_ads_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media ads"));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_send_json(r, NGX_HTTP_OK,
                              ngx_http_media_pg_value(res, 0, 0)));
}


/* PUT /api/v1/admin/ads/{media id} (admins) */
ngx_int_t
ngx_http_media_ad_put(ngx_http_request_t *r)
{
    yajl_val               w;
    ngx_str_t              params[4];
    long long              weight;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    weight = 1;
    w = ngx_http_media_body_value(r, "weight");

    if (w) {
        if (!YAJL_IS_INTEGER(w) || YAJL_GET_INTEGER(w) < 1
            || YAJL_GET_INTEGER(w) > NGX_HTTP_MEDIA_AD_WEIGHT_MAX)
        {
            return ngx_http_media_field_error(r, "weight", "weight must be "
                                              "a whole number from 1 to %d: "
                                              "an ad of weight 2 is drawn "
                                              "twice as often as one of 1",
                                              NGX_HTTP_MEDIA_AD_WEIGHT_MAX);
        }

        weight = YAJL_GET_INTEGER(w);
    }

    params[0] = ctx->capture;
    params[1].data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (params[1].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    params[1].len = ngx_sprintf(params[1].data, "%L", (int64_t) weight)
                    - params[1].data;

    if (ngx_http_media_ad_time(r, "starts_at", &params[2]) != NGX_OK) {
        return ngx_http_media_field_error(r, "starts_at", "starts_at must be "
                                          "a time such as "
                                          "2026-12-24T00:00:00Z, or null");
    }

    if (ngx_http_media_ad_time(r, "ends_at", &params[3]) != NGX_OK) {
        return ngx_http_media_field_error(r, "ends_at", "ends_at must be a "
                                          "time such as 2026-12-31T00:00:00Z, "
                                          "or null");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_ad_put, params,
                                ngx_http_media_ad_set, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_ad_set(ngx_http_request_t *r, ngx_http_media_pg_result_t *res,
    void *data)
{
    /* 23514: ends_at not after starts_at; 22007/22008: not a time */
    if (res->status == NGX_HTTP_MEDIA_PG_ERROR
        && (ngx_strncmp(res->sqlstate, "23514", 5) == 0
            || ngx_strncmp(res->sqlstate, "22007", 5) == 0
            || ngx_strncmp(res->sqlstate, "22008", 5) == 0))
    {
        ngx_http_finalize_request(r, ngx_http_media_field_error(r,
                                  "ends_at", res->sqlstate[1] == '3'
                                  ? "ends_at must come after starts_at"
                                  : "starts_at and ends_at must be times "
                                    "such as 2026-12-24T00:00:00Z"));
        return;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media ad"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such media: upload the ad first, "
                                  "then mark it"));
        return;
    }

    /* the anonymous playback rows kept as carrying no ad (hls.c); one
     * unmarked leaves them right */
    ngx_http_media_cache_forget(r);

    ngx_http_finalize_request(r, ngx_http_media_send_json(r, NGX_HTTP_OK,
                              ngx_http_media_pg_value(res, 0, 0)));
}


/* DELETE /api/v1/admin/ads/{media id} (admins): no longer an ad */
ngx_int_t
ngx_http_media_ad_delete(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such ad");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_ad_delete,
                                &ctx->capture, ngx_http_media_ad_gone, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * POST /api/v1/ads/{media id}/impressions {url}: anyone a player showed it
 * to, with the ad's URL from the playback answer
 */
ngx_int_t
ngx_http_media_ad_impression(ngx_http_request_t *r)
{
    u_char                      *p, *last, *token;
    yajl_val                     v;
    ngx_str_t                    url;
    media_token_t                t;
    media_token_rc_e             rc;
    ngx_http_media_ctx_t        *ctx;
    unsigned char                id[16];
    ngx_http_media_main_conf_t  *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK
        || media_uuid_parse((char *) ctx->capture.data, ctx->capture.len, id)
           != 0)
    {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such ad");
    }

    v = ngx_http_media_body_value(r, "url");

    if (!YAJL_IS_STRING(v)) {
        return ngx_http_media_field_error(r, "url",
                                          "url: required, the ad's \"url\" "
                                          "from the playback answer");
    }

    url.data = (u_char *) YAJL_GET_STRING(v);
    url.len = ngx_strlen(url.data);
    last = url.data + url.len;

    /* [scheme://host]<hls location><token>/<ad id>/master.m3u8 */
    p = ngx_strlcasestrn(url.data, last, mmcf->hls_location.data,
                         mmcf->hls_location.len - 1);
    token = p ? p + mmcf->hls_location.len : last;
    p = token < last ? ngx_strlchr(token, last, '/') : NULL;

    rc = MEDIA_TOKEN_MALFORMED;

    if (p != NULL
        && (size_t) (last - p)
           == 1 + ctx->capture.len + sizeof("/master.m3u8") - 1
        && ngx_strncmp(p + 1, ctx->capture.data, ctx->capture.len) == 0
        && ngx_strcmp(p + 1 + ctx->capture.len, "/master.m3u8") == 0)
    {
        rc = media_token_verify(ngx_http_media_tenant(r)->url_keys,
                                mmcf->url_nkeys, (char *) token, p - token,
                                ngx_time(), &t);
    }

    if (rc == MEDIA_TOKEN_OK && ngx_memcmp(t.media, id, 16) != 0) {
        rc = MEDIA_TOKEN_BAD_SIGNATURE;
    }

    if (rc != MEDIA_TOKEN_OK) {
        return ngx_http_media_bad_field(r, NGX_HTTP_FORBIDDEN,
                                        "impression_refused", "url",
                                        "url: not a playback URL this ad "
                                        "was scheduled with (%s); count "
                                        "an impression with the ad's "
                                        "\"url\" from a playback answer "
                                        "while it is valid",
                                        media_token_status(rc));
    }

    url.data = token;
    url.len = p - token;

    if (ngx_http_media_ad_shown(r, &url, (time_t) t.expires - ngx_time())
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* SET media:ad:shown:<token>:<address> 1 NX EX <the token's life left> */
static ngx_int_t
ngx_http_media_ad_shown(ngx_http_request_t *r, ngx_str_t *token, time_t left)
{
    u_char      *key, *ttl, *p;
    size_t       argvlen[6];
    ngx_str_t   *addr;
    const char  *argv[6];

    addr = &r->connection->addr_text;

    key = ngx_pnalloc(r->pool, sizeof(MEDIA_KEY_AD_SHOWN) - 1 + token->len
                               + 1 + addr->len);
    ttl = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (key == NULL || ttl == NULL) {
        return NGX_ERROR;
    }

    left = ngx_max(left, 1);

    argv[0] = "SET";
    argvlen[0] = 3;
    p = ngx_cpymem(key, MEDIA_KEY_AD_SHOWN, sizeof(MEDIA_KEY_AD_SHOWN) - 1);
    p = ngx_cpymem(p, token->data, token->len);
    *p++ = ':';
    p = ngx_cpymem(p, addr->data, addr->len);
    argv[1] = (char *) key;
    argvlen[1] = p - key;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = "NX";
    argvlen[3] = 2;
    argv[4] = "EX";
    argvlen[4] = 2;
    argv[5] = (char *) ttl;
    argvlen[5] = ngx_sprintf(ttl, "%T", left) - ttl;

    return ngx_http_media_redis_command(r, ngx_http_media_ad_first, NULL, 6,
                                        argv, argvlen);
}


/* the first impression of a token counts; the same one again is a 204 */
static void
ngx_http_media_ad_first(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_ctx_t  *ctx;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                  "impressions are not counted for a moment "
                                  "(redis: %V); send it again", &res->str));
        return;
    }

    if (res->str.len == 0) {
        /* nil: this showing was counted already */
        ngx_http_finalize_request(r, ngx_http_media_no_content(r));
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_impression,
                                &ctx->capture, ngx_http_media_ad_gone, NULL)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* a statement that names the ad it touched: 204, or 404 without one */
static void
ngx_http_media_ad_gone(ngx_http_request_t *r, ngx_http_media_pg_result_t *res,
    void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media ad"));
        return;
    }

    ngx_http_finalize_request(r, res->nrows
                              ? ngx_http_media_no_content(r)
                              : ngx_http_media_send_error(r,
                                    NGX_HTTP_NOT_FOUND, "not_found",
                                    "no such ad"));
}


/* a time member: a string PostgreSQL will read, null or absent (NULL) */
static ngx_int_t
ngx_http_media_ad_time(ngx_http_request_t *r, const char *name,
    ngx_str_t *out)
{
    yajl_val  v;

    ngx_str_null(out);

    v = ngx_http_media_body_value(r, name);

    if (v == NULL || YAJL_IS_NULL(v)) {
        return NGX_OK;
    }

    if (!YAJL_IS_STRING(v)) {
        return NGX_ERROR;
    }

    out->data = (u_char *) v->u.string;
    out->len = ngx_strlen(out->data);

    if (out->len == 0 || out->len > 64) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
