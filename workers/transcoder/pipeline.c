/*
 * Decode once, encode every rung, mux HLS.
 *
 * Video: one decoder feeds one filter graph,
 *   [in] (rotation) split=N [sI]; [sI] scale=WxH, format=yuv420p [oI]
 * so every rung comes from the source decode, never from another rung.
 * Each rung has its own libx264 encoder: VBV-capped CRF, scene-cut off,
 * and keyframes forced on a fixed 2 s grid so that segments line up across
 * rungs.  Audio is resampled to 48 kHz stereo once and encoded to AAC
 * once; every rung's muxer gets the same packets.
 *
 * Audio only: [in] asplit=3, each branch resampled to its own layout and
 * to media_audio_sample_rate (44.1 kHz unless set), encoded at its own
 * rate into its own HLS rendition.  Video keeps 48 kHz, as video does.
 * Each audio rung's encoder and muxer run on a thread of their own (the
 * AAC encoder is most of an audio job, and has no threads of its own):
 * this thread decodes, filters and hands each rung its frames through a
 * bounded queue.
 *
 * Pictures: the video graph has one more branch, a frame every few
 * seconds scaled to a tile, for the thumbnail strip (pictures.c); the
 * cover (an uploaded one, else an audio file's attached picture) is made
 * into the two cover sizes before the pass.
 *
 * Each rung's HLS muxer writes dir/<rung>/index.m3u8 and 6 s segments;
 * for a queued job dir is the served generation and rungs are listed as
 * they grow (progressive.c).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>

#include "transcoder.h"


#define MEDIA_AQUEUE  64                /* frames: about 1.5 s of AAC */

typedef struct media_pipe_s  media_pipe_t;

/* an audio rung's encoder thread and the frames waiting for it */
typedef struct {
    pthread_t           tid;
    pthread_mutex_t     lock;
    pthread_cond_t      cond;          /* a frame, room, the end or a stop */
    AVFrame            *q[MEDIA_AQUEUE];
    int                 head;
    int                 count;
    int                 started;       /* the main thread's alone */
    int                 eof;           /* no more frames: flush, finish */
    int                 stop;          /* abandoned: leave at once */
    int                 done;          /* the thread has left */
    int                 failed;        /* and why is in the job's error */
    int                 want_frames;   /* the encoder waits on an empty queue */
    int                 want_room;     /* the decoding thread on a full one */
} media_aqueue_t;

/* each side is woken when the other has done a batch, not at each frame */
#define MEDIA_AQUEUE_BATCH  (MEDIA_AQUEUE / 4)


typedef struct {
    media_rung_t       *rung;
    AVFilterContext    *vsink;
    AVFilterContext    *asink;         /* audio ladder: this rung's own */
    AVCodecContext     *venc;
    AVCodecContext     *aenc;          /* audio ladder: this rung's own */
    AVFormatContext    *oc;
    int                 vst;
    int                 ast;
    int64_t             next_key;      /* pts of the next forced keyframe */
    media_aqueue_t      aq;            /* audio ladder: its encoder thread */
    media_pipe_t       *pp;
    unsigned            open:1;        /* header written, no trailer yet */
    unsigned            presented:1;   /* the first video packet written */
} media_out_t;


struct media_pipe_s {
    media_job_t        *job;
    media_probe_t      *p;
    media_ladder_t     *l;
    const char         *dir;
    AVCodecContext     *vdec;
    AVCodecContext     *adec;
    AVFilterGraph      *vgraph;
    AVFilterGraph      *agraph;
    AVFilterContext    *vsrc;
    AVFilterContext    *asrc;
    AVFilterContext    *shared_asink;  /* video ladder: one audio encode */
    AVCodecContext     *shared_aenc;
    media_out_t         out[MEDIA_MAX_RUNGS];
    int                 n;
    const media_loudness_t  *loud;
    AVPacket           *pkt;
    AVFrame            *frame;
    AVFrame            *filtered;
    AVFrame            *last;          /* the top rung's, until a poster */
    AVFilterContext    *thumb_sink;    /* the thumbnail branch */
    media_thumbs_t      thumbs;
    int64_t             thumb_start;   /* the first tile's pts */
    int64_t             poster_at;     /* in the top rung's time base */
    int64_t             at_ms;         /* the source read up to here */
    int64_t             vframes;       /* decoded */
    int64_t             aframes;
    int                *halt;          /* set by a pass that failed */
    unsigned            pictures:1;    /* poster, thumbnails, cover */
    unsigned            lister:1;      /* progress, rows, listing */
    unsigned            poster_done:1;
    unsigned            cover_done:1;
};


/* the head start's pass (the lowest rung alone) on a thread of its own */
typedef struct {
    pthread_t           tid;
    media_pipe_t        pp;
    media_probe_t       probe;
    int                 rc;
    int                 done;          /* atomic: the pass has ended */
} media_head_t;


static int media_pipe_init(media_pipe_t *pp, media_job_t *job,
    media_probe_t *p, media_ladder_t *l, const media_loudness_t *loud,
    const char *dir, unsigned rungs);
static int media_pipe_run(media_pipe_t *pp);
static void *media_head_run(void *data);
static int media_video_graph(media_pipe_t *pp);
static int media_audio_graph(media_pipe_t *pp);
static AVCodecContext *media_video_encoder(media_pipe_t *pp, media_out_t *o);
static AVCodecContext *media_audio_encoder(media_pipe_t *pp,
    AVFilterContext *sink, int64_t rate, int channels, int sample_rate);
static int64_t media_audio_start(media_pipe_t *pp);
static int media_open_muxer(media_pipe_t *pp, media_out_t *o,
    AVCodecContext *aenc);
static int media_decode(media_pipe_t *pp, AVCodecContext *dec,
    AVFilterContext *src, AVPacket *pkt);
static int media_drain(media_pipe_t *pp, int video);
static int media_encode(media_pipe_t *pp, AVCodecContext *enc, AVFrame *frame,
    media_out_t *outs, int nouts, int video);
static void media_hls_time(media_pipe_t *pp, media_out_t *o, char *buf,
    size_t size);
static int media_write(media_pipe_t *pp, media_out_t *o, AVPacket *pkt,
    int st, AVRational tb);
