/*
 * Jobs: a row in PostgreSQL (the truth) and an entry in a Redis stream
 * (the delivery), one consumer group per job type.
 *
 * A stream entry only names its job row.  Taking a job is a conditional
 * UPDATE of the row (queued, or running with a lapsed lease), so a second
 * delivery of the same entry, or a second worker, finds nothing to take.
 * A worker on a long job renews its lease on the row and its claim on the
 * entry (XCLAIM ... JUSTID), so nobody reclaims it while it works.
 */

#ifndef _MEDIA_QUEUE_H_INCLUDED_
#define _MEDIA_QUEUE_H_INCLUDED_


#include <time.h>

#include "worker.h"


typedef struct media_job_s  media_job_t;


/* returns 0: done; -1: failed (retried or dead); MEDIA_JOB_RELEASE: asked
 * to stop, give the job back untouched */
typedef int (*media_job_handler_pt)(media_job_t *job);

#define MEDIA_JOB_RELEASE  1


struct media_job_s {
    char                   id[40];
    char                   entry[64];     /* the stream entry's id */
    char                   media_id[40];
    char                   tenant[40];    /* the row's (sql/031): the
                                             session's while it runs */
    char                  *payload;       /* JSON, from the row */
    int                    attempts;      /* this one included */
    int                    max_attempts;

    char                   error[512];    /* why it failed: the detail */
    char                   reason[512];   /* why, for users: no paths */
    char                  *result;        /* JSON for the row, may be NULL */

    PGconn                *pg;
    redisContext          *redis;
    const media_settings_t *settings;
    const struct media_queue_s *queue;
    char                   consumer[64];

    int                    progress;      /* last written */
    struct timespec        progress_at;
    struct timespec        renewed_at;
    struct timespec        advanced_at;   /* the work last moved on */
    unsigned               permanent:1;   /* bad input: no retry helps */
};


/* a job given up on outside its handler (its consumer kept dying): what
 * the handler would have done on failing it, such as marking its media */
typedef void (*media_job_dead_pt)(PGconn *pg, const char *job_id,
    const char *media_id, const char *reason);


typedef struct media_queue_s {
    const char            *type;          /* jobs.type */
    const char            *stream;        /* MEDIA_STREAM_* */
    const char            *group;         /* MEDIA_GROUP_* */
    media_job_handler_pt   handler;       /* NULL: connect and wait only */
    media_job_dead_pt      dead;          /* may be NULL */
} media_queue_t;


/* XGROUP CREATE ... MKSTREAM, BUSYGROUP being fine */
int media_queue_group(redisContext *rc, const media_queue_t *q);

/*
 * One turn of the consumer: reclaim a stale entry or read a new one (up to
 * block_ms), take its row, run the handler, record the outcome.  Returns
 * -1 when a connection failed (the caller reconnects), 0 otherwise.
 */
int media_queue_turn(const media_settings_t *s, const media_queue_t *q,
    PGconn *pg, redisContext *rc, const char *consumer, long block_ms);

/* re-enqueue due queued rows that the stream may have lost (Redis
 * restarted empty, a failed XADD, a retry whose backoff has passed) */
int media_queue_reconcile(const media_settings_t *s, const media_queue_t *q,
    PGconn *pg, redisContext *rc);

/*
 * During a job: progress 0-100 (written at most once a second, published
 * on Redis), and the lease renewed when a third of it has passed.
 * Returns -1 when the lease was lost (another worker took the job).
 */
int media_job_progress(media_job_t *job, int percent);

/* the work moved on (a packet decoded): feeds the watchdog */
void media_job_advanced(media_job_t *job);

/*
 * For FFmpeg's interrupt callback: 1 when the job should be abandoned,
 * because the worker is stopping or nothing has moved for media_job_stall.
 * The callback is only asked between reads, so a thread watches too (see
 * media_watchdog_start): a job stuck where nothing asks ends the process,
 * and the job is reclaimed after its lease.
 */
int media_job_stalled(media_job_t *job);

/*
 * A consumer died holding a job (a crash, kill -9, the watchdog): the
 * supervisor gives the job back at once instead of leaving it to its
 * lease.  The attempt stays counted (once: the next take counts the next
 * one); a job whose attempts are spent is dead.  The consumer's pending
 * stream entries are put back on the stream and acknowledged.
 */
int media_queue_handoff(const media_queue_t *q, PGconn *pg,
    redisContext *rc, const char *consumer);

/*
 * The heartbeat (beat.c): "this consumer of q's type is alive", written
 * at most every MEDIA_WORKERS_BEAT ms; media_beat_end removes it when the
 * consumer stops cleanly.
 */
int media_beat(redisContext *rc, const media_queue_t *q,
    const char *consumer);
void media_beat_end(redisContext *rc, const media_queue_t *q,
    const char *consumer);

/* the watchdog thread, started once per consumer process */
int media_watchdog_start(const media_settings_t *s);

/*
 * Two kinds of failure.  A transient one (the database, the disk, a
 * crash) is retried with backoff, then the job is dead.  A permanent one
 * (the input itself: unreadable, too large, nothing decodable) fails the
 * job at once: no retry can make the same file work.
 *
 * media_job_fail: what went wrong, with its library text and paths, for
 * admins (the first call wins: the first reason is the real one).  Alone
 * it is a transient failure.
 * media_job_refuse: a permanent failure, with a sentence for the user:
 * what is wrong with their file and what to do.  Never a path.
 */
void media_job_fail(media_job_t *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * 0 when res has the status wanted; else the job fails with what was being
 * done and PostgreSQL's message, res is cleared, and -1
 */
int media_job_check(media_job_t *job, PGresult *res, ExecStatusType want,
    const char *what);
void media_job_refuse(media_job_t *job, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* what the user reads: the refusal, or, for a failure of ours, a sentence
 * saying so (and whether it will be tried again) */
const char *media_job_reason(media_job_t *job);


#endif /* _MEDIA_QUEUE_H_INCLUDED_ */
