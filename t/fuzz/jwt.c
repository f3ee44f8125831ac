/*
 * libFuzzer target for the JWT core: the first byte picks what the rest
 * is, an access token (verified against a key of every algorithm, with
 * and without kid) or a JWKS document.  Nothing may crash, leak or read
 * out of bounds.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_jwt.h"


static media_jwt_key_t       keys[12];
static media_jwt_verifier_t  v;


static void
add(const char *kid, int alg, EVP_PKEY *pkey)
{
    strcpy(keys[v.nkeys].kid, kid);
    keys[v.nkeys].alg = alg;
    keys[v.nkeys].pkey = pkey;
    v.nkeys++;
}


static void
setup(void)
{
    EVP_PKEY  *rsa;

    media_jwt_key_secret(&keys[0], (const unsigned char *)
                         "0123456789abcdef0123456789abcdef", 32);
    v.nkeys = 1;

    /* one RSA key pinned six ways, as a JWKS may list it */
    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    add("rsa1", MEDIA_JWT_RS256, rsa);
    add("rs384", MEDIA_JWT_RS384, rsa);
    add("rs512", MEDIA_JWT_RS512, rsa);
    add("ps256", MEDIA_JWT_PS256, rsa);
    add("ps384", MEDIA_JWT_PS384, rsa);
    add("ps512", MEDIA_JWT_PS512, rsa);
    add("ec1", MEDIA_JWT_ES256, EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"));
    add("es384", MEDIA_JWT_ES384,
        EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"));
    add("es512", MEDIA_JWT_ES512,
        EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"));
    add("", MEDIA_JWT_EDDSA, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));

    v.keys = keys;
    v.issuer = "ngx_media";
    v.audience = "media";
    v.leeway = 30;
}


static void
warn(void *data, const char *msg)
{
    (void) data;
    (void) msg;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 i, n;
    char                err[256];
    media_jwt_key_t     jwks[8];
    media_jwt_claims_t  c;

    if (v.nkeys == 0) {
        setup();
    }

    if (size == 0) {
        return 0;
    }

    if (data[0] & 1) {
        n = media_jwt_jwks((const char *) data + 1, size - 1, jwks, 8, warn,
                           NULL, err, sizeof(err));
        for (i = 0; i < n; i++) {
            media_jwt_key_free(&jwks[i]);
        }
        return 0;
    }

    (void) media_jwt_verify(&v, (const char *) data + 1, size - 1,
                            1700000000L, &c);
    return 0;
}
