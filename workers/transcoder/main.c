/*
 * media-transcoder: takes transcode jobs from the media:transcode stream.
 *
 * A job: probe the upload, choose the ladder, run the pipeline into a
 * generation of its own in the served directory, hls/<id>/g<N>/, listing
 * each rung (rungs.txt, then its renditions row) once it has two segments,
 * so the media plays while it transcodes (progressive.c: every file is
 * written aside and renamed, nobody sees half of one); at the end measure
 * what it wrote, record the renditions and the media's state in one
 * transaction, and remove the older generations.  Running it twice gives
 * the same result: a new generation, the rows replaced whole.
 */

#define _XOPEN_SOURCE 700

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "worker.h"
#include "queue.h"
#include "s3.h"
#include "transcoder.h"


const char  *media_worker_name = "media-transcoder";


/* the statements of the transcoder, each prepared once per connection */

static media_stmt_t  media_sql_renditions_clear =
    media_stmt("transcoder_renditions_clear", 1,
        "DELETE FROM renditions WHERE media_id = $1");

static media_stmt_t  media_sql_rendition =
    media_stmt("transcoder_rendition", 8,
        "INSERT INTO renditions (media_id, name, width, height,"
        "  frame_rate, bandwidth, average_bandwidth, codecs)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");

static media_stmt_t  media_sql_ready =
    media_stmt("transcoder_ready", 6,
        "UPDATE media SET status = 'ready', kind = $2,"
        "  duration_ms = $3, loudness_lufs = $4, loudnorm_mode = $5,"
        "  pictures = $6::int | CASE WHEN cover_source = 'upload'"
        "    THEN pictures & 1 ELSE 0 END,"
        "  cover_source = CASE WHEN cover_source = 'upload' THEN 'upload'"
        "    WHEN $6::int & 1 = 1 THEN 'file' END,"
        "  error = NULL WHERE id = $1");

static media_stmt_t  media_sql_mark =
    media_stmt("transcoder_mark", 3,
        "UPDATE media SET status = $2, error = $3 WHERE id = $1");


static int media_transcode(media_job_t *job);
static int media_cover_job(media_job_t *job);
static int media_avatar_job(media_job_t *job);
static int media_avatar_publish(media_job_t *job, const char *dir,
    const char *key);
static void media_avatar_remove(media_job_t *job, const char *dir,
    const char *key, const char *size);
static int media_cover_tick(const media_settings_t *s, PGconn *pg,
    redisContext *rc);
static void media_cover_stat(media_job_t *job, char *path, size_t size,
    struct stat *sb);
static int media_cover_recheck(media_job_t *job, const struct stat *before,
    const char *final, media_ladder_t *l);
static int media_transcode_file(const char *source, const char *dir,
    long threads);
static int media_source(media_job_t *job, char *path, size_t size);
static int media_store_original(media_job_t *job, const char *source);
static int media_cover_published(media_job_t *job, const char *final,
    struct stat *sb);
static int media_cover_count(void *data, const char *key);
static int media_cover_publish(media_job_t *job, const char *final);
static int media_record(media_job_t *job, media_probe_t *p,
    media_ladder_t *l, media_loudness_t *loud);
static void media_mark(media_job_t *job, const char *status,
    const char *error);
static void media_mark_media(PGconn *pg, const char *job_id,
    const char *media_id, const char *status, const char *error);
static void media_clear_attempts(media_job_t *job);
static void media_dead(PGconn *pg, const char *job_id, const char *media_id,
    const char *reason);


int
main(int argc, char **argv)
{
    static const media_queue_t  queue = {
        "transcode", MEDIA_STREAM_TRANSCODE, MEDIA_GROUP_TRANSCODE,
        media_transcode, media_dead
    };

    av_log_set_level(AV_LOG_ERROR);

    /* cover jobs (an uploaded cover made into its sizes) between
     * transcodes: seconds of work, no reason for a process of their own */
    media_worker_tick = media_cover_tick;

    if (argc >= 4 && strcmp(argv[1], "transcode") == 0) {
        return media_transcode_file(argv[2], argv[3],
                                    argc > 4 ? atol(argv[4]) : 0);
    }

    return media_worker_main(argc, argv, &queue);
}


/*
 * media-transcoder transcode SOURCE DIR [THREADS]: the pipeline alone, no
 * queue and no database; prints what it made.  For debugging a file and
 * for bench/transcode.
 */
