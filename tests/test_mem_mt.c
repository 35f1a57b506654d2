/* Concurrency of the expert heap: SPEC M10 (any function, any thread, any
 * key), M12 (destroy racing calls and other destroys), H4/M4-M6 (terminate
 * racing allocations), M14 (statistics read while the key works).
 *
 * The owner's path of src/mem/excl.c makes the first thread that calls on
 * a key its owner (no atomics), every other thread a foreign caller
 * (mutex + membarrier, or a fence). The tests below arrange both: races
 * between two foreign threads, and races where one side is the owner. Run
 * them also with NMEXPERT_NO_FASTPATH=1 (mutex only); under ThreadSanitizer
 * the owner's path runs in fence mode and is race-checked.
 *
 * Worker threads never use CHECK (its counter is not thread-safe): they use
 * TCHECK, whose failures main() collects with CHECK_THREADS().
 */
#define _GNU_SOURCE
#include "check.h"
#include "mem_util.h"

#include "mem/mem.h"

#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <errno.h>
#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>


/* Iteration counts: TSan runs 5-15x slower; keep it within its budget. */
#ifdef MU_UNDER_TSAN
#define SCALE(n) ((n) / 2 ? (n) / 2 : 1)
#else
#define SCALE(n) (n)
#endif

/* ---- thread-safe checks ---- */

static atomic_int g_tfail;

#define TCHECK(cond)                                                              \
    do {                                                                          \
        if (!(cond)) {                                                            \
            if (atomic_fetch_add(&g_tfail, 1) < 20)                               \
                fprintf(stderr, "%s:%d: CHECK failed (thread): %s\n", __FILE__,   \
                        __LINE__, #cond);                                         \
        }                                                                         \
    } while (0)

#define TCHECK_EQ(a, b)                                                           \
    do {                                                                          \
        unsigned long long ta_ = (unsigned long long)(a);                         \
        unsigned long long tb_ = (unsigned long long)(b);                         \
        if (ta_ != tb_) {                                                         \
            if (atomic_fetch_add(&g_tfail, 1) < 20)                               \
                fprintf(stderr, "%s:%d: CHECK_EQ failed (thread): %s == %s "      \
                        "(%llu vs %llu)\n", __FILE__, __LINE__, #a, #b, ta_, tb_); \
        }                                                                         \
    } while (0)

/* In the test body, after joining: fold the threads' failures into CHECK. */
#define CHECK_THREADS() CHECK_EQ(atomic_exchange(&g_tfail, 0), 0)

/* ---- helpers ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t rnd_below(uint64_t *s, size_t n)
{
    return (size_t)(rnd(s) % n);
}

static inline uint8_t pat(uint64_t seed, size_t i)
{
    return (uint8_t)(((seed + i) * 0x9E3779B97F4A7C15ull) >> 56);
}

static void fill(void *p, size_t from, size_t to, uint64_t seed)
{
    uint8_t *b = p;
    for (size_t i = from; i < to; i++)
        b[i] = pat(seed, i);
}

/* 1 when bytes [from, to) hold the pattern. */
static int holds(const void *p, size_t from, size_t to, uint64_t seed)
{
    const uint8_t *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i] != pat(seed, i))
            return 0;
    return 1;
}

static int zeroed(const void *p, size_t from, size_t to)
{
    const uint8_t *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i])
            return 0;
    return 1;
}

/* Mostly small, some medium, a few large (whole pages). */
static size_t pick_size(uint64_t *rs, int allow_zero)
{
    size_t r = rnd_below(rs, 100);
    size_t n;
    if (r < 70)
        n = rnd_below(rs, 257);
    else if (r < 92)
        n = 257 + rnd_below(rs, 32768 - 256);
    else
        n = 32769 + rnd_below(rs, 200000);
    if (!allow_zero && n == 0)
        n = 1;
    return n;
}

static HEXPERTKEY new_key(size_t quota, const char *name)
{
    nmx_key_options o = {quota, name};
    HEXPERTKEY k = NULL;
    DWORD rc = nmx_key_create(&o, &k);
    CHECK_EQ(rc, NMERR_SUCCESS);
    return k;
}

static uint64_t bad_sum(const nmx_mem_stats *s)
{
    return s->bad_double_free + s->bad_foreign + s->bad_wrong_owner + s->bad_interior;
}

/* Waits until *count reaches n; 0 if that takes more than `seconds`. */
static int wait_count(atomic_int *count, int n, double seconds)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load_explicit(count, memory_order_acquire) < n) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) * 1e-9 >
            seconds)
            return 0;
        struct timespec nap = {0, 20000};
        nanosleep(&nap, NULL);
    }
    return 1;
}

/* A call that never returns leaves threads stuck inside the library, holding
 * a key's mutex that the next nmx_key_create of that slot would wait for:
 * nothing after it can run. Report and end the program. */
static void die_stuck(const char *test, const char *what)
{
    fprintf(stderr, "%s: %s\n", test, what);
    printf("FAIL %s (deadlock)\n%d passed, %d failed\n", test, check_tests_passed_,
           check_tests_failed_ + 1);
    fflush(stdout);
    fflush(stderr);
    _exit(EXIT_FAILURE);
}

/* ========================================================================
 * M10: two threads free the same block at once
 * ======================================================================== */

enum { RACE_FREE_FREE, RACE_FREE_REALLOC };

typedef struct race_ctx {
    HEXPERTKEY key;
    int kind;           /* RACE_FREE_FREE or RACE_FREE_REALLOC */
    int racer_allocs;   /* racer 0 allocates (and owns the key), else main */
    int rounds;
    pthread_barrier_t go, done;
    uint64_t rs;
    void *blk;          /* this round's block, set before `go` */
    size_t size, new_size;
    uint64_t seed;
    SIZE_T free_rc;     /* racer 0's free */
    SIZE_T free_rc2;    /* racer 1's free (FREE_FREE) */
    void *re_ptr;       /* racer 1's realloc (FREE_REALLOC) */
    DWORD re_err;
    /* totals */
    uint64_t allocs, frees, reallocs, bad;
} race_ctx;

/* Sets up the next round: allocates, fills, publishes (before `go`). */
static void race_prepare(race_ctx *c)
{
    DWORD e = 0xdead;
    c->size = pick_size(&c->rs, 1);
    c->new_size = pick_size(&c->rs, 1);
    c->seed = rnd(&c->rs);
    c->blk = ExpertAllocMemory(c->key, c->size, &e);
    TCHECK(c->blk != NULL);
    TCHECK_EQ(e, NMERR_SUCCESS);
    if (c->blk)
        fill(c->blk, 0, c->size, c->seed);
    c->allocs++;
}

/* Checks the round's outcome (after `done`), and cleans up what is left. */
static void race_judge(race_ctx *c)
{
    if (c->kind == RACE_FREE_FREE) {
        SIZE_T a = c->free_rc, b = c->free_rc2;
        int ok = (a == NMERR_SUCCESS && b == NMERR_INVALID_PARAMETER) ||
                 (b == NMERR_SUCCESS && a == NMERR_INVALID_PARAMETER);
        TCHECK(ok);
        if (!ok)
            fprintf(stderr, "  double-free race: results %zu and %zu\n", (size_t)a, (size_t)b);
        c->frees++;
        c->bad++;
        return;
    }
    /* free vs realloc: every outcome must be a serialisation of the two. */
    SIZE_T f = c->free_rc;
    void *q = c->re_ptr;
    DWORD e = c->re_err;
    if (!q) {
        /* free first: realloc must see a dead pointer */
        TCHECK_EQ(e, NMERR_INVALID_PARAMETER);
        TCHECK_EQ(f, NMERR_SUCCESS);
        c->frees++;
        c->bad++;
    } else {
        TCHECK_EQ(e, NMERR_SUCCESS);
        c->reallocs++;
        if (q == c->blk) {
            /* resized in place, then freed */
            TCHECK_EQ(f, NMERR_SUCCESS);
            c->frees++;
        } else {
            /* moved: the free came after and saw a dead pointer */
            TCHECK_EQ(f, NMERR_INVALID_PARAMETER);
            c->bad++;
            size_t keep = c->size < c->new_size ? c->size : c->new_size;
            TCHECK_EQ(ExpertMemorySize(c->key, q), c->new_size);
            TCHECK(holds(q, 0, keep, c->seed));
            TCHECK(zeroed(q, keep, c->new_size));
            TCHECK_EQ(ExpertFreeMemory(c->key, q), NMERR_SUCCESS);
            c->frees++;
        }
    }
}

