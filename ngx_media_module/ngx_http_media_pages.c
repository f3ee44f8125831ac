/*
 * The public side (ngx_http_media_pages.h).  A page shows only media that
 * are ready, not deleted, and public or unlisted; anything else, the
 * owner's own private media included, is the same 404 page, so a page
 * never says that a private media exists.  Unlisted media play by link
 * and are never listed (the profile lists public media only).
 *
 * Every text a user wrote goes through media_html_escape; the Host header
 * too, since it makes the pages' absolute URLs.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_cache.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_pages.h"
#include "ngx_http_media_pictures.h"
#include "ngx_http_media_blocked.h"
#include "media_html.h"
#include "media_token.h"
#include "media_utf8.h"


#define NGX_HTTP_MEDIA_PAGE_SHARE  0
#define NGX_HTTP_MEDIA_PAGE_EMBED  1
#define NGX_HTTP_MEDIA_PAGE_USER   2

#define NGX_HTTP_MEDIA_PROFILE_PAGE   20
#define NGX_HTTP_MEDIA_PROFILE_MAX    100


/* an HTML page as it is written, in the request pool */
typedef struct {
    ngx_http_request_t  *r;
    ngx_str_t            client;      /* the web client's URI, "/..." */
    u_char              *data;
    size_t               len;
    size_t               size;
    ngx_uint_t           failed;
} ngx_http_media_html_t;


/* a share page or embed player asked of PostgreSQL */
typedef struct {
    ngx_uint_t           page;        /* NGX_HTTP_MEDIA_PAGE_SHARE, _EMBED */
    ngx_uint_t           store;       /* its row to the cache */
    u_char               key[NGX_HTTP_MEDIA_CACHE_KEY];
} ngx_http_media_page_ask_t;


/* what the share page and the embed player show, read and made once */
typedef struct {
    ngx_uint_t           page;        /* NGX_HTTP_MEDIA_PAGE_SHARE, _EMBED */
    ngx_uint_t           video;
    ngx_str_t           *id;
    ngx_str_t           *title;
    ngx_str_t           *kind;
    ngx_str_t           *desc;
    ngx_str_t           *duration;    /* ms */
    ngx_str_t           *handle;      /* NULL data: the creator has none */
    ngx_str_t           *name;
    ngx_str_t           *likes;
    ngx_str_t           *comments;
    ngx_str_t           *pictures;    /* NGX_HTTP_MEDIA_PICTURES_COLUMN */
    ngx_str_t            image;       /* absolute; NULL data: none */
    ngx_str_t            waveform;    /* a path; NULL data: none */
    ngx_str_t            embed;       /* absolute URLs */
    ngx_str_t            share;
    ngx_str_t            oembed;
    ngx_str_t            num[2];      /* the player's width and height */
} ngx_http_media_share_t;


