/*
 * ngx_http_media_module: directives, configuration, per-process set-up.
 *
 * The PostgreSQL pool (ngx_http_media_pg.c) and the Redis client
 * (ngx_http_media_redis.c) are per nginx worker process; both are started
 * in init_process and torn down in exit_process.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <libpq-fe.h>

#include "ngx_http_media_types.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_auth.h"
#include "ngx_http_media_jwks.h"
#include "ngx_http_media_hls.h"
#include "ngx_http_media_api.h"
#include "ngx_http_media_roles.h"
#include "ngx_http_media_webhook.h"
#include "ngx_http_media_errors.h"
#include "ngx_http_media_downloads.h"
#include "ngx_http_media_pages.h"
#include "ngx_http_media_pictures.h"
#include "ngx_http_media_cors.h"
#include "ngx_http_media_blocked.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_metrics.h"
#include "ngx_http_media_plays.h"
#include "ngx_http_media_cache.h"
#include "ngx_http_media_shm.h"
#include "ngx_http_media_s3.h"


static ngx_int_t ngx_http_media_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_media_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_media_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_media_pg(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_media_pg_params(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf, ngx_str_t *conninfo,
    const char ***pkeywords, const char ***pvalues);
static char *ngx_http_media_pg_replica_zone(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf);
static char *ngx_http_media_pg_hostaddr(ngx_conf_t *cf, const char *hosts,
    const char **hostaddr);
static char *ngx_http_media_cstrdup(ngx_pool_t *pool, const char *s);
static char *ngx_http_media_resolve(ngx_conf_t *cf, ngx_str_t *value,
    media_addr_t *addr);
static char *ngx_http_media_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_media_pool(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_media_msec(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_media_storage(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_media_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_media_worker_setting(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static void *ngx_http_media_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_media_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_media_storage_paths(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf);
static ngx_int_t ngx_http_media_init_process(ngx_cycle_t *cycle);
static void ngx_http_media_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_media_auth_modes[] = {
    { ngx_string("off"), NGX_HTTP_MEDIA_AUTH_OFF },
    { ngx_string("optional"), NGX_HTTP_MEDIA_AUTH_OPTIONAL },
    { ngx_string("on"), NGX_HTTP_MEDIA_AUTH_ON },
    { ngx_null_string, 0 }
};


/* cmd->post of a time directive for which 0 is a sensible value */
static ngx_uint_t  ngx_http_media_zero_ok = 1;


