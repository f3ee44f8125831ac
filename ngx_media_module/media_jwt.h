/*
 * nginx-free JWT (RFC 7519) for access tokens: HS256 issued and verified
 * with our own keys; RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA
 * (Ed25519) verified with keys from a JWKS (an external identity
 * provider, RFC 7517 and RFC 7518, RFC 8037 for EdDSA).
 *
 * Each key pins its algorithm: a token is checked with the algorithm of
 * the key its "kid" names, never with the one its header asks for, so
 * "none" and HS256-signed-with-an-RSA-public-key are refused by
 * construction.  A token without "kid" is tried against every key pinned
 * to its "alg".
 */

#ifndef _MEDIA_JWT_H_INCLUDED_
#define _MEDIA_JWT_H_INCLUDED_


#include <stddef.h>

#include <openssl/evp.h>


#define MEDIA_JWT_MAX_LEN   8192      /* longer tokens are refused unread */

#define MEDIA_JWT_HS256     1
#define MEDIA_JWT_RS256     2
#define MEDIA_JWT_ES256     3
#define MEDIA_JWT_RS384     4
#define MEDIA_JWT_RS512     5
#define MEDIA_JWT_PS256     6
#define MEDIA_JWT_PS384     7
#define MEDIA_JWT_PS512     8
#define MEDIA_JWT_ES384     9
#define MEDIA_JWT_ES512     10
#define MEDIA_JWT_EDDSA     11


typedef struct {
    char            kid[64];          /* "": matches only tokens without */
    int             alg;
    unsigned char   secret[64];       /* HS256 */
    size_t          secret_len;
    EVP_PKEY       *pkey;             /* the others */
} media_jwt_key_t;


/* told of each JWKS key that is skipped, and why; msg names the key */
typedef void (*media_jwt_warn_pt)(void *data, const char *msg);


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


/*
 * MEDIA_JWT_UNKNOWN_KID also means "this set has no key for the token":
 * for a token without kid, no key of its alg verifies it.  The caller may
 * then try another set, and only then.
 */
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

/* "RS256", ...; "?" for an unknown number */
const char *media_jwt_alg_name(int alg);

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
 * Public signing keys from a JWKS document (RFC 7517): RSA (RS* or PS*),
 * EC P-256, P-384, P-521 (ES*), OKP Ed25519 (EdDSA).  A key's alg is its
 * "alg" member, or else the one its kty and crv imply (RS256 for RSA);
 * never "none" or HS*.  A key that cannot be used (another kind, an
 * encryption key, a bad point, too short, beyond max) is skipped and
 * warn (which may be NULL) is told why; the others still load.  Returns
 * the number loaded into keys, or -1 with a message in err when the
 * document is not a JWKS or leaves no key to use.
 */
int media_jwt_jwks(const char *json, size_t len, media_jwt_key_t *keys,
    size_t max, media_jwt_warn_pt warn, void *data, char *err,
    size_t errlen);

void media_jwt_key_free(media_jwt_key_t *key);


#endif /* _MEDIA_JWT_H_INCLUDED_ */
