/*
 * The Stripe client: libcurl, blocking (this is a worker), one handle per
 * job so that its calls share a connection.
 *
 * Every call carries the pinned Stripe-Version, so the objects we parse
 * keep their shape whatever the account's default version is.  A POST
 * carries an Idempotency-Key the caller derives from the job, so a call
 * tried again (here, or by the job's next attempt) never makes a second
 * customer or session.  The secret key goes only into the Authorization
 * header: it is never logged, and zeroed when the job ends.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"


typedef struct {
    media_buf_t   body;
    int           should_retry;     /* -1: no header, 0 false, 1 true */
} media_stripe_answer_t;


static int media_stripe_key(media_job_t *job, char *key, size_t size);
static long media_stripe_once(media_stripe_t *st, const char *method,
    const char *url, const char *form, const char *idem,
    media_stripe_answer_t *a, char *err, size_t errlen);
static size_t media_stripe_write(char *ptr, size_t size, size_t nmemb,
    void *data);
static size_t media_stripe_header(char *ptr, size_t size, size_t nmemb,
    void *data);
static void media_stripe_error(yajl_val json, media_stripe_res_t *res);


int
media_stripe_open(media_stripe_t *st, media_job_t *job)
{
    char                header[320], key[256];
    const media_settings_t  *s = job->settings;

    memset(st, 0, sizeof(media_stripe_t));
    st->job = job;
    st->api_url = s->stripe_api_url ? s->stripe_api_url
                                    : MEDIA_DEFAULT_STRIPE_API_URL;

    if (media_stripe_key(job, key, sizeof(key)) != 0) {
        return -1;
    }

    snprintf(header, sizeof(header), "Authorization: Bearer %s", key);
    explicit_bzero(key, sizeof(key));

    st->auth = curl_slist_append(NULL, header);
    explicit_bzero(header, sizeof(header));

    st->curl = curl_easy_init();

    if (st->auth == NULL || st->curl == NULL) {
        media_job_fail(job, "stripe: out of memory");
        media_stripe_close(st);
        return -1;
    }

    return 0;
}


/*
 * The first line of media_stripe_secret_key's file: sk_... or rk_....
 * "$tenant" in the file's name stands for the job's tenant (sql/031): a
 * site of its own (media_tenant) bills through its own Stripe account.
 */
static int
media_stripe_key(media_job_t *job, char *key, size_t size)
{
    FILE        *f;
    size_t       n;
    char         path[4096];
    const char  *file = job->settings->stripe_key_file;
    const char  *var;

    if (file && (var = strstr(file, "$tenant")) != NULL) {
        if (media_path(path, sizeof(path), "%.*s%s%s", (int) (var - file),
                       file, job->tenant, var + sizeof("$tenant") - 1)
            != 0)
        {
            media_job_fail(job, "stripe: %s \"%s\" for tenant %s: %s",
                           MEDIA_SET_STRIPE_KEY, file, job->tenant,
                           strerror(errno));
            media_billing_retry(job, "the payment service is not reachable "
                                "from here right now (our configuration)");
            return -1;
        }

        file = path;
    }

    if (file == NULL) {
        media_job_fail(job, "stripe: no %s in %s", MEDIA_SET_STRIPE_KEY,
                       job->settings->conf_file);
        media_job_refuse(job, "payments are not set up on this server "
                         "(no Stripe key); contact the site's support");
        return -1;
    }

    f = fopen(file, "r");
    if (f == NULL) {
        media_job_fail(job, "stripe: %s \"%s\": %s", MEDIA_SET_STRIPE_KEY,
                       file, strerror(errno));
        media_billing_retry(job, "the payment service is not reachable "
                            "from here right now (our configuration)");
        return -1;
    }

    if (fgets(key, size, f) == NULL) {
        key[0] = '\0';
    }

    fclose(f);

    n = strlen(key);
    while (n && isspace((unsigned char) key[n - 1])) {
        key[--n] = '\0';
    }

    if ((strncmp(key, "sk_", 3) != 0 && strncmp(key, "rk_", 3) != 0)
        || strcspn(key, " \t\r\n") != n)
    {
        explicit_bzero(key, size);
        /* the key is not named: not even its start is logged */
        media_job_fail(job, "stripe: %s \"%s\" does not hold a secret key "
                       "(sk_... or rk_... on its first line)",
                       MEDIA_SET_STRIPE_KEY, file);
        media_job_refuse(job, "payments are not set up on this server "
                         "(the Stripe key is not valid); contact the "
                         "site's support");
        return -1;
    }

    return 0;
}


