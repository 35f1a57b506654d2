/* Expert memory, single-threaded behaviour (SPEC M1-M9, M11-M14) and the key
 * API of nmexpert/host.h. Concurrency (M10) is tested elsewhere.
 *
 * Every test names the rule it pins. The tests are black-box except where a
 * test must know where memory is mapped in order to stay inside it: those use
 * the layout documented in src/mem/mem.h (4 MiB segments aligned on 4 MiB,
 * 64 KiB pages, data from page 5, guard pages before the header and before
 * the data, huge blocks at offset 64 KiB of their own segment), repeated below
 * as SEG_SIZE etc. and only ever used to pick addresses to write to or to hand
 * in as bad pointers, never to decide what the right answer is.
 *
 * Process-wide state the tests change (the cache limit, the bad-call hook) is
 * put back by the test that changed it.
 */
#define _GNU_SOURCE
#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "mem_util.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SANITIZED 1
#endif
#endif

/* The layout of src/mem/mem.h (see the comment at the top). */
#define SEG_SIZE ((size_t)4 << 20)
#define PAGE_64K ((size_t)64 << 10)
#define FIRST_DATA_PAGE 5
#define LARGE_MAX ((size_t)59 * PAGE_64K) /* largest block inside a segment */

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)
#define JUNK 0xDEADBEEFu /* a value no call sets *pError to */

/* A CHECK with a printf-style explanation; quiet after 20 failures in a test
 * so that a loop over thousands of sizes does not flood the log. */
#define CHECK_MSG(cond, ...)                                                     \
    do {                                                                         \
        if (!(cond)) {                                                           \
            if (check_failures_ < 20) {                                          \
                fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, \
                        #cond);                                                  \
                fprintf(stderr, __VA_ARGS__);                                    \
                fputc('\n', stderr);                                             \
            }                                                                    \
            check_failures_++;                                                   \
        }                                                                        \
    } while (0)

static int g_global; /* its address is a foreign pointer */

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------ */

static HEXPERTKEY key_new(size_t quota, const char *name)
{
    nmx_key_options o = {quota, name};
    HEXPERTKEY k = NULL;
    DWORD rc = nmx_key_create(&o, &k);
    CHECK_EQ(rc, NMERR_SUCCESS);
    CHECK(k != NULL);
    return k;
}

static void key_end(HEXPERTKEY k)
{
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
}

static nmx_mem_stats kst(HEXPERTKEY k)
{
    nmx_mem_stats s;
    memset(&s, 0xEE, sizeof s);
    CHECK_EQ(nmx_key_stats(k, &s), NMERR_SUCCESS);
    return s;
}

static nmx_mem_stats gst(void)
{
    return kst(NULL);
}

static nmx_heap_stats hst(void)
{
    nmx_heap_stats h;
    memset(&h, 0xEE, sizeof h);
    CHECK_EQ(nmx_heap_stats_get(&h), NMERR_SUCCESS);
    return h;
}

static uint64_t bad_total(const nmx_mem_stats *s)
{
    return s->bad_double_free + s->bad_foreign + s->bad_wrong_owner + s->bad_interior;
}

#define STAT_FIELDS(X)                                                        \
    X(live_bytes) X(live_blocks) X(peak_bytes) X(allocs) X(reallocs) X(frees) \
    X(failed_oom) X(failed_quota) X(failed_terminate) X(bad_double_free)      \
    X(bad_foreign) X(bad_wrong_owner) X(bad_interior) X(bad_key)

/* Every field equal, each difference reported by name. */
#define CHECK_STATS_EQ(got, want)                                                  \
    do {                                                                           \
        const nmx_mem_stats *g_ = &(got), *w_ = &(want);                           \
        STAT_FIELDS(STATS_CMP_)                                                    \
    } while (0)
#define STATS_CMP_(f)                                                          \
    CHECK_MSG(g_->f == w_->f, "stats." #f " is %llu, expected %llu",           \
              (unsigned long long)g_->f, (unsigned long long)w_->f);

/* Everything but the invalid-call counters equal: "nothing changed". */
#define CHECK_STATE_SAME(got, want)                                                \
    do {                                                                           \
        const nmx_mem_stats *g_ = &(got), *w_ = &(want);                           \
        STATS_CMP_(live_bytes) STATS_CMP_(live_blocks) STATS_CMP_(peak_bytes)      \
        STATS_CMP_(allocs) STATS_CMP_(reallocs) STATS_CMP_(frees)                  \
        STATS_CMP_(failed_oom) STATS_CMP_(failed_quota)                            \
        STATS_CMP_(failed_terminate)                                               \
    } while (0)

static void *alloc_ok(HEXPERTKEY k, size_t n)
{
    DWORD e = JUNK;
    void *p = ExpertAllocMemory(k, n, &e);
    CHECK_MSG(p != NULL && e == NMERR_SUCCESS, "Alloc(%zu) gave %p, error %u", n, p, (unsigned)e);
    return p;
}

static void free_ok(HEXPERTKEY k, void *p)
{
    SIZE_T rc = ExpertFreeMemory(k, p);
    CHECK_MSG(rc == NMERR_SUCCESS, "Free(%p) returned %zu", p, (size_t)rc);
}

static int aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

/* Sizes 0..1100, every power of two from 2 KiB to 8 MiB and its neighbours,
 * and the edges of the segment-sized "large" range: every size class
 * boundary of the heap is crossed. */
static size_t *size_list(size_t *count)
{
    size_t *v = malloc(1300 * sizeof *v), n = 0;
    for (size_t s = 0; s <= 1100; s++)
        v[n++] = s;
    for (unsigned e = 11; e <= 23; e++) {
        size_t p = (size_t)1 << e;
        v[n++] = p - 1;
        v[n++] = p;
        v[n++] = p + 1;
    }
    v[n++] = LARGE_MAX - 1;
    v[n++] = LARGE_MAX;
    v[n++] = LARGE_MAX + 1;
    *count = n;
    return v;
}

static size_t cache_limit_now(void)
{
    return (size_t)hst().cache_limit_bytes;
}

/* Waits (at most 5 s) for the library's background trimmer to bring the
 * resident cache within its limit (host.h: released memory beyond the limit
 * goes back "moments after each destroy"). Returns 1 if it did. */
static int wait_cache_within_limit(void)
{
    for (int i = 0; i < 5000; i++) {
        nmx_heap_stats h = hst();
        if (h.segments_cached * SEG_SIZE <= h.cache_limit_bytes) {
            usleep(5000); /* a segment being decommitted right now */
            return 1;
        }
        usleep(1000);
    }
    return 0;
}

/* Trims, then waits until the heap's segment counts stop moving (the
 * background trimmer may be between two lists), so that a test can compare
 * them before and after its own calls. */
static void heap_settle(void)
{
    nmx_heap_trim();
    nmx_heap_stats a = hst();
    for (int i = 0; i < 1000; i++) {
        usleep(2000);
        nmx_heap_stats b = hst();
        if (a.segments_cached == b.segments_cached && a.segments_released == b.segments_released &&
            a.segments_in_use == b.segments_in_use)
            return;
        a = b;
    }
}

/* Empties the resident cache, so that the next segments come straight from
 * the OS or from decommitted (zero) memory, and sets the limit to `limit`. */
static void cache_flush_and_set(size_t limit)
{
    nmx_heap_set_cache_limit(0);
    nmx_heap_set_cache_limit(limit);
}

/* ========================================================================
 * M1: blocks are 16-byte aligned, zero-filled, distinct
 * ======================================================================== */

/* M1, M7: a fresh block of every size class is zero, aligned and of exactly
 * the requested size. */
TEST(test_m1_fresh_blocks_are_zero_aligned_and_exact_in_every_class)
{
    size_t n;
    size_t *sizes = size_list(&n);
    void **blk = calloc(n, sizeof *blk);
    HEXPERTKEY k = key_new(0, "m1-fresh");
    for (size_t i = 0; i < n; i++) {
        blk[i] = alloc_ok(k, sizes[i]);
        if (!blk[i])
            continue;
        CHECK_MSG(aligned16(blk[i]), "Alloc(%zu) = %p not 16-byte aligned", sizes[i], blk[i]);
        size_t z = mu_first_nonzero(blk[i], sizes[i]);
        CHECK_MSG(z == MU_NONE, "Alloc(%zu): byte %zu not zero", sizes[i], z);
        CHECK_MSG(ExpertMemorySize(k, blk[i]) == sizes[i], "MemorySize of Alloc(%zu) is %zu",
                  sizes[i], (size_t)ExpertMemorySize(k, blk[i]));
        memset(blk[i], 0xAA, sizes[i]); /* dirty it: later blocks must still be zero */
    }
    for (size_t i = 0; i < n; i++)
        if (blk[i])
            free_ok(k, blk[i]);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.live_bytes, 0);
    key_end(k);
    free(blk);
    free(sizes);
}

/* M1: a block freed dirty and allocated again at the same size is zero, every
 * time, in every size class. */
TEST(test_m1_reused_blocks_of_same_size_are_zero_filled)
{
    size_t n;
    size_t *sizes = size_list(&n);
    HEXPERTKEY k = key_new(0, "m1-reuse");
    void *keep = alloc_ok(k, 24); /* keeps the small pages of the key busy */
    for (size_t i = 0; i < n; i++) {
        for (int r = 0; r < 4; r++) {
            unsigned char *p = alloc_ok(k, sizes[i]);
            if (!p)
                break;
            size_t z = mu_first_nonzero(p, sizes[i]);
            CHECK_MSG(z == MU_NONE, "Alloc(%zu), round %d: byte %zu is 0x%02x", sizes[i], r, z,
                      z == MU_NONE ? 0 : p[z]);
            memset(p, 0xAA, sizes[i]);
            free_ok(k, p);
        }
    }
    free_ok(k, keep);
    key_end(k);
    free(sizes);
}

/* M1: more blocks of one page freed than its free-index stack holds (64):
 * the rest are found again by the bitmap scan, and every block handed out
 * again is zero and distinct from the others. */
TEST(test_m1_blocks_freed_past_the_free_index_stack_are_reused_zero_and_distinct)
{
    enum { N = 1000, SZ = 32 };
    unsigned char **blk = calloc(N, sizeof *blk);
    HEXPERTKEY k = key_new(0, "m1-stack");
    void *keep = alloc_ok(k, SZ); /* the page stays the key's while the rest are free */
    for (size_t i = 0; i < N; i++)
        if ((blk[i] = alloc_ok(k, SZ)) != NULL)
            memset(blk[i], 0xAA, SZ);
    for (size_t pass = 0; pass < 2; pass++) /* odd blocks, then even ones: scattered */
        for (size_t i = 1 - pass; i < N; i += 2)
            if (blk[i])
                free_ok(k, blk[i]);
    for (size_t i = 0; i < N; i++) {
        unsigned char *p = blk[i] = alloc_ok(k, SZ);
        if (!p)
            continue;
        size_t z = mu_first_nonzero(p, SZ);
        CHECK_MSG(z == MU_NONE, "reuse %zu: byte %zu is 0x%02x", i, z, z == MU_NONE ? 0 : p[z]);
        memcpy(p, &i, sizeof i);
    }
    for (size_t i = 0; i < N; i++)
        if (blk[i]) {
            size_t mark;
            memcpy(&mark, blk[i], sizeof mark);
            CHECK_MSG(mark == i, "block %zu was handed out again as block %zu", i, mark);
            free_ok(k, blk[i]);
        }
    free_ok(k, keep);
    key_end(k);
    free(blk);
}

/* M1: dirty slots reused by other sizes of the same class (and of other
 * classes, once pages go back to the segment) are zero over the requested
 * size, and growing them in place later zeroes the rest of the slot. */
TEST(test_m1_reused_blocks_of_other_sizes_are_zero_filled)
{
    enum { N = 1101 };
    void **blk = calloc(N, sizeof *blk);
    HEXPERTKEY k = key_new(0, "m1-reuse-other");
    for (size_t s = 0; s < N; s++) {
        blk[s] = alloc_ok(k, s);
        if (blk[s])
            memset(blk[s], 0xAA, s);
    }
    for (size_t s = 0; s < N; s++)
        if (blk[s])
            free_ok(k, blk[s]);
    /* Second pass in reverse order: every block lands in a slot a different
     * size has dirtied. */
    for (size_t j = 0; j < N; j++) {
        size_t s = N - 1 - j;
        unsigned char *p = alloc_ok(k, s);
        blk[s] = p;
        if (!p)
            continue;
        size_t z = mu_first_nonzero(p, s);
        CHECK_MSG(z == MU_NONE, "Alloc(%zu) in a dirty slot: byte %zu is 0x%02x", s, z,
                  z == MU_NONE ? 0 : p[z]);
        /* Grow to the top of a 16-byte step: the grown tail must be zero. */
        size_t to = (s | 15) + 1;
        DWORD e = JUNK;
        unsigned char *q = ExpertReallocMemory(k, p, to, &e);
        CHECK_MSG(q && e == NMERR_SUCCESS, "Realloc(%zu -> %zu) failed %u", s, to, (unsigned)e);
        if (q) {
            z = mu_first_nonzero(q, to);
            CHECK_MSG(z == MU_NONE, "Realloc(%zu -> %zu): byte %zu is 0x%02x", s, to, z,
                      z == MU_NONE ? 0 : q[z]);
            blk[s] = q;
        }
    }
    for (size_t s = 0; s < N; s++)
        if (blk[s])
            free_ok(k, blk[s]);
    key_end(k);
    free(blk);
}

/* M1, M2: live blocks never overlap: each keeps its own pattern while the
 * others are written, and their address ranges are disjoint. */
typedef struct live_blk {
    unsigned char *p;
    size_t n;
    unsigned seed;
} live_blk;

static int cmp_blk(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const live_blk *)a)->p, y = (uintptr_t)((const live_blk *)b)->p;
    return x < y ? -1 : x > y;
}

TEST(test_m1_live_blocks_are_distinct_and_never_overlap)
{
    enum { N = 3000 };
    live_blk *b = calloc(N, sizeof *b);
    HEXPERTKEY k = key_new(0, "m1-distinct");
    uint64_t rng = 12345;
    size_t live = 0;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            if (b[i].p)
                continue;
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            unsigned r = (unsigned)(rng >> 33);
            size_t n;
            if (i % 500 == 7)
                n = 4 * MiB + r % (4 * MiB); /* huge */
            else if (r % 10 == 0)
                n = 32 * KiB + r % (300 * KiB); /* large */
            else if (r % 10 < 4)
                n = 257 + r % (32 * KiB); /* medium classes */
            else
                n = r % 257; /* small classes, including 0 */
            b[i].p = alloc_ok(k, n);
            b[i].n = n;
            b[i].seed = (unsigned)(i * 7 + (size_t)round * 100003 + 1);
            if (b[i].p) {
                CHECK_MSG(aligned16(b[i].p), "block %zu (%zu bytes) at %p", i, n, (void *)b[i].p);
                mu_fill(b[i].p, n, b[i].seed);
                live++;
            }
        }
        if (round == 0) /* free a third, so that the second round reuses slots */
            for (size_t i = 0; i < N; i += 3)
                if (b[i].p) {
                    free_ok(k, b[i].p);
                    b[i].p = NULL;
                    live--;
                }
    }
    for (size_t i = 0; i < N; i++) {
        if (!b[i].p)
            continue;
        size_t bad = mu_check(b[i].p, b[i].n, b[i].seed);
        CHECK_MSG(bad == MU_NONE, "block %zu (%zu bytes): byte %zu overwritten", i, b[i].n, bad);
        CHECK_MSG(ExpertMemorySize(k, b[i].p) == b[i].n, "block %zu size", i);
    }
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.live_blocks, live);
    /* Disjoint ranges; a zero-size block counts as one byte: it too must be
     * distinct from every other block. */
    live_blk *sorted = malloc(N * sizeof *sorted);
    size_t m = 0;
    for (size_t i = 0; i < N; i++)
        if (b[i].p)
            sorted[m++] = b[i];
    qsort(sorted, m, sizeof *sorted, cmp_blk);
    for (size_t i = 1; i < m; i++) {
        size_t len = sorted[i - 1].n ? sorted[i - 1].n : 1;
        CHECK_MSG((uintptr_t)sorted[i - 1].p + len <= (uintptr_t)sorted[i].p,
                  "block at %p (%zu bytes) overlaps block at %p", (void *)sorted[i - 1].p,
                  sorted[i - 1].n, (void *)sorted[i].p);
    }
    for (size_t i = 0; i < N; i++)
        if (b[i].p)
            free_ok(k, b[i].p);
    key_end(k);
    free(sorted);
    free(b);
}

