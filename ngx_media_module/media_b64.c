/*
 * base64url without padding (RFC 4648 section 5), and the decoding of
 * base64 (section 4) that tus' Upload-Metadata carries, by the same loop.
 */

#include "media_b64.h"


static const char  media_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
media_b64url_encode(unsigned char *dst, const unsigned char *src, size_t len)
{
    unsigned char  *d;

    d = dst;

    while (len > 2) {
        *d++ = media_b64url_alphabet[src[0] >> 2];
        *d++ = media_b64url_alphabet[((src[0] & 3) << 4) | (src[1] >> 4)];
        *d++ = media_b64url_alphabet[((src[1] & 0x0f) << 2) | (src[2] >> 6)];
        *d++ = media_b64url_alphabet[src[2] & 0x3f];
        src += 3;
        len -= 3;
    }

    if (len) {
        *d++ = media_b64url_alphabet[src[0] >> 2];

        if (len == 1) {
            *d++ = media_b64url_alphabet[(src[0] & 3) << 4];

        } else {
            *d++ = media_b64url_alphabet[((src[0] & 3) << 4) | (src[1] >> 4)];
            *d++ = media_b64url_alphabet[(src[1] & 0x0f) << 2];
        }
    }

    return d - dst;
}


/* c62 and c63: "-_" for base64url, "+/" for base64 */
static int
media_b64_value(unsigned char c, unsigned char c62, unsigned char c63)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == c62) {
        return 62;
    }
    if (c == c63) {
        return 63;
    }
    return -1;
}


static size_t
media_b64_decode_alphabet(unsigned char *dst, const unsigned char *src,
    size_t len, unsigned char c62, unsigned char c63)
{
    int             v[4];
    size_t          i, n;
    unsigned char  *d;

    if (len % 4 == 1) {
        return (size_t) -1;
    }

    d = dst;

    while (len) {
        n = len < 4 ? len : 4;

        for (i = 0; i < n; i++) {
            v[i] = media_b64_value(src[i], c62, c63);
            if (v[i] < 0) {
                return (size_t) -1;
            }
        }

        /*
         * A short last group leaves bits unused; an encoder writes them as
         * zero.  Refusing anything else keeps one text per byte string, so
         * a token cannot be altered without changing what it says.
         */
        if ((n == 2 && (v[1] & 0x0f)) || (n == 3 && (v[2] & 0x03))) {
            return (size_t) -1;
        }

        *d++ = (unsigned char) (v[0] << 2 | v[1] >> 4);

        if (n > 2) {
            *d++ = (unsigned char) (v[1] << 4 | v[2] >> 2);
        }

        if (n > 3) {
            *d++ = (unsigned char) (v[2] << 6 | v[3]);
        }

        src += n;
        len -= n;
    }

    return d - dst;
}


size_t
media_b64url_decode(unsigned char *dst, const unsigned char *src, size_t len)
{
    return media_b64_decode_alphabet(dst, src, len, '-', '_');
}


size_t
media_b64_decode(unsigned char *dst, const unsigned char *src, size_t len)
{
    size_t  pad;

    /* padded to a multiple of 4, with at most two '=' at the end */
    pad = 0;

    if (len % 4 == 0) {
        while (pad < 2 && len > pad && src[len - 1 - pad] == '=') {
            pad++;
        }
    }

    return media_b64_decode_alphabet(dst, src, len - pad, '+', '/');
}


int
media_hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}
