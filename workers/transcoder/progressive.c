/*
 * Progressive publishing: a media is playable while it transcodes.
 *
 * Each attempt writes a generation of its own, <storage>/hls/<id>/g<N>/
 * (N one more than any there), straight into the served directory:
 * FFmpeg's HLS muxer writes each segment aside (seg_N.ts.tmp) and renames
 * it when complete, and rewrites the EVENT playlist aside and renames it
 * after each segment; the trailer adds #EXT-X-ENDLIST.  Nobody sees a
 * half-written file, and the path parser refuses the .tmp names anyway.
 *
 * A rung is listed once its playlist has MEDIA_LIST_SEGMENTS segments,
 * the lowest rung first: rungs.txt (what the module builds masters from)
 * is rewritten aside and renamed, then the rung's renditions row is
 * written, so a playback token is only issued for a master that lists
 * something.  The first listing of a generation replaces the rows (and
 * the rungs.txt) of the one before; until then an earlier generation
 * stays what masters list.  A master names its generation in every URI,
 * so a player never mixes segments of two attempts.  At the end the
 * pictures are moved up, rungs.txt says "done", g<N>/done is made (the
 * module's cue for long cache lifetimes), and the older generations go.
 *
 * With media_storage s3://, the same generation is made in the spool
 * (media_storage's spool=) and nothing is listed while it grows: at the
 * end its segments and rung playlists go to the bucket first, then the
 * pictures, then rungs.txt (what masters are built from), and only then
 * the rows that let playback tokens be issued; each object appears whole
 * (a PUT, or a multipart upload's completion), so a player never meets a
 * half object or a master naming what is not there yet.  The older
 * generations' objects go after "ready", and the spool's copy with them.
 */

#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "worker.h"
#include "s3.h"
#include "transcoder.h"


static media_stmt_t  media_sql_rungs_clear =
    media_stmt("progressive_rungs_clear", 1,
        "DELETE FROM renditions WHERE media_id = $1");

static media_stmt_t  media_sql_rung_listed =
    media_stmt("progressive_rung_listed", 8,
        "INSERT INTO renditions (media_id, name, width, height,"
        "  frame_rate, bandwidth, average_bandwidth, codecs)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (media_id, name) DO UPDATE SET width = $3,"
        "  height = $4, frame_rate = $5, bandwidth = $6,"
        "  average_bandwidth = $7, codecs = $8");


/* the pictures a transcode makes, moved up from g<N>/ at the end */
static const char  *media_pictures[] = {
    "poster.jpg", "cover-512.jpg", "cover-128.jpg", "thumbs.jpg",
    "thumbs.vtt", "waveform.json", NULL
};


static int media_segments(const char *dir, const char *rung);
static int64_t media_rung_rate(const media_rung_t *r);
static int media_rung_row(media_job_t *job, media_ladder_t *l,
    media_rung_t *r, int first);
static int64_t media_now_us(void);
static int media_unlink(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw);
static long media_gen_number(const char *name, size_t len);
static int media_s3_top_gen(void *data, const char *key);
static int media_s3_publish(media_job_t *job, media_ladder_t *l);
static int media_s3_old_gen(void *data, const char *key);


/* what the bucket walks below carry */
typedef struct {
    media_job_t     *job;
    media_ladder_t  *l;
    long             top;
    size_t           skip;        /* "hls/<id>/" */
} media_s3_walk_t;


/*
 * hls/<id>/ (made if new) and hls/<id>/g<N>/, N one more than the highest
 * there: an earlier attempt's files are never written over.
 */
