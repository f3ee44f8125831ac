/*
 * Roles: what a users row's role lets its person do beyond their own
 * rows, and the media_upload_roles directive.
 */

#ifndef _NGX_HTTP_MEDIA_ROLES_H_INCLUDED_
#define _NGX_HTTP_MEDIA_ROLES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* one bit per role, as sql/021_audit.sql's users_role_check lists them */
#define NGX_HTTP_MEDIA_ROLE_USER       0x01
#define NGX_HTTP_MEDIA_ROLE_CREATOR    0x02
#define NGX_HTTP_MEDIA_ROLE_MODERATOR  0x04
#define NGX_HTTP_MEDIA_ROLE_ADMIN      0x08


/* the role's bit, 0 for a name that is no role */
ngx_uint_t ngx_http_media_role_bit(ngx_str_t *role);

/* media_upload_roles role ...; */
char *ngx_http_media_upload_roles(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* NGX_OK when the signed-in user may upload here, else the 403's rc */
ngx_int_t ngx_http_media_upload_allowed(ngx_http_request_t *r,
    ngx_int_t *rc);

/* the query argument raw, %-decoded into *out: NGX_OK when it is 1 to max
 * characters of UTF-8 without control characters */
ngx_int_t ngx_http_media_arg_text(ngx_http_request_t *r, ngx_str_t *raw,
    size_t max, ngx_str_t *out);


#endif /* _NGX_HTTP_MEDIA_ROLES_H_INCLUDED_ */
