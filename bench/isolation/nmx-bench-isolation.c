/* The isolation benchmark (issue 9, docs/PERFORMANCE.md "Isolated runs"):
 *
 *   1. per-run overhead: start to result of one run of walk_expert over a
 *      tiny capture (the project's sample), then over the empty capture, in
 *      a thread and in a worker process (nmx_run_options.isolation),
 *      interleaved, medians;
 *   2. loading a module: nmx_expert_load_with, Register in process and in
 *      a worker (nmx_load_options.isolation), interleaved, medians;
 *   3. the ExpertGetFrame pass: walk_expert's own loop time (it reports it
 *      in its event) over a large capture, in a thread and in a worker,
 *      interleaved, medians, as frames per second and their ratio.
 *
 *   cmake --build BUILD --target nmx-bench-isolation
 *   BUILD/bench/capture/nmx-bench-capture          # writes the 1M-frame capture
 *   BUILD/bench/isolation/nmx-bench-isolation [-n RUNS] [-r ROUNDS] [FILE]
 *   (NMEXPERT_WORKER names another nmexpert-worker than the build's)
 *
 * FILE defaults to the capture benchmark's synthetic 1M-frame file. Never a
 * test: nothing here is registered with ctest.
 */
#define _GNU_SOURCE
#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

#define SYNTH_PATH "/tmp/nmx-bench-capture-1M.pcap" /* nmx-bench-capture's */

/* The loop seconds walk_expert reported (its event's fourth column), or -1. */
static double loop_seconds(const NMEVENTDATA *ev)
{
    return ev && ev->NumColumns == 4 ? ev->Column[3].VariantData.Value.Float64Val : -1;
}

/* One run: wall seconds start to result (-1 if it did not finish DONE);
 * *loop the time walk_expert spent in its loop. */
static double one_run(nmx_expert *ex, nmx_capture *cap, nmx_isolation iso, double *loop)
{
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = cap;
    o.isolation = iso;
    double t0 = now();
    nmx_run *run;
    nmx_run_result res;
    if (nmx_run_start(ex, &o, &run) != NMERR_SUCCESS)
        return -1;
    if (nmx_run_wait(run, UINT32_MAX, &res) != NMERR_SUCCESS)
        return -1;
    double t = now() - t0;
    size_t n;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    *loop = n == 1 ? loop_seconds(ev[0]) : -1;
    nmx_run_free(run);
    return res.status.Status == EXPERTSTATUS_DONE ? t : -1;
}

