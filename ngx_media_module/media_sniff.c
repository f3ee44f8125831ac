/*
 * Container signatures.  Each is a fixed byte string at a fixed offset,
 * from the formats' own specifications (ISO BMFF "ftyp", RIFF, EBML, ...).
 */

#include <string.h>

#include "media_sniff.h"


typedef struct {
    const char  *name;
    size_t       offset;
    const char  *magic;
    size_t       len;
} media_magic_t;


static const media_magic_t  media_magics[] = {
    { "mp4", 4, "ftyp", 4 },                   /* mp4, m4a, mov, 3gp */
    { "mov", 4, "moov", 4 },
    { "mov", 4, "mdat", 4 },
    { "mov", 4, "wide", 4 },
    { "matroska", 0, "\x1a\x45\xdf\xa3", 4 },  /* mkv, webm */
    { "wav", 8, "WAVE", 4 },                   /* RIFF....WAVE */
    { "avi", 8, "AVI ", 4 },
    { "aiff", 8, "AIFF", 4 },                  /* FORM....AIFF */
    { "aiff", 8, "AIFC", 4 },
    { "flac", 0, "fLaC", 4 },
    { "ogg", 0, "OggS", 4 },
    { "mp3", 0, "ID3", 3 },
    { "flv", 0, "FLV\x01", 4 },
    { "asf", 0, "\x30\x26\xb2\x75\x8e\x66\xcf\x11", 8 },
    { "mpeg", 0, "\x00\x00\x01\xba", 4 },      /* MPEG program stream */
    { "caf", 0, "caff", 4 },
    { "amr", 0, "#!AMR", 5 },
    { "w64", 0, "riff\x2e\x91\xcf\x11", 8 },
};


const char *
media_sniff(const unsigned char *p, size_t len)
{
    size_t                i;
    const media_magic_t  *m;

    for (i = 0; i < sizeof(media_magics) / sizeof(media_magics[0]); i++) {
        m = &media_magics[i];

        if (len >= m->offset + m->len
            && memcmp(p + m->offset, m->magic, m->len) == 0)
        {
            /* RIFF and FORM need their outer tag too */
            if (m->offset == 8 && memcmp(p, "RIFF", 4) != 0
                && memcmp(p, "FORM", 4) != 0)
            {
                continue;
            }

            return m->name;
        }
    }

    /* MPEG-TS: a sync byte every 188 bytes */
    if (len >= 189 && p[0] == 0x47 && p[188] == 0x47) {
        return "mpegts";
    }

    /* MPEG audio or ADTS AAC without a tag: an 11/12-bit frame sync */
    if (len >= 2 && p[0] == 0xff && (p[1] & 0xe0) == 0xe0
        && (p[1] & 0x06) != 0x00)
    {
        return "mp3";
    }

    if (len >= 2 && p[0] == 0xff && (p[1] & 0xf6) == 0xf0) {
        return "aac";
    }

    return NULL;
}
