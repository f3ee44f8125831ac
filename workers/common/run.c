/*
 * The worker loop every worker binary runs.
 */

#include <string.h>

#include "worker.h"


#define MEDIA_CHECK_EVERY   5000      /* ms between connection checks */
#define MEDIA_RETRY_MAX     5000      /* ms, longest wait between retries */


static int media_queue_group(redisContext *rc, const media_queue_t *queue);
static int media_connections_ok(PGconn *pg, redisContext *rc);


int
media_worker_main(int argc, char **argv, const media_queue_t *queue)
{
    long               backoff;
    PGconn            *pg;
    redisContext      *rc;
    media_settings_t   s;

    media_signals();
    media_settings_load(&s, media_conf_arg(argc, argv));

    media_log_info("starting: settings from %s, stream %s", s.conf_file,
                   queue->stream);

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

        while (!media_worker_stop && media_connections_ok(pg, rc)) {
            media_sleep(MEDIA_CHECK_EVERY);
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


/* XGROUP CREATE ... MKSTREAM; BUSYGROUP means it exists, which is fine */
static int
media_queue_group(redisContext *rc, const media_queue_t *queue)
{
    int          rv;
    redisReply  *reply;

    reply = redisCommand(rc, "XGROUP CREATE %s %s $ MKSTREAM",
                         queue->stream, queue->group);
    if (reply == NULL) {
        media_log_error("queue group: %s", rc->errstr);
        return -1;
    }

    rv = 0;

    if (reply->type == REDIS_REPLY_ERROR
        && strncmp(reply->str, "BUSYGROUP", 9) != 0)
    {
        media_log_error("queue group: XGROUP CREATE %s %s: %s",
                        queue->stream, queue->group, reply->str);
        rv = -1;
    }

    freeReplyObject(reply);
    return rv;
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
