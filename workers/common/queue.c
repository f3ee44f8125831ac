/*
 * The job queue: Redis stream delivery, PostgreSQL rows as the truth.
 *
 * Outcomes, all written to the row before the entry is acknowledged:
 *   done      status done, progress 100, result
 *   retry     a transient failure with attempts left: status queued,
 *             run_after = now + backoff, the error kept; the reconciler
 *             delivers it again when due
 *   dead      a transient failure with no attempts left: status dead, the
 *             last error kept
 *   failed    a permanent failure (the input): status failed at once
 *   released  (SIGTERM) status queued, the attempt not counted, delivered
 *             again at once
 * An entry whose row is not ours to take (already final, or leased to a
 * live worker) is acknowledged or left alone accordingly.
 */

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"
#include "metrics.h"


/* the statements of the queue, each prepared once per connection */

static media_stmt_t  media_sql_queue_claim =
    media_stmt("queue_claim", 4,
        "UPDATE jobs SET status = 'running', attempts = attempts + 1,"
        "  worker = $2, lease_until = now() + $3::int * interval '1 ms',"
        "  heartbeat_at = now(), started_at = coalesce(started_at, now())"
        " WHERE id = $1::uuid AND type = $4"
        "   AND ((status = 'queued' AND run_after <= now())"
        "        OR (status = 'running' AND lease_until < now()))"
        " RETURNING attempts, max_attempts, coalesce(media_id::text, ''),"
        "   payload::text, tenant");

static media_stmt_t  media_sql_queue_status =
    media_stmt("queue_status", 1,
        "SELECT status FROM jobs WHERE id = $1::uuid");

static media_stmt_t  media_sql_queue_done =
    media_stmt("queue_done", 3,
        "UPDATE jobs SET status = 'done', progress = 100, error = NULL,"
        "  error_detail = NULL,"
        "  result = $3::jsonb, lease_until = NULL, finished_at = now()"
        " WHERE id = $1::uuid AND worker = $2");

static media_stmt_t  media_sql_queue_release =
    media_stmt("queue_release", 2,
        "UPDATE jobs SET status = 'queued', attempts = attempts - 1,"
        "  lease_until = NULL, worker = NULL, run_after = now(),"
        "  enqueued_at = now()"
        " WHERE id = $1::uuid AND worker = $2");

static media_stmt_t  media_sql_queue_retry =
    media_stmt("queue_retry", 6,
        "UPDATE jobs SET status = $4, error = $3, error_detail = $6,"
        "  lease_until = NULL, worker = NULL,"
        "  run_after = now() + $5::int * interval '1 ms',"
        "  enqueued_at = NULL,"
        "  finished_at = CASE WHEN $4 <> 'queued' THEN now() END"
        " WHERE id = $1::uuid AND worker = $2");

static media_stmt_t  media_sql_queue_abandoned =
    media_stmt("queue_abandoned", 3,
        "UPDATE jobs SET"
        "  status = CASE WHEN attempts >= max_attempts THEN 'dead'"
        "                ELSE 'queued' END,"
        "  error = CASE WHEN attempts >= max_attempts"
        "    THEN format('processing stopped unexpectedly %s times on this"
        " file; upload it again later, or export it again first, and contact"
        " support if it keeps failing', attempts)"
        "    ELSE format('processing stopped unexpectedly (attempt %s of %s);"
        " it will be tried again shortly', attempts, max_attempts) END,"
        "  error_detail = $3, worker = NULL, lease_until = NULL,"
        "  run_after = now(), enqueued_at = now(),"
        "  finished_at = CASE WHEN attempts >= max_attempts THEN now() END"
        " WHERE worker = $1 AND type = $2 AND status = 'running'"
        " RETURNING id, status, coalesce(media_id::text, ''), error, attempts");

