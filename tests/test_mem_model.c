/* A randomized model test of the expert heap (SPEC M1-M9, M11-M14).
 *
 * Long random sequences of calls over four keys, each checked against a plain
 * reference model that knows, for every live block, its size and its bytes
 * (a seeded pattern on a written prefix, zeros after it), and for every key
 * the exact value of every nmx_mem_stats field. Operations: alloc,
 * realloc (grow, shrink, to 0, same size, NULL pointer, absurd sizes), free,
 * size, writes past the block end into its slot's slack, invalid calls
 * (double free, interior pointer, another key's block, wild and metadata
 * pointers, NULL/stale/forged keys), quota (key 3), terminate, and
 * destroy + re-create with the leak ledger checked. Sizes are mostly small,
 * sometimes large (64 KiB - 1 MiB) and rarely huge (5 - 20 MiB).
 *
 * Deterministic: seeds 1..20, 20000 operations each. A failure names the
 * seed and the operation; `test_mem_model SEEDS OPS [FIRST_SEED]` reruns.
 * The run stops a seed at its first mismatch: what follows would be noise.
 */
#define _GNU_SOURCE
#include "check.h"
#include "mem_util.h"

#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NK 4            /* keys */
#define MAXB 384        /* live blocks per key in the model */
#define KEY_CAP ((size_t)32 << 20) /* live bytes per key the generator aims under */
#define QUOTA_KEY 3
#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)
#define ABSURD ((size_t)1 << 47) /* larger than the allocator can ever serve (M4) */

/* ---- deterministic randomness ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(uint64_t *s, size_t n)
{
    return n ? (size_t)(rnd(s) % n) : 0;
}

/* ---- patterns at absolute offsets (mem_util.h's words) ---- */

static void fill_range(unsigned char *p, size_t from, size_t to, unsigned seed)
{
    size_t i = from;
    for (; i < to && (i & 7); i++)
        p[i] = mu_byte(i, seed);
    for (; i + 8 <= to; i += 8) {
        uint64_t v = mu_word(i / 8, seed);
        memcpy(p + i, &v, 8);
    }
    for (; i < to; i++)
        p[i] = mu_byte(i, seed);
}

/* First offset in [from, to) that differs from the pattern, or MU_NONE. */
static size_t check_range(const unsigned char *p, size_t from, size_t to, unsigned seed)
{
    size_t i = from;
    for (; i < to && (i & 7); i++)
        if (p[i] != mu_byte(i, seed))
            return i;
    for (; i + 8 <= to; i += 8) {
        uint64_t v = mu_word(i / 8, seed), got;
        memcpy(&got, p + i, 8);
        if (got != v)
            break;
    }
    for (; i < to; i++)
        if (p[i] != mu_byte(i, seed))
            return i;
    return MU_NONE;
}

static size_t zero_range(const unsigned char *p, size_t from, size_t to)
{
    if (from >= to)
        return MU_NONE;
    size_t r = mu_first_nonzero(p + from, to - from);
    return r == MU_NONE ? MU_NONE : from + r;
}

/* ---- the model ---- */

typedef struct mblk {
    unsigned char *p;
    size_t n;    /* requested size */
    size_t wlen; /* [0, wlen) holds the pattern, [wlen, n) is zero */
    unsigned seed;
} mblk;

typedef struct mkey {
    HEXPERTKEY h;
    size_t quota;
    int terminated;
    int ops_left; /* after terminate: operations until it is destroyed */
    mblk b[MAXB];
    int nb;
    nmx_mem_stats e; /* what nmx_key_stats must say */
    char name[32];
} mkey;

typedef struct model {
    uint64_t rs;
    int seed;
    long op;
    int broken; /* the first mismatch ends the seed */
    mkey k[NK];
    void *dead[64]; /* pointers once returned and since freed or reclaimed */
    int ndead, dead_next;
    HEXPERTKEY stale[32]; /* handles of destroyed keys */
    int nstale, stale_next;
    uint64_t bad_key_calls;  /* Expert* calls with a bad key: global bad_key */
    nmx_mem_stats retired;   /* sums of destroyed keys' final statistics */
    uint64_t max_peak;
    unsigned next_seed;
    /* what the run did, for the summary */
    uint64_t n_huge, n_large, n_destroy, n_term, n_bad, n_scribble, n_quota, n_dead_kind[6];
} model;

static uint64_t g_total_ops;
static uint64_t g_totals[8];
static uint64_t g_dead_kinds[6]; /* how reused addresses of freed blocks were classified */

static void fail(model *m, const char *fmt, ...)
{
    if (m->broken)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "seed %d op %ld: ", m->seed, m->op);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    check_failures_++;
    m->broken = 1;
}

