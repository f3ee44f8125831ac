/*
 * The social room: comments on a moment, likes, reposts, follows, the
 * feed.
 *
 *   POST /api/v1/media/{id}/comments {body, at_ms}
 *       body 1 to 1000 characters (media_social_body), at_ms a whole
 *       number of ms within the media's duration: 422 naming the field;
 *       then the author's rate (Redis, 10 per 10 s: 429 with Retry-After);
 *       then one statement: the media is there for this user (404), has a
 *       duration (409 not_ready), at_ms is within it (422), the row.
 *   GET /api/v1/media/{id}/comments?limit=N&cursor=C
 *       by moment (at_ms, then id), anyone who may see the media, signed
 *       in or not; the cursor is the last comment's id.
 *   DELETE /api/v1/comments/{id}
 *       its author or the media's owner: 204; anyone else who can see the
 *       media: 403; otherwise 404.  Deleted softly: counts and lists drop
 *       it (sql/017).
 *   PUT, DELETE /api/v1/media/{id}/like, /repost
 *       idempotent: 200 {liked|reposted, likes_count|reposts_count}.
 *   PUT, DELETE /api/v1/users/{id}/follow
 *       idempotent: 200 {following, followers_count}; yourself: 422.
 *   GET /api/v1/media/{id}/social
 *       counts, the owner, and whether the caller liked, reposted,
 *       follows the owner: what a player shows (anonymous: all false).
 *   GET /api/v1/feed?limit=N&cursor=C
 *       public, ready media uploaded by whom the user follows, and their
 *       reposts of public media, newest first (media_social_cursor).
 *
 * What the caller may not see is not there: private media of others, a
 * deleted media, an unknown user: 404, never 403.  Counts are kept by the
 * triggers of sql/017; an answer's count is the row's before the change
 * plus what this statement did, since a statement does not see its own
 * triggers' writes.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_social.h"
#include "media_social.h"


#define NGX_HTTP_MEDIA_COMMENT_RATE     10       /* comments a window */
#define NGX_HTTP_MEDIA_COMMENT_WINDOW   10000    /* ms */

#define NGX_HTTP_MEDIA_COMMENTS_PAGE    50
#define NGX_HTTP_MEDIA_COMMENTS_MAX     200
#define NGX_HTTP_MEDIA_FEED_PAGE        20
#define NGX_HTTP_MEDIA_FEED_MAX         100


typedef struct {
    ngx_str_t    params[4];          /* user, media, body, at_ms */
    ngx_str_t    key;                /* the rate's Redis key */
} ngx_http_media_comment_t;


/* what a PUT or DELETE of a like, a repost or a follow answers with */
typedef struct {
    const char  *state;              /* "liked", "reposted", "following" */
    const char  *count;              /* "likes_count", ... */
    ngx_uint_t   on;                 /* PUT: 1 */
} ngx_http_media_toggle_t;


