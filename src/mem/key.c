/* Keys and the Expert* memory entry points.
 *
 * A key handle is {slot, generation} packed into the HEXPERTKEY value; the
 * slot table is never freed, so a stale or forged handle costs one bounds
 * check and one comparison, and never a dereference of freed memory (M9, M12).
 *
 * Exclusion (M10, M12). Each key's heap is changed by one thread at a time.
 * The key's owner thread (the first thread whose call on the key took the
 * slow path, in practice the expert's own thread) enters without any atomic
 * read-modify-write: it stores the key in its own per-thread `in` word, then
 * reads the key's `want`. Any other thread raises `want`, forces a barrier on
 * every thread of the process with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED),
 * takes the key's mutex and waits until the owner's `in` word no longer names
 * the key. The membarrier turns the owner's plain store/load pair into a full
 * Dekker handshake (the scheme userspace RCU uses), so either the owner sees
 * `want` and takes the mutex too, or the other thread sees it inside and
 * waits. Owner calls cost no fence; the rare foreign call costs a system call.
 *
 * The `in` word is the thread's, not the key's: a thread that still believes
 * it owns a key that was destroyed (and whose slot may already serve a new
 * key with a new owner) writes only its own word, which nobody consults for
 * the new key. Per-thread states are never freed (a key's `owner` may point
 * at one after its thread exited); an exited thread's state is reused by the
 * next new thread, which thereby inherits the dead thread's keys harmlessly.
 *
 * Without membarrier, and under ThreadSanitizer (which cannot see that
 * barrier), every call takes the mutex.
 */
#define _GNU_SOURCE
#include "mem/heap_inline.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define NMX_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NMX_TSAN 1
#endif
#endif

#define STAT_FIELDS(X)                                                         \
    X(live_bytes) X(live_blocks) X(peak_bytes) X(allocs) X(reallocs) X(frees)  \
    X(failed_oom) X(failed_quota) X(failed_terminate) X(bad_double_free)       \
    X(bad_foreign) X(bad_wrong_owner) X(bad_interior) X(bad_key)

typedef struct counters {
#define X(f) _Atomic uint64_t f;
    STAT_FIELDS(X)
#undef X
} counters;

struct tstate;

typedef struct nmx_key {
    /* Cache-line aligned: the owners of neighbouring keys write their own
     * keys on every call and must not share a line (W5). */
    _Alignas(64) _Atomic uint64_t gen; /* the handle's generation while the key lives */
    _Atomic uint32_t want;
    _Atomic(struct tstate *) owner; /* the owner thread's state, or NULL */
    _Atomic int terminated;
    pthread_mutex_t lock;
    size_t quota;
    counters st;
    nmx_heap heap;
    uint32_t slot;
    uint32_t next_free; /* free-slot list, under g_keys_lock; +1, 0 = end */
    int live;           /* under g_keys_lock */
    _Atomic(void *) ctx; /* the host's object for this key (src/host: its run) */
    char name[64];
} nmx_key;

#define SLOT_BITS 20
#define MAX_SLOTS (1u << 18) /* keys alive at once */

/* The key table: address space for MAX_SLOTS keys reserved at first use and
 * touched only as slots are handed out; never freed. */
static nmx_key *g_keys;
static _Atomic uint32_t g_nslots; /* slots handed out so far */
static uint32_t g_free_slot;      /* +1, 0 = none */
static uint64_t g_keys_live;
static pthread_mutex_t g_keys_lock = PTHREAD_MUTEX_INITIALIZER;
static counters g_retired; /* sums of destroyed keys, under g_keys_lock */
static _Atomic uint64_t g_bad_key;
static int g_fast; /* owner fast path available */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static _Atomic(nmx_bad_call_fn) g_hook;
static _Atomic(void *) g_hook_ctx;

/* The keys this thread holds through a slow path (a memory call, a service
 * hold), for nmx__key_recover_thread. */
static _Thread_local struct {
    nmx_key *k, *hold;
} t_slow __attribute__((tls_model("initial-exec")));

/* A thread's state: which key it is inside on the owner's path, for a memory
 * call (`in`) and for a service hold (`held`); two words, so that a memory
 * call on another key during a hold does not end the hold. */
