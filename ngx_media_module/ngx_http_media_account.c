/*
 * Accounts: signup, login, refresh, logout, me.
 *
 * Each route is a chain of asynchronous steps (Redis, PostgreSQL, a
 * password hash on nginx's thread pool); each step's handler starts the
 * next one or finalizes the request.  Nothing here blocks the event loop.
 *
 *   signup:  validate -> hash (thread) -> INSERT user + refresh token
 *   login:   validate -> throttle check (Redis) -> SELECT user ->
 *            verify (thread) -> INSERT refresh token | count the failure
 *   refresh: rotate (one statement) | on no row: revoke the family if the
 *            token was already rotated (reuse)
 *   logout:  revoke the refresh token -> deny the access token's jti
 *   delete:  SELECT the password hash -> our password: throttle check
 *            (Redis) -> verify (thread) | a provider's person: a sign-in
 *            under NGX_HTTP_MEDIA_DELETE_RECENT seconds old -> delete the
 *            account and audit it (one statement) -> drop its sessions
 *            from the user cache
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif

#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_search.h"
#include "ngx_http_media_auth.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_account.h"
#include "ngx_http_media_roles.h"
#include "ngx_http_media_tenant.h"
#include "media_password.h"


/* verifying against this when the email is unknown costs what a real
 * verification costs, so the two 401s take the same time */
#define NGX_HTTP_MEDIA_DUMMY_HASH                                             \
    "pbkdf2-sha256$600000$Gz30eKjHMAiT3YhYUIaW8w$"                            \
    "_W6XAzwrHATbg72v6idwO8SgGc9S6eoYhBaebC1A51E"

#define NGX_HTTP_MEDIA_REFRESH_LEN  43      /* 32 random bytes, base64url */

/* how fresh a provider's token must be to delete its person's account */
#define NGX_HTTP_MEDIA_DELETE_RECENT  300


/* why no refresh token could be taken */
#define NGX_HTTP_MEDIA_REFRESH_MISSING     1
#define NGX_HTTP_MEDIA_REFRESH_MALFORMED   2
#define NGX_HTTP_MEDIA_REFRESH_CROSS_SITE  3


typedef struct {
    ngx_str_t               email;
    ngx_str_t               password;      /* NUL-terminated copy */
    ngx_str_t               refresh;       /* the new refresh token */
    ngx_str_t               refresh_hash;
    ngx_str_t               old_hash;      /* the one presented */
    ngx_str_t               ttl;           /* refresh lifetime, seconds */
    ngx_str_t               revoke_ttl;    /* an access token's, seconds */
    ngx_str_t               limit_keys[2]; /* account, address */
    ngx_http_media_user_t   user;
    const char             *stored;        /* password hash from the row */
    char                    hash[MEDIA_PASSWORD_HASH_LEN];
    int                     verified;
    unsigned                found:1;
    unsigned                banned:1;      /* sql/022: no new session */
} ngx_http_media_account_t;


typedef void (*ngx_http_media_pw_done_pt)(ngx_http_request_t *r,
    ngx_http_media_account_t *a);


typedef struct {
    ngx_http_request_t         *request;
    ngx_http_media_account_t   *account;
    ngx_http_media_pw_done_pt   done;
    unsigned                    verify:1;
} ngx_http_media_pw_job_t;


static ngx_int_t ngx_http_media_account(ngx_http_request_t *r,
    ngx_http_media_account_t **ap, ngx_int_t *rc);
static ngx_int_t ngx_http_media_credentials(ngx_http_request_t *r,
    ngx_http_media_account_t *a, ngx_uint_t strict, ngx_int_t *rc);
static ngx_int_t ngx_http_media_new_refresh(ngx_http_request_t *r,
    ngx_http_media_account_t *a);
static ngx_int_t ngx_http_media_pw_start(ngx_http_request_t *r,
    ngx_http_media_account_t *a, ngx_uint_t verify,
    ngx_http_media_pw_done_pt done);
#if (NGX_THREADS)
static void ngx_http_media_pw_thread(void *data, ngx_log_t *log);
static void ngx_http_media_pw_finished(ngx_event_t *ev);
#endif
static void ngx_http_media_signup_hashed(ngx_http_request_t *r,
    ngx_http_media_account_t *a);
