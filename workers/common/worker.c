/*
 * Settings, signals and connections shared by the workers (logging is
 * log.c's, the --metrics listener metrics.c's).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "worker.h"


volatile sig_atomic_t  media_worker_stop;

/* --metrics: where the supervisor serves /metrics, NULL: nowhere */
const char            *media_worker_metrics;


static int media_settings_set(void *data, const char *name, char **args,
    int nargs, int line, char *err, size_t errlen);
static long *media_setting_msec(media_settings_t *s, const char *name);
static void media_on_signal(int signo);
static int media_s3_setting(media_settings_t *s, const char *name,
    char **args, int nargs, int line, char *err, size_t errlen);
static int media_s3_settings_check(media_settings_t *s, char *err,
    size_t errlen);
static void media_s3_settings_free(media_settings_t *s);


/* every tenant's rows; media-admin names one (-t) */
const char  *media_worker_tenant = "*";


const char *
media_conf_arg(int argc, char **argv)
{
    int          i;
    const char  *conf;

    conf = MEDIA_DEFAULT_CONF;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-c") == 0) {
            conf = argv[i + 1];

        } else if (strcmp(argv[i], "--metrics") == 0) {
            media_worker_metrics = argv[i + 1];

        } else {
            break;
        }
    }

    if (i == argc) {
        return conf;
    }

    fprintf(stderr, "usage: %s [-c nginx.conf] [--metrics 127.0.0.1:PORT]\n"
            "  reads the media_* settings from the file nginx reads;\n"
            "  --metrics serves its counters to Prometheus there\n",
            media_worker_name);
    exit(2);
}


void
media_settings_defaults(media_settings_t *s)
{
    memset(s, 0, sizeof(media_settings_t));
    s->redis_timeout = MEDIA_DEFAULT_REDIS_TIMEOUT;
    s->job_lease = MEDIA_DEFAULT_JOB_LEASE;
    s->job_retry = MEDIA_DEFAULT_JOB_RETRY;
    s->job_stall = MEDIA_DEFAULT_JOB_STALL;
    s->transcode_jobs = 1;
    s->transcode_memory = MEDIA_DEFAULT_TRANSCODE_MEMORY;
    s->max_width = MEDIA_DEFAULT_MAX_WIDTH;
    s->max_height = MEDIA_DEFAULT_MAX_HEIGHT;
    s->max_pixels = s->max_width * s->max_height;
    s->max_duration = MEDIA_DEFAULT_MAX_DURATION;
    s->export_ttl = MEDIA_DEFAULT_EXPORT_TTL;
    s->sweep_interval = MEDIA_DEFAULT_SWEEP_INTERVAL;
    s->audio_rate = MEDIA_DEFAULT_AUDIO_RATE;
}


void
media_settings_load(media_settings_t *s, const char *conf_file)
{
    char  err[512];

    media_settings_defaults(s);
    s->conf_file = conf_file;

    if (media_conf_parse_file(s->conf_file, media_settings_set, s,
                              err, sizeof(err))
        != 0)
    {
        media_log_error("settings: %s", err);
        exit(2);
    }

    if (s->pg == NULL || !s->redis_set) {
        media_log_error("settings: %s needs both %s and %s",
                        s->conf_file, MEDIA_SET_PG, MEDIA_SET_REDIS);
        exit(2);
    }

    if (s->storage == NULL) {
        s->storage = strdup(MEDIA_DEFAULT_STORAGE);
        if (s->storage == NULL) {
            media_log_error("settings: out of memory");
            exit(1);
        }
    }

    if (media_s3_settings_check(s, err, sizeof(err)) != 0) {
        media_log_error("settings: %s", err);
        exit(2);
    }
}


