/*
 * media_s3: the s3:// URL, the credentials file, and SigV4 query signing
 * against the example AWS publishes (Amazon S3 API reference,
 * "Authenticating Requests: Using Query Parameters"), byte for byte.
 */

#include <string.h>

#include "tap.h"
#include "media_s3.h"


/* 2013-05-24T00:00:00Z, the example's date */
#define AWS_EXAMPLE_TIME  1369353600L


static void
presign_aws_example(void)
{
    size_t                   n;
    char                     out[MEDIA_S3_PRESIGN_LEN];
    char                     fresh[MEDIA_S3_PRESIGN_LEN];
    media_s3_keys_t          keys;
    media_s3_signing_key_t   day;

    static const char  want[] =
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3"
        "%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
        "&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature="
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    memset(&keys, 0, sizeof(keys));
    strcpy(keys.key_id, "AKIAIOSFODNN7EXAMPLE");
    strcpy(keys.secret, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");

    memset(&day, 0, sizeof(day));

    n = media_s3_presign(&keys, "us-east-1", "examplebucket.s3.amazonaws.com",
                         "/test.txt", 9, AWS_EXAMPLE_TIME, 86400, NULL, out,
                         sizeof(out));
    is_str(out, n, want, "presigned GET of AWS's example");

    /* the day's key kept: derived at the first call, used at the next */
    n = media_s3_presign(&keys, "us-east-1", "examplebucket.s3.amazonaws.com",
                         "/test.txt", 9, AWS_EXAMPLE_TIME, 86400, &day, out,
                         sizeof(out));
    is_str(out, n, want, "the same with a signing key kept");
    ok(strcmp(day.day, "20130524") == 0, "kept for its day");
    n = media_s3_presign(&keys, "us-east-1", "examplebucket.s3.amazonaws.com",
                         "/test.txt", 9, AWS_EXAMPLE_TIME, 86400, &day, out,
                         sizeof(out));
    is_str(out, n, want, "and the same from the kept key");

    /* the next day: a new key, a new signature */
    n = media_s3_presign(&keys, "us-east-1", "examplebucket.s3.amazonaws.com",
                         "/test.txt", 9, AWS_EXAMPLE_TIME + 86400, 86400, &day,
                         out, sizeof(out));
    ok(n > 0 && strcmp(day.day, "20130525") == 0
       && strstr(out, "%2F20130525%2Fus-east-1") != NULL,
       "the next day derives the next day's key");
    n = media_s3_presign(&keys, "us-east-1", "examplebucket.s3.amazonaws.com",
                         "/test.txt", 9, AWS_EXAMPLE_TIME + 86400, 86400, NULL,
                         fresh, sizeof(fresh));
    ok(strcmp(out, fresh) == 0, "as derived afresh");

    /* another path, another second: another signature */
    n = media_s3_presign(&keys, "us-east-1", "examplebucket.s3.amazonaws.com",
                         "/test.txu", 9, AWS_EXAMPLE_TIME, 86400, NULL, out,
                         sizeof(out));
    ok(n == sizeof(want) - 1 && memcmp(out, want, n) != 0,
       "another path signs differently");

    n = media_s3_presign(&keys, "us-east-1", "examplebucket.s3.amazonaws.com",
                         "/test.txt", 9, AWS_EXAMPLE_TIME, 86400, NULL, out,
                         100);
    ok(n == 0, "a buffer too small: 0, nothing cut short");
}


static void
urls(void)
{
    const char      *err;
    media_s3_url_t   u;

#define URL(s)  media_s3_parse_url(s, sizeof(s) - 1, &u, &err)

    ok(URL("s3://media") == 0 && strcmp(u.bucket, "media") == 0
       && u.prefix[0] == '\0', "a bucket alone");
    ok(URL("s3://media.example-1/site/a/") == 0
       && strcmp(u.bucket, "media.example-1") == 0
       && strcmp(u.prefix, "site/a") == 0, "a bucket and a prefix");

    ok(URL("/var/lib/ngx_media") == -1, "a path is not an s3:// URL");
    ok(URL("s3://ab") == -1 && strstr(err, "3 to 63"), "bucket too short");
    ok(URL("s3://Media") == -1 && strstr(err, "a-z"), "bucket in capitals");
    ok(URL("s3://media/a//b") == -1, "empty name in the prefix");
    ok(URL("s3://media/a/../b") == -1 && strstr(err, ".."), "\"..\" name");
    ok(URL("s3://media/a b") == -1, "a space in the prefix");
    ok(URL("s3://media/a?b") == -1, "a query in the prefix");

#undef URL
}


static void
keys(void)
{
    const char       *err;
    media_s3_keys_t   k;

#define KEYS(s)  media_s3_parse_keys(s, sizeof(s) - 1, &k, &err)

    ok(KEYS("[default]\n# ours\naws_access_key_id = AKID\n"
            "aws_secret_access_key=se/cret+X\r\n") == 0
       && strcmp(k.key_id, "AKID") == 0
       && strcmp(k.secret, "se/cret+X") == 0, "AWS's credentials format");
    ok(KEYS("aws_access_key_id = AKID\n") == -1
       && strstr(err, "aws_secret_access_key"), "no secret");
    ok(KEYS("aws_access_key_id = \naws_secret_access_key = s\n") == -1,
       "an empty key id");
    ok(KEYS("aws_access_key_id = A:B\naws_secret_access_key = s\n") == -1,
       "a colon in the key id (it goes into CURLOPT_USERPWD)");

#undef KEYS
}


static void
escape(void)
{
    size_t  n;
    char    out[16];

    n = media_s3_escape("a/b c~_.-", 9, out, sizeof(out));
    is_str(out, n, "a%2Fb%20c~_.-", "unreserved kept, the rest %XX");

    n = media_s3_escape("site1/hls/", 10, out, 8);
    is_str(out, n, "site1", "cut at a whole character, NUL-terminated");
}


int
main(void)
{
    presign_aws_example();
    escape();
    urls();
    keys();

    return done_testing();
}
