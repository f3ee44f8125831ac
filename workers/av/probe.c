/*
 * What the source holds: a video stream (not cover art), an audio stream,
 * the rotation a player would apply, the duration.  And whether this
 * server takes it: media_max_pixels and media_max_duration are checked
 * here, before anything is decoded at full size.
 */

#include <libavutil/display.h>
#include <libavutil/mem.h>

#include "av.h"


static int media_probe_info(media_job_t *job, media_probe_t *p);
static int media_probe_limits(media_job_t *job, media_probe_t *p);
static void media_probe_rotation(media_probe_t *p, AVStream *st);
static void media_limit_text(const media_settings_t *s, char *buf,
    size_t size);
static int media_probe_interrupt(void *opaque);


int
media_probe(media_job_t *job, const char *path, media_probe_t *p)
{
    int   rc, i;

    memset(p, 0, sizeof(media_probe_t));
    p->video = -1;
    p->audio = -1;
    p->cover = -1;

    /*
     * No single allocation larger than a frame at the largest picture we
     * take (16-bit, 4 planes): a header that lies about a size fails here
     * rather than asking for gigabytes.  RLIMIT_DATA bounds the sum (see
     * run.c).
     */
    av_max_alloc((size_t) job->settings->max_pixels * 8 + (16 << 20));

    p->ic = avformat_alloc_context();
    if (p->ic == NULL) {
        media_job_fail(job, "out of memory");
        return -1;
    }

    /* the watchdog: libavformat asks this during blocking work */
    p->ic->interrupt_callback.callback = media_probe_interrupt;
    p->ic->interrupt_callback.opaque = job;

    rc = avformat_open_input(&p->ic, path, NULL, NULL);
    if (rc < 0) {
        media_job_fail(job, "open input: %s", media_averr(rc));
        if (media_av_input(rc)) {
            media_job_refuse(job, MEDIA_MSG_UNREADABLE);
        }
        return -1;
    }

    if (media_probe_info(job, p) != 0) {
        return -1;
    }

    for (i = 0; i < (int) p->ic->nb_streams; i++) {
        if (p->ic->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO
            && (p->ic->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC))
        {
            /* cover art in an mp3 or m4a: a picture, not video */
            if (p->cover < 0) {
                p->cover = i;
            }
            p->ic->streams[i]->discard = AVDISCARD_ALL;
        }
    }

    rc = av_find_best_stream(p->ic, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (rc >= 0 && rc != p->cover
        && p->ic->streams[rc]->codecpar->width > 0)
    {
        p->video = rc;
    }

    rc = av_find_best_stream(p->ic, AVMEDIA_TYPE_AUDIO, -1, -1, NULL, 0);
    if (rc >= 0) {
        p->audio = rc;
    }

    if (p->video < 0 && p->audio < 0) {
        media_job_fail(job, "no audio or video stream");
        media_job_refuse(job, MEDIA_MSG_NO_STREAMS);
        return -1;
    }

    if (p->ic->duration > 0) {
        p->duration_ms = p->ic->duration / (AV_TIME_BASE / 1000);
    }

    p->kind = "audio";

    if (p->video >= 0) {
        p->kind = "video";
        media_probe_rotation(p, p->ic->streams[p->video]);
    }

    if (media_probe_limits(job, p) != 0) {
        return -1;
    }

    /*
     * avformat_find_stream_info decodes until it knows the pixel or sample
     * format: not knowing it means not one frame of the stream decoded.
     */
    for (i = 0; i < 2; i++) {
        rc = i == 0 ? p->video : p->audio;

        if (rc >= 0 && p->ic->streams[rc]->codecpar->format < 0) {
            media_job_fail(job, "%s stream %d: no frame decoded in probing",
                           i == 0 ? "video" : "audio", rc);
            media_job_refuse(job, MEDIA_MSG_NOTHING,
                             i == 0 ? "picture" : "sound");
            return -1;
        }
    }

    return 0;
}


/* avformat_find_stream_info, its decoders held to media_max_pixels */
static int
media_probe_info(media_job_t *job, media_probe_t *p)
{
    int             rc;
    unsigned        i, n;
    AVDictionary  **opts;

    n = p->ic->nb_streams;

    opts = av_calloc(n ? n : 1, sizeof(AVDictionary *));
    if (opts == NULL) {
        media_job_fail(job, "out of memory");
        return -1;
    }

    for (i = 0; i < n; i++) {
        av_dict_set_int(&opts[i], "max_pixels", job->settings->max_pixels,
                        0);
    }

    rc = avformat_find_stream_info(p->ic, opts);

    for (i = 0; i < n; i++) {
        av_dict_free(&opts[i]);
    }
    av_free(opts);

    if (rc < 0) {
        media_job_fail(job, "read stream info: %s", media_averr(rc));
        if (media_av_input(rc)) {
            media_job_refuse(job, MEDIA_MSG_UNREADABLE);
        }
        return -1;
    }

    return 0;
}


/*
 * media_max_pixels and media_max_duration, on what the headers say; the
 * pipeline holds the decoders (max_pixels) and the read position to the
 * same limits, for files whose headers lie.
 */
static int
media_probe_limits(media_job_t *job, media_probe_t *p)
{
    char                     limit[64], have[32], most[32];
    const media_settings_t  *s = job->settings;

    if (p->video >= 0 && (long) p->width * p->height > s->max_pixels) {
        media_limit_text(s, limit, sizeof(limit));
        media_job_fail(job, "%dx%d: more than " MEDIA_SET_MAX_PIXELS " %s",
                       p->width, p->height, limit);
        media_job_refuse(job, MEDIA_MSG_PIXELS, p->width, p->height, limit);
        return -1;
    }

    if (p->duration_ms > s->max_duration) {
        media_duration_text(p->duration_ms, have, sizeof(have));
        media_duration_text(s->max_duration, most, sizeof(most));
        media_job_fail(job, "%s: longer than " MEDIA_SET_MAX_DURATION " %s",
                       have, most);
        media_job_refuse(job, MEDIA_MSG_DURATION, have, most);
        return -1;
    }

    return 0;
}


/* "8192x4320 (35.4 megapixels)" or "20000000 pixels (20.0 megapixels)" */
static void
media_limit_text(const media_settings_t *s, char *buf, size_t size)
{
    if (s->max_width) {
        snprintf(buf, size, "%ldx%ld (%.1f megapixels)", s->max_width,
                 s->max_height, s->max_pixels / 1e6);
    } else {
        snprintf(buf, size, "%ld pixels (%.1f megapixels)", s->max_pixels,
                 s->max_pixels / 1e6);
    }
}


void
media_duration_text(int64_t ms, char *buf, size_t size)
{
    int64_t  h, m, sec;

    sec = (ms + 500) / 1000;
    h = sec / 3600;
    m = sec / 60 % 60;
    sec %= 60;

    if (h && !m && !sec) {
        snprintf(buf, size, "%" PRId64 "h", h);

    } else if (h) {
        snprintf(buf, size, "%" PRId64 "h %02" PRId64 "m %02" PRId64 "s",
                 h, m, sec);

    } else if (m) {
        snprintf(buf, size, "%" PRId64 "m %02" PRId64 "s", m, sec);

    } else {
        snprintf(buf, size, "%" PRId64 "s", sec);
    }
}


/* the displayed size: libavformat reports rotation but does not apply it */
static void
media_probe_rotation(media_probe_t *p, AVStream *st)
{
    double    theta;
    uint8_t  *matrix;

    p->width = st->codecpar->width;
    p->height = st->codecpar->height;
    p->frame_rate = av_guess_frame_rate(p->ic, st, NULL);

    if (p->frame_rate.num <= 0 || p->frame_rate.den <= 0) {
        p->frame_rate = (AVRational) { 25, 1 };
    }

    matrix = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, NULL);
    if (matrix) {
        theta = -av_display_rotation_get((int32_t *) matrix);
        theta -= 360 * floor(theta / 360 + 0.9 / 360);
        p->rotation = ((int) (theta + 45) / 90 % 4) * 90;
    }

    if (p->rotation == 90 || p->rotation == 270) {
        p->width = st->codecpar->height;
        p->height = st->codecpar->width;
    }
}


void
media_probe_close(media_probe_t *p)
{
    avformat_close_input(&p->ic);
}


int
media_av_input(int err)
{
    /*
     * What demuxers and decoders say of bad bytes, and ENOMEM: with
     * media_transcode_memory set, running out is this file's doing (a
     * decode bomb, a lying header), and would happen again.  EIO, EACCES
     * and ENOENT are ours (the disk), AVERROR_EXIT is the watchdog.
     */
    return err == AVERROR_INVALIDDATA
           || err == AVERROR_EOF
           || err == AVERROR_DEMUXER_NOT_FOUND
           || err == AVERROR_DECODER_NOT_FOUND
           || err == AVERROR_STREAM_NOT_FOUND
           || err == AVERROR_PATCHWELCOME
           || err == AVERROR(EINVAL)
           || err == AVERROR(ENOSYS)
           || err == AVERROR(ENOMEM);
}


static int
media_probe_interrupt(void *opaque)
{
    media_job_t  *job = opaque;

    return media_job_stalled(job);
}


const char *
media_averr(int err)
{
    static __thread char  buf[AV_ERROR_MAX_STRING_SIZE];

    av_strerror(err, buf, sizeof(buf));
    return buf;
}