typedef struct tstate {
    _Alignas(64) _Atomic(nmx_key *) in;
    _Atomic(nmx_key *) held;
    struct tstate *next_free;
} tstate;

/* initial-exec: reading it is one instruction, no call. */
static _Thread_local tstate *t_state __attribute__((tls_model("initial-exec")));
static pthread_key_t g_tstate_key;
static tstate *g_tstate_free; /* under g_keys_lock */

static void tstate_release(void *p)
{
    tstate *st = p;
    atomic_store_explicit(&st->in, NULL, memory_order_release);
    atomic_store_explicit(&st->held, NULL, memory_order_release);
    pthread_mutex_lock(&g_keys_lock);
    st->next_free = g_tstate_free;
    g_tstate_free = st;
    pthread_mutex_unlock(&g_keys_lock);
}

/* The calling thread's state, made on its first slow-path call; NULL only if
 * memory is refused (the thread then never becomes an owner). */
static tstate *tstate_self(void)
{
    if (t_state)
        return t_state;
    pthread_mutex_lock(&g_keys_lock);
    tstate *st = g_tstate_free;
    if (st)
        g_tstate_free = st->next_free;
    pthread_mutex_unlock(&g_keys_lock);
    if (!st && !(st = aligned_alloc(64, sizeof *st)))
        return NULL;
    atomic_store_explicit(&st->in, NULL, memory_order_relaxed);
    atomic_store_explicit(&st->held, NULL, memory_order_relaxed);
    st->next_free = NULL;
    pthread_setspecific(g_tstate_key, st);
    return t_state = st;
}

static void global_init(void)
{
    pthread_key_create(&g_tstate_key, tstate_release);
#ifdef NMX_TSAN
    g_fast = 0;
#else
    g_fast = getenv("NMEXPERT_NO_FASTPATH") == NULL && nmx__os_membarrier_init();
#endif
}

/* ---- counters: one writer (the thread holding the key), any reader ---- */

static inline void ctr_add(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
}

static inline void ctr_sub(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - d,
                          memory_order_relaxed);
}

