/*
 * nginx-free password hashing: PBKDF2-HMAC-SHA256 from OpenSSL, salted,
 * stored as "pbkdf2-sha256$<iterations>$<salt>$<hash>" (base64url) so that
 * the cost can be raised later without invalidating stored hashes.
 *
 * Slow on purpose (hundreds of milliseconds): the nginx module runs it on
 * a thread pool, never on the event loop.
 */

#ifndef _MEDIA_PASSWORD_H_INCLUDED_
#define _MEDIA_PASSWORD_H_INCLUDED_


#include <stddef.h>


#define MEDIA_PASSWORD_ITERATIONS  600000   /* OWASP 2023 for PBKDF2-SHA256 */
#define MEDIA_PASSWORD_MIN_LEN     8
#define MEDIA_PASSWORD_MAX_LEN     1024     /* bytes; bounds the work */
#define MEDIA_PASSWORD_HASH_LEN    128      /* room for the stored form */


/* 0 on success, -1 when the salt could not be drawn or out is too small */
int media_password_hash(const char *password, size_t len,
    unsigned long iterations, char *out, size_t size);

/*
 * 1: matches, 0: does not, -1: stored is not a hash this code made.
 * The comparison runs in constant time.
 */
int media_password_verify(const char *password, size_t len,
    const char *stored);

/* a hash stored with fewer iterations than the current setting */
int media_password_needs_rehash(const char *stored, unsigned long iterations);


#endif /* _MEDIA_PASSWORD_H_INCLUDED_ */
