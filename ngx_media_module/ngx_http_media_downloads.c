/*
 * Limited-use download links.
 *
 *   POST /api/v1/downloads {export_id | media_id, ttl_s?, max_uses?}
 *       -> 201 {id, url, expires_at, max_uses, ...}: who may download
 *       what is decided here, once, by media_download_create()
 *       (sql/012_downloads.sql);
 *   GET /api/v1/downloads  -> the caller's links, with uses left;
 *   DELETE /api/v1/downloads/{id}  -> revoked at once;
 *   GET <media_download location><token>/<filename>  -> checked in the
 *       access phase, one use counted, one audit row written, then an
 *       internal redirect to the location serving media_storage as files,
 *       so nginx sends the file itself (sendfile, Range, If-Range, HEAD,
 *       ETag).
 *
 * A download request costs one HMAC and three round trips, all of them
 * asynchronous: PostgreSQL (is the link revoked, is its asset still
 * there), Redis (one Lua script counts the use atomically), PostgreSQL
 * (the audit row, and the count Redis reported).  Redis counts; the row
 * is the truth for listing and revoking, and seeds Redis' count again if
 * Redis lost it.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_md5.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_keyfile.h"
#include "ngx_http_media_downloads.h"
#include "ngx_http_media_blocked.h"
#include "ngx_http_media_s3.h"
#include "media_dltoken.h"


/* nginx 1.22 has no name for it */
#define NGX_HTTP_MEDIA_GONE            410

#define NGX_HTTP_MEDIA_DL_TTL_MIN      60
#define NGX_HTTP_MEDIA_DL_TTL_MAX      (7 * 86400)
#define NGX_HTTP_MEDIA_DL_TTL_DEFAULT  3600
#define NGX_HTTP_MEDIA_DL_USES_MAX     100
#define NGX_HTTP_MEDIA_DL_USES_DEFAULT 3

/* Redis keys of a link, in one hash slot: media:dl:{<id>}:n (uses),
 * :c (clients that spent a use), :r (revoked) */
#define NGX_HTTP_MEDIA_DL_KEY          MEDIA_KEY_DOWNLOAD
#define NGX_HTTP_MEDIA_DL_KEY_LEN      (sizeof(NGX_HTTP_MEDIA_DL_KEY) - 1  \
                                        + 36 + sizeof("}:n") - 1)

/* what the Lua script answers, besides a use's number (1 and up) */
#define NGX_HTTP_MEDIA_DL_FREE         0    /* served, no use spent */
#define NGX_HTTP_MEDIA_DL_SPENT        -1
#define NGX_HTTP_MEDIA_DL_REVOKED      -2


/* one download request's state (ctx->state), through its three trips */
typedef struct {
    media_dltoken_t     tok;
    char                link[37];
    char                user[37];
    char                asset[37];
    ngx_str_t           media;          /* from the link's row */
    ngx_str_t           export;         /* data NULL: the original */
    ngx_str_t           filename;
    ngx_str_t           format;
    ngx_str_t           content_type;
    ngx_int_t           max_uses;
    ngx_int_t           uses;           /* the row's, then Redis' */
    time_t              mtime;          /* the file's, for If-Range */
    off_t               size;
    ngx_uint_t          status;         /* a refusal's */
    const char         *code;           /* $media_download_status */
    u_char              why[160];
    unsigned            pending:1;
    unsigned            head:1;
    unsigned            resume:1;
} ngx_http_media_dl_t;


