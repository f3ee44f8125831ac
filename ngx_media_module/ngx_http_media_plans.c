/*
 * Plans, the caller's subscription and usage.
 *
 * Each answer is one JSON document built by PostgreSQL from the plans,
 * subscriptions and usage tables (sql/007_billing.sql, sql/008_quotas.sql):
 * the room names the statement and sends what comes back.  Limits are
 * numbers or null (unlimited).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_plans.h"


static ngx_int_t ngx_http_media_plans_query(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *user);
static void ngx_http_media_plans_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);


/* the statements of this room, each prepared once per pooled connection */

/* every plan, in the order an admin gave them; "current" for the caller */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_plans =
    ngx_http_media_pg_stmt("plans_list", 1,
        "SELECT json_build_object('plans', coalesce(json_agg("
        "  json_build_object('id', p.id, 'name', p.name,"
        "    'audience', p.audience, 'price_cents', p.price_cents,"
        "    'currency', p.currency, 'ads', p.ads,"
        "    'current', coalesce(p.id IN (u.plan, u.creator_plan), false),"
        "    'limits', json_build_object("
        "      'storage_bytes', p.storage_bytes,"
        "      'media_count', p.media_count,"
        "      'exports_per_month', p.exports_per_month,"
        "      'downloads_per_month', p.downloads_per_month,"
        "      'max_rung', p.max_rung))"
        "  ORDER BY p.position, p.id), '[]'))"
        " FROM plans p LEFT JOIN users u ON u.id = $1::uuid");

/* per audience: the plan in force and the subscription behind it */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_subscription =
    ngx_http_media_pg_stmt("plans_subscription", 1,
        "SELECT json_build_object('subscription',"
        "  json_object_agg(a.audience, json_build_object("
        "    'plan', a.plan, 'status', coalesce(s.status, 'none'),"
        "    'subscription_id', s.id,"
        "    'current_period_end', media_iso8601(s.current_period_end),"
        "    'cancel_at_period_end', coalesce(s.cancel_at_period_end,"
        "                                     false))))"
        " FROM users u"
        " CROSS JOIN LATERAL (VALUES ('viewer', u.plan),"
        "                            ('creator', u.creator_plan))"
        "   a (audience, plan)"
        " LEFT JOIN LATERAL (SELECT s.* FROM subscriptions s"
        "   JOIN plans p ON p.id = s.plan_id"
        "   WHERE s.user_id = u.id AND p.audience = a.audience"
        "   ORDER BY s.status IN ('active', 'trialing', 'past_due') DESC,"
        "            s.updated_at DESC LIMIT 1) s ON true"
        " WHERE u.id = $1");

/* each metered quantity this month, and the alerts raised */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_usage =
    ngx_http_media_pg_stmt("plans_usage", 1,
        "SELECT json_build_object("
        "  'period', json_build_object("
        "    'start', media_iso8601(media_period_start()::timestamp"
        "                           AT TIME ZONE 'UTC'),"
        "    'end', media_iso8601((media_period_start()"
        "                          + interval '1 month') AT TIME ZONE 'UTC')),"
        "  'usage', (SELECT json_agg(json_build_object("
        "      'quantity', q.quantity, 'used', q.used,"
        "      'limit', q.limit_value,"
        "      'percent', CASE WHEN q.limit_value IS NULL THEN NULL"
        "                      WHEN q.limit_value = 0 THEN 100"
        "                      ELSE round(q.used * 100.0 / q.limit_value, 1)"
        "                 END,"
        "      'plan', q.plan, 'lifted_by', q.lifted_by))"
        "    FROM media_quota_state($1) q),"
        "  'alerts', (SELECT coalesce(json_agg(json_build_object("
        "      'quantity', a.quantity, 'threshold', a.threshold,"
        "      'used', a.used, 'limit', a.limit_value,"
        "      'created_at', media_iso8601(a.created_at))"
        "    ORDER BY a.created_at, a.quantity, a.threshold), '[]')"
        "    FROM usage_alerts a"
        "    WHERE a.user_id = $1 AND a.period = media_period_start()))");


/* GET /api/v1/plans: anyone; signed in, the caller's plans are marked */
ngx_int_t
ngx_http_media_plans(ngx_http_request_t *r)
{
    ngx_str_t              none = ngx_null_string;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    return ngx_http_media_plans_query(r, &ngx_http_media_sql_plans,
                                      ctx->user ? &ctx->user->id : &none);
}


/* GET /api/v1/subscription */
ngx_int_t
ngx_http_media_subscription(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    return ngx_http_media_plans_query(r, &ngx_http_media_sql_subscription,
                                      &ctx->user->id);
}


/* GET /api/v1/usage */
ngx_int_t
ngx_http_media_usage(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    return ngx_http_media_plans_query(r, &ngx_http_media_sql_usage,
                                      &ctx->user->id);
}


static ngx_int_t
ngx_http_media_plans_query(ngx_http_request_t *r,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *user)
{
    if (ngx_http_media_pg_query(r, stmt, user, ngx_http_media_plans_found,
                                (void *) stmt->name)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* one row, one column: the document; no row is a user gone meanwhile */
static void
ngx_http_media_plans_found(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    const char  *site = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res, site));
        return;
    }

    if (res->nrows != 1 || ngx_http_media_pg_value(res, 0, 0)->data == NULL) {
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_NOT_FOUND, "not_found",
                                  "no such user"));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_send_json(r, NGX_HTTP_OK,
                              ngx_http_media_pg_value(res, 0, 0)));
}
