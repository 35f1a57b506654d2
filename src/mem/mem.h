/* Internal interface of the expert heap (src/mem). Nothing here is public.
 *
 * Layers, top to bottom:
 *   key.c      the Expert* entry points and nmx_key_*: validate the key and the
 *              pointer, exclude concurrent callers, keep the statistics.
 *   heap.c     one key's heap: size classes, pages, spans; assumes the caller
 *              holds the key exclusively and passes valid arguments.
 *   segment.c  4 MiB segments, the segment map, the global segment cache.
 *   os.c       the operating system: mmap, madvise, mprotect, membarrier.
 *
 * Memory layout of a segment (4 MiB, 4 MiB aligned), in 64 KiB pages:
 *   page 0..4   metadata: [guard 4 KiB][nmx_seg header][side metadata][guard 4 KiB]
 *   page 5..63  user data
 * A huge segment (one block too large for a segment) has the same guard and
 * header, a guard page just before 64 KiB, then the block from offset 64 KiB. No allocator state lives next to user data
 * (M8): live bitmaps and requested sizes are in the side metadata, and the guard
 * pages stop an overrun or underrun from reaching a header.
 */
#ifndef NMX_MEM_H
#define NMX_MEM_H

#include <nmexpert/host.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NMX_SEG_SHIFT 22
#define NMX_SEG_SIZE ((size_t)1 << NMX_SEG_SHIFT)
#define NMX_PAGE_SHIFT 16
#define NMX_PAGE_SIZE ((size_t)1 << NMX_PAGE_SHIFT)
#define NMX_PAGES_PER_SEG 64
#define NMX_FIRST_DATA_PAGE 5
#define NMX_DATA_PAGES (NMX_PAGES_PER_SEG - NMX_FIRST_DATA_PAGE)
#define NMX_GUARD_SIZE ((size_t)4096)
#define NMX_HUGE_DATA_OFFSET NMX_PAGE_SIZE

/* Size classes: 16-byte steps to 256, then 8 classes per doubling to 32 KiB.
 * Classes up to 8 KiB live in single 64 KiB pages, larger ones in 4-page spans
 * (at least 8 blocks each). Requests above 32 KiB get whole pages (a large
 * span); above what a segment can hold, a huge segment of their own. */
#define NMX_NCLASSES 72
#define NMX_SMALL_MAX ((size_t)32768)
#define NMX_LARGE_MAX ((size_t)NMX_DATA_PAGES * NMX_PAGE_SIZE)
#define NMX_MAX_ALLOC ((size_t)1 << 46) /* larger requests fail at once (M4) */
/* A small page's last freed block indices, newest on top, in side metadata
 * just before its live bitmap: an alloc pops one instead of scanning the
 * bitmap. A free that finds the stack full leaves its block to the scan. */
#define NMX_STACK_N 64
#define NMX_STACK_BYTES (NMX_STACK_N * sizeof(uint16_t))
#define NMX_RECIP_SHIFT 32 /* exact for offsets below 2^32 / bsize * bsize: any span */

enum { PAGE_FREE = 0, PAGE_SMALL, PAGE_LARGE, PAGE_TAIL };

/* A page descriptor: one cache line, hot fields first. */
typedef struct nmx_page {
    uint8_t kind;
    uint8_t cls;      /* PAGE_SMALL: size class */
    uint8_t touched;  /* its memory may hold non-zero bytes */
    uint8_t listed;   /* on its class's list of pages with free blocks */
    uint32_t bsize;   /* PAGE_SMALL: block size */
    uint16_t capacity, used, bump, scan; /* blocks; bump: never handed out from here on;
                                         * scan: no block left to the scan in a word below */
    union {
        uint32_t recip;     /* PAGE_SMALL: ceil(2^32 / bsize) */
        uint32_t large_req; /* PAGE_LARGE: requested size (<= NMX_LARGE_MAX) */
    } u;
    uint32_t live_off; /* live bitmap, as an offset from the segment base (its free-index
                        * stack the NMX_STACK_BYTES before) */
    uint32_t req_off;  /* per-block slack (uint8_t, or uint16_t above 4 KiB) */
    uint32_t data_off; /* the page's first byte, as an offset from the segment base */
    uint16_t npages;   /* PAGE_SMALL/LARGE: span length in pages */
    uint16_t head;     /* PAGE_TAIL: index of the span's first page */
    uint16_t meta_cap; /* bytes of side metadata reserved at live_off */
    uint8_t was;       /* PAGE_FREE: what it was before (to tell a double free) */
    uint8_t top;       /* PAGE_SMALL: entries on the page's free-index stack */
    /* The owning key's tag while kind is PAGE_SMALL, else 0: a free's first
     * check, owner and kind in one compare. Written by the owner (and by
     * release, under the owner's exclusion), read by any thread: atomic.
     * Never written by a plain store (seg_reset keeps it). */
    _Atomic uintptr_t tag;
    struct nmx_page *prev, *next; /* class list */
} __attribute__((aligned(64))) nmx_page;

