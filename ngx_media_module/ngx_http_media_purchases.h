/*
 * The marketplace, from the buyer's side: buy a priced media (a Stripe
 * Checkout Session made by the billing worker), list what one owns.
 */

#ifndef _NGX_HTTP_MEDIA_PURCHASES_H_INCLUDED_
#define _NGX_HTTP_MEDIA_PURCHASES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_purchase(ngx_http_request_t *r);
ngx_int_t ngx_http_media_purchases(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_PURCHASES_H_INCLUDED_ */
