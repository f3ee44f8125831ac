/*
 * The marketplace, from the buyer's side:
 *
 *   POST /api/v1/media/{id}/purchase
 *       one statement decides (the media is there for this user, priced,
 *       ready, not theirs, not bought before) and writes a billing job
 *       {"action":"purchase","media":id}; then the billing room's queue
 *       and wait (ngx_http_media_billing.c): 200 {url, job} with Stripe's
 *       checkout page, or 202 {job} while the worker is still at it.
 *       The worker makes a Checkout Session in payment mode; only the
 *       verified checkout.session.completed webhook grants the
 *       entitlement, never the success redirect.
 *   GET /api/v1/library/purchases?limit=N&cursor=C
 *       what the user owns, newest first.
 *
 * The refusals, and why these statuses:
 *   404 not_found       no such media, deleted, or private and not yours:
 *                       as everywhere, what you may not see is not there
 *   409 own_media       it is yours: nothing to buy
 *   409 not_for_sale    no price on it: the media's state, not the request,
 *                       is in the way (the request has no field to fix, so
 *                       not 422); the owner may put a price on it later
 *   409 not_ready       still processing or failed: nothing to deliver yet
 *   409 already_owned   bought before: the entitlement is for good
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_billing.h"
#include "ngx_http_media_purchases.h"


#define NGX_HTTP_MEDIA_PURCHASES_PAGE  20
#define NGX_HTTP_MEDIA_PURCHASES_MAX   100

/* purchase_start's row: verdict, status, price, currency, then the job */
#define NGX_HTTP_MEDIA_PURCHASE_JOB    4