int
media_generation_open(media_job_t *job, media_ladder_t *l, const char *final,
    char *dir, size_t size)
{
    long            n, top;
    DIR            *d;
    char           *end;
    const char     *pace, *hold;
    struct dirent  *e;

    if (mkdir(final, 0755) != 0 && errno != EEXIST) {
        media_job_fail(job, "mkdir %s: %s", final, strerror(errno));
        return -1;
    }

    d = opendir(final);
    if (d == NULL) {
        media_job_fail(job, "open %s: %s", final, strerror(errno));
        return -1;
    }

    top = 0;

    while ((e = readdir(d)) != NULL) {
        n = media_gen_number(e->d_name, strlen(e->d_name));
        if (n > top) {
            top = n;
        }
    }

    closedir(d);

    /* the bucket's generations too: the spool's go after each publish */
    if (job->settings->s3.on) {
        media_s3_walk_t  w;
        char             prefix[128], err[512];

        w.job = job;
        w.l = l;
        w.top = top;
        snprintf(prefix, sizeof(prefix), MEDIA_DIR_HLS "/%s/g",
                 job->media_id);
        w.skip = strlen(prefix) - 1;

        if (media_s3_list(job->settings, prefix, media_s3_top_gen, &w, err,
                          sizeof(err))
            != 0)
        {
            media_job_fail(job, "%s", err);
            return -1;
        }

        top = w.top;
    }

    snprintf(l->gen, sizeof(l->gen), "g%d", (int) top + 1);

    if (media_path(dir, size, "%s/%s", final, l->gen) != 0) {
        media_job_fail(job, "media_storage path too long");
        return -1;
    }

    if (mkdir(dir, 0755) != 0) {
        media_job_fail(job, "mkdir %s: %s", dir, strerror(errno));
        return -1;
    }

    l->final = final;
    l->dir = dir;
    l->listed = 0;
    l->checked_ms = 0;
    l->started_us = media_now_us();

    /*
     * For tests only: at most this many seconds of source per second, so
     * that a short clip is still transcoding while a test plays it.
     */
    pace = getenv("MEDIA_TEST_TRANSCODE_PACE");
    l->pace = pace ? strtod(pace, NULL) : 0;

    /*
     * And "<ms>:<file>": past ms of source, a packet each half second
     * while the file is there (60 s at most), so that a test decides when
     * the rest comes.
     */
    hold = getenv("MEDIA_TEST_TRANSCODE_HOLD");
    l->hold_file = NULL;
    if (hold) {
        l->hold_ms = strtoll(hold, &end, 10);
        l->hold_file = (*end == ':') ? end + 1 : NULL;
        l->hold_until_us = l->started_us + 60000000;
    }

    media_log_info("job %s: media %s, generation %s", job->id, job->media_id,
                   l->gen);

    return 0;
}


/* from the pipeline's loop, after each packet read */
int
media_progressive_tick(media_job_t *job, media_ladder_t *l, int64_t at_ms)
{
    if (l->final == NULL) {
        return 0;
    }

    (void) media_progressive_pace(l, at_ms);

    if (l->listed == (1 << l->n) - 1 || at_ms < l->checked_ms + 500
        || job->settings->s3.on)
    {
        return 0;
    }

    l->checked_ms = at_ms;

    return media_progressive_list(job, l, 0);
}


/*
 * MEDIA_TEST_TRANSCODE_PACE: no faster than that, and
 * MEDIA_TEST_TRANSCODE_HOLD: no further while held (any pass, any thread)
 */
int
media_progressive_pace(media_ladder_t *l, int64_t at_ms)
{
    int64_t  ahead_us;

    if (l->final == NULL) {
        return 0;
    }

    if (l->hold_file && at_ms >= l->hold_ms
        && media_now_us() < l->hold_until_us
        && access(l->hold_file, F_OK) == 0)
    {
        usleep(500000);

        /* the pace counts from here: no burst to catch up once let go */
        if (l->pace > 0) {
            __atomic_store_n(&l->started_us, media_now_us()
                             - (int64_t) (at_ms * 1000 / l->pace),
                             __ATOMIC_RELAXED);
        }

        return 0;
    }

    if (l->pace <= 0) {
        return 0;
    }

    ahead_us = (int64_t) (at_ms * 1000 / l->pace)
               - (media_now_us()
                  - __atomic_load_n(&l->started_us, __ATOMIC_RELAXED));
    if (ahead_us > 0) {
        usleep(ahead_us > 200000 ? 200000 : (useconds_t) ahead_us);
    }

    return 0;
}


/*
 * The head start: which rung gets a pass of its own ahead of the others
 * (the lowest, by bit rate), or -1.  With one pass feeding every rung,
 * the lowest rung's second segment closes when the whole ladder has
 * encoded about 12 s of source, some 25 s on 2 cores for 1080p; alone,
 * it gets there in a few seconds.  The cost is a second read and decode
 * of the source (and of its audio) for that rung.  Only where rungs are
 * listed while they grow (a queued job on local disk), for a video ladder
 * of more than one rung long enough to list a rung before its end.
 */
