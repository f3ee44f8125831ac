/*
 * media_jwt, media_b64, media_password: signing and verifying, and every
 * way a token can be wrong.
 */

#include <stdlib.h>
#include <time.h>

#include <openssl/x509.h>

#include "tap.h"
#include "media_b64.h"
#include "media_jwt.h"
#include "media_password.h"
#include "jwt_keys.h"


#define NOW  1700000000L

static media_jwt_key_t        keys[4];
static media_jwt_verifier_t   v;
static char                   tok[MEDIA_JWT_MAX_LEN * 2];


static media_jwt_rc_e
check(const char *token)
{
    media_jwt_claims_t  c;

    return media_jwt_verify(&v, token, strlen(token), NOW, &c);
}


static const char *
hs_key(const media_jwt_key_t *key, const char *payload)
{
    size_t  n;

    n = media_jwt_sign(key, payload, strlen(payload), tok, sizeof(tok) - 1);
    tok[n] = '\0';
    return tok;
}


static const char *
hs(const char *payload)
{
    return hs_key(&keys[0], payload);
}


static void
test_b64url(void)
{
    unsigned char  out[16];
    size_t         n;

    n = media_b64url_encode(out, (const unsigned char *) "ab?", 3);
    is_str((char *) out, n, "YWI_", "b64url encode uses _");
    n = media_b64url_decode(out, (const unsigned char *) "YWI_", 4);
    is_str((char *) out, n, "ab?", "b64url decode");
    n = media_b64url_decode(out, (const unsigned char *) "YQ", 2);
    is_str((char *) out, n, "a", "b64url decode without padding");
    ok(media_b64url_decode(out, (const unsigned char *) "YQ==", 4)
       == (size_t) -1, "padding refused");
    ok(media_b64url_decode(out, (const unsigned char *) "Y+/", 3)
       == (size_t) -1, "standard alphabet refused");
    ok(media_b64url_decode(out, (const unsigned char *) "YWJjZ", 5)
       == (size_t) -1, "impossible length refused");
    ok(media_b64url_decode(out, (const unsigned char *) "YR", 2)
       == (size_t) -1, "non-zero unused bits refused (YR for YQ)");
    ok(media_b64url_decode(out, (const unsigned char *) "YWJ", 3)
       == (size_t) -1, "non-zero unused bits refused (YWJ for YWI)");
}


static void
test_password(void)
{
    char  h[MEDIA_PASSWORD_HASH_LEN], h2[MEDIA_PASSWORD_HASH_LEN];

    ok(media_password_hash("correct horse", 13, 1000, h, sizeof(h)) == 0,
       "hash: %s", h);
    ok(strncmp(h, "pbkdf2-sha256$1000$", 19) == 0,
       "parameters stored beside the hash");
    ok(media_password_verify("correct horse", 13, h) == 1, "verify: right");
    ok(media_password_verify("correct horsE", 13, h) == 0, "verify: wrong");
    ok(media_password_verify("correct horse", 12, h) == 0, "verify: prefix");
    media_password_hash("correct horse", 13, 1000, h2, sizeof(h2));
    ok(strcmp(h, h2) != 0, "salted: same password, different hash");
    ok(media_password_needs_rehash(h, 600000), "1000 iterations: rehash");
    ok(!media_password_needs_rehash(h, 1000), "current: no rehash");
    ok(media_password_verify("x", 1, "plaintext") == -1, "not a hash: -1");
    ok(media_password_verify("x", 1, "pbkdf2-sha256$1$AAAA$AAAA") == -1,
       "too few iterations: -1");
    ok(media_password_verify("x", 1, "pbkdf2-sha256$1000$!!$AAAA") == -1,
       "bad salt: -1");
    ok(media_password_hash("x", 1, 1000, h, 20) == -1, "short buffer: -1");
}


