/*
 * One source into one file: decode once, filter, encode, mux.
 *
 *   sound:   [in] enhance presets, the loudness gain (and limiter),
 *            aresample, aformat (the encoder's sample format, the asked
 *            rate, mono or stereo) [o0]
 *   picture: [in] rotation, enhance presets, even dimensions, yuv420p [o0]
 *
 * The picture keeps the source's size (never scaled up, only made even
 * for 4:2:0); H.264 by libx264 at CRF 20, VP9 by libvpx at CRF 32 in
 * constant-quality mode.  Progress is the source read so far.
 */

#include <stdio.h>
#include <string.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>

#include "exporter.h"


typedef struct {
    media_job_t           *job;
    media_probe_t         *p;
    media_export_spec_t   *spec;
    const media_loudness_t *loud;
    AVCodecContext        *vdec;
    AVCodecContext        *adec;
    AVCodecContext        *venc;
    AVCodecContext        *aenc;
    AVFilterGraph         *vgraph;
    AVFilterGraph         *agraph;
    AVFilterContext       *vsrc;
    AVFilterContext       *vsink;
    AVFilterContext       *asrc;
    AVFilterContext       *asink;
    AVFormatContext       *oc;
    int                    vst;
    int                    ast;
    AVPacket              *pkt;           /* read from the source */
    AVPacket              *opkt;          /* from an encoder */
    AVFrame               *frame;
    AVFrame               *filtered;
    int64_t                at_ms;
    int64_t                end_ms;
    unsigned               open:1;        /* the file and its header */
} media_exp_t;


static int media_exp_video(media_exp_t *x);
static int media_exp_audio(media_exp_t *x);
static int media_exp_muxer(media_exp_t *x, const char *path);
static int media_exp_decode(media_exp_t *x, AVCodecContext *dec,
    AVFilterContext *src, AVPacket *pkt);
static int media_exp_drain(media_exp_t *x, int video);
static int media_exp_encode(media_exp_t *x, AVCodecContext *enc,
    AVFrame *frame, int st);
static int media_exp_finish(media_exp_t *x);
static void media_exp_free(media_exp_t *x);


int
media_export_encode(media_job_t *job, media_probe_t *p,
    media_export_spec_t *spec, const media_loudness_t *loud,
    const char *path)
{
    int           rc;
    AVStream     *st;
    media_exp_t   x;

    memset(&x, 0, sizeof(media_exp_t));
    x.job = job;
    x.p = p;
    x.spec = spec;
    x.loud = loud;
    x.vst = -1;
    x.ast = -1;

    x.pkt = av_packet_alloc();
    x.opkt = av_packet_alloc();
    x.frame = av_frame_alloc();
    x.filtered = av_frame_alloc();

    if (x.pkt == NULL || x.opkt == NULL || x.frame == NULL
        || x.filtered == NULL)
    {
        media_job_fail(job, "out of memory");
        goto failed;
    }

    if (media_exp_muxer(&x, NULL) != 0
        || (spec->video && media_exp_video(&x) != 0)
        || (p->audio >= 0 && media_exp_audio(&x) != 0)
        || media_exp_muxer(&x, path) != 0)
    {
        goto failed;
    }

    while ((rc = av_read_frame(p->ic, x.pkt)) >= 0) {
        st = p->ic->streams[x.pkt->stream_index];

        if (x.vdec && x.pkt->stream_index == p->video) {
            rc = media_exp_decode(&x, x.vdec, x.vsrc, x.pkt);

        } else if (x.adec && x.pkt->stream_index == p->audio) {
            rc = media_exp_decode(&x, x.adec, x.asrc, x.pkt);

        } else {
            rc = 0;
        }

        if (x.pkt->pts != AV_NOPTS_VALUE) {
            x.at_ms = av_rescale_q(x.pkt->pts
                                   - (st->start_time != AV_NOPTS_VALUE
                                      ? st->start_time : 0),
                                   st->time_base, (AVRational) { 1, 1000 });
        }

        av_packet_unref(x.pkt);

        if (rc != 0) {
            goto failed;
        }

        media_job_advanced(job);

        if (p->duration_ms > 0
            && media_job_progress(job, (int) (x.at_ms * 100
                                              / p->duration_ms))
               != 0)
        {
            media_job_fail(job, "the job's lease was lost");
            goto failed;
        }

        if (media_worker_stop) {
            media_job_fail(job, "stopped");
            goto failed;
        }
    }

    if (rc != AVERROR_EOF) {
        media_job_fail(job, "read input: %s", media_averr(rc));
        if (media_av_input(rc)) {
            media_job_refuse(job, MEDIA_MSG_DAMAGED, x.at_ms / 1000.0);
        }
        goto failed;
    }

    if (media_exp_finish(&x) != 0) {
        goto failed;
    }

    spec->duration_ms = x.end_ms;
    media_exp_free(&x);
    return 0;

failed:

    media_exp_free(&x);
    return -1;
}


