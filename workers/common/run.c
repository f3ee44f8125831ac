/*
 * The worker loop every worker binary runs.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"
#include "queue.h"


#define MEDIA_CHECK_EVERY     5000    /* ms between connection checks */
#define MEDIA_RECONCILE_EVERY 5000    /* ms between reconciler passes */
#define MEDIA_RETRY_MAX       5000    /* ms, longest wait between retries */
#define MEDIA_BLOCK           1000    /* ms an XREADGROUP waits */


static int media_serve(const media_settings_t *s, const media_queue_t *q,
    PGconn *pg, redisContext *rc);
static int media_spawn(const media_settings_t *s, const media_queue_t *q,
    pid_t *children, int max);
static void media_reap(pid_t *children, int n);
static int media_connections_ok(PGconn *pg, redisContext *rc);


int
media_worker_main(int argc, char **argv, const media_queue_t *queue)
{
    int                nchildren;
    long               backoff;
    pid_t              children[64];
    PGconn            *pg;
    redisContext      *rc;
    media_settings_t   s;

    media_signals();
    media_settings_load(&s, media_conf_arg(argc, argv));

    media_log_info("starting: settings from %s, stream %s", s.conf_file,
                   queue->stream);

    /* jobs at once: as many consumer processes, each on its own */
    nchildren = media_spawn(&s, queue, children, 64);

    pg = NULL;
    rc = NULL;
    backoff = 0;

    while (!media_worker_stop) {

        if (pg == NULL) {
            pg = media_pg_connect(&s);
        }

        if (rc == NULL && (rc = media_redis_connect(&s)) != NULL
            && media_queue_group(rc, queue) != 0)
        {
            redisFree(rc);
            rc = NULL;
        }

        if (pg == NULL || rc == NULL) {
            media_sleep(media_backoff(&backoff, MEDIA_RETRY_MAX));
            continue;
        }

        backoff = 0;

        media_log_info("ready: postgres and redis connected");

        if (queue->handler) {
            (void) media_serve(&s, queue, pg, rc);

        } else {
            while (!media_worker_stop && media_connections_ok(pg, rc)) {
                media_sleep(MEDIA_CHECK_EVERY);
            }
        }

        if (PQstatus(pg) != CONNECTION_OK) {
            PQfinish(pg);
            pg = NULL;
        }

        if (rc->err) {
            redisFree(rc);
            rc = NULL;
        }
    }

    media_reap(children, nchildren);

    media_log_info("stopping: SIGTERM");

    if (pg) {
        PQfinish(pg);
    }

    if (rc) {
        redisFree(rc);
    }

    media_settings_free(&s);

    return 0;
}


/* media_transcode_jobs - 1 more consumers; returns how many started */
static int
media_spawn(const media_settings_t *s, const media_queue_t *q,
    pid_t *children, int max)
{
    int    i, n;
    pid_t  pid;

    n = (q->handler && strcmp(q->type, "transcode") == 0)
        ? (int) s->transcode_jobs - 1 : 0;

    for (i = 0; i < n && i < max; i++) {
        pid = fork();

        if (pid == 0) {
            return 0;                   /* a child consumes, spawns none */
        }

        if (pid < 0) {
            media_log_error("fork: %s", strerror(errno));
            break;
        }

        children[i] = pid;
    }

    return i;
}


/* SIGTERM passed on: each child finishes or releases its job */
static void
media_reap(pid_t *children, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        kill(children[i], SIGTERM);
    }

    for (i = 0; i < n; i++) {
        while (waitpid(children[i], NULL, 0) < 0 && errno == EINTR) {
            /* void */
        }
    }
}


/*
 * Takes jobs until asked to stop or a connection fails; the reconciler
 * runs at start and every few seconds.
 */
static int
media_serve(const media_settings_t *s, const media_queue_t *q, PGconn *pg,
    redisContext *rc)
{
    char             consumer[64], host[32];
    time_t           last;
    struct timeval   tv;

    /* a consumer name per process: its pending entries are its own */
    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "worker");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(consumer, sizeof(consumer), "%s-%d", host, (int) getpid());

    /* a blocking read waits up to MEDIA_BLOCK: the socket must wait longer */
    tv.tv_sec = (s->redis_timeout + MEDIA_BLOCK) / 1000;
    tv.tv_usec = ((s->redis_timeout + MEDIA_BLOCK) % 1000) * 1000;
    redisSetTimeout(rc, tv);

    last = 0;

    if (media_watchdog_start(s) != 0) {
        return -1;
    }

    while (!media_worker_stop) {
        if (time(NULL) - last >= MEDIA_RECONCILE_EVERY / 1000) {
            if (media_queue_reconcile(s, q, pg, rc) != 0) {
                return -1;
            }
            last = time(NULL);
        }

        if (media_queue_turn(s, q, pg, rc, consumer, MEDIA_BLOCK) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
media_connections_ok(PGconn *pg, redisContext *rc)
{
    PGresult    *res;
    redisReply  *reply;

    res = PQexec(pg, "SELECT 1");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("postgres check: %s", PQerrorMessage(pg));
        PQclear(res);
        PQreset(pg);
        return 0;
    }
    PQclear(res);

    reply = redisCommand(rc, "PING");
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        media_log_error("redis check: %s", reply ? reply->str : rc->errstr);
        if (reply) {
            freeReplyObject(reply);
            rc->err = REDIS_ERR_OTHER;
        }
        return 0;
    }
    freeReplyObject(reply);

    return 1;
}
