/* nmexpert/host.h — what a host program sees: keys and their memory.
 *
 * An expert never includes this header (SPEC T3). A host creates one key per
 * expert run or Configure call, hands it to the expert as its HEXPERTKEY, and
 * destroys it when the expert returns; destroy reclaims every block the key
 * still holds and reports them as the leak ledger.
 *
 * Error convention: every function returns a Netmon code (NMERR_*, from
 * netmon.h); nmx_strerror() turns one into text.
 */
#ifndef NMEXPERT_HOST_H
#define NMEXPERT_HOST_H

#include <nmexpert/netmon.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Keys (SPEC M4, M9, M11, M12, M14)
 * ------------------------------------------------------------------------ */

typedef struct nmx_key_options {
    size_t quota_bytes; /* cap on requested live bytes; 0: no quota (M11) */
    const char *name;   /* copied (first 63 bytes); shown in logs; may be NULL */
} nmx_key_options;

/* Statistics of one key (M14). Byte counts are requested bytes, not the
 * allocator's rounded block sizes. Every field is maintained on every call,
 * so reading them never walks the heap. */
typedef struct nmx_mem_stats {
    uint64_t live_bytes, live_blocks, peak_bytes; /* requested bytes */
    uint64_t allocs, reallocs, frees;             /* successful calls */
    uint64_t failed_oom, failed_quota, failed_terminate;
    uint64_t bad_double_free, bad_foreign, bad_wrong_owner, bad_interior, bad_key;
} nmx_mem_stats;

/* Create a key. `opt` may be NULL (no quota, no name). On success *out holds
 * a new key, distinct from every key ever issued in this process, and the
 * result is NMERR_SUCCESS.
 * Errors: NMERR_INVALID_PARAMETER (out is NULL), NMERR_OUT_OF_MEMORY (no
 * memory for the key's table entry), NMERR_NO_HANDLES (2^20 keys alive). */
NMX_API DWORD nmx_key_create(const nmx_key_options *opt, HEXPERTKEY *out);

/* Tell the key's expert to stop (H4, M4-M6): from now on ExpertAllocMemory
 * and ExpertReallocMemory fail with NMERR_EXPERT_TERMINATE, and
 * ExpertFreeMemory still releases a live block but returns
 * NMERR_EXPERT_TERMINATE. Idempotent; safe from any thread at any time.
 * Errors: NMERR_INVALID_EXPERT_HANDLE. */
NMX_API DWORD nmx_key_terminate(HEXPERTKEY key);

/* Copy the key's current statistics into *out (M14). Cheap (no walk, no lock)
 * and safe from any thread while the key is in use; each field is exact, the
 * fields together are a snapshot only when no call is running on the key.
 * With key == NULL, *out receives the process-wide figures: allocs,
 * reallocs, frees, failures and invalid calls summed over every key ever
 * created; live_bytes and live_blocks summed over the live keys; peak_bytes
 * the highest peak of any key; and bad_key, the calls made with a NULL,
 * forged or destroyed key (which belong to no key and count only here).
 * Errors: NMERR_INVALID_PARAMETER (out NULL), NMERR_INVALID_EXPERT_HANDLE. */
NMX_API DWORD nmx_key_stats(HEXPERTKEY key, nmx_mem_stats *out);

/* Destroy a key (M12). Releases every block the key still holds in time
 * proportional to its pages, not its blocks. If `final` is not NULL it
 * receives the key's last statistics; its live_bytes and live_blocks are what
 * destroy reclaimed: the leak ledger. Calls racing with destroy on this key
 * either complete before the reclaim or fail with
 * NMERR_INVALID_EXPERT_HANDLE; afterwards the key is invalid forever.
 * Blocks of a destroyed key must not be touched: their memory is reused.
 * Errors: NMERR_INVALID_EXPERT_HANDLE (already destroyed, NULL, forged). */
NMX_API DWORD nmx_key_destroy(HEXPERTKEY key, nmx_mem_stats *final);

/* Copy the key's name (NUL-terminated, cut to fit) into buf. An unnamed key
 * gives "". Errors: NMERR_INVALID_PARAMETER (buf NULL or len 0),
 * NMERR_INVALID_EXPERT_HANDLE. */
NMX_API DWORD nmx_key_name(HEXPERTKEY key, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Invalid calls (M9)
 * ------------------------------------------------------------------------ */

typedef enum nmx_bad_kind {
    NMX_BAD_DOUBLE_FREE = 1, /* a block start of this key that is not live */
    NMX_BAD_FOREIGN,         /* not memory this allocator hands out */
    NMX_BAD_WRONG_OWNER,     /* a block that belongs to another key */
    NMX_BAD_INTERIOR,        /* inside this key's memory, not at a block start */
    NMX_BAD_KEY              /* NULL, never issued, or destroyed key */
} nmx_bad_kind;

/* Called for every invalid call, after the call has been refused and on the
 * thread that made it. `fn` must not call back into the key API of the same
 * key. The default (fn NULL) is the error code alone: nothing is printed and
 * nothing aborts. */
typedef void (*nmx_bad_call_fn)(nmx_bad_kind kind, HEXPERTKEY key, const void *ptr,
                                void *ctx);

/* Install (or, with fn NULL, remove) the process-wide invalid-call hook. */
NMX_API void nmx_set_bad_call_hook(nmx_bad_call_fn fn, void *ctx);

/* A short English name for a kind ("double free", ...); "?" when unknown. */
NMX_API const char *nmx_bad_kind_name(nmx_bad_kind kind);

/* ------------------------------------------------------------------------
 * The allocator as a whole
 * ------------------------------------------------------------------------ */

typedef struct nmx_heap_stats {
    uint64_t segments_in_use;   /* 4 MiB segments held by live keys */
    uint64_t segments_cached;   /* resident, ready for reuse without faults */
    uint64_t segments_released; /* reserved, pages returned to the OS */
    uint64_t huge_bytes_in_use; /* blocks too large for a segment */
    uint64_t keys_live;
    uint64_t cache_limit_bytes;
} nmx_heap_stats;

/* Fill *out with the allocator's global figures. Errors: NMERR_INVALID_PARAMETER. */
NMX_API DWORD nmx_heap_stats_get(nmx_heap_stats *out);

/* Set how many bytes of released segments stay resident for reuse (default
 * 64 MiB, or NMEXPERT_CACHE_MB from the environment at first use). Memory
 * released beyond it goes back to the OS. Trims the cache to the new limit
 * before it returns. Always succeeds. */
NMX_API void nmx_heap_set_cache_limit(size_t bytes);

/* Give back to the OS, before returning, the released memory beyond the cache
 * limit. Without this call the same happens moments after each destroy, on a
 * background thread the library starts the first time it is needed (all
 * signals blocked there), so that destroy itself stays O(segments). */
NMX_API void nmx_heap_trim(void);

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Text for a Netmon error code ("NMERR_OUT_OF_MEMORY: no memory available");
 * never NULL; unknown codes give "unknown error". Static storage. */
NMX_API const char *nmx_strerror(DWORD code);

#ifdef __cplusplus
}
#endif

#endif
