/*
 * POST /api/v1/webhooks/stripe: Stripe's events.
 *
 *   the raw body, at most NGX_HTTP_MEDIA_WEBHOOK_MAX bytes (else 413)
 *   -> Stripe-Signature checked against media_stripe_webhook_secret
 *      (current and previous) and media_stripe_webhook_tolerance
 *      (media_stripe.c); a refusal is 400 naming what was wrong
 *   -> the event's id, type and created read from the JSON, nothing more
 *   -> one statement: the event stored by its id (ON CONFLICT DO NOTHING)
 *      and, only when it is new, its billing job, the event pointing at it
 *   -> XADD media:billing * job <job id>, for a new event, sent without
 *      waiting for its answer
 *   -> 200 {"received":true} at once, for a new event, a duplicate and a type
 *      nobody handles alike (the worker ignores what it does not know)
 *
 * Stripe delivers at least once and retries anything but a 2xx for days;
 * the event's id makes a second delivery a no-op.  As with uploads, the
 * row is the truth: if Redis does not take the entry, the answer is still
 * 200, and the reconciler enqueues what the rows say is queued.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_tree.h>

#include "ngx_http_media_reply.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_keyfile.h"
#include "ngx_http_media_webhook.h"
#include "media_json.h"
#include "media_stripe.h"


/* Stripe's events are a few KB; the largest seen are well under this */
#define NGX_HTTP_MEDIA_WEBHOOK_MAX   (256 * 1024)

/* billing_events.id: evt_ and 1 to 250 of [A-Za-z0-9_] */
#define NGX_HTTP_MEDIA_EVENT_ID_MAX  254
#define NGX_HTTP_MEDIA_EVENT_TYPE_MAX  255


typedef struct {
    ngx_str_t             id;          /* the event's */
    ngx_str_t             job;         /* the new job's, when new */
} ngx_http_media_webhook_t;


static void ngx_http_media_webhook_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_webhook_text(ngx_http_request_t *r,
    ngx_str_t *text, ngx_int_t *rc);
static ngx_int_t ngx_http_media_webhook_verify(ngx_http_request_t *r,
    ngx_str_t *body, ngx_int_t *rc);
static ngx_int_t ngx_http_media_webhook_event(ngx_http_request_t *r,
    ngx_str_t *body, ngx_str_t *params, ngx_int_t *rc);
static void ngx_http_media_webhook_json_free(void *data);
static void ngx_http_media_webhook_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static ngx_int_t ngx_http_media_webhook_received(ngx_http_request_t *r);
static void ngx_http_media_stripe_secrets_free(void *data);


/* the statements of this room, each prepared once per pooled connection */

/*
 * The job's id is drawn with the event's row and the job inserted from
 * what that insert returned: no row returned (a duplicate), no job.  The
 * foreign key billing_events.job_id -> jobs.id is checked at the end of
 * the statement, when both rows exist.
 */
static ngx_http_media_pg_stmt_t  ngx_http_media_sql_event =
    ngx_http_media_pg_stmt("webhook_event", 4,
        "WITH e AS ("
        "  INSERT INTO billing_events (id, type, created, payload, job_id)"
        "  VALUES ($1, $2, $3, $4::jsonb, gen_random_uuid())"
        "  ON CONFLICT (id) DO NOTHING"
        "  RETURNING id, job_id),"
        " j AS ("
        "  INSERT INTO jobs (id, type, payload)"
        "  SELECT job_id, 'billing',"
        "         jsonb_build_object('action', 'event', 'event', id) FROM e"
        "  RETURNING id)"
        " SELECT id FROM j");


/* configuration ----------------------------------------------------------- */

/*
 * media_stripe_webhook_secret file [previous_file]: the endpoint's signing
 * secrets, "whsec_..." as Stripe shows them, used as the HMAC key as
 * written (Stripe's libraries do the same).  In a server {} block: that
 * server's own (a tenant with a Stripe account of its own, media_tenant);
 * a server without uses the http level's.
 */
