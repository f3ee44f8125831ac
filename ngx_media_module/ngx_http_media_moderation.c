/*
 * The moderators' room (moderators and admins: NGX_HTTP_MEDIA_MODERATOR).
 *
 *   GET /api/v1/admin/reports?status=open|actioned|dismissed&cursor=C
 *       the queue, oldest first, each report with its target summarized
 *       (media_report_json, sql/025); the cursor is the last report's id.
 *   POST /api/v1/admin/actions {target_type, target_id, action, reason,
 *       report_id?, until?}
 *       action: takedown, restore (a media or a comment), warn, suspend
 *       (until required), unsuspend, ban, unban (a user, or the owner of
 *       a media, the author of a comment), dismiss (report_id required).
 *       The members are checked here (422 naming the field), the rest in
 *       one statement, media_moderate(), which writes the change, the
 *       notice, the report's status and the audit row in one transaction.
 *       Once it has committed: the message for the blocked set is
 *       PUBLISHed on media:blocked ("+m <id>", "-m", "+u", "-u"), and the
 *       user cache's entries of the user's sessions are dropped on this
 *       node, so that a suspension or a ban counts from the next request
 *       (on other nodes when their entries are a second old).
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


#define NGX_HTTP_MEDIA_REPORTS_PAGE   50
#define NGX_HTTP_MEDIA_REPORTS_MAX    200
#define NGX_HTTP_MEDIA_REASON_MAX     2000

#define NGX_HTTP_MEDIA_BLOCKED_CHANNEL  "media:blocked"


/* an answer row kept until the PUBLISH is answered */
typedef struct {
    ngx_uint_t      status;
    ngx_str_t       code;
    ngx_str_t       field;
    ngx_str_t       message;
    ngx_str_t       body;
    ngx_str_t       publish;
    const char     *site;
} ngx_http_media_answer_t;