static ngx_int_t ngx_http_media_dl_access(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_dl_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_media_dl_start(ngx_http_request_t *r,
    ngx_http_media_dl_t *d);
static void ngx_http_media_dl_checked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_dl_count(ngx_http_request_t *r,
    ngx_http_media_dl_t *d);
static ngx_uint_t ngx_http_media_dl_if_range(ngx_http_request_t *r,
    time_t mtime, off_t size);
static void ngx_http_media_dl_counted(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static ngx_int_t ngx_http_media_dl_audit(ngx_http_request_t *r,
    ngx_http_media_dl_t *d);
static void ngx_http_media_dl_audited(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_dl_fail(ngx_http_media_dl_t *d,
    ngx_uint_t status, const char *code, const char *why);
static ngx_int_t ngx_http_media_dl_refuse(ngx_http_request_t *r,
    ngx_http_media_dl_t *d);
static ngx_int_t ngx_http_media_dl_redirect(ngx_http_request_t *r,
    ngx_http_media_dl_t *d);
static ngx_int_t ngx_http_media_dl_url(ngx_http_request_t *r,
    ngx_str_t *link, ngx_str_t *user, ngx_str_t *media, ngx_str_t *export,
    ngx_str_t *grant, ngx_str_t *epoch, ngx_str_t *filename, ngx_str_t *url);
static ngx_int_t ngx_http_media_dl_int(ngx_http_request_t *r,
    const char *name, ngx_int_t min, ngx_int_t max, ngx_int_t def,
    ngx_str_t *out);
static void ngx_http_media_dl_created(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_dl_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_dl_revoked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_dl_revoke_told(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);


static ngx_str_t  ngx_http_media_dl_status_name =
    ngx_string("media_download_status");


/*
 * Counts one use, atomically.  KEYS: uses, clients, revoked.  ARGV: the
 * link's max_uses, the uses its row holds (the count to start from when
 * Redis has none: after a restart that lost it), this client (a hash of
 * address and user agent), 1 when the request resumes (a Range starting
 * past 0), the link's expiry (unix seconds), 1 for HEAD.
 * A client that spent a use may resume for the link's life without
 * spending another; HEAD spends none.
 */
static const char  ngx_http_media_dl_lua[] =
    "if redis.call('EXISTS', KEYS[3]) == 1 then return -2 end\n"
    "local n = tonumber(redis.call('GET', KEYS[1]) or ARGV[2])\n"
    "if ARGV[4] == '1'"
    " and redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then\n"
    "  return 0\n"
    "end\n"
    "if n >= tonumber(ARGV[1]) then return -1 end\n"
    "if ARGV[6] == '1' then return 0 end\n"
    "n = n + 1\n"
    "redis.call('SET', KEYS[1], n, 'EXAT', ARGV[5])\n"
    "redis.call('SADD', KEYS[2], ARGV[3])\n"
    "redis.call('EXPIREAT', KEYS[2], ARGV[5])\n"
    "return n\n";


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_dl_create =
    ngx_http_media_pg_stmt("downloads_create", 5,
        "SELECT outcome, link_id::text, expires_epoch, filename, grant_kind,"
        "       media_id::text, export_id::text, detail, quantity, used,"
        "       limit_value, plan, lifted_by, $5::integer"
        " FROM media_download_create($1, $2, $3, $4, $5)");

#define NGX_HTTP_MEDIA_DL_ISO(col)                                            \
    " to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_dl_list =
    ngx_http_media_pg_stmt("downloads_list", 1,
        "SELECT l.id::text, l.media_id::text, l.export_id::text, l.filename,"
        "       l.grant_kind, l.max_uses, l.uses,"
        NGX_HTTP_MEDIA_DL_ISO("l.expires_at") ","
        NGX_HTTP_MEDIA_DL_ISO("l.revoked_at") ","
        NGX_HTTP_MEDIA_DL_ISO("l.created_at") ","
        "       CASE WHEN l.revoked_at IS NOT NULL THEN 'revoked'"
        "            WHEN l.expires_at <= now() THEN 'expired'"
        "            WHEN m.deleted_at IS NOT NULL"
        "              OR e.deleted_at IS NOT NULL THEN 'gone'"
        "            WHEN l.uses >= l.max_uses THEN 'spent'"
        "            ELSE 'active' END,"
        "       extract(epoch FROM l.expires_at)::bigint"
        " FROM download_links l JOIN media m ON m.id = l.media_id"
        " LEFT JOIN exports e ON e.id = l.export_id"
        " WHERE l.user_id = $1"
        " ORDER BY l.created_at DESC, l.id LIMIT 100");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_dl_revoke =
    ngx_http_media_pg_stmt("downloads_revoke", 2,
        "UPDATE download_links SET revoked_at = coalesce(revoked_at, now())"
        " WHERE id = $1 AND user_id = $2"
        " RETURNING extract(epoch FROM expires_at)::bigint");

/* the token's user and asset must be the row's: a second check of what
 * the HMAC already vouches for */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_dl_check =
    ngx_http_media_pg_stmt("downloads_check", 3,
        "SELECT l.media_id::text, l.export_id::text, l.max_uses, l.uses,"
        "       l.revoked_at IS NOT NULL,"
        "       m.deleted_at IS NULL AND (l.export_id IS NULL"
        "         OR (e.deleted_at IS NULL AND e.status = 'ready'"
        "             AND (e.expires_at IS NULL OR e.expires_at > now()))),"
        "       l.filename, e.format, m.content_type,"
        "       m.status = 'blocked', m.blocked_reason"
        " FROM download_links l JOIN media m ON m.id = l.media_id"
        " LEFT JOIN exports e ON e.id = l.export_id"
        " WHERE l.id = $1 AND l.user_id = $2"
        "   AND coalesce(l.export_id, l.media_id) = $3");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_dl_used =
    ngx_http_media_pg_stmt("downloads_used", 9,
        "WITH u AS (INSERT INTO download_uses (link_id, user_id, media_id,"
        "   export_id, address, user_agent, range, status)"
        " VALUES ($1::uuid, $2::uuid, $3::uuid, $4::uuid, $5::inet,"
        "         left($6, 512), left($7, 256), $8::integer)),"
        " l AS (UPDATE download_links SET uses = greatest(uses, $9::integer)"
        "  WHERE id = $1::uuid RETURNING id)"
        /* download_uses is append-only; the sweeper seals it into the
         * audit trail in batches (sql/028), off this path */
        " SELECT l.id FROM l");


/* configuration ----------------------------------------------------------- */

/* media_download_key current [previous]: the download token secrets */
char *
ngx_http_media_download_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    return ngx_http_media_token_keys(cf, mmcf->dl_keys, &mmcf->dl_nkeys);
}


/* media_download /internal/prefix/: this location serves download links */
char *
ngx_http_media_download(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_loc_conf_t *mlcf = conf;

    ngx_str_t                   *value;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_media_main_conf_t  *mmcf;

    if (mlcf->dl_files.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '/'
        || value[1].data[value[1].len - 1] != '/')
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_download \"%V\": expected the "
                           "prefix of the internal location serving "
                           "media_storage, such as \"/_media_dl/\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->name.len == 0 || clcf->name.data[clcf->name.len - 1] != '/') {
        return "must be in a prefix location ending in \"/\"";
    }

    mlcf->dl_files = value[1];
    mlcf->dl_prefix = clcf->name;

    /* download URLs point at the first such location */
    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);
    if (mmcf->dl_location.data == NULL) {
        mmcf->dl_location = clcf->name;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_media_downloads_init(ngx_conf_t *cf)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);

    mmcf->dl_status_index = ngx_http_media_add_access(cf,
                                &ngx_http_media_dl_status_name,
                                ngx_http_media_dl_variable,
                                ngx_http_media_dl_access);

    return mmcf->dl_status_index == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/* the access phase: every request for a download link --------------------- */

/*
 * Called again after each asynchronous step (ngx_http_core_run_phases):
 * NGX_AGAIN while one is under way, then the refusal or the redirect.
 */
static ngx_int_t
ngx_http_media_dl_access(ngx_http_request_t *r)
{
    ngx_http_media_dl_t        *d;
    ngx_http_media_ctx_t       *ctx;
    ngx_http_media_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);
    if (mlcf->dl_files.data == NULL) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_media_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d = ctx->state;

    if (d == NULL) {
        d = ngx_pcalloc(r->pool, sizeof(ngx_http_media_dl_t));
        if (d == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->state = d;

        if (ngx_http_media_dl_start(r, d) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    if (d->pending) {
        return NGX_AGAIN;
    }

    if (d->status) {
        return ngx_http_media_dl_refuse(r, d);
    }

    return ngx_http_media_dl_redirect(r, d);
}


/* the token, then the link's row; NGX_ERROR only when out of memory */
static ngx_int_t
ngx_http_media_dl_start(ngx_http_request_t *r, ngx_http_media_dl_t *d)
{
    u_char                      *p, *end, *slash;
    ngx_str_t                    params[3];
    media_token_rc_e             rc;
    ngx_http_media_loc_conf_t   *mlcf;
    ngx_http_media_main_conf_t  *mmcf;
    u_char                       when[sizeof("1970-01-01T00:00:00Z")];

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        ngx_http_media_dl_fail(d, NGX_HTTP_NOT_ALLOWED,
                               "method_not_allowed", "a download link "
                               "answers GET and HEAD");
        return NGX_OK;
    }

    d->head = (r->method == NGX_HTTP_HEAD);

    if (mmcf->dl_nkeys == 0) {
        ngx_http_media_dl_fail(d, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "not_configured", "downloads are off on this "
                               "server: its nginx.conf has no "
                               "media_download_key");
        return NGX_OK;
    }

    /* <prefix><token>/<filename>: the name is for the browser only */
    p = r->uri.data + ngx_min(r->uri.len, mlcf->dl_prefix.len);
    end = r->uri.data + r->uri.len;
    slash = ngx_strlchr(p, end, '/');

    if (slash == NULL || slash + 1 == end) {
        ngx_http_media_dl_fail(d, NGX_HTTP_NOT_FOUND, "not_found",
                               "a download URL is <location><token>/"
                               "<filename>, as POST /api/v1/downloads gave "
                               "it");
        return NGX_OK;
    }

    rc = media_dltoken_verify(ngx_http_media_tenant(r)->dl_keys,
                              mmcf->dl_nkeys, (char *) p,
                              slash - p, ngx_time(), &d->tok);

    if (rc == MEDIA_TOKEN_EXPIRED) {
        (void) ngx_http_media_iso8601(when, (time_t) d->tok.expires);
        ngx_sprintf(d->why, "this download link expired at %*s; ask for a "
                    "new one%Z", sizeof("1970-01-01T00:00:00Z") - 1, when);
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_GONE, "link_expired",
                               (char *) d->why);
        return NGX_OK;
    }

    if (rc != MEDIA_TOKEN_OK) {
        ngx_sprintf(d->why, "this download link is not valid (%s); use the "
                    "URL exactly as it was given%Z", media_token_status(rc));
        ngx_http_media_dl_fail(d, NGX_HTTP_FORBIDDEN, "invalid_link",
                               (char *) d->why);
        return NGX_OK;
    }

    media_uuid_format(d->tok.link, d->link);
    media_uuid_format(d->tok.user, d->user);
    media_uuid_format(d->tok.asset, d->asset);

    params[0].data = (u_char *) d->link;
    params[0].len = 36;
    params[1].data = (u_char *) d->user;
    params[1].len = 36;
    params[2].data = (u_char *) d->asset;
    params[2].len = 36;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_dl_check, params,
                                ngx_http_media_dl_checked, d)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    d->pending = 1;

    return NGX_OK;
}


/* a copy of a result's value into the request pool (NULL stays NULL) */
static ngx_int_t
ngx_http_media_dl_copy(ngx_http_request_t *r, ngx_str_t *v, ngx_str_t *out)
{
    if (v->data == NULL) {
        ngx_str_null(out);
        return NGX_OK;
    }

    out->data = ngx_pstrdup(r->pool, v);
    out->len = v->len;

    return out->data ? NGX_OK : NGX_ERROR;
}


static void
ngx_http_media_dl_checked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_dl_t *d = data;

    size_t                       n;
    ngx_str_t                   *v, path;
    ngx_file_info_t              fi;
    ngx_http_media_main_conf_t  *mmcf;

    d->pending = 0;

    if (res->status == NGX_HTTP_MEDIA_PG_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media download check: link %s: %V", d->link,
                      &res->error);
        ngx_http_media_dl_fail(d, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal", "the server failed; quote the "
                               "request id when reporting it");
        goto done;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_media_dl_fail(d, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "unavailable", "cannot check this download "
                               "link now (the database does not answer); "
                               "try again");
        goto done;
    }

    if (res->nrows == 0) {
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_GONE, "asset_gone",
                               "what this link downloaded is gone");
        goto done;
    }

    if (ngx_http_media_pg_value(res, 0, 4)->data[0] == 't') {
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_GONE, "link_revoked",
                               "this download link was revoked by its "
                               "owner");
        goto done;
    }

    if (ngx_http_media_pg_value(res, 0, 5)->data[0] != 't') {
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_GONE, "asset_gone",
                               "what this link downloaded was deleted");
        goto done;
    }

    /* taken down after the link was made (sql/022, sql/024) */
    if (ngx_http_media_pg_value(res, 0, 9)->data[0] == 't') {
        v = ngx_http_media_pg_value(res, 0, 10);
        n = v->data ? ngx_min(v->len, 120) : 0;

        /* cut at a character's start: the message is JSON text */
        while (n < v->len && n && (v->data[n] & 0xc0) == 0x80) {
            n--;
        }

        ngx_sprintf(d->why, "this media was removed: %*s%Z", n,
                    n ? v->data : (u_char *) "");
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_BLOCKED_STATUS,
                               "media_blocked", (char *) d->why);
        goto done;
    }

    if (ngx_http_media_dl_copy(r, ngx_http_media_pg_value(res, 0, 0),
                               &d->media) != NGX_OK
        || ngx_http_media_dl_copy(r, ngx_http_media_pg_value(res, 0, 1),
                                  &d->export) != NGX_OK
        || ngx_http_media_dl_copy(r, ngx_http_media_pg_value(res, 0, 6),
                                  &d->filename) != NGX_OK
        || ngx_http_media_dl_copy(r, ngx_http_media_pg_value(res, 0, 7),
                                  &d->format) != NGX_OK
        || ngx_http_media_dl_copy(r, ngx_http_media_pg_value(res, 0, 8),
                                  &d->content_type) != NGX_OK)
    {
        ngx_http_media_dl_fail(d, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal", "out of memory");
        goto done;
    }

    v = ngx_http_media_pg_value(res, 0, 2);
    d->max_uses = ngx_atoi(v->data, v->len);
    v = ngx_http_media_pg_value(res, 0, 3);
    d->uses = ngx_atoi(v->data, v->len);

    /* the file, before a use is spent on it: a sweeper may have been
     * quicker than the row */
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    path.len = mmcf->storage.len + sizeof("/" MEDIA_DIR_EXPORTS "/.")
               + 36 + d->format.len;
    path.data = ngx_pnalloc(r->pool, path.len);
    if (path.data == NULL) {
        ngx_http_media_dl_fail(d, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal", "out of memory");
        goto done;
    }

    if (d->export.data) {
        ngx_sprintf(path.data, "%V/" MEDIA_DIR_EXPORTS "/%V.%V%Z",
                    &mmcf->storage, &d->export, &d->format);
    } else {
        ngx_sprintf(path.data, "%V/" MEDIA_DIR_UPLOADS "/%V%Z",
                    &mmcf->storage, &d->media);
    }

    /* in a bucket: the row says it is there (a HEAD would cost a round
     * trip per download); If-Range then never resumes without a use */
    if (mmcf->s3) {
        d->mtime = 0;
        d->size = -1;

        if (ngx_http_media_dl_count(r, d) == NGX_OK) {
            return;
        }

        ngx_http_media_dl_fail(d, NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                               "out of memory");
        goto done;
    }

    if (ngx_file_info(path.data, &fi) == NGX_FILE_ERROR || !ngx_is_file(&fi))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, ngx_errno,
                      "media download check: link %s, file \"%s\" is gone",
                      d->link, path.data);
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_GONE, "asset_gone",
                               "the file this link downloaded is gone");
        goto done;
    }

    d->mtime = ngx_file_mtime(&fi);
    d->size = ngx_file_size(&fi);

    if (ngx_http_media_dl_count(r, d) == NGX_OK) {
        return;
    }

    ngx_http_media_dl_fail(d, NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                           "out of memory");

