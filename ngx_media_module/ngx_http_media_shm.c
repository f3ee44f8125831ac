/*
 * A shared-memory cache: a red-black tree of entries keyed by a 32-byte
 * digest (its first bytes are the tree key), a queue from most to least
 * recently used, all in one slab zone and under its mutex, as
 * ngx_http_limit_req_module keeps its states.  The same entries count
 * events in a window for a limit (ngx_http_media_shm_hit).
 */

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_media_types.h"
#include "ngx_http_media_shm.h"


typedef struct {
    ngx_rbtree_node_t   node;            /* node.key: the key's first bytes */
    ngx_queue_t         queue;
    ngx_msec_t          stamp;
    ngx_uint_t          claimed;         /* since stamp: shm_claim */
    size_t              len;             /* the value's, at most vsize */
    u_char              key[NGX_HTTP_MEDIA_SHM_KEY];
    u_char              value[1];
} ngx_http_media_shm_node_t;


typedef struct {
    ngx_rbtree_t        rbtree;
    ngx_rbtree_node_t   sentinel;
    ngx_queue_t         lru;
} ngx_http_media_shm_sh_t;


struct ngx_http_media_shm_s {
    ngx_shm_zone_t           *zone;
    ngx_slab_pool_t          *shpool;
    ngx_http_media_shm_sh_t  *sh;
    size_t                    vsize;
};


static ngx_int_t ngx_http_media_shm_init(ngx_shm_zone_t *zone, void *data);
static void ngx_http_media_shm_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_media_shm_node_t *ngx_http_media_shm_find(
    ngx_http_media_shm_t *shm, u_char *key);
static ngx_http_media_shm_node_t *ngx_http_media_shm_node(
    ngx_http_media_shm_t *shm, u_char *key, size_t len, ngx_uint_t *created);


ngx_http_media_shm_t *
ngx_http_media_shm_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    size_t vsize)
{
    ngx_http_media_shm_t  *shm;

    shm = ngx_pcalloc(cf->pool, sizeof(ngx_http_media_shm_t));
    if (shm == NULL) {
        return NULL;
    }

    shm->vsize = vsize;

    shm->zone = ngx_shared_memory_add(cf, name, size, &ngx_http_media_module);
    if (shm->zone == NULL) {
        return NULL;
    }

    shm->zone->init = ngx_http_media_shm_init;
    shm->zone->data = shm;

    return shm;
}