int
media_progressive_head(media_job_t *job, media_ladder_t *l)
{
    int  i, low;

    if (l->final == NULL || job->settings->s3.on || l->n < 2
        || l->probe == NULL || l->probe->video < 0
        || l->probe->duration_ms
           <= MEDIA_LIST_SEGMENTS * MEDIA_SEGMENT_SECS * 1000)
    {
        return -1;
    }

    low = 0;

    for (i = 1; i < l->n; i++) {
        if (media_rung_rate(&l->rungs[i]) < media_rung_rate(&l->rungs[low]))
        {
            low = i;
        }
    }

    return low;
}


/*
 * While the head start's pass runs alone: its rung listed as soon as it
 * has its segments (here, on the thread that owns the job's connection),
 * then the other rungs may start.  They also start if that pass ended or
 * failed, or read a segment past what listing needs without being listed
 * (a source with keyframes too far apart: the rung is listed later, as
 * any).  done and at_ms are the pass's, halt is set by a failed pass.
 */
int
media_progressive_wait(media_job_t *job, media_ladder_t *l, int head,
    int *done, int64_t *at_ms, int *halt)
{
    int64_t  seen, at, most;

    seen = -1;
    most = (MEDIA_LIST_SEGMENTS + 1) * MEDIA_SEGMENT_SECS * 1000;

    for ( ;; ) {
        if (__atomic_load_n(halt, __ATOMIC_ACQUIRE)
            || __atomic_load_n(done, __ATOMIC_ACQUIRE))
        {
            return 0;
        }

        if (media_worker_stop) {
            media_job_fail(job, "stopped");
            return -1;
        }

        at = __atomic_load_n(at_ms, __ATOMIC_ACQUIRE);

        if (at != seen) {
            seen = at;
            media_job_advanced(job);

            if (media_job_progress(job, 0) != 0) {
                media_job_fail(job, "the job's lease was lost");
                return -1;
            }

        } else if (media_job_stalled(job)) {
            media_job_fail(job, "decoding stalled (watchdog)");
            return -1;
        }

        if (media_segments(l->dir, l->rungs[head].name)
            >= MEDIA_LIST_SEGMENTS)
        {
            return media_progressive_list(job, l, 0);
        }

        if (at > most) {
            return 0;
        }

        usleep(20000);
    }
}


/*
 * List the rungs with enough segments, lowest first (by bit rate: the
 * video ladder is highest first, the audio one lowest first); done: every
 * rung, however short (the playlists ended).
 */
int
media_progressive_list(media_job_t *job, media_ladder_t *l, int done)
{
    int            i, k, j, first, changed, order[MEDIA_MAX_RUNGS];
    media_rung_t  *r;

    for (k = 0; k < l->n; k++) {
        for (j = k; j > 0
             && media_rung_rate(&l->rungs[k])
                < media_rung_rate(&l->rungs[order[j - 1]]); j--)
        {
            order[j] = order[j - 1];
        }
        order[j] = k;
    }

    changed = 0;

    for (k = 0; k < l->n; k++) {
        i = order[k];
        r = &l->rungs[i];

        if (r->listed
            || (!done && media_segments(l->dir, r->name)
                         < MEDIA_LIST_SEGMENTS))
        {
            continue;
        }

        if (media_measure(job, r, l->dir) != 0) {
            return -1;
        }

        r->listed = 1;
        changed = 1;
    }

    if (!changed && !done) {
        return 0;
    }

    if (media_publish_rungs(job, l->probe, l, l->final, done) != 0) {
        return -1;
    }

    /* rungs.txt after every file it names, before any row */
    if (job->settings->s3.on) {
        char  key[128], path[4096], err[512];

        snprintf(key, sizeof(key), MEDIA_DIR_HLS "/%s/rungs.txt",
                 job->media_id);

        if (media_path(path, sizeof(path), "%s/rungs.txt", l->final) != 0
            || media_s3_put_file(job->settings, key, path, "text/plain", err,
                                 sizeof(err))
               != 0)
        {
            media_job_fail(job, "%s", err);
            return -1;
        }
    }

    for (k = 0; k < l->n; k++) {
        i = order[k];
        r = &l->rungs[i];

        if (!r->listed || (l->listed & (1 << i))) {
            continue;
        }

        first = l->listed == 0;

        if (media_rung_row(job, l, r, first) != 0) {
            return -1;
        }

        l->listed |= 1 << i;

        media_log_info("job %s: media %s, %s/%s listed%s", job->id,
                       job->media_id, l->gen, r->name,
                       first ? ", playable" : "");
    }

    return 0;
}


