/*
 * media_stripe: Stripe-Signature parsing, the MAC against a vector made
 * with openssl(1), rotation, tolerance, and every way a delivery is
 * refused.
 */

#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tap.h"
#include "media_stripe.h"


#define NOW     1700000000L
#define SECRET  "whsec_test_secret_0123456789"
#define BODY    "{\"id\":\"evt_1\",\"object\":\"event\"}"

/* printf '%s' '1700000000.<BODY>' | openssl dgst -sha256 -hmac SECRET */
#define VECTOR                                                                \
    "0f06c232d18bc676bfacfc5240a2cfe4559e99421aacd50637b2ba2c7262e338"


static media_stripe_secret_t  keys[2], other;


static media_stripe_rc_e
check(const char *header, const char *body, long now)
{
    media_stripe_sig_t  sig;

    return media_stripe_verify(keys, 2, header, header ? strlen(header) : 0,
                               (const unsigned char *) body, strlen(body),
                               now, MEDIA_STRIPE_TOLERANCE, &sig);
}


static const char *
parse_error(const char *header)
{
    media_stripe_sig_t  sig;

    if (media_stripe_parse(header, strlen(header), &sig)
        != MEDIA_STRIPE_MALFORMED)
    {
        return NULL;
    }

    return sig.error;
}


static void
signing(void)
{
    char                h[MEDIA_STRIPE_HEADER_LEN];
    size_t              n;
    unsigned int        len;
    unsigned char       want[EVP_MAX_MD_SIZE], got[MEDIA_STRIPE_MAC_LEN];
    unsigned char       body[300];
    size_t              i, same;
    uint32_t            x;

    n = media_stripe_sign(&keys[0], NOW, (const unsigned char *) BODY,
                          strlen(BODY), h);
    is_str(h, n, "t=1700000000,v1=" VECTOR, "the header openssl(1) makes");

    /* the MAC is HMAC-SHA256 over "<t>.<body>", for bodies of any size */
    x = 2463534242u;
    same = 0;
    for (i = 0; i < sizeof(body); i++) {
        char  text[sizeof(body) + 32];
        int   tl;

        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        body[i] = (unsigned char) x;

        tl = snprintf(text, 32, "%ld.", NOW + (long) i);
        memcpy(text + tl, body, i);

        if (HMAC(EVP_sha256(), SECRET, (int) strlen(SECRET),
                 (unsigned char *) text, (size_t) tl + i, want, &len)
            != NULL && len == 32
            && media_stripe_mac(&keys[0], NOW + (long) i, body, i, got) == 0
            && memcmp(want, got, 32) == 0)
        {
            same++;
        }
    }
    ok(same == sizeof(body), "MAC equals one-shot HMAC for %zu of %zu "
       "bodies (0 to %zu bytes)", same, sizeof(body), sizeof(body) - 1);

    ok(media_stripe_sign(&keys[0], 1000000000000L,
                         (const unsigned char *) "x", 1, h) == 0,
       "a 13-digit time is not signed");
    ok(media_stripe_mac(&keys[0], -1, (const unsigned char *) "x", 1, got)
       == -1, "a negative time is not signed");
}


static void
accepted(void)
{
    char   h[4 * MEDIA_STRIPE_HEADER_LEN], a[MEDIA_STRIPE_HEADER_LEN];
    char   b[MEDIA_STRIPE_HEADER_LEN];
    char   upper[MEDIA_STRIPE_HEADER_LEN];
    size_t i;

    ok(check("t=1700000000,v1=" VECTOR, BODY, NOW) == MEDIA_STRIPE_OK,
       "the vector verifies");

    media_stripe_sign(&keys[1], NOW, (const unsigned char *) BODY,
                      strlen(BODY), b);
    ok(check(b, BODY, NOW) == MEDIA_STRIPE_OK,
       "signed with the previous secret: accepted");

    /* Stripe rolling its secret: two v1, one of a secret we do not have */
    media_stripe_sign(&other, NOW, (const unsigned char *) BODY,
                      strlen(BODY), a);
    snprintf(h, sizeof(h), "%s,v1=%s", a, b + 16);
    ok(check(h, BODY, NOW) == MEDIA_STRIPE_OK,
       "two v1, the second ours: accepted");
    snprintf(h, sizeof(h), "t=1700000000,v1=%s,%s", VECTOR, a + 14);
    ok(check(h, BODY, NOW) == MEDIA_STRIPE_OK,
       "two v1, the first ours: accepted");

    snprintf(h, sizeof(h), "v0=%s,t=1700000000,v2=zz,v1=%s", VECTOR, VECTOR);
    ok(check(h, BODY, NOW) == MEDIA_STRIPE_OK,
       "any order, v0 and unknown schemes ignored");
    ok(check(" t=1700000000 , ,v1=" VECTOR ", ", BODY, NOW)
       == MEDIA_STRIPE_OK, "blanks, empty items and a trailing comma");
    ok(check("t=0001700000000,v1=" VECTOR, BODY, NOW) == MEDIA_STRIPE_MALFORMED,
       "13 characters of t, leading zeros or not: malformed");
    ok(check("t=01700000000,v1=" VECTOR, BODY, NOW) == MEDIA_STRIPE_OK,
       "a leading zero in t: signed as the number");

    strcpy(upper, VECTOR);
    for (i = 0; upper[i]; i++) {
        if (upper[i] >= 'a' && upper[i] <= 'f') {
            upper[i] -= 32;
        }
    }
    snprintf(h, sizeof(h), "t=1700000000,v1=%s", upper);
    ok(check(h, BODY, NOW) == MEDIA_STRIPE_OK, "upper-case hex");

    ok(check("t=1700000000,v1=" VECTOR, BODY, NOW + 300) == MEDIA_STRIPE_OK,
       "300 s old: within the tolerance");
    ok(check("t=1700000000,v1=" VECTOR, BODY, NOW - 300) == MEDIA_STRIPE_OK,
       "300 s ahead: within the tolerance");
}


