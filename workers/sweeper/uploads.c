/*
 * The uploads step: resumable uploads (tus, sql/033) past expires_at that
 * never finished.  Their file, uploads/<id>.tus, goes first, then the
 * storage reservation and, by ON DELETE CASCADE, the upload row; a
 * sweeper killed in between leaves a row whose file is gone, which the
 * next pass finishes.  An upload a PATCH is still appending to (its lease
 * running) waits for the next pass.  Until swept, the API answers 410 for
 * an expired upload; after, 404.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "sweeper.h"


#define MEDIA_UPLOADS_BATCH  100           /* uploads per pass */


static media_stmt_t  media_sql_uploads_expired =
    media_stmt("uploads_expired", 1,
        "SELECT id::text FROM uploads"
        " WHERE expires_at <= now()"
        "   AND (lease_until IS NULL OR lease_until <= now())"
        " ORDER BY expires_at LIMIT $1");

static media_stmt_t  media_sql_uploads_gone =
    media_stmt("uploads_gone", 1,
        "DELETE FROM storage_reservations s USING uploads x"
        " WHERE x.id = $1 AND s.id = x.reservation"
        "   AND x.expires_at <= now()");


int
media_uploads_sweep(const media_settings_t *s, PGconn *pg)
{
    int          i, n, swept;
    char         path[4096], batch[16];
    PGresult    *res, *gone;
    const char  *params[1], *id;

    snprintf(batch, sizeof(batch), "%d", MEDIA_UPLOADS_BATCH);
    params[0] = batch;

    res = media_pg_exec(pg, &media_sql_uploads_expired, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("lifecycle: find expired uploads: %s",
                        PQerrorMessage(pg));
        PQclear(res);
        return -1;
    }

    n = PQntuples(res);
    swept = 0;

    for (i = 0; i < n; i++) {
        id = PQgetvalue(res, i, 0);

        if (media_path(path, sizeof(path), "%s/" MEDIA_DIR_UPLOADS "/%s.tus",
                       s->storage, id) != 0
            || (unlink(path) != 0 && errno != ENOENT))
        {
            media_log_error("lifecycle: upload %s: remove %s: %s; kept for "
                            "the next pass", id, path, strerror(errno));
            continue;
        }

        params[0] = id;
        gone = media_pg_exec(pg, &media_sql_uploads_gone, params);

        if (PQresultStatus(gone) != PGRES_COMMAND_OK) {
            media_log_error("lifecycle: upload %s: delete: %s", id,
                            PQerrorMessage(pg));
            PQclear(gone);
            continue;
        }

        PQclear(gone);
        swept++;
        media_log_info("lifecycle: expired upload %s removed", id);
    }

    PQclear(res);

    return swept;
}