/* M1, M5: the tail grown by Realloc is zero, whether the block grows in place
 * or moves, for every small size and a spread of growths. */
TEST(test_m1_realloc_grown_tail_is_zero_for_every_size)
{
    static const size_t grow[] = {1, 7, 16, 100, 1000, 40000};
    HEXPERTKEY k = key_new(0, "m1-grow");
    size_t moved = 0, in_place = 0;
    for (size_t n = 0; n <= 1100; n++) {
        for (size_t g = 0; g < sizeof grow / sizeof grow[0]; g++) {
            unsigned char *p = alloc_ok(k, n);
            if (!p)
                continue;
            memset(p, 0xAA, n);
            size_t to = n + grow[g];
            DWORD e = JUNK;
            unsigned char *q = ExpertReallocMemory(k, p, to, &e);
            CHECK_MSG(q && e == NMERR_SUCCESS, "Realloc(%zu -> %zu): %u", n, to, (unsigned)e);
            if (!q) {
                free_ok(k, p);
                continue;
            }
            if (q == p)
                in_place++;
            else
                moved++;
            CHECK_MSG(aligned16(q), "Realloc(%zu -> %zu) = %p", n, to, (void *)q);
            size_t bad = mu_first_not(q, n, 0xAA);
            CHECK_MSG(bad == MU_NONE, "Realloc(%zu -> %zu) lost byte %zu", n, to, bad);
            size_t z = mu_first_nonzero(q + n, to - n);
            CHECK_MSG(z == MU_NONE, "Realloc(%zu -> %zu): grown byte %zu is 0x%02x", n, to, n + z,
                      z == MU_NONE ? 0 : q[n + z]);
            CHECK_MSG(ExpertMemorySize(k, q) == to, "MemorySize after Realloc(%zu -> %zu)", n, to);
            free_ok(k, q);
        }
    }
    printf("     (%zu grown in place, %zu moved)\n", in_place, moved);
    CHECK_EQ(kst(k).live_blocks, 0);
    key_end(k);
}

/* M1, M5: a block shrunk and grown again, or grown over memory that held
 * data, reads zero in its grown part: small, large and huge blocks. */
TEST(test_m1_realloc_grown_tail_is_zero_over_dirty_memory)
{
    static const struct {
        size_t from, shrink, grow;
    } cases[] = {
        {32, 17, 32},                    /* small, same class */
        {250, 100, 256},                 /* small, other classes */
        {5000, 4700, 5100},              /* slack kept in 16 bits */
        {200 * KiB, 150 * KiB, 200 * KiB}, /* large span */
        {100 * KiB, 40000, 64 * KiB},    /* large, inside one page */
        {10 * MiB, 7 * MiB, 11 * MiB},   /* huge */
    };
    HEXPERTKEY k = key_new(0, "m1-dirty-grow");
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *p = alloc_ok(k, cases[c].from);
        if (!p)
            continue;
        memset(p, 0xAA, cases[c].from);
        DWORD e = JUNK;
        unsigned char *q = ExpertReallocMemory(k, p, cases[c].shrink, &e);
        CHECK_MSG(q && e == NMERR_SUCCESS, "case %zu: shrink", c);
        if (!q)
            continue;
        unsigned char *r = ExpertReallocMemory(k, q, cases[c].grow, &e);
        CHECK_MSG(r && e == NMERR_SUCCESS, "case %zu: grow", c);
        if (!r) {
            free_ok(k, q);
            continue;
        }
        CHECK_MSG(mu_first_not(r, cases[c].shrink, 0xAA) == MU_NONE, "case %zu: content lost", c);
        size_t z = mu_first_nonzero(r + cases[c].shrink, cases[c].grow - cases[c].shrink);
        CHECK_MSG(z == MU_NONE, "case %zu (%zu -> %zu -> %zu): grown byte %zu is not zero", c,
                  cases[c].from, cases[c].shrink, cases[c].grow, cases[c].shrink + z);
        free_ok(k, r);
    }

    CHECK_EQ(kst(k).live_blocks, 0);
    key_end(k);

    /* A freed dirty neighbour: the block grows over it (in place when the
     * heap can) and must read zero there. A fresh key, so that the two
     * blocks are neighbours. */
    k = key_new(0, "m1-dirty-neighbour");
    for (int pass = 0; pass < 2; pass++) {
        size_t n = pass ? 64 * KiB : 48; /* a small and a page-sized block */
        unsigned char *a = alloc_ok(k, n), *b = alloc_ok(k, n);
        if (!a || !b)
            continue;
        memset(a, 0x11, n);
        memset(b, 0xAA, n);
        free_ok(k, b);
        DWORD e = JUNK;
        unsigned char *q = ExpertReallocMemory(k, a, 2 * n, &e);
        CHECK_MSG(q && e == NMERR_SUCCESS, "grow %zu over a freed neighbour", n);
        if (q) {
            CHECK(mu_first_not(q, n, 0x11) == MU_NONE);
            size_t z = mu_first_nonzero(q + n, n);
            CHECK_MSG(z == MU_NONE, "grow %zu -> %zu over a freed neighbour: byte %zu", n, 2 * n,
                      n + z);
            free_ok(k, q);
        }
    }

    /* A dirty slot given a smaller size, then grown to the slot's size. */
    unsigned char *a = alloc_ok(k, 64 * KiB);
    if (a) {
        memset(a, 0xAA, 64 * KiB);
        free_ok(k, a);
        unsigned char *d = alloc_ok(k, 40000);
        if (d) {
            CHECK(mu_first_nonzero(d, 40000) == MU_NONE);
            DWORD e = JUNK;
            unsigned char *q = ExpertReallocMemory(k, d, 64 * KiB, &e);
            CHECK(q && e == NMERR_SUCCESS);
            if (q) {
                size_t z = mu_first_nonzero(q, 64 * KiB);
                CHECK_MSG(z == MU_NONE, "40000 -> 64 KiB on a dirty page: byte %zu", z);
                free_ok(k, q);
            }
        }
    }
    CHECK_EQ(kst(k).live_blocks, 0);
    key_end(k);
}

/* ========================================================================
 * M13: memory that passes from one key to another is zero
 * ======================================================================== */

static void m13_dirty_then_check(size_t limit_after_dirty, int free_first)
{
    size_t old = cache_limit_now();
    size_t n;
    size_t *sizes = size_list(&n);
    void **blk = calloc(n, sizeof *blk);
    HEXPERTKEY a = key_new(0, "m13-writer");
    for (size_t i = 0; i < n; i++) {
        blk[i] = alloc_ok(a, sizes[i]);
        if (blk[i])
            memset(blk[i], 0xAA, sizes[i]);
    }
    for (int i = 0; i < 3000; i++) { /* a few full pages of small blocks */
        void *p = alloc_ok(a, 48);
        if (p)
            memset(p, 0xAA, 48);
    }
    if (free_first)
        for (size_t i = 0; i < n; i++)
            if (blk[i])
                free_ok(a, blk[i]);
    nmx_heap_set_cache_limit(limit_after_dirty);
    key_end(a);

    HEXPERTKEY b = key_new(0, "m13-reader");
    for (int i = 0; i < 3000; i++) {
        unsigned char *p = alloc_ok(b, 48);
        if (p) {
            size_t z = mu_first_nonzero(p, 48);
            CHECK_MSG(z == MU_NONE, "another key's 48-byte block %d: byte %zu is 0x%02x", i, z,
                      z == MU_NONE ? 0 : p[z]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char *p = alloc_ok(b, sizes[i]);
        if (!p)
            continue;
        size_t z = mu_first_nonzero(p, sizes[i]);
        CHECK_MSG(z == MU_NONE, "Alloc(%zu) after another key: byte %zu is 0x%02x", sizes[i], z,
                  z == MU_NONE ? 0 : p[z]);
    }
    key_end(b);
    nmx_heap_set_cache_limit(old);
    free(blk);
    free(sizes);
}

/* M13, M1: a key destroyed with dirty blocks; the next key, which takes its
 * segments from the resident cache, sees only zeros. */
TEST(test_m13_blocks_reused_by_another_key_after_destroy_are_zero)
{
    m13_dirty_then_check((size_t)256 << 20, 0);
}

/* M13: the same when the first key freed its blocks before destroy. */
TEST(test_m13_blocks_freed_then_reused_by_another_key_are_zero)
{
    m13_dirty_then_check((size_t)256 << 20, 1);
}

/* M13, M12: and when the cache is off, so the pages went back to the OS. */
TEST(test_m13_blocks_reused_after_pages_went_back_to_os_are_zero)
{
    m13_dirty_then_check(0, 0);
}

/* M13, M8: an expert writes 64 bytes past the end of a block that ends on a
 * page boundary, into a page of its segment that it has not used yet. After
 * its key is destroyed, another key receives that segment from the resident
 * cache: its blocks must still be zero ("no data passes from one expert to
 * another"; an overrun "cannot corrupt another key's memory state"). */
TEST(test_m13_overrun_into_unused_page_does_not_reach_next_key)
{
    size_t old = cache_limit_now();
    static const size_t victim[] = {64 * KiB, 16}; /* a page-sized block; a full page of 16-byte blocks */
    for (size_t v = 0; v < 2; v++) {
        /* Fresh (untouched) segments only: the overrun lands in clean memory. */
        cache_flush_and_set((size_t)64 << 20);
        HEXPERTKEY a = key_new(0, "m13-overrun");
        unsigned char *last = NULL;
        if (victim[v] == 16) {
            /* Fill one whole page with 16-byte blocks; remember the last. */
            for (size_t i = 0; i < PAGE_64K / 16; i++)
                last = alloc_ok(a, 16);
        } else {
            last = alloc_ok(a, victim[v]);
        }
        int wrote = 0;
        if (last) {
            uintptr_t end = (uintptr_t)last + victim[v];
            /* Stay inside the key's own segment: the end must be a page
             * boundary that is not the segment's end. */
            if ((end & (PAGE_64K - 1)) == 0 && (end & (SEG_SIZE - 1)) != 0) {
                memset((void *)end, 0xAA, 64);
                wrote = 1;
            }
        }
        if (!wrote) {
            printf("     (variant %zu: block does not end on a page boundary inside its "
                   "segment; overrun not attempted)\n", v);
        }
        key_end(a);

        HEXPERTKEY b = key_new(0, "m13-next");
        for (int i = 0; i < 8; i++) {
            unsigned char *p = alloc_ok(b, MiB);
            if (!p)
                continue;
            size_t z = mu_first_nonzero(p, MiB);
            CHECK_MSG(z == MU_NONE,
                      "variant %zu: next key's 1 MiB block %d holds the other key's overrun "
                      "at byte %zu (0x%02x)", v, i, z, z == MU_NONE ? 0 : p[z]);
        }
        key_end(b);
    }
    nmx_heap_set_cache_limit(old);
}

/* ========================================================================
 * M2: zero-size blocks
 * ======================================================================== */

/* M2: Alloc(0) gives a valid, aligned, distinct block of size 0 that frees
 * once; it can be grown. */
TEST(test_m2_zero_size_blocks_are_valid_distinct_and_freeable)
{
    enum { N = 1000 };
    void *z[N];
    HEXPERTKEY k = key_new(0, "m2");
    void *other = alloc_ok(k, 16);
    for (int i = 0; i < N; i++) {
        z[i] = alloc_ok(k, 0);
        CHECK_MSG(z[i] != NULL && aligned16(z[i]), "Alloc(0) #%d = %p", i, z[i]);
        CHECK_MSG(z[i] != other, "Alloc(0) #%d is another live block", i);
        CHECK_EQ(ExpertMemorySize(k, z[i]), 0);
    }
    void **sorted = malloc(N * sizeof *sorted);
    memcpy(sorted, z, sizeof z);
    for (int i = 0; i < N; i++) /* simple O(N^2): N is small */
        for (int j = i + 1; j < N; j++)
            CHECK_MSG(sorted[i] != sorted[j], "Alloc(0) #%d and #%d are both %p", i, j, sorted[i]);
    free(sorted);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.live_blocks, N + 1);
    CHECK_EQ(s.live_bytes, 16);

    /* Grow one: it becomes a zero-filled block. */
    DWORD e = JUNK;
    unsigned char *g = ExpertReallocMemory(k, z[0], 40, &e);
    CHECK(g != NULL && e == NMERR_SUCCESS);
    if (g) {
        CHECK(mu_first_nonzero(g, 40) == MU_NONE);
        CHECK_EQ(ExpertMemorySize(k, g), 40);
        z[0] = g;
    }
    for (int i = 0; i < N; i++)
        free_ok(k, z[i]);
    for (int i = 1; i < N; i++) /* freed: a second free is refused */
        CHECK_EQ(ExpertFreeMemory(k, z[i]), NMERR_INVALID_PARAMETER);
    free_ok(k, other);
    s = kst(k);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.live_bytes, 0);
    CHECK_EQ(s.frees, N + 1);
    key_end(k);
}

/* ========================================================================
 * M3: pError
 * ======================================================================== */

/* M3: every function that takes pError accepts NULL, on success and on every
 * kind of failure. */
TEST(test_m3_perror_may_be_null_everywhere)
{
    HEXPERTKEY k = key_new(100, "m3-null");
    void *p = ExpertAllocMemory(k, 10, NULL);
    CHECK(p != NULL);
    CHECK(ExpertAllocMemory(k, 0, NULL) != NULL);
    CHECK(ExpertAllocMemory(k, SIZE_MAX, NULL) == NULL);  /* too large */
    CHECK(ExpertAllocMemory(k, 101, NULL) == NULL);       /* quota */
    CHECK(ExpertAllocMemory(NULL, 10, NULL) == NULL);     /* bad key */
    CHECK(ExpertAllocMemory((HEXPERTKEY)0x12345, 10, NULL) == NULL);
    p = ExpertReallocMemory(k, p, 20, NULL);
    CHECK(p != NULL);
    void *q = ExpertReallocMemory(k, NULL, 5, NULL);
    CHECK(q != NULL);
    CHECK(ExpertReallocMemory(k, p, SIZE_MAX, NULL) == NULL);
    CHECK(ExpertReallocMemory(k, p, 200, NULL) == NULL);  /* quota */
    CHECK(ExpertReallocMemory(k, &g_global, 5, NULL) == NULL);
    CHECK(ExpertReallocMemory(NULL, p, 5, NULL) == NULL);
    CHECK_EQ(ExpertMemorySize(k, p), 20);
    CHECK_EQ(nmx_key_terminate(k), NMERR_SUCCESS);
    CHECK(ExpertAllocMemory(k, 1, NULL) == NULL);
    CHECK(ExpertReallocMemory(k, p, 30, NULL) == NULL);
    CHECK_EQ(ExpertMemorySize(k, p), 20);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.live_blocks, 3);
    CHECK_EQ(s.failed_terminate, 2);
    key_end(k);
}