static void
refused(void)
{
    char                h[MEDIA_STRIPE_HEADER_LEN], body[64];
    char                many[16 * 70];
    size_t              i, n, refusals;
    media_stripe_sig_t  sig;

    ok(check("t=1700000000,v1=" VECTOR, BODY, NOW + 301)
       == MEDIA_STRIPE_STALE, "301 s old: stale");
    ok(check("t=1700000000,v1=" VECTOR, BODY, NOW - 301)
       == MEDIA_STRIPE_STALE, "301 s ahead: stale");
    ok(check("t=1700000000,v1=" VECTOR, BODY "x", NOW + 3600)
       == MEDIA_STRIPE_MISMATCH, "stale and forged: the forgery is told");
    ok(media_stripe_verify(keys, 2, "t=1700000000,v1=" VECTOR, 80,
                           (const unsigned char *) BODY, strlen(BODY),
                           NOW + 3600, 7200, &sig)
       == MEDIA_STRIPE_OK, "a wider tolerance takes an hour-old delivery");

    media_stripe_sign(&other, NOW, (const unsigned char *) BODY,
                      strlen(BODY), h);
    ok(check(h, BODY, NOW) == MEDIA_STRIPE_MISMATCH,
       "signed with another secret: mismatch");
    ok(media_stripe_verify(&other, 1, h, strlen(h),
                           (const unsigned char *) BODY, strlen(BODY), NOW,
                           300, &sig) == MEDIA_STRIPE_OK,
       "... which that secret takes");
    ok(media_stripe_verify(keys, 0, "t=1700000000,v1=" VECTOR, 80,
                           (const unsigned char *) BODY, strlen(BODY), NOW,
                           300, &sig) == MEDIA_STRIPE_MISMATCH,
       "no secrets: nothing matches");

    ok(check("t=1700000001,v1=" VECTOR, BODY, NOW) == MEDIA_STRIPE_MISMATCH,
       "another timestamp, same v1: mismatch");

    /* every one-byte change of the body is refused */
    refusals = 0;
    n = strlen(BODY);
    for (i = 0; i < n; i++) {
        memcpy(body, BODY, n + 1);
        body[i] ^= 0x01;
        if (check("t=1700000000,v1=" VECTOR, body, NOW)
            == MEDIA_STRIPE_MISMATCH)
        {
            refusals++;
        }
    }
    ok(refusals == n, "each of %zu one-byte changes of the body: mismatch",
       n);
    ok(check("t=1700000000,v1=" VECTOR, "", NOW) == MEDIA_STRIPE_MISMATCH,
       "an empty body: mismatch");

    /* every one-digit change of the signature */
    refusals = 0;
    for (i = 0; i < 64; i++) {
        snprintf(h, sizeof(h), "t=1700000000,v1=%s", VECTOR);
        h[16 + i] = h[16 + i] == '0' ? '1' : '0';
        if (check(h, BODY, NOW) == MEDIA_STRIPE_MISMATCH) {
            refusals++;
        }
    }
    ok(refusals == 64, "each of 64 one-digit changes of v1: mismatch");

    ok(check(NULL, BODY, NOW) == MEDIA_STRIPE_NO_HEADER, "NULL: no_header");
    ok(check("", BODY, NOW) == MEDIA_STRIPE_NO_HEADER, "empty: no_header");
    ok(check(" \t ", BODY, NOW) == MEDIA_STRIPE_NO_HEADER, "blank: no_header");

    ok(check("t=1700000000", BODY, NOW) == MEDIA_STRIPE_NO_V1,
       "t alone: no_v1");
    ok(check("t=1700000000,v0=" VECTOR, BODY, NOW) == MEDIA_STRIPE_NO_V1,
       "v0 only: no_v1");
    ok(check("t=1700000000,,", BODY, NOW) == MEDIA_STRIPE_NO_V1,
       "t and empty items: no_v1");

    ok(parse_error("garbage") != NULL, "garbage: malformed (%s)",
       parse_error("garbage"));
    ok(parse_error("v1=" VECTOR) != NULL
       && strcmp(parse_error("v1=" VECTOR), "no timestamp (t=)") == 0,
       "no t: malformed (%s)", parse_error("v1=" VECTOR));
    ok(parse_error(",") != NULL, "commas only: malformed (no t)");
    ok(parse_error("t=,v1=" VECTOR) != NULL, "empty t: malformed");
    ok(parse_error("t=-1,v1=" VECTOR) != NULL, "negative t: malformed");
    ok(parse_error("t=17e8,v1=" VECTOR) != NULL, "t not digits: malformed");
    ok(parse_error("t=1 7,v1=" VECTOR) != NULL, "t with a blank: malformed");
    ok(parse_error("t=1234567890123,v1=" VECTOR) != NULL,
       "13-digit t: malformed");
    ok(parse_error("t=1,t=1,v1=" VECTOR) != NULL
       && strcmp(parse_error("t=1,t=1,v1=" VECTOR),
                 "more than one timestamp (t=)") == 0,
       "two t, even equal: malformed");
    ok(parse_error("t=1,=x,v1=" VECTOR) != NULL, "an empty key: malformed");
    ok(parse_error("t=1,v1=abc") != NULL, "a short v1: malformed (%s)",
       parse_error("t=1,v1=abc"));
    ok(parse_error("t=1,v1=" VECTOR "0") != NULL, "a long v1: malformed");
    snprintf(h, sizeof(h), "t=1,v1=g%.63s", VECTOR);
    ok(parse_error(h) != NULL, "a non-hex v1: malformed");
    ok(parse_error("t=1,v1=") != NULL, "an empty v1: malformed");

    n = (size_t) snprintf(many, sizeof(many), "t=1700000000");
    for (i = 0; i < 8; i++) {
        n += (size_t) snprintf(many + n, sizeof(many) - n, ",v1=%s", VECTOR);
    }
    ok(check(many, BODY, NOW) == MEDIA_STRIPE_OK, "8 v1: taken");
    snprintf(many + n, sizeof(many) - n, ",v1=%s", VECTOR);
    ok(check(many, BODY, NOW) == MEDIA_STRIPE_MALFORMED,
       "9 v1: malformed (%s)", parse_error(many));

    /* a header cut anywhere is refused, never accepted */
    refusals = 0;
    n = strlen("t=1700000000,v1=" VECTOR);
    for (i = 0; i < n; i++) {
        if (media_stripe_verify(keys, 2, "t=1700000000,v1=" VECTOR, i,
                                (const unsigned char *) BODY, strlen(BODY),
                                NOW, 300, &sig) != MEDIA_STRIPE_OK)
        {
            refusals++;
        }
    }
    ok(refusals == n, "the header cut at each of %zu places: refused", n);
}


