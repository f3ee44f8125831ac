/*
 * Plays, counted in batches: each playback token's play is kept by the
 * nginx worker that issued it and sent to PostgreSQL with the others of
 * the last second, in one statement (sql/040, media_plays_add()), so that
 * issuing a token only reads.
 */

#ifndef _NGX_HTTP_MEDIA_PLAYS_H_INCLUDED_
#define _NGX_HTTP_MEDIA_PLAYS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* plays sent together at most this long after the first of them (ms) */
#define NGX_HTTP_MEDIA_PLAYS_FLUSH     1000

/* or as soon as this many are waiting (sql/043: a batch updates each of
 * its media rows once, so fewer batches are fewer updates) */
#define NGX_HTTP_MEDIA_PLAYS_BATCH     8192

/* held by a worker at most (its PostgreSQL down): past it, plays are
 * dropped and the drop logged (about 4 MB, allocated with the first) */
#define NGX_HTTP_MEDIA_PLAYS_MAX       32768


ngx_int_t ngx_http_media_plays_init_process(ngx_cycle_t *cycle);
void ngx_http_media_plays_exit_process(void);

/*
 * The play of the token just issued to r's viewer for media (its id, 36
 * characters): its user when signed in, else its address.  Never fails
 * the request: a play that cannot be kept is logged.
 */
void ngx_http_media_plays_add(ngx_http_request_t *r, ngx_str_t *media);


#endif /* _NGX_HTTP_MEDIA_PLAYS_H_INCLUDED_ */
