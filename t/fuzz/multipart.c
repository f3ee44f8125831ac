/*
 * libFuzzer target for the multipart parser and the sniffer: the input is
 * fed in chunks whose sizes come from its first byte, as a network would.
 */

#include <stdint.h>
#include <string.h>

#include "media_multipart.h"
#include "media_sniff.h"


static int
on_begin(void *data, const media_multipart_part_t *part)
{
    (void) data;
    return strlen(part->name) > 1000;
}


static int
on_chunk(void *data, const unsigned char *p, size_t len)
{
    (void) media_sniff(p, len);
    *(size_t *) data += len;
    return 0;
}


static const media_multipart_cb_t  cb = { on_begin, on_chunk, NULL };


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              step, off, n, total;
    media_multipart_t  *mp;

    if (size < 1) {
        return 0;
    }

    step = (size_t) data[0] % 64 + 1;
    total = 0;

    mp = media_multipart_new("----fuzzBoundary", &cb, &total);

    for (off = 1; off < size; off += n) {
        n = size - off < step ? size - off : step;
        if (media_multipart_feed(mp, data + off, n) != 0) {
            break;
        }
    }

    (void) media_multipart_finish(mp);
    media_multipart_free(mp);

    /* data never grows beyond its input */
    if (total > size) {
        __builtin_trap();
    }

    return 0;
}
