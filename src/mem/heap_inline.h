/* The heap's per-call paths, inline so that an Expert* call on a small block
 * is one function: locate, alloc and free of small blocks never leave it.
 * Slow parts (formatting a page, large and huge blocks) are in heap.c.
 * Same rules as heap.c: the caller holds the key exclusively. */
#ifndef NMX_HEAP_INLINE_H
#define NMX_HEAP_INLINE_H

#include "mem/mem.h"

#include <string.h>

typedef struct nmx_cls_info {
    uint32_t bsize;
    uint16_t capacity, npages;
    uint32_t bitmap_bytes, meta_bytes;
    uint32_t recip;
} nmx_cls_info;

extern nmx_cls_info nmx__cls[NMX_NCLASSES];
#define NMX_CLS_TABLE_MAX 1024
extern uint8_t nmx__cls_small[NMX_CLS_TABLE_MAX / 16 + 1]; /* class of n <= 1 KiB by (n + 15) / 16 */

static inline unsigned nmx__class_of(size_t n)
{
    if (n <= 1024)
        return nmx__cls_small[(n + 15) >> 4];
    size_t m = n - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(m);
    return 16u + (e - 8u) * 8u + (unsigned)((m >> (e - 3u)) & 7u);
}

static inline uintptr_t nmx__page_seg_base(const nmx_page *pg)
{
    return (uintptr_t)pg & ~(uintptr_t)(NMX_SEG_SIZE - 1);
}

static inline nmx_seg *nmx__seg_of_page(const nmx_page *pg)
{
    return (nmx_seg *)(nmx__page_seg_base(pg) + NMX_GUARD_SIZE);
}

static inline size_t nmx__page_index(const nmx_page *pg)
{
    return (size_t)(pg - nmx__seg_of_page(pg)->pages);
}

static inline unsigned char *nmx__page_start(const nmx_page *pg)
{
    return (unsigned char *)(nmx__page_seg_base(pg) + pg->data_off);
}

static inline uint64_t *nmx__page_live(const nmx_page *pg)
{
    return (uint64_t *)(nmx__page_seg_base(pg) + pg->live_off);
}

static inline uint16_t *nmx__page_stack(const nmx_page *pg)
{
    return (uint16_t *)(nmx__page_seg_base(pg) + pg->live_off - NMX_STACK_BYTES);
}

static inline size_t nmx__block_req(const nmx_page *pg, uint32_t idx)
{
    uintptr_t r = nmx__page_seg_base(pg) + pg->req_off;
    size_t slack = __builtin_expect(pg->bsize > 4096, 0) ? ((const uint16_t *)r)[idx]
                                                         : ((const uint8_t *)r)[idx];
    return pg->bsize - slack;
}

/* n is of pg's class. 4096 is a class's block size, so bsize > 4096 just when
 * n > 4096: a caller that knows n small has no test left. */
static inline void nmx__set_block_req(nmx_page *pg, uint32_t idx, size_t n)
{
    uintptr_t r = nmx__page_seg_base(pg) + pg->req_off;
    size_t slack = pg->bsize - n;
    if (__builtin_expect(n > 4096, 0))
        ((uint16_t *)r)[idx] = (uint16_t)slack;
    else
        ((uint8_t *)r)[idx] = (uint8_t)slack;
}

/* A class's list of pages with a free block. The head's prev is stale (the
 * head is told by *head == pg), so that taking the head off, which every
 * page that fills does, writes nothing in the page after it. Every other
 * page's prev is its predecessor. An unlisted page's links are stale. */
static inline void nmx__page_push(nmx_page **head, nmx_page *pg)
{
    pg->next = *head;
    if (*head)
        (*head)->prev = pg;
    *head = pg;
    pg->listed = 1;
}

static inline void nmx__page_unlist(nmx_page **head, nmx_page *pg)
{
    if (*head == pg) {
        *head = pg->next;
    } else {
        pg->prev->next = pg->next;
        if (pg->next)
            pg->next->prev = pg->prev;
    }
    pg->prev = pg->next = NULL;
    pg->listed = 0;
}

/* Takes pg, the head of its class's list, off the list. */
static inline void nmx__page_pop(nmx_page **head, nmx_page *pg)
{
    *head = pg->next;
    pg->listed = 0;
}

/* A free block of pg below bump that no free-index stack entry names (the
 * stack is empty, used < bump): the first clear live bit from pg->scan. */
static inline uint32_t nmx__page_scan(nmx_page *pg, const uint64_t *live)
{
    unsigned w = pg->scan;
    while (live[w] == ~(uint64_t)0)
        w++;
    pg->scan = (uint16_t)w;
    return w * 64u + (uint32_t)__builtin_ctzll(~live[w]);
}

/* Hands out block idx of pg for n bytes: its live bit, its slack, pg off its
 * class's list if that was its last free block. Returns the block. */
