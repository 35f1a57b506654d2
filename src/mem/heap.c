/* One key's heap: size classes, pages and spans inside the key's segments.
 *
 * Everything here runs with the key held exclusively (key.c) and trusts its
 * arguments; the one function that looks at untrusted input, nmx__heap_locate,
 * decides from the segment map and out-of-line metadata alone and never
 * dereferences the pointer it is given (M8).
 *
 * Zero-fill (M1, M13): memory fresh from the OS or given back with
 * MADV_DONTNEED is zero. A block is memset only when it may be dirty: a block
 * reused inside its page, or a page that held data before it was re-formatted.
 * Blocks past a page's `bump` index have never been handed out since the page
 * was formatted, so they are known to be zero.
 */
#include "mem/heap_inline.h"

#include <assert.h>
#include <string.h>

nmx_cls_info nmx__cls[NMX_NCLASSES];
uint8_t nmx__cls_small[NMX_CLS_TABLE_MAX / 16 + 1];
static pthread_once_t g_cls_once = PTHREAD_ONCE_INIT;

static void classes_init(void)
{
    nmx__seg_init();
    for (unsigned c = 0; c < NMX_NCLASSES; c++) {
        uint32_t bs;
        if (c < 16) {
            bs = (c + 1) * 16;
        } else {
            unsigned e = 8 + (c - 16) / 8, sub = (c - 16) % 8;
            bs = (1u << e) + ((sub + 1) << (e - 3));
        }
        nmx_cls_info *ci = &nmx__cls[c];
        ci->bsize = bs;
        ci->npages = bs <= 8192 ? 1 : 4;
        ci->capacity = (uint16_t)((ci->npages * NMX_PAGE_SIZE) / bs);
        /* One bit more than blocks, always 0: nmx__locate_small leaves the
         * index bound to that bit (an index just past the last block, the
         * only one an offset inside the head page can give). */
        ci->bitmap_bytes = (uint32_t)((ci->capacity + 64u) / 64u * 8u);
        uint32_t slack = bs > 4096 ? 2u : 1u;
        ci->meta_bytes = (uint32_t)NMX_STACK_BYTES + ci->bitmap_bytes +
                         ((ci->capacity * slack + 7u) & ~7u);
        ci->recip = (uint32_t)((((uint64_t)1 << NMX_RECIP_SHIFT) + bs - 1) / bs);
    }
    for (unsigned i = 0; i <= 1024 / 16; i++) {
        size_t n = i * 16, m = n ? n - 1 : 0;
        unsigned e = m ? 63u - (unsigned)__builtin_clzll(m) : 0;
        nmx__cls_small[i] = (uint8_t)(n <= 256 ? (n ? (n - 1) >> 4 : 0)
                                             : 16u + (e - 8u) * 8u + ((m >> (e - 3u)) & 7u));
    }
    for (unsigned c = 0; c < NMX_NCLASSES; c++)
        assert(nmx__class_of(nmx__cls[c].bsize) == c && (nmx__cls[c].bsize % 16) == 0);
    assert(nmx__cls[nmx__class_of(4096)].bsize == 4096); /* nmx__set_block_req */
}

void nmx__heap_init(nmx_heap *h, uintptr_t tag)
{
    pthread_once(&g_cls_once, classes_init);
    memset(h, 0, sizeof *h);
    h->tag = tag;
}

static void seg_list_push(nmx_seg **head, nmx_seg *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
}

