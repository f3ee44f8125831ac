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
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>

#include <yajl/yajl_tree.h>

#include "media_b64.h"
#include "media_jwt.h"


/* a string value whose type was checked (yajl_tree_get with yajl_t_string) */
#define media_jwt_s(v)  ((const char *) (v)->u.string)


/* how each algorithm verifies (RFC 7518 section 3, RFC 8037 section 3.1) */
typedef enum {
    MEDIA_JWT_KIND_HMAC = 1,
    MEDIA_JWT_KIND_RSA,
    MEDIA_JWT_KIND_PSS,
    MEDIA_JWT_KIND_EC,
    MEDIA_JWT_KIND_EDDSA
} media_jwt_kind_e;


typedef struct {
    const char        *name;
    int                alg;
    media_jwt_kind_e   kind;
    int                bits;        /* SHA-2 digest size; 0: none (EdDSA) */
    const char        *crv;         /* EC: the JWK curve it needs */
    const char        *group;       /* EC: OpenSSL's name for it */
    size_t             coord;       /* EC: bytes of x, y, r and s */
} media_jwt_alg_t;


static const media_jwt_alg_t  media_jwt_algs[] = {
    { "HS256", MEDIA_JWT_HS256, MEDIA_JWT_KIND_HMAC, 256, NULL, NULL, 0 },
    { "RS256", MEDIA_JWT_RS256, MEDIA_JWT_KIND_RSA, 256, NULL, NULL, 0 },
    { "RS384", MEDIA_JWT_RS384, MEDIA_JWT_KIND_RSA, 384, NULL, NULL, 0 },
    { "RS512", MEDIA_JWT_RS512, MEDIA_JWT_KIND_RSA, 512, NULL, NULL, 0 },
    { "PS256", MEDIA_JWT_PS256, MEDIA_JWT_KIND_PSS, 256, NULL, NULL, 0 },
    { "PS384", MEDIA_JWT_PS384, MEDIA_JWT_KIND_PSS, 384, NULL, NULL, 0 },
    { "PS512", MEDIA_JWT_PS512, MEDIA_JWT_KIND_PSS, 512, NULL, NULL, 0 },
    { "ES256", MEDIA_JWT_ES256, MEDIA_JWT_KIND_EC, 256, "P-256",
      "prime256v1", 32 },
    { "ES384", MEDIA_JWT_ES384, MEDIA_JWT_KIND_EC, 384, "P-384",
      "secp384r1", 48 },
    { "ES512", MEDIA_JWT_ES512, MEDIA_JWT_KIND_EC, 512, "P-521",
      "secp521r1", 66 },
    { "EdDSA", MEDIA_JWT_EDDSA, MEDIA_JWT_KIND_EDDSA, 0, "Ed25519", NULL,
      32 },
    { NULL, 0, 0, 0, NULL, NULL, 0 }
};


static const media_jwt_alg_t *media_jwt_alg_by_name(const char *name);
static const media_jwt_alg_t *media_jwt_alg_by_id(int alg);
static const EVP_MD *media_jwt_md(const media_jwt_alg_t *a);
static yajl_val media_jwt_json(const char *b64, size_t len);
static const media_jwt_key_t *media_jwt_find_key(const media_jwt_verifier_t *v,
    const char *kid, const media_jwt_alg_t *a, const char *signed_part,
    size_t signed_len, const unsigned char *sig, size_t siglen,
    media_jwt_rc_e *rc);
static int media_jwt_check_sig(const media_jwt_key_t *key,
    const media_jwt_alg_t *a, const char *signed_part, size_t signed_len,
    const unsigned char *sig, size_t siglen);
static int media_jwt_verify_pkey(EVP_PKEY *pkey, const media_jwt_alg_t *a,
    const unsigned char *data, size_t len, const unsigned char *sig,
    size_t siglen);
static media_jwt_rc_e media_jwt_claims(const media_jwt_verifier_t *v,
    yajl_val payload, long now, media_jwt_claims_t *c);