static void media_sps(media_rung_t *r, const AVPacket *pkt);
static int media_poster(media_pipe_t *pp, AVFrame *frame);
static int media_cover(media_pipe_t *pp);
static int media_thumb_drain(media_pipe_t *pp);
static int media_aqueue_start(media_pipe_t *pp, media_out_t *o);
static int media_aqueue_put(media_out_t *o, AVFrame *frame);
static int media_aqueue_end(media_out_t *o, int stop);
static void *media_aqueue_run(void *data);
static int media_finish(media_pipe_t *pp);
static void media_pipe_free(media_pipe_t *pp);
static void media_input_refuse(media_pipe_t *pp, int err);


int
media_pipeline(media_job_t *job, media_probe_t *p, media_ladder_t *l,
    const media_loudness_t *loud, const char *dir)
{
    int            rc, head, halt;
    unsigned       all;
    media_pipe_t   pp;
    media_head_t   h;

    all = (1u << l->n) - 1;
    halt = 0;

    head = media_progressive_head(job, l);

    if (head >= 0) {
        /*
         * The head start: the lowest rung gets a pass of its own over the
         * source (its own read, decode, scale and encode, its own audio),
         * on a thread, ahead of the others; the other rungs start once it
         * is listed.  Its output is what the one pass would have made.
         */
        memset(&h, 0, sizeof(media_head_t));

        if (media_probe(job, p->ic->url, &h.probe) != 0) {
            return -1;
        }

        if (media_pipe_init(&h.pp, job, &h.probe, l, loud, dir, 1u << head)
            != 0)
        {
            media_pipe_free(&h.pp);
            media_probe_close(&h.probe);
            return -1;
        }

        h.pp.halt = &halt;

        media_log_info("job %s: media %s, %s/%s head start", job->id,
                       job->media_id, l->gen, l->rungs[head].name);

        rc = pthread_create(&h.tid, NULL, media_head_run, &h);
        if (rc != 0) {
            media_job_fail(job, "head start thread: %s", strerror(rc));
            media_pipe_free(&h.pp);
            media_probe_close(&h.probe);
            return -1;
        }

        rc = media_progressive_wait(job, l, head, &h.done, &h.pp.at_ms,
                                    &halt);

        if (rc == 0) {
            rc = media_pipe_init(&pp, job, p, l, loud, dir,
                                 all & ~(1u << head));
            pp.halt = &halt;
            pp.pictures = 1;
            pp.lister = 1;
            rc = rc == 0 ? media_pipe_run(&pp) : rc;
            media_pipe_free(&pp);
        }

        if (rc != 0) {
            __atomic_store_n(&halt, 1, __ATOMIC_RELEASE);
        }

        pthread_join(h.tid, NULL);
        media_pipe_free(&h.pp);
        media_probe_close(&h.probe);

        return (rc != 0 || h.rc != 0) ? -1 : 0;
    }

    rc = media_pipe_init(&pp, job, p, l, loud, dir, all);
    pp.halt = &halt;
    pp.pictures = 1;
    pp.lister = 1;
    rc = rc == 0 ? media_pipe_run(&pp) : rc;
    media_pipe_free(&pp);

    return rc;
}


static void *
media_head_run(void *data)
{
    media_head_t  *h = data;

    h->rc = media_pipe_run(&h->pp);

    media_log_info("job %s: media %s, %s/%s head start pass %s", h->pp.job->id,
                   h->pp.job->media_id, h->pp.l->gen, h->pp.out[0].rung->name,
                   h->rc == 0 ? "done" : "failed");

    __atomic_store_n(&h->done, 1, __ATOMIC_RELEASE);

    return NULL;
}


/* the pass's state for the rungs in the mask: nothing opened yet */
static int
media_pipe_init(media_pipe_t *pp, media_job_t *job, media_probe_t *p,
    media_ladder_t *l, const media_loudness_t *loud, const char *dir,
    unsigned rungs)
{
    int  i;

    memset(pp, 0, sizeof(media_pipe_t));
    pp->job = job;
    pp->p = p;
    pp->l = l;
    pp->dir = dir;
    pp->loud = loud;

    for (i = 0; i < l->n; i++) {
        if (!(rungs & (1u << i))) {
            continue;
        }

        pp->out[pp->n].rung = &l->rungs[i];
        pp->out[pp->n].vst = -1;
        pp->out[pp->n].ast = -1;
        pp->out[pp->n].pp = pp;
        pp->n++;
    }

    pp->pkt = av_packet_alloc();
    pp->frame = av_frame_alloc();
    pp->filtered = av_frame_alloc();
    pp->last = av_frame_alloc();

    if (pp->pkt == NULL || pp->frame == NULL || pp->filtered == NULL
        || pp->last == NULL)
    {
        media_job_fail(job, "out of memory");
        return -1;
    }

    return 0;
}


