/*
 * POST /api/v1/billing/checkout {"plan":"basic"} and
 * POST /api/v1/billing/portal: a billing job, then a short wait for the
 * URL the billing worker gets from Stripe.
 *
 *   one statement checks the plan (it exists, it is sold, the user is not
 *   on it already) and inserts the job: type billing, payload
 *   {"action":"checkout","plan":...} or {"action":"portal"}
 *   -> XADD media:billing * job <id> (a Redis that is away is logged: the
 *      row is the truth, the reconciler enqueues it)
 *   -> the job row is read again every NGX_HTTP_MEDIA_BILLING_TICK on an
 *      nginx timer, for up to media_billing_wait:
 *      done   -> 200 {"url": result.url, "job": id}
 *      failed -> 502 billing_failed, with the job's error
 *      still queued or running when the wait ends
 *             -> 202 {"job": {...}}: GET /api/v1/jobs/{id} shows the
 *                result once the worker is done
 *
 * While it waits the request reads nothing, so a client that goes away
 * would not be noticed until the answer is written: the read handler is
 * nginx's ngx_http_test_reading, which ends the request (499) on EOF, and
 * the pool cleanup then takes the timer off, so no tick runs for a freed
 * request.  A job re-read in flight then is the PostgreSQL pool's to drop.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_billing.h"
#include "media_utf8.h"


/* how often the job row is read again while the request waits */
#define NGX_HTTP_MEDIA_BILLING_TICK  100

/* characters of an unknown plan quoted back in the refusal */
#define NGX_HTTP_MEDIA_PLAN_QUOTE    40


/* the job columns every statement here returns, in this order */
#define NGX_HTTP_MEDIA_BILLING_JOB                                            \
    "id, type, status, progress, attempts, error, result"

enum {
    NGX_HTTP_MEDIA_JOB_ID = 0,
    NGX_HTTP_MEDIA_JOB_TYPE,
    NGX_HTTP_MEDIA_JOB_STATUS,
    NGX_HTTP_MEDIA_JOB_PROGRESS,
    NGX_HTTP_MEDIA_JOB_ATTEMPTS,
    NGX_HTTP_MEDIA_JOB_ERROR,
    NGX_HTTP_MEDIA_JOB_RESULT,
    NGX_HTTP_MEDIA_JOB_URL,          /* billing_job only: result->>'url' */
    NGX_HTTP_MEDIA_JOB_NCOLS = NGX_HTTP_MEDIA_JOB_RESULT + 1
};

/* billing_checkout's row: verdict, plan name, plans on sale, then the job */
#define NGX_HTTP_MEDIA_CHECKOUT_JOB  3


/* a request waiting for its billing job */
typedef struct {
    ngx_http_request_t          *request;
    ngx_event_t                  timer;
    ngx_msec_t                   start;
    ngx_msec_t                   wait;      /* media_billing_wait */
    ngx_str_t                    job;       /* its id */
    ngx_http_media_pg_result_t   row;       /* the job as last read */
    ngx_uint_t                   col;       /* its first job column */
    unsigned                     answered:1;
} ngx_http_media_billing_t;


