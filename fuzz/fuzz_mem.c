/* libFuzzer target for the expert heap (SPEC M1-M9, M11-M14).
 *
 * The input is read as a sequence of operations over three keys: alloc,
 * realloc, free, size, terminate, destroy, create, writes into blocks (and
 * into the slack just past their end), calls with bad keys, statistics
 * checks, and changes of the segment cache limit. Sizes come from the input
 * (small, medium, large, huge up to 12 MiB, or absurd). Pointers handed to
 * the library are live blocks, freed blocks, blocks plus an offset, blocks
 * of other keys, or arbitrary 64-bit values from the input: the harness
 * never dereferences anything but the blocks it knows to be live; only the
 * library sees the rest (M8: it must decide without touching them).
 *
 * A reference model (each block's size and bytes, each key's statistics)
 * checks every result: return codes, MemorySize, zero-filled new memory,
 * kept contents, every nmx_mem_stats field after every operation, and the
 * leak ledger of every destroy. Every key is destroyed at the end of each
 * input, after which no key, segment or huge mapping may remain in use.
 * A violation prints what was expected and traps.
 *
 *   cmake -S . -B build-fuzz -DNMX_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   build-fuzz/fuzz/fuzz_mem -max_total_time=60 corpus/
 */
#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NKEYS 3
#define MAXB 64
#define MAX_OPS 1500
#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)
#define LIVE_CAP (48 * MiB)        /* all keys together: more is skipped */
#define ABSURD ((size_t)1 << 47)   /* beyond anything the allocator can serve */

/* ---- failing ---- */

static const char *g_op = "?";
static size_t g_opno;

#define ENSURE(cond, ...)                                                          \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "fuzz_mem: op %zu (%s): %s:%d: %s: ", g_opno, g_op,   \
                    __FILE__, __LINE__, #cond);                                    \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
            __builtin_trap();                                                      \
        }                                                                          \
    } while (0)

/* ---- input ---- */

typedef struct reader {
    const uint8_t *d;
    size_t n, i;
} reader;

static uint64_t take(reader *r, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned j = 0; j < bytes; j++)
        v |= (uint64_t)(r->i < r->n ? r->d[r->i++] : 0) << (8 * j);
    return v;
}

#define U8(r) ((unsigned)take((r), 1))
#define U16(r) ((size_t)take((r), 2))
#define U32(r) ((size_t)take((r), 4))
#define U64(r) (take((r), 8))

/* ---- patterns ---- */

static inline uint64_t pat_word(size_t w, uint32_t seed)
{
    uint64_t x = (uint64_t)w * 0x9E3779B97F4A7C15ull + (uint64_t)seed * 0xBF58476D1CE4E5B9ull + 1;
    return x ^ (x >> 29);
}

static inline uint8_t pat_byte(size_t i, uint32_t seed)
{
    return (uint8_t)(pat_word(i / 8, seed) >> (8 * (i % 8)));
}

static void fill(unsigned char *p, size_t from, size_t to, uint32_t seed)
{
    size_t i = from;
    for (; i < to && (i & 7); i++)
        p[i] = pat_byte(i, seed);
    for (; i + 8 <= to; i += 8) {
        uint64_t v = pat_word(i / 8, seed);
        memcpy(p + i, &v, 8);
    }
    for (; i < to; i++)
        p[i] = pat_byte(i, seed);
}

/* First byte in [from, to) off the pattern, or to. */
static size_t check_pat(const unsigned char *p, size_t from, size_t to, uint32_t seed)
{
    size_t i = from;
    for (; i < to && (i & 7); i++)
        if (p[i] != pat_byte(i, seed))
            return i;
    for (; i + 8 <= to; i += 8) {
        uint64_t v = pat_word(i / 8, seed), got;
        memcpy(&got, p + i, 8);
        if (got != v)
            break;
    }
    for (; i < to; i++)
        if (p[i] != pat_byte(i, seed))
            return i;
    return to;
}