done:

    ngx_http_core_run_phases(r);
}


/* the Lua script: one use, or a resumption, or a refusal */

/*
 * A Range resumption is free only when nginx will answer it with that
 * range: an If-Range that does not match the file makes nginx send the
 * whole file, so it is a download like any other.  The validator is the
 * one nginx's static module sends: ETag "<mtime>-<size>" in hex, or the
 * Last-Modified date.
 */
static ngx_uint_t
ngx_http_media_dl_if_range(ngx_http_request_t *r, time_t mtime, off_t size)
{
    u_char      etag[NGX_OFF_T_LEN + NGX_TIME_T_LEN + 4];
    ngx_str_t  *v;

    if (r->headers_in.if_range == NULL) {
        return 1;
    }

    v = &r->headers_in.if_range->value;

    if (v->len >= 2 && v->data[0] == '"') {
        return v->len == (size_t) (ngx_sprintf(etag, "\"%xT-%xO\"", mtime,
                                               size) - etag)
               && ngx_strncmp(v->data, etag, v->len) == 0;
    }

    return ngx_parse_http_time(v->data, v->len) == mtime;
}


static ngx_int_t
ngx_http_media_dl_count(ngx_http_request_t *r, ngx_http_media_dl_t *d)
{
    long          start;
    u_char       *k, *p;
    ngx_md5_t     md5;
    ngx_uint_t    i;
    const char   *argv[12];
    size_t        argvlen[12];
    u_char        hash[16], client[32], max[NGX_INT_T_LEN];
    u_char        uses[NGX_INT_T_LEN], exp[NGX_INT_T_LEN];

    static const char  sfx[] = "ncr";

    k = ngx_pnalloc(r->pool, 3 * NGX_HTTP_MEDIA_DL_KEY_LEN);
    if (k == NULL) {
        return NGX_ERROR;
    }

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = ngx_http_media_dl_lua;
    argvlen[1] = sizeof(ngx_http_media_dl_lua) - 1;
    argv[2] = "3";
    argvlen[2] = 1;

    for (i = 0; i < 3; i++) {
        p = k + i * NGX_HTTP_MEDIA_DL_KEY_LEN;
        argv[3 + i] = (char *) p;
        argvlen[3 + i] = ngx_sprintf(p, NGX_HTTP_MEDIA_DL_KEY "%s}:%c",
                                     d->link, sfx[i]) - p;
    }

    /* the client: its address and user agent, as a hash */
    ngx_md5_init(&md5);
    ngx_md5_update(&md5, r->connection->addr_text.data,
                   r->connection->addr_text.len);
    ngx_md5_update(&md5, "\n", 1);
    if (r->headers_in.user_agent) {
        ngx_md5_update(&md5, r->headers_in.user_agent->value.data,
                       r->headers_in.user_agent->value.len);
    }
    ngx_md5_final(hash, &md5);
    ngx_hex_dump(client, hash, 16);

    start = -1;
    if (r->headers_in.range) {
        start = media_dl_range_start((char *) r->headers_in.range->value.data,
                                     r->headers_in.range->value.len);
    }

    d->resume = (start > 0
                 && ngx_http_media_dl_if_range(r, d->mtime, d->size));

    argv[6] = (char *) max;
    argvlen[6] = ngx_sprintf(max, "%i", d->max_uses) - max;
    argv[7] = (char *) uses;
    argvlen[7] = ngx_sprintf(uses, "%i", d->uses) - uses;
    argv[8] = (char *) client;
    argvlen[8] = 32;
    argv[9] = d->resume ? "1" : "0";
    argvlen[9] = 1;
    argv[10] = (char *) exp;
    argvlen[10] = ngx_sprintf(exp, "%uD", d->tok.expires) - exp;
    argv[11] = d->head ? "1" : "0";
    argvlen[11] = 1;

    if (ngx_http_media_redis_command(r, ngx_http_media_dl_counted, d, 12,
                                     argv, argvlen)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    d->pending = 1;

    return NGX_OK;
}


static void
ngx_http_media_dl_counted(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_dl_t *d = data;

    d->pending = 0;

    if (res->status == NGX_HTTP_MEDIA_REDIS_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media download count: link %s: %V", d->link,
                      &res->str);
        ngx_http_media_dl_fail(d, NGX_HTTP_INTERNAL_SERVER_ERROR,
                               "internal", "the server failed; quote the "
                               "request id when reporting it");
        goto done;
    }

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media download count: link %s: %V", d->link,
                      &res->str);
        ngx_http_media_dl_fail(d, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "unavailable", "cannot count this download "
                               "now (Redis does not answer); try again");
        goto done;
    }

    if (res->integer == NGX_HTTP_MEDIA_DL_REVOKED) {
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_GONE, "link_revoked",
                               "this download link was revoked by its "
                               "owner");
        goto done;
    }

    if (res->integer == NGX_HTTP_MEDIA_DL_SPENT) {
        ngx_sprintf(d->why, "this download link's %i downloads are used "
                    "up; ask for a new link%Z", d->max_uses);
        ngx_http_media_dl_fail(d, NGX_HTTP_MEDIA_GONE, "link_spent",
                               (char *) d->why);
        goto done;
    }

    /* HEAD tells what a GET would send: no use, no audit row */
    if (d->head) {
        d->code = "head";
        goto done;
    }

    if (res->integer > 0) {
        d->uses = res->integer;
        d->code = "ok";

    } else {
        d->code = "resumed";
    }

    if (ngx_http_media_dl_audit(r, d) == NGX_OK) {
        return;
    }

    ngx_http_media_dl_fail(d, NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                           "out of memory");

