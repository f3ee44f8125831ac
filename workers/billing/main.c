/*
 * media-billing: takes billing jobs from the media:billing stream.
 *
 * A job's payload names its action:
 *   {"action":"checkout","plan":"basic"}  (jobs.user_id: who pays)
 *       the user's Stripe customer (made once, kept in
 *       users.stripe_customer_id), then a Checkout Session for the plan's
 *       price; jobs.result = {"url": the session's page}
 *   {"action":"portal"}
 *       a customer-portal session; jobs.result = {"url": ...}
 *   {"action":"purchase","media":"<uuid>"}
 *       a Checkout Session in payment mode for a priced media
 *       (purchases.c); jobs.result = {"url": ...}
 *   {"action":"event","event":"evt_..."}
 *       a stored Stripe event applied (events.c)
 *
 * Each POST to Stripe carries an Idempotency-Key made of the job id and
 * the step, so an attempt that dies after Stripe acted (the answer lost,
 * the row not written) gets the same object back on the next attempt.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"


const char  *media_worker_name = "media-billing";


/* what a subscription's Checkout Session is made of */
typedef struct {
    media_job_t  *job;
    const char   *user;
    const char   *plan;
    const char   *price;
    const char   *success;
    const char   *cancel;
} media_checkout_t;


static int media_billing(media_job_t *job);
static int media_billing_user(media_job_t *job, char *user, size_t size);
static int media_billing_checkout(media_job_t *job, yajl_val payload,
    const char *user);
static int media_billing_checkout_form(media_buf_t *form,
    const char *customer, void *data, char *idem, size_t size);
static int media_billing_portal(media_job_t *job, const char *user);


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_job_user =
    media_stmt("billing_job_user", 1,
        "SELECT coalesce(user_id::text, '') FROM jobs WHERE id = $1::uuid");

static media_stmt_t  media_sql_checkout_user =
    media_stmt("billing_checkout_user", 2,
        "SELECT u.email, coalesce(u.stripe_customer_id, ''),"
        "  coalesce(p.stripe_price_id, ''), p.price_cents, p.name,"
        "  coalesce((SELECT q.name FROM subscriptions s"
        "    JOIN plans q ON q.id = s.plan_id"
        "    WHERE s.user_id = u.id AND q.audience = p.audience"
        "      AND s.status IN ('active', 'trialing', 'past_due')"
        "    LIMIT 1), '')"
        " FROM users u LEFT JOIN plans p ON p.id = $2"
        " WHERE u.id = $1::uuid");

static media_stmt_t  media_sql_customer =
    media_stmt("billing_customer", 1,
        "SELECT coalesce(stripe_customer_id, '') FROM users"
        " WHERE id = $1::uuid");


int
main(int argc, char **argv)
{
    int  rc;

    static const media_queue_t  queue = {
        "billing", MEDIA_STREAM_BILLING, MEDIA_GROUP_BILLING, media_billing,
        NULL
    };

    /* once, before the consumers are forked */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        media_log_error("curl_global_init failed");
        return 1;
    }

    rc = media_worker_main(argc, argv, &queue);

    curl_global_cleanup();

    return rc;
}


static int
media_billing(media_job_t *job)
{
    int          rc;
    char         user[40];
    yajl_val     payload;
    const char  *action;

    payload = yajl_tree_parse(job->payload, NULL, 0);
    action = media_json_str(payload, "action");

    if (action == NULL) {
        media_job_refuse(job, "a billing job needs an \"action\" "
                         "(checkout, portal, purchase or event)");
        yajl_tree_free(payload);
        return -1;
    }

    if (strcmp(action, "event") == 0) {
        rc = media_billing_event(job, payload);

    } else if (strcmp(action, "checkout") == 0
               || strcmp(action, "portal") == 0
               || strcmp(action, "purchase") == 0)
    {
        rc = media_billing_user(job, user, sizeof(user));

        if (rc == 0) {
            rc = action[0] == 'c' ? media_billing_checkout(job, payload, user)
                 : action[1] == 'o' ? media_billing_portal(job, user)
                 : media_billing_purchase(job, payload, user);
        }

    } else {
        media_job_refuse(job, "unknown billing action \"%.64s\": expected "
                         "checkout, portal, purchase or event", action);
        rc = -1;
    }

    yajl_tree_free(payload);

    if (rc != 0 && !job->permanent && media_worker_stop) {
        /* stopping: given back uncounted; the idempotency keys let the
         * next attempt find what this one made */
        return MEDIA_JOB_RELEASE;
    }

    if (rc != 0 && !job->permanent) {
        media_billing_retry(job, "billing stopped because of a problem on "
                            "our side");
    }

    return rc;
}


/* the job row's user: who the checkout or the portal is for */
static int
media_billing_user(media_job_t *job, char *user, size_t size)
{
    PGresult    *res;
    const char  *params[1];

    params[0] = job->id;

    res = media_pg_exec(job->pg, &media_sql_job_user, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "read the job's user")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] == '\0') {
        PQclear(res);
        media_job_refuse(job, "this billing job names no user (or the "
                         "account was deleted)");
        return -1;
    }

    snprintf(user, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    return 0;
}