/* one pass over the source for the pass's rungs */
static int
media_pipe_run(media_pipe_t *pp)
{
    int            rc, i, percent;
    char           most[32];
    int64_t        ms;
    AVStream      *st;
    media_job_t   *job;
    media_probe_t *p;

    job = pp->job;
    p = pp->p;
    pp->poster_done = !pp->pictures;

    if ((p->video >= 0 && (media_av_decoder(job, p, p->video, &pp->vdec) != 0
                           || media_video_graph(pp) != 0))
        || (p->audio >= 0 && (media_av_decoder(job, p, p->audio, &pp->adec)
                              != 0
                              || media_audio_graph(pp) != 0)))
    {
        goto failed;
    }

    for (i = 0; i < pp->n; i++) {
        if (media_open_muxer(pp, &pp->out[i],
                             pp->out[i].aenc ? pp->out[i].aenc
                                             : pp->shared_aenc)
            != 0
            || (pp->out[i].aenc && media_aqueue_start(pp, &pp->out[i]) != 0))
        {
            goto failed;
        }
    }

    if (pp->pictures && media_cover(pp) != 0) {
        goto failed;
    }

    /* one pass over the source */
    while ((rc = av_read_frame(p->ic, pp->pkt)) >= 0) {
        st = p->ic->streams[pp->pkt->stream_index];

        if (pp->pkt->stream_index == p->video) {
            rc = media_decode(pp, pp->vdec, pp->vsrc, pp->pkt);

        } else if (pp->pkt->stream_index == p->audio) {
            rc = media_decode(pp, pp->adec, pp->asrc, pp->pkt);

        } else {
            rc = 0;
        }

        if (pp->pkt->pts != AV_NOPTS_VALUE) {
            ms = av_rescale_q(pp->pkt->pts
                              - (st->start_time != AV_NOPTS_VALUE
                                 ? st->start_time : 0),
                              st->time_base, (AVRational) { 1, 1000 });
            __atomic_store_n(&pp->at_ms, ms, __ATOMIC_RELEASE);
        }

        /* a file with no duration in its headers, or a false one */
        if (pp->at_ms > job->settings->max_duration) {
            av_packet_unref(pp->pkt);
            media_duration_text(job->settings->max_duration, most + 10,
                                sizeof(most) - 10);
            memcpy(most, "more than ", 10);
            media_job_fail(job, "still reading past "
                           MEDIA_SET_MAX_DURATION " %s", most + 10);
            media_job_refuse(job, MEDIA_MSG_DURATION, most, most + 10);
            goto failed;
        }

        if (rc == 0 && pp->lister && pp->pkt->pts != AV_NOPTS_VALUE
            && p->duration_ms > 0)
        {
            percent = (int) (pp->at_ms * 100 / p->duration_ms);
            media_job_advanced(job);

            if (media_job_progress(job, percent) != 0) {
                media_job_fail(job, "the job's lease was lost");
                rc = -1;
            }
        }

        av_packet_unref(pp->pkt);

        /* the rungs with enough segments listed (a queued job) */
        if (rc == 0) {
            rc = pp->lister ? media_progressive_tick(job, pp->l, pp->at_ms)
                            : media_progressive_pace(pp->l, pp->at_ms);
        }

        if (rc != 0) {
            goto failed;
        }

        if (media_worker_stop) {
            media_job_fail(job, "stopped");
            goto failed;
        }

        /* the other pass failed: its reason is the job's */
        if (__atomic_load_n(pp->halt, __ATOMIC_ACQUIRE)) {
            media_job_fail(job, "stopped: the other pass failed");
            goto failed;
        }
    }

    if (rc != AVERROR_EOF) {
        media_job_fail(job, media_job_stalled(job)
                       ? "decoding stalled (watchdog)"
                       : "read input: %s", media_averr(rc));
        if (!media_job_stalled(job)) {
            media_input_refuse(pp, rc);
        }
        goto failed;
    }

    rc = media_finish(pp);

    /* every packet was damaged: no rendition can come of this file */
    if ((p->video >= 0 && pp->vframes == 0)
        || (p->video < 0 && pp->aframes == 0))
    {
        media_job_fail(job, "no %s frame decoded",
                       p->video >= 0 ? "video" : "audio");
        media_job_refuse(job, MEDIA_MSG_NOTHING,
                         p->video >= 0 ? "picture" : "sound");
        goto failed;
    }

    if (rc != 0) {
        goto failed;
    }

    if (pp->thumb_sink
        && media_thumbs_finish(job, &pp->thumbs, p->duration_ms, pp->dir)
           != 0)
    {
        goto failed;
    }

    if (pp->pictures) {
        pp->l->pictures |= (pp->cover_done ? MEDIA_PIC_COVER : 0)
                           | (p->video >= 0 && pp->poster_done
                              ? MEDIA_PIC_POSTER : 0)
                           | (pp->thumbs.n > 0 ? MEDIA_PIC_THUMBS : 0)
                           | (p->video < 0 && pp->loud
                              ? MEDIA_PIC_WAVEFORM : 0);
    }

    return 0;

failed:

    __atomic_store_n(pp->halt, 1, __ATOMIC_RELEASE);
    return -1;
}


static int
media_video_graph(media_pipe_t *pp)
{
    int                i, branches;
    char               args[256], desc[2048], *d;
    const char        *rotate;
    AVFilterContext   *sinks[MEDIA_MAX_RUNGS + 1];
    AVRational         sar, tb;

    sar = pp->vdec->sample_aspect_ratio;
    if (sar.num <= 0 || sar.den <= 0) {
        sar = (AVRational) { 1, 1 };
    }

    tb = pp->p->ic->streams[pp->p->video]->time_base;

    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=%d/%d:pixel_aspect=%d/%d",
             pp->vdec->width, pp->vdec->height, pp->vdec->pix_fmt, tb.num,
             tb.den, sar.num, sar.den);

    rotate = media_av_rotate(pp->p);

    branches = pp->n + (pp->pictures ? 1 : 0);

    d = desc;
    d += sprintf(d, "[in]%ssplit=%d", rotate, branches);
    for (i = 0; i < branches; i++) {
        d += sprintf(d, "[s%d]", i);
    }
    for (i = 0; i < pp->n; i++) {
        d += sprintf(d, ";[s%d]scale=%d:%d:flags=bicubic,setsar=1,"
                     "format=yuv420p[o%d]", i, pp->out[i].rung->width,
                     pp->out[i].rung->height, i);
    }

    /* the thumbnail branch: the first frame, then one per interval */
    if (pp->pictures) {
        media_thumbs_init(&pp->thumbs, pp->out[0].rung->width,
                          pp->out[0].rung->height, pp->p->duration_ms);

        d += sprintf(d, ";[s%d]select='isnan(prev_selected_t)"
                     "+gte(t-prev_selected_t,%.3f)',scale=%d:%d:"
                     "flags=bicubic,setsar=1,format=yuvj420p[o%d]", pp->n,
                     pp->thumbs.every_ms / 1000.0 - 0.001, pp->thumbs.w,
                     pp->thumbs.h, pp->n);
    }

    if (media_av_graph(pp->job, &pp->vgraph, &pp->vsrc, "buffer", args,
                       "buffersink", desc, sinks, branches) != 0)
    {
        return -1;
    }

    pp->thumb_sink = pp->pictures ? sinks[pp->n] : NULL;
    pp->thumb_start = AV_NOPTS_VALUE;

    for (i = 0; i < pp->n; i++) {
        pp->out[i].vsink = sinks[i];
        pp->out[i].venc = media_video_encoder(pp, &pp->out[i]);
        if (pp->out[i].venc == NULL) {
            return -1;
        }
    }

    /* the poster: a tenth of the way in, at most a second */
    pp->poster_at = av_rescale_q(FFMIN(1000, pp->p->duration_ms / 10),
                                 (AVRational) { 1, 1000 },
                                 pp->out[0].venc->time_base);

    return 0;
}