static void ngx_http_media_signup_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_login_checked(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_login_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_login_verified(ngx_http_request_t *r,
    ngx_http_media_account_t *a);
static void ngx_http_media_login_counted(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_session_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_refresh_rotated(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_refresh_reused(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_logout_revoked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_limit(ngx_http_request_t *r,
    ngx_http_media_account_t *a, const char *script,
    ngx_http_media_redis_handler_pt handler);
static ngx_str_t *ngx_http_media_presented_refresh(ngx_http_request_t *r,
    ngx_uint_t *why);
static ngx_int_t ngx_http_media_refresh_refused(ngx_http_request_t *r,
    ngx_uint_t why);
static ngx_int_t ngx_http_media_user_row(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_http_media_user_t *u);
static ngx_int_t ngx_http_media_session(ngx_http_request_t *r,
    ngx_http_media_account_t *a, ngx_uint_t status);
static void ngx_http_media_json_user(yajl_gen g, ngx_http_media_user_t *u);
static void ngx_http_media_ignore(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static ngx_int_t ngx_http_media_limit_keys(ngx_http_request_t *r,
    ngx_http_media_account_t *a);
static void ngx_http_media_delete_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_delete_checked(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_delete_verified(ngx_http_request_t *r,
    ngx_http_media_account_t *a);
static void ngx_http_media_delete_counted(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static ngx_int_t ngx_http_media_delete_run(ngx_http_request_t *r,
    ngx_http_media_account_t *a, const char *how);
static void ngx_http_media_deleted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


/* failures counted per account and per address, checked before a login */
static const char  ngx_http_media_limit_check[] =
    "local w = 0 "
    "for i = 1, 2 do "
    "  local n = tonumber(redis.call('GET', KEYS[i]) or '0') "
    "  if n >= tonumber(ARGV[i]) then "
    "    local t = redis.call('PTTL', KEYS[i]) "
    "    if t > w then w = t end "
    "  end "
    "end "
    "return w";

static const char  ngx_http_media_limit_fail[] =
    "for i = 1, 2 do "
    "  if redis.call('INCR', KEYS[i]) == 1 then "
    "    redis.call('PEXPIRE', KEYS[i], ARGV[3]) "
    "  end "
    "end "
    "return 0";


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_signup =
    ngx_http_media_pg_stmt("account_signup", 4,
        "WITH u AS ("
        "  INSERT INTO users (email, password_hash) VALUES ($1, $2)"
        "  RETURNING id, email, role, plan),"
        " t AS ("
        "  INSERT INTO refresh_tokens"
        "    (user_id, family_id, token_hash, expires_at)"
        "  SELECT id, gen_random_uuid(), $3,"
        "    now() + $4::int * interval '1 second' FROM u"
        "  RETURNING family_id)"
        " SELECT u.id, u.email, u.role, u.plan, t.family_id FROM u, t");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_login =
    ngx_http_media_pg_stmt("account_login", 1,
        "SELECT id, email, role, plan, password_hash,"
        "       banned_at IS NOT NULL FROM users"
        " WHERE email_key = lower($1)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_session =
    ngx_http_media_pg_stmt("account_session", 3,
        "INSERT INTO refresh_tokens"
        " (user_id, family_id, token_hash, expires_at)"
        " VALUES ($1, gen_random_uuid(), $2,"
        "  now() + $3::int * interval '1 second')"
        " RETURNING family_id");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_refresh =
    ngx_http_media_pg_stmt("account_refresh", 3,
        "WITH old AS ("
        "  UPDATE refresh_tokens SET rotated_at = now()"
        "   WHERE token_hash = $1 AND rotated_at IS NULL"
        "     AND revoked_at IS NULL AND expires_at > now()"
        /* a ban revokes the tokens; this closes the race with a refresh
         * made at that moment */
        "     AND NOT EXISTS (SELECT 1 FROM users b"
        "        WHERE b.id = refresh_tokens.user_id"
        "          AND b.banned_at IS NOT NULL)"
        "  RETURNING user_id, family_id),"
        " new AS ("
        "  INSERT INTO refresh_tokens"
        "    (user_id, family_id, token_hash, expires_at)"
        "  SELECT user_id, family_id, $2,"
        "    now() + $3::int * interval '1 second' FROM old)"
        " SELECT u.id, u.email, u.role, u.plan, old.family_id"
        "   FROM users u JOIN old ON old.user_id = u.id");

/* and the reuse on the record ('session.reuse'), in the same statement */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_refresh_reuse =
    ngx_http_media_pg_stmt("account_refresh_reuse", 3,
        "WITH f AS ("
        "  UPDATE refresh_tokens SET revoked_at = now()"
        "   WHERE family_id = (SELECT family_id FROM refresh_tokens"
        "                       WHERE token_hash = $1"
        "                         AND rotated_at IS NOT NULL)"
        "     AND revoked_at IS NULL"
        "  RETURNING family_id, user_id),"
        " s AS ("
        "  INSERT INTO revocations (key, user_id, reason, expires_at)"
        "  SELECT DISTINCT 's:' || family_id, user_id, 'reuse',"
        "    now() + $2::int * interval '1 second' FROM f"
        "  ON CONFLICT (key) DO UPDATE"
        "    SET expires_at = EXCLUDED.expires_at)"
        " SELECT 's:' || family_id, count(*),"
        "   media_audit((array_agg(user_id))[1], NULL, 'session.reuse',"
        "     'session', family_id::text, 'a rotated refresh token was"
        " presented again', $3::inet, NULL,"
        "     jsonb_build_object('revoked_refresh_tokens', count(*)))"
        " FROM f GROUP BY family_id");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_delete_find =
    ngx_http_media_pg_stmt("account_delete_find", 1,
        "SELECT password_hash, email FROM users WHERE id = $1::uuid");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_delete =
    ngx_http_media_pg_stmt("account_delete", 3,
        "SELECT sid FROM media_account_delete($1::uuid, $2::inet, $3)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_logout =
    ngx_http_media_pg_stmt("account_logout", 5,
        "WITH f AS ("
        "  UPDATE refresh_tokens SET revoked_at = now()"
        "   WHERE (family_id = $1::uuid OR token_hash = $3)"
        "     AND user_id = $2::uuid AND revoked_at IS NULL)"
        " INSERT INTO revocations (key, user_id, reason, expires_at)"
        " VALUES ($4, $2::uuid, 'logout',"
        "   now() + $5::int * interval '1 second')"
        " ON CONFLICT (key) DO UPDATE"
        "   SET expires_at = greatest(revocations.expires_at,"
        "                             EXCLUDED.expires_at)");


/* signup ------------------------------------------------------------------ */

ngx_int_t
ngx_http_media_signup(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_media_account_t  *a;

    if (ngx_http_media_account(r, &a, &rc) != NGX_OK
        || ngx_http_media_credentials(r, a, 1, &rc) != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_media_pw_start(r, a, 0, ngx_http_media_signup_hashed)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_signup_hashed(ngx_http_request_t *r,
    ngx_http_media_account_t *a)
{
    ngx_str_t  params[4];

    if (a->hash[0] == '\0' || ngx_http_media_new_refresh(r, a) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params[0] = a->email;
    params[1].data = (u_char *) a->hash;
    params[1].len = ngx_strlen(a->hash);
    params[2] = a->refresh_hash;
    params[3] = a->ttl;

    /* the user and its first refresh token, atomically */
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_signup,
            params, ngx_http_media_signup_stored, a)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_signup_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_account_t  *a = data;

    /* 23505: unique_violation, on lower(email) */
    if (res->status == NGX_HTTP_MEDIA_PG_ERROR
        && ngx_strcmp(res->sqlstate, "23505") == 0)
    {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_CONFLICT, "email_taken",
                                  "an account with this email exists; sign "
                                  "in instead"));
        return;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media signup"));
        return;
    }

    if (ngx_http_media_user_row(r, res, &a->user) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_session(r, a,
                                                        NGX_HTTP_CREATED));
}


/* login ------------------------------------------------------------------- */

ngx_int_t
ngx_http_media_login(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_media_account_t    *a;

    if (ngx_http_media_account(r, &a, &rc) != NGX_OK
        || ngx_http_media_credentials(r, a, 0, &rc) != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_media_limit_keys(r, a) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_media_limit(r, a, ngx_http_media_limit_check,
                                ngx_http_media_login_checked);
}


/*
 * media:login:acct:<lowercased email>, media:login:addr:<address>; an
 * account of a named tenant (media_tenant) is its own, apart from the
 * same email's on another site: media:login:tacct:<tenant>:<email> (a
 * tenant's name has no ':')
 */
static ngx_int_t
ngx_http_media_limit_keys(ngx_http_request_t *r, ngx_http_media_account_t *a)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                i;
    ngx_http_media_tenant_t  *tenant;

    tenant = ngx_http_media_tenant(r);

    len = sizeof(MEDIA_KEY_LOGIN_TENANT_ACCOUNT) + tenant->name.len
          + a->email.len;
    a->limit_keys[0].data = ngx_pnalloc(r->pool, len);
    len = sizeof(MEDIA_KEY_LOGIN_ADDRESS) - 1
          + r->connection->addr_text.len;
    a->limit_keys[1].data = ngx_pnalloc(r->pool, len);

    if (a->limit_keys[0].data == NULL || a->limit_keys[1].data == NULL) {
        return NGX_ERROR;
    }

    if (!tenant->is_default) {
        p = ngx_sprintf(a->limit_keys[0].data,
                        MEDIA_KEY_LOGIN_TENANT_ACCOUNT "%V:", &tenant->name);

    } else {
        p = ngx_cpymem(a->limit_keys[0].data, MEDIA_KEY_LOGIN_ACCOUNT,
                       sizeof(MEDIA_KEY_LOGIN_ACCOUNT) - 1);
    }

    for (i = 0; i < a->email.len; i++) {
        *p++ = ngx_tolower(a->email.data[i]);
    }
    a->limit_keys[0].len = p - a->limit_keys[0].data;

    p = ngx_cpymem(a->limit_keys[1].data, MEDIA_KEY_LOGIN_ADDRESS,
                   sizeof(MEDIA_KEY_LOGIN_ADDRESS) - 1);
    p = ngx_cpymem(p, r->connection->addr_text.data,
                   r->connection->addr_text.len);
    a->limit_keys[1].len = p - a->limit_keys[1].data;

    return NGX_OK;
}


static void
ngx_http_media_login_checked(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_account_t  *a = data;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        /* fail closed: an attacker must not win by taking Redis down */
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                  "sign-in is unavailable for a moment "
                                  "(redis: %V); try again", &res->str));
        return;
    }

    if (res->integer > 0) {
        ngx_http_finalize_request(r, ngx_http_media_too_many(r,
                                  res->integer, "too_many_attempts",
                                  "too many failed sign-ins"));
        return;
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_login,
            &a->email, ngx_http_media_login_found, a)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_login_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_account_t  *a = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media login"));
        return;
    }

    a->stored = NGX_HTTP_MEDIA_DUMMY_HASH;

    if (res->nrows == 1) {
        if (ngx_http_media_user_row(r, res, &a->user) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        a->found = 1;
        a->stored = (char *) ngx_http_media_pg_value(res, 0, 4)->data;
        a->banned = ngx_http_media_pg_value(res, 0, 5)->data[0] == 't';
    }

    if (ngx_http_media_pw_start(r, a, 1, ngx_http_media_login_verified)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_login_verified(ngx_http_request_t *r,
    ngx_http_media_account_t *a)
{
    ngx_int_t    rc;
    const char  *argv[2];
    size_t       argvlen[2];
    ngx_str_t    params[3];

    if (!a->found || a->verified != 1) {
        rc = ngx_http_media_limit(r, a, ngx_http_media_limit_fail,
                                  ngx_http_media_login_counted);
        if (rc != NGX_DONE) {
            ngx_http_finalize_request(r, rc);
        }
        return;
    }

    /* the right password, but the account may not sign in */
    if (a->banned) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_FORBIDDEN, "account_banned",
                                  "this account was banned; it cannot "
                                  "sign in"));
        return;
    }

    /* a success clears the account's failures (no need to wait for it) */
    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) a->limit_keys[0].data;
    argvlen[1] = a->limit_keys[0].len;

    (void) ngx_http_media_redis_command(r, ngx_http_media_ignore, NULL, 2,
                                        argv, argvlen);

    if (ngx_http_media_new_refresh(r, a) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params[0] = a->user.id;
    params[1] = a->refresh_hash;
    params[2] = a->ttl;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_session,
            params, ngx_http_media_session_stored, a)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_login_counted(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    /* unknown email and wrong password: one answer, one cost */
    ngx_http_finalize_request(r, ngx_http_media_unauthorized(r,
                              "wrong_credentials",
                              "the email or the password is wrong"));
}


static void
ngx_http_media_session_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_account_t  *a = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media session"));
        return;
    }

    a->user.sid = *ngx_http_media_pg_value(res, 0, 0);

    ngx_http_finalize_request(r, ngx_http_media_session(r, data,
                                                        NGX_HTTP_OK));
}


/* refresh ----------------------------------------------------------------- */

ngx_int_t
ngx_http_media_refresh(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                 *token, params[3];
    ngx_uint_t                 why;
    ngx_http_media_account_t  *a;

    if (ngx_http_media_account(r, &a, &rc) != NGX_OK) {
        return rc;
    }

    token = ngx_http_media_presented_refresh(r, &why);
    if (token == NULL) {
        return ngx_http_media_refresh_refused(r, why);
    }

    if (ngx_http_media_sha256_hex(r, token, &a->old_hash) != NGX_OK
        || ngx_http_media_new_refresh(r, a) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[0] = a->old_hash;
    params[1] = a->refresh_hash;
    params[2] = a->ttl;

    /*
     * Rotation in one statement: the row lock makes a second use of the
     * same token, even a concurrent one, find it rotated.
     */
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_refresh,
            params, ngx_http_media_refresh_rotated, a)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_refresh_rotated(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_str_t                  params[3];
    ngx_http_media_account_t  *a = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media refresh"));
        return;
    }

    if (res->nrows == 1) {
        if (ngx_http_media_user_row(r, res, &a->user) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        ngx_http_finalize_request(r, ngx_http_media_session(r, a,
                                                            NGX_HTTP_OK));
        return;
    }

    params[0] = a->old_hash;
    params[1] = a->revoke_ttl;
    ngx_http_media_client_address(r, &params[2]);

    /*
     * Not live: unknown, expired, revoked, or already used (a leak).  On
     * reuse the family's refresh tokens go, and so do its access tokens:
     * the session is recorded revoked until the last of them expires.
     */
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_refresh_reuse,
            params, ngx_http_media_refresh_reused, a)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_refresh_reused(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    u_char  key[32];

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media refresh reuse"));
        return;
    }

    if (res->nrows > 0) {
        ngx_http_media_session_key(ngx_http_media_pg_value(res, 0, 0), key);
        ngx_http_media_revoked(r, key);

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media refresh reuse: a rotated refresh token was "
                      "presented again; the session and its %V refresh "
                      "tokens revoked", ngx_http_media_pg_value(res, 0, 1));

        ngx_http_finalize_request(r, ngx_http_media_unauthorized(r,
                                  "refresh_reused",
                                  "this refresh token was already used; "
                                  "every session from that sign-in is "
                                  "revoked, sign in again"));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_unauthorized(r,
                              "invalid_refresh",
                              "the refresh token is unknown, expired or "
                              "revoked; sign in again"));
}


/* logout ------------------------------------------------------------------ */

/*
 * Ends the caller's session: our tokens' refresh family (and a refresh
 * token presented with it) and every access token of it; a provider's
 * token by its jti, or by its hash when it has none, until it expires.
 * PostgreSQL records it first; the user cache then refuses it at once.
 */
ngx_int_t
ngx_http_media_logout(ngx_http_request_t *r)
{
    time_t                       left;
    ngx_int_t                    rc;
    ngx_str_t                   *token, params[5], none = ngx_null_string;
    ngx_uint_t                   why;
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_account_t    *a;
    ngx_http_media_main_conf_t  *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (ngx_http_media_account(r, &a, &rc) != NGX_OK) {
        return rc;
    }

    token = ngx_http_media_presented_refresh(r, &why);

    if (why == NGX_HTTP_MEDIA_REFRESH_CROSS_SITE) {
        return ngx_http_media_refresh_refused(r, why);
    }

    if (token && ngx_http_media_sha256_hex(r, token, &a->old_hash) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!ctx->user->local) {
        /* until the token would expire, leeway included */
        left = ctx->user->exp - ngx_time() + (time_t) (mmcf->leeway / 1000)
               + 1;

        a->revoke_ttl.len = ngx_sprintf(a->revoke_ttl.data, "%T",
                                        ngx_max(left, 1))
                            - a->revoke_ttl.data;
    }

    params[0] = ctx->user->local ? ctx->user->sid : none;
    params[1] = ctx->user->id;
    params[2] = token ? a->old_hash : none;
    params[3] = ctx->user->revoke_key;
    params[4] = a->revoke_ttl;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_logout,
            params, ngx_http_media_logout_revoked, a)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_logout_revoked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_ctx_t  *ctx;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media logout"));
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    ngx_http_media_revoked(r, ctx->user->cache_key);

    if (ngx_http_media_set_cookies(r, NULL, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_no_content(r));
}


/* me ---------------------------------------------------------------------- */

/* the access phase read the users row (at most a second ago) */
ngx_int_t
ngx_http_media_me(ngx_http_request_t *r)
{
    yajl_gen               g;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_user(g, ctx->user);
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, NGX_HTTP_OK, g);
}


/* delete ------------------------------------------------------------------ */

/*
 * DELETE /api/v1/me {"password": ...}: the account and what hangs on it
 * go (sql/023_roles.sql's media_account_delete()).  Who holds an access
 * token must prove more to delete: the password of an account that has
 * one (failures count as failed sign-ins), else a provider's token issued
 * under NGX_HTTP_MEDIA_DELETE_RECENT seconds ago.
 */
ngx_int_t
ngx_http_media_me_delete(ngx_http_request_t *r)
{
    ngx_str_t                 *password;
    ngx_http_media_ctx_t      *ctx;
    ngx_http_media_account_t  *a;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_media_account_t));
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    password = ngx_http_media_body_str(r, "password");

    if (password && password->len > MEDIA_PASSWORD_MAX_LEN) {
        return ngx_http_media_field_error(r, "password", "password is too "
                                          "long: at most %d bytes",
                                          MEDIA_PASSWORD_MAX_LEN);
    }

    if (password && password->len) {
        /* a NUL-terminated copy the hashing thread can hold */
        a->password.len = password->len;
        a->password.data = ngx_pnalloc(r->pool, password->len + 1);
        if (a->password.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(a->password.data, password->data, password->len);
        a->password.data[password->len] = '\0';
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_delete_find,
            &ctx->user->id, ngx_http_media_delete_found, a)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_delete_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_account_t  *a = data;

    ngx_int_t              rc;
    ngx_str_t             *hash;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media delete find"));
        return;
    }

    if (res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_unauthorized(r,
                                  "user_gone", "this account no longer "
                                  "exists"));
        return;
    }

    hash = ngx_http_media_pg_value(res, 0, 0);

    if (hash->data == NULL) {
        /* a provider's person: no password of ours to ask for */
        if (ctx->user->local
            || ctx->user->iat + NGX_HTTP_MEDIA_DELETE_RECENT < ngx_time())
        {
            ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                      NGX_HTTP_FORBIDDEN,
                                      "recent_sign_in_required",
                                      "deleting the account needs a "
                                      "sign-in from the last %d minutes: "
                                      "sign in again with your provider, "
                                      "then retry",
                                      NGX_HTTP_MEDIA_DELETE_RECENT / 60));
            return;
        }

        rc = ngx_http_media_delete_run(r, a, "recent_sign_in");
        if (rc != NGX_DONE) {
            ngx_http_finalize_request(r, rc);
        }
        return;
    }

    if (a->password.len == 0) {
        ngx_http_finalize_request(r, ngx_http_media_field_error(r,
                                  "password", "send your password to "
                                  "confirm: {\"password\": \"...\"}"));
        return;
    }

    a->stored = (char *) hash->data;
    a->email = *ngx_http_media_pg_value(res, 0, 1);

    if (a->email.data == NULL) {
        ngx_str_set(&a->email, "");
    }

    if (ngx_http_media_limit_keys(r, a) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_media_limit(r, a, ngx_http_media_limit_check,
                              ngx_http_media_delete_checked);
    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static void
ngx_http_media_delete_checked(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_account_t  *a = data;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                  "the password cannot be checked for a "
                                  "moment (redis: %V); try again",
                                  &res->str));
        return;
    }

    if (res->integer > 0) {
        ngx_http_finalize_request(r, ngx_http_media_too_many(r,
                                  res->integer, "too_many_attempts",
                                  "too many wrong passwords"));
        return;
    }

    if (ngx_http_media_pw_start(r, a, 1, ngx_http_media_delete_verified)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_http_media_delete_verified(ngx_http_request_t *r,
    ngx_http_media_account_t *a)
{
    ngx_int_t  rc;

    if (a->verified != 1) {
        rc = ngx_http_media_limit(r, a, ngx_http_media_limit_fail,
                                  ngx_http_media_delete_counted);
    } else {
        rc = ngx_http_media_delete_run(r, a, "password");
    }

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static void
ngx_http_media_delete_counted(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                              NGX_HTTP_FORBIDDEN, "wrong_password",
                              "the password is wrong; the account was not "
                              "deleted"));
}