static size_t check_zero(const unsigned char *p, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (p[i])
            return i;
    return to;
}

/* ---- the model ---- */

typedef struct fblk {
    unsigned char *p;
    size_t n, wlen; /* [0, wlen) pattern, [wlen, n) zero */
    uint32_t seed;
} fblk;

typedef struct fkey {
    HEXPERTKEY h; /* when !live: the destroyed key's handle (stale) */
    int live, term;
    size_t quota;
    fblk b[MAXB];
    int nb;
    nmx_mem_stats e;
} fkey;

static fkey K[NKEYS];
static void *g_dead[32];
static unsigned g_ndead, g_dead_next;
static uint64_t g_bad_key_calls;
static uint32_t g_seed_ctr;

static size_t total_live(void)
{
    size_t t = 0;
    for (int i = 0; i < NKEYS; i++)
        if (K[i].live)
            t += (size_t)K[i].e.live_bytes;
    return t;
}

static void add_dead(void *p)
{
    g_dead[g_dead_next] = p;
    g_dead_next = (g_dead_next + 1) % 32;
    if (g_ndead < 32)
        g_ndead++;
}

static void e_live_add(nmx_mem_stats *e, size_t n)
{
    e->live_bytes += n;
    if (e->live_bytes > e->peak_bytes)
        e->peak_bytes = e->live_bytes;
}

#define STAT_FIELDS(X)                                                         \
    X(live_bytes) X(live_blocks) X(peak_bytes) X(allocs) X(reallocs) X(frees)  \
    X(failed_oom) X(failed_quota) X(failed_terminate) X(bad_double_free)       \
    X(bad_foreign) X(bad_wrong_owner) X(bad_interior) X(bad_key)

static void stats_equal(const char *what, int ki, const nmx_mem_stats *got,
                        const nmx_mem_stats *want)
{
#define X(f)                                                                          \
    ENSURE(got->f == want->f, "%s key %d: " #f " %llu, model %llu", what, ki,         \
           (unsigned long long)got->f, (unsigned long long)want->f);
    STAT_FIELDS(X)
#undef X
}

static void check_stats(int ki)
{
    if (!K[ki].live)
        return;
    nmx_mem_stats st;
    ENSURE(nmx_key_stats(K[ki].h, &st) == NMERR_SUCCESS, "stats of a live key");
    stats_equal("nmx_key_stats", ki, &st, &K[ki].e);
}

/* M1, M5, M13: the block's bytes are what the model wrote, zeros after.
 * Blocks above 256 KiB: both ends and the pattern's edge. */
static void verify(const fblk *b)
{
    size_t n = b->n, w = b->wlen, bad;
    if (n <= 256 * KiB) {
        bad = check_pat(b->p, 0, w, b->seed);
        ENSURE(bad == w, "block %p of %zu bytes: byte %zu lost its pattern", (void *)b->p, n, bad);
        bad = check_zero(b->p, w, n);
        ENSURE(bad == n, "block %p of %zu bytes: byte %zu not zero (pattern to %zu)",
               (void *)b->p, n, bad, w);
        return;
    }
    const size_t edge = 4 * KiB;
    size_t lo = w > edge ? w - edge : 0, hi = w + edge < n ? w + edge : n;
    bad = check_pat(b->p, 0, w < edge ? w : edge, b->seed);
    ENSURE(bad == (w < edge ? w : edge), "block of %zu: byte %zu lost its pattern", n, bad);
    bad = check_pat(b->p, lo, w, b->seed);
    ENSURE(bad == w, "block of %zu: byte %zu lost its pattern", n, bad);
    bad = check_zero(b->p, w, hi);
    ENSURE(bad == hi, "block of %zu: byte %zu not zero (pattern to %zu)", n, bad, w);
    size_t tail = n - edge > w ? n - edge : w;
    bad = check_zero(b->p, tail, n);
    ENSURE(bad == n, "block of %zu: byte %zu not zero (pattern to %zu)", n, bad, w);
}

