/*
 * Authentication: the media_auth access phase, the keys and settings it
 * uses, access tokens, cookies and the CSRF check.
 *
 * The access phase runs in every location with "media_auth on|optional"
 * and in every media_api location (as optional: each API route decides
 * whether it needs a user).  It reads an access token from
 * "Authorization: Bearer" or the media_access cookie, verifies it (an HMAC
 * or one public-key operation, done on the event loop), and asks Redis
 * whether its jti was revoked by a logout; that lookup is asynchronous, and
 * the phase resumes when it answers.  If Redis cannot answer, the request
 * fails closed with 503: a revoked token must not pass for want of a check.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include <openssl/rand.h>
#include <openssl/sha.h>
#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_shm.h"
#include "ngx_http_media_keyfile.h"
#include "ngx_http_media_jwks.h"
#include "ngx_http_media_auth.h"
#include "media_b64.h"


#define NGX_HTTP_MEDIA_COOKIE_ACCESS   "media_access"
#define NGX_HTTP_MEDIA_COOKIE_REFRESH  "media_refresh"

/*
 * A users row read for a token serves its requests for this long (ms);
 * the first request after half of it reads the row anew in the background
 */
#define NGX_HTTP_MEDIA_USER_FRESH      1000
#define NGX_HTTP_MEDIA_USER_AHEAD      500
#define NGX_HTTP_MEDIA_USER_CACHE      (4 * 1024 * 1024)

#define NGX_HTTP_MEDIA_USER_OK         0
#define NGX_HTTP_MEDIA_USER_REVOKED    1
#define NGX_HTTP_MEDIA_USER_GONE       2
#define NGX_HTTP_MEDIA_USER_BANNED     3


/* a token's entry in the user cache (shared memory, all workers) */
typedef struct {
    u_char         state;
    u_char         has_email;
    u_char         id_len;
    u_char         role_len;
    u_char         plan_len;
    u_short        email_len;
    time_t         suspended_until;
    u_char         id[36];
    u_char         role[16];
    u_char         plan[32];
    u_char         email[255];
} ngx_http_media_cached_t;


/* a background read's: which entry, as stored when it was claimed */
typedef struct {
    u_char         key[NGX_HTTP_MEDIA_SHM_KEY];
    ngx_msec_t     stamp;
} ngx_http_media_reread_t;


static void ngx_http_media_cookie_check(ngx_conf_t *cf,
    ngx_http_core_main_conf_t *cmcf, ngx_http_media_main_conf_t *mmcf);
static ngx_int_t ngx_http_media_access_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_early_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_access_check(ngx_http_request_t *r,
    ngx_http_media_ctx_t **ctxp);
static ngx_int_t ngx_http_media_authenticate(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx, ngx_uint_t mode);
static ngx_int_t ngx_http_media_resolve(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx);
static ngx_http_media_pg_stmt_t *ngx_http_media_user_query(
    ngx_http_media_user_t *u, ngx_str_t *params);