static void ngx_http_media_billing_checked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_billing_inserted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_billing_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data);
static void ngx_http_media_billing_tick(ngx_event_t *ev);
static void ngx_http_media_billing_read(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_billing_verdict(ngx_http_request_t *r,
    ngx_http_media_billing_t *b);
static ngx_int_t ngx_http_media_billing_accepted(ngx_http_request_t *r,
    ngx_http_media_billing_t *b);
static void ngx_http_media_billing_cleanup(void *data);
static ngx_int_t ngx_http_media_billing_is(ngx_str_t *s, const char *value);


/* the statements of this room, each prepared once per pooled connection */

/*
 * The plan is checked and the job inserted in one statement: verdict is
 * "unknown" (no such plan), "unpriced" (not sold: the audience's plan
 * without a subscription), "subscribed" (the user's plan for that audience
 * already) or "ok", and only "ok" inserts.  The plans on sale come back
 * too, for the refusals to list.
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_checkout =
    ngx_http_media_pg_stmt("billing_checkout", 2,
        "WITH p AS ("
        "  SELECT p.name, p.stripe_price_id,"
        "         CASE p.audience WHEN 'viewer' THEN u.plan"
        "                         ELSE u.creator_plan END AS mine"
        "    FROM plans p, users u WHERE p.id = $2 AND u.id = $1),"
        " v AS ("
        "  SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM p) THEN 'unknown'"
        "              WHEN (SELECT stripe_price_id FROM p) IS NULL"
        "              THEN 'unpriced'"
        "              WHEN (SELECT mine FROM p) = $2 THEN 'subscribed'"
        "              ELSE 'ok' END AS verdict),"
        " j AS ("
        "  INSERT INTO jobs (type, user_id, payload)"
        "  SELECT 'billing', $1, jsonb_build_object('action', 'checkout',"
        "                                           'plan', $2::text)"
        "    FROM v WHERE verdict = 'ok'"
        "  RETURNING " NGX_HTTP_MEDIA_BILLING_JOB ")"
        " SELECT v.verdict, (SELECT name FROM p),"
        "        (SELECT string_agg(id, ', ' ORDER BY position, id)"
        "           FROM plans WHERE stripe_price_id IS NOT NULL),"
        "        j.id, j.type, j.status, j.progress, j.attempts, j.error,"
        "        j.result"
        "   FROM v LEFT JOIN j ON true");

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_portal =
    ngx_http_media_pg_stmt("billing_portal", 1,
        "INSERT INTO jobs (type, user_id, payload)"
        " VALUES ('billing', $1, '{\"action\":\"portal\"}')"
        " RETURNING " NGX_HTTP_MEDIA_BILLING_JOB);

static ngx_http_media_pg_stmt_t  ngx_http_media_sql_job =
    ngx_http_media_pg_stmt("billing_job", 2,
        "SELECT " NGX_HTTP_MEDIA_BILLING_JOB ", result->>'url'"
        " FROM jobs WHERE id = $1 AND user_id = $2");


/* POST /api/v1/billing/checkout {"plan": "<plan id>"} -------------------- */

ngx_int_t
ngx_http_media_billing_checkout(ngx_http_request_t *r)
{
    ngx_str_t             *plan, params[2];
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    /* a missing plan is refused with the list, which PostgreSQL has */
    plan = ngx_http_media_body_str(r, "plan");

    params[0] = ctx->user->id;

    if (plan) {
        params[1] = *plan;

    } else {
        ngx_str_null(&params[1]);
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_checkout,
            params, ngx_http_media_billing_checked, plan)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_media_billing_checked(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_str_t  *plan = data;

    ngx_str_t   quoted, *verdict, *name, *sold;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media billing checkout"));
        return;
    }

    verdict = ngx_http_media_pg_value(res, 0, 0);
    name = ngx_http_media_pg_value(res, 0, 1);
    sold = ngx_http_media_pg_value(res, 0, 2);

    if (sold->data == NULL) {
        ngx_str_set(sold, "none: no plan has a Stripe price");
    }

    if (ngx_http_media_billing_is(verdict, "ok")) {
        ngx_http_media_billing_inserted(r, res,
                          (void *) NGX_HTTP_MEDIA_CHECKOUT_JOB);
        return;
    }

    if (plan == NULL) {
        ngx_http_finalize_request(r, ngx_http_media_field_error(r, "plan",
                                  "plan is required: send {\"plan\": "
                                  "\"<id>\"} with one of: %V", sold));
        return;
    }

    quoted.data = plan->data;
    quoted.len = media_utf8_prefix(plan->data, plan->len,
                                   NGX_HTTP_MEDIA_PLAN_QUOTE);

    if (ngx_http_media_billing_is(verdict, "unknown")) {
        ngx_http_finalize_request(r, ngx_http_media_field_error(r, "plan",
                                  "there is no plan \"%V\"; plans you can "
                                  "buy: %V (GET /api/v1/plans lists them)",
                                  &quoted, sold));
        return;
    }

    if (ngx_http_media_billing_is(verdict, "unpriced")) {
        ngx_http_finalize_request(r, ngx_http_media_field_error(r, "plan",
                                  "the %V plan is not sold: it is what you "
                                  "have without a subscription; plans you "
                                  "can buy: %V", name, sold));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                              NGX_HTTP_CONFLICT, "already_subscribed",
                              "you are on the %V plan already; to change or "
                              "cancel it, use POST /api/v1/billing/portal",
                              name));
}