static int media_jwt_number(yajl_val obj, const char *name, long *out);
static void media_jwt_string(yajl_val obj, const char *name, char *out,
    size_t size);
static int media_jwt_has_audience(yajl_val aud, const char *want);
static int media_jwt_jwk(yajl_val jwk, media_jwt_key_t *key, char *err,
    size_t errlen);
static const media_jwt_alg_t *media_jwt_jwk_alg(yajl_val jwk,
    const char *kty, char *err, size_t errlen);
static EVP_PKEY *media_jwt_jwk_rsa(yajl_val jwk, char *err, size_t errlen);
static EVP_PKEY *media_jwt_jwk_ec(yajl_val jwk, const media_jwt_alg_t *a,
    char *err, size_t errlen);
static EVP_PKEY *media_jwt_jwk_okp(yajl_val jwk, char *err, size_t errlen);
static size_t media_jwt_jwk_bytes(yajl_val jwk, const char *name,
    unsigned char *out, size_t size);


media_jwt_rc_e
media_jwt_verify(const media_jwt_verifier_t *v, const char *token,
    size_t len, long now, media_jwt_claims_t *c)
{
    size_t                  siglen;
    yajl_val                header, payload, val;
    const char             *dot1, *dot2, *kid;
    unsigned char          *sig;
    media_jwt_rc_e          rc;
    const media_jwt_key_t  *key;
    const media_jwt_alg_t  *a;

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
    sig = NULL;

    /* an extension we would have to understand: refuse (RFC 7515 4.1.11) */
    if (yajl_tree_get(header, crit_path, yajl_t_any) != NULL) {
        rc = MEDIA_JWT_BAD_HEADER;
        goto done;
    }

    val = yajl_tree_get(header, alg_path, yajl_t_string);
    a = val ? media_jwt_alg_by_name(media_jwt_s(val)) : NULL;
    if (a == NULL) {
        rc = MEDIA_JWT_BAD_ALG;        /* "none", missing, unsupported */
        goto done;
    }

    /* an empty kid names no key: as if there were none */
    val = yajl_tree_get(header, kid_path, yajl_t_string);
    kid = (val && media_jwt_s(val)[0] != '\0') ? media_jwt_s(val) : NULL;

    siglen = token + len - dot2 - 1;
    sig = malloc(media_b64url_decoded_max(siglen));
    if (sig == NULL) {
        rc = MEDIA_JWT_BAD_SIGNATURE;
        goto done;
    }

    siglen = media_b64url_decode(sig, (const unsigned char *) dot2 + 1,
                                 siglen);
    if (siglen == (size_t) -1) {
        siglen = 0;                    /* no key accepts it */
    }

    key = media_jwt_find_key(v, kid, a, token, dot2 - token, sig, siglen,
                             &rc);
    if (key == NULL) {
        goto done;
    }

    payload = media_jwt_json(dot1 + 1, dot2 - dot1 - 1);
    if (payload == NULL) {
        rc = MEDIA_JWT_BAD_CLAIMS;
        goto done;
    }

    rc = media_jwt_claims(v, payload, now, c);

    if (rc == MEDIA_JWT_OK) {
        c->alg = a->alg;
        snprintf(c->kid, sizeof(c->kid), "%s", key->kid);
    }

done:

    free(sig);
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


const char *
media_jwt_alg_name(int alg)
{
    const media_jwt_alg_t  *a;

    a = media_jwt_alg_by_id(alg);

    return a ? a->name : "?";
}


static const media_jwt_alg_t *
media_jwt_alg_by_name(const char *name)
{
    const media_jwt_alg_t  *a;

    for (a = media_jwt_algs; a->name; a++) {
        if (strcmp(a->name, name) == 0) {
            return a;
        }
    }

    return NULL;
}


static const media_jwt_alg_t *
media_jwt_alg_by_id(int alg)
{
    const media_jwt_alg_t  *a;

    for (a = media_jwt_algs; a->name; a++) {
        if (a->alg == alg) {
            return a;
        }
    }

    return NULL;
}


static const EVP_MD *
media_jwt_md(const media_jwt_alg_t *a)
{
    switch (a->bits) {
    case 256:
        return EVP_sha256();
    case 384:
        return EVP_sha384();
    case 512:
        return EVP_sha512();
    default:
        return NULL;
    }
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


/*
 * The key that verifies the signature, or NULL with *rc saying why.
 * With a kid: the key of that kid pinned to the token's alg (another
 * alg: BAD_ALG).  Without: each key pinned to the token's alg in turn, as
 * a provider that sends no kid may have several during a rotation; when
 * none verifies, the token may be signed with a key of another set, or
 * with a provider's new key, so it is UNKNOWN_KID as when there is no
 * such key at all: the caller may try its next set, or fetch the keys.
 */
static const media_jwt_key_t *
media_jwt_find_key(const media_jwt_verifier_t *v, const char *kid,
    const media_jwt_alg_t *a, const char *signed_part, size_t signed_len,
    const unsigned char *sig, size_t siglen, media_jwt_rc_e *rc)
{
    size_t                  i;
    const media_jwt_key_t  *key;

    *rc = MEDIA_JWT_UNKNOWN_KID;

    for (i = 0; i < v->nkeys; i++) {
        key = &v->keys[i];

        if (kid && strcmp(key->kid, kid) != 0) {
            continue;
        }

        if (key->alg != a->alg) {
            /* the key decides the algorithm; the header may only agree */
            if (kid) {
                *rc = MEDIA_JWT_BAD_ALG;
            }

            continue;
        }

        if (media_jwt_check_sig(key, a, signed_part, signed_len, sig,
                                siglen))
        {
            *rc = MEDIA_JWT_OK;
            return key;
        }

        if (kid) {
            *rc = MEDIA_JWT_BAD_SIGNATURE;
            return NULL;
        }
    }

    return NULL;
}


static int
media_jwt_check_sig(const media_jwt_key_t *key, const media_jwt_alg_t *a,
    const char *signed_part, size_t signed_len, const unsigned char *sig,
    size_t siglen)
{
    unsigned int   maclen;
    unsigned char  mac[EVP_MAX_MD_SIZE];

    if (siglen == 0) {
        return 0;
    }

    if (a->kind != MEDIA_JWT_KIND_HMAC) {
        return key->pkey != NULL
               && media_jwt_verify_pkey(key->pkey, a,
                                        (const unsigned char *) signed_part,
                                        signed_len, sig, siglen);
    }

    if (siglen != 32
        || HMAC(EVP_sha256(), key->secret, (int) key->secret_len,
                (const unsigned char *) signed_part, signed_len, mac,
                &maclen) == NULL)
    {
        return 0;
    }

    /* constant time: the comparison must not leak a matching prefix */
    return CRYPTO_memcmp(mac, sig, 32) == 0;
}


/*
 * RS*: PKCS#1 v1.5.  PS*: RSASSA-PSS, MGF1 with the same hash, salt as
 * long as the hash (RFC 7518 3.5), nothing else accepted.  ES*: JWS
 * carries r||s, each as long as the curve's field (RFC 7518 3.4); OpenSSL
 * wants DER, so it is converted first.  EdDSA: Ed25519 signs the message
 * itself, no digest (RFC 8037 3.1).
 */
static int
media_jwt_verify_pkey(EVP_PKEY *pkey, const media_jwt_alg_t *a,
    const unsigned char *data, size_t len, const unsigned char *sig,
    size_t siglen)
{
    int             ok, derlen;
    BIGNUM         *r, *s;
    ECDSA_SIG      *es;
    EVP_MD_CTX     *md;
    const EVP_MD   *hash;
    EVP_PKEY_CTX   *pctx;
    unsigned char  *der;

    der = NULL;
    hash = media_jwt_md(a);

    switch (a->kind) {

    case MEDIA_JWT_KIND_EC:
        if (siglen != 2 * a->coord) {
            return 0;
        }

        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, (int) a->coord, NULL);
        s = BN_bin2bn(sig + a->coord, (int) a->coord, NULL);

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
        break;

    case MEDIA_JWT_KIND_EDDSA:
        if (siglen != 64) {
            return 0;
        }

        break;

    default:
        break;
    }

    pctx = NULL;
    md = EVP_MD_CTX_new();

    ok = md != NULL
         && EVP_DigestVerifyInit(md, &pctx, hash, NULL, pkey) == 1;

    if (ok && a->kind == MEDIA_JWT_KIND_PSS) {
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
             && EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, hash) == 1
             && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                 RSA_PSS_SALTLEN_DIGEST)
                == 1;
    }

    ok = ok && EVP_DigestVerify(md, sig, siglen, data, len) == 1;

    EVP_MD_CTX_free(md);
    OPENSSL_free(der);

    /* a refused signature leaves its reason queued: not ours to keep */
    ERR_clear_error();

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
    size_t max, media_jwt_warn_pt warn, void *data, char *err,
    size_t errlen)
{
    char      *text, msg[300], why[200], name[80];
    size_t     i, n, skipped;
    yajl_val   doc, arr, jwk, val;

    static const char  *keys_path[] = { "keys", NULL };
    static const char  *kid_path[] = { "kid", NULL };

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
        /* yajl's message goes on to quote the input on more lines */
        snprintf(err, errlen, "not JSON: %.*s", (int) strcspn(msg, "\n"),
                 msg);
        return -1;
    }

    arr = yajl_tree_get(doc, keys_path, yajl_t_array);
    if (arr == NULL) {
        snprintf(err, errlen, "no \"keys\" array");
        yajl_tree_free(doc);
        return -1;
    }

    n = 0;
    skipped = 0;

    for (i = 0; i < arr->u.array.len; i++) {
        jwk = arr->u.array.values[i];

        /* the key's name in messages: its kid, else its place */
        val = YAJL_IS_OBJECT(jwk) ? yajl_tree_get(jwk, kid_path,
                                                  yajl_t_string)
                                  : NULL;
        if (val && strlen(media_jwt_s(val)) < 48) {
            snprintf(name, sizeof(name), "key \"%s\"", media_jwt_s(val));
        } else {
            snprintf(name, sizeof(name), "key %zu", i);
        }

        if (n == max) {
            snprintf(why, sizeof(why), "more than %zu keys", max);

        } else if (media_jwt_jwk(jwk, &keys[n], why, sizeof(why)) == 0) {
            n++;
            continue;
        }

        skipped++;

        if (warn) {
            snprintf(msg, sizeof(msg), "%s skipped: %s", name, why);
            warn(data, msg);
        }
    }

    yajl_tree_free(doc);

    if (n == 0) {
        snprintf(err, errlen, "no signing keys (%zu skipped)", skipped);
        return -1;
    }

    return (int) n;
}


