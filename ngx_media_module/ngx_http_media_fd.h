/*
 * Sockets owned by libpq or hiredis, watched by nginx's event loop.
 */

#ifndef _NGX_HTTP_MEDIA_FD_H_INCLUDED_
#define _NGX_HTTP_MEDIA_FD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>


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


#endif /* _NGX_HTTP_MEDIA_FD_H_INCLUDED_ */
