/*
 * media_token: signing, rotation, and every way a token can be refused.
 */

#include "tap.h"
#include "media_token.h"


#define NOW  1700000000L


int
main(void)
{
    char                t1[MEDIA_TOKEN_LEN + 1], bad[MEDIA_TOKEN_LEN + 1];
    char                uuid[37];
    size_t              n;
    media_token_t       t, got;
    media_token_key_t   keys[2], other;

    ok(media_token_key(&keys[0], (unsigned char *) "current-key-current-key!", 24)
       == 0, "current key");
    ok(media_token_key(&keys[1], (unsigned char *) "previous-key-previous!!", 23)
       == 0, "previous key");
    ok(keys[0].kid != keys[1].kid, "kids differ");
    media_token_key(&other, (unsigned char *) "someone-elses-key-12345", 23);
    ok(media_token_key(&other, (unsigned char *) "short", 5) == -1,
       "a short secret is refused");
    media_token_key(&other, (unsigned char *) "someone-elses-key-12345", 23);

    memset(&t, 0, sizeof(t));
    ok(media_uuid_parse("0f1e2d3c-4b5a-4697-8877-665544332211", 36, t.media)
       == 0, "uuid parsed");
    media_uuid_format(t.media, uuid);
    is_str(uuid, strlen(uuid), "0f1e2d3c-4b5a-4697-8877-665544332211",
           "uuid formatted back");
    ok(media_uuid_parse("0f1e2d3c-4b5a-4697-8877-66554433221", 35, t.media)
       == -1, "short uuid refused");
    ok(media_uuid_parse("0f1e2d3c_4b5a-4697-8877-665544332211", 36, t.media)
       == -1, "uuid without dashes refused");
    ok(media_uuid_parse("0f1e2d3c-4b5a-4697-8877-66554433221g", 36, t.media)
       == -1, "non-hex uuid refused");
    media_uuid_parse("0f1e2d3c-4b5a-4697-8877-665544332211", 36, t.media);

    t.expires = NOW + 60;
    t.max_rung = 720;

    n = media_token_sign(&keys[0], &t, t1);
    t1[n] = '\0';
    ok(n == 79, "token is 79 characters: %s", t1);

    ok(media_token_verify(keys, 2, t1, n, NOW, &got) == MEDIA_TOKEN_OK,
       "round trip");
    ok(got.expires == t.expires && got.max_rung == 720
       && memcmp(got.media, t.media, 16) == 0, "fields read back");

    n = media_token_sign(&keys[1], &t, bad);
    ok(media_token_verify(keys, 2, bad, n, NOW, &got) == MEDIA_TOKEN_OK,
       "signed with the previous key: accepted");

    n = media_token_sign(&other, &t, bad);
    ok(media_token_verify(keys, 2, bad, n, NOW, &got)
       == MEDIA_TOKEN_UNKNOWN_KEY, "signed with neither: unknown_key");

    ok(media_token_verify(keys, 2, t1, 79, NOW + 61, &got)
       == MEDIA_TOKEN_EXPIRED, "expired");

    /* a tampered payload byte (the rung) and a tampered signature */
    strcpy(bad, t1);
    bad[32] = bad[32] == 'A' ? 'Q' : 'A';
    ok(media_token_verify(keys, 2, bad, 79, NOW, &got)
       != MEDIA_TOKEN_OK, "tampered payload refused");
    strcpy(bad, t1);
    bad[40] = bad[40] == 'A' ? 'Q' : 'A';
    ok(media_token_verify(keys, 2, bad, 79, NOW, &got)
       == MEDIA_TOKEN_BAD_SIGNATURE, "tampered signature refused");

    ok(media_token_verify(keys, 2, t1, 78, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "cut short: malformed");
    ok(media_token_verify(keys, 2, "abc", 3, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "no dot: malformed");
    ok(media_token_verify(keys, 2, "..", 2, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "dots only: malformed");
    strcpy(bad, t1);
    bad[3] = '!';
    ok(media_token_verify(keys, 2, bad, 79, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "not base64url: malformed");

    ok(strcmp(media_token_status(MEDIA_TOKEN_EXPIRED), "expired") == 0,
       "status names");

    return done_testing();
}
