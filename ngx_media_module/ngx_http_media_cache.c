/*
 * What everyone may see, kept for a few seconds (ngx_http_media_cache.h).
 * The answers live in an ngx_http_media_shm zone, each at its own size
 * (at most NGX_HTTP_MEDIA_CACHE_VALUE); the generation in a zone of its
 * own, one counter.
 */

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ngx_http_media_types.h"
#include "ngx_http_media_shm.h"
#include "ngx_http_media_tenant.h"
#include "ngx_http_media_blocked.h"
#include "ngx_http_media_redis.h"
#include "ngx_http_media_cache.h"


/* a node's name in "~ <node>" messages: 8 random bytes in hex */
#define NGX_HTTP_MEDIA_CACHE_NODE  16

/* a value's length for SQL NULL */
#define NGX_HTTP_MEDIA_CACHE_NULL  0xffffffff


/*
 * The value: len bytes holding the rows and columns' counts, then each
 * value as its length (NGX_HTTP_MEDIA_CACHE_NULL: NULL) and bytes
 */
typedef struct {
    uint32_t                    len;
    uint32_t                    nrows;
    uint32_t                    ncols;
    u_char                      data[NGX_HTTP_MEDIA_CACHE_VALUE
                                     - 3 * sizeof(uint32_t)];
} ngx_http_media_cache_value_t;


/* the node's zone: its generation, and its name in "~" messages */
typedef struct {
    ngx_atomic_t                gen;       /* first: read as the generation */
    u_char                      node[NGX_HTTP_MEDIA_CACHE_NODE];
} ngx_http_media_cache_node_t;


static ngx_msec_t ngx_http_media_cache_ttl(ngx_http_media_main_conf_t *mmcf,
    u_char *key);
static uint64_t ngx_http_media_cache_own_version(
    ngx_http_media_main_conf_t *mmcf, ngx_str_t *user, ngx_uint_t renew);
static void ngx_http_media_cache_publish(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf, ngx_str_t *user);
static ngx_int_t ngx_http_media_cache_heard(ngx_http_media_main_conf_t *mmcf,
    u_char *text, size_t len);
static ngx_int_t ngx_http_media_cache_wrote(ngx_http_request_t *r);
static ngx_int_t ngx_http_media_cache_gen_init(ngx_shm_zone_t *zone,
    void *data);


ngx_int_t
ngx_http_media_cache_key(ngx_http_request_t *r, const char *kind,
    ngx_str_t *args, ngx_uint_t n, u_char *key)
{
    size_t                       len;
    ngx_str_t                   *tenant;
    ngx_uint_t                   i;
    SHA256_CTX                   sha;
    ngx_atomic_uint_t            gen[2];
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->public_cache == NULL) {
        return NGX_DECLINED;
    }

    /* what was kept before a write or a takedown is not found */
    gen[0] = *(ngx_atomic_t *) mmcf->public_gen->data;
    gen[1] = ngx_http_media_blocked_version(mmcf);

    tenant = &ngx_http_media_tenant(r)->name;

    SHA256_Init(&sha);
    SHA256_Update(&sha, gen, sizeof(gen));
    SHA256_Update(&sha, tenant->data, tenant->len);
    SHA256_Update(&sha, "", 1);
    SHA256_Update(&sha, kind, ngx_strlen(kind) + 1);

    /* each argument as its length and bytes (NULL as a length no string
     * has) */
    for (i = 0; i < n; i++) {
        len = args[i].data ? args[i].len : (size_t) -1;
        SHA256_Update(&sha, &len, sizeof(size_t));

        if (args[i].data) {
            SHA256_Update(&sha, args[i].data, args[i].len);
        }
    }

    SHA256_Final(key, &sha);

    return NGX_OK;
}