static void ngx_http_media_user_read(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_user_reread(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_user_row(ngx_http_media_pg_result_t *res,
    ngx_http_media_cached_t *cached);
static ngx_int_t ngx_http_media_resolved(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx, ngx_http_media_cached_t *cached);
static ngx_int_t ngx_http_media_refuse(ngx_http_media_ctx_t *ctx,
    ngx_uint_t status, const char *token_status, const char *code,
    const char *message);
static ngx_int_t ngx_http_media_access_fail(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx);
static ngx_str_t *ngx_http_media_bearer(ngx_http_request_t *r);
static ngx_str_t *ngx_http_media_cookie(ngx_http_request_t *r,
    ngx_int_t index);
static ngx_http_media_user_t *ngx_http_media_user(ngx_http_request_t *r,
    media_jwt_claims_t *claims, ngx_uint_t local, ngx_str_t *token);
static ngx_int_t ngx_http_media_cstr(ngx_http_request_t *r, ngx_str_t *dst,
    const char *src);
static ngx_int_t ngx_http_media_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static void ngx_http_media_jwks_conf_warn(void *data, const char *msg);
static ngx_int_t ngx_http_media_set_cookie(ngx_http_request_t *r,
    const char *name, const char *path, const char *samesite,
    ngx_str_t *value, ngx_msec_t ttl);


static ngx_http_variable_t  ngx_http_media_vars[] = {

    { ngx_string("media_user_id"), NULL, ngx_http_media_user_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("media_user_role"), NULL, ngx_http_media_user_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("media_auth_status"), NULL, ngx_http_media_user_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    /* the signed-in user's email, as our users row has it, for logs */
    { ngx_string("media_user"), NULL, ngx_http_media_user_variable,
      3, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* indexes of variables the access phase reads, found at configuration */
static ngx_int_t  ngx_http_media_cookie_access_index = NGX_ERROR;
static ngx_int_t  ngx_http_media_cookie_refresh_index = NGX_ERROR;
static ngx_int_t  ngx_http_media_origin_index = NGX_ERROR;


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_user_local =
    ngx_http_media_pg_stmt("auth_user_local", 2,
        "SELECT u.id, u.role, u.plan, u.email,"
        "  EXISTS (SELECT 1 FROM revocations"
        "           WHERE key = $2 AND expires_at > now()),"
        "  u.banned_at IS NOT NULL,"
        "  extract(epoch FROM u.suspended_until)::bigint"
        " FROM users u WHERE u.id = $1::uuid");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_user_idp =
    ngx_http_media_pg_stmt("auth_user_idp", 4,
        "SELECT u.id, u.role, u.plan, u.email,"
        "  EXISTS (SELECT 1 FROM revocations"
        "           WHERE key = $4 AND expires_at > now()),"
        "  x.banned_at IS NOT NULL,"
        "  extract(epoch FROM x.suspended_until)::bigint"
        " FROM media_identity_user($1, $2, $3) u"
        " LEFT JOIN users x ON x.id = u.id");


/* configuration ------------------------------------------------------- */

char *
ngx_http_media_auth_init_conf(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf)
{
    ngx_conf_init_msec_value(mmcf->leeway, 30000);
    ngx_conf_init_msec_value(mmcf->access_ttl, 15 * 60 * 1000);
    ngx_conf_init_msec_value(mmcf->refresh_ttl, 7 * 24 * 3600 * 1000);
    ngx_conf_init_uint_value(mmcf->cookie_secure, NGX_HTTP_MEDIA_SECURE_AUTO);
    ngx_conf_init_uint_value(mmcf->login_account, 5);
    ngx_conf_init_uint_value(mmcf->login_address, 50);
    ngx_conf_init_msec_value(mmcf->login_window, 15 * 60 * 1000);

    if (mmcf->issuer.data == NULL) {
        ngx_str_set(&mmcf->issuer, "ngx_media");
    }

    if (mmcf->thread_pool_name.data == NULL) {
        ngx_str_set(&mmcf->thread_pool_name, "default");
    }

    if (mmcf->own_keys) {
        /* the parser's strings are NUL-terminated */
        mmcf->own_keys->verifier.issuer = (char *) mmcf->issuer.data;
        mmcf->own_keys->verifier.leeway = mmcf->leeway / 1000;

#if (NGX_THREADS)
        /* password hashing needs a thread pool: never the event loop */
        mmcf->thread_pool = ngx_thread_pool_add(cf, &mmcf->thread_pool_name);
        if (mmcf->thread_pool == NULL) {
            return NGX_CONF_ERROR;
        }
#else
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "media_jwt_key: accounts hash passwords on a "
                           "thread pool; this nginx was built without "
                           "--with-threads");
        return NGX_CONF_ERROR;
#endif
    }

    if (mmcf->idp_keys) {
        mmcf->idp_keys->verifier.leeway = mmcf->leeway / 1000;
    }

    return NGX_CONF_OK;
}


/* media_jwt_key current [previous]: HS256 secrets, 16 to 64 bytes each */
char *
ngx_http_media_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ngx_str_t                *value, secret;
    ngx_uint_t                i;
    ngx_http_media_keyset_t  *ks;

    if (mmcf->own_keys) {
        return "is duplicate";
    }

    ks = ngx_http_media_keyset(cf);
    if (ks == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_http_media_read_key(cf, &value[i], &secret) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        /* the size was checked: this cannot fail */
        (void) media_jwt_key_secret(&ks->keys[i - 1], secret.data,
                                    secret.len);
        ngx_memzero(secret.data, secret.len);
    }

    ks->verifier.keys = ks->keys;
    ks->verifier.nkeys = cf->args->nelts - 1;
    mmcf->own_keys = ks;

    return NGX_CONF_OK;
}


/* media_jwt_jwks file [issuer=...] [audience=...] */
char *
ngx_http_media_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    int                       n;
    char                      err[256];
    ngx_str_t                *value, json;
    ngx_uint_t                i;
    ngx_http_media_keyset_t  *ks;

    if (mmcf->idp_keys) {
        return mmcf->jwks_url ? "cannot be used with media_jwt_jwks_url: "
                                "the keys come from the file or from the URL"
                              : "is duplicate";
    }

    ks = ngx_http_media_keyset(cf);
    if (ks == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 2; i < cf->args->nelts; i++) {
        if (ngx_strncmp(value[i].data, "issuer=", 7) == 0) {
            ks->verifier.issuer = (char *) value[i].data + 7;

        } else if (ngx_strncmp(value[i].data, "audience=", 9) == 0) {
            ks->verifier.audience = (char *) value[i].data + 9;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid media_jwt_jwks parameter \"%V\": "
                               "expected issuer= or audience=", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_media_read_conf_file(cf, &value[1], &json) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    n = media_jwt_jwks((char *) json.data, json.len, ks->keys,
                       NGX_HTTP_MEDIA_MAX_KEYS, ngx_http_media_jwks_conf_warn,
                       cf, err, sizeof(err));
    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_jwt_jwks \"%V\": %s", &value[1],
                           err);
        return NGX_CONF_ERROR;
    }

    ks->verifier.keys = ks->keys;
    ks->verifier.nkeys = n;
    mmcf->idp_keys = ks;

    return NGX_CONF_OK;
}


/* a JWKS key skipped at configuration: the set loads without it */
static void
ngx_http_media_jwks_conf_warn(void *data, const char *msg)
{
    ngx_conf_t  *cf = data;

    ngx_str_t  *value;

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "%V \"%V\": %s", &value[0],
                       &value[1], msg);
}


/* media_login_limit [account=N] [address=N] [window=time] */
char *
ngx_http_media_login_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    long         n;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (mmcf->login_window != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;
    mmcf->login_window = 15 * 60 * 1000;

    for (i = 1; i < cf->args->nelts; i++) {
        u_char  *p = value[i].data;
        size_t   len = value[i].len;

        if (len > 8 && ngx_strncmp(p, "account=", 8) == 0
            && media_conf_parse_uint((char *) p + 8, len - 8, 1000000, &n)
               == 0)
        {
            mmcf->login_account = n;

        } else if (len > 8 && ngx_strncmp(p, "address=", 8) == 0
                   && media_conf_parse_uint((char *) p + 8, len - 8,
                                            1000000, &n) == 0)
        {
            mmcf->login_address = n;

        } else if (len > 7 && ngx_strncmp(p, "window=", 7) == 0
                   && media_conf_parse_msec((char *) p + 7, len - 7, &n) == 0
                   && n >= 1000)
        {
            mmcf->login_window = n;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid media_login_limit parameter \"%V\": "
                               "expected account=N, address=N or "
                               "window=time (1s or more)", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_media_auth_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_media_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_media_auth_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_media_main_conf_t  *mmcf;

    static ngx_str_t  zone = ngx_string("media_users");
    static ngx_str_t  access = ngx_string("cookie_" NGX_HTTP_MEDIA_COOKIE_ACCESS);
    static ngx_str_t  refresh = ngx_string("cookie_"
                                           NGX_HTTP_MEDIA_COOKIE_REFRESH);
    static ngx_str_t  origin = ngx_string("http_origin");

    ngx_http_media_cookie_access_index = ngx_http_get_variable_index(cf,
                                                                    &access);
    ngx_http_media_cookie_refresh_index = ngx_http_get_variable_index(cf,
                                                                    &refresh);
    ngx_http_media_origin_index = ngx_http_get_variable_index(cf, &origin);

    if (ngx_http_media_cookie_access_index == NGX_ERROR
        || ngx_http_media_cookie_refresh_index == NGX_ERROR
        || ngx_http_media_origin_index == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    /* shared by the workers: one users row read serves them all */
    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);

    mmcf->user_cache = ngx_http_media_shm_add(cf, &zone,
                                              NGX_HTTP_MEDIA_USER_CACHE,
                                              sizeof(ngx_http_media_cached_t));
    if (mmcf->user_cache == NULL) {
        return NGX_ERROR;
    }

    /* the access phase: return and rewrite cannot skip it */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_media_access_handler;

    /*
     * and the same check earlier, in the preaccess phase: nginx runs a
     * phase's handlers last registered first, so ours runs before
     * limit_req's, whose key may be $media_user_id (CORS preflights,
     * registered after this, still come first)
     */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_media_early_handler;

    ngx_http_media_cookie_check(cf, cmcf, mmcf);

    return NGX_OK;
}


/*
 * "media_cookie_secure on" with a plain http listener: browsers keep
 * Secure cookies from http pages, so signing in there fails without a
 * word.  Said once, at start.
 */
static void
ngx_http_media_cookie_check(ngx_conf_t *cf, ngx_http_core_main_conf_t *cmcf,
    ngx_http_media_main_conf_t *mmcf)
{
    ngx_uint_t             i, j;
    ngx_http_conf_addr_t  *addr;
    ngx_http_conf_port_t  *port;

    if (mmcf->cookie_secure != NGX_HTTP_MEDIA_SECURE_ON
        || cmcf->ports == NULL)
    {
        return;
    }

    port = cmcf->ports->elts;

    for (i = 0; i < cmcf->ports->nelts; i++) {
        addr = port[i].addrs.elts;

        for (j = 0; j < port[i].addrs.nelts; j++) {
#if (NGX_HTTP_SSL)
            if (addr[j].opt.ssl) {
                continue;
            }
#endif
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "\"media_cookie_secure on\" while listening "
                               "on plain http (%V): browsers do not send "
                               "Secure cookies back over http, so signing "
                               "in fails there; \"media_cookie_secure "
                               "auto\" marks them Secure over TLS only",
                               &addr[j].opt.addr_text);
            return;
        }
    }
}


/* the access phase ---------------------------------------------------- */

static ngx_int_t
ngx_http_media_access_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_media_ctx_t  *ctx;

    rc = ngx_http_media_access_check(r, &ctx);

    return rc == NGX_DONE ? ngx_http_media_access_fail(r, ctx) : rc;
}


/*
 * The same check, earlier: in the preaccess phase, so that limit_req
 * finds $media_user_id set.  Its refusal is left to the access phase, as
 * before, so that limit_req still refuses first (a flood of bad tokens is
 * limited by address like any other).  Subrequests are left to the access
 * phase, which skips them.  NGX_OK would end the phase here, before
 * limit_req: it goes on instead.
 */
static ngx_int_t
ngx_http_media_early_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_media_ctx_t  *ctx;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    rc = ngx_http_media_access_check(r, &ctx);

    return (rc == NGX_AGAIN || rc == NGX_ERROR
            || rc >= NGX_HTTP_SPECIAL_RESPONSE) ? rc : NGX_DECLINED;
}


