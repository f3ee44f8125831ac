/*
 * libFuzzer target for the object storage core: s3:// URLs, credentials
 * files, and presigning a path made of the input (the output's bound).
 */

#include <stdint.h>
#include <string.h>

#include "media_s3.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              out[MEDIA_S3_PRESIGN_LEN];
    const char       *err;
    media_s3_url_t    url;
    media_s3_keys_t   keys;

    (void) media_s3_parse_url((const char *) data, size, &url, &err);

    if (media_s3_parse_keys((const char *) data, size, &keys, &err) != 0) {
        strcpy(keys.key_id, "AKIDEXAMPLE");
        strcpy(keys.secret, "secret");
    }

    (void) media_s3_presign(&keys, "us-east-1", "127.0.0.1:9000",
                            (const char *) data, size, 1369353600, 300, NULL,
                            out, sizeof(out));

    return 0;
}
