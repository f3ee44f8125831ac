/*
 * GET /api/v1/search?q=&type=media|users|playlists&cursor=&limit=
 * GET /api/v1/catalog?kind=video|audio&tag=&sort=new|popular&cursor=&limit=
 *
 * Search is PostgreSQL full text over a stored tsvector per row
 * (sql/019_search.sql): accent-insensitive, the words
 * typed whole matched as words and the last one as a prefix, so that
 * "beyon" finds "Beyoncé" while it is typed.  Results come best first;
 * ts_rank is kept as an integer (rank * 10^9) so that a page's cursor,
 * "<score>.<id>", carries it exactly.  Media, the most rows by far, are
 * searched by sql/032's media_search_media(), which ranks at most 100
 * candidates read through btrees (the most played for a query still being
 * typed, the words' index otherwise).
 *
 * Only what the caller may see: public media ready to play, public
 * playlists, users with a profile (a handle); besides, a signed-in
 * caller's own media and playlists, whatever their privacy.  Unlisted
 * media plays by link but is never listed; deleted media is nowhere.
 *
 * What everyone may see is the same for every caller: a page of it is
 * kept in shared memory for media_public_cache (30 s,
 * ngx_http_media_cache.h), for every worker of
 * the node, so a query typed by many (a prefix, a popular word, the
 * catalogue's first page) costs PostgreSQL once per few seconds.  A
 * signed-in caller's own media are not in it: they are asked for apart
 * (sql/041, by owner, a few rows), kept apart for that caller under a
 * version each of their writes renews (ngx_http_media_cache_own_key), and
 * merged into the page by (score, id), so that one's own drafts show at
 * once.  Playlists are kept for anonymous callers only.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_cache.h"
#include "ngx_http_media_search.h"
#include "media_search.h"
#include "media_utf8.h"


#define NGX_HTTP_MEDIA_SEARCH_PAGE  20
#define NGX_HTTP_MEDIA_SEARCH_MAX   50

/*
 * At most this many users or playlists are ranked: a query still being
 * typed ("gla") may match a third of all rows, and ranking them all costs
 * as much as reading them.  Past it the ranked set is the first matches
 * read (the same ones for every page, while the rows do not change);
 * typing on narrows it.  Media: sql/032, at most 100.
 */
#define NGX_HTTP_MEDIA_SEARCH_CANDIDATES  "1000"

#define NGX_HTTP_MEDIA_CURSOR_END                                             \
    "ffffffff-ffff-ffff-ffff-ffffffffffff"


/* a page on its way: where its rows go and what the cache gave */
typedef struct {
    ngx_uint_t                  n;         /* the page's size */
    ngx_uint_t                  store;     /* its public rows to the cache */
    ngx_uint_t                  refresh;   /* a refresh: nobody to answer */
    u_char                      key[NGX_HTTP_MEDIA_CACHE_KEY];
    ngx_str_t                  *cached;    /* (cursor, item) pairs */
    ngx_uint_t                  ncached;

    /* the caller's own rows: kept apart, under their own version */
    ngx_uint_t                  own_store;
    u_char                      own_key[NGX_HTTP_MEDIA_CACHE_KEY];
    ngx_str_t                  *own_cached;
    ngx_uint_t                  nown_cached;
} ngx_http_media_search_page_t;


static ngx_int_t ngx_http_media_search_run(ngx_http_request_t *r,
    const char *kind, ngx_http_media_pg_stmt_t *miss,
    ngx_http_media_pg_stmt_t *own, ngx_str_t *params, ngx_str_t *keys,
    ngx_uint_t cache, ngx_uint_t n);
static void ngx_http_media_search_refresh(ngx_http_request_t *r,
    ngx_http_media_search_page_t *page, ngx_http_media_pg_stmt_t *stmt,
    ngx_str_t *params, ngx_uint_t viewer, ngx_uint_t own);
static ngx_int_t ngx_http_media_search_send(ngx_http_request_t *r,
    ngx_http_media_search_page_t *page, ngx_str_t *pub, ngx_uint_t npub,
    ngx_str_t *own, ngx_uint_t nown);
static ngx_int_t ngx_http_media_search_ranks(ngx_str_t *a, ngx_str_t *b);
static ngx_int_t ngx_http_media_search_q(ngx_http_request_t *r,
    ngx_str_t *params, ngx_int_t *rc);
