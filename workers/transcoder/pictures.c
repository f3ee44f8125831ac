/*
 * Pictures: cover art and the thumbnail strip.
 *
 * Cover art (an audio file's attached picture, or one its owner uploaded)
 * is decoded once, cropped to a centred square and made into
 * cover-512.jpg and cover-128.jpg: every cover has the same two shapes,
 * whatever the source was, so pages lay them out without measuring.
 * Avatars (uploaded by their user) go the same way, as <key>-256.jpg and
 * <key>-64.jpg.
 *
 * The thumbnail strip (video) is what players show when the pointer
 * hovers the seek bar: thumbs.jpg, a sprite of small frames, one every
 * MEDIA_THUMB_EVERY seconds (more apart for long videos, so that the
 * sprite stays one picture of at most MEDIA_THUMB_MAX tiles), and
 * thumbs.vtt, a WebVTT track whose cues name each tile as
 * "thumbs.jpg#xywh=x,y,w,h" (the media fragment players read).  Its URIs
 * are relative, so the playback token in the path carries over.
 *
 * Every file is written aside and renamed into place: a cover job writes
 * into a directory players are reading.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/imgutils.h>

#include "transcoder.h"


static int media_picture_packet(media_job_t *job, enum AVCodecID id,
    const AVPacket *pkt, const char *dir, const char *prefix,
    const int *sizes);
static int media_picture_file(media_job_t *job, const char *path,
    const char *dir, const char *prefix, const int *sizes);
static int media_cover_frame(media_job_t *job, AVFrame *frame,
    const char *dir, const char *prefix, const int *sizes);
static int media_tile_copy(AVFrame *dst, const AVFrame *src, int x, int y);
static void media_vtt_time(char *buf, size_t size, int64_t ms);


/* name into dir, through name.tmp and rename() */
int
media_write_file(media_job_t *job, const char *dir, const char *name,
    const void *data, size_t size)
{
    char   path[4096], tmp[4096];
    FILE  *f;

    if (media_path(path, sizeof(path), "%s/%s", dir, name) != 0
        || media_path(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) != 0)
    {
        media_job_fail(job, "pictures: path too long in %s", dir);
        return -1;
    }

    f = fopen(tmp, "wb");
    if (f == NULL) {
        media_job_fail(job, "pictures: open %s: %s", tmp, strerror(errno));
        return -1;
    }

    if (fwrite(data, 1, size, f) != size) {
        media_job_fail(job, "pictures: write %s: %s", tmp, strerror(errno));
        (void) fclose(f);
        (void) unlink(tmp);
        return -1;
    }

    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        media_job_fail(job, "pictures: write %s: %s", path, strerror(errno));
        (void) unlink(tmp);
        return -1;
    }

    return 0;
}


/* frame (any YUV 4:2:0) as dir/name, a JPEG of quality ~90 */
int
media_jpeg(media_job_t *job, const AVFrame *frame, const char *dir,
    const char *name)
{
    int              rc;
    AVFrame         *copy;
    AVPacket        *pkt;
    const AVCodec   *codec;
    AVCodecContext  *c;

    codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
    c = codec ? avcodec_alloc_context3(codec) : NULL;
    copy = av_frame_clone(frame);
    pkt = av_packet_alloc();

    rc = -1;

    if (c == NULL || copy == NULL || pkt == NULL) {
        media_job_fail(job, "%s: out of memory", name);
        goto done;
    }

    c->width = frame->width;
    c->height = frame->height;
    c->pix_fmt = AV_PIX_FMT_YUVJ420P;
    c->time_base = (AVRational) { 1, 25 };
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = FF_QP2LAMBDA * 3;

    /* the same planes: full range is what a JPEG means by them */
    copy->format = AV_PIX_FMT_YUVJ420P;
    copy->pict_type = AV_PICTURE_TYPE_NONE;
    copy->quality = c->global_quality;
    copy->pts = 0;

    if (avcodec_open2(c, codec, NULL) < 0
        || avcodec_send_frame(c, copy) < 0
        || avcodec_receive_packet(c, pkt) < 0)
    {
        media_job_fail(job, "%s: JPEG encoding failed", name);
        goto done;
    }

    rc = media_write_file(job, dir, name, pkt->data, pkt->size);

done:

    av_packet_free(&pkt);
    av_frame_free(&copy);
    avcodec_free_context(&c);
    return rc;
}


