/*
 * nginx-free text for the public pages: HTML escaping, the oEmbed url
 * parameter and handles (media_html.h).
 */

#include <string.h>
#include <strings.h>

#include "media_html.h"


size_t
media_html_escape(char *dst, const char *src, size_t len)
{
    size_t       i, n, k;
    const char  *e;

    n = 0;

    for (i = 0; i < len; i++) {

        switch (src[i]) {
        case '&':  e = "&amp;";  break;
        case '<':  e = "&lt;";   break;
        case '>':  e = "&gt;";   break;
        case '"':  e = "&quot;"; break;
        case '\'': e = "&#39;";  break;
        default:   e = NULL;     break;
        }

        if (e == NULL) {
            if (dst) {
                dst[n] = src[i];
            }
            n++;
            continue;
        }

        k = strlen(e);

        if (dst) {
            memcpy(dst + n, e, k);
        }

        n += k;
    }

    return n;
}


static int
media_html_hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
           || (c >= 'A' && c <= 'F');
}


int
media_oembed_url(const char *url, size_t len, const char *host, size_t hlen,
    char id[37])
{
    size_t       i, n, plen;
    const char  *p, *end, *h;

    p = url;
    end = url + len;

    if (len > 7 && strncasecmp(p, "http://", 7) == 0) {
        p += 7;

    } else if (len > 8 && strncasecmp(p, "https://", 8) == 0) {
        p += 8;

    } else {
        return MEDIA_OEMBED_BAD;
    }

    /* the authority ends at the path; a URL without a path is no page */
    h = p;
    while (p < end && *p != '/' && *p != '?' && *p != '#') {
        if ((unsigned char) *p <= ' ' || *p == '@' || *p == '\\') {
            return MEDIA_OEMBED_BAD;
        }
        p++;
    }

    if (p == h) {
        return MEDIA_OEMBED_BAD;
    }

    if ((size_t) (p - h) != hlen || strncasecmp(h, host, hlen) != 0) {
        return MEDIA_OEMBED_FOREIGN;
    }

    if (p < end && *p != '/') {
        return MEDIA_OEMBED_FOREIGN;
    }

    if ((size_t) (end - p) > 3 && memcmp(p, "/m/", 3) == 0) {
        plen = 3;

    } else if ((size_t) (end - p) > 7 && memcmp(p, "/embed/", 7) == 0) {
        plen = 7;

    } else {
        return MEDIA_OEMBED_FOREIGN;
    }

    p += plen;

    if ((size_t) (end - p) < 36) {
        return MEDIA_OEMBED_FOREIGN;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return MEDIA_OEMBED_FOREIGN;
            }
            continue;
        }

        if (!media_html_hex((unsigned char) p[i])) {
            return MEDIA_OEMBED_FOREIGN;
        }
    }

    n = end - p;
    if (n > 36 && p[36] != '?' && p[36] != '#') {
        return MEDIA_OEMBED_FOREIGN;
    }

    for (i = 0; i < 36; i++) {
        id[i] = (p[i] >= 'A' && p[i] <= 'F') ? p[i] - 'A' + 'a' : p[i];
    }

    id[36] = '\0';

    return MEDIA_OEMBED_OK;
}


void
media_embed_size(unsigned src_w, unsigned src_h, int video, unsigned maxw,
    unsigned maxh, unsigned *w, unsigned *h)
{
    unsigned long long  ww, hh;

    if (src_w == 0 || src_h == 0) {
        src_w = 16;
        src_h = 9;
    }

    ww = 640;
    hh = video ? ww * src_h / src_w : 120;

    if (maxw && ww > maxw) {
        if (video) {
            hh = hh * maxw / ww;
        }
        ww = maxw;
    }

    if (maxh && hh > maxh) {
        if (video) {
            ww = ww * maxh / hh;
        }
        hh = maxh;
    }

    *w = ww ? (unsigned) ww : 1;
    *h = hh ? (unsigned) hh : 1;
}


int
media_handle_norm(char *dst, const char *src, size_t len)
{
    size_t  i;
    char    c;

    if (len < 3 || len > 30) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c >= 'A' && c <= 'Z') {
            c = c - 'A' + 'a';
        }

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
            return 0;
        }

        dst[i] = c;
    }

    return 1;
}
