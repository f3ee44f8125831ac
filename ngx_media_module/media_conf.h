/*
 * nginx-free configuration reading.
 *
 * The workers read their settings from the file nginx reads (nginx.conf or
 * an included file holding the media_* directives), with this tokenizer.
 * The value parsers are used by the nginx module too, so both sides accept
 * exactly the same values.
 */

#ifndef _MEDIA_CONF_H_INCLUDED_
#define _MEDIA_CONF_H_INCLUDED_


#include <stddef.h>


#define MEDIA_CONF_MAX_ARGS  8


/*
 * Called for each simple directive ("name arg ... ;"), at any block depth.
 * Strings are NUL-terminated and valid only during the call.  Return 0 to
 * go on, -1 to stop (the handler has written err).
 */
typedef int (*media_conf_handler_pt)(void *data, const char *name,
    char **args, int nargs, int line, char *err, size_t errlen);


/* 0 on success, -1 with a message in err ("line 12: unbalanced quote") */
int media_conf_parse(const char *text, size_t len, media_conf_handler_pt h,
    void *data, char *err, size_t errlen);
int media_conf_parse_file(const char *path, media_conf_handler_pt h,
    void *data, char *err, size_t errlen);

/* nginx time syntax: "250ms", "5s", "2m", "1h", "7d"; bare: seconds */
int media_conf_parse_msec(const char *s, size_t len, long *ms);

/* "host", "host:port" or "unix:/path"; host is copied NUL-terminated */
typedef struct {
    char  host[256];
    int   port;            /* 0 for a unix socket */
    char  path[108];       /* sun_path size */
} media_addr_t;

int media_conf_parse_addr(const char *s, size_t len, int default_port,
    media_addr_t *addr);

/*
 * media_redis: an address as above, or the primary that Redis Sentinel
 * names: "sentinel://host:port,host:port/name" (port 26379 by default).
 */
#define MEDIA_SENTINELS_MAX     8
#define MEDIA_SENTINEL_PORT     26379

typedef struct {
    media_addr_t  addr;                /* no sentinels: the server */
    char          master[64];          /* sentinels: the name they watch */
    int           nsentinels;          /* 0: a plain address */
    media_addr_t  sentinels[MEDIA_SENTINELS_MAX];
} media_redis_addr_t;

int media_conf_parse_redis(const char *s, size_t len, int default_port,
    media_redis_addr_t *rd);

/* a positive integer no larger than max */
int media_conf_parse_uint(const char *s, size_t len, long max, long *n);

/* a picture size: "WxH" (w and h set) or a number of pixels (w = h = 0) */
int media_conf_parse_pixels(const char *s, size_t len, long *pixels,
    long *w, long *h);

/* nginx size syntax: "512k", "64m", "4g"; bare: bytes */
int media_conf_parse_size(const char *s, size_t len, long *bytes);

/* an absolute http:// or https:// URL with a host, no space or control
 * character, no query or fragment: a base that paths are appended to */
int media_conf_parse_url(const char *s, size_t len);


#endif /* _MEDIA_CONF_H_INCLUDED_ */