void
media_stripe_close(media_stripe_t *st)
{
    struct curl_slist  *h;

    /* the header list holds the key: zero it before it is freed */
    for (h = st->auth; h; h = h->next) {
        explicit_bzero(h->data, strlen(h->data));
    }

    curl_slist_free_all(st->auth);
    st->auth = NULL;

    if (st->curl) {
        curl_easy_cleanup(st->curl);
        st->curl = NULL;
    }
}


int
media_stripe_call(media_stripe_t *st, const char *method, const char *path,
    const char *form, const char *idem, media_stripe_res_t *res)
{
    int                     try, retry;
    char                    url[2048], err[CURL_ERROR_SIZE + 64], why[400];
    long                    wait, status;
    media_job_t            *job = st->job;
    media_stripe_answer_t   a;

    memset(res, 0, sizeof(media_stripe_res_t));

    if (media_path(url, sizeof(url), "%s%s", st->api_url, path) != 0) {
        media_job_fail(job, "stripe: URL too long: %s", path);
        media_billing_retry(job, "a problem on our side");
        return -1;
    }

    wait = MEDIA_STRIPE_BACKOFF;
    status = 0;

    for (try = 1; try <= MEDIA_STRIPE_TRIES; try++) {
        memset(&a, 0, sizeof(a));
        a.should_retry = -1;

        status = media_stripe_once(st, method, url, form, idem, &a, err,
                                   sizeof(err));

        /* an answer came (or the network said no): the job moves on */
        media_job_advanced(job);
        (void) media_job_progress(job, job->progress);

        yajl_tree_free(res->json);
        res->json = NULL;
        res->status = status;
        res->message[0] = '\0';
        res->code[0] = '\0';
        res->param[0] = '\0';

        if (a.body.oom) {
            media_buf_free(&a.body);
            media_job_fail(job, "stripe: out of memory");
            media_billing_retry(job, "a problem on our side");
            return -1;
        }

        if (status == 0) {
            snprintf(res->message, sizeof(res->message), "%.200s", err);

        } else {
            res->json = yajl_tree_parse(a.body.data ? a.body.data : "",
                                        NULL, 0);
            if (res->json && !YAJL_IS_OBJECT(res->json)) {
                yajl_tree_free(res->json);
                res->json = NULL;
            }
        }

        media_buf_free(&a.body);

        if (status >= 200 && status < 300) {
            if (res->json == NULL) {
                snprintf(res->message, sizeof(res->message),
                         "the answer is not a JSON object");
                status = 0;
                break;
            }
            return 0;
        }

        if (status) {
            media_stripe_error(res->json, res);
        }

        retry = status == 0 || status == 409 || status == 429
                || status >= 500;
        if (a.should_retry >= 0) {
            retry = a.should_retry;
        }

        if (status) {
            media_log_error("job %s: stripe: %s %s: try %d of %d: "
                            "answered %ld %s: %s%s", job->id, method, path,
                            try, MEDIA_STRIPE_TRIES, status, res->code,
                            res->message, retry ? "" : " (not tried again)");
        } else {
            media_log_error("job %s: stripe: %s %s: try %d of %d: "
                            "no answer: %s", job->id, method, path, try,
                            MEDIA_STRIPE_TRIES, res->message);
        }

        if (!retry || media_worker_stop) {
            break;
        }

        if (try < MEDIA_STRIPE_TRIES) {
            media_sleep(wait);
            wait *= 2;
        }
    }

    if (st->recover && status >= 400 && status < 500
        && strcmp(res->code, "resource_missing") == 0
        && strcmp(res->param, st->recover) == 0)
    {
        return -1;     /* the caller's to recover from */
    }

    /* what went wrong, for admins (the API address, never the key) */
    if (status) {
        media_job_fail(job, "stripe: %s %s%s: answered %ld %s: %s", method,
                       st->api_url, path, status, res->code, res->message);
    } else {
        media_job_fail(job, "stripe: %s %s%s: no answer: %s", method,
                       st->api_url, path, res->message);
    }

    if (status == 0) {
        snprintf(why, sizeof(why), "Stripe, the payment service, could not "
                 "be reached (%s)", res->message);
        media_billing_retry(job, why);

    } else if (status == 429) {
        media_billing_retry(job, "Stripe, the payment service, is limiting "
                            "our requests (429)");

    } else if (status >= 500 || status == 409) {
        snprintf(why, sizeof(why), "Stripe, the payment service, answered "
                 "%ld (%s)", status, res->message[0] ? res->message
                                                     : "an error on its side");
        media_billing_retry(job, why);

    } else {
        media_job_refuse(job, "the payment service refused the request "
                         "(%ld%s%s); this is a problem on our side, not "
                         "yours: contact the site's support", status,
                         res->message[0] ? ": " : "", res->message);
    }

    return -1;
}


