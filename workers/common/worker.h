/*
 * What every worker shares: its settings (read from the file nginx reads),
 * logging, signals, and connections to PostgreSQL and Redis.
 *
 * Workers are ordinary blocking programs: the event-loop rules of the
 * nginx module do not apply here, only "check every result, carry the
 * error up with context".
 */

#ifndef _MEDIA_WORKER_H_INCLUDED_
#define _MEDIA_WORKER_H_INCLUDED_


#include <signal.h>
#include <time.h>
#include <sys/types.h>

#include <libpq-fe.h>
#include <hiredis/hiredis.h>

#include "media_shared.h"
#include "media_conf.h"
#include "media_s3.h"


/* media_storage s3://...: renditions in a bucket (s3.c) */
typedef struct {
    int               on;
    media_s3_url_t    url;
    char             *endpoint;     /* media_s3_endpoint, no "/" at its end */
    char             *region;       /* media_s3_region */
    char             *credentials;  /* media_s3_credentials: a file ... */
    media_s3_keys_t   keys;         /* ... read at start; never logged */
} media_s3_conf_t;


typedef struct {
    const char    *conf_file;
    char          *pg;               /* libpq conninfo */
    media_redis_addr_t  redis;       /* or its sentinels */
    int            redis_set;
    long           redis_timeout;    /* ms */
    char          *storage;          /* a directory; with s3: the spool */
    media_s3_conf_t  s3;
    long           job_lease;        /* ms */
    long           job_retry;        /* ms */
    long           job_stall;        /* ms without progress: watchdog */
    long           transcode_jobs;   /* jobs at once */
    long           transcode_threads;  /* encoder threads per rung, 0: auto */
    long           transcode_memory;   /* bytes per consumer, 0: off */
    long           max_pixels;       /* per picture, as displayed */
    long           max_width;        /* as written ("8192x4320"), or 0 */
    long           max_height;
    long           max_duration;     /* ms */
    char          *stripe_key_file;  /* holds the sk_ key; never logged */
    char          *stripe_api_url;   /* NULL: MEDIA_DEFAULT_STRIPE_API_URL */
    char          *public_url;       /* the site, for Stripe's redirects */
    long           export_ttl;       /* ms an export is kept */
    long           sweep_interval;   /* ms between lifecycle passes */
    long           source_retention; /* ms an original is kept, 0: off */
    long           audio_rate;       /* Hz, the audio ladder's */
} media_settings_t;


extern const char             *media_worker_name;
extern volatile sig_atomic_t   media_worker_stop;
extern const char             *media_worker_metrics;   /* --metrics */


#define MEDIA_DEFAULT_CONF  "/etc/nginx/nginx.conf"

/*
 * Reads the media_* settings from conf_file (the file nginx reads, or one
 * it includes); logs a message naming the line and exits 2 on a bad value.
 */
void media_settings_load(media_settings_t *s, const char *conf_file);

/* every setting at its default, as if the file named none */
void media_settings_defaults(media_settings_t *s);

/* "-c file" from argv, MEDIA_DEFAULT_CONF without; usage and exit 2 else */
const char *media_conf_arg(int argc, char **argv);
void media_settings_free(media_settings_t *s);

/*
 * One JSON object a line on stderr (log.c), for every worker:
 *   {"time":"2026-11-22T10:00:00.123Z","level":"error",
 *    "worker":"media-transcoder","pid":123,"message":"...",
 *    "job":"<uuid>","media":"<uuid>","attempt":2,"duration":1.234}
 * job, media, attempt and duration (seconds since the job began) only
 * while this process runs a job (media_log_job).
 */
void media_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 1 in the long-running workers (media_worker_main); the command-line
 * tools keep "time name[pid] level: message" lines for people */
extern int  media_log_json;

/* the job this process runs from now (id NULL: none any more); its
 * fields go on every line until then */
void media_log_job(const char *id, const char *media, int attempt);

#define media_log_info(...)   media_log("info", __VA_ARGS__)
#define media_log_error(...)  media_log("error", __VA_ARGS__)

/* SIGTERM and SIGINT set media_worker_stop; SIGPIPE is ignored */
void media_signals(void);

/* sleeps up to ms, waking early when asked to stop */
void media_sleep(long ms);

/* NULL with the error logged; callers retry with media_backoff; the
 * session's tenant is media_worker_tenant */
PGconn *media_pg_connect(const media_settings_t *s);

/* the tenant whose rows the session sees ("*": all); 0 or -1 logged */
int media_pg_tenant(PGconn *pg, const char *tenant);

/* "*" unless the program names one before connecting */
extern const char  *media_worker_tenant;

/*
 * A named statement, prepared once per connection, as the module's are:
 * a worker declares it static beside its use and runs it with
 * media_pg_exec, which prepares it first on a connection it has not seen
 * (a new connection, or one after a reconnect: a different backend).
 */
typedef struct {
    const char  *name;
    int          nparams;
    const char  *sql;
    PGconn      *conn;          /* prepared on this connection ... */
    int          pid;           /* ... to this backend */
} media_stmt_t;

#define media_stmt(name, nparams, sql)                                        \
    { "media_" name, nparams, sql, NULL, 0 }

/* the statement's result, or the failed Parse's (check it the same way) */
PGresult *media_pg_exec(PGconn *pg, media_stmt_t *st,
    const char *const *params);

/*
 * A transaction of commands: media_pg_begin, then media_pg_step for each
 * statement (it runs only while every earlier one went well), then
 * media_pg_end, which commits if all did and rolls back otherwise.  Each
 * says whether all went well so far (1) or not (0); PQerrorMessage why.
 */
int media_pg_begin(PGconn *pg);
int media_pg_step(PGconn *pg, int ok, media_stmt_t *st,
    const char *const *params);
int media_pg_end(PGconn *pg, int ok);

/*
 * A connection to the Redis primary: media_redis as written, or the
 * primary its sentinels name, checked with ROLE.  media_redis_new_server
 * is when (time(NULL)) this process last met another server than its
 * previous connection's (a failover, or a restart), 0 never: the
 * reconciler then re-enqueues every queued row enqueued before, since
 * entries the old one took may not have reached the new one.
 */
redisContext *media_redis_connect(const media_settings_t *s);
int media_redis_is_primary(redisContext *rc);
extern time_t  media_redis_new_server;

/* snprintf for paths: -1 (and errno ENAMETOOLONG) rather than cut short */
int media_path(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* a consumer's name in its stream group and in jobs.worker: host-pid */
void media_consumer_name(pid_t pid, char *buf, size_t size);

/* next wait for a retry: doubles from 100 ms up to max_ms */
long media_backoff(long *cur, long max_ms);





typedef struct media_queue_s  media_queue_t;


/*
 * A worker's periodic work besides its jobs (the sweeper's lifecycle),
 * set by its main() before media_worker_main; NULL: none.  Its consumer
 * calls it between jobs, about once a second: it decides itself whether
 * it is due.  -1 when a connection failed (the consumer reconnects).
 */
typedef int (*media_tick_pt)(const media_settings_t *s, PGconn *pg,
    redisContext *rc);

extern media_tick_pt  media_worker_tick;


/*
 * The worker's life: load settings, connect to PostgreSQL and Redis
 * (retrying with backoff while they are down), make sure the consumer group
 * exists, then watch both connections until SIGTERM.  Returns the exit
 * status for main().
 */
int media_worker_main(int argc, char **argv, const media_queue_t *queue);


#endif /* _MEDIA_WORKER_H_INCLUDED_ */
