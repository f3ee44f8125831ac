/*
 * libFuzzer target for download-link token verification and the
 * Content-Disposition and Range helpers.
 */

#include <stdint.h>
#include <string.h>

#include "media_dltoken.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static media_token_key_t  keys[2];
    static int                ready;
    static char               out[media_dl_disposition_size(4096)];
    media_dltoken_t           t;

    if (!ready) {
        media_token_key(&keys[0], (const unsigned char *)
                        "current-key-current-key!", 24);
        media_token_key(&keys[1], (const unsigned char *)
                        "previous-key-previous!!", 23);
        ready = 1;
    }

    (void) media_dltoken_verify(keys, 2, (const char *) data, size,
                                1700000000L, &t);
    (void) media_dl_range_start((const char *) data, size);

    if (size <= 4096) {
        (void) media_dl_disposition((const char *) data, size, out,
                                    sizeof(out));
    }

    return 0;
}