/* M3: on success *pError becomes NMERR_SUCCESS, whatever it held before. */
TEST(test_m3_perror_set_to_success_on_success)
{
    HEXPERTKEY k = key_new(0, "m3-success");
    DWORD e = JUNK;
    void *p = ExpertAllocMemory(k, 100, &e);
    CHECK(p != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    void *z = ExpertAllocMemory(k, 0, &e);
    CHECK(z != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    void *h = ExpertAllocMemory(k, 5 * MiB, &e);
    CHECK(h != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    p = ExpertReallocMemory(k, p, 1000, &e); /* grow */
    CHECK(p != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    p = ExpertReallocMemory(k, p, 10, &e); /* shrink */
    CHECK(p != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    p = ExpertReallocMemory(k, p, 10, &e); /* same size */
    CHECK(p != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    void *q = ExpertReallocMemory(k, NULL, 7, &e);
    CHECK(q != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    z = ExpertReallocMemory(k, z, 0, &e);
    CHECK(z != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    e = JUNK;
    h = ExpertReallocMemory(k, h, 6 * MiB, &e);
    CHECK(h != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    free_ok(k, p);
    free_ok(k, q);
    free_ok(k, z);
    free_ok(k, h);
    key_end(k);
}

/* ========================================================================
 * M4: Alloc failures
 * ======================================================================== */

/* M4: sizes the allocator can never serve fail with NMERR_OUT_OF_MEMORY and
 * count as failed_oom. */
TEST(test_m4_alloc_too_large_fails_with_out_of_memory)
{
    static const size_t huge[] = {SIZE_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX,
                                  (size_t)1 << 50, SIZE_MAX - 4095};
    HEXPERTKEY k = key_new(0, "m4-large");
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        DWORD e = JUNK;
        void *p = ExpertAllocMemory(k, huge[i], &e);
        CHECK_MSG(p == NULL, "Alloc(%zu) = %p", huge[i], p);
        CHECK_MSG(e == NMERR_OUT_OF_MEMORY, "Alloc(%zu): error %u", huge[i], (unsigned)e);
        e = JUNK;
        p = ExpertReallocMemory(k, NULL, huge[i], &e);
        CHECK_MSG(p == NULL && e == NMERR_OUT_OF_MEMORY, "Realloc(NULL, %zu): %u", huge[i],
                  (unsigned)e);
    }
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.failed_oom, 2 * (sizeof huge / sizeof huge[0]));
    CHECK_EQ(s.failed_quota, 0);
    CHECK_EQ(s.allocs, 0);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.live_bytes, 0);
    CHECK(alloc_ok(k, 100) != NULL); /* the key still works */
    key_end(k);
}

/* M4: when the system refuses memory (an address-space limit), Alloc fails
 * with NMERR_OUT_OF_MEMORY, and a growing Realloc fails leaving the block. */
TEST(test_m4_alloc_fails_with_out_of_memory_when_system_refuses)
{
#ifdef SANITIZED
    SKIP_HERE("RLIMIT_AS cannot be lowered under a sanitizer");
#else
    struct rlimit old;
    CHECK_EQ(getrlimit(RLIMIT_AS, &old), 0);
    long vm = mu_vmsize_kb();
    CHECK(vm > 0);
    rlim_t lim = (rlim_t)vm * 1024 + ((rlim_t)256 << 20);
    if (old.rlim_cur != RLIM_INFINITY && old.rlim_cur < lim)
        SKIP_HERE("address-space limit already low");
    HEXPERTKEY k = key_new(0, "m4-system");
    unsigned char *p = alloc_ok(k, 1000);
    unsigned char *h = alloc_ok(k, 5 * MiB);
    if (p)
        mu_fill(p, 1000, 3);
    if (h)
        mu_fill(h, 5 * MiB, 4);
    struct rlimit low = old;
    low.rlim_cur = lim;
    CHECK_EQ(setrlimit(RLIMIT_AS, &low), 0);
    DWORD e1 = JUNK, e2 = JUNK, e3 = JUNK;
    void *big = ExpertAllocMemory(k, (size_t)2 << 30, &e1);
    void *r1 = p ? ExpertReallocMemory(k, p, (size_t)2 << 30, &e2) : NULL;
    void *r2 = h ? ExpertReallocMemory(k, h, (size_t)3 << 30, &e3) : NULL;
    CHECK_EQ(setrlimit(RLIMIT_AS, &old), 0);
    CHECK(big == NULL);
    CHECK_EQ(e1, NMERR_OUT_OF_MEMORY);
    CHECK(r1 == NULL);
    CHECK_EQ(e2, NMERR_OUT_OF_MEMORY);
    CHECK(r2 == NULL);
    CHECK_EQ(e3, NMERR_OUT_OF_MEMORY);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.failed_oom, 3);
    CHECK_EQ(s.live_blocks, 2);
    CHECK_EQ(s.live_bytes, 1000 + 5 * MiB);
    if (p) {
        CHECK(mu_check(p, 1000, 3) == MU_NONE);
        CHECK_EQ(ExpertMemorySize(k, p), 1000);
        free_ok(k, p);
    }
    if (h) {
        CHECK(mu_check(h, 5 * MiB, 4) == MU_NONE);
        CHECK_EQ(ExpertMemorySize(k, h), 5 * MiB);
        free_ok(k, h);
    }
    key_end(k);
#endif
}

/* M4, M11: over the key's quota, Alloc fails with NMERR_OUT_OF_MEMORY. */
TEST(test_m4_alloc_over_quota_fails_with_out_of_memory)
{
    HEXPERTKEY k = key_new(4096, "m4-quota");
    DWORD e = JUNK;
    CHECK(ExpertAllocMemory(k, 4097, &e) == NULL);
    CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
    void *p = alloc_ok(k, 4000);
    e = JUNK;
    CHECK(ExpertAllocMemory(k, 97, &e) == NULL);
    CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.failed_quota, 2);
    CHECK_EQ(s.failed_oom, 0);
    CHECK_EQ(s.live_bytes, 4000);
    free_ok(k, p);
    key_end(k);
}

/* M4: after terminate, Alloc fails with NMERR_EXPERT_TERMINATE, counted as
 * failed_terminate; terminate is idempotent. */
TEST(test_m4_alloc_after_terminate_fails_with_expert_terminate)
{
    HEXPERTKEY k = key_new(0, "m4-term");
    void *p = alloc_ok(k, 10);
    CHECK_EQ(nmx_key_terminate(k), NMERR_SUCCESS);
    CHECK_EQ(nmx_key_terminate(k), NMERR_SUCCESS);
    static const size_t sizes[] = {0, 1, 100, 100 * KiB, 8 * MiB, SIZE_MAX};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        DWORD e = JUNK;
        CHECK(ExpertAllocMemory(k, sizes[i], &e) == NULL);
        CHECK_MSG(e == NMERR_EXPERT_TERMINATE, "Alloc(%zu) after terminate: %u", sizes[i],
                  (unsigned)e);
    }
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.failed_terminate, sizeof sizes / sizeof sizes[0]);
    CHECK_EQ(s.allocs, 1);
    CHECK_EQ(s.live_blocks, 1);
    CHECK_EQ(ExpertMemorySize(k, p), 10);
    key_end(k);
}

/* The bad keys of M4/M9: NULL, never issued (odd and even forged values, a
 * stack address), and a destroyed key. */
static size_t bad_keys(HEXPERTKEY out[6], int *stack_var)
{
    HEXPERTKEY dead = key_new(0, "dead");
    key_end(dead);
    out[0] = NULL;
    out[1] = (HEXPERTKEY)0x12345;
    out[2] = (HEXPERTKEY)(uintptr_t)-1;
    out[3] = (HEXPERTKEY)stack_var;
    out[4] = dead;
    out[5] = (HEXPERTKEY)(uintptr_t)0x3; /* smallest odd value */
    return 6;
}

/* M4: Alloc with a NULL, never issued or destroyed key fails with
 * NMERR_INVALID_EXPERT_HANDLE. */
TEST(test_m4_alloc_with_bad_key_fails_with_invalid_expert_handle)
{
    int stack_var = 0;
    HEXPERTKEY bad[6];
    size_t nb = bad_keys(bad, &stack_var);
    for (size_t i = 0; i < nb; i++) {
        static const size_t sizes[] = {0, 16, 100 * KiB, SIZE_MAX};
        for (size_t j = 0; j < 4; j++) {
            DWORD e = JUNK;
            CHECK_MSG(ExpertAllocMemory(bad[i], sizes[j], &e) == NULL, "bad key %zu", i);
            CHECK_MSG(e == NMERR_INVALID_EXPERT_HANDLE, "bad key %zu, size %zu: error %u", i,
                      sizes[j], (unsigned)e);
        }
    }
}

/* M4, M9: handles that were never issued, made by changing one bit of the
 * only live key's handle, are refused: no other value names that key. */
TEST(test_m4_forged_key_one_bit_off_a_live_key_is_invalid)
{
    HEXPERTKEY k = key_new(0, "m4-forged");
    if (hst().keys_live != 1) {
        key_end(k);
        SKIP_HERE("other keys are live");
    }
    void *p = alloc_ok(k, 40);
    nmx_mem_stats before = kst(k);
    for (unsigned bit = 0; bit < 64; bit++) {
        HEXPERTKEY f = (HEXPERTKEY)((uintptr_t)k ^ ((uintptr_t)1 << bit));
        DWORD e = JUNK;
        void *q = ExpertAllocMemory(f, 8, &e);
        CHECK_MSG(q == NULL && e == NMERR_INVALID_EXPERT_HANDLE,
                  "key %p (live key %p with bit %u flipped) accepted by Alloc: %p, error %u", f, k,
                  bit, q, (unsigned)e);
        CHECK_MSG(ExpertMemorySize(f, p) == 0, "key with bit %u flipped: MemorySize works", bit);
        CHECK_MSG(ExpertFreeMemory(f, p) == NMERR_INVALID_EXPERT_HANDLE,
                  "key with bit %u flipped: Free accepted", bit);
        nmx_mem_stats s;
        CHECK_MSG(nmx_key_stats(f, &s) == NMERR_INVALID_EXPERT_HANDLE,
                  "key with bit %u flipped: stats accepted", bit);
        if (q) /* freed through the real key, so the test can go on */
            ExpertFreeMemory(k, q);
        if (ExpertMemorySize(k, p) != 40) /* freed through the forged key */
            p = alloc_ok(k, 40);
    }
    nmx_mem_stats after = kst(k);
    CHECK_EQ(after.live_blocks, before.live_blocks);
    CHECK_EQ(after.frees, before.frees);
    key_end(k);
}

/* ========================================================================
 * M5: Realloc
 * ======================================================================== */

/* M5: Realloc(NULL, n) behaves as Alloc(n): a new zero block, counted as an
 * alloc. */
TEST(test_m5_realloc_of_null_behaves_as_alloc)
{
    HEXPERTKEY k = key_new(0, "m5-null");
    static const size_t sizes[] = {0, 1, 33, 4097, 100 * KiB, 5 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        DWORD e = JUNK;
        unsigned char *p = ExpertReallocMemory(k, NULL, sizes[i], &e);
        CHECK_MSG(p != NULL && e == NMERR_SUCCESS, "Realloc(NULL, %zu): %u", sizes[i], (unsigned)e);
        if (!p)
            continue;
        CHECK(aligned16(p));
        CHECK(mu_first_nonzero(p, sizes[i]) == MU_NONE);
        CHECK_EQ(ExpertMemorySize(k, p), sizes[i]);
        memset(p, 0xAA, sizes[i]);
        free_ok(k, p);
    }
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.allocs, sizeof sizes / sizeof sizes[0]);
    CHECK_EQ(s.reallocs, 0);
    CHECK_EQ(s.frees, sizeof sizes / sizeof sizes[0]);
    key_end(k);
}

/* M5: Realloc(p, 0) resizes to 0; the block stays live and frees once. */
TEST(test_m5_realloc_to_zero_resizes_and_does_not_free)
{
    static const size_t sizes[] = {0, 16, 1000, 40000, 100 * KiB, 8 * MiB};
    HEXPERTKEY k = key_new(0, "m5-zero");
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = alloc_ok(k, sizes[i]);
        if (!p)
            continue;
        memset(p, 0xAA, sizes[i]);
        nmx_mem_stats before = kst(k);
        DWORD e = JUNK;
        unsigned char *q = ExpertReallocMemory(k, p, 0, &e);
        CHECK_MSG(q != NULL && e == NMERR_SUCCESS, "Realloc(%zu -> 0): %p, %u", sizes[i],
                  (void *)q, (unsigned)e);
        if (!q)
            continue;
        CHECK(aligned16(q));
        CHECK_EQ(ExpertMemorySize(k, q), 0);
        nmx_mem_stats after = kst(k);
        CHECK_EQ(after.live_blocks, before.live_blocks);
        CHECK_EQ(after.live_bytes, before.live_bytes - sizes[i]);
        CHECK_EQ(after.frees, before.frees);
        /* It grows back zero-filled. */
        unsigned char *r = ExpertReallocMemory(k, q, 24, &e);
        CHECK(r != NULL && e == NMERR_SUCCESS);
        if (r) {
            CHECK(mu_first_nonzero(r, 24) == MU_NONE);
            q = ExpertReallocMemory(k, r, 0, &e);
            CHECK(q != NULL);
        }
        if (q) {
            free_ok(k, q);
            CHECK_EQ(ExpertFreeMemory(k, q), NMERR_INVALID_PARAMETER);
        }
    }
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.live_bytes, 0);
    key_end(k);
}

/* M5, M7, M1: one block walked up and down a ladder of sizes, from 0 bytes
 * through every kind of block to 64 MiB and back: at each step the content up
 * to min(old, new) is kept, the grown tail is zero, the size is exact, and
 * the block is aligned. */
TEST(test_m5_realloc_preserves_content_up_and_down_all_block_kinds)
{
    static const size_t ladder[] = {
        0, 1, 15, 16, 17, 31, 32, 33, 100, 255, 256, 257, 1000, 4096, 4097, 5000, 8192, 8193,
        32768, 32769, 40000, 65536, 65537, 100 * KiB, 150 * KiB, 1 * MiB, 1 * MiB + 1, 3 * MiB,
        LARGE_MAX, LARGE_MAX + 1, 8 * MiB, 10 * MiB, 11 * MiB, 64 * MiB, 40 * MiB, 8 * MiB,
        7 * MiB, 1 * MiB, 100 * KiB, 65536, 40000, 32768, 5000, 1000, 100, 17, 16, 1, 0, 50};
    HEXPERTKEY k = key_new(0, "m5-ladder");
    unsigned char *p = alloc_ok(k, ladder[0]);
    size_t cur = ladder[0], in_place = 0, moved = 0;
    for (size_t i = 1; p && i < sizeof ladder / sizeof ladder[0]; i++) {
        size_t to = ladder[i];
        unsigned seed = (unsigned)i;
        mu_fill(p, cur, seed);
        DWORD e = JUNK;
        unsigned char *q = ExpertReallocMemory(k, p, to, &e);
        CHECK_MSG(q != NULL && e == NMERR_SUCCESS, "Realloc(%zu -> %zu): %u", cur, to, (unsigned)e);
        if (!q)
            break;
        if (q == p)
            in_place++;
        else
            moved++;
        CHECK_MSG(aligned16(q), "Realloc(%zu -> %zu) = %p", cur, to, (void *)q);
        size_t keep = cur < to ? cur : to;
        size_t bad = mu_check(q, keep, seed);
        CHECK_MSG(bad == MU_NONE, "Realloc(%zu -> %zu) %s: byte %zu lost", cur, to,
                  q == p ? "in place" : "moved", bad);
        if (to > cur) {
            size_t z = mu_first_nonzero(q + cur, to - cur);
            CHECK_MSG(z == MU_NONE, "Realloc(%zu -> %zu): grown byte %zu not zero", cur, to,
                      cur + z);
        }
        CHECK_MSG(ExpertMemorySize(k, q) == to, "MemorySize after Realloc(%zu -> %zu) is %zu", cur,
                  to, (size_t)ExpertMemorySize(k, q));
        nmx_mem_stats s = kst(k);
        CHECK_EQ(s.live_blocks, 1);
        CHECK_EQ(s.live_bytes, to);
        p = q;
        cur = to;
    }
    printf("     (%zu steps in place, %zu moved)\n", in_place, moved);
    if (p)
        free_ok(k, p);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.peak_bytes, 64 * MiB);
    CHECK_EQ(s.reallocs, sizeof ladder / sizeof ladder[0] - 1);
    key_end(k);
}

