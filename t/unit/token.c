/*
 * media_token: signing, rotation, and every way a token can be refused.
 */

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "media_b64.h"
#include "media_token.h"


#define NOW  1700000000L


/*
 * The prepared context (fetched and keyed once, copied per call) gives
 * the MAC the one-shot HMAC() gives, for secrets of every allowed size and
 * inputs of many lengths, and keeps giving it: the copy leaves the key's
 * context untouched.
 */
static void
prepared_vs_oneshot(void)
{
    size_t              slen, ilen, i, same, calls;
    unsigned int        n;
    unsigned char       secret[64], in[200], want[EVP_MAX_MD_SIZE], got[32];
    uint32_t            x;
    media_token_key_t   key;

    x = 2463534242u;                  /* xorshift: the same inputs each run */
    same = 0;
    calls = 0;

    for (slen = 16; slen <= 64; slen += 8) {
        for (i = 0; i < slen; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            secret[i] = (unsigned char) x;
        }

        if (media_token_key(&key, secret, slen) != 0) {
            break;
        }

        for (ilen = 0; ilen < sizeof(in); ilen++) {
            for (i = 0; i < ilen; i++) {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5;
                in[i] = (unsigned char) x;
            }

            if (HMAC(EVP_sha256(), secret, (int) slen, in, ilen, want, &n)
                != NULL && n == 32
                && media_token_mac(&key, in, ilen, got) == 0
                && memcmp(want, got, 32) == 0)
            {
                same++;
            }
            calls++;
        }

        media_token_key_free(&key);
    }

    ok(calls == 7 * sizeof(in) && same == calls,
       "prepared MAC equals one-shot HMAC for %zu of %zu inputs", same,
       calls);

    /* a byte of the secret or of the input changes the MAC */
    memset(secret, 'k', 32);
    memset(in, 'i', 26);
    (void) media_token_key(&key, secret, 32);
    (void) media_token_mac(&key, in, 26, want);
    in[25] ^= 1;
    (void) media_token_mac(&key, in, 26, got);
    ok(memcmp(want, got, 32) != 0, "another input, another MAC");
    media_token_key_free(&key);
    secret[31] ^= 1;
    (void) media_token_key(&key, secret, 32);
    in[25] ^= 1;
    (void) media_token_mac(&key, in, 26, got);
    ok(memcmp(want, got, 32) != 0, "another secret, another MAC");
    media_token_key_free(&key);
}


/*
 * The tokens a key remembers: the same text again is answered without its
 * MAC, and nothing else is: not a text differing in one byte, not an
 * expired one, not the same text against another key set.
 */