/* one media_* directive; everything else in nginx.conf is not ours */
static int
media_settings_set(void *data, const char *name, char **args, int nargs,
    int line, char *err, size_t errlen)
{
    media_settings_t  *s = data;

    int     zero_ok;
    long   *ms, *n;
    char  **field;

    if (strncmp(name, "media_", 6) != 0) {
        return 0;
    }

    /* media_storage s3://..., media_s3_*: read below, used by s3.c */
    switch (media_s3_setting(s, name, args, nargs, line, err, errlen)) {
    case 1:
        return 0;
    case -1:
        return -1;
    }

    field = NULL;

    if (strcmp(name, MEDIA_SET_PG) == 0) {
        field = &s->pg;

    } else if (strcmp(name, MEDIA_SET_STORAGE) == 0) {
        field = &s->storage;

    } else if (strcmp(name, MEDIA_SET_STRIPE_KEY) == 0) {
        field = &s->stripe_key_file;

    } else if (strcmp(name, MEDIA_SET_STRIPE_API_URL) == 0
               || strcmp(name, MEDIA_SET_PUBLIC_URL) == 0)
    {
        if (nargs != 1
            || media_conf_parse_url(args[0], strlen(args[0])) != 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected "
                     "an http:// or https:// URL without a query", line,
                     name, nargs ? args[0] : "");
            return -1;
        }

        field = strcmp(name, MEDIA_SET_PUBLIC_URL) == 0
                ? &s->public_url : &s->stripe_api_url;

    } else if (strcmp(name, MEDIA_SET_REDIS) == 0) {
        if (nargs != 1
            || media_conf_parse_redis(args[0], strlen(args[0]),
                                      MEDIA_DEFAULT_REDIS_PORT, &s->redis)
               != 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected "
                     "host, host:port, unix:/path or "
                     "sentinel://host:port,host:port/name", line, name,
                     nargs ? args[0] : "");
            return -1;
        }

        s->redis_set = 1;
        return 0;

    } else if ((ms = media_setting_msec(s, name)) != NULL) {
        if (nargs != 1
            || media_conf_parse_msec(args[0], strlen(args[0]), ms) != 0
            || *ms == 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected a "
                     "time such as \"500ms\" or \"5s\"", line, name,
                     nargs ? args[0] : "");
            return -1;
        }

        return 0;

    } else if (strcmp(name, MEDIA_SET_MAX_PIXELS) == 0) {
        if (nargs != 1
            || media_conf_parse_pixels(args[0], strlen(args[0]),
                                       &s->max_pixels, &s->max_width,
                                       &s->max_height)
               != 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected a "
                     "size such as \"3840x2160\" or a number of pixels",
                     line, name, nargs ? args[0] : "");
            return -1;
        }

        return 0;

    } else if (strcmp(name, MEDIA_SET_SOURCE_RETENTION) == 0) {
        if (nargs == 1 && strcmp(args[0], "off") == 0) {
            s->source_retention = 0;
            return 0;
        }

        if (nargs != 1
            || media_conf_parse_msec(args[0], strlen(args[0]),
                                     &s->source_retention) != 0
            || s->source_retention == 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected a "
                     "time such as \"90d\", or \"off\"", line, name,
                     nargs ? args[0] : "");
            return -1;
        }

        return 0;

    } else if (strcmp(name, MEDIA_SET_AUDIO_RATE) == 0) {
        if (nargs != 1
            || (strcmp(args[0], "44100") != 0 && strcmp(args[0], "48000") != 0))
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected "
                     "44100 or 48000", line, name, nargs ? args[0] : "");
            return -1;
        }

        s->audio_rate = atol(args[0]);
        return 0;

    } else if (strcmp(name, MEDIA_SET_TRANSCODE_MEMORY) == 0) {
        if (nargs == 1 && strcmp(args[0], "off") == 0) {
            s->transcode_memory = 0;
            return 0;
        }

        if (nargs != 1
            || media_conf_parse_size(args[0], strlen(args[0]),
                                     &s->transcode_memory)
               != 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected a "
                     "size such as \"4g\" or \"off\"", line, name,
                     nargs ? args[0] : "");
            return -1;
        }

        return 0;

    } else if (strcmp(name, MEDIA_SET_TRANSCODE_JOBS) == 0
               || strcmp(name, MEDIA_SET_TRANSCODE_THREADS) == 0)
    {
        /* threads may be 0 (let the encoder choose); jobs may not */
        zero_ok = strcmp(name, MEDIA_SET_TRANSCODE_THREADS) == 0;
        n = zero_ok ? &s->transcode_threads : &s->transcode_jobs;

        if (nargs == 1 && zero_ok && strcmp(args[0], "0") == 0) {
            *n = 0;
            return 0;
        }

        if (nargs != 1
            || media_conf_parse_uint(args[0], strlen(args[0]), 64, n) != 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected a "
                     "number from %d to 64", line, name,
                     nargs ? args[0] : "", zero_ok ? 0 : 1);
            return -1;
        }

        return 0;
    }

    if (field == NULL) {
        return 0;      /* a setting for nginx or for another worker */
    }

    if (nargs != 1) {
        snprintf(err, errlen, "line %d: %s takes one value", line, name);
        return -1;
    }

    free(*field);

    *field = strdup(args[0]);
    if (*field == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    return 0;
}


