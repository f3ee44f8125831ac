/*
 * The exporter's parts: main (the job: the row, the files, the outcome)
 * and export (decode the source once, filter, encode into one file of the
 * asked format).  Probe and loudness are the transcoder's (workers/av).
 */

#ifndef _MEDIA_EXPORTER_H_INCLUDED_
#define _MEDIA_EXPORTER_H_INCLUDED_


#include "queue.h"
#include "av.h"
#include "media_export.h"


typedef struct {
    const media_export_format_t  *format;
    const media_export_codec_t   *codec;
    int                           video;        /* the picture goes in */
    int                           bitrate;      /* b/s; 0: lossless */
    int                           sample_rate;  /* Hz; 0: the source's */
    char                          afilters[1024];  /* each ends in ',' */
    char                          vfilters[256];
    int                           loudness;     /* the preset is asked */

    /* what was written */
    int                           out_rate;
    int                           out_channels;
    int64_t                       duration_ms;
} media_export_spec_t;


#define MEDIA_MSG_NO_SOUND                                                    \
    "the media holds no sound to export: choose a video format (mp4 or "     \
    "webm) without audio_only"


/*
 * export.c: the source (probed) into path, as spec says; loud, if not
 * NULL, is the loudness preset's gain.  job->error and -1 on failure.
 */
int media_export_encode(media_job_t *job, media_probe_t *p,
    media_export_spec_t *spec, const media_loudness_t *loud,
    const char *path);


#endif /* _MEDIA_EXPORTER_H_INCLUDED_ */
