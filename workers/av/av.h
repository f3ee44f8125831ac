/*
 * What the workers that read media with the FFmpeg libraries share (the
 * transcoder and the exporter): probe (what the source holds, within this
 * server's limits), loudness (EBU R128, the -14 LUFS normalization and the
 * waveform) and libav* errors as text.
 */

#ifndef _MEDIA_AV_H_INCLUDED_
#define _MEDIA_AV_H_INCLUDED_


#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>

#include "peak.h"
#include "queue.h"


typedef struct {
    AVFormatContext   *ic;
    int                video;          /* stream index, -1: none */
    int                audio;
    int                cover;          /* attached picture, -1: none */
    int                width;          /* as displayed (rotation applied) */
    int                height;
    int                rotation;       /* 0, 90, 180, 270 */
    AVRational         frame_rate;
    int64_t            duration_ms;
    const char        *kind;           /* "video" or "audio" */
} media_probe_t;


typedef struct {
    double             integrated;     /* LUFS, of the source */
    double             true_peak;      /* dBTP */
    double             gain;           /* dB to the target */
    int                linear;         /* a plain gain will do */
} media_loudness_t;


/*
 * What users read when their file is at fault (media_job_refuse): what is
 * wrong and what to do.  The library's own words go to the detail.
 */
#define MEDIA_MSG_UNREADABLE                                                  \
    "the file is not a media file we can read (it may be damaged or "         \
    "truncated): upload it again, or export it as MP4 (H.264 and AAC) or "   \
    "MP3 and upload that"
#define MEDIA_MSG_NO_STREAMS                                                  \
    "the file holds neither sound nor picture: upload a video or an audio "  \
    "file"
#define MEDIA_MSG_CODEC                                                       \
    "the file's %s is in a format we cannot decode (%s): export it as MP4 "  \
    "(H.264 and AAC) or MP3 and upload that"
#define MEDIA_MSG_DAMAGED                                                     \
    "the file is damaged %.1f seconds in and cannot be read past that "       \
    "point: export it again from the original and upload that"
#define MEDIA_MSG_NOTHING                                                     \
    "the file holds no %s we could decode (it may be damaged): export it "   \
    "again as MP4 (H.264 and AAC) or MP3 and upload that"
#define MEDIA_MSG_PIXELS                                                      \
    "the video is %dx%d pixels, more than the %s this server accepts: "      \
    "scale it down and upload it again"
#define MEDIA_MSG_MEMORY                                                      \
    "the file needs more memory to decode than this server allows (it may "  \
    "be damaged, or very large): export it at a lower resolution and "       \
    "upload it again"
#define MEDIA_MSG_DURATION                                                    \
    "the file lasts %s; this server accepts at most %s: cut it into "        \
    "shorter parts and upload them"


/* probe.c: opens and inspects; fills job->error and returns -1 if the
 * source is not usable media */
int media_probe(media_job_t *job, const char *path, media_probe_t *p);
void media_probe_close(media_probe_t *p);

/* 1 when an FFmpeg error reading or decoding the source means the file is
 * at fault (retrying cannot help), 0 when it may be ours (disk, a stop) */
int media_av_input(int err);

/* "6h", "1h 02m 03s", "4m 05s", "42s" */
void media_duration_text(int64_t ms, char *buf, size_t size);

/* loudness.c: measures the source (after the filters pre, if any) and
 * writes dir/waveform.json if dir; media_normalize chooses the gain that
 * brings the source, after pre, to -14 LUFS */
int media_loudness(media_job_t *job, media_probe_t *p, const char *path,
    const char *pre, const char *dir, media_loudness_t *out);
int media_normalize(media_job_t *job, media_probe_t *p, const char *path,
    const char *pre, const char *dir, media_loudness_t *out);
void media_loudness_filter(const media_loudness_t *l, char *buf,
    size_t size);

/* decode.c: the stream's decoder, opened (threads, media_max_pixels);
 * job->error (and the refusal, for a codec we lack) and -1 on failure */
int media_av_decoder(media_job_t *job, media_probe_t *p, int index,
    AVCodecContext **dec);

/* "transpose=clock," and the like for the source's rotation, or "" */
const char *media_av_rotate(const media_probe_t *p);

/* a graph from a source filter (src_name, src_args) through desc to n
 * sinks labelled o0, o1, ... (desc names its input [in]) */
int media_av_graph(media_job_t *job, AVFilterGraph **g,
    AVFilterContext **src, const char *src_name, const char *src_args,
    const char *sink_name, const char *desc, AVFilterContext **sinks, int n);

/* a libav* error as text, for job errors */
const char *media_averr(int err);


#endif /* _MEDIA_AV_H_INCLUDED_ */