struct nmx_key;

typedef struct nmx_seg {
    /* The owning key's tag (its handle value: {slot, generation}, never
     * issued twice), 0 while cached: a segment can never be taken for a
     * later key in the same slot. */
    _Atomic uintptr_t owner;
    uintptr_t last_owner; /* huge: the tag of the key that freed it (to tell a double free) */
    uint8_t huge, huge_live;
    size_t size;       /* bytes mapped */
    size_t huge_req;   /* huge: requested size */
    uint64_t free_mask; /* bit i: data page i (absolute index) is free */
    uint32_t meta_bump; /* next free byte of the side metadata area */
    uint8_t in_free_list;
    struct nmx_seg *next, *prev;           /* owner's segment list, or a cache list */
    struct nmx_seg *free_next, *free_prev; /* owner's segments with free pages */
    nmx_page pages[NMX_PAGES_PER_SEG] __attribute__((aligned(64)));
} nmx_seg;

static inline uintptr_t nmx_seg_base(const nmx_seg *s)
{
    return (uintptr_t)s - NMX_GUARD_SIZE;
}

static inline uintptr_t nmx_page_addr(const nmx_seg *s, size_t i)
{
    return nmx_seg_base(s) + (i << NMX_PAGE_SHIFT);
}

_Static_assert(sizeof(nmx_page) == 64, "a page descriptor is one cache line");
_Static_assert(NMX_LARGE_MAX <= UINT32_MAX, "large_req holds any large span's size");

/* One key's heap. Only touched while the key is held exclusively. */
typedef struct nmx_heap {
    uintptr_t tag;                 /* the key's tag, stamped on its segments */
    nmx_page *avail[NMX_NCLASSES]; /* pages of each class with a free block */
    nmx_seg *segs;                 /* regular segments */
    nmx_seg *with_free;            /* those with free pages */
    nmx_seg *huge;                 /* huge segments */
} nmx_heap;

/* ---- os.c ---- */
void *nmx__os_map_aligned(size_t size, size_t align); /* NULL on failure */
void nmx__os_decommit(void *p, size_t size);            /* contents become zero */
int nmx__os_guard(void *p, size_t size);
/* Read and write access back on [p, p+size): 0 done; 1 done by mapping the
 * range afresh (part of it was unmapped; it now reads as zero); -1 failed. */
int nmx__os_restore(void *p, size_t size);
int nmx__os_membarrier_init(void); /* 1 if the membarrier mode may be used (excl.c) */
int nmx__os_membarrier(void);      /* 0, or -1 if the barrier failed */
int nmx__os_flush_stores(void);    /* a barrier on every other thread without membarrier: 0 or -1 */

/* ---- segment.c ---- */

/* Two-level map over the 47-bit user address space, indexed by addr >> 22. */
#define NMX_MAP_L2_BITS 13
#define NMX_MAP_L1_BITS (47 - NMX_SEG_SHIFT - NMX_MAP_L2_BITS)
typedef _Atomic(nmx_seg *) nmx_map_leaf[1u << NMX_MAP_L2_BITS];
extern _Atomic(nmx_map_leaf *) nmx__seg_map[1u << NMX_MAP_L1_BITS];

/* Entries of the first level without a leaf of their own name this one,
 * all NULL (nmx__seg_init), so a lookup never tests for a missing leaf. */
extern nmx_map_leaf nmx__seg_map_empty;
void nmx__seg_init(void); /* once, before the first segment */

/* The entry for addr's 4 MiB unit, or for another unit when addr is beyond
 * the map (the kernel half, non-canonical): for a caller that then checks
 * the entry is addr's own segment, which no other unit's entry can be. */
static inline __attribute__((always_inline)) nmx_seg *nmx__seg_lookup_masked(uintptr_t addr)
{
    uintptr_t i = addr >> NMX_SEG_SHIFT;
    nmx_map_leaf *leaf =
        atomic_load_explicit(&nmx__seg_map[(i >> NMX_MAP_L2_BITS) & ((1u << NMX_MAP_L1_BITS) - 1)],
                             memory_order_acquire);
    return atomic_load_explicit(&(*leaf)[i & ((1u << NMX_MAP_L2_BITS) - 1)],
                                memory_order_acquire);
}