static void
test_hs256(void)
{
    char  p[256], bad[MEDIA_JWT_MAX_LEN * 2];
    media_jwt_claims_t  c;

    snprintf(p, sizeof(p), "{\"sub\":\"u1\",\"role\":\"admin\",\"jti\":\"j1\","
             "\"sid\":\"s1\",\"email_verified\":true,"
             "\"iss\":\"ngx_media\",\"exp\":%ld}", NOW + 60);

    hs(p);
    ok(media_jwt_verify(&v, tok, strlen(tok), NOW, &c) == MEDIA_JWT_OK,
       "HS256 round trip");
    ok(strcmp(c.sub, "u1") == 0 && strcmp(c.sid, "s1") == 0
       && strcmp(c.iss, "ngx_media") == 0 && c.email_verified
       && strcmp(c.jti, "j1") == 0 && c.exp == NOW + 60, "claims read");
    ok(strcmp(c.kid, keys[0].kid) == 0, "kid reported");

    /* the previous key still verifies: rotation */
    ok(check(hs_key(&keys[1], p)) == MEDIA_JWT_OK,
       "token signed with the previous key");

    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"iss\":\"ngx_media\","
             "\"exp\":%ld}", NOW - 31);
    ok(check(hs(p)) == MEDIA_JWT_EXPIRED, "expired beyond leeway");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"iss\":\"ngx_media\","
             "\"exp\":%ld}", NOW - 29);
    ok(check(hs(p)) == MEDIA_JWT_OK, "expired within leeway");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"iss\":\"ngx_media\","
             "\"exp\":%ld,\"nbf\":%ld}", NOW + 600, NOW + 29);
    ok(check(hs(p)) == MEDIA_JWT_OK, "nbf within leeway");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"iss\":\"ngx_media\","
             "\"exp\":%ld,\"nbf\":%ld}", NOW + 600, NOW + 31);
    ok(check(hs(p)) == MEDIA_JWT_NOT_YET_VALID, "nbf in the future");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%ld,\"iss\":\"evil\"}",
             NOW + 60);
    ok(check(hs(p)) == MEDIA_JWT_BAD_ISSUER, "wrong iss");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%ld}", NOW + 60);
    ok(check(hs(p)) == MEDIA_JWT_BAD_ISSUER, "missing iss");

    v.audience = "media-api";
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%ld,\"iss\":\"ngx_media\","
             "\"aud\":[\"x\",\"media-api\"]}", NOW + 60);
    ok(check(hs(p)) == MEDIA_JWT_OK, "aud array containing ours");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%ld,\"iss\":\"ngx_media\","
             "\"aud\":\"other\"}", NOW + 60);
    ok(check(hs(p)) == MEDIA_JWT_BAD_AUDIENCE, "wrong aud");
    v.audience = NULL;

    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"iss\":\"ngx_media\"}");
    ok(check(hs(p)) == MEDIA_JWT_BAD_CLAIMS, "no exp");
    snprintf(p, sizeof(p), "{\"exp\":%ld,\"iss\":\"ngx_media\"}", NOW + 60);
    ok(check(hs(p)) == MEDIA_JWT_BAD_CLAIMS, "no sub");
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":\"soon\","
             "\"iss\":\"ngx_media\"}");
    ok(check(hs(p)) == MEDIA_JWT_BAD_CLAIMS, "exp not a number");
    ok(check(hs("[1,2]")) == MEDIA_JWT_BAD_CLAIMS, "payload JSON not object");
    ok(check(hs("not json")) == MEDIA_JWT_BAD_CLAIMS, "payload not JSON");

    /* tampering */
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%ld,\"iss\":\"ngx_media\"}",
             NOW + 60);
    hs(p);
    strcpy(bad, tok);
    bad[strlen(bad) - 2] ^= 1;
    ok(check(bad) == MEDIA_JWT_BAD_SIGNATURE, "tampered signature");

    {
        char  *dot = strchr(tok, '.') + 3;
        *dot = *dot == 'A' ? 'B' : 'A';
        ok(check(tok) == MEDIA_JWT_BAD_SIGNATURE, "tampered payload");
    }

    ok(check("abc.def") == MEDIA_JWT_MALFORMED, "two segments");
    ok(check("a.b.c.d") == MEDIA_JWT_MALFORMED, "four segments");
    ok(check("") == MEDIA_JWT_MALFORMED, "empty");
    ok(check("!!!.e30.xx") == MEDIA_JWT_BAD_HEADER, "header not base64url");
    ok(check("e30.e30.xx") == MEDIA_JWT_BAD_ALG, "header without alg");

    memset(bad, 'A', MEDIA_JWT_MAX_LEN + 1);
    bad[MEDIA_JWT_MAX_LEN + 1] = '\0';
    ok(check(bad) == MEDIA_JWT_TOO_LONG, "over 8 KB refused unread");
}


