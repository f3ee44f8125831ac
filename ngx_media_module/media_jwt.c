/*
 * nginx-free JWT: verification with per-key pinned algorithms, HS256
 * signing, JWKS loading.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <yajl/yajl_tree.h>

#include "media_b64.h"
#include "media_jwt.h"


/* a string value whose type was checked (yajl_tree_get with yajl_t_string) */
#define media_jwt_s(v)  ((const char *) (v)->u.string)


static int media_jwt_alg(const char *name);
static yajl_val media_jwt_json(const char *b64, size_t len);
static int media_jwt_check_sig(const media_jwt_key_t *key,
    const char *signed_part, size_t signed_len, const char *sig_b64,
    size_t sig_len);
static int media_jwt_verify_pkey(EVP_PKEY *pkey, const unsigned char *data,
    size_t len, const unsigned char *sig, size_t siglen);
static const media_jwt_key_t *media_jwt_find_key(const media_jwt_verifier_t *v,
    const char *kid);
static media_jwt_rc_e media_jwt_claims(const media_jwt_verifier_t *v,
    yajl_val payload, long now, media_jwt_claims_t *c);
static int media_jwt_number(yajl_val obj, const char *name, long *out);
static void media_jwt_string(yajl_val obj, const char *name, char *out,
    size_t size);
static int media_jwt_has_audience(yajl_val aud, const char *want);
static EVP_PKEY *media_jwt_jwk_rsa(yajl_val jwk, char *err, size_t errlen);
static EVP_PKEY *media_jwt_jwk_ec(yajl_val jwk, char *err, size_t errlen);
static size_t media_jwt_jwk_bytes(yajl_val jwk, const char *name,
    unsigned char *out, size_t size);


media_jwt_rc_e
media_jwt_verify(const media_jwt_verifier_t *v, const char *token,
    size_t len, long now, media_jwt_claims_t *c)
{
    int                     alg;
    const char             *dot1, *dot2, *kid;
    yajl_val                header, payload, val;
    media_jwt_rc_e          rc;
    const media_jwt_key_t  *key;

    static const char  *alg_path[] = { "alg", NULL };
    static const char  *kid_path[] = { "kid", NULL };
    static const char  *crit_path[] = { "crit", NULL };

    memset(c, 0, sizeof(media_jwt_claims_t));

    if (len > MEDIA_JWT_MAX_LEN) {
        return MEDIA_JWT_TOO_LONG;
    }

    /* exactly three segments: header.payload.signature */
    dot1 = memchr(token, '.', len);
    if (dot1 == NULL) {
        return MEDIA_JWT_MALFORMED;
    }

    dot2 = memchr(dot1 + 1, '.', token + len - dot1 - 1);
    if (dot2 == NULL || memchr(dot2 + 1, '.', token + len - dot2 - 1)) {
        return MEDIA_JWT_MALFORMED;
    }

    header = media_jwt_json(token, dot1 - token);
    if (header == NULL) {
        return MEDIA_JWT_BAD_HEADER;
    }

    payload = NULL;

    /* an extension we would have to understand: refuse (RFC 7515 4.1.11) */
    if (yajl_tree_get(header, crit_path, yajl_t_any) != NULL) {
        rc = MEDIA_JWT_BAD_HEADER;
        goto done;
    }

    val = yajl_tree_get(header, alg_path, yajl_t_string);
    alg = val ? media_jwt_alg(media_jwt_s(val)) : 0;
    if (alg == 0) {
        rc = MEDIA_JWT_BAD_ALG;        /* "none", missing, unsupported */
        goto done;
    }

    val = yajl_tree_get(header, kid_path, yajl_t_string);
    kid = val ? media_jwt_s(val) : NULL;

    key = media_jwt_find_key(v, kid);
    if (key == NULL) {
        rc = MEDIA_JWT_UNKNOWN_KID;
        goto done;
    }

    /* the key decides the algorithm; the header may only agree */
    if (key->alg != alg) {
        rc = MEDIA_JWT_BAD_ALG;
        goto done;
    }

    if (!media_jwt_check_sig(key, token, dot2 - token, dot2 + 1,
                             token + len - dot2 - 1))
    {
        rc = MEDIA_JWT_BAD_SIGNATURE;
        goto done;
    }

    payload = media_jwt_json(dot1 + 1, dot2 - dot1 - 1);
    if (payload == NULL) {
        rc = MEDIA_JWT_BAD_CLAIMS;
        goto done;
    }

    rc = media_jwt_claims(v, payload, now, c);

    if (rc == MEDIA_JWT_OK) {
        c->alg = alg;
        snprintf(c->kid, sizeof(c->kid), "%s", key->kid);
    }

done:

    yajl_tree_free(header);
    yajl_tree_free(payload);

    return rc;
}


