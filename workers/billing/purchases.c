/*
 * A priced media bought.
 *
 * The purchase job ({"action":"purchase","media":id}, jobs.user_id the
 * buyer) makes a Checkout Session in payment mode: one line item whose
 * price_data is the media's price and title at this moment, the buyer and
 * the media in the session's metadata and client_reference_id.  Nothing is
 * granted then, nor when Stripe sends the buyer back to the success page.
 *
 * The grant comes from Stripe's event: checkout.session.completed (or
 * checkout.session.async_payment_succeeded, for payments that settle
 * later) of a payment-mode session.  As for subscriptions, the event only
 * names the session; the session is read again from Stripe, and only a
 * complete, paid one grants.  The entitlement row is keyed by (buyer,
 * media) and by the session, so an event applied twice, or both events
 * of one session, or two sessions of one buyer for one media, leave one
 * row.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>

#include "billing.h"


/* Stripe's product_data.name must not be empty */
#define MEDIA_PURCHASE_UNTITLED  "Untitled media"


/* what a purchase's Checkout Session is made of */
typedef struct {
    PGresult     *res;           /* the buyer and the media */
    const char   *user;
    const char   *media;
    const char   *success;
    const char   *cancel;
} media_purchase_t;


static int media_purchase_form(media_buf_t *form, const char *customer,
    void *data, char *idem, size_t size);
static int media_purchase_grant(media_job_t *job, const char *event,
    yajl_val cs, media_buf_t *out);
static int media_purchase_uuid(const char *s);
static void media_purchase_key(char *out, size_t size, const char *form,
    size_t len);


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_purchase_read =
    media_stmt("billing_purchase_read", 2,
        "SELECT u.email, coalesce(u.stripe_customer_id, ''),"
        "  m.id IS NULL OR m.deleted_at IS NOT NULL"
        "    OR (m.privacy = 'private' AND m.owner_id <> u.id),"
        "  m.owner_id = u.id, m.price_cents IS NULL,"
        "  EXISTS (SELECT 1 FROM entitlements e"
        "           WHERE e.user_id = u.id AND e.media_id = m.id),"
        "  coalesce(nullif(m.title, ''), '" MEDIA_PURCHASE_UNTITLED "'),"
        "  m.price_cents, m.currency"
        " FROM users u LEFT JOIN media m ON m.id = $2::uuid"
        " WHERE u.id = $1::uuid");

/*
 * The grant, once: inserted is 1 for a new row, 0 when the buyer owned the
 * media already (this session or another); the buyer and the media must
 * still exist (a deleted media's row stays, so a paid one is still owned)
 */
static media_stmt_t  media_sql_purchase_grant =
    media_stmt("billing_purchase_grant", 5,
        "WITH ins AS ("
        "  INSERT INTO entitlements (user_id, media_id, source,"
        "      stripe_session, amount_cents, currency)"
        "  SELECT u.id, m.id, 'purchase', $3, $4::integer, lower($5)"
        "    FROM users u, media m WHERE u.id = $1::uuid AND m.id = $2::uuid"
        "  ON CONFLICT DO NOTHING RETURNING 1)"
        " SELECT (SELECT count(*) FROM ins),"
        "   EXISTS (SELECT 1 FROM users WHERE id = $1::uuid),"
        "   EXISTS (SELECT 1 FROM media WHERE id = $2::uuid)");

static media_stmt_t  media_sql_purchase_mark =
    media_stmt("billing_purchase_mark", 1,
        "UPDATE billing_events SET applied_at = coalesce(applied_at, now())"
        " WHERE id = $1");