/* one JWK into key; 0, or -1 with the reason in err */
static int
media_jwt_jwk(yajl_val jwk, media_jwt_key_t *key, char *err, size_t errlen)
{
    size_t                  i;
    yajl_val                val;
    const char             *kty;
    const media_jwt_alg_t  *a;

    static const char  *kty_path[] = { "kty", NULL };
    static const char  *kid_path[] = { "kid", NULL };
    static const char  *use_path[] = { "use", NULL };
    static const char  *ops_path[] = { "key_ops", NULL };

    if (!YAJL_IS_OBJECT(jwk)) {
        snprintf(err, errlen, "not an object");
        return -1;
    }

    /* an encryption key is no use here (RFC 7517 4.2, 4.3) */
    val = yajl_tree_get(jwk, use_path, yajl_t_string);
    if (val && strcmp(media_jwt_s(val), "sig") != 0) {
        snprintf(err, errlen, "\"use\" is \"%.40s\", not \"sig\"",
                 media_jwt_s(val));
        return -1;
    }

    val = yajl_tree_get(jwk, ops_path, yajl_t_array);
    if (val) {
        for (i = 0; i < val->u.array.len; i++) {
            if (YAJL_IS_STRING(val->u.array.values[i])
                && strcmp(media_jwt_s(val->u.array.values[i]), "verify")
                   == 0)
            {
                break;
            }
        }

        if (i == val->u.array.len) {
            snprintf(err, errlen, "\"key_ops\" has no \"verify\"");
            return -1;
        }
    }

    memset(key, 0, sizeof(media_jwt_key_t));

    /* without a kid the key still verifies tokens that have none */
    val = yajl_tree_get(jwk, kid_path, yajl_t_any);
    if (val) {
        if (!YAJL_IS_STRING(val) || media_jwt_s(val)[0] == '\0'
            || strlen(media_jwt_s(val)) >= sizeof(key->kid))
        {
            snprintf(err, errlen, "\"kid\" is not a string of 1 to %zu "
                     "characters", sizeof(key->kid) - 1);
            return -1;
        }

        strcpy(key->kid, media_jwt_s(val));
    }

    val = yajl_tree_get(jwk, kty_path, yajl_t_string);
    kty = val ? media_jwt_s(val) : "";

    a = media_jwt_jwk_alg(jwk, kty, err, errlen);
    if (a == NULL) {
        return -1;
    }

    key->alg = a->alg;

    switch (a->kind) {
    case MEDIA_JWT_KIND_RSA:
    case MEDIA_JWT_KIND_PSS:
        key->pkey = media_jwt_jwk_rsa(jwk, err, errlen);
        break;
    case MEDIA_JWT_KIND_EC:
        key->pkey = media_jwt_jwk_ec(jwk, a, err, errlen);
        break;
    default:
        key->pkey = media_jwt_jwk_okp(jwk, err, errlen);
        break;
    }

    if (key->pkey == NULL) {
        memset(key, 0, sizeof(media_jwt_key_t));
        return -1;
    }

    return 0;
}