done:

    ngx_http_core_run_phases(r);
}


/* one row per download served (a resumption too), and the use count */
static ngx_int_t
ngx_http_media_dl_audit(ngx_http_request_t *r, ngx_http_media_dl_t *d)
{
    ngx_str_t   params[9];
    u_char     *p;

    params[0].data = (u_char *) d->link;
    params[0].len = 36;
    params[1].data = (u_char *) d->user;
    params[1].len = 36;
    params[2] = d->media;
    params[3] = d->export;

    ngx_http_media_client_address(r, &params[4]);

    if (r->headers_in.user_agent) {
        params[5] = r->headers_in.user_agent->value;
    } else {
        ngx_str_null(&params[5]);
    }

    if (r->headers_in.range) {
        params[6] = r->headers_in.range->value;
        ngx_str_set(&params[7], "206");
    } else {
        ngx_str_null(&params[6]);
        ngx_str_set(&params[7], "200");
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    params[8].data = p;
    params[8].len = ngx_sprintf(p, "%i", d->uses) - p;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_dl_used, params,
                                ngx_http_media_dl_audited, d)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    d->pending = 1;

    return NGX_OK;
}


static void
ngx_http_media_dl_audited(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_dl_t *d = data;

    d->pending = 0;

    /* a download is served only with its audit row written */
    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media download audit: link %s, use %i: %V", d->link,
                      d->uses, &res->error);
        ngx_http_media_dl_fail(d, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "unavailable", "cannot record this download "
                               "now (the database does not answer); try "
                               "again");
    }

    ngx_http_core_run_phases(r);
}