static ngx_int_t ngx_http_media_pages_handler(ngx_http_request_t *r);
static void ngx_http_media_page_media(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_page_refresh(ngx_http_request_t *r, u_char *key,
    ngx_str_t *params);
static void ngx_http_media_page_refreshed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_page_answer(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_uint_t page);
static void ngx_http_media_page_cards(ngx_http_media_html_t *h,
    ngx_http_media_share_t *s);
static void ngx_http_media_page_body(ngx_http_media_html_t *h,
    ngx_http_media_share_t *s);
static void ngx_http_media_page_user(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_oembed_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_user_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_me_patched(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_page_not_found(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_page_removed(ngx_http_request_t *r,
    ngx_str_t *reason);
static void ngx_http_media_page_script(ngx_http_media_html_t *h,
    const char *name, ngx_uint_t module);
static ngx_int_t ngx_http_media_page_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_media_html_t *h);
static void ngx_http_media_page_head(ngx_http_media_html_t *h,
    ngx_str_t *title);
static void ngx_http_media_html_raw(ngx_http_media_html_t *h, const char *s,
    size_t n);
static void ngx_http_media_html_text(ngx_http_media_html_t *h, ngx_str_t *s);
static void ngx_http_media_base(ngx_http_request_t *r, ngx_str_t *base,
    ngx_str_t *host);
static ngx_int_t ngx_http_media_text_ok(ngx_str_t *s, size_t max,
    ngx_uint_t lines);
static unsigned ngx_http_media_page_image(ngx_http_request_t *r,
    ngx_str_t *id, ngx_str_t *pictures, ngx_uint_t video, ngx_str_t *base,
    ngx_str_t *url);
static void ngx_http_media_page_size(ngx_http_media_pg_result_t *res,
    ngx_uint_t video, ngx_uint_t maxw, ngx_uint_t maxh, unsigned *size);

#define ngx_http_media_html_lit(h, s)                                         \
    ngx_http_media_html_raw(h, s, sizeof(s) - 1)

#define ngx_http_media_html_str(h, s)                                         \
    ngx_http_media_html_raw(h, (const char *) (s)->data, (s)->len)


/*
 * the statements of this room, each prepared once per pooled connection
 */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_page_media =
    ngx_http_media_pg_read_stmt("pages_media", 1,
        "SELECT m.id::text, m.title, m.kind, m.description, m.privacy,"
        "       coalesce(m.duration_ms, 0), u.handle,"
        "       coalesce(u.display_name, u.handle, 'someone'),"
        "       m.likes_count, m.comments_count, "
        NGX_HTTP_MEDIA_PICTURES_COLUMN ","
        "       m.renditions->0->>'width', m.renditions->0->>'height',"
        /* taken down: the page says so (13, 14) */
        "       m.status = 'blocked', m.blocked_reason"
        " FROM media m JOIN users u ON u.id = m.owner_id"
        " WHERE m.id = $1 AND m.deleted_at IS NULL"
        "   AND m.status IN ('ready', 'blocked')"
        "   AND m.privacy IN ('public', 'unlisted')");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_page_user =
    ngx_http_media_pg_read_stmt("pages_user", 2,
        "SELECT u.handle, coalesce(u.display_name, u.handle),"
        "       coalesce(u.bio, ''),"
        "       (SELECT count(*) FROM follows WHERE followee_id = u.id),"
        "       (SELECT count(*) FROM follows WHERE follower_id = u.id),"
        "       m.id::text, m.title, m.kind, u.avatar_key"
        " FROM users u LEFT JOIN LATERAL ("
        "   SELECT id, title, kind, created_at FROM media"
        "    WHERE owner_id = u.id AND deleted_at IS NULL"
        "      AND privacy = 'public' AND status = 'ready'"
        "    ORDER BY created_at DESC, id DESC LIMIT $2::integer) m ON true"
        " WHERE u.handle = $1"
        " ORDER BY m.created_at DESC, m.id DESC");

/* one JSON document: the profile, a page of its public media (one more
 * than asked for says there is a next page), its public playlists */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_user_get =
    ngx_http_media_pg_read_stmt("pages_user_get", 3,
        "WITH u AS (SELECT id, handle, display_name, bio, avatar_key"
        "             FROM users"
        "            WHERE handle = $1),"
        " pm AS (SELECT m.id, m.title, m.kind, m.duration_ms,"
        "               m.description, m.created_at, m.plays_count,"
        "               m.likes_count, m.comments_count,"
        "               row_number() OVER (ORDER BY m.created_at DESC,"
        "                                  m.id DESC) AS n"
        "          FROM media m JOIN u ON m.owner_id = u.id"
        "         WHERE m.deleted_at IS NULL AND m.privacy = 'public'"
        "           AND m.status = 'ready'"
        "           AND ($2::uuid IS NULL OR (m.created_at, m.id) <"
        "               (SELECT created_at, id FROM media WHERE id = $2))"
        "         ORDER BY m.created_at DESC, m.id DESC"
        "         LIMIT $3::integer + 1)"
        " SELECT json_build_object("
        "  'user', json_build_object('handle', u.handle,"
        "     'display_name', coalesce(u.display_name, u.handle),"
        "     'bio', coalesce(u.bio, ''), 'url', '/u/' || u.handle,"
        "     'avatar', media_avatar_json(u.avatar_key),"
        "     'followers_count', (SELECT count(*) FROM follows"
        "                          WHERE followee_id = u.id),"
        "     'following_count', (SELECT count(*) FROM follows"
        "                          WHERE follower_id = u.id)),"
        "  'media', coalesce((SELECT json_agg(json_build_object("
        "     'id', id, 'title', title, 'kind', kind,"
        "     'duration_ms', duration_ms, 'description', description,"
        "     'created_at', to_char(created_at AT TIME ZONE 'UTC',"
        "                   'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
        "     'plays_count', plays_count, 'likes_count', likes_count,"
        "     'comments_count', comments_count, 'url', '/m/' || id)"
        "     ORDER BY n) FROM pm WHERE n <= $3::integer), '[]'),"
        "  'next_cursor', (SELECT id FROM pm WHERE n = $3::integer"
        "     AND EXISTS (SELECT 1 FROM pm WHERE n > $3::integer)),"
        "  'playlists', coalesce((SELECT json_agg(json_build_object("
        "     'id', p.id, 'title', p.title,"
        "     'items_count', (SELECT count(*) FROM playlist_items i"
        "        JOIN media im ON im.id = i.media_id"
        "       WHERE i.playlist_id = p.id AND im.privacy = 'public'"
        "         AND im.deleted_at IS NULL AND im.status = 'ready'))"
        "     ORDER BY p.created_at DESC, p.id DESC)"
        "     FROM playlists p WHERE p.owner_id = u.id"
        "      AND p.privacy = 'public'), '[]'))::text"
        " FROM u");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_me_patch =
    ngx_http_media_pg_stmt("pages_me_patch", 6,
        "UPDATE users SET handle = coalesce($2, handle),"
        "       display_name = CASE WHEN $3::boolean THEN nullif($4, '')"
        "                      ELSE display_name END,"
        "       bio = CASE WHEN $5::boolean THEN nullif($6, '')"
        "             ELSE bio END"
        " WHERE id = $1"
        " RETURNING id::text, handle, display_name, bio");


/* configuration ----------------------------------------------------------- */

char *
ngx_http_media_pages(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_loc_conf_t  *mlcf = conf;

    u_char                     *p;
    ngx_str_t                  *value;
    ngx_http_core_loc_conf_t   *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate or conflicts with another content handler";
    }

    clcf->handler = ngx_http_media_pages_handler;

    /*
     * Where the web client is served, whose script and style the pages
     * load: "/" unless it lives under a path of its own ("/app/").  Only
     * characters that need no escaping in an HTML attribute.
     */
    ngx_str_set(&mlcf->client, "/");

    if (cf->args->nelts == 1) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/'
        || value[1].data[value[1].len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "media_pages: the web client's location \"%V\" "
                           "must start and end with \"/\", as \"/app/\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    for (p = value[1].data; p < value[1].data + value[1].len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || ngx_strchr("/-._~", *p)))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "media_pages: \"%V\" holds \"%c\"; the web "
                               "client's location may hold letters, digits "
                               "and / - . _ ~ only", &value[1], *p);
            return NGX_CONF_ERROR;
        }
    }

    mlcf->client = value[1];

    return NGX_CONF_OK;
}


/* /m/<id>, /embed/<id>, /u/<handle> -------------------------------------- */

