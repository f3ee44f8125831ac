/*
 * Playback: signed HLS.
 *
 *   POST /api/v1/media/{id}/playback  -> {url, expires_at}: the one place
 *       that decides who may watch, with the database;
 *   GET <media_hls location><token>/<id>/master.m3u8  -> generated here
 *       from <media_storage>/hls/<id>/rungs.txt, listing only the rungs the
 *       token allows;
 *   GET <media_hls location><token>/<id>/g<N>/<rung>/index.m3u8 or
 *       seg_N.ts (or <rung>/... without the generation)  -> checked, then
 *       an internal redirect to the location that serves
 *       <media_storage>/hls/ as files (sendfile, ranges, MIME types).
 *
 * The token authorizes by HMAC and time alone: nothing on this path
 * touches PostgreSQL or Redis, so it runs at static-file speed and behind
 * any CDN.  URIs in playlists are relative, so the token in the path is
 * inherited by every request a player makes.
 *
 * Cookie mode, for a CDN that caches by path: the URL is
 * <location>c/<id>/master.m3u8, the same for every viewer, and the token
 * travels in the media_play cookie, scoped to that path, for
 * media_cookie_ttl.
 *
 * Progressive: a media plays while it transcodes.  The transcoder writes
 * each attempt into a generation of its own, <id>/g<N>/, and lists a rung
 * in rungs.txt once it has two segments ("growing"; "done" at the end, and
 * g<N>/done); playback is issued as soon as a rung is listed.  Cache
 * lifetimes follow (ngx_http_media_hls_cache, $media_cache_control):
 * growing playlists and masters are not cached, and nothing under a token
 * in the path outlives the token.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/sha.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_shm.h"
#include "ngx_http_media_keyfile.h"
#include "ngx_http_media_hls.h"
#include "ngx_http_media_plays.h"
#include "ngx_http_media_cache.h"
#include "ngx_http_media_pictures.h"
#include "ngx_http_media_blocked.h"
#include "ngx_http_media_s3.h"
#include "media_token.h"
#include "media_hlspath.h"


#define NGX_HTTP_MEDIA_RUNGS_MAX   4096   /* bytes of rungs.txt */
#define NGX_HTTP_MEDIA_PLAY_COOKIE "media_play"
#define NGX_HTTP_MEDIA_AD_SKIP_MS  5000   /* an ad may be skipped after */
#define NGX_HTTP_MEDIA_FILE_TTL    2592000  /* s: segments, ended playlists */
#define NGX_HTTP_MEDIA_PICTURE_TTL 86400    /* s: pictures, replaced in place */

/* anonymous playback tokens (share and embed pages) per client address,
 * counted in a zone of each node's shared memory */
#define NGX_HTTP_MEDIA_ANON_PLAY_RATE    30
#define NGX_HTTP_MEDIA_ANON_PLAY_WINDOW  60000
#define NGX_HTTP_MEDIA_ANON_PLAY_ZONE    (1024 * 1024)


typedef struct {
    const char          *status;        /* $media_token_status */
    ngx_str_t            token;         /* from the path or the cookie */
    media_hls_path_t     path;          /* what the path names */
    media_token_t        claims;
    ngx_str_t            cache_control; /* $media_cache_control */

    /* media_storage s3://: rungs.txt fetched by a subrequest */
    ngx_uint_t           rungs_state;   /* NGX_HTTP_MEDIA_RUNGS_* */
    ngx_uint_t           rungs_status;  /* the bucket's answer */
    ngx_str_t            rungs;
} ngx_http_media_hls_ctx_t;


#define NGX_HTTP_MEDIA_RUNGS_NONE     0
#define NGX_HTTP_MEDIA_RUNGS_WAIT     1
#define NGX_HTTP_MEDIA_RUNGS_DONE     2


static ngx_int_t ngx_http_media_hls_access(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_hls_redirect(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h, ngx_str_t *files);
static ngx_int_t ngx_http_media_hls_refuse(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h, const char *status, ngx_uint_t code,
    const char *why);
static ngx_int_t ngx_http_media_hls_master(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_hls_fetch_rungs(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h, ngx_str_t *files);
static ngx_int_t ngx_http_media_hls_rungs_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_media_hls_cache(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h);
static time_t ngx_http_media_hls_life(ngx_http_media_hls_ctx_t *h,
    time_t most);
static ngx_int_t ngx_http_media_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_media_is_gen(const char *s);
static ssize_t ngx_http_media_rungs_read(ngx_http_request_t *r,
    const char *id, u_char *buf, size_t size);
static ngx_int_t ngx_http_media_hls_current_gen(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h);
static ngx_uint_t ngx_http_media_hls_has_user(media_token_t *t);
static ngx_int_t ngx_http_media_token_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_media_play_ads(ngx_http_request_t *r, yajl_gen g,
    ngx_str_t *json, media_token_t *content);
static ngx_int_t ngx_http_media_playback_query(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_playback_answer(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res);
static void ngx_http_media_playback_refreshed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_uint_t ngx_http_media_playback_keeps(
    ngx_http_media_pg_result_t *res);
static void ngx_http_media_playback_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


static ngx_str_t  ngx_http_media_token_status_name =
    ngx_string("media_token_status");
static ngx_str_t  ngx_http_media_play_cookie_name =
    ngx_string("cookie_" NGX_HTTP_MEDIA_PLAY_COOKIE);
static ngx_str_t  ngx_http_media_cache_control_name =
    ngx_string("media_cache_control");


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_playback =
    ngx_http_media_pg_stmt("hls_playback", 2,
        "SELECT m.status, m.privacy, m.owner_id::text, m.progress,"
        "       coalesce(p.max_rung, 0),"
        "       CASE WHEN p.ads AND m.status = 'ready' AND NOT EXISTS ("
        "         SELECT 1 FROM ads WHERE ads.media_id = m.id)"
        "       THEN media_ad_schedule(m.id, m.duration_ms) END,"
        "       " NGX_HTTP_MEDIA_PICTURES_COLUMN ","
        /* a rung is listed while it transcodes (progressive) */
        "       " NGX_HTTP_MEDIA_PLAYABLE ","
        "       m.blocked_reason"
        " FROM media m"
        " LEFT JOIN users u ON u.id = $2::uuid"
        " JOIN plans p ON p.id = coalesce(u.plan, (SELECT id FROM plans"
        "   WHERE audience = 'viewer' AND is_default))"
        " WHERE m.id = $1 AND m.deleted_at IS NULL");


/* configuration ----------------------------------------------------------- */

/* media_url_key current [previous]: the playback token secrets */
char *
ngx_http_media_url_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    return ngx_http_media_token_keys(cf, mmcf->url_keys, &mmcf->url_nkeys);
}


/*
 * media_free_rung 720: obsolete.  The highest rung now comes from the
 * viewer's plan (plans.max_rung; anonymous viewers have the default
 * viewer plan's), so that paid plans can differ too.  Still checked, so a
 * configuration that was right stays loadable, and ignored with a warning
 * that says where the setting went.
 */
char *
ngx_http_media_free_rung(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (mmcf->free_rung != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n == NGX_ERROR || !media_hls_rung_known((unsigned) n)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_free_rung \"%V\": expected the "
                           "short side of one of the transcoder's rungs: "
                           MEDIA_HLS_VIDEO_RUNGS_TEXT, &value[1]);
        return NGX_CONF_ERROR;
    }

    mmcf->free_rung = (ngx_uint_t) n;

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                       "media_free_rung is obsolete and ignored: the "
                       "viewer's plan decides the highest rung; set it with "
                       "\"media-admin plans set free max_rung=%V\"",
                       &value[1]);

    return NGX_CONF_OK;
}


