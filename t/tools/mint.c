/*
 * mint: an identity provider for the tests.
 *
 *   mint keys DIR                    RSA and EC P-256 keys, DIR/jwks.json
 *   mint sign DIR ALG KID PAYLOAD    a token: ALG is RS256, ES256, or
 *                                    HS256-RSAPUB (HMAC keyed with the RSA
 *                                    public key: algorithm confusion)
 */

#include <stdlib.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "jwt_keys.h"


static EVP_PKEY *
load(const char *dir, const char *name)
{
    char       path[1024];
    FILE      *f;
    EVP_PKEY  *k;

    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }

    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    return k;
}


static void
save(const char *dir, const char *name, EVP_PKEY *k)
{
    char   path[1024];
    FILE  *f;

    snprintf(path, sizeof(path), "%s/%s.pem", dir, name);
    f = fopen(path, "w");
    if (f == NULL || !PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL)) {
        perror(path);
        exit(1);
    }
    fclose(f);
}


int
main(int argc, char **argv)
{
    int             n;
    char            a[2048], b[512], path[1024], tok[16384], header[256];
    FILE           *f;
    EVP_PKEY       *rsa, *ec;
    unsigned char  *der = NULL;

    if (argc == 3 && strcmp(argv[1], "keys") == 0) {
        rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
        ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        save(argv[2], "rsa", rsa);
        save(argv[2], "ec", ec);

        test_jwk(a, sizeof(a), rsa, "rsa1");
        test_jwk(b, sizeof(b), ec, "ec1");

        snprintf(path, sizeof(path), "%s/jwks.json", argv[2]);
        f = fopen(path, "w");
        if (f == NULL) {
            perror(path);
            return 1;
        }
        fprintf(f, "{\"keys\":[%s,%s]}\n", a, b);
        fclose(f);
        EVP_PKEY_free(rsa);
        EVP_PKEY_free(ec);
        return 0;
    }

    if (argc != 6 || strcmp(argv[1], "sign") != 0) {
        fprintf(stderr, "usage: mint keys DIR | mint sign DIR ALG KID "
                "PAYLOAD\n");
        return 2;
    }

    if (strcmp(argv[3], "HS256-RSAPUB") == 0) {
        rsa = load(argv[2], "rsa");
        n = i2d_PUBKEY(rsa, &der);
        snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\"}",
                 argv[4]);
        test_sign_hmac(tok, der, (size_t) n, header, argv[5]);
        puts(tok);
        OPENSSL_free(der);
        EVP_PKEY_free(rsa);
        return 0;
    }

    snprintf(header, sizeof(header), "{\"alg\":\"%s\",\"kid\":\"%s\"}",
             argv[3], argv[4]);
    rsa = load(argv[2], strcmp(argv[3], "ES256") == 0 ? "ec" : "rsa");
    test_sign(tok, rsa, header, argv[5]);
    puts(tok);
    EVP_PKEY_free(rsa);

    return 0;
}
