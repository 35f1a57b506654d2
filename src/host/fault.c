/* The fault trap (SPEC H5).
 *
 * One process-wide handler for SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT,
 * installed at the first trapped call (or mapped input) with SA_ONSTACK. On a thread inside
 * nmx__trap_call it records the signal and siglongjmps back to that call; on
 * any other thread it hands the signal to the handler that was installed
 * before ours, or, if that was the default, restores the default and raises
 * the signal again, so the process dies as it would have without us.
 *
 * Only synchronous signals are trapped: a fault the kernel raised on this
 * thread (si_code > 0), or abort() (SIGABRT sent by the thread's own process
 * with tgkill). A SIGSEGV or SIGABRT sent with kill() or pthread_kill() is a
 * request from outside to end the process, not a fault of the expert: it
 * takes its normal course even on an expert thread. (pthread_kill(SIGABRT)
 * from inside the process cannot be told from abort() and is trapped as one.)
 *
 * First, a SIGBUS in a mapped input file that another program cut short is
 * repaired (src/capture/inmap_guard.c): zero pages replace the lost ones and
 * the access resumes, on any thread; the capture reports the change (C6).
 * The capture installs this handler as soon as it maps an input.
 *
 * Before the trap, the handler offers SIGSEGV and SIGBUS to the thread's armed
 * probe (usermem.c): a host service copying expert-supplied memory turns a
 * fault there into an error code instead of the end of the run.
 *
 * Faults inside host functions hold no lock: every function an expert can
 * call checks its stack first (stack_guard.h), touches expert-supplied
 * memory only through usermem.c and outside locks, and the memory layer
 * releases whatever the thread held of its key (nmx__key_recover_thread).
 * What cannot be guaranteed, and why: unwinding skips the rest of the
 * expert's own code, so a lock the expert (or libc on its behalf: malloc,
 * stdio, abort's own lock) held at the fault stays held and a later call
 * that needs it deadlocks; resources the expert held outside its key (files,
 * malloc'd memory) leak. A wild write into the host's memory is beyond any
 * trap in one process: run such experts isolated (H11).
 */
#define _GNU_SOURCE
#include "capture/capture_internal.h"
#include "host/host_internal.h"
#include "mem/mem.h"
#include "stack_guard.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct trap {
    sigjmp_buf jb;
    volatile sig_atomic_t signo;
    void *volatile addr;
} trap;

static _Thread_local trap *t_trap __attribute__((tls_model("initial-exec")));

static const int g_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define NSIGS (sizeof g_sigs / sizeof g_sigs[0])
static struct sigaction g_prev[NSIGS];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* A fault of the thread itself, not a signal sent to it (see the top). */
static int synchronous(int sig, const siginfo_t *si)
{
    if (!si)
        return 0;
    if (si->si_code > 0)
        return 1;
    return sig == SIGABRT && si->si_code == SI_TKILL && si->si_pid == getpid();
}

static void handler(int sig, siginfo_t *si, void *uc)
{
    int sync = synchronous(sig, si);
    if (sync && sig == SIGBUS && nmx__inmap_repair(si->si_addr))
        return; /* a mapped input cut short: the access resumes and reads zeros */
    if (sync && (sig == SIGSEGV || sig == SIGBUS) && nmx__t_probe)
        siglongjmp(*nmx__t_probe, 1);
    trap *t = t_trap;
    if (t && sync) {
        t_trap = NULL;
        t->signo = sig;
        t->addr = si ? si->si_addr : NULL;
        siglongjmp(t->jb, 1);
    }
    for (size_t i = 0; i < NSIGS; i++) {
        if (g_sigs[i] != sig)
            continue;
        const struct sigaction *p = &g_prev[i];
        if ((p->sa_flags & SA_SIGINFO) && p->sa_sigaction) {
            p->sa_sigaction(sig, si, uc);
            return;
        }
        if (!(p->sa_flags & SA_SIGINFO) && p->sa_handler != SIG_DFL &&
            p->sa_handler != SIG_IGN) {
            p->sa_handler(sig);
            return;
        }
    }
    /* The default action: die of this signal, as without us. Returning from
     * a synchronous fault re-executes the instruction, which faults again. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NSIGS; i++)
        sigaction(g_sigs[i], &sa, &g_prev[i]);
}

int nmx__trap_thread_enter(nmx_altstack *ss)
{
    ss->size = 64 * 1024 + (size_t)SIGSTKSZ;
    ss->mem = mmap(NULL, ss->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ss->mem == MAP_FAILED) {
        ss->mem = NULL;
        return -1;
    }
    stack_t st = {.ss_sp = ss->mem, .ss_size = ss->size, .ss_flags = 0};
    (void)nmx__stack_guard_enter(); /* without it, only the check is lost */
    return sigaltstack(&st, NULL);
}

void nmx__trap_thread_leave(nmx_altstack *ss)
{
    nmx__stack_guard_leave();
    if (!ss->mem)
        return;
    stack_t st = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&st, NULL);
    munmap(ss->mem, ss->size);
    ss->mem = NULL;
}

void nmx__trap_install(void)
{
    pthread_once(&g_once, install);
}

int nmx__trap_call(void (*fn)(void *), void *arg, nmx_fault *f)
{
    nmx__trap_install();
    trap t;
    t.signo = 0;
    t.addr = NULL;
    if (sigsetjmp(t.jb, 1) == 0) {
        t_trap = &t;
        fn(arg);
        t_trap = NULL;
        f->signo = 0;
        f->addr = NULL;
        return 0;
    }
    t_trap = NULL;
    f->signo = t.signo;
    f->addr = t.addr;
    return f->signo;
}

typedef struct thread_call {
    void (*fn)(void *);
    void *arg;
    HEXPERTKEY key;
    nmx_fault f;
    int rc;
} thread_call;

static void *thread_main(void *p)
{
    thread_call *c = p;
    nmx_altstack ss;
    nmx__trap_thread_enter(&ss);
    c->rc = nmx__trap_call(c->fn, c->arg, &c->f);
    if (c->rc && c->key)
        nmx__key_recover_thread(c->key);
    nmx__trap_thread_leave(&ss);
    return NULL;
}

int nmx__trap_call_on_thread(void (*fn)(void *), void *arg, HEXPERTKEY key, nmx_fault *f)
{
    thread_call c = {fn, arg, key, {0, NULL}, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, &c) != 0)
        return -1;
    pthread_join(t, NULL);
    *f = c.f;
    return c.rc;
}