ngx_int_t
ngx_http_media_cache_get(ngx_http_request_t *r, u_char *key,
    ngx_http_media_pg_result_t *res, ngx_uint_t *stale)
{
    u_char                        *p, *last;
    uint32_t                       len;
    ngx_uint_t                     i, n;
    ngx_msec_t                     stamp, ttl;
    ngx_http_media_main_conf_t    *mmcf;
    ngx_http_media_cache_value_t  *c;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    ttl = ngx_http_media_cache_ttl(mmcf, key);

    c = ngx_palloc(r->pool, sizeof(ngx_http_media_cache_value_t));

    /* past its time, an answer is still served for as long again */
    if (c == NULL
        || ngx_http_media_shm_get(mmcf->public_cache, key, c, &stamp)
           != NGX_OK
        || ngx_current_msec - stamp >= 2 * ttl
        || c->len > sizeof(c->data)
        || c->ncols == 0
        || c->nrows > c->len)
    {
        return NGX_DECLINED;
    }

    n = (ngx_uint_t) c->nrows * c->ncols;

    ngx_memzero(res, sizeof(ngx_http_media_pg_result_t));
    res->status = NGX_HTTP_MEDIA_PG_OK;
    res->nrows = c->nrows;
    res->ncols = c->ncols;
    res->values = ngx_palloc(r->pool, (n + 1) * sizeof(ngx_str_t));
    if (res->values == NULL) {
        return NGX_DECLINED;
    }

    p = c->data;
    last = c->data + c->len;

    for (i = 0; i < n; i++) {
        if ((size_t) (last - p) < sizeof(uint32_t)) {
            return NGX_DECLINED;
        }

        ngx_memcpy(&len, p, sizeof(uint32_t));
        p += sizeof(uint32_t);

        if (len == NGX_HTTP_MEDIA_CACHE_NULL) {
            ngx_str_null(&res->values[i]);
            continue;
        }

        if (len > (size_t) (last - p)) {
            return NGX_DECLINED;
        }

        res->values[i].data = p;
        res->values[i].len = len;
        p += len;
    }

    *stale = (ngx_current_msec - stamp >= ttl);

    return NGX_OK;
}


void
ngx_http_media_cache_put(ngx_http_request_t *r, u_char *key,
    ngx_http_media_pg_result_t *res)
{
    u_char                        *p;
    size_t                         size;
    uint32_t                       len;
    ngx_uint_t                     i, n;
    ngx_http_media_main_conf_t    *mmcf;
    ngx_http_media_cache_value_t  *c;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->public_cache == NULL || res->ncols == 0) {
        return;
    }

    n = res->nrows * res->ncols;

    size = 0;
    for (i = 0; i < n; i++) {
        size += sizeof(uint32_t)
                + (res->values[i].data ? res->values[i].len : 0);
    }

    if (size > sizeof(c->data)) {
        return;
    }

    c = ngx_palloc(r->pool, sizeof(ngx_http_media_cache_value_t));
    if (c == NULL) {
        return;
    }

    p = c->data;

    for (i = 0; i < n; i++) {
        if (res->values[i].data == NULL) {
            len = NGX_HTTP_MEDIA_CACHE_NULL;
            p = ngx_cpymem(p, &len, sizeof(uint32_t));
            continue;
        }

        len = (uint32_t) res->values[i].len;
        p = ngx_cpymem(p, &len, sizeof(uint32_t));

        if (len) {
            p = ngx_cpymem(p, res->values[i].data, len);
        }
    }

    c->len = (uint32_t) size;
    c->nrows = (uint32_t) res->nrows;
    c->ncols = (uint32_t) res->ncols;

    /* at its own size; no room: the next ask goes to PostgreSQL again */
    (void) ngx_http_media_shm_put_len(mmcf->public_cache, key, c,
                                      offsetof(ngx_http_media_cache_value_t,
                                               data) + size);
}


