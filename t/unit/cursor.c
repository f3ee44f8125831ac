/*
 * The cursors of history and trending: what the routes give out passes,
 * anything a statement could fail to parse is refused.
 */

#include "tap.h"
#include "media_cursor.h"


#define U(s)  (const unsigned char *) (s), sizeof(s) - 1


int
main(void)
{
    ok(media_cursor_digits(U("1"), 9), "one digit");
    ok(media_cursor_digits(U("123456789"), 9), "nine digits of nine");
    ok(!media_cursor_digits(U("1234567890"), 9), "ten of nine refused");
    ok(!media_cursor_digits(U(""), 9), "nothing refused");
    ok(!media_cursor_digits(U("-1"), 9), "a sign refused");
    ok(!media_cursor_digits(U("1 "), 9), "a space refused");
    ok(!media_cursor_digits(U("x1"), 9), "a letter refused");

    ok(media_cursor_time_id(U("1764774120000000."
                              "0b6c1c52-5f4e-4d0c-9d36-6a4f1f3f0e2a")),
       "microseconds and an id");
    ok(media_cursor_time_id(U("0.0B6C1C52-5F4E-4D0C-9D36-6A4F1F3F0E2A")),
       "an id in capitals");
    ok(media_cursor_time_id(U("123456789012345678."
                              "0b6c1c52-5f4e-4d0c-9d36-6a4f1f3f0e2a")),
       "18 digits");
    ok(!media_cursor_time_id(U("1234567890123456789."
                               "0b6c1c52-5f4e-4d0c-9d36-6a4f1f3f0e2a")),
       "19 digits refused (past bigint)");
    ok(!media_cursor_time_id(U(".0b6c1c52-5f4e-4d0c-9d36-6a4f1f3f0e2a")),
       "no time refused");
    ok(!media_cursor_time_id(U("12")), "no dot refused");
    ok(!media_cursor_time_id(U("12.")), "no id refused");
    ok(!media_cursor_time_id(U("12.0b6c1c52-5f4e-4d0c-9d36-6a4f1f3f0e2")),
       "an id cut short refused");
    ok(!media_cursor_time_id(U("12.0b6c1c52-5f4e-4d0c-9d36-6a4f1f3f0e2a.")),
       "a dot more refused");
    ok(!media_cursor_time_id(U("12.0b6c1c52x5f4e-4d0c-9d36-6a4f1f3f0e2a")),
       "a bad separator refused");
    ok(!media_cursor_time_id(U("1x.0b6c1c52-5f4e-4d0c-9d36-6a4f1f3f0e2a")),
       "a letter in the time refused");

    return done_testing();
}
