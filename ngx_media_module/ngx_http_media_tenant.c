/*
 * Tenants: `media_tenant name;` in a server {} block makes that server a
 * site of its own on the shared database (sql/031_tenants.sql).
 *
 * What keeps two tenants apart:
 * - rows: each tenant has its own PostgreSQL pool whose connections say
 *   `-c media.tenant=name` when they connect, and row level security shows
 *   a session its tenant's rows only; no query text names a tenant;
 * - tokens: the tenant signs and checks with keys of its own, derived at
 *   configuration time from the http-level keys (HMAC-SHA256 of the
 *   tenant's name under each key), so a token another tenant issued fails
 *   its check here even when both share media_jwt_key, media_url_key and
 *   media_download_key.  The default tenant (a server without the
 *   directive) uses the keys as given: its tokens are what they were.
 *
 * tenants[0] is "*", every tenant: the pool of what a worker process does
 * for no server (the blocked set's load, ngx_http_media_blocked.c).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "ngx_http_media_keyfile.h"
#include "ngx_http_media_tenant.h"


#define NGX_HTTP_MEDIA_TENANT_LABEL  "ngx_media tenant "


static ngx_http_media_tenant_t *ngx_http_media_tenant_add(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf, ngx_str_t *name);
static const char **ngx_http_media_tenant_values(ngx_conf_t *cf,
    ngx_http_media_tenant_t *t, const char **keywords, const char **values);
static ngx_int_t ngx_http_media_tenant_pg(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf, ngx_http_media_tenant_t *t);
static ngx_int_t ngx_http_media_tenant_keys(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf, ngx_http_media_tenant_t *t);
static ngx_int_t ngx_http_media_tenant_token_keys(ngx_conf_t *cf,
    ngx_str_t *label, media_token_key_t *src, ngx_uint_t n,
    media_token_key_t **dst);
static void ngx_http_media_tenant_keys_free(void *data);


static ngx_str_t  ngx_http_media_tenant_default = ngx_string("default");
static ngx_str_t  ngx_http_media_tenant_all = ngx_string("*");


/* the names sql/031's CHECK accepts: a letter or digit, then 31 more of
 * those, '_' or '-' */
char *
ngx_http_media_tenant_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_media_srv_conf_t *mscf = conf;

    u_char      c;
    ngx_str_t  *value;
    ngx_uint_t  i;

    if (mscf->name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 32) {
        goto invalid;
    }

    for (i = 0; i < value[1].len; i++) {
        c = value[1].data[i];

        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
            || (i > 0 && (c == '_' || c == '-')))
        {
            continue;
        }

        goto invalid;
    }

    mscf->name = value[1];

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid media_tenant \"%V\": 1 to 32 of a-z, 0-9, "
                       "'_' and '-', starting with a letter or digit",
                       &value[1]);
    return NGX_CONF_ERROR;
}


void *
ngx_http_media_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_media_srv_conf_t  *mscf;

    mscf = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_srv_conf_t));
    if (mscf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mscf->name = { 0, NULL };
     *     mscf->tenant = NULL;
     */

    return mscf;
}


/* runs after init_main_conf: the keys and media_pg's parameters are set */
char *
ngx_http_media_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_media_srv_conf_t *conf = child;

    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);

    if (mmcf->tenants.elts == NULL) {
        if (ngx_array_init(&mmcf->tenants, cf->pool, 4,
                           sizeof(ngx_http_media_tenant_t *))
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        if (ngx_http_media_tenant_add(cf, mmcf, &ngx_http_media_tenant_all)
            == NULL)
        {
            return NGX_CONF_ERROR;
        }
    }

    conf->tenant = ngx_http_media_tenant_add(cf, mmcf,
                                             conf->name.data
                                             ? &conf->name
                                             : &ngx_http_media_tenant_default);
    if (conf->tenant == NULL) {
        return NGX_CONF_ERROR;
    }

    if (conf->stripe == NULL) {
        conf->stripe = &mmcf->stripe;
    }

    return NGX_CONF_OK;
}


ngx_http_media_tenant_t *
ngx_http_media_tenant(ngx_http_request_t *r)
{
    ngx_http_media_srv_conf_t  *mscf;

    mscf = ngx_http_get_module_srv_conf(r, ngx_http_media_module);

    return mscf->tenant;
}


/* the tenant of that name, made the first time a server names it */
static ngx_http_media_tenant_t *
ngx_http_media_tenant_add(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf,
    ngx_str_t *name)
{
    ngx_uint_t                 i;
    ngx_http_media_tenant_t   *t, **tp;

    tp = mmcf->tenants.elts;

    for (i = 0; i < mmcf->tenants.nelts; i++) {
        if (tp[i]->name.len == name->len
            && ngx_strncmp(tp[i]->name.data, name->data, name->len) == 0)
        {
            return tp[i];
        }
    }

    t = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_tenant_t));
    if (t == NULL) {
        return NULL;
    }

    t->name = *name;
    t->index = mmcf->tenants.nelts;
    t->is_default = (name->len == ngx_http_media_tenant_default.len
                     && ngx_strncmp(name->data, "default", name->len) == 0);

    if (ngx_http_media_tenant_pg(cf, mmcf, t) != NGX_OK
        || ngx_http_media_tenant_keys(cf, mmcf, t) != NGX_OK)
    {
        return NULL;
    }

    tp = ngx_array_push(&mmcf->tenants);
    if (tp == NULL) {
        return NULL;
    }

    *tp = t;

    return t;
}