/*
 * Authenticates once per request, however often it is asked: NGX_AGAIN
 * while the user's row is read, NGX_DONE when the request is refused
 * (ctx->auth_status says how), else what the access phase goes on with.
 */
static ngx_int_t
ngx_http_media_access_check(ngx_http_request_t *r,
    ngx_http_media_ctx_t **ctxp)
{
    ngx_uint_t                  mode;
    ngx_http_media_ctx_t       *ctx;
    ngx_http_media_loc_conf_t  *mlcf;

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_media_module);

    mode = mlcf->auth;
    if (mode == NGX_HTTP_MEDIA_AUTH_OFF && mlcf->api) {
        mode = NGX_HTTP_MEDIA_AUTH_OPTIONAL;
    }

    if (mode == NGX_HTTP_MEDIA_AUTH_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_media_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ctxp = ctx;

    if (ctx->auth_pending) {
        return NGX_AGAIN;
    }

    if (!ctx->auth_done) {
        ctx->auth_rc = ngx_http_media_authenticate(r, ctx, mode);

        if (ctx->auth_pending) {
            return NGX_AGAIN;
        }

        ctx->auth_done = 1;
    }

    return ctx->auth_status ? NGX_DONE : ctx->auth_rc;
}


/*
 * Sets ctx->user and returns NGX_OK, returns NGX_DECLINED for an anonymous
 * request that may go on, sets ctx->auth_status (and code, message) for
 * one that may not, or starts the revocation lookup (ctx->auth_pending).
 */
