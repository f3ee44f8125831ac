/*
 * The JSON body reader: objects pass, everything else is refused with a
 * reason, and a NUL character (a zero byte or \u0000, which yajl's tree
 * would silently cut a string at) is refused naming its member.
 */

#include <string.h>

#include "tap.h"
#include "media_json.h"


static media_json_rc_e
parse(const char *text, char *field)
{
    char             err[256], f[64];
    yajl_val         tree;
    media_json_rc_e  rc;

    rc = media_json_parse(text, strlen(text), &tree, err, sizeof(err), f,
                          sizeof(f));
    if (rc == MEDIA_JSON_OK) {
        yajl_tree_free(tree);
    }

    if (field) {
        strcpy(field, f);
    }

    return rc;
}


int
main(void)
{
    char             field[64], err[256], f[64];
    yajl_val         tree;
    media_json_rc_e  rc;

    ok(parse("{\"email\":\"a@b.org\",\"password\":\"pw\"}", NULL)
       == MEDIA_JSON_OK, "an object passes");
    ok(parse("{\"title\":\"caf\xc3\xa9 \\u00e9 \\\\u0000\"}", NULL)
       == MEDIA_JSON_OK, "UTF-8, escapes and an escaped backslash pass");

    ok(parse("{\"email\":\"a@b.org\\u0000.evil\",\"password\":\"x\"}", field)
       == MEDIA_JSON_NUL && strcmp(field, "email") == 0,
       "\\u0000 in a value: refused, naming the member");
    ok(parse("{\"email\":\"a\",\"password\":\"p\\u0000w\"}", field)
       == MEDIA_JSON_NUL && strcmp(field, "password") == 0,
       "\\u0000 in the second member: names that one");
    ok(parse("{\"ti\\u0000tle\":\"x\"}", field) == MEDIA_JSON_NUL
       && strcmp(field, "ti\\u0000tle") == 0,
       "\\u0000 in a name: names it as written");
    ok(parse("{\"a\":{\"b\":[\"x\\u0000\"]}}", field) == MEDIA_JSON_NUL
       && strcmp(field, "b") == 0, "nested: the nearest member");
    ok(parse("[\"\\u0000\"]", field) == MEDIA_JSON_NUL && field[0] == '\0',
       "outside any member: no name");

    rc = media_json_parse("{\"a\":\"b\0c\"}", 11, &tree, err, sizeof(err),
                          f, sizeof(f));
    ok(rc == MEDIA_JSON_NUL, "a raw zero byte: refused");

    ok(parse("{\"a\":\"\xff\xfe\"}", NULL) == MEDIA_JSON_INVALID,
       "invalid UTF-8: refused");
    ok(parse("{\"a\":", NULL) == MEDIA_JSON_INVALID, "truncated: refused");
    ok(parse("[1,2]", NULL) == MEDIA_JSON_NOT_OBJECT, "an array: refused");
    ok(parse("\"s\"", NULL) == MEDIA_JSON_NOT_OBJECT, "a string: refused");

    rc = media_json_parse("{\"a\":", 5, &tree, err, sizeof(err), f,
                          sizeof(f));
    ok(rc == MEDIA_JSON_INVALID && strchr(err, '\n') == NULL && err[0],
       "the reason is one line");

    return done_testing();
}