/* On failure: where, the condition, then the printf-style detail. */
#define MCHECK(m, cond, ...)                                                       \
    do {                                                                           \
        if (!(cond) && !(m)->broken) {                                             \
            fprintf(stderr, "seed %d op %ld: %s:%d: %s: ", (m)->seed, (m)->op,     \
                    __FILE__, __LINE__, #cond);                                    \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
            check_failures_++;                                                     \
            (m)->broken = 1;                                                       \
        }                                                                          \
    } while (0)

#define STAT_FIELDS(X)                                                         \
    X(live_bytes) X(live_blocks) X(peak_bytes) X(allocs) X(reallocs) X(frees)  \
    X(failed_oom) X(failed_quota) X(failed_terminate) X(bad_double_free)       \
    X(bad_foreign) X(bad_wrong_owner) X(bad_interior) X(bad_key)

static void stats_compare(model *m, const char *what, int ki, const nmx_mem_stats *got,
                          const nmx_mem_stats *want)
{
#define X(f)                                                                        \
    if (got->f != want->f)                                                          \
        fail(m, "%s key %d: " #f " is %llu, model says %llu", what, ki,             \
             (unsigned long long)got->f, (unsigned long long)want->f);
    STAT_FIELDS(X)
#undef X
}

static void check_stats(model *m, int ki)
{
    nmx_mem_stats st;
    DWORD rc = nmx_key_stats(m->k[ki].h, &st);
    MCHECK(m, rc == NMERR_SUCCESS, "rc %u", rc);
    if (rc == NMERR_SUCCESS)
        stats_compare(m, "nmx_key_stats", ki, &st, &m->k[ki].e);
}

static void e_live_add(nmx_mem_stats *e, size_t n)
{
    e->live_bytes += n;
    if (e->live_bytes > e->peak_bytes)
        e->peak_bytes = e->live_bytes;
}

/* The key and index of the live block starting at p, or -1. */
static int find_live(model *m, const void *p, int *idx)
{
    for (int ki = 0; ki < NK; ki++)
        for (int i = 0; i < m->k[ki].nb; i++)
            if (m->k[ki].b[i].p == p) {
                *idx = i;
                return ki;
            }
    return -1;
}

static void add_dead(model *m, void *p)
{
    m->dead[m->dead_next] = p;
    m->dead_next = (m->dead_next + 1) % 64;
    if (m->ndead < 64)
        m->ndead++;
}

/* M1: aligned, distinct from and not overlapping any other live block. */
static void check_new_block(model *m, const unsigned char *p, size_t n)
{
    MCHECK(m, ((uintptr_t)p & 15) == 0, "block %p of %zu bytes", (const void *)p, n);
    size_t len = n ? n : 1;
    for (int ki = 0; ki < NK; ki++) {
        for (int i = 0; i < m->k[ki].nb; i++) {
            const mblk *o = &m->k[ki].b[i];
            if (!o->p)
                continue;
            size_t olen = o->n ? o->n : 1;
            if (p < o->p + olen && o->p < p + len) {
                fail(m, "new block %p (%zu bytes) overlaps live block %p (%zu bytes) of key %d",
                     (const void *)p, n, (const void *)o->p, o->n, ki);
                return;
            }
        }
    }
}

/* Contents of a block against the model: full, or sampled for big blocks. */
static void verify(model *m, const mblk *b, int full, const char *when)
{
    size_t n = b->n, w = b->wlen, bad;
    if (full || n <= 256 * KiB) {
        if ((bad = check_range(b->p, 0, w, b->seed)) != MU_NONE)
            fail(m, "%s: block %p (%zu bytes): byte %zu lost its pattern", when,
                 (void *)b->p, n, bad);
        else if ((bad = zero_range(b->p, w, n)) != MU_NONE)
            fail(m, "%s: block %p (%zu bytes): byte %zu is not zero (pattern ends at %zu)",
                 when, (void *)b->p, n, bad, w);
        return;
    }
    const size_t edge = 8 * KiB;
    size_t ranges[8][2] = {
        {0, w < edge ? w : edge},
        {w > edge ? w - edge : 0, w},
        {w, w + edge < n ? w + edge : n},
        {n - edge > w ? n - edge : w, n},
    };
    int nr = 4;
    uint64_t rs = (uint64_t)(uintptr_t)b->p ^ n;
    for (; nr < 8; nr++) {
        size_t at = below(&rs, n - 512);
        ranges[nr][0] = at;
        ranges[nr][1] = at + 512;
    }
    for (int r = 0; r < nr; r++) {
        size_t lo = ranges[r][0], hi = ranges[r][1];
        size_t pe = hi < w ? hi : w;
        if (lo < pe && (bad = check_range(b->p, lo, pe, b->seed)) != MU_NONE) {
            fail(m, "%s: block %p (%zu bytes): byte %zu lost its pattern", when,
                 (void *)b->p, n, bad);
            return;
        }
        size_t zs = lo > w ? lo : w;
        if (zs < hi && (bad = zero_range(b->p, zs, hi)) != MU_NONE) {
            fail(m, "%s: block %p (%zu bytes): byte %zu is not zero (pattern ends at %zu)",
                 when, (void *)b->p, n, bad, w);
            return;
        }
    }
}

/* Writes the pattern further, up to a random point (big blocks: a bounded
 * stretch, so that a 20 MiB block does not cost 20 MiB of writes). */
static void write_more(model *m, mblk *b)
{
    if (b->wlen >= b->n)
        return;
    size_t room = b->n - b->wlen;
    size_t r = below(&m->rs, 4);
    size_t add = r == 0 ? room : below(&m->rs, room + 1);
    if (add > 256 * KiB)
        add = 256 * KiB;
    fill_range(b->p, b->wlen, b->wlen + add, b->seed);
    b->wlen += add;
}

static size_t pick_size(model *m)
{
    size_t r = below(&m->rs, 100000);
    if (r < 100) {
        m->n_huge++;
        return 5 * MiB + below(&m->rs, 15 * MiB + 1);
    }
    if (r < 3000) {
        m->n_large++;
        return 64 * KiB + below(&m->rs, MiB - 64 * KiB + 1);
    }
    if (r < 12000)
        return 1025 + below(&m->rs, 64 * KiB - 1024);
    if (r < 15000)
        return 0;
    if (r < 60000)
        return 1 + below(&m->rs, 64);
    return 1 + below(&m->rs, 1024);
}

static size_t key_live(const mkey *k)
{
    return (size_t)k->e.live_bytes;
}

/* Would allocating n more bytes break the quota (M11)? */
static int over_quota(const mkey *k, size_t n)
{
    return k->quota && (n > k->quota || k->e.live_bytes > k->quota - n);
}

/* ---- key life ---- */

static void key_open(model *m, int ki)
{
    mkey *k = &m->k[ki];
    k->quota = 0;
    if (ki == QUOTA_KEY && below(&m->rs, 4) != 0)
        k->quota = 2 * MiB + below(&m->rs, 30 * MiB);
    snprintf(k->name, sizeof k->name, "model-%d-%u", ki, m->next_seed++);
    nmx_key_options o = {k->quota, k->name};
    DWORD rc = nmx_key_create(&o, &k->h);
    MCHECK(m, rc == NMERR_SUCCESS, "create: %u", rc);
    k->terminated = 0;
    k->ops_left = 0;
    k->nb = 0;
    memset(&k->e, 0, sizeof k->e);
    char buf[32];
    MCHECK(m, nmx_key_name(k->h, buf, sizeof buf) == NMERR_SUCCESS && strcmp(buf, k->name) == 0,
           "name \"%s\"", buf);
}

/* M12: destroy returns the exact final statistics, including what was still
 * held (the leak ledger); afterwards the handle is invalid everywhere. */
static void key_close(model *m, int ki)
{
    mkey *k = &m->k[ki];
    for (int i = 0; i < k->nb; i++)
        verify(m, &k->b[i], 0, "before destroy");
    uint64_t bytes = 0;
    for (int i = 0; i < k->nb; i++)
        bytes += k->b[i].n;
    MCHECK(m, bytes == k->e.live_bytes, "model's own sum %llu vs %llu",
           (unsigned long long)bytes, (unsigned long long)k->e.live_bytes);
    nmx_mem_stats fin;
    memset(&fin, 0xff, sizeof fin);
    DWORD rc = nmx_key_destroy(k->h, &fin);
    MCHECK(m, rc == NMERR_SUCCESS, "destroy: %u", rc);
    stats_compare(m, "nmx_key_destroy ledger", ki, &fin, &k->e);
    MCHECK(m, fin.live_blocks == (uint64_t)k->nb, "ledger %llu blocks, model %d",
           (unsigned long long)fin.live_blocks, k->nb);
#define X(f) m->retired.f += k->e.f;
    STAT_FIELDS(X)
#undef X
    if (k->e.peak_bytes > m->max_peak)
        m->max_peak = k->e.peak_bytes;
    nmx_mem_stats st;
    MCHECK(m, nmx_key_stats(k->h, &st) == NMERR_INVALID_EXPERT_HANDLE, "stats after destroy");
    MCHECK(m, nmx_key_destroy(k->h, &st) == NMERR_INVALID_EXPERT_HANDLE, "destroy twice");
    MCHECK(m, nmx_key_terminate(k->h) == NMERR_INVALID_EXPERT_HANDLE, "terminate after destroy");
    for (int i = 0; i < k->nb && i < 4; i++)
        add_dead(m, k->b[i].p);
    m->stale[m->stale_next] = k->h;
    m->stale_next = (m->stale_next + 1) % 32;
    if (m->nstale < 32)
        m->nstale++;
    k->nb = 0;
    m->n_destroy++;
}

/* ---- operations ---- */

static void op_alloc(model *m, int ki, size_t n, int via_realloc)
{
    mkey *k = &m->k[ki];
    if (k->nb >= MAXB)
        return;
    DWORD e = 0xdead, *pe = below(&m->rs, 16) ? &e : NULL;
    unsigned char *p = via_realloc ? ExpertReallocMemory(k->h, NULL, n, pe)
                                   : ExpertAllocMemory(k->h, n, pe);
    DWORD want;
    if (k->terminated) {
        want = NMERR_EXPERT_TERMINATE;
        k->e.failed_terminate++;
    } else if (over_quota(k, n)) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_quota++;
        m->n_quota++;
    } else if (n >= ABSURD) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_oom++;
    } else {
        want = NMERR_SUCCESS;
    }
    if (want != NMERR_SUCCESS) {
        MCHECK(m, p == NULL, "alloc(%zu) should fail with %u", n, want);
        if (pe)
            MCHECK(m, e == want, "alloc(%zu): error %u, want %u", n, e, want);
        return;
    }
    MCHECK(m, p != NULL, "alloc(%zu) failed with %u", n, pe ? e : 0);
    if (!p)
        return;
    if (pe)
        MCHECK(m, e == NMERR_SUCCESS, "alloc(%zu): error %u", n, e);
    check_new_block(m, p, n);
    mblk b = {p, n, 0, (unsigned)rnd(&m->rs)};
    verify(m, &b, 0, "fresh block"); /* M1, M13: zero */
    k->b[k->nb++] = b;
    k->e.allocs++;
    k->e.live_blocks++;
    e_live_add(&k->e, n);
    write_more(m, &k->b[k->nb - 1]);
}

