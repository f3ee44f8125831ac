/*
 * The HLS path parser: a whitelist of shapes, so that a path can only name
 * a file the playback token is meant to reach.  See media_hlspath.h.
 */

#include <string.h>

#include "media_hlspath.h"
#include "media_token.h"


static const char *media_hls_parse_id(const char *p, size_t len,
    media_hls_path_t *hp);
static const char *media_hls_parse_file(const char *p, size_t len,
    media_hls_path_t *hp);
static int media_hls_is(const char *p, size_t len, const char *name);
static int media_hls_digits(const char *p, size_t len, unsigned *value);


int
media_hls_path_parse(const char *p, size_t len, media_hls_path_t *hp)
{
    const char  *end, *slash;

    memset(hp, 0, sizeof(media_hls_path_t));

    end = p + len;

    /* <token>/ */
    slash = memchr(p, '/', len);
    if (slash == NULL || slash == p) {
        hp->error = "expected <token>/<media id>/<file>";
        return -1;
    }

    if ((size_t) (slash - p) > MEDIA_HLS_TOKEN_MAX) {
        hp->error = "the token is longer than any playback token";
        return -1;
    }

    hp->token = p;
    hp->token_len = slash - p;

    /* <media id>/ */
    p = slash + 1;
    slash = memchr(p, '/', end - p);
    if (slash == NULL) {
        hp->error = "expected <token>/<media id>/<file>";
        return -1;
    }

    hp->error = media_hls_parse_id(p, slash - p, hp);
    if (hp->error) {
        return -1;
    }

    /* the file, relative to the media's directory */
    p = slash + 1;

    hp->error = media_hls_parse_file(p, end - p, hp);
    if (hp->error) {
        return -1;
    }

    hp->file = p;
    hp->file_len = end - p;

    return 0;
}


/*
 * Playback URLs carry the id as the API and the transcoder write it (the
 * directory name), lowercase: an uppercase id would pass a byte-wise
 * token check and then name no directory.
 */
static const char *
media_hls_parse_id(const char *p, size_t len, media_hls_path_t *hp)
{
    size_t  i;

    if (len != 36) {
        return "the media id is not a UUID";
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return "the media id is not a UUID";
            }
            continue;
        }

        if (p[i] >= 'A' && p[i] <= 'F') {
            return "the media id must be lowercase, as in the playback URL";
        }

        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return "the media id is not a UUID";
        }
    }

    /* checked above: cannot fail */
    (void) media_uuid_parse(p, 36, hp->media);
    hp->id = p;

    return NULL;
}


static const char *
media_hls_parse_file(const char *p, size_t len, media_hls_path_t *hp)
{
    unsigned     n;
    const char  *slash, *name;
    size_t       name_len;

    if (len == 0) {
        return "expected a file after the media id";
    }

    if (len > MEDIA_HLS_FILE_MAX) {
        return "the file name is too long";
    }

    slash = memchr(p, '/', len);

    if (slash == NULL) {
        if (media_hls_is(p, len, "master.m3u8")) {
            hp->kind = MEDIA_HLS_MASTER;

        } else if (media_hls_is(p, len, "poster.jpg")
                   || media_hls_is(p, len, "poster.png"))
        {
            hp->kind = MEDIA_HLS_POSTER;

        } else if (media_hls_is(p, len, "waveform.json")) {
            hp->kind = MEDIA_HLS_WAVEFORM;

        } else if (media_hls_is(p, len, "cover-512.jpg")
                   || media_hls_is(p, len, "cover-128.jpg"))
        {
            hp->kind = MEDIA_HLS_COVER;

        } else if (media_hls_is(p, len, "thumbs.jpg")
                   || media_hls_is(p, len, "thumbs.vtt"))
        {
            hp->kind = MEDIA_HLS_THUMBS;

        } else {
            goto unknown;
        }

        return NULL;
    }

    /*
     * g<N>/: a transcode's generation (progressive publishing: each
     * attempt writes its own, the master names the current one); media
     * published before generations have their rungs at the top
     */
    if (slash - p >= 2 && p[0] == 'g' && p[1] != '0'
        && media_hls_digits(p + 1, slash - p - 1, &n) == 0)
    {
        hp->gen = p;
        hp->gen_len = slash - p;

        p = slash + 1;
        len -= hp->gen_len + 1;

        slash = memchr(p, '/', len);
        if (slash == NULL) {
            goto unknown;
        }
    }

    /* <rung>/<name> */
    if (media_hls_rung_parse(p, slash - p, &hp->rung_side) != 0) {
        goto unknown;
    }

    hp->rung = p;
    hp->rung_len = slash - p;

    name = slash + 1;
    name_len = p + len - name;

    if (media_hls_is(name, name_len, "index.m3u8")) {
        hp->kind = MEDIA_HLS_PLAYLIST;
        return NULL;
    }

    /* seg_<1 to 9 digits>.ts: the muxer's seg_%05d.ts, and room */
    if (name_len > sizeof("seg_.ts") - 1
        && memcmp(name, "seg_", 4) == 0
        && memcmp(name + name_len - 3, ".ts", 3) == 0
        && media_hls_digits(name + 4, name_len - (sizeof("seg_.ts") - 1), &n)
           == 0)
    {
        hp->kind = MEDIA_HLS_SEGMENT;
        return NULL;
    }

unknown:

    hp->gen = NULL;
    hp->gen_len = 0;
    hp->rung = NULL;
    hp->rung_len = 0;
    hp->rung_side = 0;

    return "not a playback file: expected master.m3u8, "
           "[g<N>/]<rung>/index.m3u8, [g<N>/]<rung>/seg_N.ts, poster.jpg, "
           "cover-512.jpg, cover-128.jpg, thumbs.jpg, thumbs.vtt or "
           "waveform.json";
}