/* media_hls /internal/prefix/: this location serves signed HLS */
char *
ngx_http_media_hls(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_loc_conf_t *mlcf = conf;

    ngx_str_t                   *value;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_media_main_conf_t  *mmcf;

    if (mlcf->hls_files.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '/'
        || value[1].data[value[1].len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_hls \"%V\": expected the prefix of "
                           "the internal location serving media_storage/hls, "
                           "such as \"/_media_files/\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/') {
        return "must be in a prefix location ending in \"/\"";
    }

    mlcf->hls_files = value[1];
    mlcf->hls_prefix = clcf->name;
    clcf->handler = ngx_http_media_hls_master;

    /* playback URLs point at the first such location */
    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);
    if (mmcf->hls_location.data == NULL) {
        mmcf->hls_location = clcf->name;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_media_hls_init(ngx_conf_t *cf)
{
    ngx_http_variable_t         *var;
    ngx_http_media_main_conf_t  *mmcf;

    static ngx_str_t  zone = ngx_string("media_play_rate");

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);

    /* the anonymous tokens' counts, shared by the workers of this node:
     * about 8,000 addresses, the least recent forgotten first */
    mmcf->play_rate = ngx_http_media_shm_add(cf, &zone,
                                             NGX_HTTP_MEDIA_ANON_PLAY_ZONE,
                                             sizeof(ngx_uint_t));
    if (mmcf->play_rate == NULL) {
        return NGX_ERROR;
    }

    mmcf->token_status_index = ngx_http_media_add_access(cf,
                                   &ngx_http_media_token_status_name,
                                   ngx_http_media_token_variable,
                                   ngx_http_media_hls_access);
    mmcf->play_cookie_index = ngx_http_get_variable_index(cf,
                                   &ngx_http_media_play_cookie_name);

    if (mmcf->token_status_index == NGX_ERROR
        || mmcf->play_cookie_index == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    /* cacheable, as $media_token_status: taken before the redirect */
    var = ngx_http_add_variable(cf, &ngx_http_media_cache_control_name, 0);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_media_cache_variable;

    mmcf->cache_control_index = ngx_http_get_variable_index(cf,
                                   &ngx_http_media_cache_control_name);
    if (mmcf->cache_control_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the access phase: every playlist and segment request ------------------ */

static ngx_int_t
ngx_http_media_hls_access(ngx_http_request_t *r)
{
    size_t                       len;
    media_token_rc_e             rc;
    ngx_http_variable_value_t   *vv;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_hls_ctx_t    *h;
    ngx_http_media_loc_conf_t   *mlcf;
    ngx_http_media_main_conf_t  *mmcf;
    u_char                       why[64];

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);
    if (mlcf->hls_files.data == NULL) {
        return NGX_DECLINED;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    ctx = ngx_http_media_get_ctx(r);

    /* a master's rungs.txt from the bucket: run again when it came */
    h = ctx ? ctx->hls : NULL;

    if (h && h->rungs_state) {
        return h->rungs_state == NGX_HTTP_MEDIA_RUNGS_WAIT ? NGX_AGAIN
                                                            : NGX_OK;
    }

    h = ngx_pcalloc(r->pool, sizeof(ngx_http_media_hls_ctx_t));
    if (ctx == NULL || h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->hls = h;

    /*
     * Only playback files go further: no other name in the media's
     * directory (rungs.txt, a rung directory, whose 301 would name the
     * internal location), and nothing is looked at on disk before this.
     */
    len = r->uri.len > mlcf->hls_prefix.len
          ? r->uri.len - mlcf->hls_prefix.len : 0;

    if (media_hls_path_parse((char *) r->uri.data + r->uri.len - len, len,
                             &h->path)
        != 0)
    {
        return ngx_http_media_hls_refuse(r, h, "bad_path",
                                         NGX_HTTP_BAD_REQUEST,
                                         h->path.error);
    }

    h->token.data = (u_char *) h->path.token;
    h->token.len = h->path.token_len;

    /* cookie mode: "c" in the token's place, the token in the cookie */
    if (h->token.len == 1 && h->token.data[0] == 'c') {
        vv = ngx_http_get_indexed_variable(r, mmcf->play_cookie_index);

        if (vv == NULL || vv->not_found || vv->len == 0) {
            return ngx_http_media_hls_refuse(r, h, "no_cookie",
                                             NGX_HTTP_FORBIDDEN,
                                             "no media_play cookie; ask "
                                             "for a new playback URL");
        }

        h->token.data = vv->data;
        h->token.len = vv->len;
    }

    rc = media_token_verify(ngx_http_media_tenant(r)->url_keys, mmcf->url_nkeys,
                            (char *) h->token.data, h->token.len, ngx_time(),
                            &h->claims);
    if (rc != MEDIA_TOKEN_OK) {
        return ngx_http_media_hls_refuse(r, h, media_token_status(rc),
                                         NGX_HTTP_FORBIDDEN,
                                         media_token_status(rc));
    }

    /* the token is for one media, compared as bytes: the parser took the
     * id's one spelling (lowercase), the one its directory has */
    if (ngx_memcmp(h->path.media, h->claims.media, 16) != 0) {
        return ngx_http_media_hls_refuse(r, h, "other_media",
                                         NGX_HTTP_FORBIDDEN,
                                         "the token is for another media");
    }

    /*
     * Taken down, or issued to a user since banned: the blocked set in
     * shared memory answers, with no I/O (ngx_http_media_blocked.c), so a
     * takedown reaches tokens already handed out.
     */
    if (ngx_http_media_blocked(mmcf, NGX_HTTP_MEDIA_BLOCKED_MEDIA,
                               h->claims.media))
    {
        return ngx_http_media_hls_refuse(r, h, "media_blocked",
                                         NGX_HTTP_MEDIA_BLOCKED_STATUS,
                                         "this media was removed by a "
                                         "moderator");
    }

    if (ngx_http_media_hls_has_user(&h->claims)
        && ngx_http_media_blocked(mmcf, NGX_HTTP_MEDIA_BLOCKED_USER,
                                  h->claims.user))
    {
        return ngx_http_media_hls_refuse(r, h, "account_banned",
                                         NGX_HTTP_FORBIDDEN,
                                         "the account this playback URL "
                                         "was issued to is banned");
    }

    /* a URL from a media answer: pictures, never playback */
    if ((h->claims.flags & MEDIA_TOKEN_PICTURES)
        && !media_hls_is_picture(h->path.kind))
    {
        return ngx_http_media_hls_refuse(r, h, "pictures_only",
                                         NGX_HTTP_FORBIDDEN,
                                         "this URL opens the media's "
                                         "pictures only; ask for a playback "
                                         "URL (POST /api/v1/media/{id}/"
                                         "playback)");
    }

    if (h->path.rung
        && !media_hls_rung_allowed(h->path.rung_side, h->claims.max_rung))
    {
        ngx_sprintf(why, "this playback URL allows rungs up to %uDp%Z",
                    (uint32_t) h->claims.max_rung);
        return ngx_http_media_hls_refuse(r, h, "over_rung",
                                         NGX_HTTP_FORBIDDEN, (char *) why);
    }

    h->status = "ok";

    if (h->path.kind == MEDIA_HLS_MASTER) {
        if (mmcf->s3) {
            return ngx_http_media_hls_fetch_rungs(r, h, &mlcf->hls_files);
        }

        return NGX_OK;                /* generated by the content handler */
    }

    return ngx_http_media_hls_redirect(r, h, &mlcf->hls_files);
}


/* a token names a viewer unless its user bytes are all zero */
static ngx_uint_t
ngx_http_media_hls_has_user(media_token_t *t)
{
    ngx_uint_t  i;

    for (i = 0; i < 16; i++) {
        if (t->user[i]) {
            return 1;
        }
    }

    return 0;
}


/* a file: served by the internal location as <files><id>/<file> */
static ngx_int_t
ngx_http_media_hls_redirect(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h, ngx_str_t *files)
{
    u_char                      *p;
    ngx_str_t                    uri, args;
    ngx_uint_t                   mapped;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    /* <rung>/... from a master made before generations: the rung in the
     * generation rungs.txt names now, if any */
    mapped = 0;

    if (h->path.rung && h->path.gen == NULL) {
        if (ngx_http_media_hls_current_gen(r, h) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        mapped = h->path.gen != NULL;
    }

    uri.len = files->len + 36 + 1 + h->path.gen_len + 1 + h->path.file_len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(uri.data, files->data, files->len);
    p = ngx_cpymem(p, h->path.id, 36);
    *p++ = '/';

    if (mapped) {
        p = ngx_cpymem(p, h->path.gen, h->path.gen_len);
        *p++ = '/';
    }

    p = ngx_cpymem(p, h->path.file, h->path.file_len);
    uri.len = p - uri.data;

    if (ngx_http_media_hls_cache(r, h) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* in a bucket: the files location proxies it there, presigned */
    args.len = 0;

    if (mmcf->s3
        && ngx_http_media_s3_args(r, MEDIA_DIR_HLS "/", uri.data + files->len,
                                  uri.len - files->len, &args)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_get_indexed_variable(r, mmcf->token_status_index);
    (void) ngx_http_get_indexed_variable(r, mmcf->cache_control_index);
    (void) ngx_http_internal_redirect(r, &uri, args.len ? &args : NULL);
    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_media_hls_refuse(ngx_http_request_t *r, ngx_http_media_hls_ctx_t *h,
    const char *status, ngx_uint_t code, const char *why)
{
    h->status = status;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "media hls: refused, %s: %s", status, why);

    if (code == NGX_HTTP_MEDIA_BLOCKED_STATUS) {
        ngx_str_set(&r->headers_out.status_line,
                    "451 Unavailable For Legal Reasons");
    }

    ngx_http_finalize_request(r, ngx_http_media_send_error(r, code, status,
                              "playback refused: %s", why));
    return NGX_DONE;
}


/* a line of rungs.txt: "<name> <w> <h> <fps> <peak> <average> <codecs>"
 * [<generation> <state>] */
typedef struct {
    char        name[16];
    char        codecs[64];
    char        gen[16];      /* "g<N>": the generation holding it, or "" */
    char        state[16];    /* "growing" or "done", or "" */
    int         w;
    int         h;
    double      fps;
    long        peak;
    long        avg;
} ngx_http_media_rung_line_t;

#define NGX_HTTP_MEDIA_MASTER_MAX  16    /* rungs a master lists at most */


/* the content handler: master.m3u8, from rungs.txt -------------------- */

static ngx_int_t
ngx_http_media_hls_master(ngx_http_request_t *r)
{
    u_char                      *p, *line, *end, *out, *o;
    size_t                       size;
    ssize_t                      n;
    time_t                       life;
    ngx_int_t                    rc;
    ngx_buf_t                   *b;
    ngx_uint_t                   i, listed, growing;
    ngx_chain_t                  cl;
    ngx_table_elt_t             *cc;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_hls_ctx_t    *h;
    u_char                       buf[NGX_HTTP_MEDIA_RUNGS_MAX];
    unsigned                     side;
    size_t                       order[NGX_HTTP_MEDIA_MASTER_MAX];
    media_hls_variant_t          v[NGX_HTTP_MEDIA_MASTER_MAX];
    ngx_http_media_rung_line_t   rung[NGX_HTTP_MEDIA_MASTER_MAX], *x;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    h = ctx ? ctx->hls : NULL;

    if (h == NULL || h->status == NULL) {
        return NGX_HTTP_NOT_FOUND;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (h->rungs_state == NGX_HTTP_MEDIA_RUNGS_DONE) {
        if (h->rungs.len == 0 && h->rungs_status != NGX_HTTP_NOT_FOUND
            && h->rungs_status != NGX_HTTP_FORBIDDEN)
        {
            return ngx_http_media_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                             "storage_unavailable",
                                             "the renditions' storage did "
                                             "not answer; try again");
        }

        n = h->rungs.len < sizeof(buf) ? (ssize_t) h->rungs.len : -1;
        if (n > 0) {
            ngx_memcpy(buf, h->rungs.data, n);
            buf[n] = '\0';
        }

    } else {
        n = ngx_http_media_rungs_read(r, h->path.id, buf, sizeof(buf));
    }

    if (n <= 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no renditions for this media");
    }

    /* each line becomes at most ~200 bytes of playlist */
    size = sizeof("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n")
           + (size_t) n * 4 + 512;
    out = ngx_pnalloc(r->pool, size);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o = ngx_cpymem(out, "#EXTM3U\n#EXT-X-VERSION:3\n"
                   "#EXT-X-INDEPENDENT-SEGMENTS\n",
                   sizeof("#EXTM3U\n#EXT-X-VERSION:3\n"
                          "#EXT-X-INDEPENDENT-SEGMENTS\n") - 1);
    listed = 0;
    growing = 0;

    for (line = buf; *line && listed < NGX_HTTP_MEDIA_MASTER_MAX;
         line = end + 1)
    {
        end = (u_char *) ngx_strchr(line, '\n');
        if (end == NULL) {
            break;
        }
        *end = '\0';

        x = &rung[listed];

        /* 7 fields; 9 from a transcoder that publishes as it goes: the
         * generation holding the rung, and "growing" or "done" */
        x->gen[0] = '\0';
        x->state[0] = '\0';

        rc = sscanf((char *) line, "%15s %d %d %lf %ld %ld %63s %15s %15s",
                    x->name, &x->w, &x->h, &x->fps, &x->peak, &x->avg,
                    x->codecs, x->gen, x->state);

        if ((rc != 7 && rc != 9)
            || (rc == 9 && !ngx_http_media_is_gen(x->gen)))
        {
            continue;
        }

        if (rc == 9 && ngx_strcmp(x->state, "done") != 0) {
            growing = 1;
        }

        /* a name the path parser would refuse is never listed */
        if (media_hls_rung_parse(x->name, ngx_strlen(x->name), &side) != 0
            || !media_hls_rung_allowed(side, h->claims.max_rung))
        {
            continue;
        }

        v[listed].side = side;
        v[listed].kbps = side ? 0 : (unsigned) atoi(x->name + 1);
        v[listed].peak = x->peak;
        listed++;
    }

    /* the start rung first, the others by bandwidth (media_hlspath.c) */
    media_hls_master_order(v, listed, order);

    for (i = 0; i < listed; i++) {
        x = &rung[order[i]];

        /* RFC 8216 4.3.4.2: BANDWIDTH is the peak segment bit rate */
        p = ngx_sprintf(o, "#EXT-X-STREAM-INF:BANDWIDTH=%l,"
                        "AVERAGE-BANDWIDTH=%l,CODECS=\"%s\"", x->peak,
                        x->avg, x->codecs);
        if (x->w > 0) {
            p = ngx_sprintf(p, ",RESOLUTION=%dx%d,FRAME-RATE=%.3f", x->w,
                            x->h, x->fps);
        }
        if (x->gen[0]) {
            o = ngx_sprintf(p, "\n%s/%s/index.m3u8\n", x->gen, x->name);

        } else {
            o = ngx_sprintf(p, "\n%s/index.m3u8\n", x->name);
        }
    }

    if (listed == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN, "over_rung",
                                         "no rendition is allowed by this "
                                         "playback URL");
    }

    /*
     * Made for this token's rung cap: never for a shared cache (in cookie
     * mode every viewer has the same URL), and never past the token's
     * life; a growing one lists more rungs soon.
     */
    cc = ngx_list_push(&r->headers_out.headers);
    if (cc == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cc->hash = 1;
    ngx_str_set(&cc->key, "Cache-Control");

    if (growing) {
        ngx_str_set(&cc->value, "private, no-cache");

    } else {
        /* the token's own life, in cookie mode too: a cached master
         * would outlive the cookie that made it */
        life = (time_t) h->claims.expires - ngx_time();
        life = life < 0 ? 0 : life;
        cc->value.data = ngx_pnalloc(r->pool,
                                     sizeof("private, max-age=")
                                     + NGX_TIME_T_LEN);
        if (cc->value.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cc->value.len = ngx_sprintf(cc->value.data, "private, max-age=%T",
                                    life)
                        - cc->value.data;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = o - out;
    ngx_str_set(&r->headers_out.content_type,
                "application/vnd.apple.mpegurl");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = out;
    b->last = o;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    cl.buf = b;
    cl.next = NULL;

    return ngx_http_output_filter(r, &cl);
}


/*
 * media_storage s3://: the master is built from the bucket's rungs.txt,
 * fetched by an in-memory subrequest to the files location (which proxies
 * it to the bucket, presigned), in the access phase as auth_request does;
 * the phase runs again when it is done.  The files location's
 * proxy_buffer_size must hold the answer's headers and the file (4 KB at
 * most): 8k is plenty.
 */
static ngx_int_t
ngx_http_media_hls_fetch_rungs(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h, ngx_str_t *files)
{
    u_char                       *p;
    ngx_str_t                     uri, args;
    ngx_http_request_t           *sr;
    ngx_http_post_subrequest_t   *ps;

    uri.data = ngx_pnalloc(r->pool, files->len + 36
                                    + sizeof("/rungs.txt") - 1);
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));

    if (uri.data == NULL || ps == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(uri.data, files->data, files->len);
    p = ngx_cpymem(p, h->path.id, 36);
    p = ngx_cpymem(p, "/rungs.txt", sizeof("/rungs.txt") - 1);
    uri.len = p - uri.data;

    if (ngx_http_media_s3_args(r, MEDIA_DIR_HLS "/", uri.data + files->len,
                               uri.len - files->len, &args)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ps->handler = ngx_http_media_hls_rungs_done;
    ps->data = h;

    if (ngx_http_subrequest(r, &uri, &args, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            | NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * A GET with none of the player's headers: its Range (players send
     * "bytes=0-"), conditionals and cookies are for the master, not for
     * rungs.txt, and would change what the bucket answers
     */
    sr->header_only = 0;
    sr->method = NGX_HTTP_GET;
    ngx_str_set(&sr->method_name, "GET");

    if (ngx_list_init(&sr->headers_in.headers, r->pool, 1,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sr->headers_in.range = NULL;
    sr->headers_in.if_range = NULL;
    sr->headers_in.if_none_match = NULL;
    sr->headers_in.if_modified_since = NULL;
    sr->headers_in.if_match = NULL;
    sr->headers_in.if_unmodified_since = NULL;

    h->rungs_state = NGX_HTTP_MEDIA_RUNGS_WAIT;

    return NGX_AGAIN;
}


/* the subrequest ended: rungs.txt when the bucket answered 200 */
static ngx_int_t
ngx_http_media_hls_rungs_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_media_hls_ctx_t *h = data;

    ngx_buf_t  *b;

    h->rungs_state = NGX_HTTP_MEDIA_RUNGS_DONE;
    h->rungs_status = sr->headers_out.status;
    h->rungs.len = 0;

    b = sr->upstream ? &sr->upstream->buffer : NULL;

    if (rc == NGX_OK && sr->headers_out.status == NGX_HTTP_OK && b
        && b->pos && b->last > b->pos)
    {
        h->rungs.data = b->pos;
        h->rungs.len = b->last - b->pos;

    } else if (sr->headers_out.status != NGX_HTTP_NOT_FOUND) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "media hls: rungs.txt from the bucket: status %ui, "
                      "rc %i", sr->headers_out.status, rc);
    }

    return rc;
}


/*
 * <storage>/hls/<id>/rungs.txt into buf, NUL-terminated: a few hundred
 * bytes, replaced whole (renamed) by the worker.  0 or -1: none.
 */
static ssize_t
ngx_http_media_rungs_read(ngx_http_request_t *r, const char *id, u_char *buf,
    size_t size)
{
    u_char                      *path;
    ssize_t                      n;
    ngx_fd_t                     fd;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    path = ngx_pnalloc(r->pool, mmcf->storage.len + 36
                                + sizeof("/" MEDIA_DIR_HLS "//rungs.txt"));
    if (path == NULL) {
        return -1;
    }

    ngx_sprintf(path, "%V/" MEDIA_DIR_HLS "/%*s/rungs.txt%Z", &mmcf->storage,
                (size_t) 36, id);

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return -1;
    }

    n = ngx_read_fd(fd, buf, size - 1);
    ngx_close_file(fd);

    if (n < 0) {
        return -1;
    }

    buf[n] = '\0';

    return n;
}


/*
 * A rung's URL without a generation (a master made before generations, or
 * a URL built by hand): the generation rungs.txt lists the rung in, if it
 * lists one; else the rung's files are at the top (media published before
 * generations), as the URL says.
 */
static ngx_int_t
ngx_http_media_hls_current_gen(ngx_http_request_t *r,
    ngx_http_media_hls_ctx_t *h)
{
    u_char   *line, *end, *gen;
    ssize_t   n;
    char      name[16], g[16];
    u_char    buf[NGX_HTTP_MEDIA_RUNGS_MAX];

    n = ngx_http_media_rungs_read(r, h->path.id, buf, sizeof(buf));

    for (line = buf; n > 0 && *line; line = end + 1) {
        end = (u_char *) ngx_strchr(line, '\n');
        if (end == NULL) {
            break;
        }
        *end = '\0';

        if (sscanf((char *) line, "%15s %*d %*d %*f %*d %*d %*s %15s", name,
                   g) != 2
            || ngx_strlen(name) != h->path.rung_len
            || ngx_strncmp(name, h->path.rung, h->path.rung_len) != 0
            || !ngx_http_media_is_gen(g))
        {
            continue;
        }

        gen = ngx_pnalloc(r->pool, ngx_strlen(g));
        if (gen == NULL) {
            return NGX_ERROR;
        }

        h->path.gen_len = ngx_strlen(g);
        h->path.gen = (char *) ngx_cpymem(gen, g, h->path.gen_len)
                      - h->path.gen_len;
        break;
    }

    return NGX_OK;
}


/* "g<N>": 1 to 9 digits, no leading zero, as the path parser takes */
static ngx_int_t
ngx_http_media_is_gen(const char *s)
{
    size_t  len;

    len = ngx_strlen(s);

    return len >= 2 && len <= 10 && s[0] == 'g' && s[1] >= '1'
           && s[1] <= '9' && strspn(s + 1, "0123456789") == len - 1;
}


/*
 * How long a cache may keep this answer: at most "most" seconds, and
 * under a token in the path never past the token's expiry (a shared cache
 * would go on serving the token's URLs).  In cookie mode the path is the
 * same for every viewer and is not the credential: the full "most".
 */
static time_t
ngx_http_media_hls_life(ngx_http_media_hls_ctx_t *h, time_t most)
{
    time_t  left;

    if (h->path.token_len == 1 && h->path.token[0] == 'c') {
        return most;
    }

    left = (time_t) h->claims.expires - ngx_time();

    return left < 0 ? 0 : (left < most ? left : most);
}


/*
 * $media_cache_control for a file the internal location serves:
 *   a segment: public, max-age of 30 days (the token's life at most),
 *     immutable: a name is written once (aside, then renamed), and each
 *     transcode writes a generation of its own;
 *   a rung's playlist: "no-cache" while it grows (its generation has no
 *     g<N>/done yet), then as a segment;
 *   a picture: public, max-age of a day at most (replaced in place).
 */
static ngx_int_t
ngx_http_media_hls_cache(ngx_http_request_t *r, ngx_http_media_hls_ctx_t *h)
{
    u_char                      *done;
    time_t                       life;
    ngx_file_info_t              fi;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    /* a bucket holds ended generations only: every playlist is done */
    if (h->path.kind == MEDIA_HLS_PLAYLIST && h->path.gen && !mmcf->s3) {
        done = ngx_pnalloc(r->pool, mmcf->storage.len + 36 + h->path.gen_len
                           + sizeof("/" MEDIA_DIR_HLS "///done"));
        if (done == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(done, "%V/" MEDIA_DIR_HLS "/%*s/%*s/done%Z",
                    &mmcf->storage, (size_t) 36, h->path.id,
                    h->path.gen_len, h->path.gen);

        /* one stat, as the file itself is about to be opened */
        if (ngx_file_info(done, &fi) == NGX_FILE_ERROR) {
            ngx_str_set(&h->cache_control, "no-cache");
            return NGX_OK;
        }
    }

    if (media_hls_is_picture(h->path.kind)) {
        life = ngx_http_media_hls_life(h, NGX_HTTP_MEDIA_PICTURE_TTL);

    } else {
        life = ngx_http_media_hls_life(h, NGX_HTTP_MEDIA_FILE_TTL);
    }

    h->cache_control.data = ngx_pnalloc(r->pool,
                                        sizeof("public, max-age=, immutable")
                                        + NGX_TIME_T_LEN);
    if (h->cache_control.data == NULL) {
        return NGX_ERROR;
    }

    h->cache_control.len = ngx_sprintf(h->cache_control.data,
                                       "public, max-age=%T%s", life,
                                       media_hls_is_picture(h->path.kind)
                                       ? "" : ", immutable")
                           - h->cache_control.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_media_ctx_t      *ctx;
    ngx_http_media_hls_ctx_t  *h;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    h = ctx ? ctx->hls : NULL;

    if (h == NULL || h->cache_control.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = h->cache_control.data;
    v->len = h->cache_control.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_token_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_media_ctx_t      *ctx;
    ngx_http_media_hls_ctx_t  *h;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    h = ctx ? ctx->hls : NULL;

    if (h == NULL || h->status == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) h->status;
    v->len = ngx_strlen(h->status);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/* POST /api/v1/media/{id}/playback --------------------------------------- */

ngx_int_t
ngx_http_media_playback(ngx_http_request_t *r)
{
    u_char                       key[SHA256_DIGEST_LENGTH];
    ngx_uint_t                   n;
    ngx_msec_t                   left;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_main_conf_t  *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->url_nkeys == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "not_configured", "playback is off "
                                         "on this server: its nginx.conf has "
                                         "no media_url_key");
    }

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    /* a banned user gets no token (the blocked set, as on the segment
     * path); their sessions are revoked as well */
    if (ctx->user
        && ngx_http_media_blocked_text(mmcf, NGX_HTTP_MEDIA_BLOCKED_USER,
                                       &ctx->user->id))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN,
                                         "account_banned", "this account "
                                         "is banned: it may not play "
                                         "media");
    }

    if (ctx->user) {
        return ngx_http_media_playback_query(r);
    }

    /*
     * Anonymous tokens (the public pages) are counted per address, by this
     * node in its shared memory, so that a share page's token waits for no
     * round trip; behind a load balancer each node counts its own (a
     * visitor may have a few times the rate, still far short of a flood).
     */
    SHA256(r->connection->addr_text.data, r->connection->addr_text.len, key);

    n = ngx_http_media_shm_hit(mmcf->play_rate, key,
                               NGX_HTTP_MEDIA_ANON_PLAY_WINDOW, &left);

    if (n > NGX_HTTP_MEDIA_ANON_PLAY_RATE) {
        return ngx_http_media_too_many(r, left, "rate_limited",
                                       "this address may play %d media a "
                                       "minute without signing in (sign in "
                                       "to play more)",
                                       NGX_HTTP_MEDIA_ANON_PLAY_RATE);
    }

    return ngx_http_media_playback_query(r);
}


static ngx_int_t
ngx_http_media_playback_query(ngx_http_request_t *r)
{
    u_char                      *key, *k;
    ngx_str_t                   *params;
    ngx_uint_t                   stale;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_pg_result_t   res;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params = ngx_palloc(r->pool, 2 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[0] = ctx->capture;

    key = NULL;

    if (ctx->user) {
        params[1] = ctx->user->id;

    } else {
        ngx_str_null(&params[1]);

        key = ngx_pnalloc(r->pool, NGX_HTTP_MEDIA_CACHE_KEY);
        if (key == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_media_cache_key(r, "playback anonymous", params, 1, key)
            != NGX_OK)
        {
            key = NULL;

        } else if (ngx_http_media_cache_get(r, key, &res, &stale) == NGX_OK) {
            if (stale) {
                k = ngx_http_media_cache_refresh(r, key,
                                            &ngx_http_media_sql_playback,
                                            params,
                                            ngx_http_media_playback_refreshed,
                                            NGX_HTTP_MEDIA_CACHE_KEY);
                if (k) {
                    ngx_memcpy(k, key, NGX_HTTP_MEDIA_CACHE_KEY);
                }
            }

            return ngx_http_media_playback_answer(r, &res);
        }
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_playback,
            params, ngx_http_media_playback_found, key)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * An anonymous viewer's row is the same for every anonymous viewer (the
 * default viewer plan's rungs): kept in media_public_cache when it is
 * ready, not private and carries no ad, so that a widely shared link's
 * tokens ask PostgreSQL nothing.  No ad: a plan without ads (NULL), or
 * one with ads while none is live ("[]", the shipped free plan's most
 * often); a schedule with ads is drawn for each token, never kept.  An ad
 * marked through the API makes every node forget (ads.c); one whose
 * starts_at comes shows within twice media_public_cache.
 */
static void
ngx_http_media_playback_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (data && ngx_http_media_playback_keeps(res)) {
        ngx_http_media_cache_put(r, data, res);
    }

    ngx_http_finalize_request(r, ngx_http_media_playback_answer(r, res));
}


static void
ngx_http_media_playback_refreshed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (ngx_http_media_playback_keeps(res)) {
        ngx_http_media_cache_put(r, data, res);
    }

    ngx_http_media_pg_detached_done(data);
}


static ngx_uint_t
ngx_http_media_playback_keeps(ngx_http_media_pg_result_t *res)
{
    ngx_str_t  *status, *privacy, *ads;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1
        || res->ncols < 9)
    {
        return 0;
    }

    status = ngx_http_media_pg_value(res, 0, 0);
    privacy = ngx_http_media_pg_value(res, 0, 1);
    ads = ngx_http_media_pg_value(res, 0, 5);

    return status->len == 5 && ngx_strncmp(status->data, "ready", 5) == 0
           && privacy->len != 7
           && (ads->data == NULL
               || (ads->len == 2 && ngx_strncmp(ads->data, "[]", 2) == 0));
}


static ngx_int_t
ngx_http_media_playback_answer(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res)
{
    size_t                       n;
    time_t                       exp, ttl;
    yajl_gen                     g;
    ngx_str_t                   *status, *privacy, *owner, url, expires;
    ngx_str_t                   *mode, cookie, played;
    ngx_int_t                    rung;
    ngx_uint_t                   in_cookie;
    media_token_t                t;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_loc_conf_t   *mlcf;
    ngx_http_media_main_conf_t  *mmcf;
    char                         token[MEDIA_TOKEN_LEN + 1];
    char                         id[37];
    u_char                      *p;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        return ngx_http_media_pg_failed(r, res, "media playback");
    }

    status = res->nrows ? ngx_http_media_pg_value(res, 0, 0) : NULL;
    privacy = res->nrows ? ngx_http_media_pg_value(res, 0, 1) : NULL;
    owner = res->nrows ? ngx_http_media_pg_value(res, 0, 2) : NULL;

    /* private media exist only for their owner */
    if (status == NULL
        || (privacy->len == 7 && ngx_strncmp(privacy->data, "private", 7) == 0
            && (ctx->user == NULL || ctx->user->id.len != owner->len
                || ngx_strncmp(ctx->user->id.data, owner->data, owner->len)
                   != 0)))
    {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    /* taken down: 451 with the moderator's reason */
    if (status->len == 7 && ngx_strncmp(status->data, "blocked", 7) == 0) {
        return ngx_http_media_blocked_refuse(r,
                                             ngx_http_media_pg_value(res, 0,
                                                                     8));
    }

    /* ready, or transcoding with a rung listed (progressive) */
    if (ngx_http_media_pg_value(res, 0, 7)->len != 1
        || ngx_http_media_pg_value(res, 0, 7)->data[0] != 't')
    {
        return ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "not_ready",
                                         "the media is %V (%V%%); ask again "
                                         "when it is ready", status,
                                         ngx_http_media_pg_value(res, 0, 3));
    }

    /*
     * The viewer's plan decides the highest rung (0: every rung), read as
     * the token is made, so a plan change counts from the next token;
     * anonymous viewers have the default viewer plan's.
     */
    mode = ngx_http_media_body_str(r, "mode");
    in_cookie = mode && mode->len == 6
                && ngx_strncmp(mode->data, "cookie", 6) == 0;

    /* a cookie lives media_cookie_ttl; the player asks again before */
    ttl = (time_t) ((in_cookie ? mmcf->cookie_ttl : mmcf->url_ttl) / 1000);

    ngx_memzero(&t, sizeof(media_token_t));
    exp = ngx_time() + ttl;
    t.expires = (uint32_t) exp;
    rung = ngx_atoi(ngx_http_media_pg_value(res, 0, 4)->data,
                    ngx_http_media_pg_value(res, 0, 4)->len);
    t.max_rung = (rung > 0 && rung <= 65535) ? (uint16_t) rung : 0;
    (void) media_uuid_parse((char *) ctx->capture.data, 36, t.media);

    /* the viewer, so the segment path can refuse a banned user's token */
    if (ctx->user) {
        (void) media_uuid_parse((char *) ctx->user->id.data,
                                ctx->user->id.len, t.user);
    }

    /* the id's one spelling, lowercase, whatever the request's was: the
     * HLS location takes no other */
    media_uuid_format(t.media, id);

    n = media_token_sign(&ngx_http_media_tenant(r)->url_keys[0], &t, token);

    url.len = mmcf->hls_location.len + n + 1 + 36 + sizeof("/master.m3u8");
    url.data = ngx_pnalloc(r->pool, url.len);
    expires.data = ngx_pnalloc(r->pool, sizeof("1970-01-01T00:00:00Z"));
    if (url.data == NULL || expires.data == NULL || n == 0) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* no media_hls location: a URL without its prefix (and no memcpy
     * from NULL, which UBSan reports) */
    p = url.data;

    if (mmcf->hls_location.len) {
        p = ngx_cpymem(p, mmcf->hls_location.data, mmcf->hls_location.len);
    }

    if (in_cookie) {
        /* one URL for every viewer; the token rides in a cookie scoped to
         * this media's path */
        *p++ = 'c';
        p = ngx_sprintf(p, "/%s/", id);

        cookie.len = sizeof(NGX_HTTP_MEDIA_PLAY_COOKIE "=; Path=; Max-Age=; "
                            "HttpOnly; SameSite=Lax; Secure")
                     + n + (p - url.data) + NGX_TIME_T_LEN;
        cookie.data = ngx_pnalloc(r->pool, cookie.len);
        if (cookie.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cookie.len = ngx_sprintf(cookie.data, NGX_HTTP_MEDIA_PLAY_COOKIE
                                 "=%*s; Path=%*s; Max-Age=%T; HttpOnly; "
                                 "SameSite=Lax%s", n, token,
                                 (size_t) (p - url.data), url.data,
                                 ttl, ngx_http_media_cookie_secure(r)
                                 ? "; Secure" : "")
                     - cookie.data;

        if (ngx_http_media_add_header(r, "Set-Cookie", &cookie) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(p, "master.m3u8", sizeof("master.m3u8") - 1);

    } else {
        p = ngx_cpymem(p, token, n);
        p = ngx_sprintf(p, "/%s/master.m3u8", id);
    }

    url.len = p - url.data;

    expires.len = ngx_http_media_iso8601(expires.data, exp) - expires.data;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) mlcf;

    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "url", &url);
    ngx_http_media_json_str(g, "expires_at", &expires);
    ngx_http_media_pictures_json(r, g, &ctx->capture,
                                 ngx_http_media_pg_value(res, 0, 6));

    if (ngx_http_media_pg_value(res, 0, 5)->data
        && ngx_http_media_play_ads(r, g, ngx_http_media_pg_value(res, 0, 5),
                                   &t)
           != NGX_OK)
    {
        yajl_gen_free(g);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_close(g);

    /* a token is issued: its play counts (once per viewer per media per
     * 30 minutes), sent with this worker's others within a second */
    played.data = (u_char *) id;
    played.len = 36;
    ngx_http_media_plays_add(r, &played);

    return ngx_http_media_send_gen(r, NGX_HTTP_OK, g);
}


/*
 * "ads": the schedule PostgreSQL drew (media_ad_schedule, for plans with
 * ads), each ad with its own playback URL, signed like the content's (the
 * same expiry and rung), in the path: the content's cookie is scoped to
 * the content's path.  The client plays the one at offset 0 first, the
 * others when playback reaches their offsets, and may skip each after
 * skippable_after_ms.
 */
static ngx_int_t
ngx_http_media_play_ads(ngx_http_request_t *r, yajl_gen g, ngx_str_t *json,
    media_token_t *content)
{
    size_t                       n;
    u_char                      *text, *p;
    yajl_val                     doc, ad, id, offset, duration;
    ngx_str_t                    url, s;
    ngx_uint_t                   i;
    media_token_t                t;
    ngx_http_media_main_conf_t  *mmcf;
    char                         token[MEDIA_TOKEN_LEN + 1];

    static const char  *id_path[] = { "id", NULL };
    static const char  *offset_path[] = { "offset_ms", NULL };
    static const char  *duration_path[] = { "duration_ms", NULL };

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    text = ngx_pnalloc(r->pool, json->len + 1);
    if (text == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(text, json->data, json->len) = '\0';

    doc = yajl_tree_parse((char *) text, NULL, 0);
    if (!YAJL_IS_ARRAY(doc)) {
        yajl_tree_free(doc);
        return NGX_ERROR;
    }

    yajl_gen_string(g, (const unsigned char *) "ads", 3);
    yajl_gen_array_open(g);

    for (i = 0; i < YAJL_GET_ARRAY(doc)->len; i++) {
        ad = YAJL_GET_ARRAY(doc)->values[i];
        id = yajl_tree_get(ad, id_path, yajl_t_string);
        offset = yajl_tree_get(ad, offset_path, yajl_t_number);
        duration = yajl_tree_get(ad, duration_path, yajl_t_any);

        t = *content;

        if (id == NULL || offset == NULL
            || media_uuid_parse(YAJL_GET_STRING(id), 36, t.media) != 0)
        {
            yajl_tree_free(doc);
            return NGX_ERROR;
        }

        n = media_token_sign(&ngx_http_media_tenant(r)->url_keys[0], &t, token);

        url.len = mmcf->hls_location.len + n + 1 + 36 + sizeof("/master.m3u8");
        url.data = ngx_pnalloc(r->pool, url.len);
        if (url.data == NULL || n == 0) {
            yajl_tree_free(doc);
            return NGX_ERROR;
        }

        p = ngx_cpymem(url.data, mmcf->hls_location.data,
                       mmcf->hls_location.len);
        p = ngx_cpymem(p, token, n);
        p = ngx_sprintf(p, "/%s/master.m3u8", YAJL_GET_STRING(id));
        url.len = p - url.data;

        yajl_gen_map_open(g);
        s.data = (u_char *) YAJL_GET_STRING(id);
        s.len = ngx_strlen(s.data);
        ngx_http_media_json_str(g, "id", &s);
        yajl_gen_string(g, (const unsigned char *) "offset_ms", 9);
        yajl_gen_number(g, YAJL_GET_NUMBER(offset),
                        ngx_strlen(YAJL_GET_NUMBER(offset)));
        yajl_gen_string(g, (const unsigned char *) "duration_ms", 11);
        if (YAJL_IS_NUMBER(duration)) {
            yajl_gen_number(g, YAJL_GET_NUMBER(duration),
                            ngx_strlen(YAJL_GET_NUMBER(duration)));
        } else {
            yajl_gen_null(g);
        }
        yajl_gen_string(g, (const unsigned char *) "skippable_after_ms", 18);
        yajl_gen_integer(g, NGX_HTTP_MEDIA_AD_SKIP_MS);
        ngx_http_media_json_str(g, "url", &url);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_tree_free(doc);

    return NGX_OK;
}
