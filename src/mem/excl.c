/* Exclusion: each key's heap is changed by one thread at a time (M10, M12).
 *
 * The key's owner thread (the first thread whose call on the key took the
 * slow path, in practice the expert's own thread) enters without any atomic
 * read-modify-write: it stores the key in its own per-thread `in` word, then
 * reads the key's state word (key.h) and goes on only if it holds exactly the
 * handle's generation with no flag set. Any other thread takes the key's
 * mutex, sets WANT in the state word, forces a barrier on the owner, and
 * waits until the owner's `in` (and `held`) word no longer names the key.
 * Either the owner sees WANT and takes the mutex too, or the other thread sees
 * it inside and waits: a Dekker handshake, whose two halves need a full
 * barrier between their store and their load. How the barrier is had is the
 * process's mode:
 *
 *   membarrier  the foreign thread calls membarrier(PRIVATE_EXPEDITED), which
 *               runs a full barrier on every running thread of the process,
 *               so the owner's path needs none (the technique of userspace
 *               RCU). Owner calls cost no fence; a foreign call a system call.
 *   fence       both sides use a seq_cst fence (the owner's path, out of line,
 *               when its key's state carries FENCE). Under ThreadSanitizer
 *               this is the mode, so the real protocol is race-checked; also
 *               where membarrier is missing, or where a failure of it could
 *               not be recovered from (see below).
 *   locked      no owners: every call takes the mutex (NMEXPERT_NO_FASTPATH=1).
 *
 * membarrier failing at run time (a seccomp filter installed after the first
 * key) is never ignored: the thread whose barrier failed sets FENCE in every
 * key's state (owners entering from then on fence themselves), then forces
 * the stores of owners that entered before onto the bus with a TLB-shootdown
 * flush (nmx__os_flush_stores), and only then publishes fence mode, so a
 * foreign thread that sees fence mode never meets an owner that entered
 * without a fence and is still unseen.
 *
 * Faults (H5). A fault on a thread inside a key (a memset into a block the
 * expert made read-only, say) unwinds it through src/host's trap, which calls
 * nmx__key_recover_thread. It must release exactly what the thread held,
 * wherever the fault struck, so every lock is recorded in the thread's TLS
 * before it is taken, and the mutexes are error-checking: recovery locks the
 * recorded mutex, which returns EDEADLK at once if the thread held it, or
 * waits for the live thread that holds it; either way it then holds it,
 * clears WANT (set only by a holder) and unlocks. No fault can strike under
 * the segment cache's lock: nothing under it touches memory an expert can
 * write or protect, and every Expert* function checks the stack on entry
 * (stack_guard.h), so nothing below it overflows.
 */
#define _GNU_SOURCE
#include "mem/key.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

enum { MODE_LOCKED, MODE_FENCE, MODE_MEMBARRIER };

static _Atomic int g_mode;
static int g_fence_bits;    /* FENCE is set in every key's state; under the table lock */
static pthread_mutexattr_t g_lock_attr;

_Thread_local nmx_tls nmx__t __attribute__((tls_model("initial-exec"))) = {
    .k = &nmx__no_key, .st = &nmx__no_state};
nmx_key nmx__no_key = {.state = NMX_ST_TERM}; /* never equal to a handle's generation */
nmx_tstate nmx__no_state;

/* The table lock of key.c guards the states' lists too. */
extern pthread_mutex_t nmx__keys_lock;
static pthread_key_t g_tstate_key;
static int g_tstate_key_made;
static nmx_tstate *g_tstate_free, *g_tstate_all;

void nmx__excl_init(void)
{
    pthread_mutexattr_init(&g_lock_attr);
    pthread_mutexattr_settype(&g_lock_attr, PTHREAD_MUTEX_ERRORCHECK);
    int mode;
    if (getenv("NMEXPERT_NO_FASTPATH"))
        mode = MODE_LOCKED;
#ifdef NMX_TSAN
    else
        mode = MODE_FENCE; /* TSan cannot see membarrier's barrier; it sees fences */
#else
    else
        mode = nmx__os_membarrier_init() ? MODE_MEMBARRIER : MODE_FENCE;
#endif
    g_fence_bits = mode == MODE_FENCE;
    atomic_store_explicit(&g_mode, mode, memory_order_release);
}

void nmx__excl_key_init(nmx_key *k)
{
    pthread_mutex_init(&k->lock, &g_lock_attr);
    atomic_store_explicit(&k->state, g_fence_bits ? NMX_ST_FENCE : 0, memory_order_relaxed);
}

/* ---- per-thread states ---- */

