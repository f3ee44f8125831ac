/*
 * Search queries, cursors and descriptive text; see media_search.h.
 */

#include "media_search.h"
#include "media_utf8.h"


static int media_search_hex(unsigned char c);
static int media_search_blank(unsigned char c);


size_t
media_search_decode(const unsigned char *p, size_t len, unsigned char *buf)
{
    int            hi, lo;
    size_t         i, n;
    unsigned char  c;

    n = 0;

    /* application/x-www-form-urlencoded, as a browser's form sends it; a
     * '%' that starts no escape stands for itself */
    for (i = 0; i < len; i++) {
        c = p[i];

        if (c == '+') {
            c = ' ';

        } else if (c == '%' && i + 2 < len) {
            hi = media_search_hex(p[i + 1]);
            lo = media_search_hex(p[i + 2]);

            if (hi >= 0 && lo >= 0) {
                c = (unsigned char) (hi * 16 + lo);
                i += 2;
            }
        }

        buf[n++] = media_search_blank(c) ? ' ' : c;
    }

    return n;
}


media_search_rc_e
media_search_parse(const unsigned char *p, size_t len, unsigned char *buf,
    media_search_q_t *q)
{
    size_t  n, start, end, cut;

    n = media_search_decode(p, len, buf);

    if (!media_utf8_valid(buf, n)) {
        return MEDIA_SEARCH_BAD_TEXT;
    }

    for (start = 0; start < n && buf[start] == ' '; start++) {
        /* void */
    }

    if (start == n) {
        return MEDIA_SEARCH_EMPTY;
    }

    if (media_utf8_chars(buf, n) > MEDIA_SEARCH_Q_MAX) {
        return MEDIA_SEARCH_TOO_LONG;
    }

    end = n;

    /* "beyon" is being typed: a prefix; "beyonce " was typed whole */
    if (buf[end - 1] == ' ') {
        while (buf[end - 1] == ' ') {
            end--;
        }

        q->head = buf + start;
        q->head_len = end - start;
        q->last = buf + end;
        q->last_len = 0;

        return MEDIA_SEARCH_OK;
    }

    for (cut = end; cut > start && buf[cut - 1] != ' '; cut--) {
        /* void */
    }

    q->head = buf + start;
    q->head_len = cut - start;
    q->last = buf + cut;
    q->last_len = end - cut;

    return MEDIA_SEARCH_OK;
}


int
media_search_cursor_ok(const unsigned char *p, size_t len)
{
    size_t  i, d;

    for (d = 0; d < len && p[d] >= '0' && p[d] <= '9'; d++) {
        /* void */
    }

    if (d == 0 || d > 18 || len != d + 1 + 36 || p[d] != '.') {
        return 0;
    }

    p += d + 1;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return 0;
            }

        } else if (media_search_hex(p[i]) < 0) {
            return 0;
        }
    }

    return 1;
}


int
media_search_text_ok(const unsigned char *p, size_t len)
{
    size_t  i, from;

    /* media_utf8_valid refuses every control character: check the runs
     * between the tabs and line ends it would refuse */
    from = 0;

    for (i = 0; i <= len; i++) {
        if (i < len && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') {
            continue;
        }

        if (!media_utf8_valid(p + from, i - from)) {
            return 0;
        }

        from = i + 1;
    }

    return 1;
}


size_t
media_search_trim(const unsigned char *p, size_t len, size_t *start)
{
    size_t  s;

    for (s = 0; s < len && media_search_blank(p[s]); s++) {
        /* void */
    }

    while (len > s && media_search_blank(p[len - 1])) {
        len--;
    }

    *start = s;

    return len - s;
}


static int
media_search_hex(unsigned char c)
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


static int
media_search_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
           || c == '\v';
}
