/*
 * Download-link tokens and the header a download is saved by.
 */

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "media_b64.h"
#include "media_dltoken.h"


#define MEDIA_DL_PAYLOAD_LEN  56
#define MEDIA_DL_MAC_LEN      32
#define MEDIA_DL_PAYLOAD_B64  75      /* media_b64url_encoded_len(56) */
#define MEDIA_DL_MAC_B64      43


static void
media_dltoken_payload(unsigned char kid, const media_dltoken_t *t,
    unsigned char *p)
{
    p[0] = MEDIA_DLTOKEN_VERSION;
    p[1] = kid;
    p[2] = (unsigned char) (t->expires >> 24);
    p[3] = (unsigned char) (t->expires >> 16);
    p[4] = (unsigned char) (t->expires >> 8);
    p[5] = (unsigned char) t->expires;
    memcpy(p + 6, t->link, 16);
    memcpy(p + 22, t->user, 16);
    memcpy(p + 38, t->asset, 16);
    p[54] = t->asset_kind;
    p[55] = t->grant;
}


size_t
media_dltoken_sign(const media_token_key_t *key, const media_dltoken_t *t,
    char *out)
{
    size_t          n;
    unsigned char   payload[MEDIA_DL_PAYLOAD_LEN], mac[MEDIA_DL_MAC_LEN];

    media_dltoken_payload(key->kid, t, payload);

    if (media_token_mac(key, payload, sizeof(payload), mac) != 0) {
        return 0;
    }

    n = media_b64url_encode((unsigned char *) out, payload, sizeof(payload));
    out[n++] = '.';
    n += media_b64url_encode((unsigned char *) out + n, mac,
                             MEDIA_DL_MAC_LEN);

    return n;
}


media_token_rc_e
media_dltoken_verify(const media_token_key_t *keys, size_t nkeys,
    const char *text, size_t len, long now, media_dltoken_t *t)
{
    size_t                    i;
    unsigned char             payload[MEDIA_DL_PAYLOAD_LEN + 2];
    unsigned char             sig[MEDIA_DL_MAC_LEN + 2];
    unsigned char             mac[MEDIA_DL_MAC_LEN];
    const media_token_key_t  *key;

    /* one length only: 75 characters, ".", 43 */
    if (len != MEDIA_DLTOKEN_LEN || text[MEDIA_DL_PAYLOAD_B64] != '.'
        || media_b64url_decode(payload, (const unsigned char *) text,
                               MEDIA_DL_PAYLOAD_B64)
           != MEDIA_DL_PAYLOAD_LEN
        || media_b64url_decode(sig, (const unsigned char *) text
                                    + MEDIA_DL_PAYLOAD_B64 + 1,
                               MEDIA_DL_MAC_B64)
           != MEDIA_DL_MAC_LEN
        || payload[0] != MEDIA_DLTOKEN_VERSION)
    {
        return MEDIA_TOKEN_MALFORMED;
    }

    key = NULL;
    for (i = 0; i < nkeys; i++) {
        if (keys[i].kid == payload[1]) {
            key = &keys[i];
            break;
        }
    }

    if (key == NULL) {
        return MEDIA_TOKEN_UNKNOWN_KEY;
    }

    if (media_token_mac(key, payload, MEDIA_DL_PAYLOAD_LEN, mac) != 0
        || CRYPTO_memcmp(mac, sig, MEDIA_DL_MAC_LEN) != 0)
    {
        return MEDIA_TOKEN_BAD_SIGNATURE;
    }

    t->expires = (uint32_t) payload[2] << 24 | (uint32_t) payload[3] << 16
                 | (uint32_t) payload[4] << 8 | payload[5];
    memcpy(t->link, payload + 6, 16);
    memcpy(t->user, payload + 22, 16);
    memcpy(t->asset, payload + 38, 16);
    t->asset_kind = payload[54];
    t->grant = payload[55];

    /* a signed token names a known kind; anything else is our bug */
    if (t->asset_kind > MEDIA_DL_ASSET_EXPORT
        || t->grant < MEDIA_DL_GRANT_OWNER
        || t->grant > MEDIA_DL_GRANT_SUBSCRIPTION)
    {
        return MEDIA_TOKEN_MALFORMED;
    }

    if ((long) t->expires <= now) {
        return MEDIA_TOKEN_EXPIRED;
    }

    return MEDIA_TOKEN_OK;
}