/* POST /api/v1/billing/portal {} ------------------------------------------ */

ngx_int_t
ngx_http_media_billing_portal(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_portal,
            &ctx->user->id, ngx_http_media_billing_inserted, (void *) 0)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


/* the job is a row; data is the column its id is in */
static void
ngx_http_media_billing_inserted(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_uint_t  col = (uintptr_t) data;

    ngx_int_t  rc;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1
        || res->ncols < col + NGX_HTTP_MEDIA_JOB_NCOLS)
    {
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media billing job"));
        return;
    }

    rc = ngx_http_media_billing_enqueue(r, res, col);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * The job in res (its columns from col on) is queued and waited for; the
 * answer is the URL, 202 with the job, or the job's failure.  Also the
 * purchase room's (ngx_http_media_purchases.c).
 */
ngx_int_t
ngx_http_media_billing_enqueue(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_uint_t col)
{
    ngx_http_media_ctx_t          *ctx;
    ngx_http_media_billing_t      *b;
    ngx_http_media_main_conf_t    *mmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    b = ngx_pcalloc(r->pool, sizeof(ngx_http_media_billing_t));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* res is on the caller's stack; its values are in the request pool */
    b->request = r;
    b->row = *res;
    b->col = col;
    b->job = *ngx_http_media_pg_value(res, 0, col + NGX_HTTP_MEDIA_JOB_ID);
    b->wait = mmcf->billing_wait;

    b->timer.handler = ngx_http_media_billing_tick;
    b->timer.data = b;
    b->timer.log = r->connection->log;

    ctx->state = b;

    if (ngx_http_media_redis_enqueue(r, MEDIA_STREAM_BILLING, &b->job,
                                     ngx_http_media_billing_queued, b)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_media_billing_queued(ngx_http_request_t *r,
    ngx_http_media_redis_result_t *res, void *data)
{
    ngx_http_media_billing_t  *b = data;

    ngx_pool_cleanup_t  *cln;

    /* the row is queued; the reconciler will enqueue it */
    if (res->status != NGX_HTTP_MEDIA_REDIS_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media billing queue: XADD failed (%V); job %V waits "
                      "for the reconciler, request_id: %V", &res->str,
                      &b->job, ngx_http_media_request_id(r));
    }

    if (b->wait == 0) {
        b->answered = 1;
        ngx_http_finalize_request(r, ngx_http_media_billing_accepted(r, b));
        return;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    cln->handler = ngx_http_media_billing_cleanup;
    cln->data = b;

    /* the request reads nothing more: notice a client that goes away */
    r->read_event_handler = ngx_http_test_reading;

    b->start = ngx_current_msec;
    ngx_add_timer(&b->timer, ngx_min(b->wait, NGX_HTTP_MEDIA_BILLING_TICK));
}


static void
ngx_http_media_billing_tick(ngx_event_t *ev)
{
    ngx_http_media_billing_t  *b = ev->data;

    ngx_str_t              params[2];
    ngx_connection_t      *c;
    ngx_http_request_t    *r;
    ngx_http_media_ctx_t  *ctx;

    r = b->request;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "media billing tick: job %V", &b->job);

    params[0] = b->job;
    params[1] = ctx->user->id;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_job, params,
                                ngx_http_media_billing_read, b)
        != NGX_OK)
    {
        b->answered = 1;
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_media_billing_read(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_billing_t  *b = data;

    ngx_int_t   rc;
    ngx_msec_t  spent;

    if (res->status != NGX_HTTP_MEDIA_PG_OK || res->nrows != 1) {
        /* the job is written and queued: the client can poll it */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media billing wait: job %V could not be read again "
                      "(%V); answering 202, request_id: %V", &b->job,
                      &res->error, ngx_http_media_request_id(r));

        b->answered = 1;
        ngx_http_finalize_request(r, ngx_http_media_billing_accepted(r, b));
        return;
    }

    b->row = *res;
    b->col = 0;

    rc = ngx_http_media_billing_verdict(r, b);

    if (rc != NGX_AGAIN) {
        b->answered = 1;
        ngx_http_finalize_request(r, rc);
        return;
    }

    spent = ngx_current_msec - b->start;

    if (spent >= b->wait) {
        b->answered = 1;
        ngx_http_finalize_request(r, ngx_http_media_billing_accepted(r, b));
        return;
    }

    ngx_add_timer(&b->timer, ngx_min(b->wait - spent,
                                     NGX_HTTP_MEDIA_BILLING_TICK));
}


