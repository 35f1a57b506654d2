/* Minimal test harness shared by every test program.
 *
 * A test program defines its tests with TEST(name) and lists them in
 * main() with RUN(name). Each program runs alone under ctest, so one crash
 * does not hide the results of the other programs. The closing line has the
 * form "N passed, N failed" that CI reads.
 */
#ifndef NMX_TESTS_CHECK_H
#define NMX_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures_;     /* failed CHECKs in the current test */
static int check_tests_passed_;
static int check_tests_failed_;

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                  \
            check_failures_++;                                               \
        }                                                                    \
    } while (0)

/* CHECK_EQ compares as unsigned long long and prints both values. */
#define CHECK_EQ(a, b)                                                       \
    do {                                                                     \
        unsigned long long check_a_ = (unsigned long long)(a);               \
        unsigned long long check_b_ = (unsigned long long)(b);               \
        if (check_a_ != check_b_) {                                          \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%llu vs %llu)\n", \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);         \
            check_failures_++;                                               \
        }                                                                    \
    } while (0)

#define TEST(name) static void name(void)

#define RUN(name)                                                            \
    do {                                                                     \
        check_failures_ = 0;                                                 \
        name();                                                              \
        if (check_failures_) {                                               \
            check_tests_failed_++;                                           \
            fprintf(stderr, "FAIL %s\n", #name);                             \
        } else {                                                             \
            check_tests_passed_++;                                           \
            printf("ok   %s\n", #name);                                      \
        }                                                                    \
        fflush(stdout);                                                      \
    } while (0)

/* SKIP_TEST reports a test that cannot run here (for example shared/ absent). */
#define SKIP_TEST(name, why) printf("skip %s: %s\n", #name, why)

#define CHECK_DONE()                                                         \
    (printf("%d passed, %d failed\n", check_tests_passed_, check_tests_failed_), \
     check_tests_failed_ ? EXIT_FAILURE : EXIT_SUCCESS)

#endif