static void ngx_http_media_social_stated(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_comment_limited(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_comment_made(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_comments_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_comment_deleted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_toggle(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *put, ngx_http_media_pg_stmt_t *del,
    const char *state, const char *count);
static void ngx_http_media_toggled(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_feed_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


/* the statements of this room, each prepared once per pooled connection */

/* the media $2 as user $1 (NULL: anonymous) may see it; taken down,
 * only its owner does */
#define NGX_HTTP_MEDIA_SOCIAL_SEEN                                           \
    " FROM media WHERE id = $2 AND deleted_at IS NULL"                       \
    "   AND (privacy <> 'private' OR owner_id = $1)"                         \
    "   AND (status <> 'blocked' OR owner_id = $1)"

/* what a player shows beside a media: counts, and what the viewer did */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_social_state =
    ngx_http_media_pg_stmt("social_state", 2,
        "SELECT json_build_object('media_id', id,"
        "  'likes_count', likes_count, 'reposts_count', reposts_count,"
        "  'comments_count', comments_count,"
        "  'owner', media_social_user_json(owner_id),"
        "  'liked', EXISTS (SELECT 1 FROM likes"
        "                    WHERE user_id = $1 AND media_id = $2),"
        "  'reposted', EXISTS (SELECT 1 FROM reposts"
        "                       WHERE user_id = $1 AND media_id = $2),"
        "  'following', EXISTS (SELECT 1 FROM follows"
        "                        WHERE follower_id = $1"
        "                          AND followee_id = owner_id))"
        NGX_HTTP_MEDIA_SOCIAL_SEEN);

/* a row when the media is seen: its duration, then the comment, if made */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_comment_make =
    ngx_http_media_pg_stmt("social_comment_make", 4,
        "WITH m AS (SELECT id, duration_ms" NGX_HTTP_MEDIA_SOCIAL_SEEN "),"
        " c AS ("
        "  INSERT INTO comments (media_id, user_id, body, at_ms)"
        "  SELECT id, $1, $3, $4 FROM m"
        "   WHERE duration_ms IS NOT NULL AND $4::integer <= duration_ms"
        "  RETURNING *)"
        " SELECT m.duration_ms, (SELECT media_comment_json(c) FROM c)"
        "   FROM m");

/*
 * (cursor, comment) rows; a seen media with no comment (left) gives one
 * row of NULLs, an unseen one none, so that the two answers differ.
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_comment_list =
    ngx_http_media_pg_stmt("social_comment_list", 4,
        "WITH m AS (SELECT id" NGX_HTTP_MEDIA_SOCIAL_SEEN ")"
        " SELECT p.id::text, p.item FROM m LEFT JOIN LATERAL ("
        "  SELECT c.id, media_comment_json(c) AS item FROM comments c"
        "   WHERE c.media_id = m.id AND c.deleted_at IS NULL"
        "     AND ($3::uuid IS NULL OR (c.at_ms, c.id) >"
        "          (SELECT at_ms, id FROM comments"
        "            WHERE id = $3 AND media_id = m.id))"
        "   ORDER BY c.at_ms, c.id LIMIT $4) p ON true"
        " ORDER BY p.item IS NULL");

/* a row when the comment is seen; its count of rows deleted: 0 or 1 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_comment_delete =
    ngx_http_media_pg_stmt("social_comment_delete", 2,
        "WITH c AS ("
        "  SELECT c.id, c.user_id, m.owner_id FROM comments c"
        "    JOIN media m ON m.id = c.media_id"
        "   WHERE c.id = $2 AND c.deleted_at IS NULL"
        "     AND m.deleted_at IS NULL"
        "     AND (m.privacy <> 'private' OR m.owner_id = $1)),"
        " d AS ("
        "  UPDATE comments SET deleted_at = now()"
        "   WHERE id = (SELECT id FROM c WHERE user_id = $1"
        "                                   OR owner_id = $1)"
        "  RETURNING id)"
        " SELECT (SELECT count(*) FROM d) FROM c");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_like_put =
    ngx_http_media_pg_stmt("social_like_put", 2,
        "WITH m AS (SELECT id, likes_count" NGX_HTTP_MEDIA_SOCIAL_SEEN "),"
        " i AS (INSERT INTO likes (user_id, media_id)"
        "       SELECT $1, id FROM m ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT m.likes_count + (SELECT count(*) FROM i) FROM m");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_like_delete =
    ngx_http_media_pg_stmt("social_like_delete", 2,
        "WITH m AS (SELECT id, likes_count" NGX_HTTP_MEDIA_SOCIAL_SEEN "),"
        " d AS (DELETE FROM likes WHERE user_id = $1"
        "          AND media_id = (SELECT id FROM m) RETURNING 1)"
        " SELECT m.likes_count - (SELECT count(*) FROM d) FROM m");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_repost_put =
    ngx_http_media_pg_stmt("social_repost_put", 2,
        "WITH m AS (SELECT id, reposts_count" NGX_HTTP_MEDIA_SOCIAL_SEEN "),"
        " i AS (INSERT INTO reposts (user_id, media_id)"
        "       SELECT $1, id FROM m ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT m.reposts_count + (SELECT count(*) FROM i) FROM m");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_repost_delete =
    ngx_http_media_pg_stmt("social_repost_delete", 2,
        "WITH m AS (SELECT id, reposts_count" NGX_HTTP_MEDIA_SOCIAL_SEEN "),"
        " d AS (DELETE FROM reposts WHERE user_id = $1"
        "          AND media_id = (SELECT id FROM m) RETURNING 1)"
        " SELECT m.reposts_count - (SELECT count(*) FROM d) FROM m");

/* followers are counted, not kept: follows_followee is the index */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_follow_put =
    ngx_http_media_pg_stmt("social_follow_put", 2,
        "WITH u AS (SELECT id FROM users WHERE id = $2),"
        " i AS (INSERT INTO follows (follower_id, followee_id)"
        "       SELECT $1, id FROM u ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM follows WHERE followee_id = u.id)"
        "        + (SELECT count(*) FROM i) FROM u");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_follow_delete =
    ngx_http_media_pg_stmt("social_follow_delete", 2,
        "WITH u AS (SELECT id FROM users WHERE id = $2),"
        " d AS (DELETE FROM follows WHERE follower_id = $1"
        "          AND followee_id = (SELECT id FROM u) RETURNING 1)"
        " SELECT (SELECT count(*) FROM follows WHERE followee_id = u.id)"
        "        - (SELECT count(*) FROM d) FROM u");

/*
 * An item after the cursor's ($2 microseconds, $3 repost, $4 media, $5
 * by), in the feed's order.  The microseconds are added in two exact
 * steps: an interval times a large number goes through a double.
 */
#define NGX_HTTP_MEDIA_FEED_AFTER(at, repost, media, by)                     \
    " ($2::bigint IS NULL OR (" at ", " repost ", " media ", " by ") <"      \
    "  (timestamptz 'epoch'"                                                 \
    "   + ($2::bigint / 1000000) * interval '1 second'"                      \
    "   + ($2::bigint % 1000000) * interval '1 microsecond',"                \
    "   $3::boolean, $4::uuid, $5::uuid))"

/*
 * (cursor, item) rows, newest first.  An item's time is when its media was
 * published (or uploaded, when the public room has not said) or when it
 * was reposted; ties are broken by kind, media and who, the cursor's four
 * parts.  Each followee gives at most a page of each kind, read in order
 * from an index (media_feed_new, reposts_user_new), so a page costs the
 * followees times the page, not everything they ever posted.
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_feed =
    ngx_http_media_pg_stmt("social_feed", 6,
        "WITH f AS (SELECT followee_id AS id FROM follows"
        "            WHERE follower_id = $1),"
        " i AS ("
        "  SELECT x.* FROM f CROSS JOIN LATERAL ("
        "   SELECT coalesce(m.published_at, m.created_at) AS at,"
        "          false AS repost, m.id AS media_id, m.owner_id AS by_id"
        "     FROM media m"
        "    WHERE m.owner_id = f.id"
        "      AND m.deleted_at IS NULL AND m.privacy = 'public'"
        "      AND m.status = 'ready' AND"
        NGX_HTTP_MEDIA_FEED_AFTER("coalesce(m.published_at, m.created_at)",
                                  "false", "m.id", "m.owner_id")
        "    ORDER BY coalesce(m.published_at, m.created_at) DESC,"
        "             m.id DESC"
        "    LIMIT $6) x"
        "  UNION ALL"
        "  SELECT x.* FROM f CROSS JOIN LATERAL ("
        "   SELECT r.created_at AS at, true AS repost, r.media_id,"
        "          r.user_id AS by_id"
        "     FROM reposts r JOIN media m ON m.id = r.media_id"
        "    WHERE r.user_id = f.id"
        "      AND m.deleted_at IS NULL AND m.privacy = 'public'"
        "      AND m.status = 'ready' AND"
        NGX_HTTP_MEDIA_FEED_AFTER("r.created_at", "true", "r.media_id",
                                  "r.user_id")
        "    ORDER BY r.created_at DESC, r.media_id DESC"
        "    LIMIT $6) x),"
        " p AS ("
        "  SELECT * FROM i"
        "   ORDER BY i.at DESC, i.repost DESC, i.media_id DESC,"
        "            i.by_id DESC"
        "   LIMIT $6)"
        " SELECT (extract(epoch FROM p.at) * 1000000)::bigint"
        "        || CASE WHEN p.repost THEN '.r.' ELSE '.u.' END"
        "        || p.media_id || '.' || p.by_id,"
        "        json_build_object("
        "          'type', CASE WHEN p.repost THEN 'repost'"
        "                       ELSE 'upload' END,"
        "          'repost', p.repost,"
        "          'at', media_iso8601(p.at),"
        "          'by', media_social_user_json(p.by_id),"
        "          'media', media_feed_media_json(m))"
        "   FROM p JOIN media m ON m.id = p.media_id"
        "  ORDER BY p.at DESC, p.repost DESC, p.media_id DESC,"
        "           p.by_id DESC");


/* GET /api/v1/media/{id}/social ----------------------------------------- */

ngx_int_t
ngx_http_media_social_state(ngx_http_request_t *r)
{
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    /* anonymous: NULL; then liked, reposted and following are false */
    ngx_str_null(&params[0]);
    if (ctx->user) {
        params[0] = ctx->user->id;
    }

    params[1] = ctx->capture;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_social_state, params,
                                ngx_http_media_social_stated, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_social_stated(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_int_t  rc;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows > 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media social state"));
        return;
    }

    if (res->nrows == 0) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such media");

    } else {
        rc = ngx_http_media_send_json(r, NGX_HTTP_OK,
                                      ngx_http_media_pg_value(res, 0, 0));
    }

    ngx_http_finalize_request(r, rc);
}


/* POST /api/v1/media/{id}/comments {body, at_ms} ------------------------- */

ngx_int_t
ngx_http_media_comment_create(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     chars;
    int64_t                    at;
    yajl_val                   v;
    ngx_str_t                 *body;
    ngx_http_media_ctx_t      *ctx;
    ngx_http_media_comment_t  *c;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    body = ngx_http_media_body_str(r, "body");
    if (body == NULL) {
        return ngx_http_media_field_error(r, "body", "body is required: "
                                          "the comment's text, 1 to %d "
                                          "characters",
                                          MEDIA_SOCIAL_BODY_MAX);
    }

    switch (media_social_body(body->data, body->len, &chars)) {

    case MEDIA_SOCIAL_OK:
        break;

    case MEDIA_SOCIAL_EMPTY:
        return ngx_http_media_field_error(r, "body", "body is empty; write "
                                          "1 to %d characters",
                                          MEDIA_SOCIAL_BODY_MAX);

    case MEDIA_SOCIAL_TOO_LONG:
        return ngx_http_media_field_error(r, "body", "body is %uz "
                                          "characters; a comment may hold "
                                          "at most %d", chars,
                                          MEDIA_SOCIAL_BODY_MAX);

    default:
        return ngx_http_media_field_error(r, "body", "body holds a control "
                                          "character (only line feeds and "
                                          "tabs may be used) or text that "
                                          "is not UTF-8");
    }

    v = ngx_http_media_body_value(r, "at_ms");

    if (v == NULL || YAJL_IS_NULL(v)) {
        return ngx_http_media_field_error(r, "at_ms", "at_ms is required: "
                                          "the moment the comment is on, "
                                          "in milliseconds from the start");
    }

    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0
        || YAJL_GET_INTEGER(v) > NGX_MAX_INT32_VALUE)
    {
        return ngx_http_media_field_error(r, "at_ms", "at_ms must be a "
                                          "whole number of milliseconds "
                                          "from 0 to the media's duration");
    }

    at = YAJL_GET_INTEGER(v);

    c = ngx_pcalloc(r->pool, sizeof(ngx_http_media_comment_t));
    if (c == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    c->params[0] = ctx->user->id;
    c->params[1] = ctx->capture;
    c->params[2] = *body;
    c->params[3].data = p;
    c->params[3].len = ngx_sprintf(p, "%L", at) - p;

    c->key.len = sizeof(MEDIA_KEY_COMMENT_RATE) - 1 + ctx->user->id.len;
    c->key.data = ngx_pnalloc(r->pool, c->key.len);
    if (c->key.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(c->key.data, MEDIA_KEY_COMMENT_RATE,
                   sizeof(MEDIA_KEY_COMMENT_RATE) - 1);
    ngx_memcpy(p, ctx->user->id.data, ctx->user->id.len);

    if (ngx_http_media_redis_limit(r, &c->key, NGX_HTTP_MEDIA_COMMENT_RATE,
                                   NGX_HTTP_MEDIA_COMMENT_WINDOW,
                                   ngx_http_media_comment_limited, c)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_comment_limited(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_comment_t  *c = data;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        /* open: a comment is small, and Redis being away is logged */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media comment rate: not checked (redis: %V), "
                      "request_id: %V", &res->str,
                      ngx_http_media_request_id(r));

    } else if (res->integer > 0) {
        ngx_http_finalize_request(r, ngx_http_media_too_many(r,
                                  res->integer, "rate_limited",
                                  "you may post %d comments in %d seconds",
                                  NGX_HTTP_MEDIA_COMMENT_RATE,
                                  NGX_HTTP_MEDIA_COMMENT_WINDOW / 1000));
        return;
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_comment_make,
                                c->params, ngx_http_media_comment_made, c)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_comment_made(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_comment_t  *c = data;

    ngx_int_t   rc;
    ngx_str_t  *duration, *comment;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows > 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media comment make"));
        return;
    }

    if (res->nrows == 0) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such media");
        ngx_http_finalize_request(r, rc);
        return;
    }

    duration = ngx_http_media_pg_value(res, 0, 0);
    comment = ngx_http_media_pg_value(res, 0, 1);

    if (duration->data == NULL) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "not_ready",
                                       "this media has no duration yet (it "
                                       "is still processing); comment once "
                                       "it is ready");

    } else if (comment->data == NULL) {
        rc = ngx_http_media_field_error(r, "at_ms", "at_ms is %V; this "
                                        "media lasts %V ms, so at_ms may "
                                        "be 0 to %V", &c->params[3],
                                        duration, duration);

    } else {
        rc = ngx_http_media_send_json(r, NGX_HTTP_CREATED, comment);
    }

    ngx_http_finalize_request(r, rc);
}


/* GET /api/v1/media/{id}/comments?limit=N&cursor=C ----------------------- */

ngx_int_t
ngx_http_media_comment_list(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t             *params;
    ngx_uint_t             n;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    params = ngx_pcalloc(r->pool, 4 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_COMMENTS_PAGE,
                                 NGX_HTTP_MEDIA_COMMENTS_MAX, &n, &params[2],
                                 &params[3], &rc)
        != NGX_OK)
    {
        return rc;
    }

    /* the cursor is the last comment's id: the page goes on after it */
    if (params[2].data && ngx_http_media_is_uuid(&params[2]) != NGX_OK) {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out");
    }

    /* anonymous: NULL, and only public and unlisted media are seen */
    if (ctx->user) {
        params[0] = ctx->user->id;
    }

    params[1] = ctx->capture;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_comment_list, params,
                                ngx_http_media_comments_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_comments_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_int_t  rc;

    if (res->status == NGX_HTTP_MEDIA_PG_OK && res->nrows == 0) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such media");
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the media's row without a comment: an empty page */
    if (res->status == NGX_HTTP_MEDIA_PG_OK
        && ngx_http_media_pg_value(res, res->nrows - 1, 1)->data == NULL)
    {
        res->nrows--;
    }

    ngx_http_finalize_request(r, ngx_http_media_send_page(r, res,
                              (uintptr_t) data, "media comment list"));
}


