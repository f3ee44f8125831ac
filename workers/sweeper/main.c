/*
 * media-sweeper: removes the files of deleted media (the media:sweep
 * stream): the upload and every rendition.  The media row stays, marked
 * deleted, for the record; its renditions rows go with their files.
 * Running a sweep twice finds nothing the second time, which is fine.
 *
 * Between jobs, the lifecycle pass (lifecycle.c) runs every
 * media_sweep_interval.
 */

#define _XOPEN_SOURCE 700

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "worker.h"
#include "s3.h"
#include "queue.h"
#include "sweeper.h"


const char  *media_worker_name = "media-sweeper";


static int media_sweep(media_job_t *job);
static int media_remove(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw);


/* the statements of this file, each prepared once per connection */

static media_stmt_t  media_sql_sweep_deleted =
    media_stmt("sweep_deleted", 1,
        "SELECT 1 FROM media WHERE id = $1 AND deleted_at IS NOT NULL");

static media_stmt_t  media_sql_sweep_renditions =
    media_stmt("sweep_renditions", 1,
        "DELETE FROM renditions WHERE media_id = $1");


int
main(int argc, char **argv)
{
    static const media_queue_t  queue = {
        "sweep", MEDIA_STREAM_SWEEP, MEDIA_GROUP_SWEEP, media_sweep, NULL
    };

    media_worker_tick = media_lifecycle;

    return media_worker_main(argc, argv, &queue);
}


static int
media_sweep(media_job_t *job)
{
    char         upload[4096], hls[4096], cover[4096], err[512];
    PGresult    *res;
    const char  *params[1];

    params[0] = job->media_id;

    /* only what was deleted: a sweep job for a live media is a mistake */
    res = media_pg_exec(job->pg, &media_sql_sweep_deleted, params);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        media_job_fail(job, "media %s is not deleted: nothing swept",
                       job->media_id);
        job->permanent = 1;
        PQclear(res);
        return -1;
    }

    PQclear(res);

    if (media_path(upload, sizeof(upload), "%s/" MEDIA_DIR_UPLOADS "/%s",
                   job->settings->storage, job->media_id) != 0
        || media_path(hls, sizeof(hls), "%s/" MEDIA_DIR_HLS "/%s",
                      job->settings->storage, job->media_id) != 0
        || media_path(cover, sizeof(cover), "%s/" MEDIA_DIR_COVERS "/%s",
                      job->settings->storage, job->media_id) != 0)
    {
        media_job_fail(job, "media_storage path too long");
        job->permanent = 1;
        return -1;
    }

    if (unlink(upload) != 0 && errno != ENOENT) {
        media_job_fail(job, "remove %s: %s", upload, strerror(errno));
        return -1;
    }

    /* an uploaded cover (PUT /media/{id}/cover) */
    if (unlink(cover) != 0 && errno != ENOENT) {
        media_job_fail(job, "remove %s: %s", cover, strerror(errno));
        return -1;
    }

    if (media_sweep_remove(hls) != 0) {
        media_job_fail(job, "remove %s: %s", hls, strerror(errno));
        return -1;
    }

    /* a bucket down: the job fails and is retried, the row stays */
    if (media_sweep_objects(job->settings, job->media_id, err, sizeof(err))
        != 0)
    {
        media_job_fail(job, "%s", err);
        return -1;
    }

    res = media_pg_exec(job->pg, &media_sql_sweep_renditions, params);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        media_job_fail(job, "delete renditions: %s", PQerrorMessage(job->pg));
        PQclear(res);
        return -1;
    }

    PQclear(res);

    media_log_info("job %s: swept media %s", job->id, job->media_id);
    return 0;
}


int
media_sweep_objects(const media_settings_t *s, const char *id, char *err,
    size_t errlen)
{
    int    n, i;
    char   prefix[128];

    static const char  *dirs[] = { MEDIA_DIR_HLS "/%s/",
                                   MEDIA_DIR_UPLOADS "/%s" };

    if (!s->s3.on) {
        return 0;
    }

    for (i = 0; i < 2; i++) {
        snprintf(prefix, sizeof(prefix), dirs[i], id);

        n = media_s3_delete_prefix(s, prefix, err, errlen);
        if (n < 0) {
            return -1;
        }

        if (n > 0) {
            media_log_info("sweep objects: media %s, %d deleted under %s",
                           id, n, prefix);
        }
    }

    return 0;
}


int
media_sweep_remove(const char *path)
{
    if (nftw(path, media_remove, 16, FTW_DEPTH | FTW_PHYS) != 0
        && errno != ENOENT)
    {
        return -1;
    }

    return 0;
}


static int
media_remove(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;

    /* gone already: another sweeper got there first */
    return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}
