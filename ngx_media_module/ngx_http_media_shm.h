/*
 * A cache in shared memory for every worker of a node: entries of at most
 * a zone's size under a 32-byte key (a SHA-256), the least recently used
 * evicted when the zone is full.  It holds only what PostgreSQL can answer again.
 */

#ifndef _NGX_HTTP_MEDIA_SHM_H_INCLUDED_
#define _NGX_HTTP_MEDIA_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_MEDIA_SHM_KEY  32


typedef struct ngx_http_media_shm_s  ngx_http_media_shm_t;


/* at configuration time: a zone of size bytes holding values of vsize */
ngx_http_media_shm_t *ngx_http_media_shm_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, size_t vsize);

/*
 * Copies the value stored under key into value and returns NGX_OK with
 * *stamp the time it was stored (ngx_current_msec), or NGX_DECLINED.
 */
ngx_int_t ngx_http_media_shm_get(ngx_http_media_shm_t *shm, u_char *key,
    void *value, ngx_msec_t *stamp);

/* stores (or replaces) value under key, stamped now; NGX_ERROR: no room */
ngx_int_t ngx_http_media_shm_put(ngx_http_media_shm_t *shm, u_char *key,
    void *value);

/*
 * The same for a value of its own length, at most the zone's: an entry
 * takes the room its value needs, and get copies that many bytes
 */
ngx_int_t ngx_http_media_shm_put_len(ngx_http_media_shm_t *shm, u_char *key,
    void *value, size_t len);

void ngx_http_media_shm_delete(ngx_http_media_shm_t *shm, u_char *key);

/*
 * One caller of all the node's workers may read the entry under key anew
 * while it is still served: NGX_OK for the first to ask since it was
 * stored at stamp (a put stores it anew and opens it again), NGX_DECLINED
 * for the others, and when it is gone or was stored again since.
 */
ngx_int_t ngx_http_media_shm_claim(ngx_http_media_shm_t *shm, u_char *key,
    ngx_msec_t stamp);

/*
 * What the claimant read: stored under key, stamped now, only when the
 * entry is still the one claimed (a put meanwhile, say "revoked", or a
 * delete wins); NGX_DECLINED otherwise
 */
ngx_int_t ngx_http_media_shm_renew(ngx_http_media_shm_t *shm, u_char *key,
    void *value, ngx_msec_t stamp);

/*
 * A limit's counter (a zone whose values are one ngx_uint_t): counts one
 * event under key in a window of window ms begun by the first event (the
 * count starts again once it has passed), under the zone's mutex, so the
 * workers of a node count together.  Returns the count with this event,
 * *left the ms until the window ends; 0 when the zone had no room (the
 * event is not counted: the caller lets it pass).
 */
ngx_uint_t ngx_http_media_shm_hit(ngx_http_media_shm_t *shm, u_char *key,
    ngx_msec_t window, ngx_msec_t *left);


#endif /* _NGX_HTTP_MEDIA_SHM_H_INCLUDED_ */
