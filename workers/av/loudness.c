/*
 * Loudness and waveform, from one pass over the audio before encoding.
 *
 * EBU R128 integrated loudness comes from libebur128 (the reference
 * implementation of ITU-R BS.1770's K-weighting and gating), at the
 * source's own rate; the true peak from peak.c.  The ladder is then
 * brought to -14 LUFS by a plain gain when that keeps the true peak at
 * -1 dBTP or below ("linear"); otherwise by the same gain followed by a
 * limiter holding peaks at -1 dBFS ("dynamic").  loudnorm is not used: it
 * leaves linear mode without saying so, works at 192 kHz, and in one pass
 * caps its gain well short of the target on peaky material (measured
 * here: -22 LUFS for -14 asked on a quiet tone with clicks).
 *
 * The same pass draws the waveform: min/max per 1/100 s (the nearest
 * whole number of samples at the source's rate), mono, 8 bits, in BBC
 * audiowaveform's JSON format version 2.
 *
 * Nothing is resampled.  The true peak is read on a thread of its own
 * with a reader of its own, beside the pass that measures loudness: the
 * two halves of the work run on two cores.  With filters (an export's
 * enhancements), one pass does it all, so that the filters do not run
 * twice.  Over a 5-minute 44.1 kHz track this takes a third of the time
 * FFmpeg's ebur128 filter took (which resamples to 48 kHz, and to 192 kHz
 * for the peak), and the ladder waits for it (bench/transcode).
 */

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>

#include <ebur128.h>

#include "av.h"


#define MEDIA_TARGET_LUFS     -14.0
#define MEDIA_TARGET_TP       -1.0
#define MEDIA_WAVE_PIXELS     100          /* a second */


typedef struct {
    int8_t      *data;                     /* min, max, min, max, ... */
    size_t       n;
    size_t       size;
    int          rate;
    int          per_pixel;                /* samples */
    int          lo;
    int          hi;
    int          count;
} media_wave_t;


/* one read of the source's audio through a filter graph to its sinks */
typedef struct {
    media_job_t        *job;
    const media_probe_t *p;
    const char         *path;
    const char         *desc;          /* [in] to [o0] .. [o<n-1>] */
    int                 n;
    int                 main;          /* the job's thread: says it moves on */
    int               (*take)(void *data, int sink, AVFrame *frame);
    void               *data;
} media_apass_t;


typedef struct {
    media_job_t        *job;
    media_loudness_t   *out;
    ebur128_state      *r128;
    media_tp_t          tp;
    int                 peak;          /* tp: this pass finds the peak */
    int                 wave_on;
    media_wave_t        wave;
} media_loud_take_t;


/* the true peak's thread */
typedef struct {
    media_apass_t       pass;
    media_tp_t          tp;
    int                 started;
    double              peak;          /* linear */
    int                 rc;
} media_peak_t;


static int media_measure(media_job_t *job, media_probe_t *p,
    const char *path, const char *pre, const char *dir, int peak,
    media_loudness_t *out);
static int media_apass(media_apass_t *ap);
static int media_loud_take(void *data, int sink, AVFrame *frame);
static int media_peak_take(void *data, int sink, AVFrame *frame);
static void *media_peak_run(void *data);
static int media_loud_start(media_loud_take_t *lt, const AVFrame *frame);
static double media_dbtp(double linear);
static int media_wave_add(media_wave_t *w, const float *s, int channels,
    int n);
static int media_wave_write(media_job_t *job, media_wave_t *w,
    const char *path);


/* measures, true peak included (with the filters pre; dir: the waveform) */
int
media_loudness(media_job_t *job, media_probe_t *p, const char *path,
    const char *pre, const char *dir, media_loudness_t *out)
{
    return media_measure(job, p, path, pre, dir, 1, out);
}


/*
 * peak: find the true peak too; on its own thread when there is no pre,
 * in this pass when there is
 */