/* M5: a Realloc that fails (impossible size, quota) returns NULL and leaves
 * the block as it was: content, size, still owned and freeable. */
TEST(test_m5_failed_realloc_leaves_block_intact)
{
    static const size_t blocks[] = {0, 24, 3000, 40000, 1 * MiB, 8 * MiB};
    static const size_t impossible[] = {SIZE_MAX, (size_t)PTRDIFF_MAX + 1, (size_t)1 << 50};
    HEXPERTKEY k = key_new(0, "m5-fail");
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        unsigned char *p = alloc_ok(k, blocks[b]);
        if (!p)
            continue;
        mu_fill(p, blocks[b], (unsigned)b + 10);
        for (size_t i = 0; i < sizeof impossible / sizeof impossible[0]; i++) {
            nmx_mem_stats before = kst(k);
            DWORD e = JUNK;
            void *q = ExpertReallocMemory(k, p, impossible[i], &e);
            CHECK_MSG(q == NULL && e == NMERR_OUT_OF_MEMORY, "Realloc(%zu -> %zu): %p, %u",
                      blocks[b], impossible[i], q, (unsigned)e);
            nmx_mem_stats after = kst(k);
            CHECK_EQ(after.failed_oom, before.failed_oom + 1);
            CHECK_EQ(after.live_bytes, before.live_bytes);
            CHECK_EQ(after.live_blocks, before.live_blocks);
            CHECK_EQ(after.reallocs, before.reallocs);
            CHECK_MSG(ExpertMemorySize(k, p) == blocks[b], "block of %zu: size now %zu", blocks[b],
                      (size_t)ExpertMemorySize(k, p));
            CHECK_MSG(mu_check(p, blocks[b], (unsigned)b + 10) == MU_NONE,
                      "block of %zu changed by failed Realloc", blocks[b]);
        }
        free_ok(k, p);
    }
    key_end(k);

    /* Quota: a growth past it fails and leaves the block. */
    k = key_new(10 * KiB, "m5-fail-quota");
    unsigned char *p = alloc_ok(k, 6000);
    if (p) {
        mu_fill(p, 6000, 77);
        DWORD e = JUNK;
        CHECK(ExpertReallocMemory(k, p, 10 * KiB + 1, &e) == NULL);
        CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
        CHECK_EQ(ExpertMemorySize(k, p), 6000);
        CHECK(mu_check(p, 6000, 77) == MU_NONE);
        CHECK_EQ(kst(k).failed_quota, 1);
        free_ok(k, p);
    }
    key_end(k);
}

/* M5: after terminate, Realloc fails with NMERR_EXPERT_TERMINATE (growing,
 * shrinking, or from NULL) and the block is untouched. */
TEST(test_m5_realloc_after_terminate_fails_and_leaves_block)
{
    HEXPERTKEY k = key_new(0, "m5-term");
    unsigned char *p = alloc_ok(k, 3000), *h = alloc_ok(k, 5 * MiB);
    if (p)
        mu_fill(p, 3000, 5);
    if (h)
        mu_fill(h, 5 * MiB, 6);
    CHECK_EQ(nmx_key_terminate(k), NMERR_SUCCESS);
    static const size_t to[] = {0, 10, 3000, 3001, 100 * KiB};
    for (size_t i = 0; p && i < sizeof to / sizeof to[0]; i++) {
        DWORD e = JUNK;
        CHECK(ExpertReallocMemory(k, p, to[i], &e) == NULL);
        CHECK_MSG(e == NMERR_EXPERT_TERMINATE, "Realloc(3000 -> %zu) after terminate: %u", to[i],
                  (unsigned)e);
    }
    DWORD e = JUNK;
    CHECK(h == NULL || ExpertReallocMemory(k, h, 6 * MiB, &e) == NULL);
    CHECK_EQ(e, NMERR_EXPERT_TERMINATE);
    e = JUNK;
    CHECK(ExpertReallocMemory(k, NULL, 10, &e) == NULL);
    CHECK_EQ(e, NMERR_EXPERT_TERMINATE);
    if (p) {
        CHECK_EQ(ExpertMemorySize(k, p), 3000);
        CHECK(mu_check(p, 3000, 5) == MU_NONE);
    }
    if (h) {
        CHECK_EQ(ExpertMemorySize(k, h), 5 * MiB);
        CHECK(mu_check(h, 5 * MiB, 6) == MU_NONE);
    }
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.failed_terminate, sizeof to / sizeof to[0] + 2);
    CHECK_EQ(s.reallocs, 0);
    CHECK_EQ(s.live_blocks, 2);
    CHECK_EQ(s.live_bytes, 3000 + 5 * MiB);
    /* The cleanup path still works (M6). */
    if (p)
        CHECK_EQ(ExpertFreeMemory(k, p), NMERR_EXPERT_TERMINATE);
    if (h)
        CHECK_EQ(ExpertFreeMemory(k, h), NMERR_EXPERT_TERMINATE);
    CHECK_EQ(kst(k).live_blocks, 0);
    key_end(k);
}

/* M5, M4: Realloc with a bad key fails with NMERR_INVALID_EXPERT_HANDLE and
 * leaves the block (passed with the bad key) alone. */
TEST(test_m5_realloc_with_bad_key_fails_and_leaves_block)
{
    int stack_var = 0;
    HEXPERTKEY bad[6];
    size_t nb = bad_keys(bad, &stack_var);
    HEXPERTKEY k = key_new(0, "m5-badkey");
    unsigned char *p = alloc_ok(k, 500);
    if (!p) {
        key_end(k);
        return;
    }
    mu_fill(p, 500, 9);
    nmx_mem_stats before = kst(k);
    for (size_t i = 0; i < nb; i++) {
        DWORD e = JUNK;
        CHECK(ExpertReallocMemory(bad[i], p, 1000, &e) == NULL);
        CHECK_MSG(e == NMERR_INVALID_EXPERT_HANDLE, "bad key %zu: %u", i, (unsigned)e);
        e = JUNK;
        CHECK(ExpertReallocMemory(bad[i], NULL, 10, &e) == NULL);
        CHECK_MSG(e == NMERR_INVALID_EXPERT_HANDLE, "bad key %zu (NULL block): %u", i, (unsigned)e);
    }
    nmx_mem_stats after = kst(k);
    CHECK_STATS_EQ(after, before);
    CHECK_EQ(ExpertMemorySize(k, p), 500);
    CHECK(mu_check(p, 500, 9) == MU_NONE);
    free_ok(k, p);
    key_end(k);
}

/* ========================================================================
 * M6, M7, M5, M9: invalid pointers
 * ======================================================================== */

/* A key with blocks of every kind, another key, and a table of pointers that
 * are not live blocks of the first key, each with the kind of invalid call
 * it is (M9), or 0 where the header leaves the kind open. */
typedef struct bad_ptr {
    const char *what;
    void *p;
    int kind;
} bad_ptr;

typedef struct fixture {
    HEXPERTKEY k, other;
    unsigned char *ref[6]; /* live blocks of k: must never change */
    size_t ref_n[6];
    unsigned char *other_blk;
    void *prot_none, *mallocd;
    bad_ptr bad[48];
    size_t nbad;
    int stack_var;
} fixture;

static void fx_add(fixture *f, const char *what, void *p, int kind)
{
    if (f->nbad < sizeof f->bad / sizeof f->bad[0])
        f->bad[f->nbad++] = (bad_ptr){what, p, kind};
}

static void fx_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->k = key_new(0, "fixture");
    f->other = key_new(0, "fixture-other");
    static const size_t sizes[6] = {32, 100, 64, 1 * MiB, 8 * MiB, 0};
    for (int i = 0; i < 6; i++) {
        f->ref_n[i] = sizes[i];
        f->ref[i] = alloc_ok(f->k, sizes[i]);
        if (f->ref[i])
            mu_fill(f->ref[i], sizes[i], 1000u + (unsigned)i);
    }
    unsigned char *b32 = f->ref[0], *b100 = f->ref[1], *b64 = f->ref[2], *mb = f->ref[3],
                  *huge = f->ref[4];
    f->other_blk = alloc_ok(f->other, 48);
    if (f->other_blk)
        mu_fill(f->other_blk, 48, 2000);

    /* A freed block whose page still holds live blocks: a plain double free. */
    unsigned char *gone = alloc_ok(f->k, 32);
    free_ok(f->k, gone);

    /* An address that was mapped, then unmapped. */
    void *um = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(um != MAP_FAILED);
    munmap(um, 4096);
    f->prot_none = mmap(NULL, 3 * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(f->prot_none != MAP_FAILED);
    f->mallocd = malloc(256);

    /* A block of a key that no longer exists: its segment is in the cache. */
    HEXPERTKEY dead = key_new(0, "fixture-dead");
    void *dead_blk = alloc_ok(dead, 64);
    key_end(dead);

    fx_add(f, "freed block (double free)", gone, NMX_BAD_DOUBLE_FREE);
    fx_add(f, "32-byte block + 1", b32 + 1, NMX_BAD_INTERIOR);
    fx_add(f, "32-byte block + 8", b32 + 8, NMX_BAD_INTERIOR);
    fx_add(f, "32-byte block + 16", b32 + 16, NMX_BAD_INTERIOR);
    fx_add(f, "100-byte block + 1", b100 + 1, NMX_BAD_INTERIOR);
    fx_add(f, "100-byte block + 16", b100 + 16, NMX_BAD_INTERIOR);
    fx_add(f, "100-byte block + 96", b100 + 96, NMX_BAD_INTERIOR);
    fx_add(f, "1 MiB block + 8", mb + 8, NMX_BAD_INTERIOR);
    fx_add(f, "1 MiB block + 64 KiB", mb + 64 * KiB, NMX_BAD_INTERIOR);
    fx_add(f, "middle of 1 MiB block", mb + 512 * KiB + 16, NMX_BAD_INTERIOR);
    fx_add(f, "8 MiB block + 16", huge + 16, NMX_BAD_INTERIOR);
    fx_add(f, "middle of 8 MiB block", huge + 4 * MiB, NMX_BAD_INTERIOR);
    /* The first 64-byte block of a fresh key starts its page; the slots after
     * it have never been handed out. */
    if (b64 && ((uintptr_t)b64 & (PAGE_64K - 1)) == 0) {
        fx_add(f, "never allocated 64-byte slot", b64 + 640, 0);
        fx_add(f, "never allocated 64-byte slot + 16", b64 + 640 + 16, NMX_BAD_INTERIOR);
    } else {
        printf("     (64-byte block does not start its page: never-allocated slot not tested)\n");
    }
    fx_add(f, "block of another key", f->other_blk, NMX_BAD_WRONG_OWNER);
    fx_add(f, "block of another key + 16", f->other_blk + 16, 0);
    fx_add(f, "block of a destroyed key", dead_blk, 0);
    fx_add(f, "stack address", &f->stack_var, NMX_BAD_FOREIGN);
    fx_add(f, "global address", &g_global, NMX_BAD_FOREIGN);
    fx_add(f, "malloc'd memory", f->mallocd, NMX_BAD_FOREIGN);
    fx_add(f, "(void*)1", (void *)1, NMX_BAD_FOREIGN);
    fx_add(f, "(void*)0x1000", (void *)0x1000, NMX_BAD_FOREIGN);
    fx_add(f, "(void*)16", (void *)16, NMX_BAD_FOREIGN);
    fx_add(f, "unmapped page", um, NMX_BAD_FOREIGN);
    fx_add(f, "PROT_NONE page", f->prot_none, NMX_BAD_FOREIGN);
    fx_add(f, "PROT_NONE page + 4112", (unsigned char *)f->prot_none + 4112, NMX_BAD_FOREIGN);
    fx_add(f, "kernel address", (void *)(uintptr_t)0xffff800000000000ull, NMX_BAD_FOREIGN);
    fx_add(f, "non-canonical address", (void *)(uintptr_t)0x0000800000000000ull, NMX_BAD_FOREIGN);
    fx_add(f, "top of address space", (void *)(uintptr_t)(UINTPTR_MAX & ~(uintptr_t)15),
           NMX_BAD_FOREIGN);
    fx_add(f, "function address", (void *)(uintptr_t)&fx_add, NMX_BAD_FOREIGN);
}

static void fx_check_intact(fixture *f)
{
    for (int i = 0; i < 6; i++) {
        if (!f->ref[i])
            continue;
        CHECK_MSG(ExpertMemorySize(f->k, f->ref[i]) == f->ref_n[i], "block of %zu: size %zu",
                  f->ref_n[i], (size_t)ExpertMemorySize(f->k, f->ref[i]));
        size_t bad = mu_check(f->ref[i], f->ref_n[i], 1000u + (unsigned)i);
        CHECK_MSG(bad == MU_NONE, "block of %zu: byte %zu changed", f->ref_n[i], bad);
    }
    if (f->other_blk) {
        CHECK_EQ(ExpertMemorySize(f->other, f->other_blk), 48);
        CHECK(mu_check(f->other_blk, 48, 2000) == MU_NONE);
    }
}

static void fx_end(fixture *f)
{
    fx_check_intact(f);
    for (int i = 0; i < 6; i++)
        if (f->ref[i])
            free_ok(f->k, f->ref[i]);
    if (f->other_blk)
        free_ok(f->other, f->other_blk);
    nmx_mem_stats s = kst(f->k);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.live_bytes, 0);
    key_end(f->k);
    key_end(f->other);
    munmap(f->prot_none, 3 * 4096);
    free(f->mallocd);
}

/* What one call with a bad pointer did to the counters of both keys. */
static void fx_check_call(fixture *f, size_t i, const nmx_mem_stats *before,
                          const nmx_mem_stats *other_before, const char *fn)
{
    nmx_mem_stats after = kst(f->k), oafter = kst(f->other);
    CHECK_STATE_SAME(after, *before);
    CHECK_MSG(bad_total(&after) == bad_total(before) + 1, "%s(%s): %llu invalid calls counted",
              fn, f->bad[i].what, (unsigned long long)(bad_total(&after) - bad_total(before)));
    CHECK_STATS_EQ(oafter, *other_before);
}

/* M6: Free of anything that is not a live block of the key returns
 * NMERR_INVALID_PARAMETER and changes nothing. */
TEST(test_m6_free_of_invalid_pointer_fails_and_changes_nothing)
{
    fixture f;
    fx_init(&f);
    for (size_t i = 0; i < f.nbad; i++) {
        nmx_mem_stats before = kst(f.k), obefore = kst(f.other);
        SIZE_T rc = ExpertFreeMemory(f.k, f.bad[i].p);
        CHECK_MSG(rc == NMERR_INVALID_PARAMETER, "Free(%s) returned %zu", f.bad[i].what, (size_t)rc);
        fx_check_call(&f, i, &before, &obefore, "Free");
    }
    fx_end(&f);
}

/* M7: MemorySize of anything that is not a live block of the key is 0. */
TEST(test_m7_memory_size_of_invalid_pointer_is_zero)
{
    fixture f;
    fx_init(&f);
    for (size_t i = 0; i < f.nbad; i++) {
        nmx_mem_stats before = kst(f.k), obefore = kst(f.other);
        SIZE_T n = ExpertMemorySize(f.k, f.bad[i].p);
        CHECK_MSG(n == 0, "MemorySize(%s) = %zu", f.bad[i].what, (size_t)n);
        fx_check_call(&f, i, &before, &obefore, "MemorySize");
    }
    CHECK_EQ(ExpertMemorySize(f.k, NULL), 0);
    fx_end(&f);
}

/* M5: Realloc of anything that is not a live block of the key fails with
 * NMERR_INVALID_PARAMETER and changes nothing, whatever the new size. */