typedef struct racer_arg {
    race_ctx *c;
    int id;
} racer_arg;

static void *racer(void *arg)
{
    racer_arg *ra = arg;
    race_ctx *c = ra->c;
    for (int r = 0; r < c->rounds; r++) {
        if (c->racer_allocs && ra->id == 0)
            race_prepare(c);
        pthread_barrier_wait(&c->go);
        if (ra->id == 0) {
            c->free_rc = ExpertFreeMemory(c->key, c->blk);
        } else if (c->kind == RACE_FREE_FREE) {
            c->free_rc2 = ExpertFreeMemory(c->key, c->blk);
        } else {
            DWORD e = 0xdead;
            c->re_ptr = ExpertReallocMemory(c->key, c->blk, c->new_size, &e);
            c->re_err = e;
        }
        pthread_barrier_wait(&c->done);
        if (c->racer_allocs && ra->id == 0)
            race_judge(c);
    }
    return NULL;
}

static void run_race(int kind, int racer_allocs, int rounds, uint64_t seed)
{
    race_ctx c;
    memset(&c, 0, sizeof c);
    c.key = new_key(0, "race");
    c.kind = kind;
    c.racer_allocs = racer_allocs;
    c.rounds = rounds;
    c.rs = seed;
    unsigned parties = racer_allocs ? 2 : 3;
    pthread_barrier_init(&c.go, NULL, parties);
    pthread_barrier_init(&c.done, NULL, parties);
    if (!racer_allocs) {
        /* main calls first: it is the key's owner, both racers are foreign */
        void *warm = ExpertAllocMemory(c.key, 8, NULL);
        CHECK(warm != NULL);
        CHECK_EQ(ExpertFreeMemory(c.key, warm), NMERR_SUCCESS);
        c.allocs++;
        c.frees++;
    }
    pthread_t th[2];
    racer_arg ra[2] = {{&c, 0}, {&c, 1}};
    for (int i = 0; i < 2; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, racer, &ra[i]), 0);
    if (!racer_allocs) {
        for (int r = 0; r < rounds; r++) {
            race_prepare(&c);
            pthread_barrier_wait(&c.go);
            pthread_barrier_wait(&c.done);
            race_judge(&c);
        }
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK_THREADS();

    nmx_mem_stats st;
    CHECK_EQ(nmx_key_stats(c.key, &st), NMERR_SUCCESS);
    CHECK_EQ(st.allocs, c.allocs);
    CHECK_EQ(st.frees, c.frees);
    CHECK_EQ(st.reallocs, c.reallocs);
    CHECK_EQ(bad_sum(&st), c.bad);
    CHECK_EQ(st.live_blocks, 0);
    CHECK_EQ(st.live_bytes, 0);
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(c.key, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, 0);
    pthread_barrier_destroy(&c.go);
    pthread_barrier_destroy(&c.done);
}

/* M10: both racers are foreign threads (main owns the key). */
TEST(test_m10_two_foreign_threads_free_same_block_one_wins)
{
    run_race(RACE_FREE_FREE, 0, SCALE(3000), 11);
}

/* M10: one racer is the key's owner (it made the first call on the key and
 * allocates every block): the owner's fast path against a foreign free. */
TEST(test_m10_owner_and_foreign_free_same_block_one_wins)
{
    run_race(RACE_FREE_FREE, 1, SCALE(3000), 12);
}

/* M10/M5: a free racing a realloc of the same block ends as one of the two
 * serial orders: never both succeed on a moved block, never a lost block. */
TEST(test_m10_free_races_realloc_serialises)
{
    run_race(RACE_FREE_REALLOC, 0, SCALE(2000), 13);
    run_race(RACE_FREE_REALLOC, 1, SCALE(2000), 14);
}

/* ========================================================================
 * membarrier refused at run time
 * ======================================================================== */

/* From here on, membarrier() fails with EPERM in this process, as under a
 * sandbox's seccomp filter (SECCOMP_RET_ERRNO). */
static int refuse_membarrier(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -1;
    return 0;
}

static int races_without_membarrier(void *arg)
{
    (void)arg;
    int before = check_failures_;
    CHECK_EQ(refuse_membarrier(), 0);
    errno = 0;
    CHECK(syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == -1 && errno == EPERM);
    /* The first foreign call meets the refusal, with the owner at work. */
    run_race(RACE_FREE_FREE, 1, SCALE(3000), 31);
    CHECK(strcmp(nmx__excl_mode_name(), "fence") == 0);
    run_race(RACE_FREE_REALLOC, 1, SCALE(2000), 32);
    run_race(RACE_FREE_FREE, 0, SCALE(1000), 33);
    return check_failures_ != before;
}

/* M10, issue 8: membarrier failing after the first key (a seccomp filter
 * installed later, as in a sandboxed worker) is never ignored: the process
 * goes over to fence mode and owner/foreign races still serialise. In a
 * child process, which the filter stays in. */
TEST(test_m10_membarrier_refused_at_run_time_falls_back_to_fences)
{
    HEXPERTKEY k = new_key(0, "mode"); /* the mode is chosen at the first key */
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
    if (strcmp(nmx__excl_mode_name(), "membarrier") != 0)
        SKIP_HERE("the membarrier mode is not in use here (TSan, NO_FASTPATH or no membarrier)");
    CHECK(mu_in_child("races with membarrier refused", races_without_membarrier, NULL, 240));
}

/* ========================================================================
 * Workers that own their blocks, on one or many keys
 * ======================================================================== */

#define MAX_KEYS 16
#define MAX_HELD 48

typedef struct blk {
    void *p;
    size_t n;
    uint64_t seed;
    int key;
} blk;

typedef struct kcount {
    uint64_t allocs, reallocs, frees, wrong_owner, interior, live_blocks, live_bytes;
} kcount;

/* Handoff between threads: blocks change hands, the receiver frees them. */
typedef struct mailbox {
    pthread_mutex_t lock;
    blk slot[32];
    int n;
} mailbox;

typedef struct worker {
    pthread_t th;
    int id;
    uint64_t rs;
    HEXPERTKEY *keys;
    int nkeys;
    int ops;
    blk held[MAX_HELD];
    int nheld;
    kcount c[MAX_KEYS];
    mailbox *out, *in; /* may be NULL */
    pthread_barrier_t *ready; /* owner: after its first call */
} worker;

static void w_alloc(worker *w, int ki)
{
    DWORD e = 0xdead;
    size_t n = pick_size(&w->rs, 1);
    void *p = ExpertAllocMemory(w->keys[ki], n, &e);
    TCHECK(p != NULL);
    TCHECK_EQ(e, NMERR_SUCCESS);
    if (!p)
        return;
    TCHECK(((uintptr_t)p & 15) == 0);
    TCHECK(zeroed(p, 0, n));
    blk b = {p, n, rnd(&w->rs), ki};
    fill(p, 0, n, b.seed);
    w->held[w->nheld++] = b;
    w->c[ki].allocs++;
}

static void w_realloc(worker *w, int i)
{
    blk *b = &w->held[i];
    size_t n2 = rnd_below(&w->rs, 4) == 0 ? b->n / 2 : pick_size(&w->rs, 1);
    TCHECK(holds(b->p, 0, b->n, b->seed));
    DWORD e = 0xdead;
    void *q = ExpertReallocMemory(w->keys[b->key], b->p, n2, &e);
    TCHECK(q != NULL);
    TCHECK_EQ(e, NMERR_SUCCESS);
    if (!q)
        return;
    size_t keep = b->n < n2 ? b->n : n2;
    TCHECK(holds(q, 0, keep, b->seed));
    TCHECK(zeroed(q, keep, n2));
    fill(q, keep, n2, b->seed);
    b->p = q;
    b->n = n2;
    w->c[b->key].reallocs++;
}

