/*
 * Playlists:
 *
 *   POST   /api/v1/playlists {title, privacy?}        201 the playlist
 *   GET    /api/v1/playlists?limit=&cursor=           mine, newest first
 *   GET    /api/v1/playlists/{id}                     with its items, in order
 *   PATCH  /api/v1/playlists/{id} {title?, privacy?}  200 the playlist
 *   DELETE /api/v1/playlists/{id}                     204
 *   PUT    /api/v1/playlists/{id}/items/{media_id}    204, idempotent
 *   DELETE /api/v1/playlists/{id}/items/{media_id}    204, idempotent
 *   PUT    /api/v1/playlists/{id}/order {media_ids}   204
 *
 * Who sees what: a private playlist exists only for its owner (404 for
 * anyone else); a public or unlisted one can be read by anyone with its
 * id, and changed only by its owner (403).  Its items show only what the
 * caller may see: public ready media, the caller's own, and, to the
 * playlist's owner, unlisted media they added by link.  Private media of
 * others cannot be added (404, as everywhere).
 *
 * Each route is one statement that decides and acts on the same rows; its
 * row is (verdict, JSON, detail), answered through the kit's verdict
 * table (ngx_http_media_send_verdict).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_search.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_playlists.h"
#include "media_utf8.h"


#define NGX_HTTP_MEDIA_PLAYLISTS_PAGE   20
#define NGX_HTTP_MEDIA_PLAYLISTS_MAX    100
#define NGX_HTTP_MEDIA_PLAYLIST_TITLE   200   /* characters, as sql/015 */
/* the limits; the statements and messages below spell them out too */
#define NGX_HTTP_MEDIA_PLAYLIST_ITEMS   500


static ngx_int_t ngx_http_media_playlist_fields(ngx_http_request_t *r,
    ngx_str_t *title, ngx_str_t *privacy, ngx_uint_t required,
    ngx_int_t *rc);
