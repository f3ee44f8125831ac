/*
 * The module's configuration, per-request and user types, shared by every
 * glue file.  Types only: no file's functions are declared here, so that
 * including it ties no room to another.
 */

#ifndef _NGX_HTTP_MEDIA_TYPES_H_INCLUDED_
#define _NGX_HTTP_MEDIA_TYPES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "media_shared.h"
#include "media_conf.h"
#include "media_jwt.h"
#include "media_token.h"
#include "media_stripe.h"


#define NGX_HTTP_MEDIA_MAX_KEYS  16    /* per set: a JWKS beyond is cut */


typedef struct {
    media_jwt_key_t         keys[NGX_HTTP_MEDIA_MAX_KEYS];
    media_jwt_verifier_t    verifier;
} ngx_http_media_keyset_t;


/*
 * A site of its own on a shared database (media_tenant, sql/031): its
 * PostgreSQL pool sees its rows only, and its tokens are signed with keys
 * of its own (derived from the http-level ones, or the keys as given for
 * the default tenant), so a token of one tenant means nothing to another.
 */
typedef struct {
    ngx_str_t                  name;       /* "default": no media_tenant */
    ngx_uint_t                 index;      /* its pool (ngx_http_media_pg.c) */
    const char               **pg_values;  /* options: -c media.tenant=name */
    const char               **pg_replica_values;  /* the same, replica */
    ngx_http_media_keyset_t   *own_keys;   /* NULL: no media_jwt_key */
    media_token_key_t         *url_keys;   /* url_nkeys of them */
    media_token_key_t         *dl_keys;    /* dl_nkeys of them */
    unsigned                   is_default:1;
} ngx_http_media_tenant_t;


/* media_stripe_webhook_secret: a Stripe endpoint's signing secrets */
typedef struct {
    media_stripe_secret_t      secrets[2];  /* current, previous */
    ngx_uint_t                 n;
} ngx_http_media_stripe_secrets_t;


typedef struct {
    ngx_str_t                  name;       /* media_tenant, as written */
    ngx_http_media_tenant_t   *tenant;

    /* the server's own (a tenant's Stripe account), else the http
     * level's: set when merged */
    ngx_http_media_stripe_secrets_t  *stripe;
} ngx_http_media_srv_conf_t;


typedef struct {
    ngx_str_t      pg_conninfo;      /* as written, for messages */
    const char   **pg_keywords;      /* NULL-terminated, for PQconnectStartParams */
    const char   **pg_values;
    ngx_uint_t     pg_pool;
    ngx_msec_t     pg_timeout;

    /* media_pg_replica: reads of some statements (ngx_http_media_pg.c) */
    ngx_str_t      pg_replica_conninfo;
    const char   **pg_replica_keywords;
    const char   **pg_replica_values;
    ngx_msec_t     pg_replica_max_lag;
    void          *pg_replica_zone;  /* ngx_http_media_shm_t: its state,
                                        and who wrote lately */

    ngx_flag_t     redis_set;
    media_redis_addr_t  redis_addr;  /* hosts are numeric addresses by now */
    ngx_msec_t     redis_timeout;

    ngx_str_t      storage;          /* a directory; with s3: the spool */
    void          *s3;               /* ngx_http_media_s3_conf_t; NULL: disk */
    off_t          upload_max;
    time_t         tus_expires;      /* media_tus_expires */
    ngx_path_t    *tmp_path;         /* <media_storage>/tmp */

    /* accounts and tokens (ngx_http_media_auth.c) */
    ngx_http_media_keyset_t   *own_keys;    /* HS256: [0] signs */
    ngx_http_media_keyset_t   *idp_keys;    /* JWKS: verify only */
    void                      *jwks_url;    /* ngx_http_media_jwks.c */
    ngx_str_t                  issuer;
    ngx_msec_t                 leeway;
    ngx_msec_t                 access_ttl;
    ngx_msec_t                 refresh_ttl;
    ngx_uint_t                 cookie_secure;  /* NGX_HTTP_MEDIA_SECURE_* */
    ngx_uint_t                 login_account;  /* failures per window */
    ngx_uint_t                 login_address;
    ngx_msec_t                 login_window;
    ngx_str_t                  thread_pool_name;
    void                      *user_cache;  /* ngx_http_media_shm_t */
    void                      *play_rate;   /* ngx_http_media_shm_t */

    /* media_public_cache (ngx_http_media_cache.c): 0 is off */
    ngx_msec_t                 public_cache_ttl;
    size_t                     public_cache_size;
    void                      *public_cache;  /* ngx_http_media_shm_t */
    ngx_shm_zone_t            *public_gen;    /* its generation */
    void                      *thread_pool;   /* ngx_thread_pool_t */

    /* playback (ngx_http_media_hls.c) */
    media_token_key_t          url_keys[2];   /* [0] signs */
    ngx_uint_t                 url_nkeys;
    ngx_msec_t                 url_ttl;
    ngx_msec_t                 cookie_ttl;    /* media_cookie_ttl */
    ngx_uint_t                 free_rung;     /* media_free_rung */
    ngx_str_t                  hls_location;  /* for the URLs it issues */
    ngx_int_t                  token_status_index;
    ngx_int_t                  play_cookie_index;   /* $cookie_media_play */
    ngx_int_t                  cache_control_index; /* $media_cache_control */

    /* billing (ngx_http_media_billing.c) */
    ngx_msec_t                 billing_wait;  /* media_billing_wait */
    /* Stripe webhooks (ngx_http_media_webhook.c) */
    ngx_http_media_stripe_secrets_t  stripe;  /* the http level's */
    time_t                     stripe_tolerance;

    /* download links (ngx_http_media_downloads.c) */
    media_token_key_t          dl_keys[2];    /* [0] signs */
    ngx_uint_t                 dl_nkeys;
    ngx_str_t                  dl_location;   /* for the URLs it issues */
    ngx_int_t                  dl_status_index;   /* $media_download_status */

    /* takedowns and bans (ngx_http_media_blocked.c) */
    void                      *blocked;       /* the set in shared memory */
    size_t                     blocked_size;  /* media_blocked_zone */

    /* tenants (ngx_http_media_tenant.c): [0] is every tenant ("*"), for
     * what a worker process does for no server (the blocked set's load) */
    ngx_array_t                tenants;       /* ngx_http_media_tenant_t * */

    ngx_int_t      request_id_index;
} ngx_http_media_main_conf_t;


