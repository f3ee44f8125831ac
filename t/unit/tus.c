/*
 * tus 1.0 headers: Upload-Offset/Length numbers, Tus-Resumable, the PATCH
 * Content-Type, Upload-Metadata pairs (base64 through media_b64) and the
 * Upload-Expires date.
 */

#include <string.h>

#include "tap.h"
#include "media_b64.h"
#include "media_tus.h"


#define S(s)  (s), sizeof(s) - 1


int
main(void)
{
    char                   err[256], date[MEDIA_TUS_DATE_LEN];
    int64_t                v;
    unsigned char          out[16];
    media_tus_metadata_t   m;

    ok(media_tus_number(S("0"), &v) == 0 && v == 0, "0");
    ok(media_tus_number(S("524288000"), &v) == 0 && v == 524288000,
       "500 MB");
    ok(media_tus_number(S("9223372036854775807"), &v) == 0
       && v == INT64_MAX, "2^63 - 1");
    ok(media_tus_number(S("9223372036854775808"), &v) == -1,
       "2^63 refused");
    ok(media_tus_number(S("99999999999999999999"), &v) == -1,
       "20 digits refused");
    ok(media_tus_number(S(""), &v) == -1, "empty refused");
    ok(media_tus_number(S("-1"), &v) == -1, "a sign refused");
    ok(media_tus_number(S("+1"), &v) == -1, "a plus refused");
    ok(media_tus_number(S("1 "), &v) == -1, "a space refused");
    ok(media_tus_number(S("0x10"), &v) == -1, "hex refused");

    ok(media_tus_version_ok(S("1.0.0")), "1.0.0 spoken");
    ok(!media_tus_version_ok(S("0.2.2")), "0.2.2 refused");
    ok(!media_tus_version_ok(S("1.0.0 ")), "1.0.0 with a space refused");

    ok(media_tus_content_type_ok(S("application/offset+octet-stream")),
       "the PATCH type");
    ok(media_tus_content_type_ok(S("Application/Offset+Octet-Stream")),
       "in any case");
    ok(media_tus_content_type_ok(S("application/offset+octet-stream; x=1")),
       "with a parameter");
    ok(!media_tus_content_type_ok(S("application/octet-stream")),
       "octet-stream refused");
    ok(!media_tus_content_type_ok(S("application/offset+octet-streams")),
       "a longer type refused");

    /* base64 through the one decoder media_b64 has */
    ok(media_b64_decode(out, (const unsigned char *) "YQ==", 4) == 1
       && out[0] == 'a', "base64 with padding");
    ok(media_b64_decode(out, (const unsigned char *) "YQ", 2) == 1,
       "base64 without padding");
    ok(media_b64_decode(out, (const unsigned char *) "+/8=", 4) == 2
       && out[0] == 0xfb && out[1] == 0xff, "the standard alphabet's + and /");
    ok(media_b64_decode(out, (const unsigned char *) "-_8=", 4)
       == (size_t) -1, "base64url's - and _ refused in base64");
    ok(media_b64_decode(out, (const unsigned char *) "Y===", 4)
       == (size_t) -1, "three '=' refused");
    ok(media_b64url_decode(out, (const unsigned char *) "-_8", 3) == 2,
       "base64url unchanged");

    /* tus-js-client's own: filename and filetype, then others */
    ok(media_tus_metadata(S("filename Y2xpcC5tcDQ=,filetype dmlkZW8vbXA0,"
                            "relativePath bnVsbA=="), &m, err, sizeof(err))
       == 0, "tus-js-client's metadata");
    is_str(m.filename, m.filename_len, "clip.mp4", "filename");
    is_str(m.filetype, m.filetype_len, "video/mp4", "filetype");
    ok(m.has_filename && m.has_filetype, "both seen");

    ok(media_tus_metadata(S("is_confidential,filename YQ=="), &m, err,
                          sizeof(err)) == 0 && m.filename_len == 1,
       "a key without a value");
    ok(media_tus_metadata(S("filename YQ==, filetype YQ=="), &m, err,
                          sizeof(err)) == 0 && m.filetype_len == 1,
       "pairs separated by \", \"");
    ok(media_tus_metadata(S(""), &m, err, sizeof(err)) == 0
       && !m.has_filename, "no metadata");

    ok(media_tus_metadata(S("filename YQ==,filename Yg=="), &m, err,
                          sizeof(err)) == -1
       && strstr(err, "\"filename\" twice") != NULL, "a key twice: %s", err);
    ok(media_tus_metadata(S("filename !!!!"), &m, err, sizeof(err)) == -1
       && strstr(err, "\"filename\" is not base64") != NULL,
       "not base64: %s", err);
    ok(media_tus_metadata(S("filename YQ==,"), &m, err, sizeof(err)) == -1,
       "a trailing comma: %s", err);
    ok(media_tus_metadata(S("a YQ==,,b YQ=="), &m, err, sizeof(err)) == -1
       && strstr(err, "empty pair") != NULL, "an empty pair: %s", err);
    ok(media_tus_metadata(S("fil\x01e YQ=="), &m, err, sizeof(err)) == -1,
       "a control byte in a key: %s", err);
    ok(media_tus_metadata(S("filetype dmlkZW8KbXA0"), &m, err, sizeof(err))
       == -1 && strstr(err, "0x0a") != NULL,
       "a newline in filetype: %s", err);

    {
        char  big[MEDIA_TUS_METADATA_MAX + 2];

        memset(big, 'A', sizeof(big));
        memcpy(big, "filename ", 9);
        ok(media_tus_metadata(big, sizeof(big), &m, err, sizeof(err)) == -1
           && strstr(err, "at most 4096") != NULL, "too long: %s", err);

        /* 1368 characters of base64: 1026 bytes, past the value's limit */
        ok(media_tus_metadata(big, 9 + 1368, &m, err, sizeof(err)) == -1
           && strstr(err, "at most 1024") != NULL, "a long filename: %s",
           err);
    }

    ok(media_tus_http_date(date, 784111777) == MEDIA_TUS_DATE_LEN,
       "an HTTP-date's length");
    is_str(date, sizeof(date), "Sun, 06 Nov 1994 08:49:37 GMT",
           "RFC 9110's example");

    return done_testing();
}
