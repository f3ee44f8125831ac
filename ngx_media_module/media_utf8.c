/*
 * UTF-8 checks and cuts; see media_utf8.h.
 */

#include "media_utf8.h"


static size_t media_utf8_one(const unsigned char *p, size_t len);


/*
 * The length of the well-formed character at p (1 to 4), or 0 when p does
 * not begin one (RFC 3629 section 4, the table of well-formed sequences).
 */
static size_t
media_utf8_one(const unsigned char *p, size_t len)
{
    size_t         n, i;
    unsigned char  lo, hi;

    if (p[0] < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 2;

    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 3;
        if (p[0] == 0xe0) {
            lo = 0xa0;              /* overlong */
        } else if (p[0] == 0xed) {
            hi = 0x9f;              /* surrogates */
        }

    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 4;
        if (p[0] == 0xf0) {
            lo = 0x90;              /* overlong */
        } else if (p[0] == 0xf4) {
            hi = 0x8f;              /* above U+10FFFF */
        }

    } else {
        return 0;
    }

    if (len < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


int
media_utf8_valid(const unsigned char *p, size_t len)
{
    size_t  n;

    while (len) {
        n = media_utf8_one(p, len);

        if (n == 0 || (n == 1 && (p[0] < 0x20 || p[0] == 0x7f))) {
            return 0;
        }

        p += n;
        len -= n;
    }

    return 1;
}


size_t
media_utf8_chars(const unsigned char *p, size_t len)
{
    size_t  chars;

    for (chars = 0; len; len--, p++) {
        if ((*p & 0xc0) != 0x80) {
            chars++;
        }
    }

    return chars;
}


size_t
media_utf8_prefix(const unsigned char *p, size_t len, size_t max)
{
    size_t  i, chars;

    for (i = 0, chars = 0; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80 && chars++ == max) {
            break;
        }
    }

    return i;
}


size_t
media_utf8_safe(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t  i, n, out;

    for (i = 0, out = 0; i < len; i += n) {
        n = media_utf8_one(src + i, len - i);

        if (n == 0 || (n == 1 && (src[i] < 0x20 || src[i] == 0x7f))) {
            dst[out++] = '_';
            n = 1;
            continue;
        }

        while (n--) {
            dst[out++] = src[i++];
        }

        n = 0;
    }

    return out;
}