/* the time settings, by name */
static long *
media_setting_msec(media_settings_t *s, const char *name)
{
    if (strcmp(name, MEDIA_SET_REDIS_TIMEOUT) == 0) {
        return &s->redis_timeout;
    }

    if (strcmp(name, MEDIA_SET_JOB_LEASE) == 0) {
        return &s->job_lease;
    }

    if (strcmp(name, MEDIA_SET_JOB_RETRY) == 0) {
        return &s->job_retry;
    }

    if (strcmp(name, MEDIA_SET_JOB_STALL) == 0) {
        return &s->job_stall;
    }

    if (strcmp(name, MEDIA_SET_MAX_DURATION) == 0) {
        return &s->max_duration;
    }

    if (strcmp(name, MEDIA_SET_EXPORT_TTL) == 0) {
        return &s->export_ttl;
    }

    if (strcmp(name, MEDIA_SET_SWEEP_INTERVAL) == 0) {
        return &s->sweep_interval;
    }

    return NULL;
}


void
media_settings_free(media_settings_t *s)
{
    free(s->pg);
    free(s->storage);
    free(s->stripe_key_file);
    free(s->stripe_api_url);
    free(s->public_url);
    media_s3_settings_free(s);
}


/* object storage: media_storage s3://..., media_s3_* (s3.c uses them) -- */