static void
test_refusals(EVP_PKEY *rsa)
{
    char            p[256], h[256];
    int             derlen;
    unsigned char  *der = NULL;

    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%ld,\"iss\":\"ngx_media\"}",
             NOW + 60);

    /* alg none: no signature at all */
    test_sign_hmac(tok, (unsigned char *) "", 0, "{\"alg\":\"none\"}", p);
    *(strrchr(tok, '.') + 1) = '\0';
    ok(check(tok) == MEDIA_JWT_BAD_ALG, "alg none");

    snprintf(h, sizeof(h), "{\"alg\":\"HS512\",\"kid\":\"%s\"}", keys[0].kid);
    test_sign_hmac(tok, keys[0].secret, keys[0].secret_len, h, p);
    ok(check(tok) == MEDIA_JWT_BAD_ALG, "unsupported alg");

    test_sign_hmac(tok, keys[0].secret, keys[0].secret_len,
                   "{\"alg\":\"HS256\",\"kid\":\"nobody\"}", p);
    ok(check(tok) == MEDIA_JWT_UNKNOWN_KID, "unknown kid");

    /* without a kid, every key of its alg is tried: current, previous */
    test_sign_hmac(tok, keys[0].secret, keys[0].secret_len,
                   "{\"alg\":\"HS256\"}", p);
    ok(check(tok) == MEDIA_JWT_OK, "no kid, signed with the current key");
    test_sign_hmac(tok, keys[1].secret, keys[1].secret_len,
                   "{\"alg\":\"HS256\"}", p);
    ok(check(tok) == MEDIA_JWT_OK, "no kid, signed with the previous key");
    test_sign_hmac(tok, (unsigned char *) "someone-else-s-key-entirely", 27,
                   "{\"alg\":\"HS256\"}", p);
    ok(check(tok) == MEDIA_JWT_UNKNOWN_KID,
       "no kid, no key of ours: not ours (the next set may have it)");
    test_sign_hmac(tok, keys[0].secret, keys[0].secret_len,
                   "{\"alg\":\"HS256\",\"kid\":\"\"}", p);
    ok(check(tok) == MEDIA_JWT_OK, "empty kid: as if none");

    snprintf(h, sizeof(h), "{\"alg\":\"HS256\",\"kid\":\"%s\",\"crit\":[\"b64\"]}",
             keys[0].kid);
    test_sign_hmac(tok, keys[0].secret, keys[0].secret_len, h, p);
    ok(check(tok) == MEDIA_JWT_BAD_HEADER, "crit header refused");

    /*
     * algorithm confusion: HS256 "signed" with the RSA public key's bytes
     * and the RSA key's kid.  The key pins RS256, so it is refused.
     */
    derlen = i2d_PUBKEY(rsa, &der);
    test_sign_hmac(tok, der, (size_t) derlen,
                   "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", p);
    ok(check(tok) == MEDIA_JWT_BAD_ALG, "HS256 with the RSA public key");
    OPENSSL_free(der);

    /* and the reverse: an RS256 header naming our HMAC key */
    snprintf(h, sizeof(h), "{\"alg\":\"RS256\",\"kid\":\"%s\"}", keys[0].kid);
    test_sign(tok, rsa, h, p);
    ok(check(tok) == MEDIA_JWT_BAD_ALG, "RS256 header on an HS256 key");
}


/* collects the warnings of media_jwt_jwks */
static char    warned[4096];
static int     nwarned;


static void
warn(void *data, const char *msg)
{
    (void) data;
    nwarned++;
    snprintf(warned + strlen(warned), sizeof(warned) - strlen(warned),
             "%s\n", msg);
}


static int
jwks(const char *json, media_jwt_key_t *out, size_t max, char *err)
{
    warned[0] = '\0';
    nwarned = 0;

    return media_jwt_jwks(json, strlen(json), out, max, warn, NULL, err,
                          256);
}


