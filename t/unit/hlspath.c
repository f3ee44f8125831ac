/*
 * media_hlspath: every shape a playback request may take, and the paths
 * that must never reach a file (rungs.txt, directories, dotfiles, work
 * directories, uppercase ids, long or unknown names).
 */

#include "tap.h"
#include "media_hlspath.h"


#define TOK  "AQEAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.sig"
#define ID   "0f1e2d3c-4b5a-4697-8877-665544332211"
#define PRE  TOK "/" ID "/"


static int
parse(const char *path, media_hls_path_t *hp)
{
    return media_hls_path_parse(path, strlen(path), hp);
}


static void
accepted(const char *rest, media_hls_kind_e kind, const char *rung,
    unsigned side)
{
    char              path[512];
    media_hls_path_t  hp;

    snprintf(path, sizeof(path), PRE "%s", rest);

    if (parse(path, &hp) != 0) {
        ok(0, "accepted: %s (refused: %s)", rest, hp.error);
        return;
    }

    ok(hp.kind == kind
       && hp.token_len == sizeof(TOK) - 1 && memcmp(hp.token, TOK,
                                                    hp.token_len) == 0
       && hp.id == path + sizeof(TOK) && memcmp(hp.id, ID, 36) == 0
       && hp.media[0] == 0x0f && hp.media[15] == 0x11
       && hp.file_len == strlen(rest) && memcmp(hp.file, rest,
                                                hp.file_len) == 0
       && hp.error == NULL,
       "accepted: %s, kind %d, file and id", rest, (int) kind);

    if (rung) {
        ok(hp.rung && hp.rung_len == strlen(rung)
           && memcmp(hp.rung, rung, hp.rung_len) == 0
           && hp.rung_side == side,
           "  rung %s, side %u", rung, side);
    } else {
        ok(hp.rung == NULL && hp.rung_len == 0 && hp.rung_side == 0,
           "  no rung");
    }
}


static void
refused(const char *path, size_t len, const char *why, const char *name)
{
    media_hls_path_t  hp;
    int               rc;

    rc = media_hls_path_parse(path, len, &hp);

    ok(rc == -1 && hp.error && strstr(hp.error, why) != NULL,
       "refused: %s (%s)", name, hp.error ? hp.error : "accepted");
}


#define REFUSED(path, why)  refused(path, strlen(path), why, path)

#define NOT_FILE  "not a playback file"
#define NOT_UUID  "not a UUID"


