/*
 * The blocked set: ids of taken-down media and banned users, in shared
 * memory for every worker of a node, so the segment path refuses them
 * with no I/O.  PostgreSQL is the truth (media_blocked_ids(),
 * media_banned_ids()); Redis pub/sub on "media:blocked" carries each
 * change ("+m <id>", "-m <id>", "+u <id>", "-u <id>") to every node.
 * Messages beginning with "~" are the public cache's
 * (ngx_http_media_cache.c: what a node forgot after a write), handed to
 * it as they come.
 */

#ifndef _NGX_HTTP_MEDIA_BLOCKED_H_INCLUDED_
#define _NGX_HTTP_MEDIA_BLOCKED_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


#define NGX_HTTP_MEDIA_BLOCKED_CHANNEL  "media:blocked"
#define NGX_HTTP_MEDIA_BLOCKED_OTHER    '~'

/* 451 Unavailable For Legal Reasons (RFC 7725): nginx has no name */
#define NGX_HTTP_MEDIA_BLOCKED_STATUS   451

#define NGX_HTTP_MEDIA_BLOCKED_MEDIA    1
#define NGX_HTTP_MEDIA_BLOCKED_USER     2

/* media_blocked_zone: the default holds 131072 ids */
#define NGX_HTTP_MEDIA_BLOCKED_ZONE     (16 * 1024 * 1024)


/* media_blocked_zone size; */
char *ngx_http_media_blocked_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_http_media_blocked_postconfiguration(ngx_conf_t *cf);

/* the subscriber: in worker 0 only (a respawned worker 0 takes over) */
ngx_int_t ngx_http_media_blocked_init_process(ngx_cycle_t *cycle,
    ngx_http_media_main_conf_t *mmcf);
void ngx_http_media_blocked_done(void);

/*
 * A number that changes whenever the set does, on any node (a takedown, a
 * ban, their undoing): what was cached before it changed may show what is
 * now blocked (the search cache keys on it).
 */
ngx_atomic_uint_t ngx_http_media_blocked_version(
    ngx_http_media_main_conf_t *mmcf);

/*
 * Who hears the messages beginning with "~" on this node (set at
 * configuration by the public cache, which sits above this file):
 * NGX_DECLINED when it does not know the message.
 */
typedef ngx_int_t (*ngx_http_media_blocked_other_pt)(
    ngx_http_media_main_conf_t *mmcf, u_char *text, size_t len);

void ngx_http_media_blocked_on_other(ngx_http_media_blocked_other_pt handler);

/*
 * Is id (16 bytes) in the set as kind?  No I/O, no allocation, no lock
 * unless a writer keeps changing the set under it.
 */
ngx_uint_t ngx_http_media_blocked(ngx_http_media_main_conf_t *mmcf,
    ngx_uint_t kind, const u_char *id);

/* the same for an id as text (36 characters); 0 for anything else */
ngx_uint_t ngx_http_media_blocked_text(ngx_http_media_main_conf_t *mmcf,
    ngx_uint_t kind, ngx_str_t *id);

/* 451 media_blocked: "this media was removed: <reason>" */
ngx_int_t ngx_http_media_blocked_refuse(ngx_http_request_t *r,
    ngx_str_t *reason);


#endif /* _NGX_HTTP_MEDIA_BLOCKED_H_INCLUDED_ */