static ngx_int_t
ngx_http_media_pages_handler(ngx_http_request_t *r)
{
    char                         handle[30];
    u_char                      *p, *last;
    ngx_int_t                    rc;
    ngx_str_t                    arg, params[2], allow;
    ngx_uint_t                   page, stale;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_page_ask_t   *ask;
    ngx_http_media_pg_result_t   res;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        ngx_str_set(&allow, "GET, HEAD");
        if (ngx_http_media_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx = ngx_http_media_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (r->uri.len > 3 && ngx_strncmp(p, "/m/", 3) == 0) {
        page = NGX_HTTP_MEDIA_PAGE_SHARE;
        p += 3;

    } else if (r->uri.len > 7 && ngx_strncmp(p, "/embed/", 7) == 0) {
        page = NGX_HTTP_MEDIA_PAGE_EMBED;
        p += 7;

    } else if (r->uri.len > 3 && ngx_strncmp(p, "/u/", 3) == 0) {
        page = NGX_HTTP_MEDIA_PAGE_USER;
        p += 3;

    } else {
        return ngx_http_media_page_not_found(r);
    }

    arg.data = p;
    arg.len = last - p;

    if (page == NGX_HTTP_MEDIA_PAGE_USER) {
        if (!media_handle_norm(handle, (char *) arg.data, arg.len)) {
            return ngx_http_media_page_not_found(r);
        }

        params[0].data = ngx_pnalloc(r->pool, arg.len);
        if (params[0].data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        params[0].len = arg.len;
        ngx_memcpy(params[0].data, handle, arg.len);
        ngx_str_set(&params[1], "50");

        rc = ngx_http_media_pg_query(r, &ngx_http_media_sql_page_user,
                                     params, ngx_http_media_page_user, NULL);

    } else {
        if (ngx_http_media_is_uuid(&arg) != NGX_OK) {
            return ngx_http_media_page_not_found(r);
        }

        params[0] = arg;

        ask = ngx_pcalloc(r->pool, sizeof(ngx_http_media_page_ask_t));
        if (ask == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ask->page = page;

        /* what every visitor sees, kept a few seconds (one kind for the
         * share page and the embed player: the same row) */
        if (ngx_http_media_cache_key(r, "page media", params, 1, ask->key)
            == NGX_OK)
        {
            if (ngx_http_media_cache_get(r, ask->key, &res, &stale)
                == NGX_OK)
            {
                if (stale) {
                    ngx_http_media_page_refresh(r, ask->key, params);
                }

                return ngx_http_media_page_answer(r, &res, page);
            }

            ask->store = 1;
        }

        rc = ngx_http_media_pg_query(r, &ngx_http_media_sql_page_media,
                                     params, ngx_http_media_page_media,
                                     ask);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->main->count++;

    return NGX_DONE;
}


/*
 * The share page and the embed player: the cards' tags (OpenGraph,
 * Twitter's player card, the oEmbed link), then the player, which
 * www/share.js starts with an anonymous playback token.  Columns:
 * id, title, kind, description, privacy, duration_ms, handle, display
 * name, likes, comments, pictures, the top rung's width and height.
 */
static void
ngx_http_media_page_media(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_page_ask_t  *ask = data;

    /* a page to show is kept for the next visitors (media_public_cache);
     * a missing one is not, so a media just published shows at once */
    if (ask->store && res->status == NGX_HTTP_MEDIA_PG_OK
        && res->nrows == 1)
    {
        ngx_http_media_cache_put(r, ask->key, res);
    }

    ngx_http_finalize_request(r, ngx_http_media_page_answer(r, res,
                                                            ask->page));
}


/* a kept row past its time, read anew in the background */
static void
ngx_http_media_page_refresh(ngx_http_request_t *r, u_char *key,
    ngx_str_t *params)
{
    u_char  *k;

    k = ngx_http_media_cache_refresh(r, key, &ngx_http_media_sql_page_media,
                                     params, ngx_http_media_page_refreshed,
                                     NGX_HTTP_MEDIA_CACHE_KEY);
    if (k) {
        ngx_memcpy(k, key, NGX_HTTP_MEDIA_CACHE_KEY);
    }
}


static void
ngx_http_media_page_refreshed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (res->status == NGX_HTTP_MEDIA_PG_OK && res->nrows == 1) {
        ngx_http_media_cache_put(r, data, res);
    }

    ngx_http_media_pg_detached_done(data);
}


static ngx_int_t
ngx_http_media_page_answer(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_uint_t page)
{
    u_char                  *p;
    unsigned                 size[4];
    ngx_str_t                base, host;
    ngx_http_media_html_t    h;
    ngx_http_media_share_t   s;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        return ngx_http_media_pg_failed(r, res, "media page");
    }

    if (res->nrows == 0) {
        return ngx_http_media_page_not_found(r);
    }

    if (ngx_http_media_pg_value(res, 0, 13)->data[0] == 't') {
        return ngx_http_media_page_removed(r,
                                           ngx_http_media_pg_value(res, 0,
                                                                   14));
    }

    s.page = page;
    s.id = ngx_http_media_pg_value(res, 0, 0);
    s.title = ngx_http_media_pg_value(res, 0, 1);
    s.kind = ngx_http_media_pg_value(res, 0, 2);
    s.desc = ngx_http_media_pg_value(res, 0, 3);
    s.duration = ngx_http_media_pg_value(res, 0, 5);
    s.handle = ngx_http_media_pg_value(res, 0, 6);
    s.name = ngx_http_media_pg_value(res, 0, 7);
    s.likes = ngx_http_media_pg_value(res, 0, 8);
    s.comments = ngx_http_media_pg_value(res, 0, 9);
    s.pictures = ngx_http_media_pg_value(res, 0, 10);

    s.video = s.kind->len == 5
              && ngx_strncmp(s.kind->data, "video", 5) == 0;
    ngx_http_media_page_size(res, s.video, 0, 0, size);

    if (s.title->len == 0) {
        ngx_str_set(s.title, "Untitled");
    }

    ngx_http_media_base(r, &base, &host);

    (void) ngx_http_media_page_image(r, s.id, s.pictures, s.video, &base,
                                     &s.image);

    /* the waveform's peaks, drawn by share.js before a token is asked */
    if (!s.video) {
        (void) ngx_http_media_pictures_path(r, s.id, s.pictures,
                                            MEDIA_PIC_WAVEFORM, &s.waveform);
    } else {
        ngx_str_null(&s.waveform);
    }

    /* the embed player's and the share page's absolute URLs, the latter
     * also as the oEmbed link's query parameter (':' and '/' escaped) */
    s.embed.data = ngx_pnalloc(r->pool, base.len + sizeof("/embed/") + 36);
    s.share.data = ngx_pnalloc(r->pool, base.len + sizeof("/m/") + 36);
    s.oembed.data = ngx_pnalloc(r->pool, 4 * base.len + 256);
    s.num[0].data = ngx_pnalloc(r->pool, 2 * NGX_INT_T_LEN);

    if (base.data == NULL || s.embed.data == NULL || s.share.data == NULL
        || s.oembed.data == NULL || s.num[0].data == NULL)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    s.embed.len = ngx_sprintf(s.embed.data, "%V/embed/%V", &base, s.id)
                  - s.embed.data;
    s.share.len = ngx_sprintf(s.share.data, "%V/m/%V", &base, s.id)
                  - s.share.data;

    p = ngx_sprintf(s.oembed.data, "%V/api/v1/oembed?format=json&url=",
                    &base);
    p = (u_char *) ngx_escape_uri(p, s.share.data, s.share.len,
                                  NGX_ESCAPE_URI_COMPONENT);
    s.oembed.len = p - s.oembed.data;

    s.num[0].len = ngx_sprintf(s.num[0].data, "%uD", size[0])
                   - s.num[0].data;
    s.num[1].data = s.num[0].data + s.num[0].len;
    s.num[1].len = ngx_sprintf(s.num[1].data, "%uD", size[1])
                   - s.num[1].data;

    ngx_memzero(&h, sizeof(ngx_http_media_html_t));
    h.r = r;

    ngx_http_media_page_head(&h, s.title);
    ngx_http_media_page_cards(&h, &s);
    ngx_http_media_page_body(&h, &s);

    return ngx_http_media_page_send(r, NGX_HTTP_OK, &h);
}

/* the cards: OpenGraph, Twitter's player card, the oEmbed link; every
 * value escaped, in double quotes */
static void
ngx_http_media_page_cards(ngx_http_media_html_t *h, ngx_http_media_share_t *s)
{
    ngx_http_media_html_lit(h, "<meta property=\"og:site_name\" "
                            "content=\"ngx_media\">\n"
                            "<meta property=\"og:type\" content=\"");
    if (s->video) {
        ngx_http_media_html_lit(h, "video.other");
    } else {
        ngx_http_media_html_lit(h, "music.song");
    }
    ngx_http_media_html_lit(h, "\">\n<meta property=\"og:title\" content=\"");
    ngx_http_media_html_text(h, s->title);
    ngx_http_media_html_lit(h, "\">\n<meta property=\"og:description\" "
                            "content=\"");
    ngx_http_media_html_text(h, s->desc->len ? s->desc : s->name);
    ngx_http_media_html_lit(h, "\">\n<meta property=\"og:url\" content=\"");
    ngx_http_media_html_text(h, &s->share);
    ngx_http_media_html_lit(h, "\">\n");

    if (s->image.data) {
        ngx_http_media_html_lit(h, "<meta property=\"og:image\" content=\"");
        ngx_http_media_html_text(h, &s->image);
        ngx_http_media_html_lit(h, "\">\n<meta name=\"twitter:image\" "
                                "content=\"");
        ngx_http_media_html_text(h, &s->image);
        ngx_http_media_html_lit(h, "\">\n");
    }

    /* the player to frame: og:video or og:audio, Twitter's player card */
    ngx_http_media_html_lit(h, "<meta property=\"");
    if (s->video) {
        ngx_http_media_html_lit(h, "og:video");
    } else {
        ngx_http_media_html_lit(h, "og:audio");
    }
    ngx_http_media_html_lit(h, "\" content=\"");
    ngx_http_media_html_text(h, &s->embed);
    ngx_http_media_html_lit(h, "\">\n<meta property=\"");
    if (s->video) {
        ngx_http_media_html_lit(h, "og:video:type\" content=\"text/html\">\n"
                                "<meta property=\"og:video:width\" "
                                "content=\"");
        ngx_http_media_html_str(h, &s->num[0]);
        ngx_http_media_html_lit(h, "\">\n<meta property=\"og:video:height\" "
                                "content=\"");
        ngx_http_media_html_str(h, &s->num[1]);
        ngx_http_media_html_lit(h, "\">\n");
    } else {
        ngx_http_media_html_lit(h, "og:audio:type\" "
                                "content=\"text/html\">\n");
    }

    ngx_http_media_html_lit(h, "<meta name=\"twitter:card\" "
                            "content=\"player\">\n"
                            "<meta name=\"twitter:title\" content=\"");
    ngx_http_media_html_text(h, s->title);
    ngx_http_media_html_lit(h, "\">\n<meta name=\"twitter:player\" "
                            "content=\"");
    ngx_http_media_html_text(h, &s->embed);
    ngx_http_media_html_lit(h, "\">\n<meta name=\"twitter:player:width\" "
                            "content=\"");
    ngx_http_media_html_str(h, &s->num[0]);
    ngx_http_media_html_lit(h, "\">\n<meta name=\"twitter:player:height\" "
                            "content=\"");
    ngx_http_media_html_str(h, &s->num[1]);
    ngx_http_media_html_lit(h, "\">\n<link rel=\"alternate\" "
                            "type=\"application/json+oembed\" href=\"");
    ngx_http_media_html_text(h, &s->oembed);
    ngx_http_media_html_lit(h, "\" title=\"");
    ngx_http_media_html_text(h, s->title);
    ngx_http_media_html_lit(h, "\">\n");

}


/* the player first (share.js reads the data attributes), then for the
 * share page the title, creator, description, counts and comments */
static void
ngx_http_media_page_body(ngx_http_media_html_t *h, ngx_http_media_share_t *s)
{
    ngx_http_media_html_lit(h, "</head>\n<body class=\"");
    if (s->page == NGX_HTTP_MEDIA_PAGE_EMBED) {
        ngx_http_media_html_lit(h, "embed");
    } else {
        ngx_http_media_html_lit(h, "share");
    }
    ngx_http_media_html_lit(h, "\">\n<main id=\"share\" data-media=\"");
    ngx_http_media_html_str(h, s->id);
    ngx_http_media_html_lit(h, "\" data-kind=\"");
    ngx_http_media_html_str(h, s->kind);
    if (s->waveform.data) {
        ngx_http_media_html_lit(h, "\" data-waveform=\"");
        ngx_http_media_html_text(h, &s->waveform);
    }
    ngx_http_media_html_lit(h, "\">\n");

    /* audio: the cover above the player and the waveform's place */
    if (!s->video && s->image.data) {
        ngx_http_media_html_lit(h, "<img id=\"cover\" class=\"cover\" "
                                "alt=\"\" width=\"256\" height=\"256\" "
                                "src=\"");
        ngx_http_media_html_text(h, &s->image);
        ngx_http_media_html_lit(h, "\">\n");
    }

    /* the comments' marks over the waveform, at at_ms of the duration */
    if (s->waveform.data) {
        ngx_http_media_html_lit(h, "<div class=\"wave-box\">"
                                "<div id=\"waveform\"></div>"
                                "<div id=\"comment-marks\" "
                                "class=\"comment-marks\" data-duration-ms=\"");
        ngx_http_media_html_str(h, s->duration);
        ngx_http_media_html_lit(h, "\"></div></div>\n");
    }

    if (s->video) {
        ngx_http_media_html_lit(h, "<video id=\"player\" controls "
                                "playsinline preload=\"none\"");
    } else {
        ngx_http_media_html_lit(h, "<audio id=\"player\" controls "
                                "preload=\"none\"");
    }
    if (s->video && s->image.data) {
        ngx_http_media_html_lit(h, " poster=\"");
        ngx_http_media_html_text(h, &s->image);
        ngx_http_media_html_lit(h, "\"");
    }
    ngx_http_media_html_lit(h, "></");
    if (s->video) {
        ngx_http_media_html_lit(h, "video");
    } else {
        ngx_http_media_html_lit(h, "audio");
    }
    ngx_http_media_html_lit(h, ">\n<p id=\"play-status\" "
                            "role=\"status\"></p>\n");

    if (s->page == NGX_HTTP_MEDIA_PAGE_SHARE) {
        ngx_http_media_html_lit(h, "<h1>");
        ngx_http_media_html_text(h, s->title);
        ngx_http_media_html_lit(h, "</h1>\n<p class=\"by\">");

        if (s->handle->data) {
            ngx_http_media_html_lit(h, "<a href=\"/u/");
            ngx_http_media_html_text(h, s->handle);
            ngx_http_media_html_lit(h, "\">");
            ngx_http_media_html_text(h, s->name);
            ngx_http_media_html_lit(h, "</a> <span class=\"handle\">@");
            ngx_http_media_html_text(h, s->handle);
            ngx_http_media_html_lit(h, "</span>");

        } else {
            ngx_http_media_html_text(h, s->name);
        }

        ngx_http_media_html_lit(h, "</p>\n<p class=\"description\">");
        ngx_http_media_html_text(h, s->desc);
        ngx_http_media_html_lit(h, "</p>\n<p class=\"counts\">"
                                "<span id=\"likes\">");
        ngx_http_media_html_str(h, s->likes);
        ngx_http_media_html_lit(h, "</span> likes, <span id=\"comments-n\">");
        ngx_http_media_html_str(h, s->comments);
        ngx_http_media_html_lit(h, "</span> comments</p>\n"
                                /* the social room's comments and likes */
                                "<section id=\"comments\" data-media=\"");
        ngx_http_media_html_str(h, s->id);
        ngx_http_media_html_lit(h, "\"></section>\n");
    }

    ngx_http_media_html_lit(h, "</main>\n");
    ngx_http_media_page_script(h, "vendor/hls.min.js", 0);
    ngx_http_media_page_script(h, "rungs.js", 0);
    if (s->waveform.data) {
        ngx_http_media_page_script(h, "vendor/wavesurfer.min.js", 0);
    }
    ngx_http_media_page_script(h, "share.js", 1);
    ngx_http_media_html_lit(h, "</body>\n</html>\n");

}


/* the profile page: handle, display name, bio, counts, public media */
static void
ngx_http_media_page_user(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    u_char                  *p;
    ngx_str_t               *handle, *name, *id, *title, *avatar;
    ngx_str_t                base, host, image;
    ngx_uint_t               i;
    ngx_http_media_html_t    h;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "profile page"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_page_not_found(r));
        return;
    }

    handle = ngx_http_media_pg_value(res, 0, 0);
    name = ngx_http_media_pg_value(res, 0, 1);

    /* avatars/<key>-256.jpg: a key of 32 hex digits (a CHECK says so);
     * the card's picture is the same file as an absolute URL */
    avatar = ngx_http_media_pg_value(res, 0, 8);
    ngx_str_null(&image);

    if (avatar->data) {
        ngx_http_media_base(r, &base, &host);

        image.data = ngx_pnalloc(r->pool, base.len + sizeof("/avatars/")
                                          + avatar->len + sizeof("-256.jpg"));
        if (base.data == NULL || image.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        p = ngx_sprintf(image.data, "%V/avatars/%V-256.jpg", &base, avatar);
        image.len = p - image.data;
    }

    ngx_memzero(&h, sizeof(ngx_http_media_html_t));
    h.r = r;

    ngx_http_media_page_head(&h, name);

    ngx_http_media_html_lit(&h, "<meta property=\"og:type\" "
                            "content=\"profile\">\n"
                            "<meta property=\"og:title\" content=\"");
    ngx_http_media_html_text(&h, name);
    ngx_http_media_html_lit(&h, "\">\n<meta property=\"og:description\" "
                            "content=\"");
    ngx_http_media_html_text(&h, ngx_http_media_pg_value(res, 0, 2));
    ngx_http_media_html_lit(&h, "\">\n");

    if (image.data) {
        ngx_http_media_html_lit(&h, "<meta property=\"og:image\" "
                                "content=\"");
        ngx_http_media_html_text(&h, &image);
        ngx_http_media_html_lit(&h, "\">\n<meta property=\"og:image:width\" "
                                "content=\"256\">\n"
                                "<meta property=\"og:image:height\" "
                                "content=\"256\">\n"
                                "<meta name=\"twitter:image\" content=\"");
        ngx_http_media_html_text(&h, &image);
        ngx_http_media_html_lit(&h, "\">\n");
    }

    ngx_http_media_html_lit(&h, "<meta name=\"twitter:card\" "
                            "content=\"summary\">\n</head>\n"
                            "<body class=\"profile\">\n<main id=\"profile\" "
                            "data-handle=\"");
    ngx_http_media_html_text(&h, handle);
    ngx_http_media_html_lit(&h, "\">\n");

    if (avatar->data) {
        ngx_http_media_html_lit(&h, "<img id=\"avatar\" class=\"avatar\" "
                                "alt=\"\" width=\"128\" height=\"128\" "
                                "src=\"/avatars/");
        ngx_http_media_html_text(&h, avatar);
        ngx_http_media_html_lit(&h, "-256.jpg\">\n");
    }

    ngx_http_media_html_lit(&h, "<h1>");
    ngx_http_media_html_text(&h, name);
    ngx_http_media_html_lit(&h, "</h1>\n<p class=\"handle\">@");
    ngx_http_media_html_text(&h, handle);
    ngx_http_media_html_lit(&h, "</p>\n<p class=\"bio\">");
    ngx_http_media_html_text(&h, ngx_http_media_pg_value(res, 0, 2));
    ngx_http_media_html_lit(&h, "</p>\n<p class=\"counts\"><span "
                            "id=\"followers\">");
    ngx_http_media_html_str(&h, ngx_http_media_pg_value(res, 0, 3));
    ngx_http_media_html_lit(&h, "</span> followers, <span id=\"following\">");
    ngx_http_media_html_str(&h, ngx_http_media_pg_value(res, 0, 4));
    ngx_http_media_html_lit(&h, "</span> following</p>\n<ul id=\"media\">\n");

    for (i = 0; i < res->nrows; i++) {
        id = ngx_http_media_pg_value(res, i, 5);
        title = ngx_http_media_pg_value(res, i, 6);

        if (id->data == NULL) {
            continue;
        }

        ngx_http_media_html_lit(&h, "<li><a href=\"/m/");
        ngx_http_media_html_str(&h, id);
        ngx_http_media_html_lit(&h, "\">");
        if (title->len) {
            ngx_http_media_html_text(&h, title);
        } else {
            ngx_http_media_html_lit(&h, "Untitled");
        }
        ngx_http_media_html_lit(&h, "</a></li>\n");
    }

    ngx_http_media_html_lit(&h, "</ul>\n</main>\n</body>\n</html>\n");

    ngx_http_finalize_request(r, ngx_http_media_page_send(r, NGX_HTTP_OK, &h));
}


static ngx_int_t
ngx_http_media_page_not_found(ngx_http_request_t *r)
{
    ngx_str_t               title;
    ngx_http_media_html_t   h;

    ngx_memzero(&h, sizeof(ngx_http_media_html_t));
    h.r = r;

    ngx_str_set(&title, "Not found");
    ngx_http_media_page_head(&h, &title);
    ngx_http_media_html_lit(&h, "<meta name=\"robots\" content=\"noindex\">\n"
                            "</head>\n<body class=\"not-found\">\n<main>\n"
                            "<h1>Not found</h1>\n<p>There is nothing to "
                            "see at this address: it may never have "
                            "existed, been deleted, or be private.</p>\n"
                            "</main>\n</body>\n</html>\n");

    return ngx_http_media_page_send(r, NGX_HTTP_NOT_FOUND, &h);
}


/* a taken-down media's share or embed page: 451, with the reason */
static ngx_int_t
ngx_http_media_page_removed(ngx_http_request_t *r, ngx_str_t *reason)
{
    ngx_str_t               title;
    ngx_http_media_html_t   h;

    ngx_memzero(&h, sizeof(ngx_http_media_html_t));
    h.r = r;

    ngx_str_set(&title, "Removed");
    ngx_http_media_page_head(&h, &title);
    ngx_http_media_html_lit(&h, "<meta name=\"robots\" content=\"noindex\">\n"
                            "</head>\n<body class=\"removed\">\n<main>\n"
                            "<h1>Removed</h1>\n<p id=\"removed\">This media "
                            "was removed by a moderator");

    if (reason->data && reason->len) {
        ngx_http_media_html_lit(&h, ": ");
        ngx_http_media_html_text(&h, reason);
    }

    ngx_http_media_html_lit(&h, ".</p>\n</main>\n</body>\n</html>\n");

    ngx_str_set(&r->headers_out.status_line,
                "451 Unavailable For Legal Reasons");

    return ngx_http_media_page_send(r, NGX_HTTP_MEDIA_BLOCKED_STATUS, &h);
}


static void
ngx_http_media_page_head(ngx_http_media_html_t *h, ngx_str_t *title)
{
    ngx_http_media_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(h->r, ngx_http_media_module);
    h->client = mlcf->client;

    ngx_http_media_html_lit(h, "<!doctype html>\n<html lang=\"en\">\n<head>\n"
                            "<meta charset=\"utf-8\">\n"
                            "<meta name=\"viewport\" content=\"width=device-"
                            "width, initial-scale=1\">\n<title>");
    ngx_http_media_html_text(h, title);
    ngx_http_media_html_lit(h, "</title>\n<link rel=\"stylesheet\" href=\"");
    ngx_http_media_html_str(h, &h->client);
    ngx_http_media_html_lit(h, "style.css\">\n"
                            "<link rel=\"icon\" href=\"data:,\">\n");
}


/* <script src="<the web client>name">, an ES module or not */
static void
ngx_http_media_page_script(ngx_http_media_html_t *h, const char *name,
    ngx_uint_t module)
{
    if (module) {
        ngx_http_media_html_lit(h, "<script type=\"module\" src=\"");
    } else {
        ngx_http_media_html_lit(h, "<script src=\"");
    }
    ngx_http_media_html_str(h, &h->client);
    ngx_http_media_html_raw(h, name, ngx_strlen(name));
    ngx_http_media_html_lit(h, "\"></script>\n");
}


static ngx_int_t
ngx_http_media_page_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_media_html_t *h)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    if (h->failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = status;
    r->headers_out.content_length_n = h->len;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = sizeof("text/html") - 1;

    if (r->method == NGX_HTTP_HEAD || h->len == 0) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = h->data;
    b->last = h->data + h->len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static void
ngx_http_media_html_raw(ngx_http_media_html_t *h, const char *s, size_t n)
{
    size_t   size;
    u_char  *data;

    if (h->failed || n == 0) {
        return;
    }

    if (h->len + n > h->size) {
        size = ngx_max(2 * h->size, h->len + n);
        size = ngx_max(size, 4096);

        data = ngx_pnalloc(h->r->pool, size);
        if (data == NULL) {
            h->failed = 1;
            return;
        }

        if (h->len) {
            ngx_memcpy(data, h->data, h->len);
        }

        h->data = data;
        h->size = size;
    }

    ngx_memcpy(h->data + h->len, s, n);
    h->len += n;
}


/* the text as HTML: the escaped form is written in place */
static void
ngx_http_media_html_text(ngx_http_media_html_t *h, ngx_str_t *s)
{
    size_t   n;
    u_char  *tmp;

    if (s->data == NULL || s->len == 0) {
        return;
    }

    n = media_html_escape(NULL, (const char *) s->data, s->len);

    tmp = ngx_pnalloc(h->r->pool, n);
    if (tmp == NULL) {
        h->failed = 1;
        return;
    }

    (void) media_html_escape((char *) tmp, (const char *) s->data, s->len);

    ngx_http_media_html_raw(h, (const char *) tmp, n);
}


/* scheme://host of this request: the pages' and oEmbed's absolute URLs */
static void
ngx_http_media_base(ngx_http_request_t *r, ngx_str_t *base, ngx_str_t *host)
{
    u_char  *p;

    if (r->headers_in.host) {
        *host = r->headers_in.host->value;

    } else {
        *host = r->headers_in.server;
    }

    base->data = ngx_pnalloc(r->pool, sizeof("https://") + host->len);
    if (base->data == NULL) {
        base->len = 0;
        return;
    }

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        p = ngx_sprintf(base->data, "https://%V", host);
    } else
#endif
    {
        p = ngx_sprintf(base->data, "http://%V", host);
    }

    base->len = p - base->data;
}