/* DELETE /api/v1/comments/{id} ------------------------------------------- */

ngx_int_t
ngx_http_media_comment_delete(ngx_http_request_t *r)
{
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such comment");
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_comment_delete,
                                params, ngx_http_media_comment_deleted, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_comment_deleted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_int_t   rc;
    ngx_str_t  *n;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows > 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media comment delete"));
        return;
    }

    if (res->nrows == 0) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such comment");
        ngx_http_finalize_request(r, rc);
        return;
    }

    n = ngx_http_media_pg_value(res, 0, 0);

    if (n->len == 1 && n->data[0] == '1') {
        rc = ngx_http_media_no_content(r);

    } else {
        rc = ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                       "only the comment's author or the "
                                       "media's owner may delete it");
    }

    ngx_http_finalize_request(r, rc);
}


/* PUT, DELETE /api/v1/media/{id}/like and /repost ------------------------ */

ngx_int_t
ngx_http_media_like(ngx_http_request_t *r)
{
    return ngx_http_media_toggle(r, &ngx_http_media_sql_like_put,
                                 &ngx_http_media_sql_like_delete, "liked",
                                 "likes_count");
}


ngx_int_t
ngx_http_media_repost(ngx_http_request_t *r)
{
    return ngx_http_media_toggle(r, &ngx_http_media_sql_repost_put,
                                 &ngx_http_media_sql_repost_delete,
                                 "reposted", "reposts_count");
}


