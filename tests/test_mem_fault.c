/* Faults inside the expert heap (SPEC H5, M8, M12 as amended by issue 8): a
 * fault anywhere on an expert's thread, including inside an Expert* memory
 * function, ends that run only; nothing waits for a lock the faulting thread
 * held, and every later key works.
 *
 * The host's trap lives in src/host; these tests use one of their own of the
 * same shape: a thread with an alternate signal stack and the stack check
 * armed (nmx__stack_guard_enter), a SIGSEGV/SIGBUS handler that siglongjmps
 * back, then nmx__key_recover_thread, as src/host/fault.c does. What the
 * thread left behind is then probed from other threads with a time limit:
 * a call that does not come back is a lock left held, and ends the program.
 */
#define _GNU_SOURCE
#include "check.h"
#include "mem/mem.h"
#include "mem_util.h"
#include "stack_guard.h"

#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

/* ------------------------------------------------------------------------
 * The trap
 * ------------------------------------------------------------------------ */

typedef struct trapped {
    void (*fn)(void *);
    void *arg;
    int signo; /* 0: fn returned */
    int armed; /* the stack check was armed on the thread */
} trapped;

static _Thread_local sigjmp_buf *t_jb;
static pthread_once_t g_trap_once = PTHREAD_ONCE_INIT;

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)si, (void)uc;
    sigjmp_buf *jb = t_jb;
    if (!jb) {
        signal(sig, SIG_DFL); /* not one of ours: die of it */
        raise(sig);
        return;
    }
    t_jb = NULL;
    siglongjmp(*jb, sig);
}

static void trap_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