static int
media_audio_graph(media_pipe_t *pp)
{
    int               i, hz;
    char              args[256], layout[64], desc[1024], norm[128], *d;
    AVRational        tb;
    AVFilterContext  *sinks[MEDIA_MAX_RUNGS];

    av_channel_layout_describe(&pp->adec->ch_layout, layout, sizeof(layout));

    /* frames carry the stream's time base (an mp3's is 1/14112000) */
    tb = pp->p->ic->streams[pp->p->audio]->time_base;

    snprintf(args, sizeof(args),
             "time_base=%d/%d:sample_rate=%d:sample_fmt=%s:channel_layout=%s",
             tb.num, tb.den, pp->adec->sample_rate,
             av_get_sample_fmt_name(pp->adec->sample_fmt), layout);

    if (pp->p->video >= 0) {
        /* one encode shared by every video rung: downmixed to stereo */
        pp->shared_aenc = media_audio_encoder(pp, NULL, 128000, 2, 48000);
        if (pp->shared_aenc == NULL) {
            return -1;
        }

        snprintf(desc, sizeof(desc), "[in]aresample=48000,"
                 "aresample=48000:first_pts=%" PRId64 ",aformat=sample_fmts="
                 "fltp:sample_rates=48000:channel_layouts=stereo[o0]",
                 media_audio_start(pp));

        if (media_av_graph(pp->job, &pp->agraph, &pp->asrc, "abuffer", args,
                        "abuffersink", desc, sinks, 1)
            != 0)
        {
            return -1;
        }

        pp->shared_asink = sinks[0];
        av_buffersink_set_frame_size(sinks[0], pp->shared_aenc->frame_size);

        return 0;
    }

    norm[0] = '\0';
    if (pp->loud) {
        media_loudness_filter(pp->loud, norm, sizeof(norm));
    }

    /* resampled after loudnorm, whose dynamic mode outputs 192 kHz */
    hz = pp->job->settings->audio_rate > 0
         ? (int) pp->job->settings->audio_rate : MEDIA_DEFAULT_AUDIO_RATE;

    d = desc;
    d += sprintf(d, "[in]%sasplit=%d", norm, pp->n);
    for (i = 0; i < pp->n; i++) {
        d += sprintf(d, "[s%d]", i);
    }
    for (i = 0; i < pp->n; i++) {
        d += sprintf(d, ";[s%d]aresample=%d,aformat=sample_fmts=fltp:"
                     "sample_rates=%d:channel_layouts=%s[o%d]", i, hz, hz,
                     pp->out[i].rung->audio_channels == 1 ? "mono" : "stereo",
                     i);
    }

    if (media_av_graph(pp->job, &pp->agraph, &pp->asrc, "abuffer", args,
                    "abuffersink", desc, sinks, pp->n)
        != 0)
    {
        return -1;
    }

    for (i = 0; i < pp->n; i++) {
        pp->out[i].asink = sinks[i];
        pp->out[i].aenc = media_audio_encoder(pp, sinks[i],
                                              pp->out[i].rung->audio_rate,
                                              pp->out[i].rung->audio_channels,
                                              hz);
        if (pp->out[i].aenc == NULL) {
            return -1;
        }
    }

    return 0;
}


static AVCodecContext *
media_video_encoder(media_pipe_t *pp, media_out_t *o)
{
    int              rc, gop;
    char             maxrate[32];
    const AVCodec   *codec;
    AVCodecContext  *c;

    codec = avcodec_find_encoder_by_name("libx264");
    if (codec == NULL) {
        media_job_fail(pp->job, "libx264 is not available in libavcodec");
        return NULL;
    }

    c = avcodec_alloc_context3(codec);
    if (c == NULL) {
        media_job_fail(pp->job, "out of memory");
        return NULL;
    }

    c->width = av_buffersink_get_w(o->vsink);
    c->height = av_buffersink_get_h(o->vsink);
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->sample_aspect_ratio = (AVRational) { 1, 1 };
    c->time_base = av_buffersink_get_time_base(o->vsink);
    c->framerate = pp->p->frame_rate;

    /* a keyframe every 2 s, and nowhere else: segments align across rungs */
    gop = (int) (av_q2d(pp->p->frame_rate) * MEDIA_GOP_SECS + 0.5);
    c->gop_size = gop > 0 ? gop : 50;
    c->keyint_min = c->gop_size;

    /* capped CRF: quality-driven, never above the rung's rate (VBV) */
    c->rc_max_rate = o->rung->video_rate;
    c->rc_buffer_size = (int) (o->rung->video_rate * 2);
    c->thread_count = (int) pp->job->settings->transcode_threads;

    snprintf(maxrate, sizeof(maxrate), "%" PRId64, o->rung->video_rate);

    if (av_opt_set(c->priv_data, "preset", "veryfast", 0) < 0
        || av_opt_set(c->priv_data, "crf", "21", 0) < 0
        || av_opt_set(c->priv_data, "profile", "high", 0) < 0
        || av_opt_set(c->priv_data, "forced-idr", "1", 0) < 0
        || av_opt_set(c->priv_data, "x264-params", "scenecut=0:open-gop=0",
                      0) < 0)
    {
        media_job_fail(pp->job, "libx264 options refused");
        avcodec_free_context(&c);
        return NULL;
    }

    rc = avcodec_open2(c, codec, NULL);
    if (rc < 0) {
        media_job_fail(pp->job, "open libx264 for %s: %s", o->rung->name,
                       media_averr(rc));
        avcodec_free_context(&c);
        return NULL;
    }

    o->next_key = 0;

    return c;
}


static AVCodecContext *
media_audio_encoder(media_pipe_t *pp, AVFilterContext *sink, int64_t rate,
    int channels, int sample_rate)
{
    int              rc;
    const AVCodec   *codec;
    AVCodecContext  *c;

    codec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    c = codec ? avcodec_alloc_context3(codec) : NULL;
    if (c == NULL) {
        media_job_fail(pp->job, "no AAC encoder");
        return NULL;
    }

    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = sample_rate;
    c->bit_rate = rate;
    c->time_base = (AVRational) { 1, sample_rate };
    av_channel_layout_default(&c->ch_layout, channels);

    rc = avcodec_open2(c, codec, NULL);
    if (rc < 0) {
        media_job_fail(pp->job, "open AAC encoder: %s", media_averr(rc));
        avcodec_free_context(&c);
        return NULL;
    }

    /* the encoder takes whole frames of its size (NULL: the caller sets it) */
    if (sink) {
        av_buffersink_set_frame_size(sink, c->frame_size);
    }

    return c;
}


