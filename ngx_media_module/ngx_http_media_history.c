/*
 * The listening side:
 *
 *   PUT /api/v1/media/{id}/progress {position_ms}
 *       where the signed-in viewer stopped (the player sends it every
 *       30 s and on pause); 200 {media_id, position_ms, updated_at}
 *   GET /api/v1/media/{id}/progress
 *       where they stopped (position_ms 0, updated_at null: never), and
 *       the duration, for "resume at 1:23?"
 *   GET /api/v1/history?limit=N&cursor=C
 *       what they played, with where they stopped, newest first
 *   GET /api/v1/stats
 *       a creator's numbers per day (UTC) for the last 90 days: plays,
 *       likes, comments on their media, and new followers; per media too
 *   GET /api/v1/trending?limit=N&cursor=C
 *       public media ranked by recent plays and likes with time decay,
 *       read from the table the sweeper refreshes (media_trending_refresh
 *       in sql/018), never computed per request
 *
 * Plays themselves are counted where playback tokens are issued
 * (ngx_http_media_hls.c; sent in batches by ngx_http_media_plays.c,
 * media_plays_add in sql/040).
 *
 * Media the caller may not see (deleted, or private and not theirs) is
 * 404 and never listed; privacy is checked when read, so a media made
 * private after it was played leaves the history and trending at once.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_history.h"
#include "media_cursor.h"


#define NGX_HTTP_MEDIA_HISTORY_PAGE    20
#define NGX_HTTP_MEDIA_HISTORY_MAX     100
#define NGX_HTTP_MEDIA_TRENDING_PAGE   20
#define NGX_HTTP_MEDIA_TRENDING_MAX    100


static void ngx_http_media_history_done(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_history_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


/* media $2 as the viewer $1 may see it */
#define NGX_HTTP_MEDIA_VISIBLE                                                \
    "SELECT id, duration_ms FROM media WHERE id = $2 AND deleted_at IS NULL" \
    " AND (privacy <> 'private' OR owner_id = $1)"


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_progress_put =
    ngx_http_media_pg_stmt("progress_put", 3,
        "WITH m AS (" NGX_HTTP_MEDIA_VISIBLE "),"
        " v AS (SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM m) THEN 'missing'"
        "   WHEN $3::integer > (SELECT duration_ms FROM m) THEN 'beyond'"
        "   ELSE 'ok' END AS verdict),"
        " w AS (INSERT INTO watch_progress (user_id, media_id, position_ms)"
        "  SELECT $1, $2, $3 FROM v WHERE verdict = 'ok'"
        "  ON CONFLICT (user_id, media_id) DO UPDATE"
        "  SET position_ms = EXCLUDED.position_ms, updated_at = now()"
        "  RETURNING position_ms, updated_at)"
        " SELECT v.verdict, (SELECT json_build_object('media_id', $2::uuid,"
        "     'position_ms', w.position_ms,"
        "     'updated_at', media_iso8601(w.updated_at)) FROM w),"
        "   (SELECT duration_ms FROM m)::text"
        "   FROM v");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_progress_get =
    ngx_http_media_pg_stmt("progress_get", 2,
        "WITH m AS (" NGX_HTTP_MEDIA_VISIBLE ")"
        " SELECT CASE WHEN m.id IS NULL THEN 'missing' ELSE 'ok' END,"
        "   json_build_object('media_id', m.id,"
        "     'position_ms', coalesce(w.position_ms, 0),"
        "     'duration_ms', m.duration_ms,"
        "     'updated_at', media_iso8601(w.updated_at))"
        "   FROM (SELECT 1) x LEFT JOIN m ON true"
        "   LEFT JOIN watch_progress w ON w.user_id = $1"
        "                             AND w.media_id = m.id");

/* the cursor: the last item's "<microseconds since 1970>.<media id>" */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_history =
    ngx_http_media_pg_stmt("history_list", 3,
        "WITH c AS (SELECT timestamptz 'epoch'"
        "    + split_part($2, '.', 1)::bigint * interval '1 microsecond'"
        "      AS at, split_part($2, '.', 2)::uuid AS id"
        "  WHERE $2 IS NOT NULL)"
        " SELECT (extract(epoch FROM w.updated_at) * 1000000)::bigint"
        "          || '.' || w.media_id,"
        "   json_build_object('media', media_listen_json(m),"
        "     'position_ms', w.position_ms,"
        "     'updated_at', media_iso8601(w.updated_at))"
        "   FROM watch_progress w JOIN media m ON m.id = w.media_id"
        "  WHERE w.user_id = $1 AND m.deleted_at IS NULL"
        "    AND m.status <> 'blocked'"
        "    AND (m.privacy <> 'private' OR m.owner_id = $1)"
        "    AND (NOT EXISTS (SELECT 1 FROM c)"
        "         OR (w.updated_at, w.media_id) < (SELECT at, id FROM c))"
        "  ORDER BY w.updated_at DESC, w.media_id DESC LIMIT $3");