TEST(test_m5_realloc_of_invalid_pointer_fails_and_changes_nothing)
{
    static const size_t to[] = {0, 10, 100 * KiB};
    fixture f;
    fx_init(&f);
    for (size_t i = 0; i < f.nbad; i++) {
        for (size_t j = 0; j < 3; j++) {
            nmx_mem_stats before = kst(f.k), obefore = kst(f.other);
            DWORD e = JUNK;
            void *q = ExpertReallocMemory(f.k, f.bad[i].p, to[j], &e);
            CHECK_MSG(q == NULL && e == NMERR_INVALID_PARAMETER, "Realloc(%s, %zu): %p, %u",
                      f.bad[i].what, to[j], q, (unsigned)e);
            fx_check_call(&f, i, &before, &obefore, "Realloc");
        }
    }
    fx_end(&f);
}

/* M9: each invalid call lands in exactly one counter, the one of its kind;
 * Free, MemorySize and Realloc are all counted. */
TEST(test_m9_invalid_calls_counted_by_kind)
{
    fixture f;
    fx_init(&f);
    for (size_t i = 0; i < f.nbad; i++) {
        nmx_mem_stats b = kst(f.k);
        ExpertFreeMemory(f.k, f.bad[i].p);
        ExpertMemorySize(f.k, f.bad[i].p);
        ExpertReallocMemory(f.k, f.bad[i].p, 8, NULL);
        nmx_mem_stats a = kst(f.k);
        uint64_t d_df = a.bad_double_free - b.bad_double_free, d_fo = a.bad_foreign - b.bad_foreign,
                 d_wo = a.bad_wrong_owner - b.bad_wrong_owner, d_in = a.bad_interior - b.bad_interior;
        CHECK_MSG(d_df + d_fo + d_wo + d_in == 3, "%s: %llu counted for 3 calls", f.bad[i].what,
                  (unsigned long long)(d_df + d_fo + d_wo + d_in));
        CHECK_EQ(a.bad_key, b.bad_key);
        if (f.bad[i].kind) {
            uint64_t want[5] = {0};
            want[f.bad[i].kind] = 3;
            CHECK_MSG(d_df == want[NMX_BAD_DOUBLE_FREE] && d_fo == want[NMX_BAD_FOREIGN] &&
                          d_wo == want[NMX_BAD_WRONG_OWNER] && d_in == want[NMX_BAD_INTERIOR],
                      "%s: expected 3 x \"%s\", got double free %llu, foreign %llu, wrong owner "
                      "%llu, interior %llu",
                      f.bad[i].what, nmx_bad_kind_name((nmx_bad_kind)f.bad[i].kind),
                      (unsigned long long)d_df, (unsigned long long)d_fo, (unsigned long long)d_wo,
                      (unsigned long long)d_in);
        }
    }
    fx_end(&f);
}

/* M6: a live block is released with NMERR_SUCCESS (the SIZE_T result
 * compares equal to the code); NULL is a no-op that succeeds. */
TEST(test_m6_free_of_live_block_succeeds_and_null_is_a_noop)
{
    HEXPERTKEY k = key_new(0, "m6-ok");
    static const size_t sizes[] = {0, 1, 48, 4097, 40000, 1 * MiB, LARGE_MAX + 1, 8 * MiB};
    void *p[8];
    for (int i = 0; i < 8; i++)
        p[i] = alloc_ok(k, sizes[i]);
    nmx_mem_stats before = kst(k);
    SIZE_T rc = ExpertFreeMemory(k, NULL);
    CHECK(rc == NMERR_SUCCESS);
    nmx_mem_stats after = kst(k);
    CHECK_STATS_EQ(after, before);
    for (int i = 0; i < 8; i++) {
        if (!p[i])
            continue;
        before = kst(k);
        rc = ExpertFreeMemory(k, p[i]);
        CHECK_MSG(rc == NMERR_SUCCESS, "Free of a %zu-byte block returned %zu", sizes[i], (size_t)rc);
        after = kst(k);
        CHECK_EQ(after.frees, before.frees + 1);
        CHECK_EQ(after.live_blocks, before.live_blocks - 1);
        CHECK_EQ(after.live_bytes, before.live_bytes - sizes[i]);
        CHECK_EQ(ExpertMemorySize(k, p[i]), 0);
        CHECK_EQ(ExpertFreeMemory(k, p[i]), NMERR_INVALID_PARAMETER);
    }
    after = kst(k);
    CHECK_EQ(after.live_blocks, 0);
    CHECK_EQ(after.live_bytes, 0);
    key_end(k);
}

/* M6: Free of another key's block fails, and the block stays live in its
 * own key, content and size unchanged. */
TEST(test_m6_free_of_block_of_another_key_fails)
{
    HEXPERTKEY a = key_new(0, "m6-a"), b = key_new(0, "m6-b");
    static const size_t sizes[] = {0, 32, 5000, 100 * KiB, 8 * MiB};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        unsigned char *p = alloc_ok(a, sizes[i]);
        if (!p)
            continue;
        mu_fill(p, sizes[i], 31);
        nmx_mem_stats sa = kst(a), sb = kst(b);
        CHECK_EQ(ExpertFreeMemory(b, p), NMERR_INVALID_PARAMETER);
        CHECK_EQ(ExpertMemorySize(b, p), 0);
        DWORD e = JUNK;
        CHECK(ExpertReallocMemory(b, p, 10, &e) == NULL);
        CHECK_EQ(e, NMERR_INVALID_PARAMETER);
        nmx_mem_stats sa2 = kst(a), sb2 = kst(b);
        CHECK_STATS_EQ(sa2, sa);
        CHECK_STATE_SAME(sb2, sb);
        CHECK_EQ(sb2.bad_wrong_owner, sb.bad_wrong_owner + 3);
        CHECK_EQ(ExpertMemorySize(a, p), sizes[i]);
        CHECK(mu_check(p, sizes[i], 31) == MU_NONE);
        free_ok(a, p);
    }
    key_end(a);
    key_end(b);
}

/* M6: after terminate, Free still releases a live block and returns
 * NMERR_EXPERT_TERMINATE; invalid pointers are still refused. */
TEST(test_m6_free_after_terminate_releases_and_returns_expert_terminate)
{
    HEXPERTKEY k = key_new(0, "m6-term");
    static const size_t sizes[] = {0, 20, 5000, 200 * KiB, 8 * MiB};
    void *p[5];
    for (int i = 0; i < 5; i++)
        p[i] = alloc_ok(k, sizes[i]);
    CHECK_EQ(nmx_key_terminate(k), NMERR_SUCCESS);
    for (int i = 0; i < 5; i++) {
        if (!p[i])
            continue;
        nmx_mem_stats before = kst(k);
        SIZE_T rc = ExpertFreeMemory(k, p[i]);
        CHECK_MSG(rc == NMERR_EXPERT_TERMINATE, "Free(%zu bytes) after terminate: %zu", sizes[i],
                  (size_t)rc);
        nmx_mem_stats after = kst(k);
        CHECK_EQ(after.live_blocks, before.live_blocks - 1);
        CHECK_EQ(after.live_bytes, before.live_bytes - sizes[i]);
        CHECK_EQ(after.frees, before.frees + 1);
        CHECK_EQ(ExpertMemorySize(k, p[i]), 0);
        CHECK_EQ(ExpertFreeMemory(k, p[i]), NMERR_INVALID_PARAMETER); /* really released */
    }
    CHECK_EQ(ExpertFreeMemory(k, &g_global), NMERR_INVALID_PARAMETER);
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, 0);
    CHECK_EQ(fin.live_bytes, 0);
}

/* M6: Free with a bad key returns NMERR_INVALID_EXPERT_HANDLE and changes
 * nothing; MemorySize with a bad key is 0. */
TEST(test_m6_free_with_bad_key_fails_and_changes_nothing)
{
    int stack_var = 0;
    HEXPERTKEY bad[6];
    size_t nb = bad_keys(bad, &stack_var);
    HEXPERTKEY k = key_new(0, "m6-badkey");
    unsigned char *p = alloc_ok(k, 77);
    if (p)
        mu_fill(p, 77, 8);
    nmx_mem_stats before = kst(k);
    for (size_t i = 0; i < nb; i++) {
        CHECK_MSG(ExpertFreeMemory(bad[i], p) == NMERR_INVALID_EXPERT_HANDLE, "bad key %zu", i);
        CHECK_MSG(ExpertFreeMemory(bad[i], NULL) == NMERR_INVALID_EXPERT_HANDLE,
                  "bad key %zu, NULL block", i);
        CHECK_MSG(ExpertMemorySize(bad[i], p) == 0, "MemorySize with bad key %zu", i);
    }
    nmx_mem_stats after = kst(k);
    CHECK_STATS_EQ(after, before);
    if (p) {
        CHECK_EQ(ExpertMemorySize(k, p), 77);
        CHECK(mu_check(p, 77, 8) == MU_NONE);
        free_ok(k, p);
    }
    key_end(k);
}

/* ========================================================================
 * M7: MemorySize
 * ======================================================================== */

/* M7: MemorySize is the requested size exactly, for every size, and the new
 * size after every Realloc. */
TEST(test_m7_memory_size_is_exact_for_every_size_and_after_realloc)
{
    size_t n;
    size_t *sizes = size_list(&n);
    HEXPERTKEY k = key_new(0, "m7");
    for (size_t i = 0; i < n; i++) {
        void *p = alloc_ok(k, sizes[i]);
        if (!p)
            continue;
        CHECK_MSG(ExpertMemorySize(k, p) == sizes[i], "MemorySize(Alloc(%zu)) = %zu", sizes[i],
                  (size_t)ExpertMemorySize(k, p));
        /* Every realloc changes the size; shrink by one, grow by one, halve. */
        static const int delta[] = {-1, +2, -1};
        size_t cur = sizes[i];
        for (int d = 0; d < 3; d++) {
            if (cur == 0 && delta[d] < 0)
                continue;
            size_t to = (size_t)((long long)cur + delta[d]);
            void *q = ExpertReallocMemory(k, p, to, NULL);
            CHECK_MSG(q != NULL, "Realloc(%zu -> %zu)", cur, to);
            if (!q)
                break;
            CHECK_MSG(ExpertMemorySize(k, q) == to, "MemorySize after Realloc(%zu -> %zu) = %zu",
                      cur, to, (size_t)ExpertMemorySize(k, q));
            p = q;
            cur = to;
        }
        void *q = ExpertReallocMemory(k, p, cur / 2, NULL);
        CHECK(q != NULL);
        if (q) {
            CHECK_MSG(ExpertMemorySize(k, q) == cur / 2, "MemorySize after Realloc(%zu -> %zu)",
                      cur, cur / 2);
            p = q;
        }
        free_ok(k, p);
    }
    key_end(k);
    free(sizes);
}

/* ========================================================================
 * M8: overruns and wild pointers
 * ======================================================================== */

/* M8: an expert writes 1..64 bytes past the end of its blocks (inside the
 * slot, into the next live block of its own key, past a large block inside
 * its page, past a huge block inside its mapping). Every later call still
 * works: sizes are right, every block frees once, double frees are still
 * caught, the statistics add up; another key sees no change at all. */
TEST(test_m8_overrun_past_block_end_does_not_break_later_calls)
{
    HEXPERTKEY victim = key_new(0, "m8-victim");
    enum { NV = 64, NA = 200 };
    unsigned char *v[NV];
    for (int i = 0; i < NV; i++) {
        v[i] = alloc_ok(victim, 48);
        if (v[i])
            mu_fill(v[i], 48, 500u + (unsigned)i);
    }
    unsigned char *vl = alloc_ok(victim, 40000);
    if (vl)
        mu_fill(vl, 40000, 600);
    nmx_mem_stats vbefore = kst(victim);

    HEXPERTKEY k = key_new(0, "m8-overrun");
    unsigned char *a[NA];
    for (int i = 0; i < NA; i++)
        a[i] = alloc_ok(k, 20); /* 20 bytes: slots are bigger, neighbours follow */
    /* Blocks 50..113 overrun by 1..64 bytes; the last lands at most 64 bytes
     * past block 113, inside blocks 114..116, which are live and in the same
     * page (allocated in a row from a fresh page). */
    for (int i = 0; i < 64; i++)
        if (a[50 + i])
            memset(a[50 + i] + 20, 0x5A, (size_t)i + 1);
    unsigned char *l = alloc_ok(k, 40000); /* one 64 KiB page */
    if (l)
        memset(l + 40000, 0x5A, 64);
    unsigned char *h = alloc_ok(k, 8 * MiB); /* mapped to the next 4 MiB */
    if (h)
        memset(h + 8 * MiB, 0x5A, 64);

    for (int i = 0; i < NA; i++)
        if (a[i])
            CHECK_MSG(ExpertMemorySize(k, a[i]) == 20, "block %d size %zu after overruns", i,
                      (size_t)ExpertMemorySize(k, a[i]));
    if (l)
        CHECK_EQ(ExpertMemorySize(k, l), 40000);
    if (h)
        CHECK_EQ(ExpertMemorySize(k, h), 8 * MiB);
    /* The heap keeps working after the overruns. */
    void *more[1000];
    for (int i = 0; i < 1000; i++)
        more[i] = alloc_ok(k, (size_t)(i % 300));
    for (int i = 0; i < 1000; i++)
        if (more[i])
            free_ok(k, more[i]);
    for (int i = 0; i < NA; i++)
        if (a[i])
            free_ok(k, a[i]);
    if (l)
        free_ok(k, l);
    if (h)
        free_ok(k, h);
    for (int i = 0; i < NA; i++)
        if (a[i])
            CHECK_EQ(ExpertFreeMemory(k, a[i]), NMERR_INVALID_PARAMETER);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.live_blocks, 0);
    CHECK_EQ(s.live_bytes, 0);
    CHECK_EQ(s.allocs, NA + 2 + 1000);
    CHECK_EQ(s.frees, NA + 2 + 1000);
    CHECK_EQ(s.bad_double_free + s.bad_interior + s.bad_foreign + s.bad_wrong_owner, NA);
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, 0);

    nmx_mem_stats vafter = kst(victim);
    CHECK_STATS_EQ(vafter, vbefore);
    for (int i = 0; i < NV; i++)
        if (v[i]) {
            CHECK_MSG(mu_check(v[i], 48, 500u + (unsigned)i) == MU_NONE, "victim block %d changed", i);
            CHECK_EQ(ExpertMemorySize(victim, v[i]), 48);
            free_ok(victim, v[i]);
        }
    if (vl) {
        CHECK(mu_check(vl, 40000, 600) == MU_NONE);
        free_ok(victim, vl);
    }
    key_end(victim);
}

/* M8: wild pointers into memory that faults when touched (PROT_NONE) are
 * rejected by Free, MemorySize and Realloc without being read or written:
 * the test would die of SIGSEGV if they were. */
TEST(test_m8_wild_pointers_into_prot_none_memory_are_rejected_untouched)
{
    size_t len = 16 * 4096;
    unsigned char *m = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED);
    if (m == MAP_FAILED)
        return;
    HEXPERTKEY k = key_new(0, "m8-wild");
    void *live = alloc_ok(k, 64);
    nmx_mem_stats before = kst(k);
    static const size_t offs[] = {0, 1, 8, 16, 4096, 4096 + 16, 8 * 4096 - 16, 15 * 4096 + 4080};
    size_t n = sizeof offs / sizeof offs[0];
    for (size_t i = 0; i < n; i++) {
        void *w = m + offs[i];
        CHECK_MSG(ExpertFreeMemory(k, w) == NMERR_INVALID_PARAMETER, "Free(PROT_NONE+%zu)", offs[i]);
        CHECK_MSG(ExpertMemorySize(k, w) == 0, "MemorySize(PROT_NONE+%zu)", offs[i]);
        DWORD e = JUNK;
        CHECK_MSG(ExpertReallocMemory(k, w, 32, &e) == NULL && e == NMERR_INVALID_PARAMETER,
                  "Realloc(PROT_NONE+%zu)", offs[i]);
    }
    nmx_mem_stats after = kst(k);
    CHECK_STATE_SAME(after, before);
    CHECK_EQ(after.bad_foreign, before.bad_foreign + 3 * n);
    CHECK_EQ(bad_total(&after), bad_total(&before) + 3 * n);
    free_ok(k, live);
    key_end(k);
    munmap(m, len);
}

