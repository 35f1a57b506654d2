/* The Expert* memory functions (SPEC M1-M11, M14) and the invalid-call hook.
 *
 * Each function first checks the stack (H5: nothing below may overflow),
 * then tries the owner's path: the thread's cached handle equals the one it
 * is given, the state word says the key is current and free, and the block
 * is small; anything else (another thread, a quota reached, terminate, a
 * page to format, a bad pointer) leaves the key and redoes the call on the
 * general path, which decides every case.
 */
#define _GNU_SOURCE
#include "mem/key.h"
#include "stack_guard.h"

#include <string.h>

static _Atomic(nmx_bad_call_fn) g_hook;
static _Atomic(void *) g_hook_ctx;
static _Atomic uint64_t g_bad_key;

uint64_t nmx__bad_key_calls(void)
{
    return atomic_load_explicit(&g_bad_key, memory_order_relaxed);
}

static void report_bad(nmx_key *k, int kind)
{
    switch (kind) {
    case NMX_BAD_DOUBLE_FREE: nmx__ctr_add(&k->st.bad_double_free, 1); break;
    case NMX_BAD_FOREIGN: nmx__ctr_add(&k->st.bad_foreign, 1); break;
    case NMX_BAD_WRONG_OWNER: nmx__ctr_add(&k->st.bad_wrong_owner, 1); break;
    default: nmx__ctr_add(&k->st.bad_interior, 1); break;
    }
}

/* After the key is left: the host's hook, if any (M9). */
static void call_hook(int kind, HEXPERTKEY h, const void *p)
{
    nmx_bad_call_fn fn = atomic_load_explicit(&g_hook, memory_order_acquire);
    if (fn)
        fn((nmx_bad_kind)kind, h, p, atomic_load_explicit(&g_hook_ctx, memory_order_acquire));
}

/* A call with a NULL, forged or destroyed key: counted, reported, refused. */
static __attribute__((noinline, cold)) void bad_key(HEXPERTKEY hk, const void *ptr)
{
    atomic_fetch_add_explicit(&g_bad_key, 1, memory_order_relaxed);
    call_hook(NMX_BAD_KEY, hk, ptr);
}

NMX_API void nmx_set_bad_call_hook(nmx_bad_call_fn fn, void *ctx)
{
    atomic_store_explicit(&g_hook_ctx, ctx, memory_order_release);
    atomic_store_explicit(&g_hook, fn, memory_order_release);
}

static inline void set_err(DWORD *pe, DWORD code)
{
    if (pe)
        *pe = code;
}

static inline void live_add(nmx_key *k, uint64_t n)
{
    uint64_t live = nmx__ctr(&k->st.live_bytes) + n;
    atomic_store_explicit(&k->st.live_bytes, live, memory_order_relaxed);
    if (live > nmx__ctr(&k->st.peak_bytes))
        atomic_store_explicit(&k->st.peak_bytes, live, memory_order_relaxed);
}

static inline void count_free(nmx_key *k, size_t req)
{
    nmx__ctr_add(&k->st.frees, 1);
    nmx__ctr_sub(&k->st.live_bytes, req);
}

/* ---- the general paths: every case, any thread ---- */

/* Why an allocation of n bytes may not even be tried, or NMERR_SUCCESS. */
static __attribute__((noinline)) DWORD alloc_refusal(nmx_key *k, size_t n)
{
    if (atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_ST_TERM) {
        nmx__ctr_add(&k->st.failed_terminate, 1);
        return NMERR_EXPERT_TERMINATE;
    }
    if (k->quota && (n > k->quota || nmx__ctr(&k->st.live_bytes) > k->quota - n)) {
        nmx__ctr_add(&k->st.failed_quota, 1);
        return NMERR_OUT_OF_MEMORY;
    }
    return NMERR_SUCCESS;
}

static void *alloc_entered(nmx_key *k, size_t n, DWORD *code)
{
    if ((*code = alloc_refusal(k, n)) != NMERR_SUCCESS)
        return NULL;
    void *p = nmx__heap_alloc(&k->heap, n);
    if (!p) {
        nmx__ctr_add(&k->st.failed_oom, 1);
        *code = NMERR_OUT_OF_MEMORY;
        return NULL;
    }
    nmx__ctr_add(&k->st.allocs, 1);
    live_add(k, n);
    return p;
}

static __attribute__((noinline)) void *alloc_general(HEXPERTKEY hk, size_t n, DWORD *pError)
{
    nmx_key *k;
    int mode = nmx__key_enter(hk, &k, 0);
    if (mode == NMX_ENTER_BAD) {
        bad_key(hk, NULL);
        set_err(pError, NMERR_INVALID_EXPERT_HANDLE);
        return NULL;
    }
    DWORD code;
    void *p = alloc_entered(k, n, &code);
    nmx__key_leave(k, mode, 0);
    set_err(pError, code);
    return p;
}

