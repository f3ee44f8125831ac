/*
 * nginx-free verification of Stripe's webhook signatures.
 *
 * Stripe signs each delivery with the endpoint's secret ("whsec_...", used
 * as the HMAC key as written) and sends
 *
 *   Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>]
 *
 * where each v1 is HMAC-SHA256(secret, "<t>.<raw body>") in lowercase hex.
 * While an endpoint's secret is being rolled Stripe signs with the old and
 * the new secret, one v1 each; other schemes (v0: test mode's legacy
 * scheme) are ignored.  A delivery is taken when any v1 matches any of
 * our secrets (current and previous, for our own rotation) and its t is
 * within the tolerance of now, either way, as Stripe's libraries check.
 *
 * Parsing (media_stripe_parse):
 *   - items are split on ','; blanks around an item and empty items are
 *     skipped; every other item is key=value, else the header is malformed;
 *   - t: 1 to 12 decimal digits, exactly once (two t's are ambiguous, so
 *     malformed, even when equal);
 *   - v1: 64 hex digits (either case); at most MEDIA_STRIPE_MAX_V1 of them;
 *   - any other key is ignored.
 */

#ifndef _MEDIA_STRIPE_H_INCLUDED_
#define _MEDIA_STRIPE_H_INCLUDED_


#include <stddef.h>


#define MEDIA_STRIPE_MAX_V1       8     /* v1 signatures one header may hold */
#define MEDIA_STRIPE_MAC_LEN      32
#define MEDIA_STRIPE_TOLERANCE    300   /* seconds, as Stripe's libraries */

/* "t=" 12 digits ",v1=" 64 hex digits and a NUL */
#define MEDIA_STRIPE_HEADER_LEN   (2 + 12 + 4 + 2 * MEDIA_STRIPE_MAC_LEN + 1)


/* a secret, its HMAC context keyed once (EVP_MAC_CTX), copied per use */
typedef struct {
    void           *mac;
} media_stripe_secret_t;


typedef enum {
    MEDIA_STRIPE_OK = 0,
    MEDIA_STRIPE_NO_HEADER,      /* absent, empty or blank */
    MEDIA_STRIPE_MALFORMED,      /* sig->error says what */
    MEDIA_STRIPE_NO_V1,          /* well formed, but no v1 signature */
    MEDIA_STRIPE_MISMATCH,       /* no v1 matches any secret */
    MEDIA_STRIPE_STALE           /* signed, but |now - t| > tolerance */
} media_stripe_rc_e;


typedef struct {
    long            t;
    size_t          nv1;
    unsigned char   v1[MEDIA_STRIPE_MAX_V1][MEDIA_STRIPE_MAC_LEN];
    const char     *error;       /* MEDIA_STRIPE_MALFORMED: a static text */
} media_stripe_sig_t;


/* "ok", "no_header", ...: for logs */
const char *media_stripe_status(media_stripe_rc_e rc);

/* a secret of 1 to 1024 bytes; -1 for a bad size or when OpenSSL cannot
 * make the context */
int media_stripe_secret(media_stripe_secret_t *s, const unsigned char *key,
    size_t len);
void media_stripe_secret_free(media_stripe_secret_t *s);

/* the header's parts into sig; MEDIA_STRIPE_OK, NO_HEADER, MALFORMED or
 * NO_V1 */
media_stripe_rc_e media_stripe_parse(const char *header, size_t len,
    media_stripe_sig_t *sig);

/* HMAC-SHA256(secret, "<t>.<body>") into mac; 0 or -1 */
int media_stripe_mac(const media_stripe_secret_t *s, long t,
    const unsigned char *body, size_t len, unsigned char *mac);

/* "t=<t>,v1=<hex>" as Stripe sends it, NUL-terminated, into out
 * (MEDIA_STRIPE_HEADER_LEN bytes); its length, 0 on failure */
size_t media_stripe_sign(const media_stripe_secret_t *s, long t,
    const unsigned char *body, size_t len, char *out);

/*
 * The whole check: parse, then every v1 against every secret (all pairs
 * compared, in constant time), then the timestamp against now, within
 * tolerance seconds either way.  sig is filled as far as parsing went.
 */
media_stripe_rc_e media_stripe_verify(const media_stripe_secret_t *secrets,
    size_t nsecrets, const char *header, size_t hlen,
    const unsigned char *body, size_t blen, long now, long tolerance,
    media_stripe_sig_t *sig);


#endif /* _MEDIA_STRIPE_H_INCLUDED_ */
