/*
 * nginx-free JWT (RFC 7519) for access tokens: HS256 issued and verified
 * with our own keys, RS256 and ES256 verified with keys from a JWKS file
 * (an external identity provider).
 *
 * Each key pins its algorithm: a token is checked with the algorithm of
 * the key its "kid" names, never with the one its header asks for, so
 * "none" and HS256-signed-with-an-RSA-public-key are refused by
 * construction.
 */

#ifndef _MEDIA_JWT_H_INCLUDED_
#define _MEDIA_JWT_H_INCLUDED_


#include <stddef.h>

#include <openssl/evp.h>


#define MEDIA_JWT_MAX_LEN   8192      /* longer tokens are refused unread */

#define MEDIA_JWT_HS256     1
#define MEDIA_JWT_RS256     2
#define MEDIA_JWT_ES256     3


typedef struct {
    char            kid[64];
    int             alg;
    unsigned char   secret[64];       /* HS256 */
    size_t          secret_len;
    EVP_PKEY       *pkey;             /* RS256, ES256 */
} media_jwt_key_t;


typedef struct {
    const media_jwt_key_t  *keys;
    size_t                  nkeys;
    const char             *issuer;      /* NULL: not checked */
    const char             *audience;    /* NULL: not checked */
    long                    leeway;      /* seconds, for exp and nbf */
} media_jwt_verifier_t;


/*
 * What a token says of its holder.  Role and plan are not read: what a
 * person may do comes from our own rows, never from a token.
 */
typedef struct {
    char    iss[256];
    char    sub[256];         /* an IdP's subject: any string to 255 bytes */
    char    email[256];
    char    jti[64];
    char    sid[64];          /* our tokens: the session (refresh family) */
    int     email_verified;
    long    exp;
    long    nbf;
    long    iat;
    int     alg;
    char    kid[64];
} media_jwt_claims_t;


typedef enum {
    MEDIA_JWT_OK = 0,
    MEDIA_JWT_TOO_LONG,
    MEDIA_JWT_MALFORMED,
    MEDIA_JWT_BAD_HEADER,
    MEDIA_JWT_BAD_ALG,
    MEDIA_JWT_UNKNOWN_KID,
    MEDIA_JWT_BAD_SIGNATURE,
    MEDIA_JWT_BAD_CLAIMS,
    MEDIA_JWT_EXPIRED,
    MEDIA_JWT_NOT_YET_VALID,
    MEDIA_JWT_BAD_ISSUER,
    MEDIA_JWT_BAD_AUDIENCE
} media_jwt_rc_e;


/* checks signature and claims at time now; fills c on MEDIA_JWT_OK */
media_jwt_rc_e media_jwt_verify(const media_jwt_verifier_t *v,
    const char *token, size_t len, long now, media_jwt_claims_t *c);

/* "expired", "bad_signature", ...: for users, logs and $media_token_status */
const char *media_jwt_reason(media_jwt_rc_e rc);

/*
 * Signs a payload (a JSON object) with an HS256 key; returns the token
 * length, 0 if out is too small.
 */
size_t media_jwt_sign(const media_jwt_key_t *key, const char *payload,
    size_t len, char *out, size_t size);

/* an HS256 key from a secret (16 to 64 bytes); kid is derived from it */
int media_jwt_key_secret(media_jwt_key_t *key, const unsigned char *secret,
    size_t len);

/*
 * Public keys from a JWKS document (RFC 7517): RSA (RS256) and EC P-256
 * (ES256), each with a kid.  Returns the number loaded into keys (at most
 * max), or -1 with a message in err.
 */
int media_jwt_jwks(const char *json, size_t len, media_jwt_key_t *keys,
    size_t max, char *err, size_t errlen);

void media_jwt_key_free(media_jwt_key_t *key);


#endif /* _MEDIA_JWT_H_INCLUDED_ */
