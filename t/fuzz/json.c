/*
 * libFuzzer target for the JSON body reader (media_json_parse): any bytes,
 * as nginx hands a body over (NUL-terminated copy).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_json.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char      *text, err[256], field[64];
    yajl_val   tree;

    text = malloc(size + 1);
    if (text == NULL) {
        return 0;
    }

    memcpy(text, data, size);
    text[size] = '\0';

    if (media_json_parse(text, size, &tree, err, sizeof(err), field,
                         sizeof(field))
        == MEDIA_JSON_OK)
    {
        yajl_tree_free(tree);
    }

    free(text);
    return 0;
}