/* Which bad_* counter the last call raised; -1 if not exactly one by one. */
static int adopt_bad(model *m, int ki)
{
    mkey *k = &m->k[ki];
    nmx_mem_stats st;
    if (nmx_key_stats(k->h, &st) != NMERR_SUCCESS)
        return -1;
    uint64_t d[4] = {st.bad_double_free - k->e.bad_double_free,
                     st.bad_foreign - k->e.bad_foreign,
                     st.bad_wrong_owner - k->e.bad_wrong_owner,
                     st.bad_interior - k->e.bad_interior};
    int which = -1, n = 0;
    for (int j = 0; j < 4; j++) {
        if (d[j] == 1) {
            which = j;
            n++;
        } else if (d[j] != 0) {
            n = 99;
        }
    }
    if (n != 1)
        return -1;
    k->e.bad_double_free = st.bad_double_free;
    k->e.bad_foreign = st.bad_foreign;
    k->e.bad_wrong_owner = st.bad_wrong_owner;
    k->e.bad_interior = st.bad_interior;
    return which + 1; /* nmx_bad_kind */
}

static size_t realloc_target(model *m, const mblk *b)
{
    switch (below(&m->rs, 12)) {
    case 0: return b->n + 1 + below(&m->rs, 64);            /* grow a little */
    case 1: return b->n + below(&m->rs, b->n + 1);          /* grow up to 2x */
    case 2: return below(&m->rs, b->n + 1);                 /* shrink */
    case 3: return b->n / 2;                                /* halve */
    case 4: return 0;                                       /* to 0 (M5: not a free) */
    case 5: return b->n;                                    /* same */
    case 6: return below(&m->rs, 1000) == 0 ? 5 * MiB + below(&m->rs, 15 * MiB) : b->n + 16;
    default: return pick_size(m);
    }
}

