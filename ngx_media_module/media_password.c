/*
 * PBKDF2-HMAC-SHA256 password hashes.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "media_b64.h"
#include "media_password.h"


#define MEDIA_SALT_LEN  16
#define MEDIA_DK_LEN    32
#define MEDIA_PREFIX    "pbkdf2-sha256$"


static int media_password_parse(const char *stored, unsigned long *iter,
    unsigned char *salt, unsigned char *dk);


int
media_password_hash(const char *password, size_t len,
    unsigned long iterations, char *out, size_t size)
{
    int            n;
    char           salt64[32], dk64[48];
    unsigned char  salt[MEDIA_SALT_LEN], dk[MEDIA_DK_LEN];

    if (RAND_bytes(salt, sizeof(salt)) != 1
        || PKCS5_PBKDF2_HMAC(password, (int) len, salt, sizeof(salt),
                             (int) iterations, EVP_sha256(), sizeof(dk), dk)
           != 1)
    {
        return -1;
    }

    salt64[media_b64url_encode((unsigned char *) salt64, salt,
                               sizeof(salt))] = '\0';
    dk64[media_b64url_encode((unsigned char *) dk64, dk, sizeof(dk))] = '\0';

    n = snprintf(out, size, MEDIA_PREFIX "%lu$%s$%s", iterations, salt64,
                 dk64);

    OPENSSL_cleanse(dk, sizeof(dk));

    return (n > 0 && (size_t) n < size) ? 0 : -1;
}


int
media_password_verify(const char *password, size_t len, const char *stored)
{
    int            ok;
    unsigned long  iter;
    unsigned char  salt[MEDIA_SALT_LEN], want[MEDIA_DK_LEN], got[MEDIA_DK_LEN];

    if (media_password_parse(stored, &iter, salt, want) != 0) {
        return -1;
    }

    if (PKCS5_PBKDF2_HMAC(password, (int) len, salt, sizeof(salt), (int) iter,
                          EVP_sha256(), sizeof(got), got)
        != 1)
    {
        return -1;
    }

    ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;

    OPENSSL_cleanse(got, sizeof(got));

    return ok;
}


int
media_password_needs_rehash(const char *stored, unsigned long iterations)
{
    unsigned long  iter;
    unsigned char  salt[MEDIA_SALT_LEN], dk[MEDIA_DK_LEN];

    return media_password_parse(stored, &iter, salt, dk) != 0
           || iter < iterations;
}


static int
media_password_parse(const char *stored, unsigned long *iter,
    unsigned char *salt, unsigned char *dk)
{
    char           *end;
    size_t          len;
    const char     *p, *dollar;
    unsigned char   buf[MEDIA_DK_LEN + 2];

    if (strncmp(stored, MEDIA_PREFIX, sizeof(MEDIA_PREFIX) - 1) != 0) {
        return -1;
    }

    p = stored + sizeof(MEDIA_PREFIX) - 1;

    *iter = strtoul(p, &end, 10);
    if (end == p || *end != '$' || *iter < 1000 || *iter > 100000000) {
        return -1;
    }

    p = end + 1;
    dollar = strchr(p, '$');
    if (dollar == NULL) {
        return -1;
    }

    len = (size_t) (dollar - p);

    if (media_b64url_decoded_max(len) > sizeof(buf)
        || media_b64url_decode(buf, (const unsigned char *) p, len)
           != MEDIA_SALT_LEN)
    {
        return -1;
    }

    memcpy(salt, buf, MEDIA_SALT_LEN);

    p = dollar + 1;

    if (media_b64url_decoded_max(strlen(p)) > sizeof(buf)
        || media_b64url_decode(buf, (const unsigned char *) p, strlen(p))
           != MEDIA_DK_LEN)
    {
        return -1;
    }

    memcpy(dk, buf, MEDIA_DK_LEN);

    return 0;
}