static void *trapped_main(void *p)
{
    trapped *c = p;
    size_t alt_size = 64 * KiB + (size_t)SIGSTKSZ;
    void *alt = mmap(NULL, alt_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = {.ss_sp = alt, .ss_size = alt_size, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    c->armed = nmx__stack_guard_enter() == 0;
    sigjmp_buf jb;
    int sig = sigsetjmp(jb, 1);
    if (sig == 0) {
        t_jb = &jb;
        c->fn(c->arg);
        t_jb = NULL;
    } else {
        nmx__key_recover_thread(NULL); /* as src/host/fault.c after the trap */
    }
    c->signo = sig;
    nmx__stack_guard_leave();
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    munmap(alt, alt_size);
    return NULL;
}

/* Runs fn(arg) on a thread of its own (stack of stack_kib) under the trap;
 * returns the signal that ended it, or 0. */
static int run_trapped(void (*fn)(void *), void *arg, size_t stack_kib)
{
    pthread_once(&g_trap_once, trap_install);
    trapped c = {fn, arg, 0, 0};
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, stack_kib * KiB);
    pthread_t t;
    int rc = pthread_create(&t, &attr, trapped_main, &c);
    pthread_attr_destroy(&attr);
    CHECK_EQ(rc, 0);
    if (rc == 0)
        pthread_join(t, NULL);
    CHECK(c.armed);
    return c.signo;
}

/* ------------------------------------------------------------------------
 * Probes with a time limit
 * ------------------------------------------------------------------------ */

typedef struct probe {
    void (*fn)(void *);
    void *arg;
    atomic_int done;
} probe;

static void *probe_main(void *p)
{
    probe *pr = p;
    pr->fn(pr->arg);
    atomic_store(&pr->done, 1);
    return NULL;
}

/* Runs fn(arg) on another thread and waits up to 10 s. A call that has not
 * returned by then waits for a lock nobody will give back: report it and
 * end the program (the stuck thread would hang every later test). */
static void must_finish(const char *what, void (*fn)(void *), void *arg)
{
    probe pr = {fn, arg, 0};
    pthread_t t;
    if (pthread_create(&t, NULL, probe_main, &pr) != 0) {
        CHECK(!"pthread_create");
        return;
    }
    for (int i = 0; i < 10000 && !atomic_load(&pr.done); i++)
        usleep(1000);
    if (!atomic_load(&pr.done)) {
        fprintf(stderr, "FAIL: %s did not return in 10 s: a lock was left held\n", what);
        fflush(NULL);
        _exit(1);
    }
    pthread_join(t, NULL);
}

static void destroy_key(void *p)
{
    CHECK_EQ(nmx_key_destroy(*(HEXPERTKEY *)p, NULL), NMERR_SUCCESS);
}

/* A new key that takes a fresh segment, a huge one, and small blocks. */
static void use_new_key(void *p)
{
    (void)p;
    HEXPERTKEY k = NULL;
    CHECK_EQ(nmx_key_create(NULL, &k), NMERR_SUCCESS);
    DWORD err;
    void *small = ExpertAllocMemory(k, 64, &err);
    void *large = ExpertAllocMemory(k, 200 * KiB, &err);
    void *huge = ExpertAllocMemory(k, 8 * MiB, &err);
    CHECK(small && large && huge);
    CHECK_EQ(ExpertFreeMemory(k, huge), NMERR_SUCCESS);
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
}

/* After a fault: the key it struck in can be destroyed from another thread,
 * and other keys work, each within the time limit. */
static void check_nothing_left_held(HEXPERTKEY k)
{
    must_finish("a new key on another thread", use_new_key, NULL);
    must_finish("nmx_key_destroy of the key the fault struck in", destroy_key, &k);
}

static HEXPERTKEY key_new(void)
{
    HEXPERTKEY k = NULL;
    CHECK_EQ(nmx_key_create(NULL, &k), NMERR_SUCCESS);
    return k;
}

/* ------------------------------------------------------------------------
 * Stack exhausted inside an Expert* call (issue 8, case 3)
 * ------------------------------------------------------------------------ */

typedef struct deep {
    HEXPERTKEY key, warm;
    uintptr_t lo;  /* the thread's lowest stack address */
    size_t left;   /* bytes of stack to leave before calling */
    int realloc;   /* ExpertReallocMemory(NULL, ...) rather than Alloc */
    int returned;
} deep;

static NOINLINE void call_at_the_bottom(deep *d)
{
    DWORD err;
    /* A fresh key's first block: the slow path, the key's mutex, a new
     * segment from the cache under the segment lock. */
    void *p = d->realloc ? ExpertReallocMemory(d->key, NULL, 64, &err)
                         : ExpertAllocMemory(d->key, 64, &err);
    d->returned = p != NULL;
}

static NOINLINE void descend(deep *d)
{
    volatile char pad[128];
    pad[0] = 1;
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    if (sp > d->lo + d->left + 1024) {
        descend(d);
    } else {
        /* The last step exactly: leave d->left bytes below this frame. */
        size_t drop = sp - d->lo > d->left + 64 ? sp - d->lo - d->left - 64 : 0;
        volatile char *gap = __builtin_alloca(drop + 1);
        gap[0] = 1;
        call_at_the_bottom(d);
    }
    pad[1] = pad[0];
}

static void deep_main(void *p)
{
    deep *d = p;
    pthread_attr_t attr;
    void *lo;
    size_t size;
    pthread_getattr_np(pthread_self(), &attr);
    pthread_attr_getstack(&attr, &lo, &size);
    pthread_attr_destroy(&attr);
    d->lo = (uintptr_t)lo;
    /* An expert thread has made calls before: its per-thread state exists,
     * so the deepest point of the call is the segment's, not that state's. */
    DWORD err;
    ExpertFreeMemory(d->warm, ExpertAllocMemory(d->warm, 64, &err));
    descend(d);
}

/* A key holding every segment the cache has: the next key's first segment
 * is mapped afresh, the deepest path under the segment cache's lock. */
static HEXPERTKEY take_cached_segments(void)
{
    nmx_heap_stats hs;
    nmx_heap_trim(); /* with the cache limit at 0: nothing resident to clear */
    nmx_heap_stats_get(&hs);
    HEXPERTKEY hog = key_new();
    DWORD err;
    for (uint64_t i = 0; i < hs.segments_cached + hs.segments_released; i++)
        CHECK(ExpertAllocMemory(hog, 59 * 64 * KiB, &err) != NULL); /* a segment's data */
    return hog;
}

/* H5 (issue 8 case 3): an expert thread with 32 bytes to 4 KiB of stack left
 * calls Alloc or Realloc on a fresh key, which needs the key's mutex and the
 * segment cache's lock. The call faults (the stack check, or the overflow
 * itself) before taking anything; afterwards other threads get segments and
 * the key is destroyed, without waiting. Without the check, some of these
 * depths overflow with the segment lock held, and the probes hang. */
TEST(test_h5_stack_exhausted_in_expert_call_leaves_no_lock_held)
{
    int faults = 0, runs = 0;
    nmx_heap_stats hs;
    nmx_heap_stats_get(&hs);
    nmx_heap_set_cache_limit(0);
    for (int realloc = 0; realloc < 2; realloc++) {
        for (size_t left = 32; left <= 4096; left += left < 1024 ? 8 : 64) {
            deep d = {.key = key_new(), .warm = key_new(), .left = left, .realloc = realloc};
            HEXPERTKEY hog = take_cached_segments();
            int sig = run_trapped(deep_main, &d, 256);
            must_finish("nmx_key_destroy of a key holding segments", destroy_key, &hog);
            runs++;
            faults += sig == SIGSEGV;
            CHECK(sig == SIGSEGV || d.returned);
            check_nothing_left_held(d.key);
            must_finish("nmx_key_destroy of the thread's other key", destroy_key, &d.warm);
        }
    }
    nmx_heap_set_cache_limit(hs.cache_limit_bytes);
    /* Every depth is below the 64 KiB the check wants: all of them fault. */
    CHECK_EQ(faults, runs);
}

/* ------------------------------------------------------------------------
 * Faults while a key is held: memory the expert protected
 * ------------------------------------------------------------------------ */

typedef struct prot {
    HEXPERTKEY key;
    char *block;   /* a freed block of the key, its 4 KiB page made read-only */
    size_t size;
    int op;        /* 0 alloc (reuse: zeroing), 1 realloc from a PROT_NONE block */
} prot;

static void prot_main(void *p)
{
    prot *pr = p;
    DWORD err;
    if (pr->op == 0)
        (void)ExpertAllocMemory(pr->key, pr->size, &err); /* zeroes the freed block */
    else
        (void)ExpertReallocMemory(pr->key, pr->block, 64 * KiB, &err); /* copies it */
}

static void own_key(void *p)
{
    DWORD err;
    HEXPERTKEY k = *(HEXPERTKEY *)p;
    ExpertFreeMemory(k, ExpertAllocMemory(k, 16, &err));
}

/* One case on a thread that does not own the key (this one does): its call
 * takes the key's mutex. */
static void fault_under_mutex(size_t size, int op)
{
    HEXPERTKEY k = key_new();
    own_key(&k);
    DWORD err;
    char *b = ExpertAllocMemory(k, size, &err);
    CHECK(b != NULL && ((uintptr_t)b & 4095) == 0);
    memset(b, 0x5A, size);
    if (op == 0)
        CHECK_EQ(ExpertFreeMemory(k, b), NMERR_SUCCESS);
    CHECK_EQ(mprotect(b, 4096, op == 0 ? PROT_READ : PROT_NONE), 0);
    prot pr = {k, b, size, op};
    CHECK_EQ(run_trapped(prot_main, &pr, 256), SIGSEGV);
    mprotect(b, 4096, PROT_READ | PROT_WRITE);
    check_nothing_left_held(k);
}

/* The same, with the key made and owned by the trapped thread itself. */
typedef struct owned {
    size_t size;
    int op;
    HEXPERTKEY key;
    char *block;
} owned;

static void owned_main(void *p)
{
    owned *o = p;
    DWORD err;
    char *b = ExpertAllocMemory(o->key, o->size, &err); /* first call: owner */
    b = ExpertAllocMemory(o->key, o->size, &err);        /* owner's path */
    o->block = b;
    memset(b, 0x5A, o->size);
    if (o->op == 0)
        ExpertFreeMemory(o->key, b);
    mprotect((void *)((uintptr_t)b & ~(uintptr_t)4095), 4096, o->op == 0 ? PROT_READ : PROT_NONE);
    if (o->op == 0)
        (void)ExpertAllocMemory(o->key, o->size, &err);
    else
        (void)ExpertReallocMemory(o->key, b, 64 * KiB, &err);
}

/* H5, M12: a fault inside an Expert* call (zeroing a block the expert made
 * read-only, copying one it made PROT_NONE) on the owner's path or under the
 * key's mutex is undone by nmx__key_recover_thread: the key is destroyed from
 * another thread and other keys work. Sizes: 1 KiB (the inline owner's path)
 * and 4 KiB (the general path). */
TEST(test_h5_fault_inside_expert_call_releases_the_key)
{
    static const size_t sizes[] = {1024, 4096};
    for (size_t i = 0; i < 2; i++) {
        for (int op = 0; op < 2; op++) {
            fault_under_mutex(sizes[i], op);
            owned o = {sizes[i], op, key_new(), NULL};
            int sig = run_trapped(owned_main, &o, 256);
            CHECK_EQ(sig, SIGSEGV);
            if (o.block)
                mprotect((void *)((uintptr_t)o.block & ~(uintptr_t)4095), 4096,
                         PROT_READ | PROT_WRITE);
            check_nothing_left_held(o.key);
        }
    }
}

/* ------------------------------------------------------------------------
 * A fault while a service hold is held
 * ------------------------------------------------------------------------ */

typedef struct held {
    HEXPERTKEY key;
    int owner;
    volatile char *bad; /* a PROT_NONE page */
} held;

static void hold_main(void *p)
{
    held *h = p;
    DWORD err;
    if (h->owner)
        ExpertFreeMemory(h->key, ExpertAllocMemory(h->key, 16, &err));
    nmx_key_hold kh;
    nmx__key_hold(h->key, &kh);
    (void)h->bad[0]; /* the host's service faults: reading what the expert gave it */
    nmx__key_unhold(&kh);
}

/* H5: a fault during a service hold (owner's or foreign) is released by
 * nmx__key_recover_thread. */
TEST(test_h5_fault_while_holding_releases_the_hold)
{
    volatile char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int owner = 0; owner < 2; owner++) {
        held h = {key_new(), owner, bad};
        if (!owner)
            own_key(&h.key);
        CHECK_EQ(run_trapped(hold_main, &h, 256), SIGSEGV);
        check_nothing_left_held(h.key);
    }
    munmap((void *)bad, 4096);
}

