/*
 * Object storage: the s3:// URL, the credentials file, and SigV4 query
 * signing (media_s3.h).
 */

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "media_s3.h"


static int media_s3_bucket_char(int c);
static int media_s3_key_char(int c);
static void media_s3_hex(const unsigned char *d, size_t n, char *out);
static int media_s3_hmac(const void *key, size_t key_len, const char *msg,
    size_t len, unsigned char *out);
static const char *media_s3_value(const char *line, const char *end,
    const char *name, size_t *len);


int
media_s3_parse_url(const char *s, size_t len, media_s3_url_t *url,
    const char **err)
{
    size_t       i, n, plen;
    const char  *p, *end, *slash;

    memset(url, 0, sizeof(media_s3_url_t));

    n = sizeof(MEDIA_S3_SCHEME) - 1;

    if (len < n || memcmp(s, MEDIA_S3_SCHEME, n) != 0) {
        *err = "expected s3://bucket or s3://bucket/prefix";
        return -1;
    }

    p = s + n;
    end = s + len;
    slash = memchr(p, '/', end - p);
    n = (slash ? slash : end) - p;

    if (n < 3 || n > MEDIA_S3_BUCKET_MAX) {
        *err = "the bucket name must have 3 to 63 characters";
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (!media_s3_bucket_char((unsigned char) p[i])) {
            *err = "the bucket name may only have a-z, 0-9, \".\" and \"-\"";
            return -1;
        }
    }

    memcpy(url->bucket, p, n);

    if (slash == NULL) {
        return 0;
    }

    /* the prefix, without the slashes at either end */
    p = slash + 1;
    while (end > p && end[-1] == '/') {
        end--;
    }

    plen = end - p;

    if (plen > MEDIA_S3_PREFIX_MAX) {
        *err = "the prefix is longer than 255 characters";
        return -1;
    }

    for (i = 0; i < plen; i++) {
        if (!media_s3_key_char((unsigned char) p[i])
            || (p[i] == '/' && (i == 0 || p[i - 1] == '/')))
        {
            *err = "the prefix may only have A-Z, a-z, 0-9, \"-\", \"_\", "
                   "\".\" and single \"/\" between names";
            return -1;
        }

        /* a "." or ".." name: a server would resolve it */
        if (p[i] == '.' && (i == 0 || p[i - 1] == '/')
            && (i + 1 == plen || p[i + 1] == '/'
                || (p[i + 1] == '.' && (i + 2 == plen || p[i + 2] == '/'))))
        {
            *err = "the prefix may not have \".\" or \"..\" names";
            return -1;
        }
    }

    memcpy(url->prefix, p, plen);

    return 0;
}


int
media_s3_parse_keys(const char *text, size_t len, media_s3_keys_t *keys,
    const char **err)
{
    size_t       n;
    const char  *line, *end, *eol, *v;

    memset(keys, 0, sizeof(media_s3_keys_t));

    end = text + len;

    for (line = text; line < end; line = eol + 1) {
        eol = memchr(line, '\n', end - line);
        if (eol == NULL) {
            eol = end;
        }

        if ((v = media_s3_value(line, eol, "aws_access_key_id", &n))
            && keys->key_id[0] == '\0')
        {
            if (n == 0 || n > MEDIA_S3_KEY_ID_MAX) {
                *err = "aws_access_key_id is empty or too long";
                return -1;
            }
            memcpy(keys->key_id, v, n);

        } else if ((v = media_s3_value(line, eol, "aws_secret_access_key",
                                       &n))
                   && keys->secret[0] == '\0')
        {
            if (n == 0 || n > MEDIA_S3_SECRET_MAX) {
                *err = "aws_secret_access_key is empty or too long";
                return -1;
            }
            memcpy(keys->secret, v, n);
        }
    }

    if (keys->key_id[0] == '\0' || keys->secret[0] == '\0') {
        *err = "expected the lines \"aws_access_key_id = ...\" and "
               "\"aws_secret_access_key = ...\"";
        return -1;
    }

    /* the key id goes into URLs and headers: printable, no separators */
    for (n = 0; keys->key_id[n]; n++) {
        if (keys->key_id[n] <= ' ' || keys->key_id[n] > '~'
            || keys->key_id[n] == ':')
        {
            *err = "aws_access_key_id has a character that is not allowed";
            return -1;
        }
    }

    return 0;
}