static void op_realloc(model *m, int ki, int i, size_t n)
{
    mkey *k = &m->k[ki];
    mblk *b = &k->b[i];
    verify(m, b, 0, "before realloc");
    DWORD e = 0xdead, *pe = below(&m->rs, 16) ? &e : NULL;
    unsigned char *q = ExpertReallocMemory(k->h, b->p, n, pe);
    DWORD want = NMERR_SUCCESS;
    if (k->terminated) {
        want = NMERR_EXPERT_TERMINATE;
        k->e.failed_terminate++;
    } else if (n > b->n && over_quota(k, n - b->n)) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_quota++;
        m->n_quota++;
    } else if (n >= ABSURD) {
        want = NMERR_OUT_OF_MEMORY;
        k->e.failed_oom++;
    }
    if (want != NMERR_SUCCESS) {
        /* M5: NULL, and the block is untouched, still valid and owned */
        MCHECK(m, q == NULL, "realloc(%zu -> %zu) should fail with %u", b->n, n, want);
        if (pe)
            MCHECK(m, e == want, "realloc(%zu -> %zu): error %u, want %u", b->n, n, e, want);
        MCHECK(m, ExpertMemorySize(k->h, b->p) == b->n, "size after failed realloc");
        verify(m, b, 0, "after failed realloc");
        return;
    }
    MCHECK(m, q != NULL, "realloc(%zu -> %zu) failed with %u", b->n, n, pe ? e : 0);
    if (!q)
        return;
    if (pe)
        MCHECK(m, e == NMERR_SUCCESS, "realloc: error %u", e);
    unsigned char *old = b->p;
    size_t oldn = b->n;
    b->p = NULL; /* out of the overlap check */
    if (q != old)
        check_new_block(m, q, n);
    b->p = q;
    b->n = n;
    if (b->wlen > n)
        b->wlen = n;
    verify(m, b, 0, "after realloc"); /* M5: content kept, grown tail zero */
    if (q != old) {
        /* the block it moved from is gone: a block start no longer live */
        MCHECK(m, ExpertMemorySize(k->h, old) == 0, "old block of a moved realloc still live");
        int kind = adopt_bad(m, ki);
        MCHECK(m, kind == NMX_BAD_DOUBLE_FREE,
               "Size of the %zu-byte block a realloc to %zu moved from: kind %d (%s)", oldn, n,
               kind, kind > 0 ? nmx_bad_kind_name((nmx_bad_kind)kind) : "not one call");
        add_dead(m, old);
    }
    k->e.reallocs++;
    if (n >= oldn)
        e_live_add(&k->e, n - oldn);
    else
        k->e.live_bytes -= oldn - n;
    MCHECK(m, ExpertMemorySize(k->h, q) == n, "size after realloc to %zu", n); /* M7 */
    if (below(&m->rs, 2))
        write_more(m, b);
}

