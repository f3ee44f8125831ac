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

#include "ngx_http_media_pg.h"


ngx_int_t ngx_http_media_billing_checkout(ngx_http_request_t *r);
ngx_int_t ngx_http_media_billing_portal(ngx_http_request_t *r);

/*
 * A billing job just written (res: its row, the job's columns "id, type,
 * status, progress, attempts, error, result" from column col): queued, then
 * waited for; the request is finalized with the URL (200), the job (202)
 * or its failure (502).  NGX_OK, or the rc to finalize with now.
 */
ngx_int_t ngx_http_media_billing_enqueue(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, ngx_uint_t col);


#endif /* _NGX_HTTP_MEDIA_BILLING_H_INCLUDED_ */