static int64_t
media_rung_rate(const media_rung_t *r)
{
    return r->video_rate + r->audio_rate;
}


/* the segments a rung's playlist lists (0: none yet, or no playlist) */
static int
media_segments(const char *dir, const char *rung)
{
    int    n;
    char   path[4096], line[1024];
    FILE  *f;

    if (media_path(path, sizeof(path), "%s/%s/index.m3u8", dir, rung) != 0) {
        return 0;
    }

    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (fgets(line, sizeof(line), f)) {
        if (line[0] != '#' && line[0] != '\n' && line[0] != '\0') {
            n++;
        }
    }

    fclose(f);

    return n;
}


/* the rung's row; the generation's first also drops the earlier rows */
static int
media_rung_row(media_job_t *job, media_ladder_t *l, media_rung_t *r,
    int first)
{
    int                 ok;
    const char         *params[8];
    media_rung_text_t   t;

    if (job->pg == NULL) {
        return 0;
    }

    params[0] = job->media_id;
    media_rung_params(r, l->probe, &t, params);

    ok = media_pg_begin(job->pg);
    if (first) {
        ok = media_pg_step(job->pg, ok, &media_sql_rungs_clear, params);
    }
    ok = media_pg_step(job->pg, ok, &media_sql_rung_listed, params);
    ok = media_pg_end(job->pg, ok);

    if (!ok) {
        media_job_fail(job, "list %s/%s: %s", l->gen, r->name,
                       PQerrorMessage(job->pg));
        return -1;
    }

    return 0;
}


/*
 * The pipeline ended (every playlist has #EXT-X-ENDLIST): the pictures up
 * to hls/<id>/ (each by a rename; one this attempt did not make goes, as
 * the whole directory's replacement used to take it), rungs.txt "done",
 * and g<N>/done.
 */
int
media_generation_close(media_job_t *job, media_ladder_t *l)
{
    int          i;
    char         from[4096], to[4096];
    FILE        *f;

    for (i = 0; media_pictures[i]; i++) {
        if (media_path(from, sizeof(from), "%s/%s", l->dir,
                       media_pictures[i]) != 0
            || media_path(to, sizeof(to), "%s/%s", l->final,
                          media_pictures[i]) != 0)
        {
            media_job_fail(job, "media_storage path too long");
            return -1;
        }

        if (rename(from, to) == 0) {
            continue;
        }

        if (errno != ENOENT) {
            media_job_fail(job, "publish %s: %s", to, strerror(errno));
            return -1;
        }

        if (unlink(to) != 0 && errno != ENOENT) {
            media_job_fail(job, "remove %s: %s", to, strerror(errno));
            return -1;
        }
    }

    f = media_path(to, sizeof(to), "%s/" MEDIA_GEN_DONE, l->dir) == 0
        ? fopen(to, "w") : NULL;
    if (f == NULL || fclose(f) != 0) {
        media_job_fail(job, "write %s: %s", to, strerror(errno));
        return -1;
    }

    if (job->settings->s3.on && media_s3_publish(job, l) != 0) {
        return -1;
    }

    return media_progressive_list(job, l, 1);
}


/*
 * The generation and the pictures into the bucket, before rungs.txt: a
 * picture this attempt did not make goes from there too.
 */
static int
media_s3_publish(media_job_t *job, media_ladder_t *l)
{
    int    i;
    char   key[128], path[4096], err[512];

    snprintf(key, sizeof(key), MEDIA_DIR_HLS "/%s/%s", job->media_id,
             l->gen);

    if (media_s3_put_tree(job->settings, l->dir, key, err, sizeof(err)) != 0)
    {
        media_job_fail(job, "%s", err);
        return -1;
    }

    for (i = 0; media_pictures[i]; i++) {
        snprintf(key, sizeof(key), MEDIA_DIR_HLS "/%s/%s", job->media_id,
                 media_pictures[i]);

        if (media_path(path, sizeof(path), "%s/%s", l->final,
                       media_pictures[i]) != 0)
        {
            media_job_fail(job, "media_storage path too long");
            return -1;
        }

        if ((access(path, F_OK) == 0
             ? media_s3_put_file(job->settings, key, path,
                                 media_s3_type(path), err, sizeof(err))
             : media_s3_delete(job->settings, key, err, sizeof(err)))
            != 0)
        {
            media_job_fail(job, "%s", err);
            return -1;
        }
    }

    media_log_info("job %s: media %s, %s uploaded to the bucket", job->id,
                   job->media_id, l->gen);

    return 0;
}


