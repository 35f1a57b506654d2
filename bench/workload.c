/* bench/workload.c — the workloads, run against one allocator per process.
 *
 * Built once per allocator (see adapters.h). Usage:
 *   nmx-bench-<alloc> W1|W2|W3|W4|W5|RSS|ZERO
 *   nmx-bench-<alloc> CG1|CG2 COUNT
 * prints "<figure> <value>" lines on stdout for the driver (nmx-bench.c):
 *   W1     ns per alloc+free pair, 16-512 B
 *   W2     ns per churn op (free a random live block + alloc a new one),
 *          100k live blocks of 8-1024 B, over the first 1M ops after the fill
 *   W2S    the same in steady state: the 20M ops that follow that window
 *   W3     ns per block to destroy an owner holding 1M blocks of 16-256 B
 *          (glibc: free each block)
 *   W4     ns per realloc, blocks grown 16 B -> 64 KiB by ~x1.25 steps
 *   W5_1T  ns per W2 op, one thread        } same process, so the scaling
 *   W5_2T  ns per W2 op, two threads (wall) } 1T/2T is per allocator
 *   RSS    (peak RSS - RSS before) / peak requested bytes, over W2
 *   CG1 N  W1 with N pairs, CG2 N: W2's fill then N churn ops, untimed, for
 *          callgrind: the driver counts the whole process's instructions at
 *          two values of N, and the difference over the difference of N is
 *          the cost of one pair or op (set-up, sequences and fill cancel)
 *   ZERO   1 if a zero-filling variant really returned zeroed memory
 * Timed figures are the median of NMX_BENCH_REPS repetitions (default 1: the
 * driver takes medians over interleaved rounds of fresh processes); the
 * iteration counts are multiplied by NMX_BENCH_SCALE (default 1). Every
 * workload draws its sizes and victims from fixed-seed sequences computed
 * before the clock starts, identical for every allocator, and writes the
 * first and last byte of every block it gets.
 */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS, MAP_POPULATE */
#include "adapters.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline))
#else
#define NOINLINE
#endif

#define SEQ_LEN (1u << 20) /* length of every precomputed sequence */
#define SEQ_MASK (SEQ_LEN - 1)

#define W1_PAIRS 2000000u
#define W2_LIVE 100000u
#define W2_OPS 1000000u
#define W2S_OPS 20000000u /* steady state, after the W2_OPS window */
#define W3_BLOCKS 1000000u
#define W4_MAX 65536u
#define W4_CHAINS 4u /* grown side by side, so none simply owns the heap top */
#define W4_ROUNDS 500u
#define W5_OPS 500000u /* per thread */
#define RSS_OPS 1000000u
#define MAX_REPS 64

volatile uintptr_t bench_sink; /* keeps the compiler from dropping blocks */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* The benchmark's own arrays come straight from the OS, resident before any
 * measurement, so they never pass through the allocator under test. */
static void *os_array(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                   -1, 0);
    if (p == MAP_FAILED) bench_die("mmap failed");
    memset(p, 0, bytes);
    return p;
}

static uint16_t *size_seq(uint64_t seed, unsigned lo, unsigned hi)
{
    uint16_t *s = os_array(SEQ_LEN * sizeof *s);
    for (size_t i = 0; i < SEQ_LEN; i++)
        s[i] = (uint16_t)(lo + splitmix(&seed) % (hi - lo + 1));
    return s;
}

static uint32_t *index_seq(uint64_t seed, unsigned n)
{
    uint32_t *s = os_array(SEQ_LEN * sizeof *s);
    for (size_t i = 0; i < SEQ_LEN; i++) s[i] = (uint32_t)(splitmix(&seed) % n);
    return s;
}

static size_t scaled(unsigned n)
{
    const char *e = getenv("NMX_BENCH_SCALE");
    double f = e ? atof(e) : 1.0;
    double v = (double)n * (f > 0 ? f : 1.0);
    return v < 1000 ? 1000 : (size_t)v;
}

