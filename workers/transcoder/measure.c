/*
 * What a rung's playlist says it published: each segment's duration
 * (#EXTINF) and its real size on disk.  BANDWIDTH must be the peak segment
 * bit rate (RFC 8216 4.3.4.2) and AVERAGE-BANDWIDTH the mean: both come
 * from here, not from the encoder's settings.
 */

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavutil/error.h>

#include "transcoder.h"


int
media_measure(media_job_t *job, media_rung_t *r, const char *dir)
{
    char         path[4096], line[1024], seg[4096];
    FILE        *f;
    double       dur, total_dur, rate;
    int64_t      bits, total_bits;
    struct stat  sb;

    f = media_path(path, sizeof(path), "%s/%s/index.m3u8", dir, r->name) == 0
        ? fopen(path, "r") : NULL;
    if (f == NULL) {
        media_job_fail(job, "measure: open %s", path);
        return -1;
    }

    dur = 0;
    total_dur = 0;
    total_bits = 0;
    r->peak = 0;                    /* measured again as a rung grows */
    r->average = 0;

    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';

        if (strncmp(line, "#EXTINF:", 8) == 0) {
            dur = strtod(line + 8, NULL);
            continue;
        }

        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }

        if (media_path(seg, sizeof(seg), "%s/%s/%s", dir, r->name, line) != 0
            || stat(seg, &sb) != 0 || dur <= 0)
        {
            fclose(f);
            media_job_fail(job, "measure: segment %s", seg);
            return -1;
        }

        bits = (int64_t) sb.st_size * 8;
        total_bits += bits;
        total_dur += dur;

        /* a short last segment says little about the peak: weigh it as
         * if it were a full one only when it is the only one */
        rate = bits / (dur < 1 ? 1 : dur);
        if (rate > r->peak) {
            r->peak = (int64_t) rate;
        }

        dur = 0;
    }

    fclose(f);

    if (total_dur <= 0) {
        media_job_fail(job, "measure: %s lists no segment", path);
        return -1;
    }

    r->average = (int64_t) (total_bits / total_dur);
    if (r->peak < r->average) {
        r->peak = r->average;
    }

    /* RFC 6381: avc1.PPCCLL from the SPS, AAC-LC as mp4a.40.2 */
    if (r->width) {
        snprintf(r->codecs, sizeof(r->codecs), "avc1.%02x%02x%02x%s",
                 r->sps[0], r->sps[1], r->sps[2],
                 r->audio_rate ? ",mp4a.40.2" : "");
    } else {
        snprintf(r->codecs, sizeof(r->codecs), "mp4a.40.2");
    }

    return 0;
}


/*
 * dir/rungs.txt, one line per rung, read by the nginx module to build
 * master playlists without the database:
 *   name width height frame_rate peak average codecs [gen state]
 * (width, height and frame rate 0 for audio).  A queued job's ladder adds
 * its generation ("g3": the rung's files are in g3/<name>/) and "growing"
 * or "done", and lists only the rungs listed so far.  Written aside and
 * renamed, so it is there whole or not at all.
 */
int
media_publish_rungs(media_job_t *job, const media_probe_t *p,
    media_ladder_t *l, const char *dir, int done)
{
    int            i;
    char           path[4096], tmp[4096];
    FILE          *f;
    media_rung_t  *r;

    f = media_path(path, sizeof(path), "%s/rungs.txt", dir) == 0
        && media_path(tmp, sizeof(tmp), "%s/.rungs.txt.%d", dir,
                      (int) getpid()) == 0
        ? fopen(tmp, "w") : NULL;
    if (f == NULL) {
        media_job_fail(job, "write %s/rungs.txt", dir);
        return -1;
    }

    for (i = 0; i < l->n; i++) {
        r = &l->rungs[i];

        if (l->final && !r->listed) {
            continue;
        }

        fprintf(f, "%s %d %d %.3f %" PRId64 " %" PRId64 " %s", r->name,
                r->width, r->height, r->width ? av_q2d(p->frame_rate) : 0.0,
                r->peak, r->average, r->codecs);

        if (l->final) {
            fprintf(f, " %s %s", l->gen, done ? "done" : "growing");
        }

        fputc('\n', f);
    }

    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        media_job_fail(job, "write %s: %s", path, strerror(errno));
        (void) unlink(tmp);
        return -1;
    }

    return 0;
}


void
media_rung_params(const media_rung_t *r, const media_probe_t *p,
    media_rung_text_t *t, const char **params)
{
    snprintf(t->w, sizeof(t->w), "%d", r->width);
    snprintf(t->h, sizeof(t->h), "%d", r->height);
    snprintf(t->fps, sizeof(t->fps), "%.3f", av_q2d(p->frame_rate));
    snprintf(t->peak, sizeof(t->peak), "%" PRId64, r->peak);
    snprintf(t->avg, sizeof(t->avg), "%" PRId64, r->average);

    params[1] = r->name;
    params[2] = r->width ? t->w : NULL;
    params[3] = r->width ? t->h : NULL;
    params[4] = r->width ? t->fps : NULL;
    params[5] = t->peak;
    params[6] = t->avg;
    params[7] = r->codecs;
}