static void op_free(model *m, int ki, int i, int twice)
{
    mkey *k = &m->k[ki];
    mblk b = k->b[i];
    verify(m, &b, below(&m->rs, 8) == 0, "before free");
    SIZE_T rc = ExpertFreeMemory(k->h, b.p);
    SIZE_T want = k->terminated ? NMERR_EXPERT_TERMINATE : NMERR_SUCCESS;
    MCHECK(m, rc == want, "free of a live %zu-byte block: %zu, want %zu", b.n, (size_t)rc,
           (size_t)want);
    k->b[i] = k->b[--k->nb];
    k->e.frees++;
    k->e.live_blocks--;
    k->e.live_bytes -= b.n;
    add_dead(m, b.p);
    if (twice) {
        /* M6, M9: an immediate second free is refused and counted as a
         * double free, nothing else changes */
        rc = ExpertFreeMemory(k->h, b.p);
        MCHECK(m, rc == NMERR_INVALID_PARAMETER, "second free of a %zu-byte block: %zu", b.n,
               (size_t)rc);
        k->e.bad_double_free++;
        m->n_bad++;
    }
}

/* An invalid pointer passed to Free, Size or Realloc of key ki: refused with
 * NMERR_INVALID_PARAMETER / 0 / NULL, nothing else changes (M5-M7), and one
 * invalid call is counted: of kind `kind`, or of any kind when kind is 0. */
static void bad_pointer_call(model *m, int ki, void *p, int kind, const char *what)
{
    mkey *k = &m->k[ki];
    m->n_bad++;
    int which = (int)below(&m->rs, 3);
    if (which == 0) {
        SIZE_T rc = ExpertFreeMemory(k->h, p);
        MCHECK(m, rc == NMERR_INVALID_PARAMETER, "Free(%s %p): %zu", what, p, (size_t)rc);
    } else if (which == 1) {
        SIZE_T s = ExpertMemorySize(k->h, p);
        MCHECK(m, s == 0, "Size(%s %p): %zu", what, p, (size_t)s);
    } else {
        DWORD e = 0xdead;
        void *q = ExpertReallocMemory(k->h, p, 1 + below(&m->rs, 100), &e);
        MCHECK(m, q == NULL, "Realloc(%s %p) gave %p", what, p, q);
        if (e == NMERR_EXPERT_TERMINATE && k->terminated) {
            /* terminate checked before the pointer: also acceptable */
            k->e.failed_terminate++;
            check_stats(m, ki);
            return;
        }
        MCHECK(m, e == NMERR_INVALID_PARAMETER, "Realloc(%s %p): error %u", what, p, e);
    }
    int got = adopt_bad(m, ki);
    if (got < 0) {
        fail(m, "%s %p: not exactly one invalid call counted", what, p);
        return;
    }
    if (kind)
        MCHECK(m, got == kind, "%s %p counted as %s, want %s", what, p,
               nmx_bad_kind_name((nmx_bad_kind)got), nmx_bad_kind_name((nmx_bad_kind)kind));
    check_stats(m, ki); /* and nothing else moved */
}

static void op_dead_pointer(model *m, int ki)
{
    if (!m->ndead)
        return;
    void *p = m->dead[below(&m->rs, (size_t)m->ndead)];
    int idx, owner = find_live(m, p, &idx);
    if (owner == ki)
        return; /* the address is a live block of this key again */
    if (owner >= 0) {
        bad_pointer_call(m, ki, p, NMX_BAD_WRONG_OWNER, "reused-by-another-key");
        return;
    }
    uint64_t before[4] = {m->k[ki].e.bad_double_free, m->k[ki].e.bad_foreign,
                          m->k[ki].e.bad_wrong_owner, m->k[ki].e.bad_interior};
    bad_pointer_call(m, ki, p, 0, "freed");
    uint64_t after[4] = {m->k[ki].e.bad_double_free, m->k[ki].e.bad_foreign,
                         m->k[ki].e.bad_wrong_owner, m->k[ki].e.bad_interior};
    for (int j = 0; j < 4; j++)
        if (after[j] != before[j])
            m->n_dead_kind[j + 1]++;
}