static void
ngx_http_media_dl_fail(ngx_http_media_dl_t *d, ngx_uint_t status,
    const char *code, const char *why)
{
    d->status = status;
    d->code = code;

    if ((u_char *) why != d->why) {
        ngx_cpystrn(d->why, (u_char *) why, sizeof(d->why));
    }
}


static ngx_int_t
ngx_http_media_dl_refuse(ngx_http_request_t *r, ngx_http_media_dl_t *d)
{
    ngx_str_t  allow;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "media download: refused, %s: %s", d->code, d->why);

    if (d->status == NGX_HTTP_NOT_ALLOWED) {
        ngx_str_set(&allow, "GET, HEAD");
        if (ngx_http_media_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ngx_http_finalize_request(r, ngx_http_media_send_error(r, d->status,
                              d->code, "%s", d->why));
    return NGX_DONE;
}


/* $media_download_status: ok, resumed, head, or the refusal's code */
static ngx_int_t
ngx_http_media_dl_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_media_dl_t        *d;
    ngx_http_media_ctx_t       *ctx;
    ngx_http_media_loc_conf_t  *mlcf;

    /* ctx->state is a route's own elsewhere: only a download's here */
    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    d = (mlcf->dl_files.data && ctx) ? ctx->state : NULL;

    if (d == NULL || d->code == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) d->code;
    v->len = ngx_strlen(d->code);
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The file, served by the internal location as <files>uploads/<media id>
 * or <files>exports/<export id>.<format>: nginx's static handler does
 * sendfile, ranges, If-Range, HEAD and ETag.  The headers set here
 * survive the internal redirect.
 */
static ngx_int_t
ngx_http_media_dl_redirect(ngx_http_request_t *r, ngx_http_media_dl_t *d)
{
    u_char                      *p;
    size_t                       size;
    ngx_str_t                    uri, value, args;
    ngx_http_media_loc_conf_t   *mlcf;
    ngx_http_media_main_conf_t  *mmcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    size = media_dl_disposition_size(d->filename.len);
    value.data = ngx_pnalloc(r->pool, size);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = media_dl_disposition((char *) d->filename.data,
                                     d->filename.len, (char *) value.data,
                                     size);

    if (ngx_http_media_add_header(r, "Content-Disposition", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a link is one person's: no shared cache keeps what it sent */
    ngx_str_set(&value, "private, no-transform");
    if (ngx_http_media_add_header(r, "Cache-Control", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&value, "nosniff");
    if (ngx_http_media_add_header(r, "X-Content-Type-Options", &value)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* an upload has no extension to take a type from: the sniffed one */
    if (d->export.data == NULL && d->content_type.len) {
        r->headers_out.content_type = d->content_type;
        r->headers_out.content_type_len = d->content_type.len;
    }

    uri.len = mlcf->dl_files.len + sizeof(MEDIA_DIR_EXPORTS "/.") + 36
              + d->format.len;
    uri.data = ngx_pnalloc(r->pool, uri.len);
    if (uri.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (d->export.data) {
        p = ngx_sprintf(uri.data, "%V" MEDIA_DIR_EXPORTS "/%V.%V",
                        &mlcf->dl_files, &d->export, &d->format);
    } else {
        p = ngx_sprintf(uri.data, "%V" MEDIA_DIR_UPLOADS "/%V",
                        &mlcf->dl_files, &d->media);
    }

    uri.len = p - uri.data;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    (void) ngx_http_get_indexed_variable(r, mmcf->dl_status_index);

    /* media_storage s3://: the files location proxies to the bucket */
    args.len = 0;

    if (mmcf->s3
        && ngx_http_media_s3_args(r, "", uri.data + mlcf->dl_files.len,
                                  uri.len - mlcf->dl_files.len, &args)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    (void) ngx_http_internal_redirect(r, &uri, args.len ? &args : NULL);
    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


/* a link's URL: <location><token>/<filename, percent-encoded> */
static ngx_int_t
ngx_http_media_dl_url(ngx_http_request_t *r, ngx_str_t *link, ngx_str_t *user,
    ngx_str_t *media, ngx_str_t *export, ngx_str_t *grant, ngx_str_t *epoch,
    ngx_str_t *filename, ngx_str_t *url)
{
    int                          rc;
    size_t                       n;
    u_char                      *p;
    ngx_int_t                    exp;
    uintptr_t                    escape;
    media_dltoken_t              t;
    ngx_http_media_main_conf_t  *mmcf;
    char                         token[MEDIA_DLTOKEN_LEN + 1];

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    ngx_memzero(&t, sizeof(media_dltoken_t));

    exp = ngx_atoi(epoch->data, epoch->len);

    if (exp <= 0 || exp > 0xffffffffL
        || media_uuid_parse((char *) link->data, link->len, t.link) != 0
        || media_uuid_parse((char *) user->data, user->len, t.user) != 0)
    {
        return NGX_ERROR;
    }

    t.expires = (uint32_t) exp;
    t.grant = (unsigned char) media_dl_grant_parse((char *) grant->data,
                                                   grant->len);

    if (export->data) {
        t.asset_kind = MEDIA_DL_ASSET_EXPORT;
        rc = media_uuid_parse((char *) export->data, export->len, t.asset);
    } else {
        t.asset_kind = MEDIA_DL_ASSET_MEDIA;
        rc = media_uuid_parse((char *) media->data, media->len, t.asset);
    }

    if (rc != 0 || t.grant == 0) {
        return NGX_ERROR;
    }

    n = media_dltoken_sign(&ngx_http_media_tenant(r)->dl_keys[0], &t, token);
    if (n == 0) {
        return NGX_ERROR;
    }

    escape = ngx_escape_uri(NULL, filename->data, filename->len,
                            NGX_ESCAPE_URI_COMPONENT);

    url->len = mmcf->dl_location.len + n + 1 + filename->len + 2 * escape;
    url->data = ngx_pnalloc(r->pool, url->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(url->data, mmcf->dl_location.data, mmcf->dl_location.len);
    p = ngx_cpymem(p, token, n);
    *p++ = '/';
    (void) ngx_escape_uri(p, filename->data, filename->len,
                          NGX_ESCAPE_URI_COMPONENT);

    return NGX_OK;
}


/* POST /api/v1/downloads ------------------------------------------------- */

ngx_int_t
ngx_http_media_download_create(ngx_http_request_t *r)
{
    yajl_val                     ev, mv, v;
    ngx_str_t                    params[5], id;
    const char                  *name;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_main_conf_t  *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->dl_nkeys == 0 || mmcf->dl_location.data == NULL) {
        return ngx_http_media_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "not_configured", "downloads are "
                                         "off on this server: its "
                                         "nginx.conf needs media_download_key "
                                         "and a media_download location");
    }

    ev = ngx_http_media_body_value(r, "export_id");
    mv = ngx_http_media_body_value(r, "media_id");

    if (ev && YAJL_IS_NULL(ev)) {
        ev = NULL;
    }

    if (mv && YAJL_IS_NULL(mv)) {
        mv = NULL;
    }

    if (ev && mv) {
        return ngx_http_media_field_error(r, "export_id", "give export_id "
                                          "(a converted copy) or media_id "
                                          "(the original upload), not both");
    }

    if (ev == NULL && mv == NULL) {
        return ngx_http_media_field_error(r, "media_id", "media_id (the "
                                          "original upload) or export_id (a "
                                          "converted copy) is required");
    }

    v = ev ? ev : mv;
    name = ev ? "export_id" : "media_id";

    id.data = YAJL_IS_STRING(v) ? (u_char *) YAJL_GET_STRING(v) : NULL;
    id.len = id.data ? ngx_strlen(id.data) : 0;

    if (id.data == NULL || ngx_http_media_is_uuid(&id) != NGX_OK) {
        return ngx_http_media_field_error(r, name, "%s must be an id such "
                                          "as \"0b6e4f3a-...\", as a string",
                                          name);
    }

    params[0] = ctx->user->id;

    /* ids lowercase, as PostgreSQL prints them */
    params[1].len = 36;
    params[1].data = ngx_pnalloc(r->pool, 36);
    if (params[1].data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_strlow(params[1].data, id.data, 36);

    if (ev) {
        params[2] = params[1];
        ngx_str_null(&params[1]);
    } else {
        ngx_str_null(&params[2]);
    }

    if (ngx_http_media_dl_int(r, "ttl_s", NGX_HTTP_MEDIA_DL_TTL_MIN,
                              NGX_HTTP_MEDIA_DL_TTL_MAX,
                              NGX_HTTP_MEDIA_DL_TTL_DEFAULT, &params[3])
        != NGX_OK)
    {
        return params[3].len
               ? NGX_HTTP_INTERNAL_SERVER_ERROR
               : ngx_http_media_field_error(r, "ttl_s", "ttl_s must be a "
                                            "whole number of seconds from "
                                            "%d (a minute) to %d (7 days)",
                                            NGX_HTTP_MEDIA_DL_TTL_MIN,
                                            NGX_HTTP_MEDIA_DL_TTL_MAX);
    }

    if (ngx_http_media_dl_int(r, "max_uses", 1, NGX_HTTP_MEDIA_DL_USES_MAX,
                              NGX_HTTP_MEDIA_DL_USES_DEFAULT, &params[4])
        != NGX_OK)
    {
        return params[4].len
               ? NGX_HTTP_INTERNAL_SERVER_ERROR
               : ngx_http_media_field_error(r, "max_uses", "max_uses must "
                                            "be a whole number from 1 to %d",
                                            NGX_HTTP_MEDIA_DL_USES_MAX);
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_dl_create, params,
                                ngx_http_media_dl_created, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * An optional whole number of the body into out as text: def when absent
 * or null.  NGX_DECLINED (out->len 0) when it is not a whole number from
 * min to max; NGX_ERROR (out->len 1) when out of memory.
 */
static ngx_int_t
ngx_http_media_dl_int(ngx_http_request_t *r, const char *name, ngx_int_t min,
    ngx_int_t max, ngx_int_t def, ngx_str_t *out)
{
    yajl_val   v;
    long long  n;

    v = ngx_http_media_body_value(r, name);
    n = def;

    out->len = 0;

    if (v && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < min
            || YAJL_GET_INTEGER(v) > max)
        {
            return NGX_DECLINED;
        }

        n = YAJL_GET_INTEGER(v);
    }

    out->data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (out->data == NULL) {
        out->len = 1;
        return NGX_ERROR;
    }

    out->len = ngx_sprintf(out->data, "%L", (int64_t) n) - out->data;

    return NGX_OK;
}


static void
ngx_http_media_dl_created(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    time_t                 exp;
    yajl_gen               g;
    ngx_str_t             *outcome, url, expires, *v;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media download create"));
        return;
    }

    outcome = ngx_http_media_pg_value(res, 0, 0);

    if (outcome->len == 9 && ngx_strncmp(outcome->data, "not_found", 9) == 0)
    {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such media or export, or none you "
                                  "may download"));
        return;
    }

    if (outcome->len == 9 && ngx_strncmp(outcome->data, "not_ready", 9) == 0)
    {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_CONFLICT, "not_ready",
                                  "the export is %V; ask again when it is "
                                  "ready", ngx_http_media_pg_value(res, 0, 7)));
        return;
    }

    if (outcome->len == 4 && ngx_strncmp(outcome->data, "gone", 4) == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_MEDIA_GONE, "asset_gone",
                                  "the original upload of this media is no "
                                  "longer kept (media_source_retention): "
                                  "export the media and link the export"));
        return;
    }

    if (outcome->len == 5 && ngx_strncmp(outcome->data, "quota", 5) == 0) {
        ngx_http_finalize_request(r, ngx_http_media_quota_exceeded(r,
                                  ngx_http_media_pg_value(res, 0, 8),
                                  ngx_http_media_pg_value(res, 0, 9),
                                  ngx_http_media_pg_value(res, 0, 10),
                                  ngx_http_media_pg_value(res, 0, 11),
                                  ngx_http_media_pg_value(res, 0, 12), 1));
        return;
    }

    v = ngx_http_media_pg_value(res, 0, 2);
    exp = ngx_atotm(v->data, v->len);

    expires.data = ngx_pnalloc(r->pool, sizeof("1970-01-01T00:00:00Z"));
    if (expires.data == NULL || exp == NGX_ERROR
        || ngx_http_media_dl_url(r, ngx_http_media_pg_value(res, 0, 1),
                                 &ctx->user->id,
                                 ngx_http_media_pg_value(res, 0, 5),
                                 ngx_http_media_pg_value(res, 0, 6),
                                 ngx_http_media_pg_value(res, 0, 4), v,
                                 ngx_http_media_pg_value(res, 0, 3), &url)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    expires.len = ngx_http_media_iso8601(expires.data, exp) - expires.data;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "media download create: link %V, %V grant",
                  ngx_http_media_pg_value(res, 0, 1),
                  ngx_http_media_pg_value(res, 0, 4));

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "id", ngx_http_media_pg_value(res, 0, 1));
    ngx_http_media_json_str(g, "url", &url);
    ngx_http_media_json_str(g, "expires_at", &expires);
    yajl_gen_string(g, (const unsigned char *) "max_uses", 8);
    v = ngx_http_media_pg_value(res, 0, 13);
    yajl_gen_integer(g, ngx_atoi(v->data, v->len));
    ngx_http_media_json_str(g, "filename", ngx_http_media_pg_value(res, 0, 3));
    ngx_http_media_json_str(g, "grant", ngx_http_media_pg_value(res, 0, 4));
    ngx_http_media_json_str(g, "media_id", ngx_http_media_pg_value(res, 0, 5));
    ngx_http_media_json_str(g, "export_id",
                            ngx_http_media_pg_value(res, 0, 6));
    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_CREATED,
                                                         g));
}