/*
 * The two cover sizes from one encoded picture (a JPEG or PNG packet, as
 * an attached picture holds it or as an upload came).  A picture the
 * decoder cannot read is the file's fault: refused, with what to do.
 */
int
media_cover_packet(media_job_t *job, enum AVCodecID id, const AVPacket *pkt,
    const char *dir)
{
    static const int  sizes[] = MEDIA_COVER_SIZES;

    return media_picture_packet(job, id, pkt, dir, "cover", sizes);
}


/* prefix-<size>.jpg for the two sizes */
static int
media_picture_packet(media_job_t *job, enum AVCodecID id,
    const AVPacket *pkt, const char *dir, const char *prefix,
    const int *sizes)
{
    int              rc;
    AVFrame         *frame;
    const AVCodec   *codec;
    AVCodecContext  *c;

    codec = avcodec_find_decoder(id);
    if (codec == NULL) {
        media_job_fail(job, "cover art: no decoder for %s",
                       avcodec_get_name(id));
        media_job_refuse(job, MEDIA_MSG_COVER);
        return -1;
    }

    c = avcodec_alloc_context3(codec);
    frame = av_frame_alloc();

    rc = -1;

    if (c == NULL || frame == NULL) {
        media_job_fail(job, "cover art: out of memory");
        goto done;
    }

    /* an upload is at most MEDIA_COVER_MAX_SIDE square, checked by nginx
     * from its header; the decoder holds it to that too */
    c->max_pixels = (int64_t) MEDIA_COVER_MAX_SIDE * MEDIA_COVER_MAX_SIDE;
    c->thread_count = 1;

    rc = avcodec_open2(c, codec, NULL);
    if (rc >= 0) {
        rc = avcodec_send_packet(c, pkt);
    }
    if (rc >= 0) {
        rc = avcodec_send_packet(c, NULL);
    }
    if (rc >= 0) {
        rc = avcodec_receive_frame(c, frame);
    }

    if (rc < 0) {
        media_job_fail(job, "cover art: decode: %s", media_averr(rc));
        media_job_refuse(job, MEDIA_MSG_COVER);
        rc = -1;
        goto done;
    }

    rc = media_cover_frame(job, frame, dir, prefix, sizes);

done:

    av_frame_free(&frame);
    avcodec_free_context(&c);
    return rc;
}


/* an uploaded picture, as the cover: read whole (nginx capped its size) */
int
media_cover_file(media_job_t *job, const char *path, const char *dir)
{
    static const int  sizes[] = MEDIA_COVER_SIZES;

    return media_picture_file(job, path, dir, "cover", sizes);
}


/* an uploaded avatar, as dir/<key>-256.jpg and dir/<key>-64.jpg */
int
media_avatar_file(media_job_t *job, const char *path, const char *dir,
    const char *key)
{
    static const int  sizes[] = MEDIA_AVATAR_SIZES;

    return media_picture_file(job, path, dir, key, sizes);
}


static int
media_picture_file(media_job_t *job, const char *path, const char *dir,
    const char *prefix, const int *sizes)
{
    int               rc;
    AVPacket         *pkt;
    AVFormatContext  *ic;

    ic = NULL;
    pkt = av_packet_alloc();

    if (pkt == NULL) {
        media_job_fail(job, "cover art: out of memory");
        return -1;
    }

    rc = avformat_open_input(&ic, path, NULL, NULL);
    if (rc >= 0) {
        rc = avformat_find_stream_info(ic, NULL);
    }
    if (rc >= 0) {
        rc = av_read_frame(ic, pkt);
    }

    if (rc < 0 || ic->nb_streams < 1
        || ic->streams[pkt->stream_index]->codecpar->codec_type
           != AVMEDIA_TYPE_VIDEO)
    {
        media_job_fail(job, "cover art: read %s: %s", path,
                       rc < 0 ? media_averr(rc) : "no picture");
        if (rc != AVERROR(ENOENT)) {
            media_job_refuse(job, MEDIA_MSG_COVER);
        }
        rc = -1;
        goto done;
    }

    rc = media_picture_packet(job, ic->streams[pkt->stream_index]
                                       ->codecpar->codec_id,
                              pkt, dir, prefix, sizes);

done:

    av_packet_free(&pkt);
    avformat_close_input(&ic);
    return rc;
}


