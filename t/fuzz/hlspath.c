/*
 * libFuzzer target for the HLS path parser.  Beyond not crashing, every
 * accepted path must hold what the nginx glue relies on when it builds
 * <files><id>/<file>: a lowercase id matching its bytes, a file of
 * [a-z0-9_.] (and "-" in a cover's name: cover-512.jpg) with at most one
 * "/" (two when a generation g<N>/ comes first), no dotfile, no "..",
 * within bounds, and a rung exactly for rung files.  A broken promise
 * aborts.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media_hlspath.h"
#include "media_token.h"


static void
check(int cond)
{
    if (!cond) {
        abort();
    }
}


static void
check_file(const media_hls_path_t *hp)
{
    size_t       i, slashes;
    const char  *f;

    f = hp->file;

    check(hp->file_len > 0 && hp->file_len <= MEDIA_HLS_FILE_MAX);
    check(f[0] != '.');

    slashes = 0;

    for (i = 0; i < hp->file_len; i++) {
        check((f[i] >= 'a' && f[i] <= 'z') || (f[i] >= '0' && f[i] <= '9')
              || f[i] == '_' || f[i] == '.' || f[i] == '/'
              || (f[i] == '-' && hp->kind == MEDIA_HLS_COVER));

        if (f[i] == '/') {
            slashes++;
            check(i + 1 < hp->file_len && f[i + 1] != '.');
        }

        if (f[i] == '.' && i + 1 < hp->file_len) {
            check(f[i + 1] != '.');
        }
    }

    switch (hp->kind) {

    case MEDIA_HLS_MASTER:
    case MEDIA_HLS_POSTER:
    case MEDIA_HLS_WAVEFORM:
    case MEDIA_HLS_COVER:
    case MEDIA_HLS_THUMBS:
        check(slashes == 0 && hp->rung == NULL && hp->rung_len == 0
              && hp->gen == NULL);
        break;

    case MEDIA_HLS_PLAYLIST:
    case MEDIA_HLS_SEGMENT:
        /* [g<N>/]<rung>/<name>: the generation, when there, first */
        if (hp->gen) {
            check(slashes == 2 && hp->gen == f && hp->gen_len >= 2
                  && f[0] == 'g' && f[1] >= '1' && f[1] <= '9'
                  && f[hp->gen_len] == '/'
                  && hp->rung == f + hp->gen_len + 1);
            for (i = 1; i < hp->gen_len; i++) {
                check(f[i] >= '0' && f[i] <= '9');
            }
        } else {
            check(slashes == 1 && hp->rung == f && hp->gen_len == 0);
        }
        check(hp->rung_len > 0 && hp->rung[hp->rung_len] == '/');
        break;

    default:
        check(0);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char               id[37];
    unsigned           side;
    const char        *p;
    media_hls_path_t   hp;

    p = (const char *) data;

    if (media_hls_path_parse(p, size, &hp) != 0) {
        check(hp.error != NULL && hp.error[0] != '\0');
        goto rung;
    }

    check(hp.error == NULL);

    /* the three parts are the whole input, in order */
    check(hp.token == p && hp.token_len > 0
          && hp.token_len <= MEDIA_HLS_TOKEN_MAX
          && memchr(hp.token, '/', hp.token_len) == NULL);
    check(hp.id == p + hp.token_len + 1 && hp.id[-1] == '/');
    check(hp.file == hp.id + 37 && hp.id[36] == '/');
    check(hp.file + hp.file_len == p + size);

    /* the id is the canonical spelling of its bytes */
    media_uuid_format(hp.media, id);
    check(memcmp(id, hp.id, 36) == 0);

    check_file(&hp);

    if (hp.rung) {
        check(media_hls_rung_parse(hp.rung, hp.rung_len, &side) == 0
              && side == hp.rung_side);
    }

rung:

    /* the rung parser alone, on the same bytes */
    if (media_hls_rung_parse(p, size, &side) == 0) {
        check(size >= 2 && size <= 5 && side <= MEDIA_HLS_RUNG_SIDE_MAX);
        check(media_hls_rung_allowed(side, 0));
    }

    return 0;
}
