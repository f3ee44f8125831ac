/*
 * The true peak (ITU-R BS.1770-4 Annex 2) of float audio at its own rate,
 * fed in pieces of any length: peak.c.  No FFmpeg type, so that the unit
 * test (t/unit/peak.c) builds without it.
 */

#ifndef _MEDIA_PEAK_H_INCLUDED_
#define _MEDIA_PEAK_H_INCLUDED_


#define MEDIA_TP_BLOCK  256


typedef struct {
    int                channels;
    int                step;           /* phases: 1 of 4, 2 of 4, or none */
    int                fill;           /* samples in each channel's block */
    float             *buf;
    float              max[MEDIA_TP_BLOCK];
} media_tp_t;


/* -1: out of memory */
int media_tp_init(media_tp_t *tp, int channels, int rate);

/* n samples of each channel: planes[0] interleaved, or a plane each */
void media_tp_add(media_tp_t *tp, const float *const *planes, int planar,
    int n);

/* the end of the signal (silence after it): the true peak, linear; frees */
double media_tp_end(media_tp_t *tp);
void media_tp_free(media_tp_t *tp);


#endif /* _MEDIA_PEAK_H_INCLUDED_ */
