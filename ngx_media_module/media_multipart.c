/*
 * Incremental multipart/form-data parser.
 *
 * The body is scanned once for the delimiter "\r\n--boundary".  A
 * boundary holds no CR (RFC 2046 5.1.1: bchars), so CR occurs in the
 * delimiter only at its start, and a failed partial match never hides the
 * start of another: the byte that broke the match is simply examined
 * afresh.  The body's first delimiter has no CRLF before it, so scanning
 * starts as if "\r\n" had just been seen.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media_multipart.h"


#define MEDIA_MP_OUT  4096


typedef enum {
    MEDIA_MP_PREAMBLE = 0,
    MEDIA_MP_AFTER_DELIMITER,
    MEDIA_MP_HEADERS,
    MEDIA_MP_DATA,
    MEDIA_MP_EPILOGUE,
    MEDIA_MP_FAILED
} media_mp_state_e;


struct media_multipart_s {
    media_mp_state_e             state;
    const media_multipart_cb_t  *cb;
    void                        *data;
    char                         delim[MEDIA_MULTIPART_MAX_BOUNDARY + 5];
    size_t                       dlen;
    size_t                       match;       /* delimiter bytes seen */
    char                         after[2];    /* bytes after a delimiter */
    size_t                       nafter;
    char                         headers[MEDIA_MULTIPART_MAX_HEADERS];
    size_t                       hlen;
    unsigned                     parts;
    unsigned char                out[MEDIA_MP_OUT];
    size_t                       nout;
    char                         error[128];
};


static int media_mp_fail(media_multipart_t *mp, const char *msg);
static int media_mp_emit(media_multipart_t *mp, const unsigned char *p,
    size_t len);
static int media_mp_flush(media_multipart_t *mp);
static int media_mp_headers(media_multipart_t *mp);
static int media_mp_param(const char *h, const char *name, char *out,
    size_t size);


int
media_multipart_boundary(const char *ctype, size_t len, char *out, size_t size)
{
    char        buf[512];
    size_t      n;

    if (len >= sizeof(buf) || len < 19
        || strncasecmp(ctype, "multipart/form-data", 19) != 0)
    {
        return -1;
    }

    memcpy(buf, ctype, len);
    buf[len] = '\0';

    if (media_mp_param(buf, "boundary", out, size) != 0) {
        return -1;
    }

    n = strlen(out);

    if (n == 0 || n > MEDIA_MULTIPART_MAX_BOUNDARY || strpbrk(out, "\r\n")) {
        return -1;
    }

    return 0;
}


media_multipart_t *
media_multipart_new(const char *boundary, const media_multipart_cb_t *cb,
    void *data)
{
    size_t              n;
    media_multipart_t  *mp;

    n = strlen(boundary);
    if (n == 0 || n > MEDIA_MULTIPART_MAX_BOUNDARY) {
        return NULL;
    }

    mp = calloc(1, sizeof(media_multipart_t));
    if (mp == NULL) {
        return NULL;
    }

    mp->cb = cb;
    mp->data = data;
    mp->dlen = (size_t) snprintf(mp->delim, sizeof(mp->delim), "\r\n--%s",
                                 boundary);

    /* the first delimiter may open the body: as if "\r\n" preceded it */
    mp->match = 2;

    return mp;
}


int
media_multipart_feed(media_multipart_t *mp, const unsigned char *p,
    size_t len)
{
    unsigned char  c;

    while (len) {
        c = *p++;
        len--;

        switch (mp->state) {

        case MEDIA_MP_PREAMBLE:
        case MEDIA_MP_DATA:
            if (c == (unsigned char) mp->delim[mp->match]) {
                if (++mp->match < mp->dlen) {
                    continue;
                }

                mp->match = 0;

                if (mp->state == MEDIA_MP_DATA) {
                    if (media_mp_flush(mp) != 0) {
                        return -1;
                    }

                    if (mp->cb->end && mp->cb->end(mp->data) != 0) {
                        return media_mp_fail(mp, "aborted");
                    }
                }

                mp->state = MEDIA_MP_AFTER_DELIMITER;
                mp->nafter = 0;
                continue;
            }

            /* the partial match was data after all */
            if (mp->match) {
                if (mp->state == MEDIA_MP_DATA
                    && media_mp_emit(mp, (unsigned char *) mp->delim,
                                     mp->match)
                       != 0)
                {
                    return -1;
                }

                mp->match = 0;

                if (c == '\r') {
                    mp->match = 1;
                    continue;
                }
            }

            if (mp->state == MEDIA_MP_DATA && media_mp_emit(mp, &c, 1) != 0) {
                return -1;
            }

            continue;

        case MEDIA_MP_AFTER_DELIMITER:
            /* transport padding (RFC 2046): spaces before the CRLF */
            if (mp->nafter == 0 && (c == ' ' || c == '\t')) {
                continue;
            }

            mp->after[mp->nafter++] = (char) c;

            if (mp->nafter < 2) {
                continue;
            }

            if (mp->after[0] == '-' && mp->after[1] == '-') {
                mp->state = MEDIA_MP_EPILOGUE;
                continue;
            }

            if (mp->after[0] != '\r' || mp->after[1] != '\n') {
                return media_mp_fail(mp, "garbage after a boundary");
            }

            if (++mp->parts > MEDIA_MULTIPART_MAX_PARTS) {
                return media_mp_fail(mp, "too many parts");
            }

            mp->state = MEDIA_MP_HEADERS;
            mp->hlen = 0;
            continue;

        case MEDIA_MP_HEADERS:
            if (mp->hlen == sizeof(mp->headers) - 1) {
                return media_mp_fail(mp, "part headers too long");
            }

            mp->headers[mp->hlen++] = (char) c;

            /* the block ends at an empty line: CRLF alone, or CRLFCRLF */
            if (c != '\n' || mp->hlen < 2
                || mp->headers[mp->hlen - 2] != '\r')
            {
                continue;
            }

            if (mp->hlen != 2
                && (mp->hlen < 4 || mp->headers[mp->hlen - 3] != '\n'
                    || mp->headers[mp->hlen - 4] != '\r'))
            {
                continue;
            }

            mp->headers[mp->hlen] = '\0';

            if (media_mp_headers(mp) != 0) {
                return -1;
            }

            mp->state = MEDIA_MP_DATA;
            continue;

        case MEDIA_MP_EPILOGUE:
            return 0;

        case MEDIA_MP_FAILED:
            return -1;
        }
    }

    return media_mp_flush(mp);
}