static ngx_int_t
ngx_http_media_shm_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_http_media_shm_t  *old = data;

    ngx_http_media_shm_t  *shm;

    shm = zone->data;
    shm->shpool = (ngx_slab_pool_t *) zone->shm.addr;

    /* a reload keeps the entries: they are still true */
    if (old) {
        shm->sh = old->sh;
        return NGX_OK;
    }

    if (zone->shm.exists) {
        shm->sh = shm->shpool->data;
        return NGX_OK;
    }

    shm->sh = ngx_slab_alloc(shm->shpool, sizeof(ngx_http_media_shm_sh_t));
    if (shm->sh == NULL) {
        return NGX_ERROR;
    }

    shm->shpool->data = shm->sh;

    ngx_rbtree_init(&shm->sh->rbtree, &shm->sh->sentinel,
                    ngx_http_media_shm_insert);
    ngx_queue_init(&shm->sh->lru);

    shm->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_media_shm_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t          **p;
    ngx_http_media_shm_node_t   *n, *t;

    for ( ;; ) {

        if (node->key != temp->key) {
            p = (node->key < temp->key) ? &temp->left : &temp->right;

        } else {
            n = (ngx_http_media_shm_node_t *) node;
            t = (ngx_http_media_shm_node_t *) temp;

            p = (ngx_memcmp(n->key, t->key, NGX_HTTP_MEDIA_SHM_KEY) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* with the mutex held */
static ngx_http_media_shm_node_t *
ngx_http_media_shm_find(ngx_http_media_shm_t *shm, u_char *key)
{
    ngx_int_t                   rc;
    ngx_rbtree_key_t            k;
    ngx_rbtree_node_t          *node, *sentinel;
    ngx_http_media_shm_node_t  *n;

    ngx_memcpy(&k, key, sizeof(k));

    node = shm->sh->rbtree.root;
    sentinel = shm->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (k != node->key) {
            node = (k < node->key) ? node->left : node->right;
            continue;
        }

        n = (ngx_http_media_shm_node_t *) node;
        rc = ngx_memcmp(key, n->key, NGX_HTTP_MEDIA_SHM_KEY);

        if (rc == 0) {
            return n;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_int_t
ngx_http_media_shm_get(ngx_http_media_shm_t *shm, u_char *key, void *value,
    ngx_msec_t *stamp)
{
    ngx_http_media_shm_node_t  *n;

    ngx_shmtx_lock(&shm->shpool->mutex);

    n = ngx_http_media_shm_find(shm, key);

    if (n) {
        ngx_queue_remove(&n->queue);
        ngx_queue_insert_head(&shm->sh->lru, &n->queue);
        ngx_memcpy(value, n->value, n->len);
        *stamp = n->stamp;
    }

    ngx_shmtx_unlock(&shm->shpool->mutex);

    return n ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_media_shm_put(ngx_http_media_shm_t *shm, u_char *key, void *value)
{
    return ngx_http_media_shm_put_len(shm, key, value, shm->vsize);
}


ngx_int_t
ngx_http_media_shm_put_len(ngx_http_media_shm_t *shm, u_char *key,
    void *value, size_t len)
{
    ngx_uint_t                  created;
    ngx_http_media_shm_node_t  *n;

    if (len > shm->vsize) {
        return NGX_ERROR;
    }

    ngx_shmtx_lock(&shm->shpool->mutex);

    n = ngx_http_media_shm_node(shm, key, len, &created);

    if (n) {
        ngx_memcpy(n->value, value, len);
        n->stamp = ngx_current_msec;
        n->claimed = 0;
    }

    ngx_shmtx_unlock(&shm->shpool->mutex);

    return n ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_media_shm_claim(ngx_http_media_shm_t *shm, u_char *key,
    ngx_msec_t stamp)
{
    ngx_int_t                   rc;
    ngx_http_media_shm_node_t  *n;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&shm->shpool->mutex);

    n = ngx_http_media_shm_find(shm, key);

    if (n && n->stamp == stamp && !n->claimed) {
        n->claimed = 1;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&shm->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_media_shm_renew(ngx_http_media_shm_t *shm, u_char *key,
    void *value, ngx_msec_t stamp)
{
    ngx_int_t                   rc;
    ngx_http_media_shm_node_t  *n;

    rc = NGX_DECLINED;

    ngx_shmtx_lock(&shm->shpool->mutex);

    n = ngx_http_media_shm_find(shm, key);

    if (n && n->stamp == stamp && n->claimed && n->len == shm->vsize) {
        ngx_memcpy(n->value, value, shm->vsize);
        n->stamp = ngx_current_msec;
        n->claimed = 0;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&shm->shpool->mutex);

    return rc;
}


ngx_uint_t
ngx_http_media_shm_hit(ngx_http_media_shm_t *shm, u_char *key,
    ngx_msec_t window, ngx_msec_t *left)
{
    ngx_uint_t                  created, count;
    ngx_http_media_shm_node_t  *n;

    *left = 0;
    count = 0;

    ngx_shmtx_lock(&shm->shpool->mutex);

    n = ngx_http_media_shm_node(shm, key, shm->vsize, &created);

    if (n) {
        /* the stamp is when the window began */
        if (created || ngx_current_msec - n->stamp >= window) {
            n->stamp = ngx_current_msec;

        } else {
            ngx_memcpy(&count, n->value, sizeof(ngx_uint_t));
        }

        count++;
        ngx_memcpy(n->value, &count, sizeof(ngx_uint_t));
        *left = window - (ngx_current_msec - n->stamp);
    }

    ngx_shmtx_unlock(&shm->shpool->mutex);

    return count;
}


/*
 * With the mutex held: the entry under key for a value of len bytes, made
 * when there is none or the one there has another length (the least
 * recently used evicted for room, a few at most), first in the queue;
 * NULL when no room could be made.
 */
static ngx_http_media_shm_node_t *
ngx_http_media_shm_node(ngx_http_media_shm_t *shm, u_char *key, size_t len,
    ngx_uint_t *created)
{
    size_t                      size;
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_media_shm_node_t  *n, *old;

    *created = 0;

    n = ngx_http_media_shm_find(shm, key);

    if (n && n->len == len) {
        ngx_queue_remove(&n->queue);
        ngx_queue_insert_head(&shm->sh->lru, &n->queue);
        return n;
    }

    /* another length: made again at its size */
    if (n) {
        ngx_queue_remove(&n->queue);
        ngx_rbtree_delete(&shm->sh->rbtree, &n->node);
        ngx_slab_free_locked(shm->shpool, n);
    }

    size = offsetof(ngx_http_media_shm_node_t, value) + len;

    n = ngx_slab_alloc_locked(shm->shpool, size);

    for (i = 0; n == NULL && i < 8; i++) {
        if (ngx_queue_empty(&shm->sh->lru)) {
            break;
        }

        q = ngx_queue_last(&shm->sh->lru);
        old = ngx_queue_data(q, ngx_http_media_shm_node_t, queue);

        ngx_queue_remove(q);
        ngx_rbtree_delete(&shm->sh->rbtree, &old->node);
        ngx_slab_free_locked(shm->shpool, old);

        n = ngx_slab_alloc_locked(shm->shpool, size);
    }

    if (n == NULL) {
        return NULL;
    }

    n->len = len;
    ngx_memcpy(n->key, key, NGX_HTTP_MEDIA_SHM_KEY);
    ngx_memcpy(&n->node.key, key, sizeof(ngx_rbtree_key_t));
    ngx_rbtree_insert(&shm->sh->rbtree, &n->node);
    ngx_queue_insert_head(&shm->sh->lru, &n->queue);

    *created = 1;

    return n;
}


void
ngx_http_media_shm_delete(ngx_http_media_shm_t *shm, u_char *key)
{
    ngx_http_media_shm_node_t  *n;

    ngx_shmtx_lock(&shm->shpool->mutex);

    n = ngx_http_media_shm_find(shm, key);

    if (n) {
        ngx_queue_remove(&n->queue);
        ngx_rbtree_delete(&shm->sh->rbtree, &n->node);
        ngx_slab_free_locked(shm->shpool, n);
    }

    ngx_shmtx_unlock(&shm->shpool->mutex);
}
