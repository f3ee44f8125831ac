/*
 * The admin routes: the account list, and setting an account's role and
 * plan.  What a person may do is decided here, on our own rows: an
 * identity provider's claims never grant anything.
 *
 *   GET   /api/v1/admin/users          the newest hundred accounts
 *   PATCH /api/v1/admin/users/{id}     {"role": ..., "plan": ...}
 *
 * A change reaches every request within a second: the access phase reads
 * the users row again once its cached copy is a second old.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_admin.h"


#define NGX_HTTP_MEDIA_USER_COLUMNS  "id, email, role, plan, created_at"


static void ngx_http_media_admin_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_admin_set(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_admin_user(yajl_gen g,
    ngx_http_media_pg_result_t *res, ngx_uint_t row);
static ngx_int_t ngx_http_media_plan_name(ngx_str_t *plan);


/* the statements of this room, each prepared once per pooled connection */

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_users =
    ngx_http_media_pg_stmt("admin_users", 0,
        "SELECT " NGX_HTTP_MEDIA_USER_COLUMNS " FROM users"
        " ORDER BY created_at DESC LIMIT 100");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_user_set =
    ngx_http_media_pg_stmt("admin_user_set", 3,
        "SELECT " NGX_HTTP_MEDIA_USER_COLUMNS
        " FROM media_user_set($1::uuid, $2, $3)");


ngx_int_t
ngx_http_media_admin_users(ngx_http_request_t *r)
{
    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_users,
            NULL, ngx_http_media_admin_listed, NULL)
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
    ngx_str_t             *role, *plan, params[3];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such user");
    }

    role = ngx_http_media_body_str(r, "role");
    plan = ngx_http_media_body_str(r, "plan");

    if (role == NULL && plan == NULL) {
        return ngx_http_media_field_error(r, "role", "send role (user, "
                                          "creator or admin) or plan (a "
                                          "plan's name), or both");
    }

    if (role
        && !(role->len == 4 && ngx_strncmp(role->data, "user", 4) == 0)
        && !(role->len == 7 && ngx_strncmp(role->data, "creator", 7) == 0)
        && !(role->len == 5 && ngx_strncmp(role->data, "admin", 5) == 0))
    {
        return ngx_http_media_field_error(r, "role", "role must be user, "
                                          "creator or admin");
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
                                   "created_at" };

    yajl_gen_map_open(g);

    for (c = 0; c < 5; c++) {
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
