/*
 * libFuzzer target for the JWT core: the first byte picks what the rest
 * is, an access token (verified against HS256, RS256 and ES256 keys) or a
 * JWKS document.  Nothing may crash, leak or read out of bounds.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_jwt.h"


static media_jwt_key_t       keys[3];
static media_jwt_verifier_t  v;


static void
setup(void)
{
    media_jwt_key_secret(&keys[0], (const unsigned char *)
                         "0123456789abcdef0123456789abcdef", 32);

    strcpy(keys[1].kid, "rsa1");
    keys[1].alg = MEDIA_JWT_RS256;
    keys[1].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);

    strcpy(keys[2].kid, "ec1");
    keys[2].alg = MEDIA_JWT_ES256;
    keys[2].pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

    v.keys = keys;
    v.nkeys = 3;
    v.issuer = "ngx_media";
    v.audience = "media";
    v.leeway = 30;
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
        n = media_jwt_jwks((const char *) data + 1, size - 1, jwks, 8, err,
                           sizeof(err));
        for (i = 0; i < n; i++) {
            media_jwt_key_free(&jwks[i]);
        }
        return 0;
    }

    (void) media_jwt_verify(&v, (const char *) data + 1, size - 1,
                            1700000000L, &c);
    return 0;
}