/* ------------------------------------------------------------------------
 * Blocks the expert protected or unmapped, then the next key (issue 8 case 5)
 * ------------------------------------------------------------------------ */

#define SEG_DATA ((size_t)59 * 64 * KiB) /* a whole segment's data: one block */

/* The next key, on this (the child's main) thread, takes every cached
 * segment and every huge one of `huge` bytes it can get, and each block must
 * read as zero and take writes everywhere. A protected page would kill it
 * while the heap zeroes it or while this checks it. */
static int next_key_takes_everything(size_t huge, int tries)
{
    int before = check_failures_;
    nmx_heap_stats hs;
    nmx_heap_stats_get(&hs);
    HEXPERTKEY k = key_new();
    DWORD err;
    for (uint64_t i = 0; i < hs.segments_cached + hs.segments_released; i++) {
        char *p = ExpertAllocMemory(k, SEG_DATA, &err);
        CHECK(p != NULL);
        if (!p)
            break;
        CHECK(mu_first_nonzero(p, SEG_DATA) == MU_NONE);
        memset(p, 0xAB, SEG_DATA);
    }
    for (int i = 0; i < tries; i++) {
        char *p = ExpertAllocMemory(k, huge, &err);
        CHECK(p != NULL);
        if (!p)
            break;
        CHECK(mu_first_nonzero(p, huge) == MU_NONE);
        memset(p, 0xAB, huge);
    }
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
    return check_failures_ != before;
}

