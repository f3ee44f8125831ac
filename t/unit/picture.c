/*
 * An uploaded cover's header: JPEG and PNG told by their bytes, their
 * sizes read (past metadata and fill bytes), and everything else, or a
 * broken header, refused.
 */

#include <string.h>

#include "tap.h"
#include "media_picture.h"


#define U(s)  (const unsigned char *) (s), sizeof(s) - 1


int
main(void)
{
    size_t           n;
    media_picture_t  pic;
    unsigned char    big[70000];

    ok(media_picture_probe(U("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"
                             "\0\0\x1f\x40\0\0\x1f\x41\x08\x06\0\0\0"), &pic)
       == MEDIA_PICTURE_OK && strcmp(pic.type, "png") == 0
       && pic.width == 8000 && pic.height == 8001, "PNG 8000x8001");

    ok(media_picture_probe(U("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDX"
                             "\0\0\x1f\x40\0\0\x1f\x41\x08\x06\0\0\0"), &pic)
       == MEDIA_PICTURE_BROKEN, "PNG without IHDR first: broken");

    ok(media_picture_probe(U("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"
                             "\0\0\0\0\0\0\x1f\x41\x08\x06\0\0\0"), &pic)
       == MEDIA_PICTURE_BROKEN, "PNG 0 wide: broken");

    /* SOI, APP0 (JFIF, 16 bytes), a fill byte, SOF0 512x256 */
    ok(media_picture_probe(U("\xff\xd8\xff\xe0\x00\x10JFIF\0\x01\x01\0\0\x01"
                             "\0\x01\0\0\xff\xff\xc0\x00\x11\x08\x01\x00\x02"
                             "\x00\x03\x01\x22\0"), &pic)
       == MEDIA_PICTURE_OK && strcmp(pic.type, "jpeg") == 0
       && pic.width == 512 && pic.height == 256, "JPEG 512x256 past APP0");

    /* progressive (SOF2) after a DHT, which is C4 and not a frame */
    ok(media_picture_probe(U("\xff\xd8\xff\xc4\x00\x04\0\0\xff\xc2\x00\x11"
                             "\x08\x00\x20\x00\x40\x03"), &pic)
       == MEDIA_PICTURE_OK && pic.width == 64 && pic.height == 32,
       "JPEG SOF2 64x32 after a DHT");

    ok(media_picture_probe(U("\xff\xd8\xff\xda\x00\x04\0\0"), &pic)
       == MEDIA_PICTURE_BROKEN, "JPEG scan before a frame header: broken");
    ok(media_picture_probe(U("\xff\xd8\xff\xe1\x00\x01"), &pic)
       == MEDIA_PICTURE_BROKEN, "JPEG segment length 1: broken");
    ok(media_picture_probe(U("\xff\xd8\xff\xe1\x00\x40" "abc"), &pic)
       == MEDIA_PICTURE_FAR, "JPEG cut in a segment: its size is further");

    /* a 65 KB EXIF segment, then SOF0: found */
    memset(big, 0, sizeof(big));
    memcpy(big, "\xff\xd8\xff\xe1\xff\xfe", 6);
    n = 4 + 0xfffe;
    memcpy(big + n, "\xff\xc0\x00\x11\x08\x1f\x40\x1f\x40\x03", 10);
    ok(media_picture_probe(big, n + 10, &pic) == MEDIA_PICTURE_OK
       && pic.width == 8000 && pic.height == 8000,
       "JPEG 8000x8000 past 64 KB of EXIF");
    ok(media_picture_probe(big, n, &pic) == MEDIA_PICTURE_FAR,
       "the same cut before its frame header: further");

    ok(media_picture_probe(U("GIF89a\x01\0\x01\0"), &pic) == MEDIA_PICTURE_NOT,
       "GIF: not a JPEG or PNG");
    ok(media_picture_probe(U("<svg/>"), &pic) == MEDIA_PICTURE_NOT, "SVG: not");
    ok(media_picture_probe(U(""), &pic) == MEDIA_PICTURE_NOT, "nothing: not");
    ok(media_picture_probe(U("\xff\xd8"), &pic) == MEDIA_PICTURE_NOT,
       "two bytes of SOI alone: not");

    return done_testing();
}