/* the deletion and its audit row, in one statement */
static ngx_int_t
ngx_http_media_delete_run(ngx_http_request_t *r, ngx_http_media_account_t *a,
    const char *how)
{
    ngx_str_t              params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    params[0] = ctx->user->id;
    ngx_http_media_client_address(r, &params[1]);
    params[2].data = (u_char *) how;
    params[2].len = ngx_strlen(how);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_delete,
            params, ngx_http_media_deleted, a)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * Gone: every session of it stops on this node at once (the user cache),
 * on the others within a second (their cached copy of the users row
 * expires, and the row is no more: 401 user_gone).
 */
static void
ngx_http_media_deleted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    u_char                 key[32];
    ngx_str_t             *sid;
    ngx_uint_t             i;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media delete"));
        return;
    }

    /* the account's media and profile leave search at once */
    ngx_http_media_search_forget(r);

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_unauthorized(r,
                                  "user_gone", "this account no longer "
                                  "exists"));
        return;
    }

    for (i = 0; i < res->nrows; i++) {
        sid = ngx_http_media_pg_value(res, i, 0);

        if (sid->data) {
            ngx_http_media_session_key(sid, key);
            ngx_http_media_revoked(r, key);
        }
    }

    ngx_http_media_revoked(r, ctx->user->cache_key);

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "media delete: account %V deleted by its owner",
                  &ctx->user->id);

    if (ngx_http_media_set_cookies(r, NULL, NULL) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_no_content(r));
}


