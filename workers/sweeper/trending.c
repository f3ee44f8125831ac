/*
 * The trending step: the trending table rebuilt from recent plays and
 * likes (media_trending_refresh in sql/018, which documents the score),
 * so that GET /api/v1/trending reads ranked rows instead of computing
 * them per request.  It runs from the sweeper's tick, every
 * MEDIA_TRENDING_EVERY, or every media_sweep_interval when that is
 * shorter.  Two sweepers at once: the function's advisory lock lets one
 * refresh and the other skip.
 */

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "worker.h"
#include "sweeper.h"


#define MEDIA_TRENDING_EVERY  (5 * 60 * 1000)      /* ms */


static media_stmt_t  media_sql_trending =
    media_stmt("trending_refresh", 0,
        "SELECT media_trending_refresh()");


static long  media_trending_next;        /* ms: when the next refresh is due */


int
media_trending(const media_settings_t *s, PGconn *pg)
{
    int               rc;
    long              now, every;
    PGresult         *res;
    struct timespec   ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;

    if (media_trending_next != 0 && now < media_trending_next) {
        return 0;
    }

    every = s->sweep_interval < MEDIA_TRENDING_EVERY ? s->sweep_interval
                                                     : MEDIA_TRENDING_EVERY;
    media_trending_next = now + every;

    res = media_pg_exec(pg, &media_sql_trending, NULL);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        media_log_error("trending: refresh: %s", PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }

    rc = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    if (rc < 0) {
        media_log_info("trending: another sweeper is refreshing");

    } else {
        media_log_info("trending: %d media ranked", rc);
    }

    return 0;
}