static ngx_int_t ngx_http_media_search_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value);
static ngx_int_t ngx_http_media_search_one_of(ngx_str_t *value,
    const char **choices);
static void ngx_http_media_search_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


/*
 * rows after the cursor $c ("<score>.<id>"), or from the top.  Each bound
 * is a scalar subquery (a parameter to the plan): under the tenants' row
 * security a comparison holding coalesce(), even of parameters only, is
 * not leakproof, so it would be checked row by row after the policy
 * rather than as the index's range, whenever a pooled connection
 * settles on a generic plan (catalog_popular, 100,000 media, a deep page:
 * 467 ms instead of 0.5 ms)
 */
#define NGX_HTTP_MEDIA_SEARCH_AFTER(score, id, c)                             \
    " (" score ", " id ") <"                                                  \
    " ((SELECT coalesce(split_part(" c ", '.', 1)::bigint,"                   \
    "                   9223372036854775807)),"                               \
    "  (SELECT coalesce(split_part(" c ", '.', 2)::uuid,"                     \
    "                   '" NGX_HTTP_MEDIA_CURSOR_END "'::uuid)))"

/* the query once (MATERIALIZED: not once per row ranked); the page is
 * ranked, cut (p) and only then joined to its owners */
#define NGX_HTTP_MEDIA_SEARCH_Q                                               \
    "WITH q AS MATERIALIZED (SELECT media_search_query($1, $2) AS q)"


/*
 * media: one function (sql/032), which bounds the ranked candidates
 * and reads the words' btree, as the GIN index cannot be read under the
 * tenants' row security (sql/032 says why), for what everyone may see
 * ('p' rows, which the cache keeps); a signed-in caller's own besides
 * ('o' rows, sql/041).  $1 head, $2 last, $3 viewer, $4 cursor, $5 limit.
 */
#define NGX_HTTP_MEDIA_SEARCH_PUBLIC                                          \
    "SELECT 'p', * FROM media_search_media($1, $2, NULL, $4, $5::integer)"
#define NGX_HTTP_MEDIA_SEARCH_OWN                                             \
    "SELECT 'o', * FROM media_search_own($1, $2, $3::uuid, $4, $5::integer)"

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_search_media =
    ngx_http_media_pg_read_stmt("search_media", 5,
        NGX_HTTP_MEDIA_SEARCH_PUBLIC " UNION ALL " NGX_HTTP_MEDIA_SEARCH_OWN);

