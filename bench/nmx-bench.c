/* bench/nmx-bench.c — the benchmark driver.
 *
 * Runs every allocator's worker (nmx-bench-<col>, built from workload.c,
 * found beside this program) once per workload in a fresh process, for a
 * few rounds in rotating order, keeps each figure's best, and prints the raw
 * figures, the ratios ours / peer and the targets. With valgrind on PATH it
 * also counts W1's instructions per alloc+free pair under callgrind.
 *
 *   nmx-bench [-q] [-r ROUNDS] [-n]
 *     -q  quick: a quarter of the iterations, one round, one repetition
 *     -r  rounds (default 2); each worker also repeats 3 times inside
 *     -n  no callgrind
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

enum { W1, W2, W3, W4, W5_MOPS, W5_SCALE, RSS, CG, NROWS };
static const struct {
    const char *label;
    int higher_better;
} rows[NROWS] = {
    {"W1 alloc+free 16-512 B, ns/pair", 0},
    {"W2 churn 100k live 8-1 KiB, ns/op", 0},
    {"W3 destroy 1M blocks, ns/block", 0},
    {"W4 realloc 16 B->64 KiB, ns/op", 0},
    {"W5 2 threads, aggregate Mops/s ^", 1},
    {"W5 scaling 2T/1T throughput ^", 1},
    {"W2 RSS: peak RSS / peak requested", 0},
    {"W1 callgrind, instructions/pair", 0},
};

static double val[NROWS][NALLOC];
static double w5_1t[NALLOC], w5_2t[NALLOC]; /* best ns per op */
static int present[NALLOC];
static double zero_ok[NALLOC]; /* ZERO: 1 zero-fills, 0 does not, NAN did not run */
static char dir[4096];

static void keep_min(double *slot, double v)
{
    if (isnan(*slot) || v < *slot) *slot = v;
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

static void run_workload(size_t a, const char *w)
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
        keep_min(&w5_1t[a], field(out, "W5_1T"));
        keep_min(&w5_2t[a], field(out, "W5_2T"));
    } else if (strcmp(w, "ZERO") == 0) {
        zero_ok[a] = field(out, "ZERO");
    } else if (strcmp(w, "RSS") == 0) {
        keep_min(&val[RSS][a], field(out, "RSS"));
    } else {
        keep_min(&val[w[1] - '1'][a], field(out, w));
    }
}

/* Instructions per W1 pair: callgrind collecting inside nmx_bench_w1_loop. */
static void run_callgrind(size_t a, const char *tmp)
{
    char exe[4200], cgfile[4200], opt[4300], out[4096], line[512];
    char *argv[] = {"valgrind", "--tool=callgrind", opt, "--toggle-collect=nmx_bench_w1_loop",
                    exe, "CG", NULL};
    worker_path(exe, sizeof exe, a);
    snprintf(cgfile, sizeof cgfile, "%s/cg.%s", tmp, allocs[a].col);
    snprintf(opt, sizeof opt, "--callgrind-out-file=%s", cgfile);
    fprintf(stderr, " %s", allocs[a].col);
    FILE *devnull = fopen("/dev/null", "w");
    int rc = run(argv, out, sizeof out, devnull ? fileno(devnull) : -1);
    if (devnull) fclose(devnull);
    double pairs = field(out, "CG_pairs"), ir = NAN;
    FILE *f = fopen(cgfile, "r");
    if (rc != 0 || f == NULL) {
        fprintf(stderr, "\nnmx-bench: callgrind of %s failed (status %d)\n", exe, rc);
        if (f) fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "totals:", 7) == 0 || (isnan(ir) && strncmp(line, "summary:", 8) == 0))
            ir = atof(strchr(line, ':') + 1);
    fclose(f);
    remove(cgfile);
    if (ir > 0 && pairs > 0)
        val[CG][a] = ir / pairs;
    else
        fprintf(stderr, "\nnmx-bench: callgrind of %s collected nothing\n", exe);
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

static double ratio(int r, size_t peer)
{
    return val[r][OURS] / val[r][peer];
}

static void target(const char *what, double v, int ok)
{
    char b[32];
    fmt(b, sizeof b, v);
    printf("  %-46s %10s  %s\n", what, b, isnan(v) ? "n/a" : ok ? "PASS" : "MISS");
}