static media_stmt_t  media_sql_queue_reconcile =
    media_stmt("queue_reconcile", 2,
        "UPDATE jobs SET enqueued_at = now()"
        " WHERE id IN (SELECT id FROM jobs"
        "   WHERE type = $1 AND status = 'queued' AND run_after <= now()"
        "     AND (enqueued_at IS NULL"
        "          OR enqueued_at < to_timestamp($2::bigint)"
        "          OR enqueued_at < now() - interval '1 minute')"
        "   ORDER BY run_after LIMIT 100 FOR UPDATE SKIP LOCKED)"
        " RETURNING id");

static media_stmt_t  media_sql_queue_progress =
    media_stmt("queue_progress", 4,
        "UPDATE jobs SET progress = $3::int, heartbeat_at = now(),"
        "  lease_until = now() + $4::int * interval '1 ms'"
        " WHERE id = $1::uuid AND worker = $2 AND status = 'running'");


static int media_queue_take(const media_settings_t *s,
    const media_queue_t *q, PGconn *pg, redisContext *rc,
    const char *consumer, redisReply *entry);
static int media_queue_finish(media_job_t *job, int rc);
static int media_queue_ack(redisContext *rc, const media_queue_t *q,
    const char *entry);
static int media_queue_add(redisContext *rc, const media_queue_t *q,
    const char *job_id);
static redisReply *media_queue_first_entry(redisReply *reply, int autoclaim);
static int media_queue_requeue_pending(const media_queue_t *q,
    redisContext *rc, const char *consumer, PGresult *released);
static long media_elapsed_ms(const struct timespec *since);
static long media_now_ms(void);
static void *media_watchdog(void *data);


/* shared with the watchdog thread: 0 when no job runs */
static long  media_watch_since;
static long  media_watch_stall;
static char  media_watch_job[40];


int
media_queue_group(redisContext *rc, const media_queue_t *q)
{
    int          rv;
    redisReply  *reply;

    reply = redisCommand(rc, "XGROUP CREATE %s %s $ MKSTREAM", q->stream,
                         q->group);
    if (reply == NULL) {
        media_log_error("queue group: %s", rc->errstr);
        return -1;
    }

    rv = 0;

    if (reply->type == REDIS_REPLY_ERROR
        && strncmp(reply->str, "BUSYGROUP", 9) != 0)
    {
        media_log_error("queue group: XGROUP CREATE %s %s: %s", q->stream,
                        q->group, reply->str);
        rv = -1;
    }

    freeReplyObject(reply);
    return rv;
}


int
media_queue_turn(const media_settings_t *s, const media_queue_t *q,
    PGconn *pg, redisContext *rc, const char *consumer, long block_ms)
{
    int          rv;
    redisReply  *reply, *entry;

    /*
     * First, an entry another consumer left pending longer than a lease:
     * its worker died (a live one renews its claim).  Redis 7 answers
     * XAUTOCLAIM with three elements, 6.2 with two; the entries are the
     * second either way.
     */
    reply = redisCommand(rc, "XAUTOCLAIM %s %s %s %ld 0-0 COUNT 1",
                         q->stream, q->group, consumer, s->job_lease);
    if (reply == NULL) {
        media_log_error("queue: XAUTOCLAIM: %s", rc->errstr);
        return -1;
    }

    entry = media_queue_first_entry(reply, 1);

    if (entry == NULL) {
        freeReplyObject(reply);

        reply = redisCommand(rc, "XREADGROUP GROUP %s %s COUNT 1 BLOCK %ld "
                             "STREAMS %s >", q->group, consumer, block_ms,
                             q->stream);
        if (reply == NULL) {
            media_log_error("queue: XREADGROUP: %s", rc->errstr);
            return -1;
        }

        if (reply->type == REDIS_REPLY_ERROR) {
            /* NOGROUP: the stream went away (Redis restarted empty) */
            media_log_error("queue: XREADGROUP: %s", reply->str);
            freeReplyObject(reply);
            return media_queue_group(rc, q) == 0 ? 0 : -1;
        }

        entry = media_queue_first_entry(reply, 0);
    }

    rv = entry ? media_queue_take(s, q, pg, rc, consumer, entry) : 0;

    freeReplyObject(reply);
    return rv;
}