static int
media_s3_setting(media_settings_t *s, const char *name, char **args,
    int nargs, int line, char *err, size_t errlen)
{
    size_t       n;
    char       **field;
    const char  *why, *v;

    if (strcmp(name, MEDIA_SET_STORAGE) == 0) {
        if (nargs < 1 || strncmp(args[0], MEDIA_S3_SCHEME,
                                 sizeof(MEDIA_S3_SCHEME) - 1) != 0)
        {
            return 0;                 /* a directory: read as a path */
        }

        if (media_s3_parse_url(args[0], strlen(args[0]), &s->s3.url, &why)
            != 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": %s", line,
                     name, args[0], why);
            return -1;
        }

        n = sizeof(MEDIA_STORAGE_SPOOL) - 1;

        if (nargs > 2
            || (nargs == 2 && (strncmp(args[1], MEDIA_STORAGE_SPOOL, n) != 0
                               || args[1][n] != '/')))
        {
            snprintf(err, errlen, "line %d: invalid %s parameter \"%s\": "
                     "expected spool=/absolute/path", line, name,
                     nargs == 2 ? args[1] : args[2]);
            return -1;
        }

        s->s3.on = 1;

        if (nargs == 2) {
            free(s->storage);
            s->storage = strdup(args[1] + n);
            if (s->storage == NULL) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }

        return 1;
    }

    if (strcmp(name, MEDIA_SET_S3_ENDPOINT) == 0) {
        field = &s->s3.endpoint;

        if (nargs != 1
            || media_conf_parse_url(args[0], strlen(args[0])) != 0)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected an "
                     "http:// or https:// URL without a query, such as "
                     "\"https://s3.eu-west-1.amazonaws.com\"", line, name,
                     nargs ? args[0] : "");
            return -1;
        }

    } else if (strcmp(name, MEDIA_SET_S3_REGION) == 0) {
        field = &s->s3.region;
        v = nargs == 1 ? args[0] : "";
        n = strlen(v);

        if (nargs != 1 || n == 0 || n > MEDIA_S3_REGION_MAX
            || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-") != n)
        {
            snprintf(err, errlen, "line %d: invalid %s \"%s\": expected a "
                     "region name such as \"eu-west-1\"", line, name, v);
            return -1;
        }

    } else if (strcmp(name, MEDIA_SET_S3_CREDENTIALS) == 0) {
        field = &s->s3.credentials;

        if (nargs != 1) {
            snprintf(err, errlen, "line %d: %s takes one file", line, name);
            return -1;
        }

    } else {
        return 0;
    }

    free(*field);
    *field = strdup(args[0]);
    if (*field == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    /* no "/" at the endpoint's end: keys are appended with one */
    n = strlen(*field);
    while (field == &s->s3.endpoint && n > 0 && (*field)[n - 1] == '/') {
        (*field)[--n] = '\0';
    }

    return 1;
}


static int
media_s3_settings_check(media_settings_t *s, char *err, size_t errlen)
{
    int          fd;
    char         text[4096];
    ssize_t      n;
    const char  *why;

    if (!s->s3.on) {
        return 0;
    }

    if (s->s3.endpoint == NULL || s->s3.credentials == NULL) {
        snprintf(err, errlen, "%s s3://... needs %s and %s",
                 MEDIA_SET_STORAGE, MEDIA_SET_S3_ENDPOINT,
                 MEDIA_SET_S3_CREDENTIALS);
        return -1;
    }

    /* before any thread of the transcoder's runs: it is not thread-safe */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "curl_global_init failed");
        return -1;
    }

    if (s->s3.region == NULL) {
        s->s3.region = strdup(MEDIA_S3_DEFAULT_REGION);
        if (s->s3.region == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }

    fd = open(s->s3.credentials, O_RDONLY);
    if (fd == -1) {
        snprintf(err, errlen, "%s \"%s\": %s", MEDIA_SET_S3_CREDENTIALS,
                 s->s3.credentials, strerror(errno));
        return -1;
    }

    n = read(fd, text, sizeof(text));
    close(fd);

    if (n < 0 || n == (ssize_t) sizeof(text)
        || media_s3_parse_keys(text, (size_t) (n < 0 ? 0 : n), &s->s3.keys,
                               &why)
           != 0)
    {
        snprintf(err, errlen, "%s \"%s\": %s", MEDIA_SET_S3_CREDENTIALS,
                 s->s3.credentials,
                 n < 0 ? strerror(errno)
                 : n == (ssize_t) sizeof(text) ? "larger than 4 KB" : why);
        OPENSSL_cleanse(text, sizeof(text));
        return -1;
    }

    OPENSSL_cleanse(text, sizeof(text));

    return 0;
}


static void
media_s3_settings_free(media_settings_t *s)
{
    free(s->s3.endpoint);
    free(s->s3.region);
    free(s->s3.credentials);
    OPENSSL_cleanse(&s->s3.keys, sizeof(media_s3_keys_t));
}


static void
media_on_signal(int signo)
{
    (void) signo;
    media_worker_stop = 1;
}


void
media_signals(void)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = media_on_signal;
    sigemptyset(&sa.sa_mask);

    /* no SA_RESTART: a blocking call returns EINTR and we look at the flag */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}


void
media_sleep(long ms)
{
    struct timespec  ts;

    while (ms > 0 && !media_worker_stop) {
        long  step = ms > 100 ? 100 : ms;

        ts.tv_sec = 0;
        ts.tv_nsec = step * 1000000L;
        nanosleep(&ts, NULL);
        ms -= step;
    }
}


