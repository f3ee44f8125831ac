/*
 * nginx-free download-link tokens: the permission hash of a limited-use
 * link, HMAC-SHA256(key, user | asset | grant | expiry), and the
 * Content-Disposition a download is sent with.
 *
 * Wire form (in the URL path, base64url), a 56-byte payload
 *   version 1 (0xd1, never a playback token's), kid 1, expiry 4 (unix
 *   seconds, big endian), link (the grant: download_links.id) 16,
 *   user 16, asset 16 (an export's id, or the media's for the original
 *   upload), flags 2 (the asset's kind, the grant's kind)
 * then ".", then the 32-byte HMAC of the payload bytes: 75 + 1 + 43.
 *
 * The keys are the playback tokens' (media_token_key_t: kid, a keyed
 * HMAC context), made from their own secrets (media_download_key).
 */

#ifndef _MEDIA_DLTOKEN_H_INCLUDED_
#define _MEDIA_DLTOKEN_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>

#include "media_token.h"


#define MEDIA_DLTOKEN_VERSION   0xd1
#define MEDIA_DLTOKEN_LEN       119   /* 75 + "." + 43 */

#define MEDIA_DL_ASSET_MEDIA    0     /* the original upload */
#define MEDIA_DL_ASSET_EXPORT   1

#define MEDIA_DL_GRANT_OWNER         1
#define MEDIA_DL_GRANT_PURCHASE      2
#define MEDIA_DL_GRANT_SUBSCRIPTION  3


typedef struct {
    uint32_t        expires;
    unsigned char   link[16];
    unsigned char   user[16];
    unsigned char   asset[16];
    unsigned char   asset_kind;       /* MEDIA_DL_ASSET_* */
    unsigned char   grant;            /* MEDIA_DL_GRANT_* */
} media_dltoken_t;


/* the token text into out (MEDIA_DLTOKEN_LEN bytes); 0 when OpenSSL
 * fails, else MEDIA_DLTOKEN_LEN */
size_t media_dltoken_sign(const media_token_key_t *key,
    const media_dltoken_t *t, char *out);

/*
 * Checks against any of keys (current, previous) at time now: the
 * signature first, in constant time, then the expiry, so that "expired"
 * is only ever said of a token this server made.  t is filled for OK and
 * EXPIRED.
 */
media_token_rc_e media_dltoken_verify(const media_token_key_t *keys,
    size_t nkeys, const char *text, size_t len, long now,
    media_dltoken_t *t);

/* "owner", "purchase", "subscription" <-> MEDIA_DL_GRANT_*; 0 unknown */
int media_dl_grant_parse(const char *s, size_t len);
const char *media_dl_grant_name(int grant);

/*
 * Where a Range header's one range starts: "bytes=N-" or "bytes=N-M"
 * (M >= N) gives N; -1 for no range, a suffix range ("bytes=-N"),
 * several ranges, a backwards one, or anything that is not a byte range.
 * A download that resumes asks for one range starting past 0.
 */
long media_dl_range_start(const char *s, size_t len);

/*
 * The value of Content-Disposition for a download saved as name (UTF-8,
 * as the link row holds it), per RFC 6266 and RFC 8187:
 *   attachment; filename="<ASCII fallback>"; filename*=UTF-8''<pct>
 * The fallback keeps printable ASCII but '"', '\\', '%' and '/', and
 * writes '_' for every other character (one per UTF-8 sequence); the
 * extended value percent-encodes all but RFC 8187's attr-char.
 * Control characters and path separators never reach either.  Returns
 * the length written, or 0 when out (size bytes) is too small;
 * media_dl_disposition_size(len) is always enough.
 */
#define media_dl_disposition_size(len)  (sizeof("attachment; filename=\"\"; " \
                                         "filename*=UTF-8''") + (len) * 4)

size_t media_dl_disposition(const char *name, size_t len, char *out,
    size_t size);


#endif /* _MEDIA_DLTOKEN_H_INCLUDED_ */
