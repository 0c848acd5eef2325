/* Minimal unit-test helpers: one executable per tests/unit/test_*.c, run by ctest.
 * CHECK records a failure and continues; the program exits non-zero when any
 * check failed and prints "N passed, N failed" as its last line. */
#ifndef RECTIFY_UNIT_H
#define RECTIFY_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_passed, unit_failed;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (cond) {                                                        \
            unit_passed++;                                                 \
        } else {                                                           \
            unit_failed++;                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                    \
    do {                                                                   \
        const char *ua_ = (a), *ub_ = (b);                                 \
        if (ua_ && ub_ && strcmp(ua_, ub_) == 0) {                         \
            unit_passed++;                                                 \
        } else {                                                           \
            unit_failed++;                                                 \
            fprintf(stderr, "%s:%d: CHECK_STR failed: %s = \"%s\", "       \
                    "expected \"%s\"\n", __FILE__, __LINE__, #a,           \
                    ua_ ? ua_ : "(null)", ub_ ? ub_ : "(null)");           \
        }                                                                  \
    } while (0)

#define CHECK_INT(a, b)                                                    \
    do {                                                                   \
        long long ua_ = (long long)(a), ub_ = (long long)(b);              \
        if (ua_ == ub_) {                                                  \
            unit_passed++;                                                 \
        } else {                                                           \
            unit_failed++;                                                 \
            fprintf(stderr, "%s:%d: CHECK_INT failed: %s = %lld, "         \
                    "expected %lld\n", __FILE__, __LINE__, #a, ua_, ub_);  \
        }                                                                  \
    } while (0)

#define UNIT_DONE()                                                        \
    (printf("%d passed, %d failed\n", unit_passed, unit_failed),           \
     unit_failed ? 1 : 0)

#endif
