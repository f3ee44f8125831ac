/*
 * media-billing: the only part of ngx_media that talks to Stripe.
 *
 * main.c     the jobs: checkout, portal, event (dispatch and the first two)
 * events.c   applying Stripe's events: the subscription re-read from Stripe,
 *            stored, and the user's plans derived from it
 * purchases.c  a priced media bought: the payment-mode Checkout Session,
 *            and the entitlement its paid session grants
 * stripe.c   the HTTPS client (libcurl): the key, the pinned API version,
 *            idempotency keys, timeouts, retries; a form and JSON writer
 */

#ifndef _MEDIA_BILLING_H_INCLUDED_
#define _MEDIA_BILLING_H_INCLUDED_


#include <curl/curl.h>
#include <yajl/yajl_tree.h>

#include "worker.h"
#include "queue.h"


#define MEDIA_STRIPE_VERSION          "2024-06-20"
#define MEDIA_STRIPE_CONNECT_TIMEOUT  5000L    /* ms */
#define MEDIA_STRIPE_TIMEOUT          30000L   /* ms, a whole call */
#define MEDIA_STRIPE_TRIES            3        /* per call, then the job's
                                                  own retries take over */
#define MEDIA_STRIPE_BACKOFF          500L     /* ms, doubled per try */
#define MEDIA_STRIPE_MAX_BODY         (1L << 20)


/* a growing string: appends never fail loudly, oom is checked once */
typedef struct {
    char     *data;
    size_t    len;
    size_t    size;
    unsigned  oom:1;
} media_buf_t;


typedef struct {
    CURL                *curl;
    struct curl_slist   *auth;       /* the Authorization header alone */
    const char          *api_url;
    media_job_t         *job;
    const char          *recover;    /* a 4xx resource_missing on this
                                        param returns -1 with the job
                                        untouched, for the caller to
                                        recover from; NULL: none */
} media_stripe_t;


typedef struct {
    long        status;              /* HTTP status; 0: no answer */
    yajl_val    json;                /* the answer's object, or NULL */
    char        message[256];        /* Stripe's error.message, or why
                                        there was no answer */
    char        code[64];            /* Stripe's error.code or .type */
    char        param[64];           /* Stripe's error.param, or "" */
} media_stripe_res_t;


void media_buf_add(media_buf_t *b, const char *s, size_t len);
void media_buf_str(media_buf_t *b, const char *s);
/* "&key=value", URL-encoded (the first pair without "&") */
void media_buf_form(media_buf_t *b, const char *key, const char *value);
/* a JSON string, quoted and escaped */
void media_buf_json(media_buf_t *b, const char *s);
void media_buf_free(media_buf_t *b);

/*
 * Reads media_stripe_secret_key's file and prepares a client for one job.
 * -1: the job is failed (refused when billing is not configured at all).
 */
int media_stripe_open(media_stripe_t *st, media_job_t *job);
void media_stripe_close(media_stripe_t *st);

/*
 * One API call: method "GET", "POST" or "DELETE", path "/v1/...", form
 * the POST body (may be NULL), idem the Idempotency-Key (POST only, may be
 * NULL).  Network errors, 409, 429 and 5xx are tried again (Stripe's
 * Stripe-Should-Retry header has the last word), up to MEDIA_STRIPE_TRIES
 * times with backoff.  Returns 0 with res->json the object on 2xx;
 * otherwise -1 with the job failed: transiently when Stripe could not
 * answer, permanently (refused, a sentence for the user) on another 4xx.
 * res is freed with media_stripe_res_free either way.
 */
int media_stripe_call(media_stripe_t *st, const char *method,
    const char *path, const char *form, const char *idem,
    media_stripe_res_t *res);
void media_stripe_res_free(media_stripe_res_t *res);

/* a member by path ("items", "data", NULL), of the given type, or NULL */
yajl_val media_json_get(yajl_val v, yajl_type type, ...);
/* a string member of v, or NULL */
const char *media_json_str(yajl_val v, const char *key);

/* a transient failure with a sentence for the user saying what and that
 * it will be tried again (or was given up on) */
void media_billing_retry(media_job_t *job, const char *why);


/* the event action (events.c) */
int media_billing_event(media_job_t *job, yajl_val payload);

/*
 * POST /v1/checkout/sessions for the user's customer (made first when
 * there is none): build(form, customer, data, idem, size) writes the
 * session's form and its Idempotency-Key, -1 when out of memory.  A stored
 * customer that Stripe no longer has (deleted in the Dashboard: 4xx
 * resource_missing on "customer") is forgotten, a new one made, and the
 * session asked for again, once, its key ending in "-recovered".  0 with
 * res->json the session, or -1 with the job failed.
 */
typedef int (*media_billing_form_pt)(media_buf_t *form, const char *customer,
    void *data, char *idem, size_t size);

int media_billing_checkout_session(media_job_t *job, media_stripe_t *st,
    const char *user, const char *email, char *customer, size_t size,
    media_billing_form_pt build, void *data, media_stripe_res_t *res);
/* media_public_url + fragment: where Stripe sends the user back */
int media_billing_url(media_job_t *job, char *buf, size_t size,
    const char *fragment);
/* jobs.result = {"url": the Stripe object's url} */
int media_billing_result_url(media_job_t *job, media_stripe_res_t *res);

/* the purchase action, and the events of a payment-mode session
 * (purchases.c) */
int media_billing_purchase(media_job_t *job, yajl_val payload,
    const char *user);
int media_billing_purchase_event(media_job_t *job, const char *event,
    const char *type, yajl_val obj);


#endif /* _MEDIA_BILLING_H_INCLUDED_ */