/*
 * 90 days of UTC dates, today the last; events (plays, likes, comments)
 * on the creator's undeleted media and new follows of the creator,
 * counted per day, in total and per media (only media with events, most
 * played first).  "followers" of a day: those who began following that
 * day; totals.followers: followers now.
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_stats =
    ngx_http_media_pg_stmt("stats", 1,
        "WITH d AS (SELECT g::date AS day FROM generate_series("
        "    (now() AT TIME ZONE 'UTC')::date - 89,"
        "    (now() AT TIME ZONE 'UTC')::date, interval '1 day') g),"
        " s AS (SELECT ((now() AT TIME ZONE 'UTC')::date - 89)::timestamp"
        "         AT TIME ZONE 'UTC' AS t),"
        " mine AS (SELECT id, title FROM media"
        "   WHERE owner_id = $1 AND deleted_at IS NULL),"
        " e AS (SELECT p.media_id, p.created_at AS at, 1 AS k"
        "         FROM plays p JOIN mine ON mine.id = p.media_id, s"
        "        WHERE p.created_at >= s.t"
        "       UNION ALL"
        "       SELECT l.media_id, l.created_at, 2"
        "         FROM likes l JOIN mine ON mine.id = l.media_id, s"
        "        WHERE l.created_at >= s.t"
        "       UNION ALL"
        "       SELECT c.media_id, c.created_at, 3"
        "         FROM comments c JOIN mine ON mine.id = c.media_id, s"
        "        WHERE c.created_at >= s.t AND c.deleted_at IS NULL),"
        " pm AS (SELECT media_id, (at AT TIME ZONE 'UTC')::date AS day,"
        "          count(*) FILTER (WHERE k = 1) AS plays,"
        "          count(*) FILTER (WHERE k = 2) AS likes,"
        "          count(*) FILTER (WHERE k = 3) AS comments"
        "   FROM e GROUP BY 1, 2),"
        " f AS (SELECT (created_at AT TIME ZONE 'UTC')::date AS day,"
        "          count(*) AS n"
        "   FROM follows, s WHERE followee_id = $1 AND created_at >= s.t"
        "   GROUP BY 1),"
        " pd AS (SELECT d.day, coalesce(sum(pm.plays), 0) AS plays,"
        "          coalesce(sum(pm.likes), 0) AS likes,"
        "          coalesce(sum(pm.comments), 0) AS comments,"
        "          coalesce(max(f.n), 0) AS followers"
        "   FROM d LEFT JOIN pm ON pm.day = d.day"
        "   LEFT JOIN f ON f.day = d.day GROUP BY d.day)"
        " SELECT 'ok', json_build_object("
        "   'from', (SELECT min(day) FROM d), 'to', (SELECT max(day) FROM d),"
        "   'totals', (SELECT json_build_object('plays', sum(plays),"
        "       'likes', sum(likes), 'comments', sum(comments),"
        "       'new_followers', sum(followers),"
        "       'followers', (SELECT count(*) FROM follows"
        "                      WHERE followee_id = $1)) FROM pd),"
        "   'days', (SELECT json_agg(json_build_object('day', day,"
        "       'plays', plays, 'likes', likes, 'comments', comments,"
        "       'followers', followers) ORDER BY day) FROM pd),"
        "   'media', coalesce((SELECT json_agg(json_build_object("
        "       'id', mine.id, 'title', mine.title, 'plays', t.plays,"
        "       'likes', t.likes, 'comments', t.comments, 'days', t.days)"
        "       ORDER BY t.plays DESC, mine.id)"
        "     FROM mine JOIN (SELECT media_id, sum(plays) AS plays,"
        "         sum(likes) AS likes, sum(comments) AS comments,"
        "         json_agg(json_build_object('day', day, 'plays', plays,"
        "           'likes', likes, 'comments', comments) ORDER BY day)"
        "           AS days"
        "       FROM pm GROUP BY media_id) t ON t.media_id = mine.id),"
        "     '[]'))");

/* the cursor: the last item's rank */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_trending =
    ngx_http_media_pg_stmt("trending", 2,
        "SELECT t.rank::text, json_build_object('rank', t.rank,"
        "   'score', round(t.score::numeric, 4), 'plays', t.plays,"
        "   'likes', t.likes, 'media', media_listen_json(m),"
        "   'owner', json_build_object('id', u.id, 'handle', u.handle,"
        "     'display_name', u.display_name),"
        "   'refreshed_at', media_iso8601(t.refreshed_at))"
        "  FROM trending t JOIN media m ON m.id = t.media_id"
        "  JOIN users u ON u.id = m.owner_id"
        " WHERE m.privacy = 'public' AND m.status = 'ready'"
        "   AND m.deleted_at IS NULL"
        "   AND ($1::integer IS NULL OR t.rank > $1::integer)"
        " ORDER BY t.rank LIMIT $2");