static void seg_list_remove(nmx_seg **head, nmx_seg *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void with_free_add(nmx_heap *h, nmx_seg *s)
{
    if (s->in_free_list)
        return;
    s->free_prev = NULL;
    s->free_next = h->with_free;
    if (h->with_free)
        h->with_free->free_prev = s;
    h->with_free = s;
    s->in_free_list = 1;
}

static void with_free_remove(nmx_heap *h, nmx_seg *s)
{
    if (!s->in_free_list)
        return;
    if (s->free_prev)
        s->free_prev->free_next = s->free_next;
    else
        h->with_free = s->free_next;
    if (s->free_next)
        s->free_next->free_prev = s->free_prev;
    s->free_next = s->free_prev = NULL;
    s->in_free_list = 0;
}

/* ---- page runs ---- */

static inline uint64_t run_mask(unsigned first, unsigned k)
{
    return (k == 64 ? ~(uint64_t)0 : (((uint64_t)1 << k) - 1)) << first;
}

/* First index of k consecutive free pages in mask, or -1. */
static int find_run(uint64_t mask, unsigned k)
{
    uint64_t run = mask;
    for (unsigned i = 1; i < k && run; i++)
        run &= mask >> i;
    return run ? __builtin_ctzll(run) : -1;
}

static void take_pages(nmx_heap *h, nmx_seg *s, unsigned first, unsigned k)
{
    s->free_mask &= ~run_mask(first, k);
    if (!s->free_mask)
        with_free_remove(h, s);
}

static void give_pages(nmx_heap *h, nmx_seg *s, unsigned first, unsigned k)
{
    for (unsigned i = first; i < first + k; i++) {
        /* Keep the class and head fields: a later free of a block that was
         * here is then told apart as a double free, not an interior pointer. */
        s->pages[i].was = s->pages[i].kind;
        s->pages[i].kind = PAGE_FREE;
        atomic_store_explicit(&s->pages[i].tag, 0, memory_order_relaxed);
        s->pages[i].listed = 0;
    }
    s->free_mask |= run_mask(first, k);
    with_free_add(h, s);
}

static nmx_seg *new_segment(nmx_heap *h)
{
    nmx_seg *s = nmx__seg_acquire(h->tag);
    if (!s)
        return NULL;
    seg_list_push(&h->segs, s);
    with_free_add(h, s);
    return s;
}

/* Finds k free consecutive pages in this key's segments, or in a new one. */
static nmx_seg *find_pages(nmx_heap *h, unsigned k, unsigned *first)
{
    for (nmx_seg *s = h->with_free; s; s = s->free_next) {
        int i = find_run(s->free_mask, k);
        if (i >= 0) {
            *first = (unsigned)i;
            return s;
        }
    }
    nmx_seg *s = new_segment(h);
    if (!s)
        return NULL;
    *first = NMX_FIRST_DATA_PAGE;
    return s;
}

static void zero_if_touched(nmx_seg *s, unsigned first, unsigned k, size_t bytes)
{
    for (unsigned i = first; i < first + k && bytes; i++) {
        size_t part = bytes < NMX_PAGE_SIZE ? bytes : NMX_PAGE_SIZE;
        if (s->pages[i].touched)
            memset((void *)nmx_page_addr(s, i), 0, part);
        s->pages[i].touched = 1;
        bytes -= part;
    }
}

static void mark_tails(nmx_seg *s, unsigned first, unsigned k)
{
    for (unsigned i = first + 1; i < first + k; i++) {
        s->pages[i].kind = PAGE_TAIL;
        s->pages[i].head = (uint16_t)first;
        s->pages[i].touched = 1;
    }
}

/* Side metadata for a page of class c (free-index stack, live bitmap,
 * slack; the reservation starts at live_off - NMX_STACK_BYTES): reuses the page's earlier reservation
 * when large enough, else takes fresh bytes from the segment's metadata area. */
static int page_meta(nmx_seg *s, nmx_page *pg, const nmx_cls_info *ci)
{
    if (pg->meta_cap < ci->meta_bytes) {
        size_t end = NMX_FIRST_DATA_PAGE * NMX_PAGE_SIZE - NMX_GUARD_SIZE;
        if (s->meta_bump + ci->meta_bytes > end)
            return -1;
        pg->live_off = s->meta_bump + (uint32_t)NMX_STACK_BYTES;
        pg->meta_cap = (uint16_t)ci->meta_bytes;
        s->meta_bump += ci->meta_bytes;
    }
    pg->req_off = pg->live_off + ci->bitmap_bytes;
    memset(nmx__page_live(pg), 0, ci->bitmap_bytes);
    return 0;
}

nmx_page *nmx__heap_page_new(nmx_heap *h, unsigned c)
{
    const nmx_cls_info *ci = &nmx__cls[c];
    unsigned first;
    nmx_seg *s = find_pages(h, ci->npages, &first);
    if (!s)
        return NULL;
    if (page_meta(s, &s->pages[first], ci) != 0) {
        /* This segment's metadata area is used up by earlier formats: a fresh
         * segment always has room. */
        s = new_segment(h);
        if (!s)
            return NULL;
        first = NMX_FIRST_DATA_PAGE;
        (void)page_meta(s, &s->pages[first], ci);
    }
    take_pages(h, s, first, ci->npages);
    zero_if_touched(s, first, ci->npages, ci->npages * NMX_PAGE_SIZE);
    mark_tails(s, first, ci->npages);
    nmx_page *pg = &s->pages[first];
    pg->kind = PAGE_SMALL;
    pg->cls = (uint8_t)c;
    pg->npages = ci->npages;
    pg->bsize = ci->bsize;
    pg->capacity = ci->capacity;
    pg->u.recip = ci->recip;
    pg->data_off = (uint32_t)((size_t)first << NMX_PAGE_SHIFT);
    pg->used = pg->bump = pg->scan = 0;
    pg->top = 0;
    atomic_store_explicit(&pg->tag, h->tag, memory_order_relaxed);
    nmx__page_push(&h->avail[c], pg);
    return pg;
}

void nmx__page_leave_to_scan(nmx_page *pg, uint32_t idx)
{
    if ((idx >> 6) < pg->scan)
        pg->scan = (uint16_t)(idx >> 6);
}

static void *alloc_large(nmx_heap *h, size_t n)
{
    unsigned k = (unsigned)((n + NMX_PAGE_SIZE - 1) >> NMX_PAGE_SHIFT);
    unsigned first;
    nmx_seg *s = find_pages(h, k, &first);
    if (!s)
        return NULL;
    take_pages(h, s, first, k);
    zero_if_touched(s, first, k, n);
    mark_tails(s, first, k);
    nmx_page *pg = &s->pages[first];
    pg->kind = PAGE_LARGE;
    pg->data_off = (uint32_t)((size_t)first << NMX_PAGE_SHIFT);
    pg->npages = (uint16_t)k;
    pg->u.large_req = (uint32_t)n;
    return (void *)nmx_page_addr(s, first);
}

static void *alloc_huge(nmx_heap *h, size_t n)
{
    nmx_seg *s = nmx__seg_acquire_huge(h->tag, n);
    if (!s)
        return NULL;
    s->huge_live = 1;
    s->huge_req = n; /* the data pages are fresh or decommitted: zero */
    seg_list_push(&h->huge, s);
    return (void *)(nmx_seg_base(s) + NMX_HUGE_DATA_OFFSET);
}

int nmx__heap_resize_in_place(nmx_heap *h, const nmx_block *b, size_t n)
{
    nmx_seg *s = b->seg;
    nmx_page *pg = b->pg;
    if (s->huge) {
        size_t cap = s->size - NMX_HUGE_DATA_OFFSET;
        if (n <= NMX_LARGE_MAX || n > cap || n <= cap / 2)
            return 0;
        s->huge_req = n;
    } else if (pg->kind == PAGE_LARGE) {
        if (n <= NMX_SMALL_MAX || n > NMX_LARGE_MAX)
            return 0;
        size_t cap = (size_t)pg->npages << NMX_PAGE_SHIFT;
        if (n > cap) {
            /* Grow the span over free pages that follow it, if there are. */
            unsigned first = (unsigned)nmx__page_index(pg);
            unsigned k = (unsigned)((n + NMX_PAGE_SIZE - 1) >> NMX_PAGE_SHIFT);
            unsigned extra = k - pg->npages;
            if (first + k > NMX_PAGES_PER_SEG ||
                (s->free_mask & run_mask(first + pg->npages, extra)) !=
                    run_mask(first + pg->npages, extra))
                return 0;
            take_pages(h, s, first + pg->npages, extra);
            mark_tails(s, first, k);
            pg->npages = (uint16_t)k;
        } else if (n <= cap / 2) {
            return 0;
        }
        pg->u.large_req = (uint32_t)n;
    } else {
        if (n > NMX_SMALL_MAX || nmx__class_of(n) != pg->cls)
            return 0;
        nmx__set_block_req(pg, b->idx, n);
    }
    if (n > b->req)
        memset((unsigned char *)nmx__heap_block_addr(b) + b->req, 0, n - b->req);
    return 1;
}

void *nmx__heap_alloc_big(nmx_heap *h, size_t n)
{
    if (n <= NMX_LARGE_MAX)
        return alloc_large(h, n);
    return n <= NMX_MAX_ALLOC ? alloc_huge(h, n) : NULL;
}

void nmx__heap_free_big(nmx_heap *h, const nmx_block *b)
{
    nmx_seg *s = b->seg;
    if (s->huge) {
        seg_list_remove(&h->huge, s);
        s->last_owner = atomic_load_explicit(&s->owner, memory_order_relaxed);
        nmx__seg_release(s);
    } else {
        give_pages(h, s, (unsigned)nmx__page_index(b->pg), b->pg->npages);
    }
}

/* An empty page that is not its class's only one goes back to the segment,
 * so that other classes and spans can use it. */
void nmx__heap_page_empty(nmx_heap *h, nmx_page *pg)
{
    nmx__page_unlist(&h->avail[pg->cls], pg);
    give_pages(h, nmx__seg_of_page(pg), (unsigned)nmx__page_index(pg), pg->npages);
}

void nmx__heap_destroy(nmx_heap *h)
{
    /* One pass over segments: blocks are never visited (M12). */
    while (h->segs) {
        nmx_seg *s = h->segs;
        seg_list_remove(&h->segs, s);
        nmx__seg_release(s);
    }
    while (h->huge) {
        nmx_seg *s = h->huge;
        seg_list_remove(&h->huge, s);
        nmx__seg_release(s);
    }
    uintptr_t tag = h->tag;
    memset(h, 0, sizeof *h);
    h->tag = tag;
}