typedef struct spoiled {
    int trim;   /* the released segments' pages go back to the OS first */
    int huge;   /* a huge block rather than blocks inside segments */
    int unmap;  /* munmap rather than mprotect */
} spoiled;

static int spoil_then_reuse(void *p)
{
    const spoiled *sp = p;
    if (sp->trim)
        nmx_heap_set_cache_limit(0);
    HEXPERTKEY a = key_new();
    DWORD err;
    if (sp->huge) {
        char *h = ExpertAllocMemory(a, 8 * MiB, &err);
        memset(h, 0x11, 8 * MiB);
        if (sp->unmap) {
            munmap(h + 2 * MiB, MiB);
        } else {
            mprotect(h + MiB, MiB, PROT_NONE);
            mprotect(h + 4 * MiB, MiB, PROT_READ);
        }
        CHECK_EQ(ExpertFreeMemory(a, h), NMERR_SUCCESS); /* the segment is released now */
    } else {
        char *ro = ExpertAllocMemory(a, 4096, &err);   /* 4 KiB aligned */
        char *none = ExpertAllocMemory(a, 1024, &err); /* in another page of its own class */
        char *big = ExpertAllocMemory(a, 256 * KiB, &err); /* whole 64 KiB pages */
        memset(ro, 0x11, 4096);
        memset(none, 0x11, 1024);
        memset(big, 0x11, 256 * KiB);
        if (sp->unmap) {
            munmap(big + 64 * KiB, 128 * KiB);
            munmap((void *)((uintptr_t)none & ~(uintptr_t)4095), 4096);
        } else {
            mprotect(ro, 4096, PROT_READ);
            mprotect((void *)((uintptr_t)none & ~(uintptr_t)4095), 4096, PROT_NONE);
            mprotect(big + 64 * KiB, 64 * KiB, PROT_READ);
        }
    }
    CHECK_EQ(nmx_key_destroy(a, NULL), NMERR_SUCCESS);
    if (sp->trim)
        nmx_heap_trim();
    return next_key_takes_everything(8 * MiB, sp->huge ? 4 : 0) || check_failures_;
}

