/*
 * What the checkout, portal and purchase jobs share: the user's Stripe
 * customer, the URLs Stripe sends the user back to, and the job's result.
 * Below main.c and purchases.c, which both use it.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"


static media_stmt_t  media_sql_customer_store =
    media_stmt("billing_customer_store", 2,
        "WITH set AS (UPDATE users SET stripe_customer_id = $2"
        "   WHERE id = $1::uuid AND stripe_customer_id IS NULL"
        "   RETURNING stripe_customer_id)"
        " SELECT stripe_customer_id FROM set"
        " UNION ALL"
        " SELECT stripe_customer_id FROM users"
        "  WHERE id = $1::uuid AND NOT EXISTS (SELECT 1 FROM set)");


static media_stmt_t  media_sql_customer_forget =
    media_stmt("billing_customer_forget", 2,
        "UPDATE users SET stripe_customer_id = NULL"
        " WHERE id = $1::uuid AND stripe_customer_id = $2");


/*
 * The user's Stripe customer, made once.  Two jobs racing both make one
 * (each with its own idempotency key); the first stored wins and the
 * other job uses it, leaving an unused customer in Stripe.
 */
static int
media_billing_customer(media_job_t *job, media_stripe_t *st,
    const char *user, const char *email, const char *again, char *customer,
    size_t size)
{
    char                 idem[96];
    PGresult            *res;
    const char          *id, *params[2];
    media_buf_t          form;
    media_stripe_res_t   sres;

    memset(&form, 0, sizeof(form));
    media_buf_form(&form, "email", email);
    media_buf_form(&form, "metadata[user_id]", user);

    if (form.oom) {
        media_buf_free(&form);
        media_job_fail(job, "customer: out of memory");
        return -1;
    }

    /* again: "-recovered" when the first one was deleted in Stripe, whose
     * key would give it back */
    snprintf(idem, sizeof(idem), "ngx_media-%s-customer%s", job->id, again);

    if (media_stripe_call(st, "POST", "/v1/customers", form.data, idem,
                          &sres) != 0)
    {
        media_stripe_res_free(&sres);
        media_buf_free(&form);
        return -1;
    }

    media_buf_free(&form);

    id = media_json_str(sres.json, "id");
    if (id == NULL || strncmp(id, "cus_", 4) != 0) {
        media_stripe_res_free(&sres);
        media_job_fail(job, "stripe: POST /v1/customers: no customer id "
                       "in the answer");
        return -1;
    }

    params[0] = user;
    params[1] = id;

    res = media_pg_exec(job->pg, &media_sql_customer_store, params);

    media_stripe_res_free(&sres);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "store the customer")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        media_job_refuse(job, "the account no longer exists");
        return -1;
    }

    snprintf(customer, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);

    media_log_info("job %s: user %s is Stripe customer %s", job->id, user,
                   customer);

    return 0;
}


int
media_billing_checkout_session(media_job_t *job, media_stripe_t *st,
    const char *user, const char *email, char *customer, size_t size,
    media_billing_form_pt build, void *data, media_stripe_res_t *res)
{
    int           rc, again;
    char          idem[160], key[200];
    PGresult     *pg;
    const char   *params[2];
    media_buf_t   form;

    memset(res, 0, sizeof(media_stripe_res_t));

    for (again = 0; again < 2; again++) {

        if (customer[0] == '\0'
            && media_billing_customer(job, st, user, email,
                                      again ? "-recovered" : "", customer,
                                      size)
               != 0)
        {
            return -1;
        }

        memset(&form, 0, sizeof(form));

        if (build(&form, customer, data, idem, sizeof(idem)) != 0
            || form.oom)
        {
            media_buf_free(&form);
            media_job_fail(job, "checkout: out of memory");
            return -1;
        }

        snprintf(key, sizeof(key), "%s%s", idem, again ? "-recovered" : "");

        st->recover = again ? NULL : "customer";
        rc = media_stripe_call(st, "POST", "/v1/checkout/sessions",
                               form.data, key, res);
        st->recover = NULL;

        media_buf_free(&form);

        if (rc == 0) {
            return 0;
        }

        if (again || res->status == 0
            || strcmp(res->code, "resource_missing") != 0
            || strcmp(res->param, "customer") != 0)
        {
            return -1;     /* the job failed by media_stripe_call */
        }

        media_log_info("job %s: Stripe no longer has customer %s of user "
                       "%s (deleted?): a new one is made", job->id,
                       customer, user);

        params[0] = user;
        params[1] = customer;

        pg = media_pg_exec(job->pg, &media_sql_customer_forget, params);

        if (media_job_check(job, pg, PGRES_COMMAND_OK, "forget the customer")
            != 0)
        {
            media_stripe_res_free(res);
            return -1;
        }

        PQclear(pg);
        media_stripe_res_free(res);
        customer[0] = '\0';
    }

    return -1;   /* not reached: the second try has missing_ok off */
}


/* media_public_url + fragment: where Stripe sends the user back */
int
media_billing_url(media_job_t *job, char *buf, size_t size,
    const char *fragment)
{
    size_t       n;
    const char  *base = job->settings->public_url;

    if (base == NULL) {
        media_job_fail(job, "billing: no %s in %s", MEDIA_SET_PUBLIC_URL,
                       job->settings->conf_file);
        media_job_refuse(job, "payments are not set up on this server (no "
                         "public address to come back to); contact the "
                         "site's support");
        return -1;
    }

    n = strlen(base);
    if (n && base[n - 1] == '/') {
        n--;
    }

    if (snprintf(buf, size, "%.*s/%s", (int) n, base, fragment)
        >= (int) size)
    {
        media_job_refuse(job, "media_public_url is too long");
        return -1;
    }

    return 0;
}


/* jobs.result = {"url": the object's url} */
int
media_billing_result_url(media_job_t *job, media_stripe_res_t *res)
{
    const char   *url;
    media_buf_t   out;

    url = media_json_str(res->json, "url");

    if (url == NULL || (strncmp(url, "https://", 8) != 0
                        && strncmp(url, "http://", 7) != 0))
    {
        media_job_fail(job, "stripe: the %s has no url",
                       media_json_str(res->json, "object")
                       ? media_json_str(res->json, "object") : "answer");
        media_billing_retry(job, "the payment service answered without a "
                            "page to go to");
        return -1;
    }

    memset(&out, 0, sizeof(out));
    media_buf_str(&out, "{\"url\":");
    media_buf_json(&out, url);
    media_buf_str(&out, "}");

    if (out.oom) {
        media_buf_free(&out);
        media_job_fail(job, "result: out of memory");
        return -1;
    }

    job->result = out.data;     /* freed by the queue */

    return 0;
}