static int
media_transcode_file(const char *source, const char *dir, long threads)
{
    int               i, rc;
    media_job_t       job;
    media_probe_t     probe;
    media_ladder_t    ladder;
    media_settings_t  s;
    media_loudness_t  loud, *normalize;

    memset(&job, 0, sizeof(job));
    media_settings_defaults(&s);
    s.transcode_threads = threads;
    job.settings = &s;
    snprintf(job.id, sizeof(job.id), "by-hand");
    media_job_advanced(&job);

    rc = 1;
    probe.ic = NULL;
    normalize = NULL;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        media_job_fail(&job, "mkdir %s: %s", dir, strerror(errno));
        goto done;
    }

    if (media_probe(&job, source, &probe) != 0) {
        goto done;
    }

    media_ladder(&probe, &ladder);

    if (probe.video < 0) {
        if (media_normalize(&job, &probe, source, NULL, dir, &loud) != 0) {
            goto done;
        }
        normalize = &loud;
    }

    if (media_pipeline(&job, &probe, &ladder, normalize, dir) != 0) {
        goto done;
    }

    for (i = 0; i < ladder.n; i++) {
        if (media_measure(&job, &ladder.rungs[i], dir) != 0) {
            goto done;
        }

        printf("%s %dx%d peak %" PRId64 " average %" PRId64 " %s\n",
               ladder.rungs[i].name, ladder.rungs[i].width,
               ladder.rungs[i].height, ladder.rungs[i].peak,
               ladder.rungs[i].average, ladder.rungs[i].codecs);
    }

    rc = 0;

done:

    if (probe.ic) {
        media_probe_close(&probe);
    }

    if (rc) {
        fprintf(stderr, "media-transcoder: %s\n", job.error);
    }

    return rc;
}


static int
media_transcode(media_job_t *job)
{
    int               rc;
    char              source[4096], gen[4096], final[4096], cover[4096];
    struct stat       cover_sb;
    media_probe_t     probe;
    media_ladder_t    ladder;
    media_loudness_t  loud, *normalize;

    if (media_source(job, source, sizeof(source)) != 0) {
        job->permanent = 1;
        return -1;
    }

    media_mark(job, "processing", NULL);

    if (media_path(final, sizeof(final), "%s/" MEDIA_DIR_HLS "/%s",
                   job->settings->storage, job->media_id) != 0)
    {
        media_job_fail(job, "media_storage path too long");
        job->permanent = 1;
        return -1;
    }

    /*
     * What an earlier transcoder left (a worker killed mid-way, before
     * generations): the lease makes this worker the only one on this
     * media now.
     */
    media_clear_attempts(job);

    rc = -1;
    probe.ic = NULL;
    gen[0] = '\0';

    if (media_probe(job, source, &probe) != 0) {
        goto done;
    }

    media_ladder(&probe, &ladder);
    ladder.probe = &probe;

    /* an uploaded cover as the pipeline will find it, or none */
    media_cover_stat(job, cover, sizeof(cover), &cover_sb);

    /* this attempt's generation, published into as it goes */
    if (media_generation_open(job, &ladder, final, gen, sizeof(gen)) != 0) {
        gen[0] = '\0';
        goto done;
    }

    /* the audio ladder is normalized to -14 LUFS: measure first */
    normalize = NULL;

    if (probe.video < 0) {
        if (media_normalize(job, &probe, source, NULL, gen, &loud) != 0) {
            goto done;
        }
        normalize = &loud;
    }

    if (media_pipeline(job, &probe, &ladder, normalize, gen) != 0) {
        goto done;
    }

    for (int i = 0; i < ladder.n; i++) {
        if (media_measure(job, &ladder.rungs[i], gen) != 0) {
            goto done;
        }
    }

    if (media_generation_close(job, &ladder) != 0
        || media_cover_recheck(job, &cover_sb, final, &ladder) != 0
        || media_store_original(job, source) != 0
        || media_record(job, &probe, &ladder, normalize) != 0)
    {
        goto done;
    }

    media_generation_sweep(job, &ladder);

    rc = 0;

done:

    if (probe.ic) {
        media_probe_close(&probe);
    }

    /* a generation no master lists goes; a listed one stays listed until
     * the next attempt's replaces it */
    if (rc != 0 && gen[0] && ladder.listed == 0) {
        (void) media_rmtree(gen);
    }

    if (rc != 0 && media_worker_stop) {
        return MEDIA_JOB_RELEASE;
    }

    /* the media fails with the job: at once for bad input, else at the
     * last attempt */
    if (rc != 0
        && (job->permanent || job->attempts >= job->max_attempts))
    {
        media_mark(job, "failed", media_job_reason(job));
    }

    return rc;
}