static int
media_billing_checkout(media_job_t *job, yajl_val payload, const char *user)
{
    int                  rc;
    char                 customer[256], email[320], price[256];
    char                 success[2048], cancel[2048];
    PGresult            *res;
    const char          *plan, *params[2];
    media_stripe_t       st;
    media_checkout_t     c;
    media_stripe_res_t   sres;

    plan = media_json_str(payload, "plan");
    if (plan == NULL || plan[0] == '\0' || strlen(plan) > 32) {
        media_job_refuse(job, "a checkout needs a \"plan\": the id of a "
                         "paid plan (see GET /api/v1/plans)");
        return -1;
    }

    params[0] = user;
    params[1] = plan;

    /* the user, the plan, and a live subscription of the plan's audience
     * if there is one (a second one would bill twice) */
    res = media_pg_exec(job->pg, &media_sql_checkout_user, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "read user and plan")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        media_job_refuse(job, "the account no longer exists");
        return -1;
    }

    if (PQgetisnull(res, 0, 4)) {
        PQclear(res);
        media_job_refuse(job, "there is no plan \"%s\" (see GET "
                         "/api/v1/plans)", plan);
        return -1;
    }

    if (PQgetvalue(res, 0, 2)[0] == '\0' || atoi(PQgetvalue(res, 0, 3)) == 0)
    {
        media_job_refuse(job, "the plan \"%s\" is free: there is nothing "
                         "to pay", PQgetvalue(res, 0, 4));
        PQclear(res);
        return -1;
    }

    if (PQgetvalue(res, 0, 5)[0]) {
        media_job_refuse(job, "you already subscribe to %s; change or "
                         "cancel it in the billing portal instead",
                         PQgetvalue(res, 0, 5));
        PQclear(res);
        return -1;
    }

    snprintf(email, sizeof(email), "%s", PQgetvalue(res, 0, 0));
    snprintf(customer, sizeof(customer), "%s", PQgetvalue(res, 0, 1));
    snprintf(price, sizeof(price), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);

    if (media_billing_url(job, success, sizeof(success),
                          "#pricing?checkout=success") != 0
        || media_billing_url(job, cancel, sizeof(cancel),
                             "#pricing?checkout=cancel") != 0
        || media_stripe_open(&st, job) != 0)
    {
        return -1;
    }

    c.user = user;
    c.plan = plan;
    c.price = price;
    c.success = success;
    c.cancel = cancel;
    c.job = job;

    if (media_billing_checkout_session(job, &st, user, email, customer,
                                       sizeof(customer),
                                       media_billing_checkout_form, &c,
                                       &sres)
        != 0)
    {
        media_stripe_res_free(&sres);
        media_stripe_close(&st);
        return -1;
    }

    rc = media_billing_result_url(job, &sres);

    if (rc == 0) {
        media_log_info("job %s: checkout session %s for user %s, plan %s",
                       job->id, media_json_str(sres.json, "id"), user, plan);
    }

    media_stripe_res_free(&sres);
    media_stripe_close(&st);

    return rc;
}


/* the subscription's Checkout Session, in Stripe's form encoding */
static int
media_billing_checkout_form(media_buf_t *form, const char *customer,
    void *data, char *idem, size_t size)
{
    media_checkout_t  *c = data;

    media_buf_form(form, "mode", "subscription");
    media_buf_form(form, "customer", customer);
    media_buf_form(form, "client_reference_id", c->user);
    media_buf_form(form, "line_items[0][price]", c->price);
    media_buf_form(form, "line_items[0][quantity]", "1");
    media_buf_form(form, "metadata[user_id]", c->user);
    media_buf_form(form, "metadata[plan]", c->plan);
    /* the subscription names its user too: events about it find the user
     * without the session */
    media_buf_form(form, "subscription_data[metadata][user_id]", c->user);
    media_buf_form(form, "success_url", c->success);
    media_buf_form(form, "cancel_url", c->cancel);

    snprintf(idem, size, "ngx_media-%s-checkout", c->job->id);

    return form->oom ? -1 : 0;
}


static int
media_billing_portal(media_job_t *job, const char *user)
{
    int                  rc;
    char                 customer[256], back[2048], idem[96];
    PGresult            *res;
    const char          *params[1];
    media_buf_t          form;
    media_stripe_t       st;
    media_stripe_res_t   sres;

    params[0] = user;

    res = media_pg_exec(job->pg, &media_sql_customer, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "read the customer")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] == '\0') {
        PQclear(res);
        media_job_refuse(job, "no subscription to manage: subscribe to a "
                         "plan first");
        return -1;
    }

    snprintf(customer, sizeof(customer), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    if (media_billing_url(job, back, sizeof(back), "#pricing") != 0
        || media_stripe_open(&st, job) != 0)
    {
        return -1;
    }

    memset(&form, 0, sizeof(form));
    media_buf_form(&form, "customer", customer);
    media_buf_form(&form, "return_url", back);

    rc = -1;
    snprintf(idem, sizeof(idem), "ngx_media-%s-portal", job->id);

    if (form.oom) {
        media_job_fail(job, "portal: out of memory");

    } else if (media_stripe_call(&st, "POST", "/v1/billing_portal/sessions",
                                 form.data, idem, &sres) == 0)
    {
        rc = media_billing_result_url(job, &sres);
        media_stripe_res_free(&sres);

    } else {
        media_stripe_res_free(&sres);
    }

    media_buf_free(&form);
    media_stripe_close(&st);

    return rc;
}