static int reps(void)
{
    const char *e = getenv("NMX_BENCH_REPS");
    int r = e ? atoi(e) : 1;
    return r < 1 ? 1 : r > MAX_REPS ? MAX_REPS : r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (n >= 1); v is sorted. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static inline unsigned char *get(owner *o, size_t n)
{
    unsigned char *p = b_alloc(o, n);
    if (p == NULL) bench_die("allocation failed");
    p[0] = 1;
    p[n - 1] = 1;
    return p;
}

/* Give back an owner together with the blocks it still holds. */
static void release(owner *o, void **blocks, size_t n)
{
    if (!BENCH_BULK_DESTROY)
        for (size_t i = 0; i < n; i++) b_free(o, blocks[i]);
    owner_destroy(o);
}

/* ------------------------------------------------------------------ W1 */

static inline void w1_body(owner *o, const uint16_t *sz, size_t pairs)
{
    uintptr_t s = 0;
    for (size_t i = 0; i < pairs; i++) {
        unsigned char *p = get(o, sz[i & SEQ_MASK]);
        s += (uintptr_t)p;
        b_free(o, p);
    }
    bench_sink += s;
}

/* Named, not inlined: a profile shows the timed loop apart from the rest. */
NOINLINE void nmx_bench_w1_loop(owner *o, const uint16_t *sz, size_t pairs);
NOINLINE void nmx_bench_w1_loop(owner *o, const uint16_t *sz, size_t pairs)
{
    w1_body(o, sz, pairs);
}
/* Untimed. Its sequence starts elsewhere, so that identical-code folding
 * cannot merge it with nmx_bench_w1_loop (a profile would then see one name). */
static NOINLINE void w1_warm(owner *o, const uint16_t *sz, size_t pairs)
{
    w1_body(o, sz + SEQ_LEN / 2, pairs);
}

static void run_w1(void)
{
    uint16_t *sz = size_seq(1, 16, 512);
    size_t pairs = scaled(W1_PAIRS);
    double t[MAX_REPS];
    for (int r = 0; r < reps(); r++) {
        owner *o = owner_new();
        w1_warm(o, sz, 10000);
        double t0 = now_ns();
        nmx_bench_w1_loop(o, sz, pairs);
        t[r] = (now_ns() - t0) / (double)pairs;
        owner_destroy(o);
    }
    printf("W1 %.3f\n", median(t, reps()));
}

static void run_cg1(size_t pairs)
{
    uint16_t *sz = size_seq(1, 16, 512);
    owner *o = owner_new();
    w1_warm(o, sz, 10000);
    nmx_bench_w1_loop(o, sz, pairs);
    owner_destroy(o);
}

/* ------------------------------------------------------------------ W2 */

typedef struct w2_seq {
    uint16_t *sz;  /* sizes, 8-1024 */
    uint32_t *idx; /* victims, 0..W2_LIVE-1 */
} w2_seq;

static w2_seq w2_seq_make(uint64_t seed)
{
    w2_seq q = {size_seq(seed, 8, 1024), index_seq(seed + 1000, W2_LIVE)};
    return q;
}

static void w2_fill(owner *o, void **slots, const w2_seq *q)
{
    for (size_t i = 0; i < W2_LIVE; i++) slots[i] = get(o, q->sz[i]);
}

/* Ops from..from+ops-1 of the churn (the sequences repeat every SEQ_LEN). */
static void w2_churn(owner *o, void **slots, const w2_seq *q, size_t from, size_t ops)
{
    uintptr_t s = 0;
    for (size_t j = from; j < from + ops; j++) {
        uint32_t i = q->idx[j & SEQ_MASK];
        b_free(o, slots[i]);
        unsigned char *p = get(o, q->sz[(W2_LIVE + j) & SEQ_MASK]);
        s += (uintptr_t)p;
        slots[i] = p;
    }
    bench_sink += s;
}

static double w2_timed(owner *o, void **slots, const w2_seq *q, size_t from, size_t ops)
{
    double t0 = now_ns();
    w2_churn(o, slots, q, from, ops);
    return (now_ns() - t0) / (double)ops;
}

static void run_w2(void)
{
    w2_seq q = w2_seq_make(2);
    void **slots = os_array(W2_LIVE * sizeof *slots);
    size_t ops = scaled(W2_OPS), steady = scaled(W2S_OPS);
    double t[MAX_REPS], ts[MAX_REPS];
    for (int r = 0; r < reps(); r++) {
        owner *o = owner_new();
        w2_fill(o, slots, &q);
        t[r] = w2_timed(o, slots, &q, 0, ops);
        ts[r] = w2_timed(o, slots, &q, ops, steady);
        release(o, slots, W2_LIVE);
    }
    printf("W2 %.3f\nW2S %.3f\n", median(t, reps()), median(ts, reps()));
}

static void run_cg2(size_t ops)
{
    w2_seq q = w2_seq_make(2);
    void **slots = os_array(W2_LIVE * sizeof *slots);
    owner *o = owner_new();
    w2_fill(o, slots, &q);
    (void)w2_timed(o, slots, &q, 0, ops);
    release(o, slots, W2_LIVE);
}

/* The requested bytes W2 holds at its peak, replayed without allocating. */
static double w2_peak_requested(const w2_seq *q, size_t ops)
{
    uint16_t *live = os_array(W2_LIVE * sizeof *live);
    uint64_t bytes = 0, peak;
    for (size_t i = 0; i < W2_LIVE; i++) bytes += live[i] = q->sz[i];
    peak = bytes;
    for (size_t j = 0; j < ops; j++) {
        uint32_t i = q->idx[j & SEQ_MASK];
        bytes -= live[i];
        bytes += live[i] = q->sz[(W2_LIVE + j) & SEQ_MASK];
        if (bytes > peak) peak = bytes;
    }
    munmap(live, W2_LIVE * sizeof *live);
    return (double)peak;
}

static double status_kib(const char *field)
{
    char line[256];
    size_t n = strlen(field);
    double v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL) bench_die("cannot read /proc/self/status");
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':') v = atof(line + n + 1);
    fclose(f);
    if (v < 0) bench_die("no such field in /proc/self/status");
    return v;
}