const char *
media_jwt_reason(media_jwt_rc_e rc)
{
    static const char  *reasons[] = {
        "ok", "too_long", "malformed", "bad_header", "bad_alg",
        "unknown_kid", "bad_signature", "bad_claims", "expired",
        "not_yet_valid", "bad_issuer", "bad_audience"
    };

    if ((size_t) rc >= sizeof(reasons) / sizeof(reasons[0])) {
        return "invalid";
    }

    return reasons[rc];
}


static int
media_jwt_alg(const char *name)
{
    if (strcmp(name, "HS256") == 0) {
        return MEDIA_JWT_HS256;
    }

    if (strcmp(name, "RS256") == 0) {
        return MEDIA_JWT_RS256;
    }

    if (strcmp(name, "ES256") == 0) {
        return MEDIA_JWT_ES256;
    }

    return 0;
}


/* a base64url segment holding a JSON object, parsed; NULL otherwise */
static yajl_val
media_jwt_json(const char *b64, size_t len)
{
    char      *buf;
    size_t     n;
    yajl_val   val;

    buf = malloc(media_b64url_decoded_max(len) + 1);
    if (buf == NULL) {
        return NULL;
    }

    n = media_b64url_decode((unsigned char *) buf, (const unsigned char *) b64,
                            len);

    /* a NUL inside would end yajl's input early */
    if (n == (size_t) -1 || n == 0 || memchr(buf, '\0', n) != NULL) {
        free(buf);
        return NULL;
    }

    buf[n] = '\0';

    val = yajl_tree_parse(buf, NULL, 0);
    free(buf);

    if (val != NULL && !YAJL_IS_OBJECT(val)) {
        yajl_tree_free(val);
        return NULL;
    }

    return val;
}


static const media_jwt_key_t *
media_jwt_find_key(const media_jwt_verifier_t *v, const char *kid)
{
    size_t  i;

    if (kid == NULL) {
        /* without a kid only a single key is unambiguous */
        return v->nkeys == 1 ? &v->keys[0] : NULL;
    }

    for (i = 0; i < v->nkeys; i++) {
        if (strcmp(v->keys[i].kid, kid) == 0) {
            return &v->keys[i];
        }
    }

    return NULL;
}


static int
media_jwt_check_sig(const media_jwt_key_t *key, const char *signed_part,
    size_t signed_len, const char *sig_b64, size_t sig_len)
{
    int             ok;
    size_t          n;
    unsigned int    maclen;
    unsigned char  *sig, mac[EVP_MAX_MD_SIZE];

    sig = malloc(media_b64url_decoded_max(sig_len));
    if (sig == NULL) {
        return 0;
    }

    n = media_b64url_decode(sig, (const unsigned char *) sig_b64, sig_len);
    ok = 0;

    if (n == (size_t) -1 || n == 0) {
        goto done;
    }

    switch (key->alg) {

    case MEDIA_JWT_HS256:
        if (n != 32
            || HMAC(EVP_sha256(), key->secret, (int) key->secret_len,
                    (const unsigned char *) signed_part, signed_len, mac,
                    &maclen) == NULL)
        {
            goto done;
        }

        /* constant time: the comparison must not leak a matching prefix */
        ok = CRYPTO_memcmp(mac, sig, 32) == 0;
        break;

    default:
        ok = media_jwt_verify_pkey(key->pkey,
                                   (const unsigned char *) signed_part,
                                   signed_len, sig, n)
             && (key->alg != MEDIA_JWT_ES256 || n == 64);
        break;
    }

done:

    free(sig);
    return ok;
}


/*
 * RS256: PKCS#1 v1.5 over SHA-256.  ES256: JWS carries r||s (RFC 7518
 * 3.4), OpenSSL wants DER, so it is converted first.
 */
static int
media_jwt_verify_pkey(EVP_PKEY *pkey, const unsigned char *data, size_t len,
    const unsigned char *sig, size_t siglen)
{
    int             ok, derlen;
    BIGNUM         *r, *s;
    EVP_MD_CTX     *md;
    ECDSA_SIG      *es;
    unsigned char  *der;

    der = NULL;

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
        if (siglen != 64) {
            return 0;
        }

        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, 32, NULL);
        s = BN_bin2bn(sig + 32, 32, NULL);

        if (es == NULL || r == NULL || s == NULL
            || ECDSA_SIG_set0(es, r, s) != 1)
        {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(s);
            return 0;
        }

        derlen = i2d_ECDSA_SIG(es, &der);
        ECDSA_SIG_free(es);

        if (derlen <= 0) {
            return 0;
        }

        sig = der;
        siglen = (size_t) derlen;
    }

    md = EVP_MD_CTX_new();

    ok = md != NULL
         && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1
         && EVP_DigestVerify(md, sig, siglen, data, len) == 1;

    EVP_MD_CTX_free(md);
    OPENSSL_free(der);

    return ok;
}


