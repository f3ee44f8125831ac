/*
 * The admin routes: accounts, their roles and plans.
 */

#ifndef _NGX_HTTP_MEDIA_ADMIN_H_INCLUDED_
#define _NGX_HTTP_MEDIA_ADMIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_admin_users(ngx_http_request_t *r);
ngx_int_t ngx_http_media_admin_user_patch(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_ADMIN_H_INCLUDED_ */