/*
 * The cards' picture (og:image, twitter:image, oEmbed's thumbnail, the
 * video's poster, the audio's cover), as an absolute URL: a video's poster
 * or an audio's cover first, the other when it has only that.  The URL is
 * the API's pictures URL (ngx_http_media_pictures_path): a pictures-only
 * token, which opens no playlist or segment, expiring at the end of the
 * hour after media_url_ttl, so that an unfurler fetching it after reading
 * the page finds it, and no longer.  Only pages of public and unlisted
 * media make one; a media made private is in no new page at once, and the
 * URLs already out end within media_url_ttl and an hour.  Without a
 * media_hls location there is none.  Returns the
 * cover's side (a square) or 0 for a poster or none.
 */
static unsigned
ngx_http_media_page_image(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *pictures, ngx_uint_t video, ngx_str_t *base, ngx_str_t *url)
{
    u_char                      *p;
    ngx_str_t                    path;
    ngx_uint_t                   cover;
    ngx_http_media_main_conf_t  *mmcf;

    ngx_str_null(url);

    /* without a media_hls location there is no URL to fetch it by */
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    if (mmcf->hls_location.len == 0) {
        return 0;
    }

    cover = !video;

    if (ngx_http_media_pictures_path(r, id, pictures,
                                     cover ? MEDIA_PIC_COVER
                                           : MEDIA_PIC_POSTER, &path)
        != NGX_OK)
    {
        cover = !cover;

        if (ngx_http_media_pictures_path(r, id, pictures,
                                         cover ? MEDIA_PIC_COVER
                                               : MEDIA_PIC_POSTER, &path)
            != NGX_OK)
        {
            return 0;
        }
    }

    p = ngx_pnalloc(r->pool, base->len + path.len);
    if (p == NULL || base->data == NULL) {
        return 0;
    }

    url->data = p;
    url->len = ngx_cpymem(ngx_cpymem(p, base->data, base->len), path.data,
                          path.len)
               - p;

    return cover ? 512 : 0;
}


