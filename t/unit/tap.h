/*
 * A few lines of TAP for the C unit tests, so prove runs them as it runs
 * the .t files.
 */

#ifndef _MEDIA_TAP_H_INCLUDED_
#define _MEDIA_TAP_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static int  tap_n, tap_failed;


#define ok(cond, ...)                                                         \
    do {                                                                      \
        int tap_c = (cond) ? 1 : 0;                                           \
        printf("%sok %d - ", tap_c ? "" : "not ", ++tap_n);                   \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        if (!tap_c) {                                                         \
            tap_failed++;                                                     \
            printf("#   failed at %s line %d\n", __FILE__, __LINE__);         \
        }                                                                     \
    } while (0)

#define is_str(got, len, want, name)                                          \
    ok((len) == strlen(want) && memcmp((got), (want), (len)) == 0,            \
       "%s: \"%.*s\"", (name), (int) (len), (got))

#define done_testing()                                                        \
    (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)


#endif /* _MEDIA_TAP_H_INCLUDED_ */