char *
ngx_http_media_stripe_secret(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    int                               rc;
    ngx_str_t                        *value, secret;
    ngx_uint_t                        i, j;
    ngx_pool_cleanup_t               *cln;
    ngx_http_media_srv_conf_t        *mscf;
    ngx_http_media_stripe_secrets_t  *ss;

    ss = &mmcf->stripe;

    if (cf->cmd_type == NGX_HTTP_SRV_CONF) {
        mscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_media_module);

        if (mscf->stripe) {
            return "is duplicate";
        }

        ss = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_stripe_secrets_t));
        if (ss == NULL) {
            return NGX_CONF_ERROR;
        }

        mscf->stripe = ss;
    }

    if (ss->n) {
        return "is duplicate";
    }

    /* the secrets hold OpenSSL contexts: freed with the cycle */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_media_stripe_secrets_free;
    cln->data = ss;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_http_media_read_conf_file(cf, &value[i], &secret) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        while (secret.len && (secret.data[secret.len - 1] == '\n'
                              || secret.data[secret.len - 1] == '\r'))
        {
            secret.len--;
        }

        for (j = 0; j < secret.len; j++) {
            if (secret.data[j] <= ' ' || secret.data[j] >= 0x7f) {
                break;
            }
        }

        if (secret.len < 7 || secret.len > 1024 || j < secret.len
            || ngx_strncmp(secret.data, "whsec_", 6) != 0)
        {
            ngx_memzero(secret.data, secret.len);
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid %V \"%V\": it must hold the "
                               "endpoint's signing secret as Stripe shows "
                               "it, \"whsec_\" and more, on one line",
                               &cmd->name, &value[i]);
            return NGX_CONF_ERROR;
        }

        rc = media_stripe_secret(&ss->secrets[i - 1], secret.data,
                                 secret.len);
        ngx_memzero(secret.data, secret.len);

        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V \"%V\": OpenSSL could not make an "
                               "HMAC-SHA256 context", &cmd->name, &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    ss->n = cf->args->nelts - 1;

    return NGX_CONF_OK;
}


static void
ngx_http_media_stripe_secrets_free(void *data)
{
    ngx_http_media_stripe_secrets_t *ss = data;

    media_stripe_secret_free(&ss->secrets[0]);
    media_stripe_secret_free(&ss->secrets[1]);
}