/* [id, [field, value, ...]] out of either reply's nesting */
static redisReply *
media_queue_first_entry(redisReply *reply, int autoclaim)
{
    redisReply  *entries;

    /* XAUTOCLAIM: [cursor, entries, (deleted)]; XREADGROUP: [[stream,
     * entries]], or nil when the wait ended with nothing */
    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements < (autoclaim ? 2 : 1))
    {
        return NULL;
    }

    if (autoclaim) {
        entries = reply->element[1];

    } else {
        /* [[stream, [entries]]] */
        if (reply->element[0]->type != REDIS_REPLY_ARRAY
            || reply->element[0]->elements < 2)
        {
            return NULL;
        }
        entries = reply->element[0]->element[1];
    }

    if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0
        || entries->element[0]->type != REDIS_REPLY_ARRAY
        || entries->element[0]->elements < 2)
    {
        return NULL;
    }

    return entries->element[0];
}


static int
media_queue_take(const media_settings_t *s, const media_queue_t *q,
    PGconn *pg, redisContext *rc, const char *consumer, redisReply *entry)
{
    int          rv, outcome;
    char         lease[32];
    size_t       i;
    PGresult    *res;
    redisReply  *fields;
    media_job_t  job;
    const char  *params[4];

    memset(&job, 0, sizeof(media_job_t));
    snprintf(job.entry, sizeof(job.entry), "%s", entry->element[0]->str);

    fields = entry->element[1];

    for (i = 0; i + 1 < fields->elements; i += 2) {
        if (strcmp(fields->element[i]->str, MEDIA_STREAM_FIELD_JOB) == 0) {
            snprintf(job.id, sizeof(job.id), "%s",
                     fields->element[i + 1]->str);
        }
    }

    if (job.id[0] == '\0') {
        media_log_error("queue: entry %s names no job; dropped", job.entry);
        return media_queue_ack(rc, q, job.entry);
    }

    snprintf(lease, sizeof(lease), "%ld", s->job_lease);
    params[0] = job.id;
    params[1] = consumer;
    params[2] = lease;
    params[3] = q->type;

    /* ours only if queued and due, or running on a lapsed lease */
    res = media_pg_exec(pg, &media_sql_queue_claim, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("queue: take job %s: %s", job.id,
                        PQerrorMessage(pg));
        PQclear(res);
        return PQstatus(pg) == CONNECTION_OK ? 0 : -1;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);

        /* final, unknown or not yet due: the entry has done its work; a
         * job still running elsewhere keeps its own entry */
        res = media_pg_exec(pg, &media_sql_queue_status, params);
        if (PQresultStatus(res) == PGRES_TUPLES_OK
            && !(PQntuples(res) == 1
                 && strcmp(PQgetvalue(res, 0, 0), "running") == 0))
        {
            rv = media_queue_ack(rc, q, job.entry);
        } else {
            rv = 0;
        }

        PQclear(res);
        return rv;
    }

    job.attempts = atoi(PQgetvalue(res, 0, 0));
    job.max_attempts = atoi(PQgetvalue(res, 0, 1));
    snprintf(job.media_id, sizeof(job.media_id), "%s",
             PQgetvalue(res, 0, 2));
    job.payload = strdup(PQgetvalue(res, 0, 3));
    snprintf(job.tenant, sizeof(job.tenant), "%s", PQgetvalue(res, 0, 4));
    PQclear(res);

    if (job.payload == NULL) {
        media_log_error("queue: out of memory");
        return -1;
    }

    /* the job's work sees and writes its tenant's rows only (031) */
    if (media_pg_tenant(pg, job.tenant) != 0) {
        free(job.payload);
        return -1;
    }

    job.pg = pg;
    job.redis = rc;
    job.settings = s;
    job.queue = q;
    snprintf(job.consumer, sizeof(job.consumer), "%s", consumer);
    clock_gettime(CLOCK_MONOTONIC, &job.renewed_at);
    job.progress_at = job.renewed_at;
    job.advanced_at = job.renewed_at;

    media_log_job(job.id, job.media_id, job.attempts);
    media_metrics_job_start(job.id, job.media_id);

    media_log_info("job %s: attempt %d of %d (entry %s)", job.id,
                   job.attempts, job.max_attempts, job.entry);

    snprintf(media_watch_job, sizeof(media_watch_job), "%s", job.id);
    __atomic_store_n(&media_watch_since, media_now_ms(), __ATOMIC_RELEASE);

    outcome = q->handler(&job);

    __atomic_store_n(&media_watch_since, 0, __ATOMIC_RELEASE);

    media_metrics_job_end(outcome);

    rv = media_queue_finish(&job, outcome);

    /* the outcome's line above still names the job */
    media_log_job(NULL, NULL, 0);

    free(job.payload);
    free(job.result);

    if (rv == 0 && media_pg_tenant(pg, media_worker_tenant) != 0) {
        return -1;
    }

    return rv;
}