static ngx_int_t
ngx_http_media_authenticate(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx,
    ngx_uint_t mode)
{
    ngx_str_t                   *token;
    ngx_uint_t                   cookie, local;
    media_jwt_rc_e               rc;
    media_jwt_claims_t           claims;
    ngx_http_media_keyset_t     *own;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    cookie = 0;
    token = ngx_http_media_bearer(r);

    if (token == NULL) {
        token = ngx_http_media_cookie(r, ngx_http_media_cookie_access_index);
        cookie = 1;
    }

    if (token == NULL) {
        ctx->token_status = "missing";

        if (mode == NGX_HTTP_MEDIA_AUTH_OPTIONAL) {
            return NGX_DECLINED;
        }

        return ngx_http_media_refuse(ctx, NGX_HTTP_UNAUTHORIZED, "missing",
                                     "missing_token", "sign in first: send "
                                     "\"Authorization: Bearer <access "
                                     "token>\" or the media_access cookie");
    }

    rc = MEDIA_JWT_UNKNOWN_KID;
    local = 0;

    /* the server's tenant's keys: another tenant's token does not pass */
    own = ngx_http_media_tenant(r)->own_keys;

    if (own) {
        rc = media_jwt_verify(&own->verifier, (char *) token->data,
                              token->len, ngx_time(), &claims);
        local = (rc == MEDIA_JWT_OK);
    }

    if (rc == MEDIA_JWT_UNKNOWN_KID && mmcf->idp_keys) {
        rc = media_jwt_verify(&mmcf->idp_keys->verifier, (char *) token->data,
                              token->len, ngx_time(), &claims);

        /* media_jwt_jwks_url: no key for it yet; verified again when in */
        if (ngx_http_media_jwks_refresh(r, ctx, rc) == NGX_AGAIN) {
            return NGX_OK;
        }
    }

    if (rc != MEDIA_JWT_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "media auth: token refused: %s, request_id: %V",
                      media_jwt_reason(rc), ngx_http_media_request_id(r));

        return ngx_http_media_refuse(ctx, NGX_HTTP_UNAUTHORIZED,
                                     media_jwt_reason(rc), "invalid_token",
                                     media_jwt_reason(rc));
    }

    /* ours name a session and a user id; a provider's, anything */
    if (local && (claims.sid[0] == '\0' || ngx_strlen(claims.sub) != 36)) {
        return ngx_http_media_refuse(ctx, NGX_HTTP_UNAUTHORIZED, "no_session",
                                     "invalid_token", "issued before "
                                     "sessions were tracked; refresh it");
    }

    ctx->user = ngx_http_media_user(r, &claims, local, token);
    if (ctx->user == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->user->cookie = cookie;

    if (cookie && ngx_http_media_same_origin(r) != NGX_OK) {
        return ngx_http_media_refuse(ctx, NGX_HTTP_FORBIDDEN, "cross_site",
                                     "cross_site_request", "a "
                                     "state-changing request authenticated "
                                     "by cookie must come from this site "
                                     "(Origin does not match Host)");
    }

    return ngx_http_media_resolve(r, ctx);
}


/*
 * Who the token's holder is here, and whether its session still stands:
 * from the user cache when its entry is under a second old, else from
 * PostgreSQL (one query, which also makes a provider's person a local user
 * on first sight).  PostgreSQL is the truth; the cache only spares it.
 * The first request to find the entry past half its second reads it anew
 * in the background, for the next ones: a session in use is never made to
 * wait for PostgreSQL by its entry's age, all its requests at once.
 */
