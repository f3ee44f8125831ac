/*
 * libFuzzer target for tus header parsing: Upload-Metadata (and the
 * base64 it carries), the numbers, the version and the PATCH type.
 */

#include <stdint.h>
#include <string.h>

#include "media_tus.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                   err[256];
    int64_t                v;
    media_tus_metadata_t   m;

    (void) media_tus_metadata((const char *) data, size, &m, err,
                              sizeof(err));
    (void) media_tus_number((const char *) data, size, &v);
    (void) media_tus_version_ok((const char *) data, size);
    (void) media_tus_content_type_ok((const char *) data, size);

    return 0;
}