static inline uint64_t ctr(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static inline void live_add(nmx_key *k, size_t n)
{
    ctr_add(&k->st.live_bytes, n);
    uint64_t live = ctr(&k->st.live_bytes);
    if (live > ctr(&k->st.peak_bytes))
        atomic_store_explicit(&k->st.peak_bytes, live, memory_order_relaxed);
}

/* ---- handles ---- */

static inline HEXPERTKEY make_handle(uint32_t slot, uint64_t gen)
{
    return (HEXPERTKEY)(uintptr_t)((gen << (SLOT_BITS + 1)) | ((uint64_t)slot << 1) | 1u);
}

/* The key a handle names, or NULL. Reads only the never-freed slot table. */
static inline nmx_key *key_of(HEXPERTKEY h, uint64_t *gen)
{
    uintptr_t v = (uintptr_t)h;
    if (!(v & 1u))
        return NULL;
    uint32_t slot = (uint32_t)((v >> 1) & ((1u << SLOT_BITS) - 1)); /* < g_nslots checked */
    if (slot >= atomic_load_explicit(&g_nslots, memory_order_acquire))
        return NULL;
    *gen = (uint64_t)v >> (SLOT_BITS + 1);
    return &g_keys[slot]; /* key_enter() checks the generation */
}

static void report_bad(nmx_key *k, int kind)
{
    if (k) {
        switch (kind) {
        case NMX_BAD_DOUBLE_FREE: ctr_add(&k->st.bad_double_free, 1); break;
        case NMX_BAD_FOREIGN: ctr_add(&k->st.bad_foreign, 1); break;
        case NMX_BAD_WRONG_OWNER: ctr_add(&k->st.bad_wrong_owner, 1); break;
        default: ctr_add(&k->st.bad_interior, 1); break;
        }
    } else {
        atomic_fetch_add_explicit(&g_bad_key, 1, memory_order_relaxed);
    }
}

static void call_hook(int kind, HEXPERTKEY h, const void *p)
{
    nmx_bad_call_fn fn = atomic_load_explicit(&g_hook, memory_order_acquire);
    if (fn)
        fn((nmx_bad_kind)kind, h, p, atomic_load_explicit(&g_hook_ctx, memory_order_acquire));
}

/* ---- exclusion ---- */

/* The owner's path: store, barrier for the compiler, two loads. A destroy
 * raises `want` before it bumps the generation, and the generation is read
 * after `want` (acquire), so a destroy that completed between key_of() and
 * here is seen. Returns 1 holding the key, else 0 holding nothing. */
static inline __attribute__((always_inline)) int enter_owner(nmx_key *k, uint64_t gen,
                                                             int hold)
{
    tstate *st = t_state;
    if (__builtin_expect(!st || atomic_load_explicit(&k->owner, memory_order_relaxed) != st, 0))
        return 0;
    _Atomic(nmx_key *) *w = hold ? &st->held : &st->in;
    atomic_store_explicit(w, k, memory_order_relaxed);
    atomic_signal_fence(memory_order_seq_cst); /* the membarrier's partner */
    if (__builtin_expect(atomic_load_explicit(&k->want, memory_order_acquire) == 0, 1) &&
        __builtin_expect(atomic_load_explicit(&k->gen, memory_order_relaxed) == gen, 1))
        return 1;
    atomic_store_explicit(w, NULL, memory_order_release);
    return 0;
}

static inline __attribute__((always_inline)) int enter_fast(nmx_key *k, uint64_t gen)
{
    return enter_owner(k, gen, 0);
}

static inline __attribute__((always_inline)) void leave_fast(void)
{
    atomic_store_explicit(&t_state->in, NULL, memory_order_release);
}

/* Takes the key as a non-owner (or as an owner whose fast path was refused):
 * raise want, barrier, mutex, wait for the owner to leave. want stays raised
 * until key_leave. Returns 0 (holding nothing) if the generation moved on. */
static int enter_excl(nmx_key *k, uint64_t gen)
{
    if (g_fast) {
        atomic_fetch_add_explicit(&k->want, 1, memory_order_seq_cst);
        nmx__os_membarrier();
    }
    pthread_mutex_lock(&k->lock);
    tstate *o = atomic_load_explicit(&k->owner, memory_order_acquire);
    if (o)
        while (atomic_load_explicit(&o->in, memory_order_acquire) == k ||
               atomic_load_explicit(&o->held, memory_order_acquire) == k)
            sched_yield();
    if (atomic_load_explicit(&k->gen, memory_order_relaxed) != gen) {
        pthread_mutex_unlock(&k->lock);
        if (g_fast)
            atomic_fetch_sub_explicit(&k->want, 1, memory_order_release);
        return 0;
    }
    return 1;
}

static void leave_excl(nmx_key *k)
{
    pthread_mutex_unlock(&k->lock);
    if (g_fast)
        atomic_fetch_sub_explicit(&k->want, 1, memory_order_release);
}

enum { ENTER_BAD = 0, ENTER_FAST, ENTER_SLOW };

/* Key held exclusively: the first thread to take the slow path on a key
 * becomes its owner. */
static void claim_owner(nmx_key *k)
{
    if (g_fast && !atomic_load_explicit(&k->owner, memory_order_relaxed)) {
        tstate *st = tstate_self();
        if (st)
            atomic_store_explicit(&k->owner, st, memory_order_release);
    }
}

static __attribute__((noinline)) int key_enter_slow(nmx_key *k, uint64_t gen)
{
    if (!enter_excl(k, gen))
        return ENTER_BAD;
    claim_owner(k);
    t_slow.k = k;
    return ENTER_SLOW;
}

/* Holds the key exclusively; ENTER_BAD: the key was destroyed meanwhile. */
static inline __attribute__((always_inline)) int key_enter(nmx_key *k, uint64_t gen)
{
    return enter_fast(k, gen) ? ENTER_FAST : key_enter_slow(k, gen);
}

static inline __attribute__((always_inline)) void key_leave(nmx_key *k, int mode)
{
    if (mode == ENTER_FAST) {
        leave_fast();
        return;
    }
    t_slow.k = NULL;
    leave_excl(k);
}

/* After a fault unwound this thread out of an Expert* call (src/host's trap),
 * release what the call held: the owner's `in` word, or a slow path's mutex.
 * The heap may be half-updated, which destroy tolerates: it never walks
 * blocks. Called on the thread that faulted, before the key is destroyed. */
void nmx__key_recover_thread(HEXPERTKEY hk)
{
    (void)hk;
    if (t_slow.k)
        key_leave(t_slow.k, ENTER_SLOW);
    if (t_slow.hold) {
        leave_excl(t_slow.hold);
        t_slow.hold = NULL;
    }
    if (t_state) {
        atomic_store_explicit(&t_state->in, NULL, memory_order_release);
        atomic_store_explicit(&t_state->held, NULL, memory_order_release);
    }
}

static inline void set_err(DWORD *pe, DWORD code)
{
    if (pe)
        *pe = code;
}

/* ---- the Expert* memory functions ---- */

/* Why an allocation of n bytes may not even be tried, or NMERR_SUCCESS. */
static __attribute__((noinline)) DWORD alloc_refusal(nmx_key *k, size_t n)
{
    if (atomic_load_explicit(&k->terminated, memory_order_relaxed)) {
        ctr_add(&k->st.failed_terminate, 1);
        return NMERR_EXPERT_TERMINATE;
    }
    if (k->quota && (n > k->quota || ctr(&k->st.live_bytes) > k->quota - n)) {
        ctr_add(&k->st.failed_quota, 1);
        return NMERR_OUT_OF_MEMORY;
    }
    return NMERR_SUCCESS;
}

static inline __attribute__((always_inline)) void *alloc_locked(nmx_key *k, size_t n, DWORD *code)
{
    if (__builtin_expect(k->quota != 0 || atomic_load_explicit(&k->terminated,
                                                               memory_order_relaxed), 0) &&
        (*code = alloc_refusal(k, n)) != NMERR_SUCCESS)
        return NULL;
    void *p = nmx__heap_alloc(&k->heap, n);
    if (__builtin_expect(!p, 0)) {
        ctr_add(&k->st.failed_oom, 1);
        *code = NMERR_OUT_OF_MEMORY;
        return NULL;
    }
    ctr_add(&k->st.allocs, 1);
    ctr_add(&k->st.live_blocks, 1);
    live_add(k, n);
    *code = NMERR_SUCCESS;
    return p;
}

/* A call with a NULL, forged or destroyed key: counted, reported, refused. */
static __attribute__((noinline, cold)) void bad_key(HEXPERTKEY hk, const void *ptr)
{
    report_bad(NULL, NMX_BAD_KEY);
    call_hook(NMX_BAD_KEY, hk, ptr);
}

/* The general paths: every case, any thread. */
static __attribute__((noinline)) void *alloc_general(HEXPERTKEY hk, size_t n, DWORD *pError)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    int mode = __builtin_expect(k != NULL, 1) ? key_enter(k, gen) : ENTER_BAD;
    if (__builtin_expect(mode == ENTER_BAD, 0)) {
        bad_key(hk, NULL);
        set_err(pError, NMERR_INVALID_EXPERT_HANDLE);
        return NULL;
    }
    DWORD code;
    void *p = alloc_locked(k, n, &code);
    key_leave(k, mode);
    set_err(pError, code);
    return p;
}