/* PUT, DELETE /api/v1/users/{id}/follow ---------------------------------- */

ngx_int_t
ngx_http_media_follow(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such user");
    }

    /* both as PostgreSQL prints a uuid (the capture is lowercased) */
    if (ctx->capture.len == ctx->user->id.len
        && ngx_strncmp(ctx->capture.data, ctx->user->id.data,
                       ctx->capture.len) == 0)
    {
        return ngx_http_media_field_error(r, "id", "you cannot follow "
                                          "yourself; the id in the path is "
                                          "your own");
    }

    return ngx_http_media_toggle(r, &ngx_http_media_sql_follow_put,
                                 &ngx_http_media_sql_follow_delete,
                                 "following", "followers_count");
}


/* the statements take ($1 user, $2 the {id}) and answer the count */
static ngx_int_t
ngx_http_media_toggle(ngx_http_request_t *r, ngx_http_media_pg_stmt_t *put,
    ngx_http_media_pg_stmt_t *del, const char *state, const char *count)
{
    ngx_str_t                 params[2];
    ngx_http_media_ctx_t     *ctx;
    ngx_http_media_toggle_t  *t;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such %s", state[0] == 'f'
                                                       ? "user" : "media");
    }

    t = ngx_palloc(r->pool, sizeof(ngx_http_media_toggle_t));
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    t->state = state;
    t->count = count;
    t->on = (r->method == NGX_HTTP_PUT);

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    if (ngx_http_media_pg_query(r, t->on ? put : del, params,
                                ngx_http_media_toggled, t)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_toggled(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_toggle_t  *t = data;

    yajl_gen    g;
    ngx_int_t   rc;
    ngx_str_t  *n;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows > 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media social toggle"));
        return;
    }

    if (res->nrows == 0) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such %s", t->state[0] == 'f'
                                                     ? "user" : "media");
        ngx_http_finalize_request(r, rc);
        return;
    }

    n = ngx_http_media_pg_value(res, 0, 0);
    if (n->data == NULL) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media social toggle"));
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) t->state,
                    ngx_strlen(t->state));
    yajl_gen_bool(g, t->on);
    yajl_gen_string(g, (const unsigned char *) t->count,
                    ngx_strlen(t->count));
    yajl_gen_number(g, (const char *) n->data, n->len);
    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_OK, g));
}


/* GET /api/v1/feed?limit=N&cursor=C -------------------------------------- */

ngx_int_t
ngx_http_media_feed(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_str_t              *params, cursor;
    ngx_uint_t              n;
    ngx_http_media_ctx_t   *ctx;
    media_social_cursor_t   c;

    params = ngx_pcalloc(r->pool, 6 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_FEED_PAGE,
                                 NGX_HTTP_MEDIA_FEED_MAX, &n, &cursor,
                                 &params[5], &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (cursor.data) {
        if (media_social_cursor(cursor.data, cursor.len, &c) != 0) {
            return ngx_http_media_field_error(r, "cursor", "cursor is not "
                                              "one this server gave out");
        }

        params[1].data = (u_char *) c.micros;
        params[1].len = c.micros_len;
        if (c.repost) {
            ngx_str_set(&params[2], "true");

        } else {
            ngx_str_set(&params[2], "false");
        }

        params[3].data = (u_char *) c.media;
        params[3].len = 36;
        params[4].data = (u_char *) c.by;
        params[4].len = 36;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    params[0] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_feed, params,
                                ngx_http_media_feed_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_feed_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_page(r, res,
                              (uintptr_t) data, "media feed"));
}

