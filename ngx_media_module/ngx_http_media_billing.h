/*
 * Billing: start a Stripe checkout or open the customer portal.  Stripe is
 * reached only by the billing worker; these routes write its job and wait
 * a little (media_billing_wait) for the URL it gets back.
 */

#ifndef _NGX_HTTP_MEDIA_BILLING_H_INCLUDED_
#define _NGX_HTTP_MEDIA_BILLING_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_billing_checkout(ngx_http_request_t *r);
ngx_int_t ngx_http_media_billing_portal(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_BILLING_H_INCLUDED_ */
