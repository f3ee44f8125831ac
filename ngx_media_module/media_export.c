/*
 * The export formats' table and the enhance presets (see media_export.h).
 *
 * The lists are what each encoder takes and what players read back as
 * asked: MPEG-1/2/2.5 Layer III's bitrates and rates for LAME; Opus is
 * always decoded at 48 kHz (RFC 7845 section 5.1), so an Opus file is
 * 48 kHz whatever it was made from; WAV and FLAC are lossless, so no
 * bitrate applies.
 */

#include <stdio.h>
#include <string.h>

#include "media_export.h"


static const int  media_mp3_rates[] = {
    32000, 40000, 48000, 56000, 64000, 80000, 96000, 112000, 128000, 160000,
    192000, 224000, 256000, 320000, 0
};

static const int  media_mp3_hz[] = {
    8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 0
};

static const int  media_pcm_hz[] = {
    8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400,
    192000, 0
};

static const int  media_vorbis_rates[] = {
    64000, 96000, 128000, 160000, 192000, 224000, 256000, 320000, 0
};

static const int  media_lossy_hz[] = {
    16000, 22050, 24000, 32000, 44100, 48000, 0
};

static const int  media_opus_rates[] = {
    32000, 48000, 64000, 96000, 128000, 160000, 192000, 256000, 0
};

static const int  media_opus_hz[] = { 48000, 0 };

static const int  media_aac_rates[] = {
    64000, 96000, 128000, 160000, 192000, 256000, 320000, 0
};

static const int  media_aac_hz[] = {
    16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000, 0
};


static const media_export_codec_t  media_mp3 =
    { "mp3", "libmp3lame", media_mp3_rates, 192000, media_mp3_hz };
static const media_export_codec_t  media_pcm =
    { "pcm_s16le", "pcm_s16le", NULL, 0, media_pcm_hz };
static const media_export_codec_t  media_flac =
    { "flac", "flac", NULL, 0, media_pcm_hz };
static const media_export_codec_t  media_vorbis =
    { "vorbis", "libvorbis", media_vorbis_rates, 160000, media_lossy_hz };
static const media_export_codec_t  media_opus =
    { "opus", "libopus", media_opus_rates, 128000, media_opus_hz };
static const media_export_codec_t  media_aac =
    { "aac", "aac", media_aac_rates, 192000, media_aac_hz };


const media_export_format_t  media_export_formats[MEDIA_EXPORT_FORMATS] = {
    { "mp3", "mp3", "audio/mpeg", NULL, NULL, { &media_mp3, NULL } },
    { "wav", "wav", "audio/wav", NULL, NULL, { &media_pcm, NULL } },
    { "flac", "flac", "audio/flac", NULL, NULL, { &media_flac, NULL } },
    { "ogg", "ogg", "audio/ogg", NULL, NULL, { &media_vorbis, &media_opus } },
    { "m4a", "ipod", "audio/mp4", NULL, NULL, { &media_aac, NULL } },
    { "mp4", "mp4", "video/mp4", "h264", "libx264", { &media_aac, NULL } },
    { "webm", "webm", "video/webm", "vp9", "libvpx-vp9",
      { &media_opus, NULL } },
};


const media_enhance_t  media_enhance_presets[MEDIA_ENHANCE_N] = {
    { "rumble", 0, "highpass=f=80",
      "cuts rumble and hum below 80 Hz (a high-pass filter)" },
    { "denoise", 0, "afftdn=nr=20:nf=-40:tn=1",
      "lowers steady background noise (hiss, fans) by up to 20 dB" },
    { "voice", 0, "highpass=f=100,lowpass=f=8000,"
                  "acompressor=threshold=0.1:ratio=3:attack=10:release=200:"
                  "makeup=2",
      "speech: keeps the voice band (100 Hz to 8 kHz) and evens out its "
      "level with a compressor" },
    { "loudness", 0, NULL,
      "brings the sound to -14 LUFS (EBU R128), measured in a first pass, "
      "peaks held at -1 dBTP" },
    { "video_denoise", 1, "hqdn3d",
      "lowers grain and noise in the picture" },
    { "sharpen", 1, "unsharp=5:5:0.8",
      "sharpens the picture (an unsharp mask)" },
};


const media_export_format_t *
media_export_format(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < MEDIA_EXPORT_FORMATS; i++) {
        if (strlen(media_export_formats[i].name) == len
            && memcmp(media_export_formats[i].name, name, len) == 0)
        {
            return &media_export_formats[i];
        }
    }

    return NULL;
}


const media_export_codec_t *
media_export_codec(const media_export_format_t *f, const char *name,
    size_t len)
{
    int  i;

    if (name == NULL) {
        return f->codecs[0];
    }

    for (i = 0; i < 2 && f->codecs[i]; i++) {
        if (strlen(f->codecs[i]->name) == len
            && memcmp(f->codecs[i]->name, name, len) == 0)
        {
            return f->codecs[i];
        }
    }

    return NULL;
}


int
media_enhance_find(const char *name, size_t len)
{
    int  i;

    for (i = 0; i < MEDIA_ENHANCE_N; i++) {
        if (strlen(media_enhance_presets[i].name) == len
            && memcmp(media_enhance_presets[i].name, name, len) == 0)
        {
            return i;
        }
    }

    return -1;
}


int
media_export_allowed(const int *list, int v)
{
    for ( /* void */ ; *list; list++) {
        if (*list == v) {
            return 1;
        }
    }

    return 0;
}


size_t
media_export_list(const int *list, char *buf, size_t size)
{
    int     n;
    size_t  len;

    len = 0;
    buf[0] = '\0';

    for ( /* void */ ; *list && len < size; list++) {
        n = snprintf(buf + len, size - len, "%s%d",
                     len == 0 ? "" : (list[1] ? ", " : " or "), *list);
        if (n < 0 || (size_t) n >= size - len) {
            break;
        }
        len += n;
    }

    return len;
}


size_t
media_export_names(char *buf, size_t size)
{
    int     i, n;
    size_t  len;

    len = 0;
    buf[0] = '\0';

    for (i = 0; i < MEDIA_EXPORT_FORMATS; i++) {
        n = snprintf(buf + len, size - len, "%s%s",
                     i == 0 ? "" : (i + 1 < MEDIA_EXPORT_FORMATS ? ", "
                                                                 : " or "),
                     media_export_formats[i].name);
        if (n < 0 || (size_t) n >= size - len) {
            break;
        }
        len += n;
    }

    return len;
}


int
media_export_rate(const media_export_codec_t *c, int source)
{
    int         best, d, bd;
    const int  *r;

    best = 48000;
    bd = -1;

    for (r = c->sample_rates; *r; r++) {
        d = *r > source ? *r - source : source - *r;
        if (bd < 0 || d < bd) {
            best = *r;
            bd = d;
        }
    }

    return best;
}
