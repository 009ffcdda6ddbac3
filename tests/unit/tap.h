/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A tiny assert header for kta's unit tests.  Each CHECK counts one test;
 * main() ends with `return tap_done();`, which prints
 * "NAME: N passed, N failed" and returns non-zero on any failure.
 */
#ifndef KTA_TAP_H
#define KTA_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_pass, tap_fail;

#define CHECK(cond) do { \
        if (cond) { tap_pass++; } else { tap_fail++; \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_STR(a, b) do { \
        const char *tap_a_ = (a), *tap_b_ = (b); \
        if (tap_a_ && tap_b_ && strcmp(tap_a_, tap_b_) == 0) { tap_pass++; } else { tap_fail++; \
            fprintf(stderr, "%s:%d: check failed: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__, \
                    #a, #b, tap_a_ ? tap_a_ : "(null)", tap_b_ ? tap_b_ : "(null)"); } \
    } while (0)

#define CHECK_INT(a, b) do { \
        long long tap_a_ = (long long)(a), tap_b_ = (long long)(b); \
        if (tap_a_ == tap_b_) { tap_pass++; } else { tap_fail++; \
            fprintf(stderr, "%s:%d: check failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, \
                    #a, #b, tap_a_, tap_b_); } \
    } while (0)

static inline int tap_done_named(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, tap_pass, tap_fail);
    return tap_fail ? 1 : 0;
}

#define tap_done() tap_done_named(__FILE__)

#endif
