/* bench/nmx-bench.c — the benchmark driver.
 *
 * Runs every allocator's worker (nmx-bench-<col>, built from workload.c,
 * found beside this program) once per workload per round in a fresh process,
 * the rounds interleaved (every column runs each workload once per round, in
 * an order that rotates), and reports for each figure the median over the
 * rounds, and for each ratio ours / peer the median of the per-round ratios
 * (ours and the peer measured minutes apart at most, under the same load).
 * With valgrind on PATH it also counts instructions per W1 pair and per W2 op
 * under callgrind, as the difference between two run lengths (so the set-up
 * and the fill cancel): a figure load cannot move.
 *
 *   nmx-bench [-q] [-r ROUNDS] [-n] [-c COL,COL...]
 *     -q  quick: a quarter of the iterations, one round
 *     -r  rounds (default 5)
 *     -n  no callgrind
 *     -c  only these columns, comma-separated (e.g. ours,mi-z)
 */
#define _DEFAULT_SOURCE /* readlink, setenv */
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#ifndef NMX_BENCH_BUILD_TYPE
#define NMX_BENCH_BUILD_TYPE "?"
#endif

typedef struct alloc_info {
    const char *col, *what;
    int zero; /* a zero-filling variant */
} alloc_info;

/* ours first, then the zero-filling peers (the fair comparison), then the
 * non-zeroing variants (for information). */
static const alloc_info allocs[] = {
    {"ours", "ExpertAllocMemory/ReallocMemory/FreeMemory on a key; W3 nmx_key_destroy", 1},
    {"mi-z", "mi_heap_zalloc, mi_heap_rezalloc, mi_free on a mi_heap_new heap; W3 mi_heap_destroy", 1},
    {"je-z", "mallocx/rallocx(MALLOCX_ZERO), dallocx on own arena+tcache; W3 arena.<i>.destroy", 1},
    {"calloc", "glibc calloc, realloc+memset of the tail, free; W3 free each block (no owner)", 1},
    {"talloc-z", "talloc_zero_size, talloc_realloc_size+memset, talloc_free; W3 talloc_free(ctx)", 1},
    {"mi", "as mi-z with mi_heap_malloc, mi_heap_realloc (no zeroing)", 0},
    {"je", "as je-z without MALLOCX_ZERO", 0},
    {"malloc", "glibc malloc, realloc, free; W3 free each block", 0},
    {"talloc", "as talloc-z with talloc_size, plain talloc_realloc_size", 0},
};
#define NALLOC (sizeof allocs / sizeof allocs[0])
enum { OURS = 0, MIZ = 1, TALLOCZ = 4 };

enum { W1, W2, W2S, W3, W4, W5_MOPS, W5_SCALE, RSS, CG1, CG2, NROWS };
static const struct {
    const char *label;
    int higher_better;
} rows[NROWS] = {
    {"W1 alloc+free 16-512 B, ns/pair", 0},
    {"W2 churn 100k live, 1st 1M ops, ns/op", 0},
    {"W2 steady state, next 20M ops, ns/op", 0},
    {"W3 destroy 1M blocks, ns/block", 0},
    {"W4 realloc 16 B->64 KiB, ns/op", 0},
    {"W5 2 threads, aggregate Mops/s ^", 1},
    {"W5 scaling 2T/1T throughput ^", 1},
    {"W2 RSS: peak RSS / peak requested", 0},
    {"W1 callgrind, instructions/pair", 0},
    {"W2 callgrind, instructions/op", 0},
};

#define MAX_ROUNDS 64
static double sample[NROWS][NALLOC][MAX_ROUNDS]; /* NAN: not measured */
static int present[NALLOC];
static double zero_ok[NALLOC]; /* ZERO: 1 zero-fills, 0 does not, NAN did not run */
static char dir[4096];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of the non-NAN values of v[0..n), NAN if there are none. */
static double median(const double *v, int n)
{
    double w[MAX_ROUNDS];
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(v[i])) w[m++] = v[i];
    if (m == 0) return NAN;
    qsort(w, (size_t)m, sizeof *w, cmp_double);
    return m % 2 ? w[m / 2] : (w[m / 2 - 1] + w[m / 2]) / 2;
}

/* Run argv with stdout into buf (NUL-terminated); stderr goes to errfd or
 * stays ours (errfd < 0). Returns the exit status, -1 if it did not run. */