/*
 * With media_storage s3://, the original goes to the bucket too
 * (uploads/<id>, in parts when large), before the media says ready; the
 * spool's copy stays for the exporter until media_source_retention.
 */
static int
media_store_original(media_job_t *job, const char *source)
{
    char  key[128], err[512];

    if (!job->settings->s3.on) {
        return 0;
    }

    snprintf(key, sizeof(key), MEDIA_DIR_UPLOADS "/%s", job->media_id);

    if (media_s3_put_file(job->settings, key, source,
                          "application/octet-stream", err, sizeof(err))
        != 0)
    {
        media_job_fail(job, "%s", err);
        return -1;
    }

    return 0;
}


/* {"source": "<path>"} from the job's payload */
static int
media_source(media_job_t *job, char *path, size_t size)
{
    yajl_val     doc, v;

    static const char  *source[] = { "source", NULL };

    doc = yajl_tree_parse(job->payload, NULL, 0);
    v = doc ? yajl_tree_get(doc, source, yajl_t_string) : NULL;

    if (v == NULL || strlen(v->u.string) >= size) {
        media_job_fail(job, "the job names no source file");
        yajl_tree_free(doc);
        return -1;
    }

    snprintf(path, size, "%s", v->u.string);
    yajl_tree_free(doc);

    return 0;
}


static int
media_record(media_job_t *job, media_probe_t *p, media_ladder_t *l,
    media_loudness_t *loud)
{
    int                 i, ok;
    char                dur[32], lufs[32], pics[16];
    const char         *params[8];
    media_rung_text_t   t;

    ok = media_pg_begin(job->pg);

    params[0] = job->media_id;
    ok = media_pg_step(job->pg, ok, &media_sql_renditions_clear, params);

    for (i = 0; ok && i < l->n; i++) {
        media_rung_params(&l->rungs[i], p, &t, params);
        ok = media_pg_step(job->pg, ok, &media_sql_rendition, params);
    }

    snprintf(dur, sizeof(dur), "%" PRId64, p->duration_ms);
    params[1] = p->kind;
    params[2] = dur;
    params[3] = NULL;
    params[4] = NULL;

    if (loud) {
        snprintf(lufs, sizeof(lufs), "%.2f", loud->integrated);
        params[3] = lufs;
        params[4] = loud->linear ? "linear" : "dynamic";
    }

    /*
     * The pictures this transcode made; an uploaded cover's bit stays
     * (a cover job may have made it into this directory after the
     * publish), and an uploaded cover stays the cover's source.
     */
    snprintf(pics, sizeof(pics), "%d", l->pictures);
    params[5] = pics;

    ok = media_pg_step(job->pg, ok, &media_sql_ready, params);
    ok = media_pg_end(job->pg, ok);

    if (!ok) {
        media_job_fail(job, "record the renditions: %s",
                       PQerrorMessage(job->pg));
        return -1;
    }

    job->result = malloc(64);
    if (job->result) {
        snprintf(job->result, 64, "{\"renditions\":%d}", l->n);
    }

    media_log_info("job %s: media %s ready, %s, %d renditions, %" PRId64
                   " ms", job->id, job->media_id, p->kind, l->n,
                   p->duration_ms);
    return 0;
}


static void
media_mark(media_job_t *job, const char *status, const char *error)
{
    media_mark_media(job->pg, job->id, job->media_id, status, error);
}


/* a job its consumers kept dying on: its media fails with it */
static void
media_dead(PGconn *pg, const char *job_id, const char *media_id,
    const char *reason)
{
    media_mark_media(pg, job_id, media_id, "failed", reason);
}