static int
media_measure(media_job_t *job, media_probe_t *p, const char *path,
    const char *pre, const char *dir, int peak, media_loudness_t *out)
{
    int                 ret, threaded, rc;
    char                desc[2048];
    double              integrated;
    pthread_t           tid;
    media_peak_t        tp;
    media_apass_t       pass;
    media_loud_take_t   lt;

    if (pre == NULL) {
        pre = "";
    }

    memset(out, 0, sizeof(media_loudness_t));
    out->integrated = -70;
    out->true_peak = -70;

    memset(&lt, 0, sizeof(lt));
    lt.job = job;
    lt.out = out;
    lt.wave_on = dir != NULL;
    /* what an empty waveform says (no frame decoded); the first frame's
     * rate replaces it (media_loud_start) */
    lt.wave.rate = 48000;
    lt.wave.per_pixel = 48000 / MEDIA_WAVE_PIXELS;

    threaded = peak && pre[0] == '\0';
    lt.peak = peak && !threaded;

    if (threaded) {
        memset(&tp, 0, sizeof(tp));
        tp.pass.job = job;
        tp.pass.p = p;
        tp.pass.path = path;
        tp.pass.desc = "[in]aformat=sample_fmts=fltp[o0]";
        tp.pass.n = 1;
        tp.pass.take = media_peak_take;
        tp.pass.data = &tp;

        rc = pthread_create(&tid, NULL, media_peak_run, &tp);
        if (rc != 0) {
            media_job_fail(job, "loudness: thread: %s", strerror(rc));
            return -1;
        }
    }

    snprintf(desc, sizeof(desc), "[in]%saformat=sample_fmts=flt[o0]", pre);

    pass.job = job;
    pass.p = p;
    pass.path = path;
    pass.desc = desc;
    pass.n = 1;
    pass.main = 1;
    pass.take = media_loud_take;
    pass.data = &lt;

    ret = media_apass(&pass);

    if (ret == 0 && lt.r128
        && ebur128_loudness_global(lt.r128, &integrated) == EBUR128_SUCCESS
        && integrated > -70)
    {
        out->integrated = integrated;
    }

    if (ret == 0 && lt.peak && lt.tp.buf) {
        out->true_peak = media_dbtp(media_tp_end(&lt.tp));
    }

    if (threaded) {
        pthread_join(tid, NULL);

        if (tp.rc != 0) {
            ret = -1;
        }

        out->true_peak = media_dbtp(tp.peak);
    }

    if (ret != 0) {
        goto done;
    }

    /* the gain to the target; linear only if the peak stays in bounds */
    out->gain = MEDIA_TARGET_LUFS - out->integrated;
    out->linear = out->true_peak + out->gain <= MEDIA_TARGET_TP
                  || out->integrated <= -70;

    if (dir
        && (media_path(desc, sizeof(desc), "%s/waveform.json", dir) != 0
            || media_wave_write(job, &lt.wave, desc) != 0))
    {
        ret = -1;
        goto done;
    }

    if (peak) {
        media_log_info("job %s: loudness %.1f LUFS, true peak %.1f dBTP, %s "
                       "gain %+.1f dB", job->id, out->integrated,
                       out->true_peak, out->linear ? "linear" : "dynamic",
                       out->gain);
    }

done:

    if (lt.r128) {
        ebur128_destroy(&lt.r128);
    }
    media_tp_free(&lt.tp);
    free(lt.wave.data);

    return ret;
}


/*
 * Reads the audio with a reader and a decoder of its own (the pipeline,
 * or the other pass, reads the same file) through ap->desc, handing each
 * frame of each sink to ap->take.  The job's error and -1 on failure.
 */
static int
media_apass(media_apass_t *ap)
{
    int               rc, ret, i, eof;
    char              args[256], layout[64];
    AVFrame          *frame;
    AVPacket         *pkt;
    AVRational        tb;
    media_probe_t     own;
    AVFilterGraph    *g;
    AVCodecContext   *dec;
    AVFilterContext  *src, *sinks[2];

    own = *ap->p;
    own.ic = NULL;
    g = NULL;
    dec = NULL;
    ret = -1;
    frame = av_frame_alloc();
    pkt = av_packet_alloc();

    if (frame == NULL || pkt == NULL || ap->n > 2) {
        media_job_fail(ap->job, "out of memory");
        goto done;
    }

    rc = avformat_open_input(&own.ic, ap->path, NULL, NULL);
    if (rc < 0 || (rc = avformat_find_stream_info(own.ic, NULL)) < 0) {
        media_job_fail(ap->job, "loudness: open input: %s", media_averr(rc));
        goto done;
    }

    if (media_av_decoder(ap->job, &own, own.audio, &dec) != 0) {
        goto done;
    }

    av_channel_layout_describe(&dec->ch_layout, layout, sizeof(layout));
    tb = own.ic->streams[own.audio]->time_base;
    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             tb.num, tb.den, dec->sample_rate,
             av_get_sample_fmt_name(dec->sample_fmt), layout);

    if (media_av_graph(ap->job, &g, &src, "abuffer", args, "abuffersink",
                       ap->desc, sinks, ap->n)
        != 0)
    {
        goto done;
    }

    for (eof = 0; !eof; ) {
        rc = av_read_frame(own.ic, pkt);

        if (rc == AVERROR_EOF) {
            eof = 1;
            avcodec_send_packet(dec, NULL);

        } else if (rc < 0) {
            media_job_fail(ap->job, "loudness: read: %s", media_averr(rc));
            goto done;

        } else if (pkt->stream_index != own.audio) {
            av_packet_unref(pkt);
            continue;

        } else {
            (void) avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);

            if (ap->main) {
                media_job_advanced(ap->job);
            }
        }

        while (avcodec_receive_frame(dec, frame) == 0) {
            frame->pts = frame->best_effort_timestamp;
            if (av_buffersrc_add_frame(src, frame) < 0) {
                media_job_fail(ap->job, "loudness: filter input");
                goto done;
            }
        }

        if (eof && av_buffersrc_add_frame(src, NULL) < 0) {
            media_job_fail(ap->job, "loudness: flush the filters");
            goto done;
        }

        for (i = 0; i < ap->n; i++) {
            while (av_buffersink_get_frame(sinks[i], frame) >= 0) {
                rc = ap->take(ap->data, i, frame);
                av_frame_unref(frame);
                if (rc != 0) {
                    goto done;
                }
            }
        }
    }

    ret = 0;