int
media_billing_purchase(media_job_t *job, yajl_val payload, const char *user)
{
    int                  rc;
    char                 customer[256], email[320], fragment[128];
    char                 success[2048], cancel[2048];
    PGresult            *res;
    const char          *media, *params[2];
    media_stripe_t       st;
    media_purchase_t     p;
    media_stripe_res_t   sres;

    media = media_json_str(payload, "media");
    if (media == NULL || !media_purchase_uuid(media)) {
        media_job_refuse(job, "a purchase needs \"media\": the id of the "
                         "media to buy");
        return -1;
    }

    params[0] = user;
    params[1] = media;

    /* what the module checked, again: things may have changed since */
    res = media_pg_exec(job->pg, &media_sql_purchase_read, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "read buyer and media")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        media_job_refuse(job, "the account no longer exists");
        return -1;
    }

    if (strcmp(PQgetvalue(res, 0, 2), "t") == 0
        || strcmp(PQgetvalue(res, 0, 3), "t") == 0
        || strcmp(PQgetvalue(res, 0, 4), "t") == 0
        || strcmp(PQgetvalue(res, 0, 5), "t") == 0)
    {
        media_job_refuse(job, "%s",
            PQgetvalue(res, 0, 2)[0] == 't'
            ? "this media is no longer available"
            : PQgetvalue(res, 0, 3)[0] == 't'
            ? "this media is yours: there is nothing to buy"
            : PQgetvalue(res, 0, 4)[0] == 't'
            ? "this media is no longer for sale"
            : "you bought this media already");
        PQclear(res);
        return -1;
    }

    snprintf(email, sizeof(email), "%s", PQgetvalue(res, 0, 0));
    snprintf(customer, sizeof(customer), "%s", PQgetvalue(res, 0, 1));
    snprintf(fragment, sizeof(fragment), "#purchases?purchase=success&"
             "media=%s", media);

    if (media_billing_url(job, success, sizeof(success), fragment) != 0
        || media_billing_url(job, cancel, sizeof(cancel),
                             "#purchases?purchase=cancel") != 0
        || media_stripe_open(&st, job) != 0)
    {
        PQclear(res);
        return -1;
    }

    p.res = res;
    p.user = user;
    p.media = media;
    p.success = success;
    p.cancel = cancel;

    rc = media_billing_checkout_session(job, &st, user, email, customer,
                                        sizeof(customer), media_purchase_form,
                                        &p, &sres);
    PQclear(res);

    if (rc == 0) {
        rc = media_billing_result_url(job, &sres);
    }

    if (rc == 0) {
        media_log_info("job %s: purchase session %s for user %s, media %s",
                       job->id, media_json_str(sres.json, "id"), user,
                       media);
    }

    media_stripe_res_free(&sres);
    media_stripe_close(&st);

    return rc;
}


/*
 * The session's parameters, in Stripe's form encoding, and its key: one
 * session for the same purchase asked twice the same day (a double click
 * makes two jobs): Stripe answers the second call with the first's
 * session, so it cannot be paid twice.  The key is the session's own
 * parameters (buyer, media, price, title, URLs) and the UTC day.
 */
static int
media_purchase_form(media_buf_t *form, const char *customer, void *data,
    char *idem, size_t size)
{
    media_purchase_t  *p = data;

    PGresult    *res = p->res;
    const char  *user = p->user, *media = p->media;

    media_buf_form(form, "mode", "payment");
    media_buf_form(form, "customer", customer);
    media_buf_form(form, "client_reference_id", user);
    media_buf_form(form, "line_items[0][quantity]", "1");
    media_buf_form(form, "line_items[0][price_data][currency]",
                   PQgetvalue(res, 0, 8));
    media_buf_form(form, "line_items[0][price_data][unit_amount]",
                   PQgetvalue(res, 0, 7));
    media_buf_form(form, "line_items[0][price_data][product_data][name]",
                   PQgetvalue(res, 0, 6));
    media_buf_form(form,
                   "line_items[0][price_data][product_data][metadata]"
                   "[media_id]", media);
    media_buf_form(form, "metadata[kind]", "purchase");
    media_buf_form(form, "metadata[user_id]", user);
    media_buf_form(form, "metadata[media_id]", media);
    media_buf_form(form, "payment_intent_data[metadata][user_id]", user);
    media_buf_form(form, "payment_intent_data[metadata][media_id]", media);
    media_buf_form(form, "success_url", p->success);
    media_buf_form(form, "cancel_url", p->cancel);

    if (form->oom) {
        return -1;
    }

    media_purchase_key(idem, size, form->data, form->len);

    return 0;
}


/*
 * A payment-mode session's event: the session read again from Stripe, the
 * entitlement granted when it is paid, the event marked applied.
 */
int
media_billing_purchase_event(media_job_t *job, const char *event,
    const char *type, yajl_val obj)
{
    int                  rc;
    char                 path[320];
    PGresult            *res;
    const char          *id, *status, *paid, *mode, *params[1];
    media_buf_t          out;
    media_stripe_t       st;
    media_stripe_res_t   sres;

    id = media_json_str(obj, "id");

    if (id == NULL || strncmp(id, "cs_", 3) != 0 || strlen(id) > 255
        || strspn(id + 3, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                          "0123456789_") != strlen(id + 3))
    {
        media_job_refuse(job, "the event %s (%s) names no checkout session",
                         event, type);
        return -1;
    }

    if (media_stripe_open(&st, job) != 0) {
        return -1;
    }

    rc = -1;
    memset(&out, 0, sizeof(out));
    memset(&sres, 0, sizeof(sres));
    snprintf(path, sizeof(path), "/v1/checkout/sessions/%s", id);

    if (media_stripe_call(&st, "GET", path, NULL, NULL, &sres) != 0) {
        goto done;
    }

    status = media_json_str(sres.json, "status");
    paid = media_json_str(sres.json, "payment_status");
    mode = media_json_str(sres.json, "mode");

    if (mode == NULL || strcmp(mode, "payment") != 0) {
        media_job_refuse(job, "the session %s is in %s mode at Stripe, not "
                         "payment: no purchase", id, mode ? mode : "no");
        goto done;
    }

    media_buf_str(&out, "{\"event\":");
    media_buf_json(&out, event);
    media_buf_str(&out, ",\"session\":");
    media_buf_json(&out, id);

    if (status == NULL || strcmp(status, "complete") != 0
        || paid == NULL || strcmp(paid, "paid") != 0)
    {
        /* a delayed payment: its async_payment_succeeded event grants */
        media_log_info("job %s: event %s: session %s is %s, %s: nothing "
                       "granted yet", job->id, event, id,
                       status ? status : "(no status)",
                       paid ? paid : "(no payment_status)");
        media_buf_str(&out, ",\"granted\":false,\"payment_status\":");
        media_buf_json(&out, paid ? paid : "");
        media_buf_str(&out, "}");

    } else if (media_purchase_grant(job, event, sres.json, &out) != 0) {
        goto done;
    }

    params[0] = event;

    res = media_pg_exec(job->pg, &media_sql_purchase_mark, params);

    if (media_job_check(job, res, PGRES_COMMAND_OK, "mark the event applied")
        != 0)
    {
        goto done;
    }

    PQclear(res);

    if (out.oom) {
        media_job_fail(job, "event: out of memory");
        goto done;
    }

    job->result = out.data;
    out.data = NULL;
    rc = 0;

done:

    media_buf_free(&out);
    media_stripe_res_free(&sres);
    media_stripe_close(&st);

    return rc;
}


