/*
 * A comment's body and the feed's cursor; see media_social.h.
 */

#include "media_social.h"
#include "media_utf8.h"


static int media_social_uuid(const unsigned char *p);


int
media_social_body(const unsigned char *p, size_t len, size_t *chars)
{
    size_t  i, run, blank;

    *chars = 0;
    blank = 1;
    run = 0;

    /*
     * media_utf8_valid refuses every control character; a comment may
     * hold line feeds and tabs, so the text between them is checked run
     * by run.
     */
    for (i = 0; i <= len; i++) {
        if (i < len && p[i] != '\n' && p[i] != '\t') {
            if (p[i] != ' ') {
                blank = 0;
            }

            continue;
        }

        if (i > run) {
            if (!media_utf8_valid(p + run, i - run)) {
                return MEDIA_SOCIAL_INVALID;
            }

            *chars += media_utf8_chars(p + run, i - run);
        }

        if (i < len) {
            *chars += 1;
        }

        run = i + 1;
    }

    if (len == 0 || blank) {
        return MEDIA_SOCIAL_EMPTY;
    }

    if (*chars > MEDIA_SOCIAL_BODY_MAX) {
        return MEDIA_SOCIAL_TOO_LONG;
    }

    return MEDIA_SOCIAL_OK;
}


int
media_social_cursor(const unsigned char *p, size_t len,
    media_social_cursor_t *c)
{
    size_t  n;

    for (n = 0; n < len && p[n] >= '0' && p[n] <= '9'; n++) {
        /* void */
    }

    /* 18 digits: any time before the year 33658, and within an int64 */
    if (n == 0 || n > 18 || (n > 1 && p[0] == '0')) {
        return -1;
    }

    /* '.', 'r' or 'u', '.', 36, '.', 36 */
    if (len != n + 3 + 36 + 1 + 36
        || p[n] != '.' || (p[n + 1] != 'r' && p[n + 1] != 'u')
        || p[n + 2] != '.' || p[n + 3 + 36] != '.')
    {
        return -1;
    }

    if (media_social_uuid(p + n + 3) != 0
        || media_social_uuid(p + n + 3 + 37) != 0)
    {
        return -1;
    }

    c->micros = p;
    c->micros_len = n;
    c->repost = (p[n + 1] == 'r');
    c->media = p + n + 3;
    c->by = p + n + 3 + 37;

    return 0;
}


/* 8-4-4-4-12 lowercase hex, as PostgreSQL prints a uuid */
static int
media_social_uuid(const unsigned char *p)
{
    size_t  i;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (p[i] != '-') {
                return -1;
            }

            continue;
        }

        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) {
            return -1;
        }
    }

    return 0;
}
