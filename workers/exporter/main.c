/*
 * media-exporter: takes export jobs from the media:export stream.
 *
 * A job names its export row ({"export": "<id>"}).  The source is the
 * media's upload; the file is written aside (exports/.<id>.<pid>.<ext>),
 * then renamed to exports/<id>.<ext>, so nobody ever sees half a file, and
 * the row says ready with its size, duration and expiry (now plus
 * media_export_ttl).  Running a job twice gives the same one file: the
 * rename replaces it, and the row is rewritten whole.  An export deleted
 * while its job ran is not published: its file is removed.
 */

#define _XOPEN_SOURCE 700

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "worker.h"
#include "queue.h"
#include "s3.h"
#include "exporter.h"


const char  *media_worker_name = "media-exporter";


typedef struct {
    char                  id[40];
    char                  dir[4096];      /* <storage>/exports */
    char                  work[4096];     /* .<id>.<pid>.<ext>, aside */
    char                  final[4096];    /* <id>.<ext> */
    char                  source[4096];   /* uploads/<media id> */
    media_export_spec_t   spec;
} media_export_job_t;


static int media_export(media_job_t *job);
static int media_export_file(int argc, char **argv);
static int media_export_load(media_job_t *job, media_export_job_t *x);
static int media_export_spec(media_job_t *job, media_export_spec_t *spec,
    const char *format, const char *codec, int audio_only, const char *rate,
    const char *hz, const char *enhance);
static int media_export_run(media_job_t *job, media_export_job_t *x);
static int media_export_record(media_job_t *job, media_export_job_t *x);
static void media_export_mark(PGconn *pg, const char *job_id,
    const char *export_id, const char *status, const char *error);
static void media_export_clear(media_job_t *job, media_export_job_t *x);
static void media_export_dead(PGconn *pg, const char *job_id,
    const char *media_id, const char *reason);
static int media_export_id(media_job_t *job, char *id, size_t size);


/* the statements of this worker, each prepared once per connection */

static media_stmt_t  media_sql_load =
    media_stmt("exporter_load", 1,
        "SELECT format, codec, audio_only, bitrate, sample_rate,"
        "       array_to_string(enhance, ','),"
        "       deleted_at IS NOT NULL OR status = 'deleted',"
        "       status = 'ready'"
        "  FROM exports WHERE id = $1");

static media_stmt_t  media_sql_mark =
    media_stmt("exporter_mark", 3,
        "UPDATE exports SET status = $2, error = $3"
        " WHERE id = $1 AND deleted_at IS NULL AND status <> 'deleted'");

static media_stmt_t  media_sql_ready =
    media_stmt("exporter_ready", 6,
        "UPDATE exports SET status = 'ready', progress = 100, error = NULL,"
        "  size = $2, duration_ms = $3, sample_rate = $4,"
        "  expires_at = now() + $5::bigint * interval '1 ms',"
        "  bitrate = coalesce(bitrate, $6::int)"
        " WHERE id = $1 AND deleted_at IS NULL AND status <> 'deleted'"
        " RETURNING id");

static media_stmt_t  media_sql_dead =
    media_stmt("exporter_dead", 2,
        "UPDATE exports SET status = 'failed', error = $2"
        " WHERE job_id = $1 AND deleted_at IS NULL AND status <> 'deleted'");


int
main(int argc, char **argv)
{
    static const media_queue_t  queue = {
        "export", MEDIA_STREAM_EXPORT, MEDIA_GROUP_EXPORT,
        media_export, media_export_dead
    };

    av_log_set_level(AV_LOG_ERROR);

    if (argc >= 5 && strcmp(argv[1], "export") == 0) {
        return media_export_file(argc, argv);
    }

    return media_worker_main(argc, argv, &queue);
}


/*
 * media-exporter export SOURCE OUT FORMAT [CODEC [PRESETS]]: the encode
 * alone, no queue and no database.  For debugging a file.
 */