PGconn *
media_pg_connect(const media_settings_t *s)
{
    PGconn  *pg;

    pg = PQconnectdb(s->pg);

    if (pg == NULL) {
        media_log_error("postgres connect: out of memory");
        return NULL;
    }

    if (PQstatus(pg) != CONNECTION_OK) {
        media_log_error("postgres connect: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }

    if (media_pg_tenant(pg, media_worker_tenant) != 0) {
        PQfinish(pg);
        return NULL;
    }

    return pg;
}


static media_stmt_t  media_sql_tenant =
    media_stmt("worker_tenant", 1,
               "SELECT set_config('media.tenant', $1, false)");


/*
 * Which tenant's rows the session sees (sql/031_tenants.sql): "*" for
 * all, as a worker starts; a job's work runs as the job's tenant.  Set,
 * not left to PGOPTIONS or the conninfo: an unset media.tenant fails
 * every statement on purpose.
 */
int
media_pg_tenant(PGconn *pg, const char *tenant)
{
    PGresult     *res;
    const char   *params[1];

    params[0] = tenant;

    res = media_pg_exec(pg, &media_sql_tenant, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("postgres tenant %s: %s", tenant,
                        PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }

    PQclear(res);
    return 0;
}


time_t  media_redis_new_server;

/* the sentinel to ask first: the one after the last that failed us */
static int   media_redis_sentinel;
static char  media_redis_run_id[48];


static redisContext *media_redis_open(const media_settings_t *s,
    const media_addr_t *addr);
static int media_redis_ask(const media_settings_t *s,
    const media_addr_t *sentinel, media_addr_t *primary);
static void media_redis_note_server(redisContext *rc);


redisContext *
media_redis_connect(const media_settings_t *s)
{
    int             i, k;
    media_addr_t    primary;
    redisContext   *rc;

    if (s->redis.nsentinels == 0) {
        rc = media_redis_open(s, &s->redis.addr);
        if (rc) {
            media_redis_note_server(rc);
        }
        return rc;
    }

    for (i = 0; i < s->redis.nsentinels; i++) {
        k = media_redis_sentinel % s->redis.nsentinels;

        if (media_redis_ask(s, &s->redis.sentinels[k], &primary) == 0
            && (rc = media_redis_open(s, &primary)) != NULL)
        {
            if (media_redis_is_primary(rc)) {
                media_redis_note_server(rc);
                return rc;
            }

            media_log_error("redis connect: %s:%d, named by sentinel "
                            "%s:%d, is not a primary (a failover under "
                            "way?): asking the next sentinel", primary.host,
                            primary.port, s->redis.sentinels[k].host,
                            s->redis.sentinels[k].port);
            redisFree(rc);
        }

        media_redis_sentinel = (k + 1) % s->redis.nsentinels;
    }

    return NULL;
}


/* SENTINEL get-master-addr-by-name: 0 and the primary's address, or -1 */
static int
media_redis_ask(const media_settings_t *s, const media_addr_t *sentinel,
    media_addr_t *primary)
{
    int            rv;
    long           port;
    redisReply    *reply;
    redisContext  *sc;

    sc = media_redis_open(s, sentinel);
    if (sc == NULL) {
        return -1;
    }

    rv = -1;

    reply = redisCommand(sc, "SENTINEL get-master-addr-by-name %s",
                         s->redis.master);

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        media_log_error("redis sentinel %s:%d: %s", sentinel->host,
                        sentinel->port, reply ? reply->str : sc->errstr);

    } else if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
               || reply->element[0]->type != REDIS_REPLY_STRING
               || reply->element[1]->type != REDIS_REPLY_STRING
               || reply->element[0]->len >= sizeof(primary->host)
               || media_conf_parse_uint(reply->element[1]->str,
                                        reply->element[1]->len, 65535, &port)
                  != 0)
    {
        media_log_error("redis sentinel %s:%d does not know a primary "
                        "named \"%s\" (check media_redis and the "
                        "sentinels' \"sentinel monitor\" line)",
                        sentinel->host, sentinel->port, s->redis.master);

    } else {
        memset(primary, 0, sizeof(media_addr_t));
        memcpy(primary->host, reply->element[0]->str,
               reply->element[0]->len);
        primary->port = (int) port;
        rv = 0;
    }

    freeReplyObject(reply);
    redisFree(sc);
    return rv;
}


/* ROLE answers "master" first on a primary */
int
media_redis_is_primary(redisContext *rc)
{
    int          yes;
    redisReply  *reply;

    reply = redisCommand(rc, "ROLE");

    yes = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements > 0
          && reply->element[0]->type == REDIS_REPLY_STRING
          && strcmp(reply->element[0]->str, "master") == 0;

    freeReplyObject(reply);
    return yes;
}


/* run_id, from INFO server, tells one server (or start) from another */
static void
media_redis_note_server(redisContext *rc)
{
    char         id[48];
    size_t       n;
    const char  *p;
    redisReply  *reply;

    reply = redisCommand(rc, "INFO server");

    if (reply == NULL || reply->type != REDIS_REPLY_STRING
        || (p = strstr(reply->str, "run_id:")) == NULL)
    {
        freeReplyObject(reply);
        return;
    }

    p += 7;
    n = strcspn(p, "\r\n");
    if (n >= sizeof(id)) {
        n = sizeof(id) - 1;
    }
    memcpy(id, p, n);
    id[n] = '\0';

    freeReplyObject(reply);

    if (media_redis_run_id[0] && strcmp(id, media_redis_run_id) != 0) {
        media_redis_new_server = time(NULL);
        media_log_info("redis: another server than before (a failover or "
                       "a restart): every queued job is enqueued again");
    }

    memcpy(media_redis_run_id, id, n + 1);
}


static redisContext *
media_redis_open(const media_settings_t *s, const media_addr_t *addr)
{
    redisContext    *rc;
    redisReply      *reply;
    struct timeval   tv;

    tv.tv_sec = s->redis_timeout / 1000;
    tv.tv_usec = (s->redis_timeout % 1000) * 1000;

    if (addr->port) {
        rc = redisConnectWithTimeout(addr->host, addr->port, tv);
    } else {
        rc = redisConnectUnixWithTimeout(addr->path, tv);
    }

    if (rc == NULL) {
        media_log_error("redis connect: out of memory");
        return NULL;
    }

    if (rc->err) {
        media_log_error("redis connect %s:%d: %s",
                        addr->port ? addr->host : addr->path, addr->port,
                        rc->errstr);
        redisFree(rc);
        return NULL;
    }

    /* reads block no longer than the timeout (XREADGROUP BLOCK is shorter) */
    if (redisSetTimeout(rc, tv) != REDIS_OK) {
        media_log_error("redis connect: set timeout: %s", rc->errstr);
        redisFree(rc);
        return NULL;
    }

    reply = redisCommand(rc, "PING");
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        media_log_error("redis connect: PING: %s",
                        reply ? reply->str : rc->errstr);
        freeReplyObject(reply);
        redisFree(rc);
        return NULL;
    }

    freeReplyObject(reply);
    return rc;
}


