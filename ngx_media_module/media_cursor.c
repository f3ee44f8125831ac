/*
 * nginx-free cursor checks (media_cursor.h).
 */

#include <string.h>

#include "media_cursor.h"
#include "media_token.h"


int
media_cursor_digits(const unsigned char *p, size_t len, size_t max)
{
    size_t  i;

    if (len == 0 || len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return 0;
        }
    }

    return 1;
}


int
media_cursor_time_id(const unsigned char *p, size_t len)
{
    unsigned char         id[16];
    const unsigned char  *dot;

    dot = memchr(p, '.', len);

    if (dot == NULL || !media_cursor_digits(p, dot - p, 18)) {
        return 0;
    }

    dot++;

    return media_uuid_parse((const char *) dot, len - (dot - p), id) == 0;
}