static __attribute__((noinline)) SIZE_T free_general(HEXPERTKEY hk, void *ptr)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    int mode = __builtin_expect(k != NULL, 1) ? key_enter(k, gen) : ENTER_BAD;
    if (__builtin_expect(mode == ENTER_BAD, 0)) {
        bad_key(hk, ptr);
        return NMERR_INVALID_EXPERT_HANDLE;
    }
    DWORD code = NMERR_SUCCESS; /* NULL is a no-op, terminated or not (M6) */
    int bad = 0;
    if (ptr) {
        if (atomic_load_explicit(&k->terminated, memory_order_relaxed))
            code = NMERR_EXPERT_TERMINATE;
        nmx_block b;
        bad = nmx__heap_locate(k->heap.tag, ptr, &b);
        if (bad) {
            report_bad(k, bad);
            code = NMERR_INVALID_PARAMETER;
        } else {
            nmx__heap_free(&k->heap, &b);
            ctr_add(&k->st.frees, 1);
            ctr_sub(&k->st.live_blocks, 1);
            ctr_sub(&k->st.live_bytes, b.req);
        }
    }
    key_leave(k, mode);
    if (bad)
        call_hook(bad, hk, ptr);
    return code;
}

/* The owner's fast paths: the owner thread, a small block, nothing unusual
 * (no quota, no terminate, a page at hand, a live small block). Anything else
 * leaves the key and redoes the call on the general path, which decides. */