/* media_cookie_secure */
#define NGX_HTTP_MEDIA_SECURE_OFF     0
#define NGX_HTTP_MEDIA_SECURE_ON      1
#define NGX_HTTP_MEDIA_SECURE_AUTO    2


#define NGX_HTTP_MEDIA_AUTH_OFF       0
#define NGX_HTTP_MEDIA_AUTH_OPTIONAL  1
#define NGX_HTTP_MEDIA_AUTH_ON        2


typedef struct {
    ngx_uint_t     auth;          /* media_auth */
    ngx_flag_t     api;           /* media_api: authenticate, optionally */
    ngx_str_t      hls_files;     /* media_hls: the internal file prefix */
    ngx_str_t      hls_prefix;    /* media_hls: this location's name */
    ngx_str_t      dl_files;      /* media_download: the internal prefix */
    ngx_str_t      dl_prefix;     /* media_download: this location's name */
    ngx_str_t      avatar_files;  /* media_avatars: the internal prefix */
    ngx_str_t      avatar_prefix; /* media_avatars: this location's name */
    ngx_array_t   *cors;          /* media_cors: ngx_str_t origins ("*"),
                                     NULL: off */
    ngx_uint_t     upload_roles;  /* media_upload_roles: role bits, 0 any */
    ngx_str_t      client;        /* media_pages: the web client's URI */
    ngx_msec_t     retry_after;   /* media_retry_after: nginx's own 429
                                     and 503 (limit_req) */

    /* JSON error pages (ngx_http_media_errors.c) */
    ngx_flag_t     json_errors;   /* in or under a media_api location */
    ngx_array_t   *error_pages;   /* nginx's error_pages here, as merged */
    ngx_array_t   *json_pages;    /* the same with ours added */
    unsigned       server_pages:1;   /* server level: ours were added */
} ngx_http_media_loc_conf_t;


/*
 * The client of a verified access token: who the token names (a local
 * session, or an identity provider's issuer and subject), and what our own
 * users row says of them (id, role, plan, email), read in the access phase.
 */
typedef struct {
    ngx_str_t      id;            /* users.id, always ours */
    ngx_str_t      role;
    ngx_str_t      plan;
    ngx_str_t      email;
    ngx_str_t      sid;           /* our tokens: the refresh family */
    ngx_str_t      issuer;        /* a provider's token: iss and sub */
    ngx_str_t      subject;
    ngx_str_t      revoke_key;    /* revocations.key that would end it */
    u_char         cache_key[32]; /* its entry in the user cache */
    time_t         exp;
    time_t         suspended_until;   /* 0: not suspended */
    time_t         iat;           /* issued at; 0 when the token has none */
    unsigned       local:1;       /* our HS256 token, not an IdP's */
    unsigned       cookie:1;      /* came in a cookie, not a header */
} ngx_http_media_user_t;


/* per-request state (ngx_http_set_ctx); location config is never written */
typedef struct {
    ngx_str_t               request_id;

    ngx_http_media_user_t  *user;          /* NULL: anonymous */
    const char             *token_status;  /* ok, missing, expired, ... */
    ngx_int_t               auth_rc;       /* the access phase's answer */
    ngx_uint_t              auth_status;   /* a refusal: 401, 403, 503 */
    const char             *auth_code;
    const char             *auth_message;
    unsigned                auth_done:1;
    unsigned                auth_pending:1;

    /* the API route being served (ngx_http_media_api.c) */
    void                   *route;
    ngx_str_t               capture;       /* the route's {id} */
    void                   *json;          /* yajl_val of the body */
    void                   *state;         /* the handler's own */
    void                   *hls;           /* ngx_http_media_hls.c */
} ngx_http_media_ctx_t;


/*
 * A worker process's own view of a pool (PostgreSQL, Redis), for
 * /metrics: gauges as they stand, counters since the process started.
 */
typedef struct {
    ngx_uint_t              open;          /* connections (Redis: 0 or 1) */
    ngx_uint_t              busy;          /* with a query or command on */
    ngx_uint_t              waiting;       /* queries in line for one */
    ngx_uint_t              errors;        /* failed, timed out, dropped */
    ngx_uint_t              connects;      /* connections made */
} ngx_http_media_pool_stats_t;


extern ngx_module_t  ngx_http_media_module;


#endif /* _NGX_HTTP_MEDIA_TYPES_H_INCLUDED_ */
