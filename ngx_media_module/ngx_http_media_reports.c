/*
 * The reports room.
 *
 *   POST /api/v1/reports {target_type, target_id, reason, details?,
 *       evidence_urls?, contact_email?, work_claimed?, claimant?,
 *       good_faith?}
 *       signed in; or anonymous for a copyright notice only, with
 *       contact_email.  A copyright notice needs work_claimed, claimant
 *       and good_faith: true.  The members: 422 naming the field; then the
 *       rates (Redis): the reporter's, then the address's: 429 with
 *       Retry-After; then one statement (media_report_create, sql/025):
 *       the target is there for the reporter (404), one open report per
 *       reporter and target (409), the row: 201.
 *   POST /api/v1/reports/{id}/appeal {statement, name, contact,
 *       good_faith: true, consent_jurisdiction: true}
 *       the counter-notice, by the uploader of the reported media, once.
 *   GET /api/v1/me/notices
 *       the user's last 50 notices (warnings, suspensions, takedowns of
 *       their media), newest first, and how many are unseen.
 *   POST /api/v1/me/notices/{id}/seen
 *       204; a notice of someone else's: 404.
 *   POST /api/v1/media/{id}/publish {privacy?}
 *       a draft becomes what it was to be (or privacy: public, unlisted,
 *       private); its owner's only (404); not a draft: 409.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_auth.h"
#include "ngx_http_media_moderation.h"
#include "ngx_http_media_reports.h"


#define NGX_HTTP_MEDIA_REPORT_USER_RATE   10       /* reports a window */
#define NGX_HTTP_MEDIA_REPORT_ADDR_RATE   30
#define NGX_HTTP_MEDIA_REPORT_WINDOW      600000   /* ms */

#define NGX_HTTP_MEDIA_KEY_REPORT_USER    "media:report:user:"  /* + id */
#define NGX_HTTP_MEDIA_KEY_REPORT_ADDR    "media:report:addr:"  /* + addr */

#define NGX_HTTP_MEDIA_EVIDENCE_MAX       10
#define NGX_HTTP_MEDIA_URL_MAX            2000


typedef struct {
    ngx_str_t    params[11];
    ngx_str_t    user_key;       /* empty: anonymous */
    ngx_str_t    addr_key;
} ngx_http_media_report_t;


static ngx_int_t ngx_http_media_report_evidence(ngx_http_request_t *r,
    ngx_str_t *out, ngx_int_t *rc);
static ngx_int_t ngx_http_media_report_true(ngx_http_request_t *r,
    const char *name, const char *what, ngx_int_t *rc);
static ngx_int_t ngx_http_media_report_limit(ngx_http_request_t *r,
    ngx_http_media_report_t *rep, ngx_str_t *key, ngx_uint_t limit);