static media_jwt_rc_e
media_jwt_claims(const media_jwt_verifier_t *v, yajl_val payload, long now,
    media_jwt_claims_t *c)
{
    yajl_val  aud, verified;

    static const char  *aud_path[] = { "aud", NULL };
    static const char  *verified_path[] = { "email_verified", NULL };

    media_jwt_string(payload, "sub", c->sub, sizeof(c->sub));
    media_jwt_string(payload, "email", c->email, sizeof(c->email));
    media_jwt_string(payload, "jti", c->jti, sizeof(c->jti));
    media_jwt_string(payload, "sid", c->sid, sizeof(c->sid));
    media_jwt_string(payload, "iss", c->iss, sizeof(c->iss));

    /* a boolean, or the string "true" as Cognito sends it */
    verified = yajl_tree_get(payload, verified_path, yajl_t_any);
    c->email_verified = verified != NULL
                        && (YAJL_IS_TRUE(verified)
                            || (YAJL_IS_STRING(verified)
                                && strcmp(media_jwt_s(verified), "true")
                                   == 0));

    /* exp is required: a token that never expires is not accepted */
    if (c->sub[0] == '\0' || media_jwt_number(payload, "exp", &c->exp) != 1
        || media_jwt_number(payload, "nbf", &c->nbf) < 0
        || media_jwt_number(payload, "iat", &c->iat) < 0)
    {
        return MEDIA_JWT_BAD_CLAIMS;
    }

    if (now > c->exp + v->leeway) {
        return MEDIA_JWT_EXPIRED;
    }

    if (c->nbf && now + v->leeway < c->nbf) {
        return MEDIA_JWT_NOT_YET_VALID;
    }

    if (v->issuer && strcmp(c->iss, v->issuer) != 0) {
        return MEDIA_JWT_BAD_ISSUER;
    }

    if (v->audience) {
        aud = yajl_tree_get(payload, aud_path, yajl_t_any);
        if (!media_jwt_has_audience(aud, v->audience)) {
            return MEDIA_JWT_BAD_AUDIENCE;
        }
    }

    return MEDIA_JWT_OK;
}


/* 1: found, 0: absent, -1: present but not a number in range */
static int
media_jwt_number(yajl_val obj, const char *name, long *out)
{
    double       d;
    yajl_val     val;
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    val = yajl_tree_get(obj, path, yajl_t_any);
    if (val == NULL) {
        return 0;
    }

    if (YAJL_IS_INTEGER(val)) {
        *out = (long) YAJL_GET_INTEGER(val);
        return *out >= 0 ? 1 : -1;
    }

    if (YAJL_IS_DOUBLE(val)) {
        d = YAJL_GET_DOUBLE(val);
        if (d >= 0 && d < 1e15) {
            *out = (long) d;
            return 1;
        }
    }

    return -1;
}


static void
media_jwt_string(yajl_val obj, const char *name, char *out, size_t size)
{
    yajl_val     val;
    const char  *path[2];

    path[0] = name;
    path[1] = NULL;

    val = yajl_tree_get(obj, path, yajl_t_string);

    /* too long for the field: treated as absent rather than cut */
    if (val == NULL || strlen(media_jwt_s(val)) >= size) {
        out[0] = '\0';
        return;
    }

    strcpy(out, media_jwt_s(val));
}


static int
media_jwt_has_audience(yajl_val aud, const char *want)
{
    size_t  i;

    if (aud == NULL) {
        return 0;
    }

    if (YAJL_IS_STRING(aud)) {
        return strcmp(media_jwt_s(aud), want) == 0;
    }

    if (!YAJL_IS_ARRAY(aud)) {
        return 0;
    }

    for (i = 0; i < aud->u.array.len; i++) {
        yajl_val  e = aud->u.array.values[i];

        if (YAJL_IS_STRING(e) && strcmp(media_jwt_s(e), want) == 0) {
            return 1;
        }
    }

    return 0;
}