static void w_release(worker *w, int i)
{
    blk b = w->held[i];
    TCHECK(holds(b.p, 0, b.n, b.seed));
    TCHECK_EQ(ExpertFreeMemory(w->keys[b.key], b.p), NMERR_SUCCESS);
    w->c[b.key].frees++;
    w->held[i] = w->held[--w->nheld];
}

static void w_op(worker *w)
{
    size_t r = rnd_below(&w->rs, 100);
    if (w->nheld == 0 || (r < 35 && w->nheld < MAX_HELD)) {
        w_alloc(w, (int)rnd_below(&w->rs, (size_t)w->nkeys));
        return;
    }
    int i = (int)rnd_below(&w->rs, (size_t)w->nheld);
    blk *b = &w->held[i];
    if (r < 55) {
        w_realloc(w, i);
    } else if (r < 82) {
        /* sometimes hand the block over to the other thread instead */
        if (w->out && (r & 1)) {
            pthread_mutex_lock(&w->out->lock);
            int sent = 0;
            if (w->out->n < 32) {
                w->out->slot[w->out->n++] = *b;
                sent = 1;
            }
            pthread_mutex_unlock(&w->out->lock);
            if (sent) {
                w->held[i] = w->held[--w->nheld];
                return;
            }
        }
        w_release(w, i);
    } else if (r < 92) {
        TCHECK_EQ(ExpertMemorySize(w->keys[b->key], b->p), b->n);
    } else if (r < 96 && w->nkeys > 1) {
        /* M6/M9: a block of another key is refused and counted there */
        int other = (b->key + 1 + (int)rnd_below(&w->rs, (size_t)w->nkeys - 1)) % w->nkeys;
        TCHECK_EQ(ExpertFreeMemory(w->keys[other], b->p), NMERR_INVALID_PARAMETER);
        w->c[other].wrong_owner++;
    } else {
        /* M6/M9: an interior pointer is refused and counted */
        TCHECK_EQ(ExpertFreeMemory(w->keys[b->key], (char *)b->p + 1 + rnd_below(&w->rs, 15)),
                  NMERR_INVALID_PARAMETER);
        w->c[b->key].interior++;
    }
}

/* Takes what the other thread sent: checks and frees it (a cross-thread free). */
static void w_drain(worker *w)
{
    if (!w->in)
        return;
    blk got[32];
    int n;
    pthread_mutex_lock(&w->in->lock);
    n = w->in->n;
    memcpy(got, w->in->slot, (size_t)n * sizeof got[0]);
    w->in->n = 0;
    pthread_mutex_unlock(&w->in->lock);
    for (int i = 0; i < n; i++) {
        TCHECK(holds(got[i].p, 0, got[i].n, got[i].seed));
        TCHECK_EQ(ExpertMemorySize(w->keys[got[i].key], got[i].p), got[i].n);
        TCHECK_EQ(ExpertFreeMemory(w->keys[got[i].key], got[i].p), NMERR_SUCCESS);
        w->c[got[i].key].frees++;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    if (w->ready) {
        if (w->id == 0)
            w_alloc(w, 0); /* the owner's first call makes it the owner */
        pthread_barrier_wait(w->ready);
    }
    for (int i = 0; i < w->ops; i++) {
        w_op(w);
        if ((i & 15) == 0)
            w_drain(w);
    }
    return NULL;
}

/* Folds the workers' accounting of what is still held into their counters. */
static void workers_tally(worker *ws, int nw, kcount *sum, int nkeys)
{
    memset(sum, 0, sizeof(kcount) * (size_t)nkeys);
    for (int t = 0; t < nw; t++) {
        for (int k = 0; k < nkeys; k++) {
            sum[k].allocs += ws[t].c[k].allocs;
            sum[k].reallocs += ws[t].c[k].reallocs;
            sum[k].frees += ws[t].c[k].frees;
            sum[k].wrong_owner += ws[t].c[k].wrong_owner;
            sum[k].interior += ws[t].c[k].interior;
        }
        for (int i = 0; i < ws[t].nheld; i++) {
            sum[ws[t].held[i].key].live_blocks++;
            sum[ws[t].held[i].key].live_bytes += ws[t].held[i].n;
        }
    }
}

static void check_key_against(HEXPERTKEY k, const kcount *c)
{
    nmx_mem_stats st;
    CHECK_EQ(nmx_key_stats(k, &st), NMERR_SUCCESS);
    CHECK_EQ(st.allocs, c->allocs);
    CHECK_EQ(st.reallocs, c->reallocs);
    CHECK_EQ(st.frees, c->frees);
    CHECK_EQ(st.bad_wrong_owner, c->wrong_owner);
    CHECK_EQ(st.bad_interior, c->interior);
    CHECK_EQ(st.bad_double_free, 0);
    CHECK_EQ(st.bad_foreign, 0);
    CHECK_EQ(st.live_blocks, c->live_blocks);
    CHECK_EQ(st.live_bytes, c->live_bytes);
    CHECK(st.peak_bytes >= st.live_bytes);
    CHECK_EQ(st.failed_oom + st.failed_quota + st.failed_terminate, 0);
    /* M12: destroy reclaims what is still held and reports it (leak ledger) */
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, c->live_blocks);
    CHECK_EQ(fin.live_bytes, c->live_bytes);
    CHECK_EQ(fin.allocs, c->allocs);
    CHECK_EQ(fin.frees, c->frees);
    CHECK_EQ(nmx_key_stats(k, &st), NMERR_INVALID_EXPERT_HANDLE);
}

/* M10: the owner thread and a foreign thread work on one key at once, each
 * with its own blocks, and hand blocks to each other to free. Contents stay
 * intact and the statistics add up exactly. */
