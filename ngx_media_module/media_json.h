/*
 * nginx-free reading of a request's JSON body: one object, strings of
 * valid UTF-8 (yajl checks), and no NUL character anywhere.  yajl decodes
 * "\u0000" into a NUL byte and its tree keeps C strings, so such a string
 * would be silently cut short there ("a@b.org\u0000.x" read as "a@b.org");
 * it is refused instead, naming the member it came in.
 */

#ifndef _MEDIA_JSON_H_INCLUDED_
#define _MEDIA_JSON_H_INCLUDED_


#include <stddef.h>

#include <yajl/yajl_tree.h>


typedef enum {
    MEDIA_JSON_OK = 0,
    MEDIA_JSON_INVALID,      /* not JSON, or not UTF-8: err says where */
    MEDIA_JSON_NOT_OBJECT,
    MEDIA_JSON_NUL           /* a NUL byte or \u0000: field names where */
} media_json_rc_e;


/*
 * text holds len bytes and a NUL after them.  On MEDIA_JSON_OK *tree is
 * the object (free it with yajl_tree_free); else err holds a one-line
 * reason and, for MEDIA_JSON_NUL, field the member's name (as written,
 * cut to fieldsize - 1 bytes; empty when the NUL is not in a member).
 */
media_json_rc_e media_json_parse(const char *text, size_t len,
    yajl_val *tree, char *err, size_t errsize, char *field,
    size_t fieldsize);


#endif /* _MEDIA_JSON_H_INCLUDED_ */
