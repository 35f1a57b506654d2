/* Keys inside src/mem: the key table's entries, their state word, and the
 * owner's side of the exclusion protocol, inline because every Expert* call
 * runs it. Shared by key.c (the key table, the host's key API), excl.c (the
 * exclusion protocol's slow side, recovery after a fault, fork) and expert.c
 * (the Expert* memory functions). Nothing here is public.
 *
 * A handle (HEXPERTKEY) is {generation, slot} packed into the pointer value:
 *     bits 63..21 generation, bits 20..1 slot, bit 0 set.
 * A key's state word is one 64-bit atomic:
 *     bits 63..21 the generation of the live key (as in its handle)
 *     bit 2 FENCE: the process is in fence mode (see excl.c)
 *     bit 1 WANT: a thread other than the owner holds the key's mutex
 *     bit 0 TERM: the key was told to terminate (H4)
 * so the owner's path checks the generation, terminate, a waiting foreign
 * thread and the barrier mode with one comparison: state == handle & GEN_MASK.
 */
#ifndef NMX_KEY_H
#define NMX_KEY_H

#include "mem/heap_inline.h"

#if defined(__SANITIZE_THREAD__)
#define NMX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NMX_TSAN 1
#endif
#endif

#define NMX_SLOT_BITS 20
#define NMX_MAX_SLOTS (1u << 18) /* keys alive at once */
#define NMX_GEN_SHIFT (NMX_SLOT_BITS + 1)
#define NMX_GEN_ONE ((uint64_t)1 << NMX_GEN_SHIFT)
#define NMX_GEN_MASK (~(NMX_GEN_ONE - 1))
#define NMX_ST_TERM ((uint64_t)1)
#define NMX_ST_WANT ((uint64_t)2)
#define NMX_ST_FENCE ((uint64_t)4)

/* The statistics (M14), hot ones first: they share the state word's line.
 * live_blocks is not kept: every block is counted once in allocs and once in
 * frees, so it is allocs - frees (key.c, copy_stats). */
#define NMX_STAT_FIELDS(X)                                                     \
    X(live_bytes) X(peak_bytes) X(allocs) X(reallocs) X(frees)                 \
    X(failed_oom) X(failed_quota) X(failed_terminate) X(bad_double_free)       \
    X(bad_foreign) X(bad_wrong_owner) X(bad_interior) X(bad_key)

typedef struct nmx_counters {
#define X(f) _Atomic uint64_t f;
    NMX_STAT_FIELDS(X)
#undef X
} nmx_counters;

struct nmx_tstate;

typedef struct nmx_key {
    /* The first line is what an owner's call reads and writes: the state
     * word, the quota, the counters. Keys are cache-line aligned, so the
     * owners of neighbouring keys never share a line (W5). */
    _Alignas(64) _Atomic uint64_t state;
    uint64_t limit; /* the quota in bytes, or UINT64_MAX without one */
    nmx_counters st;
    nmx_heap heap;
    _Atomic(struct nmx_tstate *) owner; /* set once per generation, under the mutex */
    pthread_mutex_t lock;               /* error-checking (excl.c) */
    int busy;                           /* the mutex is held (under it): for a fork's child */
    uint32_t slot;
    uint32_t next_free; /* free-slot list, under the table's lock; +1, 0 = end */
    int live;           /* under the table's lock */
    size_t quota;
    _Atomic(void *) ctx; /* the host's object for this key (src/host: its run) */
    char name[64];
} nmx_key;

/* A thread's state: which key it is inside on the owner's path, for a memory
 * call (`in`) and for a service hold (`held`). Never freed: a key's owner may
 * name the state of a thread that has exited (the state is then reused by a
 * new thread, which inherits that ownership harmlessly). */
typedef struct nmx_tstate {
    _Alignas(64) _Atomic(nmx_key *) in;
    _Atomic(nmx_key *) held;
    struct nmx_tstate *next_free; /* under the table's lock */
    struct nmx_tstate *next_all;  /* every state made, for a fork's child */
} nmx_tstate;

/* The calling thread's view (initial-exec TLS: one instruction to read).
 * h/k/exp cache the last key this thread entered as its owner, so its next call
 * with the same handle skips the slot decode and the owner check; `slow` and
 * `hold` record a key whose mutex the thread is taking or holds, written
 * before the lock is taken, for nmx__key_recover_thread. */
typedef struct nmx_tls {
    uintptr_t h;          /* that handle, or 0 */
    nmx_key *k;           /* its key; nmx__no_key while h is 0 */
    nmx_tstate *st;       /* this thread's state; nmx__no_state until it has one */
    uint64_t exp;         /* nmx__key_exp(h): what k's state word holds while free */
    nmx_key *slow, *hold; /* recorded before locking (excl.c) */
} nmx_tls;

