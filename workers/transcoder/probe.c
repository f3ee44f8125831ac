/*
 * What the source holds: a video stream (not cover art), an audio stream,
 * the rotation a player would apply, the duration.
 */

#include <libavutil/display.h>

#include "transcoder.h"


static int media_probe_interrupt(void *opaque);


int
media_probe(media_job_t *job, const char *path, media_probe_t *p)
{
    int            rc, i;
    double         theta;
    uint8_t       *matrix;
    AVStream      *st;

    memset(p, 0, sizeof(media_probe_t));
    p->video = -1;
    p->audio = -1;
    p->cover = -1;

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
        job->permanent = 1;
        return -1;
    }

    rc = avformat_find_stream_info(p->ic, NULL);
    if (rc < 0) {
        media_job_fail(job, "read stream info: %s", media_averr(rc));
        job->permanent = 1;
        return -1;
    }

    for (i = 0; i < (int) p->ic->nb_streams; i++) {
        st = p->ic->streams[i];

        if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO
            && (st->disposition & AV_DISPOSITION_ATTACHED_PIC))
        {
            /* cover art in an mp3 or m4a: a picture, not video */
            if (p->cover < 0) {
                p->cover = i;
            }
            st->discard = AVDISCARD_ALL;
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
        media_job_fail(job, "the file has neither audio nor video");
        job->permanent = 1;
        return -1;
    }

    if (p->ic->duration > 0) {
        p->duration_ms = p->ic->duration / (AV_TIME_BASE / 1000);
    }

    if (p->video < 0) {
        p->kind = "audio";
        return 0;
    }

    p->kind = "video";
    st = p->ic->streams[p->video];

    p->width = st->codecpar->width;
    p->height = st->codecpar->height;
    p->frame_rate = av_guess_frame_rate(p->ic, st, NULL);

    if (p->frame_rate.num <= 0 || p->frame_rate.den <= 0) {
        p->frame_rate = (AVRational) { 25, 1 };
    }

    /* libavformat reports rotation but does not apply it */
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

    return 0;
}


void
media_probe_close(media_probe_t *p)
{
    avformat_close_input(&p->ic);
}


static int
media_probe_interrupt(void *opaque)
{
    media_job_t  *job = opaque;

    return media_job_stalled(job);
}
