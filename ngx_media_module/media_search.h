/*
 * nginx-free parts of search and the catalogue: the query string as a
 * person typed it (percent-decoded, split into the words typed whole and
 * the last one, which is matched as a prefix while they type), the
 * cursors of ranked and browsed pages, and the text checks of a media's
 * description and tags.
 */

#ifndef _MEDIA_SEARCH_H_INCLUDED_
#define _MEDIA_SEARCH_H_INCLUDED_


#include <stddef.h>


/* at most this many characters in q, and in a tag, a description */
#define MEDIA_SEARCH_Q_MAX        200
#define MEDIA_SEARCH_TAG_MAX      40
#define MEDIA_SEARCH_TAGS_MAX     20
#define MEDIA_SEARCH_DESC_MAX     5000


typedef enum {
    MEDIA_SEARCH_OK = 0,
    MEDIA_SEARCH_EMPTY,         /* nothing but blanks */
    MEDIA_SEARCH_TOO_LONG,      /* above MEDIA_SEARCH_Q_MAX characters */
    MEDIA_SEARCH_BAD_TEXT       /* not UTF-8, or a control character */
} media_search_rc_e;


/*
 * q split at its last blank: head, the words typed whole (matched as
 * words), and last, the word being typed (matched as a prefix).  When q
 * ends with a blank the last word is whole too: last is empty and head
 * holds everything.  Both point into the buffer given to
 * media_search_parse.
 */
typedef struct {
    const unsigned char  *head;
    size_t                head_len;
    const unsigned char  *last;
    size_t                last_len;
} media_search_q_t;


/*
 * Decodes a raw query argument p (as in the URL: %XX and '+' for a blank)
 * into buf (room for len bytes); tabs and line ends become blanks.
 * Returns the decoded length.
 */
size_t media_search_decode(const unsigned char *p, size_t len,
    unsigned char *buf);

/*
 * Decodes the raw query argument p (as in the URL: %XX and '+' for a
 * blank) into buf (room for len bytes), checks it and splits it into q.
 * Tabs and line ends count as blanks.
 */
media_search_rc_e media_search_parse(const unsigned char *p, size_t len,
    unsigned char *buf, media_search_q_t *q);

/* 1 for a cursor this server gives out: "<1 to 18 digits>.<uuid>" */
int media_search_cursor_ok(const unsigned char *p, size_t len);

/* 1 when p is well-formed UTF-8 with no control character other than
 * tab and line ends (a description may run over lines) */
int media_search_text_ok(const unsigned char *p, size_t len);

/* p without its leading and trailing blanks: the new length, *start the
 * offset of the first character kept */
size_t media_search_trim(const unsigned char *p, size_t len, size_t *start);


#endif /* _MEDIA_SEARCH_H_INCLUDED_ */