static int
media_exp_video(media_exp_t *x)
{
    char              args[256], desc[1024];
    AVRational        sar, tb;
    const char       *name;
    const AVCodec    *codec;
    AVCodecContext   *c;

    if (media_av_decoder(x->job, x->p, x->p->video, &x->vdec) != 0) {
        return -1;
    }

    sar = x->vdec->sample_aspect_ratio;
    if (sar.num <= 0 || sar.den <= 0) {
        sar = (AVRational) { 1, 1 };
    }

    tb = x->p->ic->streams[x->p->video]->time_base;

    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             x->vdec->width, x->vdec->height, x->vdec->pix_fmt, tb.num,
             tb.den, sar.num, sar.den);

    /* square pixels at the displayed size, made even for 4:2:0 */
    snprintf(desc, sizeof(desc), "[in]%s%sscale=w='trunc(iw*sar/2)*2':"
             "h='trunc(ih/2)*2':flags=bicubic,setsar=1,format=yuv420p[o0]",
             media_av_rotate(x->p), x->spec->vfilters);

    if (media_av_graph(x->job, &x->vgraph, &x->vsrc, "buffer", args,
                       "buffersink", desc, &x->vsink, 1)
        != 0)
    {
        return -1;
    }

    name = x->spec->format->video_encoder;
    codec = avcodec_find_encoder_by_name(name);
    c = codec ? avcodec_alloc_context3(codec) : NULL;

    if (c == NULL) {
        media_job_fail(x->job, "%s is not available in libavcodec", name);
        return -1;
    }

    x->venc = c;
    c->width = av_buffersink_get_w(x->vsink);
    c->height = av_buffersink_get_h(x->vsink);
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->sample_aspect_ratio = (AVRational) { 1, 1 };
    c->time_base = av_buffersink_get_time_base(x->vsink);
    c->framerate = x->p->frame_rate;
    c->thread_count = (int) x->job->settings->transcode_threads;

    if (x->oc->oformat->flags & AVFMT_GLOBALHEADER) {
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }

    if (codec->id == AV_CODEC_ID_H264) {
        if (av_opt_set(c->priv_data, "preset", "veryfast", 0) < 0
            || av_opt_set(c->priv_data, "crf", "20", 0) < 0)
        {
            media_job_fail(x->job, "libx264 options refused");
            return -1;
        }

    } else {
        /* constant quality: crf with no target bitrate */
        c->bit_rate = 0;
        if (av_opt_set(c->priv_data, "crf", "32", 0) < 0
            || av_opt_set(c->priv_data, "deadline", "realtime", 0) < 0
            || av_opt_set(c->priv_data, "cpu-used", "8", 0) < 0
            || av_opt_set(c->priv_data, "row-mt", "1", 0) < 0)
        {
            media_job_fail(x->job, "libvpx-vp9 options refused");
            return -1;
        }
    }

    if (avcodec_open2(c, codec, NULL) < 0) {
        media_job_fail(x->job, "open %s at %dx%d", name, c->width,
                       c->height);
        return -1;
    }

    return 0;
}