static ngx_int_t
ngx_http_media_resolve(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx)
{
    ngx_msec_t                   stamp;
    ngx_str_t                    params[4];
    ngx_http_media_user_t       *u;
    ngx_http_media_reread_t     *rr;
    ngx_http_media_cached_t      cached;
    ngx_http_media_pg_stmt_t    *stmt;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    u = ctx->user;
    stmt = ngx_http_media_user_query(u, params);

    if (ngx_http_media_shm_get(mmcf->user_cache, u->cache_key, &cached,
                               &stamp)
        == NGX_OK
        && ngx_current_msec - stamp < NGX_HTTP_MEDIA_USER_FRESH)
    {
        if (ngx_current_msec - stamp >= NGX_HTTP_MEDIA_USER_AHEAD
            && ngx_http_media_shm_claim(mmcf->user_cache, u->cache_key, stamp)
               == NGX_OK)
        {
            /* not read: the entry goes at its second, as without this */
            rr = ngx_http_media_pg_detached(r, stmt, params,
                                            ngx_http_media_user_reread,
                                            sizeof(ngx_http_media_reread_t));
            if (rr) {
                ngx_memcpy(rr->key, u->cache_key, NGX_HTTP_MEDIA_SHM_KEY);
                rr->stamp = stamp;
            }
        }

        return ngx_http_media_resolved(r, ctx, &cached);
    }

    if (ngx_http_media_pg_query(r, stmt, params, ngx_http_media_user_read,
                                ctx)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->auth_pending = 1;

    return NGX_OK;
}


/* the statement that reads u's row and session, with its params */
static ngx_http_media_pg_stmt_t *
ngx_http_media_user_query(ngx_http_media_user_t *u, ngx_str_t *params)
{
    if (u->local) {
        params[0] = u->id;
        params[1] = u->revoke_key;

        return &ngx_http_media_sql_user_local;
    }

    params[0] = u->issuer;
    params[1] = u->subject;
    params[2] = u->email;           /* data NULL unless verified: SQL NULL */
    params[3] = u->revoke_key;

    return &ngx_http_media_sql_user_idp;
}


static void
ngx_http_media_user_read(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_ctx_t  *ctx = data;

    ngx_http_media_cached_t      cached;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    ctx->auth_pending = 0;
    ctx->auth_done = 1;

    if (res->status == NGX_HTTP_MEDIA_PG_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media auth user: %V, request_id: %V",
                      &res->error, ngx_http_media_request_id(r));

        (void) ngx_http_media_refuse(ctx, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                     "unchecked", "internal", "the server "
                                     "failed; quote the request id when "
                                     "reporting it");
        ngx_http_core_run_phases(r);
        return;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        (void) ngx_http_media_refuse(ctx, NGX_HTTP_SERVICE_UNAVAILABLE,
                                     "unchecked", "unavailable", "cannot "
                                     "look up the account of this token "
                                     "(the database does not answer); try "
                                     "again");
        ngx_http_core_run_phases(r);
        return;
    }

    ngx_http_media_user_row(res, &cached);

    /* no room in the zone: this request is answered all the same */
    (void) ngx_http_media_shm_put(mmcf->user_cache, ctx->user->cache_key,
                                  &cached);

    (void) ngx_http_media_resolved(r, ctx, &cached);

    /* resume the phases where the access handler left them */
    ngx_http_core_run_phases(r);
}


/* a row read anew in the background: kept for the next requests */
static void
ngx_http_media_user_reread(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_reread_t *rr = data;

    ngx_http_media_cached_t      cached;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    /* an error: the entry goes at its second and a request reads it; a
     * session revoked here meanwhile stays so (its entry was put since) */
    if (res->status == NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_media_user_row(res, &cached);
        (void) ngx_http_media_shm_renew(mmcf->user_cache, rr->key, &cached,
                                        rr->stamp);
    }

    ngx_http_media_pg_detached_done(data);
}


/* the entry a users row (or none) makes */
static void
ngx_http_media_user_row(ngx_http_media_pg_result_t *res,
    ngx_http_media_cached_t *cached)
{
    ngx_str_t  *v;

    ngx_memzero(cached, sizeof(ngx_http_media_cached_t));

    if (res->nrows == 0) {
        cached->state = NGX_HTTP_MEDIA_USER_GONE;

    } else {
        cached->state = ngx_http_media_pg_value(res, 0, 4)->data[0] == 't'
                        ? NGX_HTTP_MEDIA_USER_REVOKED
                        : NGX_HTTP_MEDIA_USER_OK;

        /* a ban says so, whatever else holds (sql/022, sql/025) */
        v = ngx_http_media_pg_value(res, 0, 5);
        if (v->data && v->data[0] == 't') {
            cached->state = NGX_HTTP_MEDIA_USER_BANNED;
        }

        v = ngx_http_media_pg_value(res, 0, 6);
        if (v->data) {
            cached->suspended_until = ngx_atotm(v->data, v->len);
            if (cached->suspended_until == NGX_ERROR) {
                cached->suspended_until = 0;
            }
        }

        v = ngx_http_media_pg_value(res, 0, 0);
        cached->id_len = ngx_min(v->len, sizeof(cached->id));
        ngx_memcpy(cached->id, v->data, cached->id_len);

        v = ngx_http_media_pg_value(res, 0, 1);
        cached->role_len = ngx_min(v->len, sizeof(cached->role));
        ngx_memcpy(cached->role, v->data, cached->role_len);

        v = ngx_http_media_pg_value(res, 0, 2);
        cached->plan_len = ngx_min(v->len, sizeof(cached->plan));
        ngx_memcpy(cached->plan, v->data, cached->plan_len);

        v = ngx_http_media_pg_value(res, 0, 3);
        if (v->data) {
            cached->email_len = ngx_min(v->len, sizeof(cached->email));
            ngx_memcpy(cached->email, v->data, cached->email_len);
            cached->has_email = 1;
        }
    }
}