static ngx_conf_enum_t  ngx_http_media_cookie_secure_values[] = {
    { ngx_string("off"), NGX_HTTP_MEDIA_SECURE_OFF },
    { ngx_string("on"), NGX_HTTP_MEDIA_SECURE_ON },
    { ngx_string("auto"), NGX_HTTP_MEDIA_SECURE_AUTO },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_media_commands[] = {

    { ngx_string(MEDIA_SET_PG),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_pg,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, pg_conninfo),
      NULL },

    { ngx_string(MEDIA_SET_PG_REPLICA),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_pg,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, pg_replica_conninfo),
      NULL },

    { ngx_string(MEDIA_SET_PG_REPLICA_LAG),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, pg_replica_max_lag),
      NULL },

    { ngx_string(MEDIA_SET_PG_POOL),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_pool,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, pg_pool),
      NULL },

    { ngx_string(MEDIA_SET_PG_TIMEOUT),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, pg_timeout),
      NULL },

    { ngx_string(MEDIA_SET_REDIS),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string(MEDIA_SET_REDIS_TIMEOUT),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, redis_timeout),
      NULL },

    { ngx_string("media_tenant"),
      NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_media_tenant_directive,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_blocked_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_blocked_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string(MEDIA_SET_UPLOAD_MAX),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, upload_max),
      NULL },

    { ngx_string("media_tus_expires"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, tus_expires),
      NULL },

    { ngx_string(MEDIA_SET_STORAGE),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_media_storage,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string(MEDIA_SET_S3_ENDPOINT),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_s3_endpoint,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string(MEDIA_SET_S3_REGION),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_s3_region,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string(MEDIA_SET_S3_CREDENTIALS),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_s3_credentials,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    /* the workers' settings: checked here, read by the workers */
    { ngx_string(MEDIA_SET_JOB_LEASE),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      0,
      NULL },

    { ngx_string(MEDIA_SET_JOB_RETRY),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      0,
      NULL },

    { ngx_string(MEDIA_SET_JOB_STALL),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      0,
      NULL },

    { ngx_string(MEDIA_SET_TRANSCODE_JOBS),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      1,
      NULL },

    { ngx_string(MEDIA_SET_TRANSCODE_THREADS),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      2,
      NULL },

    { ngx_string(MEDIA_SET_MAX_DURATION),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      0,
      NULL },

    { ngx_string(MEDIA_SET_MAX_PIXELS),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      3,
      NULL },

    { ngx_string(MEDIA_SET_TRANSCODE_MEMORY),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      4,
      NULL },

    { ngx_string(MEDIA_SET_EXPORT_TTL),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      0,
      NULL },

    { ngx_string(MEDIA_SET_STRIPE_API_URL),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      5,
      NULL },

    { ngx_string(MEDIA_SET_PUBLIC_URL),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      5,
      NULL },

    { ngx_string(MEDIA_SET_STRIPE_KEY),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      6,
      NULL },

    { ngx_string(MEDIA_SET_SWEEP_INTERVAL),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      0,
      NULL },

    { ngx_string(MEDIA_SET_SOURCE_RETENTION),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      7,
      NULL },

    { ngx_string(MEDIA_SET_AUDIO_RATE),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_worker_setting,
      0,
      8,
      NULL },

    { ngx_string("media_url_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_media_url_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_url_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, url_ttl),
      NULL },

    { ngx_string("media_public_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_media_cache_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_cookie_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, cookie_ttl),
      NULL },

    { ngx_string("media_billing_wait"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, billing_wait),
      &ngx_http_media_zero_ok },

    { ngx_string("media_free_rung"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_free_rung,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_download_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_media_download_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_download"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_media_download,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_avatars"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_media_avatars,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_pages"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_media_pages,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_hls"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_media_hls,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_cors"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_media_cors,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_media_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_media_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_media_loc_conf_t, retry_after),
      NULL },

    { ngx_string("media_upload_roles"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_media_upload_roles,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_auth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_media_loc_conf_t, auth),
      &ngx_http_media_auth_modes },

    { ngx_string("media_jwt_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_media_jwt_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_jwt_jwks"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_media_jwt_jwks,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_jwt_jwks_url"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_media_jwt_jwks_url,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, issuer),
      NULL },

    { ngx_string("media_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, leeway),
      &ngx_http_media_zero_ok },

    { ngx_string("media_access_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, access_ttl),
      NULL },

    { ngx_string("media_refresh_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, refresh_ttl),
      NULL },

    { ngx_string("media_cookie_secure"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, cookie_secure),
      &ngx_http_media_cookie_secure_values },

    { ngx_string("media_login_limit"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_media_login_limit,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_media_main_conf_t, thread_pool_name),
      NULL },

    { ngx_string("media_stripe_webhook_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_media_stripe_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("media_stripe_webhook_tolerance"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_media_stripe_tolerance,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_media_module_ctx = {
    ngx_http_media_auth_variables,         /* preconfiguration */
    ngx_http_media_postconfiguration,      /* postconfiguration */

    ngx_http_media_create_main_conf,       /* create main configuration */
    ngx_http_media_init_main_conf,         /* init main configuration */

    ngx_http_media_create_srv_conf,        /* create server configuration */
    ngx_http_media_merge_srv_conf,         /* merge server configuration */

    ngx_http_media_create_loc_conf,        /* create location configuration */
    ngx_http_media_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_media_module = {
    NGX_MODULE_V1,
    &ngx_http_media_module_ctx,            /* module context */
    ngx_http_media_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_media_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_media_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_media_request_id = ngx_string("request_id");


/*
 * the access phase's checks: tokens (auth), then playback paths (hls);
 * the JSON error pages in the rewrite phase; CORS preflights in the
 * preaccess phase and its headers in a header filter
 */
static ngx_int_t
ngx_http_media_postconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_media_auth_postconfiguration(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_errors_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_downloads_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_cors_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_blocked_postconfiguration(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_cache_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_hls_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* last: it reads the playback and download status variables' indexes */
    return ngx_http_media_metrics_init(cf);
}


static void *
ngx_http_media_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    mmcf->pg_pool = NGX_CONF_UNSET_UINT;
    mmcf->pg_timeout = NGX_CONF_UNSET_MSEC;
    mmcf->pg_replica_max_lag = NGX_CONF_UNSET_MSEC;
    mmcf->redis_timeout = NGX_CONF_UNSET_MSEC;
    mmcf->upload_max = NGX_CONF_UNSET;
    mmcf->tus_expires = NGX_CONF_UNSET;
    mmcf->url_ttl = NGX_CONF_UNSET_MSEC;
    mmcf->cookie_ttl = NGX_CONF_UNSET_MSEC;
    mmcf->public_cache_ttl = NGX_CONF_UNSET_MSEC;
    mmcf->billing_wait = NGX_CONF_UNSET_MSEC;
    mmcf->free_rung = NGX_CONF_UNSET_UINT;
    mmcf->leeway = NGX_CONF_UNSET_MSEC;
    mmcf->access_ttl = NGX_CONF_UNSET_MSEC;
    mmcf->refresh_ttl = NGX_CONF_UNSET_MSEC;
    mmcf->cookie_secure = NGX_CONF_UNSET_UINT;
    mmcf->login_account = NGX_CONF_UNSET_UINT;
    mmcf->login_address = NGX_CONF_UNSET_UINT;
    mmcf->login_window = NGX_CONF_UNSET_MSEC;
    mmcf->stripe_tolerance = NGX_CONF_UNSET;

    return mmcf;
}


static char *
ngx_http_media_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ngx_file_info_t  fi;

    ngx_conf_init_uint_value(mmcf->pg_pool, MEDIA_DEFAULT_PG_POOL);
    ngx_conf_init_msec_value(mmcf->pg_timeout, MEDIA_DEFAULT_PG_TIMEOUT);
    ngx_conf_init_msec_value(mmcf->pg_replica_max_lag, 5000);
    ngx_conf_init_msec_value(mmcf->redis_timeout,
                             MEDIA_DEFAULT_REDIS_TIMEOUT);

    ngx_conf_init_msec_value(mmcf->url_ttl, 3600 * 1000);
    ngx_conf_init_msec_value(mmcf->cookie_ttl, 30 * 60 * 1000);
    ngx_conf_init_msec_value(mmcf->billing_wait, 3000);
    ngx_conf_init_uint_value(mmcf->free_rung, 720);
    ngx_conf_init_value(mmcf->stripe_tolerance, MEDIA_STRIPE_TOLERANCE);

    if (mmcf->upload_max == NGX_CONF_UNSET) {
        mmcf->upload_max = 500 * 1024 * 1024;
    }

    ngx_conf_init_value(mmcf->tus_expires, 24 * 3600);

    if (mmcf->storage.data == NULL) {
        ngx_str_set(&mmcf->storage, MEDIA_DEFAULT_STORAGE);

        if (ngx_file_info(mmcf->storage.data, &fi) == NGX_FILE_ERROR
            || !ngx_is_dir(&fi))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               MEDIA_SET_STORAGE " is not set and its "
                               "default \"%V\" is not a directory: create "
                               "it, writable by the nginx user, or set "
                               MEDIA_SET_STORAGE, &mmcf->storage);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_media_storage_paths(cf, mmcf) != NGX_OK
        || ngx_http_media_s3_init_conf(cf, mmcf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    mmcf->request_id_index = ngx_http_get_variable_index(cf,
                                                 &ngx_http_media_request_id);
    if (mmcf->request_id_index == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_media_auth_init_conf(cf, mmcf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (mmcf->pg_conninfo.data == NULL) {
        if (mmcf->pg_replica_conninfo.data) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, MEDIA_SET_PG_REPLICA
                               " needs " MEDIA_SET_PG ": the replica only "
                               "serves reads, writes go to the primary");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    /* built here: the statement timeout depends on media_pg_timeout */
    if (ngx_http_media_pg_params(cf, mmcf, &mmcf->pg_conninfo,
                                 &mmcf->pg_keywords, &mmcf->pg_values)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (mmcf->pg_replica_conninfo.data == NULL) {
        return NGX_CONF_OK;
    }

    if (ngx_http_media_pg_params(cf, mmcf, &mmcf->pg_replica_conninfo,
                                 &mmcf->pg_replica_keywords,
                                 &mmcf->pg_replica_values)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_media_pg_replica_zone(cf, mmcf);
}


static void *
ngx_http_media_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_media_loc_conf_t  *mlcf;

    mlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_loc_conf_t));
    if (mlcf == NULL) {
        return NULL;
    }

    mlcf->auth = NGX_CONF_UNSET_UINT;
    mlcf->api = NGX_CONF_UNSET;
    mlcf->json_errors = NGX_CONF_UNSET;
    mlcf->cors = NGX_CONF_UNSET_PTR;
    mlcf->upload_roles = NGX_CONF_UNSET_UINT;
    mlcf->retry_after = NGX_CONF_UNSET_MSEC;

    return mlcf;
}


static char *
ngx_http_media_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_media_loc_conf_t *prev = parent;
    ngx_http_media_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_media_main_conf_t  *mmcf;

    ngx_conf_merge_uint_value(conf->auth, prev->auth, NGX_HTTP_MEDIA_AUTH_OFF);
    ngx_conf_merge_ptr_value(conf->cors, prev->cors, NULL);
    ngx_conf_merge_uint_value(conf->upload_roles, prev->upload_roles, 0);
    ngx_conf_merge_msec_value(conf->retry_after, prev->retry_after, 1000);

    /* media_api is not inherited: it names one content handler's location */
    if (conf->api == NGX_CONF_UNSET) {
        conf->api = 0;
    }

    /* nginx's own errors here and below answer JSON too */
    if (ngx_http_media_errors_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (!conf->api) {
        return NGX_CONF_OK;
    }

    /*
     * Uploads arrive in <media_storage>/tmp, on the storage's filesystem,
     * so that accepting one is a rename.  The API checks body sizes itself,
     * against the declared Content-Length and before reading a byte (it
     * refuses chunked bodies), so that the refusal is JSON: nginx's own
     * client_max_body_size check runs before any module and answers HTML.
     */
    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    clcf->client_body_temp_path = mmcf->tmp_path;
    clcf->client_max_body_size = 0;

    return NGX_CONF_OK;
}


/*
 * tmp/, uploads/, hls/ and exports/ under media_storage, registered as
 * nginx paths: nginx creates them at start, owned by its worker user.
 */
static ngx_int_t
ngx_http_media_storage_paths(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf)
{
    ngx_uint_t   i;
    ngx_path_t  *path;

    static const char  *dirs[] = { MEDIA_DIR_TMP, MEDIA_DIR_UPLOADS,
                                   MEDIA_DIR_HLS, MEDIA_DIR_EXPORTS };

    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
        if (path == NULL) {
            return NGX_ERROR;
        }

        path->name.len = mmcf->storage.len + 1 + ngx_strlen(dirs[i]);
        path->name.data = ngx_pnalloc(cf->pool, path->name.len + 1);
        if (path->name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(path->name.data, "%V/%s%Z", &mmcf->storage, dirs[i]);
        path->conf_file = cf->conf_file->file.name.data;
        path->line = cf->conf_file->line;

        if (ngx_add_path(cf, &path) != NGX_OK) {
            return NGX_ERROR;
        }

        if (i == 0) {
            mmcf->tmp_path = path;
        }
    }

    return NGX_OK;
}


/* media_pg, media_pg_replica: a libpq connection string */
static char *
ngx_http_media_pg(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char               *err;
    ngx_str_t          *value, *field;
    PQconninfoOption   *opts;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* ngx_str_t from the parser is NUL-terminated */
    opts = PQconninfoParse((char *) value[1].data, &err);
    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %V \"%V\": %s",
                           &cmd->name, &value[1],
                           err ? err : "out of memory");
        PQfreemem(err);
        return NGX_CONF_ERROR;
    }

    PQconninfoFree(opts);

    *field = value[1];

    return NGX_CONF_OK;
}


/*
 * The replica's state (its lag, measured by worker 0) and who wrote
 * lately (read-your-writes), for every worker: ngx_http_media_pg.c
 */
static char *
ngx_http_media_pg_replica_zone(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf)
{
    ngx_str_t  name = ngx_string("media_pg_replica");

    mmcf->pg_replica_zone = ngx_http_media_shm_add(cf, &name, 1024 * 1024,
                                                   sizeof(ngx_msec_t));

    return mmcf->pg_replica_zone ? NGX_CONF_OK : NGX_CONF_ERROR;
}


/*
 * Turns the conninfo into keyword/value arrays for PQconnectStartParams:
 * - every host name is resolved now, at configuration time, and passed as
 *   hostaddr: libpq would otherwise call getaddrinfo() inside
 *   PQconnectPoll(), blocking the event loop on DNS; host stays, so TLS
 *   certificate checks still see the name;
 * - statement_timeout is set to 90% of media_pg_timeout (before the
 *   user's own options, so theirs win): the server cancels a slow
 *   statement just before we would give up, so the connection stays
 *   usable, and no backend is left waiting on a lock for nobody.  Our own
 *   timer stays the hard bound: it also covers connecting, waiting for a
 *   pooled connection and a server that stopped answering.
 */
static char *
ngx_http_media_pg_params(ngx_conf_t *cf, ngx_http_media_main_conf_t *mmcf,
    ngx_str_t *conninfo, const char ***pkeywords, const char ***pvalues)
{
    u_char            *p;
    ngx_uint_t         n, i;
    const char        *host, *hostaddr, *options, **keywords, **values;
    PQconninfoOption  *opts, *o;

    opts = PQconninfoParse((char *) conninfo->data, NULL);
    if (opts == NULL) {
        return NGX_CONF_ERROR;
    }

    host = NULL;
    hostaddr = NULL;
    options = NULL;
    n = 0;

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL) {
            continue;
        }

        n++;

        if (ngx_strcmp(o->keyword, "host") == 0) {
            host = o->val;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            hostaddr = o->val;

        } else if (ngx_strcmp(o->keyword, "options") == 0) {
            options = o->val;
        }
    }

    /* + hostaddr, options, application_name, terminator */
    keywords = ngx_pcalloc(cf->pool, (n + 4) * sizeof(char *));
    values = ngx_pcalloc(cf->pool, (n + 4) * sizeof(char *));
    if (keywords == NULL || values == NULL) {
        goto failed;
    }

    *pkeywords = keywords;
    *pvalues = values;

    if (host && hostaddr == NULL
        && ngx_http_media_pg_hostaddr(cf, host, &hostaddr) != NGX_CONF_OK)
    {
        goto failed;
    }

    p = ngx_pnalloc(cf->pool, sizeof("-c statement_timeout=ms ") + NGX_INT_T_LEN
                    + (options ? ngx_strlen(options) : 0));
    if (p == NULL) {
        goto failed;
    }

    ngx_sprintf(p, "-c statement_timeout=%Mms %s%Z",
                mmcf->pg_timeout - mmcf->pg_timeout / 10,
                options ? options : "");

    i = 0;
    keywords[i] = "options";
    values[i++] = (char *) p;
    keywords[i] = "application_name";
    values[i++] = "ngx_media";

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || ngx_strcmp(o->keyword, "options") == 0
            || ngx_strcmp(o->keyword, "hostaddr") == 0)
        {
            continue;
        }

        keywords[i] = ngx_http_media_cstrdup(cf->pool, o->keyword);
        values[i] = ngx_http_media_cstrdup(cf->pool, o->val);
        if (keywords[i] == NULL || values[i] == NULL) {
            goto failed;
        }
        i++;
    }

    if (hostaddr) {
        keywords[i] = "hostaddr";
        values[i] = ngx_http_media_cstrdup(cf->pool, hostaddr);
        if (values[i] == NULL) {
            goto failed;
        }
    }

    PQconninfoFree(opts);
    return NGX_CONF_OK;

failed:

    PQconninfoFree(opts);
    return NGX_CONF_ERROR;
}


/*
 * hosts is libpq's comma-separated list; directory entries (unix sockets)
 * get an empty hostaddr, which libpq reads as "use host".
 */
static char *
ngx_http_media_pg_hostaddr(ngx_conf_t *cf, const char *hosts,
    const char **hostaddr)
{
    u_char      *buf, *p;
    size_t       len;
    ngx_url_t    u;
    const char  *h, *end;

    len = ngx_strlen(hosts);

    /* each entry becomes at most an IPv6 text address */
    buf = ngx_pnalloc(cf->pool, (len + 1) * (NGX_INET6_ADDRSTRLEN + 1));
    if (buf == NULL) {
        return NGX_CONF_ERROR;
    }

    p = buf;

    for (h = hosts; ; h = end + 1) {
        end = strchr(h, ',');
        if (end == NULL) {
            end = h + ngx_strlen(h);
        }

        if (p != buf) {
            *p++ = ',';
        }

        if (end > h && *h != '/' && *h != '@') {
            ngx_memzero(&u, sizeof(ngx_url_t));

            u.url.data = (u_char *) h;
            u.url.len = end - h;
            u.default_port = 5432;
            u.no_port = 1;

            if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   MEDIA_SET_PG " host \"%V\": %s", &u.url,
                                   u.err ? u.err : "host not found");
                return NGX_CONF_ERROR;
            }

            p += ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                               NGX_INET6_ADDRSTRLEN, 0);
        }

        if (*end == '\0') {
            break;
        }
    }

    *p = '\0';
    *hostaddr = (const char *) buf;

    return NGX_CONF_OK;
}


/* a NUL-terminated copy of a C string, in pool */
static char *
ngx_http_media_cstrdup(ngx_pool_t *pool, const char *s)
{
    char    *p;
    size_t   len;

    len = ngx_strlen(s) + 1;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);

    return p;
}


static char *
ngx_http_media_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ngx_int_t      i;
    ngx_str_t     *value;
    media_addr_t  *addr;

    if (mmcf->redis_set) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (media_conf_parse_redis((char *) value[1].data, value[1].len,
                               MEDIA_DEFAULT_REDIS_PORT, &mmcf->redis_addr)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid " MEDIA_SET_REDIS " \"%V\": expected "
                           "host, host:port, unix:/path or "
                           "sentinel://host:port,host:port/name (at most %d "
                           "sentinels)", &value[1], MEDIA_SENTINELS_MAX);
        return NGX_CONF_ERROR;
    }

    mmcf->redis_set = 1;

    /* resolved once here, so hiredis never meets a name it must look up */
    if (mmcf->redis_addr.nsentinels == 0) {
        return ngx_http_media_resolve(cf, &value[1], &mmcf->redis_addr.addr);
    }

    for (i = 0; i < mmcf->redis_addr.nsentinels; i++) {
        addr = &mmcf->redis_addr.sentinels[i];

        if (ngx_http_media_resolve(cf, &value[1], addr) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* a host name in addr made a numeric address (a unix socket is left) */
static char *
ngx_http_media_resolve(ngx_conf_t *cf, ngx_str_t *value, media_addr_t *addr)
{
    size_t     n;
    ngx_url_t  u;

    if (addr->port == 0) {
        return NGX_CONF_OK;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));
    u.url.data = (u_char *) addr->host;
    u.url.len = ngx_strlen(addr->host);
    u.no_port = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid " MEDIA_SET_REDIS " \"%V\": %s (%s)",
                           value, u.err ? u.err : "host not found",
                           addr->host);
        return NGX_CONF_ERROR;
    }

    n = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen,
                      (u_char *) addr->host, sizeof(addr->host) - 1, 0);
    addr->host[n] = '\0';

    return NGX_CONF_OK;
}