/* A fresh process, arrays resident first: what W2 adds to the RSS at its
 * peak, over the requested bytes live at their peak. */
static void run_rss(void)
{
    w2_seq q = w2_seq_make(2);
    void **slots = os_array(W2_LIVE * sizeof *slots);
    size_t ops = RSS_OPS;
    double peak_req = w2_peak_requested(&q, ops);
    double before = status_kib("VmRSS") * 1024;
    owner *o = owner_new();
    w2_fill(o, slots, &q);
    w2_churn(o, slots, &q, 0, ops);
    double hwm = status_kib("VmHWM") * 1024;
    release(o, slots, W2_LIVE);
    printf("RSS %.4f\nRSS_peak_requested %.0f\nRSS_added %.0f\n", (hwm - before) / peak_req,
           peak_req, hwm - before);
}

/* ------------------------------------------------------------------ W3 */

static void run_w3(void)
{
    uint16_t *sz = size_seq(3, 16, 256);
    void **blocks = os_array(W3_BLOCKS * sizeof *blocks);
    /* A destroy takes well under a millisecond, which one preemption can
     * multiply: W3 is the median of five times the repetitions. */
    int n = reps() * 5 < MAX_REPS ? reps() * 5 : MAX_REPS;
    double t[MAX_REPS];
    for (int r = 0; r < n; r++) {
        owner *o = owner_new();
        for (size_t i = 0; i < W3_BLOCKS; i++) blocks[i] = get(o, sz[i]);
        double t0 = now_ns();
        release(o, blocks, W3_BLOCKS);
        t[r] = (now_ns() - t0) / W3_BLOCKS;
    }
    printf("W3 %.4f\n", median(t, n));
}

/* ------------------------------------------------------------------ W4 */

static void run_w4(void)
{
    size_t rounds = scaled(W4_ROUNDS * 1000) / 1000;
    double t[MAX_REPS];
    for (int r = 0; r < reps(); r++) {
        uint64_t seed = 4;
        size_t count = 0;
        owner *o = owner_new();
        double t0 = now_ns();
        for (size_t k = 0; k < rounds; k++) {
            unsigned char *p[W4_CHAINS];
            size_t n[W4_CHAINS], grown = 0;
            for (unsigned c = 0; c < W4_CHAINS; c++) p[c] = get(o, n[c] = 16);
            while (grown < W4_CHAINS) {
                for (unsigned c = 0; c < W4_CHAINS; c++) {
                    if (n[c] >= W4_MAX) continue;
                    size_t m = n[c] + n[c] / 4 + 1 + splitmix(&seed) % 16;
                    if (m >= W4_MAX) {
                        m = W4_MAX;
                        grown++;
                    }
                    unsigned char *q = b_realloc(o, p[c], n[c], m);
                    if (q == NULL) bench_die("realloc failed");
                    q[m - 1] = 1;
                    p[c] = q;
                    n[c] = m;
                    count++;
                }
            }
            for (unsigned c = 0; c < W4_CHAINS; c++) b_free(o, p[c]);
        }
        t[r] = (now_ns() - t0) / (double)count;
        owner_destroy(o);
    }
    printf("W4 %.3f\n", median(t, reps()));
}

