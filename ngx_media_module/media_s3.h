/*
 * Object storage, the part the module and the workers share: where the
 * renditions live (media_storage s3://bucket/prefix), the key pair (a
 * credentials file), and AWS Signature Version 4 query signing
 * (presigned URLs), which the module computes for each file it proxies
 * to the bucket.  The workers sign their own requests with libcurl's
 * CURLOPT_AWS_SIGV4; both follow
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 *
 * Path-style addressing: <endpoint>/<bucket>/<prefix>/<key>, which every
 * S3-compatible server takes (MinIO, Ceph, s3rver) and AWS still serves.
 *
 * No nginx types: the workers and t/unit/s3.c link it as it is.
 */

#ifndef _MEDIA_S3_H_INCLUDED_
#define _MEDIA_S3_H_INCLUDED_


#include <stddef.h>
#include <time.h>


#define MEDIA_S3_SCHEME          "s3://"
#define MEDIA_S3_DEFAULT_REGION  "us-east-1"
#define MEDIA_S3_PRESIGN_TTL     300    /* s: the proxied request is at once */

#define MEDIA_S3_BUCKET_MAX      63     /* AWS's bucket name rules */
#define MEDIA_S3_PREFIX_MAX      255
#define MEDIA_S3_KEY_ID_MAX      128
#define MEDIA_S3_SECRET_MAX      128
#define MEDIA_S3_REGION_MAX      32


typedef struct {
    char    bucket[MEDIA_S3_BUCKET_MAX + 1];
    char    prefix[MEDIA_S3_PREFIX_MAX + 1];    /* "" or "a/b", no slashes
                                                   at either end */
} media_s3_url_t;


typedef struct {
    char    key_id[MEDIA_S3_KEY_ID_MAX + 1];
    char    secret[MEDIA_S3_SECRET_MAX + 1];
} media_s3_keys_t;


/*
 * "s3://bucket" or "s3://bucket/prefix/": a bucket name as AWS allows
 * (3-63 of a-z 0-9 . -), a prefix of key-safe characters (A-Z a-z 0-9
 * - _ . /, no "//", no "." or ".." segment).  0, or -1 with why in err.
 */
int media_s3_parse_url(const char *s, size_t len, media_s3_url_t *url,
    const char **err);

/*
 * A credentials file's text, as AWS's own tools write it:
 *   aws_access_key_id = AKIA...
 *   aws_secret_access_key = ...
 * ("[section]" lines and "#" comments ignored; the first pair found).
 * 0, or -1 with why in err (never the secret).
 */
int media_s3_parse_keys(const char *text, size_t len, media_s3_keys_t *keys,
    const char **err);

/*
 * The signing key of a day (HMAC chain over date, region, "s3",
 * "aws4_request"): derived once a day by a caller that keeps one for its
 * key pair and region, as an nginx worker does.
 */
typedef struct {
    char           day[9];          /* "YYYYMMDD", "" before the first */
    unsigned char  key[32];
} media_s3_signing_key_t;


/*
 * The query string of a presigned GET of path (the canonical URI:
 * "/bucket/prefix/key", every byte of it unreserved or "/", which our
 * keys are) on host ("host" or "host:port", as the Host header will say),
 * valid for expires seconds from now (cache: the day's signing key, kept
 * across calls for these keys and region; NULL: derived each time):
 *   X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=...&X-Amz-Date=...
 *   &X-Amz-Expires=...&X-Amz-SignedHeaders=host&X-Amz-Signature=<hex>
 * The length written (no NUL counted), or 0 when size is too small.
 */
size_t media_s3_presign(const media_s3_keys_t *keys, const char *region,
    const char *host, const char *path, size_t path_len, time_t now,
    unsigned expires, media_s3_signing_key_t *cache, char *out, size_t size);

/*
 * A query value as SigV4 wants it: RFC 3986's unreserved characters
 * kept, every other byte %XX (uppercase); out NUL-terminated, cut at a
 * whole character when size is too small.  The length written.
 */
size_t media_s3_escape(const char *s, size_t len, char *out, size_t size);

/* the presigned query's length at most, for a buffer */
#define MEDIA_S3_PRESIGN_LEN                                                  \
    (sizeof("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="              \
            "%2F20130524%2F%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"  \
            "&X-Amz-Expires=604800&X-Amz-SignedHeaders=host"                  \
            "&X-Amz-Signature=") + MEDIA_S3_KEY_ID_MAX * 3                    \
     + MEDIA_S3_REGION_MAX * 3 + 64)


#endif /* _MEDIA_S3_H_INCLUDED_ */