static __attribute__((noinline)) SIZE_T free_general(HEXPERTKEY hk, void *ptr)
{
    nmx_key *k;
    int mode = nmx__key_enter(hk, &k, 0);
    if (mode == NMX_ENTER_BAD) {
        bad_key(hk, ptr);
        return NMERR_INVALID_EXPERT_HANDLE;
    }
    DWORD code = NMERR_SUCCESS; /* NULL is a no-op, terminated or not (M6) */
    int bad = 0;
    if (ptr) {
        if (atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_ST_TERM)
            code = NMERR_EXPERT_TERMINATE;
        nmx_block b;
        bad = nmx__heap_locate(k->heap.tag, ptr, &b);
        if (bad) {
            report_bad(k, bad);
            code = NMERR_INVALID_PARAMETER;
        } else {
            nmx__heap_free(&k->heap, &b);
            count_free(k, b.req);
        }
    }
    nmx__key_leave(k, mode, 0);
    if (bad)
        call_hook(bad, hk, ptr);
    return code;
}

/* ---- the owner's paths ----
 *
 * Each is an always-inline body, run with the key entered through `in`,
 * that makes no call but tail calls: it finishes, or leaves the key and hands
 * the call to the general path. So the entry point saves no registers. The
 * state word not matching at once (fence mode, a flag set) is handled by a
 * copy of the body out of line, after nmx__owner_enter_fenced. */

/* A small block from a page at hand, within the quota. */
static inline __attribute__((always_inline)) void *alloc_owner(HEXPERTKEY hk, nmx_key *k,
                                                               _Atomic(nmx_key *) *in, size_t n,
                                                               DWORD *pError)
{
    nmx_page *pg = k->heap.avail[nmx__cls_small[(n + 15) >> 4]];
    uint64_t live = nmx__ctr(&k->st.live_bytes) + n;
    if (__builtin_expect(!pg || live > k->limit, 0)) {
        nmx__owner_leave(in);
        return alloc_general(hk, n, pError);
    }
    void *p = nmx__page_alloc(&k->heap, pg, n);
    nmx__ctr_add(&k->st.allocs, 1);
    atomic_store_explicit(&k->st.live_bytes, live, memory_order_relaxed);
    if (live > nmx__ctr(&k->st.peak_bytes))
        atomic_store_explicit(&k->st.peak_bytes, live, memory_order_relaxed);
    nmx__owner_leave(in);
    set_err(pError, NMERR_SUCCESS);
    return p;
}

static __attribute__((noinline)) void *alloc_fenced(HEXPERTKEY hk, size_t n, DWORD *pError,
                                                    uint64_t s)
{
    nmx_key *k = nmx__t.k;
    _Atomic(nmx_key *) *in = &nmx__t.st->in;
    if (!nmx__owner_enter_fenced(k, in, nmx__key_exp(hk), s))
        return alloc_general(hk, n, pError);
    return alloc_owner(hk, k, in, n, pError);
}

/* The end of a fast free that emptied its page: gives the page back and
 * leaves the key. */
static __attribute__((noinline)) SIZE_T free_page_empty(nmx_key *k, nmx_page *pg,
                                                        _Atomic(nmx_key *) *in)
{
    nmx__heap_page_empty(&k->heap, pg);
    nmx__owner_leave(in);
    return NMERR_SUCCESS;
}

/* A live block of a small-class page of k. */
static inline __attribute__((always_inline)) SIZE_T free_owner(HEXPERTKEY hk, nmx_key *k,
                                                               _Atomic(nmx_key *) *in, void *ptr)
{
    uint32_t idx;
    nmx_page *pg = nmx__locate_small(k->heap.tag, (uintptr_t)ptr, &idx);
    if (__builtin_expect(!pg, 0)) {
        nmx__owner_leave(in);
        return free_general(hk, ptr);
    }
    /* The counters (atomic stores, which the compiler orders against every
     * access) after the page's plain bookkeeping. */
    size_t req = nmx__block_req(pg, idx);
    int empty = nmx__page_release(&k->heap, pg, idx);
    count_free(k, req);
    if (__builtin_expect(empty, 0))
        return free_page_empty(k, pg, in);
    nmx__owner_leave(in);
    return NMERR_SUCCESS;
}