/* the public rows came from the cache; the caller's own from the
 * primary, so that a draft shows at once (not a read_stmt) */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_search_media_own =
    ngx_http_media_pg_stmt("search_media_own", 5, NGX_HTTP_MEDIA_SEARCH_OWN);

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_search_users =
    ngx_http_media_pg_read_stmt("search_users", 4,
        NGX_HTTP_MEDIA_SEARCH_Q ","
        /* the users having the query's longest word (sql/032's btree of
         * words; no GIN index is read under row security), each looked
         * up by its key (OFFSET 0) */
        " k AS MATERIALIZED ("
        "  SELECT f, t FROM media_search_terms($1, $2)"
        "   ORDER BY length(f) DESC LIMIT 1),"
        " c AS ("
        "  SELECT u.id, u.handle, u.display_name, u.search"
        "    FROM q, k, users_words w,"
        "         LATERAL (SELECT * FROM users u WHERE u.id = w.user_id"
        "                   AND u.search @@ q.q AND u.handle IS NOT NULL"
        "                  OFFSET 0) u"
        "   WHERE w.word >= k.f COLLATE \"C\" AND w.word < k.t COLLATE \"C\""
        "   LIMIT " NGX_HTTP_MEDIA_SEARCH_CANDIDATES "),"
        " r AS ("
        "  SELECT c.*, (ts_rank(c.search, q.q) * 1000000000)::bigint AS score"
        "    FROM q, c)"
        " SELECT r.score || '.' || r.id,"
        "        json_build_object('id', r.id, 'handle', r.handle,"
        "                          'display_name', r.display_name)"
        "   FROM r"
        "  WHERE" NGX_HTTP_MEDIA_SEARCH_AFTER("r.score", "r.id", "$3")
        "  ORDER BY r.score DESC, r.id DESC LIMIT $4");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_search_playlists =
    ngx_http_media_pg_read_stmt("search_playlists", 5,
        NGX_HTTP_MEDIA_SEARCH_Q ","
        /* the playlists having the query's longest word (sql/037's
         * btree of words, as for users), each looked up by its key */
        " k AS MATERIALIZED ("
        "  SELECT f, t FROM media_search_terms($1, $2)"
        "   ORDER BY length(f) DESC LIMIT 1),"
        " c AS ("
        "  SELECT p.id, p.owner_id, p.title, p.privacy, p.created_at,"
        "         p.search"
        "    FROM q, k, playlists_words w,"
        "         LATERAL (SELECT * FROM playlists p"
        "                   WHERE p.id = w.playlist_id AND p.search @@ q.q"
        "                     AND (p.privacy = 'public'"
        "                          OR p.owner_id = $3::uuid)"
        "                  OFFSET 0) p"
        "   WHERE w.word >= k.f COLLATE \"C\" AND w.word < k.t COLLATE \"C\""
        "   LIMIT " NGX_HTTP_MEDIA_SEARCH_CANDIDATES "),"
        " r AS ("
        "  SELECT c.*, (ts_rank(c.search, q.q) * 1000000000)::bigint AS score"
        "    FROM q, c),"
        " p AS MATERIALIZED ("
        "  SELECT * FROM r"
        "   WHERE" NGX_HTTP_MEDIA_SEARCH_AFTER("r.score", "r.id", "$4")
        "   ORDER BY r.score DESC, r.id DESC LIMIT $5)"
        " SELECT r.score || '.' || r.id,"
        "        json_build_object('id', r.id, 'title', r.title,"
        "          'privacy', r.privacy,"
        "          'created_at', media_iso8601(r.created_at),"
        "          'owner', json_build_object('id', u.id,"
        "            'handle', u.handle, 'display_name', u.display_name))"
        "   FROM p r JOIN users u ON u.id = r.owner_id"
        "  ORDER BY r.score DESC, r.id DESC");


/* the catalogue: $1 kind, $2 tag (NULL: any), $3 cursor, $4 limit */
#define NGX_HTTP_MEDIA_CATALOG_WHERE                                          \
    " FROM media m JOIN users u ON u.id = m.owner_id"                         \
    " WHERE m.deleted_at IS NULL AND m.privacy = 'public'"                    \
    "   AND m.status = 'ready'"                                               \
    "   AND ($1::text IS NULL OR m.kind = $1)"                                \
    "   AND ($2::text IS NULL"                                                \
    "        OR m.tags @> ARRAY[(SELECT lower($2 COLLATE \"und-x-icu\"))])"

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_catalog_new =
    ngx_http_media_pg_read_stmt("catalog_new", 4,
        "SELECT (extract(epoch FROM m.listed_at) * 1000000)::bigint"
        "       || '.' || m.id, media_list_json(m, u)"
        NGX_HTTP_MEDIA_CATALOG_WHERE
        /* listed_at: coalesce(published_at, created_at), stored (sql/037)
         * and compared with < to bounds that are parameters, so that it
         * stays the index's range under row security */
        "   AND (m.listed_at, m.id) <"
        "       ((SELECT coalesce(timestamptz 'epoch'"
        "                  + split_part($3, '.', 1)::bigint"
        "                    * interval '1 microsecond', 'infinity')),"
        "        (SELECT coalesce(split_part($3, '.', 2)::uuid,"
        "                         '" NGX_HTTP_MEDIA_CURSOR_END "'::uuid)))"
        " ORDER BY m.listed_at DESC, m.id DESC"
        " LIMIT $4");