static ngx_int_t ngx_http_media_playlist_item_id(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_media_playlist_run(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    const ngx_http_media_verdict_t *v);
static void ngx_http_media_playlist_done(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_playlists_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


/* a playlist as JSON: p a playlists row, n its items shown */
#define NGX_HTTP_MEDIA_PLAYLIST_JSON(p, n)                                    \
    "json_build_object('id', " p ".id, 'title', " p ".title,"                 \
    " 'privacy', " p ".privacy, 'owner', (SELECT json_build_object("          \
    "   'id', u.id, 'handle', u.handle, 'display_name', u.display_name)"      \
    "   FROM users u WHERE u.id = " p ".owner_id),"                           \
    " 'items_count', " n ","                                                  \
    " 'created_at', media_iso8601(" p ".created_at),"                         \
    " 'updated_at', media_iso8601(" p ".updated_at))"

/* the items of playlist p that are not deleted */
#define NGX_HTTP_MEDIA_PLAYLIST_COUNT(p)                                      \
    "(SELECT count(*) FROM playlist_items i JOIN media m"                     \
    "   ON m.id = i.media_id AND m.deleted_at IS NULL"                        \
    " WHERE i.playlist_id = " p ".id)"

/* why the caller may not change playlist $2: 'missing' or 'not_owner' */
#define NGX_HTTP_MEDIA_PLAYLIST_DENIED                                        \
    "CASE WHEN EXISTS (SELECT 1 FROM playlists"                               \
    "   WHERE id = $2 AND privacy <> 'private') THEN 'not_owner'"             \
    " ELSE 'missing' END"


/* the statements of this room, each prepared once per pooled connection */

/* at most 200 playlists a user (media_playlist_create, sql/018); the
 * function's insert is not visible to the statement's snapshot, so the
 * answer is built from the parameters */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_create =
    ngx_http_media_pg_stmt("playlist_create", 3,
        "WITH p AS (SELECT media_playlist_create($1, $2, $3) AS id)"
        " SELECT CASE WHEN p.id IS NULL THEN 'too_many' ELSE 'ok' END,"
        "   json_build_object('id', p.id, 'title', $2::text,"
        "     'privacy', coalesce($3::text, 'private'),"
        "     'owner', (SELECT json_build_object('id', u.id,"
        "        'handle', u.handle, 'display_name', u.display_name)"
        "        FROM users u WHERE u.id = $1),"
        "     'items_count', 0,"
        "     'created_at', media_iso8601(now()),"
        "     'updated_at', media_iso8601(now()))"
        "   FROM p");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_list =
    ngx_http_media_pg_stmt("playlist_list", 3,
        "SELECT p.id::text, "
        NGX_HTTP_MEDIA_PLAYLIST_JSON("p", NGX_HTTP_MEDIA_PLAYLIST_COUNT("p"))
        "  FROM playlists p"
        " WHERE p.owner_id = $1"
        "   AND ($2::uuid IS NULL OR (p.created_at, p.id) <"
        "        (SELECT created_at, id FROM playlists"
        "          WHERE owner_id = $1 AND id = $2))"
        " ORDER BY p.created_at DESC, p.id DESC LIMIT $3");

/* $1 the playlist, $2 the caller (NULL: anonymous) */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_get =
    ngx_http_media_pg_stmt("playlist_get", 2,
        "WITH p AS (SELECT * FROM playlists WHERE id = $1"
        "   AND (privacy <> 'private' OR owner_id = $2::uuid)),"
        " i AS (SELECT i.position, i.added_at, m.id, media_listen_json(m) AS j"
        "   FROM p JOIN playlist_items i ON i.playlist_id = p.id"
        "   JOIN media m ON m.id = i.media_id AND m.deleted_at IS NULL"
        "  WHERE (m.owner_id = $2::uuid AND m.status <> 'blocked')"
        "     OR (m.status = 'ready' AND (m.privacy = 'public'"
        "         OR (m.privacy = 'unlisted' AND p.owner_id = $2::uuid))))"
        " SELECT CASE WHEN p.id IS NULL THEN 'missing' ELSE 'ok' END,"
        "   (SELECT json_build_object('playlist', "
        NGX_HTTP_MEDIA_PLAYLIST_JSON("p", "(SELECT count(*) FROM i)")
        "    , 'items', coalesce((SELECT json_agg(json_build_object("
        "        'position', i.position, 'added_at', media_iso8601(i.added_at),"
        "        'media', i.j) ORDER BY i.position, i.added_at, i.id)"
        "      FROM i), '[]')) WHERE p.id IS NOT NULL)"
        "   FROM (SELECT 1) x LEFT JOIN p ON true");

/* $1 the caller, $2 the playlist, $3 title, $4 privacy (NULL: as is) */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_patch =
    ngx_http_media_pg_stmt("playlist_patch", 4,
        "WITH p AS (UPDATE playlists SET title = coalesce($3, title),"
        "   privacy = coalesce($4, privacy)"
        "  WHERE id = $2 AND owner_id = $1 RETURNING *)"
        " SELECT CASE WHEN p.id IS NULL THEN "
        NGX_HTTP_MEDIA_PLAYLIST_DENIED " ELSE 'ok' END,"
        NGX_HTTP_MEDIA_PLAYLIST_JSON("p", NGX_HTTP_MEDIA_PLAYLIST_COUNT("p"))
        "   FROM (SELECT 1) x LEFT JOIN p ON true");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_delete =
    ngx_http_media_pg_stmt("playlist_delete", 2,
        "WITH p AS (DELETE FROM playlists WHERE id = $2 AND owner_id = $1"
        "  RETURNING id)"
        " SELECT CASE WHEN p.id IS NULL THEN "
        NGX_HTTP_MEDIA_PLAYLIST_DENIED " ELSE 'ok' END, NULL"
        "   FROM (SELECT 1) x LEFT JOIN p ON true");

/*
 * $1 the caller, $2 the playlist, $3 the media: media_playlist_add
 * (sql/018) locks the playlist, so adds to one playlist go one at a time
 * and count each other; the new item goes last; one already there changes
 * nothing (idempotent)
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_add =
    ngx_http_media_pg_stmt("playlist_add", 3,
        "SELECT media_playlist_add($1, $2, $3), NULL");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_remove =
    ngx_http_media_pg_stmt("playlist_remove", 3,
        "WITH p AS (SELECT id FROM playlists WHERE id = $2 AND owner_id = $1),"
        " d AS (DELETE FROM playlist_items"
        "  WHERE playlist_id = (SELECT id FROM p) AND media_id = $3"
        "  RETURNING 1)"
        " SELECT CASE WHEN EXISTS (SELECT 1 FROM p) THEN 'ok' ELSE "
        NGX_HTTP_MEDIA_PLAYLIST_DENIED " END,"
        "        NULL, (SELECT count(*) FROM d)::text");

/*
 * $3 the new order, a uuid[]: a permutation of the items whose media is
 * not deleted (those the owner sees); the deleted ones keep their
 * positions, unseen.  The detail is the item count, for the message.
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playlist_order =
    ngx_http_media_pg_stmt("playlist_order", 3,
        "WITH p AS (SELECT id FROM playlists WHERE id = $2 AND owner_id = $1"
        "   FOR UPDATE),"
        " a AS (SELECT x, o FROM unnest($3::uuid[]) WITH ORDINALITY t(x, o)),"
        " cur AS (SELECT i.media_id FROM playlist_items i"
        "   JOIN media m ON m.id = i.media_id AND m.deleted_at IS NULL"
        "  WHERE i.playlist_id = (SELECT id FROM p)),"
        " v AS (SELECT CASE"
        "   WHEN NOT EXISTS (SELECT 1 FROM p) THEN "
        NGX_HTTP_MEDIA_PLAYLIST_DENIED
        "   WHEN (SELECT count(DISTINCT x) FROM a) <> (SELECT count(*) FROM a)"
        "   THEN 'repeated'"
        "   WHEN (SELECT count(*) FROM a) <> (SELECT count(*) FROM cur)"
        "     OR EXISTS (SELECT 1 FROM a"
        "                 WHERE x NOT IN (SELECT media_id FROM cur))"
        "   THEN 'not_permutation'"
        "   ELSE 'ok' END AS verdict),"
        " u AS (UPDATE playlist_items i SET position = a.o FROM a, v"
        "  WHERE v.verdict = 'ok' AND i.playlist_id = $2"
        "    AND i.media_id = a.x RETURNING 1)"
        " SELECT v.verdict, NULL, (SELECT count(*) FROM cur)::text"
        "   FROM v, (SELECT count(*) FROM u) n");


/* the answers */

#define NGX_HTTP_MEDIA_PLAYLIST_MISSING                                       \
    { NULL, NGX_HTTP_NOT_FOUND, "not_found", NULL, "no such playlist" }

#define NGX_HTTP_MEDIA_PLAYLIST_NOT_OWNER                                     \
    { "not_owner", NGX_HTTP_FORBIDDEN, "forbidden", NULL,                     \
      "this playlist is not yours: only its owner may change it" }

static const ngx_http_media_verdict_t  ngx_http_media_playlist_created[] = {
    { "ok", NGX_HTTP_CREATED, NULL, NULL, NULL },
    { "too_many", NGX_HTTP_MEDIA_UNPROCESSABLE, "too_many_playlists", NULL,
      "you have 200 playlists, the most one user may have: delete one "
      "first" },
    NGX_HTTP_MEDIA_PLAYLIST_MISSING
};

static const ngx_http_media_verdict_t  ngx_http_media_playlist_shown[] = {
    { "ok", NGX_HTTP_OK, NULL, NULL, NULL },
    NGX_HTTP_MEDIA_PLAYLIST_NOT_OWNER,
    NGX_HTTP_MEDIA_PLAYLIST_MISSING
};

static const ngx_http_media_verdict_t  ngx_http_media_playlist_changed[] = {
    { "ok", NGX_HTTP_NO_CONTENT, NULL, NULL, NULL },
    NGX_HTTP_MEDIA_PLAYLIST_NOT_OWNER,
    { "no_media", NGX_HTTP_NOT_FOUND, "not_found", "media_id",
      "no such media" },
    { "full", NGX_HTTP_MEDIA_UNPROCESSABLE, "playlist_full", "media_id",
      "this playlist holds 500 items, the most a playlist may: remove one "
      "first" },
    { "repeated", NGX_HTTP_MEDIA_UNPROCESSABLE, "invalid_field", "media_ids",
      "media_ids names a media twice: list each item once" },
    { "not_permutation", NGX_HTTP_MEDIA_UNPROCESSABLE, "invalid_field",
      "media_ids", "media_ids must list each of the playlist's %V items "
      "once, in the new order, and nothing else" },
    NGX_HTTP_MEDIA_PLAYLIST_MISSING
};


/* POST /api/v1/playlists {title, privacy?} -------------------------------- */

ngx_int_t
ngx_http_media_playlist_create(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_playlist_fields(r, &params[1], &params[2], 1, &rc)
        != NGX_OK)
    {
        return rc;
    }

    params[0] = ctx->user->id;

    return ngx_http_media_playlist_run(r, &ngx_http_media_sql_playlist_create,
                                       params,
                                       ngx_http_media_playlist_created);
}


/* GET /api/v1/playlists?limit=N&cursor=C: the caller's, newest first ----- */

ngx_int_t
ngx_http_media_playlist_list(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              params[3];
    ngx_uint_t             n;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_PLAYLISTS_PAGE,
                                 NGX_HTTP_MEDIA_PLAYLISTS_MAX, &n, &params[1],
                                 &params[2], &rc)
        != NGX_OK)
    {
        return rc;
    }

    /* the cursor is the last playlist's id */
    if (params[1].data && ngx_http_media_is_uuid(&params[1]) != NGX_OK) {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out: pass "
                                          "next_cursor as it came");
    }

    params[0] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_playlist_list, params,
                                ngx_http_media_playlists_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_playlists_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_page(r, res,
                              (uintptr_t) data, "media playlists"));
}


