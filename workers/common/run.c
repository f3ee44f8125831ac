/*
 * The life of a worker binary.
 *
 * A worker that takes jobs is a supervisor and its consumers: the
 * supervisor forks one consumer per job at once (media_transcode_jobs for
 * transcoding, one otherwise), takes no job itself, and watches them with
 * waitpid.  A consumer that dies (a crash, kill -9, the watchdog) has its
 * job handed on at once (media_queue_handoff) and is replaced, so a job
 * waits for its lease to lapse only when the whole host is lost.
 *
 * A worker without a handler connects and waits.
 */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"
#include "queue.h"
#include "metrics.h"


#define MEDIA_CHECK_EVERY     5000    /* ms between connection checks */
#define MEDIA_RECONCILE_EVERY 5000    /* ms between reconciler passes */
#define MEDIA_RETRY_MAX       5000    /* ms, longest wait between retries */
#define MEDIA_BLOCK           1000    /* ms an XREADGROUP waits */
#define MEDIA_CONSUMERS_MAX   64
#define MEDIA_HANDOFF_MAX     64      /* dead consumers not yet handed on */
#define MEDIA_CRASH_LOOP      1000    /* ms: a consumer dying this young
                                         is restarted with backoff */


media_tick_pt  media_worker_tick;


typedef struct {
    pid_t        pid;                 /* 0: to be started at start_at */
    long         start_at;            /* ms, monotonic */
    long         started;
    long         backoff;
} media_consumer_t;


static int media_supervise(const media_settings_t *s,
    const media_queue_t *q);
static pid_t media_fork_consumer(const media_settings_t *s,
    const media_queue_t *q);
static void media_consume(const media_settings_t *s, const media_queue_t *q,
    pid_t supervisor);
static void media_limit_memory(const media_settings_t *s,
    const media_queue_t *q);
static int media_serve(const media_settings_t *s, const media_queue_t *q,
    PGconn *pg, redisContext *rc);
static void media_stop_consumers(media_consumer_t *c, int n);
static void media_ended(pid_t pid, int status, char *buf, size_t size);
static int media_connections_ok(PGconn *pg, redisContext *rc);
static int media_supervisor_connect(const media_settings_t *s);
static long media_ms(void);


int
media_worker_main(int argc, char **argv, const media_queue_t *queue)
{
    media_settings_t   s;

    media_log_json = 1;
    media_signals();
    media_settings_load(&s, media_conf_arg(argc, argv));

    media_log_info("starting: settings from %s, stream %s", s.conf_file,
                   queue->stream);

    /* before the consumers are forked: they count into it */
    if (media_metrics_init() != 0) {
        media_settings_free(&s);
        return 1;
    }

    if (queue->handler) {
        (void) media_supervise(&s, queue);

    } else {
        media_consume(&s, queue, 0);
    }

    media_log_info("stopping: SIGTERM");

    media_metrics_done();

    media_settings_free(&s);

    return 0;
}


void
media_consumer_name(pid_t pid, char *buf, size_t size)
{
    char  host[32];

    if (gethostname(host, sizeof(host)) != 0) {
        strcpy(host, "worker");
    }
    host[sizeof(host) - 1] = '\0';

    snprintf(buf, size, "%s-%d", host, (int) pid);
}


/*
 * The supervisor's own connections, made only when a hand-off needs them.
 * File-scope: a consumer forked later holds a copy it must not close (the
 * sockets are the supervisor's) and never frees; reachable from here, they
 * are not reported as leaks when it exits.
 */
static PGconn        *media_supervisor_pg;
static redisContext  *media_supervisor_rc;


/*
 * Forks the consumers and keeps them running until SIGTERM; hands on the
 * job of each one that dies.
 */
