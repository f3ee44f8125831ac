/*
 * The export formats' table and the enhance presets: lookups by name,
 * the rates each codec takes, the nearest rate to a source's, and the
 * lists as the 422 messages write them.
 */

#include <string.h>

#include "tap.h"
#include "media_export.h"


#define S(s)  (s), sizeof(s) - 1


int
main(void)
{
    char                          buf[256];
    size_t                        n;
    const media_export_codec_t   *c;
    const media_export_format_t  *f;

    f = media_export_format(S("ogg"));
    ok(f && strcmp(f->muxer, "ogg") == 0, "ogg found");
    ok(media_export_format(S("og")) == NULL, "a prefix is no format");
    ok(media_export_format(S("oggg")) == NULL, "nor a longer name");
    ok(media_export_format(S("MP3")) == NULL, "names are lowercase");

    ok(f && media_export_codec(f, NULL, 0) == f->codecs[0]
       && strcmp(f->codecs[0]->name, "vorbis") == 0, "ogg: vorbis by default");
    c = f ? media_export_codec(f, S("opus")) : NULL;
    ok(c && strcmp(c->encoder, "libopus") == 0, "ogg: opus by libopus");
    ok(f && media_export_codec(f, S("aac")) == NULL, "ogg: no aac");

    ok(c && media_export_allowed(c->sample_rates, 48000)
       && !media_export_allowed(c->sample_rates, 44100),
       "opus: 48 kHz only");
    ok(media_export_rate(c, 44100) == 48000, "opus: a 44.1 kHz source to 48");

    f = media_export_format(S("mp3"));
    c = f ? f->codecs[0] : NULL;
    ok(c && media_export_allowed(c->bitrates, 320000)
       && !media_export_allowed(c->bitrates, 100000),
       "mp3: 320000 b/s, not 100000");
    ok(c && media_export_rate(c, 44100) == 44100, "mp3: 44.1 kHz kept");
    ok(c && media_export_rate(c, 96000) == 48000, "mp3: 96 kHz to 48");
    ok(c && media_export_rate(c, 7000) == 8000, "mp3: 7 kHz to 8");

    f = media_export_format(S("wav"));
    ok(f && f->codecs[0]->bitrates == NULL && f->video == NULL,
       "wav: lossless, no picture");
    f = media_export_format(S("webm"));
    ok(f && strcmp(f->video, "vp9") == 0
       && strcmp(f->codecs[0]->name, "opus") == 0, "webm: vp9 and opus");

    n = media_export_list(media_export_format(S("mp3"))->codecs[0]->bitrates,
                          buf, sizeof(buf));
    ok(n == strlen(buf) && strncmp(buf, "32000, 40000, ", 14) == 0
       && strstr(buf, ", 256000 or 320000") != NULL, "list: %s", buf);

    n = media_export_list(media_export_format(S("mp3"))->codecs[0]->bitrates,
                          buf, 20);
    ok(n < 20 && strlen(buf) == n, "list: cut to fit: %s", buf);

    n = media_export_names(buf, sizeof(buf));
    is_str(buf, n, "mp3, wav, flac, ogg, m4a, mp4 or webm", "names");

    ok(media_enhance_find(S("loudness")) == 3
       && media_enhance_presets[3].filter == NULL,
       "loudness: the exporter's two passes, not a filter");
    ok(media_enhance_find(S("sharpen")) >= 0
       && media_enhance_presets[media_enhance_find(S("sharpen"))].video,
       "sharpen: the picture's");
    ok(media_enhance_find(S("reverb")) == -1, "no reverb");
    ok(media_enhance_find(S("loud")) == -1, "no prefix");

    return done_testing();
}