static int g_global_anchor;

static void op_wild_pointer(model *m, int ki)
{
    mkey *k = &m->k[ki];
    int local = 0;
    void *p;
    switch (below(&m->rs, 9)) {
    case 0: p = &local; break;
    case 1: p = &g_global_anchor; break;
    case 2: p = (void *)(uintptr_t)16; break;
    case 3: p = (void *)(uintptr_t)0xffff800000001000ull; break; /* kernel half */
    case 4: p = (void *)(uintptr_t)0x0000900000000000ull; break; /* beyond 47 bits */
    case 5: p = (void *)(uintptr_t)(uint64_t)-16; break;
    case 6: {
        void *heap = malloc(64);
        bad_pointer_call(m, ki, heap, NMX_BAD_FOREIGN, "malloc'd");
        free(heap);
        return;
    }
    default: {
        /* M8: the allocator's own metadata, next to a live block's segment */
        if (!k->nb)
            return;
        uintptr_t a = (uintptr_t)k->b[below(&m->rs, (size_t)k->nb)].p;
        uintptr_t base = a & ~(uintptr_t)(4 * MiB - 1); /* segments are 4 MiB aligned */
        p = (void *)(base + (below(&m->rs, 2) ? 0 : 4096 + 16 * below(&m->rs, 200)));
        break;
    }
    }
    bad_pointer_call(m, ki, p, NMX_BAD_FOREIGN, "wild");
}

static void op_bad_key(model *m)
{
    HEXPERTKEY h;
    size_t r = below(&m->rs, 4);
    if (r == 0 || !m->nstale)
        h = NULL;
    else if (r == 1)
        h = (HEXPERTKEY)(uintptr_t)0x7ffff1ull; /* a slot never issued */
    else if (r == 2)
        h = (HEXPERTKEY)((uintptr_t)m->k[below(&m->rs, NK)].h ^ ((uintptr_t)1 << 40));
    else
        h = m->stale[below(&m->rs, (size_t)m->nstale)];
    void *some = NULL;
    int ki = (int)below(&m->rs, NK);
    if (m->k[ki].nb)
        some = m->k[ki].b[0].p;
    DWORD e = 0xdead;
    switch (below(&m->rs, 4)) {
    case 0:
        MCHECK(m, ExpertAllocMemory(h, 8, &e) == NULL && e == NMERR_INVALID_EXPERT_HANDLE,
               "Alloc with bad key %p: %u", h, e);
        break;
    case 1:
        MCHECK(m, ExpertReallocMemory(h, some, 8, &e) == NULL && e == NMERR_INVALID_EXPERT_HANDLE,
               "Realloc with bad key %p: %u", h, e);
        break;
    case 2:
        MCHECK(m, ExpertFreeMemory(h, some) == NMERR_INVALID_EXPERT_HANDLE,
               "Free with bad key %p", h);
        break;
    default:
        MCHECK(m, ExpertMemorySize(h, some) == 0, "Size with bad key %p", h);
        break;
    }
    m->bad_key_calls++;
    if (h) {
        nmx_mem_stats st;
        char buf[8];
        MCHECK(m, nmx_key_stats(h, &st) == NMERR_INVALID_EXPERT_HANDLE, "stats, bad key");
        MCHECK(m, nmx_key_name(h, buf, sizeof buf) == NMERR_INVALID_EXPERT_HANDLE, "name");
        MCHECK(m, nmx_key_terminate(h) == NMERR_INVALID_EXPERT_HANDLE, "terminate, bad key");
    }
    /* the block passed along is untouched */
    if (some)
        verify(m, &m->k[ki].b[0], 0, "after a bad-key call");
}

/* M8: an expert writes past the end of its block, inside the block's slot
 * (the next 16-byte boundary). Nothing may break, and a later growth must
 * still hand back a zero tail (M5). */
static void op_scribble(model *m, int ki)
{
    mkey *k = &m->k[ki];
    if (!k->nb)
        return;
    mblk *b = &k->b[below(&m->rs, (size_t)k->nb)];
    size_t end = (b->n + 15) & ~(size_t)15;
    if (end < 16)
        end = 16;
    for (size_t i = b->n; i < end; i++)
        b->p[i] = (unsigned char)(0xA5 ^ i);
    m->n_scribble++;
}