static int
media_supervise(const media_settings_t *s, const media_queue_t *q)
{
    int                i, n, status, nhandoff, running;
    char               how[128], names[MEDIA_HANDOFF_MAX][64];
    long               now, backoff;
    pid_t              pid;
    media_consumer_t   c[MEDIA_CONSUMERS_MAX];

    n = strcmp(q->type, "transcode") == 0 ? (int) s->transcode_jobs : 1;
    if (n > MEDIA_CONSUMERS_MAX) {
        n = MEDIA_CONSUMERS_MAX;
    }

    memset(c, 0, sizeof(c));
    media_supervisor_pg = NULL;
    media_supervisor_rc = NULL;
    nhandoff = 0;
    backoff = 0;

    while (!media_worker_stop) {
        now = media_ms();

        /* start what is due: at first, and after a death */
        for (i = 0; i < n; i++) {
            if (c[i].pid == 0 && now >= c[i].start_at) {
                c[i].pid = media_fork_consumer(s, q);
                if (c[i].pid == 0) {
                    return 0;           /* the consumer, ending */
                }
                c[i].started = now;
                if (c[i].pid < 0) {
                    c[i].pid = 0;
                    c[i].start_at = now + MEDIA_RETRY_MAX;
                }
            }
        }

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            for (i = 0; i < n && c[i].pid != pid; i++) { /* void */ }

            media_ended(pid, status, how, sizeof(how));
            media_log_error("consumer %d %s; handing on its job", (int) pid,
                            how);

            if (nhandoff < MEDIA_HANDOFF_MAX) {
                media_consumer_name(pid, names[nhandoff], sizeof(names[0]));
                nhandoff++;
            }

            if (i == n) {
                continue;
            }

            /* a consumer that cannot even start is not restarted in a
             * tight loop */
            c[i].pid = 0;
            c[i].start_at = now;

            if (now - c[i].started < MEDIA_CRASH_LOOP) {
                c[i].start_at = now + media_backoff(&c[i].backoff,
                                                    MEDIA_RETRY_MAX);
            } else {
                c[i].backoff = 0;
            }
        }

        /* hand-offs first, so that the new consumer finds the job */
        while (nhandoff > 0) {
            if (media_supervisor_connect(s) != 0
                || media_queue_handoff(q, media_supervisor_pg,
                                       media_supervisor_rc, names[0])
                   != 0)
            {
                /* the lease remains the backstop; try again shortly */
                media_sleep(media_backoff(&backoff, MEDIA_RETRY_MAX));
                break;
            }

            backoff = 0;
            nhandoff--;
            memmove(names[0], names[1], nhandoff * sizeof(names[0]));
        }

        for (i = 0, running = 0; i < n; i++) {
            running += c[i].pid > 0;
        }

        media_metrics_consumers(running);

        /* answers Prometheus meanwhile */
        media_metrics_wait(50);
    }

    media_stop_consumers(c, n);

    if (media_supervisor_pg) {
        PQfinish(media_supervisor_pg);
    }

    if (media_supervisor_rc) {
        redisFree(media_supervisor_rc);
    }

    media_supervisor_pg = NULL;
    media_supervisor_rc = NULL;

    return 0;
}


/* the supervisor's connections, made again when lost; 0 when both stand */
static int
media_supervisor_connect(const media_settings_t *s)
{
    if (media_supervisor_pg == NULL
        || PQstatus(media_supervisor_pg) != CONNECTION_OK)
    {
        if (media_supervisor_pg) {
            PQfinish(media_supervisor_pg);
        }
        media_supervisor_pg = media_pg_connect(s);
    }

    if (media_supervisor_rc == NULL || media_supervisor_rc->err
        || (s->redis.nsentinels
            && !media_redis_is_primary(media_supervisor_rc)))
    {
        if (media_supervisor_rc) {
            redisFree(media_supervisor_rc);
        }
        media_supervisor_rc = media_redis_connect(s);
    }

    return media_supervisor_pg && media_supervisor_rc ? 0 : -1;
}


/* returns the child's pid to the supervisor; the child never returns */
static pid_t
media_fork_consumer(const media_settings_t *s, const media_queue_t *q)
{
    pid_t  pid, supervisor;

    supervisor = getpid();

    pid = fork();

    if (pid < 0) {
        media_log_error("fork: %s", strerror(errno));
        return -1;
    }

    if (pid > 0) {
        return pid;
    }

    /*
     * A consumer does not outlive its supervisor: it is asked to stop
     * (and gives its job back) when the supervisor goes, however it goes.
     */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0) {
        media_log_error("prctl PR_SET_PDEATHSIG: %s", strerror(errno));
    }

    if (getppid() != supervisor) {
        _exit(0);
    }

    /* the supervisor's sockets; the shared counters stay */
    media_metrics_done();

    media_limit_memory(s, q);
    media_consume(s, q, supervisor);

    return 0;
}


