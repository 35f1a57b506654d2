/* The key table and the host's key API (nmx_key_*, host.h; the service hold
 * and the context for src/host, mem.h).
 *
 * A key handle is {slot, generation} packed into the HEXPERTKEY value (see
 * key.h); the slot table is never freed, so a stale or forged handle costs
 * one bounds check and one comparison with the slot's state word, and never
 * a dereference of freed memory (M9, M12). Create and destroy move the
 * generation on under the key's mutex; terminate sets a flag in the state
 * word with a compare-and-swap, so it never waits (the host's watchdog calls
 * it). How threads exclude each other on a key is excl.c's business.
 */
#define _GNU_SOURCE
#include "mem/key.h"
#include "stack_guard.h"

#include <string.h>

/* The key table: address space for NMX_MAX_SLOTS keys reserved at first use
 * and touched only as slots are handed out; never freed. */
nmx_key *nmx__keys;
_Atomic uint32_t nmx__nslots; /* slots handed out so far */
pthread_mutex_t nmx__keys_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t g_free_slot; /* +1, 0 = none */
static uint64_t g_keys_live;
static nmx_counters g_retired; /* sums of destroyed keys, under the table lock */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);

static void global_init(void)
{
    nmx__excl_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static inline HEXPERTKEY make_handle(uint32_t slot, uint64_t gen)
{
    return (HEXPERTKEY)(uintptr_t)((gen << NMX_GEN_SHIFT) | ((uint64_t)slot << 1) | 1u);
}

/* The key of a current handle, else NULL. Racy by nature: for reads that
 * check the generation again afterwards, or that may see a key being
 * destroyed (a flag). */
static nmx_key *current(HEXPERTKEY hk)
{
    nmx_key *k = nmx__key_of(hk);
    if (!k || (atomic_load_explicit(&k->state, memory_order_acquire) & NMX_GEN_MASK) !=
                  nmx__key_exp(hk))
        return NULL;
    return k;
}

/* Table lock held: a slot for a new key, or NULL with *rc set. */
static nmx_key *slot_take(DWORD *rc)
{
    if (g_free_slot) {
        nmx_key *k = &nmx__keys[g_free_slot - 1];
        g_free_slot = k->next_free;
        return k;
    }
    uint32_t slot = atomic_load_explicit(&nmx__nslots, memory_order_relaxed);
    if (slot >= NMX_MAX_SLOTS) {
        *rc = NMERR_NO_HANDLES;
        return NULL;
    }
    if (!nmx__keys && !(nmx__keys = nmx__os_map_aligned(NMX_MAX_SLOTS * sizeof(nmx_key), 4096))) {
        *rc = NMERR_OUT_OF_MEMORY;
        return NULL;
    }
    nmx_key *k = &nmx__keys[slot];
    k->slot = slot;
    nmx__excl_key_init(k);
    atomic_store_explicit(&nmx__nslots, slot + 1, memory_order_release);
    return k;
}

/* Table lock held. */
static void slot_give(nmx_key *k)
{
    k->next_free = g_free_slot;
    g_free_slot = k->slot + 1;
    k->live = 0;
    g_keys_live--;
}

NMX_API DWORD nmx_key_create(const nmx_key_options *opt, HEXPERTKEY *out)
{
    if (!out)
        return NMERR_INVALID_PARAMETER;
    pthread_once(&g_once, global_init);
    pthread_mutex_lock(&nmx__keys_lock);
    DWORD rc = NMERR_SUCCESS;
    nmx_key *k = slot_take(&rc);
    if (!k) {
        pthread_mutex_unlock(&nmx__keys_lock);
        return rc;
    }
    /* No live handle names the slot; the mutex keeps out callers that hold
     * stale handles and are about to find that out (excl.c, key_name). */
    pthread_mutex_lock(&k->lock);
    /* nmx_key_stats may be reading with a stale handle (it checks the
     * generation again afterwards): reset the counters with atomic stores. */
#define X(f) atomic_store_explicit(&k->st.f, 0, memory_order_relaxed);
    NMX_STAT_FIELDS(X)
#undef X
    k->quota = opt ? opt->quota_bytes : 0;
    k->limit = k->quota ? k->quota : UINT64_MAX;
    k->name[0] = '\0';
    if (opt && opt->name) {
        strncpy(k->name, opt->name, sizeof k->name - 1);
        k->name[sizeof k->name - 1] = '\0';
    }
    atomic_store_explicit(&k->owner, NULL, memory_order_relaxed);
    atomic_store_explicit(&k->ctx, NULL, memory_order_relaxed);
    k->next_free = 0;
    /* The generation moves on (destroy moved it once already: the values in
     * between were never handed out); TERM of the last key goes. */
    atomic_fetch_and_explicit(&k->state, ~NMX_ST_TERM, memory_order_relaxed);
    uint64_t st = atomic_fetch_add_explicit(&k->state, NMX_GEN_ONE, memory_order_release);
    HEXPERTKEY h = make_handle(k->slot, (st >> NMX_GEN_SHIFT) + 1);
    nmx__heap_init(&k->heap, (uintptr_t)h);
    pthread_mutex_unlock(&k->lock);
    k->live = 1;
    g_keys_live++;
    *out = h;
    pthread_mutex_unlock(&nmx__keys_lock);
    return NMERR_SUCCESS;
}

/* A copy of the counters. live_blocks is allocs - frees at one instant: the
 * frees read before and after allocs agree (the counters only grow, and are
 * stored with release and read with acquire), or, while the owner frees too
 * fast to catch that, an estimate never below zero. */
static void copy_stats(const nmx_counters *c, nmx_mem_stats *out)
{
    for (int tries = 0;; tries++) {
        uint64_t frees = atomic_load_explicit(&c->frees, memory_order_acquire);
#define X(f) out->f = atomic_load_explicit(&c->f, memory_order_acquire);
        NMX_STAT_FIELDS(X)
#undef X
        if (out->frees == frees || tries == 100) {
            out->frees = frees < out->allocs ? frees : out->allocs;
            break;
        }
    }
    out->live_blocks = out->allocs - out->frees;
}

/* Table lock held: the sums over every key ever made (see host.h). */
static void global_stats(nmx_mem_stats *out)
{
    copy_stats(&g_retired, out);
    out->live_bytes = out->live_blocks = 0;
    uint32_t n = atomic_load_explicit(&nmx__nslots, memory_order_relaxed);
    for (uint32_t s = 0; s < n; s++) {
        nmx_key *k = &nmx__keys[s];
        if (!k->live)
            continue;
        nmx_mem_stats one;
        copy_stats(&k->st, &one);
        uint64_t peak = out->peak_bytes > one.peak_bytes ? out->peak_bytes : one.peak_bytes;
#define X(f) out->f += one.f;
        NMX_STAT_FIELDS(X)
#undef X
        out->live_blocks += one.live_blocks;
        out->peak_bytes = peak;
    }
}

NMX_API DWORD nmx_key_stats(HEXPERTKEY hk, nmx_mem_stats *out)
{
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!hk) {
        pthread_mutex_lock(&nmx__keys_lock);
        global_stats(out);
        pthread_mutex_unlock(&nmx__keys_lock);
        out->bad_key = nmx__bad_key_calls();
        return NMERR_SUCCESS;
    }
    nmx_key *k = current(hk);
    if (!k)
        return NMERR_INVALID_EXPERT_HANDLE;
    copy_stats(&k->st, out);
    return current(hk) ? NMERR_SUCCESS : NMERR_INVALID_EXPERT_HANDLE;
}

