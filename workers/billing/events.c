/*
 * Stripe's events, applied.
 *
 * The nginx module verifies a webhook's signature, stores the event in
 * billing_events (once per id) and queues {"action":"event","event":id}.
 * A payment-mode checkout session is a purchase: purchases.c applies it.
 * Otherwise the event only says which subscription to look at: its current
 * state is read from Stripe (GET /v1/subscriptions/{id}), never taken from
 * the event, since events arrive late, twice and out of order.  The state
 * is stored in subscriptions, and the user's plans are derived from all
 * their subscriptions of the audience (viewer, creator) the subscription's
 * plan is for:
 *
 *   active, trialing, past_due     the price's plan (past_due: Stripe is
 *                                  still retrying the payment)
 *   anything else                  (canceled, unpaid, incomplete,
 *                                  incomplete_expired, paused) the
 *                                  audience's default plan
 *
 * One subscription is applied at a time (an advisory lock on its id, then
 * the user's row), inside one transaction with the event marked applied,
 * so the last to apply wrote what Stripe said last.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"


typedef struct {
    const char  *id;
    const char  *status;
    const char  *customer;
    const char  *price;
    const char  *user;          /* metadata[user_id], or "" */
    char         period_start[24];
    char         period_end[24];
    int          cancel_at_period_end;
} media_sub_t;


static const char *media_event_subscription(const char *type, yajl_val ev,
    const char **user, const char **ignored);
static int media_event_sync(media_job_t *job, const char *event,
    const char *created, const char *sub_id, const char *ref_user);
static int media_event_read(media_job_t *job, yajl_val json,
    media_sub_t *sub);
static int media_event_store(media_job_t *job, const char *event,
    const char *created, media_sub_t *sub, media_buf_t *result);
static int media_event_mark(media_job_t *job, const char *event);
static int media_event_exec(media_job_t *job, const char *sql,
    const char *what);
static void media_event_number(yajl_val v, char *buf, size_t size);
static int media_event_id(const char *s, const char *prefix);


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_plans_set =
    media_stmt("billing_plans_set", 3,
        "UPDATE users u SET"
        "  plan = CASE WHEN 'viewer' NOT IN ($2, $3) THEN u.plan"
        "    ELSE coalesce((SELECT p.id FROM subscriptions s"
        "    JOIN plans p ON p.id = s.plan_id"
        "    WHERE s.user_id = u.id AND p.audience = 'viewer'"
        "      AND s.status IN ('active', 'trialing', 'past_due')"
        "    ORDER BY p.position DESC LIMIT 1),"
        "    (SELECT id FROM plans WHERE audience = 'viewer'"
        "      AND is_default)) END,"
        "  creator_plan = CASE WHEN 'creator' NOT IN ($2, $3)"
        "    THEN u.creator_plan"
        "    ELSE coalesce((SELECT p.id FROM subscriptions s"
        "    JOIN plans p ON p.id = s.plan_id"
        "    WHERE s.user_id = u.id AND p.audience = 'creator'"
        "      AND s.status IN ('active', 'trialing', 'past_due')"
        "    ORDER BY p.position DESC LIMIT 1),"
        "    (SELECT id FROM plans WHERE audience = 'creator'"
        "      AND is_default)) END"
        " WHERE u.id = $1::uuid"
        " RETURNING plan, creator_plan");

static media_stmt_t  media_sql_mark =
    media_stmt("billing_mark", 1,
        "UPDATE billing_events SET applied_at = coalesce(applied_at, now())"
        " WHERE id = $1");

static media_stmt_t  media_sql_event =
    media_stmt("billing_event", 1,
        "SELECT type, created::text, payload::text, applied_at IS NOT NULL"
        " FROM billing_events WHERE id = $1");

static media_stmt_t  media_sql_lock =
    media_stmt("billing_lock", 1,
        "SELECT pg_advisory_xact_lock(hashtextextended('subscription ' || $1,"
        " 0))");

static media_stmt_t  media_sql_event_user =
    media_stmt("billing_event_user", 2,
        "SELECT id::text FROM users"
        /* id compared as a uuid, not id::text (a cast of the column
         * reads every user): $2 when it is a uuid as id::text writes
         * one, the same rows as before, and no error on other text */
        " WHERE stripe_customer_id = $1"
        "    OR id = (SELECT CASE WHEN $2 ~ '^[0-9a-f]{8}-[0-9a-f]{4}-"
        "[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN $2::uuid END)"
        " ORDER BY stripe_customer_id = $1 DESC NULLS LAST LIMIT 1"
        " FOR UPDATE");