static void ngx_http_media_reports_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_answer_published(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static ngx_int_t ngx_http_media_answer_send(ngx_http_request_t *r,
    ngx_http_media_answer_t *a);
static void ngx_http_media_forget_sessions(ngx_http_request_t *r,
    ngx_str_t *keys);


static ngx_http_media_pg_stmt_t  ngx_http_media_sql_reports =
    ngx_http_media_pg_stmt("moderation_reports", 6,
        "SELECT id::text, report FROM media_admin_reports($1, $2, $3,"
        "  $4::bigint, $5::integer, $6::inet)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_action =
    ngx_http_media_pg_stmt("moderation_action", 10,
        "SELECT " NGX_HTTP_MEDIA_ANSWER_COLUMNS
        " FROM media_moderate($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");


/* GET /api/v1/admin/reports ---------------------------------------------- */

ngx_int_t
ngx_http_media_admin_reports(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              status, cursor, limit, *params;
    ngx_uint_t             n, i;
    ngx_http_media_ctx_t  *ctx;

    if (ngx_http_arg(r, (u_char *) "status", 6, &status) != NGX_OK) {
        ngx_str_set(&status, "open");
    }

    if (!((status.len == 4 && ngx_strncmp(status.data, "open", 4) == 0)
          || (status.len == 8
              && ngx_strncmp(status.data, "actioned", 8) == 0)
          || (status.len == 9
              && ngx_strncmp(status.data, "dismissed", 9) == 0)))
    {
        return ngx_http_media_field_error(r, "status", "status must be "
                                          "open, actioned or dismissed");
    }

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_REPORTS_PAGE,
                                 NGX_HTTP_MEDIA_REPORTS_MAX, &n, &cursor,
                                 &limit, &rc)
        != NGX_OK)
    {
        return rc;
    }

    for (i = 0; i < cursor.len; i++) {
        if (cursor.data[i] < '0' || cursor.data[i] > '9' || i >= 18) {
            return ngx_http_media_field_error(r, "cursor", "cursor is not "
                                              "one this list gave: pass "
                                              "next_cursor as it came");
        }
    }

    params = ngx_palloc(r->pool, 6 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the reader, for the read's own audit row ('admin.read') */
    ctx = ngx_http_media_get_ctx(r);

    params[0] = ctx->user->id;
    params[1] = ctx->user->role;
    params[2] = status;
    params[3] = cursor;     /* none: data NULL, SQL NULL */
    params[4] = limit;
    ngx_http_media_client_address(r, &params[5]);

    if (cursor.len == 0) {
        ngx_str_null(&params[3]);
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_reports, params,
                                ngx_http_media_reports_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_reports_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_page(r, res,
                              (ngx_uint_t) (uintptr_t) data,
                              "media admin reports"));
}


/* POST /api/v1/admin/actions --------------------------------------------- */

ngx_int_t
ngx_http_media_admin_action(ngx_http_request_t *r)
{
    u_char                *p;
    yajl_val               v;
    ngx_int_t              rc;
    ngx_str_t             *params, type, id, action, reason, until;
    ngx_uint_t             i;
    ngx_http_media_ctx_t  *ctx;
    ngx_http_media_main_conf_t  *mmcf;

    static const char  *actions[] = { "takedown", "restore", "warn",
                                      "suspend", "unsuspend", "ban",
                                      "unban", "dismiss", NULL };

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (ngx_http_media_moderation_target(r, &type, &id, &rc) != NGX_OK
        || ngx_http_media_moderation_str(r, "action", 16, 1, &action, &rc)
           != NGX_OK
        || ngx_http_media_moderation_str(r, "reason",
                                         NGX_HTTP_MEDIA_REASON_MAX, 1,
                                         &reason, &rc)
           != NGX_OK
        || ngx_http_media_moderation_str(r, "until", 64, 0, &until, &rc)
           != NGX_OK)
    {
        return rc;
    }


    for (i = 0; actions[i]; i++) {
        if (action.len == ngx_strlen(actions[i])
            && ngx_strncmp(action.data, actions[i], action.len) == 0)
        {
            break;
        }
    }

    if (actions[i] == NULL) {
        return ngx_http_media_field_error(r, "action", "action must be one "
                                          "of takedown, restore, warn, "
                                          "suspend, unsuspend, ban, unban, "
                                          "dismiss");
    }

    for (i = 0; i < reason.len; i++) {
        if (reason.data[i] != ' ' && reason.data[i] != '\t'
            && reason.data[i] != '\n')
        {
            break;
        }
    }

    if (i == reason.len) {
        return ngx_http_media_field_error(r, "reason", "reason is empty; "
                                          "say why: it is recorded in the "
                                          "audit trail and shown to the "
                                          "user");
    }

    params = ngx_pcalloc(r->pool, 10 * sizeof(ngx_str_t));
    if (params == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* report_id: a whole number, or absent */
    v = ngx_http_media_body_value(r, "report_id");

    if (v && !YAJL_IS_NULL(v)) {
        if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 1) {
            return ngx_http_media_field_error(r, "report_id", "report_id "
                                              "must be the id (a whole "
                                              "number) of a report");
        }

        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        params[6].data = p;
        params[6].len = ngx_sprintf(p, "%L", (int64_t) YAJL_GET_INTEGER(v))
                        - p;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    params[0] = ctx->user->id;
    params[1] = ctx->user->role;
    params[2] = type;
    params[3] = id;
    params[4] = action;
    params[5] = reason;
    params[7] = until;
    ngx_http_media_client_address(r, &params[8]);
    params[9].data = p;
    params[9].len = ngx_sprintf(p, "%M", mmcf->access_ttl / 1000 + 60) - p;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_action, params,
                                ngx_http_media_moderation_answered,
                                "media admin action")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* the answer kit ---------------------------------------------------------- */

ngx_int_t
ngx_http_media_moderation_str(ngx_http_request_t *r, const char *name,
    size_t max, ngx_uint_t required, ngx_str_t *out, ngx_int_t *rc)
{
    size_t      chars;
    yajl_val    v;
    ngx_uint_t  i;

    ngx_str_null(out);

    v = ngx_http_media_body_value(r, name);

    if (v == NULL || YAJL_IS_NULL(v)) {
        if (!required) {
            return NGX_OK;
        }

        *rc = ngx_http_media_field_error(r, name, "%s is required", name);
        return NGX_ERROR;
    }

    if (!YAJL_IS_STRING(v)) {
        *rc = ngx_http_media_field_error(r, name, "%s must be a string",
                                         name);
        return NGX_ERROR;
    }

    out->data = (u_char *) YAJL_GET_STRING(v);
    out->len = ngx_strlen(out->data);

    /* UTF-8 (the parser checked it): count the bytes that start one */
    chars = 0;
    for (i = 0; i < out->len; i++) {
        if ((out->data[i] & 0xc0) != 0x80) {
            chars++;
        }

        if (out->data[i] < 0x20 && out->data[i] != '\n'
            && out->data[i] != '\t')
        {
            *rc = ngx_http_media_field_error(r, name, "%s holds a control "
                                             "character (only line feeds "
                                             "and tabs may be used)", name);
            return NGX_ERROR;
        }
    }

    if (chars > max) {
        *rc = ngx_http_media_field_error(r, name, "%s is %uz characters; "
                                         "at most %uz are taken", name,
                                         chars, max);
        return NGX_ERROR;
    }

    if (required && out->len == 0) {
        *rc = ngx_http_media_field_error(r, name, "%s is empty", name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* target_type (media, comment or user) and target_id (its UUID) */
ngx_int_t
ngx_http_media_moderation_target(ngx_http_request_t *r, ngx_str_t *type,
    ngx_str_t *id, ngx_int_t *rc)
{
    if (ngx_http_media_moderation_str(r, "target_type", 16, 1, type, rc)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (!((type->len == 5 && ngx_strncmp(type->data, "media", 5) == 0)
          || (type->len == 7 && ngx_strncmp(type->data, "comment", 7) == 0)
          || (type->len == 4 && ngx_strncmp(type->data, "user", 4) == 0)))
    {
        *rc = ngx_http_media_field_error(r, "target_type", "target_type "
                                         "must be media, comment or user");
        return NGX_ERROR;
    }

    if (ngx_http_media_moderation_str(r, "target_id", 64, 1, id, rc)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_media_is_uuid(id) != NGX_OK) {
        *rc = ngx_http_media_field_error(r, "target_id", "target_id must be "
                                         "the id (a UUID) of the %V", type);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_media_moderation_answered(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    const char  *site = data;

    size_t                    len;
    ngx_int_t                 status;
    const char               *argv[3];
    size_t                    argvlen[3];
    ngx_http_media_answer_t  *a;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1
        || res->ncols != 7 || ngx_http_media_pg_value(res, 0, 0)->data == NULL)
    {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res, site));
        return;
    }

    a = ngx_pcalloc(r->pool, sizeof(ngx_http_media_answer_t));
    if (a == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    status = ngx_atoi(ngx_http_media_pg_value(res, 0, 0)->data,
                      ngx_http_media_pg_value(res, 0, 0)->len);
    if (status < 200 || status > 599) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res, site));
        return;
    }

    a->status = status;
    a->code = *ngx_http_media_pg_value(res, 0, 1);
    a->field = *ngx_http_media_pg_value(res, 0, 2);
    a->message = *ngx_http_media_pg_value(res, 0, 3);
    a->body = *ngx_http_media_pg_value(res, 0, 4);
    a->publish = *ngx_http_media_pg_value(res, 0, 5);
    a->site = site;

    /* committed: the cache, then the other nodes */
    ngx_http_media_forget_sessions(r, ngx_http_media_pg_value(res, 0, 6));

    if (a->publish.len == 0) {
        ngx_http_finalize_request(r, ngx_http_media_answer_send(r, a));
        return;
    }

    /* one message an action at most: "+m <id>" and the like */
    len = a->publish.len;

    argv[0] = "PUBLISH";
    argvlen[0] = 7;
    argv[1] = NGX_HTTP_MEDIA_BLOCKED_CHANNEL;
    argvlen[1] = sizeof(NGX_HTTP_MEDIA_BLOCKED_CHANNEL) - 1;
    argv[2] = (const char *) a->publish.data;
    argvlen[2] = len;

    if (ngx_http_media_redis_command(r, ngx_http_media_answer_published, a,
                                     3, argv, argvlen)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "%s: PUBLISH %s \"%V\" not sent; the blocked set "
                      "learns it when it reloads, request_id: %V", site,
                      NGX_HTTP_MEDIA_BLOCKED_CHANNEL, &a->publish,
                      ngx_http_media_request_id(r));

        ngx_http_finalize_request(r, ngx_http_media_answer_send(r, a));
    }
}


static void
ngx_http_media_answer_published(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_answer_t  *a = data;

    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        /* the change is committed: the sets catch up when they reload */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "%s: PUBLISH %s \"%V\" failed (%V); the blocked set "
                      "learns it when it reloads, request_id: %V", a->site,
                      NGX_HTTP_MEDIA_BLOCKED_CHANNEL, &a->publish, &res->str,
                      ngx_http_media_request_id(r));
    }

    ngx_http_finalize_request(r, ngx_http_media_answer_send(r, a));
}


