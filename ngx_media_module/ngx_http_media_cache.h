/*
 * What everyone may see, kept for a few seconds (media_public_cache): the
 * result of a statement that answers the same for every caller of a
 * tenant (a page of search, the catalogue, a share page's media, an
 * anonymous viewer's playback row), in shared memory for every worker of
 * the node, so that a thing many ask for costs PostgreSQL once per few
 * seconds.  It holds only what PostgreSQL can answer again.
 *
 * A key holds the tenant, the kind of answer, its arguments, and two
 * numbers that change when something leaves what everyone may see: this
 * node's generation (ngx_http_media_cache_forget, after a write through
 * the API that makes a media private, deletes it, ..., on this node, or
 * on another, which publishes "~ <node>" on the blocked set's channel)
 * and the blocked set's version (a takedown or a ban, on any node).  An
 * answer kept under an older key is never found again.
 */

#ifndef _NGX_HTTP_MEDIA_CACHE_H_INCLUDED_
#define _NGX_HTTP_MEDIA_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_pg.h"


#define NGX_HTTP_MEDIA_CACHE_KEY    32

/* an answer larger than this is not kept */
#define NGX_HTTP_MEDIA_CACHE_VALUE  16384

/* media_public_cache 30s 16m; */
#define NGX_HTTP_MEDIA_CACHE_TTL    30000
#define NGX_HTTP_MEDIA_CACHE_SIZE   (16 * 1024 * 1024)


/* media_public_cache off | time [size]; */
char *ngx_http_media_cache_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_media_cache_init(ngx_conf_t *cf);

/*
 * The key of an answer of kind to r's tenant, for args (n of them; a
 * NULL one is told from an empty one).  NGX_DECLINED when the cache is
 * off.
 */
ngx_int_t ngx_http_media_cache_key(ngx_http_request_t *r, const char *kind,
    ngx_str_t *args, ngx_uint_t n, u_char *key);

/*
 * The key of an answer of kind made for one signed-in user (their own
 * media in search): as ngx_http_media_cache_key, with the user and their
 * own version, which each write the user makes through the API renews (a
 * log-phase handler: on this node at once, on the others through "~o
 * <id>" on the blocked set's channel), so what they change shows at once.
 * What others change in their rows (a transcode finishing) shows once the
 * answer is past its time: callers never serve an own answer stale.
 */
ngx_int_t ngx_http_media_cache_own_key(ngx_http_request_t *r,
    ngx_str_t *user, const char *kind, ngx_str_t *args, ngx_uint_t n,
    u_char *key);

/*
 * The answer kept under key, as a result in r's pool: NGX_OK, *stale set
 * when it is past its time (still served for as long again: the caller
 * may read it anew, ngx_http_media_cache_refresh); NGX_DECLINED.  Each
 * answer's time is between half of media_public_cache and all of it, by
 * its key, so that answers kept together do not all go at once.
 */
ngx_int_t ngx_http_media_cache_get(ngx_http_request_t *r, u_char *key,
    ngx_http_media_pg_result_t *res, ngx_uint_t *stale);

/* res's rows kept under key, when they fit */
void ngx_http_media_cache_put(ngx_http_request_t *r, u_char *key,
    ngx_http_media_pg_result_t *res);

/*
 * A stale answer, read anew for the next callers: the answer is stamped
 * again (the other workers serve it meanwhile instead of each reading it
 * too) and stmt runs detached from r (ngx_http_media_pg_detached: the
 * caller fills the bytes returned, handler gets them and calls
 * ngx_http_media_pg_detached_done() with them once through).  NULL when
 * another worker got there first or memory is short.
 */
void *ngx_http_media_cache_refresh(ngx_http_request_t *r, u_char *key,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    ngx_http_media_pg_handler_pt handler, size_t size);

/*
 * What is kept is forgotten: called once a write that takes something out
 * of what everyone may see (privacy, deletion, a handle, a playlist) has
 * committed.  This node at once; the others through Redis ("~ <node>" on
 * the blocked set's channel), as takedowns and bans.
 */
void ngx_http_media_cache_forget(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_CACHE_H_INCLUDED_ */