NMX_API LPVOID WINAPI ExpertAllocMemory(HEXPERTKEY hk, SIZE_T n, DWORD *pError)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (__builtin_expect(k != NULL && n <= 1024, 1) && enter_fast(k, gen)) {
        nmx_page *pg = k->heap.avail[nmx__cls_small[(n + 15) >> 4]];
        if (__builtin_expect(pg && !k->quota &&
                             !atomic_load_explicit(&k->terminated, memory_order_relaxed), 1)) {
            void *p = nmx__page_alloc(&k->heap, pg, n);
            ctr_add(&k->st.allocs, 1);
            ctr_add(&k->st.live_blocks, 1);
            live_add(k, n);
            leave_fast();
            set_err(pError, NMERR_SUCCESS);
            return p;
        }
        leave_fast();
    }
    return alloc_general(hk, n, pError);
}

NMX_API SIZE_T WINAPI ExpertFreeMemory(HEXPERTKEY hk, LPVOID ptr)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (__builtin_expect(k != NULL && ptr != NULL, 1) && enter_fast(k, gen)) {
        uint32_t idx;
        nmx_page *pg;
        if (__builtin_expect(!atomic_load_explicit(&k->terminated, memory_order_relaxed), 1) &&
            (pg = nmx__locate_small(k->heap.tag, (uintptr_t)ptr, &idx)) != NULL) {
            size_t req = nmx__block_req(pg, idx);
            nmx__page_free(&k->heap, pg, idx);
            ctr_add(&k->st.frees, 1);
            ctr_sub(&k->st.live_blocks, 1);
            ctr_sub(&k->st.live_bytes, req);
            leave_fast();
            return NMERR_SUCCESS;
        }
        leave_fast();
    }
    return free_general(hk, ptr);
}

NMX_API SIZE_T WINAPI ExpertMemorySize(HEXPERTKEY hk, LPVOID ptr)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    int mode = __builtin_expect(k != NULL, 1) ? key_enter(k, gen) : ENTER_BAD;
    if (__builtin_expect(mode == ENTER_BAD, 0)) {
        bad_key(hk, ptr);
        return 0;
    }
    size_t size = 0;
    int bad = 0;
    if (ptr) {
        nmx_block b;
        bad = nmx__heap_locate(k->heap.tag, ptr, &b);
        if (bad)
            report_bad(k, bad);
        else
            size = b.req;
    }
    key_leave(k, mode);
    if (bad)
        call_hook(bad, hk, ptr);
    return size;
}

NMX_API LPVOID WINAPI ExpertReallocMemory(HEXPERTKEY hk, LPVOID ptr, SIZE_T n, DWORD *pError)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    int mode = __builtin_expect(k != NULL, 1) ? key_enter(k, gen) : ENTER_BAD;
    if (__builtin_expect(mode == ENTER_BAD, 0)) {
        bad_key(hk, ptr);
        set_err(pError, NMERR_INVALID_EXPERT_HANDLE);
        return NULL;
    }
    DWORD code = NMERR_SUCCESS;
    void *q = NULL;
    int bad = 0;
    nmx_block b;
    if (!ptr) {
        q = alloc_locked(k, n, &code);
    } else if ((bad = nmx__heap_locate(k->heap.tag, ptr, &b)) != 0) {
        report_bad(k, bad);
        code = NMERR_INVALID_PARAMETER;
    } else if (atomic_load_explicit(&k->terminated, memory_order_relaxed)) {
        ctr_add(&k->st.failed_terminate, 1);
        code = NMERR_EXPERT_TERMINATE;
    } else if (n > b.req && k->quota &&
               (n - b.req > k->quota || ctr(&k->st.live_bytes) > k->quota - (n - b.req))) {
        ctr_add(&k->st.failed_quota, 1);
        code = NMERR_OUT_OF_MEMORY;
    } else {
        if (nmx__heap_resize_in_place(&k->heap, &b, n)) {
            q = ptr;
        } else if ((q = nmx__heap_alloc(&k->heap, n)) != NULL) {
            memcpy(q, ptr, n < b.req ? n : b.req);
            nmx__heap_free(&k->heap, &b);
        } else {
            ctr_add(&k->st.failed_oom, 1);
            code = NMERR_OUT_OF_MEMORY;
        }
        if (q) {
            ctr_add(&k->st.reallocs, 1);
            if (n >= b.req)
                live_add(k, n - b.req);
            else
                ctr_sub(&k->st.live_bytes, b.req - n);
        }
    }
    key_leave(k, mode);
    if (bad)
        call_hook(bad, hk, ptr);
    set_err(pError, code);
    return q;
}

