/*
 * Test helpers: make RSA and EC P-256 keys, write them as a JWKS, and sign
 * RS256/ES256 tokens, as an identity provider would.  Used by the JWT unit
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


/* {"kty":...,"kid":...,...} for a public key */
static void
test_jwk(char *out, size_t size, EVP_PKEY *pkey, const char *kid)
{
    char  a[1400], b[1400];

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
        test_b64_bn(a, pkey, OSSL_PKEY_PARAM_RSA_N, 0);
        test_b64_bn(b, pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        snprintf(out, size, "{\"kty\":\"RSA\",\"kid\":\"%s\",\"use\":\"sig\","
                 "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}", kid, a, b);
    } else {
        test_b64_bn(a, pkey, OSSL_PKEY_PARAM_EC_PUB_X, 32);
        test_b64_bn(b, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
        snprintf(out, size, "{\"kty\":\"EC\",\"kid\":\"%s\",\"crv\":\"P-256\","
                 "\"x\":\"%s\",\"y\":\"%s\"}", kid, a, b);
    }
}


/*
 * header.payload.signature with a private key; ES256 signatures are
 * turned from DER into r||s (RFC 7518 3.4).
 */
static size_t
test_sign(char *out, EVP_PKEY *pkey, const char *header, const char *payload)
{
    char                 *p;
    size_t                siglen;
    EVP_MD_CTX           *md;
    ECDSA_SIG            *es;
    const BIGNUM         *r, *s;
    unsigned char         sig[1024], raw[64];
    const unsigned char  *q;

    p = out;
    p += test_b64(p, (const unsigned char *) header, strlen(header));
    *p++ = '.';
    p += test_b64(p, (const unsigned char *) payload, strlen(payload));

    md = EVP_MD_CTX_new();
    siglen = sizeof(sig);
    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pkey);
    EVP_DigestSign(md, sig, &siglen, (unsigned char *) out, p - out);
    EVP_MD_CTX_free(md);

    *p++ = '.';

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        q = sig;
        es = d2i_ECDSA_SIG(NULL, &q, (long) siglen);
        ECDSA_SIG_get0(es, &r, &s);
        BN_bn2binpad(r, raw, 32);
        BN_bn2binpad(s, raw + 32, 32);
        ECDSA_SIG_free(es);
        p += test_b64(p, raw, 64);

    } else {
        p += test_b64(p, sig, siglen);
    }

    *p = '\0';
    return p - out;
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