/*
 * size: the player's width and height (media_embed_size, within maxw x
 * maxh, 0: no limit), then the top rung's picture (0 when unknown)
 */
static void
ngx_http_media_page_size(ngx_http_media_pg_result_t *res, ngx_uint_t video,
    ngx_uint_t maxw, ngx_uint_t maxh, unsigned *size)
{
    ngx_int_t    v;
    ngx_str_t   *s;
    ngx_uint_t   i;

    for (i = 0; i < 2; i++) {
        s = ngx_http_media_pg_value(res, 0, 11 + i);
        v = s->data ? ngx_atoi(s->data, s->len) : NGX_ERROR;
        size[2 + i] = (video && v > 0 && v <= 65535) ? (unsigned) v : 0;
    }

    media_embed_size(size[2], size[3], video, (unsigned) maxw,
                     (unsigned) maxh, &size[0], &size[1]);
}


/* GET /api/v1/oembed?url=...&format=json ---------------------------------- */

ngx_int_t
ngx_http_media_oembed(ngx_http_request_t *r)
{
    int         rc;
    char         id[37];
    u_char      *dst, *src;
    ngx_int_t    v;
    ngx_str_t    url, format, base, host, arg, *params;
    ngx_uint_t   i, *max;

    static const char  *names[] = { "maxwidth", "maxheight" };

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK
        && !(format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0))
    {
        if (format.len == 3 && ngx_strncmp(format.data, "xml", 3) == 0) {
            return ngx_http_media_bad_field(r, NGX_HTTP_NOT_IMPLEMENTED,
                                            "format_not_implemented",
                                            "format", "this server answers "
                                            "oEmbed in JSON only: ask with "
                                            "format=json");
        }

        return ngx_http_media_bad_field(r, NGX_HTTP_NOT_IMPLEMENTED,
                                        "format_not_implemented", "format",
                                        "format must be json");
    }

    /* oEmbed 1.0, section 2.2: the player is made to fit */
    max = ngx_pcalloc(r->pool, 2 * sizeof(ngx_uint_t));
    if (max == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < 2; i++) {
        if (ngx_http_arg(r, (u_char *) names[i], ngx_strlen(names[i]), &arg)
            != NGX_OK)
        {
            continue;
        }

        v = ngx_atoi(arg.data, arg.len);
        if (v < 1 || v > 10000) {
            return ngx_http_media_field_error(r, names[i], "%s must be a "
                                              "number of pixels from 1 to "
                                              "10000", names[i]);
        }

        max[i] = v;
    }

    if (ngx_http_arg(r, (u_char *) "url", 3, &url) != NGX_OK
        || url.len == 0)
    {
        return ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                        "missing_field", "url",
                                        "url is required: the link of a "
                                        "share or embed page");
    }

    /* the parameter is percent-encoded, as oEmbed asks */
    dst = ngx_pnalloc(r->pool, url.len);
    if (dst == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    src = url.data;
    url.data = dst;
    ngx_unescape_uri(&dst, &src, url.len, 0);
    url.len = dst - url.data;

    ngx_http_media_base(r, &base, &host);

    rc = media_oembed_url((char *) url.data, url.len, (char *) host.data,
                          host.len, id);

    if (rc == MEDIA_OEMBED_BAD) {
        return ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_url", "url",
                                        "url is not an http:// or https:// "
                                        "link of a page");
    }

    if (rc == MEDIA_OEMBED_FOREIGN) {
        return ngx_http_media_bad_field(r, NGX_HTTP_MEDIA_UNPROCESSABLE,
                                        "foreign_url", "url",
                                        "url is not a share (/m/<id>) or "
                                        "embed (/embed/<id>) link of %V",
                                        &host);
    }

    params = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params->data = ngx_pnalloc(r->pool, 36);
    if (params->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params->len = 36;
    ngx_memcpy(params->data, id, 36);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_page_media, params,
                                ngx_http_media_oembed_found, max)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* oEmbed 1.0 (oembed.com, section 2.3.4): video for a video, rich for
 * audio (a player is no photo or link); both carry html, width, height */