/* ---- the host side ---- */

NMX_API DWORD nmx_key_create(const nmx_key_options *opt, HEXPERTKEY *out)
{
    if (!out)
        return NMERR_INVALID_PARAMETER;
    pthread_once(&g_once, global_init);
    pthread_mutex_lock(&g_keys_lock);
    nmx_key *k;
    if (g_free_slot) {
        uint32_t slot = g_free_slot - 1;
        k = &g_keys[slot];
        g_free_slot = k->next_free;
    } else {
        uint32_t slot = atomic_load_explicit(&g_nslots, memory_order_relaxed);
        if (slot >= MAX_SLOTS) {
            pthread_mutex_unlock(&g_keys_lock);
            return NMERR_NO_HANDLES;
        }
        if (!g_keys && !(g_keys = nmx__os_map_aligned(MAX_SLOTS * sizeof(nmx_key), 4096))) {
            pthread_mutex_unlock(&g_keys_lock);
            return NMERR_OUT_OF_MEMORY;
        }
        k = &g_keys[slot];
        k->slot = slot;
        pthread_mutex_init(&k->lock, NULL);
        atomic_store_explicit(&g_nslots, slot + 1, memory_order_release);
    }
    /* No live handle names the slot (its generation is stale); the mutex
     * keeps with_key_locked() callers holding stale handles out. */
    pthread_mutex_lock(&k->lock);
    /* nmx_key_stats may be reading with a stale handle (it re-checks the
     * generation afterwards): reset the counters with atomic stores. */
#define X(f) atomic_store_explicit(&k->st.f, 0, memory_order_relaxed);
    STAT_FIELDS(X)
#undef X
    k->quota = opt ? opt->quota_bytes : 0;
    k->name[0] = '\0';
    if (opt && opt->name) {
        strncpy(k->name, opt->name, sizeof k->name - 1);
        k->name[sizeof k->name - 1] = '\0';
    }
    atomic_store_explicit(&k->terminated, 0, memory_order_relaxed);
    atomic_store_explicit(&k->owner, NULL, memory_order_relaxed);
    atomic_store_explicit(&k->ctx, NULL, memory_order_relaxed);
    k->next_free = 0;
    uint64_t gen = atomic_load_explicit(&k->gen, memory_order_relaxed) + 1;
    nmx__heap_init(&k->heap, (uintptr_t)make_handle(k->slot, gen));
    atomic_store_explicit(&k->gen, gen, memory_order_release);
    pthread_mutex_unlock(&k->lock);
    k->live = 1;
    g_keys_live++;
    *out = make_handle(k->slot, gen);
    pthread_mutex_unlock(&g_keys_lock);
    return NMERR_SUCCESS;
}

static void copy_stats(const counters *c, nmx_mem_stats *out)
{
#define X(f) out->f = ctr(&c->f);
    STAT_FIELDS(X)
#undef X
}