static void tstate_release(void *p)
{
    nmx_tstate *st = p;
    atomic_store_explicit(&st->in, NULL, memory_order_release);
    atomic_store_explicit(&st->held, NULL, memory_order_release);
    nmx__tls_own(NULL, &nmx__no_key);
    nmx__t.st = &nmx__no_state;
    pthread_mutex_lock(&nmx__keys_lock);
    st->next_free = g_tstate_free;
    g_tstate_free = st;
    pthread_mutex_unlock(&nmx__keys_lock);
}

/* The calling thread's state, made on its first slow-path call; NULL in
 * locked mode, or if memory is refused (the thread then never owns a key).
 * Takes the table lock: never called with a key's mutex held. */
static nmx_tstate *tstate_self(void)
{
    if (nmx__t.st != &nmx__no_state)
        return nmx__t.st;
    if (atomic_load_explicit(&g_mode, memory_order_relaxed) == MODE_LOCKED)
        return NULL;
    pthread_mutex_lock(&nmx__keys_lock);
    if (!g_tstate_key_made && pthread_key_create(&g_tstate_key, tstate_release) == 0)
        g_tstate_key_made = 1;
    if (!g_tstate_key_made) {
        pthread_mutex_unlock(&nmx__keys_lock);
        return NULL;
    }
    nmx_tstate *st = g_tstate_free;
    if (st)
        g_tstate_free = st->next_free;
    else if ((st = aligned_alloc(64, sizeof *st)) != NULL) {
        st->next_all = g_tstate_all;
        g_tstate_all = st;
    }
    pthread_mutex_unlock(&nmx__keys_lock);
    if (!st)
        return NULL;
    atomic_store_explicit(&st->in, NULL, memory_order_relaxed);
    atomic_store_explicit(&st->held, NULL, memory_order_relaxed);
    st->next_free = NULL;
    pthread_setspecific(g_tstate_key, st);
    return nmx__t.st = st;
}

/* ---- the barrier for owners ---- */

/* membarrier failed: go to fence mode without a window (see the top). */
static __attribute__((cold, noinline)) void to_fence_mode(void)
{
    pthread_mutex_lock(&nmx__keys_lock);
    if (!g_fence_bits) {
        g_fence_bits = 1;
        uint32_t n = atomic_load_explicit(&nmx__nslots, memory_order_relaxed);
        for (uint32_t i = 0; i < n; i++)
            atomic_fetch_or_explicit(&nmx__keys[i].state, NMX_ST_FENCE, memory_order_seq_cst);
    }
    pthread_mutex_unlock(&nmx__keys_lock);
    /* Every failing thread flushes after its own WANT, so none relies on a
     * flush that ran before it. */
    if (nmx__os_flush_stores() != 0) {
        /* No way left to force a barrier on other threads: store buffers
         * drain in nanoseconds, so wait far longer than that. A last
         * resort, not a proof; only reached if mmap or mprotect fail. */
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store_explicit(&g_mode, MODE_FENCE, memory_order_seq_cst);
}

/* After WANT is set: make every owner either see it or be seen inside. */
static void barrier_for_owners(void)
{
    if (atomic_load_explicit(&g_mode, memory_order_acquire) == MODE_MEMBARRIER) {
        if (nmx__os_membarrier() == 0)
            return;
        to_fence_mode();
    }
    atomic_thread_fence(memory_order_seq_cst);
}

const char *nmx__excl_mode_name(void)
{
    switch (atomic_load_explicit(&g_mode, memory_order_acquire)) {
    case MODE_MEMBARRIER: return "membarrier";
    case MODE_FENCE: return "fence";
    default: return "locked";
    }
}

int nmx__owner_enter_fenced(nmx_key *k, _Atomic(nmx_key *) *word, uint64_t exp, uint64_t s)
{
    if (s == (exp | NMX_ST_FENCE)) {
        atomic_thread_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&k->state, memory_order_acquire) == (exp | NMX_ST_FENCE))
            return 1;
    }
    atomic_store_explicit(word, NULL, memory_order_release);
    return 0;
}

/* ---- the mutex side ---- */

int nmx__excl_enter(nmx_key *k, uint64_t exp, nmx_key **rec)
{
    *rec = k; /* before the lock: recovery must find it wherever a fault strikes */
    if (pthread_mutex_lock(&k->lock) != 0) {
        *rec = NULL; /* EDEADLK: this thread holds it already (a nested call) */
        return 0;
    }
    if ((atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_GEN_MASK) != exp) {
        pthread_mutex_unlock(&k->lock);
        *rec = NULL;
        return 0;
    }
    k->busy = 1;
    nmx_tstate *o = atomic_load_explicit(&k->owner, memory_order_relaxed);
    if (o && o != nmx__t.st) {
        atomic_fetch_or_explicit(&k->state, NMX_ST_WANT, memory_order_seq_cst);
        barrier_for_owners();
        while (atomic_load_explicit(&o->in, memory_order_acquire) == k ||
               atomic_load_explicit(&o->held, memory_order_acquire) == k)
            sched_yield();
    }
    return 1;
}

