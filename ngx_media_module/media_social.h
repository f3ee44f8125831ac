/*
 * nginx-free checks for the social room: a comment's body, and the feed's
 * cursor (the sort key of the last item a page showed).
 */

#ifndef _MEDIA_SOCIAL_H_INCLUDED_
#define _MEDIA_SOCIAL_H_INCLUDED_


#include <stddef.h>


#define MEDIA_SOCIAL_BODY_MAX   1000     /* characters, as PostgreSQL counts */

#define MEDIA_SOCIAL_OK         0
#define MEDIA_SOCIAL_EMPTY      1        /* nothing, or only white space */
#define MEDIA_SOCIAL_TOO_LONG   2
#define MEDIA_SOCIAL_INVALID    3        /* ill-formed UTF-8 or a control */


/*
 * A comment's body: well-formed UTF-8, no control character but line
 * feed and tab, 1 to MEDIA_SOCIAL_BODY_MAX characters, not all of them
 * white space.  *chars is the count (for the message).
 */
int media_social_body(const unsigned char *p, size_t len, size_t *chars);


/*
 * The feed's cursor, "<microseconds since 1970>.<r|u>.<media id>.<by id>":
 * when the item happened, a repost or an upload, what and whose.  Items
 * are ordered by the four, newest first, so the cursor alone says where
 * the next page starts even when its item is gone.
 */
typedef struct {
    const unsigned char  *micros;        /* digits, 1 to 18 of them */
    size_t                micros_len;
    int                   repost;
    const unsigned char  *media;         /* 36 characters, lowercase */
    const unsigned char  *by;
} media_social_cursor_t;

/* 0 when p is such a cursor (then c points into p), else -1 */
int media_social_cursor(const unsigned char *p, size_t len,
    media_social_cursor_t *c);


#endif /* _MEDIA_SOCIAL_H_INCLUDED_ */