extern _Thread_local nmx_tls nmx__t __attribute__((tls_model("initial-exec")));
extern nmx_key nmx__no_key;       /* its state never matches a handle */
extern nmx_tstate nmx__no_state;

/* ---- the key table (key.c) ---- */
extern nmx_key *nmx__keys;
extern _Atomic uint32_t nmx__nslots;

/* The key a handle names, or NULL. Reads only the never-freed slot table;
 * whether the handle is current is for its caller to check (the state word). */
static inline nmx_key *nmx__key_of(HEXPERTKEY h)
{
    uintptr_t v = (uintptr_t)h;
    uint32_t slot = (uint32_t)((v >> 1) & ((1u << NMX_SLOT_BITS) - 1));
    if (!(v & 1u) || slot >= atomic_load_explicit(&nmx__nslots, memory_order_acquire))
        return NULL;
    return &nmx__keys[slot];
}

/* What the state word of the key a handle names holds while it is current,
 * live, not terminated and free for its owner. */
static inline uint64_t nmx__key_exp(HEXPERTKEY h)
{
    return (uint64_t)(uintptr_t)h & NMX_GEN_MASK;
}

/* Caches k, named by hk, as the key this thread owns (see nmx_tls). */
static inline void nmx__tls_own(HEXPERTKEY hk, nmx_key *k)
{
    nmx__t.h = (uintptr_t)hk;
    nmx__t.k = k;
    nmx__t.exp = nmx__key_exp(hk);
}

/* ---- counters: one writer (the thread holding the key), any reader ---- */

/* Stored with release (a plain store on x86), so that a reader sees allocs
 * and frees in the order they were counted (key.c, copy_stats). */
static inline void nmx__ctr_add(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_release);
}

static inline void nmx__ctr_sub(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - d,
                          memory_order_relaxed);
}

static inline uint64_t nmx__ctr(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

uint64_t nmx__bad_key_calls(void); /* expert.c: calls with a bad key (M9) */

/* ---- exclusion (excl.c) ---- */

enum { NMX_ENTER_BAD = 0, NMX_ENTER_FAST, NMX_ENTER_SLOW };

int nmx__owner_enter_fenced(nmx_key *k, _Atomic(nmx_key *) *word, uint64_t exp, uint64_t s);

/* The owner's entry: publish "inside k" in the thread's own word, then read
 * the key's state; no atomic read-modify-write. In membarrier mode a foreign
 * thread's membarrier orders the two; in fence mode (ST_FENCE set) the out-of-
 * line part adds a full fence and reads again. Returns 1 inside, else 0 with
 * nothing published. nmx__owner_publish is its first half, for callers that
 * keep the out-of-line part off their fast path: inside if it returns exp,
 * else nmx__owner_enter_fenced(k, word, exp, that value) decides. */
static inline __attribute__((always_inline)) uint64_t nmx__owner_publish(nmx_key *k,
                                                                         _Atomic(nmx_key *) *word)
{
    atomic_store_explicit(word, k, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* the membarrier's partner */
    return atomic_load_explicit(&k->state, memory_order_acquire);
}

static inline __attribute__((always_inline)) int nmx__owner_enter(nmx_key *k,
                                                                  _Atomic(nmx_key *) *word,
                                                                  uint64_t exp)
{
    uint64_t s = nmx__owner_publish(k, word);
    if (__builtin_expect(s == exp, 1))
        return 1;
    return nmx__owner_enter_fenced(k, word, exp, s);
}

static inline __attribute__((always_inline)) void nmx__owner_leave(_Atomic(nmx_key *) *word)
{
    atomic_store_explicit(word, NULL, memory_order_release);
}

/* Enters the key a handle names, on the owner's path if this thread owns it,
 * else through its mutex (the first thread to do so becomes its owner).
 * `hold`: a service hold (the `held` word, the `hold` record) rather than a
 * memory call. Returns NMX_ENTER_FAST or _SLOW with *kp entered, or
 * NMX_ENTER_BAD (holding nothing) for a NULL, forged or destroyed key. */
int nmx__key_enter(HEXPERTKEY hk, nmx_key **kp, int hold);
void nmx__key_leave(nmx_key *k, int mode, int hold);

/* Takes the key's mutex as any thread (recorded in *rec first) and waits out
 * its owner's fast path. 0, holding nothing, if exp is no longer current. */
int nmx__excl_enter(nmx_key *k, uint64_t exp, nmx_key **rec);
void nmx__excl_leave(nmx_key *k, nmx_key **rec);

void nmx__excl_init(void);                 /* once, before the first key */
void nmx__excl_key_init(nmx_key *k);       /* a new slot; table lock held */
void nmx__excl_fork_child(uint32_t nslots); /* marks keys a vanished thread was in */

#endif