NMX_API DWORD nmx_key_stats(HEXPERTKEY hk, nmx_mem_stats *out)
{
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!hk) {
        /* Counts summed over every key ever; live figures over live keys;
         * peak_bytes the largest of any key. */
        pthread_mutex_lock(&g_keys_lock);
        copy_stats(&g_retired, out);
        out->live_bytes = out->live_blocks = 0;
        uint32_t n = atomic_load_explicit(&g_nslots, memory_order_relaxed);
        for (uint32_t s = 0; s < n; s++) {
            nmx_key *k = &g_keys[s];
            if (!k->live)
                continue;
            nmx_mem_stats one;
            copy_stats(&k->st, &one);
            uint64_t peak = out->peak_bytes > one.peak_bytes ? out->peak_bytes : one.peak_bytes;
#define X(f) out->f += one.f;
            STAT_FIELDS(X)
#undef X
            out->peak_bytes = peak;
        }
        pthread_mutex_unlock(&g_keys_lock);
        out->bad_key = atomic_load_explicit(&g_bad_key, memory_order_relaxed);
        return NMERR_SUCCESS;
    }
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (!k || atomic_load_explicit(&k->gen, memory_order_acquire) != gen)
        return NMERR_INVALID_EXPERT_HANDLE;
    copy_stats(&k->st, out);
    if (atomic_load_explicit(&k->gen, memory_order_acquire) != gen)
        return NMERR_INVALID_EXPERT_HANDLE;
    return NMERR_SUCCESS;
}

/* Runs fn on the key under its mutex if the handle is current. Destroy and
 * create change the generation under the same mutex, so fn never reaches a
 * destroyed key or its slot's next occupant. Not for the Expert* paths. */
static DWORD with_key_locked(HEXPERTKEY hk, void (*fn)(nmx_key *, void *), void *arg)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (!k)
        return NMERR_INVALID_EXPERT_HANDLE;
    pthread_mutex_lock(&k->lock);
    DWORD rc = NMERR_INVALID_EXPERT_HANDLE;
    if (atomic_load_explicit(&k->gen, memory_order_relaxed) == gen) {
        fn(k, arg);
        rc = NMERR_SUCCESS;
    }
    pthread_mutex_unlock(&k->lock);
    return rc;
}

static void set_terminated(nmx_key *k, void *arg)
{
    (void)arg;
    atomic_store_explicit(&k->terminated, 1, memory_order_relaxed);
}

NMX_API DWORD nmx_key_terminate(HEXPERTKEY hk)
{
    return with_key_locked(hk, set_terminated, NULL);
}

typedef struct name_buf {
    char *buf;
    size_t len;
} name_buf;

static void copy_name(nmx_key *k, void *arg)
{
    name_buf *nb = arg;
    size_t n = strnlen(k->name, sizeof k->name);
    if (n >= nb->len)
        n = nb->len - 1;
    memcpy(nb->buf, k->name, n);
    nb->buf[n] = '\0';
}

NMX_API DWORD nmx_key_name(HEXPERTKEY hk, char *buf, size_t len)
{
    if (!buf || !len)
        return NMERR_INVALID_PARAMETER;
    name_buf nb = {buf, len};
    return with_key_locked(hk, copy_name, &nb);
}

NMX_API DWORD nmx_key_destroy(HEXPERTKEY hk, nmx_mem_stats *final)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (!k)
        return NMERR_INVALID_EXPERT_HANDLE;
    /* Enter exclusively, even from the owner, so that `want` stays raised
     * until the generation has moved on: no fast path can start. */
    if (!enter_excl(k, gen))
        return NMERR_INVALID_EXPERT_HANDLE;
    atomic_store_explicit(&k->gen, gen + 1, memory_order_release);
    nmx_mem_stats st;
    copy_stats(&k->st, &st);
    nmx__heap_destroy(&k->heap);
    atomic_store_explicit(&k->owner, NULL, memory_order_relaxed);
    leave_excl(k);

    pthread_mutex_lock(&g_keys_lock);
    uint64_t peak = ctr(&g_retired.peak_bytes);
#define X(f) ctr_add(&g_retired.f, st.f);
    STAT_FIELDS(X)
#undef X
    atomic_store_explicit(&g_retired.peak_bytes, peak > st.peak_bytes ? peak : st.peak_bytes,
                          memory_order_relaxed);
    k->next_free = g_free_slot;
    g_free_slot = k->slot + 1;
    k->live = 0;
    g_keys_live--;
    pthread_mutex_unlock(&g_keys_lock);
    if (final)
        *final = st;
    return NMERR_SUCCESS;
}

NMX_API void nmx_set_bad_call_hook(nmx_bad_call_fn fn, void *ctx)
{
    atomic_store_explicit(&g_hook_ctx, ctx, memory_order_release);
    atomic_store_explicit(&g_hook, fn, memory_order_release);
}

