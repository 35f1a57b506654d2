/* The confinement of a worker (issue 9, SPEC H11): resource limits and a
 * seccomp-bpf filter built with libseccomp.
 *
 * The filter allows what an expert needs and what the heap, glibc's threads
 * and the dynamic loader use: memory (mmap, mprotect, madvise, mremap,
 * membarrier ...), threads (clone with CLONE_THREAD, futex, rseq ...), time,
 * reading files (open and openat only without any write, create or truncate
 * flag), its descriptors (read, write, poll, close ...), signals to itself,
 * exit. Everything else is refused with SECCOMP_RET_TRAP: the kernel sends
 * SIGSYS with the call's number, which on_sigsys records in the run's page
 * before ending the process, so the host reports a failed run naming the call
 * (docs/WRITING-EXPERTS.md lists the policy). A few probes glibc makes on its
 * own fail quietly instead (ioctl: ENOTTY, clone3: ENOSYS so that glibc
 * falls back to clone, prctl other than the thread name: EINVAL).
 *
 * libseccomp takes about 0.4 ms to build a filter, which would be a fifth
 * of a run's start-up. So the server builds it once (policy_prepare), with a
 * placeholder where two rules need the worker's pid (kill and tgkill only to
 * itself), and each worker patches its pid into a copy of the program and
 * loads it with one prctl (docs/PERFORMANCE.md).
 */
#define _GNU_SOURCE
#include "worker/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MIB ((rlim_t)1 << 20)

static void set_limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    (void)setrlimit(res, &rl);
}

#ifndef NMX_SANITIZED
/* Address space mapped now, from /proc/self/statm (pages). */
static rlim_t mapped_now(void)
{
    unsigned long pages = 0;
    FILE *f = fopen("/proc/self/statm", "re");
    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
}

#endif

void policy_limits(const nmx_iso_page *pg)
{
    set_limit(RLIMIT_CORE, 0); /* a crashing worker leaves no core file */
    /* its own descriptors, and 64 more for the expert and the loader */
    set_limit(RLIMIT_NOFILE, (rlim_t)WORKER_CAPTURE_FD + pg->req.capture_fds + 64);
    if (pg->req.cpu_seconds)
        set_limit(RLIMIT_CPU, pg->req.cpu_seconds);
#ifndef NMX_SANITIZED
    /* A backstop for memory taken outside the key (malloc, mmap): the key's
     * quota is the real limit (M11), this only bounds the rest. Sanitizers
     * reserve terabytes of shadow, so their builds go without; and so does a
     * worker given the host's capture, whose spools it maps as they grow
     * (up to terabytes: no address-space bound would hold them and still
     * bound anything else). */
    if (pg->req.quota_bytes && !pg->req.capture_fds)
        set_limit(RLIMIT_AS, mapped_now() + 1024 * MIB + 2 * (rlim_t)pg->req.quota_bytes);
#endif
}

static nmx_iso_page *g_page;
static void (*g_last_words)(void);

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    /* The refused call never ran: the thread holds what it held before the
     * call, which is no lock of the statistics (docs/ARCHITECTURE.md). */
    if (g_last_words)
        g_last_words();
    atomic_store_explicit(&g_page->policy_syscall, si->si_syscall, memory_order_release);
    syscall(SYS_exit_group, 128 + SIGSYS);
}

typedef struct rule {
    int nr;
    uint32_t action;
} rule;

/* System calls allowed whatever their arguments. */
static const int g_allowed[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(preadv), SCMP_SYS(preadv2), SCMP_SYS(fadvise64), SCMP_SYS(readahead),
    SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(stat),
    SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(fstatfs), SCMP_SYS(statfs), SCMP_SYS(getdents64),
    SCMP_SYS(readlink), SCMP_SYS(readlinkat), SCMP_SYS(access), SCMP_SYS(faccessat),
    SCMP_SYS(faccessat2), SCMP_SYS(getcwd), SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup3),
    SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(pselect6),
    SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise), SCMP_SYS(mremap),
    SCMP_SYS(brk), SCMP_SYS(membarrier), SCMP_SYS(mincore),
    SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list), SCMP_SYS(rseq),
    SCMP_SYS(set_tid_address), SCMP_SYS(exit), SCMP_SYS(exit_group), SCMP_SYS(restart_syscall),
    SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(rt_sigsuspend), SCMP_SYS(pause),
    SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid),
    SCMP_SYS(getgid), SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid),
    SCMP_SYS(getrusage), SCMP_SYS(times), SCMP_SYS(getrlimit),
    SCMP_SYS(sched_yield), SCMP_SYS(sched_getaffinity), SCMP_SYS(sched_getparam),
    SCMP_SYS(sched_getscheduler), SCMP_SYS(sched_get_priority_max),
    SCMP_SYS(sched_get_priority_min), SCMP_SYS(getcpu),
    SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(clock_gettime),
    SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
    SCMP_SYS(getrandom), SCMP_SYS(uname), SCMP_SYS(sysinfo),
};

