/*
 * Loudness and waveform, from one pass over the audio before encoding.
 *
 * EBU R128 integrated loudness and true peak come from the ebur128 filter.
 * The ladder is then brought to -14 LUFS by a plain gain when that keeps
 * the true peak at -1 dBTP or below ("linear"); otherwise by the same gain
 * followed by a limiter holding peaks at -1 dBFS ("dynamic").  loudnorm is
 * not used: it leaves linear mode without saying so, works at 192 kHz, and
 * in one pass caps its gain well short of the target on peaky material
 * (measured here: -22 LUFS for -14 asked on a quiet tone with clicks).
 *
 * The same pass draws the waveform: min/max per 1/100 s, mono, 8 bits, in
 * BBC audiowaveform's JSON format version 2.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>

#include "av.h"


#define MEDIA_TARGET_LUFS     -14.0
#define MEDIA_TARGET_TP       -1.0
#define MEDIA_WAVE_RATE       48000
#define MEDIA_WAVE_PER_PIXEL  480          /* 100 pixels a second */


typedef struct {
    int8_t      *data;                     /* min, max, min, max, ... */
    size_t       n;
    size_t       size;
    int          lo;
    int          hi;
    int          count;
} media_wave_t;


static int media_wave_add(media_wave_t *w, const int16_t *s, int n);
static int media_wave_write(media_job_t *job, media_wave_t *w,
    const char *path);