/* media_pg_pool: a positive count, parsed as the workers parse it */
static char *
ngx_http_media_pool(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    long         n;
    ngx_str_t   *value;
    ngx_uint_t  *field;

    field = (ngx_uint_t *) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (media_conf_parse_uint((char *) value[1].data, value[1].len, 1024, &n)
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V \"%V\": expected a number of "
                           "connections from 1 to 1024", &cmd->name,
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    *field = n;

    return NGX_CONF_OK;
}


/* a time, parsed as the workers parse it ("250ms", "5s") */
static char *
ngx_http_media_msec(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    long         ms;
    ngx_str_t   *value;
    ngx_msec_t  *field;

    field = (ngx_msec_t *) (p + cmd->offset);

    if (*field != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (media_conf_parse_msec((char *) value[1].data, value[1].len, &ms) != 0
        || (ms == 0 && cmd->post == NULL))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %V \"%V\": expected a time such as "
                           "\"500ms\" or \"5s\"", &cmd->name, &value[1]);
        return NGX_CONF_ERROR;
    }

    *field = (ngx_msec_t) ms;

    return NGX_CONF_OK;
}


static char *
ngx_http_media_storage(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ngx_str_t        *value;
    ngx_file_info_t   fi;

    if (mmcf->storage.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    mmcf->storage = value[1];

    /* renditions in a bucket; uploads and work in progress in the spool */
    if (ngx_strncmp(value[1].data, MEDIA_S3_SCHEME,
                    sizeof(MEDIA_S3_SCHEME) - 1) == 0)
    {
        if (ngx_http_media_s3_storage(cf, mmcf, value, cf->args->nelts)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else if (cf->args->nelts != 2) {
        return "takes a directory, or s3://bucket/prefix [spool=path]";
    }

    if (ngx_conf_full_name(cf->cycle, &mmcf->storage, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(mmcf->storage.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "invalid " MEDIA_SET_STORAGE " \"%V\": "
                           "cannot use it; create the directory and let the "
                           "nginx user write to it", &mmcf->storage);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid " MEDIA_SET_STORAGE " \"%V\": "
                           "not a directory", &mmcf->storage);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_media_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_loc_conf_t *mlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    mlcf->api = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate or conflicts with another content handler";
    }

    clcf->handler = ngx_http_media_api_handler;

    return NGX_CONF_OK;
}


/*
 * A setting only the workers use: checked with their parser so that
 * nginx -t catches a bad value, then left alone.  cmd->offset says which
 * kind: 0 a time, 1 a count from 1, 2 a count from 0, 3 a picture size,
 * 4 a memory size or "off", 5 a URL, 6 a file (the billing worker reads
 * it; nginx never opens the secret).
 */
static char *
ngx_http_media_worker_setting(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    long         n, w, h;
    char        *v;
    size_t       len;
    ngx_str_t   *value;

    static const char  *expected[] = {
        "a time such as \"30s\"", "a number up to 64", "a number up to 64",
        "a size such as \"3840x2160\" or a number of pixels",
        "a size such as \"4g\" or \"off\"",
        "an http:// or https:// URL without a query",
        "a file name",
        "a time such as \"90d\", or \"off\"",
        "44100 or 48000"
    };

    value = cf->args->elts;
    v = (char *) value[1].data;
    len = value[1].len;

    switch (cmd->offset) {
    case 0:
        if (media_conf_parse_msec(v, len, &n) == 0 && n > 0) {
            return NGX_CONF_OK;
        }
        break;

    case 3:
        if (media_conf_parse_pixels(v, len, &n, &w, &h) == 0) {
            return NGX_CONF_OK;
        }
        break;

    case 4:
        if ((len == 3 && ngx_strncmp(v, "off", 3) == 0)
            || media_conf_parse_size(v, len, &n) == 0)
        {
            return NGX_CONF_OK;
        }
        break;

    case 5:
        if (media_conf_parse_url(v, len) == 0) {
            return NGX_CONF_OK;
        }
        break;

    case 6:
        if (len > 0) {
            return NGX_CONF_OK;
        }
        break;

    case 7:
        if ((len == 3 && ngx_strncmp(v, "off", 3) == 0)
            || (media_conf_parse_msec(v, len, &n) == 0 && n > 0))
        {
            return NGX_CONF_OK;
        }
        break;

    case 8:
        if (len == 5 && (ngx_strncmp(v, "44100", 5) == 0
                         || ngx_strncmp(v, "48000", 5) == 0))
        {
            return NGX_CONF_OK;
        }
        break;

    default:
        if ((cmd->offset == 2 && len == 1 && v[0] == '0')
            || media_conf_parse_uint(v, len, 64, &n) == 0)
        {
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %V \"%V\": expected %s",
                       &cmd->name, &value[1], expected[cmd->offset]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_media_init_process(ngx_cycle_t *cycle)
{
    ngx_http_media_main_conf_t  *mmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_media_module);
    if (mmcf == NULL) {
        return NGX_OK;
    }

    if (mmcf->pg_conninfo.data
        && ngx_http_media_pg_init(cycle, mmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (mmcf->redis_set
        && ngx_http_media_redis_init(cycle, mmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_media_blocked_init_process(cycle, mmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_metrics_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_media_plays_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_media_exit_process(ngx_cycle_t *cycle)
{
    /* first: its reload's request lets go of its query */
    ngx_http_media_blocked_done();
    ngx_http_media_metrics_exit_process();
    ngx_http_media_plays_exit_process();
    ngx_http_media_pg_done();
    ngx_http_media_redis_done();
}

