/*
 * Plays, counted in batches (sql/040).
 *
 * A play is counted when a playback token is issued, once per viewer per
 * media per 30 minutes.  The token's own statement only reads; its play
 * waits here, in this worker's memory, and is sent with every other play
 * of the last second in one call of media_plays_add(), which applies the
 * 30-minute rule and adds to plays_count once per media.  What a viewer
 * sees of the counts (stats, trending, the catalogue's "popular") is at
 * most a second behind.
 *
 * The flush timer is not cancelable: a worker that is told to quit (a
 * reload) sends what it holds before it goes.  A worker that crashes, or
 * PostgreSQL down for longer than three attempts, loses its plays, and the
 * log says how many; plays are statistics, not money.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_media_types.h"
#include "ngx_http_media_pg.h"
#include "ngx_http_media_plays.h"
#include "ngx_http_media_tenant.h"
#include "media_token.h"


/* an address longer than this (a unix socket's path) is cut */
#define NGX_HTTP_MEDIA_PLAYS_VIEWER  64

/* sent this many times at most, then dropped */
#define NGX_HTTP_MEDIA_PLAYS_TRIES   3


typedef struct {
    ngx_str_t                 *tenant;    /* its name, for the row */
    ngx_msec_t                 at;        /* ms since the epoch */
    u_char                     media[16];
    u_char                     user[16];
    u_char                     viewer[NGX_HTTP_MEDIA_PLAYS_VIEWER];
    u_short                    viewer_len;
    u_char                     has_user;
    u_char                     tries;
} ngx_http_media_play_t;


/* one batch on its way: its request (pool) and the plays, for a retry */
typedef struct {
    ngx_http_request_t        *request;
    ngx_event_t                free;
    ngx_http_media_play_t     *plays;
    ngx_uint_t                 n;
} ngx_http_media_plays_batch_t;


static void ngx_http_media_plays_timer(ngx_event_t *ev);
static void ngx_http_media_plays_flush(void);
static void ngx_http_media_plays_sent(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data);
static void ngx_http_media_plays_again(ngx_http_media_play_t *plays,
    ngx_uint_t n);
static void ngx_http_media_plays_free(ngx_event_t *ev);
static u_char *ngx_http_media_plays_quoted(u_char *p, u_char *s, size_t len);


static ngx_http_media_pg_stmt_t  ngx_http_media_sql_plays_add =
    ngx_http_media_pg_stmt("plays_add", 5,
        "SELECT media_plays_add($1::text[], $2::uuid[], $3::text[],"
        " $4::uuid[], $5::bigint[])");


/* this worker's plays not yet sent (allocated with the first) */
static ngx_http_media_play_t  *ngx_http_media_plays;
static ngx_uint_t              ngx_http_media_plays_n;
static ngx_uint_t              ngx_http_media_plays_dropped;
static ngx_event_t             ngx_http_media_plays_ev;
static ngx_log_t              *ngx_http_media_plays_log;


ngx_int_t
ngx_http_media_plays_init_process(ngx_cycle_t *cycle)
{
    ngx_http_media_plays_log = cycle->log;

    ngx_http_media_plays_ev.handler = ngx_http_media_plays_timer;
    ngx_http_media_plays_ev.log = cycle->log;

    /* not cancelable: a worker quitting gracefully waits for it */
    ngx_http_media_plays_ev.cancelable = 0;

    return NGX_OK;
}


void
ngx_http_media_plays_exit_process(void)
{
    if (ngx_http_media_plays_n) {
        ngx_log_error(NGX_LOG_WARN, ngx_http_media_plays_log, 0,
                      "media plays: %ui plays not counted: the worker "
                      "exits before sending them", ngx_http_media_plays_n);
    }

    if (ngx_http_media_plays_ev.timer_set) {
        ngx_del_timer(&ngx_http_media_plays_ev);
    }

    ngx_free(ngx_http_media_plays);
    ngx_http_media_plays = NULL;
    ngx_http_media_plays_n = 0;
}