/* GET /api/v1/downloads -------------------------------------------------- */

ngx_int_t
ngx_http_media_download_list(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_dl_list,
                                &ctx->user->id, ngx_http_media_dl_listed,
                                NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_dl_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    yajl_gen                     g;
    ngx_str_t                    url, *state;
    ngx_int_t                    max, uses;
    ngx_uint_t                   i;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_main_conf_t  *mmcf;

#define col(c)  ngx_http_media_pg_value(res, i, c)

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media download list"));
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "downloads", 9);
    yajl_gen_array_open(g);

    for (i = 0; i < res->nrows; i++) {
        max = ngx_atoi(col(5)->data, col(5)->len);
        uses = ngx_atoi(col(6)->data, col(6)->len);
        state = col(10);

        yajl_gen_map_open(g);
        ngx_http_media_json_str(g, "id", col(0));
        ngx_http_media_json_str(g, "media_id", col(1));
        ngx_http_media_json_str(g, "export_id", col(2));
        ngx_http_media_json_str(g, "filename", col(3));
        ngx_http_media_json_str(g, "grant", col(4));
        yajl_gen_string(g, (const unsigned char *) "max_uses", 8);
        yajl_gen_integer(g, max);
        yajl_gen_string(g, (const unsigned char *) "uses", 4);
        yajl_gen_integer(g, uses);
        yajl_gen_string(g, (const unsigned char *) "uses_left", 9);
        yajl_gen_integer(g, ngx_max(max - uses, 0));
        ngx_http_media_json_str(g, "state", state);
        ngx_http_media_json_str(g, "expires_at", col(7));
        ngx_http_media_json_str(g, "revoked_at", col(8));
        ngx_http_media_json_str(g, "created_at", col(9));

        /* the URL again, for a link still usable: the token is made from
         * the row alone (with today's key) */
        ngx_str_null(&url);

        if (mmcf->dl_nkeys && mmcf->dl_location.data
            && state->len == 6 && ngx_strncmp(state->data, "active", 6) == 0
            && ngx_http_media_dl_url(r, col(0), &ctx->user->id, col(1),
                                     col(2), col(4), col(11), col(3), &url)
               != NGX_OK)
        {
            yajl_gen_free(g);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_media_json_str(g, "url", &url);
        yajl_gen_map_close(g);
    }

#undef col

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_OK, g));
}


