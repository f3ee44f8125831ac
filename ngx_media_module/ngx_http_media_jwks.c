/*
 * An identity provider's keys, fetched from its jwks_uri and cached in
 * each worker, so that a key rotation at the provider needs no reload.
 *
 * The fetch is an nginx subrequest, as nginx-plus's auth_jwt_key_request
 * does it: to an internal location that proxy_passes to the provider, its
 * answer kept in memory (subrequest_output_buffer_size bounds it).  No
 * blocking I/O, and TLS, DNS and timeouts are the proxy module's.
 *
 * The request that finds no key for its token (an unknown kid, or no key
 * of its alg) starts the fetch and waits for it, as do those that come
 * with such a token while it is under way; the keys are then swapped and
 * they are verified again.  Fetches happen at most once per "refresh"
 * (1 minute) per worker, whatever tokens arrive, and also when the keys
 * are older than "valid" (1 hour), so that a key the provider withdrew
 * stops working.  A failed fetch or an unusable answer keeps the last
 * good set.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_keyfile.h"
#include "ngx_http_media_jwks.h"


typedef struct {
    ngx_str_t                 uri;        /* the internal location */
    ngx_msec_t                refresh;    /* at most one fetch per this */
    ngx_msec_t                valid;      /* older keys are fetched again */
    ngx_http_media_keyset_t  *ks;         /* mmcf->idp_keys */

    /* this worker's state */
    ngx_msec_t                attempted;  /* when the last fetch started */
    ngx_msec_t                fetched;    /* when the keys were last set */
    ngx_uint_t                ngood;      /* good fetches so far */
    ngx_queue_t               waiting;    /* requests for the fetch */
    ngx_uint_t                nwaiting;
    unsigned                  tried:1;
    unsigned                  fetching:1;
} ngx_http_media_jwks_t;


/* a request whose token waits for the fetch under way */
typedef struct {
    ngx_queue_t               queue;
    ngx_http_request_t       *request;
    ngx_http_media_ctx_t     *ctx;
    ngx_http_media_jwks_t    *jwks;
} ngx_http_media_jwks_waiter_t;


/* enough for a burst of logins after a rotation; more are refused */
#define NGX_HTTP_MEDIA_JWKS_MAX_WAITING  1024


/* one fetch, on behalf of one request */
typedef struct {
    ngx_http_media_jwks_t    *jwks;
    ngx_http_media_ctx_t     *ctx;
    unsigned                  done:1;
} ngx_http_media_jwks_fetch_t;


static ngx_int_t ngx_http_media_jwks_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_media_jwks_load(ngx_http_request_t *sr,
    ngx_http_media_jwks_t *j);
static ngx_int_t ngx_http_media_jwks_wait(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx, ngx_http_media_jwks_t *j);
static void ngx_http_media_jwks_wake(ngx_http_media_jwks_t *j);
static void ngx_http_media_jwks_unwait(void *data);
static void ngx_http_media_jwks_abandon(void *data);
static void ngx_http_media_jwks_warn(void *data, const char *msg);


