/*
 * Secrets read from files at configuration time.
 */

#ifndef _NGX_HTTP_MEDIA_KEYFILE_H_INCLUDED_
#define _NGX_HTTP_MEDIA_KEYFILE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


/* a secret from a file, a trailing newline dropped; 16 to 64 bytes or
 * an error naming the directive and the file */
ngx_int_t ngx_http_media_read_key(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *secret);

/* a whole configuration file (a key, a JWKS) into cf->pool */
ngx_int_t ngx_http_media_read_conf_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out);


/*
 * The arguments of a token key directive (media_url_key,
 * media_download_key: current [previous]) into keys[0..1], HMAC contexts
 * keyed once and freed with the configuration; *nkeys says how many.
 */
char *ngx_http_media_token_keys(ngx_conf_t *cf, media_token_key_t *keys,
    ngx_uint_t *nkeys);


/*
 * An empty key set whose keys (as many as are set, even after the
 * configuration, by media_jwt_jwks_url) are freed with the configuration.
 */
ngx_http_media_keyset_t *ngx_http_media_keyset(ngx_conf_t *cf);


#endif /* _NGX_HTTP_MEDIA_KEYFILE_H_INCLUDED_ */
