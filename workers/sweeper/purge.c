/*
 * The purge step of the lifecycle pass: the files of media whose rows went
 * with a deleted account (DELETE /api/v1/me; sql/023_roles.sql's
 * media_account_delete() lists their ids in media_purge before the
 * users row's ON DELETE CASCADE takes the media rows).  The media rows are
 * gone, so the sweep jobs of a media deleted on its own cannot do it.
 *
 * For each id, a batch per pass: the upload, the uploaded cover and the
 * HLS tree (renditions, pictures) removed, then the media_purge row; a
 * sweeper killed in between leaves the row, and the next pass finishes
 * it (a file already gone is not an error).  Exports went with their rows
 * too; the orphans step removes their files.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "sweeper.h"


#define MEDIA_PURGE_BATCH  100


static media_stmt_t  media_sql_purge_list =
    media_stmt("purge_list", 1,
        "SELECT media_id::text FROM media_purge"
        " ORDER BY created_at, media_id LIMIT $1::integer");

static media_stmt_t  media_sql_purge_done =
    media_stmt("purge_done", 1,
        "DELETE FROM media_purge WHERE media_id = $1::uuid");


static int media_purge_one(const media_settings_t *s, PGconn *pg,
    const char *id);


int
media_purge(const media_settings_t *s, PGconn *pg)
{
    int           i, failed;
    char          batch[16];
    PGresult     *res;
    const char   *params[1];

    snprintf(batch, sizeof(batch), "%d", MEDIA_PURGE_BATCH);
    params[0] = batch;

    res = media_pg_exec(pg, &media_sql_purge_list, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        media_log_error("lifecycle: purge list: %s",
                        PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }

    failed = 0;

    for (i = 0; i < PQntuples(res); i++) {
        if (media_purge_one(s, pg, PQgetvalue(res, i, 0)) != 0) {
            failed = 1;
        }
    }

    PQclear(res);

    return failed ? -1 : 0;
}


static int
media_purge_one(const media_settings_t *s, PGconn *pg, const char *id)
{
    int           i;
    char          path[4096], err[512];
    PGresult     *res;
    const char   *params[1];

    static const char  *dirs[] = {
        MEDIA_DIR_UPLOADS, MEDIA_DIR_COVERS, MEDIA_DIR_HLS
    };

    for (i = 0; i < 3; i++) {
        if (media_path(path, sizeof(path), "%s/%s/%s", s->storage, dirs[i],
                       id)
            != 0)
        {
            media_log_error("lifecycle: purge %s: media_storage path too "
                            "long", id);
            return -1;
        }

        if (media_sweep_remove(path) != 0) {
            media_log_error("lifecycle: purge: remove %s: %s", path,
                            strerror(errno));
            return -1;
        }
    }

    if (media_sweep_objects(s, id, err, sizeof(err)) != 0) {
        media_log_error("lifecycle: purge %s: %s; kept for the next pass",
                        id, err);
        return -1;
    }

    params[0] = id;

    res = media_pg_exec(pg, &media_sql_purge_done, params);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        media_log_error("lifecycle: purge %s: %s", id,
                        PQresultErrorMessage(res));
        PQclear(res);
        return -1;
    }

    PQclear(res);

    media_log_info("lifecycle: purged the files of media %s (its account "
                   "was deleted)", id);
    return 0;
}
