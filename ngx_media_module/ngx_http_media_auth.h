/*
 * Access tokens, cookies and the access phase, for the account routes.
 */

#ifndef _NGX_HTTP_MEDIA_AUTH_H_INCLUDED_
#define _NGX_HTTP_MEDIA_AUTH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


/* configuration: the key directives, variables, the access phase */
char *ngx_http_media_auth_init_conf(ngx_conf_t *cf,
    ngx_http_media_main_conf_t *mmcf);
ngx_int_t ngx_http_media_auth_postconfiguration(ngx_conf_t *cf);
ngx_int_t ngx_http_media_auth_variables(ngx_conf_t *cf);
char *ngx_http_media_jwt_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_media_jwt_jwks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_media_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* a signed access token for user (id, sid); NULL on allocation failure */
ngx_str_t *ngx_http_media_issue_access(ngx_http_request_t *r,
    ngx_http_media_user_t *user);

/* size random bytes as base64url, from OpenSSL's CSPRNG */
ngx_int_t ngx_http_media_random(ngx_http_request_t *r, size_t size,
    ngx_str_t *out);

/* lowercase hex SHA-256, as refresh tokens are stored */
ngx_int_t ngx_http_media_sha256_hex(ngx_http_request_t *r, ngx_str_t *in,
    ngx_str_t *out);

/* Set-Cookie for both tokens; NULL tokens clear the cookies */
ngx_int_t ngx_http_media_set_cookies(ngx_http_request_t *r,
    ngx_str_t *access, ngx_str_t *refresh);

/*
 * A session or token was revoked (its revocations row written): this node
 * refuses it from now on; other nodes within a second.
 */
void ngx_http_media_revoked(ngx_http_request_t *r, u_char *cache_key);

/*
 * What a session's user may do changed (a suspension, a ban): this node
 * reads the users row again on its next request; other nodes within a
 * second.  revoke_key is the session's "s:<sid>".
 */
void ngx_http_media_user_forget(ngx_http_request_t *r, ngx_str_t *revoke_key);

/* the user-cache key of a session's revocation key ("s:<sid>") */
void ngx_http_media_session_key(ngx_str_t *revoke_key, u_char *cache_key);

/* the refresh token from the cookie, or NULL */
ngx_str_t *ngx_http_media_refresh_cookie(ngx_http_request_t *r);

/*
 * A state-changing request authenticated by cookie must come from our own
 * pages: its Origin (or Referer) names the Host it was sent to.
 */
ngx_int_t ngx_http_media_same_origin(ngx_http_request_t *r);

/* 401 with WWW-Authenticate (RFC 6750 section 3) and a JSON error */
ngx_int_t ngx_http_media_unauthorized(ngx_http_request_t *r,
    const char *code, const char *message);


#endif /* _NGX_HTTP_MEDIA_AUTH_H_INCLUDED_ */