void *
ngx_http_media_cache_refresh(ngx_http_request_t *r, u_char *key,
    ngx_http_media_pg_stmt_t *stmt, ngx_str_t *params,
    ngx_http_media_pg_handler_pt handler, size_t size)
{
    ngx_msec_t                      stamp;
    ngx_http_media_main_conf_t     *mmcf;
    ngx_http_media_cache_value_t   *c;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    /* stamped again, unless another worker did so since */
    c = ngx_palloc(r->pool, sizeof(ngx_http_media_cache_value_t));
    if (c == NULL
        || ngx_http_media_shm_get(mmcf->public_cache, key, c, &stamp)
           != NGX_OK
        || ngx_current_msec - stamp < ngx_http_media_cache_ttl(mmcf, key)
        || c->len > sizeof(c->data)
        || ngx_http_media_shm_put_len(mmcf->public_cache, key, c,
                                      offsetof(ngx_http_media_cache_value_t,
                                               data) + c->len)
           != NGX_OK)
    {
        return NULL;
    }

    return ngx_http_media_pg_detached(r, stmt, params, handler, size);
}


/*
 * This node forgets at once; the others when their subscriber hears "~
 * <node>" (a moment later).  Nobody waits for the PUBLISH.
 */
void
ngx_http_media_cache_forget(ngx_http_request_t *r)
{
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->public_gen == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add((ngx_atomic_t *) mmcf->public_gen->data, 1);

    ngx_http_media_cache_publish(r, mmcf, NULL);
}


/*
 * "~ <node>" (forget everything) or "~o <user> <node>" (that user's own
 * answers) on the blocked set's channel, for the other nodes: the node
 * that sent it knows it already.  Lost (Redis away), the other nodes keep
 * their answers for up to twice media_public_cache.
 */
static void
ngx_http_media_cache_publish(ngx_http_request_t *r,
    ngx_http_media_main_conf_t *mmcf, ngx_str_t *user)
{
    u_char                       *p;
    size_t                        argvlen[3];
    const char                   *argv[3];
    ngx_http_media_cache_node_t  *node;
    u_char                        msg[sizeof("~o ") - 1 + 36 + 1
                                      + NGX_HTTP_MEDIA_CACHE_NODE];

    if (!mmcf->redis_set || (user && user->len != 36)) {
        return;
    }

    node = mmcf->public_gen->data;

    p = msg;
    *p++ = NGX_HTTP_MEDIA_BLOCKED_OTHER;

    if (user) {
        *p++ = 'o';
        *p++ = ' ';
        p = ngx_cpymem(p, user->data, user->len);
    }

    *p++ = ' ';
    p = ngx_cpymem(p, node->node, NGX_HTTP_MEDIA_CACHE_NODE);

    argv[0] = "PUBLISH";
    argvlen[0] = sizeof("PUBLISH") - 1;
    argv[1] = NGX_HTTP_MEDIA_BLOCKED_CHANNEL;
    argvlen[1] = sizeof(NGX_HTTP_MEDIA_BLOCKED_CHANNEL) - 1;
    argv[2] = (const char *) msg;
    argvlen[2] = p - msg;

    /* hiredis formats the command at once: msg may go */
    if (ngx_http_media_redis_command(r, NULL, NULL, 3, argv, argvlen)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "media public cache: PUBLISH "
                      NGX_HTTP_MEDIA_BLOCKED_CHANNEL " \"%*s\" not sent; "
                      "other nodes keep their answers for up to twice "
                      "media_public_cache", argvlen[2], msg);
    }
}


/*
 * A "~" message heard by this node's subscriber: "~ <node>" or "~o <user>
 * <node>" from another node (this one's own are passed over: it forgot
 * when it sent them), or without a node, from an operator's redis-cli
 */
static ngx_int_t
ngx_http_media_cache_heard(ngx_http_media_main_conf_t *mmcf, u_char *text,
    size_t len)
{
    ngx_str_t                     user;
    ngx_uint_t                    own;
    ngx_http_media_cache_node_t  *node;

    own = (len >= 3 && text[1] == 'o' && text[2] == ' ');

    if (own) {
        if (len != 3 + 36 && len != 3 + 36 + 1 + NGX_HTTP_MEDIA_CACHE_NODE) {
            return NGX_DECLINED;
        }

        user.data = text + 3;
        user.len = 36;
        text += 3 + 36;
        len -= 3 + 36;

    } else {
        text++;
        len--;
    }

    /* what is left: nothing, or " <node>" */
    if (len != 0 && (len != 1 + NGX_HTTP_MEDIA_CACHE_NODE || text[0] != ' ')) {
        return NGX_DECLINED;
    }

    if (mmcf->public_gen == NULL) {
        return NGX_OK;
    }

    node = mmcf->public_gen->data;

    if (len && ngx_memcmp(text + 1, node->node, NGX_HTTP_MEDIA_CACHE_NODE)
               == 0)
    {
        return NGX_OK;
    }

    if (own) {
        (void) ngx_http_media_cache_own_version(mmcf, &user, 1);

    } else {
        (void) ngx_atomic_fetch_add(&node->gen, 1);
    }

    return NGX_OK;
}