/* M1: 16-byte aligned, overlapping no live block. */
static void check_new(const unsigned char *p, size_t n, const fblk *skip)
{
    ENSURE(((uintptr_t)p & 15) == 0, "block %p not 16-byte aligned", (const void *)p);
    size_t len = n ? n : 1;
    for (int ki = 0; ki < NKEYS; ki++) {
        if (!K[ki].live)
            continue;
        for (int i = 0; i < K[ki].nb; i++) {
            const fblk *o = &K[ki].b[i];
            if (o == skip)
                continue;
            size_t olen = o->n ? o->n : 1;
            ENSURE(!(p < o->p + olen && o->p < p + len),
                   "new block %p (%zu) overlaps live %p (%zu) of key %d", (const void *)p, n,
                   (const void *)o->p, o->n, ki);
        }
    }
}

static int over_quota(const fkey *k, size_t n)
{
    return k->quota && (n > k->quota || k->e.live_bytes > k->quota - n);
}

static size_t read_size(reader *r)
{
    unsigned sel = U8(r);
    if (sel < 150)
        return U16(r) % 1025;
    if (sel < 215)
        return U16(r) + 1;
    if (sel < 245)
        return 64 * KiB + U32(r) % MiB;
    if (sel < 252)
        return 4 * MiB + U32(r) % (8 * MiB);
    switch (sel & 3) {
    case 0: return (size_t)-1;
    case 1: return ABSURD + U16(r);
    case 2: return (size_t)1 << 63;
    default: return ((size_t)-1) - U16(r);
    }
}

/* ---- classification of a pointer for key ki ---- */

enum { P_NULL, P_VALID, P_WRONG_OWNER, P_INTERIOR, P_ANY_BAD };

static int classify(int ki, const void *p, int *idx)
{
    if (!p)
        return P_NULL;
    const unsigned char *c = p;
    for (int i = 0; i < K[ki].nb; i++)
        if (K[ki].b[i].p == c) {
            *idx = i;
            return P_VALID;
        }
    for (int kj = 0; kj < NKEYS; kj++) {
        if (!K[kj].live)
            continue;
        for (int i = 0; i < K[kj].nb; i++) {
            const fblk *b = &K[kj].b[i];
            size_t span = b->n > 16 ? b->n : 16; /* every block has a slot of 16 at least */
            if (c >= b->p && c < b->p + span)
                return kj == ki ? P_INTERIOR : P_WRONG_OWNER; /* start excluded above */
        }
    }
    return P_ANY_BAD;
}

/* The pointer an operation acts on (never dereferenced here unless it is a
 * live block of the model). */
static void *read_ptr(reader *r, int ki)
{
    unsigned sel = U8(r) % 8;
    fkey *k = &K[ki];
    switch (sel) {
    case 0:
    case 1:
    case 2:
        if (k->nb)
            return k->b[U8(r) % (unsigned)k->nb].p;
        return NULL;
    case 3:
        if (g_ndead)
            return g_dead[U8(r) % g_ndead];
        return NULL;
    case 4:
        if (k->nb) {
            const fblk *b = &k->b[U8(r) % (unsigned)k->nb];
            return (void *)((uintptr_t)b->p + U16(r) % (b->n + 64));
        }
        return NULL;
    case 5: {
        int kj = (int)(U8(r) % NKEYS);
        if (K[kj].live && K[kj].nb)
            return K[kj].b[U8(r) % (unsigned)K[kj].nb].p;
        return NULL;
    }
    case 6:
        return (void *)(uintptr_t)U64(r);
    default:
        return NULL;
    }
}

/* After a refused pointer: exactly one invalid call counted (of `want`, or
 * of any kind when want is 0), nothing else changed. */
