/*
 * Whether a read may go to media_pg_replica: the replica's state as
 * worker 0 last measured it, and who wrote lately, both in shared memory
 * (one zone, media_pg_replica), so no request measures anything.
 */

#ifndef _NGX_HTTP_MEDIA_REPLICA_H_INCLUDED_
#define _NGX_HTTP_MEDIA_REPLICA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"


/* how often worker 0 measures the replica's lag */
#define NGX_HTTP_MEDIA_REPLICA_EVERY  1000

/* the lag of a replica that did not answer */
#define NGX_HTTP_MEDIA_REPLICA_DOWN   ((ngx_msec_t) -1)


/* 1: r's read may be served by the replica */
ngx_uint_t ngx_http_media_replica_usable(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf);

/* r (not a GET or HEAD) writes: its user reads from the primary a while */
void ngx_http_media_replica_wrote(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf);

/* the lag measured, or NGX_HTTP_MEDIA_REPLICA_DOWN; returns the last */
ngx_msec_t ngx_http_media_replica_set(ngx_http_media_main_conf_t *mmcf,
    ngx_msec_t lag);


#endif /* _NGX_HTTP_MEDIA_REPLICA_H_INCLUDED_ */
