/*
 * Stripe webhook signatures: see media_stripe.h.
 */

#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "media_b64.h"
#include "media_stripe.h"


#define MEDIA_STRIPE_T_DIGITS  12


static int media_stripe_item(const char *key, size_t klen, const char *val,
    size_t vlen, int *seen_t, media_stripe_sig_t *sig);


const char *
media_stripe_status(media_stripe_rc_e rc)
{
    static const char  *s[] = {
        "ok", "no_header", "malformed", "no_v1", "mismatch", "stale"
    };

    return (size_t) rc < sizeof(s) / sizeof(s[0]) ? s[rc] : "invalid";
}


int
media_stripe_secret(media_stripe_secret_t *s, const unsigned char *key,
    size_t len)
{
    EVP_MAC      *hmac;
    EVP_MAC_CTX  *ctx;
    OSSL_PARAM    params[2];

    s->mac = NULL;

    if (len == 0 || len > 1024) {
        return -1;
    }

    /* looked up and keyed once, at configuration, not per delivery */
    hmac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (hmac == NULL) {
        return -1;
    }

    ctx = EVP_MAC_CTX_new(hmac);
    EVP_MAC_free(hmac);               /* the context keeps its reference */

    if (ctx == NULL) {
        return -1;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(ctx, key, len, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        return -1;
    }

    s->mac = ctx;

    return 0;
}


void
media_stripe_secret_free(media_stripe_secret_t *s)
{
    EVP_MAC_CTX_free(s->mac);
    s->mac = NULL;
}


media_stripe_rc_e
media_stripe_parse(const char *header, size_t len, media_stripe_sig_t *sig)
{
    int          seen_t, blank;
    size_t       i, klen;
    const char  *p, *end, *item, *item_end, *eq;

    memset(sig, 0, sizeof(media_stripe_sig_t));

    if (header == NULL) {
        return MEDIA_STRIPE_NO_HEADER;
    }

    blank = 1;
    for (i = 0; i < len; i++) {
        if (header[i] != ' ' && header[i] != '\t') {
            blank = 0;
            break;
        }
    }

    if (blank) {
        return MEDIA_STRIPE_NO_HEADER;
    }

    seen_t = 0;
    p = header;
    end = header + len;

    while (p < end) {
        item = p;
        item_end = memchr(p, ',', (size_t) (end - p));
        if (item_end == NULL) {
            item_end = end;
        }

        p = item_end + 1;

        while (item < item_end && (*item == ' ' || *item == '\t')) {
            item++;
        }

        while (item_end > item
               && (item_end[-1] == ' ' || item_end[-1] == '\t'))
        {
            item_end--;
        }

        if (item == item_end) {
            continue;                 /* ",," or a trailing comma */
        }

        eq = memchr(item, '=', (size_t) (item_end - item));
        if (eq == NULL || eq == item) {
            sig->error = "an item is not key=value";
            return MEDIA_STRIPE_MALFORMED;
        }

        klen = (size_t) (eq - item);

        if (media_stripe_item(item, klen, eq + 1,
                              (size_t) (item_end - eq - 1), &seen_t, sig)
            != 0)
        {
            return MEDIA_STRIPE_MALFORMED;
        }
    }

    if (!seen_t) {
        sig->error = "no timestamp (t=)";
        return MEDIA_STRIPE_MALFORMED;
    }

    return sig->nv1 ? MEDIA_STRIPE_OK : MEDIA_STRIPE_NO_V1;
}


/* one key=value of the header: 0, or -1 with sig->error set */
static int
media_stripe_item(const char *key, size_t klen, const char *val,
    size_t vlen, int *seen_t, media_stripe_sig_t *sig)
{
    int             hi, lo;
    size_t          i;
    unsigned char  *mac;

    if (klen == 1 && key[0] == 't') {
        if (*seen_t) {
            sig->error = "more than one timestamp (t=)";
            return -1;
        }

        if (vlen == 0 || vlen > MEDIA_STRIPE_T_DIGITS) {
            sig->error = "the timestamp (t=) is not 1 to 12 digits";
            return -1;
        }

        sig->t = 0;
        for (i = 0; i < vlen; i++) {
            if (val[i] < '0' || val[i] > '9') {
                sig->error = "the timestamp (t=) is not 1 to 12 digits";
                return -1;
            }
            sig->t = sig->t * 10 + (val[i] - '0');
        }

        *seen_t = 1;
        return 0;
    }

    if (!(klen == 2 && key[0] == 'v' && key[1] == '1')) {
        return 0;                     /* v0 and schemes to come */
    }

    if (vlen != 2 * MEDIA_STRIPE_MAC_LEN) {
        sig->error = "a v1 signature is not 64 hex digits";
        return -1;
    }

    if (sig->nv1 == MEDIA_STRIPE_MAX_V1) {
        sig->error = "more than 8 v1 signatures";
        return -1;
    }

    mac = sig->v1[sig->nv1];

    for (i = 0; i < MEDIA_STRIPE_MAC_LEN; i++) {
        hi = media_hex_value((unsigned char) val[2 * i]);
        lo = media_hex_value((unsigned char) val[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            sig->error = "a v1 signature is not 64 hex digits";
            return -1;
        }

        mac[i] = (unsigned char) (hi << 4 | lo);
    }

    sig->nv1++;

    return 0;
}


/*
 * "<t>." and the body go into the MAC one after the other: the body (up to
 * the route's limit) is never copied.  t is written in plain decimal, as
 * Stripe's libraries write the number they parsed.
 */
int
media_stripe_mac(const media_stripe_secret_t *s, long t,
    const unsigned char *body, size_t len, unsigned char *mac)
{
    int           n, rc;
    char          head[MEDIA_STRIPE_T_DIGITS + 24];
    size_t        maclen;
    EVP_MAC_CTX  *ctx;

    if (s->mac == NULL || t < 0) {
        return -1;
    }

    n = snprintf(head, sizeof(head), "%ld.", t);
    if (n < 0 || (size_t) n >= sizeof(head)) {
        return -1;
    }

    /* a copy of the keyed context: the secret stays read-only */
    ctx = EVP_MAC_CTX_dup(s->mac);
    if (ctx == NULL) {
        return -1;
    }

    rc = EVP_MAC_update(ctx, (unsigned char *) head, (size_t) n) == 1
         && (len == 0 || EVP_MAC_update(ctx, body, len) == 1)
         && EVP_MAC_final(ctx, mac, &maclen, MEDIA_STRIPE_MAC_LEN) == 1
         && maclen == MEDIA_STRIPE_MAC_LEN;

    EVP_MAC_CTX_free(ctx);

    return rc ? 0 : -1;
}


size_t
media_stripe_sign(const media_stripe_secret_t *s, long t,
    const unsigned char *body, size_t len, char *out)
{
    int             n;
    size_t          i;
    unsigned char   mac[MEDIA_STRIPE_MAC_LEN];

    static const char  hex[] = "0123456789abcdef";

    if (t > 999999999999L
        || media_stripe_mac(s, t, body, len, mac) != 0)
    {
        return 0;
    }

    n = snprintf(out, MEDIA_STRIPE_HEADER_LEN, "t=%ld,v1=", t);
    if (n < 0 || (size_t) n + 2 * MEDIA_STRIPE_MAC_LEN
                 >= MEDIA_STRIPE_HEADER_LEN)
    {
        return 0;
    }

    for (i = 0; i < MEDIA_STRIPE_MAC_LEN; i++) {
        out[n++] = hex[mac[i] >> 4];
        out[n++] = hex[mac[i] & 0x0f];
    }

    out[n] = '\0';

    return (size_t) n;
}


media_stripe_rc_e
media_stripe_verify(const media_stripe_secret_t *secrets, size_t nsecrets,
    const char *header, size_t hlen, const unsigned char *body, size_t blen,
    long now, long tolerance, media_stripe_sig_t *sig)
{
    int                 match;
    long                age;
    size_t              i, j;
    media_stripe_rc_e   rc;
    unsigned char       mac[MEDIA_STRIPE_MAC_LEN];

    rc = media_stripe_parse(header, hlen, sig);
    if (rc != MEDIA_STRIPE_OK) {
        return rc;
    }

    /*
     * Every pair is compared, whatever matched first, each comparison in
     * constant time: how long it takes says nothing about how close a
     * forged signature came.  The signature goes before the time, as in
     * Stripe's libraries: a stale but authentic delivery (a replay, or a
     * clock off) is told apart from a forged one.
     */
    match = 0;

    for (i = 0; i < nsecrets; i++) {
        if (media_stripe_mac(&secrets[i], sig->t, body, blen, mac) != 0) {
            continue;
        }

        for (j = 0; j < sig->nv1; j++) {
            match |= CRYPTO_memcmp(mac, sig->v1[j], MEDIA_STRIPE_MAC_LEN)
                     == 0;
        }
    }

    if (!match) {
        return MEDIA_STRIPE_MISMATCH;
    }

    age = now - sig->t;

    if (age > tolerance || age < -tolerance) {
        return MEDIA_STRIPE_STALE;
    }

    return MEDIA_STRIPE_OK;
}