static void adopt_bad(int ki, int want)
{
    fkey *k = &K[ki];
    nmx_mem_stats st;
    ENSURE(nmx_key_stats(k->h, &st) == NMERR_SUCCESS, "stats");
    uint64_t d[5] = {0, st.bad_double_free - k->e.bad_double_free,
                     st.bad_foreign - k->e.bad_foreign, st.bad_wrong_owner - k->e.bad_wrong_owner,
                     st.bad_interior - k->e.bad_interior};
    int which = 0, ones = 0;
    for (int j = 1; j <= 4; j++) {
        ENSURE(d[j] <= 1, "bad counter %d moved by %llu", j, (unsigned long long)d[j]);
        if (d[j] == 1) {
            which = j;
            ones++;
        }
    }
    ENSURE(ones == 1, "%d invalid-call counters moved for one call", ones);
    if (want)
        ENSURE(which == want, "counted as %s, expected %s", nmx_bad_kind_name((nmx_bad_kind)which),
               nmx_bad_kind_name((nmx_bad_kind)want));
    k->e.bad_double_free = st.bad_double_free;
    k->e.bad_foreign = st.bad_foreign;
    k->e.bad_wrong_owner = st.bad_wrong_owner;
    k->e.bad_interior = st.bad_interior;
    stats_equal("after an invalid call", ki, &st, &k->e);
}

static int expected_kind(int cls)
{
    return cls == P_WRONG_OWNER ? NMX_BAD_WRONG_OWNER : cls == P_INTERIOR ? NMX_BAD_INTERIOR : 0;
}

/* ---- operations ---- */

static void do_alloc(int ki, size_t n, int via_realloc)
{
    fkey *k = &K[ki];
    if (k->nb >= MAXB || (n < ABSURD && total_live() + n > LIVE_CAP))
        return;
    DWORD e = 0xdead;
    unsigned char *p = via_realloc ? ExpertReallocMemory(k->h, NULL, n, &e)
                                   : ExpertAllocMemory(k->h, n, &e);
    DWORD want = NMERR_SUCCESS;
    if (k->term) {
        want = NMERR_EXPERT_TERMINATE;
        k->e.failed_terminate++;
    } else if (over_quota(k, n)) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_quota++;
    } else if (n >= ABSURD) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_oom++;
    }
    if (want != NMERR_SUCCESS) {
        ENSURE(!p && e == want, "alloc(%zu): %p, error %u; want NULL, %u", n, (void *)p, e, want);
        return;
    }
    ENSURE(p && e == NMERR_SUCCESS, "alloc(%zu): %p, error %u", n, (void *)p, e);
    check_new(p, n, NULL);
    fblk *b = &k->b[k->nb++];
    b->p = p;
    b->n = n;
    b->wlen = 0;
    b->seed = ++g_seed_ctr;
    verify(b);
    k->e.allocs++;
    k->e.live_blocks++;
    e_live_add(&k->e, n);
}

static void do_realloc_valid(int ki, int i, size_t n)
{
    fkey *k = &K[ki];
    fblk *b = &k->b[i];
    verify(b);
    if (n > b->n && n < ABSURD && total_live() + (n - b->n) > LIVE_CAP)
        return;
    DWORD e = 0xdead;
    unsigned char *q = ExpertReallocMemory(k->h, b->p, n, &e);
    DWORD want = NMERR_SUCCESS;
    if (k->term) {
        want = NMERR_EXPERT_TERMINATE;
        k->e.failed_terminate++;
    } else if (n > b->n && over_quota(k, n - b->n)) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_quota++;
    } else if (n >= ABSURD) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_oom++;
    }
    if (want != NMERR_SUCCESS) {
        ENSURE(!q && e == want, "realloc(%zu -> %zu): %p, error %u; want %u", b->n, n, (void *)q,
               e, want);
        ENSURE(ExpertMemorySize(k->h, b->p) == b->n, "size after a failed realloc");
        verify(b); /* M5: untouched */
        return;
    }
    ENSURE(q && e == NMERR_SUCCESS, "realloc(%zu -> %zu): %p, error %u", b->n, n, (void *)q, e);
    unsigned char *old = b->p;
    size_t oldn = b->n;
    if (q != old)
        check_new(q, n, b);
    b->p = q;
    b->n = n;
    if (b->wlen > n)
        b->wlen = n;
    verify(b);
    k->e.reallocs++;
    if (n >= oldn)
        e_live_add(&k->e, n - oldn);
    else
        k->e.live_bytes -= oldn - n;
    ENSURE(ExpertMemorySize(k->h, q) == n, "size after realloc to %zu", n);
    if (q != old)
        add_dead(old);
}