/* "name = value" on [line, end): the value, trimmed; NULL: another line */
static const char *
media_s3_value(const char *line, const char *end, const char *name,
    size_t *len)
{
    size_t  n;

    while (line < end && (*line == ' ' || *line == '\t')) {
        line++;
    }

    n = strlen(name);

    if ((size_t) (end - line) < n || memcmp(line, name, n) != 0) {
        return NULL;
    }

    line += n;

    while (line < end && (*line == ' ' || *line == '\t')) {
        line++;
    }

    if (line == end || *line++ != '=') {
        return NULL;
    }

    while (line < end && (*line == ' ' || *line == '\t')) {
        line++;
    }

    while (end > line
           && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    {
        end--;
    }

    *len = end - line;

    return line;
}


size_t
media_s3_presign(const media_s3_keys_t *keys, const char *region,
    const char *host, const char *path, size_t path_len, time_t now,
    unsigned expires, media_s3_signing_key_t *cache, char *out, size_t size)
{
    media_s3_signing_key_t   local;
    int            n, q;
    char           date[17], scope[128], cred[MEDIA_S3_KEY_ID_MAX * 3 + 128];
    char           canon[8192], hash_hex[65], sts[512], sig_hex[65];
    size_t         cred_len, secret_len;
    struct tm      tm;
    unsigned char  hash[SHA256_DIGEST_LENGTH], k[SHA256_DIGEST_LENGTH];
    char           secret[MEDIA_S3_SECRET_MAX + 5];

    if (gmtime_r(&now, &tm) == NULL
        || strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm) != 16)
    {
        return 0;
    }

    n = snprintf(scope, sizeof(scope), "%.8s/%s/s3/aws4_request", date,
                 region);
    if (n < 0 || (size_t) n >= sizeof(scope)) {
        return 0;
    }

    /* the credential, URI-encoded ("/" as %2F): key id and scope */
    cred_len = media_s3_escape(keys->key_id, strlen(keys->key_id), cred,
                               sizeof(cred));
    cred_len += media_s3_escape("/", 1, cred + cred_len,
                                sizeof(cred) - cred_len);
    (void) media_s3_escape(scope, (size_t) n, cred + cred_len,
                           sizeof(cred) - cred_len);

    /* the query's parameters in their canonical (sorted) order */
    q = snprintf(out, size,
                 "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s"
                 "&X-Amz-Date=%s&X-Amz-Expires=%u"
                 "&X-Amz-SignedHeaders=host",
                 cred, date, expires);
    if (q < 0 || (size_t) q + sizeof("&X-Amz-Signature=") + 64 > size) {
        return 0;
    }

    n = snprintf(canon, sizeof(canon), "GET\n%.*s\n%s\nhost:%s\n\nhost\n"
                 "UNSIGNED-PAYLOAD", (int) path_len, path, out, host);
    if (n < 0 || (size_t) n >= sizeof(canon)) {
        return 0;
    }

    SHA256((const unsigned char *) canon, (size_t) n, hash);
    media_s3_hex(hash, sizeof(hash), hash_hex);

    n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", date,
                 scope, hash_hex);
    if (n < 0 || (size_t) n >= sizeof(sts)) {
        return 0;
    }

    /* the signing key: HMAC chain over date, region, service, request;
     * the same all day */
    if (cache == NULL) {
        local.day[0] = '\0';
        cache = &local;
    }

    if (memcmp(cache->day, date, 8) != 0 || cache->day[8] != '\0') {
        secret_len = (size_t) snprintf(secret, sizeof(secret), "AWS4%s",
                                       keys->secret);

        if (media_s3_hmac(secret, secret_len, date, 8, k) != 0
            || media_s3_hmac(k, sizeof(k), region, strlen(region), k) != 0
            || media_s3_hmac(k, sizeof(k), "s3", 2, k) != 0
            || media_s3_hmac(k, sizeof(k), "aws4_request", 12, cache->key)
               != 0)
        {
            cache->day[0] = '\0';
            OPENSSL_cleanse(secret, sizeof(secret));
            OPENSSL_cleanse(k, sizeof(k));
            return 0;
        }

        OPENSSL_cleanse(secret, sizeof(secret));
        OPENSSL_cleanse(k, sizeof(k));
        memcpy(cache->day, date, 8);
        cache->day[8] = '\0';
    }

    n = media_s3_hmac(cache->key, sizeof(cache->key), sts, (size_t) n, hash);

    if (cache == &local) {
        OPENSSL_cleanse(&local, sizeof(local));
    }

    if (n != 0) {
        return 0;
    }

    media_s3_hex(hash, sizeof(hash), sig_hex);

    n = snprintf(out + q, size - q, "&X-Amz-Signature=%s", sig_hex);

    return (size_t) q + (size_t) n;
}


size_t
media_s3_escape(const char *s, size_t len, char *out, size_t size)
{
    size_t       i;
    char        *o;
    const char  *hex = "0123456789ABCDEF";

    o = out;

    for (i = 0; i < len && (size_t) (o - out) + 3 < size; i++) {
        unsigned char  c = (unsigned char) s[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~')
        {
            *o++ = (char) c;

        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }

    *o = '\0';

    return o - out;
}


static void
media_s3_hex(const unsigned char *d, size_t n, char *out)
{
    size_t       i;
    const char  *hex = "0123456789abcdef";

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }

    out[2 * n] = '\0';
}


/* out may be key: HMAC reads the key before it writes */
static int
media_s3_hmac(const void *key, size_t key_len, const char *msg, size_t len,
    unsigned char *out)
{
    unsigned int   n;
    unsigned char  md[EVP_MAX_MD_SIZE];

    n = sizeof(md);

    if (HMAC(EVP_sha256(), key, (int) key_len, (const unsigned char *) msg,
             len, md, &n)
        == NULL || n != SHA256_DIGEST_LENGTH)
    {
        return -1;
    }

    memcpy(out, md, SHA256_DIGEST_LENGTH);

    return 0;
}


static int
media_s3_bucket_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.'
           || c == '-';
}


static int
media_s3_key_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
           || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
           || c == '/';
}
