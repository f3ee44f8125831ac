/*
 * Playback tokens: a fixed binary payload and its HMAC-SHA256.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/sha.h>

#include "media_b64.h"
#include "media_token.h"


#define MEDIA_PAYLOAD_LEN  42
#define MEDIA_MAC_LEN      32
#define MEDIA_TEXT_LEN     100        /* 56 + "." + 43 */


struct media_token_seen_s {
    unsigned long   hits;
    unsigned char   used[MEDIA_TOKEN_SEEN];
    unsigned char   text[MEDIA_TOKEN_SEEN][MEDIA_TEXT_LEN];
};


const char *
media_token_status(media_token_rc_e rc)
{
    static const char  *s[] = {
        "ok", "malformed", "unknown_key", "bad_signature", "expired"
    };

    return (size_t) rc < sizeof(s) / sizeof(s[0]) ? s[rc] : "invalid";
}


int
media_token_key(media_token_key_t *key, const unsigned char *secret,
    size_t len)
{
    int             rc;
    EVP_MAC        *hmac;
    EVP_MAC_CTX    *ctx;
    OSSL_PARAM      params[2];
    unsigned char   digest[SHA256_DIGEST_LENGTH];

    if (len < 16 || len > 64) {
        return -1;
    }

    /* the algorithm is looked up once, here, not per request */
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

    rc = EVP_MAC_init(ctx, secret, len, params);
    if (rc != 1) {
        EVP_MAC_CTX_free(ctx);
        return -1;
    }

    memset(key, 0, sizeof(media_token_key_t));
    key->mac = ctx;

    key->seen = calloc(1, sizeof(media_token_seen_t));
    if (key->seen == NULL) {
        media_token_key_free(key);
        return -1;
    }

    /* one byte names the key; two keys in use at once will differ */
    SHA256(secret, len, digest);
    key->kid = digest[0];

    return 0;
}


void
media_token_key_free(media_token_key_t *key)
{
    EVP_MAC_CTX_free(key->mac);
    key->mac = NULL;
    free(key->seen);
    key->seen = NULL;
}


unsigned long
media_token_seen_hits(const media_token_key_t *key)
{
    return key->seen ? key->seen->hits : 0;
}


/* the slot a token text would be remembered in: from its signature's
 * last characters, which are as good as random */
static size_t
media_token_slot(const char *text)
{
    const unsigned char  *p = (const unsigned char *) text + MEDIA_TEXT_LEN;

    return ((size_t) p[-2] * 31 + p[-3] * 7 + p[-4]) % MEDIA_TOKEN_SEEN;
}


int
media_token_mac(const media_token_key_t *key, const unsigned char *in,
    size_t len, unsigned char *mac)
{
    int           rc;
    size_t        maclen;
    EVP_MAC_CTX  *ctx;

    if (key->mac == NULL) {
        return -1;
    }

    /* a copy of the keyed context: the key itself stays read-only, so one
     * key serves any number of callers */
    ctx = EVP_MAC_CTX_dup(key->mac);
    if (ctx == NULL) {
        return -1;
    }

    rc = EVP_MAC_update(ctx, in, len) == 1
         && EVP_MAC_final(ctx, mac, &maclen, MEDIA_MAC_LEN) == 1
         && maclen == MEDIA_MAC_LEN;

    EVP_MAC_CTX_free(ctx);

    return rc ? 0 : -1;
}


static void
media_token_payload(unsigned char kid, const media_token_t *t,
    unsigned char *p)
{
    p[0] = MEDIA_TOKEN_VERSION;
    p[1] = kid;
    p[2] = (unsigned char) (t->expires >> 24);
    p[3] = (unsigned char) (t->expires >> 16);
    p[4] = (unsigned char) (t->expires >> 8);
    p[5] = (unsigned char) t->expires;
    memcpy(p + 6, t->media, 16);
    memcpy(p + 22, t->user, 16);
    p[38] = (unsigned char) (t->max_rung >> 8);
    p[39] = (unsigned char) t->max_rung;
    p[40] = (unsigned char) (t->flags >> 8);
    p[41] = (unsigned char) t->flags;
}