/* a user's own answers ----------------------------------------------------- */

ngx_int_t
ngx_http_media_cache_own_key(ngx_http_request_t *r, ngx_str_t *user,
    const char *kind, ngx_str_t *args, ngx_uint_t n, u_char *key)
{
    uint64_t                     v;
    ngx_str_t                   *a;
    ngx_http_media_main_conf_t  *mmcf;

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    if (mmcf->public_cache == NULL) {
        return NGX_DECLINED;
    }

    a = ngx_palloc(r->pool, (n + 2) * sizeof(ngx_str_t));
    if (a == NULL) {
        return NGX_DECLINED;
    }

    ngx_memcpy(a, args, n * sizeof(ngx_str_t));

    v = ngx_http_media_cache_own_version(mmcf, user, 0);

    a[n] = *user;
    a[n + 1].data = (u_char *) &v;
    a[n + 1].len = sizeof(v);

    return ngx_http_media_cache_key(r, kind, a, n + 2, key);
}


/*
 * The version a user's own answers are keyed with, kept in the same zone
 * under the user's id: a new one, drawn at random, when renew is set or
 * none is there (never kept, or evicted), so that no answer kept under an
 * earlier one is found again.  Two workers drawing one at once for the
 * same user only lose an answer or two.
 */
static uint64_t
ngx_http_media_cache_own_version(ngx_http_media_main_conf_t *mmcf,
    ngx_str_t *user, ngx_uint_t renew)
{
    u_char      key[SHA256_DIGEST_LENGTH];
    uint64_t    v;
    SHA256_CTX  sha;
    ngx_msec_t  stamp;

    SHA256_Init(&sha);
    SHA256_Update(&sha, "own version", sizeof("own version"));
    SHA256_Update(&sha, user->data, user->len);
    SHA256_Final(key, &sha);

    if (!renew
        && ngx_http_media_shm_get(mmcf->public_cache, key, &v, &stamp)
           == NGX_OK)
    {
        return v;
    }

    if (RAND_bytes((u_char *) &v, sizeof(v)) != 1) {
        v = ((uint64_t) ngx_random() << 32) ^ (uint64_t) ngx_random()
            ^ ngx_current_msec;
    }

    (void) ngx_http_media_shm_put_len(mmcf->public_cache, key, &v, sizeof(v));

    return v;
}


/*
 * The log phase: a write a signed-in user made through the API (any
 * method but GET, HEAD and OPTIONS, answered below 400) renews their own
 * answers' version here and, through "~o <id> <node>", on every other
 * node.
 */
static ngx_int_t
ngx_http_media_cache_wrote(ngx_http_request_t *r)
{
    ngx_http_media_ctx_t        *ctx;
    ngx_http_media_main_conf_t  *mmcf;

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS)
        || r->headers_out.status >= NGX_HTTP_BAD_REQUEST)
    {
        return NGX_OK;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_media_module);
    if (ctx == NULL || ctx->user == NULL) {
        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_media_module);

    (void) ngx_http_media_cache_own_version(mmcf, &ctx->user->id, 1);

    ngx_http_media_cache_publish(r, mmcf, &ctx->user->id);

    return NGX_OK;
}


/* between half of media_public_cache and all of it, by the key */
static ngx_msec_t
ngx_http_media_cache_ttl(ngx_http_media_main_conf_t *mmcf, u_char *key)
{
    ngx_msec_t  ttl;

    ttl = mmcf->public_cache_ttl;

    return ttl - (key[0] | (ngx_msec_t) key[1] << 8) % (ttl / 2 + 1);
}