/*
 * The algorithm a JWK is pinned to: its "alg" if it has one, which must
 * suit its kty and curve; else the one they imply.  Never HMAC: a
 * provider's key is public, and HS256 with it would let anyone sign.
 */
static const media_jwt_alg_t *
media_jwt_jwk_alg(yajl_val jwk, const char *kty, char *err, size_t errlen)
{
    yajl_val                val, crv;
    const char             *c;
    const media_jwt_alg_t  *a;

    static const char  *alg_path[] = { "alg", NULL };
    static const char  *crv_path[] = { "crv", NULL };

    crv = yajl_tree_get(jwk, crv_path, yajl_t_string);
    c = crv ? media_jwt_s(crv) : "";

    if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0
        && strcmp(kty, "OKP") != 0)
    {
        snprintf(err, errlen, "kty \"%.40s\" is not supported (RSA, EC "
                 "and OKP are)", kty);
        return NULL;
    }

    val = yajl_tree_get(jwk, alg_path, yajl_t_any);

    if (val == NULL) {
        if (strcmp(kty, "RSA") == 0) {
            return media_jwt_alg_by_id(MEDIA_JWT_RS256);
        }

        for (a = media_jwt_algs; a->name; a++) {
            if (a->crv && strcmp(a->crv, c) == 0
                && (a->kind == MEDIA_JWT_KIND_EC) == (strcmp(kty, "EC") == 0))
            {
                return a;
            }
        }

        snprintf(err, errlen, "kty %s with crv \"%.40s\" is not supported "
                 "(P-256, P-384, P-521 and Ed25519 are)", kty, c);
        return NULL;
    }

    a = YAJL_IS_STRING(val) ? media_jwt_alg_by_name(media_jwt_s(val))
                            : NULL;

    if (a == NULL || a->kind == MEDIA_JWT_KIND_HMAC) {
        snprintf(err, errlen, "alg \"%.40s\" is not supported for a JWKS "
                 "key (RS*, PS*, ES* and EdDSA are)",
                 YAJL_IS_STRING(val) ? media_jwt_s(val) : "?");
        return NULL;
    }

    if ((strcmp(kty, "RSA") == 0) != (a->kind == MEDIA_JWT_KIND_RSA
                                      || a->kind == MEDIA_JWT_KIND_PSS)
        || (strcmp(kty, "EC") == 0) != (a->kind == MEDIA_JWT_KIND_EC)
        || (a->crv && strcmp(a->crv, c) != 0))
    {
        snprintf(err, errlen, "alg %s does not suit kty %s%s%.40s", a->name,
                 kty, crv ? " crv " : "", c);
        return NULL;
    }

    return a;
}


