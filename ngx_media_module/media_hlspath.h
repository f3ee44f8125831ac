/*
 * nginx-free parser for the path of a signed HLS request, after the
 * media_hls location's prefix:
 *
 *   <token>/<media id>/master.m3u8          generated from rungs.txt
 *   <token>/<media id>/<rung>/index.m3u8    a rung's playlist
 *   <token>/<media id>/<rung>/seg_N.ts      a rung's segment
 *   <token>/<media id>/g<N>/<rung>/...      the same, in a transcode's
 *                                           generation N (1 to 9 digits,
 *                                           no leading zero)
 *   <token>/<media id>/poster.jpg           a video's poster
 *   <token>/<media id>/cover-512.jpg        cover art, and cover-128.jpg
 *   <token>/<media id>/thumbs.vtt           the thumbnail strip's track,
 *   <token>/<media id>/thumbs.jpg           and its sprite
 *   <token>/<media id>/waveform.json
 *   (poster.png: the PNG cover art earlier transcoders kept)
 *
 * Nothing else is a playback file: rungs.txt, directories, dotfiles and
 * the transcoder's work directories (.<id>.<pid>) are refused here, before
 * any file is looked at.  The media id is a lowercase UUID, as playback
 * URLs are issued; a rung is "<short side>p" (video) or "a<kbit/s>"
 * (audio).
 */

#ifndef _MEDIA_HLSPATH_H_INCLUDED_
#define _MEDIA_HLSPATH_H_INCLUDED_


#include <stddef.h>


#define MEDIA_HLS_TOKEN_MAX      128    /* bytes; a token is 79 */
#define MEDIA_HLS_FILE_MAX       64     /* bytes after "<id>/" */
#define MEDIA_HLS_RUNG_SIDE_MAX  9999   /* "9999p" */

/* the video rungs the transcoder makes, highest first (short sides) */
#define MEDIA_HLS_VIDEO_RUNGS    { 1080, 720, 480, 360 }
#define MEDIA_HLS_VIDEO_RUNGS_TEXT  "1080, 720, 480 or 360"


typedef enum {
    MEDIA_HLS_MASTER = 1,
    MEDIA_HLS_PLAYLIST,
    MEDIA_HLS_SEGMENT,
    MEDIA_HLS_POSTER,
    MEDIA_HLS_WAVEFORM,
    MEDIA_HLS_COVER,
    MEDIA_HLS_THUMBS
} media_hls_kind_e;

/* a picture (or the waveform): what a pictures-only token opens */
#define media_hls_is_picture(kind)  ((kind) >= MEDIA_HLS_POSTER)


typedef struct {
    media_hls_kind_e    kind;
    const char         *token;        /* into the parsed buffer */
    size_t              token_len;
    const char         *id;           /* 36 bytes, lowercase */
    unsigned char       media[16];    /* the id's bytes */
    const char         *file;         /* after "<id>/", relative to the */
    size_t              file_len;     /* media's directory */
    const char         *gen;          /* "g<N>" before the rung, or NULL */
    size_t              gen_len;
    const char         *rung;         /* PLAYLIST, SEGMENT; else NULL */
    size_t              rung_len;
    unsigned            rung_side;    /* video: short side; audio: 0 */
    const char         *error;        /* why it was refused, for users */
} media_hls_path_t;


/* 0 and hp filled, or -1 and hp->error saying why */
int media_hls_path_parse(const char *p, size_t len, media_hls_path_t *hp);

/* "720p" -> 720, "a128" -> 0; -1 if not a rung name */
int media_hls_rung_parse(const char *name, size_t len, unsigned *side);

/* may a token whose highest rung is max (0: all) play this rung? */
int media_hls_rung_allowed(unsigned side, unsigned max);

/* is side one of MEDIA_HLS_VIDEO_RUNGS? */
int media_hls_rung_known(unsigned side);


/*
 * The order of a master playlist's variants.  Players start on the first
 * listed, so the first is chosen: the video rung nearest MEDIA_HLS_START_
 * SIDE from below (the film platform's 480p), or the audio rung nearest
 * MEDIA_HLS_START_KBPS from below (128 kbit/s), else the lowest; the others
 * follow from the lowest bandwidth up.  Video and audio masters alike.
 */
#define MEDIA_HLS_START_SIDE  480
#define MEDIA_HLS_START_KBPS  128

typedef struct {
    unsigned    side;       /* video: short side; audio: 0 */
    unsigned    kbps;       /* audio: from "a<kbit/s>"; video: 0 */
    long        peak;       /* BANDWIDTH, bit/s */
} media_hls_variant_t;

/* order[0..n-1]: the indexes of v in the order to list them */
void media_hls_master_order(const media_hls_variant_t *v, size_t n,
    size_t *order);


#endif /* _MEDIA_HLSPATH_H_INCLUDED_ */
