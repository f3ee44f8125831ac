/*
 * nginx-free parts of tus 1.0 (https://tus.io/protocols/resumable-upload):
 * the headers' values as plain buffers in, plain results out.
 */

#ifndef _MEDIA_TUS_H_INCLUDED_
#define _MEDIA_TUS_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <time.h>


#define MEDIA_TUS_VERSION       "1.0.0"
#define MEDIA_TUS_EXTENSIONS    "creation,creation-with-upload,termination," \
                                "expiration"
#define MEDIA_TUS_CONTENT_TYPE  "application/offset+octet-stream"

/* an Upload-Metadata header longer than this is refused */
#define MEDIA_TUS_METADATA_MAX  4096

/* decoded filename and filetype, in bytes */
#define MEDIA_TUS_VALUE_MAX     1024

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define MEDIA_TUS_DATE_LEN      29


typedef struct {
    char      filename[MEDIA_TUS_VALUE_MAX];
    size_t    filename_len;
    char      filetype[MEDIA_TUS_VALUE_MAX];
    size_t    filetype_len;
    unsigned  has_filename:1;
    unsigned  has_filetype:1;
} media_tus_metadata_t;


/*
 * Upload-Offset and Upload-Length: a non-negative decimal integer, no sign,
 * no space, at most 2^63 - 1.  Returns 0 and sets *out, or -1.
 */
int media_tus_number(const char *p, size_t len, int64_t *out);

/* Tus-Resumable names the version we speak: 1 or 0 */
int media_tus_version_ok(const char *p, size_t len);

/* a PATCH body's Content-Type is application/offset+octet-stream: 1 or 0 */
int media_tus_content_type_ok(const char *p, size_t len);

/*
 * Upload-Metadata: comma-separated pairs "key base64value" (a key alone
 * has no value).  Keys are printable ASCII without space or comma and
 * appear once; values are base64 (RFC 4648 section 4).  filename and
 * filetype are decoded into m; other keys are checked and ignored.
 * Returns 0, or -1 with a sentence in err saying which pair is wrong.
 */
int media_tus_metadata(const char *p, size_t len, media_tus_metadata_t *m,
    char *err, size_t errlen);

/* t as an HTTP-date (RFC 9110 5.6.7): writes MEDIA_TUS_DATE_LEN bytes */
size_t media_tus_http_date(char *buf, time_t t);


#endif /* _MEDIA_TUS_H_INCLUDED_ */