/* M8: pointers into the allocator's own guard pages, segment header and side
 * metadata (layout of mem.h) are refused without a crash and without
 * changing any block. */
TEST(test_m8_pointers_into_allocator_metadata_are_rejected)
{
    HEXPERTKEY k = key_new(0, "m8-meta");
    unsigned char *p = alloc_ok(k, 64), *h = alloc_ok(k, 8 * MiB);
    if (!p || !h) {
        key_end(k);
        return;
    }
    mu_fill(p, 64, 41);
    mu_fill(h, 64, 42);
    unsigned char *seg = (unsigned char *)((uintptr_t)p & ~(SEG_SIZE - 1));
    unsigned char *hseg = h - PAGE_64K;
    unsigned char *wild[] = {
        seg,                                          /* guard page */
        seg + 16,                                     /* guard page */
        seg + 4096,                                   /* segment header */
        seg + 4096 + 64,                              /* segment header */
        seg + 3 * PAGE_64K,                           /* side metadata */
        seg + FIRST_DATA_PAGE * PAGE_64K - 4096,      /* guard before the data */
        seg + FIRST_DATA_PAGE * PAGE_64K - 16,        /* guard before the data */
        hseg,                                         /* huge segment's guard */
        hseg + 4096,                                  /* huge segment's header */
        h - 16,                                       /* just before a huge block */
    };
    size_t n = sizeof wild / sizeof wild[0];
    nmx_mem_stats before = kst(k);
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(ExpertFreeMemory(k, wild[i]) == NMERR_INVALID_PARAMETER, "Free(metadata %zu)", i);
        CHECK_MSG(ExpertMemorySize(k, wild[i]) == 0, "MemorySize(metadata %zu)", i);
        DWORD e = JUNK;
        CHECK_MSG(ExpertReallocMemory(k, wild[i], 32, &e) == NULL && e == NMERR_INVALID_PARAMETER,
                  "Realloc(metadata %zu)", i);
    }
    nmx_mem_stats after = kst(k);
    CHECK_STATE_SAME(after, before);
    CHECK_EQ(bad_total(&after), bad_total(&before) + 3 * n);
    CHECK(mu_check(p, 64, 41) == MU_NONE);
    CHECK(mu_check(h, 64, 42) == MU_NONE);
    CHECK_EQ(ExpertMemorySize(k, p), 64);
    CHECK_EQ(ExpertMemorySize(k, h), 8 * MiB);
    free_ok(k, p);
    free_ok(k, h);
    key_end(k);
}

/* ========================================================================
 * M9: kinds, hook, keys never reused
 * ======================================================================== */

/* M9: freeing every block twice: each second free is a double free. (After
 * the first round the heap may have given whole pages back.) */
TEST(test_m9_double_free_after_freeing_every_block_counts_as_double_free)
{
    enum { N = 5000 };
    void **p = calloc(N, sizeof *p);
    HEXPERTKEY k = key_new(0, "m9-df-all");
    for (int i = 0; i < N; i++)
        p[i] = alloc_ok(k, 32);
    for (int i = 0; i < N; i++)
        free_ok(k, p[i]);
    nmx_mem_stats before = kst(k);
    for (int i = 0; i < N; i++)
        CHECK_MSG(ExpertFreeMemory(k, p[i]) == NMERR_INVALID_PARAMETER, "second free of block %d", i);
    nmx_mem_stats after = kst(k);
    CHECK_STATE_SAME(after, before);
    CHECK_EQ(after.bad_double_free - before.bad_double_free, N);
    CHECK_EQ(after.bad_interior - before.bad_interior, 0);
    CHECK_EQ(after.bad_foreign - before.bad_foreign, 0);
    key_end(k);
    free(p);
}

/* M9: a second free of a large (page-sized) or huge block is a double free. */
TEST(test_m9_double_free_of_large_and_huge_blocks_counts_as_double_free)
{
    static const size_t sizes[] = {40000, 100 * KiB, 1 * MiB, LARGE_MAX, LARGE_MAX + 1, 8 * MiB};
    HEXPERTKEY k = key_new(0, "m9-df-big");
    void *keep = alloc_ok(k, 100 * KiB); /* the key keeps a segment */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = alloc_ok(k, sizes[i]);
        if (!p)
            continue;
        free_ok(k, p);
        nmx_mem_stats before = kst(k);
        CHECK_EQ(ExpertFreeMemory(k, p), NMERR_INVALID_PARAMETER);
        nmx_mem_stats after = kst(k);
        CHECK_MSG(after.bad_double_free == before.bad_double_free + 1,
                  "second free of a %zu-byte block: double free %llu, foreign %llu, interior %llu",
                  sizes[i], (unsigned long long)(after.bad_double_free - before.bad_double_free),
                  (unsigned long long)(after.bad_foreign - before.bad_foreign),
                  (unsigned long long)(after.bad_interior - before.bad_interior));
    }
    free_ok(k, keep);
    key_end(k);
}

/* M9, M12: segments are stamped with their key's {slot, generation}, not its
 * slot: a huge block freed by a key is not taken for a block of the key that
 * next occupies the same slot (its free is foreign, not a double free). */
TEST(test_m9_huge_block_of_a_slots_previous_key_is_foreign_to_the_next)
{
    HEXPERTKEY a = key_new(0, "m9-slot-a");
    void *p = alloc_ok(a, 8 * MiB);
    free_ok(a, p);
    key_end(a);
    HEXPERTKEY b = key_new(0, "m9-slot-b"); /* the slot list is LIFO: a's slot */
    CHECK(((uintptr_t)a & 0x1FFFFF) == ((uintptr_t)b & 0x1FFFFF)); /* same slot bits */
    nmx_mem_stats before = kst(b);
    CHECK_EQ(ExpertFreeMemory(b, p), NMERR_INVALID_PARAMETER);
    CHECK_EQ(ExpertMemorySize(b, p), 0);
    nmx_mem_stats after = kst(b);
    CHECK_EQ(after.bad_double_free, before.bad_double_free);
    CHECK_EQ(after.bad_foreign, before.bad_foreign + 2);
    key_end(b);
}

typedef struct hook_rec {
    nmx_bad_kind kind;
    HEXPERTKEY key;
    const void *ptr;
    void *ctx;
} hook_rec;

static hook_rec g_recs[64];
static int g_nrec;

static void recorder(nmx_bad_kind kind, HEXPERTKEY key, const void *ptr, void *ctx)
{
    if (g_nrec < 64)
        g_recs[g_nrec] = (hook_rec){kind, key, ptr, ctx};
    g_nrec++;
}

/* M9: the hook receives (kind, key, pointer) for each invalid call, with its
 * context, and nothing for valid calls; removing it stops the calls. */
TEST(test_m9_hook_receives_each_invalid_call_and_can_be_removed)
{
    int ctx_var = 0, stack_var = 0;
    HEXPERTKEY k = key_new(0, "m9-hook"), o = key_new(0, "m9-hook-other");
    unsigned char *p = alloc_ok(k, 32), *q = alloc_ok(k, 32), *ob = alloc_ok(o, 32);
    unsigned char *keep = alloc_ok(k, 32); /* q's page stays in use */
    free_ok(k, q);
    g_nrec = 0;
    nmx_set_bad_call_hook(recorder, &ctx_var);

    /* Valid calls: no report. */
    void *x = alloc_ok(k, 10);
    free_ok(k, x);
    free_ok(k, NULL);
    CHECK_EQ(ExpertMemorySize(k, p), 32);
    CHECK_EQ(g_nrec, 0);

    struct {
        nmx_bad_kind kind;
        HEXPERTKEY key;
        const void *ptr;
    } want[] = {
        {NMX_BAD_DOUBLE_FREE, k, q},     {NMX_BAD_FOREIGN, k, &stack_var},
        {NMX_BAD_WRONG_OWNER, k, ob},    {NMX_BAD_INTERIOR, k, p + 16},
        {NMX_BAD_INTERIOR, k, p + 1},    {NMX_BAD_DOUBLE_FREE, k, q},
        {NMX_BAD_FOREIGN, k, &g_global}, {NMX_BAD_KEY, NULL, p},
        {NMX_BAD_KEY, (HEXPERTKEY)0x12345, NULL}, {NMX_BAD_KEY, (HEXPERTKEY)&stack_var, p},
        {NMX_BAD_KEY, (HEXPERTKEY)0x12345, p},
    };
    ExpertFreeMemory(k, q);
    ExpertFreeMemory(k, &stack_var);
    ExpertFreeMemory(k, ob);
    ExpertFreeMemory(k, p + 16);
    ExpertMemorySize(k, p + 1);
    ExpertReallocMemory(k, q, 8, NULL);
    ExpertReallocMemory(k, &g_global, 8, NULL);
    ExpertFreeMemory(NULL, p);
    ExpertAllocMemory((HEXPERTKEY)0x12345, 8, NULL);
    ExpertMemorySize((HEXPERTKEY)&stack_var, p);
    ExpertReallocMemory((HEXPERTKEY)0x12345, p, 8, NULL);
    int nwant = (int)(sizeof want / sizeof want[0]);
    CHECK_EQ(g_nrec, nwant);
    for (int i = 0; i < nwant && i < g_nrec; i++) {
        CHECK_MSG(g_recs[i].kind == want[i].kind, "call %d: kind %d (%s), expected %d (%s)", i,
                  (int)g_recs[i].kind, nmx_bad_kind_name(g_recs[i].kind), (int)want[i].kind,
                  nmx_bad_kind_name(want[i].kind));
        CHECK_MSG(g_recs[i].key == want[i].key, "call %d: key %p, expected %p", i, g_recs[i].key,
                  want[i].key);
        /* Alloc with a bad key has no pointer: anything is accepted there. */
        if (!(want[i].kind == NMX_BAD_KEY && want[i].ptr == NULL))
            CHECK_MSG(g_recs[i].ptr == want[i].ptr, "call %d: pointer %p, expected %p", i,
                      g_recs[i].ptr, want[i].ptr);
        CHECK_MSG(g_recs[i].ctx == &ctx_var, "call %d: context %p", i, g_recs[i].ctx);
    }
    /* The hook is told, but the result is the error code alone. */
    CHECK_EQ(ExpertMemorySize(k, p), 32);

    nmx_set_bad_call_hook(NULL, NULL);
    int n = g_nrec;
    ExpertFreeMemory(k, q);
    ExpertFreeMemory(NULL, p);
    ExpertAllocMemory((HEXPERTKEY)0x12345, 8, NULL);
    CHECK_EQ(g_nrec, n);
    free_ok(k, p);
    free_ok(k, keep);
    free_ok(o, ob);
    key_end(k);
    key_end(o);
}

/* M9, M4: calls with a bad key are counted in the process-wide bad_key
 * counter, one per call, and on no key. */
TEST(test_m9_bad_key_calls_counted_process_wide)
{
    int stack_var = 0;
    HEXPERTKEY bad[6];
    size_t nb = bad_keys(bad, &stack_var);
    HEXPERTKEY k = key_new(0, "m9-badkey");
    void *p = alloc_ok(k, 16);
    nmx_mem_stats g0 = gst(), k0 = kst(k);
    for (size_t i = 0; i < nb; i++) {
        ExpertAllocMemory(bad[i], 8, NULL);
        ExpertReallocMemory(bad[i], NULL, 8, NULL);
        ExpertReallocMemory(bad[i], p, 8, NULL);
        ExpertFreeMemory(bad[i], p);
        ExpertMemorySize(bad[i], p);
    }
    nmx_mem_stats g1 = gst(), k1 = kst(k);
    CHECK_EQ(g1.bad_key - g0.bad_key, 5 * nb);
    CHECK_STATS_EQ(k1, k0);
    CHECK_EQ(g1.allocs, g0.allocs);
    CHECK_EQ(g1.frees, g0.frees);
    CHECK_EQ(bad_total(&g1), bad_total(&g0));
    CHECK_EQ(ExpertMemorySize(k, p), 16);
    free_ok(k, p);
    key_end(k);
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return x < y ? -1 : x > y;
}

/* M9: keys are never reused. 10000 keys created and destroyed one after the
 * other: every handle is new, and every old handle stays invalid. */
TEST(test_m9_destroyed_keys_are_never_reused)
{
    enum { N = 10000 };
    HEXPERTKEY *h = malloc(N * sizeof *h);
    for (int i = 0; i < N; i++) {
        h[i] = NULL;
        CHECK_EQ(nmx_key_create(NULL, &h[i]), NMERR_SUCCESS);
        CHECK(h[i] != NULL);
        if (i % 3 == 0) /* some keys hold memory when destroyed */
            alloc_ok(h[i], 100);
        CHECK_EQ(nmx_key_destroy(h[i], NULL), NMERR_SUCCESS);
    }
    HEXPERTKEY live = key_new(0, "m9-live");
    for (int i = 0; i < N; i++) {
        DWORD e = JUNK;
        CHECK_MSG(ExpertAllocMemory(h[i], 8, &e) == NULL && e == NMERR_INVALID_EXPERT_HANDLE,
                  "old key %d (%p) accepted: error %u", i, h[i], (unsigned)e);
        nmx_mem_stats s;
        CHECK_MSG(nmx_key_stats(h[i], &s) == NMERR_INVALID_EXPERT_HANDLE, "stats of old key %d", i);
        CHECK_MSG(h[i] != live, "new key equals old key %d", i);
    }
    qsort(h, N, sizeof *h, cmp_ptr);
    for (int i = 1; i < N; i++)
        CHECK_MSG(h[i] != h[i - 1], "handle %p issued twice", h[i]);
    CHECK(alloc_ok(live, 8) != NULL);
    key_end(live);
    free(h);
}

/* M9: every kind has a name; unknown kinds give "?". */
TEST(test_m9_bad_kind_names)
{
    const char *names[6];
    for (int i = NMX_BAD_DOUBLE_FREE; i <= NMX_BAD_KEY; i++) {
        names[i] = nmx_bad_kind_name((nmx_bad_kind)i);
        CHECK(names[i] != NULL);
        if (!names[i])
            return;
        CHECK_MSG(names[i][0] != '\0' && strcmp(names[i], "?") != 0, "kind %d named \"%s\"", i,
                  names[i]);
        for (int j = NMX_BAD_DOUBLE_FREE; j < i; j++)
            CHECK_MSG(strcmp(names[i], names[j]) != 0, "kinds %d and %d share a name", i, j);
    }
    CHECK(strstr(names[NMX_BAD_DOUBLE_FREE], "double") != NULL);
    CHECK(strcmp(nmx_bad_kind_name((nmx_bad_kind)0), "?") == 0);
    CHECK(strcmp(nmx_bad_kind_name((nmx_bad_kind)99), "?") == 0);
}

/* ========================================================================
 * M11: quota
 * ======================================================================== */

/* M11: exactly at the quota succeeds; one byte over fails and is counted. */
TEST(test_m11_quota_exact_edge_and_one_byte_over)
{
    HEXPERTKEY k = key_new(10000, "m11-edge");
    void *a = alloc_ok(k, 10000);
    CHECK(a != NULL);
    DWORD e = JUNK;
    CHECK(ExpertAllocMemory(k, 1, &e) == NULL);
    CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
    void *z = alloc_ok(k, 0); /* zero bytes never exceed it */
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.failed_quota, 1);
    CHECK_EQ(s.failed_oom, 0);
    CHECK_EQ(s.live_bytes, 10000);
    free_ok(k, a);
    free_ok(k, z);
    /* Several blocks summing to the quota. */
    void *b[4];
    for (int i = 0; i < 4; i++)
        b[i] = alloc_ok(k, 2500);
    e = JUNK;
    CHECK(ExpertAllocMemory(k, 1, &e) == NULL);
    CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
    e = JUNK;
    CHECK(ExpertAllocMemory(k, SIZE_MAX, &e) == NULL);
    CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
    s = kst(k);
    CHECK_EQ(s.failed_quota + s.failed_oom, 3);
    CHECK(s.failed_quota >= 2);
    CHECK_EQ(s.live_blocks, 4);
    for (int i = 0; i < 4; i++)
        free_ok(k, b[i]);
    key_end(k);

    /* A quota larger than a segment, met by a huge block. */
    k = key_new(16 * MiB, "m11-huge");
    void *h = alloc_ok(k, 16 * MiB);
    e = JUNK;
    CHECK(ExpertAllocMemory(k, 1, &e) == NULL);
    CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
    free_ok(k, h);
    key_end(k);
}