NMX_API const char *nmx_bad_kind_name(nmx_bad_kind kind)
{
    switch (kind) {
    case NMX_BAD_DOUBLE_FREE: return "double free";
    case NMX_BAD_FOREIGN: return "foreign pointer";
    case NMX_BAD_WRONG_OWNER: return "block of another key";
    case NMX_BAD_INTERIOR: return "interior pointer";
    case NMX_BAD_KEY: return "invalid key";
    }
    return "?";
}

NMX_API DWORD nmx_heap_stats_get(nmx_heap_stats *out)
{
    if (!out)
        return NMERR_INVALID_PARAMETER;
    memset(out, 0, sizeof *out);
    nmx__seg_stats(out);
    pthread_mutex_lock(&g_keys_lock);
    out->keys_live = g_keys_live;
    pthread_mutex_unlock(&g_keys_lock);
    return NMERR_SUCCESS;
}

void nmx__key_set_context(HEXPERTKEY hk, void *ctx)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (k)
        atomic_store_explicit(&k->ctx, ctx, memory_order_release);
}

void *nmx__key_context(HEXPERTKEY hk)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (!k || atomic_load_explicit(&k->gen, memory_order_acquire) != gen)
        return NULL;
    void *ctx = atomic_load_explicit(&k->ctx, memory_order_acquire);
    /* A destroy (and re-create) between the two reads would hand back the
     * slot's next key's object: check the generation again. */
    return atomic_load_explicit(&k->gen, memory_order_acquire) == gen ? ctx : NULL;
}

int nmx__key_is_terminated(HEXPERTKEY hk)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    return k && atomic_load_explicit(&k->terminated, memory_order_relaxed);
}

/* The host's own look at a key's block, neither counted nor reported as an
 * invalid call: the size of a live block of the key, else 0; with `release`,
 * the block is also freed (and counted as a free). For src/host's checks of
 * an event's size and for taking back the configuration copy it put there. */
size_t nmx__key_block_quiet(HEXPERTKEY hk, void *ptr, int release)
{
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (!k || !ptr)
        return 0;
    int mode = key_enter(k, gen);
    if (mode == ENTER_BAD)
        return 0;
    nmx_block b;
    size_t size = 0;
    if (nmx__heap_locate(k->heap.tag, ptr, &b) == 0) {
        size = b.req;
        if (release) {
            nmx__heap_free(&k->heap, &b);
            ctr_add(&k->st.frees, 1);
            ctr_sub(&k->st.live_blocks, 1);
            ctr_sub(&k->st.live_bytes, b.req);
        }
    }
    key_leave(k, mode);
    return size;
}

/* ---- service holds (src/host) ---- */

void *nmx__key_hold(HEXPERTKEY hk, nmx_key_hold *h)
{
    h->k = NULL;
    h->mode = ENTER_BAD;
    uint64_t gen;
    nmx_key *k = key_of(hk, &gen);
    if (!k)
        return NULL;
    int mode = ENTER_FAST;
    if (!enter_owner(k, gen, 1)) {
        if (!enter_excl(k, gen))
            return NULL;
        claim_owner(k);
        t_slow.hold = k;
        mode = ENTER_SLOW;
    }
    h->k = k;
    h->mode = mode;
    return atomic_load_explicit(&k->ctx, memory_order_acquire);
}

void nmx__key_unhold(nmx_key_hold *h)
{
    nmx_key *k = h->k;
    if (!k)
        return;
    if (h->mode == ENTER_FAST) {
        atomic_store_explicit(&t_state->held, NULL, memory_order_release);
    } else {
        t_slow.hold = NULL;
        leave_excl(k);
    }
    h->k = NULL;
    h->mode = ENTER_BAD;
}

int nmx__key_hold_terminated(const nmx_key_hold *h)
{
    const nmx_key *k = h->k;
    return k && atomic_load_explicit(&k->terminated, memory_order_relaxed);
}

size_t nmx__key_hold_block_size(const nmx_key_hold *h, const void *ptr)
{
    nmx_key *k = h->k;
    nmx_block b;
    if (!k || !ptr || nmx__heap_locate(k->heap.tag, ptr, &b) != 0)
        return 0;
    return b.req;
}
