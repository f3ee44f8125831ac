/*
 * media_jwt_jwks_url: an identity provider's keys fetched from its
 * jwks_uri through a subrequest, cached per worker, refreshed on an
 * unknown kid.
 */

#ifndef _NGX_HTTP_MEDIA_JWKS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_JWKS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


char *ngx_http_media_jwt_jwks_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * After a verification that found no key (rc): NGX_AGAIN when a fetch of
 * the provider's keys was started or is under way and the request waits
 * for it (ctx->auth_pending); the access handler then runs again.
 */
ngx_int_t ngx_http_media_jwks_refresh(ngx_http_request_t *r,
    ngx_http_media_ctx_t *ctx, media_jwt_rc_e rc);


#endif /* _NGX_HTTP_MEDIA_JWKS_H_INCLUDED_ */