size_t
media_token_sign(const media_token_key_t *key, const media_token_t *t,
    char *out)
{
    size_t          n;
    unsigned char   payload[MEDIA_PAYLOAD_LEN], mac[MEDIA_MAC_LEN];

    media_token_payload(key->kid, t, payload);

    if (media_token_mac(key, payload, sizeof(payload), mac) != 0) {
        return 0;
    }

    n = media_b64url_encode((unsigned char *) out, payload, sizeof(payload));
    out[n++] = '.';
    n += media_b64url_encode((unsigned char *) out + n, mac, MEDIA_MAC_LEN);

    return n;
}


media_token_rc_e
media_token_verify(const media_token_key_t *keys, size_t nkeys,
    const char *text, size_t len, long now, media_token_t *t)
{
    size_t                    i, plen, slot;
    const char               *dot;
    media_token_seen_t       *seen;
    unsigned char             payload[MEDIA_PAYLOAD_LEN + 2];
    unsigned char             sig[MEDIA_MAC_LEN + 2], mac[MEDIA_MAC_LEN];
    const media_token_key_t  *key;

    if (len > MEDIA_TOKEN_LEN) {
        return MEDIA_TOKEN_MALFORMED;
    }

    dot = memchr(text, '.', len);
    if (dot == NULL) {
        return MEDIA_TOKEN_MALFORMED;
    }

    plen = (size_t) (dot - text);

    /* exact lengths: 42 bytes are 56 characters, 32 are 43 */
    if (plen != 56 || len - plen - 1 != 43
        || media_b64url_decode(payload, (const unsigned char *) text, plen)
           != MEDIA_PAYLOAD_LEN
        || payload[0] != MEDIA_TOKEN_VERSION)
    {
        return MEDIA_TOKEN_MALFORMED;
    }

    key = NULL;
    for (i = 0; i < nkeys; i++) {
        if (keys[i].kid == payload[1]) {
            key = &keys[i];
            break;
        }
    }

    /* a text this key verified before: compared whole, in constant time,
     * so a near miss tells nothing about where it differs */
    seen = key ? key->seen : NULL;
    slot = media_token_slot(text);

    if (seen && seen->used[slot]
        && CRYPTO_memcmp(seen->text[slot], text, MEDIA_TEXT_LEN) == 0)
    {
        seen->hits++;

    } else {
        if (media_b64url_decode(sig, (const unsigned char *) dot + 1, 43)
            != MEDIA_MAC_LEN)
        {
            return MEDIA_TOKEN_MALFORMED;
        }

        if (key == NULL) {
            return MEDIA_TOKEN_UNKNOWN_KEY;
        }

        if (media_token_mac(key, payload, MEDIA_PAYLOAD_LEN, mac) != 0
            || CRYPTO_memcmp(mac, sig, MEDIA_MAC_LEN) != 0)
        {
            return MEDIA_TOKEN_BAD_SIGNATURE;
        }

        if (seen) {
            memcpy(seen->text[slot], text, MEDIA_TEXT_LEN);
            seen->used[slot] = 1;
        }
    }

    t->expires = (uint32_t) payload[2] << 24 | (uint32_t) payload[3] << 16
                 | (uint32_t) payload[4] << 8 | payload[5];
    memcpy(t->media, payload + 6, 16);
    memcpy(t->user, payload + 22, 16);
    t->max_rung = (uint16_t) (payload[38] << 8 | payload[39]);
    t->flags = (uint16_t) (payload[40] << 8 | payload[41]);

    if ((long) t->expires < now) {
        return MEDIA_TOKEN_EXPIRED;
    }

    return MEDIA_TOKEN_OK;
}


int
media_uuid_parse(const char *s, size_t len, unsigned char *out)
{
    int     hi, lo;
    size_t  i, n;

    if (len != 36) {
        return -1;
    }

    for (i = 0, n = 0; i < 36; ) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i++] != '-') {
                return -1;
            }
            continue;
        }

        hi = media_hex_value((unsigned char) s[i]);
        lo = media_hex_value((unsigned char) s[i + 1]);
        if (hi < 0 || lo < 0) {
            return -1;
        }

        out[n++] = (unsigned char) (hi << 4 | lo);
        i += 2;
    }

    return 0;
}


void
media_uuid_format(const unsigned char *in, char *out)
{
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x", in[0], in[1], in[2], in[3], in[4],
             in[5], in[6], in[7], in[8], in[9], in[10], in[11], in[12],
             in[13], in[14], in[15]);
}