/* writes the outcome to the row, then acknowledges the entry */
static int
media_queue_finish(media_job_t *job, int rc)
{
    int          n;
    char         backoff[32], attempts[16];
    const char  *status;
    PGresult    *res;
    const char  *params[6];
    const media_settings_t  *s = job->settings;

    params[0] = job->id;
    params[1] = job->consumer;

    if (rc == 0) {
        params[2] = job->result ? job->result : "{}";
        res = media_pg_exec(job->pg, &media_sql_queue_done, params);
        media_log_info("job %s: done", job->id);

    } else if (rc == MEDIA_JOB_RELEASE) {
        /* put back on the stream below, at once */
        res = media_pg_exec(job->pg, &media_sql_queue_release, params);
        media_log_info("job %s: released (stopping)", job->id);

    } else {
        status = job->permanent ? MEDIA_JOB_FAILED
                 : job->attempts >= job->max_attempts ? MEDIA_JOB_DEAD
                 : MEDIA_JOB_QUEUED;

        /* base * 2^(attempt - 1), at most an hour */
        n = job->attempts > 12 ? 12 : job->attempts - 1;
        snprintf(backoff, sizeof(backoff), "%ld",
                 ((long) s->job_retry << n) > 3600000 ? 3600000
                 : ((long) s->job_retry << n));
        snprintf(attempts, sizeof(attempts), "%d", job->attempts);

        params[2] = media_job_reason(job);
        params[3] = status;
        params[4] = backoff;
        params[5] = job->error[0] ? job->error : "failed";

        /* enqueued_at cleared: the reconciler delivers it when due */
        res = media_pg_exec(job->pg, &media_sql_queue_retry, params);

        media_log_error("job %s: attempt %s failed%s: %s", job->id,
                        attempts, job->permanent ? " for good (the input)"
                        : strcmp(status, MEDIA_JOB_DEAD) == 0
                          ? ", no attempts left: dead"
                        : ", will retry", params[5]);
    }

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        media_log_error("job %s: record the outcome: %s", job->id,
                        PQerrorMessage(job->pg));
        PQclear(res);
        /* not acknowledged: the entry is reclaimed after the lease */
        return PQstatus(job->pg) == CONNECTION_OK ? 0 : -1;
    }

    PQclear(res);

    if (rc == MEDIA_JOB_RELEASE && media_queue_add(job->redis, job->queue,
                                                   job->id) != 0)
    {
        return -1;
    }

    return media_queue_ack(job->redis, job->queue, job->entry);
}


static int
media_queue_ack(redisContext *rc, const media_queue_t *q, const char *entry)
{
    redisReply  *reply;

    reply = redisCommand(rc, "XACK %s %s %s", q->stream, q->group, entry);
    if (reply == NULL) {
        media_log_error("queue: XACK %s: %s", entry, rc->errstr);
        return -1;
    }

    freeReplyObject(reply);
    return 0;
}