/*
 * media_transcode_memory: RLIMIT_DATA on each transcode consumer.  It
 * counts what malloc and anonymous mmap hand out (not shared libraries,
 * not stacks), so it bounds exactly what a hostile file can make a
 * decoder allocate; past it allocations fail, the decoder returns ENOMEM
 * and the job fails as the file's fault.  Not under AddressSanitizer or
 * ThreadSanitizer, whose shadow memory counts as data.
 */
static void
media_limit_memory(const media_settings_t *s, const media_queue_t *q)
{
    if (strcmp(q->type, "transcode") != 0 || s->transcode_memory == 0) {
        return;
    }

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    media_log_info("consumer: %s not applied in a sanitizer build",
                   MEDIA_SET_TRANSCODE_MEMORY);
#else
    struct rlimit  rl;

    rl.rlim_cur = (rlim_t) s->transcode_memory;
    rl.rlim_max = (rlim_t) s->transcode_memory;

    if (setrlimit(RLIMIT_DATA, &rl) != 0) {
        media_log_error("consumer: setrlimit RLIMIT_DATA %ld: %s",
                        s->transcode_memory, strerror(errno));
    }
#endif
}


/*
 * A consumer's life: connect, serve, reconnect, until asked to stop or its
 * supervisor is gone.  Without a supervisor (0) and without a handler: a
 * worker with no jobs yet, keeping its connections checked.
 */
static void
media_consume(const media_settings_t *s, const media_queue_t *q,
    pid_t supervisor)
{
    char           consumer[64];
    long           backoff;
    PGconn        *pg;
    redisContext  *rc;

    pg = NULL;
    rc = NULL;
    backoff = 0;
    media_consumer_name(getpid(), consumer, sizeof(consumer));

    while (!media_worker_stop && (supervisor == 0 || getppid() == supervisor))
    {

        if (pg == NULL) {
            pg = media_pg_connect(s);
        }

        if (rc == NULL && (rc = media_redis_connect(s)) != NULL
            && media_queue_group(rc, q) != 0)
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

        if (q->handler) {
            (void) media_serve(s, q, pg, rc);

        } else {
            while (!media_worker_stop && media_connections_ok(pg, rc)
                   && media_beat(rc, q, consumer) == 0)
            {
                media_sleep(MEDIA_CHECK_EVERY);
            }
        }

        if (PQstatus(pg) != CONNECTION_OK) {
            PQfinish(pg);
            pg = NULL;
        }

        /* Sentinel moved the primary while this one stayed up: it now
         * answers READONLY, and the next primary is asked for */
        if (rc->err || (s->redis.nsentinels && !media_redis_is_primary(rc))) {
            redisFree(rc);
            rc = NULL;
        }
    }

    if (pg) {
        PQfinish(pg);
    }

    if (rc) {
        media_beat_end(rc, q, consumer);
        redisFree(rc);
    }
}


/* SIGTERM passed on: each consumer finishes or releases its job */
static void
media_stop_consumers(media_consumer_t *c, int n)
{
    int  i;

    for (i = 0; i < n; i++) {
        if (c[i].pid > 0) {
            kill(c[i].pid, SIGTERM);
        }
    }

    for (i = 0; i < n; i++) {
        while (c[i].pid > 0 && waitpid(c[i].pid, NULL, 0) < 0
               && errno == EINTR)
        {
            /* void */
        }
    }
}


/* "was killed by signal 9", "exited with status 3" */
static void
media_ended(pid_t pid, int status, char *buf, size_t size)
{
    (void) pid;

    if (WIFSIGNALED(status)) {
        snprintf(buf, size, "was killed by signal %d", WTERMSIG(status));

    } else {
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
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
    char             consumer[64];
    time_t           last;
    struct timeval   tv;

    /* a consumer name per process: its pending entries are its own */
    media_consumer_name(getpid(), consumer, sizeof(consumer));

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

        if (media_worker_tick && media_worker_tick(s, pg, rc) != 0) {
            return -1;
        }

        if (media_beat(rc, q, consumer) != 0) {
            return -1;
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


static long
media_ms(void)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