static const char  *media_dl_grants[] = {
    NULL, "owner", "purchase", "subscription"
};


int
media_dl_grant_parse(const char *s, size_t len)
{
    int  i;

    for (i = MEDIA_DL_GRANT_OWNER; i <= MEDIA_DL_GRANT_SUBSCRIPTION; i++) {
        if (strlen(media_dl_grants[i]) == len
            && memcmp(media_dl_grants[i], s, len) == 0)
        {
            return i;
        }
    }

    return 0;
}


const char *
media_dl_grant_name(int grant)
{
    if (grant < MEDIA_DL_GRANT_OWNER || grant > MEDIA_DL_GRANT_SUBSCRIPTION) {
        return "unknown";
    }

    return media_dl_grants[grant];
}


long
media_dl_range_start(const char *s, size_t len)
{
    long    n, m;
    size_t  i;

    /* RFC 9110 14.1.1: "bytes" is case-insensitive; no spaces before "=" */
    if (len < 7 || strncasecmp(s, "bytes=", 6) != 0) {
        return -1;
    }

    i = 6;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }

    if (i == len || s[i] < '0' || s[i] > '9') {
        return -1;                    /* a suffix range, or junk */
    }

    n = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (n > (0x7fffffffffffffffL - 9) / 10) {
            return -1;
        }
        n = n * 10 + (s[i++] - '0');
    }

    if (i == len || s[i] != '-') {
        return -1;
    }

    /* one range only, "N-" or "N-M" with M >= N: several ranges, or one
     * nginx would not honour, may be answered with the whole file */
    i++;
    m = -1;

    if (i < len && s[i] >= '0' && s[i] <= '9') {
        m = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (m > (0x7fffffffffffffffL - 9) / 10) {
                return -1;
            }
            m = m * 10 + (s[i++] - '0');
        }
    }

    while (i < len && (s[i] == ' ' || s[i] == '\t')) {
        i++;
    }

    if (i != len || (m != -1 && m < n)) {
        return -1;
    }

    return n;
}


/* the length of the UTF-8 sequence starting at s (at most len), or 0 for
 * a byte that starts none: each sequence becomes one fallback '_' */
static size_t
media_dl_utf8_seq(const unsigned char *s, size_t len)
{
    size_t  n, i;

    n = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3
        : s[0] < 0xf5 ? 4 : 0;

    if (n == 0 || n > len) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return n;
}


size_t
media_dl_disposition(const char *name, size_t len, char *out, size_t size)
{
    char                 *o;
    size_t                i, n;
    unsigned char         c;
    const unsigned char  *s = (const unsigned char *) name;

    static const char     hex[] = "0123456789ABCDEF";

    if (size < media_dl_disposition_size(len)) {
        return 0;
    }

    o = out;
    memcpy(o, "attachment; filename=\"", 22);
    o += 22;

    /* the fallback, for clients without RFC 8187 (quoted-string) */
    for (i = 0; i < len; i += n) {
        c = s[i];
        n = 1;

        if (c >= 0x80) {
            n = media_dl_utf8_seq(s + i, len - i);
            n = n ? n : 1;
            *o++ = '_';

        } else if (c < 0x20 || c == 0x7f || c == '"' || c == '\\'
                   || c == '%' || c == '/')
        {
            *o++ = '_';

        } else {
            *o++ = (char) c;
        }
    }

    memcpy(o, "\"; filename*=UTF-8''", 20);
    o += 20;

    /* RFC 8187 3.2.1: attr-char is ALPHA / DIGIT and !#$&+-.^_`|~ */
    for (i = 0; i < len; i++) {
        c = s[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || (c != 0 && strchr("!#$&+-.^_`|~", c) != NULL))
        {
            *o++ = (char) c;

        } else if (c < 0x20 || c == 0x7f || c == '/' || c == '\\') {
            *o++ = '_';

        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0x0f];
        }
    }

    return (size_t) (o - out);
}