/* GET /api/v1/playlists/{id}: signed in or not --------------------------- */

ngx_int_t
ngx_http_media_playlist_get(ngx_http_request_t *r)
{
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such playlist");
    }

    params[0] = ctx->capture;

    if (ctx->user) {
        params[1] = ctx->user->id;

    } else {
        ngx_str_null(&params[1]);
    }

    return ngx_http_media_playlist_run(r, &ngx_http_media_sql_playlist_get,
                                       params, ngx_http_media_playlist_shown);
}


/* PATCH /api/v1/playlists/{id} {title?, privacy?} ------------------------ */

ngx_int_t
ngx_http_media_playlist_patch(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              params[4];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such playlist");
    }

    if (ngx_http_media_playlist_fields(r, &params[2], &params[3], 0, &rc)
        != NGX_OK)
    {
        return rc;
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    return ngx_http_media_playlist_run(r, &ngx_http_media_sql_playlist_patch,
                                       params, ngx_http_media_playlist_shown);
}


/* DELETE /api/v1/playlists/{id} ------------------------------------------ */

ngx_int_t
ngx_http_media_playlist_delete(ngx_http_request_t *r)
{
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such playlist");
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    return ngx_http_media_playlist_run(r, &ngx_http_media_sql_playlist_delete,
                                       params,
                                       ngx_http_media_playlist_changed);
}


