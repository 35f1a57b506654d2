/* Reading and writing memory an expert handed in, without faulting (H5).
 *
 * Every pointer an expert passes to a host service (a status text, an event
 * and its strings, a filter expression, a buffer to fill) may be NULL, wild,
 * unmapped, read-only, or shorter than the length it comes with, and another
 * thread of the expert may change it while the host reads it. So the host
 * never touches such memory in place: it copies it in once, into its own
 * buffer, before taking any lock, and copies results out after releasing
 * every lock, with the functions below. A fault during the copy is caught
 * (fault.c hands SIGSEGV/SIGBUS to the armed probe first) and becomes an
 * error return; the call then reports NMERR_INVALID_PARAMETER instead of
 * ending the run.
 *
 * The copy loops read and write through volatile pointers: the compiler
 * must not turn them into memcpy/strlen calls, which sanitizers intercept
 * and which would check (and report) the expert's bad address themselves.
 * They are not instrumented for the same reason; a concurrent writer in the
 * expert is the expert's race, and the copy reads each byte exactly once.
 */
#define _GNU_SOURCE
#include "host/host_internal.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>

#if defined(__clang__)
#define NMX_NO_SANITIZE __attribute__((no_sanitize("address", "thread", "undefined")))
#else
#define NMX_NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_thread, no_sanitize_undefined))
#endif

_Thread_local sigjmp_buf *nmx__t_probe __attribute__((tls_model("initial-exec")));

/* The handler blocked the signal while it ran; siglongjmp without a saved
 * mask does not unblock it, and a synchronous fault while blocked kills the
 * process. Only the failure path pays for this system call. */
static void unblock_faults(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGSEGV);
    sigaddset(&s, SIGBUS);
    pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

/* A word that may alias anything (the buffers are the expert's bytes). */
typedef uint64_t __attribute__((may_alias)) nmx_word;

/* Whole words while both sides are aligned (a frame descriptor out of
 * ExpertGetFrame: 8 words instead of 64 bytes), then bytes. */
static NMX_NO_SANITIZE __attribute__((noinline)) void copy_raw(volatile unsigned char *d,
                                                             const volatile unsigned char *s,
                                                             size_t n)
{
    size_t i = 0;
    if ((((uintptr_t)d | (uintptr_t)s) & (sizeof(nmx_word) - 1)) == 0)
        for (; i + sizeof(nmx_word) <= n; i += sizeof(nmx_word))
            *(volatile nmx_word *)(d + i) = *(const volatile nmx_word *)(s + i);
    for (; i < n; i++)
        d[i] = s[i];
}

/* Copies until NUL or cap - 1 bytes; d always ends with NUL. Returns the
 * length copied; *more = 1 if the source went on past cap - 1 bytes. */
static NMX_NO_SANITIZE __attribute__((noinline)) size_t copy_str_raw(volatile char *d,
                                                                   const volatile char *s,
                                                                   size_t cap, int *more)
{
    size_t i = 0;
    char c = 0;
    while (i + 1 < cap && (c = s[i]) != '\0')
        d[i++] = c;
    d[i] = '\0';
    *more = i + 1 == cap && s[i] != '\0';
    return i;
}

/* Copies n bytes under the thread's recovery point; -1 if a byte faulted. */
static int probe_copy(void *dst, const void *src, size_t n)
{
    nmx__trap_install();
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0) != 0) {
        nmx__t_probe = NULL;
        unblock_faults();
        return -1;
    }
    nmx__t_probe = &jb;
    copy_raw(dst, src, n);
    nmx__t_probe = NULL;
    return 0;
}

int nmx__user_read(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    return src ? probe_copy(dst, src, n) : -1;
}

int nmx__user_write(void *dst, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    return dst ? probe_copy(dst, src, n) : -1;
}

long nmx__user_read_str(char *dst, const char *src, size_t cap, int *more)
{
    *more = 0;
    if (cap == 0)
        return -1;
    dst[0] = '\0';
    if (!src)
        return -1;
    nmx__trap_install();
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0) != 0) {
        nmx__t_probe = NULL;
        unblock_faults();
        dst[0] = '\0';
        return -1;
    }
    nmx__t_probe = &jb;
    size_t n = copy_str_raw(dst, src, cap, more);
    nmx__t_probe = NULL;
    return (long)n;
}
