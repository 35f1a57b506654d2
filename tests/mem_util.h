/* Helpers shared by the expert-memory tests (test_mem*.c).
 *
 * Byte patterns that tell blocks apart, zero checks that report where they
 * fail, and the process's memory figures from /proc/self/status. Everything
 * is static inline so that a test program may use any subset without
 * -Wunused-function complaining.
 */
#ifndef NMX_TESTS_MEM_UTIL_H
#define NMX_TESTS_MEM_UTIL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MU_NONE ((size_t)-1) /* "no mismatch" */

/* MU_UNDER_TSAN: built with ThreadSanitizer (gcc or clang). */
#if defined(__SANITIZE_THREAD__)
#define MU_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MU_UNDER_TSAN 1
#endif
#endif

/* The 8-byte word number w of the pattern with this seed. */
static inline uint64_t mu_word(size_t w, unsigned seed)
{
    uint64_t x = (uint64_t)w * 0x9E3779B97F4A7C15ull + (uint64_t)seed * 0xBF58476D1CE4E5B9ull + 1;
    x ^= x >> 29;
    return x;
}

/* Byte i of the pattern (little-endian bytes of the words). */
static inline unsigned char mu_byte(size_t i, unsigned seed)
{
    return (unsigned char)(mu_word(i / 8, seed) >> (8 * (i % 8)));
}

/* Fills p[0..n) with the pattern of `seed`: different seeds give different
 * bytes almost everywhere, and no 8-byte word of it is zero in practice. */
static inline void mu_fill(void *p, size_t n, unsigned seed)
{
    unsigned char *c = (unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = mu_word(i / 8, seed);
        memcpy(c + i, &v, 8);
    }
    for (; i < n; i++)
        c[i] = mu_byte(i, seed);
}

/* Offset of the first byte of p[0..n) that differs from the pattern, or MU_NONE. */
static inline size_t mu_check(const void *p, size_t n, unsigned seed)
{
    const unsigned char *c = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v = mu_word(i / 8, seed), got;
        memcpy(&got, c + i, 8);
        if (got != v)
            break;
    }
    for (; i < n; i++)
        if (c[i] != mu_byte(i, seed))
            return i;
    return MU_NONE;
}

/* Offset of the first non-zero byte of p[0..n), or MU_NONE. */
static inline size_t mu_first_nonzero(const void *p, size_t n)
{
    const unsigned char *c = (const unsigned char *)p;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint64_t w[8], acc = 0;
        memcpy(w, c + i, 64);
        for (int j = 0; j < 8; j++)
            acc |= w[j];
        if (acc)
            break;
    }
    for (; i < n; i++)
        if (c[i])
            return i;
    return MU_NONE;
}

/* Offset of the first byte of p[0..n) that is not `v`, or MU_NONE. */
static inline size_t mu_first_not(const void *p, size_t n, unsigned char v)
{
    const unsigned char *c = (const unsigned char *)p;
    for (size_t i = 0; i < n; i++)
        if (c[i] != v)
            return i;
    return MU_NONE;
}

/* A field of /proc/self/status in kB ("VmRSS", "VmSize", ...); -1 if absent. */
static inline long mu_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    size_t len = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, field, len) == 0 && line[len] == ':') {
            kb = strtol(line + len + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static inline long mu_rss_kb(void)
{
    return mu_status_kb("VmRSS");
}

static inline long mu_vmsize_kb(void)
{
    return mu_status_kb("VmSize");
}

/* Runs fn(arg) in a forked child, which exits with fn's result (0: all
 * well) and is killed by SIGALRM after `seconds`. Returns 1 if the child
 * exited with 0; else says how it ended on stderr and returns 0. For tests
 * whose failure is a crash or a hang, and for a child's own process state
 * (a seccomp filter). */
static inline int mu_in_child(const char *what, int (*fn)(void *), void *arg, unsigned seconds)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        alarm(seconds);
        int rc = fn(arg);
        fflush(NULL);
        _exit(rc ? 1 : 0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 1;
    if (WIFSIGNALED(status))
        fprintf(stderr, "%s: the child died of signal %d%s\n", what, WTERMSIG(status),
                WTERMSIG(status) == SIGALRM ? " (it hung)" : "");
    else
        fprintf(stderr, "%s: the child exited with %d\n", what, WEXITSTATUS(status));
    return 0;
}

#endif