/* media_stripe_webhook_tolerance 300s: nginx's time syntax, at least 1s */
char *
ngx_http_media_stripe_tolerance(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    time_t      t;
    ngx_str_t  *value;

    if (mmcf->stripe_tolerance != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;

    t = ngx_parse_time(&value[1], 1);

    if (t == (time_t) NGX_ERROR || t < 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V \"%V\": expected a time of at least "
                           "1s, such as \"300s\" or \"5m\"", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    mmcf->stripe_tolerance = t;

    return NGX_CONF_OK;
}


/* the route ---------------------------------------------------------------- */

/*
 * No sign-in: the signature is the authentication.  The body is read raw,
 * into memory when it fits client_body_buffer_size (else nginx writes it
 * to <media_storage>/tmp and it is read back), since the MAC covers its
 * exact bytes.
 */
ngx_int_t
ngx_http_media_webhook_stripe(ngx_http_request_t *r)
{
    ngx_int_t                   rc;
    ngx_http_media_srv_conf_t  *mscf;

    mscf = ngx_http_get_module_srv_conf(r, ngx_http_media_module);

    if (mscf->stripe->n == 0) {
        return ngx_http_media_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                         "webhooks_not_configured",
                                         "Stripe webhooks are not configured "
                                         "on this server: set "
                                         "media_stripe_webhook_secret to "
                                         "the endpoint's signing secret");
    }

    if (r->headers_in.content_length_n > NGX_HTTP_MEDIA_WEBHOOK_MAX) {
        return ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         "body_too_large", "a webhook body "
                                         "may hold at most %d bytes; this "
                                         "one declares %O",
                                         NGX_HTTP_MEDIA_WEBHOOK_MAX,
                                         r->headers_in.content_length_n);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_media_webhook_body);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * The body is read (ngx_http_read_client_request_body took a reference).
 * Each step returns NGX_OK to go on, or NGX_DECLINED with the rc to
 * finalize with in rc (a refusal that was sent may well be NGX_OK).
 */
static void
ngx_http_media_webhook_body(ngx_http_request_t *r)
{
    ngx_int_t   rc;
    ngx_str_t   body, params[4];

    if (ngx_http_media_webhook_text(r, &body, &rc) != NGX_OK
        || ngx_http_media_webhook_verify(r, &body, &rc) != NGX_OK
        || ngx_http_media_webhook_event(r, &body, params, &rc) != NGX_OK)
    {
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_event, params,
                                ngx_http_media_webhook_stored, NULL)
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/*
 * The body as one NUL-terminated buffer in the pool.  The size was checked
 * against the declared length; it is checked again here against what came.
 */
static ngx_int_t
ngx_http_media_webhook_text(ngx_http_request_t *r, ngx_str_t *text,
    ngx_int_t *rc)
{
    off_t         size;
    u_char       *p;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    size = 0;
    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        size += ngx_buf_size(cl->buf);
    }

    if (size > NGX_HTTP_MEDIA_WEBHOOK_MAX) {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "body_too_large", "a webhook body "
                                        "may hold at most %d bytes",
                                        NGX_HTTP_MEDIA_WEBHOOK_MAX);
        return NGX_DECLINED;
    }

    text->data = ngx_pnalloc(r->pool, (size_t) size + 1);
    if (text->data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    p = text->data;

    for (cl = r->request_body ? r->request_body->bufs : NULL; cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, (size_t) (b->file_last
                                                    - b->file_pos),
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                              "media webhook: reading the body back from "
                              "\"%V\" failed, request_id: %V",
                              &b->file->name, ngx_http_media_request_id(r));
                *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
                return NGX_DECLINED;
            }
            p += n;

        } else {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    *p = '\0';
    text->len = p - text->data;

    return NGX_OK;
}


