/*
 * nginx-free reading of an uploaded cover's header: is it a JPEG or a PNG
 * (by its bytes, not its Content-Type), and how large is its picture.  The
 * size is read from the PNG's IHDR or the JPEG's frame header (SOFn),
 * walking the JPEG's segments by their lengths, within the first bytes of
 * the file only: the picture itself is decoded by the transcoder.
 */

#ifndef _MEDIA_PICTURE_H_INCLUDED_
#define _MEDIA_PICTURE_H_INCLUDED_


#include <stddef.h>


#define MEDIA_PICTURE_HEAD  262144     /* bytes worth reading: metadata
                                          (EXIF, ICC) comes before SOFn */


typedef enum {
    MEDIA_PICTURE_OK = 0,
    MEDIA_PICTURE_NOT,                /* neither a JPEG nor a PNG */
    MEDIA_PICTURE_BROKEN,             /* one, but its header is wrong */
    MEDIA_PICTURE_FAR                 /* a JPEG whose SOFn is not in the
                                         bytes given */
} media_picture_rc_e;


typedef struct {
    const char      *type;            /* "jpeg" or "png" */
    unsigned long    width;
    unsigned long    height;
} media_picture_t;


media_picture_rc_e media_picture_probe(const unsigned char *p, size_t len,
    media_picture_t *pic);


#endif /* _MEDIA_PICTURE_H_INCLUDED_ */