void
ngx_http_media_plays_add(ngx_http_request_t *r, ngx_str_t *media)
{
    ngx_time_t              *tp;
    ngx_str_t               *addr;
    ngx_http_media_ctx_t    *ctx;
    ngx_http_media_play_t   *p;

    if (ngx_http_media_plays == NULL) {
        ngx_http_media_plays = ngx_alloc(NGX_HTTP_MEDIA_PLAYS_MAX
                                         * sizeof(ngx_http_media_play_t),
                                         ngx_cycle->log);
        if (ngx_http_media_plays == NULL) {
            return;
        }
    }

    if (ngx_http_media_plays_n == NGX_HTTP_MEDIA_PLAYS_MAX) {
        /* once per run of drops, not once per play */
        if (ngx_http_media_plays_dropped++ == 0) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "media plays: %d plays wait to be sent; new plays "
                          "are not counted until PostgreSQL takes them",
                          NGX_HTTP_MEDIA_PLAYS_MAX);
        }

        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);

    p = &ngx_http_media_plays[ngx_http_media_plays_n];

    if (media_uuid_parse((char *) media->data, media->len, p->media) != 0) {
        return;
    }

    p->has_user = 0;

    if (ctx->user) {
        if (media_uuid_parse((char *) ctx->user->id.data, ctx->user->id.len,
                             p->user)
            != 0)
        {
            return;
        }

        p->has_user = 1;
        p->viewer_len = ngx_sprintf(p->viewer, "u:%*s",
                                    (size_t) ngx_min(ctx->user->id.len, 36),
                                    ctx->user->id.data)
                        - p->viewer;

    } else {
        addr = &r->connection->addr_text;
        p->viewer_len = ngx_sprintf(p->viewer, "a:%*s",
                                    (size_t) ngx_min(addr->len,
                                               NGX_HTTP_MEDIA_PLAYS_VIEWER - 2),
                                    addr->data)
                        - p->viewer;
    }

    tp = ngx_timeofday();
    p->at = (ngx_msec_t) tp->sec * 1000 + tp->msec;
    p->tenant = &ngx_http_media_tenant(r)->name;
    p->tries = 0;

    ngx_http_media_plays_n++;
    ngx_http_media_plays_dropped = 0;

    if (ngx_http_media_plays_n >= NGX_HTTP_MEDIA_PLAYS_BATCH) {
        ngx_http_media_plays_flush();
        return;
    }

    if (!ngx_http_media_plays_ev.timer_set) {
        ngx_add_timer(&ngx_http_media_plays_ev, NGX_HTTP_MEDIA_PLAYS_FLUSH);
    }
}


static void
ngx_http_media_plays_timer(ngx_event_t *ev)
{
    ngx_http_media_plays_flush();
}


/* every play held, in one statement, through every tenant's pool */
static void
ngx_http_media_plays_flush(void)
{
    size_t                         size[5];
    u_char                        *p[5];
    ngx_str_t                      params[5];
    ngx_uint_t                     i, j, n;
    ngx_http_request_t            *r;
    ngx_http_media_play_t         *play;
    ngx_http_media_plays_batch_t  *b;
    char                           id[37];

    if (ngx_http_media_plays_ev.timer_set) {
        ngx_del_timer(&ngx_http_media_plays_ev);
    }

    n = ngx_http_media_plays_n;
    if (n == 0) {
        return;
    }

    r = ngx_http_media_pg_request(ngx_http_media_plays_log);
    if (r == NULL) {
        goto again;
    }

    b = ngx_pcalloc(r->pool, sizeof(ngx_http_media_plays_batch_t));
    if (b == NULL) {
        goto failed;
    }

    b->request = r;
    b->n = n;
    b->plays = ngx_palloc(r->pool, n * sizeof(ngx_http_media_play_t));
    if (b->plays == NULL) {
        goto failed;
    }

    ngx_memcpy(b->plays, ngx_http_media_plays,
               n * sizeof(ngx_http_media_play_t));

    /* the arrays' text: {"t",...} {uuid,...} {"v",...} {uuid|NULL,...}
     * {ms,...}; a viewer quoted, each byte escaped at worst */
    size[0] = size[1] = size[2] = size[3] = size[4] = 3;

    for (i = 0; i < n; i++) {
        size[0] += b->plays[i].tenant->len * 2 + 3;
        size[1] += 37;
        size[2] += b->plays[i].viewer_len * 2 + 3;
        size[3] += 37;
        size[4] += NGX_INT64_LEN + 1;
    }

    for (j = 0; j < 5; j++) {
        p[j] = ngx_pnalloc(r->pool, size[j]);
        if (p[j] == NULL) {
            goto failed;
        }

        params[j].data = p[j];
        *p[j]++ = '{';
    }

    for (i = 0; i < n; i++) {
        play = &b->plays[i];

        if (i) {
            for (j = 0; j < 5; j++) {
                *p[j]++ = ',';
            }
        }

        p[0] = ngx_http_media_plays_quoted(p[0], play->tenant->data,
                                           play->tenant->len);

        media_uuid_format(play->media, id);
        p[1] = ngx_cpymem(p[1], id, 36);

        p[2] = ngx_http_media_plays_quoted(p[2], play->viewer,
                                           play->viewer_len);

        if (play->has_user) {
            media_uuid_format(play->user, id);
            p[3] = ngx_cpymem(p[3], id, 36);

        } else {
            p[3] = ngx_cpymem(p[3], "NULL", 4);
        }

        p[4] = ngx_sprintf(p[4], "%M", play->at);
    }

    for (j = 0; j < 5; j++) {
        *p[j]++ = '}';
        params[j].len = p[j] - params[j].data;
    }

    b->free.handler = ngx_http_media_plays_free;
    b->free.data = b;
    b->free.log = ngx_http_media_plays_log;

    if (ngx_http_media_pg_query(r, &ngx_http_media_sql_plays_add, params,
                                ngx_http_media_plays_sent, b)
        != NGX_OK)
    {
        goto failed;
    }

    ngx_http_media_plays_n = 0;

    return;

failed:

    ngx_destroy_pool(r->pool);

again:

    ngx_log_error(NGX_LOG_ERR, ngx_http_media_plays_log, 0,
                  "media plays: %ui plays could not be sent (out of "
                  "memory); trying again in %d ms", n,
                  NGX_HTTP_MEDIA_PLAYS_FLUSH);

    ngx_add_timer(&ngx_http_media_plays_ev, NGX_HTTP_MEDIA_PLAYS_FLUSH);
}