static int
media_export_file(int argc, char **argv)
{
    int                  rc;
    media_job_t          job;
    media_probe_t        probe;
    media_settings_t     s;
    media_loudness_t     loud;
    media_export_spec_t  spec;

    memset(&job, 0, sizeof(job));
    media_settings_defaults(&s);
    job.settings = &s;
    snprintf(job.id, sizeof(job.id), "by-hand");
    media_job_advanced(&job);

    rc = 1;
    probe.ic = NULL;

    if (media_export_spec(&job, &spec, argv[4],
                          argc > 5 && argv[5][0] ? argv[5] : NULL, 0, NULL,
                          NULL, argc > 6 ? argv[6] : "")
        != 0
        || media_probe(&job, argv[2], &probe) != 0)
    {
        goto done;
    }

    spec.video = spec.video && probe.video >= 0;

    if (spec.loudness && probe.audio >= 0
        && media_normalize(&job, &probe, argv[2], spec.afilters, NULL, &loud)
           != 0)
    {
        goto done;
    }

    if (media_export_encode(&job, &probe, &spec,
                            spec.loudness && probe.audio >= 0 ? &loud : NULL,
                            argv[3])
        != 0)
    {
        goto done;
    }

    printf("%s %d Hz, %d channels, %" PRId64 " ms\n", argv[3],
           spec.out_rate, spec.out_channels, spec.duration_ms);
    rc = 0;

done:

    if (probe.ic) {
        media_probe_close(&probe);
    }

    if (rc) {
        fprintf(stderr, "media-exporter: %s\n", job.error);
    }

    return rc;
}


static int
media_export(media_job_t *job)
{
    int                  rc;
    media_export_job_t   x;

    memset(&x, 0, sizeof(media_export_job_t));

    rc = media_export_load(job, &x);

    if (rc == 1) {
        media_log_info("job %s: export %s was deleted: nothing to do",
                       job->id, x.id);
        return 0;
    }

    if (rc == 2) {
        media_log_info("job %s: export %s is ready already: nothing to do",
                       job->id, x.id);
        return 0;
    }

    if (rc != 0) {
        return -1;
    }

    media_export_mark(job->pg, job->id, x.id, "processing", NULL);

    /* what an earlier attempt left: the lease makes this one the only one */
    media_export_clear(job, &x);

    rc = media_export_run(job, &x);

    (void) unlink(x.work);

    if (rc != 0 && media_worker_stop) {
        return MEDIA_JOB_RELEASE;
    }

    if (rc != 0 && (job->permanent || job->attempts >= job->max_attempts)) {
        media_export_mark(job->pg, job->id, x.id, "failed",
                          media_job_reason(job));
    }

    return rc;
}


/* the row and the paths: 0, 1 when the export is deleted, 2 when it is
 * ready and its file there, -1 */
static int
media_export_load(media_job_t *job, media_export_job_t *x)
{
    int                   rc, ready;
    struct stat           sb;
    PGresult             *res;
    const char           *params[1], *ext;
    const media_export_format_t  *f;

    if (media_export_id(job, x->id, sizeof(x->id)) != 0) {
        job->permanent = 1;
        return -1;
    }

    params[0] = x->id;
    res = media_pg_exec(job->pg, &media_sql_load, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "read the export") != 0) {
        return -1;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        media_job_fail(job, "export %s: no such row", x->id);
        job->permanent = 1;
        return -1;
    }

    if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
        PQclear(res);
        return 1;
    }

    ready = (strcmp(PQgetvalue(res, 0, 7), "t") == 0);

    rc = media_export_spec(job, &x->spec, PQgetvalue(res, 0, 0),
                           PQgetvalue(res, 0, 1),
                           strcmp(PQgetvalue(res, 0, 2), "t") == 0,
                           PQgetisnull(res, 0, 3) ? NULL
                                                  : PQgetvalue(res, 0, 3),
                           PQgetisnull(res, 0, 4) ? NULL
                                                  : PQgetvalue(res, 0, 4),
                           PQgetvalue(res, 0, 5));
    PQclear(res);

    if (rc != 0) {
        job->permanent = 1;
        return -1;
    }

    f = x->spec.format;
    ext = f->name;

    if (media_path(x->dir, sizeof(x->dir), "%s/" MEDIA_DIR_EXPORTS,
                   job->settings->storage) != 0
        || media_path(x->work, sizeof(x->work), "%s/.%s.%d.%s", x->dir,
                      x->id, (int) getpid(), ext) != 0
        || media_path(x->final, sizeof(x->final), "%s/%s.%s", x->dir, x->id,
                      ext) != 0
        || media_path(x->source, sizeof(x->source),
                      "%s/" MEDIA_DIR_UPLOADS "/%s", job->settings->storage,
                      job->media_id) != 0)
    {
        media_job_fail(job, "media_storage path too long");
        return -1;
    }

    /* a delivery of a job that finished: the export stays as it is (its
     * links keep working) */
    if (ready && stat(x->final, &sb) == 0 && S_ISREG(sb.st_mode)) {
        return 2;
    }

    return 0;
}