/* shared steps ------------------------------------------------------------ */

/*
 * The route's state: NGX_OK.  NGX_DECLINED when the request was answered
 * (this server cannot sign tokens), with that answer's rc in *rc: a sent
 * response may be NGX_OK too, so the two are kept apart.
 */
static ngx_int_t
ngx_http_media_account(ngx_http_request_t *r, ngx_http_media_account_t **ap,
    ngx_int_t *rc)
{
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_account_t    *a;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (mmcf->own_keys == NULL) {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "not_configured", "accounts are "
                                        "off on this server: its nginx.conf "
                                        "has no media_jwt_key");
        return NGX_DECLINED;
    }

    *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_media_account_t));
    if (a == NULL) {
        return NGX_DECLINED;
    }

    a->ttl.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (a->ttl.data == NULL) {
        return NGX_DECLINED;
    }

    a->ttl.len = ngx_sprintf(a->ttl.data, "%T",
                             (time_t) (mmcf->refresh_ttl / 1000))
                 - a->ttl.data;

    /* a revoked session is refused until its last access token expires */
    a->revoke_ttl.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (a->revoke_ttl.data == NULL) {
        return NGX_DECLINED;
    }

    a->revoke_ttl.len = ngx_sprintf(a->revoke_ttl.data, "%T",
                                    (time_t) ((mmcf->access_ttl
                                               + mmcf->leeway) / 1000 + 1))
                        - a->revoke_ttl.data;

    ctx->state = a;
    *ap = a;

    return NGX_OK;
}


