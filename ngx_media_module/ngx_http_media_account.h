/*
 * The account routes: signup, login, refresh, logout, me, and deleting
 * one's account (DELETE /api/v1/me).
 */

#ifndef _NGX_HTTP_MEDIA_ACCOUNT_H_INCLUDED_
#define _NGX_HTTP_MEDIA_ACCOUNT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


ngx_int_t ngx_http_media_signup(ngx_http_request_t *r);
ngx_int_t ngx_http_media_login(ngx_http_request_t *r);
ngx_int_t ngx_http_media_refresh(ngx_http_request_t *r);
ngx_int_t ngx_http_media_logout(ngx_http_request_t *r);
ngx_int_t ngx_http_media_me(ngx_http_request_t *r);
ngx_int_t ngx_http_media_me_delete(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_ACCOUNT_H_INCLUDED_ */