/* the row's values as the encoder takes them */
static int
media_export_spec(media_job_t *job, media_export_spec_t *spec,
    const char *format, const char *codec, int audio_only, const char *rate,
    const char *hz, const char *enhance)
{
    int           i;
    size_t        n, len;
    const char   *p, *e;

    memset(spec, 0, sizeof(media_export_spec_t));

    spec->format = media_export_format(format, strlen(format));
    spec->codec = spec->format == NULL ? NULL
                  : media_export_codec(spec->format, codec,
                                       codec ? strlen(codec) : 0);

    if (spec->codec == NULL) {
        media_job_fail(job, "no export format %s with codec %s", format,
                       codec ? codec : "(default)");
        return -1;
    }

    spec->video = spec->format->video && !audio_only;
    spec->bitrate = spec->codec->bitrates == NULL ? 0
                    : rate ? atoi(rate) : spec->codec->bitrate;
    spec->sample_rate = hz ? atoi(hz) : 0;

    /* the presets in the table's order: the sound's, then loudness */
    for (i = 0; i < MEDIA_ENHANCE_N; i++) {
        len = strlen(media_enhance_presets[i].name);

        for (p = enhance; *p; p = *e ? e + 1 : e) {
            e = strchr(p, ',');
            if (e == NULL) {
                e = p + strlen(p);
            }

            if ((size_t) (e - p) != len
                || memcmp(p, media_enhance_presets[i].name, len) != 0)
            {
                continue;
            }

            if (media_enhance_presets[i].filter == NULL) {
                spec->loudness = 1;
                break;
            }

            n = media_enhance_presets[i].video
                ? strlen(spec->vfilters) : strlen(spec->afilters);

            if (media_enhance_presets[i].video) {
                snprintf(spec->vfilters + n, sizeof(spec->vfilters) - n,
                         "%s,", media_enhance_presets[i].filter);
            } else {
                snprintf(spec->afilters + n, sizeof(spec->afilters) - n,
                         "%s,", media_enhance_presets[i].filter);
            }

            break;
        }
    }

    return 0;
}


static int
media_export_run(media_job_t *job, media_export_job_t *x)
{
    int                rc;
    media_probe_t      probe;
    media_loudness_t   loud, *normalize;

    probe.ic = NULL;
    normalize = NULL;
    rc = -1;

    if (mkdir(x->dir, 0755) != 0 && errno != EEXIST) {
        media_job_fail(job, "mkdir %s: %s", x->dir, strerror(errno));
        goto done;
    }

    if (media_probe(job, x->source, &probe) != 0) {
        goto done;
    }

    if (probe.audio < 0 && !(x->spec.video && probe.video >= 0)) {
        media_job_fail(job, "no audio stream to export");
        media_job_refuse(job, MEDIA_MSG_NO_SOUND);
        goto done;
    }

    x->spec.video = x->spec.video && probe.video >= 0;

    /* the two passes of loudness: measured after the other presets */
    if (x->spec.loudness && probe.audio >= 0) {
        if (media_normalize(job, &probe, x->source, x->spec.afilters, NULL,
                            &loud)
            != 0)
        {
            goto done;
        }
        normalize = &loud;
    }

    if (media_export_encode(job, &probe, &x->spec, normalize, x->work) != 0
        || media_export_record(job, x) != 0)
    {
        goto done;
    }

    rc = 0;

done:

    if (probe.ic) {
        media_probe_close(&probe);
    }

    return rc;
}


/*
 * Publish, then record: the file is in place before the row says ready.
 * A row already deleted (the user deleted the export meanwhile) takes no
 * file: it is removed again.
 */