size_t
media_jwt_sign(const media_jwt_key_t *key, const char *payload, size_t len,
    char *out, size_t size)
{
    int             n;
    size_t          hlen, need;
    char            header[128];
    unsigned int    maclen;
    unsigned char  *p, mac[EVP_MAX_MD_SIZE];

    if (key->alg != MEDIA_JWT_HS256) {
        return 0;
    }

    n = snprintf(header, sizeof(header),
                 "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
                 key->kid);
    if (n < 0 || (size_t) n >= sizeof(header)) {
        return 0;
    }

    hlen = (size_t) n;

    /* both parts, two dots, the signature */
    need = media_b64url_encoded_len(hlen) + media_b64url_encoded_len(len)
           + 2 + media_b64url_encoded_len(32);
    if (need > size) {
        return 0;
    }

    p = (unsigned char *) out;
    p += media_b64url_encode(p, (unsigned char *) header, hlen);
    *p++ = '.';
    p += media_b64url_encode(p, (const unsigned char *) payload, len);

    if (HMAC(EVP_sha256(), key->secret, (int) key->secret_len,
             (unsigned char *) out, p - (unsigned char *) out, mac, &maclen)
        == NULL)
    {
        return 0;
    }

    *p++ = '.';
    p += media_b64url_encode(p, mac, 32);

    return p - (unsigned char *) out;
}


int
media_jwt_key_secret(media_jwt_key_t *key, const unsigned char *secret,
    size_t len)
{
    size_t         i;
    unsigned char  digest[SHA256_DIGEST_LENGTH];

    if (len < 16 || len > sizeof(key->secret)) {
        return -1;
    }

    memset(key, 0, sizeof(media_jwt_key_t));
    key->alg = MEDIA_JWT_HS256;
    memcpy(key->secret, secret, len);
    key->secret_len = len;

    /* the kid names the key without revealing it: a hash prefix */
    SHA256(secret, len, digest);

    for (i = 0; i < 8; i++) {
        snprintf(key->kid + i * 2, 3, "%02x", digest[i]);
    }

    return 0;
}


int
media_jwt_jwks(const char *json, size_t len, media_jwt_key_t *keys,
    size_t max, char *err, size_t errlen)
{
    int          n;
    char        *text, msg[256];
    size_t       i;
    yajl_val     doc, arr, jwk, val;
    const char  *kty;

    static const char  *keys_path[] = { "keys", NULL };
    static const char  *kty_path[] = { "kty", NULL };
    static const char  *kid_path[] = { "kid", NULL };
    static const char  *use_path[] = { "use", NULL };
    static const char  *alg_path[] = { "alg", NULL };

    text = malloc(len + 1);
    if (text == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    memcpy(text, json, len);
    text[len] = '\0';

    doc = yajl_tree_parse(text, msg, sizeof(msg));
    free(text);

    if (doc == NULL) {
        snprintf(err, errlen, "not JSON: %s", msg);
        return -1;
    }

    n = -1;

    arr = yajl_tree_get(doc, keys_path, yajl_t_array);
    if (arr == NULL) {
        snprintf(err, errlen, "no \"keys\" array");
        goto done;
    }

    n = 0;

    for (i = 0; i < arr->u.array.len; i++) {
        jwk = arr->u.array.values[i];

        val = yajl_tree_get(jwk, use_path, yajl_t_string);
        if (val && strcmp(media_jwt_s(val), "sig") != 0) {
            continue;    /* an encryption key is no use here */
        }

        val = yajl_tree_get(jwk, kid_path, yajl_t_string);
        if (val == NULL || strlen(media_jwt_s(val)) >= sizeof(keys[0].kid)
            || media_jwt_s(val)[0] == '\0')
        {
            snprintf(err, errlen, "key %zu: no usable \"kid\"", i);
            goto failed;
        }

        if ((size_t) n == max) {
            snprintf(err, errlen, "more than %zu keys", max);
            goto failed;
        }

        memset(&keys[n], 0, sizeof(media_jwt_key_t));
        snprintf(keys[n].kid, sizeof(keys[n].kid), "%s",
                 media_jwt_s(val));

        val = yajl_tree_get(jwk, kty_path, yajl_t_string);
        kty = val ? media_jwt_s(val) : "";

        if (strcmp(kty, "RSA") == 0) {
            keys[n].alg = MEDIA_JWT_RS256;
            keys[n].pkey = media_jwt_jwk_rsa(jwk, msg, sizeof(msg));

        } else if (strcmp(kty, "EC") == 0) {
            keys[n].alg = MEDIA_JWT_ES256;
            keys[n].pkey = media_jwt_jwk_ec(jwk, msg, sizeof(msg));

        } else {
            snprintf(err, errlen, "key \"%s\": kty \"%s\" is not RSA or EC",
                     keys[n].kid, kty);
            goto failed;
        }

        if (keys[n].pkey == NULL) {
            snprintf(err, errlen, "key \"%s\": %s", keys[n].kid, msg);
            goto failed;
        }

        /* an "alg" in the JWK must agree with the one its type implies */
        val = yajl_tree_get(jwk, alg_path, yajl_t_string);
        if (val && media_jwt_alg(media_jwt_s(val)) != keys[n].alg) {
            snprintf(err, errlen, "key \"%s\": alg \"%s\" is not supported "
                     "for kty %s", keys[n].kid, media_jwt_s(val), kty);
            n++;
            goto failed;
        }

        n++;
    }

    if (n == 0) {
        snprintf(err, errlen, "no signing keys");
        n = -1;
    }

    goto done;

failed:

    while (n > 0) {
        media_jwt_key_free(&keys[--n]);
    }

    n = -1;

done:

    yajl_tree_free(doc);
    return n;
}


static EVP_PKEY *
media_jwt_jwk_rsa(yajl_val jwk, char *err, size_t errlen)
{
    size_t           nlen, elen;
    BIGNUM          *n, *e;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    unsigned char    nbuf[1024], ebuf[16];
    OSSL_PARAM_BLD  *bld;

    nlen = media_jwt_jwk_bytes(jwk, "n", nbuf, sizeof(nbuf));
    elen = media_jwt_jwk_bytes(jwk, "e", ebuf, sizeof(ebuf));

    /* 2048 bits at least */
    if (nlen < 256 || elen == 0) {
        snprintf(err, errlen, "RSA key needs \"n\" of 2048 bits or more "
                 "and \"e\"");
        return NULL;
    }

    pkey = NULL;
    params = NULL;
    ctx = NULL;
    n = BN_bin2bn(nbuf, (int) nlen, NULL);
    e = BN_bin2bn(ebuf, (int) elen, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (n && e && bld
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n)
        && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)
        && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
        && (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) != NULL
        && EVP_PKEY_fromdata_init(ctx) == 1)
    {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
            pkey = NULL;
        }
    }

    if (pkey == NULL) {
        snprintf(err, errlen, "RSA key rejected by OpenSSL");
    }

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);

    return pkey;
}