int
media_multipart_finish(media_multipart_t *mp)
{
    if (mp->state == MEDIA_MP_FAILED) {
        return -1;
    }

    if (mp->state != MEDIA_MP_EPILOGUE) {
        return media_mp_fail(mp, mp->parts ? "the body ends inside a part "
                             "(truncated upload?)"
                             : "no part found: is the boundary right?");
    }

    return 0;
}


const char *
media_multipart_error(media_multipart_t *mp)
{
    return mp->error[0] ? mp->error : "ok";
}


void
media_multipart_free(media_multipart_t *mp)
{
    free(mp);
}


static int
media_mp_fail(media_multipart_t *mp, const char *msg)
{
    mp->state = MEDIA_MP_FAILED;
    snprintf(mp->error, sizeof(mp->error), "%s", msg);
    return -1;
}


static int
media_mp_emit(media_multipart_t *mp, const unsigned char *p, size_t len)
{
    size_t  n;

    while (len) {
        n = sizeof(mp->out) - mp->nout;
        if (n > len) {
            n = len;
        }

        memcpy(mp->out + mp->nout, p, n);
        mp->nout += n;
        p += n;
        len -= n;

        if (mp->nout == sizeof(mp->out) && media_mp_flush(mp) != 0) {
            return -1;
        }
    }

    return 0;
}


static int
media_mp_flush(media_multipart_t *mp)
{
    if (mp->nout == 0) {
        return 0;
    }

    if (mp->cb->chunk && mp->cb->chunk(mp->data, mp->out, mp->nout) != 0) {
        mp->nout = 0;
        return media_mp_fail(mp, "aborted");
    }

    mp->nout = 0;
    return 0;
}


/* the header block of one part: Content-Disposition and Content-Type */
static int
media_mp_headers(media_multipart_t *mp)
{
    char                    *line, *next, *colon;
    char                     name[256], filename[MEDIA_MULTIPART_NAME_MAX],
                             type[128];
    int                      disposition;
    media_multipart_part_t   part;

    name[0] = '\0';
    filename[0] = '\0';
    type[0] = '\0';
    disposition = 0;

    for (line = mp->headers; *line; line = next) {
        next = strstr(line, "\r\n");
        if (next == NULL) {
            break;
        }

        *next = '\0';
        next += 2;

        colon = strchr(line, ':');
        if (colon == NULL) {
            continue;
        }

        *colon++ = '\0';
        while (*colon == ' ' || *colon == '\t') {
            colon++;
        }

        if (strcasecmp(line, "Content-Disposition") == 0) {
            if (strncasecmp(colon, "form-data", 9) != 0) {
                return media_mp_fail(mp, "a part is not form-data");
            }

            disposition = 1;

            if (media_mp_param(colon, "name", name, sizeof(name)) != 0) {
                return media_mp_fail(mp, "a part has no name");
            }

            (void) media_mp_param(colon, "filename", filename,
                                  sizeof(filename));

        } else if (strcasecmp(line, "Content-Type") == 0) {
            snprintf(type, sizeof(type), "%s", colon);
        }
    }

    if (!disposition) {
        return media_mp_fail(mp, "a part has no Content-Disposition");
    }

    part.name = name;
    part.filename = filename;
    part.type = type;

    if (mp->cb->begin && mp->cb->begin(mp->data, &part) != 0) {
        return media_mp_fail(mp, "aborted");
    }

    return 0;
}


/*
 * A parameter of a header value: name=token or name="quoted".  Matches
 * whole parameter names only ("name" does not match "filename").  A value
 * longer than out is cut (out is always terminated); the caller cuts it
 * again where a character ends.
 */
static int
media_mp_param(const char *h, const char *name, char *out, size_t size)
{
    size_t       n, len;
    const char  *p;

    len = strlen(name);

    for (p = strchr(h, ';'); p; p = strchr(p, ';')) {
        p++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }

        if (strncasecmp(p, name, len) != 0 || p[len] != '=') {
            continue;
        }

        p += len + 1;
        n = 0;

        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1]) {
                    p++;
                }
                if (n + 1 < size) {
                    out[n++] = *p;
                }
            }

            if (*p != '"') {
                out[0] = '\0';
                return -1;
            }

        } else {
            for ( ; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
                if (n + 1 < size) {
                    out[n++] = *p;
                }
            }
        }

        out[n] = '\0';
        return 0;
    }

    return -1;
}