/*
 * "<1-9999>p" (video, by short side) or "a<1-9999>" (audio, kbit/s), with
 * no leading zero: one spelling per rung, the transcoder's ("%dp").
 */
int
media_hls_rung_parse(const char *name, size_t len, unsigned *side)
{
    unsigned  n;

    if (len >= 2 && name[len - 1] == 'p' && name[0] != '0'
        && media_hls_digits(name, len - 1, &n) == 0
        && n <= MEDIA_HLS_RUNG_SIDE_MAX)
    {
        *side = n;
        return 0;
    }

    if (len >= 3 && name[0] == 'a' && name[1] != '0'
        && media_hls_digits(name + 1, len - 1, &n) == 0
        && n <= MEDIA_HLS_RUNG_SIDE_MAX)
    {
        *side = 0;                      /* audio: every plan */
        return 0;
    }

    return -1;
}


int
media_hls_rung_allowed(unsigned side, unsigned max)
{
    return max == 0 || side <= max;
}


int
media_hls_rung_known(unsigned side)
{
    size_t                 i;
    static const unsigned  rungs[] = MEDIA_HLS_VIDEO_RUNGS;

    for (i = 0; i < sizeof(rungs) / sizeof(rungs[0]); i++) {
        if (rungs[i] == side) {
            return 1;
        }
    }

    return 0;
}


void
media_hls_master_order(const media_hls_variant_t *v, size_t n,
    size_t *order)
{
    size_t    i, j, k, start;
    unsigned  x, best;

    if (n == 0) {
        return;
    }

    /* the start: the highest at or under the start point, else the lowest
     * (a rung is compared by side for video, by kbit/s for audio) */
    start = n;
    best = 0;

    for (i = 0; i < n; i++) {
        x = v[i].side ? v[i].side : v[i].kbps;

        if (x <= (v[i].side ? MEDIA_HLS_START_SIDE : MEDIA_HLS_START_KBPS)
            && (start == n || x > best))
        {
            start = i;
            best = x;
        }
    }

    if (start == n) {
        for (i = 0; i < n; i++) {
            x = v[i].side ? v[i].side : v[i].kbps;
            if (start == n || x < best) {
                start = i;
                best = x;
            }
        }
    }

    order[0] = start;
    k = 1;

    for (i = 0; i < n; i++) {
        if (i != start) {
            order[k++] = i;
        }
    }

    /* the rest by bandwidth, lowest first (an insertion sort: a handful) */
    for (i = 2; i < n; i++) {
        for (j = i; j > 1 && v[order[j - 1]].peak > v[order[j]].peak; j--) {
            k = order[j];
            order[j] = order[j - 1];
            order[j - 1] = k;
        }
    }
}


static int
media_hls_is(const char *p, size_t len, const char *name)
{
    return len == strlen(name) && memcmp(p, name, len) == 0;
}


/* 1 to 9 decimal digits (so the value fits), leading zeros allowed */
static int
media_hls_digits(const char *p, size_t len, unsigned *value)
{
    size_t    i;
    unsigned  n;

    if (len == 0 || len > 9) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        n = n * 10 + (p[i] - '0');
    }

    *value = n;

    return 0;
}
