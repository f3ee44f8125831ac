/*
 * The admin routes: the account list, and setting an account's role and
 * plan.  What a person may do is decided here, on our own rows: an
 * identity provider's claims never grant anything.
 *
 *   GET   /api/v1/admin/users[?q=]     the newest hundred accounts (whose
 *                                      email, handle or name holds q)
 *   PATCH /api/v1/admin/users/{id}     {"role": ..., "plan": ...,
 *                                       "reason": ...}
 *
 * Both are on the record (sql/023_roles.sql): a read writes one
 * 'admin.read' audit row, a change one 'role.grant' or 'plan.change' row
 * per value it changed, in the statement that reads or changes.
 *
 * A change reaches every request within a second: the access phase reads
 * the users row (role included) again once its cached copy is a second
 * old.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_roles.h"
#include "ngx_http_media_admin.h"


#define NGX_HTTP_MEDIA_USER_COLUMNS  "id, email, role, plan, created_at"

#define NGX_HTTP_MEDIA_Q_MAX       200
#define NGX_HTTP_MEDIA_REASON_MAX  2000


static void ngx_http_media_admin_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_admin_set(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_admin_user(yajl_gen g,
    ngx_http_media_pg_result_t *res, ngx_uint_t row);
static ngx_int_t ngx_http_media_plan_name(ngx_str_t *plan);


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_users =
    ngx_http_media_pg_stmt("admin_users", 4,
        "SELECT " NGX_HTTP_MEDIA_USER_COLUMNS ", handle"
        " FROM media_admin_users($1::uuid, $2, $3::inet, $4)");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_user_set =
    ngx_http_media_pg_stmt("admin_user_set", 7,
        "SELECT " NGX_HTTP_MEDIA_USER_COLUMNS ", handle"
        " FROM media_user_change($1::uuid, $2, $3, $4::uuid, $5, $6,"
        "                        $7::inet)");


ngx_int_t
ngx_http_media_admin_users(ngx_http_request_t *r)
{
    ngx_str_t              q, params[4];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    ngx_str_null(&params[3]);

    if (ngx_http_arg(r, (u_char *) "q", 1, &q) == NGX_OK && q.len) {
        if (ngx_http_media_arg_text(r, &q, NGX_HTTP_MEDIA_Q_MAX, &params[3])
            != NGX_OK)
        {
            return ngx_http_media_field_error(r, "q", "q must be 1 to %d "
                                              "characters of UTF-8 text (a "
                                              "part of an email, a handle "
                                              "or a name, or an id)",
                                              NGX_HTTP_MEDIA_Q_MAX);
        }
    }

    params[0] = ctx->user->id;
    params[1] = ctx->user->role;
    ngx_http_media_client_address(r, &params[2]);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_users,
            params, ngx_http_media_admin_listed, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_admin_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    yajl_gen    g;
    ngx_uint_t  i;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media admin users"));
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "users", 5);
    yajl_gen_array_open(g);

    for (i = 0; i < res->nrows; i++) {
        ngx_http_media_admin_user(g, res, i);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_OK, g));
}


ngx_int_t
ngx_http_media_admin_user_patch(ngx_http_request_t *r)
{
    ngx_str_t             *role, *plan, *reason, params[7];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such user");
    }

    role = ngx_http_media_body_str(r, "role");
    plan = ngx_http_media_body_str(r, "plan");
    reason = ngx_http_media_body_str(r, "reason");

    if (role == NULL && plan == NULL) {
        return ngx_http_media_field_error(r, "role", "send role (user, "
                                          "creator, moderator or admin) or "
                                          "plan (a plan's name), or both");
    }

    if (role && ngx_http_media_role_bit(role) == 0) {
        return ngx_http_media_field_error(r, "role", "role must be user, "
                                          "creator, moderator or admin");
    }

    if (reason && reason->len > NGX_HTTP_MEDIA_REASON_MAX) {
        return ngx_http_media_field_error(r, "reason", "reason must be at "
                                          "most %d bytes",
                                          NGX_HTTP_MEDIA_REASON_MAX);
    }

    if (plan && ngx_http_media_plan_name(plan) != NGX_OK) {
        return ngx_http_media_field_error(r, "plan", "plan must be 1 to 32 "
                                          "characters of a-z, 0-9, _ and -");
    }

    params[0] = ctx->capture;
    ngx_str_null(&params[1]);
    ngx_str_null(&params[2]);

    if (role) {
        params[1] = *role;
    }

    if (plan) {
        params[2] = *plan;
    }

    params[3] = ctx->user->id;
    params[4] = ctx->user->role;
    ngx_str_null(&params[5]);

    if (reason && reason->len) {
        params[5] = *reason;
    }

    ngx_http_media_client_address(r, &params[6]);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_user_set,
            params, ngx_http_media_admin_set, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_admin_set(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    yajl_gen               g;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    /* a plan the plans table does not hold fails its foreign key */
    if (res->status == NGX_HTTP_MEDIA_PG_ERROR
        && ngx_strncmp(res->sqlstate, "23503", 5) == 0)
    {
        ngx_http_finalize_request(r, ngx_http_media_field_error(r, "plan",
                                  "no plan has that id; GET /api/v1/plans "
                                  "lists them"));
        return;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media admin user"));
        return;
    }

    if (res->nrows == 0) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such user"));
        return;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "media admin user: %V set to role %V, plan %V by %V",
                  &ctx->capture, ngx_http_media_pg_value(res, 0, 2),
                  ngx_http_media_pg_value(res, 0, 3), &ctx->user->id);

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "user", 4);
    ngx_http_media_admin_user(g, res, 0);
    yajl_gen_map_close(g);

    ngx_http_finalize_request(r, ngx_http_media_send_gen(r, NGX_HTTP_OK, g));
}


/* one account, from the columns of NGX_HTTP_MEDIA_USER_COLUMNS */
static void
ngx_http_media_admin_user(yajl_gen g, ngx_http_media_pg_result_t *res,
    ngx_uint_t row)
{
    ngx_uint_t  c;

    static const char  *cols[] = { "id", "email", "role", "plan",
                                   "created_at", "handle" };

    yajl_gen_map_open(g);

    for (c = 0; c < 6; c++) {
        ngx_http_media_json_str(g, cols[c],
                                ngx_http_media_pg_value(res, row, c));
    }

    yajl_gen_map_close(g);
}


/* the shape of a plan's name: plans are rows, named like identifiers */
static ngx_int_t
ngx_http_media_plan_name(ngx_str_t *plan)
{
    ngx_uint_t  i;
    u_char      c;

    if (plan->len == 0 || plan->len > 32) {
        return NGX_DECLINED;
    }

    for (i = 0; i < plan->len; i++) {
        c = plan->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
              || c == '-'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}