/* ---------------------------------------------------------------- ZERO */

/* Not a test: a guard that a zero-filling column really zero-fills, on
 * reused memory and on a realloc's grown tail, or its figures mean nothing. */
static void run_zero(void)
{
    enum { N = 1000 };
    static unsigned char *p[N];
    int bad = 0;
    owner *o = owner_new();
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < N; i++) {
            size_t n = 16 + i % 1009;
            p[i] = get(o, n);
            for (size_t k = 1; k + 1 < n; k++) bad |= p[i][k];
            memset(p[i], 0xAA, n);
        }
        for (size_t i = 0; i < N; i++) b_free(o, p[i]);
    }
    for (size_t n = 16; n < 200000; n = n * 3 / 2) {
        unsigned char *q = get(o, n);
        memset(q, 0xAA, n);
        q = b_realloc(o, q, n, 2 * n);
        if (q == NULL) bench_die("realloc failed");
        for (size_t k = n; k < 2 * n; k++) bad |= q[k];
        b_free(o, q);
    }
    owner_destroy(o);
    printf("ZERO %d\n", BENCH_ZERO ? bad == 0 : 1);
}

/* ------------------------------------------------------------------ W5 */

typedef struct w5_thread {
    pthread_t tid;
    pthread_barrier_t *bar;
    w2_seq q;
    void **slots;
    size_t ops;
    double t0, t1;
} w5_thread;

static void *w5_main(void *arg)
{
    w5_thread *t = arg;
    owner *o = owner_new(); /* on this thread: mimalloc heaps are thread-bound */
    w2_fill(o, t->slots, &t->q);
    pthread_barrier_wait(t->bar);
    t->t0 = now_ns();
    w2_churn(o, t->slots, &t->q, 0, t->ops);
    t->t1 = now_ns();
    pthread_barrier_wait(t->bar);
    release(o, t->slots, W2_LIVE);
    return NULL;
}

/* Wall-clock ns per op of `n` threads, each doing W2 on its own owner. */
static double w5_round(w5_thread *th, unsigned n)
{
    pthread_barrier_t bar;
    double t0 = 1e300, t1 = 0;
    pthread_barrier_init(&bar, NULL, n);
    for (unsigned i = 0; i < n; i++) {
        th[i].bar = &bar;
        if (pthread_create(&th[i].tid, NULL, w5_main, &th[i]) != 0) bench_die("pthread_create");
    }
    for (unsigned i = 0; i < n; i++) {
        pthread_join(th[i].tid, NULL);
        if (th[i].t0 < t0) t0 = th[i].t0;
        if (th[i].t1 > t1) t1 = th[i].t1;
    }
    pthread_barrier_destroy(&bar);
    return (t1 - t0) / (double)(th[0].ops * n);
}

static void run_w5(void)
{
    w5_thread th[2];
    double t1[MAX_REPS], t2[MAX_REPS];
    for (unsigned i = 0; i < 2; i++) {
        th[i].q = w2_seq_make(50 + 10 * i);
        th[i].slots = os_array(W2_LIVE * sizeof *th[i].slots);
        th[i].ops = scaled(W5_OPS);
    }
    for (int r = 0; r < reps(); r++) {
        /* alternate the order: neither may always inherit the other's warm memory */
        t1[r] = r % 2 ? 0 : w5_round(th, 1);
        t2[r] = w5_round(th, 2);
        if (r % 2) t1[r] = w5_round(th, 1);
    }
    printf("W5_1T %.3f\nW5_2T %.3f\n", median(t1, reps()), median(t2, reps()));
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } w[] = {{"W1", run_w1}, {"W2", run_w2}, {"W3", run_w3}, {"W4", run_w4},
             {"W5", run_w5}, {"RSS", run_rss}, {"ZERO", run_zero}};
    if (argc == 3 && (strcmp(argv[1], "CG1") == 0 || strcmp(argv[1], "CG2") == 0)) {
        size_t n = strtoull(argv[2], NULL, 10);
        if (argv[1][2] == '1')
            run_cg1(n);
        else
            run_cg2(n);
        return 0;
    }
    if (argc == 2)
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
            if (strcmp(argv[1], w[i].name) == 0) {
                w[i].run();
                return fflush(stdout) == 0 ? 0 : 1;
            }
    fprintf(stderr, "usage: %s W1|W2|W3|W4|W5|RSS|ZERO | CG1|CG2 COUNT (run by nmx-bench)\n",
            argv[0]);
    return 2;
}