done:

    avfilter_graph_free(&g);
    avcodec_free_context(&dec);
    avformat_close_input(&own.ic);
    av_packet_free(&pkt);
    av_frame_free(&frame);

    return ret;
}


/* interleaved floats at the source's rate (after pre) */
static int
media_loud_take(void *data, int sink, AVFrame *frame)
{
    int                 n;
    const float        *s;
    media_loud_take_t  *lt = data;

    (void) sink;

    if (lt->r128 == NULL && media_loud_start(lt, frame) != 0) {
        return -1;
    }

    n = frame->nb_samples;
    s = (const float *) frame->data[0];

    if (ebur128_add_frames_float(lt->r128, s, n) != EBUR128_SUCCESS) {
        media_job_fail(lt->job, "loudness: out of memory");
        return -1;
    }

    if (lt->peak) {
        media_tp_add(&lt->tp, (const float *const *) frame->data, 0, n);
    }

    if (lt->wave_on
        && media_wave_add(&lt->wave, s, frame->ch_layout.nb_channels, n) != 0)
    {
        media_job_fail(lt->job, "waveform: out of memory");
        return -1;
    }

    return 0;
}


/*
 * The first frame says the rate and channels: BS.1770's weights by
 * channel (the LFE left out, surrounds +1.5 dB), the true peak's filter,
 * the waveform's pixel
 */
static int
media_loud_start(media_loud_take_t *lt, const AVFrame *frame)
{
    int                 i, ch;
    enum AVChannel      c;
    enum channel        w;

    ch = frame->ch_layout.nb_channels;

    lt->r128 = ebur128_init((unsigned) ch, (unsigned long) frame->sample_rate,
                            EBUR128_MODE_I);
    if (lt->r128 == NULL
        || (lt->peak && media_tp_init(&lt->tp, ch, frame->sample_rate) != 0))
    {
        media_job_fail(lt->job, "loudness: %d channels at %d Hz: out of "
                       "memory", ch, frame->sample_rate);
        return -1;
    }

    for (i = 0; i < ch && ch > 2; i++) {
        c = av_channel_layout_channel_from_index(&frame->ch_layout, i);
        switch (c) {
        case AV_CHAN_LOW_FREQUENCY:
        case AV_CHAN_LOW_FREQUENCY_2:
            w = EBUR128_UNUSED;
            break;
        case AV_CHAN_BACK_LEFT:
        case AV_CHAN_SIDE_LEFT:
        case AV_CHAN_BACK_RIGHT:
        case AV_CHAN_SIDE_RIGHT:
            w = EBUR128_LEFT_SURROUND;
            break;
        default:
            w = EBUR128_LEFT;
            break;
        }
        (void) ebur128_set_channel(lt->r128, (unsigned) i, (int) w);
    }

    lt->wave.rate = frame->sample_rate;
    lt->wave.per_pixel = (frame->sample_rate + MEDIA_WAVE_PIXELS / 2)
                         / MEDIA_WAVE_PIXELS;
    if (lt->wave.per_pixel < 1) {
        lt->wave.per_pixel = 1;
    }

    return 0;
}


/* a linear peak in dBTP; -70 for silence, as the loudness's floor */
static double
media_dbtp(double linear)
{
    return linear > 0 ? 20 * log10(linear) : -70;
}