/*
 * Where a video ladder's audio starts, in 48 kHz samples, so that every
 * stream of a rung starts presenting at one timestamp.  hls.js anchors its
 * timeline at the first video DTS, and MPEG-TS cannot say "present from
 * here" as an fMP4 edit list can: so the first frame, which x264's
 * B-frame delay decodes has_b_frames frames before it is presented (67 ms
 * at 30 fps), is presented from its DTS (media_write), and the audio
 * starts there too: padded with that much silence before the source's
 * first sample, less the AAC encoder's priming (1024 samples, which carry
 * timestamps before the first frame's).  Every later timestamp is the
 * source's, so sync holds; the first picture shows a little longer.
 * A source whose audio starts away from its video is padded or trimmed
 * to the same start (aresample's first_pts, on a second aresample at 48
 * kHz: FFmpeg 5.1's, while resampling, pads first_pts samples of the
 * input's rate, not of its output's).
 */
static int64_t
media_audio_start(media_pipe_t *pp)
{
    int64_t      start, delay;
    AVStream    *st;
    AVRational   hz = { 1, 48000 };

    st = pp->p->ic->streams[pp->p->video];

    start = st->start_time != AV_NOPTS_VALUE
            ? av_rescale_q(st->start_time, st->time_base, hz) : 0;

    delay = av_rescale_q(pp->out[0].venc->has_b_frames,
                         av_inv_q(pp->p->frame_rate), hz);

    return start - delay + pp->shared_aenc->initial_padding;
}


/*
 * The segment length.  Audio rungs cut wherever the time falls, so a track
 * of 6n s plus the encoder's 21 ms of priming ends with a segment of one
 * frame (752 bytes) that players fetch for nothing.  When
 * the tail would be under MEDIA_TAIL_MS, the n segments are stretched a
 * little to take it in (a 300 s track: 50 segments of 6.01 s).  Video
 * cuts only on the 2 s keyframe grid, which every rung shares: left as is.
 */
static void
media_hls_time(media_pipe_t *pp, media_out_t *o, char *buf, size_t size)
{
    int64_t  d, n, tail;

    d = pp->p->duration_ms;
    n = d / (MEDIA_SEGMENT_SECS * 1000);
    tail = d - n * MEDIA_SEGMENT_SECS * 1000;

    if (o->venc || n == 0 || tail >= MEDIA_TAIL_MS) {
        snprintf(buf, size, "%d", MEDIA_SEGMENT_SECS);
        return;
    }

    /* the last cut falls half a second past the end: there is none */
    snprintf(buf, size, "%.6f",
             MEDIA_SEGMENT_SECS + (tail + 500) / 1000.0 / n);
}


static int
media_open_muxer(media_pipe_t *pp, media_out_t *o, AVCodecContext *aenc)
{
    int                  rc;
    char                 path[4096], seg[4096], rdir[4096], hls_time[32];
    AVStream            *st;
    AVDictionary        *opts;
    AVDictionaryEntry   *left;

    if (media_path(rdir, sizeof(rdir), "%s/%s", pp->dir, o->rung->name) != 0
        || media_path(path, sizeof(path), "%s/index.m3u8", rdir) != 0
        || media_path(seg, sizeof(seg), "%s/seg_%%05d.ts", rdir) != 0
        || (mkdir(rdir, 0755) != 0 && errno != EEXIST))
    {
        media_job_fail(pp->job, "mkdir %s: %s", rdir, strerror(errno));
        return -1;
    }

    rc = avformat_alloc_output_context2(&o->oc, NULL, "hls", path);
    if (rc < 0) {
        media_job_fail(pp->job, "HLS muxer: %s", media_averr(rc));
        return -1;
    }

    /*
     * As the ffmpeg command does (-muxdelay 0.7): without it the TS muxer
     * writes each AAC frame (21 ms, ~180 bytes at 64k) as a PES packet of
     * its own, two 188-byte TS packets, doubling an audio rung on the
     * wire; with it, audio is gathered into PES packets of up to 2930
     * bytes (pes_payload_size).  Video is one PES packet a frame anyway.
     * The TS timestamps start at 2 x 0.7 s, as ffmpeg's do.
     */
    o->oc->max_delay = MEDIA_MUX_MAX_DELAY;

    /*
     * And from there: the first timestamp made 0 (then 1.4 s), not only a
     * negative one, so that every rendition, audio-only too, starts at
     * the same point whatever its source's start (a video rung's streams
     * share their first timestamp: media_audio_start).
     */
    o->oc->avoid_negative_ts = AVFMT_AVOID_NEG_TS_MAKE_ZERO;

    if (o->venc) {
        st = avformat_new_stream(o->oc, NULL);
        if (st == NULL
            || avcodec_parameters_from_context(st->codecpar, o->venc) < 0)
        {
            media_job_fail(pp->job, "HLS video stream");
            return -1;
        }
        st->time_base = o->venc->time_base;
        o->vst = st->index;
    }

    if (aenc) {
        st = avformat_new_stream(o->oc, NULL);
        if (st == NULL
            || avcodec_parameters_from_context(st->codecpar, aenc) < 0)
        {
            media_job_fail(pp->job, "HLS audio stream");
            return -1;
        }
        st->time_base = aenc->time_base;
        o->ast = st->index;
    }

    opts = NULL;
    media_hls_time(pp, o, hls_time, sizeof(hls_time));
    av_dict_set(&opts, "hls_time", hls_time, 0);
    av_dict_set(&opts, "hls_list_size", "0", 0);
    av_dict_set(&opts, "hls_segment_filename", seg, 0);

    /*
     * A queued job publishes as it goes (progressive.c): an EVENT
     * playlist, rewritten aside and renamed after each segment (FFmpeg
     * does so for every non-VOD playlist), each segment written aside
     * (seg_N.ts.tmp) and renamed once complete; #EXT-X-ENDLIST at the end.
     */
    /*
     * No independent_segments here: the master's EXT-X-INDEPENDENT-
     * SEGMENTS applies to every media playlist (RFC 8216 4.3.5.1), and
     * in a media playlist FFmpeg would raise EXT-X-VERSION to 6 for
     * nothing past version 3.
     */
    if (pp->l->final) {
        av_dict_set(&opts, "hls_playlist_type", "event", 0);
        av_dict_set(&opts, "hls_flags", "temp_file", 0);

    } else {
        av_dict_set(&opts, "hls_playlist_type", "vod", 0);
    }

    rc = avformat_write_header(o->oc, &opts);

    left = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX);
    av_dict_free(&opts);

    o->open = rc >= 0;

    if (rc < 0 || left) {
        media_job_fail(pp->job, "HLS muxer for %s: %s", o->rung->name,
                       rc < 0 ? media_averr(rc) : "an option was refused");
        return -1;
    }

    return 0;
}