static int run(char *const argv[], char *buf, size_t len, int errfd)
{
    int fd[2], status;
    size_t used = 0;
    pid_t pid;
    posix_spawn_file_actions_t fa;
    if (pipe(fd) != 0) return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], 1);
    if (errfd >= 0) posix_spawn_file_actions_adddup2(&fa, errfd, 2);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fd[1]);
    if (rc != 0) {
        close(fd[0]);
        return -1;
    }
    for (;;) {
        ssize_t n = read(fd[0], buf + used, len - 1 - used);
        if (n > 0 && used + (size_t)n < len - 1) {
            used += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) used += (size_t)n;
        break;
    }
    buf[used] = '\0';
    close(fd[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static double field(const char *out, const char *name)
{
    size_t n = strlen(name);
    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, n) == 0 && l[n] == ' ') return atof(l + n + 1);
    return NAN;
}

static void worker_path(char *buf, size_t len, size_t a)
{
    snprintf(buf, len, "%s/nmx-bench-%s", dir, allocs[a].col);
}

/* One worker run; its figures go to round r's samples. */
static void run_workload(size_t a, const char *w, int r)
{
    char exe[4200], out[4096];
    char *argv[] = {exe, (char *)w, NULL};
    worker_path(exe, sizeof exe, a);
    fprintf(stderr, " %s", allocs[a].col);
    int rc = run(argv, out, sizeof out, -1);
    if (rc != 0) {
        fprintf(stderr, "\nnmx-bench: %s %s failed (status %d)\n", exe, w, rc);
        return;
    }
    if (strcmp(w, "W5") == 0) {
        double t1 = field(out, "W5_1T"), t2 = field(out, "W5_2T");
        sample[W5_MOPS][a][r] = 1e3 / t2;
        sample[W5_SCALE][a][r] = t1 / t2;
    } else if (strcmp(w, "ZERO") == 0) {
        zero_ok[a] = field(out, "ZERO");
    } else if (strcmp(w, "RSS") == 0) {
        sample[RSS][a][r] = field(out, "RSS");
    } else if (strcmp(w, "W2") == 0) {
        sample[W2][a][r] = field(out, "W2");
        sample[W2S][a][r] = field(out, "W2S");
    } else {
        sample[w[1] == '1' ? W1 : w[1] == '3' ? W3 : W4][a][r] = field(out, w);
    }
}

/* Instructions of a whole worker run `CGk count` under callgrind, or NAN. */
static double callgrind_total(size_t a, const char *mode, unsigned long count, const char *tmp)
{
    char exe[4200], cgfile[4200], opt[4300], out[256], line[512], num[32];
    char *argv[] = {"valgrind", "--tool=callgrind", opt, exe, (char *)mode, num, NULL};
    worker_path(exe, sizeof exe, a);
    snprintf(num, sizeof num, "%lu", count);
    snprintf(cgfile, sizeof cgfile, "%s/cg.%s", tmp, allocs[a].col);
    snprintf(opt, sizeof opt, "--callgrind-out-file=%s", cgfile);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = run(argv, out, sizeof out, devnull ? fileno(devnull) : -1);
    if (devnull) fclose(devnull);
    double ir = NAN;
    FILE *f = fopen(cgfile, "r");
    if (rc != 0 || f == NULL) {
        fprintf(stderr, "\nnmx-bench: callgrind of %s %s failed (status %d)\n", exe, mode, rc);
        if (f) fclose(f);
        return NAN;
    }
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "totals:", 7) == 0 || (isnan(ir) && strncmp(line, "summary:", 8) == 0))
            ir = atof(strchr(line, ':') + 1);
    fclose(f);
    remove(cgfile);
    return ir;
}

/* Instructions per W1 pair and per W2 op: two run lengths each, so that
 * everything but the extra pairs or ops cancels. */
static void run_callgrind(size_t a, const char *tmp)
{
    static const struct {
        int row;
        const char *mode;
        unsigned long n1, n2;
    } cg[] = {{CG1, "CG1", 100000, 600000}, {CG2, "CG2", 200000, 1200000}};
    fprintf(stderr, " %s", allocs[a].col);
    for (size_t i = 0; i < sizeof cg / sizeof cg[0]; i++) {
        double i1 = callgrind_total(a, cg[i].mode, cg[i].n1, tmp);
        double i2 = callgrind_total(a, cg[i].mode, cg[i].n2, tmp);
        sample[cg[i].row][a][0] = (i2 - i1) / (double)(cg[i].n2 - cg[i].n1);
    }
}