static void
media_mark_media(PGconn *pg, const char *job_id, const char *media_id,
    const char *status, const char *error)
{
    PGresult    *res;
    const char  *params[3];

    params[0] = media_id;
    params[1] = status;
    params[2] = error;

    res = media_pg_exec(pg, &media_sql_mark, params);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        media_log_error("job %s: mark media %s: %s", job_id, status,
                        PQerrorMessage(pg));
    }

    PQclear(res);
}


static void
media_clear_attempts(media_job_t *job)
{
    char     pattern[4096];
    size_t   i;
    glob_t   g;

    if (media_path(pattern, sizeof(pattern), "%s/" MEDIA_DIR_HLS "/.%s.*",
                   job->settings->storage, job->media_id) != 0
        || glob(pattern, 0, NULL, &g) != 0)
    {
        return;
    }

    for (i = 0; i < g.gl_pathc; i++) {
        media_log_info("job %s: removing %s, left by an earlier attempt",
                       job->id, g.gl_pathv[i]);
        (void) media_rmtree(g.gl_pathv[i]);
    }

    globfree(&g);
}


/* covers ------------------------------------------------------------------ */

/* the avatar job's user and new key */
static media_stmt_t  media_sql_avatar_job =
    media_stmt("avatar_job", 1,
        "SELECT user_id::text, payload->>'avatar' FROM jobs"
        " WHERE id = $1::uuid AND user_id IS NOT NULL"
        "   AND payload->>'avatar' ~ '^[0-9a-f]{32}$'");

/* the new key shown, the one it replaces returned (its files go) */
static media_stmt_t  media_sql_avatar_done =
    media_stmt("avatar_done", 2,
        "UPDATE users u SET avatar_key = $2"
        "  FROM (SELECT avatar_key FROM users WHERE id = $1::uuid"
        "         FOR UPDATE) o"
        " WHERE u.id = $1::uuid RETURNING coalesce(o.avatar_key, '')");

static media_stmt_t  media_sql_cover_done =
    media_stmt("cover_done", 1,
        "UPDATE media SET pictures = pictures | 1, cover_source = 'upload'"
        " WHERE id = $1::uuid");


/* covers/<media id>, and what it is now (st_ino 0: none) */
static void
media_cover_stat(media_job_t *job, char *path, size_t size, struct stat *sb)
{
    memset(sb, 0, sizeof(struct stat));

    if (media_path(path, size, "%s/" MEDIA_DIR_COVERS "/%s",
                   job->settings->storage, job->media_id) != 0
        || stat(path, sb) != 0)
    {
        memset(sb, 0, sizeof(struct stat));
    }
}


/*
 * A cover uploaded while this transcode ran, after the pipeline looked:
 * its cover job found no directory (or the one this publish replaced), so
 * it is made here, into the published one.  Uploads are renamed into
 * place, so a new one is a new inode.
 */
static int
media_cover_recheck(media_job_t *job, const struct stat *before,
    const char *final, media_ladder_t *l)
{
    char         path[4096];
    struct stat  now;

    media_cover_stat(job, path, sizeof(path), &now);

    if (now.st_ino == 0
        || (now.st_ino == before->st_ino && now.st_dev == before->st_dev
            && now.st_mtime == before->st_mtime))
    {
        return 0;
    }

    media_log_info("job %s: a cover was uploaded during the transcode",
                   job->id);

    if (media_cover_file(job, path, final) != 0
        || media_cover_publish(job, final) != 0)
    {
        /* the cover job reports it; the sound is fine */
        job->error[0] = '\0';
        job->reason[0] = '\0';
        job->permanent = 0;
        return 0;
    }

    l->pictures |= MEDIA_PIC_COVER;

    return 0;
}


/*
 * A cover job: covers/<media id> (the upload, checked by nginx: a JPEG or
 * PNG of at most 10 MB and 8000x8000) into hls/<media id>/cover-*.jpg.
 * No directory yet: the media is still being transcoded, and that
 * transcode makes the cover (media_cover_recheck).
 */