/* M11: the quota counts requested bytes, not the rounded block sizes. */
TEST(test_m11_quota_counts_requested_bytes)
{
    HEXPERTKEY k = key_new(1000, "m11-requested");
    void *b[10];
    for (int i = 0; i < 10; i++) /* 100 bytes each, rounded up by the heap */
        b[i] = alloc_ok(k, 100);
    CHECK_EQ(kst(k).live_bytes, 1000);
    CHECK(ExpertAllocMemory(k, 1, NULL) == NULL);
    for (int i = 0; i < 10; i++)
        free_ok(k, b[i]);
    b[0] = alloc_ok(k, 999);
    b[1] = alloc_ok(k, 1);
    free_ok(k, b[0]);
    free_ok(k, b[1]);
    key_end(k);
}

/* M11: a growing Realloc past the quota fails and leaves the block; up to the
 * quota exactly it works; shrinking and freeing always work; freed bytes can
 * be allocated again. */
TEST(test_m11_growing_realloc_over_quota_fails_shrink_and_free_work)
{
    HEXPERTKEY k = key_new(1000, "m11-realloc");
    unsigned char *x = alloc_ok(k, 600), *y = alloc_ok(k, 300);
    if (!x || !y) {
        key_end(k);
        return;
    }
    mu_fill(x, 600, 12);
    DWORD e = JUNK;
    CHECK(ExpertReallocMemory(k, x, 701, &e) == NULL);
    CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
    CHECK_EQ(ExpertMemorySize(k, x), 600);
    CHECK(mu_check(x, 600, 12) == MU_NONE);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.failed_quota, 1);
    CHECK_EQ(s.live_bytes, 900);
    e = JUNK;
    unsigned char *x2 = ExpertReallocMemory(k, x, 700, &e); /* exactly the quota */
    CHECK(x2 != NULL);
    CHECK_EQ(e, NMERR_SUCCESS);
    if (x2)
        x = x2;
    CHECK(mu_check(x, 600, 12) == MU_NONE);
    CHECK_EQ(kst(k).live_bytes, 1000);
    /* At the quota: same size, shrink, zero size all work. */
    x2 = ExpertReallocMemory(k, x, 700, &e);
    CHECK(x2 != NULL && e == NMERR_SUCCESS);
    if (x2)
        x = x2;
    x2 = ExpertReallocMemory(k, x, 10, &e);
    CHECK(x2 != NULL && e == NMERR_SUCCESS);
    if (x2)
        x = x2;
    CHECK(mu_check(x, 10, 12) == MU_NONE);
    unsigned char *y2 = ExpertReallocMemory(k, y, 0, &e);
    CHECK(y2 != NULL && e == NMERR_SUCCESS);
    if (y2)
        y = y2;
    CHECK_EQ(kst(k).live_bytes, 10);
    /* Freed room can be used again. */
    void *big = alloc_ok(k, 990);
    CHECK(big != NULL);
    CHECK(ExpertAllocMemory(k, 1, NULL) == NULL);
    free_ok(k, big);
    free_ok(k, x);
    free_ok(k, y);
    void *all = alloc_ok(k, 1000);
    free_ok(k, all);
    s = kst(k);
    CHECK_EQ(s.live_bytes, 0);
    CHECK_EQ(s.failed_quota, 2);
    key_end(k);

    /* A huge block under a quota: growth past it fails, the block stays. */
    k = key_new(20 * MiB, "m11-realloc-huge");
    unsigned char *h = alloc_ok(k, 16 * MiB);
    if (h) {
        mu_fill(h, 4096, 13);
        CHECK(ExpertReallocMemory(k, h, 20 * MiB + 1, &e) == NULL);
        CHECK_EQ(e, NMERR_OUT_OF_MEMORY);
        CHECK_EQ(ExpertMemorySize(k, h), 16 * MiB);
        CHECK(mu_check(h, 4096, 13) == MU_NONE);
        free_ok(k, h);
    }
    key_end(k);
}

/* ========================================================================
 * M12: destroy, the leak ledger, reuse and return of memory
 * ======================================================================== */

/* M12, M14: destroy reports what was still held, with the key's last
 * counters. */
TEST(test_m12_destroy_returns_the_leak_ledger)
{
    HEXPERTKEY k = key_new(0, "m12-ledger");
    static const size_t sizes[] = {10, 0, 300, 5000, 40000, 1 * MiB, 8 * MiB, 77};
    void *p[8];
    uint64_t held = 0;
    for (int i = 0; i < 8; i++)
        p[i] = alloc_ok(k, sizes[i]);
    free_ok(k, p[0]);
    free_ok(k, p[5]);
    free_ok(k, p[3]);
    for (int i = 0; i < 8; i++)
        if (i != 0 && i != 5 && i != 3)
            held += sizes[i];
    nmx_mem_stats live = kst(k), fin;
    memset(&fin, 0xEE, sizeof fin);
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, 5);
    CHECK_EQ(fin.live_bytes, held);
    CHECK_EQ(fin.allocs, 8);
    CHECK_EQ(fin.frees, 3);
    CHECK_STATS_EQ(fin, live);
    /* destroy with final NULL is allowed */
    k = key_new(0, "m12-null-final");
    alloc_ok(k, 5);
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
}

/* M12: a million small blocks left live are all reclaimed by destroy. */
TEST(test_m12_destroy_reclaims_a_million_small_blocks)
{
    nmx_heap_stats h0 = hst();
    HEXPERTKEY k = key_new(0, "m12-million");
    enum { N = 1000000 };
    uint64_t bytes = 0;
    for (int i = 0; i < N; i++) {
        size_t n = (size_t)(i % 64) + 1;
        void *p = ExpertAllocMemory(k, n, NULL);
        if (!p) {
            CHECK_MSG(p != NULL, "Alloc #%d failed", i);
            break;
        }
        bytes += n;
    }
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, N);
    CHECK_EQ(fin.live_bytes, bytes);
    CHECK_EQ(fin.allocs, N);
    CHECK_EQ(fin.peak_bytes, bytes);
    nmx_heap_stats h1 = hst();
    CHECK_EQ(h1.segments_in_use, h0.segments_in_use);
    CHECK_EQ(h1.keys_live, h0.keys_live);
}

/* M12: huge blocks and a mix of every kind are reclaimed; the process's huge
 * bytes and segments in use return to where they were. */
TEST(test_m12_destroy_reclaims_huge_and_mixed_blocks)
{
    nmx_heap_stats h0 = hst();
    HEXPERTKEY k = key_new(0, "m12-huge");
    static const size_t huge[] = {LARGE_MAX + 1, 8 * MiB, 20 * MiB};
    uint64_t bytes = 0;
    for (int i = 0; i < 3; i++) {
        unsigned char *p = alloc_ok(k, huge[i]);
        if (p) {
            memset(p, 0xAA, huge[i]);
            bytes += huge[i];
        }
    }
    nmx_heap_stats h1 = hst();
    CHECK(h1.huge_bytes_in_use >= h0.huge_bytes_in_use + bytes);
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, 3);
    CHECK_EQ(fin.live_bytes, bytes);
    nmx_heap_stats h2 = hst();
    CHECK_EQ(h2.huge_bytes_in_use, h0.huge_bytes_in_use);
    CHECK_EQ(h2.segments_in_use, h0.segments_in_use);

    k = key_new(0, "m12-mixed");
    bytes = 0;
    uint64_t blocks = 0;
    for (int i = 0; i < 20000; i++) {
        size_t n = i % 1000 == 0 ? 5 * MiB : i % 50 == 0 ? 70 * KiB : (size_t)(i % 3000);
        void *p = alloc_ok(k, n);
        if (!p)
            continue;
        if (i % 7 == 0) {
            free_ok(k, p);
        } else if (i % 11 == 0) {
            void *q = ExpertReallocMemory(k, p, n / 2 + 3, NULL);
            CHECK(q != NULL);
            bytes += n / 2 + 3;
            blocks++;
        } else {
            bytes += n;
            blocks++;
        }
    }
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, blocks);
    CHECK_EQ(fin.live_bytes, bytes);
    h2 = hst();
    CHECK_EQ(h2.huge_bytes_in_use, h0.huge_bytes_in_use);
    CHECK_EQ(h2.segments_in_use, h0.segments_in_use);
    CHECK_EQ(h2.keys_live, h0.keys_live);
}

/* M12, M4, M9: a destroyed key is invalid for every function, forever. */
TEST(test_m12_destroyed_key_is_invalid_everywhere)
{
    HEXPERTKEY k = key_new(0, "m12-dead");
    void *p = alloc_ok(k, 64);
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
    DWORD e = JUNK;
    CHECK(ExpertAllocMemory(k, 8, &e) == NULL);
    CHECK_EQ(e, NMERR_INVALID_EXPERT_HANDLE);
    e = JUNK;
    CHECK(ExpertReallocMemory(k, p, 8, &e) == NULL);
    CHECK_EQ(e, NMERR_INVALID_EXPERT_HANDLE);
    CHECK_EQ(ExpertFreeMemory(k, p), NMERR_INVALID_EXPERT_HANDLE);
    CHECK_EQ(ExpertMemorySize(k, p), 0);
    nmx_mem_stats s;
    CHECK_EQ(nmx_key_stats(k, &s), NMERR_INVALID_EXPERT_HANDLE);
    CHECK_EQ(nmx_key_terminate(k), NMERR_INVALID_EXPERT_HANDLE);
    char name[16];
    CHECK_EQ(nmx_key_name(k, name, sizeof name), NMERR_INVALID_EXPERT_HANDLE);
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_INVALID_EXPERT_HANDLE);
    /* Still invalid after other keys came and went in its slot. */
    for (int i = 0; i < 100; i++) {
        HEXPERTKEY t = key_new(0, NULL);
        key_end(t);
    }
    CHECK(ExpertAllocMemory(k, 8, NULL) == NULL);
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_INVALID_EXPERT_HANDLE);
    /* Host calls with forged keys fail the same way. */
    int stack_var = 0;
    HEXPERTKEY bad[6];
    size_t nb = bad_keys(bad, &stack_var);
    for (size_t i = 0; i < nb; i++) {
        if (bad[i]) /* stats(NULL) is the process-wide figure */
            CHECK_MSG(nmx_key_stats(bad[i], &s) == NMERR_INVALID_EXPERT_HANDLE, "stats, key %zu", i);
        CHECK_MSG(nmx_key_terminate(bad[i]) == NMERR_INVALID_EXPERT_HANDLE, "terminate, key %zu", i);
        CHECK_MSG(nmx_key_name(bad[i], name, sizeof name) == NMERR_INVALID_EXPERT_HANDLE,
                  "name, key %zu", i);
        CHECK_MSG(nmx_key_destroy(bad[i], NULL) == NMERR_INVALID_EXPERT_HANDLE,
                  "destroy, key %zu", i);
    }
    CHECK_EQ(nmx_key_destroy(NULL, NULL), NMERR_INVALID_EXPERT_HANDLE);
}

/* M12: a destroyed key's segments go to the cache and the next key takes
 * them from there instead of mapping new ones. */
TEST(test_m12_released_segments_are_reused_by_the_next_key)
{
    size_t old = cache_limit_now();
    /* A limit no test reaches: the background trimmer stays idle, so the
     * segment counts move only with this test's calls. */
    nmx_heap_set_cache_limit((size_t)1 << 30);
    heap_settle();
    nmx_heap_stats h0 = hst();
    HEXPERTKEY a = key_new(0, "m12-reuse-a");
    CHECK(alloc_ok(a, 100) != NULL);
    nmx_heap_stats h1 = hst();
    CHECK_EQ(h1.segments_in_use, h0.segments_in_use + 1);
    CHECK_EQ(h1.keys_live, h0.keys_live + 1);
    key_end(a);
    nmx_heap_stats h2 = hst();
    CHECK_EQ(h2.segments_in_use, h0.segments_in_use);
    CHECK_EQ(h2.keys_live, h0.keys_live);
    CHECK(h2.segments_cached >= 1);
    uint64_t total2 = h2.segments_in_use + h2.segments_cached + h2.segments_released;

    HEXPERTKEY b = key_new(0, "m12-reuse-b");
    CHECK(alloc_ok(b, 100) != NULL);
    nmx_heap_stats h3 = hst();
    uint64_t total3 = h3.segments_in_use + h3.segments_cached + h3.segments_released;
    CHECK_EQ(h3.segments_in_use, h0.segments_in_use + 1);
    CHECK_EQ(h3.segments_cached, h2.segments_cached - 1);
    CHECK_EQ(total3, total2); /* no segment was mapped */
    key_end(b);

    /* A key with many segments, destroyed, then the same again: no growth. */
    HEXPERTKEY c = key_new(0, "m12-reuse-c");
    for (int i = 0; i < 10; i++)
        alloc_ok(c, 2 * MiB); /* one segment each */
    key_end(c);
    nmx_heap_stats h4 = hst();
    uint64_t total4 = h4.segments_in_use + h4.segments_cached + h4.segments_released;
    c = key_new(0, "m12-reuse-d");
    for (int i = 0; i < 10; i++)
        alloc_ok(c, 2 * MiB);
    nmx_heap_stats h5 = hst();
    uint64_t total5 = h5.segments_in_use + h5.segments_cached + h5.segments_released;
    CHECK_EQ(total5, total4);
    key_end(c);
    nmx_heap_set_cache_limit(old);
}

/* Touches ~200 MiB through a key, destroys it, lets the surplus over the
 * cache limit go back to the OS (at once with nmx_heap_trim() when `trim`,
 * else by waiting for the background trimmer), and returns how many kB the
 * resident set shrank by. */
static long rss_drop_after_destroy(int trim)
{
    HEXPERTKEY k = key_new(0, "m12-rss");
    for (int i = 0; i < 200; i++) {
        unsigned char *p = alloc_ok(k, MiB);
        if (p)
            memset(p, 0x5A, MiB);
    }
    long before = mu_rss_kb();
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, 200);
    CHECK_EQ(fin.live_bytes, 200 * MiB);
    if (trim) {
        nmx_heap_trim();
        nmx_heap_stats h = hst();
        CHECK_MSG(h.segments_cached * SEG_SIZE <= h.cache_limit_bytes,
                  "after nmx_heap_trim(): %llu segments cached over a limit of %llu bytes",
                  (unsigned long long)h.segments_cached, (unsigned long long)h.cache_limit_bytes);
        usleep(5000); /* the background trimmer may hold one segment */
    } else {
        CHECK_MSG(wait_cache_within_limit(), "the cache stayed over its limit for 5 s");
    }
    long after = mu_rss_kb();
    CHECK(before > 0 && after > 0);
    return before - after;
}

/* M12: with the cache limit at 0, a destroyed key's pages go back to the OS
 * at once: the resident set shrinks by (nearly) all it touched. Huge blocks'
 * pages go back when they are freed. */