int
main(void)
{
    unsigned          side;
    char              big[1024];
    media_hls_path_t  hp;

    /* --- every accepted shape ------------------------------------------ */

    accepted("master.m3u8", MEDIA_HLS_MASTER, NULL, 0);
    accepted("poster.jpg", MEDIA_HLS_POSTER, NULL, 0);
    accepted("poster.png", MEDIA_HLS_POSTER, NULL, 0);
    accepted("waveform.json", MEDIA_HLS_WAVEFORM, NULL, 0);
    accepted("cover-512.jpg", MEDIA_HLS_COVER, NULL, 0);
    accepted("cover-128.jpg", MEDIA_HLS_COVER, NULL, 0);
    accepted("thumbs.jpg", MEDIA_HLS_THUMBS, NULL, 0);
    accepted("thumbs.vtt", MEDIA_HLS_THUMBS, NULL, 0);
    accepted("720p/index.m3u8", MEDIA_HLS_PLAYLIST, "720p", 720);
    accepted("1080p/index.m3u8", MEDIA_HLS_PLAYLIST, "1080p", 1080);
    accepted("360p/seg_00000.ts", MEDIA_HLS_SEGMENT, "360p", 360);
    accepted("480p/seg_00042.ts", MEDIA_HLS_SEGMENT, "480p", 480);
    accepted("1080p/seg_123456789.ts", MEDIA_HLS_SEGMENT, "1080p", 1080);
    accepted("1080p/seg_7.ts", MEDIA_HLS_SEGMENT, "1080p", 1080);

    /* a transcode's generation (progressive publishing) */
    accepted("g1/720p/index.m3u8", MEDIA_HLS_PLAYLIST, "720p", 720);
    accepted("g42/a128/seg_00003.ts", MEDIA_HLS_SEGMENT, "a128", 0);
    accepted("g123456789/360p/seg_00000.ts", MEDIA_HLS_SEGMENT, "360p",
             360);
    parse(PRE "g7/1080p/seg_00001.ts", &hp);
    ok(hp.gen && hp.gen_len == 2 && memcmp(hp.gen, "g7", 2) == 0,
       "  generation g7");
    parse(PRE "720p/seg_00001.ts", &hp);
    ok(hp.gen == NULL && hp.gen_len == 0, "  no generation");
    accepted("226p/seg_00001.ts", MEDIA_HLS_SEGMENT, "226p", 226);
    accepted("9999p/index.m3u8", MEDIA_HLS_PLAYLIST, "9999p", 9999);
    accepted("a64/index.m3u8", MEDIA_HLS_PLAYLIST, "a64", 0);
    accepted("a128/seg_00003.ts", MEDIA_HLS_SEGMENT, "a128", 0);
    accepted("a256/index.m3u8", MEDIA_HLS_PLAYLIST, "a256", 0);

    ok(parse("c/" ID "/master.m3u8", &hp) == 0 && hp.token_len == 1
       && hp.token[0] == 'c', "cookie mode: \"c\" in the token's place");

    /* the token is the token parser's business, only its length is ours */
    ok(parse("short/" ID "/master.m3u8", &hp) == 0 && hp.token_len == 5,
       "a short token is left to the token check");

    memset(big, 'A', 128);
    snprintf(big + 128, sizeof(big) - 128, "/" ID "/master.m3u8");
    ok(parse(big, &hp) == 0 && hp.token_len == 128,
       "a 128-byte token is left to the token check");

    /* --- the media's other files ---------------------------------------- */

    REFUSED(PRE "rungs.txt", NOT_FILE);
    REFUSED(PRE "cover-256.jpg", NOT_FILE);
    REFUSED(PRE "cover.jpg", NOT_FILE);
    REFUSED(PRE "thumbs.png", NOT_FILE);
    REFUSED(PRE "720p/thumbs.vtt", NOT_FILE);
    REFUSED(PRE "1080p", NOT_FILE);
    REFUSED(PRE "720p", NOT_FILE);
    REFUSED(PRE "720p/", NOT_FILE);
    REFUSED(PRE "a128", NOT_FILE);
    REFUSED(PRE "index.m3u8", NOT_FILE);
    REFUSED(PRE "seg_00000.ts", NOT_FILE);
    REFUSED(PRE "poster.gif", NOT_FILE);
    REFUSED(PRE "poster.jpg/", NOT_FILE);
    REFUSED(PRE "master.m3u8/", NOT_FILE);
    REFUSED(PRE "master.m3u", NOT_FILE);
    REFUSED(PRE "master.m3u8x", NOT_FILE);
    REFUSED(PRE "Master.m3u8", NOT_FILE);
    REFUSED(PRE "waveform.json.tmp", NOT_FILE);
    REFUSED(PRE "720p/index.m3u8.tmp", NOT_FILE);
    REFUSED(PRE "720p/rungs.txt", NOT_FILE);
    REFUSED(PRE "720p/master.m3u8", NOT_FILE);
    REFUSED(PRE "720p/poster.jpg", NOT_FILE);
    REFUSED(PRE "720p/seg_.ts", NOT_FILE);
    REFUSED(PRE "720p/seg_1234567890.ts", NOT_FILE);
    REFUSED(PRE "720p/seg_0001a.ts", NOT_FILE);
    REFUSED(PRE "720p/seg_00001.TS", NOT_FILE);
    REFUSED(PRE "720p/seg_00001.ts/", NOT_FILE);
    REFUSED(PRE "720p/seg_00001.tsx", NOT_FILE);
    REFUSED(PRE "720p/seg_-0001.ts", NOT_FILE);
    REFUSED(PRE "720p/seg_ 0001.ts", NOT_FILE);
    REFUSED(PRE "720p/SEG.TS", NOT_FILE);
    REFUSED(PRE "720p/index.m3u8/seg_00001.ts", NOT_FILE);
    REFUSED(PRE "720p/720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "720p//index.m3u8", NOT_FILE);

    /* rung names: one spelling each */
    REFUSED(PRE "0720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "0p/index.m3u8", NOT_FILE);
    REFUSED(PRE "p/index.m3u8", NOT_FILE);
    REFUSED(PRE "720/index.m3u8", NOT_FILE);
    REFUSED(PRE "720P/index.m3u8", NOT_FILE);
    REFUSED(PRE "10000p/index.m3u8", NOT_FILE);
    REFUSED(PRE "4294967297p/index.m3u8", NOT_FILE);
    REFUSED(PRE "a/index.m3u8", NOT_FILE);
    REFUSED(PRE "a0/index.m3u8", NOT_FILE);
    REFUSED(PRE "a064/index.m3u8", NOT_FILE);
    REFUSED(PRE "A128/index.m3u8", NOT_FILE);
    REFUSED(PRE "a128p/index.m3u8", NOT_FILE);
    REFUSED(PRE "+720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "-720p/index.m3u8", NOT_FILE);

    /* dotfiles, escapes, work directories */
    REFUSED(PRE ".", NOT_FILE);
    REFUSED(PRE "..", NOT_FILE);
    REFUSED(PRE ".hidden", NOT_FILE);
    REFUSED(PRE ".master.m3u8", NOT_FILE);
    REFUSED(PRE "./master.m3u8", NOT_FILE);
    REFUSED(PRE "../master.m3u8", NOT_FILE);
    REFUSED(PRE "720p/.", NOT_FILE);
    REFUSED(PRE "720p/..", NOT_FILE);
    REFUSED(PRE "g0/720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "g01/720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "g/720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "G1/720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "g1234567890/720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "g1/master.m3u8", NOT_FILE);
    REFUSED(PRE "g1/poster.jpg", NOT_FILE);
    REFUSED(PRE "g1/rungs.txt", NOT_FILE);
    REFUSED(PRE "g1/done", NOT_FILE);
    REFUSED(PRE "g1/g2/720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "g1/720p/index.m3u8.tmp", NOT_FILE);
    REFUSED(PRE "g1/720p/seg_00001.ts.tmp", NOT_FILE);
    REFUSED(PRE "g1//720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "g1/../720p/index.m3u8", NOT_FILE);
    REFUSED(PRE "720p/.index.m3u8", NOT_FILE);
    REFUSED(PRE "720p/../rungs.txt", NOT_FILE);
    REFUSED(PRE "720p/../../x", NOT_FILE);
    REFUSED(TOK "/." ID ".4242/master.m3u8", NOT_UUID);
    REFUSED(TOK "/." ID ".4242/720p/index.m3u8", NOT_UUID);
    REFUSED(TOK "/" ID ".old.4242/master.m3u8", NOT_UUID);
    REFUSED(TOK "/../" ID "/master.m3u8", NOT_UUID);
    REFUSED(TOK "/" ID "/../" ID "/master.m3u8", NOT_FILE);
    refused(PRE "master.m3u8\0.jpg", sizeof(PRE "master.m3u8\0.jpg") - 1,
            NOT_FILE, "a NUL in the name");
    refused(PRE "720p\0/index.m3u8", sizeof(PRE "720p\0/index.m3u8") - 1,
            NOT_FILE, "a NUL in the rung");

    /* --- the media id: a lowercase UUID --------------------------------- */

    REFUSED(TOK "/0F1E2D3C-4B5A-4697-8877-665544332211/master.m3u8",
            "must be lowercase");
    REFUSED(TOK "/0f1e2d3c-4b5a-4697-8877-66554433221A/720p/index.m3u8",
            "must be lowercase");
    REFUSED(TOK "/0f1e2d3c-4b5a-4697-8877-66554433221g/master.m3u8",
            NOT_UUID);
    REFUSED(TOK "/0f1e2d3c-4b5a-4697-8877-66554433221/master.m3u8",
            NOT_UUID);
    REFUSED(TOK "/0f1e2d3c-4b5a-4697-8877-6655443322111/master.m3u8",
            NOT_UUID);
    REFUSED(TOK "/0f1e2d3c4b5a-4697-8877-6655443322111/master.m3u8",
            NOT_UUID);
    REFUSED(TOK "/0f1e2d3c-4b5a-4697-8877_665544332211/master.m3u8",
            NOT_UUID);
    REFUSED(TOK "/{f1e2d3c-4b5a-4697-8877-665544332211/master.m3u8",
            NOT_UUID);
    REFUSED(TOK "//master.m3u8", NOT_UUID);
    REFUSED(TOK "/" ID, "expected <token>/<media id>/<file>");
    REFUSED(TOK "/" ID "/", "expected a file");

    /* --- the token ------------------------------------------------------- */

    REFUSED("", "expected <token>/");
    REFUSED("/", "expected <token>/");
    REFUSED("/" ID "/master.m3u8", "expected <token>/");
    REFUSED(TOK, "expected <token>/");
    REFUSED(ID "/master.m3u8", "expected <token>/<media id>/<file>");

    memset(big, 'A', 129);
    snprintf(big + 129, sizeof(big) - 129, "/" ID "/master.m3u8");
    REFUSED(big, "longer than any playback token");

    /* --- over-long names ----------------------------------------------- */

    memset(big, 0, sizeof(big));
    snprintf(big, sizeof(big), PRE "720p/seg_");
    memset(big + strlen(big), '0', 300);
    strcat(big, ".ts");
    REFUSED(big, "too long");

    snprintf(big, sizeof(big), PRE);
    memset(big + strlen(big), 'a', 500);
    REFUSED(big, "too long");

    snprintf(big, sizeof(big), PRE "720p/seg_00000.ts");
    memset(big + strlen(big), '/', 60);
    REFUSED(big, "too long");

    /* --- rungs ---------------------------------------------------------- */

    ok(media_hls_rung_parse("720p", 4, &side) == 0 && side == 720, "720p");
    ok(media_hls_rung_parse("a128", 4, &side) == 0 && side == 0,
       "a128: audio, side 0");
    ok(media_hls_rung_parse("720", 3, &side) == -1, "720: no");
    ok(media_hls_rung_parse("", 0, &side) == -1, "empty: no");
    ok(media_hls_rung_parse("p", 1, &side) == -1, "p: no");
    ok(media_hls_rung_parse("a", 1, &side) == -1, "a: no");

    ok(media_hls_rung_allowed(720, 720), "720p under 720: allowed");
    ok(media_hls_rung_allowed(360, 720), "360p under 720: allowed");
    ok(!media_hls_rung_allowed(1080, 720), "1080p under 720: not allowed");
    ok(!media_hls_rung_allowed(721, 720), "721p under 720: not allowed");
    ok(media_hls_rung_allowed(1080, 0), "1080p under 0 (all): allowed");
    ok(media_hls_rung_allowed(0, 360), "audio under 360: allowed");

    ok(media_hls_rung_known(1080) && media_hls_rung_known(720)
       && media_hls_rung_known(480) && media_hls_rung_known(360),
       "the transcoder's rungs are known");
    ok(!media_hls_rung_known(0) && !media_hls_rung_known(700)
       && !media_hls_rung_known(2160) && !media_hls_rung_known(226),
       "others are not");

    /* --- the master's order --------------------------------------------- */

    {
        size_t               order[4];
        media_hls_variant_t  video[4] = {
            { 1080, 0, 5000000 }, { 720, 0, 2800000 }, { 480, 0, 1400000 },
            { 360, 0, 800000 } };
        media_hls_variant_t  audio[3] = {
            { 0, 64, 70000 }, { 0, 128, 140000 }, { 0, 256, 280000 } };
        media_hls_variant_t  capped[2] = {
            { 720, 0, 2800000 }, { 1080, 0, 5000000 } };
        media_hls_variant_t  high[2] = {
            { 0, 320, 330000 }, { 0, 192, 200000 } };

        media_hls_master_order(video, 4, order);
        ok(order[0] == 2 && order[1] == 3 && order[2] == 1 && order[3] == 0,
           "video: 480p first, then 360p, 720p, 1080p (got %zu %zu %zu %zu)",
           order[0], order[1], order[2], order[3]);

        media_hls_master_order(video + 2, 2, order);
        ok(order[0] == 0 && order[1] == 1,
           "a token capped at 480p: 480p, 360p");

        media_hls_master_order(video + 3, 1, order);
        ok(order[0] == 0, "one rung: itself");

        media_hls_master_order(audio, 3, order);
        ok(order[0] == 1 && order[1] == 0 && order[2] == 2,
           "audio: a128 first, then a64, a256");

        media_hls_master_order(capped, 2, order);
        ok(order[0] == 0 && order[1] == 1,
           "nothing at or under 480p: the lowest (720p) first");

        media_hls_master_order(high, 2, order);
        ok(order[0] == 1 && order[1] == 0,
           "nothing at or under 128 kbit/s: the lowest (a192) first");
    }

    return done_testing();
}
