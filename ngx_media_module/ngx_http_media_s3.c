/*
 * Renditions in object storage: directives and presigned requests
 * (ngx_http_media_s3.h).
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_keyfile.h"
#include "ngx_http_media_s3.h"
#include "media_conf.h"


static ngx_http_media_s3_conf_t *ngx_http_media_s3_conf(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf);
static ngx_int_t ngx_http_media_s3_cstr(ngx_conf_t *cf, ngx_str_t *s);


/*
 * This worker's signing key of the day (one key pair and region per
 * configuration; a reload starts new workers with none)
 */
static media_s3_signing_key_t  ngx_http_media_s3_signing;


/* configuration ----------------------------------------------------------- */

static ngx_http_media_s3_conf_t *
ngx_http_media_s3_conf(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf)
{
    if (mmcf->s3 == NULL) {
        mmcf->s3 = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_s3_conf_t));
    }

    return mmcf->s3;
}


char *
ngx_http_media_s3_storage(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf,
    ngx_str_t *value, ngx_uint_t n)
{
    size_t                     plen;
    const char                *err;
    ngx_http_media_s3_conf_t  *s3;

    s3 = ngx_http_media_s3_conf(cf, mmcf);
    if (s3 == NULL) {
        return NGX_CONF_ERROR;
    }

    if (media_s3_parse_url((char *) value[1].data, value[1].len, &s3->url,
                           &err)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid " MEDIA_SET_STORAGE
                           " \"%V\": %s", &value[1], err);
        return NGX_CONF_ERROR;
    }

    plen = sizeof(MEDIA_STORAGE_SPOOL) - 1;

    if (n == 3) {
        if (value[2].len <= plen
            || ngx_strncmp(value[2].data, MEDIA_STORAGE_SPOOL, plen) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid "
                               MEDIA_SET_STORAGE " parameter \"%V\": "
                               "expected spool=/path, the local directory "
                               "for uploads and work in progress",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        mmcf->storage.data = value[2].data + plen;
        mmcf->storage.len = value[2].len - plen;

    } else {
        ngx_str_set(&mmcf->storage, MEDIA_DEFAULT_STORAGE);
    }

    /* the canonical URI's start: /<bucket>/<prefix>/ */
    s3->path.len = 1 + ngx_strlen(s3->url.bucket) + 1
                   + ngx_strlen(s3->url.prefix) + 1;
    s3->path.data = ngx_pnalloc(cf->pool, s3->path.len + 1);
    if (s3->path.data == NULL) {
        return NGX_CONF_ERROR;
    }

    s3->path.len = ngx_sprintf(s3->path.data, "/%s/%s%s%Z",
                               s3->url.bucket, s3->url.prefix,
                               s3->url.prefix[0] ? "/" : "")
                   - s3->path.data - 1;

    return NGX_CONF_OK;
}