/* by tag, newest first: sql/042's rows of each listed media's tags, read
 * by (tag, listed_at, media_id); the media's own conditions checked again */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_catalog_tag_new =
    ngx_http_media_pg_read_stmt("catalog_tag_new", 4,
        "SELECT (extract(epoch FROM t.listed_at) * 1000000)::bigint"
        "       || '.' || t.media_id, media_list_json(m, u)"
        "  FROM media_tags t JOIN media m ON m.id = t.media_id"
        "  JOIN users u ON u.id = m.owner_id"
        " WHERE t.tag = (SELECT lower($2 COLLATE \"und-x-icu\")"
        "                       COLLATE \"default\")"
        "   AND ($1::text IS NULL OR t.kind = $1)"
        "   AND m.deleted_at IS NULL AND m.privacy = 'public'"
        "   AND m.status = 'ready'"
        "   AND (t.listed_at, t.media_id) <"
        "       ((SELECT coalesce(timestamptz 'epoch'"
        "                  + split_part($3, '.', 1)::bigint"
        "                    * interval '1 microsecond', 'infinity')),"
        "        (SELECT coalesce(split_part($3, '.', 2)::uuid,"
        "                         '" NGX_HTTP_MEDIA_CURSOR_END "'::uuid)))"
        " ORDER BY t.listed_at DESC, t.media_id DESC"
        " LIMIT $4");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_catalog_popular =
    ngx_http_media_pg_read_stmt("catalog_popular", 4,
        "SELECT m.plays_count || '.' || m.id, media_list_json(m, u)"
        NGX_HTTP_MEDIA_CATALOG_WHERE
        "   AND" NGX_HTTP_MEDIA_SEARCH_AFTER("m.plays_count", "m.id", "$3")
        " ORDER BY m.plays_count DESC, m.id DESC LIMIT $4");


static const char  *ngx_http_media_search_types[] = {
    "media", "users", "playlists", NULL
};

static const char  *ngx_http_media_catalog_kinds[] = {
    "video", "audio", NULL
};

static const char  *ngx_http_media_catalog_sorts[] = {
    "new", "popular", NULL
};


/* GET /api/v1/search ----------------------------------------------------- */

ngx_int_t
ngx_http_media_search(ngx_http_request_t *r)
{
    ngx_int_t              rc, type;
    ngx_str_t              params[5], keys[4], value, cursor, limit;
    ngx_uint_t             n;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    type = 0;

    rc = ngx_http_media_search_arg(r, "type", &value);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        type = ngx_http_media_search_one_of(&value,
                                            ngx_http_media_search_types);
        if (type == NGX_DECLINED) {
            return ngx_http_media_field_error(r, "type", "type must be "
                                              "media, users or playlists");
        }
    }

    if (ngx_http_media_search_q(r, params, &rc) != NGX_OK) {
        return rc;
    }

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_SEARCH_PAGE,
                                 NGX_HTTP_MEDIA_SEARCH_MAX, &n, &cursor,
                                 &limit, &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (cursor.data && !media_search_cursor_ok(cursor.data, cursor.len)) {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out: pass "
                                          "next_cursor as it came");
    }

    keys[0] = params[0];
    keys[1] = params[1];
    keys[2] = cursor;
    keys[3] = limit;

    if (type == 1) {
        params[2] = cursor;
        params[3] = limit;

        return ngx_http_media_search_run(r, "users",
                                         &ngx_http_media_sql_search_users,
                                         NULL, params, keys, 1, n);
    }

    if (ctx->user) {
        params[2] = ctx->user->id;

    } else {
        ngx_str_null(&params[2]);
    }

    params[3] = cursor;
    params[4] = limit;

    if (type == 0) {
        return ngx_http_media_search_run(r, "media",
                                         &ngx_http_media_sql_search_media,
                                         ctx->user
                                         ? &ngx_http_media_sql_search_media_own
                                         : NULL,
                                         params, keys, 1, n);
    }

    /* a signed-in caller's own playlists are in the page: not kept */
    return ngx_http_media_search_run(r, "playlists",
                                     &ngx_http_media_sql_search_playlists,
                                     NULL, params, keys, ctx->user == NULL,
                                     n);
}


/*
 * ?q= into params[0] (the words typed whole) and params[1] (the prefix);
 * NGX_ERROR when it is refused, *rc the refusal's
 */