static int
media_cover_job(media_job_t *job)
{
    int           published, rc;
    char          path[4096], final[4096];
    PGresult     *res;
    struct stat   sb;
    const char   *params[1];

    /* no media: a user's avatar (PUT /api/v1/me/avatar) */
    if (job->media_id[0] == '\0') {
        return media_avatar_job(job);
    }

    if (media_path(path, sizeof(path), "%s/" MEDIA_DIR_COVERS "/%s",
                   job->settings->storage, job->media_id) != 0
        || media_path(final, sizeof(final), "%s/" MEDIA_DIR_HLS "/%s",
                      job->settings->storage, job->media_id) != 0)
    {
        media_job_fail(job, "media_storage path too long");
        job->permanent = 1;
        return -1;
    }

    published = media_cover_published(job, final, &sb);
    if (published == -1) {
        return -1;
    }

    if (published == 0) {
        job->result = strdup("{\"cover\":\"with the transcode\"}");
        return 0;
    }

    /* in a bucket: made in the spool, put there, and the spool's copy
     * removed */
    if (job->settings->s3.on && mkdir(final, 0755) != 0 && errno != EEXIST)
    {
        media_job_fail(job, "mkdir %s: %s", final, strerror(errno));
        return -1;
    }

    rc = media_cover_file(job, path, final) == 0
         && media_cover_publish(job, final) == 0;

    if (job->settings->s3.on) {
        (void) media_rmtree(final);
    }

    if (!rc) {
        return -1;
    }

    params[0] = job->media_id;
    res = media_pg_exec(job->pg, &media_sql_cover_done, params);
    if (media_job_check(job, res, PGRES_COMMAND_OK, "record the cover") != 0)
    {
        return -1;
    }
    PQclear(res);

    job->result = strdup("{\"cover\":\"made\"}");

    media_log_info("job %s: media %s has its uploaded cover", job->id,
                   job->media_id);
    return 0;
}


/*
 * Whether the media's pictures are published (1) or its transcode will
 * make the cover (0): on disk, its directory is there; in a bucket, its
 * rungs.txt is (the spool's copy goes after each publish).  -1: failed.
 */
static int
media_cover_published(media_job_t *job, const char *final, struct stat *sb)
{
    int   n;
    char  key[128], err[512];

    if (!job->settings->s3.on) {
        return stat(final, sb) == 0 && S_ISDIR(sb->st_mode);
    }

    snprintf(key, sizeof(key), MEDIA_DIR_HLS "/%s/rungs.txt", job->media_id);

    n = 0;
    if (media_s3_list(job->settings, key, media_cover_count, &n, err,
                      sizeof(err))
        != 0)
    {
        media_job_fail(job, "%s", err);
        return -1;
    }

    return n > 0;
}


static int
media_cover_count(void *data, const char *key)
{
    (void) key;

    (*(int *) data)++;

    return 0;
}


/* with media_storage s3://: the two covers made in final, to the bucket */
static int
media_cover_publish(media_job_t *job, const char *final)
{
    int          i;
    char         key[128], path[4096], err[512];

    static const char  *covers[] = { "cover-512.jpg", "cover-128.jpg" };

    for (i = 0; job->settings->s3.on && i < 2; i++) {
        snprintf(key, sizeof(key), MEDIA_DIR_HLS "/%s/%s", job->media_id,
                 covers[i]);

        if (media_path(path, sizeof(path), "%s/%s", final, covers[i]) != 0
            || media_s3_put_file(job->settings, key, path, "image/jpeg", err,
                                 sizeof(err))
               != 0)
        {
            media_job_fail(job, "%s", err);
            return -1;
        }
    }

    return 0;
}


/*
 * An avatar job: covers/avatar-<user id> (the upload, checked by nginx as a
 * cover is) into avatars/<key>-256.jpg and -64.jpg, then the key shown,
 * then the files of the key it replaced removed.  A retry makes the same
 * files again (the key is the job's).  With media_storage s3:// the two
 * files go to the bucket's avatars/ before the key is shown, and leave the
 * spool; the replaced ones are deleted there.
 */