int
media_loudness(media_job_t *job, media_probe_t *p, const char *path,
    const char *pre, const char *dir, media_loudness_t *out)
{
    int                 rc, ret;
    char                args[256], layout[64], file[4096], desc[2048];
    double              v;
    AVFrame            *frame;
    AVPacket           *pkt;
    AVRational          tb;
    AVStream           *st;
    const AVCodec      *codec;
    media_wave_t        wave;
    AVFilterGraph      *g;
    AVCodecContext     *dec;
    AVFormatContext    *ic;
    AVFilterInOut      *ins, *outs;
    AVFilterContext    *src, *r128, *wsink;
    AVDictionaryEntry  *e;

    memset(out, 0, sizeof(media_loudness_t));
    memset(&wave, 0, sizeof(wave));
    out->integrated = -70;
    out->true_peak = -70;

    ic = NULL;
    dec = NULL;
    g = NULL;
    ins = NULL;
    outs = NULL;
    frame = av_frame_alloc();
    pkt = av_packet_alloc();
    ret = -1;

    /* a second reader: the pipeline reads the file from the start too */
    rc = avformat_open_input(&ic, path, NULL, NULL);
    if (rc < 0 || (rc = avformat_find_stream_info(ic, NULL)) < 0) {
        media_job_fail(job, "loudness: open input: %s", media_averr(rc));
        goto done;
    }

    st = ic->streams[p->audio];
    codec = avcodec_find_decoder(st->codecpar->codec_id);
    dec = codec ? avcodec_alloc_context3(codec) : NULL;

    if (frame == NULL || pkt == NULL || dec == NULL
        || avcodec_parameters_to_context(dec, st->codecpar) < 0
        || avcodec_open2(dec, codec, NULL) < 0)
    {
        media_job_fail(job, "loudness: open the audio decoder");
        goto done;
    }

    if (dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) {
        int  channels = dec->ch_layout.nb_channels;

        av_channel_layout_uninit(&dec->ch_layout);
        av_channel_layout_default(&dec->ch_layout, channels);
    }

    av_channel_layout_describe(&dec->ch_layout, layout, sizeof(layout));
    tb = st->time_base;
    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             tb.num, tb.den, dec->sample_rate,
             av_get_sample_fmt_name(dec->sample_fmt), layout);

    g = avfilter_graph_alloc();
    ins = avfilter_inout_alloc();
    outs = avfilter_inout_alloc();

    if (g == NULL || ins == NULL || outs == NULL
        || avfilter_graph_create_filter(&src, avfilter_get_by_name("abuffer"),
                                        "in", args, NULL, g) < 0
        || avfilter_graph_create_filter(&r128,
                                        avfilter_get_by_name("abuffersink"),
                                        "r128", NULL, NULL, g) < 0
        || avfilter_graph_create_filter(&wsink,
                                        avfilter_get_by_name("abuffersink"),
                                        "wave", NULL, NULL, g) < 0)
    {
        media_job_fail(job, "loudness: filter graph");
        goto done;
    }

    outs->name = av_strdup("in");
    outs->filter_ctx = src;
    ins->name = av_strdup("r");
    ins->filter_ctx = r128;
    ins->next = avfilter_inout_alloc();
    if (ins->next == NULL) {
        media_job_fail(job, "out of memory");
        goto done;
    }
    ins->next->name = av_strdup("w");
    ins->next->filter_ctx = wsink;

    /* pre: a normalization being tried, measured on its own output */
    snprintf(desc, sizeof(desc), "[in]%sasplit[a][b];"
             "[a]ebur128=metadata=1:peak=true[r];"
             "[b]aresample=48000,aformat=sample_fmts=s16:"
             "channel_layouts=mono[w]", pre ? pre : "");

    rc = avfilter_graph_parse_ptr(g, desc, &ins, &outs, NULL);

    if (rc < 0 || (rc = avfilter_graph_config(g, NULL)) < 0) {
        media_job_fail(job, "loudness: %s", media_averr(rc));
        goto done;
    }

    for ( ;; ) {
        rc = av_read_frame(ic, pkt);
        if (rc == AVERROR_EOF) {
            avcodec_send_packet(dec, NULL);
        } else if (rc < 0) {
            media_job_fail(job, "loudness: read: %s", media_averr(rc));
            goto done;
        } else if (pkt->stream_index != p->audio) {
            av_packet_unref(pkt);
            continue;
        } else {
            (void) avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
            media_job_advanced(job);
        }

        while (avcodec_receive_frame(dec, frame) == 0) {
            frame->pts = frame->best_effort_timestamp;
            if (av_buffersrc_add_frame(src, frame) < 0) {
                media_job_fail(job, "loudness: filter input");
                goto done;
            }
        }

        if (rc == AVERROR_EOF && av_buffersrc_add_frame(src, NULL) < 0) {
            media_job_fail(job, "loudness: flush the filters");
            goto done;
        }

        /* the last frame's metadata holds the totals */
        while (av_buffersink_get_frame(r128, frame) >= 0) {
            e = av_dict_get(frame->metadata, "lavfi.r128.I", NULL, 0);
            if (e) {
                out->integrated = strtod(e->value, NULL);
            }

            e = NULL;
            while ((e = av_dict_get(frame->metadata, "lavfi.r128.true_peaks_",
                                    e, AV_DICT_IGNORE_SUFFIX)))
            {
                v = strtod(e->value, NULL);
                v = v > 0 ? 20 * log10(v) : -70;
                if (v > out->true_peak) {
                    out->true_peak = v;
                }
            }

            av_frame_unref(frame);
        }

        while (av_buffersink_get_frame(wsink, frame) >= 0) {
            rc = media_wave_add(&wave, (const int16_t *) frame->data[0],
                                frame->nb_samples);
            av_frame_unref(frame);
            if (rc != 0) {
                media_job_fail(job, "waveform: out of memory");
                goto done;
            }
        }

        if (rc == AVERROR_EOF) {
            break;
        }
    }

    /* the gain to the target; linear only if the peak stays in bounds */
    out->gain = MEDIA_TARGET_LUFS - out->integrated;
    out->linear = out->true_peak + out->gain <= MEDIA_TARGET_TP
                  || out->integrated <= -70;

    if (dir
        && (media_path(file, sizeof(file), "%s/waveform.json", dir) != 0
            || media_wave_write(job, &wave, file) != 0))
    {
        goto done;
    }

    media_log_info("job %s: loudness %.1f LUFS, true peak %.1f dBTP, %s "
                   "gain %+.1f dB", job->id, out->integrated, out->true_peak,
                   out->linear ? "linear" : "dynamic", out->gain);

    ret = 0;

done:

    free(wave.data);
    avfilter_inout_free(&ins);
    avfilter_inout_free(&outs);
    avfilter_graph_free(&g);
    avcodec_free_context(&dec);
    avformat_close_input(&ic);
    av_packet_free(&pkt);
    av_frame_free(&frame);

    return ret;
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

        if (media_loudness(job, p, path, tried, NULL, &after) != 0) {
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


static int
media_wave_add(media_wave_t *w, const int16_t *s, int n)
{
    int      i, v;
    int8_t  *p;

    for (i = 0; i < n; i++) {
        v = s[i] >> 8;                      /* 16 to 8 bits */

        if (w->count == 0 || v < w->lo) {
            w->lo = v;
        }
        if (w->count == 0 || v > w->hi) {
            w->hi = v;
        }

        if (++w->count < MEDIA_WAVE_PER_PIXEL) {
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
            MEDIA_WAVE_RATE, MEDIA_WAVE_PER_PIXEL, w->n / 2);

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