static int
media_queue_add(redisContext *rc, const media_queue_t *q, const char *job_id)
{
    redisReply  *reply;

    reply = redisCommand(rc, "XADD %s * " MEDIA_STREAM_FIELD_JOB " %s",
                         q->stream, job_id);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        media_log_error("queue: XADD %s: %s", job_id,
                        reply ? reply->str : rc->errstr);
        freeReplyObject(reply);
        return -1;
    }

    freeReplyObject(reply);
    return 0;
}


int
media_queue_handoff(const media_queue_t *q, PGconn *pg, redisContext *rc,
    const char *consumer)
{
    int          i, n, rv;
    char         detail[128];
    PGresult    *res;
    redisReply  *reply;
    const char  *params[3];

    snprintf(detail, sizeof(detail), "its consumer %s died during the job "
             "(killed or crashed; see the worker log)", consumer);

    params[0] = consumer;
    params[1] = q->type;
    params[2] = detail;

    /* the attempt was counted when taken: kept, not counted again */
    res = media_pg_exec(pg, &media_sql_queue_abandoned, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("handoff %s: %s", consumer, PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }

    n = PQntuples(res);
    rv = 0;

    for (i = 0; i < n; i++) {
        if (strcmp(PQgetvalue(res, i, 1), MEDIA_JOB_DEAD) == 0) {
            media_log_error("handoff: job %s dead after %s attempts",
                            PQgetvalue(res, i, 0), PQgetvalue(res, i, 4));
            if (q->dead && PQgetvalue(res, i, 2)[0]) {
                q->dead(pg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 2),
                        PQgetvalue(res, i, 3));
            }
            continue;
        }

        media_log_info("handoff: job %s of %s queued again at once "
                       "(attempt %s counted)", PQgetvalue(res, i, 0),
                       consumer, PQgetvalue(res, i, 4));

        if (media_queue_add(rc, q, PQgetvalue(res, i, 0)) != 0) {
            rv = -1;
        }
    }

    if (rv == 0) {
        rv = media_queue_requeue_pending(q, rc, consumer, res);
    }

    PQclear(res);

    if (rv == 0) {
        reply = redisCommand(rc, "XGROUP DELCONSUMER %s %s %s", q->stream,
                             q->group, consumer);
        freeReplyObject(reply);
    }

    return rv;
}


/*
 * The dead consumer's pending entries: each one's job is put back on the
 * stream (unless handed off above: released holds those), then the entry
 * is acknowledged.  An entry it had read but not yet taken is not lost.
 */
static int
media_queue_requeue_pending(const media_queue_t *q, redisContext *rc,
    const char *consumer, PGresult *released)
{
    int          i, k, again;
    size_t       j;
    redisReply  *pending, *entry, *fields, *e;

    pending = redisCommand(rc, "XPENDING %s %s - + 100 %s", q->stream,
                           q->group, consumer);
    if (pending == NULL || pending->type != REDIS_REPLY_ARRAY) {
        media_log_error("handoff: XPENDING %s: %s", consumer,
                        pending ? "unexpected reply" : rc->errstr);
        freeReplyObject(pending);
        return -1;
    }

    for (j = 0; j < pending->elements; j++) {
        e = pending->element[j];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 1) {
            continue;
        }

        entry = redisCommand(rc, "XRANGE %s %s %s", q->stream,
                             e->element[0]->str, e->element[0]->str);

        if (entry && entry->type == REDIS_REPLY_ARRAY && entry->elements == 1
            && entry->element[0]->elements == 2)
        {
            fields = entry->element[0]->element[1];

            for (k = 0; k + 1 < (int) fields->elements; k += 2) {
                if (strcmp(fields->element[k]->str, MEDIA_STREAM_FIELD_JOB)
                    != 0)
                {
                    continue;
                }

                again = 1;
                for (i = 0; i < PQntuples(released); i++) {
                    if (strcmp(PQgetvalue(released, i, 0),
                               fields->element[k + 1]->str) == 0)
                    {
                        again = 0;
                    }
                }

                if (again) {
                    (void) media_queue_add(rc, q,
                                           fields->element[k + 1]->str);
                }
            }
        }

        freeReplyObject(entry);

        if (media_queue_ack(rc, q, e->element[0]->str) != 0) {
            freeReplyObject(pending);
            return -1;
        }
    }

    freeReplyObject(pending);
    return 0;
}


