/*
 * media_dltoken: download-link tokens (signing, rotation, every refusal),
 * Range starts and Content-Disposition.
 */

#include "tap.h"
#include "media_dltoken.h"


#define NOW  1700000000L


static void
tokens(void)
{
    size_t             n, i, refused;
    char               text[MEDIA_DLTOKEN_LEN + 1], bad[MEDIA_DLTOKEN_LEN + 1];
    media_dltoken_t    t, got;
    media_token_key_t  cur, prev, other, keys[2], old[1];

    if (media_token_key(&cur, (unsigned char *) "current-key-current-key!",
                        24) != 0
        || media_token_key(&prev, (unsigned char *) "previous-key-previous!!",
                           23) != 0
        || media_token_key(&other, (unsigned char *) "another-key-another-key",
                           23) != 0)
    {
        ok(0, "keys");
        return;
    }

    memset(&t, 0, sizeof(t));
    t.expires = NOW + 3600;
    memset(t.link, 0x11, 16);
    memset(t.user, 0x22, 16);
    memset(t.asset, 0x33, 16);
    t.asset_kind = MEDIA_DL_ASSET_EXPORT;
    t.grant = MEDIA_DL_GRANT_PURCHASE;

    keys[0] = cur;
    keys[1] = prev;

    n = media_dltoken_sign(&cur, &t, text);
    ok(n == MEDIA_DLTOKEN_LEN && text[75] == '.', "signed: %zu characters",
       n);

    memset(&got, 0, sizeof(got));
    ok(media_dltoken_verify(keys, 2, text, n, NOW, &got) == MEDIA_TOKEN_OK
       && got.expires == t.expires && memcmp(got.link, t.link, 16) == 0
       && memcmp(got.user, t.user, 16) == 0
       && memcmp(got.asset, t.asset, 16) == 0
       && got.asset_kind == MEDIA_DL_ASSET_EXPORT
       && got.grant == MEDIA_DL_GRANT_PURCHASE,
       "verified, every field read back");

    ok(media_dltoken_verify(keys, 2, text, n, NOW + 3600, &got)
       == MEDIA_TOKEN_EXPIRED && got.expires == t.expires,
       "at its expiry: expired, and the claims are read");

    /* rotation: signed with the key that is now the previous one */
    n = media_dltoken_sign(&prev, &t, text);
    ok(media_dltoken_verify(keys, 2, text, n, NOW, &got) == MEDIA_TOKEN_OK,
       "signed with the previous key: accepted");
    old[0] = cur;
    ok(media_dltoken_verify(old, 1, text, n, NOW, &got)
       == MEDIA_TOKEN_UNKNOWN_KEY, "the previous key retired: unknown key");

    /* another secret, same kid slot: a bad signature */
    n = media_dltoken_sign(&cur, &t, text);
    other.kid = cur.kid;
    old[0] = other;
    ok(media_dltoken_verify(old, 1, text, n, NOW, &got)
       == MEDIA_TOKEN_BAD_SIGNATURE, "another secret: bad signature");

    /* every one-byte change is refused, never taken for another link */
    refused = 0;
    for (i = 0; i < n; i++) {
        memcpy(bad, text, n);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        if (media_dltoken_verify(keys, 2, bad, n, NOW, &got)
            != MEDIA_TOKEN_OK)
        {
            refused++;
        }
    }
    ok(refused == n, "each of %zu one-byte changes refused (%zu)", n,
       refused);

    ok(media_dltoken_verify(keys, 2, text, n - 1, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "one character short: malformed");
    ok(media_dltoken_verify(keys, 2, "", 0, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "empty: malformed");
    memcpy(bad, text, n);
    bad[75] = 'x';
    ok(media_dltoken_verify(keys, 2, bad, n, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "no dot: malformed");
    memcpy(bad, text, n);
    bad[3] = '=';
    ok(media_dltoken_verify(keys, 2, bad, n, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "outside base64url: malformed");

    /* a grant outside the three is refused even when signed */
    t.grant = 9;
    n = media_dltoken_sign(&cur, &t, text);
    ok(media_dltoken_verify(keys, 2, text, n, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "signed, unknown grant: malformed");

    media_token_key_free(&cur);
    media_token_key_free(&prev);
    other.kid = 0;
    media_token_key_free(&other);
}


static void
names(void)
{
    ok(media_dl_grant_parse("owner", 5) == MEDIA_DL_GRANT_OWNER
       && media_dl_grant_parse("purchase", 8) == MEDIA_DL_GRANT_PURCHASE
       && media_dl_grant_parse("subscription", 12)
          == MEDIA_DL_GRANT_SUBSCRIPTION
       && media_dl_grant_parse("owne", 4) == 0
       && media_dl_grant_parse("", 0) == 0, "grant names parsed");
    ok(strcmp(media_dl_grant_name(MEDIA_DL_GRANT_PURCHASE), "purchase") == 0
       && strcmp(media_dl_grant_name(0), "unknown") == 0, "grant names");
}


#define RANGE(s)  media_dl_range_start(s, sizeof(s) - 1)

static void
ranges(void)
{
    ok(RANGE("bytes=0-") == 0, "bytes=0-: 0");
    ok(RANGE("bytes=0-99") == 0, "bytes=0-99: 0");
    ok(RANGE("bytes=1000-") == 1000, "bytes=1000-: 1000");
    ok(RANGE("BYTES=5-9") == 5, "case-insensitive: 5");
    ok(RANGE("bytes=5-9,20-") == -1 && RANGE("bytes=1-,0-1") == -1,
       "several ranges: -1 (nginx may send the whole file)");
    ok(RANGE("bytes=9-5") == -1, "a backwards range: -1");
    ok(RANGE("bytes=5-9x") == -1 && RANGE("bytes=5-9 ") == 5,
       "junk after the range: -1; spaces are fine");
    ok(RANGE("bytes=-500") == -1, "a suffix range: -1");
    ok(RANGE("bytes=") == -1 && RANGE("bytes=x-") == -1
       && RANGE("items=5-") == -1 && RANGE("bytes=5") == -1
       && media_dl_range_start(NULL, 0) == -1,
       "not a byte range: -1");
    ok(RANGE("bytes=99999999999999999999999-") == -1, "overflow: -1");
}


#define DISP(s, out)                                                          \
    media_dl_disposition(s, sizeof(s) - 1, out, sizeof(out))

static void
dispositions(void)
{
    size_t  n;
    char    out[1024], tiny[8];

    n = DISP("Song.mp3", out);
    is_str(out, n, "attachment; filename=\"Song.mp3\"; "
           "filename*=UTF-8''Song.mp3", "ASCII");

    /* 夜明けの歌.flac */
    n = DISP("\xe5\xa4\x9c\xe6\x98\x8e\xe3\x81\x91\xe3\x81\xae"
             "\xe6\xad\x8c.flac", out);
    is_str(out, n, "attachment; filename=\"_____.flac\"; "
           "filename*=UTF-8''%E5%A4%9C%E6%98%8E%E3%81%91%E3%81%AE%E6%AD%8C"
           ".flac", "Japanese: one _ per character, UTF-8 percent-encoded");

    /* 🎸 riff.wav */
    n = DISP("\xf0\x9f\x8e\xb8 riff.wav", out);
    is_str(out, n, "attachment; filename=\"_ riff.wav\"; "
           "filename*=UTF-8''%F0%9F%8E%B8%20riff.wav", "emoji");

    n = DISP("a\"b\\c%d/e\r\nf;g.mp3", out);
    is_str(out, n, "attachment; filename=\"a_b_c_d_e__f;g.mp3\"; "
           "filename*=UTF-8''a%22b_c%25d_e__f%3Bg.mp3",
           "quotes, backslash, percent, slash, CR LF: never raw");

    ok(media_dl_disposition("abc", 3, tiny, sizeof(tiny)) == 0,
       "too small: 0");
}


int
main(void)
{
    tokens();
    names();
    ranges();
    dispositions();

    return done_testing();
}
