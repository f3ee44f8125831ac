/*
 * Reading a request's JSON body; see media_json.h.
 */

#include <stdio.h>
#include <string.h>

#include "media_json.h"


static int media_json_find_nul(const char *text, size_t len, char *field,
    size_t fieldsize);
static void media_json_name(const char *start, const char *end, char *field,
    size_t fieldsize);


media_json_rc_e
media_json_parse(const char *text, size_t len, yajl_val *tree, char *err,
    size_t errsize, char *field, size_t fieldsize)
{
    char      *nl;
    yajl_val   v;

    *tree = NULL;
    err[0] = '\0';
    field[0] = '\0';

    if (media_json_find_nul(text, len, field, fieldsize)) {
        snprintf(err, errsize, "a string holds a NUL character");
        return MEDIA_JSON_NUL;
    }

    v = yajl_tree_parse(text, err, errsize);

    if (v == NULL) {
        /* yajl's message spans lines; the first one is the useful part */
        nl = strchr(err, '\n');
        if (nl) {
            *nl = '\0';
        }

        return MEDIA_JSON_INVALID;
    }

    if (!YAJL_IS_OBJECT(v)) {
        yajl_tree_free(v);
        snprintf(err, errsize, "not an object");
        return MEDIA_JSON_NOT_OBJECT;
    }

    *tree = v;

    return MEDIA_JSON_OK;
}


/*
 * 1 when a raw NUL byte or a "\u0000" escape stands in the text, with the
 * name of the member it belongs to: the last string followed by ':'
 * before it, or the string itself when it is a name.  Only the lexical
 * structure of strings is followed; whether the rest is JSON is yajl's.
 */
static int
media_json_find_nul(const char *text, size_t len, char *field,
    size_t fieldsize)
{
    size_t       i, j;
    const char  *start, *p;
    int          nul;

    for (i = 0; i < len; i++) {

        if (text[i] == '\0') {
            return 1;
        }

        if (text[i] != '"') {
            continue;
        }

        start = text + i + 1;
        nul = 0;

        for (i++; i < len && text[i] != '"'; i++) {
            if (text[i] == '\0') {
                nul = 1;
            }

            if (text[i] != '\\' || i + 1 >= len) {
                continue;
            }

            i++;

            if (text[i] == 'u' && i + 4 < len
                && memcmp(text + i + 1, "0000", 4) == 0)
            {
                nul = 1;
            }
        }

        /* a name is a string followed by ':' */
        for (j = i + 1; j < len && strchr(" \t\r\n", text[j]); j++) {
            /* void */
        }

        p = text + i;

        if (j < len && text[j] == ':') {
            media_json_name(start, p, field, fieldsize);
        }

        if (nul) {
            return 1;
        }
    }

    return 0;
}


static void
media_json_name(const char *start, const char *end, char *field,
    size_t fieldsize)
{
    size_t  n;

    if (end < start || fieldsize == 0) {
        return;
    }

    n = (size_t) (end - start);
    if (n >= fieldsize) {
        n = fieldsize - 1;
    }

    memcpy(field, start, n);
    field[n] = '\0';
}