static ngx_int_t
ngx_http_media_answer_send(ngx_http_request_t *r, ngx_http_media_answer_t *a)
{
    ngx_str_t  none = ngx_string("");

    if (a->status == NGX_HTTP_OK || a->status == NGX_HTTP_CREATED) {
        if (a->body.data == NULL) {
            return ngx_http_media_internal(r, a->site, &none);
        }

        return ngx_http_media_send_json(r, a->status, &a->body);
    }

    if (a->code.data == NULL || a->message.data == NULL) {
        return ngx_http_media_internal(r, a->site, &none);
    }

    /* NUL-terminated: PostgreSQL's values come so */
    return ngx_http_media_bad_field(r, a->status, (char *) a->code.data,
                                    a->field.data ? (char *) a->field.data
                                                  : NULL,
                                    "%V", &a->message);
}


/* "s:<family>" lines: their user cache entries are read again */
static void
ngx_http_media_forget_sessions(ngx_http_request_t *r, ngx_str_t *keys)
{
    u_char     *p, *end, *nl;
    ngx_str_t   key;

    if (keys->data == NULL) {
        return;
    }

    p = keys->data;
    end = keys->data + keys->len;

    while (p < end) {
        nl = ngx_strlchr(p, end, '\n');
        if (nl == NULL) {
            nl = end;
        }

        key.data = p;
        key.len = nl - p;

        if (key.len) {
            ngx_http_media_user_forget(r, &key);
        }

        p = nl + 1;
    }
}
