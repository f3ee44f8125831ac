/*
 * Secrets and key sets read from files, at configuration time only (the
 * files are small and read once, before any request), and the key sets
 * that hold them.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_keyfile.h"


static void ngx_http_media_keyset_cleanup(void *data);
static void ngx_http_media_token_keys_free(void *data);


ngx_int_t
ngx_http_media_read_key(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *secret)
{
    ngx_str_t  *args;

    if (ngx_http_media_read_conf_file(cf, name, secret) != NGX_OK) {
        return NGX_ERROR;
    }

    /* a trailing newline is not part of the key */
    while (secret->len && (secret->data[secret->len - 1] == '\n'
                           || secret->data[secret->len - 1] == '\r'))
    {
        secret->len--;
    }

    if (secret->len < 16 || secret->len > 64) {
        args = cf->args->elts;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V \"%V\": it must hold 16 to 64 bytes "
                           "(%uz found); make one with \"openssl rand "
                           "-base64 32 > %V\"", &args[0], name, secret->len,
                           name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_media_read_conf_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_str_t        path, *args;
    ngx_file_info_t  fi;

    args = cf->args->elts;
    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%V \"%V\": cannot open it", &args[0], &path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 1024 * 1024)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": unreadable or larger than 1 MB", &path);
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    out->len = (size_t) ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, out->data, out->len);
    ngx_close_file(fd);

    if (n != (ssize_t) out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "\"%V\": short read", &path);
        return NGX_ERROR;
    }

    out->data[out->len] = '\0';

    return NGX_OK;
}


/* an empty key set whose keys are freed with the configuration */
ngx_http_media_keyset_t *
ngx_http_media_keyset(ngx_conf_t *cf)
{
    ngx_pool_cleanup_t       *cln;
    ngx_http_media_keyset_t  *ks;

    ks = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_keyset_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (ks == NULL || cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_media_keyset_cleanup;
    cln->data = ks;

    return ks;
}


static void
ngx_http_media_keyset_cleanup(void *data)
{
    ngx_http_media_keyset_t  *ks = data;

    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_MEDIA_MAX_KEYS; i++) {
        media_jwt_key_free(&ks->keys[i]);
    }
}


char *
ngx_http_media_token_keys(ngx_conf_t *cf, media_token_key_t *keys,
    ngx_uint_t *nkeys)
{
    ngx_int_t            rc;
    ngx_str_t           *value, secret;
    ngx_uint_t           i;
    ngx_pool_cleanup_t  *cln;

    if (*nkeys) {
        return "is duplicate";
    }

    /* the keys hold OpenSSL contexts: freed with the cycle */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_media_token_keys_free;
    cln->data = keys;

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (ngx_http_media_read_key(cf, &value[i], &secret) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        /* the size was checked: only OpenSSL can fail here */
        rc = media_token_key(&keys[i - 1], secret.data, secret.len);
        ngx_memzero(secret.data, secret.len);

        if (rc != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%V \"%V\": OpenSSL could not make an "
                               "HMAC-SHA256 context", &value[0], &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    if (cf->args->nelts == 3 && keys[0].kid == keys[1].kid) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V: the two keys share an id; make another new "
                           "key", &value[0]);
        return NGX_CONF_ERROR;
    }

    *nkeys = cf->args->nelts - 1;

    return NGX_CONF_OK;
}


static void
ngx_http_media_token_keys_free(void *data)
{
    media_token_key_t  *keys = data;

    media_token_key_free(&keys[0]);
    media_token_key_free(&keys[1]);
}