/* NGX_OK when Stripe signed this body, else NGX_DECLINED: the 400 sent */
static ngx_int_t
ngx_http_media_webhook_verify(ngx_http_request_t *r, ngx_str_t *body,
    ngx_int_t *rc)
{
    long                          age;
    ngx_str_t                    *header;
    ngx_uint_t                    i, n;
    ngx_list_part_t              *part;
    ngx_table_elt_t              *h;
    media_stripe_rc_e             src;
    media_stripe_sig_t            sig;
    ngx_http_media_srv_conf_t    *mscf;
    ngx_http_media_main_conf_t   *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    mscf = ngx_http_get_module_srv_conf(r, ngx_http_media_module);

    header = NULL;
    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].key.len == sizeof("Stripe-Signature") - 1
                && ngx_strncasecmp(h[i].key.data,
                                   (u_char *) "Stripe-Signature",
                                   sizeof("Stripe-Signature") - 1) == 0)
            {
                header = &h[i].value;
                n++;
            }
        }
    }

    if (n > 1) {
        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "signature_malformed",
                                        "Stripe-Signature came %ui times; "
                                        "Stripe sends it once", n);
        return NGX_DECLINED;
    }

    src = media_stripe_verify(mscf->stripe->secrets, mscf->stripe->n,
                              header ? (char *) header->data : NULL,
                              header ? header->len : 0, body->data,
                              body->len, (long) ngx_time(),
                              (long) mmcf->stripe_tolerance, &sig);

    /* the reply kit logs each refusal, its code and message, at info */

    switch (src) {

    case MEDIA_STRIPE_OK:
        return NGX_OK;

    case MEDIA_STRIPE_NO_HEADER:
        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "signature_missing",
                                        "the Stripe-Signature header is "
                                        "missing or empty; Stripe sends it "
                                        "with every event, so check that "
                                        "nothing on the way drops it");
        return NGX_DECLINED;

    case MEDIA_STRIPE_MALFORMED:
        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "signature_malformed",
                                        "the Stripe-Signature header is "
                                        "malformed: %s; expected "
                                        "t=<unix time>,v1=<64 hex digits>",
                                        sig.error);
        return NGX_DECLINED;

    case MEDIA_STRIPE_NO_V1:
        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "signature_no_v1",
                                        "the Stripe-Signature header holds "
                                        "no v1 signature; only v1 "
                                        "(HMAC-SHA256) is accepted");
        return NGX_DECLINED;

    case MEDIA_STRIPE_STALE:
        age = (long) ngx_time() - sig.t;

        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "timestamp_outside_tolerance",
                                        "the signature's timestamp is %l s "
                                        "%s this server's clock, beyond "
                                        "the tolerance of %T s "
                                        "(media_stripe_webhook_tolerance); "
                                        "a replayed event, or a clock to "
                                        "set right",
                                        age < 0 ? -age : age,
                                        age < 0 ? "ahead of" : "behind",
                                        mmcf->stripe_tolerance);
        return NGX_DECLINED;

    default: /* MEDIA_STRIPE_MISMATCH */
        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "signature_mismatch",
                                        "no v1 signature matches the body "
                                        "with this endpoint's signing "
                                        "secret (media_stripe_webhook_"
                                        "secret); check the secret, and "
                                        "that the body arrives unchanged");
        return NGX_DECLINED;
    }
}


/*
 * The event's id, type and created from the signed body, into the
 * statement's parameters (the body itself is the fourth): NGX_OK, or the
 * refusal sent.  Only these three are read; the billing worker reads the
 * rest from the stored payload.
 */
static ngx_int_t
ngx_http_media_webhook_event(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *params, ngx_int_t *rc)
{
    char                       err[256], field[64];
    u_char                    *p;
    yajl_val                   json, id, type, created;
    ngx_uint_t                 i;
    ngx_pool_cleanup_t        *cln;
    ngx_http_media_webhook_t  *wh;

    static const char  *id_path[] = { "id", NULL };
    static const char  *type_path[] = { "type", NULL };
    static const char  *created_path[] = { "created", NULL };

    switch (media_json_parse((char *) body->data, body->len, &json, err,
                             sizeof(err), field, sizeof(field)))
    {
    case MEDIA_JSON_OK:
        break;

    case MEDIA_JSON_NUL:
        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_json", "the event holds a "
                                        "NUL character (\\u0000 or a zero "
                                        "byte)%s%s", field[0] ? " in " : "",
                                        field);
        return NGX_DECLINED;

    default:
        *rc = ngx_http_media_send_error(r, NGX_HTTP_BAD_REQUEST,
                                        "invalid_json", "the event is not a "
                                        "JSON object: %s", err);
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        yajl_tree_free(json);
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    cln->handler = ngx_http_media_webhook_json_free;
    cln->data = json;

    id = yajl_tree_get(json, id_path, yajl_t_string);
    type = yajl_tree_get(json, type_path, yajl_t_string);
    created = yajl_tree_get(json, created_path, yajl_t_number);

    params[0].data = (u_char *) (id ? YAJL_GET_STRING(id) : NULL);
    params[0].len = id ? ngx_strlen(params[0].data) : 0;

    for (i = 4; i < params[0].len; i++) {
        p = &params[0].data[i];

        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
        {
            break;
        }
    }

    if (params[0].len < 5 || params[0].len > NGX_HTTP_MEDIA_EVENT_ID_MAX
        || ngx_strncmp(params[0].data, "evt_", 4) != 0
        || i < params[0].len)
    {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_event", "id", "the event's "
                                       "id must be \"evt_\" and 1 to 250 "
                                       "letters, digits or underscores");
        return NGX_DECLINED;
    }

    params[1].data = (u_char *) (type ? YAJL_GET_STRING(type) : NULL);
    params[1].len = type ? ngx_strlen(params[1].data) : 0;

    if (params[1].len == 0 || params[1].len > NGX_HTTP_MEDIA_EVENT_TYPE_MAX) {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_event", "type", "the event's "
                                       "type must be a string of 1 to %d "
                                       "bytes", NGX_HTTP_MEDIA_EVENT_TYPE_MAX);
        return NGX_DECLINED;
    }

    if (created == NULL || !YAJL_IS_INTEGER(created)
        || YAJL_GET_INTEGER(created) < 0)
    {
        *rc = ngx_http_media_bad_field(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_event", "created", "the "
                                       "event's created must be a whole "
                                       "number of seconds");
        return NGX_DECLINED;
    }

    params[2].data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    wh = ngx_pcalloc(r->pool, sizeof(ngx_http_media_webhook_t));
    if (params[2].data == NULL || wh == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    params[2].len = ngx_sprintf(params[2].data, "%L",
                                (int64_t) YAJL_GET_INTEGER(created))
                    - params[2].data;
    params[3] = *body;

    wh->id = params[0];
    ((ngx_http_media_ctx_t *) ngx_http_get_module_ctx(r,
                                   ngx_http_media_module))->state = wh;

    return NGX_OK;
}