/* the answer the job row gives now, or NGX_AGAIN while it is pending */
static ngx_int_t
ngx_http_media_billing_verdict(ngx_http_request_t *r,
    ngx_http_media_billing_t *b)
{
    yajl_gen    g;
    ngx_str_t  *status, *error, *url;

    status = ngx_http_media_pg_value(&b->row, 0, NGX_HTTP_MEDIA_JOB_STATUS);
    error = ngx_http_media_pg_value(&b->row, 0, NGX_HTTP_MEDIA_JOB_ERROR);
    url = ngx_http_media_pg_value(&b->row, 0, NGX_HTTP_MEDIA_JOB_URL);

    if (ngx_http_media_billing_is(status, MEDIA_JOB_FAILED)
        || ngx_http_media_billing_is(status, MEDIA_JOB_DEAD))
    {
        if (error->data == NULL) {
            ngx_str_set(error, "the payment provider could not be reached; "
                        "try again later");
        }

        return ngx_http_media_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                         "billing_failed", "%V", error);
    }

    if (!ngx_http_media_billing_is(status, MEDIA_JOB_DONE)) {
        return NGX_AGAIN;
    }

    if (url->data == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media billing wait: job %V is done without a url in "
                      "its result, request_id: %V", &b->job,
                      ngx_http_media_request_id(r));

        return ngx_http_media_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                         "billing_failed", "the payment "
                                         "provider gave no page to go to; "
                                         "try again");
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    ngx_http_media_json_str(g, "url", url);
    ngx_http_media_json_str(g, "job", &b->job);
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, NGX_HTTP_OK, g);
}


/* 202 {"job": {...}} as last read: the client polls GET /api/v1/jobs/{id} */
static ngx_int_t
ngx_http_media_billing_accepted(ngx_http_request_t *r,
    ngx_http_media_billing_t *b)
{
    yajl_gen     g;
    ngx_str_t   *v;
    ngx_uint_t   i;

    static const char  *cols[] = { "id", "type", "status", "progress",
                                   "attempts", "error", "result" };

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *) "job", 3);
    yajl_gen_map_open(g);

    for (i = 0; i < NGX_HTTP_MEDIA_JOB_NCOLS; i++) {
        v = ngx_http_media_pg_value(&b->row, 0, b->col + i);

        if (v->data == NULL || i < NGX_HTTP_MEDIA_JOB_PROGRESS
            || i == NGX_HTTP_MEDIA_JOB_ERROR)
        {
            ngx_http_media_json_str(g, cols[i], v);
            continue;
        }

        /* numbers, and jsonb as PostgreSQL prints it: JSON already */
        yajl_gen_string(g, (const unsigned char *) cols[i],
                        ngx_strlen(cols[i]));
        yajl_gen_number(g, (const char *) v->data, v->len);
    }

    yajl_gen_map_close(g);
    yajl_gen_map_close(g);

    return ngx_http_media_send_gen(r, NGX_HTTP_ACCEPTED, g);
}


/*
 * The request is being freed.  Unanswered, it ended while waiting (the
 * client went away, or nginx is stopping): its timer must not fire for a
 * freed request.  The job goes on; the user finds it in GET /jobs/{id}.
 */
static void
ngx_http_media_billing_cleanup(void *data)
{
    ngx_http_media_billing_t  *b = data;

    if (b->timer.timer_set) {
        ngx_del_timer(&b->timer);
    }

    if (!b->answered) {
        ngx_log_error(NGX_LOG_INFO, b->timer.log, 0,
                      "media billing wait: the request ended before job %V "
                      "was done; its timer is stopped, the job goes on",
                      &b->job);
    }
}


static ngx_int_t
ngx_http_media_billing_is(ngx_str_t *s, const char *value)
{
    size_t  len;

    len = ngx_strlen(value);

    return s->data && s->len == len && ngx_strncmp(s->data, value, len) == 0;
}