int
media_path(char *buf, size_t size, const char *fmt, ...)
{
    int      n;
    va_list  args;

    va_start(args, fmt);
    n = vsnprintf(buf, size, fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }

    return 0;
}


long
media_backoff(long *cur, long max_ms)
{
    long  wait;

    if (*cur < 100) {
        *cur = 100;
    }

    wait = *cur;
    *cur = *cur * 2 > max_ms ? max_ms : *cur * 2;

    return wait;
}


PGresult *
media_pg_exec(PGconn *pg, media_stmt_t *st, const char *const *params)
{
    int        pid;
    PGresult  *res;

    pid = PQbackendPID(pg);

    if (st->conn != pg || st->pid != pid) {
        res = PQprepare(pg, st->name, st->sql, st->nparams, NULL);

        /* 42P05: this connection has it already (the statement was last
         * used on another connection of this process) */
        if (PQresultStatus(res) != PGRES_COMMAND_OK
            && !(PQresultErrorField(res, PG_DIAG_SQLSTATE) != NULL
                 && strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE),
                           "42P05") == 0))
        {
            return res;
        }

        PQclear(res);
        st->conn = pg;
        st->pid = pid;
    }

    return PQexecPrepared(pg, st->name, st->nparams, params, NULL, NULL, 0);
}


static int
media_pg_command(PGconn *pg, const char *sql)
{
    int        ok;
    PGresult  *res;

    res = PQexec(pg, sql);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);

    return ok;
}


int
media_pg_begin(PGconn *pg)
{
    return media_pg_command(pg, "BEGIN");
}


int
media_pg_step(PGconn *pg, int ok, media_stmt_t *st,
    const char *const *params)
{
    PGresult  *res;

    if (!ok) {
        return 0;
    }

    res = media_pg_exec(pg, st, params);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);

    return ok;
}


int
media_pg_end(PGconn *pg, int ok)
{
    return media_pg_command(pg, ok ? "COMMIT" : "ROLLBACK") && ok;
}