/* what the users row says, or why the token no longer counts */
static ngx_int_t
ngx_http_media_resolved(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx,
    ngx_http_media_cached_t *cached)
{
    ngx_http_media_user_t  *u;

    u = ctx->user;

    switch (cached->state) {

    case NGX_HTTP_MEDIA_USER_GONE:
        return ngx_http_media_refuse(ctx, NGX_HTTP_UNAUTHORIZED, "user_gone",
                                     "user_gone", "the account of this "
                                     "token no longer exists; sign up "
                                     "again");

    case NGX_HTTP_MEDIA_USER_REVOKED:
        return ngx_http_media_refuse(ctx, NGX_HTTP_UNAUTHORIZED, "revoked",
                                     "invalid_token", "revoked (signed out, "
                                     "or its session was ended)");

    case NGX_HTTP_MEDIA_USER_BANNED:
        return ngx_http_media_refuse(ctx, NGX_HTTP_FORBIDDEN, "banned",
                                     "account_banned", "this account was "
                                     "banned; its sessions were ended and "
                                     "its tokens are refused");
    }

    u->suspended_until = cached->suspended_until;

    u->id.data = ngx_pnalloc(r->pool, cached->id_len + cached->role_len
                                      + cached->plan_len
                                      + cached->email_len);
    if (u->id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    u->id.len = cached->id_len;
    ngx_memcpy(u->id.data, cached->id, cached->id_len);

    u->role.data = u->id.data + u->id.len;
    u->role.len = cached->role_len;
    ngx_memcpy(u->role.data, cached->role, cached->role_len);

    u->plan.data = u->role.data + u->role.len;
    u->plan.len = cached->plan_len;
    ngx_memcpy(u->plan.data, cached->plan, cached->plan_len);

    u->email.data = cached->has_email ? u->plan.data + u->plan.len : NULL;
    u->email.len = cached->email_len;
    if (u->email.data) {
        ngx_memcpy(u->email.data, cached->email, cached->email_len);
    }

    ctx->token_status = "ok";

    return NGX_OK;
}


/*
 * A session or token stops counting now: on this node at once (the cache
 * entry says so), elsewhere when their entries are a second old.  The
 * caller has written the revocations row.
 */
void
ngx_http_media_revoked(ngx_http_request_t *r, u_char *cache_key)
{
    ngx_http_media_cached_t      cached;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    ngx_memzero(&cached, sizeof(ngx_http_media_cached_t));
    cached.state = NGX_HTTP_MEDIA_USER_REVOKED;

    if (ngx_http_media_shm_put(mmcf->user_cache, cache_key, &cached)
        != NGX_OK)
    {
        /* an older entry must not say "ok" for up to a second */
        ngx_http_media_shm_delete(mmcf->user_cache, cache_key);
    }
}


void
ngx_http_media_user_forget(ngx_http_request_t *r, ngx_str_t *revoke_key)
{
    u_char                       cache_key[32];
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    ngx_http_media_session_key(revoke_key, cache_key);
    ngx_http_media_shm_delete(mmcf->user_cache, cache_key);
}


/* the cache key of the session of our own tokens: SHA-256("s:" sid) */
void
ngx_http_media_session_key(ngx_str_t *revoke_key, u_char *cache_key)
{
    SHA256(revoke_key->data, revoke_key->len, cache_key);
}


/* a refusal, answered by ngx_http_media_access_fail; NGX_OK */
static ngx_int_t
ngx_http_media_refuse(ngx_http_media_ctx_t *ctx, ngx_uint_t status,
    const char *token_status, const char *code, const char *message)
{
    ctx->token_status = token_status;
    ctx->auth_status = status;
    ctx->auth_code = code;
    ctx->auth_message = message;

    return NGX_OK;
}


/* answers the refusal in ctx itself, so that it is JSON */
static ngx_int_t
ngx_http_media_access_fail(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ctx->auth_status == NGX_HTTP_UNAUTHORIZED) {
        rc = ngx_http_media_unauthorized(r, ctx->auth_code,
                                         ctx->auth_message);
    } else {
        rc = ngx_http_media_send_error(r, ctx->auth_status, ctx->auth_code,
                                       "%s", ctx->auth_message);
    }

    ngx_http_finalize_request(r, rc);

    /* the access checker returns at once; the request is finished */
    return NGX_DONE;
}


ngx_int_t
ngx_http_media_unauthorized(ngx_http_request_t *r, const char *code,
    const char *message)
{
    u_char     *p;
    ngx_str_t   value;

    value.len = sizeof("Bearer realm=\"ngx_media\", error=\"invalid_token\", "
                       "error_description=\"\"") + ngx_strlen(message);
    value.data = ngx_pnalloc(r->pool, value.len);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* RFC 6750 3.1: no error attribute when no token was sent */
    if (ngx_strcmp(code, "missing_token") == 0) {
        p = ngx_sprintf(value.data, "Bearer realm=\"ngx_media\"");

    } else {
        p = ngx_sprintf(value.data, "Bearer realm=\"ngx_media\", "
                        "error=\"invalid_token\", error_description=\"%s\"",
                        message);
    }

    value.len = p - value.data;

    if (ngx_http_media_add_header(r, "WWW-Authenticate", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_strcmp(code, "invalid_token") == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_UNAUTHORIZED, code,
                                         "access token rejected: %s; "
                                         "refresh it or sign in again",
                                         message);
    }

    return ngx_http_media_send_error(r, NGX_HTTP_UNAUTHORIZED, code, "%s",
                                     message);
}


/* "Authorization: Bearer <token>", scheme case-insensitive (RFC 7235) */
static ngx_str_t *
ngx_http_media_bearer(ngx_http_request_t *r)
{
    ngx_str_t        *t;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL || h->value.len <= 7
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) != 0)
    {
        return NULL;
    }

    t = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (t == NULL) {
        return NULL;
    }

    t->data = h->value.data + 7;
    t->len = h->value.len - 7;

    while (t->len && *t->data == ' ') {
        t->data++;
        t->len--;
    }

    return t->len ? t : NULL;
}