static long
media_stripe_once(media_stripe_t *st, const char *method, const char *url,
    const char *form, const char *idem, media_stripe_answer_t *a, char *err,
    size_t errlen)
{
    long                 status;
    char                 ikey[320], cerr[CURL_ERROR_SIZE];
    CURL                *c = st->curl;
    CURLcode             rc;
    struct curl_slist   *h, *last;

    /* the Authorization header first; the others are this call's */
    h = st->auth;
    for (last = h; last->next; last = last->next) { /* void */ }

    last->next = curl_slist_append(NULL, "Stripe-Version: "
                                   MEDIA_STRIPE_VERSION);
    if (last->next == NULL) {
        snprintf(err, errlen, "out of memory");
        return 0;
    }

    if (curl_slist_append(last->next, "Expect:") == NULL
        || curl_slist_append(last->next, "Content-Type: "
                             "application/x-www-form-urlencoded") == NULL)
    {
        curl_slist_free_all(last->next);
        last->next = NULL;
        snprintf(err, errlen, "out of memory");
        return 0;
    }

    if (idem && strcmp(method, "POST") == 0) {
        snprintf(ikey, sizeof(ikey), "Idempotency-Key: %s", idem);
        if (curl_slist_append(last->next, ikey) == NULL) {
            curl_slist_free_all(last->next);
            last->next = NULL;
            snprintf(err, errlen, "out of memory");
            return 0;
        }
    }

    cerr[0] = '\0';
    curl_easy_reset(c);

    if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_HTTPHEADER, h) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https")
           != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                            MEDIA_STRIPE_CONNECT_TIMEOUT) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, MEDIA_STRIPE_TIMEOUT)
           != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_USERAGENT, "ngx_media-billing/1")
           != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, media_stripe_write)
           != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_WRITEDATA, a) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, media_stripe_header)
           != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_HEADERDATA, a) != CURLE_OK)
    {
        snprintf(cerr, sizeof(cerr), "curl_easy_setopt failed");
        rc = CURLE_FAILED_INIT;
        goto done;
    }

    if (strcmp(method, "POST") == 0) {
        rc = curl_easy_setopt(c, CURLOPT_POSTFIELDS, form ? form : "");

    } else if (strcmp(method, "GET") != 0) {
        rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);

    } else {
        rc = CURLE_OK;
    }

    if (rc == CURLE_OK) {
        rc = curl_easy_perform(c);
    }

done:

    /* the call's headers go (the Authorization header stays), and the
     * handle keeps no pointer into this frame */
    curl_slist_free_all(last->next);
    last->next = NULL;
    (void) curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);

    if (rc != CURLE_OK) {
        snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        return 0;
    }

    status = 0;
    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK
        || status == 0)
    {
        snprintf(err, errlen, "no HTTP status");
        return 0;
    }

    return status;
}


static size_t
media_stripe_write(char *ptr, size_t size, size_t nmemb, void *data)
{
    media_stripe_answer_t  *a = data;

    if (a->body.len + size * nmemb > MEDIA_STRIPE_MAX_BODY) {
        return 0;              /* curl ends the transfer: an error */
    }

    media_buf_add(&a->body, ptr, size * nmemb);

    return a->body.oom ? 0 : size * nmemb;
}


static size_t
media_stripe_header(char *ptr, size_t size, size_t nmemb, void *data)
{
    size_t                  n = size * nmemb;
    media_stripe_answer_t  *a = data;

    static const char  name[] = "stripe-should-retry:";

    if (n > sizeof(name) - 1
        && strncasecmp(ptr, name, sizeof(name) - 1) == 0)
    {
        ptr += sizeof(name) - 1;
        n -= sizeof(name) - 1;

        while (n && (*ptr == ' ' || *ptr == '\t')) {
            ptr++;
            n--;
        }

        a->should_retry = n >= 4 && strncmp(ptr, "true", 4) == 0;
    }

    return size * nmemb;
}