static void fmt(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "-");
    else if (fabs(v) >= 100)
        snprintf(b, n, "%.0f", v);
    else if (fabs(v) >= 10)
        snprintf(b, n, "%.1f", v);
    else if (fabs(v) >= 1)
        snprintf(b, n, "%.2f", v);
    else
        snprintf(b, n, "%.3g", v);
}

static int nrounds;

static double value(int r, size_t a)
{
    return median(sample[r][a], r >= CG1 ? 1 : nrounds);
}

/* ours / peer: the median of the per-round ratios (one figure for callgrind). */
static double ratio(int r, size_t peer)
{
    double q[MAX_ROUNDS];
    int n = r >= CG1 ? 1 : nrounds;
    for (int i = 0; i < n; i++) q[i] = sample[r][OURS][i] / sample[r][peer][i];
    return median(q, n);
}

/* The smallest and largest per-round ratio ours / peer. */
static void ratio_range(int r, size_t peer, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < nrounds; i++) {
        double q = sample[r][OURS][i] / sample[r][peer][i];
        if (isnan(q)) continue;
        if (q < *lo) *lo = q;
        if (q > *hi) *hi = q;
    }
}

static void target(const char *what, double v, int ok)
{
    char b[32];
    fmt(b, sizeof b, v);
    printf("  %-46s %10s  %s\n", what, b, isnan(v) ? "n/a" : ok ? "PASS" : "MISS");
}

static void print_table(const char *title, size_t first, double (*get)(int, size_t))
{
    char b[32];
    printf("\n%s\n%-38s", title, "workload");
    for (size_t a = first; a < NALLOC; a++) printf(" %9s", allocs[a].col);
    printf("\n");
    for (int r = 0; r < NROWS; r++) {
        printf("%-38s", rows[r].label);
        for (size_t a = first; a < NALLOC; a++) {
            fmt(b, sizeof b, get(r, a));
            printf(" %9s", b);
        }
        printf("\n");
    }
}

static void print_targets(void)
{
    printf("\nTargets (ours; figure, then verdict)\n");
    target("W1 ours/mi-z <= 1.0", ratio(W1, MIZ), ratio(W1, MIZ) <= 1.0);
    target("W2 steady state ours/mi-z <= 1.1", ratio(W2S, MIZ), ratio(W2S, MIZ) <= 1.1);
    target("W4 ours/mi-z <= 1.0", ratio(W4, MIZ), ratio(W4, MIZ) <= 1.0);
    target("W1 instructions ours/mi-z <= 1.5", ratio(CG1, MIZ), ratio(CG1, MIZ) <= 1.5);
    target("W2 instructions ours/mi-z <= 1.25", ratio(CG2, MIZ), ratio(CG2, MIZ) <= 1.25);
    target("W3 ours/mi_heap_destroy <= 2", ratio(W3, MIZ), ratio(W3, MIZ) <= 2);
    target("W3 talloc_free(ctx)/ours >= 50 (x faster)", 1 / ratio(W3, TALLOCZ),
           1 / ratio(W3, TALLOCZ) >= 50);
    target("W5 scaling 2T/1T >= 1.7", value(W5_SCALE, OURS), value(W5_SCALE, OURS) >= 1.7);
    target("RSS overhead of W2 <= 1.20", value(RSS, OURS), value(RSS, OURS) <= 1.2);
    printf("\nPer-round ratios ours/mi-z, smallest-largest:");
    static const int timed[] = {W1, W2, W2S, W4};
    for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++) {
        double lo, hi;
        ratio_range(timed[i], MIZ, &lo, &hi);
        printf(" %s %.2f-%.2f", i == 0 ? "W1" : i == 1 ? "W2" : i == 2 ? "W2-steady" : "W4", lo, hi);
    }
    printf("\n");
}