/*
 * After the rows say "ready": every other generation, and the rung
 * directories of media published before generations.  Players still on
 * an older master get 404s from here on and load a new one.
 */
void
media_generation_sweep(media_job_t *job, media_ladder_t *l)
{
    char            path[4096];
    size_t          len;
    DIR            *d;
    struct stat     sb;
    struct dirent  *e;

    if (job->settings->s3.on) {
        media_s3_walk_t  w;
        char             prefix[128], err[512];

        w.job = job;
        w.l = l;
        snprintf(prefix, sizeof(prefix), MEDIA_DIR_HLS "/%s/", job->media_id);
        w.skip = strlen(prefix);

        if (media_s3_list(job->settings, prefix, media_s3_old_gen, &w, err,
                          sizeof(err))
            != 0)
        {
            /* kept for the sweeper when the media goes */
            media_log_error("job %s: %s", job->id, err);
        }

        /* the spool's copy: everything it holds is in the bucket */
        if (media_rmtree(l->final) != 0) {
            media_log_error("job %s: remove %s: %s", job->id, l->final,
                            strerror(errno));
        }

        return;
    }

    d = opendir(l->final);
    if (d == NULL) {
        return;
    }

    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);

        if (e->d_name[0] == '.' || strcmp(e->d_name, l->gen) == 0
            || len < 2
            || !((e->d_name[0] == 'g' && strspn(e->d_name + 1, "0123456789")
                  == len - 1)
                 || (e->d_name[len - 1] == 'p'
                     && strspn(e->d_name, "0123456789") == len - 1)
                 || (e->d_name[0] == 'a'
                     && strspn(e->d_name + 1, "0123456789") == len - 1)))
        {
            continue;
        }

        if (media_path(path, sizeof(path), "%s/%s", l->final, e->d_name)
            != 0
            || lstat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        {
            continue;
        }

        media_log_info("job %s: removing %s, superseded by %s", job->id,
                       path, l->gen);

        if (media_rmtree(path) != 0) {
            media_log_error("job %s: remove %s: %s", job->id, path,
                            strerror(errno));
        }
    }

    closedir(d);
}


/* "g<N>" (N from 1, no leading zero): N; else 0 */
static long
media_gen_number(const char *name, size_t len)
{
    long   n;
    char  *end;

    if (len < 2 || len > 9 || name[0] != 'g' || name[1] < '1'
        || name[1] > '9')
    {
        return 0;
    }

    n = strtol(name + 1, &end, 10);

    return end == name + len ? n : 0;
}


/* hls/<id>/g<N>/...: the highest N */
static int
media_s3_top_gen(void *data, const char *key)
{
    media_s3_walk_t  *w = data;

    long         n;
    const char  *gen, *slash;

    gen = key + w->skip;
    slash = strchr(gen, '/');
    n = slash ? media_gen_number(gen, slash - gen) : 0;

    if (n > w->top) {
        w->top = n;
    }

    return 0;
}


/* hls/<id>/<dir>/...: another generation's (or a rung's, from before
 * generations) goes; the pictures and rungs.txt at the top stay */
static int
media_s3_old_gen(void *data, const char *key)
{
    media_s3_walk_t  *w = data;

    char         err[512];
    const char  *name, *slash;

    name = key + w->skip;
    slash = strchr(name, '/');

    if (slash == NULL
        || ((size_t) (slash - name) == strlen(w->l->gen)
            && strncmp(name, w->l->gen, slash - name) == 0))
    {
        return 0;
    }

    if (media_s3_delete(w->job->settings, key, err, sizeof(err)) != 0) {
        media_log_error("job %s: %s", w->job->id, err);
        return -1;
    }

    return 0;
}


static int64_t
media_now_us(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


/* a generation's directory and all in it (nftw, depth first) */
static int
media_unlink(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;

    return remove(path);
}


int
media_rmtree(const char *path)
{
    return nftw(path, media_unlink, 16, FTW_DEPTH | FTW_PHYS);
}