/* PUT and DELETE /api/v1/playlists/{id}/items/{media_id} ----------------- */

ngx_int_t
ngx_http_media_playlist_item(ngx_http_request_t *r)
{
    ngx_str_t              params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such playlist");
    }

    if (ngx_http_media_playlist_item_id(r, &params[2]) != NGX_OK) {
        return ngx_http_media_bad_field(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "media_id", "no such media");
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    return ngx_http_media_playlist_run(r, r->method == NGX_HTTP_DELETE
                                       ? &ngx_http_media_sql_playlist_remove
                                       : &ngx_http_media_sql_playlist_add,
                                       params,
                                       ngx_http_media_playlist_changed);
}


/* PUT /api/v1/playlists/{id}/order {media_ids: [...]} -------------------- */

ngx_int_t
ngx_http_media_playlist_order(ngx_http_request_t *r)
{
    size_t                 i, n;
    u_char                *p;
    yajl_val               ids, id;
    ngx_str_t              params[3], s;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such playlist");
    }

    ids = ngx_http_media_body_value(r, "media_ids");
    if (ids == NULL || !YAJL_IS_ARRAY(ids)) {
        return ngx_http_media_field_error(r, "media_ids", "send media_ids: "
                                          "an array of the playlist's media "
                                          "ids in the new order");
    }

    n = ids->u.array.len;

    if (n > NGX_HTTP_MEDIA_PLAYLIST_ITEMS) {
        return ngx_http_media_field_error(r, "media_ids", "media_ids has %uz "
                                          "ids; a playlist holds at most %d",
                                          n, NGX_HTTP_MEDIA_PLAYLIST_ITEMS);
    }

    /* "{id,id,...}", a uuid[] literal of checked ids */
    params[2].data = ngx_pnalloc(r->pool, 2 + n * 37);
    if (params[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = params[2].data;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        id = ids->u.array.values[i];

        if (!YAJL_IS_STRING(id)) {
            return ngx_http_media_field_error(r, "media_ids", "media_ids[%uz] "
                                              "is not a string: send media "
                                              "ids", i);
        }

        s.data = (u_char *) YAJL_GET_STRING(id);
        s.len = ngx_strlen(s.data);

        if (ngx_http_media_is_uuid(&s) != NGX_OK) {
            return ngx_http_media_field_error(r, "media_ids", "media_ids[%uz] "
                                              "is not a media id", i);
        }

        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, s.data, s.len);
    }

    *p++ = '}';
    params[2].len = p - params[2].data;

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    return ngx_http_media_playlist_run(r, &ngx_http_media_sql_playlist_order,
                                       params,
                                       ngx_http_media_playlist_changed);
}