void nmx__excl_leave(nmx_key *k, nmx_key **rec)
{
    if (atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_ST_WANT)
        atomic_fetch_and_explicit(&k->state, ~NMX_ST_WANT, memory_order_release);
    k->busy = 0;
    pthread_mutex_unlock(&k->lock);
    *rec = NULL;
}

static __attribute__((noinline)) int enter_slow(nmx_key *k, HEXPERTKEY hk, int hold)
{
    nmx_tstate *st = tstate_self();
    if (!nmx__excl_enter(k, nmx__key_exp(hk), hold ? &nmx__t.hold : &nmx__t.slow))
        return NMX_ENTER_BAD;
    nmx_tstate *o = atomic_load_explicit(&k->owner, memory_order_relaxed);
    if (st && !o)
        atomic_store_explicit(&k->owner, o = st, memory_order_release);
    if (st && o == st) {
        nmx__tls_own(hk, k);
    }
    return NMX_ENTER_SLOW;
}

int nmx__key_enter(HEXPERTKEY hk, nmx_key **kp, int hold)
{
    nmx_key *k = *kp = nmx__key_of(hk);
    if (__builtin_expect(!k, 0))
        return NMX_ENTER_BAD;
    nmx_tstate *st = nmx__t.st;
    if (atomic_load_explicit(&k->owner, memory_order_relaxed) == st &&
        nmx__owner_enter(k, hold ? &st->held : &st->in, nmx__key_exp(hk))) {
        nmx__tls_own(hk, k);
        return NMX_ENTER_FAST;
    }
    return enter_slow(k, hk, hold);
}

void nmx__key_leave(nmx_key *k, int mode, int hold)
{
    if (mode == NMX_ENTER_FAST)
        nmx__owner_leave(hold ? &nmx__t.st->held : &nmx__t.st->in);
    else
        nmx__excl_leave(k, hold ? &nmx__t.hold : &nmx__t.slow);
}

/* ---- after a fault ---- */

/* The thread recorded k's mutex: it holds it (EDEADLK) or was about to take
 * it (then it waits for the live thread that holds it). It holds it now. */
static void recover_lock(nmx_key *k, nmx_key **rec)
{
    int rc = pthread_mutex_lock(&k->lock);
    (void)rc; /* 0 or EDEADLK: held either way */
    nmx__excl_leave(k, rec);
}

void nmx__key_recover_thread(HEXPERTKEY hk)
{
    (void)hk; /* whatever key the thread was in, not only the run's */
    /* First the owner's words: a thread waiting for them may hold a mutex
     * recovery is about to take. */
    atomic_store_explicit(&nmx__t.st->in, NULL, memory_order_release);
    atomic_store_explicit(&nmx__t.st->held, NULL, memory_order_release);
    if (nmx__t.slow)
        recover_lock(nmx__t.slow, &nmx__t.slow);
    if (nmx__t.hold)
        recover_lock(nmx__t.hold, &nmx__t.hold);
}

/* ---- fork ---- */

/* In a fork's child (one thread, the table lock re-initialised): the threads
 * that vanished held nothing any more, but a key one of them was inside may
 * be half-changed; mark those busy (key.c abandons them), give every key's
 * mutex and WANT back, and free the vanished threads' states. */
void nmx__excl_fork_child(uint32_t nslots)
{
    nmx_tstate *self = nmx__t.st;
    g_tstate_free = NULL;
    for (nmx_tstate *st = g_tstate_all; st; st = st->next_all) {
        if (st == self)
            continue;
        nmx_key *in = atomic_load_explicit(&st->in, memory_order_relaxed);
        nmx_key *held = atomic_load_explicit(&st->held, memory_order_relaxed);
        if (in && in != &nmx__no_key)
            in->busy = 1;
        if (held && held != &nmx__no_key)
            held->busy = 1;
        atomic_store_explicit(&st->in, NULL, memory_order_relaxed);
        atomic_store_explicit(&st->held, NULL, memory_order_relaxed);
        st->next_free = g_tstate_free;
        g_tstate_free = st;
    }
    for (uint32_t i = 0; i < nslots; i++) {
        nmx_key *k = &nmx__keys[i];
        pthread_mutex_init(&k->lock, &g_lock_attr);
        atomic_fetch_and_explicit(&k->state, ~NMX_ST_WANT, memory_order_relaxed);
        if (atomic_load_explicit(&k->owner, memory_order_relaxed) != self)
            atomic_store_explicit(&k->owner, NULL, memory_order_relaxed);
    }
    nmx__t.slow = nmx__t.hold = NULL;
}
