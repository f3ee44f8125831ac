/*
 * The social room's checks: a comment's body counted in characters, with
 * line feeds allowed and other controls refused; the feed's cursor taken
 * apart, and every malformed one refused.
 */

#include <string.h>

#include "tap.h"
#include "media_social.h"


#define U(s)  (const unsigned char *) (s), sizeof(s) - 1

#define MEDIA  "0d6f8a4e-1b2c-4d3e-8f90-a1b2c3d4e5f6"
#define BY     "7c9e6679-7425-40de-944b-e07fc1f90ae7"


int
main(void)
{
    size_t                 n, i;
    unsigned char          buf[4096];
    media_social_cursor_t  c;

    ok(media_social_body(U("nice drop"), &n) == MEDIA_SOCIAL_OK && n == 9,
       "ASCII: 9 characters");
    ok(media_social_body(U("two\nlines\tand a tab"), &n) == MEDIA_SOCIAL_OK
       && n == 19, "line feed and tab allowed, each one character");
    ok(media_social_body(U("caf\xc3\xa9 \xf0\x9f\x8e\xb5"), &n)
       == MEDIA_SOCIAL_OK && n == 6, "characters, not bytes");
    ok(media_social_body(U(""), &n) == MEDIA_SOCIAL_EMPTY, "empty refused");
    ok(media_social_body(U(" \n\t "), &n) == MEDIA_SOCIAL_EMPTY,
       "white space only refused");
    ok(media_social_body(U("a\rb"), &n) == MEDIA_SOCIAL_INVALID,
       "carriage return refused");
    ok(media_social_body(U("a\x1b[31m"), &n) == MEDIA_SOCIAL_INVALID,
       "escape refused");
    ok(media_social_body(U("a\nb\xc3"), &n) == MEDIA_SOCIAL_INVALID,
       "a character cut short after a line feed refused");
    ok(media_social_body(U("\xff\n"), &n) == MEDIA_SOCIAL_INVALID,
       "ill-formed before a line feed refused");

    /* 1000 three-byte characters: 3000 bytes, allowed; one more is not */
    for (i = 0; i < 1001; i++) {
        memcpy(buf + 3 * i, "\xe6\x97\xa5", 3);
    }

    ok(media_social_body(buf, 3000, &n) == MEDIA_SOCIAL_OK && n == 1000,
       "1000 characters in 3000 bytes allowed");
    ok(media_social_body(buf, 3003, &n) == MEDIA_SOCIAL_TOO_LONG
       && n == 1001, "1001 characters refused");

    memset(buf, 'a', 1000);
    buf[500] = '\n';
    ok(media_social_body(buf, 1000, &n) == MEDIA_SOCIAL_OK && n == 1000,
       "1000 with a line feed allowed");

    ok(media_social_cursor(U("1764770000123456.r." MEDIA "." BY), &c) == 0
       && c.repost && c.micros_len == 16
       && memcmp(c.media, MEDIA, 36) == 0 && memcmp(c.by, BY, 36) == 0,
       "a repost's cursor taken apart");
    ok(media_social_cursor(U("0.u." MEDIA "." BY), &c) == 0 && !c.repost
       && c.micros_len == 1, "an upload's cursor at the epoch");
    ok(media_social_cursor(U("01.u." MEDIA "." BY), &c) == -1,
       "a leading zero refused");
    ok(media_social_cursor(U("1234567890123456789.u." MEDIA "." BY), &c)
       == -1, "19 digits refused");
    ok(media_social_cursor(U(".u." MEDIA "." BY), &c) == -1,
       "no time refused");
    ok(media_social_cursor(U("12.x." MEDIA "." BY), &c) == -1,
       "a kind that is neither r nor u refused");
    ok(media_social_cursor(U("12.u." MEDIA "." BY "x"), &c) == -1,
       "a byte too many refused");
    ok(media_social_cursor(U("12.u." MEDIA "."), &c) == -1,
       "no author refused");
    ok(media_social_cursor(U("12.u.0D6F8A4E-1B2C-4D3E-8F90-A1B2C3D4E5F6." BY),
                           &c) == -1, "an uppercase id refused");
    ok(media_social_cursor(U("12.u.0d6f8a4e_1b2c-4d3e-8f90-a1b2c3d4e5f6." BY),
                           &c) == -1, "a dash out of place refused");
    ok(media_social_cursor(U("12;u." MEDIA "." BY), &c) == -1,
       "a wrong separator refused");
    ok(media_social_cursor(U(""), &c) == -1, "empty refused");

    return done_testing();
}