/*
 * title and privacy of the body: each a string when present, the title 1
 * to 200 characters of text, privacy one of the three; required: title
 * must come, else one of them must.  NGX_DECLINED: refused, *rc is the
 * answer's
 */
static ngx_int_t
ngx_http_media_playlist_fields(ngx_http_request_t *r, ngx_str_t *title,
    ngx_str_t *privacy, ngx_uint_t required, ngx_int_t *rc)
{
    size_t     chars;
    yajl_val   t, v;

    t = ngx_http_media_body_value(r, "title");
    v = ngx_http_media_body_value(r, "privacy");

    ngx_str_null(title);
    ngx_str_null(privacy);

    if ((t && !YAJL_IS_STRING(t)) || (t == NULL && required)) {
        *rc = ngx_http_media_field_error(r, "title", "send title: a string "
                                         "of 1 to 200 characters");
        return NGX_DECLINED;
    }

    if (v && !YAJL_IS_STRING(v)) {
        *rc = ngx_http_media_field_error(r, "privacy", "privacy must be "
                                         "\"public\", \"unlisted\" or "
                                         "\"private\"");
        return NGX_DECLINED;
    }

    if (t == NULL && v == NULL) {
        *rc = ngx_http_media_field_error(r, "title", "send title or privacy: "
                                         "there is nothing to change");
        return NGX_DECLINED;
    }

    if (t) {
        title->data = (u_char *) YAJL_GET_STRING(t);
        title->len = ngx_strlen(title->data);

        if (!media_utf8_valid(title->data, title->len)) {
            *rc = ngx_http_media_field_error(r, "title", "title may not hold "
                                             "control characters");
            return NGX_DECLINED;
        }

        chars = media_utf8_chars(title->data, title->len);

        if (chars == 0 || chars > NGX_HTTP_MEDIA_PLAYLIST_TITLE) {
            *rc = ngx_http_media_field_error(r, "title", "title has %uz "
                                             "characters; send 1 to %d",
                                             chars,
                                             NGX_HTTP_MEDIA_PLAYLIST_TITLE);
            return NGX_DECLINED;
        }
    }

    if (v) {
        privacy->data = (u_char *) YAJL_GET_STRING(v);
        privacy->len = ngx_strlen(privacy->data);

        if (!((privacy->len == 6
               && ngx_strncmp(privacy->data, "public", 6) == 0)
              || (privacy->len == 8
                  && ngx_strncmp(privacy->data, "unlisted", 8) == 0)
              || (privacy->len == 7
                  && ngx_strncmp(privacy->data, "private", 7) == 0)))
        {
            *rc = ngx_http_media_field_error(r, "privacy", "privacy must be "
                                             "\"public\", \"unlisted\" or "
                                             "\"private\"");
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/* the path's last segment, /items/{media_id}: the router keeps only the
 * first capture; lowercased, as the router's */
static ngx_int_t
ngx_http_media_playlist_item_id(ngx_http_request_t *r, ngx_str_t *id)
{
    u_char  *p, *last;

    last = r->uri.data + r->uri.len;

    for (p = last; p > r->uri.data && p[-1] != '/'; p--) {
        /* void */
    }

    id->len = last - p;
    id->data = ngx_pnalloc(r->pool, id->len);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(id->data, p, id->len);

    return ngx_http_media_is_uuid(id);
}


static ngx_int_t
ngx_http_media_playlist_run(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    const ngx_http_media_verdict_t *v)
{
    if (ngx_http_media_pg_query(r, stmt, params,
                                ngx_http_media_playlist_done, (void *) v)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_playlist_done(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    /* renamed, made private, deleted: out of search's cache */
    if ((r->method & (NGX_HTTP_PATCH|NGX_HTTP_DELETE))
        && res->status == NGX_HTTP_MEDIA_PG_OK)
    {
        ngx_http_media_search_forget(r);
    }

    ngx_http_finalize_request(r, ngx_http_media_send_verdict(r, res, data,
                              "media playlist"));
}
