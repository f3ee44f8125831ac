/*
 * The true peak (workers/av/peak.c): the classic inter-sample peak, a
 * sine at a quarter of the rate whose samples all fall at 1/sqrt(2) of
 * its crest, read 3 dB over its samples at 44.1 and 96 kHz and as its
 * samples at 192 kHz; the same value however the signal is cut into
 * pieces, interleaved or planar; the end of the signal read as silence
 * after it; silence 0.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "peak.h"


#define N  10000


static float  isp[N];


/* the signal in pieces of piece samples (mono) */
static double
peak_of(const float *s, int n, int rate, int piece)
{
    int           i, k;
    media_tp_t    tp;
    const float  *planes[1];

    if (media_tp_init(&tp, 1, rate) != 0) {
        return -1;
    }

    for (i = 0; i < n; i += k) {
        k = n - i < piece ? n - i : piece;
        planes[0] = s + i;
        media_tp_add(&tp, planes, 1, k);
    }

    return media_tp_end(&tp);
}


static double
db(double v)
{
    return v > 0 ? 20 * log10(v) : -999;
}


int
main(void)
{
    int           i, ok_all;
    double        one, p;
    float        *st, *l, *r, *tail;
    media_tp_t    tp;
    const float  *planes[2];
    static const int  pieces[] = { 1, 7, 255, 256, 257, 1000, N };

    for (i = 0; i < N; i++) {
        isp[i] = (float) sin(M_PI / 2 * i + M_PI / 4);
    }

    one = peak_of(isp, N, 44100, N);
    ok(fabs(db(one)) < 0.3,
       "a quarter-rate sine, samples at -3.01 dB: %.2f dBTP at 44.1 kHz "
       "(its crest, 0)", db(one));

    p = peak_of(isp, N, 96000, N);
    ok(fabs(db(p)) < 0.3, "at 96 kHz (2 times): %.2f dBTP", db(p));

    p = peak_of(isp, N, 192000, N);
    ok(fabs(db(p) + 3.01) < 0.01,
       "at 192 kHz, the samples themselves: %.2f dBTP", db(p));

    ok_all = 1;
    for (i = 0; i < (int) (sizeof(pieces) / sizeof(pieces[0])); i++) {
        p = peak_of(isp, N, 44100, pieces[i]);
        if (p != one) {
            ok_all = 0;
            printf("# in pieces of %d: %.9f, whole %.9f\n", pieces[i], p, one);
        }
    }
    ok(ok_all, "the same value in pieces of 1, 7, 255, 256, 257, 1000");

    /* stereo: quiet left, the sine right; interleaved and planar agree */
    st = malloc(2 * N * sizeof(float));
    l = malloc(N * sizeof(float));
    r = malloc(N * sizeof(float));
    for (i = 0; i < N; i++) {
        l[i] = st[2 * i] = 0.1f * isp[i];
        r[i] = st[2 * i + 1] = isp[i];
    }

    media_tp_init(&tp, 2, 44100);
    planes[0] = st;
    media_tp_add(&tp, planes, 0, 100);
    planes[0] = st + 200;
    media_tp_add(&tp, planes, 0, N - 100);
    p = media_tp_end(&tp);
    ok(p == one, "interleaved stereo: the louder channel's peak (%.4f)", p);

    media_tp_init(&tp, 2, 44100);
    planes[0] = l;
    planes[1] = r;
    media_tp_add(&tp, planes, 1, N);
    p = media_tp_end(&tp);
    ok(p == one, "planar stereo: the same (%.4f)", p);

    /* the last samples, then nothing: as if silence followed; ends at
     * every place in a block */
    tail = calloc(N + 64, sizeof(float));
    for (i = 300; i < 300 + MEDIA_TP_BLOCK + 16; i++) {
        memset(tail, 0, (N + 64) * sizeof(float));
        tail[i - 3] = isp[0];
        tail[i - 2] = isp[1];
        tail[i - 1] = isp[2];
        p = peak_of(tail, i, 44100, 100);
        if (p != peak_of(tail, i + 64, 44100, 100) || p <= 0.75) {
            printf("# %d samples: %.9f, with silence after %.9f\n", i, p,
                   peak_of(tail, i + 64, 44100, 100));
            break;
        }
    }
    ok(i == 300 + MEDIA_TP_BLOCK + 16, "a signal's end reads as silence "
       "after it, wherever the end falls in a block");

    memset(tail, 0, (N + 64) * sizeof(float));
    ok(peak_of(tail, N, 48000, 256) == 0, "silence: 0");

    free(st);
    free(l);
    free(r);
    free(tail);

    return done_testing();
}