static inline __attribute__((always_inline)) unsigned char *nmx__page_take(nmx_heap *h,
                                                                           nmx_page *pg,
                                                                           uint32_t idx, size_t n)
{
    nmx__page_live(pg)[idx >> 6] |= (uint64_t)1 << (idx & 63);
    nmx__set_block_req(pg, idx, n);
    if (++pg->used == pg->capacity)
        nmx__page_pop(&h->avail[pg->cls], pg);
    return nmx__page_start(pg) + (size_t)idx * pg->bsize;
}

/* Takes a zero-filled block of n bytes from pg, the first page on the list
 * of n's class (every page there has a free block): the last block freed
 * (the top of the page's free-index stack), else one the stack had no room
 * for, else the next never handed out since formatting (zero already). */
static inline __attribute__((always_inline)) void *nmx__page_alloc(nmx_heap *h, nmx_page *pg,
                                                                   size_t n)
{
    if (__builtin_expect(pg->top != 0, 1))
        return memset(nmx__page_take(h, pg, nmx__page_stack(pg)[--pg->top], n), 0, n);
    if (pg->used < pg->bump)
        return memset(nmx__page_take(h, pg, nmx__page_scan(pg, nmx__page_live(pg)), n), 0, n);
    return nmx__page_take(h, pg, pg->bump++, n);
}

/* A zero-filled block of n bytes, or NULL when memory is refused. */
static inline __attribute__((always_inline)) void *nmx__heap_alloc(nmx_heap *h, size_t n)
{
    if (n > NMX_SMALL_MAX)
        return nmx__heap_alloc_big(h, n);
    unsigned c = nmx__class_of(n);
    nmx_page *pg = h->avail[c];
    if (!pg && !(pg = nmx__heap_page_new(h, c)))
        return NULL;
    return nmx__page_alloc(h, pg, n);
}

/* The common case of nmx__heap_locate: a is the start of a live block of
 * the key tagged `owner` in a small-class page (not in a span's tail page). Returns the
 * page and sets *idx, or returns NULL when anything else holds, and then
 * nmx__heap_locate decides. a is never read.
 *
 * The segment map says whether a's 4 MiB unit starts one of our segments
 * (then its header is mapped and readable); the page's tag is the owner's
 * only while the page is a small-class page of that key (0 in headers'
 * pages, huge segments, spans' tails, large and free pages). */
static inline __attribute__((always_inline)) nmx_page *nmx__locate_small(uintptr_t owner,
                                                                         uintptr_t a,
                                                                         uint32_t *idx)
{
    uintptr_t base = a & ~(uintptr_t)(NMX_SEG_SIZE - 1);
    if ((uintptr_t)nmx__seg_lookup_masked(a) != base + NMX_GUARD_SIZE)
        return NULL;
    /* pg from base, not from the map's entry: the compiler then knows pg's
     * segment base (nmx__page_seg_base) is base. */
    nmx_page *pg = (nmx_page *)(base + NMX_GUARD_SIZE + offsetof(nmx_seg, pages) +
                                ((a >> NMX_PAGE_SHIFT) & (NMX_PAGES_PER_SEG - 1)) * sizeof(nmx_page));
    if (atomic_load_explicit(&pg->tag, memory_order_relaxed) != owner)
        return NULL;
    size_t off = a & (NMX_PAGE_SIZE - 1);
    /* An offset inside the page gives i <= capacity, and bit `capacity` is
     * never set (classes_init), so the live bit bounds i too. */
    uint32_t i = (uint32_t)((off * pg->u.recip) >> NMX_RECIP_SHIFT);
    if ((size_t)i * pg->bsize != off || !(nmx__page_live(pg)[i >> 6] & ((uint64_t)1 << (i & 63))))
        return NULL;
    *idx = i;
    return pg;
}

/* The kind of a bad pointer into a free page of its key: a double free if it
 * is where a block of the page's last use started, else an interior pointer. */
static inline int nmx__freed_page_kind(nmx_seg *s, nmx_page *pg, uintptr_t a, size_t off)
{
    if (pg->was == PAGE_TAIL && s->pages[pg->head].kind == PAGE_FREE) {
        off = a - nmx_page_addr(s, pg->head);
        pg = &s->pages[pg->head];
    }
    if (pg->was == PAGE_SMALL) {
        size_t idx = (off * pg->u.recip) >> NMX_RECIP_SHIFT;
        return idx * pg->bsize == off && idx < pg->capacity ? NMX_BAD_DOUBLE_FREE
                                                            : NMX_BAD_INTERIOR;
    }
    return off ? NMX_BAD_INTERIOR : NMX_BAD_DOUBLE_FREE;
}

/* 0 when p is a live block of the key tagged `owner` (b filled in), else an
 * nmx_bad_kind. Decides from the segment map and out-of-line metadata: p is
 * never read. */
