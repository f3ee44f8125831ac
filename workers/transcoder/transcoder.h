/*
 * The transcoder's parts: probe (what the source holds), ladder (which
 * rungs, with which settings), pipeline (decode once, filter, encode every
 * rung, mux HLS), measure (what was published: bitrates from the real
 * segment sizes, RFC 6381 codecs).
 */

#ifndef _MEDIA_TRANSCODER_H_INCLUDED_
#define _MEDIA_TRANSCODER_H_INCLUDED_


#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "queue.h"


#define MEDIA_MAX_RUNGS      4
#define MEDIA_SEGMENT_SECS   6
#define MEDIA_GOP_SECS       2     /* keyframes on this grid, every rung */
#define MEDIA_MUX_MAX_DELAY  700000  /* us, the TS muxer's max_delay */


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
    char               name[16];       /* "720p", "a128" */
    int                width;          /* 0 for audio rungs */
    int                height;
    int64_t            video_rate;     /* b/s, the VBV maxrate */
    int64_t            audio_rate;
    int                audio_channels;

    /* measured after muxing */
    int64_t            peak;
    int64_t            average;
    char               codecs[64];
    unsigned char      sps[4];         /* profile, constraints, level */
} media_rung_t;


typedef struct {
    media_rung_t       rungs[MEDIA_MAX_RUNGS];
    int                n;
} media_ladder_t;


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

/* ladder.c: the rungs for this source, never upscaled */
void media_ladder(const media_probe_t *p, media_ladder_t *l);

/* pipeline.c: everything into dir/<rung>/, and dir/poster.jpg; loud is
 * the audio ladder's normalization (NULL for video) */
int media_pipeline(media_job_t *job, media_probe_t *p, media_ladder_t *l,
    const media_loudness_t *loud, const char *dir);

/* loudness.c: measures the source (after the filters pre, if any) and
 * writes dir/waveform.json if dir; media_normalize chooses the gain */
int media_loudness(media_job_t *job, media_probe_t *p, const char *path,
    const char *pre, const char *dir, media_loudness_t *out);
int media_normalize(media_job_t *job, media_probe_t *p, const char *path,
    const char *dir, media_loudness_t *out);
void media_loudness_filter(const media_loudness_t *l, char *buf,
    size_t size);

/* measure.c: what a rung published; rungs.txt for the nginx module */
int media_measure(media_job_t *job, media_rung_t *r, const char *dir);
int media_publish_rungs(media_job_t *job, media_probe_t *p, media_ladder_t *l,
    const char *dir);

/* a libav* error as text, for job errors */
const char *media_averr(int err);


#endif /* _MEDIA_TRANSCODER_H_INCLUDED_ */