NMX_API DWORD nmx_key_terminate(HEXPERTKEY hk)
{
    nmx_key *k = nmx__key_of(hk);
    if (!k)
        return NMERR_INVALID_EXPERT_HANDLE;
    uint64_t exp = nmx__key_exp(hk);
    uint64_t s = atomic_load_explicit(&k->state, memory_order_relaxed);
    do {
        if ((s & NMX_GEN_MASK) != exp)
            return NMERR_INVALID_EXPERT_HANDLE;
        if (s & NMX_ST_TERM)
            return NMERR_SUCCESS;
    } while (!atomic_compare_exchange_weak_explicit(&k->state, &s, s | NMX_ST_TERM,
                                                    memory_order_release, memory_order_relaxed));
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_key_name(HEXPERTKEY hk, char *buf, size_t len)
{
    if (!buf || !len)
        return NMERR_INVALID_PARAMETER;
    nmx_key *k = nmx__key_of(hk);
    if (!k)
        return NMERR_INVALID_EXPERT_HANDLE;
    char name[sizeof k->name];
    /* Under the mutex, which create holds while it writes the name; the
     * caller's buffer is written after it is let go. */
    pthread_mutex_lock(&k->lock);
    int ok = (atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_GEN_MASK) ==
             nmx__key_exp(hk);
    if (ok)
        memcpy(name, k->name, sizeof name);
    pthread_mutex_unlock(&k->lock);
    if (!ok)
        return NMERR_INVALID_EXPERT_HANDLE;
    size_t n = strnlen(name, sizeof name);
    if (n >= len)
        n = len - 1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_key_destroy(HEXPERTKEY hk, nmx_mem_stats *final)
{
    nmx_key *k = nmx__key_of(hk);
    if (!k || !nmx__excl_enter(k, nmx__key_exp(hk), &nmx__t.slow))
        return NMERR_INVALID_EXPERT_HANDLE;
    /* Every handle of the key is stale from here: no owner's path can start,
     * and none is running (excl.c). */
    atomic_fetch_add_explicit(&k->state, NMX_GEN_ONE, memory_order_release);
    nmx_mem_stats st;
    copy_stats(&k->st, &st);
    nmx__heap_destroy(&k->heap);
    atomic_store_explicit(&k->owner, NULL, memory_order_relaxed);
    nmx__excl_leave(k, &nmx__t.slow);

    pthread_mutex_lock(&nmx__keys_lock);
    uint64_t peak = nmx__ctr(&g_retired.peak_bytes);
#define X(f) nmx__ctr_add(&g_retired.f, st.f);
    NMX_STAT_FIELDS(X)
#undef X
    atomic_store_explicit(&g_retired.peak_bytes, peak > st.peak_bytes ? peak : st.peak_bytes,
                          memory_order_relaxed);
    slot_give(k);
    pthread_mutex_unlock(&nmx__keys_lock);
    if (final)
        *final = st;
    return NMERR_SUCCESS;
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
    pthread_mutex_lock(&nmx__keys_lock);
    out->keys_live = g_keys_live;
    pthread_mutex_unlock(&nmx__keys_lock);
    return NMERR_SUCCESS;
}

/* ---- for src/host ---- */

void nmx__key_set_context(HEXPERTKEY hk, void *ctx)
{
    nmx_key *k = current(hk);
    if (k)
        atomic_store_explicit(&k->ctx, ctx, memory_order_release);
}

void *nmx__key_context(HEXPERTKEY hk)
{
    nmx_key *k = current(hk);
    if (!k)
        return NULL;
    void *ctx = atomic_load_explicit(&k->ctx, memory_order_acquire);
    /* A destroy (and re-create) between the two reads would hand back the
     * slot's next key's object: check the generation again. */
    return current(hk) ? ctx : NULL;
}

int nmx__key_is_terminated(HEXPERTKEY hk)
{
    nmx_key *k = nmx__key_of(hk);
    return k && (atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_ST_TERM);
}

/* The host's own look at a key's block, neither counted nor reported as an
 * invalid call: the size of a live block of the key, else 0; with `release`,
 * the block is also freed (and counted as a free). */
size_t nmx__key_block_quiet(HEXPERTKEY hk, void *ptr, int release)
{
    nmx_key *k;
    int mode = ptr ? nmx__key_enter(hk, &k, 0) : NMX_ENTER_BAD;
    if (mode == NMX_ENTER_BAD)
        return 0;
    nmx_block b;
    size_t size = 0;
    if (nmx__heap_locate(k->heap.tag, ptr, &b) == 0) {
        size = b.req;
        if (release) {
            nmx__heap_free(&k->heap, &b);
            nmx__ctr_add(&k->st.frees, 1);
            nmx__ctr_sub(&k->st.live_bytes, b.req);
        }
    }
    nmx__key_leave(k, mode, 0);
    return size;
}

/* ---- service holds ---- */

void *nmx__key_hold(HEXPERTKEY hk, nmx_key_hold *h)
{
    nmx__stack_check();
    nmx_key *k;
    int mode = nmx__key_enter(hk, &k, 1);
    h->k = mode == NMX_ENTER_BAD ? NULL : k;
    h->mode = mode;
    return h->k ? atomic_load_explicit(&k->ctx, memory_order_acquire) : NULL;
}

void nmx__key_unhold(nmx_key_hold *h)
{
    if (h->k)
        nmx__key_leave(h->k, h->mode, 1);
    h->k = NULL;
    h->mode = NMX_ENTER_BAD;
}

int nmx__key_hold_terminated(const nmx_key_hold *h)
{
    const nmx_key *k = h->k;
    return k && (atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_ST_TERM);
}

size_t nmx__key_hold_block_size(const nmx_key_hold *h, const void *ptr)
{
    const nmx_key *k = h->k;
    nmx_block b;
    if (!k || !ptr || nmx__heap_locate(k->heap.tag, ptr, &b) != 0)
        return 0;
    return b.req;
}

/* ---- fork (issue 9 forks workers from a host whose threads may be inside
 * the heap): the child must be able to make keys and allocate ---- */

static void fork_prepare(void)
{
    pthread_mutex_lock(&nmx__keys_lock);
    nmx__seg_fork_prepare();
}

static void fork_parent(void)
{
    nmx__seg_fork_parent();
    pthread_mutex_unlock(&nmx__keys_lock);
}

/* The child has one thread. Keys that a vanished thread was inside (their
 * heap may be half-changed) are abandoned: their generation moves on, their
 * slot is freed, their segments stay stamped with the dead handle, unused. */
static void fork_child(void)
{
    pthread_mutex_init(&nmx__keys_lock, NULL);
    nmx__seg_fork_child();
    uint32_t n = atomic_load_explicit(&nmx__nslots, memory_order_relaxed);
    nmx__excl_fork_child(n);
    for (uint32_t i = 0; i < n; i++) {
        nmx_key *k = &nmx__keys[i];
        if (!k->busy)
            continue;
        k->busy = 0;
        if (!k->live)
            continue; /* a destroy that had finished with the heap */
        atomic_fetch_add_explicit(&k->state, NMX_GEN_ONE, memory_order_relaxed);
        atomic_store_explicit(&k->owner, NULL, memory_order_relaxed);
        slot_give(k);
    }
}