static void ngx_http_media_report_limited(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_notices_read(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_notice_marked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_key(ngx_http_request_t *r, ngx_str_t *key,
    const char *prefix, size_t len, ngx_str_t *what);


static ngx_http_media_pg_stmt_t  ngx_http_media_sql_report_create =
    ngx_http_media_pg_stmt("reports_create", 11,
        "SELECT " NGX_HTTP_MEDIA_ANSWER_COLUMNS
        " FROM media_report_create($1, $2, $3, $4, $5, $6, $7, $8, $9,"
        "                          $10, $11)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_report_appeal =
    ngx_http_media_pg_stmt("reports_appeal", 6,
        "SELECT " NGX_HTTP_MEDIA_ANSWER_COLUMNS
        " FROM media_report_appeal($1, $2, $3, $4, $5, $6)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_notices =
    ngx_http_media_pg_stmt("reports_notices", 1,
        "SELECT json_build_object("
        "  'items', coalesce(json_agg(json_build_object("
        "     'id', n.id, 'kind', n.kind, 'message', n.message,"
        "     'target_type', n.target_type, 'target_id', n.target_id,"
        "     'report_id', n.report_id, 'until', media_iso8601(n.until),"
        "     'created_at', media_iso8601(n.created_at),"
        "     'seen_at', media_iso8601(n.seen_at))"
        "   ORDER BY n.created_at DESC, n.id), '[]'),"
        "  'unseen', count(*) FILTER (WHERE n.seen_at IS NULL),"
        "  'suspended_until', (SELECT media_iso8601(suspended_until)"
        "                        FROM users WHERE id = $1"
        "                         AND suspended_until > now()))"
        " FROM (SELECT * FROM user_notices WHERE user_id = $1"
        "        ORDER BY created_at DESC LIMIT 50) n");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_notice_seen =
    ngx_http_media_pg_stmt("reports_notice_seen", 2,
        "UPDATE user_notices SET seen_at = coalesce(seen_at, now())"
        " WHERE id = $2 AND user_id = $1 RETURNING id");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_publish =
    ngx_http_media_pg_stmt("reports_publish", 3,
        "SELECT " NGX_HTTP_MEDIA_ANSWER_COLUMNS
        " FROM media_publish($1, $2, $3)");


/* POST /api/v1/reports ---------------------------------------------------- */

ngx_int_t
ngx_http_media_report_create(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_str_t                 type, id, reason, details, email, work;
    ngx_str_t                 claimant, evidence, *addr;
    ngx_uint_t                i, copyright, at;
    ngx_http_media_ctx_t     *ctx;
    ngx_http_media_report_t  *rep;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_moderation_target(r, &type, &id, &rc) != NGX_OK) {
        return rc;
    }

    if (ngx_http_media_moderation_str(r, "reason", 16, 1, &reason, &rc)
        != NGX_OK)
    {
        return rc;
    }

    copyright = (reason.len == 9
                 && ngx_strncmp(reason.data, "copyright", 9) == 0);

    if (!(copyright
          || (reason.len == 5 && ngx_strncmp(reason.data, "abuse", 5) == 0)
          || (reason.len == 4 && ngx_strncmp(reason.data, "spam", 4) == 0)
          || (reason.len == 5 && ngx_strncmp(reason.data, "other", 5) == 0)))
    {
        return ngx_http_media_field_error(r, "reason", "reason must be "
                                          "copyright, abuse, spam or other");
    }

    if (ctx->user == NULL && !copyright) {
        return ngx_http_media_unauthorized(r, "missing_token", "sign in to "
                                           "report; without an account only "
                                           "a copyright notice is taken "
                                           "(reason copyright, with "
                                           "contact_email, work_claimed, "
                                           "claimant and good_faith)");
    }

    if (ngx_http_media_moderation_str(r, "details", 5000, 0, &details, &rc)
        != NGX_OK
        || ngx_http_media_moderation_str(r, "contact_email", 254,
                                         ctx->user == NULL, &email, &rc)
           != NGX_OK
        || ngx_http_media_moderation_str(r, "work_claimed", 2000, copyright,
                                         &work, &rc)
           != NGX_OK
        || ngx_http_media_moderation_str(r, "claimant", 200, copyright,
                                         &claimant, &rc)
           != NGX_OK)
    {
        return rc;
    }

    if (email.data) {
        at = 0;

        for (i = 0; i < email.len; i++) {
            if (email.data[i] == '@') {
                at = i;
            }

            if (email.data[i] <= ' ') {
                break;
            }
        }

        if (i < email.len || at == 0 || at == email.len - 1
            || ngx_strlchr(email.data + at, email.data + email.len, '.')
               == NULL)
        {
            return ngx_http_media_field_error(r, "contact_email",
                                              "contact_email is not an "
                                              "email address (name@host)");
        }
    }

    if (copyright) {
        if (ngx_http_media_report_true(r, "good_faith", "a copyright "
                                       "notice must state, as "
                                       "good_faith: true, that you believe "
                                       "in good faith the use is not "
                                       "authorized by the owner, its agent "
                                       "or the law, and that the notice is "
                                       "accurate", &rc)
            != NGX_OK)
        {
            return rc;
        }

    } else if (ngx_http_media_body_value(r, "good_faith")
               || work.data || claimant.data)
    {
        return ngx_http_media_field_error(r, work.data ? "work_claimed"
                                          : claimant.data ? "claimant"
                                          : "good_faith",
                                          "work_claimed, claimant and "
                                          "good_faith belong to a copyright "
                                          "notice (reason copyright)");
    }

    if (ngx_http_media_report_evidence(r, &evidence, &rc) != NGX_OK) {
        return rc;
    }

    rep = ngx_pcalloc(r->pool, sizeof(ngx_http_media_report_t));
    if (rep == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->user) {
        rep->params[0] = ctx->user->id;
    }

    rep->params[1] = type;
    rep->params[2] = id;
    rep->params[3] = reason;
    rep->params[4] = details;
    rep->params[5] = evidence;
    rep->params[6] = email;
    rep->params[7] = work;
    rep->params[8] = claimant;
    if (copyright) {
        ngx_str_set(&rep->params[9], "true");
    }
    ngx_http_media_client_address(r, &rep->params[10]);

    addr = &r->connection->addr_text;

    if (ngx_http_media_key(r, &rep->addr_key, NGX_HTTP_MEDIA_KEY_REPORT_ADDR,
                           sizeof(NGX_HTTP_MEDIA_KEY_REPORT_ADDR) - 1, addr)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->user) {
        if (ngx_http_media_key(r, &rep->user_key,
                               NGX_HTTP_MEDIA_KEY_REPORT_USER,
                               sizeof(NGX_HTTP_MEDIA_KEY_REPORT_USER) - 1,
                               &ctx->user->id)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        rc = ngx_http_media_report_limit(r, rep, &rep->user_key,
                                         NGX_HTTP_MEDIA_REPORT_USER_RATE);

    } else {
        rc = ngx_http_media_report_limit(r, rep, &rep->addr_key,
                                         NGX_HTTP_MEDIA_REPORT_ADDR_RATE);
    }

    return rc;
}


/*
 * evidence_urls: up to 10 http(s) URLs, as a PostgreSQL array literal.
 * NGX_ERROR: refused, the answer sent and its rc in *rc.
 */
static ngx_int_t
ngx_http_media_report_evidence(ngx_http_request_t *r, ngx_str_t *out,
    ngx_int_t *rc)
{
    u_char      *p, *s;
    size_t       len, n, j;
    yajl_val     v, e;
    ngx_uint_t   i;

    ngx_str_null(out);

    v = ngx_http_media_body_value(r, "evidence_urls");
    if (v == NULL || YAJL_IS_NULL(v)) {
        return NGX_OK;
    }

    if (!YAJL_IS_ARRAY(v)) {
        *rc = ngx_http_media_field_error(r, "evidence_urls", "evidence_urls "
                                         "must be an array of URLs");
        return NGX_ERROR;
    }

    n = v->u.array.len;

    if (n > NGX_HTTP_MEDIA_EVIDENCE_MAX) {
        *rc = ngx_http_media_field_error(r, "evidence_urls", "evidence_urls "
                                         "holds %uz URLs; at most %d are "
                                         "taken", n,
                                         NGX_HTTP_MEDIA_EVIDENCE_MAX);
        return NGX_ERROR;
    }

    len = 2;

    for (i = 0; i < n; i++) {
        e = v->u.array.values[i];

        if (!YAJL_IS_STRING(e)) {
            *rc = ngx_http_media_field_error(r, "evidence_urls",
                                             "evidence_urls[%ui] is not a "
                                             "string", i);
            return NGX_ERROR;
        }

        s = (u_char *) YAJL_GET_STRING(e);
        j = ngx_strlen(s);

        if (j > NGX_HTTP_MEDIA_URL_MAX
            || !((j > 7 && ngx_strncasecmp(s, (u_char *) "http://", 7) == 0)
                 || (j > 8
                     && ngx_strncasecmp(s, (u_char *) "https://", 8) == 0)))
        {
            *rc = ngx_http_media_field_error(r, "evidence_urls",
                                             "evidence_urls[%ui] is not an "
                                             "http or https URL of at most "
                                             "%d characters", i,
                                             NGX_HTTP_MEDIA_URL_MAX);
            return NGX_ERROR;
        }

        for (j = 0; s[j]; j++) {
            if (s[j] <= ' ' || s[j] == 0x7f) {
                *rc = ngx_http_media_field_error(r, "evidence_urls",
                                                 "evidence_urls[%ui] holds "
                                                 "a space or a control "
                                                 "character", i);
                return NGX_ERROR;
            }
        }

        len += 2 * j + 3;
    }

    out->data = ngx_pnalloc(r->pool, len);
    if (out->data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    p = out->data;
    *p++ = '{';

    for (i = 0; i < n; i++) {
        s = (u_char *) YAJL_GET_STRING(v->u.array.values[i]);

        if (i) {
            *p++ = ',';
        }

        *p++ = '"';

        for ( /* void */ ; *s; s++) {
            if (*s == '"' || *s == '\\') {
                *p++ = '\\';
            }
            *p++ = *s;
        }

        *p++ = '"';
    }

    *p++ = '}';
    out->len = p - out->data;

    return NGX_OK;
}


/* a member that must be true: NGX_OK, else the 422 sent, its rc in *rc */
static ngx_int_t
ngx_http_media_report_true(ngx_http_request_t *r, const char *name,
    const char *what, ngx_int_t *rc)
{
    yajl_val  v;

    v = ngx_http_media_body_value(r, name);

    if (v && YAJL_IS_TRUE(v)) {
        return NGX_OK;
    }

    *rc = ngx_http_media_field_error(r, name, "%s must be true: %s", name,
                                    what);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_media_key(ngx_http_request_t *r, ngx_str_t *key, const char *prefix,
    size_t len, ngx_str_t *what)
{
    key->len = len + what->len;
    key->data = ngx_pnalloc(r->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(key->data, prefix, len), what->data, what->len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_report_limit(ngx_http_request_t *r,
    ngx_http_media_report_t *rep, ngx_str_t *key, ngx_uint_t limit)
{
    if (ngx_http_media_redis_limit(r, key, limit,
                                   NGX_HTTP_MEDIA_REPORT_WINDOW,
                                   ngx_http_media_report_limited, rep)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* the reporter's rate, then the address's, then the statement */
static void
ngx_http_media_report_limited(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_report_t  *rep = data;

    ngx_int_t    rc;
    ngx_uint_t   user;

    /* which rate answered: the user's comes first, when there is one */
    user = rep->user_key.len != 0;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        /* open: a report is a row, and Redis being away is logged */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media report rate: not checked (redis: %V), "
                      "request_id: %V", &res->str,
                      ngx_http_media_request_id(r));

    } else if (res->integer > 0) {
        ngx_http_finalize_request(r, ngx_http_media_too_many(r,
                                  res->integer, "rate_limited",
                                  "%s may send %d reports in %d minutes",
                                  user ? "an account" : "an address",
                                  user ? NGX_HTTP_MEDIA_REPORT_USER_RATE
                                       : NGX_HTTP_MEDIA_REPORT_ADDR_RATE,
                                  NGX_HTTP_MEDIA_REPORT_WINDOW / 60000));
        return;
    }

    if (user) {
        /* the address's rate next */
        ngx_str_null(&rep->user_key);

        rc = ngx_http_media_report_limit(r, rep, &rep->addr_key,
                                         NGX_HTTP_MEDIA_REPORT_ADDR_RATE);
        if (rc != NGX_DONE) {
            ngx_http_finalize_request(r, rc);
        }

        return;
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_report_create,
                                rep->params,
                                ngx_http_media_moderation_answered,
                                "media report")
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* POST /api/v1/reports/{id}/appeal --------------------------------------- */

ngx_int_t
ngx_http_media_report_appeal(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t             *params;
    ngx_uint_t             i;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    for (i = 0; i < ctx->capture.len; i++) {
        if (ctx->capture.data[i] < '0' || ctx->capture.data[i] > '9') {
            break;
        }
    }

    if (ctx->capture.len == 0 || ctx->capture.len > 18
        || i < ctx->capture.len)
    {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such report");
    }

    params = ngx_pcalloc(r->pool, 6 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_media_moderation_str(r, "statement", 5000, 1, &params[2],
                                      &rc)
        != NGX_OK
        || ngx_http_media_moderation_str(r, "name", 200, 1, &params[3], &rc)
           != NGX_OK
        || ngx_http_media_moderation_str(r, "contact", 500, 1, &params[4],
                                         &rc)
           != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_media_report_true(r, "good_faith", "state, under penalty "
                                   "of perjury, that you believe in good "
                                   "faith the media was removed by mistake "
                                   "or misidentification", &rc)
        != NGX_OK
        || ngx_http_media_report_true(r, "consent_jurisdiction", "consent "
                                      "to the jurisdiction of the court for "
                                      "your address, and to accept service "
                                      "from the claimant", &rc)
           != NGX_OK)
    {
        return rc;
    }

    params[0] = ctx->capture;
    params[1] = ctx->user->id;
    ngx_http_media_client_address(r, &params[5]);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_report_appeal, params,
                                ngx_http_media_moderation_answered,
                                "media report appeal")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* GET /api/v1/me/notices -------------------------------------------------- */

ngx_int_t
ngx_http_media_notices(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_notices,
                                &ctx->user->id, ngx_http_media_notices_read,
                                NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_notices_read(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1
        || ngx_http_media_pg_value(res, 0, 0)->data == NULL)
    {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media notices"));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_send_json(r, NGX_HTTP_OK,
                              ngx_http_media_pg_value(res, 0, 0)));
}


/* POST /api/v1/me/notices/{id}/seen -------------------------------------- */

ngx_int_t
ngx_http_media_notice_seen(ngx_http_request_t *r)
{
    ngx_str_t             *params;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such notice");
    }

    params = ngx_palloc(r->pool, 2 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_notice_seen, params,
                                ngx_http_media_notice_marked, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_notice_marked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media notice seen"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such notice"));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_no_content(r));
}


/* POST /api/v1/media/{id}/publish ---------------------------------------- */

ngx_int_t
ngx_http_media_publish(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t             *params;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    params = ngx_pcalloc(r->pool, 3 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->json
        && ngx_http_media_moderation_str(r, "privacy", 16, 0, &params[2],
                                         &rc)
           != NGX_OK)
    {
        return rc;
    }

    if (params[2].data
        && !((params[2].len == 6
              && ngx_strncmp(params[2].data, "public", 6) == 0)
             || (params[2].len == 8
                 && ngx_strncmp(params[2].data, "unlisted", 8) == 0)
             || (params[2].len == 7
                 && ngx_strncmp(params[2].data, "private", 7) == 0)))
    {
        return ngx_http_media_field_error(r, "privacy", "privacy must be "
                                          "public, unlisted or private");
    }

    params[0] = ctx->capture;
    params[1] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_publish, params,
                                ngx_http_media_moderation_answered,
                                "media publish")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}
