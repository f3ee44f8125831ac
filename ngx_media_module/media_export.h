/*
 * Export formats and enhance presets: what each format may hold (codecs,
 * bitrates, sample rates) and what each preset does, in one table read by
 * the module (to check a request and list the presets) and by the exporter
 * (to encode).  No nginx types: the workers link it too.
 */

#ifndef _MEDIA_EXPORT_H_INCLUDED_
#define _MEDIA_EXPORT_H_INCLUDED_


#include <stddef.h>


/* an audio codec as a format holds it */
typedef struct {
    const char        *name;          /* the API's: "mp3", "vorbis", "aac" */
    const char        *encoder;       /* libavcodec's: "libmp3lame" */
    const int         *bitrates;      /* b/s, 0-ended; NULL: lossless */
    int                bitrate;       /* the default */
    const int         *sample_rates;  /* Hz, 0-ended */
} media_export_codec_t;


typedef struct {
    const char                  *name;      /* "mp3", ..., "webm" */
    const char                  *muxer;     /* libavformat's */
    const char                  *mime;
    const char                  *video;     /* the API's video codec, or
                                               NULL: an audio format */
    const char                  *video_encoder;
    const media_export_codec_t  *codecs[2]; /* the first is the default */
} media_export_format_t;


/* an enhance preset; filter NULL: done by the exporter (loudness) */
typedef struct {
    const char        *name;
    int                video;         /* 1: filters the picture */
    const char        *filter;        /* libavfilter's syntax */
    const char        *description;
} media_enhance_t;


#define MEDIA_EXPORT_FORMATS  7
#define MEDIA_ENHANCE_N       6


extern const media_export_format_t  media_export_formats[MEDIA_EXPORT_FORMATS];

/* in the order they are applied: loudness last, on what the others made */
extern const media_enhance_t        media_enhance_presets[MEDIA_ENHANCE_N];


/* NULL when there is no such format (or codec in it); codec NULL: the
 * format's default */
const media_export_format_t *media_export_format(const char *name,
    size_t len);
const media_export_codec_t *media_export_codec(
    const media_export_format_t *f, const char *name, size_t len);

/* the preset's index in media_enhance_presets, or -1 */
int media_enhance_find(const char *name, size_t len);

/* 1 when v is in the 0-ended list */
int media_export_allowed(const int *list, int v);

/* the list as "32000, 40000, ... or 320000", cut to fit; its length */
size_t media_export_list(const int *list, char *buf, size_t size);

/* "mp3, wav, ..." and "vorbis or opus": for messages */
size_t media_export_names(char *buf, size_t size);

/* the rate nearest the source's that the codec takes (the source's own
 * when it may), so a 44.1 kHz file stays at 44.1 kHz where it can */
int media_export_rate(const media_export_codec_t *c, int source);


#endif /* _MEDIA_EXPORT_H_INCLUDED_ */