static __attribute__((noinline)) SIZE_T free_fenced(HEXPERTKEY hk, void *ptr, uint64_t s)
{
    nmx_key *k = nmx__t.k;
    _Atomic(nmx_key *) *in = &nmx__t.st->in;
    if (!nmx__owner_enter_fenced(k, in, nmx__key_exp(hk), s))
        return free_general(hk, ptr);
    return free_owner(hk, k, in, ptr);
}

NMX_API LPVOID WINAPI ExpertAllocMemory(HEXPERTKEY hk, SIZE_T n, DWORD *pError)
{
    nmx__stack_check();
    if (__builtin_expect(nmx__t.h == (uintptr_t)hk && n <= NMX_CLS_TABLE_MAX, 1)) {
        nmx_key *k = nmx__t.k;
        _Atomic(nmx_key *) *in = &nmx__t.st->in;
        uint64_t s = nmx__owner_publish(k, in);
        if (__builtin_expect(s == nmx__t.exp, 1))
            return alloc_owner(hk, k, in, n, pError);
        return alloc_fenced(hk, n, pError, s);
    }
    return alloc_general(hk, n, pError);
}

NMX_API SIZE_T WINAPI ExpertFreeMemory(HEXPERTKEY hk, LPVOID ptr)
{
    nmx__stack_check();
    if (__builtin_expect(nmx__t.h == (uintptr_t)hk, 1)) {
        nmx_key *k = nmx__t.k;
        _Atomic(nmx_key *) *in = &nmx__t.st->in;
        uint64_t s = nmx__owner_publish(k, in);
        if (__builtin_expect(s == nmx__t.exp, 1))
            return free_owner(hk, k, in, ptr);
        return free_fenced(hk, ptr, s);
    }
    return free_general(hk, ptr);
}

NMX_API SIZE_T WINAPI ExpertMemorySize(HEXPERTKEY hk, LPVOID ptr)
{
    nmx__stack_check();
    nmx_key *k;
    int mode = nmx__key_enter(hk, &k, 0);
    if (mode == NMX_ENTER_BAD) {
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
    nmx__key_leave(k, mode, 0);
    if (bad)
        call_hook(bad, hk, ptr);
    return size;
}

/* Realloc of a live block b (M5): in place, or move; b untouched on failure. */
static void *realloc_entered(nmx_key *k, void *ptr, const nmx_block *b, size_t n, DWORD *code)
{
    if (atomic_load_explicit(&k->state, memory_order_relaxed) & NMX_ST_TERM) {
        nmx__ctr_add(&k->st.failed_terminate, 1);
        *code = NMERR_EXPERT_TERMINATE;
        return NULL;
    }
    if (n > b->req && k->quota &&
        (n - b->req > k->quota || nmx__ctr(&k->st.live_bytes) > k->quota - (n - b->req))) {
        nmx__ctr_add(&k->st.failed_quota, 1);
        *code = NMERR_OUT_OF_MEMORY;
        return NULL;
    }
    void *q = ptr;
    if (!nmx__heap_resize_in_place(&k->heap, b, n)) {
        if ((q = nmx__heap_alloc(&k->heap, n)) == NULL) {
            nmx__ctr_add(&k->st.failed_oom, 1);
            *code = NMERR_OUT_OF_MEMORY;
            return NULL;
        }
        memcpy(q, ptr, n < b->req ? n : b->req);
        nmx__heap_free(&k->heap, b);
    }
    nmx__ctr_add(&k->st.reallocs, 1);
    if (n >= b->req)
        live_add(k, n - b->req);
    else
        nmx__ctr_sub(&k->st.live_bytes, b->req - n);
    *code = NMERR_SUCCESS;
    return q;
}

NMX_API LPVOID WINAPI ExpertReallocMemory(HEXPERTKEY hk, LPVOID ptr, SIZE_T n, DWORD *pError)
{
    nmx__stack_check();
    nmx_key *k;
    int mode = nmx__key_enter(hk, &k, 0);
    if (mode == NMX_ENTER_BAD) {
        bad_key(hk, ptr);
        set_err(pError, NMERR_INVALID_EXPERT_HANDLE);
        return NULL;
    }
    DWORD code;
    void *q = NULL;
    int bad = 0;
    nmx_block b;
    if (!ptr) {
        q = alloc_entered(k, n, &code);
    } else if ((bad = nmx__heap_locate(k->heap.tag, ptr, &b)) != 0) {
        report_bad(k, bad);
        code = NMERR_INVALID_PARAMETER;
    } else {
        q = realloc_entered(k, ptr, &b, n, &code);
    }
    nmx__key_leave(k, mode, 0);
    if (bad)
        call_hook(bad, hk, ptr);
    set_err(pError, code);
    return q;
}