TEST(test_m10_owner_and_foreign_thread_share_a_key)
{
    HEXPERTKEY key = new_key(0, "shared");
    pthread_barrier_t ready;
    pthread_barrier_init(&ready, NULL, 2);
    mailbox box[2];
    worker w[2];
    memset(w, 0, sizeof w);
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&box[i].lock, NULL);
        box[i].n = 0;
    }
    for (int i = 0; i < 2; i++) {
        w[i].id = i;
        w[i].rs = 100 + (uint64_t)i;
        w[i].keys = &key;
        w[i].nkeys = 1;
        w[i].ops = SCALE(20000);
        w[i].out = &box[i];
        w[i].in = &box[1 - i];
        w[i].ready = &ready;
        CHECK_EQ(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(w[i].th, NULL);
    CHECK_THREADS();
    /* whatever is still in a mailbox: main checks it and frees it (a third thread) */
    for (int i = 0; i < 2; i++) {
        for (int j = 0; j < box[i].n; j++) {
            blk b = box[i].slot[j];
            CHECK(holds(b.p, 0, b.n, b.seed));
            CHECK_EQ(ExpertFreeMemory(key, b.p), NMERR_SUCCESS);
            w[0].c[0].frees++;
        }
    }
    kcount sum;
    workers_tally(w, 2, &sum, 1);
    check_key_against(key, &sum);
    pthread_barrier_destroy(&ready);
    for (int i = 0; i < 2; i++)
        pthread_mutex_destroy(&box[i].lock);
}

/* M10: 8 threads, 16 keys, random operations on random keys; each thread
 * checks the contents of its blocks, and every key's statistics and leak
 * ledger match the sum of what the threads did. */
TEST(test_m10_many_threads_many_keys)
{
    enum { NT = 8, NK = 16 };
    HEXPERTKEY keys[NK];
    for (int k = 0; k < NK; k++)
        keys[k] = new_key(0, "many");
    worker *w = calloc(NT, sizeof *w);
    CHECK(w != NULL);
    if (!w)
        return;
    for (int t = 0; t < NT; t++) {
        w[t].id = t;
        w[t].rs = 1000 + (uint64_t)t;
        w[t].keys = keys;
        w[t].nkeys = NK;
        w[t].ops = SCALE(8000);
        CHECK_EQ(pthread_create(&w[t].th, NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < NT; t++)
        pthread_join(w[t].th, NULL);
    CHECK_THREADS();
    kcount sum[NK];
    workers_tally(w, NT, sum, NK);
    for (int k = 0; k < NK; k++)
        check_key_against(keys[k], &sum[k]);
    free(w);
}

/* ========================================================================
 * M12: destroy racing calls on its key
 * ======================================================================== */

#define DR_WORKERS 3

typedef struct dr_result {
    uint64_t allocs, reallocs, frees, live_blocks, live_bytes;
} dr_result;

typedef struct dr_ctx {
    HEXPERTKEY key;
    int rounds;
    pthread_barrier_t start;
    atomic_int finished;       /* workers done with this round */
    atomic_int destroyed;      /* set after nmx_key_destroy returned */
    atomic_uint ops;           /* calls made this round */
    dr_result res[DR_WORKERS];
} dr_ctx;

typedef struct dr_arg {
    dr_ctx *c;
    int id;
} dr_arg;

/* After the key died: every call on it fails the same way, and touches nothing. */
static void dr_check_dead(HEXPERTKEY k, void *some_block, const char *why, int round)
{
    DWORD e = 0xdead;
    void *p = ExpertAllocMemory(k, 16, &e);
    if (p)
        fprintf(stderr, "round %d: key looked dead after %s, but it is alive\n", round, why);
    TCHECK(p == NULL);
    TCHECK_EQ(e, NMERR_INVALID_EXPERT_HANDLE);
    e = 0xdead;
    TCHECK(ExpertReallocMemory(k, some_block, 32, &e) == NULL);
    TCHECK_EQ(e, NMERR_INVALID_EXPERT_HANDLE);
    TCHECK_EQ(ExpertFreeMemory(k, some_block), NMERR_INVALID_EXPERT_HANDLE);
    TCHECK_EQ(ExpertMemorySize(k, some_block), 0);
    nmx_mem_stats st;
    TCHECK_EQ(nmx_key_stats(k, &st), NMERR_INVALID_EXPERT_HANDLE);
    TCHECK_EQ(nmx_key_terminate(k), NMERR_INVALID_EXPERT_HANDLE);
    char name[16];
    TCHECK_EQ(nmx_key_name(k, name, sizeof name), NMERR_INVALID_EXPERT_HANDLE);
    TCHECK_EQ(nmx_key_destroy(k, &st), NMERR_INVALID_EXPERT_HANDLE);
}

static void *dr_worker(void *arg)
{
    dr_arg *a = arg;
    dr_ctx *c = a->c;
    uint64_t rs = 5000 + (uint64_t)a->id;
    for (int round = 0; round < c->rounds; round++) {
        pthread_barrier_wait(&c->start);
        HEXPERTKEY k = c->key;
        struct {
            void *p;
            size_t n;
        } held[16];
        int nheld = 0;
        dr_result res = {0, 0, 0, 0, 0};
        int dead = 0;
        const char *why = "?";
        /* Blocks are never written: once destroy may have run, their memory
         * belongs to the cache (host.h: must not be touched). */
        while (!dead) {
            atomic_fetch_add_explicit(&c->ops, 1, memory_order_relaxed);
            int was_destroyed = atomic_load_explicit(&c->destroyed, memory_order_acquire);
            size_t r = rnd_below(&rs, 100);
            int ok;
            DWORD e = 0xdead;
            if (nheld == 0 || (r < 35 && nheld < 16)) {
                size_t n = pick_size(&rs, 0);
                void *p = ExpertAllocMemory(k, n, &e);
                ok = e != NMERR_INVALID_EXPERT_HANDLE;
                why = "alloc";
                if (ok) {
                    TCHECK(p != NULL);
                    TCHECK_EQ(e, NMERR_SUCCESS);
                    if (p) {
                        held[nheld].p = p;
                        held[nheld++].n = n;
                        res.allocs++;
                    }
                } else {
                    TCHECK(p == NULL);
                }
            } else {
                int i = (int)rnd_below(&rs, (size_t)nheld);
                if (r < 55) {
                    size_t n = pick_size(&rs, 0);
                    void *q = ExpertReallocMemory(k, held[i].p, n, &e);
                    ok = e != NMERR_INVALID_EXPERT_HANDLE;
                    why = "realloc";
                    if (ok) {
                        TCHECK(q != NULL);
                        TCHECK_EQ(e, NMERR_SUCCESS);
                        if (q) {
                            held[i].p = q;
                            held[i].n = n;
                            res.reallocs++;
                        }
                    } else {
                        TCHECK(q == NULL);
                    }
                } else if (r < 80) {
                    SIZE_T rc = ExpertFreeMemory(k, held[i].p);
                    ok = rc != NMERR_INVALID_EXPERT_HANDLE;
                    why = "free";
                    if (ok) {
                        TCHECK_EQ(rc, NMERR_SUCCESS);
                        held[i] = held[--nheld];
                        res.frees++;
                    }
                } else if (r < 95) {
                    SIZE_T s = ExpertMemorySize(k, held[i].p); /* sizes are >= 1 */
                    ok = s != 0;
                    why = "size";
                    if (ok)
                        TCHECK_EQ(s, held[i].n);
                } else {
                    nmx_mem_stats st;
                    DWORD rc = nmx_key_stats(k, &st);
                    ok = rc != NMERR_INVALID_EXPERT_HANDLE;
                    why = "stats";
                    if (ok) {
                        TCHECK_EQ(rc, NMERR_SUCCESS);
                        TCHECK(st.allocs >= res.allocs);
                    }
                }
            }
            if (ok && was_destroyed) {
                /* a call that started after destroy returned succeeded */
                TCHECK(!"call succeeded after nmx_key_destroy returned");
                dead = 1;
            }
            if (!ok)
                dead = 1;
        }
        dr_check_dead(k, nheld ? held[0].p : (void *)&rs, why, round);
        for (int i = 0; i < nheld; i++) {
            res.live_blocks++;
            res.live_bytes += held[i].n;
        }
        c->res[a->id] = res;
        atomic_fetch_add_explicit(&c->finished, 1, memory_order_release);
    }
    return NULL;
}

/* M12: worker threads call alloc/realloc/free/size/stats on a key while the
 * main thread destroys it, for many keys. Each call either completes normally
 * (before the reclaim) or fails with NMERR_INVALID_EXPERT_HANDLE (size 0);
 * once destroy has returned, every call fails; the ledger destroy returns is
 * exactly what the successful calls left behind. Sometimes main owns the key
 * (destroy from the owner thread), sometimes a worker does. */
TEST(test_m12_destroy_races_calls_on_its_key)
{
    dr_ctx c;
    memset(&c, 0, sizeof c);
    c.rounds = SCALE(400);
    pthread_barrier_init(&c.start, NULL, DR_WORKERS + 1);
    pthread_t th[DR_WORKERS];
    dr_arg args[DR_WORKERS];
    for (int i = 0; i < DR_WORKERS; i++) {
        args[i].c = &c;
        args[i].id = i;
        CHECK_EQ(pthread_create(&th[i], NULL, dr_worker, &args[i]), 0);
    }
    uint64_t rs = 77;
    int mismatched = 0;
    /* no segment cache: the library's trimmer thread gives memory back
     * while the next keys take segments */
    nmx_heap_set_cache_limit(0);
    for (int round = 0; round < c.rounds; round++) {
        HEXPERTKEY k = new_key(0, "doomed");
        dr_result mine = {0, 0, 0, 0, 0};
        if (round % 3 == 0) {
            /* main makes the first call: it owns the key it will destroy */
            void *p = ExpertAllocMemory(k, 100, NULL);
            CHECK(p != NULL);
            mine.allocs = 1;
            mine.live_blocks = 1;
            mine.live_bytes = 100;
        }
        c.key = k;
        atomic_store(&c.destroyed, 0);
        atomic_store(&c.ops, 0);
        atomic_store(&c.finished, 0);
        unsigned target = (unsigned)rnd_below(&rs, 600);
        pthread_barrier_wait(&c.start);
        while (atomic_load_explicit(&c.ops, memory_order_relaxed) < target)
            sched_yield();
        nmx_mem_stats fin;
        CHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
        atomic_store_explicit(&c.destroyed, 1, memory_order_release);
        if (!wait_count(&c.finished, DR_WORKERS, 10.0)) {
            char what[160];
            snprintf(what, sizeof what,
                     "round %d: a call on the destroyed key has not returned after 10 s", round);
            die_stuck("test_m12_destroy_races_calls_on_its_key", what);
        }
        CHECK_THREADS();
        dr_result sum = mine;
        for (int i = 0; i < DR_WORKERS; i++) {
            sum.allocs += c.res[i].allocs;
            sum.reallocs += c.res[i].reallocs;
            sum.frees += c.res[i].frees;
            sum.live_blocks += c.res[i].live_blocks;
            sum.live_bytes += c.res[i].live_bytes;
        }
        if (fin.allocs != sum.allocs || fin.reallocs != sum.reallocs || fin.frees != sum.frees ||
            fin.live_blocks != sum.live_blocks || fin.live_bytes != sum.live_bytes) {
            if (mismatched++ < 5)
                fprintf(stderr,
                        "round %d: ledger allocs %llu/%llu reallocs %llu/%llu frees %llu/%llu "
                        "live %llu/%llu blocks %llu/%llu bytes\n",
                        round, (unsigned long long)fin.allocs, (unsigned long long)sum.allocs,
                        (unsigned long long)fin.reallocs, (unsigned long long)sum.reallocs,
                        (unsigned long long)fin.frees, (unsigned long long)sum.frees,
                        (unsigned long long)fin.live_blocks, (unsigned long long)sum.live_blocks,
                        (unsigned long long)fin.live_bytes, (unsigned long long)sum.live_bytes);
        }
    }
    CHECK_EQ(mismatched, 0);
    for (int i = 0; i < DR_WORKERS; i++)
        pthread_join(th[i], NULL);
    CHECK_THREADS();
    pthread_barrier_destroy(&c.start);
    nmx_heap_set_cache_limit((size_t)64 << 20);
    nmx_heap_stats hs;
    CHECK_EQ(nmx_heap_stats_get(&hs), NMERR_SUCCESS);
    CHECK_EQ(hs.keys_live, 0);
    CHECK_EQ(hs.segments_in_use, 0);
}

/* ---- destroy while the owner thread keeps calling ---- */

typedef struct od_ctx {
    HEXPERTKEY key;
    int rounds;
    pthread_barrier_t start;
    atomic_int owned;    /* the owner made its first call this round */
    atomic_int finished; /* the owner saw the key die */
    atomic_int destroyed;
    uint64_t calls;
} od_ctx;

static void *od_owner(void *arg)
{
    od_ctx *c = arg;
    uint64_t rs = 8080;
    for (int round = 0; round < c->rounds; round++) {
        pthread_barrier_wait(&c->start);
        HEXPERTKEY k = c->key;
        DWORD e = 0xdead;
        void *mine = ExpertAllocMemory(k, 100, &e); /* first call: the owner */
        TCHECK(mine != NULL);
        atomic_store_explicit(&c->owned, 1, memory_order_release);
        for (;;) {
            int was = atomic_load_explicit(&c->destroyed, memory_order_acquire);
            int dead;
            c->calls++;
            switch (rnd_below(&rs, 4)) {
            case 0: /* not the small fast path: through key_enter() */
                dead = ExpertMemorySize(k, mine) == 0;
                break;
            case 1: {
                void *p = ExpertAllocMemory(k, 2000 + rnd_below(&rs, 3000), &e);
                dead = p == NULL;
                if (!dead) {
                    /* the destroy may come between the two calls */
                    SIZE_T rc = ExpertFreeMemory(k, p);
                    TCHECK(rc == NMERR_SUCCESS || rc == NMERR_INVALID_EXPERT_HANDLE);
                    dead = rc != NMERR_SUCCESS;
                }
                break;
            }
            case 2: {
                void *p = ExpertAllocMemory(k, rnd_below(&rs, 200), &e);
                dead = p == NULL;
                if (!dead) {
                    /* the destroy may come between the two calls */
                    SIZE_T rc = ExpertFreeMemory(k, p);
                    TCHECK(rc == NMERR_SUCCESS || rc == NMERR_INVALID_EXPERT_HANDLE);
                    dead = rc != NMERR_SUCCESS;
                }
                break;
            }
            default: {
                void *q = ExpertReallocMemory(k, mine, 50 + rnd_below(&rs, 100), &e);
                dead = q == NULL;
                if (!dead)
                    mine = q;
                break;
            }
            }
            if (dead) {
                TCHECK_EQ(ExpertFreeMemory(k, mine), NMERR_INVALID_EXPERT_HANDLE);
                break;
            }
            if (was) {
                TCHECK(!"owner's call succeeded after destroy returned");
                break;
            }
        }
        atomic_fetch_add_explicit(&c->finished, 1, memory_order_release);
    }
    return NULL;
}

/* Busy threads: they make the scheduler preempt the others at arbitrary
 * instructions, as a loaded machine does. */
static atomic_int g_hog_stop;
#define NHOGS 1

static void *hog(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    while (!atomic_load_explicit(&g_hog_stop, memory_order_relaxed))
        x++;
    return NULL;
}

/* M12, M10: the owner thread calls on its key without pause (Size, Realloc
 * and large Allocs go through key_enter(), small ones through the owner's
 * fast path) while another thread destroys the key: every call returns,
 * either served or with NMERR_INVALID_EXPERT_HANDLE. A call that never
 * returns is reported as a deadlock. */
TEST(test_m12_destroy_while_owner_thread_calls)
{
    od_ctx c;
    memset(&c, 0, sizeof c);
    c.rounds = SCALE(1000);
    pthread_barrier_init(&c.start, NULL, 2);
    pthread_t th, hogs[NHOGS];
    CHECK_EQ(pthread_create(&th, NULL, od_owner, &c), 0);
    atomic_store(&g_hog_stop, 0);
    for (int i = 0; i < NHOGS; i++)
        CHECK_EQ(pthread_create(&hogs[i], NULL, hog, NULL), 0);
    uint64_t rs = 4321;
    for (int round = 0; round < c.rounds; round++) {
        c.key = new_key(0, "owned");
        atomic_store(&c.owned, 0);
        atomic_store(&c.finished, 0);
        atomic_store(&c.destroyed, 0);
        pthread_barrier_wait(&c.start);
        while (!atomic_load_explicit(&c.owned, memory_order_acquire))
            sched_yield();
        for (size_t spin = rnd_below(&rs, 3000); spin; spin--)
            atomic_signal_fence(memory_order_seq_cst);
        CHECK_EQ(nmx_key_destroy(c.key, NULL), NMERR_SUCCESS);
        atomic_store_explicit(&c.destroyed, 1, memory_order_release);
        if (!wait_count(&c.finished, 1, 10.0)) {
            char what[200];
            snprintf(what, sizeof what,
                     "round %d: the owner thread's call on the destroyed key has not returned "
                     "after 10 s", round);
            die_stuck("test_m12_destroy_while_owner_thread_calls", what);
        }
    }
    pthread_join(th, NULL);
    atomic_store(&g_hog_stop, 1);
    for (int i = 0; i < NHOGS; i++)
        pthread_join(hogs[i], NULL);
    CHECK_THREADS();
    pthread_barrier_destroy(&c.start);
}

/* ---- destroy racing destroy ---- */

typedef struct dd_ctx {
    HEXPERTKEY key;
    int rounds;
    pthread_barrier_t go, done;
    DWORD rc[2];
    nmx_mem_stats fin[2];
    uint64_t bystander_allocs; /* this round's successful allocs by thread 2 */
} dd_ctx;

typedef struct dd_arg {
    dd_ctx *c;
    int id;
} dd_arg;

static void *dd_thread(void *arg)
{
    dd_arg *a = arg;
    dd_ctx *c = a->c;
    for (int r = 0; r < c->rounds; r++) {
        pthread_barrier_wait(&c->go);
        if (a->id < 2) {
            c->rc[a->id] = nmx_key_destroy(c->key, &c->fin[a->id]);
        } else {
            /* a bystander: calls on the key while the two destroys race */
            uint64_t n = 0;
            for (int i = 0; i < 4; i++) {
                DWORD e = 0xdead;
                void *p = ExpertAllocMemory(c->key, 24, &e);
                if (p) {
                    TCHECK_EQ(e, NMERR_SUCCESS);
                    n++;
                } else {
                    TCHECK_EQ(e, NMERR_INVALID_EXPERT_HANDLE);
                }
                nmx_mem_stats st;
                DWORD rc = nmx_key_stats(c->key, &st);
                TCHECK(rc == NMERR_SUCCESS || rc == NMERR_INVALID_EXPERT_HANDLE);
            }
            c->bystander_allocs = n;
        }
        pthread_barrier_wait(&c->done);
    }
    return NULL;
}

/* M12: two threads destroy the same key at once: exactly one succeeds and its
 * ledger holds every block; a third thread calling on the key meanwhile gets
 * either service or NMERR_INVALID_EXPERT_HANDLE. */
TEST(test_m12_destroy_races_destroy_one_wins)
{
    dd_ctx c;
    memset(&c, 0, sizeof c);
    c.rounds = SCALE(1500);
    pthread_barrier_init(&c.go, NULL, 4);
    pthread_barrier_init(&c.done, NULL, 4);
    pthread_t th[3];
    dd_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i].c = &c;
        args[i].id = i;
        CHECK_EQ(pthread_create(&th[i], NULL, dd_thread, &args[i]), 0);
    }
    uint64_t rs = 99;
    int bad = 0;
    for (int r = 0; r < c.rounds; r++) {
        HEXPERTKEY k = new_key(0, "twice");
        size_t nblocks = rnd_below(&rs, 20);
        uint64_t bytes = 0;
        for (size_t i = 0; i < nblocks; i++) {
            size_t n = pick_size(&rs, 1);
            CHECK(ExpertAllocMemory(k, n, NULL) != NULL);
            bytes += n;
        }
        c.key = k;
        pthread_barrier_wait(&c.go);
        pthread_barrier_wait(&c.done);
        int wins = (c.rc[0] == NMERR_SUCCESS) + (c.rc[1] == NMERR_SUCCESS);
        int losses = (c.rc[0] == NMERR_INVALID_EXPERT_HANDLE) +
                     (c.rc[1] == NMERR_INVALID_EXPERT_HANDLE);
        if (wins != 1 || losses != 1) {
            if (bad++ < 5)
                fprintf(stderr, "round %d: destroy results %u and %u\n", r, c.rc[0], c.rc[1]);
            continue;
        }
        const nmx_mem_stats *f = &c.fin[c.rc[0] == NMERR_SUCCESS ? 0 : 1];
        if (f->live_blocks < nblocks || f->live_blocks > nblocks + c.bystander_allocs ||
            f->allocs != f->live_blocks || f->live_bytes < bytes) {
            if (bad++ < 5)
                fprintf(stderr, "round %d: ledger %llu blocks, expected %zu + up to %llu\n", r,
                        (unsigned long long)f->live_blocks, nblocks,
                        (unsigned long long)c.bystander_allocs);
        }
    }
    CHECK_EQ(bad, 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK_THREADS();
    pthread_barrier_destroy(&c.go);
    pthread_barrier_destroy(&c.done);
}

/* ========================================================================
 * H4 / M4-M6: terminate racing allocations
 * ======================================================================== */

#define TR_WORKERS 3

typedef struct tr_ctx {
    HEXPERTKEY key;
    atomic_int term_done; /* set after nmx_key_terminate returned */
    atomic_uint ops;
    uint64_t allocs[TR_WORKERS], reallocs[TR_WORKERS], frees[TR_WORKERS],
        failed_term[TR_WORKERS];
    uint64_t seed;
} tr_ctx;

typedef struct tr_arg {
    tr_ctx *c;
    int id;
} tr_arg;

static void *tr_worker(void *arg)
{
    tr_arg *a = arg;
    tr_ctx *c = a->c;
    uint64_t rs = c->seed * 31 + (uint64_t)a->id;
    blk held[16];
    int nheld = 0;
    int seen_term = 0, after = 0;
    uint64_t allocs = 0, reallocs = 0, frees = 0, failed = 0;
    while (after < 50) {
        atomic_fetch_add_explicit(&c->ops, 1, memory_order_relaxed);
        int done = atomic_load_explicit(&c->term_done, memory_order_acquire);
        int must_fail = done || seen_term;
        size_t r = rnd_below(&rs, 100);
        DWORD e = 0xdead;
        if (nheld == 0 || (r < 45 && nheld < 16)) {
            size_t n = pick_size(&rs, 1);
            void *p = ExpertAllocMemory(c->key, n, &e);
            if (p) {
                TCHECK(!must_fail);
                TCHECK_EQ(e, NMERR_SUCCESS);
                TCHECK(zeroed(p, 0, n));
                blk b = {p, n, rnd(&rs), 0};
                fill(p, 0, n, b.seed);
                held[nheld++] = b;
                allocs++;
            } else {
                TCHECK_EQ(e, NMERR_EXPERT_TERMINATE);
                seen_term = 1;
                failed++;
            }
        } else {
            int i = (int)rnd_below(&rs, (size_t)nheld);
            blk *b = &held[i];
            if (r < 65) {
                size_t n = pick_size(&rs, 1);
                void *q = ExpertReallocMemory(c->key, b->p, n, &e);
                if (q) {
                    TCHECK(!must_fail);
                    TCHECK_EQ(e, NMERR_SUCCESS);
                    size_t keep = b->n < n ? b->n : n;
                    TCHECK(holds(q, 0, keep, b->seed));
                    TCHECK(zeroed(q, keep, n));
                    fill(q, keep, n, b->seed);
                    b->p = q;
                    b->n = n;
                    reallocs++;
                } else {
                    /* M5: a failed realloc leaves the block untouched */
                    TCHECK_EQ(e, NMERR_EXPERT_TERMINATE);
                    TCHECK_EQ(ExpertMemorySize(c->key, b->p), b->n);
                    TCHECK(holds(b->p, 0, b->n, b->seed));
                    seen_term = 1;
                    failed++;
                }
            } else if (r < 85) {
                SIZE_T rc = ExpertFreeMemory(c->key, b->p);
                /* M6: released either way; after terminate it says so */
                if (must_fail)
                    TCHECK_EQ(rc, NMERR_EXPERT_TERMINATE);
                else
                    TCHECK(rc == NMERR_SUCCESS || rc == NMERR_EXPERT_TERMINATE);
                if (rc == NMERR_EXPERT_TERMINATE)
                    seen_term = 1;
                held[i] = held[--nheld];
                frees++;
            } else {
                /* M7: size works after terminate */
                TCHECK_EQ(ExpertMemorySize(c->key, b->p), b->n);
            }
        }
        if (seen_term)
            after++;
    }
    for (int i = 0; i < nheld; i++) {
        TCHECK(holds(held[i].p, 0, held[i].n, held[i].seed));
        TCHECK_EQ(ExpertFreeMemory(c->key, held[i].p), NMERR_EXPERT_TERMINATE);
        frees++;
    }
    c->allocs[a->id] = allocs;
    c->reallocs[a->id] = reallocs;
    c->frees[a->id] = frees;
    c->failed_term[a->id] = failed;
    return NULL;
}

/* H4, M4-M6: threads allocate, resize and free while the host terminates the
 * key. After nmx_key_terminate returns every Alloc/Realloc fails with
 * NMERR_EXPERT_TERMINATE (and a thread that saw it once keeps seeing it),
 * frees still release and say NMERR_EXPERT_TERMINATE, a failed realloc leaves
 * the block intact, and the counts add up. */
TEST(test_h4_terminate_races_allocations)
{
    int rounds = SCALE(60);
    for (int round = 0; round < rounds; round++) {
        tr_ctx c;
        memset(&c, 0, sizeof c);
        c.key = new_key(0, "terminated");
        c.seed = (uint64_t)round;
        pthread_t th[TR_WORKERS];
        tr_arg args[TR_WORKERS];
        for (int i = 0; i < TR_WORKERS; i++) {
            args[i].c = &c;
            args[i].id = i;
            CHECK_EQ(pthread_create(&th[i], NULL, tr_worker, &args[i]), 0);
        }
        unsigned target = (unsigned)(round * 37 % 1500);
        while (atomic_load_explicit(&c.ops, memory_order_relaxed) < target)
            sched_yield();
        CHECK_EQ(nmx_key_terminate(c.key), NMERR_SUCCESS);
        atomic_store_explicit(&c.term_done, 1, memory_order_release);
        CHECK_EQ(nmx_key_terminate(c.key), NMERR_SUCCESS); /* idempotent */
        DWORD e = 0xdead;
        CHECK(ExpertAllocMemory(c.key, 1, &e) == NULL);
        CHECK_EQ(e, NMERR_EXPERT_TERMINATE);
        for (int i = 0; i < TR_WORKERS; i++)
            pthread_join(th[i], NULL);
        CHECK_THREADS();
        uint64_t allocs = 0, reallocs = 0, frees = 0, failed = 1; /* main's alloc above */
        for (int i = 0; i < TR_WORKERS; i++) {
            allocs += c.allocs[i];
            reallocs += c.reallocs[i];
            frees += c.frees[i];
            failed += c.failed_term[i];
        }
        nmx_mem_stats fin;
        CHECK_EQ(nmx_key_destroy(c.key, &fin), NMERR_SUCCESS);
        CHECK_EQ(fin.allocs, allocs);
        CHECK_EQ(fin.reallocs, reallocs);
        CHECK_EQ(fin.frees, frees);
        CHECK_EQ(fin.failed_terminate, failed);
        CHECK_EQ(fin.live_blocks, 0);
        CHECK_EQ(fin.live_bytes, 0);
    }
}

/* ========================================================================
 * M14: statistics read from other threads
 * ======================================================================== */

typedef struct sm_ctx {
    HEXPERTKEY key;
    atomic_int done;
    int ops;
    /* the owner's own accounting */
    uint64_t allocs, reallocs, frees, quota_fail, interior, live_blocks, live_bytes;
    uint64_t reads, nonmono;
} sm_ctx;

static void *sm_owner(void *arg)
{
    sm_ctx *c = arg;
    uint64_t rs = 4242;
    struct {
        void *p;
        size_t n;
    } held[64];
    int nheld = 0;
    for (int i = 0; i < c->ops; i++) {
        size_t r = rnd_below(&rs, 100);
        DWORD e = 0xdead;
        if (nheld == 0 || (r < 40 && nheld < 64)) {
            size_t n = r < 2 ? ((size_t)1 << 30) : pick_size(&rs, 1); /* over quota */
            void *p = ExpertAllocMemory(c->key, n, &e);
            if (p) {
                held[nheld].p = p;
                held[nheld++].n = n;
                c->allocs++;
            } else {
                TCHECK_EQ(e, NMERR_OUT_OF_MEMORY);
                c->quota_fail++;
            }
            continue;
        }
        int j = (int)rnd_below(&rs, (size_t)nheld);
        if (r < 60) {
            size_t n = pick_size(&rs, 1);
            void *q = ExpertReallocMemory(c->key, held[j].p, n, &e);
            TCHECK(q != NULL);
            if (q) {
                held[j].p = q;
                held[j].n = n;
                c->reallocs++;
            }
        } else if (r < 95) {
            TCHECK_EQ(ExpertFreeMemory(c->key, held[j].p), NMERR_SUCCESS);
            held[j] = held[--nheld];
            c->frees++;
        } else {
            TCHECK_EQ(ExpertFreeMemory(c->key, (char *)held[j].p + 3), NMERR_INVALID_PARAMETER);
            c->interior++;
        }
    }
    for (int j = 0; j < nheld; j++) {
        c->live_blocks++;
        c->live_bytes += held[j].n;
    }
    atomic_store_explicit(&c->done, 1, memory_order_release);
    return NULL;
}

#define MONO_FIELDS(X)                                                                \
    X(peak_bytes) X(allocs) X(reallocs) X(frees) X(failed_oom) X(failed_quota)        \
    X(failed_terminate) X(bad_double_free) X(bad_foreign) X(bad_wrong_owner)          \
    X(bad_interior) X(bad_key)

static void *sm_reader(void *arg)
{
    sm_ctx *c = arg;
    nmx_mem_stats prev, cur;
    memset(&prev, 0, sizeof prev);
    while (!atomic_load_explicit(&c->done, memory_order_acquire)) {
        TCHECK_EQ(nmx_key_stats(c->key, &cur), NMERR_SUCCESS);
#define X(f)                                                                          \
    if (cur.f < prev.f) {                                                             \
        if (c->nonmono++ < 5)                                                         \
            fprintf(stderr, "stats went back: " #f " %llu -> %llu\n",                 \
                    (unsigned long long)prev.f, (unsigned long long)cur.f);           \
    }
        MONO_FIELDS(X)
#undef X
        TCHECK(cur.live_blocks <= 64);
        TCHECK(cur.live_bytes <= 64 * 240000ull);
        prev = cur;
        c->reads++;
    }
    return NULL;
}

/* M14: another thread reads the key's statistics while the owner works: the
 * counters that only grow never go back, every read succeeds, and after the
 * owner stops they are exact. */
TEST(test_m14_stats_read_while_owner_works)
{
    sm_ctx c;
    memset(&c, 0, sizeof c);
    c.key = new_key((size_t)64 << 20, "watched");
    c.ops = SCALE(150000);
    pthread_t o, rd;
    CHECK_EQ(pthread_create(&o, NULL, sm_owner, &c), 0);
    CHECK_EQ(pthread_create(&rd, NULL, sm_reader, &c), 0);
    pthread_join(o, NULL);
    pthread_join(rd, NULL);
    CHECK_THREADS();
    CHECK_EQ(c.nonmono, 0);
    CHECK(c.reads > 0);
    nmx_mem_stats st;
    CHECK_EQ(nmx_key_stats(c.key, &st), NMERR_SUCCESS);
    CHECK_EQ(st.allocs, c.allocs);
    CHECK_EQ(st.reallocs, c.reallocs);
    CHECK_EQ(st.frees, c.frees);
    CHECK_EQ(st.failed_quota, c.quota_fail);
    CHECK_EQ(st.bad_interior, c.interior);
    CHECK_EQ(st.live_blocks, c.live_blocks);
    CHECK_EQ(st.live_bytes, c.live_bytes);
    nmx_mem_stats fin;
    CHECK_EQ(nmx_key_destroy(c.key, &fin), NMERR_SUCCESS);
    CHECK_EQ(fin.live_blocks, c.live_blocks);
}

typedef struct gs_ctx {
    atomic_int done;
    int cycles;
    uint64_t reads, nonmono;
} gs_ctx;

static void *gs_cycler(void *arg)
{
    gs_ctx *c = arg;
    uint64_t rs = 31337;
    for (int i = 0; i < c->cycles; i++) {
        HEXPERTKEY k;
        nmx_key_options o = {0, "cycle"};
        TCHECK_EQ(nmx_key_create(&o, &k), NMERR_SUCCESS);
        int n = (int)rnd_below(&rs, 8);
        for (int j = 0; j < n; j++) {
            void *p = ExpertAllocMemory(k, pick_size(&rs, 1), NULL);
            TCHECK(p != NULL);
            if (j & 1)
                TCHECK_EQ(ExpertFreeMemory(k, p), NMERR_SUCCESS);
        }
        TCHECK_EQ(ExpertFreeMemory(k, &rs), NMERR_INVALID_PARAMETER);
        TCHECK_EQ(ExpertFreeMemory(NULL, NULL), NMERR_INVALID_EXPERT_HANDLE);
        TCHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
    }
    atomic_store_explicit(&c->done, 1, memory_order_release);
    return NULL;
}

static void *gs_reader(void *arg)
{
    gs_ctx *c = arg;
    nmx_mem_stats prev, cur;
    TCHECK_EQ(nmx_key_stats(NULL, &prev), NMERR_SUCCESS);
    while (!atomic_load_explicit(&c->done, memory_order_acquire)) {
        TCHECK_EQ(nmx_key_stats(NULL, &cur), NMERR_SUCCESS);
#define X(f)                                                                          \
    if (cur.f < prev.f) {                                                             \
        if (c->nonmono++ < 5)                                                         \
            fprintf(stderr, "global stats went back: " #f " %llu -> %llu\n",          \
                    (unsigned long long)prev.f, (unsigned long long)cur.f);           \
    }
        MONO_FIELDS(X)
#undef X
        prev = cur;
        c->reads++;
    }
    return NULL;
}

/* M14: the process-wide counters (key NULL) never go back while keys are
 * created, used and destroyed on another thread, and at the end they are the
 * sums the cycler produced. */
TEST(test_m14_global_stats_monotone_while_keys_come_and_go)
{
    nmx_mem_stats before, after;
    CHECK_EQ(nmx_key_stats(NULL, &before), NMERR_SUCCESS);
    gs_ctx c;
    memset(&c, 0, sizeof c);
    c.cycles = SCALE(3000);
    pthread_t cy, rd;
    CHECK_EQ(pthread_create(&cy, NULL, gs_cycler, &c), 0);
    CHECK_EQ(pthread_create(&rd, NULL, gs_reader, &c), 0);
    pthread_join(cy, NULL);
    pthread_join(rd, NULL);
    CHECK_THREADS();
    CHECK_EQ(c.nonmono, 0);
    CHECK_EQ(nmx_key_stats(NULL, &after), NMERR_SUCCESS);
    CHECK_EQ(after.bad_foreign - before.bad_foreign, (uint64_t)c.cycles);
    CHECK_EQ(after.bad_key - before.bad_key, (uint64_t)c.cycles);
    CHECK(after.allocs - before.allocs <= 7ull * (uint64_t)c.cycles);
    CHECK_EQ(after.live_blocks, before.live_blocks);
    CHECK_EQ(after.live_bytes, before.live_bytes);
}

/* ========================================================================
 * M9/M12: stale handles while their slot is reused
 * ======================================================================== */

typedef struct sh_ctx {
    int cycles;
    HEXPERTKEY *handles;  /* handles[i]: key number i */
    atomic_int cur;       /* newest published key number, -1 before the first */
    atomic_int done;
    uint64_t wrong_name, even_terminated;
} sh_ctx;

static void *sh_recycler(void *arg)
{
    sh_ctx *c = arg;
    for (int i = 0; i < c->cycles; i++) {
        char name[32];
        snprintf(name, sizeof name, "k%d", i);
        nmx_key_options o = {0, name};
        HEXPERTKEY k;
        TCHECK_EQ(nmx_key_create(&o, &k), NMERR_SUCCESS);
        c->handles[i] = k;
        atomic_store_explicit(&c->cur, i, memory_order_release);
        /* Key i is only ever terminated (by the other thread) when i is odd. */
        for (int j = 0; j < 4; j++) {
            DWORD e = 0xdead;
            void *p = ExpertAllocMemory(k, 32 + (size_t)j, &e);
            if (!p && !(i & 1)) {
                c->even_terminated++;
                TCHECK_EQ(e, NMERR_SUCCESS);
            }
            if (p)
                ExpertFreeMemory(k, p);
        }
        nmx_mem_stats fin;
        TCHECK_EQ(nmx_key_destroy(k, &fin), NMERR_SUCCESS);
        if (!(i & 1) && fin.failed_terminate != 0) {
            c->even_terminated++;
            TCHECK_EQ(fin.failed_terminate, 0);
        }
    }
    atomic_store_explicit(&c->done, 1, memory_order_release);
    return NULL;
}

static void *sh_poker(void *arg)
{
    sh_ctx *c = arg;
    char buf[32], want[32];
    uint64_t rs = 2718;
    while (!atomic_load_explicit(&c->done, memory_order_acquire)) {
        int i = atomic_load_explicit(&c->cur, memory_order_acquire);
        if (i < 0) {
            sched_yield();
            continue;
        }
        HEXPERTKEY h = c->handles[i];
        nmx_mem_stats st;
        DWORD rc = nmx_key_stats(h, &st);
        TCHECK(rc == NMERR_SUCCESS || rc == NMERR_INVALID_EXPERT_HANDLE);
        rc = nmx_key_name(h, buf, sizeof buf);
        if (rc == NMERR_SUCCESS) {
            snprintf(want, sizeof want, "k%d", i);
            if (strcmp(buf, want) != 0) {
                /* the name of whatever key now lives in that slot */
                if (c->wrong_name++ < 3)
                    fprintf(stderr, "nmx_key_name(key %d) gave \"%s\"\n", i, buf);
            }
        } else {
            TCHECK_EQ(rc, NMERR_INVALID_EXPERT_HANDLE);
        }
        if (i & 1) {
            rc = nmx_key_terminate(h);
            TCHECK(rc == NMERR_SUCCESS || rc == NMERR_INVALID_EXPERT_HANDLE);
        }
        TCHECK_EQ(ExpertMemorySize(h, NULL), 0);
        /* every earlier key is destroyed for good (M9: never reused) */
        if (i > 0) {
            HEXPERTKEY old = c->handles[rnd_below(&rs, (size_t)i)];
            TCHECK_EQ(nmx_key_stats(old, &st), NMERR_INVALID_EXPERT_HANDLE);
            TCHECK_EQ(nmx_key_name(old, buf, sizeof buf), NMERR_INVALID_EXPERT_HANDLE);
            TCHECK_EQ(nmx_key_terminate(old), NMERR_INVALID_EXPERT_HANDLE);
            TCHECK_EQ(nmx_key_destroy(old, NULL), NMERR_INVALID_EXPERT_HANDLE);
            DWORD e = 0xdead;
            TCHECK(ExpertAllocMemory(old, 8, &e) == NULL);
            TCHECK_EQ(e, NMERR_INVALID_EXPERT_HANDLE);
        }
    }
    return NULL;
}

/* M9, M12: one thread creates and destroys keys over and over (their slots
 * are reused); another calls the host functions with the newest handle and
 * with stale ones. A stale handle is refused by every function; a call on a
 * handle that dies during the call must not act on the key that next takes
 * the slot: no other key gets terminated, nmx_key_name never answers with
 * another key's name. */
TEST(test_m12_calls_with_dying_handles_never_reach_the_slots_next_key)
{
    sh_ctx c;
    memset(&c, 0, sizeof c);
    c.cycles = SCALE(20000);
    c.handles = calloc((size_t)c.cycles, sizeof *c.handles);
    CHECK(c.handles != NULL);
    if (!c.handles)
        return;
    atomic_store(&c.cur, -1);
    pthread_t a, b;
    CHECK_EQ(pthread_create(&a, NULL, sh_recycler, &c), 0);
    CHECK_EQ(pthread_create(&b, NULL, sh_poker, &c), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_THREADS();
    CHECK_EQ(c.even_terminated, 0);
    CHECK_EQ(c.wrong_name, 0);
    free(c.handles);
}

/* `test_mem_mt [substring...]` runs only the tests whose names contain one. */
static int g_argc;
static char **g_argv;

static int selected(const char *name)
{
    if (g_argc < 2)
        return 1;
    for (int i = 1; i < g_argc; i++)
        if (strstr(name, g_argv[i]))
            return 1;
    return 0;
}

#define RUN_SEL(name)        \
    do {                     \
        if (selected(#name)) \
            RUN(name);       \
    } while (0)

int main(int argc, char **argv)
{
    g_argc = argc;
    g_argv = argv;
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN_SEL(test_m10_two_foreign_threads_free_same_block_one_wins);
    RUN_SEL(test_m10_owner_and_foreign_free_same_block_one_wins);
    RUN_SEL(test_m10_free_races_realloc_serialises);
    RUN_SEL(test_m10_membarrier_refused_at_run_time_falls_back_to_fences);
    RUN_SEL(test_m10_owner_and_foreign_thread_share_a_key);
    RUN_SEL(test_m10_many_threads_many_keys);
    RUN_SEL(test_h4_terminate_races_allocations);
    RUN_SEL(test_m14_stats_read_while_owner_works);
    RUN_SEL(test_m14_global_stats_monotone_while_keys_come_and_go);
    /* last: a deadlock in these ends the program (die_stuck), and under TSan
     * a report halts it */
    RUN_SEL(test_m12_destroy_races_destroy_one_wins);
    RUN_SEL(test_m12_calls_with_dying_handles_never_reach_the_slots_next_key);
    RUN_SEL(test_m12_destroy_races_calls_on_its_key);
    RUN_SEL(test_m12_destroy_while_owner_thread_calls);
    return CHECK_DONE();
}
