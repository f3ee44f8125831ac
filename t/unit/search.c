/*
 * Search queries as typed: decoding, the split into whole words and the
 * prefix being typed, the refusals; cursors; descriptions over lines.
 */

#include <string.h>

#include "tap.h"
#include "media_search.h"


#define U(s)  (const unsigned char *) (s), sizeof(s) - 1


int
main(void)
{
    size_t             i, n, start;
    unsigned char      buf[2048], raw[2048];
    media_search_q_t   q;

    ok(media_search_parse(U("beyon"), buf, &q) == MEDIA_SEARCH_OK,
       "one word");
    is_str(q.head, q.head_len, "", "no whole word");
    is_str(q.last, q.last_len, "beyon", "the word typed is the prefix");

    ok(media_search_parse(U("+halo++beyon"), buf, &q) == MEDIA_SEARCH_OK,
       "'+' is a blank");
    is_str(q.head, q.head_len, "halo  ", "whole words, blanks trimmed before");
    is_str(q.last, q.last_len, "beyon", "prefix after the last blank");

    ok(media_search_parse(U("halo%20beyonc%C3%A9%20"), buf, &q)
       == MEDIA_SEARCH_OK, "percent-decoded");
    is_str(q.head, q.head_len, "halo beyonc\xc3\xa9",
           "a trailing blank: every word is whole");
    ok(q.last_len == 0, "no prefix after a trailing blank");

    ok(media_search_parse(U("100%+sure"), buf, &q) == MEDIA_SEARCH_OK,
       "a '%%' that starts no escape is kept");
    is_str(q.head, q.head_len, "100% ", "kept as typed");

    ok(media_search_parse(U("a%09b"), buf, &q) == MEDIA_SEARCH_OK,
       "a tab is a blank");
    is_str(q.last, q.last_len, "b", "split at the tab");

    ok(media_search_parse(U(""), buf, &q) == MEDIA_SEARCH_EMPTY, "empty");
    ok(media_search_parse(U("+%20+"), buf, &q) == MEDIA_SEARCH_EMPTY,
       "only blanks");
    ok(media_search_parse(U("%FF"), buf, &q) == MEDIA_SEARCH_BAD_TEXT,
       "not UTF-8");
    ok(media_search_parse(U("a%00b"), buf, &q) == MEDIA_SEARCH_BAD_TEXT,
       "a NUL");
    ok(media_search_parse(U("caf%C3"), buf, &q) == MEDIA_SEARCH_BAD_TEXT,
       "a character cut short");

    /* 200 two-byte characters pass, 201 do not */
    n = 0;
    for (i = 0; i < 201; i++) {
        memcpy(raw + n, "%C3%A9", 6);
        n += 6;
    }

    ok(media_search_parse(raw, n - 6, buf, &q) == MEDIA_SEARCH_OK,
       "200 characters");
    ok(media_search_parse(raw, n, buf, &q) == MEDIA_SEARCH_TOO_LONG,
       "201 characters");

    ok(media_search_cursor_ok(U("123.0b5f9c2e-1111-4a2b-8c3d-aabbccddeeff")),
       "a cursor");
    ok(media_search_cursor_ok(U("0.0B5F9C2E-1111-4A2B-8C3D-AABBCCDDEEFF")),
       "upper-case hex");
    ok(!media_search_cursor_ok(U("1234567890123456789."
                                 "0b5f9c2e-1111-4a2b-8c3d-aabbccddeeff")),
       "19 digits refused");
    ok(!media_search_cursor_ok(U(".0b5f9c2e-1111-4a2b-8c3d-aabbccddeeff")),
       "no number refused");
    ok(!media_search_cursor_ok(U("1.0b5f9c2e-1111-4a2b-8c3d-aabbccddeef")),
       "a short id refused");
    ok(!media_search_cursor_ok(U("1.0b5f9c2e-1111-4a2b-8c3d-aabbccddeefg")),
       "a non-hex id refused");
    ok(!media_search_cursor_ok(U("1.0b5f9c2e11111-4a2b-8c3d-aabbccddeeff")),
       "a dash out of place refused");
    ok(!media_search_cursor_ok(U("-1.0b5f9c2e-1111-4a2b-8c3d-aabbccddeeff")),
       "a sign refused");

    ok(media_search_text_ok(U("line one\nline two\r\n\ttabbed")),
       "a description over lines");
    ok(media_search_text_ok(U("")), "empty text");
    ok(!media_search_text_ok(U("bell\x07")), "a bell refused");
    ok(!media_search_text_ok(U("\n\xc3")), "a cut character refused");

    n = media_search_trim(U("  hip hop \t"), &start);
    ok(start == 2 && n == 7, "trimmed to \"hip hop\"");
    n = media_search_trim(U("   "), &start);
    ok(n == 0, "only blanks trim to nothing");

    return done_testing();
}