/* -c: keep only the columns named in the comma-separated list. */
static void select_columns(const char *list)
{
    for (size_t a = 0; a < NALLOC; a++) {
        const char *p = strstr(list, allocs[a].col);
        size_t n = strlen(allocs[a].col);
        int named = 0;
        for (; p; p = strstr(p + 1, allocs[a].col))
            if ((p == list || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) named = 1;
        if (!named) present[a] = 0;
    }
}

static int find_workers(const char *cols)
{
    size_t npresent = 0;
    for (size_t a = 0; a < NALLOC; a++) {
        char exe[4200];
        worker_path(exe, sizeof exe, a);
        present[a] = access(exe, X_OK) == 0;
        zero_ok[a] = NAN;
    }
    if (cols) select_columns(cols);
    for (size_t a = 0; a < NALLOC; a++) npresent += (size_t)present[a];
    return npresent > 0;
}

static void run_rounds(void)
{
    fprintf(stderr, "zero-fill check:");
    for (size_t a = 0; a < NALLOC; a++)
        if (present[a] && allocs[a].zero) run_workload(a, "ZERO", 0);
    fprintf(stderr, "\n");
    static const char *const work[] = {"W1", "W2", "W3", "W4", "W5", "RSS"};
    for (int r = 0; r < nrounds; r++)
        for (size_t w = 0; w < sizeof work / sizeof work[0]; w++) {
            fprintf(stderr, "round %d/%d %s:", r + 1, nrounds, work[w]);
            for (size_t i = 0; i < NALLOC; i++) {
                size_t a = (i + (size_t)r * 3) % NALLOC; /* rotate the order */
                if (present[a]) run_workload(a, work[w], r);
            }
            fprintf(stderr, "\n");
        }
}

static int run_all_callgrind(void)
{
    char vgout[256];
    char *vgargv[] = {"valgrind", "--version", NULL};
    if (run(vgargv, vgout, sizeof vgout, -1) != 0) return 0;
    char tmp[] = "/tmp/nmx-bench-cg.XXXXXX";
    if (mkdtemp(tmp) == NULL) return 0;
    fprintf(stderr, "callgrind W1, W2:");
    for (size_t a = 0; a < NALLOC; a++)
        if (present[a]) run_callgrind(a, tmp);
    fprintf(stderr, "\n");
    rmdir(tmp);
    return 1;
}

static void print_report(int cg, int have_vg)
{
    printf("\nnmx-bench: the expert heap (\"ours\") against its peers, all measured in this run\n");
    printf("medians of %d interleaved round(s), each workload in a fresh process, %s repetition(s)"
           " inside; library build type %s, workers -O2\n",
           nrounds, getenv("NMX_BENCH_REPS") ? getenv("NMX_BENCH_REPS") : "1",
           NMX_BENCH_BUILD_TYPE);
    if (!present[OURS]) printf("(ours is absent: src/mem did not build, or -c left it out)\n");
    if (!have_vg) printf("(no callgrind figures: %s)\n", cg ? "valgrind not found" : "-n");
    printf("\ncolumns: zero-filling (the fair comparison) | not zeroing (information)\n");
    for (size_t a = 0; a < NALLOC; a++)
        printf("  %-9s %s%s\n", allocs[a].col, allocs[a].what,
               !present[a]                           ? " [absent]"
               : !allocs[a].zero || zero_ok[a] == 1 ? ""
               : zero_ok[a] == 0                    ? " [DOES NOT ZERO-FILL: figures unfair]"
                                                    : " [zero-fill check failed to run]");
    print_table("Raw figures, medians (lower is better, except rows marked ^; '-': not run or the "
                "worker failed, see stderr)",
                0, value);
    print_table("Ratios ours / peer, medians of the per-round ratios (times: lower is better; "
                "rows marked ^: higher is better)",
                1, ratio);
    print_targets();
}

int main(int argc, char **argv)
{
    int quick = 0, cg = 1;
    const char *cols = NULL;
    nrounds = 5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0)
            quick = 1;
        else if (strcmp(argv[i], "-n") == 0)
            cg = 0;
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            nrounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            cols = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-q] [-r ROUNDS] [-n] [-c COL,COL...]\n", argv[0]);
            return 2;
        }
    }
    if (quick) {
        nrounds = 1;
        setenv("NMX_BENCH_SCALE", "0.25", 0);
    }
    if (nrounds < 1) nrounds = 1;
    if (nrounds > MAX_ROUNDS) nrounds = MAX_ROUNDS;

    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        fprintf(stderr, "nmx-bench: cannot find my own directory\n");
        return 1;
    }
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';
    for (size_t r = 0; r < NROWS; r++)
        for (size_t a = 0; a < NALLOC; a++)
            for (int i = 0; i < MAX_ROUNDS; i++) sample[r][a][i] = NAN;
    if (!find_workers(cols)) {
        fprintf(stderr, "nmx-bench: no worker nmx-bench-* beside %s\n", dir);
        return 1;
    }
    run_rounds();
    int have_vg = cg && run_all_callgrind();
    print_report(cg, have_vg);
    return 0;
}