static void
ngx_http_media_oembed_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    u_char      *p;
    size_t       n;
    yajl_gen     g;
    unsigned     size[4], side;
    ngx_str_t    base, host, *id, *title, *kind, *handle, image, html, s;
    ngx_uint_t   video, *max;

    max = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "oembed"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such media"));
        return;
    }

    if (ngx_http_media_pg_value(res, 0, 13)->data[0] == 't') {
        ngx_http_finalize_request(r, ngx_http_media_blocked_refuse(r,
                                  ngx_http_media_pg_value(res, 0, 14)));
        return;
    }

    id = ngx_http_media_pg_value(res, 0, 0);
    title = ngx_http_media_pg_value(res, 0, 1);
    kind = ngx_http_media_pg_value(res, 0, 2);
    handle = ngx_http_media_pg_value(res, 0, 6);
    video = kind->len == 5 && ngx_strncmp(kind->data, "video", 5) == 0;
    ngx_http_media_page_size(res, video, max[0], max[1], size);

    ngx_http_media_base(r, &base, &host);

    side = ngx_http_media_page_image(r, id, ngx_http_media_pg_value(res, 0,
                                     10), video, &base, &image);

    /* a poster has the top rung's picture; a cover is a square */
    if (side) {
        size[2] = side;
        size[3] = side;
    }

    /* the iframe: the title escaped for its attribute */
    n = title->len ? media_html_escape(NULL, (char *) title->data, title->len)
                   : 0;

    html.data = ngx_pnalloc(r->pool, base.len + n + 256);
    if (html.data == NULL || base.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(html.data, "<iframe src=\"%V/embed/%V\" width=\"%uD\" "
                    "height=\"%uD\" frameborder=\"0\" allow=\"autoplay; "
                    "fullscreen\" allowfullscreen title=\"", &base, id,
                    size[0], size[1]);
    if (n) {
        p += media_html_escape((char *) p, (char *) title->data, title->len);
    }
    p = ngx_cpymem(p, "\"></iframe>", sizeof("\"></iframe>") - 1);
    html.len = p - html.data;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_str_set(&s, "1.0");
    ngx_http_media_json_str(g, "version", &s);

    if (video) {
        ngx_str_set(&s, "video");
    } else {
        ngx_str_set(&s, "rich");
    }

    ngx_http_media_json_str(g, "type", &s);
    ngx_http_media_json_str(g, "title", title);
    ngx_http_media_json_str(g, "author_name",
                            ngx_http_media_pg_value(res, 0, 7));

    if (handle->data) {
        s.data = ngx_pnalloc(r->pool, base.len + 3 + handle->len);
        if (s.data == NULL) {
            yajl_gen_free(g);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        s.len = ngx_sprintf(s.data, "%V/u/%V", &base, handle) - s.data;
        ngx_http_media_json_str(g, "author_url", &s);
    }

    ngx_str_set(&s, "ngx_media");
    ngx_http_media_json_str(g, "provider_name", &s);
    ngx_http_media_json_str(g, "provider_url", &base);
    ngx_http_media_json_str(g, "html", &html);
    yajl_gen_string(g, (const unsigned char *) "width", 5);
    yajl_gen_integer(g, size[0]);
    yajl_gen_string(g, (const unsigned char *) "height", 6);
    yajl_gen_integer(g, size[1]);

    /* a thumbnail's size is required with it: the top rung's picture */
    if (image.data && size[2] && size[3]) {
        ngx_http_media_json_str(g, "thumbnail_url", &image);
        yajl_gen_string(g, (const unsigned char *) "thumbnail_width", 15);
        yajl_gen_integer(g, size[2]);
        yajl_gen_string(g, (const unsigned char *) "thumbnail_height", 16);
        yajl_gen_integer(g, size[3]);
    }

    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_OK, g));
}