static void
ngx_http_media_plays_sent(ngx_http_request_t *r,
    ngx_http_media_pg_result_t *res, void *data)
{
    ngx_http_media_plays_batch_t  *b = data;

    if (res->status != NGX_HTTP_MEDIA_PG_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_media_plays_log, 0,
                      "media plays: %ui plays not sent: %V", b->n,
                      &res->error);

        ngx_http_media_plays_again(b->plays, b->n);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_media_plays_log, 0,
                       "media plays: %ui sent, %V counted", b->n,
                       res->nrows ? ngx_http_media_pg_value(res, 0, 0)
                                  : &res->error);
    }

    /* the result lives in the pool, and the pool's caller still reads it:
     * freed from the event loop */
    ngx_post_event(&b->free, &ngx_posted_events);
}


/* a batch PostgreSQL did not take, held again for a later try */
static void
ngx_http_media_plays_again(ngx_http_media_play_t *plays, ngx_uint_t n)
{
    ngx_uint_t  i, dropped;

    dropped = 0;

    if (ngx_http_media_plays == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (++plays[i].tries >= NGX_HTTP_MEDIA_PLAYS_TRIES
            || ngx_http_media_plays_n == NGX_HTTP_MEDIA_PLAYS_MAX)
        {
            dropped++;
            continue;
        }

        ngx_http_media_plays[ngx_http_media_plays_n++] = plays[i];
    }

    if (dropped) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_media_plays_log, 0,
                      "media plays: %ui plays dropped after %d tries",
                      dropped, NGX_HTTP_MEDIA_PLAYS_TRIES);
    }

    if (ngx_http_media_plays_n && !ngx_http_media_plays_ev.timer_set) {
        ngx_add_timer(&ngx_http_media_plays_ev, NGX_HTTP_MEDIA_PLAYS_FLUSH);
    }
}


static void
ngx_http_media_plays_free(ngx_event_t *ev)
{
    ngx_http_media_plays_batch_t  *b = ev->data;

    /* b and ev live in the pool: nothing is touched after this */
    ngx_destroy_pool(b->request->pool);
}


/* s as an element of an array's text: "...", with " and \ escaped */
static u_char *
ngx_http_media_plays_quoted(u_char *p, u_char *s, size_t len)
{
    size_t  i;

    *p++ = '"';

    for (i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            *p++ = '\\';
        }

        *p++ = s[i];
    }

    *p++ = '"';

    return p;
}
