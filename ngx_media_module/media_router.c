/*
 * nginx-free request router.
 *
 * Patterns are literal path segments and "{name}" captures; a capture
 * matches one non-empty segment.  Routes are few (tens), so a linear scan
 * over them is both the simplest and the fastest structure.
 */

#include <string.h>

#include "media_router.h"


static int media_route_path_match(const char *pattern, const char *path,
    size_t len, media_route_match_t *m);


int
media_route_match(const media_route_t *routes, size_t nroutes,
    unsigned method, const char *path, size_t len, media_route_match_t *m)
{
    size_t    i;
    unsigned  want;
    int       path_matched;

    m->allow = 0;
    m->ncaptures = 0;
    m->id = -1;
    path_matched = 0;

    want = method;
    if (method == MEDIA_HEAD) {
        want = MEDIA_HEAD | MEDIA_GET;
    }

    for (i = 0; i < nroutes; i++) {
        media_route_match_t  cur;

        if (!media_route_path_match(routes[i].pattern, path, len, &cur)) {
            continue;
        }

        path_matched = 1;
        m->allow |= routes[i].methods;

        if (routes[i].methods & want) {
            *m = cur;
            m->id = routes[i].id;
            m->allow = routes[i].methods;
            return (int) i;
        }
    }

    if (m->allow & MEDIA_GET) {
        m->allow |= MEDIA_HEAD;
    }

    return path_matched ? MEDIA_ROUTE_NOT_ALLOWED : MEDIA_ROUTE_NOT_FOUND;
}


/* matches one pattern against the whole path, filling captures */
static int
media_route_path_match(const char *pattern, const char *path, size_t len,
    media_route_match_t *m)
{
    const char  *p, *end, *seg;

    p = path;
    end = path + len;
    m->ncaptures = 0;

    while (*pattern) {

        if (*pattern != '{') {
            if (p == end || *p != *pattern) {
                return 0;
            }
            p++;
            pattern++;
            continue;
        }

        /* a capture: skip "{name}" in the pattern, take one segment */
        pattern = strchr(pattern, '}');
        if (pattern == NULL) {
            return 0;
        }
        pattern++;

        seg = p;
        while (p < end && *p != '/') {
            p++;
        }

        if (p == seg || m->ncaptures == MEDIA_ROUTE_MAX_CAPTURES) {
            return 0;
        }

        m->captures[m->ncaptures].data = seg;
        m->captures[m->ncaptures].len = p - seg;
        m->ncaptures++;
    }

    return p == end;
}


/* the method names, by bit */
static const struct {
    unsigned     bit;
    const char  *name;
} names[] = {
    { MEDIA_GET, "GET" }, { MEDIA_HEAD, "HEAD" }, { MEDIA_POST, "POST" },
    { MEDIA_PUT, "PUT" }, { MEDIA_PATCH, "PATCH" },
    { MEDIA_DELETE, "DELETE" }, { MEDIA_OPTIONS, "OPTIONS" }
};


unsigned
media_route_method_of(const char *line, size_t len)
{
    size_t  i, n;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        n = strlen(names[i].name);

        if (len > n && line[n] == ' ' && memcmp(line, names[i].name, n) == 0)
        {
            return names[i].bit;
        }
    }

    return 0;
}


size_t
media_route_methods(unsigned methods, const char *sep, char *buf,
    size_t size)
{
    size_t  i, n, len, slen;

    n = 0;
    slen = strlen(sep);

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(methods & names[i].bit)) {
            continue;
        }

        len = strlen(names[i].name);
        if (n + len + slen + 1 > size) {
            break;
        }

        if (n) {
            memcpy(buf + n, sep, slen);
            n += slen;
        }

        memcpy(buf + n, names[i].name, len);
        n += len;
    }

    if (size) {
        buf[n] = '\0';
    }

    return n;
}

size_t
media_route_allow_header(unsigned allow, char *buf, size_t size)
{
    return media_route_methods(allow, ", ", buf, size);
}