static const ngx_http_media_verdict_t  ngx_http_media_progress_answers[] = {
    { "ok", NGX_HTTP_OK, NULL, NULL, NULL },
    { "beyond", NGX_HTTP_MEDIA_UNPROCESSABLE, "invalid_field", "position_ms",
      "position_ms is past the end: the media lasts %V ms" },
    { NULL, NGX_HTTP_NOT_FOUND, "not_found", NULL, "no such media" }
};


/* PUT /api/v1/media/{id}/progress {position_ms} -------------------------- */

ngx_int_t
ngx_http_media_progress_put(ngx_http_request_t *r)
{
    u_char                 buf[NGX_INT64_LEN];
    yajl_val               v;
    ngx_str_t              params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    v = ngx_http_media_body_value(r, "position_ms");

    if (v == NULL || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0
        || YAJL_GET_INTEGER(v) > NGX_MAX_INT32_VALUE)
    {
        return ngx_http_media_field_error(r, "position_ms", "send "
                                          "position_ms: where playback "
                                          "stopped, in whole milliseconds "
                                          "from 0");
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;
    params[2].data = buf;
    params[2].len = ngx_sprintf(buf, "%L", (int64_t) YAJL_GET_INTEGER(v))
                    - buf;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_progress_put, params,
                                ngx_http_media_history_done,
                                (void *) ngx_http_media_progress_answers)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* GET /api/v1/media/{id}/progress ---------------------------------------- */

ngx_int_t
ngx_http_media_progress_get(ngx_http_request_t *r)
{
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_progress_get, params,
                                ngx_http_media_history_done,
                                (void *) ngx_http_media_progress_answers)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* GET /api/v1/history?limit=N&cursor=C ----------------------------------- */

ngx_int_t
ngx_http_media_history(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              params[3];
    ngx_uint_t             n;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_HISTORY_PAGE,
                                 NGX_HTTP_MEDIA_HISTORY_MAX, &n, &params[1],
                                 &params[2], &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (params[1].data
        && !media_cursor_time_id(params[1].data, params[1].len))
    {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out: pass "
                                          "next_cursor as it came");
    }

    params[0] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_history, params,
                                ngx_http_media_history_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* GET /api/v1/stats ------------------------------------------------------ */

ngx_int_t
ngx_http_media_stats(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    static const ngx_http_media_verdict_t  answers[] = {
        { "ok", NGX_HTTP_OK, NULL, NULL, NULL },
        { NULL, NGX_HTTP_NOT_FOUND, "not_found", NULL, "no such user" }
    };

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_stats,
                                &ctx->user->id, ngx_http_media_history_done,
                                (void *) answers)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* GET /api/v1/trending?limit=N&cursor=C: anyone -------------------------- */

ngx_int_t
ngx_http_media_trending(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_str_t   params[2];
    ngx_uint_t  n;

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_TRENDING_PAGE,
                                 NGX_HTTP_MEDIA_TRENDING_MAX, &n, &params[0],
                                 &params[1], &rc)
        != NGX_OK)
    {
        return rc;
    }

    /* the cursor is the last item's rank: 1 to 9 digits */
    if (params[0].data
        && !media_cursor_digits(params[0].data, params[0].len, 9))
    {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out: pass "
                                          "next_cursor as it came");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_trending, params,
                                ngx_http_media_history_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_history_done(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_verdict(r, res, data,
                              "media history"));
}


static void
ngx_http_media_history_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_page(r, res,
                              (uintptr_t) data, "media history list"));
}