static void
seen(media_token_key_t *keys, media_token_key_t *other, media_token_t *t)
{
    char                text[MEDIA_TOKEN_LEN + 1], bad[MEDIA_TOKEN_LEN + 1];
    size_t              n, i, refused;
    unsigned long       hits;
    media_token_t       got;
    media_token_key_t   fresh[2];

    t->expires = NOW + 77;            /* a token not verified before */
    n = media_token_sign(&keys[0], t, text);

    hits = media_token_seen_hits(&keys[0]);
    ok(media_token_verify(keys, 2, text, n, NOW, &got) == MEDIA_TOKEN_OK
       && media_token_seen_hits(&keys[0]) == hits,
       "a new token: its MAC checked");
    ok(media_token_verify(keys, 2, text, n, NOW, &got) == MEDIA_TOKEN_OK
       && media_token_seen_hits(&keys[0]) == hits + 1
       && got.expires == t->expires && got.max_rung == t->max_rung
       && memcmp(got.media, t->media, 16) == 0,
       "the same token again: remembered, fields read back");
    ok(media_token_verify(keys, 2, text, n, NOW + 78, &got)
       == MEDIA_TOKEN_EXPIRED, "remembered, but expired: refused");

    /* every single-byte change of the remembered text is refused */
    refused = 0;
    for (i = 0; i < n; i++) {
        if (text[i] == '.') {
            refused++;
            continue;
        }
        memcpy(bad, text, n);
        bad[i] = bad[i] == 'A' ? 'B' : 'A';
        if (media_token_verify(keys, 2, bad, n, NOW, &got)
            != MEDIA_TOKEN_OK)
        {
            refused++;
        }
    }
    ok(refused == n, "each of %zu one-byte changes refused (%zu)", n,
       refused);

    /* the same secret made into another key remembers nothing: the MAC is
     * checked again; a key set without the kid refuses it */
    media_token_key(&fresh[0], (unsigned char *) "current-key-current-key!",
                    24);
    fresh[1] = *other;
    ok(media_token_verify(fresh, 2, text, n, NOW, &got) == MEDIA_TOKEN_OK
       && media_token_seen_hits(&fresh[0]) == 0, "another key set: checked");
    ok(media_token_verify(other, 1, text, n, NOW, &got)
       == MEDIA_TOKEN_UNKNOWN_KEY, "a key set without its kid: unknown_key");
    media_token_key_free(&fresh[0]);

    /* more tokens than slots: each still verifies, old ones by MAC */
    refused = 0;
    for (i = 0; i < 4 * MEDIA_TOKEN_SEEN; i++) {
        t->expires = NOW + 100 + (uint32_t) i;
        n = media_token_sign(&keys[1], t, bad);
        if (media_token_verify(keys, 2, bad, n, NOW, &got) != MEDIA_TOKEN_OK
            || media_token_verify(keys, 2, bad, n, NOW, &got)
               != MEDIA_TOKEN_OK
            || got.expires != t->expires)
        {
            refused++;
        }
    }
    ok(refused == 0 && media_token_seen_hits(&keys[1])
       >= 4 * MEDIA_TOKEN_SEEN, "%d tokens through %d slots",
       4 * MEDIA_TOKEN_SEEN, MEDIA_TOKEN_SEEN);
    ok(media_token_verify(keys, 2, text, 100, NOW, &got) == MEDIA_TOKEN_OK,
       "the first token, perhaps evicted, still verifies");
}


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
    ok(media_token_key(&other, (unsigned char *) "short", 5) == -1,
       "a short secret is refused");
    ok(media_token_key(&other, (unsigned char *) "someone-elses-key-12345", 23)
       == 0, "another key");

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
    memset(t.user, 0x5a, 16);         /* the viewer, read back below */

    n = media_token_sign(&keys[0], &t, t1);
    t1[n] = '\0';
    ok(n == 100, "token is 100 characters: %s", t1);

    ok(media_token_verify(keys, 2, t1, n, NOW, &got) == MEDIA_TOKEN_OK,
       "round trip");
    ok(got.expires == t.expires && got.max_rung == 720
       && memcmp(got.media, t.media, 16) == 0
       && memcmp(got.user, t.user, 16) == 0, "fields read back");

    n = media_token_sign(&keys[1], &t, bad);
    ok(media_token_verify(keys, 2, bad, n, NOW, &got) == MEDIA_TOKEN_OK,
       "signed with the previous key: accepted");

    n = media_token_sign(&other, &t, bad);
    ok(media_token_verify(keys, 2, bad, n, NOW, &got)
       == MEDIA_TOKEN_UNKNOWN_KEY, "signed with neither: unknown_key");

    ok(media_token_verify(keys, 2, t1, 100, NOW + 61, &got)
       == MEDIA_TOKEN_EXPIRED, "expired");

    /* a tampered payload byte (the viewer) and a tampered signature */
    strcpy(bad, t1);
    bad[32] = bad[32] == 'A' ? 'Q' : 'A';
    ok(media_token_verify(keys, 2, bad, 100, NOW, &got)
       != MEDIA_TOKEN_OK, "tampered payload refused");
    strcpy(bad, t1);
    bad[60] = bad[60] == 'A' ? 'Q' : 'A';
    ok(media_token_verify(keys, 2, bad, 100, NOW, &got)
       == MEDIA_TOKEN_BAD_SIGNATURE, "tampered signature refused");

    ok(media_token_verify(keys, 2, t1, 99, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "cut short: malformed");
    ok(media_token_verify(keys, 2, "abc", 3, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "no dot: malformed");
    ok(media_token_verify(keys, 2, "..", 2, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "dots only: malformed");
    strcpy(bad, t1);
    bad[3] = '!';
    ok(media_token_verify(keys, 2, bad, 100, NOW, &got)
       == MEDIA_TOKEN_MALFORMED, "not base64url: malformed");

    /* a version 1 token (26 bytes, no viewer), rightly signed: refused,
     * so no token escapes a ban by naming nobody */
    {
        unsigned char  p1[26], mac[32];
        size_t         m;

        memset(p1, 0, sizeof(p1));
        p1[0] = 1;
        p1[1] = keys[0].kid;
        p1[2] = (unsigned char) ((NOW + 60) >> 24);
        p1[3] = (unsigned char) ((NOW + 60) >> 16);
        p1[4] = (unsigned char) ((NOW + 60) >> 8);
        p1[5] = (unsigned char) (NOW + 60);
        memcpy(p1 + 6, t.media, 16);
        media_token_mac(&keys[0], p1, sizeof(p1), mac);
        m = media_b64url_encode((unsigned char *) bad, p1, sizeof(p1));
        bad[m++] = '.';
        m += media_b64url_encode((unsigned char *) bad + m, mac, 32);
        ok(m == 79 && media_token_verify(keys, 2, bad, m, NOW, &got)
           == MEDIA_TOKEN_MALFORMED, "a version 1 token: malformed");
    }

    ok(strcmp(media_token_status(MEDIA_TOKEN_EXPIRED), "expired") == 0,
       "status names");

    prepared_vs_oneshot();
    seen(keys, &other, &t);

    media_token_key_free(&keys[0]);
    media_token_key_free(&keys[1]);
    media_token_key_free(&other);
    media_token_key_free(&other);
    ok(other.mac == NULL, "a freed key can be freed again");
    ok(media_token_mac(&other, (unsigned char *) "x", 1, (unsigned char *) t1)
       == -1, "a freed key makes no MAC");

    return done_testing();
}