static void
free_keys(media_jwt_key_t *k, int n)
{
    while (n > 0) {
        media_jwt_key_free(&k[--n]);
    }
}


static void
test_jwks(EVP_PKEY *rsa, EVP_PKEY *ec)
{
    int                   n;
    char                  set[4096], a[2048], b[512], p[256], err[256];
    media_jwt_key_t       idp[4];
    media_jwt_claims_t    c;
    media_jwt_verifier_t  iv;

    test_jwk(a, sizeof(a), rsa, "rsa1");
    test_jwk(b, sizeof(b), ec, "ec1");
    snprintf(set, sizeof(set), "{\"keys\":[%s,%s,{\"kty\":\"RSA\","
             "\"kid\":\"enc\",\"use\":\"enc\"}]}", a, b);

    n = jwks(set, idp, 4, err);
    ok(n == 2, "JWKS: two signing keys, encryption key skipped (%d %s)", n,
       n < 0 ? err : "");
    ok(nwarned == 1 && strstr(warned, "key \"enc\" skipped: \"use\" is "
                              "\"enc\""), "and a warning names it: %s",
       warned);

    iv.keys = idp;
    iv.nkeys = (size_t) n;
    iv.issuer = "https://idp.example";
    iv.audience = "media";
    iv.leeway = 30;

    snprintf(p, sizeof(p), "{\"sub\":\"ext|42\",\"exp\":%ld,"
             "\"iss\":\"https://idp.example\",\"aud\":\"media\"}", NOW + 60);

    test_sign(tok, rsa, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_OK
       && strcmp(c.sub, "ext|42") == 0, "RS256 from JWKS");

    test_sign(tok, ec, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_OK,
       "ES256 from JWKS");

    tok[strlen(tok) - 3] ^= 2;
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_BAD_SIGNATURE, "ES256 tampered");

    test_sign(tok, ec, "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "ES256 token naming the RSA key");

    test_sign(tok, rsa, "{\"alg\":\"RS256\",\"kid\":\"ec1\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "RS256 token naming the EC key");

    /*
     * A provider's token without kid while our own HS256 keys are also
     * configured: our set has no RS256 key, says so (UNKNOWN_KID, so the
     * caller tries the next set), and the provider's set verifies it.
     */
    test_sign(tok, rsa, "{\"alg\":\"RS256\"}", p);
    v.nkeys = 2;
    ok(check(tok) == MEDIA_JWT_UNKNOWN_KID,
       "RS256 without kid: our HS256 set has no key for it");
    v.nkeys = 3;
    ok(check(tok) == MEDIA_JWT_BAD_ISSUER,
       "(a set that has one checks it: good signature, not our issuer)");
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_OK
       && strcmp(c.kid, "rsa1") == 0, "... the provider's set verifies it");

    free_keys(idp, n);

    ok(jwks("[]", idp, 4, err) == -1 && strstr(err, "keys"),
       "JWKS without keys: %s", err);
    ok(jwks("{", idp, 4, err) == -1, "JWKS not JSON: %s", err);
    ok(jwks("{\"keys\":[]}", idp, 4, err) == -1
       && strstr(err, "no signing keys"), "JWKS with no keys: %s", err);
    ok(jwks("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"AAAA\"}]}", idp,
            4, err) == -1
       && strstr(warned, "key \"k\" skipped: kty \"oct\" is not supported"),
       "JWKS symmetric key skipped, none left: %s; %s", err, warned);
    ok(jwks("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\",\"crv\":"
            "\"secp256k1\",\"x\":\"AA\",\"y\":\"AA\"}]}", idp, 4, err) == -1
       && strstr(warned, "secp256k1"), "JWKS other curve skipped: %s",
       warned);

    snprintf(set, sizeof(set), "{\"keys\":[%s]}", a);
    *strstr(set, "RS256") = 'H';
    ok(jwks(set, idp, 4, err) == -1
       && strstr(warned, "alg \"HS256\" is not supported for a JWKS key"),
       "JWKS key pinned to HS256 skipped: %s", warned);

    test_jwk_as(a, sizeof(a), rsa, "rsa1", "none");
    snprintf(set, sizeof(set), "{\"keys\":[%s]}", a);
    ok(jwks(set, idp, 4, err) == -1 && strstr(warned, "alg \"none\""),
       "JWKS key pinned to none skipped: %s", warned);
}