static nmx_capture *open_capture(const char *path)
{
    char err[4096];
    nmx_capture *cap;
    if (nmx_capture_open(path, &cap, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmx-bench-isolation: %s\n", err);
        return NULL;
    }
    return cap;
}

/* Start to result over `file`, or over the empty capture when file is NULL:
 * until captures are handed to workers as descriptors (issue 10), a worker
 * reads its capture again, and the empty capture shows what the rest costs. */
static int overhead(nmx_expert *ex, int runs, const char *file)
{
    nmx_capture *cap = file ? open_capture(file) : NULL;
    if (file && !cap)
        return 1;
    double *t = malloc(sizeof(double) * (size_t)runs), *p = malloc(sizeof(double) * (size_t)runs);
    double loop;
    one_run(ex, cap, NMX_ISOLATION_PROCESS, &loop); /* the fork-server is spawned once */
    for (int i = 0; i < runs; i++) {
        t[i] = one_run(ex, cap, NMX_ISOLATION_THREAD, &loop);
        p[i] = one_run(ex, cap, NMX_ISOLATION_PROCESS, &loop);
        if (t[i] < 0 || p[i] < 0) {
            fprintf(stderr, "nmx-bench-isolation: a run failed\n");
            return 1;
        }
    }
    double mt = median(t, runs), mp = median(p, runs);
    printf("per-run overhead, start to result, %u frames (%s), median of %d interleaved runs:\n",
           nmx_capture_frames(cap), file ? file : "the empty capture", runs);
    printf("  thread  %8.3f ms\n  worker  %8.3f ms\n  extra   %8.3f ms per run\n\n", mt * 1e3,
           mp * 1e3, (mp - mt) * 1e3);
    free(t);
    free(p);
    if (cap)
        nmx_capture_close(cap);
    return 0;
}

/* Seconds to load (and unload) the module at path with isolation iso; -1 if
 * it failed. */
static double one_load(const char *path, nmx_isolation iso)
{
    nmx_load_options o = {iso};
    nmx_expert *ex;
    double t0 = now();
    if (nmx_expert_load_with(path, &o, &ex, NULL, 0) != NMERR_SUCCESS)
        return -1;
    double t = now() - t0;
    nmx_expert_unload(ex);
    return t;
}

static int load(const char *path, int runs)
{
    double *t = malloc(sizeof(double) * (size_t)runs), *p = malloc(sizeof(double) * (size_t)runs);
    for (int i = 0; i < runs; i++) {
        t[i] = one_load(path, NMX_ISOLATION_THREAD);
        p[i] = one_load(path, NMX_ISOLATION_PROCESS);
        if (t[i] < 0 || p[i] < 0) {
            fprintf(stderr, "nmx-bench-isolation: a load failed\n");
            return 1;
        }
    }
    double mt = median(t, runs), mp = median(p, runs);
    printf("loading a module (Register), median of %d interleaved loads:\n", runs);
    printf("  here    %8.3f ms\n  worker  %8.3f ms\n  extra   %8.3f ms per module\n\n", mt * 1e3,
           mp * 1e3, (mp - mt) * 1e3);
    free(t);
    free(p);
    return 0;
}

static int pass(nmx_expert *ex, const char *file, int rounds)
{
    nmx_capture *cap = open_capture(file);
    if (!cap)
        return 1;
    double *t = malloc(sizeof(double) * (size_t)rounds), *p = malloc(sizeof(double) * (size_t)rounds);
    for (int i = 0; i < rounds; i++) {
        if (one_run(ex, cap, NMX_ISOLATION_THREAD, &t[i]) < 0 ||
            one_run(ex, cap, NMX_ISOLATION_PROCESS, &p[i]) < 0 || t[i] <= 0 || p[i] <= 0) {
            fprintf(stderr, "nmx-bench-isolation: a walk failed\n");
            return 1;
        }
    }
    double f = (double)nmx_capture_frames(cap), mt = median(t, rounds), mp = median(p, rounds);
    printf("ExpertGetFrame pass, %.0f frames (%s), median of %d interleaved rounds:\n", f, file,
           rounds);
    printf("  thread  %8.2f Mframes/s\n  worker  %8.2f Mframes/s\n  ratio   %8.3f (worker / thread)\n",
           f / mt / 1e6, f / mp / 1e6, mt / mp);
    free(t);
    free(p);
    nmx_capture_close(cap);
    return 0;
}

int main(int argc, char **argv)
{
    int runs = 200, rounds = 7, opt;
    while ((opt = getopt(argc, argv, "n:r:")) != -1) {
        if (opt == 'n')
            runs = atoi(optarg);
        else if (opt == 'r')
            rounds = atoi(optarg);
        else {
            fprintf(stderr, "usage: nmx-bench-isolation [-n RUNS] [-r ROUNDS] [FILE]\n");
            return 2;
        }
    }
    const char *file = optind < argc ? argv[optind] : SYNTH_PATH;
    char exe[4096], epath[4300], err[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 1;
    exe[n] = '\0';
    snprintf(epath, sizeof epath, "%s/../capture/walk_expert.so", dirname(exe));
    nmx_expert *ex;
    if (nmx_expert_load(epath, &ex, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmx-bench-isolation: %s\n", err);
        return 1;
    }
    int rc = overhead(ex, runs < 1 ? 1 : runs, NMX_SAMPLE_CAPTURE);
    if (rc == 0)
        rc = overhead(ex, runs < 1 ? 1 : runs, NULL);
    if (rc == 0)
        rc = load(epath, runs < 1 ? 1 : runs);
    if (rc == 0 && access(file, R_OK) == 0)
        rc = pass(ex, file, rounds < 1 ? 1 : rounds);
    else if (rc == 0)
        printf("(no %s: run nmx-bench-capture first for the pass)\n", file);
    nmx_expert_unload(ex);
    return rc;
}