int
media_queue_reconcile(const media_settings_t *s, const media_queue_t *q,
    PGconn *pg, redisContext *rc)
{
    int          i, n;
    char         since[32];
    PGresult    *res;
    const char  *params[2];

    (void) s;

    /*
     * Due queued rows, each at most once a minute (enqueued_at), so a
     * healthy stream is not flooded with duplicates; a duplicate is
     * harmless anyway, since taking a job is conditional.  And every row
     * enqueued before this process met a new Redis server
     * (media_redis_new_server): replication is asynchronous, so a replica
     * that Sentinel promoted may lack the last entries its old primary
     * acknowledged.  Once put on the stream again they are newer than
     * that, so each is repeated once, for every queue.
     */
    snprintf(since, sizeof(since), "%ld", (long) media_redis_new_server);

    params[0] = q->type;
    params[1] = since;

    res = media_pg_exec(pg, &media_sql_queue_reconcile, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("reconcile: %s", PQerrorMessage(pg));
        PQclear(res);
        return PQstatus(pg) == CONNECTION_OK ? 0 : -1;
    }

    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        if (media_queue_add(rc, q, PQgetvalue(res, i, 0)) != 0) {
            PQclear(res);
            return -1;
        }
    }

    if (n) {
        media_log_info("reconcile: %d queued %s job(s) put on %s", n,
                       q->type, q->stream);
    }

    PQclear(res);
    return 0;
}


int
media_job_progress(media_job_t *job, int percent)
{
    char          lease[32], p[8];
    PGresult     *res;
    redisReply   *reply;
    const char   *params[4];

    /* a job run by hand (media-transcoder transcode): no row to update */
    if (job->pg == NULL) {
        return 0;
    }

    if (percent < 0) {
        percent = 0;
    }
    if (percent > 99) {
        percent = 99;          /* 100 is written with the outcome */
    }

    /* throttled: the row at most once a second, or a lease third */
    if (media_elapsed_ms(&job->progress_at) < 1000
        && media_elapsed_ms(&job->renewed_at) < job->settings->job_lease / 3)
    {
        return 0;
    }

    snprintf(p, sizeof(p), "%d", percent);
    snprintf(lease, sizeof(lease), "%ld", job->settings->job_lease);
    params[0] = job->id;
    params[1] = job->consumer;
    params[2] = p;
    params[3] = lease;

    res = media_pg_exec(job->pg, &media_sql_queue_progress, params);

    if (PQresultStatus(res) != PGRES_COMMAND_OK
        || strcmp(PQcmdTuples(res), "1") != 0)
    {
        media_log_error("job %s: lease lost (%s)", job->id,
                        PQresultStatus(res) == PGRES_COMMAND_OK
                        ? "taken by another worker" : PQerrorMessage(job->pg));
        PQclear(res);
        return -1;
    }

    PQclear(res);

    /* keep the entry ours: XAUTOCLAIM looks at idle time */
    reply = redisCommand(job->redis, "XCLAIM %s %s %s 0 %s JUSTID",
                         job->queue->stream, job->queue->group, job->consumer,
                         job->entry);
    freeReplyObject(reply);

    reply = redisCommand(job->redis, "PUBLISH media:progress:%s %d", job->id,
                         percent);
    freeReplyObject(reply);

    /* a long job keeps its consumer seen */
    (void) media_beat(job->redis, job->queue, job->consumer);

    job->progress = percent;
    clock_gettime(CLOCK_MONOTONIC, &job->progress_at);
    job->renewed_at = job->progress_at;

    return 0;
}


void
media_job_advanced(media_job_t *job)
{
    clock_gettime(CLOCK_MONOTONIC, &job->advanced_at);

    if (__atomic_load_n(&media_watch_since, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&media_watch_since, media_now_ms(),
                         __ATOMIC_RELEASE);
    }
}