static void ngx_http_media_purchase_started(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_purchases_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_purchase_is(ngx_str_t *s, const char *value);


/* the statements of this room, each prepared once per pooled connection */

/*
 * The verdict and, only when it is "ok", the job, in one statement: the
 * checks and the insert see the same rows.  Two purchases started at once
 * both pass (the entitlement does not exist yet) and make two jobs; the
 * worker's idempotency key (the session's parameters and the day) makes
 * Stripe answer both with one session, so it is paid once.
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_purchase =
    ngx_http_media_pg_stmt("purchase_start", 2,
        "WITH m AS ("
        "  SELECT owner_id, status, privacy, price_cents, currency"
        "    FROM media WHERE id = $2 AND deleted_at IS NULL),"
        " v AS ("
        "  SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM m) THEN 'missing'"
        "    WHEN (SELECT owner_id FROM m) = $1 THEN 'own'"
        "    WHEN (SELECT privacy FROM m) = 'private' THEN 'missing'"
        "    WHEN (SELECT price_cents FROM m) IS NULL THEN 'unpriced'"
        "    WHEN EXISTS (SELECT 1 FROM entitlements"
        "                  WHERE user_id = $1 AND media_id = $2)"
        "    THEN 'owned'"
        "    WHEN (SELECT status FROM m) <> 'ready' THEN 'not_ready'"
        "    ELSE 'ok' END AS verdict),"
        " j AS ("
        "  INSERT INTO jobs (type, user_id, payload)"
        "  SELECT 'billing', $1, jsonb_build_object('action', 'purchase',"
        "                                           'media', $2::text)"
        "    FROM v WHERE verdict = 'ok'"
        "  RETURNING id, type, status, progress, attempts, error, result)"
        " SELECT v.verdict, m.status, m.price_cents, m.currency,"
        "        j.id, j.type, j.status, j.progress, j.attempts, j.error,"
        "        j.result"
        "   FROM v LEFT JOIN m ON true LEFT JOIN j ON true");

/* a page of what the user owns: (cursor, item) */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_purchases =
    ngx_http_media_pg_stmt("purchase_list", 3,
        "SELECT e.media_id::text, json_build_object("
        "    'media', json_build_object('id', m.id, 'title', m.title,"
        "      'kind', m.kind, 'duration_ms', m.duration_ms,"
        "      'status', m.status, 'deleted', m.deleted_at IS NOT NULL),"
        "    'source', e.source, 'amount_cents', e.amount_cents,"
        "    'currency', e.currency,"
        "    'purchased_at', media_iso8601(e.created_at))"
        "  FROM entitlements e JOIN media m ON m.id = e.media_id"
        " WHERE e.user_id = $1 AND m.status <> 'blocked'"
        "   AND ($2::uuid IS NULL OR (e.created_at, e.media_id) <"
        "        (SELECT created_at, media_id FROM entitlements"
        "          WHERE user_id = $1 AND media_id = $2))"
        " ORDER BY e.created_at DESC, e.media_id DESC LIMIT $3");


/* POST /api/v1/media/{id}/purchase ---------------------------------------- */

ngx_int_t
ngx_http_media_purchase(ngx_http_request_t *r)
{
    ngx_str_t              params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_is_uuid(&ctx->capture) != NGX_OK) {
        return ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no such media");
    }

    params[0] = ctx->user->id;
    params[1] = ctx->capture;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_purchase, params,
                                ngx_http_media_purchase_started, NULL)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_purchase_started(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_int_t   rc;
    ngx_str_t  *verdict, *status;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media purchase"));
        return;
    }

    verdict = ngx_http_media_pg_value(res, 0, 0);
    status = ngx_http_media_pg_value(res, 0, 1);

    if (ngx_http_media_purchase_is(verdict, "ok")) {
        rc = ngx_http_media_billing_enqueue(r, res,
                                            NGX_HTTP_MEDIA_PURCHASE_JOB);
        if (rc != NGX_OK) {
            ngx_http_finalize_request(r, rc);
        }

        return;
    }

    if (ngx_http_media_purchase_is(verdict, "own")) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "own_media",
                                       "this media is yours: there is "
                                       "nothing to buy");

    } else if (ngx_http_media_purchase_is(verdict, "unpriced")) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "not_for_sale",
                                       "this media is not for sale: its "
                                       "owner has set no price");

    } else if (ngx_http_media_purchase_is(verdict, "owned")) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "already_owned",
                                       "you bought this media already; "
                                       "GET /api/v1/library/purchases "
                                       "lists what you own");

    } else if (ngx_http_media_purchase_is(verdict, "not_ready")) {
        rc = ngx_http_media_send_error(r, NGX_HTTP_CONFLICT, "not_ready",
                                       "this media is %V, not ready: it "
                                       "can be bought once it is", status);

    } else {
        rc = ngx_http_media_send_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no such media");
    }

    ngx_http_finalize_request(r, rc);
}


/* GET /api/v1/library/purchases?limit=N&cursor=C: newest first ----------- */

ngx_int_t
ngx_http_media_purchases(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              params[3];
    ngx_uint_t             n;
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_page_args(r, NGX_HTTP_MEDIA_PURCHASES_PAGE,
                                 NGX_HTTP_MEDIA_PURCHASES_MAX, &n, &params[1],
                                 &params[2], &rc)
        != NGX_OK)
    {
        return rc;
    }

    /* the cursor is the last item's media id: the page goes on after it */
    if (params[1].data && ngx_http_media_is_uuid(&params[1]) != NGX_OK) {
        return ngx_http_media_field_error(r, "cursor", "cursor is not one "
                                          "this server gave out");
    }

    params[0] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_purchases, params,
                                ngx_http_media_purchases_listed,
                                (void *) (uintptr_t) n)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_purchases_listed(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_finalize_request(r, ngx_http_media_send_page(r, res,
                              (uintptr_t) data, "media purchases"));
}


static ngx_int_t
ngx_http_media_purchase_is(ngx_str_t *s, const char *value)
{
    size_t  len;

    len = ngx_strlen(value);

    return s->data && s->len == len && ngx_strncmp(s->data, value, len) == 0;
}
