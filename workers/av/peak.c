/*
 * True peak, as ITU-R BS.1770-4 Annex 2 defines it: the signal at its own
 * rate, oversampled by the Annex's interpolator (48 taps, 4 phases of 12)
 * to at least 192 kHz (4 times under 96 kHz, twice under 192 kHz, not at
 * all from there), its largest magnitude; never less than the largest
 * sample.  Each channel is filtered in blocks of MEDIA_TP_BLOCK samples
 * after the MEDIA_TP_HIST before them, so that the compiler's vector unit
 * computes a block's outputs side by side.
 *
 * It replaces resampling to 48 kHz and then to 192 kHz with libswresample
 * (what FFmpeg's ebur128 filter does): a third of the time over a
 * 5-minute track, at the source's own rate (bench/transcode).
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "peak.h"


#define MEDIA_TP_TAPS   12
#define MEDIA_TP_HIST   (MEDIA_TP_TAPS - 1)


/* phase p interpolates p/4 of a sample period; 3 and 2 mirror 0 and 1 */
static const float  media_tp_taps[4][MEDIA_TP_TAPS] = {
    {  0.0017089843750f,  0.0109863281250f, -0.0196533203125f,
       0.0332031250000f, -0.0594482421875f,  0.1373291015625f,
       0.9721679687500f, -0.1022949218750f,  0.0476074218750f,
      -0.0266113281250f,  0.0148925781250f, -0.0083007812500f },
    { -0.0291748046875f,  0.0292968750000f, -0.0517578125000f,
       0.0891113281250f, -0.1665039062500f,  0.4650878906250f,
       0.7797851562500f, -0.2003173828125f,  0.1015625000000f,
      -0.0582275390625f,  0.0330810546875f, -0.0189208984375f },
    { -0.0189208984375f,  0.0330810546875f, -0.0582275390625f,
       0.1015625000000f, -0.2003173828125f,  0.7797851562500f,
       0.4650878906250f, -0.1665039062500f,  0.0891113281250f,
      -0.0517578125000f,  0.0292968750000f, -0.0291748046875f },
    { -0.0083007812500f,  0.0148925781250f, -0.0266113281250f,
       0.0476074218750f, -0.1022949218750f,  0.9721679687500f,
       0.1373291015625f, -0.0594482421875f,  0.0332031250000f,
      -0.0196533203125f,  0.0109863281250f,  0.0017089843750f },
};


static void media_tp_block(media_tp_t *tp, const float *x);


/* channel c's history and block */
#define media_tp_chan(tp, c)                                                  \
    ((tp)->buf + (size_t) (c) * (MEDIA_TP_HIST + MEDIA_TP_BLOCK))


int
media_tp_init(media_tp_t *tp, int channels, int rate)
{
    memset(tp, 0, sizeof(media_tp_t));

    tp->channels = channels;
    tp->step = rate < 96000 ? 1 : rate < 192000 ? 2 : 4;
    tp->buf = calloc((size_t) channels * (MEDIA_TP_HIST + MEDIA_TP_BLOCK),
                     sizeof(float));

    return tp->buf ? 0 : -1;
}


/* n samples of each channel: planes[0] interleaved, or a plane each */
void
media_tp_add(media_tp_t *tp, const float *const *planes, int planar, int n)
{
    int           c, i, k, take;
    float        *b;
    const float  *s;

    for (i = 0; i < n; i += take) {
        take = MEDIA_TP_BLOCK - tp->fill;
        if (take > n - i) {
            take = n - i;
        }

        for (c = 0; c < tp->channels; c++) {
            b = media_tp_chan(tp, c) + MEDIA_TP_HIST + tp->fill;

            if (planar) {
                memcpy(b, planes[c] + i, take * sizeof(float));
                continue;
            }

            s = planes[0] + (size_t) i * tp->channels + c;
            for (k = 0; k < take; k++) {
                b[k] = s[(size_t) k * tp->channels];
            }
        }

        tp->fill += take;

        if (tp->fill == MEDIA_TP_BLOCK) {
            for (c = 0; c < tp->channels; c++) {
                b = media_tp_chan(tp, c);
                media_tp_block(tp, b);
                memmove(b, b + MEDIA_TP_BLOCK, MEDIA_TP_HIST * sizeof(float));
            }
            tp->fill = 0;
        }
    }
}


/*
 * The end of the signal, silence after it (the points interpolated
 * between the last samples and the silence count); the true peak, linear
 */
double
media_tp_end(media_tp_t *tp)
{
    int     c, i, rest;
    float   peak, *b;

    rest = MEDIA_TP_BLOCK - tp->fill;

    for (c = 0; c < tp->channels; c++) {
        b = media_tp_chan(tp, c);
        memset(b + MEDIA_TP_HIST + tp->fill, 0, rest * sizeof(float));
        media_tp_block(tp, b);

        /* fewer zeros than a window after the last sample: one more block */
        if (rest < MEDIA_TP_HIST) {
            memmove(b, b + MEDIA_TP_BLOCK, MEDIA_TP_HIST * sizeof(float));
            memset(b + MEDIA_TP_HIST, 0, MEDIA_TP_BLOCK * sizeof(float));
            media_tp_block(tp, b);
        }
    }

    peak = 0;
    for (i = 0; i < MEDIA_TP_BLOCK; i++) {
        peak = tp->max[i] > peak ? tp->max[i] : peak;
    }

    media_tp_free(tp);

    return peak;
}


void
media_tp_free(media_tp_t *tp)
{
    free(tp->buf);
    tp->buf = NULL;
}


/*
 * x: MEDIA_TP_HIST samples, then MEDIA_TP_BLOCK; output n of a phase is
 * the window x[n] .. x[n + MEDIA_TP_HIST], whose newest sample is x[n +
 * MEDIA_TP_HIST].  Which end of the window a phase starts from does not
 * matter: a phase read backwards is another phase.
 */
static void
media_tp_block(media_tp_t *tp, const float *x)
{
    int    p, k, n;
    float  c, v, acc[MEDIA_TP_BLOCK], *m;

    m = tp->max;

    for (n = 0; n < MEDIA_TP_BLOCK; n++) {
        v = fabsf(x[n + MEDIA_TP_HIST]);
        m[n] = v > m[n] ? v : m[n];
    }

    if (tp->step == 4) {
        return;
    }

    for (p = 0; p < 4; p += tp->step) {
        for (n = 0; n < MEDIA_TP_BLOCK; n++) {
            acc[n] = 0;
        }

        for (k = 0; k < MEDIA_TP_TAPS; k++) {
            c = media_tp_taps[p][k];
            for (n = 0; n < MEDIA_TP_BLOCK; n++) {
                acc[n] += c * x[n + k];
            }
        }

        for (n = 0; n < MEDIA_TP_BLOCK; n++) {
            v = fabsf(acc[n]);
            m[n] = v > m[n] ? v : m[n];
        }
    }
}
