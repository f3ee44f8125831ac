/*
 * The public pages' text: escaping for HTML text and attributes, which
 * media an oEmbed url names (and which urls are bad or foreign), handles.
 */

#include <string.h>

#include "tap.h"
#include "media_html.h"


#define S(s)  (s), sizeof(s) - 1

#define H     "media.example:8080"
#define ID    "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


int
main(void)
{
    int       rc;
    char      buf[256], id[37];
    size_t    n;
    unsigned  w, h;

    n = media_html_escape(buf, S("plain text"));
    is_str(buf, n, "plain text", "plain text unchanged");

    n = media_html_escape(buf, S("<script>alert('x')</script> & \"q\""));
    is_str(buf, n, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; "
           "&quot;q&quot;", "the five characters escaped");
    ok(media_html_escape(NULL, S("<a href=\"x\">")) == 28,
       "counting gives the written length");

    n = media_html_escape(buf, S("caf\xc3\xa9 &amp;"));
    is_str(buf, n, "caf\xc3\xa9 &amp;amp;", "UTF-8 kept, an entity escaped "
           "again (text, not markup)");

    ok(media_html_escape(buf, "", 0) == 0, "empty");

    rc = media_oembed_url(S("https://" H "/m/" ID), S(H), id);
    ok(rc == MEDIA_OEMBED_OK && strcmp(id, ID) == 0, "a share link");

    rc = media_oembed_url(S("http://MEDIA.example:8080/embed/"
                            "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D?t=3"),
                          S(H), id);
    ok(rc == MEDIA_OEMBED_OK && strcmp(id, ID) == 0,
       "an embed link, host and id in capitals, a query: id in lowercase");

    rc = media_oembed_url(S("https://" H "/m/" ID "#c"), S(H), id);
    ok(rc == MEDIA_OEMBED_OK, "a fragment");

    ok(media_oembed_url(S("ftp://" H "/m/" ID), S(H), id) == MEDIA_OEMBED_BAD,
       "ftp: bad");
    ok(media_oembed_url(S("not a url"), S(H), id) == MEDIA_OEMBED_BAD,
       "no scheme: bad");
    ok(media_oembed_url(S("https:///m/" ID), S(H), id) == MEDIA_OEMBED_BAD,
       "no host: bad");
    ok(media_oembed_url(S("https://evil@" H "/m/" ID), S(H), id)
       == MEDIA_OEMBED_BAD, "user info: bad");
    ok(media_oembed_url(S("https://other.example/m/" ID), S(H), id)
       == MEDIA_OEMBED_FOREIGN, "another host: foreign");
    ok(media_oembed_url(S("https://" H ".evil/m/" ID), S(H), id)
       == MEDIA_OEMBED_FOREIGN, "a host that starts like ours: foreign");
    ok(media_oembed_url(S("https://" H "/u/" ID), S(H), id)
       == MEDIA_OEMBED_FOREIGN, "a profile: not a media's page");
    ok(media_oembed_url(S("https://" H "/m/" ID "x"), S(H), id)
       == MEDIA_OEMBED_FOREIGN, "a longer id");
    ok(media_oembed_url(S("https://" H "/m/0a1b2c3d"), S(H), id)
       == MEDIA_OEMBED_FOREIGN, "a shorter id");
    ok(media_oembed_url(S("https://" H "/m/0a1b2c3d+4e5f-4a6b-8c7d-"
                          "9e0f1a2b3c4d"), S(H), id)
       == MEDIA_OEMBED_FOREIGN, "a malformed id");

    ok(media_handle_norm(buf, S("Ann_Lee2")) && memcmp(buf, "ann_lee2", 8) == 0,
       "a handle in capitals: lowercase");
    ok(!media_handle_norm(buf, S("ab")), "2 characters: refused");
    ok(media_handle_norm(buf, S("abc")), "3 characters");
    ok(media_handle_norm(buf, S("abcdefghijabcdefghijabcdefghij")),
       "30 characters");
    ok(!media_handle_norm(buf, S("abcdefghijabcdefghijabcdefghijk")),
       "31 characters: refused");
    ok(!media_handle_norm(buf, S("ann lee")), "a space: refused");
    ok(!media_handle_norm(buf, S("ann-lee")), "a dash: refused");
    ok(!media_handle_norm(buf, S("\xc3\xa9tienne")), "non-ASCII: refused");

    media_embed_size(1280, 720, 1, 0, 0, &w, &h);
    ok(w == 640 && h == 360, "a 16:9 video: 640x360 (%ux%u)", w, h);
    media_embed_size(720, 1280, 1, 0, 0, &w, &h);
    ok(w == 640 && h == 1137, "a portrait video: 640x1137 (%ux%u)", w, h);
    media_embed_size(720, 1280, 1, 0, 400, &w, &h);
    ok(w == 225 && h == 400, "  in maxheight 400: 225x400 (%ux%u)", w, h);
    media_embed_size(1280, 720, 1, 320, 0, &w, &h);
    ok(w == 320 && h == 180, "maxwidth 320: 320x180 (%ux%u)", w, h);
    media_embed_size(0, 0, 1, 0, 0, &w, &h);
    ok(w == 640 && h == 360, "no picture size known: 16:9 (%ux%u)", w, h);
    media_embed_size(0, 0, 0, 300, 50, &w, &h);
    ok(w == 300 && h == 50, "audio in 300x50: 300x50 (%ux%u)", w, h);
    media_embed_size(0, 0, 0, 1000, 1000, &w, &h);
    ok(w == 640 && h == 120, "audio: never larger than 640x120 (%ux%u)", w, h);
    media_embed_size(4000, 1, 1, 0, 0, &w, &h);
    ok(w == 640 && h == 1, "a sliver: at least 1 high (%ux%u)", w, h);

    return done_testing();
}
