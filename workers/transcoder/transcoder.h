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


/* probe.c: opens and inspects; fills job->error and returns -1 if the
 * source is not usable media */
int media_probe(media_job_t *job, const char *path, media_probe_t *p);
void media_probe_close(media_probe_t *p);

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
