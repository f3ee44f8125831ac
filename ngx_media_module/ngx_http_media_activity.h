/*
 * A user's history: uploads, exports, downloads and purchases, newest
 * first, in cursor pages.
 */

#ifndef _NGX_HTTP_MEDIA_ACTIVITY_H_INCLUDED_
#define _NGX_HTTP_MEDIA_ACTIVITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_activity(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_ACTIVITY_H_INCLUDED_ */
