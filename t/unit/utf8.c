/*
 * UTF-8 for titles and file names: well-formed text passes, every
 * ill-formed kind is refused, cuts fall on character boundaries, and any
 * bytes become a safe name.
 */

#include <string.h>

#include "tap.h"
#include "media_utf8.h"


#define U(s)  (const unsigned char *) (s), sizeof(s) - 1


int
main(void)
{
    size_t          n, i;
    unsigned char   buf[1024], name[1024];

    ok(media_utf8_valid(U("plain title")), "ASCII");
    ok(media_utf8_valid(U("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x8e\xb5")),
       "two, three and four-byte characters");
    ok(!media_utf8_valid(U("\xff")), "0xff refused");
    ok(!media_utf8_valid(U("a\xc3")), "a character cut short refused");
    ok(!media_utf8_valid(U("\xc0\xaf")), "an overlong '/' refused");
    ok(!media_utf8_valid(U("\xe0\x80\xaf")), "a three-byte overlong refused");
    ok(!media_utf8_valid(U("\xed\xa0\x80")), "a surrogate refused");
    ok(!media_utf8_valid(U("\xf4\x90\x80\x80")), "above U+10FFFF refused");
    ok(!media_utf8_valid(U("\x80")), "a lone continuation byte refused");
    ok(!media_utf8_valid(U("a\nb")), "a control character refused");
    ok(!media_utf8_valid(U("a\0b")), "a NUL refused");

    /* 70 Japanese characters: 210 bytes */
    for (i = 0; i < 70; i++) {
        memcpy(buf + 3 * i, "\xe6\x97\xa5", 3);
    }

    ok(media_utf8_chars(buf, 210) == 70, "70 characters counted in 210 bytes");
    n = media_utf8_prefix(buf, 210, 67);
    ok(n == 201 && media_utf8_valid(buf, n), "67 characters: 201 bytes, whole");
    ok(media_utf8_prefix(buf, 210, 200) == 210, "under the limit: all of it");
    ok(media_utf8_prefix(U("abc"), 0) == 0, "zero characters: nothing");

    n = media_utf8_safe(name, U("a\xff" "b\xe6\x97\xa5\n\xc3"));
    ok(n == 8 && memcmp(name, "a_b\xe6\x97\xa5__", 8) == 0,
       "a safe name: bad bytes and controls become _");
    ok(media_utf8_valid(name, n), "and it is valid");

    return done_testing();
}
