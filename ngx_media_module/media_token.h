/*
 * nginx-free playback tokens: who may play which media, up to which rung,
 * until when, signed with HMAC-SHA256.  Checked by HMAC and time alone, so
 * segments are served without touching a database.
 *
 * Wire form (in the URL path, base64url): a 42-byte payload
 *   version 1, kid 1, expiry 4 (unix seconds, big endian),
 *   media id 16 (the UUID's bytes), viewer 16 (the user's UUID bytes,
 *   zeros: anonymous), highest rung 2 (its short side in pixels, 0: every
 *   rung), flags 2
 * then ".", then the 32-byte HMAC of the payload bytes.  Version 2: the
 * viewer was added so the segment path can refuse a banned user's tokens
 * (version 1 tokens, without it, are refused as malformed).
 */

#ifndef _MEDIA_TOKEN_H_INCLUDED_
#define _MEDIA_TOKEN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define MEDIA_TOKEN_VERSION   2
#define MEDIA_TOKEN_LEN       112     /* 56 + 1 + 43, and room */
#define MEDIA_TOKEN_SEEN      64      /* verified tokens a key remembers */


/*
 * A key holds its HMAC already keyed: OpenSSL 3's one-shot HMAC() looks
 * the algorithm up and keys it on every call (~6 us); a copy of the
 * prepared context costs a fifth of that.
 *
 * A player fetches every segment with the same token, so a key also
 * remembers the last MEDIA_TOKEN_SEEN token texts whose MAC it verified:
 * the same text again is compared whole, in constant time, and its MAC not
 * recomputed.  Only texts whose MAC was right are remembered; expiry is
 * checked on every call.  Not thread-safe: one key per nginx worker.
 *
 * media_token_key() makes both, media_token_key_free() frees them.
 */
typedef struct media_token_seen_s  media_token_seen_t;

typedef struct {
    unsigned char        kid;         /* which key signed it */
    void                *mac;         /* EVP_MAC_CTX, keyed with the secret */
    media_token_seen_t  *seen;        /* tokens verified with this key */
} media_token_key_t;


/* flags: the token opens the media's pictures and waveform only, never a
 * playlist or segment (the URLs in media answers, which decide nothing
 * about who may watch) */
#define MEDIA_TOKEN_PICTURES  0x0001


typedef struct {
    uint32_t        expires;
    unsigned char   media[16];
    unsigned char   user[16];         /* the viewer; zeros: anonymous */
    uint16_t        max_rung;         /* short side, 0: all */
    uint16_t        flags;
} media_token_t;


typedef enum {
    MEDIA_TOKEN_OK = 0,
    MEDIA_TOKEN_MALFORMED,
    MEDIA_TOKEN_UNKNOWN_KEY,
    MEDIA_TOKEN_BAD_SIGNATURE,
    MEDIA_TOKEN_EXPIRED
} media_token_rc_e;


/* "ok", "malformed", ...: for $media_token_status and logs */
const char *media_token_status(media_token_rc_e rc);

/* a key from a secret of 16 to 64 bytes; kid from a hash of it; -1 for
 * a bad size or when OpenSSL cannot make the context */
int media_token_key(media_token_key_t *key, const unsigned char *secret,
    size_t len);
void media_token_key_free(media_token_key_t *key);

/* how many verifications the key's remembered tokens answered */
unsigned long media_token_seen_hits(const media_token_key_t *key);

/* HMAC-SHA256 of in with the key's prepared context; 0 or -1 */
int media_token_mac(const media_token_key_t *key, const unsigned char *in,
    size_t len, unsigned char *mac);

/* the token text into out (MEDIA_TOKEN_LEN bytes); returns its length */
size_t media_token_sign(const media_token_key_t *key, const media_token_t *t,
    char *out);

/* checks against any of keys (current, previous) at time now */
media_token_rc_e media_token_verify(const media_token_key_t *keys,
    size_t nkeys, const char *text, size_t len, long now, media_token_t *t);

/* "xxxxxxxx-xxxx-..." <-> 16 bytes; -1 if not a UUID */
int media_uuid_parse(const char *s, size_t len, unsigned char *out);
void media_uuid_format(const unsigned char *in, char *out);


#endif /* _MEDIA_TOKEN_H_INCLUDED_ */