/*
 * email and password from the body, checked: NGX_OK, or NGX_DECLINED with
 * the refusal sent and its rc in *rc.  strict (signup) also judges the
 * password's strength; a login only needs both present.
 */
static ngx_int_t
ngx_http_media_credentials(ngx_http_request_t *r, ngx_http_media_account_t *a,
    ngx_uint_t strict, ngx_int_t *rc)
{
    u_char     *p, *at, *end;
    ngx_str_t  *email, *password;

    email = ngx_http_media_body_str(r, "email");
    password = ngx_http_media_body_str(r, "password");

    if (email == NULL) {
        *rc = ngx_http_media_field_error(r, "email", "email is required "
                                         "(a string)");
        return NGX_DECLINED;
    }

    /* trimmed: " Ann@Example.com " is Ann@Example.com */
    p = email->data;
    end = email->data + email->len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    a->email.data = p;
    a->email.len = end - p;

    at = NULL;
    for (p = a->email.data; p < end; p++) {
        if (*p <= ' ' || *p == 0x7f) {
            at = NULL;
            break;
        }
        if (*p == '@') {
            at = p;
        }
    }

    if (a->email.len < 3 || a->email.len > 254 || at == NULL
        || at == a->email.data || at == end - 1
        || ngx_strlchr(at + 1, end, '.') == NULL)
    {
        *rc = ngx_http_media_field_error(r, "email", "email is not an "
                                         "email address (name@domain)");
        return NGX_DECLINED;
    }

    if (password == NULL || password->len == 0) {
        *rc = ngx_http_media_field_error(r, "password", "password is "
                                         "required (a string)");
        return NGX_DECLINED;
    }

    if (password->len > MEDIA_PASSWORD_MAX_LEN) {
        *rc = ngx_http_media_field_error(r, "password", "password is too "
                                         "long: at most %d bytes",
                                         MEDIA_PASSWORD_MAX_LEN);
        return NGX_DECLINED;
    }

    if (strict && password->len < MEDIA_PASSWORD_MIN_LEN) {
        *rc = ngx_http_media_field_error(r, "password", "password is too "
                                         "short: use at least %d "
                                         "characters",
                                         MEDIA_PASSWORD_MIN_LEN);
        return NGX_DECLINED;
    }

    if (strict && password->len == a->email.len
        && ngx_strncasecmp(password->data, a->email.data, password->len)
           == 0)
    {
        *rc = ngx_http_media_field_error(r, "password", "password must not "
                                         "be your email address");
        return NGX_DECLINED;
    }

    /* a NUL-terminated copy the hashing thread can hold */
    a->password.len = password->len;
    a->password.data = ngx_pnalloc(r->pool, password->len + 1);
    if (a->password.data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    ngx_memcpy(a->password.data, password->data, password->len);
    a->password.data[password->len] = '\0';

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_new_refresh(ngx_http_request_t *r, ngx_http_media_account_t *a)
{
    if (ngx_http_media_random(r, 32, &a->refresh) != NGX_OK
        || ngx_http_media_sha256_hex(r, &a->refresh, &a->refresh_hash)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * PBKDF2 takes a few hundred milliseconds: it runs on nginx's thread pool.
 * r->main->blocked keeps the request (and a) alive until the thread is
 * done, even if the client goes away.
 */
static ngx_int_t
ngx_http_media_pw_start(ngx_http_request_t *r, ngx_http_media_account_t *a,
    ngx_uint_t verify, ngx_http_media_pw_done_pt done)
{
#if (NGX_THREADS)
    ngx_thread_task_t            *task;
    ngx_http_media_pw_job_t      *job;

    task = ngx_thread_task_alloc(r->pool, sizeof(ngx_http_media_pw_job_t));
    if (task == NULL) {
        return NGX_ERROR;
    }

    job = task->ctx;
    job->request = r;
    job->account = a;
    job->done = done;
    job->verify = verify;

    return ngx_http_media_thread_post(r, task, ngx_http_media_pw_thread,
                                      ngx_http_media_pw_finished, job);
#else
    return NGX_ERROR;
#endif
}


#if (NGX_THREADS)

/* in a pool thread: touches only a, never the request or its pool */
static void
ngx_http_media_pw_thread(void *data, ngx_log_t *log)
{
    ngx_http_media_pw_job_t   *job = data;
    ngx_http_media_account_t  *a = job->account;

    if (job->verify) {
        a->verified = media_password_verify((char *) a->password.data,
                                            a->password.len, a->stored);
        return;
    }

    if (media_password_hash((char *) a->password.data, a->password.len,
                            MEDIA_PASSWORD_ITERATIONS, a->hash,
                            sizeof(a->hash))
        != 0)
    {
        a->hash[0] = '\0';
    }
}


static void
ngx_http_media_pw_finished(ngx_event_t *ev)
{
    ngx_http_media_pw_job_t  *job = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = job->request;
    c = r->connection;

    r->main->blocked--;

    job->done(r, job->account);

    ngx_http_run_posted_requests(c);
}

#endif


static ngx_int_t
ngx_http_media_limit(ngx_http_request_t *r, ngx_http_media_account_t *a,
    const char *script, ngx_http_media_redis_handler_pt handler)
{
    u_char                      *buf, *p;
    const char                  *argv[8];
    size_t                       argvlen[8];
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    buf = ngx_pnalloc(r->pool, 3 * NGX_INT_T_LEN);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[0] = "EVAL";
    argv[1] = script;
    argv[2] = "2";
    argv[3] = (char *) a->limit_keys[0].data;
    argvlen[3] = a->limit_keys[0].len;
    argv[4] = (char *) a->limit_keys[1].data;
    argvlen[4] = a->limit_keys[1].len;

    /* ARGV: the two limits, the window */
    p = buf;
    argv[5] = (char *) p;
    argvlen[5] = ngx_sprintf(p, "%ui", mmcf->login_account) - p;
    p += argvlen[5];
    argv[6] = (char *) p;
    argvlen[6] = ngx_sprintf(p, "%ui", mmcf->login_address) - p;
    p += argvlen[6];
    argv[7] = (char *) p;
    argvlen[7] = ngx_sprintf(p, "%M", mmcf->login_window) - p;

    argvlen[0] = 4;
    argvlen[1] = ngx_strlen(script);
    argvlen[2] = 1;

    if (ngx_http_media_redis_command(r, handler, a, 8, argv, argvlen)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/*
 * The refresh token from the body or, failing that, the cookie; a cookie
 * on this POST is only taken from our own pages.  NULL with *why set.
 */
static ngx_str_t *
ngx_http_media_presented_refresh(ngx_http_request_t *r, ngx_uint_t *why)
{
    ngx_str_t  *token;

    *why = 0;

    token = ngx_http_media_body_str(r, "refresh_token");

    if (token == NULL) {
        token = ngx_http_media_refresh_cookie(r);

        if (token && ngx_http_media_same_origin(r) != NGX_OK) {
            *why = NGX_HTTP_MEDIA_REFRESH_CROSS_SITE;
            return NULL;
        }
    }

    if (token == NULL) {
        *why = NGX_HTTP_MEDIA_REFRESH_MISSING;
        return NULL;
    }

    /* our tokens have one shape; anything else needs no database */
    if (token->len != NGX_HTTP_MEDIA_REFRESH_LEN) {
        *why = NGX_HTTP_MEDIA_REFRESH_MALFORMED;
        return NULL;
    }

    return token;
}


static ngx_int_t
ngx_http_media_refresh_refused(ngx_http_request_t *r, ngx_uint_t why)
{
    switch (why) {

    case NGX_HTTP_MEDIA_REFRESH_CROSS_SITE:
        return ngx_http_media_send_error(r, NGX_HTTP_FORBIDDEN,
                                         "cross_site_request",
                                         "the refresh cookie is only "
                                         "accepted from this site "
                                         "(Origin does not match Host)");

    case NGX_HTTP_MEDIA_REFRESH_MALFORMED:
        return ngx_http_media_unauthorized(r, "invalid_refresh",
                                           "the refresh token is "
                                           "malformed; sign in again");

    default:
        return ngx_http_media_unauthorized(r, "missing_refresh_token",
                                           "send {\"refresh_token\": ...} "
                                           "or the media_refresh cookie");
    }
}


/* id, email, role, plan from columns 0..3 of the first row; a session's
 * rows add its family id as column 4 */
static ngx_int_t
ngx_http_media_user_row(ngx_http_request_t *r, ngx_http_media_pg_result_t *res,
    ngx_http_media_user_t *u)
{
    if (res->ncols < 4 || res->nrows < 1) {
        return NGX_ERROR;
    }

    u->id = *ngx_http_media_pg_value(res, 0, 0);
    u->email = *ngx_http_media_pg_value(res, 0, 1);
    u->role = *ngx_http_media_pg_value(res, 0, 2);
    u->plan = *ngx_http_media_pg_value(res, 0, 3);
    u->local = 1;

    if (res->ncols > 4) {
        u->sid = *ngx_http_media_pg_value(res, 0, 4);
    }

    return NGX_OK;
}


/* {user, access_token, refresh_token, expires_in} and both cookies */
static ngx_int_t
ngx_http_media_session(ngx_http_request_t *r, ngx_http_media_account_t *a,
    ngx_uint_t status)
{
    yajl_gen                     g;
    ngx_str_t                   *access, bearer = ngx_string("Bearer");
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    access = ngx_http_media_issue_access(r, &a->user);
    if (access == NULL
        || ngx_http_media_set_cookies(r, access, &a->refresh) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_user(g, &a->user);
    ngx_http_media_json_str(g, "access_token", access);
    ngx_http_media_json_str(g, "refresh_token", &a->refresh);
    ngx_http_media_json_str(g, "token_type", &bearer);
    yajl_gen_string(g, (const unsigned char *) "expires_in", 10);
    yajl_gen_integer(g, (long long) (mmcf->access_ttl / 1000));
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, status, g);
}


static void
ngx_http_media_json_user(yajl_gen g, ngx_http_media_user_t *u)
{
    yajl_gen_string(g, (const unsigned char *) "user", 4);
    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "id", &u->id);
    ngx_http_media_json_str(g, "email", &u->email);
    ngx_http_media_json_str(g, "role", &u->role);
    ngx_http_media_json_str(g, "plan", &u->plan);
    yajl_gen_map_close(g);
}


static void
ngx_http_media_ignore(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    /* a step that needs no answer: the request finishes on its own */
}
