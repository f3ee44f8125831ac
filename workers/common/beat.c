/*
 * The workers' heartbeat: each consumer says it is alive, by type, so
 * that healthz (ngx_http_media_health.c) and media-admin check can tell
 * whether uploads would be processed.  A sorted set per job type
 * (MEDIA_KEY_WORKERS + type), member the consumer's name, score the Unix
 * time in ms: readers count the members seen within MEDIA_WORKERS_SEEN,
 * so a consumer killed without a word ages out on its own.
 */

#include <string.h>
#include <sys/time.h>

#include "worker.h"
#include "queue.h"


/* members not seen for this long are dropped by the next beat */
#define MEDIA_BEAT_FORGET  (10 * 60 * 1000)


static long  media_beat_last;


static long
media_beat_now(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    return tv.tv_sec * 1000L + tv.tv_usec / 1000;
}


/*
 * ZADD at most once every MEDIA_WORKERS_BEAT; a consumer calls it on each
 * turn and while a long job makes progress.  -1 when Redis failed (the
 * caller's next command finds the connection broken too).
 */
int
media_beat(redisContext *rc, const media_queue_t *q, const char *consumer)
{
    long         now;
    redisReply  *reply;

    now = media_beat_now();

    if (now - media_beat_last < MEDIA_WORKERS_BEAT) {
        return 0;
    }

    reply = redisCommand(rc, "ZADD " MEDIA_KEY_WORKERS "%s %ld %s", q->type,
                         now, consumer);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        media_log_error("heartbeat: %s", reply ? reply->str : rc->errstr);
        freeReplyObject(reply);
        return -1;
    }
    freeReplyObject(reply);

    reply = redisCommand(rc, "ZREMRANGEBYSCORE " MEDIA_KEY_WORKERS "%s "
                         "-inf %ld", q->type, now - MEDIA_BEAT_FORGET);
    freeReplyObject(reply);

    media_beat_last = now;

    return 0;
}


/* a consumer stopping cleanly is gone at once, not 30 s later */
void
media_beat_end(redisContext *rc, const media_queue_t *q,
    const char *consumer)
{
    redisReply  *reply;

    if (rc == NULL || rc->err || media_beat_last == 0) {
        return;
    }

    reply = redisCommand(rc, "ZREM " MEDIA_KEY_WORKERS "%s %s", q->type,
                         consumer);
    freeReplyObject(reply);

    media_beat_last = 0;
}