static EVP_PKEY *
media_jwt_jwk_rsa(yajl_val jwk, char *err, size_t errlen)
{
    size_t           nlen, elen;
    BIGNUM          *n, *e;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    unsigned char    nbuf[1026], ebuf[16];
    OSSL_PARAM_BLD  *bld;

    nlen = media_jwt_jwk_bytes(jwk, "n", nbuf, sizeof(nbuf));
    elen = media_jwt_jwk_bytes(jwk, "e", ebuf, sizeof(ebuf));

    pkey = NULL;
    params = NULL;
    ctx = NULL;
    n = nlen ? BN_bin2bn(nbuf, (int) nlen, NULL) : NULL;
    e = elen ? BN_bin2bn(ebuf, (int) elen, NULL) : NULL;
    bld = OSSL_PARAM_BLD_new();

    /* 2048 bits at least (RFC 7518 3.3); a leading zero octet is forgiven */
    if (n == NULL || e == NULL || BN_num_bits(n) < 2048) {
        snprintf(err, errlen, "RSA key needs \"n\" of 2048 to 8192 bits "
                 "and \"e\"");
        goto done;
    }

    if (bld
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

done:

    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    ERR_clear_error();

    return pkey;
}


static EVP_PKEY *
media_jwt_jwk_ec(yajl_val jwk, const media_jwt_alg_t *a, char *err,
    size_t errlen)
{
    size_t          c;
    EVP_PKEY       *pkey;
    OSSL_PARAM      params[3];
    EVP_PKEY_CTX   *ctx;
    unsigned char   pub[2 + 2 * 66];

    /* an uncompressed point: 0x04 || x || y, each the field's size */
    c = a->coord;
    pub[0] = 0x04;

    if (media_jwt_jwk_bytes(jwk, "x", pub + 1, c + 1) != c
        || media_jwt_jwk_bytes(jwk, "y", pub + 1 + c, c + 1) != c)
    {
        snprintf(err, errlen, "EC key on %s needs %zu-byte \"x\" and \"y\"",
                 a->crv, c);
        return NULL;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *) a->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, 1 + 2 * c);
    params[2] = OSSL_PARAM_construct_end();

    pkey = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);

    /* OpenSSL refuses a point that is not on the curve */
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        snprintf(err, errlen, "EC key rejected by OpenSSL (not a point on "
                 "%s)", a->crv);
        pkey = NULL;
    }

    EVP_PKEY_CTX_free(ctx);
    ERR_clear_error();

    return pkey;
}


/* RFC 8037 2: "x" is the raw 32-byte Ed25519 public key */
static EVP_PKEY *
media_jwt_jwk_okp(yajl_val jwk, char *err, size_t errlen)
{
    EVP_PKEY       *pkey;
    unsigned char   x[33];

    if (media_jwt_jwk_bytes(jwk, "x", x, sizeof(x)) != 32) {
        snprintf(err, errlen, "Ed25519 key needs a 32-byte \"x\"");
        return NULL;
    }

    pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
    if (pkey == NULL) {
        snprintf(err, errlen, "Ed25519 key rejected by OpenSSL");
    }

    ERR_clear_error();

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