/* The segment holding addr, or NULL if it is not ours. Never touches addr. */
static inline __attribute__((always_inline)) nmx_seg *nmx__seg_lookup(uintptr_t addr)
{
    if ((addr >> NMX_SEG_SHIFT) >> (NMX_MAP_L1_BITS + NMX_MAP_L2_BITS))
        return NULL; /* kernel half or non-canonical */
    return nmx__seg_lookup_masked(addr);
}

nmx_seg *nmx__seg_acquire(uintptr_t owner);
nmx_seg *nmx__seg_acquire_huge(uintptr_t owner, size_t data_bytes);
void nmx__seg_release(nmx_seg *s); /* owner's exclusion held; s no longer owned */
void nmx__seg_stats(nmx_heap_stats *out);
void nmx__seg_fork_prepare(void); /* takes the cache's lock */
void nmx__seg_fork_parent(void);
void nmx__seg_fork_child(void);

/* ---- key.c, for src/host ---- */
void nmx__key_recover_thread(HEXPERTKEY key);
/* A pointer the host keeps on a key (its run), or NULL for a bad key. */
void nmx__key_set_context(HEXPERTKEY key, void *ctx);
void *nmx__key_context(HEXPERTKEY key);
int nmx__key_is_terminated(HEXPERTKEY key);
size_t nmx__key_block_quiet(HEXPERTKEY key, void *ptr, int release);

/* Hold a key for the length of a host service call made with it
 * (ExpertGetFrame, ExpertIndicateStatus, ...): a destroy waits until the hold
 * is released, so the key's context (the host's run) stays alive meanwhile.
 * Cheap on the key's owner thread (the memory calls' fast path: a store and
 * two loads, no atomic read-modify-write); any other thread takes the key's
 * mutex, as a foreign memory call does, so holds and memory calls on one key
 * exclude each other.
 *
 * nmx__key_hold returns the key's context (nmx__key_set_context) and fills
 * *h, or returns NULL holding nothing (h->k NULL) for a NULL, forged or
 * destroyed key. Whatever it returns, nmx__key_unhold(h) may follow (a no-op
 * when nothing is held). The holding thread must not make an Expert* memory
 * call on the same key, nor destroy it, before unholding (nesting is not
 * supported: it would wait for itself); calls on other keys are fine.
 * A fault while holding is released by nmx__key_recover_thread.
 * A hold does not stop nmx_key_terminate (which never waits). */
typedef struct nmx_key_hold {
    void *k;  /* the key held, or NULL */
    int mode; /* how it is held (key.c) */
} nmx_key_hold;
void *nmx__key_hold(HEXPERTKEY key, nmx_key_hold *h);
void nmx__key_unhold(nmx_key_hold *h);
/* 1 if the held key has been told to terminate (H4), else 0 (also for an
 * empty hold). */
int nmx__key_hold_terminated(const nmx_key_hold *h);
/* The requested size of ptr if it is a live block of the held key, else 0.
 * Never counted or reported as an invalid call; ptr is never read. */
size_t nmx__key_hold_block_size(const nmx_key_hold *h, const void *ptr);

/* How threads other than a key's owner get their barrier (excl.c):
 * "membarrier", "fence" or "locked" (no owner's path); for tests and logs. */
const char *nmx__excl_mode_name(void);

/* ---- heap.c (caller holds the key exclusively; arguments are valid) ---- */

/* Where a pointer lies, as found by nmx__heap_locate. */
typedef struct nmx_block {
    nmx_seg *seg;
    nmx_page *pg;
    uint32_t idx;
    size_t req; /* requested size */
} nmx_block;

void nmx__heap_init(nmx_heap *h, uintptr_t tag);
/* The per-call paths nmx__heap_alloc, nmx__heap_locate and nmx__heap_free are
 * inline, in heap_inline.h; these are their out-of-line slow parts. */
nmx_page *nmx__heap_page_new(nmx_heap *h, unsigned cls);
void *nmx__heap_alloc_big(nmx_heap *h, size_t n);
void nmx__heap_free_big(nmx_heap *h, const nmx_block *b);
void nmx__heap_page_empty(nmx_heap *h, nmx_page *pg);
/* Resize in place if the block's slot allows; returns 1 if done (tail zeroed). */
int nmx__heap_resize_in_place(nmx_heap *h, const nmx_block *b, size_t n);
void nmx__heap_destroy(nmx_heap *h); /* every segment back to the cache */

#endif
