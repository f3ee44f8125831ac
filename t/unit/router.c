/*
 * media_router: matching, captures, 404 against 405, the Allow header,
 * method names both ways.
 */

#include "tap.h"
#include "media_router.h"


enum { R_HEALTH, R_LIST, R_CREATE, R_ONE, R_PATCH, R_PLAY, R_TWO };

static const media_route_t  routes[] = {
    { MEDIA_GET, "/api/v1/healthz", R_HEALTH },
    { MEDIA_GET, "/api/v1/media", R_LIST },
    { MEDIA_POST, "/api/v1/media", R_CREATE },
    { MEDIA_GET, "/api/v1/media/{id}", R_ONE },
    { MEDIA_PATCH | MEDIA_DELETE, "/api/v1/media/{id}", R_PATCH },
    { MEDIA_POST, "/api/v1/media/{id}/playback", R_PLAY },
    { MEDIA_GET, "/api/v1/a/{x}/b/{y}", R_TWO },
};

#define N  (sizeof(routes) / sizeof(routes[0]))


static int
match(unsigned method, const char *path, media_route_match_t *m)
{
    return media_route_match(routes, N, method, path, strlen(path), m);
}


int
main(void)
{
    int                  rc;
    char                 allow[64];
    size_t               n;
    media_route_match_t  m;

    rc = match(MEDIA_GET, "/api/v1/healthz", &m);
    ok(rc >= 0 && m.id == R_HEALTH && m.ncaptures == 0, "static route");

    rc = match(MEDIA_HEAD, "/api/v1/healthz", &m);
    ok(rc >= 0 && m.id == R_HEALTH, "HEAD matches a GET route");

    rc = match(MEDIA_POST, "/api/v1/media", &m);
    ok(rc >= 0 && m.id == R_CREATE, "same path, method picks the route");

    rc = match(MEDIA_GET, "/api/v1/media/abc-123", &m);
    ok(rc >= 0 && m.id == R_ONE && m.ncaptures == 1, "capture route");
    is_str(m.captures[0].data, m.captures[0].len, "abc-123", "capture");

    rc = match(MEDIA_DELETE, "/api/v1/media/x", &m);
    ok(rc >= 0 && m.id == R_PATCH, "second route on the same pattern");

    rc = match(MEDIA_POST, "/api/v1/media/42/playback", &m);
    ok(rc >= 0 && m.id == R_PLAY, "capture in the middle");
    is_str(m.captures[0].data, m.captures[0].len, "42", "middle capture");

    rc = match(MEDIA_GET, "/api/v1/a/1/b/22", &m);
    ok(rc >= 0 && m.ncaptures == 2, "two captures");
    is_str(m.captures[1].data, m.captures[1].len, "22", "second capture");

    ok(match(MEDIA_GET, "/api/v1/media/", &m) == MEDIA_ROUTE_NOT_FOUND,
       "empty capture does not match");
    ok(match(MEDIA_GET, "/api/v1/media/a/b", &m) == MEDIA_ROUTE_NOT_FOUND,
       "capture does not span a slash");
    ok(match(MEDIA_GET, "/api/v1/healthzz", &m) == MEDIA_ROUTE_NOT_FOUND,
       "longer path does not match");
    ok(match(MEDIA_GET, "/api/v1/health", &m) == MEDIA_ROUTE_NOT_FOUND,
       "prefix does not match");
    ok(match(MEDIA_GET, "", &m) == MEDIA_ROUTE_NOT_FOUND, "empty path");

    rc = match(MEDIA_PUT, "/api/v1/media/7", &m);
    ok(rc == MEDIA_ROUTE_NOT_ALLOWED, "known path, unknown method: 405");
    ok(m.allow == (MEDIA_GET | MEDIA_HEAD | MEDIA_PATCH | MEDIA_DELETE),
       "allow collects every route on the path");

    n = media_route_allow_header(m.allow, allow, sizeof(allow));
    is_str(allow, n, "GET, HEAD, PATCH, DELETE", "Allow header");

    rc = match(0, "/api/v1/healthz", &m);
    ok(rc == MEDIA_ROUTE_NOT_ALLOWED, "unmapped method: 405");

    n = media_route_allow_header(MEDIA_GET | MEDIA_POST, allow, 6);
    ok(n <= 5 && allow[n] == '\0', "Allow header truncates safely");

    /* a metrics label's methods, and a request line's method */
    n = media_route_methods(MEDIA_PUT | MEDIA_DELETE, "|", allow,
                            sizeof(allow));
    is_str(allow, n, "PUT|DELETE", "methods with another separator");
    ok(media_route_method_of("POST /api/v1/media HTTP/1.1", 28)
       == MEDIA_POST, "a request line's method");
    ok(media_route_method_of("OPTIONS * HTTP/1.1", 18) == MEDIA_OPTIONS,
       "OPTIONS");
    ok(media_route_method_of("POSTX / HTTP/1.1", 16) == 0,
       "a longer name is not POST");
    ok(media_route_method_of("GET", 3) == 0, "a name alone is no line");
    ok(media_route_method_of("BREW / HTCPCP/1.0", 17) == 0,
       "an unknown method");

    return done_testing();
}