static int
media_decode(media_pipe_t *pp, AVCodecContext *dec, AVFilterContext *src,
    AVPacket *pkt)
{
    int  rc, video;

    video = dec == pp->vdec;

    rc = avcodec_send_packet(dec, pkt);

    /* a damaged packet is skipped, as players do; a dead decoder is not */
    if (rc < 0 && rc != AVERROR(EAGAIN) && rc != AVERROR_INVALIDDATA
        && rc != AVERROR_EOF)
    {
        media_job_fail(pp->job, "decode: %s", media_averr(rc));
        media_input_refuse(pp, rc);
        return -1;
    }

    for ( ;; ) {
        rc = avcodec_receive_frame(dec, pp->frame);

        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) {
            break;
        }

        if (rc < 0) {
            if (rc == AVERROR_INVALIDDATA) {
                continue;
            }
            media_job_fail(pp->job, "decode: %s", media_averr(rc));
            media_input_refuse(pp, rc);
            return -1;
        }

        if (video) {
            pp->vframes++;
        } else {
            pp->aframes++;
        }

        pp->frame->pts = pp->frame->best_effort_timestamp;

        rc = av_buffersrc_add_frame_flags(src, pp->frame,
                                          AV_BUFFERSRC_FLAG_KEEP_REF);
        av_frame_unref(pp->frame);

        if (rc < 0) {
            media_job_fail(pp->job, "filter input: %s", media_averr(rc));
            return -1;
        }

        if (media_drain(pp, video) != 0) {
            return -1;
        }
    }

    return 0;
}


/* what the sinks hold, through the encoders */
static int
media_drain(media_pipe_t *pp, int video)
{
    int            i, rc;
    int64_t        step;
    AVRational     tb;
    media_out_t   *o;

    if (video) {
        for (i = 0; i < pp->n; i++) {
            o = &pp->out[i];
            tb = o->venc->time_base;
            step = av_rescale_q(MEDIA_GOP_SECS, (AVRational) { 1, 1 }, tb);

            while ((rc = av_buffersink_get_frame(o->vsink, pp->filtered))
                   >= 0)
            {
                /* the 2 s grid, by time: holds for variable frame rates */
                if (pp->filtered->pts >= o->next_key) {
                    pp->filtered->pict_type = AV_PICTURE_TYPE_I;
                    while (o->next_key <= pp->filtered->pts) {
                        o->next_key += step;
                    }
                } else {
                    pp->filtered->pict_type = AV_PICTURE_TYPE_NONE;
                }

                if (i == 0 && !pp->poster_done
                    && pp->filtered->pts >= pp->poster_at
                    && media_poster(pp, pp->filtered) != 0)
                {
                    av_frame_unref(pp->filtered);
                    return -1;
                }

                /* a video shorter than poster_at: its last frame will do */
                if (i == 0 && !pp->poster_done) {
                    av_frame_unref(pp->last);
                    if (av_frame_ref(pp->last, pp->filtered) < 0) {
                        av_frame_unref(pp->filtered);
                        media_job_fail(pp->job, "out of memory");
                        return -1;
                    }
                }

                rc = media_encode(pp, o->venc, pp->filtered, o, 1, 1);
                av_frame_unref(pp->filtered);

                if (rc != 0) {
                    return -1;
                }
            }

            if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
                media_job_fail(pp->job, "video filter: %s", media_averr(rc));
                return -1;
            }
        }

        return media_thumb_drain(pp);
    }

    if (pp->shared_asink) {
        while ((rc = av_buffersink_get_frame(pp->shared_asink, pp->filtered))
               >= 0)
        {
            rc = media_encode(pp, pp->shared_aenc, pp->filtered, pp->out,
                              pp->n, 0);
            av_frame_unref(pp->filtered);
            if (rc != 0) {
                return -1;
            }
        }

        return (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) ? 0 : -1;
    }

    for (i = 0; i < pp->n; i++) {
        o = &pp->out[i];

        while ((rc = av_buffersink_get_frame(o->asink, pp->filtered)) >= 0) {
            if (media_aqueue_put(o, pp->filtered) != 0) {
                return -1;
            }
        }

        if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
            media_job_fail(pp->job, "audio filter: %s", media_averr(rc));
            return -1;
        }
    }

    return 0;
}


/* frame NULL flushes; packets go to every muxer in outs */
static int
media_encode(media_pipe_t *pp, AVCodecContext *enc, AVFrame *frame,
    media_out_t *outs, int nouts, int video)
{
    int        rc, i;
    AVPacket  *pkt, *copy;

    rc = avcodec_send_frame(enc, frame);
    if (rc < 0 && rc != AVERROR_EOF) {
        media_job_fail(pp->job, "encode: %s", media_averr(rc));
        return -1;
    }

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        media_job_fail(pp->job, "out of memory");
        return -1;
    }

    while ((rc = avcodec_receive_packet(enc, pkt)) == 0) {

        /*
         * libx264's packets carry no duration.  The HLS muxer adds the
         * first packet's duration to the last segment's length: without
         * it that segment is a frame short, and a one-frame video is a
         * segment of length 0 that no player (nor measure.c) accepts.
         */
        if (video && pkt->duration <= 0) {
            pkt->duration = av_rescale_q(1, av_inv_q(pp->p->frame_rate),
                                         enc->time_base);
        }

        for (i = 0; i < nouts; i++) {
            if (video && (pkt->flags & AV_PKT_FLAG_KEY)
                && outs[i].rung->sps[0] == 0)
            {
                media_sps(outs[i].rung, pkt);
            }

            copy = av_packet_clone(pkt);
            if (copy == NULL
                || media_write(pp, &outs[i], copy,
                               video ? outs[i].vst : outs[i].ast,
                               enc->time_base) != 0)
            {
                av_packet_free(&copy);
                av_packet_free(&pkt);
                return -1;
            }

            av_packet_free(&copy);
        }

        av_packet_unref(pkt);
    }

    av_packet_free(&pkt);

    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
        media_job_fail(pp->job, "encode: %s", media_averr(rc));
        return -1;
    }

    return 0;
}