/* DELETE /api/v1/downloads/{id} ------------------------------------------ */

ngx_int_t
ngx_http_media_download_revoke(ngx_http_request_t *r)
{
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such download link");
    }

    params[0] = ctx->capture;
    params[1] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_dl_revoke, params,
                                ngx_http_media_dl_revoked, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * Revoked in PostgreSQL (the truth, checked by every download), then told
 * to Redis, so that a download already past its check is refused by the
 * count too.
 */
static void
ngx_http_media_dl_revoked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    u_char                *k;
    size_t                 argvlen[5];
    const char            *argv[5];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media download revoke"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such download link"));
        return;
    }

    k = ngx_pnalloc(r->pool, NGX_HTTP_MEDIA_DL_KEY_LEN);
    if (k == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) k;
    argvlen[1] = ngx_sprintf(k, NGX_HTTP_MEDIA_DL_KEY "%V}:r", &ctx->capture)
                 - k;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = "EXAT";
    argvlen[3] = 4;
    argv[4] = (char *) ngx_http_media_pg_value(res, 0, 0)->data;
    argvlen[4] = ngx_http_media_pg_value(res, 0, 0)->len;

    if (ngx_http_media_redis_command(r, ngx_http_media_dl_revoke_told, NULL,
                                     5, argv, argvlen)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_dl_revoke_told(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    /* the row is revoked: every later download is refused all the same */
    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media download revoke: Redis not told: %V",
                      &res->str);
    }

    ngx_http_finalize_request(r, ngx_http_media_no_content(r));
}