static void do_free_valid(int ki, int i)
{
    fkey *k = &K[ki];
    fblk b = k->b[i];
    verify(&b);
    SIZE_T rc = ExpertFreeMemory(k->h, b.p);
    SIZE_T want = k->term ? NMERR_EXPERT_TERMINATE : NMERR_SUCCESS;
    ENSURE(rc == want, "free of a live %zu-byte block: %zu, want %zu", b.n, (size_t)rc,
           (size_t)want);
    k->b[i] = k->b[--k->nb];
    k->e.frees++;
    k->e.live_blocks--;
    k->e.live_bytes -= b.n;
    add_dead(b.p);
    /* M7, M9: the block start is no longer live: Size 0, counted as a double free */
    ENSURE(ExpertMemorySize(k->h, b.p) == 0, "size of a freed %zu-byte block", b.n);
    adopt_bad(ki, NMX_BAD_DOUBLE_FREE);
}

/* Free, Size or Realloc (what) with pointer p on a live key. */
static void do_ptr_op(int ki, int what, void *p, size_t n)
{
    fkey *k = &K[ki];
    int idx = -1, cls = classify(ki, p, &idx);
    if (cls == P_VALID) {
        if (what == 0)
            do_free_valid(ki, idx);
        else if (what == 1)
            ENSURE(ExpertMemorySize(k->h, p) == k->b[idx].n, "size of a live block"); /* M7 */
        else
            do_realloc_valid(ki, idx, n);
        return;
    }
    if (cls == P_NULL) {
        if (what == 0) {
            SIZE_T rc = ExpertFreeMemory(k->h, NULL);
            ENSURE(rc == NMERR_SUCCESS || (k->term && rc == NMERR_EXPERT_TERMINATE),
                   "Free(NULL): %zu", (size_t)rc);
        } else if (what == 1) {
            ENSURE(ExpertMemorySize(k->h, NULL) == 0, "Size(NULL)");
        } else {
            do_alloc(ki, n, 1);
        }
        return;
    }
    /* refused: M5-M7, M9 */
    if (what == 0) {
        SIZE_T rc = ExpertFreeMemory(k->h, p);
        ENSURE(rc == NMERR_INVALID_PARAMETER, "Free(%p), not a live block: %zu", p, (size_t)rc);
    } else if (what == 1) {
        SIZE_T s = ExpertMemorySize(k->h, p);
        ENSURE(s == 0, "Size(%p), not a live block: %zu", p, (size_t)s);
    } else {
        DWORD e = 0xdead;
        void *q = ExpertReallocMemory(k->h, p, n, &e);
        ENSURE(q == NULL, "Realloc(%p), not a live block, gave %p", p, q);
        if (k->term && e == NMERR_EXPERT_TERMINATE) {
            k->e.failed_terminate++;
            check_stats(ki);
            return;
        }
        ENSURE(e == NMERR_INVALID_PARAMETER, "Realloc(%p), not a live block: error %u", p, e);
    }
    adopt_bad(ki, expected_kind(cls));
}