static int
media_write(media_pipe_t *pp, media_out_t *o, AVPacket *pkt, int st,
    AVRational tb)
{
    int  rc;

    /* the first frame is presented from its DTS (media_audio_start) */
    if (st == o->vst && !o->presented && pkt->dts != AV_NOPTS_VALUE) {
        pkt->pts = pkt->dts;
        o->presented = 1;
    }

    pkt->stream_index = st;
    av_packet_rescale_ts(pkt, tb, o->oc->streams[st]->time_base);

    rc = av_interleaved_write_frame(o->oc, pkt);
    if (rc < 0) {
        media_job_fail(pp->job, "write %s: %s", o->rung->name,
                       media_averr(rc));
        return -1;
    }

    return 0;
}


/* profile, constraint flags and level from the SPS (NAL type 7) */
static void
media_sps(media_rung_t *r, const AVPacket *pkt)
{
    int             i;
    const uint8_t  *d = pkt->data;

    for (i = 0; i + 7 < pkt->size; i++) {
        if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1
            && (d[i + 3] & 0x1f) == 7)
        {
            r->sps[0] = d[i + 4];
            r->sps[1] = d[i + 5];
            r->sps[2] = d[i + 6];
            return;
        }
    }
}


/* a JPEG of the top rung's frame near the start (10%, at most 1 s in) */
static int
media_poster(media_pipe_t *pp, AVFrame *frame)
{
    int              rc;
    char             path[4096];
    FILE            *f;
    AVFrame         *copy;
    AVPacket        *pkt;
    const AVCodec   *codec;
    AVCodecContext  *c;

    pp->poster_done = 1;

    codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    c = codec ? avcodec_alloc_context3(codec) : NULL;
    copy = av_frame_clone(frame);
    pkt = av_packet_alloc();

    rc = -1;

    if (c == NULL || copy == NULL || pkt == NULL) {
        media_job_fail(pp->job, "poster: out of memory");
        goto done;
    }

    c->width = frame->width;
    c->height = frame->height;
    c->pix_fmt = AV_PIX_FMT_YUVJ420P;
    c->time_base = (AVRational) { 1, 25 };
    copy->format = AV_PIX_FMT_YUVJ420P;
    copy->pict_type = AV_PICTURE_TYPE_NONE;

    if (avcodec_open2(c, codec, NULL) < 0
        || avcodec_send_frame(c, copy) < 0
        || avcodec_receive_packet(c, pkt) < 0)
    {
        media_job_fail(pp->job, "poster: JPEG encoding failed");
        goto done;
    }

    f = media_path(path, sizeof(path), "%s/poster.jpg", pp->dir) == 0
        ? fopen(path, "wb") : NULL;
    if (f == NULL || fwrite(pkt->data, 1, pkt->size, f) != (size_t) pkt->size
        || fclose(f) != 0)
    {
        media_job_fail(pp->job, "poster: write %s", path);
        goto done;
    }

    rc = 0;

done:

    av_packet_free(&pkt);
    av_frame_free(&copy);
    avcodec_free_context(&c);
    return rc;
}


/*
 * The cover: the one its owner uploaded (covers/<media id>, kept apart
 * from the renditions so that a new transcode finds it), else, for an
 * audio file, its attached picture.  A picture that cannot be decoded
 * costs the file its cover, not its sound.
 */
static int
media_cover(media_pipe_t *pp)
{
    char        path[4096];
    AVStream   *st;
    media_job_t  *job;

    job = pp->job;

    if (job->media_id[0]
        && media_path(path, sizeof(path), "%s/" MEDIA_DIR_COVERS "/%s",
                      job->settings->storage, job->media_id) == 0
        && access(path, R_OK) == 0)
    {
        if (media_cover_file(job, path, pp->dir) == 0) {
            pp->cover_done = 1;
            return 0;
        }

        media_log_error("job %s: the uploaded cover: %s", job->id,
                        job->error);
        goto skip;
    }

    if (pp->p->cover < 0 || pp->p->video >= 0) {
        return 0;
    }

    st = pp->p->ic->streams[pp->p->cover];

    if (st->attached_pic.size <= 0) {
        return 0;
    }

    if (media_cover_packet(job, st->codecpar->codec_id, &st->attached_pic,
                           pp->dir)
        == 0)
    {
        pp->cover_done = 1;
        return 0;
    }

    media_log_error("job %s: the attached picture: %s", job->id, job->error);

skip:

    job->error[0] = '\0';
    job->reason[0] = '\0';
    job->permanent = 0;

    return 0;
}


/* the thumbnail branch's frames (a few: one per interval) into the strip */
static int
media_thumb_drain(media_pipe_t *pp)
{
    int         rc;
    int64_t     at;
    AVRational  tb;

    if (pp->thumb_sink == NULL) {
        return 0;
    }

    tb = av_buffersink_get_time_base(pp->thumb_sink);

    while ((rc = av_buffersink_get_frame(pp->thumb_sink, pp->filtered)) >= 0)
    {
        if (pp->thumb_start == AV_NOPTS_VALUE) {
            pp->thumb_start = pp->filtered->pts;
        }

        at = av_rescale_q(pp->filtered->pts - pp->thumb_start, tb,
                          (AVRational) { 1, 1000 });

        rc = media_thumbs_add(pp->job, &pp->thumbs, pp->filtered, at);
        av_frame_unref(pp->filtered);

        if (rc != 0) {
            return -1;
        }
    }

    if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF) {
        media_job_fail(pp->job, "thumbnail filter: %s", media_averr(rc));
        return -1;
    }

    return 0;
}


/* flush decoders, filters and encoders; close the playlists */
/* --- audio rungs' encoder threads --------------------------------------- */

static int
media_aqueue_start(media_pipe_t *pp, media_out_t *o)
{
    int              rc;
    media_aqueue_t  *q = &o->aq;

    if (pthread_mutex_init(&q->lock, NULL) != 0) {
        media_job_fail(pp->job, "encoder thread: mutex");
        return -1;
    }

    if (pthread_cond_init(&q->cond, NULL) != 0) {
        pthread_mutex_destroy(&q->lock);
        media_job_fail(pp->job, "encoder thread: condition");
        return -1;
    }

    rc = pthread_create(&q->tid, NULL, media_aqueue_run, o);
    if (rc != 0) {
        pthread_cond_destroy(&q->cond);
        pthread_mutex_destroy(&q->lock);
        media_job_fail(pp->job, "encoder thread: %s", strerror(rc));
        return -1;
    }

    q->started = 1;
    return 0;
}


