/*
 * nginx-free request router: method + path pattern with {name} captures.
 */

#ifndef _MEDIA_ROUTER_H_INCLUDED_
#define _MEDIA_ROUTER_H_INCLUDED_


#include <stddef.h>


#define MEDIA_ROUTE_MAX_CAPTURES  4

/* method bits; the glue maps nginx's NGX_HTTP_* onto these */
#define MEDIA_GET     0x01
#define MEDIA_HEAD    0x02
#define MEDIA_POST    0x04
#define MEDIA_PUT     0x08
#define MEDIA_PATCH   0x10
#define MEDIA_DELETE  0x20
#define MEDIA_OPTIONS 0x40

#define MEDIA_ROUTE_NOT_FOUND       -1
#define MEDIA_ROUTE_NOT_ALLOWED     -2


typedef struct {
    unsigned      methods;
    const char   *pattern;     /* "/api/v1/media/{id}"; {x} matches [^/]+ */
    int           id;          /* handler id, the caller's business */
} media_route_t;


typedef struct {
    const char   *data;        /* points into the matched path */
    size_t        len;
} media_capture_t;


typedef struct {
    int              id;
    size_t           ncaptures;
    media_capture_t  captures[MEDIA_ROUTE_MAX_CAPTURES];
    unsigned         allow;    /* methods of routes whose path matched */
} media_route_match_t;


/*
 * Returns the index of the first route whose path and method match,
 * MEDIA_ROUTE_NOT_ALLOWED when a path matched but no method did (m->allow
 * then holds the methods for an Allow header), or MEDIA_ROUTE_NOT_FOUND.
 * HEAD matches a route that allows GET.
 */
int media_route_match(const media_route_t *routes, size_t nroutes,
    unsigned method, const char *path, size_t len, media_route_match_t *m);

/* the method names of the bits in methods, sep between them, into buf
 * (NUL-terminated); returns the length written (without NUL) */
size_t media_route_methods(unsigned methods, const char *sep, char *buf,
    size_t size);

/* the method bit of the name that starts a request line ("GET /..."),
 * 0 for another */
unsigned media_route_method_of(const char *line, size_t len);

/* "GET, HEAD, POST" into buf; returns the length written (without NUL) */
size_t media_route_allow_header(unsigned allow, char *buf, size_t size);


#endif /* _MEDIA_ROUTER_H_INCLUDED_ */