/* media_jwt_jwks_url uri [issuer=...] [audience=...] [refresh=1m] [valid=1h] */
char *
ngx_http_media_jwt_jwks_url(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    long                      ms;
    u_char                   *p;
    size_t                    len;
    ngx_str_t                *value;
    ngx_uint_t                i;
    ngx_http_media_jwks_t    *j;
    ngx_http_media_keyset_t  *ks;

    if (mmcf->idp_keys) {
        return mmcf->jwks_url ? "is duplicate"
                              : "cannot be used with media_jwt_jwks: the "
                                "keys come from the file or from the URL";
    }

    value = cf->args->elts;

    if (value[1].len < 2 || value[1].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_jwt_jwks_url \"%V\": it names an "
                           "internal location (\"/_jwks\"), whose proxy_pass "
                           "points to the provider's jwks_uri", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* the keys a worker fetches are freed with its configuration */
    j = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_jwks_t));
    ks = ngx_http_media_keyset(cf);
    if (j == NULL || ks == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_queue_init(&j->waiting);

    j->uri = value[1];
    j->refresh = 60000;
    j->valid = 3600000;
    j->ks = ks;

    for (i = 2; i < cf->args->nelts; i++) {
        p = value[i].data;
        len = value[i].len;

        if (len > 7 && ngx_strncmp(p, "issuer=", 7) == 0) {
            ks->verifier.issuer = (char *) p + 7;

        } else if (len > 9 && ngx_strncmp(p, "audience=", 9) == 0) {
            ks->verifier.audience = (char *) p + 9;

        } else if (len > 8 && ngx_strncmp(p, "refresh=", 8) == 0
                   && media_conf_parse_msec((char *) p + 8, len - 8, &ms)
                      == 0
                   && ms >= 1000)
        {
            j->refresh = (ngx_msec_t) ms;

        } else if (len > 6 && ngx_strncmp(p, "valid=", 6) == 0
                   && media_conf_parse_msec((char *) p + 6, len - 6, &ms)
                      == 0
                   && ms >= 1000)
        {
            j->valid = (ngx_msec_t) ms;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid media_jwt_jwks_url parameter \"%V\": "
                               "expected issuer=, audience=, refresh=time or "
                               "valid=time (1s or more)", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    /* no keys until the first token asks for them */
    ks->verifier.keys = ks->keys;
    ks->verifier.nkeys = 0;

    mmcf->idp_keys = ks;
    mmcf->jwks_url = j;

    return NGX_CONF_OK;
}


/*
 * Called with what the provider's keys said of a token.  Starts a fetch
 * and returns NGX_AGAIN when the keys had none for it or are old, and the
 * rate allows; ctx->auth_pending is then set until the keys are in, and
 * the access phase runs again.  NGX_DECLINED: go on with the answer given.
 */
ngx_int_t
ngx_http_media_jwks_refresh(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx,
    media_jwt_rc_e rc)
{
    ngx_list_t                    headers;
    ngx_msec_t                    now;
    ngx_pool_cleanup_t           *cln;
    ngx_http_request_t           *sr;
    ngx_http_media_jwks_t        *j;
    ngx_http_request_body_t      *body;
    ngx_http_post_subrequest_t   *ps;
    ngx_http_media_jwks_fetch_t  *f;
    ngx_http_media_main_conf_t   *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    j = mmcf->jwks_url;

    if (j == NULL || r != r->main) {
        return NGX_DECLINED;
    }

    now = ngx_current_msec;

    if (rc != MEDIA_JWT_UNKNOWN_KID
        && (j->ngood == 0 || now - j->fetched < j->valid))
    {
        return NGX_DECLINED;
    }

    /* one at a time: a token with no key waits for the fetch under way */
    if (j->fetching) {
        return (rc == MEDIA_JWT_UNKNOWN_KID)
               ? ngx_http_media_jwks_wait(r, ctx, j) : NGX_DECLINED;
    }

    /* once per refresh: a stream of made-up kids must not become a stream
     * of requests to the provider */
    if (j->tried && now - j->attempted < j->refresh) {
        return NGX_DECLINED;
    }

    /* all that can fail, before the subrequest exists */
    f = ngx_pcalloc(r->pool, sizeof(ngx_http_media_jwks_fetch_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (f == NULL || ps == NULL || body == NULL || cln == NULL
        || ngx_list_init(&headers, r->pool, 1, sizeof(ngx_table_elt_t))
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    f->jwks = j;
    f->ctx = ctx;
    ps->handler = ngx_http_media_jwks_done;
    ps->data = f;

    if (ngx_http_subrequest(r, &j->uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "media jwks: cannot start a subrequest to \"%V\"",
                      &j->uri);
        return NGX_DECLINED;
    }

    /*
     * The client's headers (its token, its cookies) are none of the
     * provider's business: the subrequest gets none, whatever
     * proxy_pass_request_headers says.  No body either.
     */
    ngx_memzero(&sr->headers_in, sizeof(ngx_http_headers_in_t));
    sr->headers_in.headers = headers;
    sr->headers_in.headers.last = &sr->headers_in.headers.part;
    sr->headers_in.content_length_n = -1;
    sr->headers_in.keep_alive_n = -1;
    sr->request_body = body;

    /* a request ended before its subrequest (the client left) must not
     * leave the worker believing a fetch is still under way */
    cln->handler = ngx_http_media_jwks_abandon;
    cln->data = f;

    j->tried = 1;
    j->fetching = 1;
    j->attempted = now;
    ctx->auth_pending = 1;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "media jwks: fetching \"%V\" (%s)", &j->uri,
                  rc == MEDIA_JWT_UNKNOWN_KID ? "no key for the token"
                                              : "keys older than valid=");

    return NGX_AGAIN;
}


static ngx_int_t
ngx_http_media_jwks_done(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_media_jwks_fetch_t  *f = data;

    ngx_uint_t              status;
    ngx_http_media_jwks_t  *j;

    if (f->done) {
        return rc;
    }

    f->done = 1;
    j = f->jwks;
    j->fetching = 0;

    /* the access phase runs again when the main request is resumed,
     * and in the requests that waited when their write event comes */
    f->ctx->auth_pending = 0;
    ngx_http_media_jwks_wake(j);

    /* an upstream error (502, 504) comes as rc, the status not yet set */
    status = sr->headers_out.status;
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        status = (ngx_uint_t) rc;
    }

    if (rc == NGX_ERROR || status != NGX_HTTP_OK || sr->out == NULL
        || sr->out->buf == NULL)
    {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "media jwks: \"%V\" answered %ui, not 200 with a "
                      "body; keeping the %uz keys we have", &j->uri,
                      status, j->ks->verifier.nkeys);
        return rc;
    }

    ngx_http_media_jwks_load(sr, j);

    return rc;
}


static void
ngx_http_media_jwks_load(ngx_http_request_t *sr, ngx_http_media_jwks_t *j)
{
    int                       n;
    char                      err[256];
    ngx_buf_t                *b;
    ngx_uint_t                i;
    media_jwt_key_t           keys[NGX_HTTP_MEDIA_MAX_KEYS];
    ngx_http_media_keyset_t  *ks;

    b = sr->out->buf;
    ks = j->ks;

    ngx_memzero(keys, sizeof(keys));

    n = media_jwt_jwks((char *) b->pos, b->last - b->pos, keys,
                       NGX_HTTP_MEDIA_MAX_KEYS, ngx_http_media_jwks_warn,
                       sr->connection->log, err, sizeof(err));
    if (n < 0) {
        ngx_log_error(NGX_LOG_ERR, sr->connection->log, 0,
                      "media jwks: \"%V\" answered no usable JWKS: %s; "
                      "keeping the %uz keys we have", &j->uri, err,
                      ks->verifier.nkeys);
        return;
    }

    /* no request holds a key across events: the swap is safe here */
    for (i = 0; i < NGX_HTTP_MEDIA_MAX_KEYS; i++) {
        media_jwt_key_free(&ks->keys[i]);
    }

    ngx_memcpy(ks->keys, keys, sizeof(keys));
    ks->verifier.nkeys = n;

    j->fetched = ngx_current_msec;
    j->ngood++;

    ngx_log_error(NGX_LOG_NOTICE, sr->connection->log, 0,
                  "media jwks: %d keys from \"%V\"", n, &j->uri);
}


/*
 * The request waits as the one that fetches does: its access phase
 * answers NGX_AGAIN until the fetch ends; then its write event is posted,
 * which runs the phases again (ngx_http_request_handler), as a timer does
 * for limit_req's delay.
 */
static ngx_int_t
ngx_http_media_jwks_wait(ngx_http_request_t *r, ngx_http_media_ctx_t *ctx,
    ngx_http_media_jwks_t *j)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_media_jwks_waiter_t  *w;

    if (j->nwaiting >= NGX_HTTP_MEDIA_JWKS_MAX_WAITING) {
        return NGX_DECLINED;
    }

    w = ngx_pcalloc(r->pool, sizeof(ngx_http_media_jwks_waiter_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (w == NULL || cln == NULL) {
        return NGX_DECLINED;
    }

    w->request = r;
    w->ctx = ctx;
    w->jwks = j;

    /* a request that ends first (the client left) leaves the queue */
    cln->handler = ngx_http_media_jwks_unwait;
    cln->data = w;

    ngx_queue_insert_tail(&j->waiting, &w->queue);
    j->nwaiting++;
    ctx->auth_pending = 1;

    return NGX_AGAIN;
}


static void
ngx_http_media_jwks_wake(ngx_http_media_jwks_t *j)
{
    ngx_queue_t                   *q;
    ngx_http_media_jwks_waiter_t  *w;

    while (!ngx_queue_empty(&j->waiting)) {
        q = ngx_queue_head(&j->waiting);
        w = ngx_queue_data(q, ngx_http_media_jwks_waiter_t, queue);

        ngx_queue_remove(q);
        w->jwks = NULL;
        j->nwaiting--;

        w->ctx->auth_pending = 0;
        ngx_post_event(w->request->connection->write, &ngx_posted_events);
    }
}


static void
ngx_http_media_jwks_unwait(void *data)
{
    ngx_http_media_jwks_waiter_t  *w = data;

    if (w->jwks) {
        ngx_queue_remove(&w->queue);
        w->jwks->nwaiting--;
        w->jwks = NULL;
    }
}


static void
ngx_http_media_jwks_abandon(void *data)
{
    ngx_http_media_jwks_fetch_t  *f = data;

    if (!f->done) {
        f->done = 1;
        f->jwks->fetching = 0;
        ngx_http_media_jwks_wake(f->jwks);
    }
}


static void
ngx_http_media_jwks_warn(void *data, const char *msg)
{
    ngx_log_t  *log = data;

    ngx_log_error(NGX_LOG_WARN, log, 0, "media jwks: %s", msg);
}