/* frame's reference moves to the queue; waits while the queue is full */
static int
media_aqueue_put(media_out_t *o, AVFrame *frame)
{
    AVFrame         *f;
    media_aqueue_t  *q = &o->aq;

    f = av_frame_alloc();
    if (f == NULL) {
        av_frame_unref(frame);
        media_job_fail(o->pp->job, "out of memory");
        return -1;
    }

    av_frame_move_ref(f, frame);

    pthread_mutex_lock(&q->lock);

    while (q->count == MEDIA_AQUEUE && !q->done) {
        q->want_room = 1;
        pthread_cond_wait(&q->cond, &q->lock);
    }

    if (q->done) {             /* it failed: its reason is the job's */
        pthread_mutex_unlock(&q->lock);
        av_frame_free(&f);
        return -1;
    }

    q->q[(q->head + q->count) % MEDIA_AQUEUE] = f;

    if (++q->count >= MEDIA_AQUEUE_BATCH && q->want_frames) {
        q->want_frames = 0;
        pthread_cond_broadcast(&q->cond);
    }

    pthread_mutex_unlock(&q->lock);

    return 0;
}


/*
 * The end of the frames: the thread flushes the encoder and leaves (stop:
 * it leaves at once, what is queued dropped).  Joins it; -1 if it failed.
 */
static int
media_aqueue_end(media_out_t *o, int stop)
{
    media_aqueue_t  *q = &o->aq;

    if (!q->started) {
        return 0;
    }

    pthread_mutex_lock(&q->lock);
    q->eof = 1;
    q->stop = stop;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);

    pthread_join(q->tid, NULL);
    q->started = 0;

    while (q->count > 0) {
        av_frame_free(&q->q[q->head]);
        q->head = (q->head + 1) % MEDIA_AQUEUE;
        q->count--;
    }

    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);

    return q->failed ? -1 : 0;
}


static void *
media_aqueue_run(void *data)
{
    int              rc;
    AVFrame         *f;
    media_out_t     *o = data;
    media_aqueue_t  *q = &o->aq;

    for ( ;; ) {
        pthread_mutex_lock(&q->lock);

        while (q->count == 0 && !q->eof) {
            q->want_frames = 1;
            pthread_cond_wait(&q->cond, &q->lock);
        }

        if (q->stop || q->count == 0) {
            pthread_mutex_unlock(&q->lock);
            break;
        }

        f = q->q[q->head];
        q->head = (q->head + 1) % MEDIA_AQUEUE;

        if (--q->count <= MEDIA_AQUEUE - MEDIA_AQUEUE_BATCH && q->want_room) {
            q->want_room = 0;
            pthread_cond_broadcast(&q->cond);
        }

        pthread_mutex_unlock(&q->lock);

        rc = media_encode(o->pp, o->aenc, f, o, 1, 0);
        av_frame_free(&f);

        if (rc != 0) {
            goto failed;
        }
    }

    if (!q->stop && media_encode(o->pp, o->aenc, NULL, o, 1, 0) != 0) {
        goto failed;
    }

    pthread_mutex_lock(&q->lock);
    q->done = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);

    return NULL;

failed:

    pthread_mutex_lock(&q->lock);
    q->failed = 1;
    q->done = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);

    return NULL;
}


static int
media_finish(media_pipe_t *pp)
{
    int  i, rc;

    if (pp->vdec && (media_decode(pp, pp->vdec, pp->vsrc, NULL) != 0
                     || av_buffersrc_add_frame(pp->vsrc, NULL) < 0
                     || media_drain(pp, 1) != 0))
    {
        return -1;
    }

    if (pp->vdec && !pp->poster_done && pp->last->buf[0]
        && media_poster(pp, pp->last) != 0)
    {
        return -1;
    }

    if (pp->adec && (media_decode(pp, pp->adec, pp->asrc, NULL) != 0
                     || av_buffersrc_add_frame(pp->asrc, NULL) < 0
                     || media_drain(pp, 0) != 0))
    {
        return -1;
    }

    for (i = 0; i < pp->n; i++) {
        if (pp->out[i].venc
            && media_encode(pp, pp->out[i].venc, NULL, &pp->out[i], 1, 1)
               != 0)
        {
            return -1;
        }

        /* the rung's thread flushes its encoder and leaves */
        if (pp->out[i].aenc && media_aqueue_end(&pp->out[i], 0) != 0) {
            return -1;
        }
    }

    if (pp->shared_aenc
        && media_encode(pp, pp->shared_aenc, NULL, pp->out, pp->n, 0) != 0)
    {
        return -1;
    }

    for (i = 0; i < pp->n; i++) {
        pp->out[i].open = 0;
        rc = av_write_trailer(pp->out[i].oc);
        if (rc < 0) {
            media_job_fail(pp->job, "finish %s: %s", pp->out[i].rung->name,
                           media_averr(rc));
            return -1;
        }
    }

    return 0;
}


static void
media_pipe_free(media_pipe_t *pp)
{
    int  i;

    for (i = 0; i < pp->n; i++) {
        (void) media_aqueue_end(&pp->out[i], 1);
    }

    for (i = 0; i < pp->n; i++) {
        /*
         * An abandoned muxer (a failure, SIGTERM) is closed all the same:
         * FFmpeg 5.1 frees the segment buffers of an HLS muxer only there.
         * What it writes lands in the work directory, which goes.
         */
        if (pp->out[i].open) {
            (void) av_write_trailer(pp->out[i].oc);
        }

        avcodec_free_context(&pp->out[i].venc);
        avcodec_free_context(&pp->out[i].aenc);
        avformat_free_context(pp->out[i].oc);
    }

    avcodec_free_context(&pp->shared_aenc);
    avfilter_graph_free(&pp->vgraph);
    avfilter_graph_free(&pp->agraph);
    avcodec_free_context(&pp->vdec);
    avcodec_free_context(&pp->adec);
    av_packet_free(&pp->pkt);
    av_frame_free(&pp->frame);
    av_frame_free(&pp->filtered);
    av_frame_free(&pp->last);
    media_thumbs_free(&pp->thumbs);
}


/* an FFmpeg error reading or decoding: the file's fault, said for users */
static void
media_input_refuse(media_pipe_t *pp, int err)
{
    if (err == AVERROR(ENOMEM)) {
        media_job_refuse(pp->job, MEDIA_MSG_MEMORY);

    } else if (media_av_input(err)) {
        media_job_refuse(pp->job, MEDIA_MSG_DAMAGED, pp->at_ms / 1000.0);
    }
}