int
main(void)
{
    unsigned char          mac[MEDIA_STRIPE_MAC_LEN];
    media_stripe_secret_t  s;

    ok(media_stripe_secret(&keys[0], (unsigned char *) SECRET,
                           strlen(SECRET)) == 0, "current secret");
    ok(media_stripe_secret(&keys[1],
                           (unsigned char *) "whsec_previous_one_abcdef", 25)
       == 0, "previous secret");
    ok(media_stripe_secret(&other,
                           (unsigned char *) "whsec_someone_elses_secret", 26)
       == 0, "another secret");
    ok(media_stripe_secret(&s, (unsigned char *) "", 0) == -1
       && s.mac == NULL, "an empty secret refused");

    signing();
    accepted();
    refused();

    ok(strcmp(media_stripe_status(MEDIA_STRIPE_STALE), "stale") == 0
       && strcmp(media_stripe_status((media_stripe_rc_e) 99), "invalid")
          == 0, "status names");

    media_stripe_secret_free(&keys[0]);
    media_stripe_secret_free(&keys[1]);
    media_stripe_secret_free(&other);
    media_stripe_secret_free(&other);
    ok(other.mac == NULL, "a freed secret can be freed again");
    ok(media_stripe_mac(&other, NOW, (unsigned char *) "x", 1,
                        mac) == -1,
       "a freed secret makes no MAC");

    return done_testing();
}
