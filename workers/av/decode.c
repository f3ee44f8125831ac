/*
 * Decoders and filter graphs, as the transcoder's pipeline and the
 * exporter both set them up.
 */

#include <stdio.h>

#include <libavfilter/avfilter.h>

#include "av.h"


int
media_av_decoder(media_job_t *job, media_probe_t *p, int index,
    AVCodecContext **dec)
{
    int              rc;
    AVStream        *st;
    const char      *kind;
    const AVCodec   *codec;

    st = p->ic->streams[index];

    kind = st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO ? "picture"
                                                          : "sound";

    codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (codec == NULL) {
        media_job_fail(job, "no decoder for %s",
                       avcodec_get_name(st->codecpar->codec_id));
        media_job_refuse(job, MEDIA_MSG_CODEC, kind,
                         avcodec_get_name(st->codecpar->codec_id));
        return -1;
    }

    *dec = avcodec_alloc_context3(codec);
    if (*dec == NULL) {
        media_job_fail(job, "out of memory");
        return -1;
    }

    rc = avcodec_parameters_to_context(*dec, st->codecpar);
    if (rc < 0) {
        media_job_fail(job, "decoder parameters: %s", media_averr(rc));
        return -1;
    }

    (*dec)->pkt_timebase = st->time_base;
    (*dec)->thread_count = 0;
    (*dec)->max_pixels = job->settings->max_pixels;

    rc = avcodec_open2(*dec, codec, NULL);
    if (rc < 0) {
        media_job_fail(job, "open %s decoder: %s", codec->name,
                       media_averr(rc));
        if (media_av_input(rc)) {
            media_job_refuse(job, MEDIA_MSG_CODEC, kind, codec->name);
        }
        return -1;
    }

    /* a layout with no order (a plain 2-channel wav): the default one */
    if (codec->type == AVMEDIA_TYPE_AUDIO
        && (*dec)->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
    {
        int  channels = (*dec)->ch_layout.nb_channels;

        av_channel_layout_uninit(&(*dec)->ch_layout);
        av_channel_layout_default(&(*dec)->ch_layout, channels);
    }

    return 0;
}


/* the filters that show the picture as a player would, before the rest */
const char *
media_av_rotate(const media_probe_t *p)
{
    switch (p->rotation) {
    case 90:
        return "transpose=clock,";
    case 180:
        return "hflip,vflip,";
    case 270:
        return "transpose=cclock,";
    default:
        return "";
    }
}


/* a source, n sinks labelled o0.., and desc between them */
int
media_av_graph(media_job_t *job, AVFilterGraph **g, AVFilterContext **src,
    const char *src_name, const char *src_args, const char *sink_name,
    const char *desc, AVFilterContext **sinks, int n)
{
    int             rc, i;
    char            label[16];
    AVFilterInOut  *outputs, *inputs, *io;

    *g = avfilter_graph_alloc();
    if (*g == NULL) {
        media_job_fail(job, "out of memory");
        return -1;
    }

    /* filters run in this thread: the encoders have the threads */
    (*g)->nb_threads = 1;

    rc = avfilter_graph_create_filter(src, avfilter_get_by_name(src_name),
                                      "in", src_args, NULL, *g);
    if (rc < 0) {
        media_job_fail(job, "filter %s: %s", src_name, media_averr(rc));
        return -1;
    }

    outputs = avfilter_inout_alloc();
    inputs = NULL;

    if (outputs == NULL) {
        media_job_fail(job, "out of memory");
        return -1;
    }

    outputs->name = av_strdup("in");
    outputs->filter_ctx = *src;
    outputs->pad_idx = 0;
    outputs->next = NULL;

    for (i = n - 1; i >= 0; i--) {
        snprintf(label, sizeof(label), "o%d", i);

        rc = avfilter_graph_create_filter(&sinks[i],
                                          avfilter_get_by_name(sink_name),
                                          label, NULL, NULL, *g);
        io = avfilter_inout_alloc();

        if (rc < 0 || io == NULL) {
            avfilter_inout_free(&io);
            avfilter_inout_free(&inputs);
            avfilter_inout_free(&outputs);
            media_job_fail(job, "filter %s: %s", sink_name,
                           media_averr(rc));
            return -1;
        }

        io->name = av_strdup(label);
        io->filter_ctx = sinks[i];
        io->pad_idx = 0;
        io->next = inputs;
        inputs = io;
    }

    rc = avfilter_graph_parse_ptr(*g, desc, &inputs, &outputs, NULL);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);

    if (rc >= 0) {
        rc = avfilter_graph_config(*g, NULL);
    }

    if (rc < 0) {
        media_job_fail(job, "filter graph \"%s\": %s", desc,
                       media_averr(rc));
        return -1;
    }

    return 0;
}