/* {"error": {"type", "code", "message"}} */
static void
media_stripe_error(yajl_val json, media_stripe_res_t *res)
{
    yajl_val     e;
    const char  *s;

    e = media_json_get(json, yajl_t_object, "error", NULL);

    if (e == NULL) {
        snprintf(res->message, sizeof(res->message), "an answer without "
                 "Stripe's error object");
        return;
    }

    s = media_json_str(e, "code");
    if (s == NULL) {
        s = media_json_str(e, "type");
    }
    snprintf(res->code, sizeof(res->code), "%s", s ? s : "");

    s = media_json_str(e, "message");
    snprintf(res->message, sizeof(res->message), "%s", s ? s : "");

    s = media_json_str(e, "param");
    snprintf(res->param, sizeof(res->param), "%s", s ? s : "");
}


void
media_stripe_res_free(media_stripe_res_t *res)
{
    yajl_tree_free(res->json);
    res->json = NULL;
}


void
media_billing_retry(media_job_t *job, const char *why)
{
    if (job->reason[0]) {
        return;        /* the first reason is the real one */
    }

    if (job->attempts < job->max_attempts) {
        snprintf(job->reason, sizeof(job->reason), "%s; it will be tried "
                 "again shortly (attempt %d of %d)", why, job->attempts,
                 job->max_attempts);

    } else {
        snprintf(job->reason, sizeof(job->reason), "%s; given up after %d "
                 "attempts: try again later", why, job->attempts);
    }

    if (job->error[0] == '\0') {
        snprintf(job->error, sizeof(job->error), "%s", why);
    }
}


/* --- JSON ---------------------------------------------------------------- */

yajl_val
media_json_get(yajl_val v, yajl_type type, ...)
{
    size_t       i;
    va_list      args;
    const char  *key;

    va_start(args, type);

    while (v && (key = va_arg(args, const char *)) != NULL) {
        if (!YAJL_IS_OBJECT(v)) {
            v = NULL;
            break;
        }

        for (i = 0; i < v->u.object.len; i++) {
            if (strcmp(v->u.object.keys[i], key) == 0) {
                break;
            }
        }

        v = i < v->u.object.len ? v->u.object.values[i] : NULL;
    }

    va_end(args);

    if (v == NULL || type == yajl_t_any) {
        return v;
    }

    return v->type == type ? v : NULL;
}


const char *
media_json_str(yajl_val v, const char *key)
{
    v = media_json_get(v, yajl_t_string, key, NULL);
    return v ? YAJL_GET_STRING(v) : NULL;
}


/* --- buffers ------------------------------------------------------------- */

void
media_buf_add(media_buf_t *b, const char *s, size_t len)
{
    char    *p;
    size_t   size;

    if (b->oom) {
        return;
    }

    if (b->len + len + 1 > b->size) {
        size = b->size ? b->size : 256;
        while (size < b->len + len + 1) {
            size *= 2;
        }

        p = realloc(b->data, size);
        if (p == NULL) {
            b->oom = 1;
            return;
        }

        b->data = p;
        b->size = size;
    }

    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}


void
media_buf_str(media_buf_t *b, const char *s)
{
    media_buf_add(b, s, strlen(s));
}


void
media_buf_form(media_buf_t *b, const char *key, const char *value)
{
    char        hex[4];
    const char  *p;

    static const char  safe[] = "abcdefghijklmnopqrstuvwxyz"
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~";

    if (b->len) {
        media_buf_add(b, "&", 1);
    }

    /* keys are ours ("line_items[0][price]"): brackets kept readable */
    media_buf_str(b, key);
    media_buf_add(b, "=", 1);

    for (p = value; *p; p++) {
        if (strchr(safe, *p)) {
            media_buf_add(b, p, 1);

        } else {
            snprintf(hex, sizeof(hex), "%%%02X", (unsigned char) *p);
            media_buf_add(b, hex, 3);
        }
    }
}


void
media_buf_json(media_buf_t *b, const char *s)
{
    char  esc[8];

    media_buf_add(b, "\"", 1);

    for ( /* void */ ; *s; s++) {
        if (*s == '"' || *s == '\\') {
            esc[0] = '\\';
            esc[1] = *s;
            media_buf_add(b, esc, 2);

        } else if ((unsigned char) *s < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char) *s);
            media_buf_add(b, esc, 6);

        } else {
            media_buf_add(b, s, 1);
        }
    }

    media_buf_add(b, "\"", 1);
}


void
media_buf_free(media_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(media_buf_t));
}