/* [in] centred square, split in two, scaled: cover-512.jpg, cover-128.jpg
 * (prefix-<size>.jpg) */
static int
media_cover_frame(media_job_t *job, AVFrame *frame, const char *dir,
    const char *prefix, const int *sizes)
{
    int               i, rc;
    char              args[256], desc[512], name[64];
    AVFrame          *out;
    AVFilterGraph    *g;
    AVFilterContext  *src, *sinks[2];

    snprintf(args, sizeof(args),
             "video_size=%dx%d:pix_fmt=%d:time_base=1/25:pixel_aspect=1/1",
             frame->width, frame->height, frame->format);

    snprintf(desc, sizeof(desc),
             "[in]crop=w='min(iw,ih)':h='min(iw,ih)',split=2[a][b];"
             "[a]scale=%d:%d:flags=lanczos,format=yuvj420p[o0];"
             "[b]scale=%d:%d:flags=lanczos,format=yuvj420p[o1]",
             sizes[0], sizes[0], sizes[1], sizes[1]);

    g = NULL;
    out = av_frame_alloc();

    rc = -1;

    if (out == NULL) {
        media_job_fail(job, "cover art: out of memory");
        goto done;
    }

    if (media_av_graph(job, &g, &src, "buffer", args, "buffersink", desc,
                       sinks, 2)
        != 0)
    {
        goto done;
    }

    frame->pts = 0;

    if (av_buffersrc_add_frame_flags(src, frame, AV_BUFFERSRC_FLAG_KEEP_REF)
        < 0
        || av_buffersrc_add_frame(src, NULL) < 0)
    {
        media_job_fail(job, "cover art: filter input");
        goto done;
    }

    for (i = 0; i < 2; i++) {
        if (av_buffersink_get_frame(sinks[i], out) < 0) {
            media_job_fail(job, "cover art: filter output");
            goto done;
        }

        snprintf(name, sizeof(name), "%s-%d.jpg", prefix, sizes[i]);

        if (media_jpeg(job, out, dir, name) != 0) {
            goto done;
        }

        av_frame_unref(out);
    }

    rc = 0;

done:

    av_frame_free(&out);
    avfilter_graph_free(&g);
    return rc;
}


/* thumbnails -------------------------------------------------------------- */

/* the tile size (the long side MEDIA_THUMB_SIDE) and the interval */
void
media_thumbs_init(media_thumbs_t *t, int width, int height,
    int64_t duration_ms)
{
    int64_t  every;

    memset(t, 0, sizeof(media_thumbs_t));

    if (width >= height) {
        t->w = MEDIA_THUMB_SIDE;
        t->h = (int) ((int64_t) MEDIA_THUMB_SIDE * height / width) & ~1;
    } else {
        t->h = MEDIA_THUMB_SIDE;
        t->w = (int) ((int64_t) MEDIA_THUMB_SIDE * width / height) & ~1;
    }

    if (t->w < 2) {
        t->w = 2;
    }
    if (t->h < 2) {
        t->h = 2;
    }

    /* whole seconds, so cue times read well */
    every = MEDIA_THUMB_EVERY * 1000;
    while (duration_ms / every >= MEDIA_THUMB_MAX) {
        every += 1000;
    }

    t->every_ms = every;
}


/* a frame from the thumbnail branch (already one per interval, sized) */
int
media_thumbs_add(media_job_t *job, media_thumbs_t *t, AVFrame *frame,
    int64_t at_ms)
{
    if (t->n == MEDIA_THUMB_MAX) {
        return 0;                 /* a duration the headers understated */
    }

    t->tiles[t->n] = av_frame_clone(frame);
    if (t->tiles[t->n] == NULL) {
        media_job_fail(job, "thumbnails: out of memory");
        return -1;
    }

    t->at_ms[t->n++] = at_ms;

    return 0;
}


