/*
 * libFuzzer target for playback token verification.
 */

#include <stdint.h>
#include <string.h>

#include "media_token.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static media_token_key_t  keys[2];
    static int                ready;
    media_token_t             t;

    if (!ready) {
        media_token_key(&keys[0], (const unsigned char *)
                        "current-key-current-key!", 24);
        media_token_key(&keys[1], (const unsigned char *)
                        "previous-key-previous!!", 23);
        ready = 1;
    }

    (void) media_token_verify(keys, 2, (const char *) data, size,
                              1700000000L, &t);
    return 0;
}