static ngx_int_t
ngx_http_media_search_q(ngx_http_request_t *r, ngx_str_t *params,
    ngx_int_t *rc)
{
    u_char             *buf;
    ngx_str_t           raw;
    media_search_q_t    q;

    if (ngx_http_arg(r, (u_char *) "q", 1, &raw) != NGX_OK) {
        ngx_str_null(&raw);
    }

    /* the decoded query is never longer than the raw one */
    buf = ngx_pnalloc(r->pool, raw.len + 1);
    if (buf == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    switch (media_search_parse(raw.data, raw.len, buf, &q)) {

    case MEDIA_SEARCH_OK:
        break;

    case MEDIA_SEARCH_EMPTY:
        *rc = ngx_http_media_field_error(r, "q", "q is required: the words "
                                         "to search for, e.g. ?q=beyonce");
        return NGX_ERROR;

    case MEDIA_SEARCH_TOO_LONG:
        *rc = ngx_http_media_field_error(r, "q", "q is too long: at most "
                                         "%d characters", MEDIA_SEARCH_Q_MAX);
        return NGX_ERROR;

    default: /* MEDIA_SEARCH_BAD_TEXT */
        *rc = ngx_http_media_field_error(r, "q", "q must be UTF-8 text "
                                         "without control characters");
        return NGX_ERROR;
    }

    params[0].data = (u_char *) q.head;
    params[0].len = q.head_len;
    params[1].data = (u_char *) q.last;
    params[1].len = q.last_len;

    /* an empty string, not NULL: the statement takes '' as no words */
    if (params[0].len == 0) {
        ngx_str_set(&params[0], "");
    }

    if (params[1].len == 0) {
        ngx_str_set(&params[1], "");
    }

    return NGX_OK;
}


/* GET /api/v1/catalog ---------------------------------------------------- */

ngx_int_t
ngx_http_media_catalog(ngx_http_request_t *r)
{
    size_t                     start;
    ngx_int_t                  rc, sort;
    ngx_str_t                  params[4], value;
    ngx_uint_t                 n;
    ngx_http_media_pg_stmt_t  *stmt;

    ngx_str_null(&params[0]);
    ngx_str_null(&params[1]);

    rc = ngx_http_media_search_arg(r, "kind", &value);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        if (ngx_http_media_search_one_of(&value, ngx_http_media_catalog_kinds)
            == NGX_DECLINED)
        {
            return ngx_http_media_field_error(r, "kind", "kind must be video "
                                              "or audio (or left out for "
                                              "both)");
        }

        params[0] = value;
    }

    rc = ngx_http_media_search_arg(r, "tag", &value);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        value.len = media_search_trim(value.data, value.len, &start);
        value.data += start;

        if (value.len == 0 || !media_utf8_valid(value.data, value.len)
            || media_utf8_chars(value.data, value.len) > MEDIA_SEARCH_TAG_MAX)
        {
            return ngx_http_media_field_error(r, "tag", "tag must be one "
                                              "tag: 1 to %d characters of "
                                              "text",
                                              MEDIA_SEARCH_TAG_MAX);
        }

        params[1] = value;
    }

    sort = 0;

    rc = ngx_http_media_search_arg(r, "sort", &value);
    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        sort = ngx_http_media_search_one_of(&value,
                                            ngx_http_media_catalog_sorts);
        if (sort == NGX_DECLINED) {
            return ngx_http_media_field_error(r, "sort", "sort must be new "
                                              "(newest first) or popular "
                                              "(most played first)");
        }
    }

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_SEARCH_PAGE,
                                 NGX_HTTP_MEDIA_SEARCH_MAX, &n, &params[2],
                                 &params[3], &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (params[2].data
        && !media_search_cursor_ok(params[2].data, params[2].len))
    {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out: pass "
                                          "next_cursor as it came, with the "
                                          "same sort");
    }

    if (sort == 0) {
        stmt = params[1].data ? &ngx_http_media_sql_catalog_tag_new
                              : &ngx_http_media_sql_catalog_new;
    } else {
        stmt = &ngx_http_media_sql_catalog_popular;
    }

    return ngx_http_media_search_run(r, sort == 0 ? "catalog new"
                                                  : "catalog popular",
                                     stmt, NULL, params, params, 1, n);
}


/* the page: from the cache, or PostgreSQL ----------------------------------- */

/*
 * A page of kind for params (keys: what tells two pages apart, the caller
 * aside): with cache, its public rows from the cache when they are there
 * and young enough, and then only own (a signed-in caller's own rows,
 * params[2] the caller) is asked for, unless they are kept too and within
 * their time, or nothing; else miss, whose public rows are kept, and its
 * own rows apart.
 */