static int
media_avatar_job(media_job_t *job)
{
    int           i;
    char          path[4096], dir[4096], user[40], key[40];
    PGresult     *res;
    const char   *params[2];

    params[0] = job->id;
    res = media_pg_exec(job->pg, &media_sql_avatar_job, params);
    if (media_job_check(job, res, PGRES_TUPLES_OK, "read the avatar job")
        != 0)
    {
        return -1;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        media_job_fail(job, "avatar: the job names no user or key");
        job->permanent = 1;
        return -1;
    }

    snprintf(user, sizeof(user), "%s", PQgetvalue(res, 0, 0));
    snprintf(key, sizeof(key), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);

    if (media_path(path, sizeof(path), "%s/" MEDIA_DIR_COVERS "/avatar-%s",
                   job->settings->storage, user) != 0
        || media_path(dir, sizeof(dir), "%s/" MEDIA_DIR_AVATARS,
                      job->settings->storage) != 0)
    {
        media_job_fail(job, "media_storage path too long");
        job->permanent = 1;
        return -1;
    }

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        media_job_fail(job, "avatar: mkdir %s: %s", dir, strerror(errno));
        return -1;
    }

    if (media_avatar_file(job, path, dir, key) != 0
        || media_avatar_publish(job, dir, key) != 0)
    {
        return -1;
    }

    params[0] = user;
    params[1] = key;
    res = media_pg_exec(job->pg, &media_sql_avatar_done, params);
    if (media_job_check(job, res, PGRES_TUPLES_OK, "record the avatar") != 0)
    {
        return -1;
    }

    /* the replaced avatar's files: nobody is shown them any more */
    if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0]
        && strcmp(PQgetvalue(res, 0, 0), key) != 0)
    {
        for (i = 0; i < 2; i++) {
            media_avatar_remove(job, dir, PQgetvalue(res, 0, 0),
                                i ? "64" : "256");
        }
    }
    PQclear(res);

    job->result = strdup("{\"avatar\":\"made\"}");

    media_log_info("job %s: user %s has a new avatar", job->id, user);
    return 0;
}


/*
 * With media_storage s3://: dir/<key>-256.jpg and -64.jpg to the bucket's
 * avatars/, then out of the spool (nginx serves them from the bucket).
 */
static int
media_avatar_publish(media_job_t *job, const char *dir, const char *key)
{
    int          i;
    char         name[64], obj[128], path[4096], err[512];

    static const char  *sizes[] = { "256", "64" };

    for (i = 0; job->settings->s3.on && i < 2; i++) {
        snprintf(name, sizeof(name), "%s-%s.jpg", key, sizes[i]);
        snprintf(obj, sizeof(obj), MEDIA_DIR_AVATARS "/%s", name);

        if (media_path(path, sizeof(path), "%s/%s", dir, name) != 0
            || media_s3_put_file(job->settings, obj, path, "image/jpeg", err,
                                 sizeof(err))
               != 0)
        {
            media_job_fail(job, "%s", err);
            return -1;
        }
    }

    for (i = 0; job->settings->s3.on && i < 2; i++) {
        snprintf(name, sizeof(name), "%s-%s.jpg", key, sizes[i]);

        if (media_path(path, sizeof(path), "%s/%s", dir, name) == 0
            && unlink(path) != 0 && errno != ENOENT)
        {
            media_log_info("job %s: remove %s: %s", job->id, path,
                           strerror(errno));
        }
    }

    return 0;
}


/* one file of a replaced avatar, from the spool or the bucket; logged only:
 * the new one is shown already */
static void
media_avatar_remove(media_job_t *job, const char *dir, const char *key,
    const char *size)
{
    char  path[4096], obj[128], err[512];

    if (job->settings->s3.on) {
        snprintf(obj, sizeof(obj), MEDIA_DIR_AVATARS "/%.40s-%s.jpg", key,
                 size);

        if (media_s3_delete(job->settings, obj, err, sizeof(err)) != 0) {
            media_log_info("job %s: %s", job->id, err);
        }

        return;
    }

    if (media_path(path, sizeof(path), "%s/%s-%s.jpg", dir, key, size) == 0
        && unlink(path) != 0 && errno != ENOENT)
    {
        media_log_info("job %s: remove %s: %s", job->id, path,
                       strerror(errno));
    }
}


/* one turn on media:cover, between transcodes; never waits long */
static int
media_cover_tick(const media_settings_t *s, PGconn *pg, redisContext *rc)
{
    char           consumer[64];
    time_t         now;
    static time_t  reconciled;

    static const media_queue_t  covers = {
        "cover", MEDIA_STREAM_COVER, MEDIA_GROUP_COVER, media_cover_job,
        NULL
    };

    now = time(NULL);

    if (now - reconciled >= 5) {
        if (media_queue_reconcile(s, &covers, pg, rc) != 0) {
            return -1;
        }
        reconciled = now;
    }

    media_consumer_name(getpid(), consumer, sizeof(consumer));

    return media_queue_turn(s, &covers, pg, rc, consumer, 1);
}