static media_stmt_t  media_sql_subscription_store =
    media_stmt("billing_subscription_store", 8,
        "WITH p AS (SELECT id, audience FROM plans"
        "   WHERE stripe_price_id = $3),"
        " old AS (SELECT q.audience FROM subscriptions o"
        "   JOIN plans q ON q.id = o.plan_id WHERE o.id = $1),"
        " s AS (INSERT INTO subscriptions (id, user_id, plan_id, status,"
        "     current_period_start, current_period_end,"
        "     cancel_at_period_end, stripe_updated)"
        "   SELECT $1, $2::uuid, p.id, $4,"
        "     to_timestamp(nullif($5, '')::bigint),"
        "     to_timestamp(nullif($6, '')::bigint), $7::boolean,"
        "     $8::bigint FROM p"
        "   ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id,"
        "     plan_id = EXCLUDED.plan_id, status = EXCLUDED.status,"
        "     current_period_start = EXCLUDED.current_period_start,"
        "     current_period_end = EXCLUDED.current_period_end,"
        "     cancel_at_period_end = EXCLUDED.cancel_at_period_end,"
        "     stripe_updated = greatest(subscriptions.stripe_updated,"
        "                               EXCLUDED.stripe_updated)"
        "   RETURNING plan_id)"
        " SELECT s.plan_id, p.audience,"
        "   coalesce((SELECT audience FROM old), p.audience)"
        " FROM s, p");


int
media_billing_event(media_job_t *job, yajl_val payload)
{
    int          rc;
    char         type[128], created[24];
    PGresult    *res;
    yajl_val     ev, obj;
    media_buf_t  out;
    const char  *id, *sub, *user, *ignored, *mode, *params[1];

    id = media_json_str(payload, "event");

    if (id == NULL || !media_event_id(id, "evt_")) {
        media_job_refuse(job, "an event job needs \"event\": a Stripe "
                         "event id (evt_...)");
        return -1;
    }

    params[0] = id;

    res = media_pg_exec(job->pg, &media_sql_event, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "read the event") != 0) {
        return -1;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        media_job_refuse(job, "the Stripe event %s is not stored", id);
        return -1;
    }

    memset(&out, 0, sizeof(out));
    media_buf_str(&out, "{\"event\":");
    media_buf_json(&out, id);

    if (strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
        /* a later change of the subscription comes with its own event */
        PQclear(res);
        media_log_info("job %s: event %s was applied before", job->id, id);
        media_buf_str(&out, ",\"applied\":\"before\"}");
        goto result;
    }

    snprintf(type, sizeof(type), "%s", PQgetvalue(res, 0, 0));
    snprintf(created, sizeof(created), "%s", PQgetvalue(res, 0, 1));
    ev = yajl_tree_parse(PQgetvalue(res, 0, 2), NULL, 0);
    PQclear(res);

    /* a payment-mode session: a purchase (purchases.c) */
    obj = media_json_get(ev, yajl_t_object, "data", "object", NULL);
    mode = media_json_str(obj, "mode");

    if ((strcmp(type, "checkout.session.completed") == 0
         || strcmp(type, "checkout.session.async_payment_succeeded") == 0)
        && mode && strcmp(mode, "payment") == 0)
    {
        media_buf_free(&out);
        rc = media_billing_purchase_event(job, id, type, obj);
        yajl_tree_free(ev);
        return rc;
    }

    user = NULL;
    ignored = NULL;
    sub = media_event_subscription(type, ev, &user, &ignored);

    if (sub == NULL) {
        yajl_tree_free(ev);

        media_log_info("job %s: event %s (%s) ignored: %s", job->id, id,
                       type, ignored);

        if (media_event_mark(job, id) != 0) {
            media_buf_free(&out);
            return -1;
        }

        media_buf_str(&out, ",\"ignored\":");
        media_buf_json(&out, ignored);
        media_buf_str(&out, "}");
        goto result;
    }

    media_buf_free(&out);

    rc = media_event_sync(job, id, created, sub, user ? user : "");

    yajl_tree_free(ev);
    return rc;

result:

    if (out.oom) {
        media_buf_free(&out);
        media_job_fail(job, "event: out of memory");
        return -1;
    }

    job->result = out.data;
    return 0;
}


/*
 * The subscription an event is about, or NULL with *ignored saying why:
 * the types we do not act on, and a session or invoice that is not a
 * subscription's.  *user: the user the event names, if it does.
 */