static int
media_export_record(media_job_t *job, media_export_job_t *x)
{
    char          size[32], ms[32], hz[16], ttl[32], rate[16], key[128];
    char          err[512];
    PGresult     *res;
    struct stat   st;
    const char   *params[6];

    if (stat(x->work, &st) != 0) {
        media_job_fail(job, "stat %s: %s", x->work, strerror(errno));
        return -1;
    }

    /* in a bucket: exports/<id>.<ext> there, the spool's copy gone */
    snprintf(key, sizeof(key), MEDIA_DIR_EXPORTS "/%s",
             strrchr(x->final, '/') + 1);

    if (job->settings->s3.on) {
        if (media_s3_put_file(job->settings, key, x->work,
                              media_s3_type(x->final), err, sizeof(err))
            != 0)
        {
            media_job_fail(job, "%s", err);
            return -1;
        }

        (void) unlink(x->work);

    } else if (rename(x->work, x->final) != 0) {
        media_job_fail(job, "publish %s: %s", x->final, strerror(errno));
        return -1;
    }

    snprintf(size, sizeof(size), "%lld", (long long) st.st_size);
    snprintf(ms, sizeof(ms), "%" PRId64, x->spec.duration_ms);
    snprintf(hz, sizeof(hz), "%d", x->spec.out_rate);
    snprintf(ttl, sizeof(ttl), "%ld", job->settings->export_ttl);
    snprintf(rate, sizeof(rate), "%d", x->spec.bitrate);

    params[0] = x->id;
    params[1] = size;
    params[2] = ms;
    params[3] = x->spec.out_rate ? hz : NULL;
    params[4] = ttl;
    params[5] = x->spec.bitrate ? rate : NULL;

    res = media_pg_exec(job->pg, &media_sql_ready, params);

    if (media_job_check(job, res, PGRES_TUPLES_OK, "record the export")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) == 0) {
        PQclear(res);
        (void) unlink(x->final);
        if (job->settings->s3.on) {
            (void) media_s3_delete(job->settings, key, err, sizeof(err));
        }
        media_log_info("job %s: export %s was deleted while it ran; its "
                       "file is removed", job->id, x->id);
        return 0;
    }

    PQclear(res);

    job->result = malloc(64);
    if (job->result) {
        snprintf(job->result, 64, "{\"size\":%s}", size);
    }

    media_log_info("job %s: export %s ready, %s, %s bytes, %s ms", job->id,
                   x->id, x->spec.format->name, size, ms);
    return 0;
}


static void
media_export_mark(PGconn *pg, const char *job_id, const char *export_id,
    const char *status, const char *error)
{
    PGresult    *res;
    const char  *params[3];

    params[0] = export_id;
    params[1] = status;
    params[2] = error;

    res = media_pg_exec(pg, &media_sql_mark, params);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        media_log_error("job %s: mark export %s %s: %s", job_id, export_id,
                        status, PQerrorMessage(pg));
    }

    PQclear(res);
}


/* a job its consumers kept dying on: its export fails with it */
static void
media_export_dead(PGconn *pg, const char *job_id, const char *media_id,
    const char *reason)
{
    PGresult    *res;
    const char  *params[2];

    (void) media_id;

    params[0] = job_id;
    params[1] = reason;

    res = media_pg_exec(pg, &media_sql_dead, params);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        media_log_error("job %s: mark its export failed: %s", job_id,
                        PQerrorMessage(pg));
    }

    PQclear(res);
}


static void
media_export_clear(media_job_t *job, media_export_job_t *x)
{
    char     pattern[4096];
    size_t   i;
    glob_t   g;

    if (media_path(pattern, sizeof(pattern), "%s/.%s.*", x->dir, x->id) != 0
        || glob(pattern, 0, NULL, &g) != 0)
    {
        return;
    }

    for (i = 0; i < g.gl_pathc; i++) {
        media_log_info("job %s: removing %s, left by an earlier attempt",
                       job->id, g.gl_pathv[i]);
        (void) unlink(g.gl_pathv[i]);
    }

    globfree(&g);
}


/* {"export": "<uuid>"} from the job's payload */
static int
media_export_id(media_job_t *job, char *id, size_t size)
{
    yajl_val     doc, v;

    static const char  *path[] = { "export", NULL };

    doc = yajl_tree_parse(job->payload, NULL, 0);
    v = doc ? yajl_tree_get(doc, path, yajl_t_string) : NULL;

    if (v == NULL || strlen(v->u.string) != 36 || strlen(v->u.string) >= size
        || strspn(v->u.string, "0123456789abcdef-") != 36)
    {
        media_job_fail(job, "the job names no export");
        yajl_tree_free(doc);
        return -1;
    }

    snprintf(id, size, "%s", v->u.string);
    yajl_tree_free(doc);

    return 0;
}
