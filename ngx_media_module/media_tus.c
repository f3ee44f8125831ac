/*
 * tus 1.0 header values: numbers, the version, the PATCH body's type,
 * Upload-Metadata, and the HTTP-date of Upload-Expires.
 */

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "media_b64.h"
#include "media_tus.h"


static int media_tus_pair(const char *p, size_t len, media_tus_metadata_t *m,
    char *err, size_t errlen);
static int media_tus_seen(const char *meta, const char *end,
    const char *key, size_t klen);


int
media_tus_number(const char *p, size_t len, int64_t *out)
{
    size_t    i;
    uint64_t  v;

    if (len == 0 || len > 19) {
        return -1;
    }

    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        v = v * 10 + (uint64_t) (p[i] - '0');
    }

    /* 19 digits can pass 2^63 - 1 */
    if (v > (uint64_t) INT64_MAX) {
        return -1;
    }

    *out = (int64_t) v;

    return 0;
}


int
media_tus_version_ok(const char *p, size_t len)
{
    return len == sizeof(MEDIA_TUS_VERSION) - 1
           && memcmp(p, MEDIA_TUS_VERSION, len) == 0;
}


int
media_tus_content_type_ok(const char *p, size_t len)
{
    size_t  n;

    n = sizeof(MEDIA_TUS_CONTENT_TYPE) - 1;

    /* a media type is case-insensitive; parameters may follow */
    return len >= n && strncasecmp(p, MEDIA_TUS_CONTENT_TYPE, n) == 0
           && (len == n || p[n] == ';' || p[n] == ' ');
}


int
media_tus_metadata(const char *p, size_t len, media_tus_metadata_t *m,
    char *err, size_t errlen)
{
    size_t       klen;
    const char  *end, *comma, *pair;

    memset(m, 0, sizeof(media_tus_metadata_t));

    if (len > MEDIA_TUS_METADATA_MAX) {
        snprintf(err, errlen, "Upload-Metadata is %zu bytes; it may hold at "
                 "most %d", len, MEDIA_TUS_METADATA_MAX);
        return -1;
    }

    end = p + len;
    pair = p;

    while (pair < end) {
        comma = memchr(pair, ',', end - pair);
        if (comma == NULL) {
            comma = end;
        }

        /* pairs may be separated by ", " as well as "," */
        while (pair < comma && *pair == ' ') {
            pair++;
        }

        if (pair == comma) {
            snprintf(err, errlen, "Upload-Metadata holds an empty pair at "
                     "byte %zu; send \"key base64value\" pairs separated by "
                     "commas", (size_t) (pair - p));
            return -1;
        }

        /* the key: up to a space or the pair's end (the input is not
         * NUL-terminated) */
        for (klen = 0; pair + klen < comma && pair[klen] != ' '; klen++) {
            /* void */
        }

        if (media_tus_seen(p, pair, pair, klen) != 0) {
            snprintf(err, errlen, "Upload-Metadata names the key \"%.*s\" "
                     "twice", klen > 64 ? 64 : (int) klen, pair);
            return -1;
        }

        if (media_tus_pair(pair, comma - pair, m, err, errlen) != 0) {
            return -1;
        }

        pair = comma + 1;

        if (comma < end && pair == end) {
            snprintf(err, errlen, "Upload-Metadata ends with a comma");
            return -1;
        }
    }

    return 0;
}


/* one "key value" or "key" */
static int
media_tus_pair(const char *p, size_t len, media_tus_metadata_t *m,
    char *err, size_t errlen)
{
    char           *dst;
    size_t          i, klen, vlen, n, *dlen;
    const char     *v;
    unsigned char   buf[media_b64url_decoded_max(MEDIA_TUS_METADATA_MAX)];

    for (klen = 0; klen < len && p[klen] != ' '; klen++) {
        if (p[klen] < 0x21 || p[klen] > 0x7e) {
            snprintf(err, errlen, "Upload-Metadata: a key holds the byte "
                     "0x%02x; keys are printable ASCII without spaces",
                     (unsigned char) p[klen]);
            return -1;
        }
    }

    v = p + klen;
    vlen = len - klen;

    /* trailing spaces after a pair are tolerated; one space separates */
    while (vlen && v[vlen - 1] == ' ') {
        vlen--;
    }

    if (vlen) {
        v++;
        vlen--;
    }

    n = 0;

    if (vlen) {
        n = media_b64_decode(buf, (const unsigned char *) v, vlen);

        if (n == (size_t) -1) {
            snprintf(err, errlen, "Upload-Metadata: the value of \"%.*s\" "
                     "is not base64", klen > 64 ? 64 : (int) klen, p);
            return -1;
        }
    }

    if (klen == 8 && memcmp(p, "filename", 8) == 0) {
        dst = m->filename;
        dlen = &m->filename_len;
        m->has_filename = 1;

    } else if (klen == 8 && memcmp(p, "filetype", 8) == 0) {
        dst = m->filetype;
        dlen = &m->filetype_len;
        m->has_filetype = 1;

        /* a media type is printable ASCII (RFC 9110 8.3) */
        for (i = 0; i < n; i++) {
            if (buf[i] < 0x20 || buf[i] > 0x7e) {
                snprintf(err, errlen, "Upload-Metadata: filetype holds the "
                         "byte 0x%02x; send a media type such as video/mp4",
                         buf[i]);
                return -1;
            }
        }

    } else {
        return 0;
    }

    if (n > MEDIA_TUS_VALUE_MAX) {
        snprintf(err, errlen, "Upload-Metadata: %.*s is %zu bytes; it may "
                 "hold at most %d", (int) klen, p, n, MEDIA_TUS_VALUE_MAX);
        return -1;
    }

    memcpy(dst, buf, n);
    *dlen = n;

    return 0;
}


/* whether key appears as a pair's key in [meta, end) */
static int
media_tus_seen(const char *meta, const char *end, const char *key,
    size_t klen)
{
    const char  *p;

    p = meta;

    while (p < end) {
        while (p < end && (*p == ' ' || *p == ',')) {
            p++;
        }

        if ((size_t) (end - p) >= klen && memcmp(p, key, klen) == 0
            && (p + klen == end || p[klen] == ' ' || p[klen] == ','))
        {
            return 1;
        }

        while (p < end && *p != ',') {
            p++;
        }
    }

    return 0;
}


size_t
media_tus_http_date(char *buf, time_t t)
{
    char        tmp[64];
    struct tm   tm;

    static const char  *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri",
                                   "Sat" };
    static const char  *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov",
                                     "Dec" };

    gmtime_r(&t, &tm);

    snprintf(tmp, sizeof(tmp), "%s, %02d %s %04d %02d:%02d:%02d GMT",
             days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
             tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);

    memcpy(buf, tmp, MEDIA_TUS_DATE_LEN);

    return MEDIA_TUS_DATE_LEN;
}