static const char *
media_event_subscription(const char *type, yajl_val ev, const char **user,
    const char **ignored)
{
    yajl_val     obj;
    const char  *sub;

    obj = media_json_get(ev, yajl_t_object, "data", "object", NULL);

    if (obj == NULL) {
        *ignored = "the event has no data.object";
        return NULL;
    }

    if (strcmp(type, "checkout.session.completed") == 0) {
        *user = media_json_str(obj, "client_reference_id");
        sub = media_json_str(obj, "subscription");

    } else if (strcmp(type, "customer.subscription.created") == 0
               || strcmp(type, "customer.subscription.updated") == 0
               || strcmp(type, "customer.subscription.deleted") == 0
               || strcmp(type, "customer.subscription.paused") == 0
               || strcmp(type, "customer.subscription.resumed") == 0)
    {
        sub = media_json_str(obj, "id");

    } else if (strcmp(type, "invoice.paid") == 0
               || strcmp(type, "invoice.payment_failed") == 0)
    {
        /* 2024-06-20 names it at the top; later versions under parent */
        sub = media_json_str(obj, "subscription");
        if (sub == NULL) {
            sub = media_json_str(media_json_get(obj, yajl_t_object,
                                     "parent", "subscription_details",
                                     NULL),
                                 "subscription");
        }

    } else {
        *ignored = "a type billing does not act on";
        return NULL;
    }

    if (sub == NULL || !media_event_id(sub, "sub_")) {
        *ignored = "not about a subscription";
        return NULL;
    }

    return sub;
}


static int
media_event_sync(media_job_t *job, const char *event, const char *created,
    const char *sub_id, const char *ref_user)
{
    int                  rc;
    char                 path[320];
    PGresult            *res;
    const char          *params[1];
    media_buf_t          out;
    media_sub_t          sub;
    media_stripe_t       st;
    media_stripe_res_t   sres;

    if (media_stripe_open(&st, job) != 0) {
        return -1;
    }

    rc = -1;
    memset(&out, 0, sizeof(out));
    memset(&sres, 0, sizeof(sres));
    params[0] = sub_id;

    if (media_event_exec(job, "BEGIN", "begin") != 0) {
        goto close;
    }

    /* one subscription at a time: whoever reads Stripe after us writes
     * after us */
    res = media_pg_exec(job->pg, &media_sql_lock, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "lock the subscription")
        != 0)
    {
        goto rollback;
    }

    PQclear(res);

    snprintf(path, sizeof(path), "/v1/subscriptions/%s", sub_id);

    if (media_stripe_call(&st, "GET", path, NULL, NULL, &sres) != 0) {
        goto rollback;
    }

    if (media_event_read(job, sres.json, &sub) != 0) {
        goto rollback;
    }

    if (sub.user[0] == '\0') {
        sub.user = ref_user;
    }

    if (media_event_store(job, event, created, &sub, &out) != 0) {
        goto rollback;
    }

    if (media_event_exec(job, "COMMIT", "commit") != 0) {
        goto close;
    }

    if (out.oom) {
        media_job_fail(job, "event: out of memory");
        goto close;
    }

    job->result = out.data;
    out.data = NULL;
    rc = 0;
    goto close;

rollback:

    res = PQexec(job->pg, "ROLLBACK");
    PQclear(res);

close:

    media_buf_free(&out);
    media_stripe_res_free(&sres);
    media_stripe_close(&st);

    return rc;
}


/* the fields we keep, out of Stripe's subscription object */
static int
media_event_read(media_job_t *job, yajl_val json, media_sub_t *sub)
{
    yajl_val  items, item, v;

    memset(sub, 0, sizeof(media_sub_t));

    sub->id = media_json_str(json, "id");
    sub->status = media_json_str(json, "status");
    sub->customer = media_json_str(json, "customer");
    sub->user = media_json_str(media_json_get(json, yajl_t_object,
                                              "metadata", NULL), "user_id");

    items = media_json_get(json, yajl_t_array, "items", "data", NULL);
    item = items && YAJL_GET_ARRAY(items)->len
           ? YAJL_GET_ARRAY(items)->values[0] : NULL;
    sub->price = media_json_str(media_json_get(item, yajl_t_object, "price",
                                               NULL), "id");

    /* at the top in 2024-06-20, on the item in later versions */
    v = media_json_get(json, yajl_t_number, "current_period_start", NULL);
    media_event_number(v ? v : media_json_get(item, yajl_t_number,
                                              "current_period_start", NULL),
                       sub->period_start, sizeof(sub->period_start));
    v = media_json_get(json, yajl_t_number, "current_period_end", NULL);
    media_event_number(v ? v : media_json_get(item, yajl_t_number,
                                              "current_period_end", NULL),
                       sub->period_end, sizeof(sub->period_end));

    v = media_json_get(json, yajl_t_any, "cancel_at_period_end", NULL);
    sub->cancel_at_period_end = v && YAJL_IS_TRUE(v);

    if (sub->user == NULL) {
        sub->user = "";
    }

    if (sub->id == NULL || sub->status == NULL || sub->customer == NULL
        || sub->price == NULL)
    {
        media_job_fail(job, "stripe: the subscription lacks %s",
                       sub->id == NULL ? "its id"
                       : sub->status == NULL ? "a status"
                       : sub->customer == NULL ? "a customer"
                       : "items.data[0].price.id");
        media_billing_retry(job, "the payment service sent an incomplete "
                            "subscription");
        return -1;
    }

    return 0;
}