static ngx_str_t *
ngx_http_media_cookie(ngx_http_request_t *r, ngx_int_t index)
{
    ngx_str_t                  *t;
    ngx_http_variable_value_t  *vv;

    vv = ngx_http_get_indexed_variable(r, index);
    if (vv == NULL || vv->not_found || vv->len == 0) {
        return NULL;
    }

    t = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (t == NULL) {
        return NULL;
    }

    t->data = vv->data;
    t->len = vv->len;

    return t;
}


ngx_str_t *
ngx_http_media_refresh_cookie(ngx_http_request_t *r)
{
    return ngx_http_media_cookie(r, ngx_http_media_cookie_refresh_index);
}


/*
 * Copies what the claims name into the request pool, with the key that
 * would revoke the token and its entry in the user cache:
 *   ours:       "s:<sid>"                the session, all its tokens
 *   a provider: "t:<iss> <jti>"          the token, or without a jti
 *               "h:<sha-256 of token>"
 * A provider's cache entry is keyed by issuer, subject and that key, so
 * that a person and a token are never taken for another.
 */
static ngx_http_media_user_t *
ngx_http_media_user(ngx_http_request_t *r, media_jwt_claims_t *claims,
    ngx_uint_t local, ngx_str_t *token)
{
    u_char                  *p;
    size_t                   len;
    ngx_str_t                hash, whole, *tenant;
    ngx_http_media_user_t   *u;

    u = ngx_pcalloc(r->pool, sizeof(ngx_http_media_user_t));
    if (u == NULL) {
        return NULL;
    }

    u->exp = claims->exp;
    u->iat = claims->iat;
    u->local = local;

    if (local) {
        if (ngx_http_media_cstr(r, &u->id, claims->sub) != NGX_OK
            || ngx_http_media_cstr(r, &u->sid, claims->sid) != NGX_OK)
        {
            return NULL;
        }

        len = sizeof("s:") - 1 + u->sid.len;

    } else {
        if (ngx_http_media_cstr(r, &u->issuer, claims->iss) != NGX_OK
            || ngx_http_media_cstr(r, &u->subject, claims->sub) != NGX_OK)
        {
            return NULL;
        }

        /* the email a provider vouches for; else none (SQL NULL) */
        if (claims->email_verified && claims->email[0]
            && ngx_http_media_cstr(r, &u->email, claims->email) != NGX_OK)
        {
            return NULL;
        }

        if (claims->jti[0] == '\0'
            && ngx_http_media_sha256_hex(r, token, &hash) != NGX_OK)
        {
            return NULL;
        }

        len = sizeof("t: ") - 1 + u->issuer.len + ngx_strlen(claims->jti)
              + sizeof("h:") - 1 + 64;
    }

    u->revoke_key.data = ngx_pnalloc(r->pool, len);
    if (u->revoke_key.data == NULL) {
        return NULL;
    }

    if (local) {
        p = ngx_sprintf(u->revoke_key.data, "s:%V", &u->sid);

    } else if (claims->jti[0]) {
        p = ngx_sprintf(u->revoke_key.data, "t:%V %s", &u->issuer,
                        claims->jti);

    } else {
        p = ngx_sprintf(u->revoke_key.data, "h:%V", &hash);
    }

    u->revoke_key.len = p - u->revoke_key.data;

    if (local) {
        ngx_http_media_session_key(&u->revoke_key, u->cache_key);
        return u;
    }

    /* NUL bytes cannot occur in the claims: they separate the parts; the
     * tenant first, since a provider's person is a local user per tenant */
    tenant = &ngx_http_media_tenant(r)->name;

    whole.len = tenant->len + 1 + u->issuer.len + 1 + u->subject.len + 1
                + u->revoke_key.len;
    whole.data = ngx_pnalloc(r->pool, whole.len);
    if (whole.data == NULL) {
        return NULL;
    }

    p = ngx_cpymem(whole.data, tenant->data, tenant->len);
    *p++ = '\0';
    p = ngx_cpymem(p, u->issuer.data, u->issuer.len);
    *p++ = '\0';
    p = ngx_cpymem(p, u->subject.data, u->subject.len);
    *p++ = '\0';
    ngx_memcpy(p, u->revoke_key.data, u->revoke_key.len);

    SHA256(whole.data, whole.len, u->cache_key);

    return u;
}


static ngx_int_t
ngx_http_media_cstr(ngx_http_request_t *r, ngx_str_t *dst, const char *src)
{
    dst->len = ngx_strlen(src);
    dst->data = ngx_pnalloc(r->pool, dst->len);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src, dst->len);

    return NGX_OK;
}


