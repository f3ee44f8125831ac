/*
 * /metrics: the node's counters in Prometheus' text format, summed over
 * nginx's worker processes through a shared memory zone.
 */

#ifndef _NGX_HTTP_MEDIA_METRICS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* media_metrics: the location's content handler */
char *ngx_http_media_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* postconfiguration: the zone, the log-phase counter, $media_route */
ngx_int_t ngx_http_media_metrics_init(ngx_conf_t *cf);

/* per worker process: its pools' state into the zone, every second */
ngx_int_t ngx_http_media_metrics_init_process(ngx_cycle_t *cycle);
void ngx_http_media_metrics_exit_process(void);


#endif /* _NGX_HTTP_MEDIA_METRICS_H_INCLUDED_ */