static int
media_event_store(media_job_t *job, const char *event, const char *created,
    media_sub_t *sub, media_buf_t *out)
{
    char         user[40], audience[2][16];
    PGresult    *res;
    const char  *params[9];

    /* the user: our customer first, else who the subscription or the
     * session names; locked, so that two subscriptions of one user are
     * summed up one after the other */
    params[0] = sub->customer;
    params[1] = sub->user;

    res = media_pg_exec(job->pg, &media_sql_event_user, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "find the user") != 0) {
        return -1;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        media_job_refuse(job, "the subscription %s (customer %s) belongs "
                         "to no user here", sub->id, sub->customer);
        return -1;
    }

    snprintf(user, sizeof(user), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    params[0] = sub->id;
    params[1] = user;
    params[2] = sub->price;
    params[3] = sub->status;
    params[4] = sub->period_start;
    params[5] = sub->period_end;
    params[6] = sub->cancel_at_period_end ? "t" : "f";
    params[7] = created;

    /* the price's plan; a status outside the table's set is refused by
     * its CHECK, which is a bug here, not Stripe's: retried, then dead.
     * Returned: the plan, its audience and the audience of the plan the
     * row held before (a change of price may cross audiences) */
    res = media_pg_exec(job->pg, &media_sql_subscription_store, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "store the subscription")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        media_job_refuse(job, "the subscription %s is for the Stripe price "
                         "%s, which no plan here sells (plans."
                         "stripe_price_id)", sub->id, sub->price);
        return -1;
    }

    snprintf(audience[0], sizeof(audience[0]), "%s", PQgetvalue(res, 0, 1));
    snprintf(audience[1], sizeof(audience[1]), "%s", PQgetvalue(res, 0, 2));
    PQclear(res);

    /*
     * The plan of the subscription's audience (and of its old one): the
     * best live subscription's, else the audience's default.  The other
     * audience's plan is left alone: a plan an admin gave stays.
     */
    params[2] = audience[0];
    params[3] = audience[1];

    res = media_pg_exec(job->pg, &media_sql_plans_set, &params[1]);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "set the user's plans")
        != 0)
    {
        return -1;
    }

    media_log_info("job %s: event %s: subscription %s of user %s is %s "
                   "(%s); plans now %s, %s", job->id, event, sub->id,
                   params[1], sub->status, sub->price,
                   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));

    media_buf_str(out, "{\"event\":");
    media_buf_json(out, event);
    media_buf_str(out, ",\"subscription\":");
    media_buf_json(out, sub->id);
    media_buf_str(out, ",\"status\":");
    media_buf_json(out, sub->status);
    media_buf_str(out, ",\"plan\":");
    media_buf_json(out, PQgetvalue(res, 0, 0));
    media_buf_str(out, ",\"creator_plan\":");
    media_buf_json(out, PQgetvalue(res, 0, 1));
    media_buf_str(out, "}");

    PQclear(res);

    return media_event_mark(job, event);
}


static int
media_event_mark(media_job_t *job, const char *event)
{
    PGresult    *res;
    const char  *params[1];

    params[0] = event;

    res = media_pg_exec(job->pg, &media_sql_mark, params);

    if (media_job_check(job, res, PGRES_COMMAND_OK, "mark the event applied")
        != 0)
    {
        return -1;
    }

    PQclear(res);
    return 0;
}


/* BEGIN, COMMIT: transaction control, not statements to prepare */
static int
media_event_exec(media_job_t *job, const char *sql, const char *what)
{
    PGresult  *res;

    res = PQexec(job->pg, sql);

    if (media_job_check(job, res, PGRES_COMMAND_OK, what) != 0) {
        return -1;
    }

    PQclear(res);
    return 0;
}


/* seconds since the epoch as text, or "" */
static void
media_event_number(yajl_val v, char *buf, size_t size)
{
    buf[0] = '\0';

    if (v && YAJL_IS_INTEGER(v)) {
        snprintf(buf, size, "%lld", YAJL_GET_INTEGER(v));
    }
}


/* prefix then letters, digits and "_": safe in a path and in a log */
static int
media_event_id(const char *s, const char *prefix)
{
    size_t  n;

    n = strlen(prefix);

    if (strncmp(s, prefix, n) != 0 || s[n] == '\0' || strlen(s) > 255) {
        return 0;
    }

    return strspn(s + n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_") == strlen(s + n);
}