static ngx_int_t
ngx_http_media_search_run(ngx_http_request_t *r, const char *kind,
    ngx_http_media_pg_stmt_t *miss, ngx_http_media_pg_stmt_t *own,
    ngx_str_t *params, ngx_str_t *keys, ngx_uint_t cache, ngx_uint_t n)
{
    ngx_uint_t                     stale;
    ngx_http_media_pg_stmt_t      *stmt;
    ngx_http_media_pg_result_t     res;
    ngx_http_media_search_page_t  *page;

    page = ngx_pcalloc(r->pool, sizeof(ngx_http_media_search_page_t));
    if (page == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    page->n = n;
    stmt = miss;

    if (cache && own
        && ngx_http_media_cache_own_key(r, &params[2], kind, keys, 4,
                                        page->own_key)
           == NGX_OK)
    {
        if (ngx_http_media_cache_get(r, page->own_key, &res, &stale)
            == NGX_OK
            && res.ncols == 2)
        {
            page->own_cached = res.values;
            page->nown_cached = res.nrows;

            /* past its time, as the public rows: served, and read anew
             * in the background (a write of the caller's renewed the
             * version, so what is found here predates none of theirs) */
            if (stale) {
                ngx_http_media_search_refresh(r, page, own, params, 1, 1);
            }

        } else {
            page->own_store = 1;
        }
    }

    if (cache
        && ngx_http_media_cache_key(r, kind, keys, 4, page->key) == NGX_OK)
    {
        if (ngx_http_media_cache_get(r, page->key, &res, &stale) == NGX_OK
            && res.ncols == 2)
        {
            page->cached = res.values;
            page->ncached = res.nrows;

            if (stale) {
                ngx_http_media_search_refresh(r, page, miss, params,
                                              own != NULL, 0);
            }

            if (own == NULL || page->own_cached) {
                return ngx_http_media_search_send(r, page, page->cached,
                                                  page->ncached,
                                                  page->own_cached,
                                                  page->nown_cached);
            }

            stmt = own;

        } else {
            page->store = 1;
        }
    }

    if (ngx_http_media_pg_query(r, stmt, params,
                                ngx_http_media_search_listed, page)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_search_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_search_page_t  *page = data;

    ngx_str_t                   *pub, *own, *row;
    ngx_uint_t                   i, npub, nown, tagged;
    ngx_http_media_pg_result_t   kept;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->ncols < 2) {
        if (page->refresh) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "media search refresh: %V", &res->error);
            ngx_http_media_pg_detached_done(page);
            return;
        }

        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media search"));
        return;
    }

    /* media's rows are tagged: 'p' public, 'o' the caller's own */
    tagged = (res->ncols == 3);

    pub = ngx_palloc(r->pool, 2 * (res->nrows + 1) * sizeof(ngx_str_t));
    own = ngx_palloc(r->pool, 2 * (res->nrows + 1) * sizeof(ngx_str_t));
    if (pub == NULL || own == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    npub = 0;
    nown = 0;

    for (i = 0; i < res->nrows; i++) {
        row = ngx_http_media_pg_value(res, i, 0);

        if (tagged && row->len == 1 && row->data[0] == 'o') {
            own[2 * nown] = row[1];
            own[2 * nown++ + 1] = row[2];

        } else {
            pub[2 * npub] = row[tagged];
            pub[2 * npub++ + 1] = row[tagged + 1];
        }
    }

    ngx_memzero(&kept, sizeof(ngx_http_media_pg_result_t));
    kept.status = NGX_HTTP_MEDIA_PG_OK;
    kept.ncols = 2;

    if (page->store) {
        kept.nrows = npub;
        kept.values = pub;
        ngx_http_media_cache_put(r, page->key, &kept);
    }

    if (page->own_store) {
        kept.nrows = nown;
        kept.values = own;
        ngx_http_media_cache_put(r, page->own_key, &kept);
    }

    /* a refresh: kept, and nobody to answer */
    if (page->refresh) {
        ngx_http_media_pg_detached_done(page);
        return;
    }

    if (page->cached) {
        pub = page->cached;
        npub = page->ncached;
    }

    ngx_http_finalize_request(r, ngx_http_media_search_send(r, page, pub,
                                                            npub, own, nown));
}


/*
 * A page served past its time is read anew for the next callers, in the
 * background (ngx_http_media_cache_refresh): its public rows, without the
 * caller (viewer: params[2] is the caller, no part of what is kept), or
 * with own set the caller's own rows (stmt the own statement, the caller
 * kept), under their own key.
 */
