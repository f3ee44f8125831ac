/*
 * nginx-free UTF-8 for what users name things with: titles and file
 * names.  PostgreSQL refuses invalid UTF-8 (and a cut in the middle of a
 * character makes some), so text is checked, made safe, and cut only at
 * character boundaries; limits count characters, as the database does.
 */

#ifndef _MEDIA_UTF8_H_INCLUDED_
#define _MEDIA_UTF8_H_INCLUDED_


#include <stddef.h>


/* 1 when p holds well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) and no control character */
int media_utf8_valid(const unsigned char *p, size_t len);

/* the characters in well-formed p */
size_t media_utf8_chars(const unsigned char *p, size_t len);

/* the bytes of the first max characters of well-formed p */
size_t media_utf8_prefix(const unsigned char *p, size_t len, size_t max);

/*
 * Copies src to dst (room for len bytes), each byte that does not begin a
 * well-formed character and each control character replaced by '_', so
 * that a file name from anywhere can be kept; returns the length.
 */
size_t media_utf8_safe(unsigned char *dst, const unsigned char *src,
    size_t len);


#endif /* _MEDIA_UTF8_H_INCLUDED_ */