static void do_destroy(int ki)
{
    fkey *k = &K[ki];
    if (!k->live)
        return;
    uint64_t bytes = 0;
    for (int i = 0; i < k->nb; i++) {
        verify(&k->b[i]);
        bytes += k->b[i].n;
    }
    ENSURE(bytes == k->e.live_bytes, "model bookkeeping");
    nmx_mem_stats fin;
    ENSURE(nmx_key_destroy(k->h, &fin) == NMERR_SUCCESS, "destroy of a live key");
    stats_equal("destroy's ledger", ki, &fin, &k->e); /* M12 */
    nmx_mem_stats st;
    ENSURE(nmx_key_stats(k->h, &st) == NMERR_INVALID_EXPERT_HANDLE, "stats after destroy");
    ENSURE(nmx_key_destroy(k->h, &st) == NMERR_INVALID_EXPERT_HANDLE, "second destroy");
    for (int i = 0; i < k->nb && i < 4; i++)
        add_dead(k->b[i].p);
    k->live = 0;
    k->nb = 0;
}

static void do_create(int ki, size_t quota)
{
    do_destroy(ki);
    fkey *k = &K[ki];
    nmx_key_options o = {quota, "fuzz"};
    ENSURE(nmx_key_create(&o, &k->h) == NMERR_SUCCESS, "create");
    k->live = 1;
    k->term = 0;
    k->quota = quota;
    k->nb = 0;
    memset(&k->e, 0, sizeof k->e);
}

/* A call with a key that is not live: NULL, destroyed, or forged. */
static void do_bad_key(reader *r, HEXPERTKEY h)
{
    for (int i = 0; i < NKEYS; i++)
        if (K[i].live && K[i].h == h)
            return; /* the input forged a live key's handle exactly */
    void *p = NULL;
    int kj = (int)(U8(r) % NKEYS);
    if (K[kj].live && K[kj].nb)
        p = K[kj].b[0].p;
    DWORD e = 0xdead;
    switch (U8(r) % 4) {
    case 0:
        ENSURE(!ExpertAllocMemory(h, 16, &e) && e == NMERR_INVALID_EXPERT_HANDLE,
               "Alloc, bad key %p: %u", h, e);
        break;
    case 1:
        ENSURE(!ExpertReallocMemory(h, p, 16, &e) && e == NMERR_INVALID_EXPERT_HANDLE,
               "Realloc, bad key %p: %u", h, e);
        break;
    case 2:
        ENSURE(ExpertFreeMemory(h, p) == NMERR_INVALID_EXPERT_HANDLE, "Free, bad key %p", h);
        break;
    default:
        ENSURE(ExpertMemorySize(h, p) == 0, "Size, bad key %p", h);
        break;
    }
    g_bad_key_calls++;
    if (h) {
        nmx_mem_stats st;
        ENSURE(nmx_key_stats(h, &st) == NMERR_INVALID_EXPERT_HANDLE, "stats, bad key %p", h);
        ENSURE(nmx_key_terminate(h) == NMERR_INVALID_EXPERT_HANDLE, "terminate, bad key %p", h);
        ENSURE(nmx_key_destroy(h, &st) == NMERR_INVALID_EXPERT_HANDLE, "destroy, bad key %p", h);
    }
    if (p)
        verify(&K[kj].b[0]);
}