static void audit(model *m)
{
    for (int ki = 0; ki < NK && !m->broken; ki++) {
        check_stats(m, ki);
        for (int i = 0; i < m->k[ki].nb && !m->broken; i++) {
            const mblk *b = &m->k[ki].b[i];
            verify(m, b, b->n <= 2 * MiB, "audit");
            MCHECK(m, ExpertMemorySize(m->k[ki].h, b->p) == b->n, "audit size");
        }
    }
    nmx_heap_stats hs;
    MCHECK(m, nmx_heap_stats_get(&hs) == NMERR_SUCCESS, "heap stats");
    MCHECK(m, hs.keys_live == NK, "keys_live %llu", (unsigned long long)hs.keys_live);
}

static void step(model *m)
{
    int ki = (int)below(&m->rs, NK);
    mkey *k = &m->k[ki];
    size_t r = below(&m->rs, 1000);

    if (k->terminated && --k->ops_left <= 0) {
        key_close(m, ki);
        key_open(m, ki);
        return;
    }
    /* keep the key's memory bounded: free instead */
    if (r < 310 && (k->nb >= MAXB || key_live(k) > KEY_CAP))
        r = 490;

    if (r < 280) {
        op_alloc(m, ki, pick_size(m), 0);
    } else if (r < 310) {
        op_alloc(m, ki, pick_size(m), 1); /* M5: Realloc(NULL) is Alloc */
    } else if (r < 490) {
        if (k->nb) {
            int i = (int)below(&m->rs, (size_t)k->nb);
            op_realloc(m, ki, i, realloc_target(m, &k->b[i]));
        }
    } else if (r < 690) {
        if (k->nb)
            op_free(m, ki, (int)below(&m->rs, (size_t)k->nb), 0);
    } else if (r < 770) {
        if (k->nb) {
            const mblk *b = &k->b[below(&m->rs, (size_t)k->nb)];
            MCHECK(m, ExpertMemorySize(k->h, b->p) == b->n, "size of a %zu-byte block", b->n);
        }
    } else if (r < 790) {
        /* NULL pointers (M5-M7) */
        SIZE_T rc = ExpertFreeMemory(k->h, NULL);
        if (k->terminated)
            MCHECK(m, rc == NMERR_SUCCESS || rc == NMERR_EXPERT_TERMINATE, "Free(NULL): %zu",
                   (size_t)rc);
        else
            MCHECK(m, rc == NMERR_SUCCESS, "Free(NULL): %zu", (size_t)rc);
        MCHECK(m, ExpertMemorySize(k->h, NULL) == 0, "Size(NULL)");
    } else if (r < 820) {
        op_dead_pointer(m, ki);
    } else if (r < 840) {
        if (k->nb)
            op_free(m, ki, (int)below(&m->rs, (size_t)k->nb), 1);
    } else if (r < 860) {
        /* M9: an interior pointer (not 16-aligned: never a block start) */
        if (k->nb) {
            const mblk *b = &k->b[below(&m->rs, (size_t)k->nb)];
            bad_pointer_call(m, ki, b->p + 1 + below(&m->rs, 15), NMX_BAD_INTERIOR, "interior");
        }
    } else if (r < 880) {
        /* M6, M9: a live block of another key */
        int kj = (ki + 1 + (int)below(&m->rs, NK - 1)) % NK;
        if (m->k[kj].nb)
            bad_pointer_call(m, ki, m->k[kj].b[below(&m->rs, (size_t)m->k[kj].nb)].p,
                             NMX_BAD_WRONG_OWNER, "other key's");
    } else if (r < 895) {
        op_wild_pointer(m, ki);
    } else if (r < 910) {
        op_bad_key(m);
    } else if (r < 940) {
        op_scribble(m, ki);
    } else if (r < 970) {
        if (k->nb)
            write_more(m, &k->b[below(&m->rs, (size_t)k->nb)]);
    } else if (r < 980) {
        /* M4, M5: requests no allocator can serve */
        size_t n = below(&m->rs, 2) ? (size_t)-1 : ABSURD + below(&m->rs, 1000);
        if (below(&m->rs, 2) || !k->nb)
            op_alloc(m, ki, n, 0);
        else
            op_realloc(m, ki, (int)below(&m->rs, (size_t)k->nb), n);
    } else if (r < 981) {
        if (!k->terminated && below(&m->rs, 3) == 0) {
            MCHECK(m, nmx_key_terminate(k->h) == NMERR_SUCCESS, "terminate");
            k->terminated = 1;
            k->ops_left = 20 + (int)below(&m->rs, 200);
            m->n_term++;
        }
    } else if (r < 990) {
        if (below(&m->rs, 6) == 0) {
            key_close(m, ki);
            key_open(m, ki);
        }
    } else if (r < 995 && k->quota && !k->terminated) {
        /* M11: exactly the room left under the quota fits; one byte more
         * does not (by Alloc, or by growing a block) */
        size_t room = k->e.live_bytes < k->quota ? k->quota - (size_t)k->e.live_bytes : 0;
        size_t n = room + below(&m->rs, 2);
        if (k->nb && below(&m->rs, 2)) {
            int i = (int)below(&m->rs, (size_t)k->nb);
            op_realloc(m, ki, i, k->b[i].n + n);
        } else {
            op_alloc(m, ki, n, 0);
        }
    } else {
        if (r == 999)
            nmx_heap_trim();
        for (int j = 0; j < NK; j++)
            check_stats(m, j);
    }
    if (!m->broken)
        check_stats(m, ki);
}

