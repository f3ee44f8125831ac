/*
 * The rungs.  Video: 1080p 5 Mb/s, 720p 2.5, 480p 1, 360p 0.5, by the
 * short side of the displayed picture, none above the source (a source
 * below 360p gets one rung at its own size).  Audio: AAC 64k mono, 128k
 * and 256k stereo.
 */

#include <stdio.h>

#include "transcoder.h"


static const struct {
    int      short_side;
    int64_t  rate;
} media_video_rungs[] = {
    { 1080, 5000000 }, { 720, 2500000 }, { 480, 1000000 }, { 360, 500000 },
};


static const struct {
    const char  *name;
    int64_t      rate;
    int          channels;
} media_audio_rungs[] = {
    { "a64", 64000, 1 }, { "a128", 128000, 2 }, { "a256", 256000, 2 },
};


/* even, as yuv420p needs */
static int
media_even(double v)
{
    int  n = (int) (v + 0.5);

    return n < 2 ? 2 : n & ~1;
}


void
media_ladder(const media_probe_t *p, media_ladder_t *l)
{
    int            i, side, src_short;
    double         scale;
    media_rung_t  *r;

    memset(l, 0, sizeof(media_ladder_t));

    if (p->video < 0) {
        for (i = 0; i < 3; i++) {
            r = &l->rungs[l->n++];
            snprintf(r->name, sizeof(r->name), "%s", media_audio_rungs[i].name);
            r->audio_rate = media_audio_rungs[i].rate;
            r->audio_channels = media_audio_rungs[i].channels;
        }
        return;
    }

    src_short = p->width < p->height ? p->width : p->height;

    for (i = 0; i < 4; i++) {
        side = media_video_rungs[i].short_side;

        if (side > src_short) {
            continue;                       /* never upscale */
        }

        r = &l->rungs[l->n++];
        scale = (double) side / src_short;
        r->width = media_even(p->width * scale);
        r->height = media_even(p->height * scale);
        r->video_rate = media_video_rungs[i].rate;
        r->audio_rate = p->audio >= 0 ? 128000 : 0;
        r->audio_channels = 2;
        snprintf(r->name, sizeof(r->name), "%dp", side);
    }

    if (l->n == 0) {
        r = &l->rungs[l->n++];
        r->width = media_even(p->width);
        r->height = media_even(p->height);
        r->video_rate = 400000;
        r->audio_rate = p->audio >= 0 ? 128000 : 0;
        r->audio_channels = 2;
        snprintf(r->name, sizeof(r->name), "%dp",
                 r->width < r->height ? r->width : r->height);
    }
}
