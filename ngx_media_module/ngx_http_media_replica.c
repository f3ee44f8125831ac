/*
 * media_pg_replica: which reads a streaming standby may serve.
 *
 * A statement marked as a read (ngx_http_media_pg_read_stmt) of a GET or
 * HEAD request goes to the replica when worker 0's last measure, at most
 * three periods old, found it answering within media_pg_replica_max_lag;
 * otherwise, and when the replica fails the query, to the primary.
 *
 * Read-your-writes: a request by a signed-in user that is not a GET or
 * HEAD stamps the user (the user cache's key) in the zone, and for
 * media_pg_replica_max_lag plus one measuring period after it that user's
 * reads go to the primary: a replica within the bound has replayed the
 * write by then.  The stamp is this node's: with several nginx nodes, a
 * load balancer that keeps a user on one node (hash on the session
 * cookie or the Authorization header) keeps the promise; without it, a
 * user's read on another node may miss the write for up to the bound.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_shm.h"
#include "ngx_http_media_replica.h"


/* the replica's state: a key no SHA-256 of a user gives in practice */
static u_char  ngx_http_media_replica_key[NGX_HTTP_MEDIA_SHM_KEY];


ngx_uint_t
ngx_http_media_replica_usable(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf)
{
    ngx_msec_t             lag, stamp, v;
    ngx_http_media_ctx_t  *ctx;

    if (mmcf->pg_replica_zone == NULL
        || !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        return 0;
    }

    if (ngx_http_media_shm_get(mmcf->pg_replica_zone,
                               ngx_http_media_replica_key, &lag, &stamp)
        != NGX_OK
        || lag > mmcf->pg_replica_max_lag
        || ngx_current_msec - stamp > 3 * NGX_HTTP_MEDIA_REPLICA_EVERY)
    {
        return 0;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    if (ctx && ctx->user
        && ngx_http_media_shm_get(mmcf->pg_replica_zone, ctx->user->cache_key,
                                  &v, &stamp)
           == NGX_OK
        && ngx_current_msec - stamp
           < mmcf->pg_replica_max_lag + NGX_HTTP_MEDIA_REPLICA_EVERY)
    {
        return 0;
    }

    return 1;
}


void
ngx_http_media_replica_wrote(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf)
{
    ngx_msec_t             now;
    ngx_http_media_ctx_t  *ctx;

    if (mmcf->pg_replica_zone == NULL
        || (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    if (ctx == NULL || ctx->user == NULL) {
        return;
    }

    /* no room: the oldest stamps went; a read may then see the past */
    now = ngx_current_msec;
    (void) ngx_http_media_shm_put(mmcf->pg_replica_zone,
                                  ctx->user->cache_key, &now);
}


ngx_msec_t
ngx_http_media_replica_set(ngx_http_media_main_conf_t *mmcf, ngx_msec_t lag)
{
    ngx_msec_t  was, stamp;

    if (mmcf->pg_replica_zone == NULL) {
        return NGX_HTTP_MEDIA_REPLICA_DOWN;
    }

    if (ngx_http_media_shm_get(mmcf->pg_replica_zone,
                               ngx_http_media_replica_key, &was, &stamp)
        != NGX_OK)
    {
        was = 0;                        /* none yet: not down */
    }

    (void) ngx_http_media_shm_put(mmcf->pg_replica_zone,
                                  ngx_http_media_replica_key, &lag);

    return was;
}