/*
 * media_pg's parameters with the tenant said first in options: the
 * session's media.tenant (sql/031), before statement_timeout and the
 * user's own options.
 */
static ngx_int_t
ngx_http_media_tenant_pg(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf,
    ngx_http_media_tenant_t *t)
{
    if (mmcf->pg_values == NULL) {
        return NGX_OK;
    }

    t->pg_values = ngx_http_media_tenant_values(cf, t, mmcf->pg_keywords,
                                                mmcf->pg_values);
    if (t->pg_values == NULL) {
        return NGX_ERROR;
    }

    if (mmcf->pg_replica_values == NULL) {
        return NGX_OK;
    }

    t->pg_replica_values = ngx_http_media_tenant_values(cf, t,
                                                mmcf->pg_replica_keywords,
                                                mmcf->pg_replica_values);

    return t->pg_replica_values ? NGX_OK : NGX_ERROR;
}


static const char **
ngx_http_media_tenant_values(ngx_conf_t *cf, ngx_http_media_tenant_t *t,
    const char **keywords, const char **values)
{
    u_char       *p;
    size_t        len;
    ngx_uint_t    n;
    const char  **v;

    for (n = 0; keywords[n]; n++) { /* void */ }

    v = ngx_pcalloc(cf->pool, (n + 1) * sizeof(char *));
    if (v == NULL) {
        return NULL;
    }

    ngx_memcpy(v, values, n * sizeof(char *));

    /* ngx_http_media_pg_params() puts options first */
    len = sizeof("-c media.tenant= ") + t->name.len + ngx_strlen(values[0]);

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_sprintf(p, "-c media.tenant=%V %s%Z", &t->name, values[0]);
    v[0] = (char *) p;

    return v;
}


static ngx_int_t
ngx_http_media_tenant_keys(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf,
    ngx_http_media_tenant_t *t)
{
    u_char                   *p;
    ngx_str_t                 label;
    ngx_uint_t                i;
    unsigned char             mac[SHA256_DIGEST_LENGTH];
    ngx_http_media_keyset_t  *ks, *src;

    if (t->is_default) {
        t->own_keys = mmcf->own_keys;
        t->url_keys = mmcf->url_keys;
        t->dl_keys = mmcf->dl_keys;
        return NGX_OK;
    }

    label.len = sizeof(NGX_HTTP_MEDIA_TENANT_LABEL) - 1 + t->name.len;
    label.data = ngx_pnalloc(cf->pool, label.len);
    if (label.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(label.data, NGX_HTTP_MEDIA_TENANT_LABEL,
                   sizeof(NGX_HTTP_MEDIA_TENANT_LABEL) - 1);
    ngx_memcpy(p, t->name.data, t->name.len);

    src = mmcf->own_keys;

    if (src) {
        ks = ngx_http_media_keyset(cf);
        if (ks == NULL) {
            return NGX_ERROR;
        }

        /* issuer, audience and leeway as the http level's */
        ks->verifier = src->verifier;

        for (i = 0; i < src->verifier.nkeys; i++) {
            if (HMAC(EVP_sha256(), src->keys[i].secret,
                     src->keys[i].secret_len, label.data, label.len, mac,
                     NULL)
                == NULL
                || media_jwt_key_secret(&ks->keys[i], mac, sizeof(mac)) != 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "media_tenant \"%V\": OpenSSL could not "
                                   "derive its media_jwt_key", &t->name);
                return NGX_ERROR;
            }
        }

        ngx_memzero(mac, sizeof(mac));

        ks->verifier.keys = ks->keys;
        t->own_keys = ks;
    }

    if (ngx_http_media_tenant_token_keys(cf, &label, mmcf->url_keys,
                                         mmcf->url_nkeys, &t->url_keys)
        != NGX_OK
        || ngx_http_media_tenant_token_keys(cf, &label, mmcf->dl_keys,
                                            mmcf->dl_nkeys, &t->dl_keys)
           != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "media_tenant \"%V\": OpenSSL could not derive "
                           "its media_url_key or media_download_key",
                           &t->name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* n (0 to 2) keys of the tenant from the http level's n; freed with the
 * configuration, as theirs are */
static ngx_int_t
ngx_http_media_tenant_token_keys(ngx_conf_t *cf, ngx_str_t *label,
    media_token_key_t *src, ngx_uint_t n, media_token_key_t **dst)
{
    ngx_uint_t           i;
    unsigned char        mac[SHA256_DIGEST_LENGTH];
    media_token_key_t   *keys;
    ngx_pool_cleanup_t  *cln;

    keys = ngx_pcalloc(cf->pool, 2 * sizeof(media_token_key_t));
    if (keys == NULL) {
        return NGX_ERROR;
    }

    *dst = keys;

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_media_tenant_keys_free;
    cln->data = keys;

    for (i = 0; i < n; i++) {
        if (media_token_mac(&src[i], label->data, label->len, mac) != 0
            || media_token_key(&keys[i], mac, sizeof(mac)) != 0)
        {
            return NGX_ERROR;
        }
    }

    ngx_memzero(mac, sizeof(mac));

    /* a token names its key by one byte: the two must differ, as the
     * http level's do */
    if (n == 2 && keys[0].kid == keys[1].kid) {
        keys[1].kid ^= 0x80;
    }

    return NGX_OK;
}


static void
ngx_http_media_tenant_keys_free(void *data)
{
    media_token_key_t  *keys = data;

    media_token_key_free(&keys[0]);
    media_token_key_free(&keys[1]);
}