static int
media_exp_audio(media_exp_t *x)
{
    int                    rc, rate, channels;
    char                   args[256], layout[64], desc[2048], norm[256];
    AVRational             tb;
    const AVCodec         *codec;
    AVCodecContext        *c;
    enum AVSampleFormat    fmt;

    if (media_av_decoder(x->job, x->p, x->p->audio, &x->adec) != 0) {
        return -1;
    }

    codec = avcodec_find_encoder_by_name(x->spec->codec->encoder);
    c = codec ? avcodec_alloc_context3(codec) : NULL;

    if (c == NULL) {
        media_job_fail(x->job, "%s is not available in libavcodec",
                       x->spec->codec->encoder);
        return -1;
    }

    x->aenc = c;

    rate = x->spec->sample_rate
           ? x->spec->sample_rate
           : media_export_rate(x->spec->codec, x->adec->sample_rate);
    channels = x->adec->ch_layout.nb_channels > 1 ? 2 : 1;
    fmt = codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;

    av_channel_layout_describe(&x->adec->ch_layout, layout, sizeof(layout));
    tb = x->p->ic->streams[x->p->audio]->time_base;

    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             tb.num, tb.den, x->adec->sample_rate,
             av_get_sample_fmt_name(x->adec->sample_fmt), layout);

    norm[0] = '\0';
    if (x->loud) {
        media_loudness_filter(x->loud, norm, sizeof(norm));
    }

    snprintf(desc, sizeof(desc), "[in]%s%saresample=%d,aformat="
             "sample_fmts=%s:sample_rates=%d:channel_layouts=%s[o0]",
             x->spec->afilters, norm, rate, av_get_sample_fmt_name(fmt),
             rate, channels == 1 ? "mono" : "stereo");

    if (media_av_graph(x->job, &x->agraph, &x->asrc, "abuffer", args,
                       "abuffersink", desc, &x->asink, 1)
        != 0)
    {
        return -1;
    }

    c->sample_fmt = fmt;
    c->sample_rate = rate;
    c->time_base = (AVRational) { 1, rate };
    c->bit_rate = x->spec->bitrate;
    av_channel_layout_default(&c->ch_layout, channels);

    if (x->oc->oformat->flags & AVFMT_GLOBALHEADER) {
        c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    }

    rc = avcodec_open2(c, codec, NULL);
    if (rc < 0) {
        media_job_fail(x->job, "open %s at %d Hz, %d b/s: %s",
                       codec->name, rate, x->spec->bitrate, media_averr(rc));
        return -1;
    }

    /* an encoder of fixed-size frames takes whole ones */
    if (c->frame_size > 0
        && !(codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
    {
        av_buffersink_set_frame_size(x->asink, c->frame_size);
    }

    x->spec->out_rate = rate;
    x->spec->out_channels = channels;

    return 0;
}


/*
 * path NULL: the muxer alone, so the encoders know whether it wants
 * global headers; then its streams, the file and the header.
 */
static int
media_exp_muxer(media_exp_t *x, const char *path)
{
    int                 rc;
    AVStream           *st;
    AVDictionary       *opts;
    AVDictionaryEntry  *left;

    if (path == NULL) {
        rc = avformat_alloc_output_context2(&x->oc, NULL,
                                            x->spec->format->muxer, NULL);
        if (rc < 0) {
            media_job_fail(x->job, "%s muxer: %s", x->spec->format->muxer,
                           media_averr(rc));
            return -1;
        }

        return 0;
    }

    if (x->venc) {
        st = avformat_new_stream(x->oc, NULL);
        if (st == NULL
            || avcodec_parameters_from_context(st->codecpar, x->venc) < 0)
        {
            media_job_fail(x->job, "output video stream");
            return -1;
        }
        st->time_base = x->venc->time_base;
        x->vst = st->index;
    }

    if (x->aenc) {
        st = avformat_new_stream(x->oc, NULL);
        if (st == NULL
            || avcodec_parameters_from_context(st->codecpar, x->aenc) < 0)
        {
            media_job_fail(x->job, "output audio stream");
            return -1;
        }
        st->time_base = x->aenc->time_base;
        x->ast = st->index;
    }

    if (x->vst < 0 && x->ast < 0) {
        media_job_fail(x->job, "nothing to export: no audio stream");
        media_job_refuse(x->job, MEDIA_MSG_NO_SOUND);
        return -1;
    }

    /* faststart opens the file again by this name to move its index */
    av_freep(&x->oc->url);
    x->oc->url = av_strdup(path);

    rc = x->oc->url ? avio_open(&x->oc->pb, path, AVIO_FLAG_WRITE)
                    : AVERROR(ENOMEM);
    if (rc < 0) {
        media_job_fail(x->job, "create %s: %s", path, media_averr(rc));
        return -1;
    }

    opts = NULL;

    /* the index first: a download plays before it has all arrived */
    if (strcmp(x->spec->format->muxer, "mp4") == 0
        || strcmp(x->spec->format->muxer, "ipod") == 0)
    {
        av_dict_set(&opts, "movflags", "+faststart", 0);
    }

    rc = avformat_write_header(x->oc, &opts);

    left = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX);
    av_dict_free(&opts);

    if (rc < 0 || left) {
        media_job_fail(x->job, "%s header: %s", x->spec->format->muxer,
                       rc < 0 ? media_averr(rc) : "an option was refused");
        return -1;
    }

    x->open = 1;

    return 0;
}


static int
media_exp_decode(media_exp_t *x, AVCodecContext *dec, AVFilterContext *src,
    AVPacket *pkt)
{
    int  rc;

    rc = avcodec_send_packet(dec, pkt);

    /* a damaged packet is skipped, as the transcoder does */
    if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_INVALIDDATA
        && rc != AVERROR_EOF)
    {
        media_job_fail(x->job, "decode: %s", media_averr(rc));
        return -1;
    }

    for ( ;; ) {
        rc = avcodec_receive_frame(dec, x->frame);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            return 0;
        }

        if (rc == AVERROR_INVALIDDATA) {
            continue;
        }

        if (rc < 0) {
            media_job_fail(x->job, "decode: %s", media_averr(rc));
            return -1;
        }

        x->frame->pts = x->frame->best_effort_timestamp;

        rc = av_buffersrc_add_frame_flags(src, x->frame,
                                          AV_BUFFERSRC_FLAG_KEEP_REF);
        av_frame_unref(x->frame);

        if (rc < 0) {
            media_job_fail(x->job, "filter input: %s", media_averr(rc));
            return -1;
        }

        if (media_exp_drain(x, dec == x->vdec) != 0) {
            return -1;
        }
    }
}