static void do_write(reader *r, int ki)
{
    fkey *k = &K[ki];
    if (!k->nb)
        return;
    fblk *b = &k->b[U8(r) % (unsigned)k->nb];
    if (U8(r) & 1) {
        /* M8: past the end, inside the block's slot (up to the next 16) */
        size_t end = (b->n + 15) & ~(size_t)15;
        if (end < 16)
            end = 16;
        for (size_t i = b->n; i < end; i++)
            b->p[i] = (unsigned char)(0x5A + i);
        return;
    }
    size_t add = U32(r) % (b->n - b->wlen + 1);
    if (add > 512 * KiB)
        add = 512 * KiB;
    fill(b->p, b->wlen, b->wlen + add, b->seed);
    b->wlen += add;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader rd = {data, size, 0}, *r = &rd;
    nmx_mem_stats g0;
    nmx_key_stats(NULL, &g0);
    g_bad_key_calls = 0;
    g_ndead = g_dead_next = 0;
    g_seed_ctr = 0;
    for (int ki = 0; ki < NKEYS; ki++)
        do_create(ki, 0);
    for (g_opno = 0; r->i < r->n && g_opno < MAX_OPS; g_opno++) {
        unsigned op = U8(r);
        int ki = (int)(U8(r) % NKEYS);
        fkey *k = &K[ki];
        switch (op % 16) {
        case 0:
        case 1:
        case 2:
            g_op = "alloc";
            if (k->live)
                do_alloc(ki, read_size(r), 0);
            break;
        case 3:
        case 4:
        case 5:
            g_op = "free";
            if (k->live)
                do_ptr_op(ki, 0, read_ptr(r, ki), 0);
            break;
        case 6:
        case 7: {
            g_op = "realloc";
            if (k->live) {
                void *p = read_ptr(r, ki);
                do_ptr_op(ki, 2, p, read_size(r));
            }
            break;
        }
        case 8:
            g_op = "size";
            if (k->live)
                do_ptr_op(ki, 1, read_ptr(r, ki), 0);
            break;
        case 9:
            g_op = "write";
            if (k->live)
                do_write(r, ki);
            break;
        case 10:
            g_op = "terminate";
            if (k->live) {
                ENSURE(nmx_key_terminate(k->h) == NMERR_SUCCESS, "terminate");
                k->term = 1;
            }
            break;
        case 11:
            g_op = "destroy";
            do_destroy(ki);
            break;
        case 12: {
            g_op = "create";
            unsigned q = U8(r);
            do_create(ki, q < 160 ? 0 : U32(r) % (16 * MiB));
            break;
        }
        case 13:
            g_op = "bad key";
            if (!k->live)
                do_bad_key(r, k->h); /* the destroyed key's handle */
            else if (U8(r) & 1)
                do_bad_key(r, NULL);
            else
                do_bad_key(r, (HEXPERTKEY)(uintptr_t)U64(r));
            break;
        case 14:
            g_op = "quota edge";
            if (k->live && k->quota) {
                size_t room = k->e.live_bytes < k->quota ? k->quota - (size_t)k->e.live_bytes : 0;
                do_alloc(ki, room + (U8(r) & 1), 0);
            }
            break;
        default: {
            /* M12, M13: a small segment cache sends released memory back to
             * the OS (on the library's trimmer thread); it must come back
             * zero-filled */
            g_op = "stats, cache";
            unsigned t = U8(r);
            if (t < 32)
                nmx_heap_set_cache_limit((size_t)(t & 3) << 22);
            else if (t < 48)
                nmx_heap_trim();
            for (int j = 0; j < NKEYS; j++)
                check_stats(j);
            break;
        }
        }
        check_stats(ki);
    }
    g_op = "end";
    for (int ki = 0; ki < NKEYS; ki++)
        do_destroy(ki);
    nmx_heap_set_cache_limit((size_t)64 << 20);
    /* M12: nothing of this input is left in use; M14: bad-key calls counted */
    nmx_heap_stats hs;
    ENSURE(nmx_heap_stats_get(&hs) == NMERR_SUCCESS, "heap stats");
    ENSURE(hs.keys_live == 0 && hs.segments_in_use == 0 && hs.huge_bytes_in_use == 0,
           "left in use: %llu keys, %llu segments, %llu huge bytes",
           (unsigned long long)hs.keys_live, (unsigned long long)hs.segments_in_use,
           (unsigned long long)hs.huge_bytes_in_use);
    nmx_mem_stats g1;
    nmx_key_stats(NULL, &g1);
    ENSURE(g1.bad_key - g0.bad_key == g_bad_key_calls, "bad_key moved by %llu, calls %llu",
           (unsigned long long)(g1.bad_key - g0.bad_key), (unsigned long long)g_bad_key_calls);
    ENSURE(g1.live_blocks == 0 && g1.live_bytes == 0, "process-wide live figures not zero");
    return 0;
}
