/*
 * nginx-free, incremental multipart/form-data parser (RFC 7578).
 *
 * Fed any number of chunks of any size, it calls back for each part's
 * headers, its data (in pieces, never buffered whole) and its end, so a
 * file of any size passes through in constant memory.
 */

#ifndef _MEDIA_MULTIPART_H_INCLUDED_
#define _MEDIA_MULTIPART_H_INCLUDED_


#include <stddef.h>


#define MEDIA_MULTIPART_MAX_BOUNDARY  70     /* RFC 2046 5.1.1 */
#define MEDIA_MULTIPART_MAX_HEADERS   8192   /* one part's header block */
#define MEDIA_MULTIPART_MAX_PARTS     32



/* room for a file name of 255 characters of up to four bytes */
#define MEDIA_MULTIPART_NAME_MAX  1024

typedef struct media_multipart_s  media_multipart_t;


typedef struct {
    const char  *name;        /* form field name, NUL-terminated */
    const char  *filename;    /* "" when the part is not a file; the
                                 bytes as sent, cut to NAME_MAX - 1 */
    const char  *type;        /* its Content-Type, "" when none */
} media_multipart_part_t;


/* each returns 0 to go on, -1 to stop (then the parser reports "aborted") */
typedef struct {
    int  (*begin)(void *data, const media_multipart_part_t *part);
    int  (*chunk)(void *data, const unsigned char *p, size_t len);
    int  (*end)(void *data);
} media_multipart_cb_t;


/*
 * The boundary parameter of a multipart/form-data Content-Type, into out;
 * -1 when the type is not multipart/form-data or has no usable boundary.
 */
int media_multipart_boundary(const char *ctype, size_t len, char *out,
    size_t size);

media_multipart_t *media_multipart_new(const char *boundary,
    const media_multipart_cb_t *cb, void *data);

/* 0 on success; -1 with media_multipart_error() saying why */
int media_multipart_feed(media_multipart_t *mp, const unsigned char *p,
    size_t len);

/* after the last chunk: 0 if the closing delimiter was seen */
int media_multipart_finish(media_multipart_t *mp);

const char *media_multipart_error(media_multipart_t *mp);

void media_multipart_free(media_multipart_t *mp);


#endif /* _MEDIA_MULTIPART_H_INCLUDED_ */
