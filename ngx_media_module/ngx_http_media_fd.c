/*
 * Sockets owned by libpq or hiredis, watched by nginx's event loop: the
 * bottom of the kit, under the PostgreSQL pool and the Redis client.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include "ngx_http_media_fd.h"


ngx_connection_t *
ngx_http_media_wrap_fd(ngx_socket_t fd, ngx_log_t *log, void *data,
    ngx_event_handler_pt read, ngx_event_handler_pt write)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(fd, log);
    if (c == NULL) {
        return NULL;
    }

    c->data = data;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = read;
    c->write->handler = write;

    return c;
}


/*
 * The library owns the socket and closes it itself (PQfinish,
 * redisAsyncFree): stop watching it and give the connection back to nginx
 * without closing the descriptor a second time.
 */
void
ngx_http_media_unwrap_fd(ngx_connection_t *c, ngx_uint_t closed)
{
    ngx_uint_t  flags;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* NGX_CLOSE_EVENT: only mark the events inactive, no epoll_ctl() */
    flags = closed ? NGX_CLOSE_EVENT : 0;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, flags);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}


/* level-triggered interest in one direction, idempotent */
ngx_int_t
ngx_http_media_watch(ngx_event_t *ev, ngx_uint_t on)
{
    ngx_int_t  event;

    event = ev->write ? NGX_WRITE_EVENT : NGX_READ_EVENT;

    if (on && !ev->active) {
        return ngx_add_event(ev, event, NGX_LEVEL_EVENT);
    }

    if (!on && ev->active) {
        return ngx_del_event(ev, event, 0);
    }

    return NGX_OK;
}
