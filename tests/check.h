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

/* Groups. A program whose tests need the shared capture corpus, tshark or
 * another tool a user's machine may lack marks those tests RUN_CORPUS; CMake
 * then registers it twice: plainly (RUN tests only) and as <name>_corpus with
 * the argument "corpus" (RUN_CORPUS tests only). Call CHECK_INIT first. */
static int check_corpus_mode_;
#define CHECK_INIT(argc, argv) \
    (check_corpus_mode_ = (argc) > 1 && strcmp((argv)[1], "corpus") == 0)

/* Inside a test: stop here and count the test as skipped, not passed. */
static int check_skip_current_;
static const char *check_skip_why_;
#define SKIP_HERE(why)                                                       \
    do {                                                                     \
        check_skip_current_ = 1;                                             \
        check_skip_why_ = (why);                                             \
        return;                                                              \
    } while (0)

static int check_tests_skipped_;

/* CHECK_ONLY=name in the environment runs that test alone (debugging, and
 * checking that a regression test fails on the old code). */
static int check_selected_(const char *name)
{
    const char *only = getenv("CHECK_ONLY");
    return !only || !*only || strcmp(only, name) == 0;
}

#define RUN_IN_(name, corpus)                                                \
    do {                                                                     \
        if (check_corpus_mode_ != (corpus) || !check_selected_(#name))       \
            break;                                                           \
        check_failures_ = 0;                                                 \
        check_skip_current_ = 0;                                             \
        name();                                                              \
        if (check_failures_) {                                               \
            check_tests_failed_++;                                           \
            fprintf(stderr, "FAIL %s\n", #name);                             \
        } else if (check_skip_current_) {                                    \
            check_tests_skipped_++;                                          \
            printf("skip %s: %s\n", #name, check_skip_why_ ? check_skip_why_ : "?"); \
        } else {                                                             \
            check_tests_passed_++;                                           \
            printf("ok   %s\n", #name);                                      \
        }                                                                    \
        fflush(stdout);                                                      \
    } while (0)

#define RUN(name) RUN_IN_(name, 0)
#define RUN_CORPUS(name) RUN_IN_(name, 1)

/* SKIP_TEST reports a test that cannot run here (for example shared/ absent). */
#define SKIP_TEST(name, why)                                                 \
    (check_tests_skipped_++, printf("skip %s: %s\n", #name, why))

/* The program's exit status: 1 if a test failed; 77 (ctest's
 * SKIP_RETURN_CODE: reported as Skipped, not Passed) if none passed and
 * some were skipped or none ran; else 0. */
#define CHECK_DONE()                                                         \
    (printf("%d passed, %d failed, %d skipped\n", check_tests_passed_,       \
            check_tests_failed_, check_tests_skipped_),                      \
     check_tests_failed_ ? EXIT_FAILURE : check_tests_passed_ ? EXIT_SUCCESS : 77)

#endif