/* thumbs.jpg and thumbs.vtt into dir */
int
media_thumbs_finish(media_job_t *job, media_thumbs_t *t, int64_t duration_ms,
    const char *dir)
{
    int       i, cols, rows, rc;
    char     *vtt, *p, from[16], to[16];
    size_t    size;
    int64_t   end;
    AVFrame  *sprite;

    if (t->n == 0) {
        return 0;
    }

    cols = t->n < MEDIA_THUMB_COLUMNS ? t->n : MEDIA_THUMB_COLUMNS;
    rows = (t->n + cols - 1) / cols;

    sprite = av_frame_alloc();
    size = 32 + (size_t) t->n * 128;
    vtt = malloc(size);

    rc = -1;

    if (sprite == NULL || vtt == NULL) {
        media_job_fail(job, "thumbnails: out of memory");
        goto done;
    }

    sprite->format = AV_PIX_FMT_YUVJ420P;
    sprite->width = cols * t->w;
    sprite->height = rows * t->h;

    if (av_frame_get_buffer(sprite, 0) < 0) {
        media_job_fail(job, "thumbnails: out of memory");
        goto done;
    }

    /* black where a last row is short */
    memset(sprite->data[0], 16, (size_t) sprite->linesize[0] * sprite->height);
    memset(sprite->data[1], 128,
           (size_t) sprite->linesize[1] * (sprite->height / 2));
    memset(sprite->data[2], 128,
           (size_t) sprite->linesize[2] * (sprite->height / 2));

    p = vtt;
    p += sprintf(p, "WEBVTT\n");

    for (i = 0; i < t->n; i++) {
        if (media_tile_copy(sprite, t->tiles[i], (i % cols) * t->w,
                            (i / cols) * t->h)
            != 0)
        {
            media_job_fail(job, "thumbnails: a tile is not %dx%d", t->w,
                           t->h);
            goto done;
        }

        end = i + 1 < t->n ? t->at_ms[i + 1] : duration_ms;
        if (end <= t->at_ms[i]) {
            end = t->at_ms[i] + t->every_ms;
        }

        media_vtt_time(from, sizeof(from), i == 0 ? 0 : t->at_ms[i]);
        media_vtt_time(to, sizeof(to), end);

        p += sprintf(p, "\n%s --> %s\nthumbs.jpg#xywh=%d,%d,%d,%d\n", from,
                     to, (i % cols) * t->w, (i / cols) * t->h, t->w, t->h);
    }

    if (media_jpeg(job, sprite, dir, "thumbs.jpg") != 0
        || media_write_file(job, dir, "thumbs.vtt", vtt, p - vtt) != 0)
    {
        goto done;
    }

    rc = 0;

done:

    free(vtt);
    av_frame_free(&sprite);
    return rc;
}


void
media_thumbs_free(media_thumbs_t *t)
{
    int  i;

    for (i = 0; i < t->n; i++) {
        av_frame_free(&t->tiles[i]);
    }

    t->n = 0;
}


static int
media_tile_copy(AVFrame *dst, const AVFrame *src, int x, int y)
{
    int  plane, row, w, h, sx, sy;

    if (x + src->width > dst->width || y + src->height > dst->height
        || src->format != AV_PIX_FMT_YUVJ420P)
    {
        return -1;
    }

    for (plane = 0; plane < 3; plane++) {
        sx = plane ? x / 2 : x;
        sy = plane ? y / 2 : y;
        w = plane ? src->width / 2 : src->width;
        h = plane ? src->height / 2 : src->height;

        for (row = 0; row < h; row++) {
            memcpy(dst->data[plane] + (size_t) (sy + row)
                   * dst->linesize[plane] + sx,
                   src->data[plane] + (size_t) row * src->linesize[plane],
                   w);
        }
    }

    return 0;
}


/* WebVTT's hh:mm:ss.ttt */
static void
media_vtt_time(char *buf, size_t size, int64_t ms)
{
    snprintf(buf, size, "%02d:%02d:%02d.%03d", (int) (ms / 3600000),
             (int) (ms / 60000 % 60), (int) (ms / 1000 % 60),
             (int) (ms % 1000));
}
