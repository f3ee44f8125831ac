/*
 * The audit trail's read side: GET /api/v1/admin/audit.
 */

#ifndef _NGX_HTTP_MEDIA_AUDIT_H_INCLUDED_
#define _NGX_HTTP_MEDIA_AUDIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_audit_list(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_AUDIT_H_INCLUDED_ */