static void run_seed(int seed, long ops)
{
    static model mm; /* large: not on the stack */
    model *m = &mm;
    memset(m, 0, sizeof *m);
    m->seed = seed;
    m->rs = (uint64_t)seed * 0x2545F4914F6CDD1Dull + 1;
    nmx_mem_stats g0;
    CHECK_EQ(nmx_key_stats(NULL, &g0), NMERR_SUCCESS);
    /* M12, M13: with a small or no segment cache, released memory goes back
     * to the OS (on the library's trimmer thread) and comes back as zero */
    static const size_t limits[3] = {(size_t)64 << 20, 0, (size_t)8 << 20};
    nmx_heap_set_cache_limit(limits[seed % 3]);
    for (int ki = 0; ki < NK; ki++)
        key_open(m, ki);
    for (m->op = 0; m->op < ops && !m->broken; m->op++) {
        step(m);
        if (m->op % 1000 == 999)
            audit(m);
    }
    g_total_ops += (uint64_t)m->op;
    for (int ki = 0; ki < NK; ki++) {
        m->broken = 0; /* always clean up */
        key_close(m, ki);
    }
    /* M14: the process-wide figures moved by exactly what the keys did */
    nmx_mem_stats g1;
    CHECK_EQ(nmx_key_stats(NULL, &g1), NMERR_SUCCESS);
#define D(f) CHECK_EQ(g1.f - g0.f, m->retired.f);
    D(allocs) D(reallocs) D(frees) D(failed_oom) D(failed_quota) D(failed_terminate)
    D(bad_double_free) D(bad_foreign) D(bad_wrong_owner) D(bad_interior)
#undef D
    CHECK_EQ(g1.bad_key - g0.bad_key, m->bad_key_calls);
    CHECK_EQ(g1.live_blocks, 0);
    CHECK_EQ(g1.live_bytes, 0);
    CHECK(g1.peak_bytes >= m->max_peak);
    /* M12: every segment and huge mapping is back */
    nmx_heap_stats hs;
    CHECK_EQ(nmx_heap_stats_get(&hs), NMERR_SUCCESS);
    CHECK_EQ(hs.keys_live, 0);
    CHECK_EQ(hs.segments_in_use, 0);
    CHECK_EQ(hs.huge_bytes_in_use, 0);
    nmx_heap_trim();
    CHECK_EQ(nmx_heap_stats_get(&hs), NMERR_SUCCESS);
    CHECK(hs.segments_cached * (4u << 20) <= hs.cache_limit_bytes);
    nmx_heap_set_cache_limit((size_t)64 << 20);
    g_totals[0] += m->n_huge;
    g_totals[1] += m->n_large;
    g_totals[2] += m->n_destroy;
    g_totals[3] += m->n_term;
    g_totals[4] += m->n_bad;
    g_totals[5] += m->n_quota;
    g_totals[6] += m->n_scribble;
    for (int j = 0; j < 6; j++)
        g_dead_kinds[j] += m->n_dead_kind[j];
}

static int g_seeds = 20, g_first = 1;
static long g_ops = 20000;

/* M1-M9, M11-M14 against the reference model, seed after seed. */
TEST(test_model_random_sequences_match_reference)
{
    for (int s = g_first; s < g_first + g_seeds; s++)
        run_seed(s, g_ops);
    printf("     %llu ops over %d seeds: %llu huge and %llu large sizes drawn, %llu destroys, "
           "%llu terminates, %llu invalid calls, %llu quota refusals, %llu slack writes\n"
           "     freed pointers passed again were counted as: double free %llu, foreign %llu, "
           "wrong owner %llu, interior %llu\n",
           (unsigned long long)g_total_ops, g_seeds, (unsigned long long)g_totals[0],
           (unsigned long long)g_totals[1], (unsigned long long)g_totals[2],
           (unsigned long long)g_totals[3], (unsigned long long)g_totals[4],
           (unsigned long long)g_totals[5], (unsigned long long)g_totals[6],
           (unsigned long long)g_dead_kinds[1], (unsigned long long)g_dead_kinds[2],
           (unsigned long long)g_dead_kinds[3], (unsigned long long)g_dead_kinds[4]);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1)
        g_seeds = atoi(argv[1]);
    if (argc > 2)
        g_ops = atol(argv[2]);
    if (argc > 3)
        g_first = atoi(argv[3]);
    RUN(test_model_random_sequences_match_reference);
    return CHECK_DONE();
}
