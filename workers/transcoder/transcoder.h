/*
 * The transcoder's parts: ladder (which rungs, with which settings),
 * pipeline (decode once, filter, encode every rung, mux HLS), measure
 * (what was published: bitrates from the real segment sizes, RFC 6381
 * codecs).  Probe and loudness are shared with the exporter (workers/av).
 */

#ifndef _MEDIA_TRANSCODER_H_INCLUDED_
#define _MEDIA_TRANSCODER_H_INCLUDED_


#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "queue.h"
#include "av.h"


#define MEDIA_MAX_RUNGS      4
#define MEDIA_SEGMENT_SECS   6
#define MEDIA_GOP_SECS       2     /* keyframes on this grid, every rung */
#define MEDIA_TAIL_MS        1000  /* an audio tail under this is folded */
#define MEDIA_MUX_MAX_DELAY  700000  /* us, the TS muxer's max_delay */


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
    unsigned           listed:1;       /* in rungs.txt and renditions */
} media_rung_t;


typedef struct {
    media_rung_t       rungs[MEDIA_MAX_RUNGS];
    int                n;
    int                pictures;       /* MEDIA_PIC_*: what came with them */

    /*
     * Progressive publishing (progressive.c), set by a queued job; the
     * by-hand transcode leaves final NULL and writes a VOD ladder.
     */
    const char        *final;          /* <storage>/hls/<media id> */
    const char        *dir;            /* final/g<N>: this generation */
    const media_probe_t  *probe;
    char               gen[16];        /* "g<N>" */
    int                listed;         /* bit i: rung i has its row */
    int64_t            checked_ms;     /* the source time last looked at */
    double             pace;           /* MEDIA_TEST_TRANSCODE_PACE */
    int64_t            hold_ms;        /* MEDIA_TEST_TRANSCODE_HOLD */
    const char        *hold_file;
    int64_t            hold_until_us;
    int64_t            started_us;
} media_ladder_t;


/* ladder.c: the rungs for this source, never upscaled */
void media_ladder(const media_probe_t *p, media_ladder_t *l);

/* pipeline.c: everything into dir/<rung>/, and dir/poster.jpg; loud is
 * the audio ladder's normalization (NULL for video) */
int media_pipeline(media_job_t *job, media_probe_t *p, media_ladder_t *l,
    const media_loudness_t *loud, const char *dir);

/* pictures.c: cover-512.jpg and cover-128.jpg, thumbs.jpg and thumbs.vtt */
#define MEDIA_THUMB_EVERY    5     /* s between thumbnails, at least */
#define MEDIA_THUMB_MAX      200   /* tiles in the sprite, at most */
#define MEDIA_THUMB_SIDE     160   /* a tile's long side */
#define MEDIA_THUMB_COLUMNS  10

#define MEDIA_MSG_COVER                                                       \
    "the cover picture cannot be read (it may be damaged): save it again "    \
    "as a JPEG or PNG and upload that"


typedef struct {
    AVFrame           *tiles[MEDIA_THUMB_MAX];
    int64_t            at_ms[MEDIA_THUMB_MAX];
    int                n;
    int                w;              /* a tile's size */
    int                h;
    int64_t            every_ms;
} media_thumbs_t;


int media_write_file(media_job_t *job, const char *dir, const char *name,
    const void *data, size_t size);
int media_jpeg(media_job_t *job, const AVFrame *frame, const char *dir,
    const char *name);
int media_cover_packet(media_job_t *job, enum AVCodecID id,
    const AVPacket *pkt, const char *dir);
int media_cover_file(media_job_t *job, const char *path, const char *dir);
int media_avatar_file(media_job_t *job, const char *path, const char *dir,
    const char *key);
void media_thumbs_init(media_thumbs_t *t, int width, int height,
    int64_t duration_ms);
int media_thumbs_add(media_job_t *job, media_thumbs_t *t, AVFrame *frame,
    int64_t at_ms);
int media_thumbs_finish(media_job_t *job, media_thumbs_t *t,
    int64_t duration_ms, const char *dir);
void media_thumbs_free(media_thumbs_t *t);

/* measure.c: what a rung published; rungs.txt for the nginx module */
int media_measure(media_job_t *job, media_rung_t *r, const char *dir);

/* a rung's renditions row as statement parameters 1 to 7 (after the media
 * id): name, width, height, frame rate (NULL for audio), peak, average,
 * codecs; the text is kept in t */
typedef struct {
    char               w[16], h[16], fps[32], peak[32], avg[32];
} media_rung_text_t;

void media_rung_params(const media_rung_t *r, const media_probe_t *p,
    media_rung_text_t *t, const char **params);
int media_publish_rungs(media_job_t *job, const media_probe_t *p,
    media_ladder_t *l, const char *dir, int done);

/* progressive.c: publishing while the pipeline runs */
#define MEDIA_LIST_SEGMENTS  2     /* a rung is listed with this many */
#define MEDIA_GEN_DONE       "done"  /* g<N>/done: every playlist ended */

int media_generation_open(media_job_t *job, media_ladder_t *l,
    const char *final, char *dir, size_t size);
int media_progressive_tick(media_job_t *job, media_ladder_t *l,
    int64_t at_ms);
int media_progressive_pace(media_ladder_t *l, int64_t at_ms);
int media_progressive_head(media_job_t *job, media_ladder_t *l);
int media_progressive_wait(media_job_t *job, media_ladder_t *l, int head,
    int *done, int64_t *at_ms, int *halt);
int media_progressive_list(media_job_t *job, media_ladder_t *l, int done);
int media_generation_close(media_job_t *job, media_ladder_t *l);
void media_generation_sweep(media_job_t *job, media_ladder_t *l);
int media_rmtree(const char *path);


#endif /* _MEDIA_TRANSCODER_H_INCLUDED_ */