/* M13, H5 (issue 8 case 5): an expert that makes its blocks read-only or
 * PROT_NONE, or unmaps them, and whose key is then destroyed (or whose huge
 * block is freed) leaves nothing behind: the next key, on the main thread,
 * gets that memory zero-filled and writable, whether the segment stayed
 * resident or went back to the OS in between. (Before: the process died
 * zeroing it.) Each case runs in a child process, so a crash is a failure. */
TEST(test_m13_memory_an_expert_protected_or_unmapped_is_whole_for_the_next_key)
{
    for (int huge = 0; huge < 2; huge++)
        for (int unmap = 0; unmap < 2; unmap++)
            for (int trim = 0; trim < 2; trim++) {
                spoiled sp = {trim, huge, unmap};
                char what[96];
                snprintf(what, sizeof what, "%s block %s, %s", huge ? "huge" : "segment",
                         unmap ? "unmapped" : "protected", trim ? "trimmed" : "resident");
                CHECK(mu_in_child(what, spoil_then_reuse, &sp, 60));
            }
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* First: its children take every segment the heap has released, and the
     * other tests leave hundreds of them (minutes of page faults under load). */
    RUN(test_m13_memory_an_expert_protected_or_unmapped_is_whole_for_the_next_key);
    RUN(test_h5_stack_exhausted_in_expert_call_leaves_no_lock_held);
    RUN(test_h5_fault_inside_expert_call_releases_the_key);
    RUN(test_h5_fault_while_holding_releases_the_hold);
    return CHECK_DONE();
}
