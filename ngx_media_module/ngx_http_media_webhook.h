/*
 * POST /api/v1/webhooks/stripe: Stripe's events, verified, stored once
 * and queued for the billing worker; and the directives that configure it.
 */

#ifndef _NGX_HTTP_MEDIA_WEBHOOK_H_INCLUDED_
#define _NGX_HTTP_MEDIA_WEBHOOK_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the route: it reads its own body (raw, for the signature) */
ngx_int_t ngx_http_media_webhook_stripe(ngx_http_request_t *r);

char *ngx_http_media_stripe_secret(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_media_stripe_tolerance(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_MEDIA_WEBHOOK_H_INCLUDED_ */