/* a paid session (as Stripe has it now) grants its buyer the media */
static int
media_purchase_grant(media_job_t *job, const char *event, yajl_val cs,
    media_buf_t *out)
{
    char         amount[24];
    yajl_val     meta, v;
    PGresult    *res;
    const char  *id, *user, *media, *currency, *params[5];

    id = media_json_str(cs, "id");
    meta = media_json_get(cs, yajl_t_object, "metadata", NULL);
    user = media_json_str(meta, "user_id");
    media = media_json_str(meta, "media_id");
    currency = media_json_str(cs, "currency");
    v = media_json_get(cs, yajl_t_number, "amount_total", NULL);

    if (user == NULL) {
        user = media_json_str(cs, "client_reference_id");
    }

    if (user == NULL || media == NULL || !media_purchase_uuid(user)
        || !media_purchase_uuid(media))
    {
        media_job_refuse(job, "the paid session %s names no buyer and media "
                         "of ours (metadata user_id, media_id)", id);
        return -1;
    }

    amount[0] = '\0';
    if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0
        && YAJL_GET_INTEGER(v) <= 0x7fffffff)
    {
        snprintf(amount, sizeof(amount), "%lld", YAJL_GET_INTEGER(v));
    }

    params[0] = user;
    params[1] = media;
    params[2] = id;
    params[3] = amount[0] ? amount : NULL;
    params[4] = currency && strlen(currency) == 3 ? currency : NULL;

    res = media_pg_exec(job->pg, &media_sql_purchase_grant, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "grant the entitlement")
        != 0)
    {
        return -1;
    }

    if (PQgetvalue(res, 0, 1)[0] != 't' || PQgetvalue(res, 0, 2)[0] != 't') {
        media_job_refuse(job, "the paid session %s is for %s %s, which no "
                         "longer exists here", id,
                         PQgetvalue(res, 0, 1)[0] != 't' ? "user" : "media",
                         PQgetvalue(res, 0, 1)[0] != 't' ? user : media);
        PQclear(res);
        return -1;
    }

    media_log_info("job %s: event %s: session %s paid: user %s %s media %s",
                   job->id, event, id, user,
                   PQgetvalue(res, 0, 0)[0] == '1' ? "now owns"
                                                   : "owned already",
                   media);

    media_buf_str(out, ",\"granted\":");
    media_buf_str(out, PQgetvalue(res, 0, 0)[0] == '1' ? "true" : "false");
    media_buf_str(out, ",\"user\":");
    media_buf_json(out, user);
    media_buf_str(out, ",\"media\":");
    media_buf_json(out, media);
    media_buf_str(out, "}");

    PQclear(res);

    return 0;
}


/* 8-4-4-4-12 hex digits: safe to cast to uuid, no SQL error */
static int
media_purchase_uuid(const char *s)
{
    int  i;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (strchr("0123456789abcdefABCDEF", s[i]) == NULL
                   || s[i] == '\0')
        {
            return 0;
        }
    }

    return s[36] == '\0';
}


/* "ngx_media-purchase-<sha-256 of the form, 32 hex>-<YYYYMMDD>" */
static void
media_purchase_key(char *out, size_t size, const char *form, size_t len)
{
    int            i;
    char           day[16], hex[33];
    time_t         now;
    struct tm      tm;
    unsigned char  md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *) form, len, md);

    for (i = 0; i < 16; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }

    now = time(NULL);
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y%m%d", &tm);

    snprintf(out, size, "ngx_media-purchase-%s-%s", hex, day);
}
