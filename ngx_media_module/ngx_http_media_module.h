/*
 * ngx_http_media_module: types and helpers shared by the glue files.
 */

#ifndef _NGX_HTTP_MEDIA_MODULE_H_INCLUDED_
#define _NGX_HTTP_MEDIA_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "media_shared.h"
#include "media_conf.h"


typedef struct {
    ngx_str_t      pg_conninfo;      /* as written, for messages */
    const char   **pg_keywords;      /* NULL-terminated, for PQconnectStartParams */
    const char   **pg_values;
    ngx_uint_t     pg_pool;
    ngx_msec_t     pg_timeout;

    ngx_flag_t     redis_set;
    media_addr_t   redis_addr;       /* host is a numeric address by now */
    ngx_msec_t     redis_timeout;

    ngx_str_t      storage;

    ngx_int_t      request_id_index;
} ngx_http_media_main_conf_t;


/* per-request state (ngx_http_set_ctx); location config is never written */
typedef struct {
    ngx_str_t      request_id;
} ngx_http_media_ctx_t;


extern ngx_module_t  ngx_http_media_module;


/*
 * A socket owned by libpq or hiredis, wrapped in an nginx connection so
 * that nginx's event loop watches it.  Interest is level-triggered: neither
 * library promises to read until EAGAIN, which epoll's edge-triggered mode
 * (nginx's default) would need.
 */
ngx_connection_t *ngx_http_media_wrap_fd(ngx_socket_t fd, ngx_log_t *log,
    void *data, ngx_event_handler_pt read, ngx_event_handler_pt write);

/*
 * closed: the library has closed the descriptor already (libpq does so
 * when it finds the connection lost); the kernel has then dropped it from
 * epoll, and asking epoll to remove it would fail with EBADF.
 */
void ngx_http_media_unwrap_fd(ngx_connection_t *c, ngx_uint_t closed);
ngx_int_t ngx_http_media_watch(ngx_event_t *ev, ngx_uint_t on);

/* the API location's content handler (ngx_http_media_api.c) */
ngx_int_t ngx_http_media_api_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_MEDIA_MODULE_H_INCLUDED_ */