static inline int nmx__heap_locate(uintptr_t owner, const void *p, nmx_block *b)
{
    uintptr_t a = (uintptr_t)p;
    if ((b->pg = nmx__locate_small(owner, a, &b->idx)) != NULL) {
        b->seg = nmx__seg_of_page(b->pg);
        b->req = nmx__block_req(b->pg, b->idx);
        return 0;
    }
    nmx_seg *s = nmx__seg_lookup(a);
    if (!s)
        return NMX_BAD_FOREIGN;
    uintptr_t o = atomic_load_explicit(&s->owner, memory_order_acquire);
    uintptr_t base = nmx_seg_base(s);
    if (o != owner) {
        /* A huge block's segment is released by its free: a second free of
         * it is told by who released it (read racily: a hint for the kind). */
        if (!o && s->huge && a == base + NMX_HUGE_DATA_OFFSET && s->last_owner == owner)
            return NMX_BAD_DOUBLE_FREE;
        return o ? NMX_BAD_WRONG_OWNER : NMX_BAD_FOREIGN;
    }
    b->seg = s;
    if (s->huge) {
        if (a != base + NMX_HUGE_DATA_OFFSET)
            return a < base + NMX_HUGE_DATA_OFFSET ? NMX_BAD_FOREIGN : NMX_BAD_INTERIOR;
        if (!s->huge_live)
            return NMX_BAD_DOUBLE_FREE;
        b->req = s->huge_req;
        return 0;
    }
    size_t pi = (a - base) >> NMX_PAGE_SHIFT;
    if (pi < NMX_FIRST_DATA_PAGE)
        return NMX_BAD_FOREIGN; /* the segment's own metadata */
    nmx_page *pg = &s->pages[pi];
    size_t off = a & (NMX_PAGE_SIZE - 1);
    if (pg->kind == PAGE_TAIL) {
        size_t head = pg->head;
        pg = &s->pages[head];
        off = a - nmx_page_addr(s, head);
        if (pg->kind == PAGE_LARGE)
            return NMX_BAD_INTERIOR;
    }
    b->pg = pg;
    if (pg->kind == PAGE_SMALL) {
        uint32_t idx = (uint32_t)((off * pg->u.recip) >> NMX_RECIP_SHIFT);
        if ((size_t)idx * pg->bsize != off || idx >= pg->capacity)
            return NMX_BAD_INTERIOR;
        if (!(nmx__page_live(pg)[idx >> 6] & ((uint64_t)1 << (idx & 63))))
            return NMX_BAD_DOUBLE_FREE;
        b->idx = idx;
        b->req = nmx__block_req(pg, idx);
        return 0;
    }
    if (pg->kind == PAGE_FREE)
        return nmx__freed_page_kind(s, pg, a, off);
    if (off)
        return NMX_BAD_INTERIOR;
    b->req = pg->u.large_req;
    return 0;
}

/* Block idx of pg, just freed, is left for nmx__page_scan (its free-index
 * stack is full). Out of line (heap.c): rare, and it keeps the free's
 * registers few. */
__attribute__((cold)) void nmx__page_leave_to_scan(nmx_page *pg, uint32_t idx);

/* Releases block idx of the small-class page pg. Returns 1 if pg is now
 * empty and not its class's only page: the caller then hands it to
 * nmx__heap_page_empty (out of line, so that the fast path makes no call). */
static inline __attribute__((always_inline)) int nmx__page_release(nmx_heap *h, nmx_page *pg,
                                                                   uint32_t idx)
{
    nmx__page_live(pg)[idx >> 6] &= ~((uint64_t)1 << (idx & 63));
    pg->used--;
    if (__builtin_expect(pg->top < NMX_STACK_N, 1))
        nmx__page_stack(pg)[pg->top++] = (uint16_t)idx;
    else
        nmx__page_leave_to_scan(pg, idx);
    if (!pg->listed) {
        nmx__page_push(&h->avail[pg->cls], pg);
        return 0;
    }
    return pg->used == 0 && (pg->next || h->avail[pg->cls] != pg);
}

static inline void nmx__page_free(nmx_heap *h, nmx_page *pg, uint32_t idx)
{
    if (nmx__page_release(h, pg, idx))
        nmx__heap_page_empty(h, pg);
}

/* Releases the block nmx__heap_locate found. */
static inline void nmx__heap_free(nmx_heap *h, const nmx_block *b)
{
    if (b->pg && b->pg->kind == PAGE_SMALL)
        nmx__page_free(h, b->pg, b->idx);
    else
        nmx__heap_free_big(h, b);
}

static inline void *nmx__heap_block_addr(const nmx_block *b)
{
    if (b->seg->huge)
        return (void *)(nmx_seg_base(b->seg) + NMX_HUGE_DATA_OFFSET);
    unsigned char *p = nmx__page_start(b->pg);
    return b->pg->kind == PAGE_LARGE ? p : p + (size_t)b->idx * b->pg->bsize;
}

#endif
