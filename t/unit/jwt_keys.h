/*
 * Test helpers: write public keys as JWKs and sign tokens with any of the
 * algorithms we verify, as an identity provider would.  Used by the JWT unit
 * test and by t/tools/mint.c, which the HTTP tests call.
 */

#ifndef _MEDIA_JWT_KEYS_H_INCLUDED_
#define _MEDIA_JWT_KEYS_H_INCLUDED_


#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "media_b64.h"


static size_t
test_b64(char *out, const unsigned char *in, size_t len)
{
    size_t  n = media_b64url_encode((unsigned char *) out, in, len);

    out[n] = '\0';
    return n;
}


static void
test_b64_bn(char *out, EVP_PKEY *pkey, const char *name, int pad)
{
    int             n;
    BIGNUM         *bn = NULL;
    unsigned char   buf[1024];

    EVP_PKEY_get_bn_param(pkey, name, &bn);
    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    test_b64(out, buf, (size_t) n);
    BN_free(bn);
}


/*
 * {"kty":...,...} for a public key: RSA, EC P-256/384/521 or Ed25519.
 * kid NULL: no "kid" member; alg NULL: no "alg" member.
 */
static void
test_jwk_as(char *out, size_t size, EVP_PKEY *pkey, const char *kid,
    const char *alg)
{
    int            bits;
    char           a[1400], b[1400], k[128], g[64];
    size_t         n;
    unsigned char  raw[64];

    k[0] = '\0';
    g[0] = '\0';

    if (kid) {
        snprintf(k, sizeof(k), "\"kid\":\"%s\",", kid);
    }

    if (alg) {
        snprintf(g, sizeof(g), "\"alg\":\"%s\",", alg);
    }

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        test_b64_bn(a, pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        test_b64_bn(b, pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        snprintf(out, size, "{\"kty\":\"RSA\",%s\"use\":\"sig\",%s"
                 "\"n\":\"%s\",\"e\":\"%s\"}", k, g, a, b);
        break;

    case EVP_PKEY_ED25519:
    case EVP_PKEY_ED448:
    case EVP_PKEY_X25519:
        n = sizeof(raw);
        EVP_PKEY_get_raw_public_key(pkey, raw, &n);
        test_b64(a, raw, n);
        snprintf(out, size, "{\"kty\":\"OKP\",%s%s\"crv\":\"%s\","
                 "\"x\":\"%s\"}", k, g,
                 EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? "Ed25519"
                 : EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED448 ? "Ed448"
                 : "X25519", a);
        break;

    default:
        bits = EVP_PKEY_get_bits(pkey);
        test_b64_bn(a, pkey, OSSL_PKEY_PARAM_EC_PUB_X, (bits + 7) / 8);
        test_b64_bn(b, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, (bits + 7) / 8);
        snprintf(out, size, "{\"kty\":\"EC\",%s%s\"crv\":\"P-%d\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", k, g, bits, a, b);
        break;
    }
}


/* the JWK the tools have always written: RSA pins RS256, EC P-256 */
static void
test_jwk(char *out, size_t size, EVP_PKEY *pkey, const char *kid)
{
    test_jwk_as(out, size, pkey, kid,
                EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA ? "RS256" : NULL);
}


/*
 * header.payload.signature with a private key, as alg (RS*, PS*, ES*,
 * EdDSA) signs; saltlen is PSS's salt, -1 for the hash's length as JWS
 * wants.  ES signatures are turned from DER into r||s (RFC 7518 3.4).
 */
static size_t
test_sign_as(char *out, EVP_PKEY *pkey, const char *alg, int saltlen,
    const char *header, const char *payload)
{
    int                   half;
    char                 *p;
    size_t                siglen;
    EVP_MD_CTX           *md;
    ECDSA_SIG            *es;
    const EVP_MD         *hash;
    EVP_PKEY_CTX         *pctx;
    const BIGNUM         *r, *s;
    unsigned char         sig[1200], raw[132];
    const unsigned char  *q;

    p = out;
    p += test_b64(p, (const unsigned char *) header, strlen(header));
    *p++ = '.';
    p += test_b64(p, (const unsigned char *) payload, strlen(payload));

    hash = strstr(alg, "256") ? EVP_sha256()
           : strstr(alg, "384") ? EVP_sha384()
           : strstr(alg, "512") ? EVP_sha512() : NULL;

    md = EVP_MD_CTX_new();
    siglen = sizeof(sig);
    EVP_DigestSignInit(md, &pctx, hash, NULL, pkey);

    if (alg[0] == 'P') {
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, hash);
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen < 0
                                               ? RSA_PSS_SALTLEN_DIGEST
                                               : saltlen);
    }

    EVP_DigestSign(md, sig, &siglen, (unsigned char *) out, p - out);
    EVP_MD_CTX_free(md);

    *p++ = '.';

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        half = (EVP_PKEY_get_bits(pkey) + 7) / 8;
        q = sig;
        es = d2i_ECDSA_SIG(NULL, &q, (long) siglen);
        ECDSA_SIG_get0(es, &r, &s);
        BN_bn2binpad(r, raw, half);
        BN_bn2binpad(s, raw + half, half);
        ECDSA_SIG_free(es);
        p += test_b64(p, raw, 2 * half);

    } else {
        p += test_b64(p, sig, siglen);
    }

    *p = '\0';
    return p - out;
}


/* RS256 with an RSA key, ES256 with an EC P-256 one */
static size_t
test_sign(char *out, EVP_PKEY *pkey, const char *header, const char *payload)
{
    return test_sign_as(out, pkey,
                        EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC
                        ? "ES256" : "RS256", -1, header, payload);
}


/* header.payload.signature with an HMAC secret, whatever the header says */
static size_t
test_sign_hmac(char *out, const unsigned char *secret, size_t slen,
    const char *header, const char *payload)
{
    char           *p;
    unsigned int    maclen;
    unsigned char   mac[32];

    p = out;
    p += test_b64(p, (const unsigned char *) header, strlen(header));
    *p++ = '.';
    p += test_b64(p, (const unsigned char *) payload, strlen(payload));

    HMAC(EVP_sha256(), secret, (int) slen, (unsigned char *) out, p - out,
         mac, &maclen);

    *p++ = '.';
    p += test_b64(p, mac, 32);
    *p = '\0';

    return p - out;
}


#endif /* _MEDIA_JWT_KEYS_H_INCLUDED_ */
