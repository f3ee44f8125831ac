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

    test_sign_hmac(tok, keys[0].secret, keys[0].secret_len,
                   "{\"alg\":\"HS256\"}", p);
    ok(check(tok) == MEDIA_JWT_UNKNOWN_KID, "no kid among several keys");

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


static void
test_jwks(EVP_PKEY *rsa, EVP_PKEY *ec)
{
    int                   n;
    char                  jwks[4096], a[2048], b[512], p[256], err[256];
    media_jwt_key_t       idp[4];
    media_jwt_claims_t    c;
    media_jwt_verifier_t  iv;

    test_jwk(a, sizeof(a), rsa, "rsa1");
    test_jwk(b, sizeof(b), ec, "ec1");
    snprintf(jwks, sizeof(jwks), "{\"keys\":[%s,%s,{\"kty\":\"RSA\","
             "\"kid\":\"enc\",\"use\":\"enc\"}]}", a, b);

    n = media_jwt_jwks(jwks, strlen(jwks), idp, 4, err, sizeof(err));
    ok(n == 2, "JWKS: two signing keys, encryption key skipped (%d %s)", n,
       n < 0 ? err : "");

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

    media_jwt_key_free(&idp[0]);
    media_jwt_key_free(&idp[1]);

    ok(media_jwt_jwks("[]", 2, idp, 4, err, sizeof(err)) == -1
       && strstr(err, "keys"), "JWKS without keys: %s", err);
    ok(media_jwt_jwks("{", 1, idp, 4, err, sizeof(err)) == -1,
       "JWKS not JSON: %s", err);
    ok(media_jwt_jwks("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\"}]}", 35, idp,
                      4, err, sizeof(err)) == -1 && strstr(err, "oct"),
       "JWKS symmetric key refused: %s", err);
    ok(media_jwt_jwks("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\",\"crv\":"
                      "\"P-384\"}]}", 48, idp, 4, err, sizeof(err)) == -1
       && strstr(err, "P-256"), "JWKS other curve refused: %s", err);

    snprintf(jwks, sizeof(jwks), "{\"keys\":[%s]}", a);
    *strstr(jwks, "RS256") = 'H';
    ok(media_jwt_jwks(jwks, strlen(jwks), idp, 4, err, sizeof(err)) == -1
       && strstr(err, "HS256"), "JWKS alg disagreeing with kty: %s", err);
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

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(ec);

    return done_testing();
}