int main(int argc, char **argv)
{
    int rounds = 2, quick = 0, cg = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-q") == 0)
            quick = 1;
        else if (strcmp(argv[i], "-n") == 0)
            cg = 0;
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [-q] [-r ROUNDS] [-n]\n", argv[0]);
            return 2;
        }
    }
    if (quick) {
        rounds = 1;
        setenv("NMX_BENCH_SCALE", "0.25", 0);
        setenv("NMX_BENCH_REPS", "1", 0);
    }
    if (rounds < 1) rounds = 1;

    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0) {
        fprintf(stderr, "nmx-bench: cannot find my own directory\n");
        return 1;
    }
    dir[n] = '\0';
    *strrchr(dir, '/') = '\0';

    for (size_t r = 0; r < NROWS; r++)
        for (size_t a = 0; a < NALLOC; a++) val[r][a] = NAN;
    size_t npresent = 0;
    for (size_t a = 0; a < NALLOC; a++) {
        char exe[4200];
        worker_path(exe, sizeof exe, a);
        present[a] = access(exe, X_OK) == 0;
        npresent += (size_t)present[a];
        w5_1t[a] = w5_2t[a] = zero_ok[a] = NAN;
    }
    if (npresent == 0) {
        fprintf(stderr, "nmx-bench: no worker nmx-bench-* beside %s\n", dir);
        return 1;
    }

    fprintf(stderr, "zero-fill check:");
    for (size_t a = 0; a < NALLOC; a++)
        if (present[a] && allocs[a].zero) run_workload(a, "ZERO");
    fprintf(stderr, "\n");
    static const char *const work[] = {"W1", "W2", "W3", "W4", "W5", "RSS"};
    for (int r = 0; r < rounds; r++)
        for (size_t w = 0; w < sizeof work / sizeof work[0]; w++) {
            fprintf(stderr, "round %d/%d %s:", r + 1, rounds, work[w]);
            for (size_t i = 0; i < NALLOC; i++) {
                size_t a = (i + (size_t)r * 3) % NALLOC; /* rotate the order */
                if (present[a]) run_workload(a, work[w]);
            }
            fprintf(stderr, "\n");
        }
    for (size_t a = 0; a < NALLOC; a++) {
        val[W5_MOPS][a] = 1e3 / w5_2t[a];
        val[W5_SCALE][a] = w5_1t[a] / w5_2t[a];
    }

    char vgout[256];
    char *vgargv[] = {"valgrind", "--version", NULL};
    int have_vg = cg && run(vgargv, vgout, sizeof vgout, -1) == 0;
    if (have_vg) {
        char tmp[] = "/tmp/nmx-bench-cg.XXXXXX";
        if (mkdtemp(tmp) != NULL) {
            fprintf(stderr, "callgrind W1:");
            for (size_t a = 0; a < NALLOC; a++)
                if (present[a]) run_callgrind(a, tmp);
            fprintf(stderr, "\n");
            rmdir(tmp);
        }
    }

    /* ------------------------------------------------------------ report */
    char b[32];
    printf("\nnmx-bench: the expert heap (\"ours\") against its peers, all measured in this run\n");
    printf("best of %d round(s) x %s repetition(s), each workload in a fresh process;"
           " library build type %s, workers -O2\n",
           rounds, getenv("NMX_BENCH_REPS") ? getenv("NMX_BENCH_REPS") : "3",
           NMX_BENCH_BUILD_TYPE);
    if (!present[OURS]) printf("(ours is absent: src/mem did not build; peers only)\n");
    if (!have_vg) printf("(no callgrind figures: %s)\n", cg ? "valgrind not found" : "-n");
    printf("\ncolumns: zero-filling (the fair comparison) | not zeroing (information)\n");
    for (size_t a = 0; a < NALLOC; a++)
        printf("  %-9s %s%s\n", allocs[a].col, allocs[a].what,
               !present[a]                           ? " [absent]"
               : !allocs[a].zero || zero_ok[a] == 1 ? ""
               : zero_ok[a] == 0                    ? " [DOES NOT ZERO-FILL: figures unfair]"
                                                    : " [zero-fill check failed to run]");

    printf("\nRaw figures (lower is better, except rows marked ^; '-': the worker failed, see "
           "stderr)\n%-36s",
           "workload");
    for (size_t a = 0; a < NALLOC; a++) printf(" %9s", allocs[a].col);
    printf("\n");
    for (size_t r = 0; r < NROWS; r++) {
        printf("%-36s", rows[r].label);
        for (size_t a = 0; a < NALLOC; a++) {
            fmt(b, sizeof b, val[r][a]);
            printf(" %9s", b);
        }
        printf("\n");
    }

    printf("\nRatios ours / peer (times: ours / peer, lower is better; rows marked ^: higher is "
           "better)\n%-36s",
           "workload");
    for (size_t a = 1; a < NALLOC; a++) printf(" %9s", allocs[a].col);
    printf("\n");
    for (size_t r = 0; r < NROWS; r++) {
        printf("%-36s", rows[r].label);
        for (size_t a = 1; a < NALLOC; a++) {
            fmt(b, sizeof b, ratio((int)r, a));
            printf(" %9s", b);
        }
        printf("\n");
    }

    printf("\nTargets (ours; figure, then verdict)\n");
    target("W1 ours/mi-z <= 1.3", ratio(W1, MIZ), ratio(W1, MIZ) <= 1.3);
    target("W2 ours/mi-z <= 1.3", ratio(W2, MIZ), ratio(W2, MIZ) <= 1.3);
    target("W4 ours/mi-z <= 1.3", ratio(W4, MIZ), ratio(W4, MIZ) <= 1.3);
    target("W3 ours/mi_heap_destroy <= 2", ratio(W3, MIZ), ratio(W3, MIZ) <= 2);
    target("W3 talloc_free(ctx)/ours >= 50 (x faster)", 1 / ratio(W3, TALLOCZ),
           1 / ratio(W3, TALLOCZ) >= 50);
    target("W5 scaling 2T/1T >= 1.7", val[W5_SCALE][OURS], val[W5_SCALE][OURS] >= 1.7);
    target("RSS overhead of W2 <= 1.20", val[RSS][OURS], val[RSS][OURS] <= 1.2);
    return 0;
}