int
media_job_stalled(media_job_t *job)
{
    return media_worker_stop
           || media_elapsed_ms(&job->advanced_at) > job->settings->job_stall;
}


int
media_watchdog_start(const media_settings_t *s)
{
    pthread_t   t;
    static int  started;

    /* once per process: media_serve runs again after a reconnect */
    if (started) {
        return 0;
    }

    started = 1;
    media_watch_stall = s->job_stall;

    if (pthread_create(&t, NULL, media_watchdog, NULL) != 0) {
        media_log_error("watchdog: cannot start its thread");
        return -1;
    }

    pthread_detach(t);
    return 0;
}


/*
 * Once a second: a job with no progress for media_job_stall ends the
 * process.  Its lease then lapses and another worker takes the job, as an
 * attempt; a job that always hangs ends dead, not running for days.
 */
static void *
media_watchdog(void *data)
{
    long  since;

    (void) data;

    for ( ;; ) {
        sleep(1);

        since = __atomic_load_n(&media_watch_since, __ATOMIC_ACQUIRE);

        if (since && media_now_ms() - since > media_watch_stall) {
            media_log_error("watchdog: job %s made no progress for %ld ms; "
                            "exiting so that it is taken again",
                            media_watch_job, media_watch_stall);
            _exit(3);
        }
    }

    return NULL;
}


static long
media_now_ms(void)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec * 1000 + now.tv_nsec / 1000000;
}


/* a job's reasons may be set from the transcoder's encoder threads too */
static pthread_mutex_t  media_job_reason_lock = PTHREAD_MUTEX_INITIALIZER;


void
media_job_fail(media_job_t *job, const char *fmt, ...)
{
    va_list  args;

    pthread_mutex_lock(&media_job_reason_lock);

    if (job->error[0] == '\0') {     /* the first reason is the real one */
        va_start(args, fmt);
        vsnprintf(job->error, sizeof(job->error), fmt, args);
        va_end(args);
    }

    pthread_mutex_unlock(&media_job_reason_lock);
}


void
media_job_refuse(media_job_t *job, const char *fmt, ...)
{
    va_list  args;

    pthread_mutex_lock(&media_job_reason_lock);

    job->permanent = 1;

    if (job->reason[0] == '\0') {
        va_start(args, fmt);
        vsnprintf(job->reason, sizeof(job->reason), fmt, args);
        va_end(args);
    }

    if (job->error[0] == '\0') {
        snprintf(job->error, sizeof(job->error), "%s", job->reason);
    }

    pthread_mutex_unlock(&media_job_reason_lock);
}


const char *
media_job_reason(media_job_t *job)
{
    if (job->reason[0]) {
        return job->reason;
    }

    if (!job->permanent && job->attempts < job->max_attempts) {
        snprintf(job->reason, sizeof(job->reason),
                 "processing stopped because of a problem on our side, not "
                 "with your file (attempt %d of %d); it will be tried again "
                 "shortly", job->attempts, job->max_attempts);

    } else {
        snprintf(job->reason, sizeof(job->reason),
                 "processing failed %d time%s because of a problem on our "
                 "side, not with your file; upload it again later, and "
                 "contact support if it keeps failing", job->attempts,
                 job->attempts == 1 ? "" : "s");
    }

    return job->reason;
}


static long
media_elapsed_ms(const struct timespec *since)
{
    struct timespec  now;

    clock_gettime(CLOCK_MONOTONIC, &now);

    return (now.tv_sec - since->tv_sec) * 1000
           + (now.tv_nsec - since->tv_nsec) / 1000000;
}


int
media_job_check(media_job_t *job, PGresult *res, ExecStatusType want,
    const char *what)
{
    if (PQresultStatus(res) == want) {
        return 0;
    }

    media_job_fail(job, "%s: %s: %s", media_worker_name, what,
                   PQerrorMessage(job->pg));
    PQclear(res);

    return -1;
}