/* GET /api/v1/users/{handle}?limit=N&cursor=C ----------------------------- */

ngx_int_t
ngx_http_media_user_get(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_uint_t             n;
    ngx_str_t              params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params[0].data = ngx_pnalloc(r->pool, ctx->capture.len + 1);
    if (params[0].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!media_handle_norm((char *) params[0].data, (char *) ctx->capture.data,
                           ctx->capture.len))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such user");
    }

    params[0].len = ctx->capture.len;

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_PROFILE_PAGE,
                                 NGX_HTTP_MEDIA_PROFILE_MAX, &n, &params[1],
                                 &params[2], &rc)
        != NGX_OK)
    {
        return rc;
    }

    if (params[1].data && ngx_http_media_is_uuid(&params[1]) != NGX_OK) {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out");
    }

    /* the statement adds the one more itself */
    params[2].data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (params[2].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[2].len = ngx_sprintf(params[2].data, "%ui", n) - params[2].data;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_user_get, params,
                                ngx_http_media_user_found, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_user_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "user profile"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such user"));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_send_json(r, NGX_HTTP_OK,
                              ngx_http_media_pg_value(res, 0, 0)));
}


/* PATCH /api/v1/me {handle?, display_name?, bio?} ------------------------- */

ngx_int_t
ngx_http_media_me_patch(ngx_http_request_t *r)
{
    yajl_val               v;
    ngx_str_t              params[6], *s;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params[0] = ctx->user->id;
    ngx_str_null(&params[1]);
    ngx_str_set(&params[2], "false");
    ngx_str_null(&params[3]);
    ngx_str_set(&params[4], "false");
    ngx_str_null(&params[5]);

    v = ngx_http_media_body_value(r, "handle");
    if (v) {
        s = ngx_http_media_body_str(r, "handle");
        if (s == NULL) {
            return ngx_http_media_field_error(r, "handle", "handle must be a "
                                              "string");
        }

        params[1].data = ngx_pnalloc(r->pool, s->len + 1);
        if (params[1].data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (!media_handle_norm((char *) params[1].data, (char *) s->data,
                               s->len))
        {
            return ngx_http_media_field_error(r, "handle", "handle must be "
                                              "3 to 30 letters a-z, digits "
                                              "and _");
        }

        params[1].len = s->len;
    }

    v = ngx_http_media_body_value(r, "display_name");
    if (v) {
        s = ngx_http_media_body_str(r, "display_name");
        if (s == NULL || ngx_http_media_text_ok(s, 80, 0) != NGX_OK) {
            return ngx_http_media_field_error(r, "display_name",
                                              "display_name must be text of "
                                              "at most 80 characters on one "
                                              "line (\"\" clears it)");
        }

        ngx_str_set(&params[2], "true");
        params[3] = *s;
    }

    v = ngx_http_media_body_value(r, "bio");
    if (v) {
        s = ngx_http_media_body_str(r, "bio");
        if (s == NULL || ngx_http_media_text_ok(s, 1000, 1) != NGX_OK) {
            return ngx_http_media_field_error(r, "bio", "bio must be text of "
                                              "at most 1000 characters "
                                              "(\"\" clears it)");
        }

        ngx_str_set(&params[4], "true");
        params[5] = *s;
    }

    if (params[1].data == NULL && params[2].len == 5 && params[4].len == 5) {
        return ngx_http_media_field_error(r, "handle", "send handle, "
                                          "display_name or bio");
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_me_patch, params,
                                ngx_http_media_me_patched, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_me_patched(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    yajl_gen   g;
    ngx_str_t  *handle, url;

    if (res->status == NGX_HTTP_MEDIA_PG_ERROR
        && ngx_strcmp(res->sqlstate, "23505") == 0)
    {
        ngx_http_finalize_request(r, ngx_http_media_bad_field(r,
                                  NGX_HTTP_CONFLICT, "handle_taken", "handle",
                                  "this handle is taken; choose another"));
        return;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "me patch"));
        return;
    }

    /* a handle given up or changed: not found by its old one */
    ngx_http_media_cache_forget(r);

    handle = ngx_http_media_pg_value(res, 0, 1);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "id", ngx_http_media_pg_value(res, 0, 0));
    ngx_http_media_json_str(g, "handle", handle);
    ngx_http_media_json_str(g, "display_name",
                            ngx_http_media_pg_value(res, 0, 2));
    ngx_http_media_json_str(g, "bio", ngx_http_media_pg_value(res, 0, 3));

    if (handle->data) {
        url.data = ngx_pnalloc(r->pool, 3 + handle->len);
        if (url.data == NULL) {
            yajl_gen_free(g);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
        url.len = ngx_sprintf(url.data, "/u/%V", handle) - url.data;
        ngx_http_media_json_str(g, "url", &url);
    }

    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_OK, g));
}


/*
 * Well-formed UTF-8 of at most max characters, as the database counts
 * them; newlines too when lines is set (a bio), no other control.
 */
static ngx_int_t
ngx_http_media_text_ok(ngx_str_t *s, size_t max, ngx_uint_t lines)
{
    u_char  *p, *last, *nl;

    p = s->data;
    last = s->data + s->len;

    while (p < last) {
        nl = lines ? ngx_strlchr(p, last, '\n') : NULL;
        if (nl == NULL) {
            nl = last;
        }

        if (!media_utf8_valid(p, nl - p)) {
            return NGX_ERROR;
        }

        p = nl + 1;
    }

    return media_utf8_chars(s->data, s->len) <= max ? NGX_OK : NGX_ERROR;
}