/* one key of every kind we verify, and the kinds we do not */
static void
test_algs(EVP_PKEY *rsa, EVP_PKEY *ec)
{
    int                   i, n;
    char                  set[16384], *q, a[2048], p[256], h[128], err[256];
    EVP_PKEY             *ec384, *ec521, *ed, *ed448, *x25519, *rsa1024;
    media_jwt_key_t       idp[16];
    media_jwt_claims_t    c;
    media_jwt_verifier_t  iv;

    static const char  *algs[] = {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA"
    };

    ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    ec521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ed448 = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
    x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 1024);

    q = set;
    q += sprintf(q, "{\"keys\":[");

    /* RSA keys pinned by "alg"; EC and Ed25519 ones by their curve */
    for (i = 0; i < 6; i++) {
        test_jwk_as(a, sizeof(a), rsa, algs[i], algs[i]);
        q += sprintf(q, "%s,", a);
    }

    test_jwk_as(a, sizeof(a), ec, "ES256", NULL);
    q += sprintf(q, "%s,", a);
    test_jwk_as(a, sizeof(a), ec384, "ES384", "ES384");
    q += sprintf(q, "%s,", a);
    test_jwk_as(a, sizeof(a), ec521, "ES512", NULL);
    q += sprintf(q, "%s,", a);
    test_jwk_as(a, sizeof(a), ed, "EdDSA", NULL);
    q += sprintf(q, "%s,", a);

    /* and what is skipped, each with a warning */
    q += sprintf(q, "{\"kty\":\"RSA\",\"kid\":\"oaep\",\"use\":\"enc\","
                 "\"alg\":\"RSA-OAEP\",\"n\":\"AQAB\",\"e\":\"AQAB\"},");
    test_jwk_as(a, sizeof(a), ed448, "ed448", "EdDSA");
    q += sprintf(q, "%s,", a);
    test_jwk_as(a, sizeof(a), x25519, "x25519", NULL);
    q += sprintf(q, "%s,", a);
    test_jwk_as(a, sizeof(a), rsa1024, "short", "RS256");
    q += sprintf(q, "%s,", a);
    test_jwk_as(a, sizeof(a), ec, "es384-on-p256", "ES384");
    q += sprintf(q, "%s,", a);
    test_jwk_as(a, sizeof(a), ec, "bad-point", "ES256");
    a[strlen(a) - 4] = a[strlen(a) - 4] == 'A' ? 'B' : 'A';
    q += sprintf(q, "%s,", a);
    q += sprintf(q, "{\"kty\":\"RSA\",\"kid\":\"ops\",\"key_ops\":"
                 "[\"encrypt\"],\"n\":\"AQAB\",\"e\":\"AQAB\"},");
    q += sprintf(q, "{\"kty\":\"RSA\",\"kid\":42},\"junk\"]}");

    n = jwks(set, idp, 16, err);
    ok(n == 10, "JWKS: 10 keys of every kind load (%d %s)", n,
       n < 0 ? err : "");
    ok(nwarned == 9, "9 keys skipped, one warning each (%d)", nwarned);
    ok(strstr(warned, "key \"oaep\" skipped: \"use\" is \"enc\"") != NULL,
       "RSA-OAEP encryption key skipped");
    ok(strstr(warned, "key \"ed448\" skipped: alg EdDSA does not suit kty "
              "OKP crv Ed448") != NULL, "Ed448 skipped");
    ok(strstr(warned, "key \"x25519\" skipped: kty OKP with crv \"X25519\" "
              "is not supported") != NULL, "X25519 skipped");
    ok(strstr(warned, "key \"short\" skipped: RSA key needs \"n\" of 2048")
       != NULL, "RSA 1024 skipped");
    ok(strstr(warned, "key \"es384-on-p256\" skipped: alg ES384 does not "
              "suit kty EC crv P-256") != NULL, "alg disagreeing with crv");
    ok(strstr(warned, "key \"bad-point\" skipped: EC key rejected by OpenSSL "
              "(not a point on P-256)") != NULL, "point not on the curve");
    ok(strstr(warned, "key \"ops\" skipped: \"key_ops\" has no \"verify\"")
       != NULL, "key_ops without verify");
    ok(strstr(warned, "key 17 skipped: \"kid\" is not a string") != NULL,
       "kid not a string");
    ok(strstr(warned, "key 18 skipped: not an object") != NULL,
       "not an object");

    iv.keys = idp;
    iv.nkeys = (size_t) (n > 0 ? n : 0);
    iv.issuer = NULL;
    iv.audience = NULL;
    iv.leeway = 30;

    snprintf(p, sizeof(p), "{\"sub\":\"ext|7\",\"exp\":%ld}", NOW + 60);

    for (i = 0; i < 10; i++) {
        EVP_PKEY  *k = i < 6 ? rsa : i == 6 ? ec : i == 7 ? ec384
                       : i == 8 ? ec521 : ed;

        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"%s\"}", algs[i],
                 algs[i]);
        test_sign_as(tok, k, algs[i], -1, h, p);
        ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_OK
           && c.alg == idp[i].alg
           && strcmp(media_jwt_alg_name(c.alg), algs[i]) == 0,
           "%s with kid verifies", algs[i]);

        snprintf(h, sizeof(h), "{\"alg\":\"%s\"}", algs[i]);
        test_sign_as(tok, k, algs[i], -1, h, p);
        ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_OK
           && strcmp(c.kid, algs[i]) == 0,
           "%s without kid: tried against the keys of its alg", algs[i]);

        tok[strlen(tok) - 5] ^= 1;
        ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
           == MEDIA_JWT_UNKNOWN_KID, "%s without kid tampered: no key "
           "verifies it", algs[i]);

        snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"%s\"}", algs[i],
                 algs[i]);
        test_sign_as(tok, k, algs[i], -1, h, p);
        tok[strlen(tok) - 5] ^= 1;
        ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
           == MEDIA_JWT_BAD_SIGNATURE, "%s with kid tampered", algs[i]);
    }

    /* the key's alg, not the header's: same RSA key, other padding */
    test_sign_as(tok, rsa, "PS256", -1, "{\"alg\":\"PS256\",\"kid\":\"RS256\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "PS256 token naming the RS256 key");
    test_sign_as(tok, rsa, "RS256", -1, "{\"alg\":\"RS256\",\"kid\":\"PS256\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "RS256 token naming the PS256 key");
    test_sign_as(tok, rsa, "RS512", -1, "{\"alg\":\"RS512\",\"kid\":\"RS256\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "RS512 token naming the RS256 key");
    test_sign_as(tok, ec, "ES256", -1, "{\"alg\":\"ES384\",\"kid\":\"ES384\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_BAD_SIGNATURE, "ES256 signature under an ES384 header");
    test_sign_as(tok, ed, "EdDSA", -1, "{\"alg\":\"EdDSA\",\"kid\":\"ES256\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "EdDSA token naming an EC key");
    test_sign_as(tok, ed448, "EdDSA", -1, "{\"alg\":\"EdDSA\",\"kid\":"
                 "\"EdDSA\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_BAD_SIGNATURE, "Ed448 signature: refused");
    test_sign_hmac(tok, (unsigned char *) "x", 1,
                   "{\"alg\":\"HS256\",\"kid\":\"RS256\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "HS256 token naming a JWKS key");
    test_sign_hmac(tok, (unsigned char *) "x", 1, "{\"alg\":\"HS256\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_UNKNOWN_KID, "HS256 without kid: no key in a JWKS");
    test_sign_hmac(tok, (unsigned char *) "x", 1, "{\"alg\":\"none\"}", p);
    *(strrchr(tok, '.') + 1) = '\0';
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_BAD_ALG,
       "alg none without kid");

    /* PSS: the salt is as long as the hash, nothing else */
    test_sign_as(tok, rsa, "PS256", 0, "{\"alg\":\"PS256\",\"kid\":\"PS256\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_BAD_SIGNATURE, "PS256 with an empty salt");
    test_sign_as(tok, rsa, "PS384", 64, "{\"alg\":\"PS384\",\"kid\":\"PS384\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_BAD_SIGNATURE, "PS384 with a 64-byte salt");

    /* ES: r||s of the curve's size exactly */
    test_sign_as(tok, ec384, "ES384", -1, "{\"alg\":\"ES384\",\"kid\":"
                 "\"ES384\"}", p);
    tok[strlen(tok) - 4] = '\0';
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_BAD_SIGNATURE, "ES384 signature 3 bytes short");

    /* unknown kid, and a key that has no kid */
    test_sign_as(tok, ed, "EdDSA", -1, "{\"alg\":\"EdDSA\",\"kid\":\"new\"}",
                 p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_UNKNOWN_KID, "unknown kid");

    free_keys(idp, n);

    test_jwk_as(a, sizeof(a), ed, NULL, "EdDSA");
    snprintf(set, sizeof(set), "{\"keys\":[%s]}", a);
    n = jwks(set, idp, 16, err);
    iv.nkeys = (size_t) (n > 0 ? n : 0);
    ok(n == 1 && nwarned == 0, "a JWK without kid loads");
    test_sign_as(tok, ed, "EdDSA", -1, "{\"alg\":\"EdDSA\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c) == MEDIA_JWT_OK,
       "and verifies tokens without kid");
    test_sign_as(tok, ed, "EdDSA", -1, "{\"alg\":\"EdDSA\",\"kid\":\"x\"}", p);
    ok(media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
       == MEDIA_JWT_UNKNOWN_KID, "but not tokens naming a kid");
    free_keys(idp, n);

    /* two keys of one alg, no kid: a provider in the middle of a rotation */
    test_jwk_as(a, sizeof(a), rsa1024, NULL, "RS256");
    q = set + sprintf(set, "{\"keys\":[");
    test_jwk_as(a, sizeof(a), ec, "old", NULL);
    q += sprintf(q, "%s,", a);
    {
        EVP_PKEY  *ec2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

        test_jwk_as(a, sizeof(a), ec2, "new", NULL);
        q += sprintf(q, "%s]}", a);
        n = jwks(set, idp, 16, err);
        iv.nkeys = (size_t) (n > 0 ? n : 0);
        test_sign_as(tok, ec2, "ES256", -1, "{\"alg\":\"ES256\"}", p);
        ok(n == 2 && media_jwt_verify(&iv, tok, strlen(tok), NOW, &c)
                     == MEDIA_JWT_OK && strcmp(c.kid, "new") == 0,
           "no kid, two ES256 keys: the second verifies");
        EVP_PKEY_free(ec2);
        free_keys(idp, n);
    }

    /* more keys than room: the rest skipped, the set kept */
    n = jwks(set, idp, 1, err);
    ok(n == 1 && strstr(warned, "key \"new\" skipped: more than 1 keys"),
       "beyond max: skipped with a warning: %s", warned);
    free_keys(idp, n);

    EVP_PKEY_free(ec384);
    EVP_PKEY_free(ec521);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(ed448);
    EVP_PKEY_free(x25519);
    EVP_PKEY_free(rsa1024);
}


int
main(void)
{
    EVP_PKEY  *rsa, *ec;

    test_b64url();
    test_password();

    ok(media_jwt_key_secret(&keys[0], (unsigned char *)
                            "0123456789abcdef0123456789abcdef", 32) == 0,
       "HS256 key from a secret");
    ok(strlen(keys[0].kid) == 16, "kid derived: %s", keys[0].kid);
    media_jwt_key_secret(&keys[1], (unsigned char *)
                         "previous-key-previous-key-prev!!", 32);
    ok(media_jwt_key_secret(&keys[2], (unsigned char *) "short", 5) == -1,
       "a secret under 16 bytes is refused");

    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    /* the RSA public key also stands among the HS256 keys' neighbours */
    memset(&keys[2], 0, sizeof(keys[2]));
    strcpy(keys[2].kid, "rsa1");
    keys[2].alg = MEDIA_JWT_RS256;
    keys[2].pkey = rsa;

    v.keys = keys;
    v.nkeys = 3;
    v.issuer = "ngx_media";
    v.leeway = 30;

    test_hs256();
    test_refusals(rsa);
    test_jwks(rsa, ec);
    test_algs(rsa, ec);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);

    return done_testing();
}
