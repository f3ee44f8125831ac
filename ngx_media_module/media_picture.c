/*
 * The header of a JPEG or PNG: its type and its size.  See
 * media_picture.h.
 */

#include <string.h>

#include "media_picture.h"


static media_picture_rc_e media_picture_jpeg(const unsigned char *p,
    size_t len, media_picture_t *pic);


media_picture_rc_e
media_picture_probe(const unsigned char *p, size_t len, media_picture_t *pic)
{
    memset(pic, 0, sizeof(media_picture_t));

    /* PNG: the signature, then IHDR first (PNG 1.2, 5.2 and 11.2.2) */
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        pic->type = "png";

        if (len < 24 || memcmp(p + 12, "IHDR", 4) != 0) {
            return MEDIA_PICTURE_BROKEN;
        }

        pic->width = (unsigned long) p[16] << 24 | p[17] << 16 | p[18] << 8
                     | p[19];
        pic->height = (unsigned long) p[20] << 24 | p[21] << 16 | p[22] << 8
                      | p[23];

        return pic->width && pic->height ? MEDIA_PICTURE_OK
                                         : MEDIA_PICTURE_BROKEN;
    }

    if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        pic->type = "jpeg";
        return media_picture_jpeg(p, len, pic);
    }

    return MEDIA_PICTURE_NOT;
}


/*
 * ITU T.81 B.1.1: after SOI, marker segments (0xFF, the marker, a 16-bit
 * length that counts itself) until a frame header SOFn (C0-C3, C5-C7,
 * C9-CB, CD-CF: precision, height, width).  Markers without a length (RSTn,
 * TEM) and fill bytes (0xFF repeated) are stepped over; SOS or EOI before
 * any SOFn means the header is broken.
 */
static media_picture_rc_e
media_picture_jpeg(const unsigned char *p, size_t len, media_picture_t *pic)
{
    size_t         i, seg;
    unsigned char  m;

    i = 2;

    for ( ;; ) {
        if (i + 2 > len) {
            return MEDIA_PICTURE_FAR;
        }

        if (p[i] != 0xff) {
            return MEDIA_PICTURE_BROKEN;
        }

        m = p[i + 1];

        if (m == 0xff) {
            i++;                          /* a fill byte */
            continue;
        }

        i += 2;

        if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
            continue;                     /* no length */
        }

        if (m == 0xd8 || m == 0xd9 || m == 0xda || m == 0x00) {
            return MEDIA_PICTURE_BROKEN;
        }

        if (i + 2 > len) {
            return MEDIA_PICTURE_FAR;
        }

        seg = (size_t) p[i] << 8 | p[i + 1];

        if (seg < 2) {
            return MEDIA_PICTURE_BROKEN;
        }

        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
            if (seg < 7) {
                return MEDIA_PICTURE_BROKEN;
            }

            if (i + 7 > len) {
                return MEDIA_PICTURE_FAR;
            }

            pic->height = (unsigned long) p[i + 3] << 8 | p[i + 4];
            pic->width = (unsigned long) p[i + 5] << 8 | p[i + 6];

            /* a height of 0 is left to a DNL marker: not for covers */
            return pic->width && pic->height ? MEDIA_PICTURE_OK
                                             : MEDIA_PICTURE_BROKEN;
        }

        i += seg;
    }
}