/* planar floats at the source's rate */
static int
media_peak_take(void *data, int sink, AVFrame *frame)
{
    media_peak_t  *tp = data;

    (void) sink;

    if (!tp->started) {
        if (media_tp_init(&tp->tp, frame->ch_layout.nb_channels,
                          frame->sample_rate)
            != 0)
        {
            media_job_fail(tp->pass.job, "true peak: out of memory");
            return -1;
        }
        tp->started = 1;
    }

    media_tp_add(&tp->tp, (const float *const *) frame->extended_data, 1,
                 frame->nb_samples);

    return 0;
}


static void *
media_peak_run(void *data)
{
    media_peak_t  *tp = data;

    tp->rc = media_apass(&tp->pass);

    if (tp->started) {
        tp->peak = tp->rc == 0 ? media_tp_end(&tp->tp) : 0;
        media_tp_free(&tp->tp);
    }

    return NULL;
}


/*
 * Measures the source after the filters pre (and draws its waveform into
 * dir), then, when a limiter is needed, measures what gain plus limiter
 * really give and corrects the gain by the shortfall: the limiter takes
 * loudness away, most on material whose energy is in its peaks.
 */
int
media_normalize(media_job_t *job, media_probe_t *p, const char *path,
    const char *pre, const char *dir, media_loudness_t *out)
{
    int               i, n;
    char              tried[1024];
    double            shortfall;
    media_loudness_t  after;

    if (pre == NULL) {
        pre = "";
    }

    if (media_loudness(job, p, path, pre, dir, out) != 0) {
        return -1;
    }

    for (i = 0; i < 2 && !out->linear; i++) {
        n = snprintf(tried, sizeof(tried), "%s", pre);
        media_loudness_filter(out, tried + n, sizeof(tried) - n);

        if (media_measure(job, p, path, tried, NULL, 0, &after) != 0) {
            return -1;
        }

        shortfall = MEDIA_TARGET_LUFS - after.integrated;
        if (fabs(shortfall) < 0.5) {
            break;
        }

        out->gain += shortfall;
        media_log_info("job %s: limited output at %.1f LUFS, gain now %+.1f "
                       "dB", job->id, after.integrated, out->gain);
    }

    return 0;
}


/* the filters that bring the audio to the target, before asplit */
void
media_loudness_filter(const media_loudness_t *l, char *buf, size_t size)
{
    if (l->linear) {
        snprintf(buf, size, "volume=%.2fdB,", l->integrated <= -70 ? 0
                 : l->gain);
        return;
    }

    /* -1 dBFS = 0.891; level=false: no make-up gain of its own */
    snprintf(buf, size, "volume=%.2fdB:precision=float,"
             "alimiter=limit=0.891:attack=5:release=50:level=false,",
             l->gain);
}


/* interleaved floats, their channels' mean drawn */
static int
media_wave_add(media_wave_t *w, const float *s, int channels, int n)
{
    int      i, c, v;
    float    sum;
    int8_t  *p;

    for (i = 0; i < n; i++, s += channels) {
        sum = 0;
        for (c = 0; c < channels; c++) {
            sum += s[c];
        }

        /* as a 16-bit sample's high byte: -128 .. 127 */
        v = (int) floorf(sum / channels * 128);
        v = v < -128 ? -128 : v > 127 ? 127 : v;

        if (w->count == 0 || v < w->lo) {
            w->lo = v;
        }
        if (w->count == 0 || v > w->hi) {
            w->hi = v;
        }

        if (++w->count < w->per_pixel) {
            continue;
        }

        if (w->n + 2 > w->size) {
            w->size = w->size ? w->size * 2 : 4096;
            p = realloc(w->data, w->size);
            if (p == NULL) {
                return -1;
            }
            w->data = p;
        }

        w->data[w->n++] = (int8_t) w->lo;
        w->data[w->n++] = (int8_t) w->hi;
        w->count = 0;
    }

    return 0;
}


static int
media_wave_write(media_job_t *job, media_wave_t *w, const char *path)
{
    FILE    *f;
    size_t   i;

    f = fopen(path, "w");
    if (f == NULL) {
        media_job_fail(job, "waveform: create %s", path);
        return -1;
    }

    fprintf(f, "{\"version\":2,\"channels\":1,\"sample_rate\":%d,"
            "\"samples_per_pixel\":%d,\"bits\":8,\"length\":%zu,\"data\":[",
            w->rate, w->per_pixel, w->n / 2);

    for (i = 0; i < w->n; i++) {
        fprintf(f, i ? ",%d" : "%d", w->data[i]);
    }

    fprintf(f, "]}\n");

    if (fclose(f) != 0) {
        media_job_fail(job, "waveform: write %s", path);
        return -1;
    }

    return 0;
}

