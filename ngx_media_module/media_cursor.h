/*
 * nginx-free checks of the cursors list routes give out, so that what a
 * statement parses from one cannot fail there: a made-up cursor is a 422
 * naming it, never a 500.
 */

#ifndef _MEDIA_CURSOR_H_INCLUDED_
#define _MEDIA_CURSOR_H_INCLUDED_


#include <stddef.h>


/* 1 when p is 1 to max decimal digits */
int media_cursor_digits(const unsigned char *p, size_t len, size_t max);

/* 1 when p is "<1 to 18 digits>.<uuid>": a time in microseconds since
 * 1970 and an id, the place of a row in a (time, id) order */
int media_cursor_time_id(const unsigned char *p, size_t len);


#endif /* _MEDIA_CURSOR_H_INCLUDED_ */