/* Calls that fail quietly: probes glibc makes on its own. */
static const rule g_quiet[] = {
    {SCMP_SYS(ioctl), SCMP_ACT_ERRNO(ENOTTY)},   /* isatty() of stdio */
    {SCMP_SYS(clone3), SCMP_ACT_ERRNO(ENOSYS)},  /* glibc then uses clone, checked below */
};

/* Flags that open a file for anything but reading. O_TMPFILE is its own bit
 * and O_DIRECTORY; only its own bit is refused here, so that a folder can
 * still be opened for listing (glibc's __O_TMPFILE includes O_DIRECTORY). */
#define WRITE_FLAGS \
    ((scmp_datum_t)(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | (__O_TMPFILE & ~O_DIRECTORY)))

/* Argument i compared with op: for SCMP_CMP_MASKED_EQ, (arg & a) == b;
 * otherwise arg op a. (libseccomp's SCMP_A* macros leave datum_b to the
 * compiler, which clang's -Wmissing-field-initializers refuses.) */
static struct scmp_arg_cmp arg(unsigned i, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
    struct scmp_arg_cmp c = {i, op, a, b};
    return c;
}

/* Stands for the worker's pid in the prepared program: above any pid
 * (pid_max is at most 2^22), so no other constant of the filter equals it. */
#define PID_PLACEHOLDER 0x7ffffff0u

static int add_rules(scmp_filter_ctx ctx, scmp_datum_t self)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof g_allowed / sizeof g_allowed[0]; i++)
        rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, g_allowed[i], 0);
    for (size_t i = 0; i < sizeof g_quiet / sizeof g_quiet[0]; i++)
        rc |= seccomp_rule_add(ctx, g_quiet[i].action, g_quiet[i].nr, 0);
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                           arg(2, SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                           arg(1, SCMP_CMP_MASKED_EQ, WRITE_FLAGS, 0));
    /* threads, not processes */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                           arg(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    /* SIGSYS stays ours, so a refused call is always reported */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigaction), 1,
                           arg(0, SCMP_CMP_NE, SIGSYS, 0));
    /* signals to itself only (raise, abort, pthread_kill) */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, arg(0, SCMP_CMP_EQ, self, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, arg(0, SCMP_CMP_EQ, self, 0));
    /* reading limits, never setting them */
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, arg(2, SCMP_CMP_EQ, 0, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                           arg(0, SCMP_CMP_EQ, PR_SET_NAME, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1,
                           arg(0, SCMP_CMP_EQ, PR_GET_NAME, 0));
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EINVAL), SCMP_SYS(prctl), 1,
                           arg(0, SCMP_CMP_NE, PR_SET_NAME, 0));
    return rc;
}

static struct sock_filter *g_prog; /* the prepared program */
static size_t g_len;

void policy_prepare(void)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    int fd = memfd_create("nmexpert-policy", MFD_CLOEXEC);
    off_t size = -1;
    if (ctx && fd >= 0 && add_rules(ctx, PID_PLACEHOLDER) == 0 &&
        seccomp_export_bpf(ctx, fd) == 0)
        size = lseek(fd, 0, SEEK_END);
    if (size > 0 && size % (off_t)sizeof(struct sock_filter) == 0 &&
        (g_prog = malloc((size_t)size)) != NULL) {
        if (pread(fd, g_prog, (size_t)size, 0) == size) {
            g_len = (size_t)size / sizeof(struct sock_filter);
        } else {
            free(g_prog);
            g_prog = NULL;
        }
    }
    if (fd >= 0)
        close(fd);
    if (ctx)
        seccomp_release(ctx);
}

/* Loads the prepared program with this process's pid; -1 if there is none
 * or no placeholder is in it. libseccomp shares the comparison of the two
 * rules (kill and tgkill test the same argument against the same value), so
 * the program holds it once, not twice: every occurrence is patched. */
static int load_prepared(void)
{
    if (!g_prog)
        return -1;
    uint32_t self = (uint32_t)getpid();
    int patched = 0;
    for (size_t i = 0; i < g_len; i++)
        if (BPF_CLASS(g_prog[i].code) == BPF_JMP && BPF_SRC(g_prog[i].code) == BPF_K &&
            g_prog[i].k == PID_PLACEHOLDER) {
            g_prog[i].k = self;
            patched++;
        }
    struct sock_fprog prog = {(unsigned short)g_len, g_prog};
    if (!patched || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : -1;
}

int policy_confine(nmx_iso_page *pg, void (*last_words)(void))
{
    g_page = pg;
    g_last_words = last_words;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0)
        return -1;
    if (load_prepared() == 0)
        return 0;
    /* No prepared program: build one for this process. */
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
    if (!ctx)
        return -1;
    /* no_new_privs: libseccomp's default, required to load without
     * CAP_SYS_ADMIN, and it keeps a set-uid program from gaining anything. */
    int rc = add_rules(ctx, (scmp_datum_t)getpid()) == 0 && seccomp_load(ctx) == 0 ? 0 : -1;
    seccomp_release(ctx);
    return rc;
}