static void
ngx_http_media_search_refresh(ngx_http_request_t *r,
    ngx_http_media_search_page_t *page, ngx_http_media_pg_stmt_t *stmt,
    ngx_str_t *params, ngx_uint_t viewer, ngx_uint_t own)
{
    ngx_str_t                      p[5];
    ngx_uint_t                     i;
    ngx_http_media_search_page_t  *np;

    for (i = 0; i < stmt->nparams && i < 5; i++) {
        p[i] = params[i];
    }

    if (viewer && !own) {
        ngx_str_null(&p[2]);
    }

    np = ngx_http_media_cache_refresh(r, own ? page->own_key : page->key,
                                      stmt, p, ngx_http_media_search_listed,
                                      sizeof(ngx_http_media_search_page_t));
    if (np == NULL) {
        return;
    }

    if (own) {
        ngx_memcpy(np->own_key, page->own_key, sizeof(page->own_key));
        np->own_store = 1;

    } else {
        ngx_memcpy(np->key, page->key, sizeof(page->key));
        np->store = 1;
    }

    np->n = page->n;
    np->refresh = 1;
}


/*
 * The page: the public rows and the caller's own merged by rank, each
 * list best first already, as send_page takes a result (page->n shown,
 * a next_cursor when there are more)
 */
static ngx_int_t
ngx_http_media_search_send(ngx_http_request_t *r,
    ngx_http_media_search_page_t *page, ngx_str_t *pub, ngx_uint_t npub,
    ngx_str_t *own, ngx_uint_t nown)
{
    ngx_uint_t                   i, j, k;
    ngx_http_media_pg_result_t   res;

    ngx_memzero(&res, sizeof(ngx_http_media_pg_result_t));
    res.status = NGX_HTTP_MEDIA_PG_OK;
    res.ncols = 2;

    if (nown == 0) {
        res.nrows = npub;
        res.values = pub;

        return ngx_http_media_send_page(r, &res, page->n, "media search");
    }

    res.values = ngx_palloc(r->pool, 2 * (page->n + 1) * sizeof(ngx_str_t));
    if (res.values == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    i = 0;
    j = 0;

    for (k = 0; k < page->n + 1 && (i < npub || j < nown); k++) {
        if (j == nown
            || (i < npub && ngx_http_media_search_ranks(&pub[2 * i],
                                                        &own[2 * j])))
        {
            res.values[2 * k] = pub[2 * i];
            res.values[2 * k + 1] = pub[2 * i++ + 1];

        } else {
            res.values[2 * k] = own[2 * j];
            res.values[2 * k + 1] = own[2 * j++ + 1];
        }
    }

    res.nrows = k;

    return ngx_http_media_send_page(r, &res, page->n, "media search");
}


/* does cursor a ("<score>.<id>") rank before b: a greater (score, id)? */
static ngx_int_t
ngx_http_media_search_ranks(ngx_str_t *a, ngx_str_t *b)
{
    u_char  *da, *db;
    off_t    sa, sb;

    da = ngx_strlchr(a->data, a->data + a->len, '.');
    db = ngx_strlchr(b->data, b->data + b->len, '.');

    if (da == NULL || db == NULL) {
        return 0;
    }

    sa = ngx_atoof(a->data, da - a->data);
    sb = ngx_atoof(b->data, db - b->data);

    if (sa != sb) {
        return sa > sb;
    }

    /* ids in their one lowercase spelling: as uuids compare */
    return ngx_memn2cmp(da, db, a->data + a->len - da,
                        b->data + b->len - db) > 0;
}


/* helpers ---------------------------------------------------------------- */

/*
 * The argument name, percent-decoded into a pool copy ('+' is a blank):
 * NGX_OK, NGX_DECLINED when it is absent, NGX_ERROR when out of memory.
 */
static ngx_int_t
ngx_http_media_search_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *buf;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    buf = ngx_pnalloc(r->pool, raw.len + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    value->data = buf;
    value->len = media_search_decode(raw.data, raw.len, buf);

    return NGX_OK;
}


/* the index of value in choices, or NGX_DECLINED */
static ngx_int_t
ngx_http_media_search_one_of(ngx_str_t *value, const char **choices)
{
    ngx_int_t  i;

    for (i = 0; choices[i]; i++) {
        if (value->len == ngx_strlen(choices[i])
            && ngx_strncmp(value->data, choices[i], value->len) == 0)
        {
            return i;
        }
    }

    return NGX_DECLINED;
}