/* media_s3_endpoint http://host[:port]: path-style, no path of its own */
char *
ngx_http_media_s3_endpoint(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    u_char                    *p, *end, *slash;
    ngx_str_t                 *value;
    ngx_http_media_s3_conf_t  *s3;

    s3 = ngx_http_media_s3_conf(cf, mmcf);
    if (s3 == NULL) {
        return NGX_CONF_ERROR;
    }

    if (s3->endpoint.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    end = value[1].data + value[1].len;

    while (end > value[1].data && end[-1] == '/') {
        end--;
    }

    p = media_conf_parse_url((char *) value[1].data, value[1].len) == 0
        ? (u_char *) ngx_strstr(value[1].data, "://") : NULL;
    slash = p ? ngx_strlchr(p + 3, end, '/') : NULL;

    if (p == NULL || slash != NULL || end == p + 3) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %V \"%V\": "
                           "expected the server's http:// or https:// URL "
                           "with no path, such as "
                           "\"https://s3.eu-west-1.amazonaws.com\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    s3->endpoint.data = value[1].data;
    s3->endpoint.len = end - value[1].data;
    s3->host.data = p + 3;
    s3->host.len = end - (p + 3);

    return NGX_CONF_OK;
}


char *
ngx_http_media_s3_region(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ngx_str_t                 *value;
    ngx_http_media_s3_conf_t  *s3;

    s3 = ngx_http_media_s3_conf(cf, mmcf);
    if (s3 == NULL) {
        return NGX_CONF_ERROR;
    }

    if (s3->region.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > MEDIA_S3_REGION_MAX
        || strspn((char *) value[1].data,
                  "abcdefghijklmnopqrstuvwxyz0123456789-") != value[1].len)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %V \"%V\": "
                           "expected a region name such as \"eu-west-1\"",
                           &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    s3->region = value[1];

    return NGX_CONF_OK;
}


/* media_s3_credentials file: read once, here; the secret never logged */
char *
ngx_http_media_s3_credentials(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ngx_str_t                 *value, text;
    const char                *err;
    ngx_http_media_s3_conf_t  *s3;

    s3 = ngx_http_media_s3_conf(cf, mmcf);
    if (s3 == NULL) {
        return NGX_CONF_ERROR;
    }

    if (s3->credentials.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    s3->credentials = value[1];

    if (ngx_http_media_read_conf_file(cf, &value[1], &text) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (media_s3_parse_keys((char *) text.data, text.len, &s3->keys, &err)
        != 0)
    {
        ngx_explicit_memzero(text.data, text.len);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %V \"%V\": %s",
                           &cmd->name, &value[1], err);
        return NGX_CONF_ERROR;
    }

    ngx_explicit_memzero(text.data, text.len);

    return NGX_CONF_OK;
}


char *
ngx_http_media_s3_init_conf(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf)
{
    ngx_http_media_s3_conf_t  *s3;

    s3 = mmcf->s3;

    if (s3 == NULL) {
        return NGX_CONF_OK;
    }

    if (s3->url.bucket[0] == '\0') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "media_s3_* is set but "
                           MEDIA_SET_STORAGE " is not s3://bucket/prefix");
        return NGX_CONF_ERROR;
    }

    if (s3->endpoint.data == NULL || s3->credentials.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, MEDIA_SET_STORAGE
                           " s3://%s needs " MEDIA_SET_S3_ENDPOINT " and "
                           MEDIA_SET_S3_CREDENTIALS, s3->url.bucket);
        return NGX_CONF_ERROR;
    }

    if (s3->region.data == NULL) {
        ngx_str_set(&s3->region, MEDIA_S3_DEFAULT_REGION);
    }

    /* NUL-terminated for media_s3_presign: copied once, here */
    if (ngx_http_media_s3_cstr(cf, &s3->region) != NGX_OK
        || ngx_http_media_s3_cstr(cf, &s3->host) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_media_s3_cstr(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(cf->pool, s->len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    *ngx_cpymem(p, s->data, s->len) = '\0';
    s->data = p;

    return NGX_OK;
}


/* requests ---------------------------------------------------------------- */

ngx_int_t
ngx_http_media_s3_args(ngx_http_request_t *r, const char *dir, u_char *file,
    size_t len, ngx_str_t *args)
{
    u_char                      *path, *p;
    size_t                       dlen;
    ngx_http_media_s3_conf_t    *s3;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);
    s3 = mmcf->s3;
    dlen = ngx_strlen(dir);

    path = ngx_pnalloc(r->pool, s3->path.len + dlen + len);
    args->data = ngx_pnalloc(r->pool, MEDIA_S3_PRESIGN_LEN);

    if (path == NULL || args->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(path, s3->path.data, s3->path.len);
    p = ngx_cpymem(p, dir, dlen);
    p = ngx_cpymem(p, file, len);

    args->len = media_s3_presign(&s3->keys, (char *) s3->region.data,
                                 (char *) s3->host.data, (char *) path,
                                 p - path, ngx_time(),
                                 MEDIA_S3_PRESIGN_TTL,
                                 &ngx_http_media_s3_signing,
                                 (char *) args->data, MEDIA_S3_PRESIGN_LEN);

    return args->len ? NGX_OK : NGX_ERROR;
}