/* configuration ------------------------------------------------------------ */

/* media_public_cache off | time [size] */
char *
ngx_http_media_cache_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_media_main_conf_t *mmcf = conf;

    ssize_t     size;
    ngx_msec_t  ttl;
    ngx_str_t  *value;

    if (mmcf->public_cache_ttl != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no size when off";
        }

        mmcf->public_cache_ttl = 0;
        return NGX_CONF_OK;
    }

    ttl = ngx_parse_time(&value[1], 0);
    if (ttl == (ngx_msec_t) NGX_ERROR || ttl == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid media_public_cache \"%V\": expected "
                           "\"off\" or how long an answer is kept, such as "
                           "\"5s\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    mmcf->public_cache_ttl = ttl;
    mmcf->public_cache_size = NGX_HTTP_MEDIA_CACHE_SIZE;

    if (cf->args->nelts > 2) {
        size = ngx_parse_size(&value[2]);

        if (size == NGX_ERROR || size < (ssize_t) (64 * ngx_pagesize)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid media_public_cache size \"%V\": "
                               "expected a size of shared memory of at "
                               "least %uzk, such as \"16m\"", &value[2],
                               64 * ngx_pagesize / 1024);
            return NGX_CONF_ERROR;
        }

        mmcf->public_cache_size = (size_t) size;
    }

    return NGX_CONF_OK;
}


/* the zones, shared by the workers (none when off) */
ngx_int_t
ngx_http_media_cache_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt         *h;
    ngx_http_core_main_conf_t   *cmcf;
    ngx_http_media_main_conf_t  *mmcf;

    static ngx_str_t  zone = ngx_string("media_public_cache");
    static ngx_str_t  gen = ngx_string("media_public_generation");

    mmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_media_module);

    /* "~" messages: known even when off, so not logged as unknown */
    ngx_http_media_blocked_on_other(ngx_http_media_cache_heard);

    if (mmcf->public_cache_ttl == NGX_CONF_UNSET_MSEC) {
        mmcf->public_cache_ttl = NGX_HTTP_MEDIA_CACHE_TTL;
        mmcf->public_cache_size = NGX_HTTP_MEDIA_CACHE_SIZE;
    }

    if (mmcf->public_cache_ttl == 0) {
        return NGX_OK;
    }

    mmcf->public_cache = ngx_http_media_shm_add(cf, &zone,
                             mmcf->public_cache_size,
                             sizeof(ngx_http_media_cache_value_t));
    if (mmcf->public_cache == NULL) {
        return NGX_ERROR;
    }

    /* the generation: one counter, in a zone of the smallest size */
    mmcf->public_gen = ngx_shared_memory_add(cf, &gen, 8 * ngx_pagesize,
                                             &ngx_http_media_module);
    if (mmcf->public_gen == NULL) {
        return NGX_ERROR;
    }

    mmcf->public_gen->init = ngx_http_media_cache_gen_init;

    /* own answers: renewed after a user's write, here and on "~o <id>" */
    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_media_cache_wrote;

    return NGX_OK;
}


static ngx_int_t
ngx_http_media_cache_gen_init(ngx_shm_zone_t *zone, void *data)
{
    u_char                        name[NGX_HTTP_MEDIA_CACHE_NODE / 2];
    ngx_slab_pool_t              *shpool;
    ngx_http_media_cache_node_t  *node;

    /* a reload keeps the counter and the name */
    if (data) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    node = ngx_slab_alloc(shpool, sizeof(ngx_http_media_cache_node_t));
    if (node == NULL) {
        return NGX_ERROR;
    }

    node->gen = 0;

    if (RAND_bytes(name, sizeof(name)) != 1) {
        return NGX_ERROR;
    }

    ngx_hex_dump(node->node, name, sizeof(name));

    shpool->data = node;
    zone->data = node;

    return NGX_OK;
}