ngx_int_t
ngx_http_media_same_origin(ngx_http_request_t *r)
{
    u_char                     *p, *end;
    ngx_str_t                   origin;
    ngx_http_variable_value_t  *vv;

    /* safe methods change nothing (RFC 9110 9.2.1) */
    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS)) {
        return NGX_OK;
    }

    vv = ngx_http_get_indexed_variable(r, ngx_http_media_origin_index);

    if (vv && !vv->not_found && vv->len) {
        origin.data = vv->data;
        origin.len = vv->len;

    } else if (r->headers_in.referer) {
        origin = r->headers_in.referer->value;

    } else {
        return NGX_DECLINED;
    }

    if (r->headers_in.host == NULL) {
        return NGX_DECLINED;
    }

    /* scheme://host[:port][/...]: the host part must be our Host */
    p = ngx_strlcasestrn(origin.data, origin.data + origin.len,
                         (u_char *) "://", 3 - 1);
    if (p == NULL) {
        return NGX_DECLINED;
    }

    p += 3;
    end = ngx_strlchr(p, origin.data + origin.len, '/');
    if (end == NULL) {
        end = origin.data + origin.len;
    }

    if ((size_t) (end - p) != r->headers_in.host->value.len
        || ngx_strncasecmp(p, r->headers_in.host->value.data, end - p) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_user_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t              s;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ctx == NULL || (data != 2 && ctx->user == NULL)
        || (data == 2 && ctx->token_status == NULL)
        || (data == 3 && ctx->user->email.data == NULL))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {
    case 0:
        s = ctx->user->id;
        break;
    case 1:
        s = ctx->user->role;
        break;
    case 3:
        s = ctx->user->email;
        break;
    default:
        s.data = (u_char *) ctx->token_status;
        s.len = ngx_strlen(ctx->token_status);
        break;
    }

    v->data = s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* tokens and cookies -------------------------------------------------- */

ngx_str_t *
ngx_http_media_issue_access(ngx_http_request_t *r, ngx_http_media_user_t *u)
{
    time_t                       now;
    size_t                       len;
    yajl_gen                     g;
    ngx_str_t                   *token, jti;
    const u_char                *buf;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (ngx_http_media_random(r, 16, &jti) != NGX_OK) {
        return NULL;
    }

    now = ngx_time();
    u->exp = now + mmcf->access_ttl / 1000;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "iss", &mmcf->issuer);
    ngx_http_media_json_str(g, "sub", &u->id);
    ngx_http_media_json_str(g, "sid", &u->sid);
    ngx_http_media_json_str(g, "jti", &jti);
    yajl_gen_string(g, (const unsigned char *) "iat", 3);
    yajl_gen_integer(g, now);
    yajl_gen_string(g, (const unsigned char *) "exp", 3);
    yajl_gen_integer(g, u->exp);
    yajl_gen_map_close(g);

    yajl_gen_get_buf(g, &buf, &len);

    token = ngx_palloc(r->pool, sizeof(ngx_str_t));
    if (token) {
        token->data = ngx_pnalloc(r->pool, MEDIA_JWT_MAX_LEN);
    }

    if (token == NULL || token->data == NULL) {
        yajl_gen_free(g);
        return NULL;
    }

    token->len = media_jwt_sign(&ngx_http_media_tenant(r)->own_keys->keys[0],
                                (const char *) buf, len, (char *) token->data,
                                MEDIA_JWT_MAX_LEN);
    yajl_gen_free(g);

    return token->len ? token : NULL;
}


ngx_int_t
ngx_http_media_random(ngx_http_request_t *r, size_t size, ngx_str_t *out)
{
    u_char  buf[64];

    if (size > sizeof(buf) || RAND_bytes(buf, (int) size) != 1) {
        return NGX_ERROR;
    }

    out->data = ngx_pnalloc(r->pool, media_b64url_encoded_len(size));
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = media_b64url_encode(out->data, buf, size);

    return NGX_OK;
}


ngx_int_t
ngx_http_media_sha256_hex(ngx_http_request_t *r, ngx_str_t *in,
    ngx_str_t *out)
{
    u_char  digest[SHA256_DIGEST_LENGTH];

    SHA256(in->data, in->len, digest);

    out->data = ngx_pnalloc(r->pool, 2 * SHA256_DIGEST_LENGTH);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    out->len = ngx_hex_dump(out->data, digest, SHA256_DIGEST_LENGTH)
               - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_media_set_cookies(ngx_http_request_t *r, ngx_str_t *access,
    ngx_str_t *refresh)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    /*
     * The access cookie goes everywhere (playlists, media); the refresh
     * cookie only to the auth routes, and never cross-site.
     */
    if (ngx_http_media_set_cookie(r, NGX_HTTP_MEDIA_COOKIE_ACCESS, "/", "Lax",
                                  access, mmcf->access_ttl) != NGX_OK
        || ngx_http_media_set_cookie(r, NGX_HTTP_MEDIA_COOKIE_REFRESH,
                                     "/api/v1/auth", "Strict", refresh,
                                     mmcf->refresh_ttl) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_set_cookie(ngx_http_request_t *r, const char *name,
    const char *path, const char *samesite, ngx_str_t *value, ngx_msec_t ttl)
{
    u_char     *p;
    ngx_str_t   h;

    static ngx_str_t  cleared = ngx_null_string;

    h.len = ngx_strlen(name) + 1 + (value ? value->len : 0)
            + sizeof("; Path=; Max-Age=; HttpOnly; SameSite=; Secure")
            + ngx_strlen(path) + NGX_TIME_T_LEN + ngx_strlen(samesite);
    h.data = ngx_pnalloc(r->pool, h.len);
    if (h.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(h.data, "%s=%V; Path=%s; Max-Age=%T; HttpOnly; "
                    "SameSite=%s", name, value ? value : &cleared, path,
                    (time_t) (value ? ttl / 1000 : 0), samesite);

    if (ngx_http_media_cookie_secure(r)) {
        p = ngx_cpymem(p, "; Secure", 8);
    }

    h.len = p - h.data;

    return ngx_http_media_add_header(r, "Set-Cookie", &h);
}