static EVP_PKEY *
media_jwt_jwk_ec(yajl_val jwk, char *err, size_t errlen)
{
    yajl_val        crv;
    EVP_PKEY       *pkey;
    OSSL_PARAM      params[3];
    EVP_PKEY_CTX   *ctx;
    unsigned char   pub[65];

    static const char  *crv_path[] = { "crv", NULL };

    crv = yajl_tree_get(jwk, crv_path, yajl_t_string);
    if (crv == NULL || strcmp(media_jwt_s(crv), "P-256") != 0) {
        snprintf(err, errlen, "EC key must be on curve P-256 (ES256)");
        return NULL;
    }

    /* an uncompressed point: 0x04 || x || y */
    pub[0] = 0x04;

    if (media_jwt_jwk_bytes(jwk, "x", pub + 1, 33) != 32
        || media_jwt_jwk_bytes(jwk, "y", pub + 33, 33) != 32)
    {
        snprintf(err, errlen, "EC key needs 32-byte \"x\" and \"y\"");
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) "prime256v1", 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, sizeof(pub));
    params[2] = OSSL_PARAM_construct_end();

    pkey = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        snprintf(err, errlen, "EC key rejected by OpenSSL (not on the curve?)");
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);

    return pkey;
}


/* a base64url member decoded into out; its length, 0 if absent or bad */
static size_t
media_jwt_jwk_bytes(yajl_val jwk, const char *name, unsigned char *out,
    size_t size)
{
    size_t       n, len;
    yajl_val     val;
    const char  *s, *path[2];

    path[0] = name;
    path[1] = NULL;

    val = yajl_tree_get(jwk, path, yajl_t_string);
    if (val == NULL) {
        return 0;
    }

    s = media_jwt_s(val);
    len = strlen(s);

    if (media_b64url_decoded_max(len) > size) {
        return 0;
    }

    n = media_b64url_decode(out, (const unsigned char *) s, len);

    return n == (size_t) -1 ? 0 : n;
}


void
media_jwt_key_free(media_jwt_key_t *key)
{
    EVP_PKEY_free(key->pkey);
    OPENSSL_cleanse(key->secret, sizeof(key->secret));
    memset(key, 0, sizeof(media_jwt_key_t));
}