static void
ngx_http_media_webhook_json_free(void *data)
{
    yajl_tree_free(data);
}


static void
ngx_http_media_webhook_stored(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_webhook_t  *wh;

    wh = ((ngx_http_media_ctx_t *) ngx_http_get_module_ctx(r,
                                        ngx_http_media_module))->state;

    /* 22...: data exceptions, a body yajl took and jsonb does not */
    if (res->status == NGX_HTTP_MEDIA_PG_ERROR
        && res->sqlstate[0] == '2' && res->sqlstate[1] == '2')
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "media webhook: event \"%V\" refused by PostgreSQL: "
                      "%V, request_id: %V", &wh->id, &res->error,
                      ngx_http_media_request_id(r));
        ngx_http_finalize_request(r, ngx_http_media_send_error(r,
                                  NGX_HTTP_BAD_REQUEST, "invalid_json",
                                  "the event is not JSON this server can "
                                  "store (%s)", res->sqlstate));
        return;
    }

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        /* 503: Stripe retries it later */
        ngx_http_finalize_request(r, ngx_http_media_pg_failed(r, res,
                                  "media webhook store"));
        return;
    }

    if (res->nrows == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "media webhook: event \"%V\" already received, "
                      "request_id: %V", &wh->id,
                      ngx_http_media_request_id(r));
        ngx_http_finalize_request(r, ngx_http_media_webhook_received(r));
        return;
    }

    wh->job = *ngx_http_media_pg_value(res, 0, 0);

    /*
     * The event and its job are committed: that is what Stripe's retry
     * would give, so the answer goes now.  The XADD is detached from the
     * request; if it fails, the job row waits for the workers'
     * reconciler, as after any lost enqueue.
     */
    if (ngx_http_media_redis_enqueue(r, MEDIA_STREAM_BILLING, &wh->job,
                                     NULL, NULL)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media webhook queue: XADD not sent (out of memory); "
                      "job %V of event \"%V\" waits for the reconciler, "
                      "request_id: %V", &wh->job, &wh->id,
                      ngx_http_media_request_id(r));
    }

    ngx_http_finalize_request(r, ngx_http_media_webhook_received(r));
}


static ngx_int_t
ngx_http_media_webhook_received(ngx_http_request_t *r)
{
    static ngx_str_t  received = ngx_string("{\"received\":true}");

    return ngx_http_media_send_json(r, NGX_HTTP_OK, &received);
}