TEST(test_m12_with_cache_limit_zero_pages_go_back_to_the_os)
{
    size_t old = cache_limit_now();
    nmx_heap_set_cache_limit(0);
    for (int trim = 0; trim < 2; trim++) {
        long drop = rss_drop_after_destroy(trim);
        CHECK_MSG(drop >= 180 * 1024, "%s: RSS fell by %ld kB after destroying 200 MiB of blocks",
                  trim ? "nmx_heap_trim" : "background trim", drop);
        nmx_heap_stats h = hst();
        CHECK_EQ(h.segments_cached, 0);
        CHECK_EQ(h.cache_limit_bytes, 0);
    }

    HEXPERTKEY k = key_new(0, "m12-rss-huge");
    unsigned char *p = alloc_ok(k, 64 * MiB);
    if (p) {
        memset(p, 0x5A, 64 * MiB);
        long before = mu_rss_kb();
        free_ok(k, p);
        long after = mu_rss_kb();
        CHECK_MSG(before - after >= 60 * 1024, "RSS fell by %ld kB after freeing a 64 MiB block",
                  before - after);
    }
    key_end(k);
    nmx_heap_set_cache_limit(old);
    CHECK_EQ(hst().cache_limit_bytes, old);
}

/* M12: the cache of released segments is bounded by the limit: beyond it,
 * pages go back to the OS. */
TEST(test_m12_segment_cache_is_bounded_by_the_limit)
{
    size_t old = cache_limit_now();
    nmx_heap_set_cache_limit(16 * MiB);
    for (int trim = 0; trim < 2; trim++) {
        long drop = rss_drop_after_destroy(trim);
        nmx_heap_stats h = hst();
        CHECK_MSG(h.segments_cached * SEG_SIZE <= 16 * MiB,
                  "%llu segments cached over a 16 MiB limit", (unsigned long long)h.segments_cached);
        CHECK_MSG(drop >= (200 - 16 - 20) * 1024, "%s: RSS fell by %ld kB only",
                  trim ? "nmx_heap_trim" : "background trim", drop);
    }
    nmx_heap_stats h;
    /* Lowering the limit trims the cache at once. */
    nmx_heap_set_cache_limit(4 * MiB);
    h = hst();
    CHECK(h.segments_cached * SEG_SIZE <= 4 * MiB);
    nmx_heap_set_cache_limit(old);
}

/* ========================================================================
 * M14: statistics
 * ======================================================================== */

/* M14: every field after a known sequence of calls. */
TEST(test_m14_stats_after_a_known_sequence)
{
    nmx_mem_stats g0 = gst();
    HEXPERTKEY k = key_new(0, "m14");
    nmx_mem_stats w;
    memset(&w, 0, sizeof w);
    nmx_mem_stats s = kst(k);
    CHECK_STATS_EQ(s, w); /* a new key: all zero */

    void *a = alloc_ok(k, 100);
    w.allocs = 1, w.live_blocks = 1, w.live_bytes = 100, w.peak_bytes = 100;
    s = kst(k);
    CHECK_STATS_EQ(s, w);
    void *b = alloc_ok(k, 0);
    void *c = alloc_ok(k, 5000);
    w.allocs = 3, w.live_blocks = 3, w.live_bytes = 5100, w.peak_bytes = 5100;
    s = kst(k);
    CHECK_STATS_EQ(s, w);
    a = ExpertReallocMemory(k, a, 300, NULL);
    CHECK(a != NULL);
    w.reallocs = 1, w.live_bytes = 5300, w.peak_bytes = 5300;
    c = ExpertReallocMemory(k, c, 1000, NULL);
    CHECK(c != NULL);
    w.reallocs = 2, w.live_bytes = 1300;
    s = kst(k);
    CHECK_STATS_EQ(s, w);
    free_ok(k, b);
    w.frees = 1, w.live_blocks = 2;
    CHECK(ExpertAllocMemory(k, SIZE_MAX, NULL) == NULL);
    CHECK(ExpertReallocMemory(k, a, SIZE_MAX, NULL) == NULL);
    w.failed_oom = 2;
    CHECK_EQ(ExpertFreeMemory(k, b), NMERR_INVALID_PARAMETER);
    w.bad_double_free = 1;
    void *d = ExpertReallocMemory(k, NULL, 50, NULL); /* as Alloc */
    CHECK(d != NULL);
    w.allocs = 4, w.live_blocks = 3, w.live_bytes = 1350;
    s = kst(k);
    CHECK_STATS_EQ(s, w);
    void *e = alloc_ok(k, MiB);
    w.allocs = 5, w.live_blocks = 4, w.live_bytes = 1350 + MiB, w.peak_bytes = 1350 + MiB;
    free_ok(k, e);
    w.frees = 2, w.live_blocks = 3, w.live_bytes = 1350;
    int local = 0;
    CHECK_EQ(ExpertFreeMemory(k, &local), NMERR_INVALID_PARAMETER);
    w.bad_foreign = 1;
    CHECK_EQ(ExpertMemorySize(k, (unsigned char *)c + 16), 0);
    w.bad_interior = 1;
    s = kst(k);
    CHECK_STATS_EQ(s, w);
    CHECK_EQ(nmx_key_terminate(k), NMERR_SUCCESS);
    CHECK(ExpertAllocMemory(k, 10, NULL) == NULL);
    CHECK(ExpertReallocMemory(k, a, 10, NULL) == NULL);
    CHECK(ExpertReallocMemory(k, NULL, 10, NULL) == NULL);
    w.failed_terminate = 3;
    CHECK_EQ(ExpertFreeMemory(k, a), NMERR_EXPERT_TERMINATE);
    w.frees = 3, w.live_blocks = 2, w.live_bytes = 1050;
    s = kst(k);
    CHECK_STATS_EQ(s, w);
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_STATS_EQ(fin, w);

    /* Quota failures are counted apart from OOM. */
    HEXPERTKEY q = key_new(1000, "m14-quota");
    CHECK(ExpertAllocMemory(q, 1001, NULL) == NULL);
    void *x = alloc_ok(q, 600);
    CHECK(ExpertReallocMemory(q, x, 1001, NULL) == NULL);
    CHECK(ExpertAllocMemory(q, 401, NULL) == NULL);
    nmx_mem_stats wq;
    memset(&wq, 0, sizeof wq);
    wq.allocs = 1, wq.live_blocks = 1, wq.live_bytes = 600, wq.peak_bytes = 600, wq.failed_quota = 3;
    nmx_mem_stats fq;
    CHECK_EQ(nmx_key_destroy(q, &fq), NMERR_SUCCESS);
    CHECK_STATS_EQ(fq, wq);

    /* The process-wide counters grew by exactly these two keys' calls. */
    nmx_mem_stats g1 = gst();
    CHECK_EQ(g1.allocs - g0.allocs, w.allocs + wq.allocs);
    CHECK_EQ(g1.reallocs - g0.reallocs, w.reallocs + wq.reallocs);
    CHECK_EQ(g1.frees - g0.frees, w.frees + wq.frees);
    CHECK_EQ(g1.failed_oom - g0.failed_oom, w.failed_oom);
    CHECK_EQ(g1.failed_quota - g0.failed_quota, wq.failed_quota);
    CHECK_EQ(g1.failed_terminate - g0.failed_terminate, w.failed_terminate);
    CHECK_EQ(g1.bad_double_free - g0.bad_double_free, 1);
    CHECK_EQ(g1.bad_foreign - g0.bad_foreign, 1);
    CHECK_EQ(g1.bad_interior - g0.bad_interior, 1);
    CHECK_EQ(g1.bad_wrong_owner - g0.bad_wrong_owner, 0);
    CHECK_EQ(g1.bad_key, g0.bad_key);
}

/* M14: peak_bytes is the highest live_bytes ever reached, not the current. */
TEST(test_m14_peak_bytes_is_the_high_water_mark)
{
    HEXPERTKEY k = key_new(0, "m14-peak");
    void *p[10];
    for (int i = 0; i < 10; i++)
        p[i] = alloc_ok(k, 1000);
    for (int i = 0; i < 10; i++)
        free_ok(k, p[i]);
    void *q = alloc_ok(k, 5000);
    nmx_mem_stats s = kst(k);
    CHECK_EQ(s.peak_bytes, 10000);
    CHECK_EQ(s.live_bytes, 5000);
    q = ExpertReallocMemory(k, q, 12000, NULL);
    CHECK(q != NULL);
    s = kst(k);
    CHECK_EQ(s.peak_bytes, 12000);
    q = ExpertReallocMemory(k, q, 1, NULL);
    s = kst(k);
    CHECK_EQ(s.peak_bytes, 12000);
    CHECK_EQ(s.live_bytes, 1);
    key_end(k);
}

/* ========================================================================
 * Key API (host.h)
 * ======================================================================== */

TEST(test_key_create_with_null_options_and_null_out)
{
    nmx_heap_stats h0 = hst();
    CHECK_EQ(nmx_key_create(NULL, NULL), NMERR_INVALID_PARAMETER);
    nmx_key_options o = {0, "x"};
    CHECK_EQ(nmx_key_create(&o, NULL), NMERR_INVALID_PARAMETER);
    CHECK_EQ(hst().keys_live, h0.keys_live);
    HEXPERTKEY k = NULL;
    CHECK_EQ(nmx_key_create(NULL, &k), NMERR_SUCCESS);
    CHECK(k != NULL);
    CHECK_EQ(hst().keys_live, h0.keys_live + 1);
    char name[8];
    memset(name, 'x', sizeof name);
    CHECK_EQ(nmx_key_name(k, name, sizeof name), NMERR_SUCCESS);
    CHECK_EQ(name[0], '\0');
    void *big = alloc_ok(k, 64 * MiB); /* no quota */
    CHECK(big != NULL);
    free_ok(k, big);
    key_end(k);
    CHECK_EQ(hst().keys_live, h0.keys_live);
}

TEST(test_key_name_is_copied_cut_to_fit_and_empty_when_unnamed)
{
    char long_name[101];
    memset(long_name, 'n', 100);
    long_name[100] = '\0';
    long_name[0] = 'L';
    char given[] = "top users";
    HEXPERTKEY a = key_new(0, given), b = key_new(0, long_name), c = key_new(0, NULL);
    given[0] = 'X'; /* the key keeps its own copy */
    char buf[128];
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(nmx_key_name(a, buf, sizeof buf), NMERR_SUCCESS);
    CHECK(strcmp(buf, "top users") == 0);
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(nmx_key_name(a, buf, 4), NMERR_SUCCESS);
    CHECK(strcmp(buf, "top") == 0);
    CHECK_EQ(buf[4], 'x'); /* nothing written past len */
    CHECK_EQ(nmx_key_name(a, buf, 1), NMERR_SUCCESS);
    CHECK_EQ(buf[0], '\0');
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(nmx_key_name(b, buf, sizeof buf), NMERR_SUCCESS);
    CHECK_EQ(strlen(buf), 63); /* first 63 bytes kept */
    CHECK_EQ(buf[0], 'L');
    CHECK(strncmp(buf, long_name, 63) == 0);
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(nmx_key_name(c, buf, sizeof buf), NMERR_SUCCESS);
    CHECK_EQ(buf[0], '\0');
    CHECK_EQ(nmx_key_name(a, NULL, 10), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_key_name(a, buf, 0), NMERR_INVALID_PARAMETER);
    key_end(a);
    key_end(b);
    key_end(c);
}

TEST(test_key_stats_and_heap_stats_with_null_out_fail)
{
    HEXPERTKEY k = key_new(0, "stats-null");
    CHECK_EQ(nmx_key_stats(k, NULL), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_key_stats(NULL, NULL), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_heap_stats_get(NULL), NMERR_INVALID_PARAMETER);
    key_end(k);
}

int main(void)
{
    RUN(test_m1_fresh_blocks_are_zero_aligned_and_exact_in_every_class);
    RUN(test_m1_reused_blocks_of_same_size_are_zero_filled);
    RUN(test_m1_blocks_freed_past_the_free_index_stack_are_reused_zero_and_distinct);
    RUN(test_m1_reused_blocks_of_other_sizes_are_zero_filled);
    RUN(test_m1_live_blocks_are_distinct_and_never_overlap);
    RUN(test_m1_realloc_grown_tail_is_zero_for_every_size);
    RUN(test_m1_realloc_grown_tail_is_zero_over_dirty_memory);
    RUN(test_m13_blocks_reused_by_another_key_after_destroy_are_zero);
    RUN(test_m13_blocks_freed_then_reused_by_another_key_are_zero);
    RUN(test_m13_blocks_reused_after_pages_went_back_to_os_are_zero);
    RUN(test_m13_overrun_into_unused_page_does_not_reach_next_key);
    RUN(test_m2_zero_size_blocks_are_valid_distinct_and_freeable);
    RUN(test_m3_perror_may_be_null_everywhere);
    RUN(test_m3_perror_set_to_success_on_success);
    RUN(test_m4_alloc_too_large_fails_with_out_of_memory);
    RUN(test_m4_alloc_fails_with_out_of_memory_when_system_refuses);
    RUN(test_m4_alloc_over_quota_fails_with_out_of_memory);
    RUN(test_m4_alloc_after_terminate_fails_with_expert_terminate);
    RUN(test_m4_alloc_with_bad_key_fails_with_invalid_expert_handle);
    RUN(test_m4_forged_key_one_bit_off_a_live_key_is_invalid);
    RUN(test_m5_realloc_of_null_behaves_as_alloc);
    RUN(test_m5_realloc_to_zero_resizes_and_does_not_free);
    RUN(test_m5_realloc_preserves_content_up_and_down_all_block_kinds);
    RUN(test_m5_failed_realloc_leaves_block_intact);
    RUN(test_m5_realloc_after_terminate_fails_and_leaves_block);
    RUN(test_m5_realloc_with_bad_key_fails_and_leaves_block);
    RUN(test_m5_realloc_of_invalid_pointer_fails_and_changes_nothing);
    RUN(test_m6_free_of_live_block_succeeds_and_null_is_a_noop);
    RUN(test_m6_free_of_invalid_pointer_fails_and_changes_nothing);
    RUN(test_m6_free_of_block_of_another_key_fails);
    RUN(test_m6_free_after_terminate_releases_and_returns_expert_terminate);
    RUN(test_m6_free_with_bad_key_fails_and_changes_nothing);
    RUN(test_m7_memory_size_is_exact_for_every_size_and_after_realloc);
    RUN(test_m7_memory_size_of_invalid_pointer_is_zero);
    RUN(test_m8_overrun_past_block_end_does_not_break_later_calls);
    RUN(test_m8_wild_pointers_into_prot_none_memory_are_rejected_untouched);
    RUN(test_m8_pointers_into_allocator_metadata_are_rejected);
    RUN(test_m9_invalid_calls_counted_by_kind);
    RUN(test_m9_double_free_after_freeing_every_block_counts_as_double_free);
    RUN(test_m9_double_free_of_large_and_huge_blocks_counts_as_double_free);
    RUN(test_m9_huge_block_of_a_slots_previous_key_is_foreign_to_the_next);
    RUN(test_m9_hook_receives_each_invalid_call_and_can_be_removed);
    RUN(test_m9_bad_key_calls_counted_process_wide);
    RUN(test_m9_destroyed_keys_are_never_reused);
    RUN(test_m9_bad_kind_names);
    RUN(test_m11_quota_exact_edge_and_one_byte_over);
    RUN(test_m11_quota_counts_requested_bytes);
    RUN(test_m11_growing_realloc_over_quota_fails_shrink_and_free_work);
    RUN(test_m12_destroy_returns_the_leak_ledger);
    RUN(test_m12_destroy_reclaims_a_million_small_blocks);
    RUN(test_m12_destroy_reclaims_huge_and_mixed_blocks);
    RUN(test_m12_destroyed_key_is_invalid_everywhere);
    RUN(test_m12_released_segments_are_reused_by_the_next_key);
    RUN(test_m12_with_cache_limit_zero_pages_go_back_to_the_os);
    RUN(test_m12_segment_cache_is_bounded_by_the_limit);
    RUN(test_m14_stats_after_a_known_sequence);
    RUN(test_m14_peak_bytes_is_the_high_water_mark);
    RUN(test_key_create_with_null_options_and_null_out);
    RUN(test_key_name_is_copied_cut_to_fit_and_empty_when_unnamed);
    RUN(test_key_stats_and_heap_stats_with_null_out_fail);
    return CHECK_DONE();
}