/* what the sink holds, through its encoder */
static int
media_exp_drain(media_exp_t *x, int video)
{
    int               rc;
    AVFilterContext  *sink;

    sink = video ? x->vsink : x->asink;

    while ((rc = av_buffersink_get_frame(sink, x->filtered)) >= 0) {
        x->filtered->pict_type = AV_PICTURE_TYPE_NONE;

        rc = media_exp_encode(x, video ? x->venc : x->aenc, x->filtered,
                              video ? x->vst : x->ast);
        av_frame_unref(x->filtered);

        if (rc != 0) {
            return -1;
        }
    }

    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
        media_job_fail(x->job, "%s filter: %s", video ? "video" : "audio",
                       media_averr(rc));
        return -1;
    }

    return 0;
}


/* frame NULL flushes the encoder */
static int
media_exp_encode(media_exp_t *x, AVCodecContext *enc, AVFrame *frame,
    int st)
{
    int        rc;
    int64_t    end;
    AVStream  *out;

    rc = avcodec_send_frame(enc, frame);
    if (rc < 0 && rc != AVERROR_EOF) {
        media_job_fail(x->job, "encode: %s", media_averr(rc));
        return -1;
    }

    out = x->oc->streams[st];

    while ((rc = avcodec_receive_packet(enc, x->opkt)) == 0) {

        /* libx264's packets carry no duration: one frame's */
        if (enc == x->venc && x->opkt->duration <= 0
            && x->p->frame_rate.num > 0)
        {
            x->opkt->duration = av_rescale_q(1, av_inv_q(x->p->frame_rate),
                                            enc->time_base);
        }

        x->opkt->stream_index = st;
        av_packet_rescale_ts(x->opkt, enc->time_base, out->time_base);

        if (x->opkt->pts != AV_NOPTS_VALUE) {
            end = av_rescale_q(x->opkt->pts + x->opkt->duration,
                               out->time_base, (AVRational) { 1, 1000 });
            if (end > x->end_ms) {
                x->end_ms = end;
            }
        }

        rc = av_interleaved_write_frame(x->oc, x->opkt);
        if (rc < 0) {
            media_job_fail(x->job, "write: %s", media_averr(rc));
            return -1;
        }
    }

    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
        media_job_fail(x->job, "encode: %s", media_averr(rc));
        return -1;
    }

    return 0;
}


/* flush decoders, filters and encoders; the trailer; the file closed */
static int
media_exp_finish(media_exp_t *x)
{
    int  rc;

    if (x->vdec && (media_exp_decode(x, x->vdec, x->vsrc, NULL) != 0
                    || av_buffersrc_add_frame(x->vsrc, NULL) < 0
                    || media_exp_drain(x, 1) != 0
                    || media_exp_encode(x, x->venc, NULL, x->vst) != 0))
    {
        return -1;
    }

    if (x->adec && (media_exp_decode(x, x->adec, x->asrc, NULL) != 0
                    || av_buffersrc_add_frame(x->asrc, NULL) < 0
                    || media_exp_drain(x, 0) != 0
                    || media_exp_encode(x, x->aenc, NULL, x->ast) != 0))
    {
        return -1;
    }

    x->open = 0;

    rc = av_write_trailer(x->oc);
    if (rc >= 0) {
        rc = avio_closep(&x->oc->pb);
    }

    if (rc < 0) {
        media_job_fail(x->job, "finish the file: %s", media_averr(rc));
        return -1;
    }

    return 0;
}


static void
media_exp_free(media_exp_t *x)
{
    if (x->oc) {
        if (x->open) {
            (void) av_write_trailer(x->oc);
        }
        if (x->oc->pb) {
            (void) avio_closep(&x->oc->pb);
        }
        avformat_free_context(x->oc);
    }

    avcodec_free_context(&x->venc);
    avcodec_free_context(&x->aenc);
    avcodec_free_context(&x->vdec);
    avcodec_free_context(&x->adec);
    avfilter_graph_free(&x->vgraph);
    avfilter_graph_free(&x->agraph);
    av_packet_free(&x->pkt);
    av_packet_free(&x->opkt);
    av_frame_free(&x->frame);
    av_frame_free(&x->filtered);
}
