/* Isolated runs: each expert in a worker process (SPEC H11, issue 9).
 *
 * Runs go through the public run API with nmx_run_options.isolation set to
 * NMX_ISOLATION_PROCESS (the worker is the build's nmexpert-worker, named by
 * $NMEXPERT_WORKER). Every well-behaved run is compared with the same expert
 * run in process in this very program.
 */
#define _GNU_SOURCE
#include "isolation_util.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef NMX_SAMPLE_CAPTURE
#error "NMX_SAMPLE_CAPTURE must name samples/loopback-http.pcapng"
#endif

#define MIB (1024u * 1024u)
#define HANG_BYTES (100u + 4096u + MIB) /* what hang_holding holds (tests/experts) */

static int has(const char *hay, const char *needle)
{
    int ok = strstr(hay, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  expected \"%s\" in \"%s\"\n", needle, hay);
    return ok;
}

/* Runs the test expert `name` in a worker and in process with the same
 * options, and checks they agree (H11). */
static void check_same(const char *name, const nmx_run_options *opt)
{
    iu_run r;
    CHECK_EQ(iu_start(&r, name, opt), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK(!r.res.hung);
    CHECK(!r.res.killed);
    iu_check_same_as_in_process(opt, &r);
    iu_release(&r);
}

/* H11: without nmexpert-worker an isolated run cannot start, and says so;
 * nothing is left behind. (First in the program: the worker is looked for
 * when the fork-server is first needed.) */
TEST(test_h11_start_without_the_worker_program_fails_cleanly)
{
    const char *saved = getenv("NMEXPERT_WORKER");
    char keep[4096] = "";
    if (saved)
        snprintf(keep, sizeof keep, "%s", saved);
    setenv("NMEXPERT_WORKER", "/nonexistent/nmexpert-worker", 1);
    int fds0 = iu_fds();
    iu_run r;
    CHECK_EQ(iu_start(&r, "wellbehaved", NULL), NMERR_FILE_NOT_FOUND);
    CHECK(r.run == NULL);
    CHECK_EQ(iu_fds(), fds0);
    nmx_expert_unload(r.ex);
    if (saved)
        setenv("NMEXPERT_WORKER", keep, 1);
    else
        unsetenv("NMEXPERT_WORKER");
}

/* H11, H3, H8: the same events, status and ledger as in process. */
TEST(test_h11_wellbehaved_run_in_a_worker_matches_the_in_process_run)
{
    check_same("wellbehaved", NULL);
    check_same("leaky", NULL);
    check_same("doublefree", NULL);
    check_same("overrun", NULL);
    check_same("propdist_style", NULL);
}

/* H11, M11: the key's quota stops the expert the same way in a worker. */
TEST(test_h11_m11_quota_holds_in_a_worker)
{
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.quota_bytes = 1u << 20;
    check_same("quota", &o);
}

/* H11, M15: the configuration blob reaches Run in the worker. */
TEST(test_h11_m15_run_in_a_worker_sees_the_configuration_blob)
{
    struct {
        DWORD len;
        char text[12];
    } blob = {sizeof blob, "threshold=7"};
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.config = (const EXPERTCONFIG *)&blob;
    check_same("configurable", &o);
}

/* H11, H5: every kind of crash ends the run with its signal, status
 * ABORTED / THREAD_FAIL and its 1 MiB in the ledger, as in process.
 * (buserror makes its SIGBUS with a file it creates: in a worker the policy
 * stops it first, with SIGSYS.) */
TEST(test_h11_h5_faults_in_a_worker_end_the_run_as_in_process)
{
    static const struct {
        const char *name;
        int sig;
    } k[] = {{"nullderef", SIGSEGV}, {"divzero", SIGFPE}, {"illegal", SIGILL},
             {"buserror", SIGSYS},   {"abort", SIGABRT},  {"recurse", SIGSEGV}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        iu_run r;
        CHECK_EQ(iu_start(&r, k[i].name, NULL), NMERR_SUCCESS);
        iu_finish(&r);
        CHECK_EQ(r.res.fault_signal, k[i].sig);
        CHECK(!r.res.returned);
        CHECK_EQ(r.res.status.Status, EXPERTSTATUS_ABORTED);
        CHECK_EQ(r.res.status.SubStatus, EXPERTSUBSTATUS_ABORTED_THREAD_FAIL);
        CHECK_EQ(r.res.mem.live_blocks, 1);
        CHECK_EQ(r.res.mem.live_bytes, MIB);
        iu_release(&r);
    }
}

/* H11, H6, H7, M14: a hung expert is killed after the grace period and
 * reported hung and killed, with the status it reported and the ledger it
 * held; the run is freed like any other, and the host holds no key of it. */
TEST(test_h11_hung_expert_is_killed_and_reported_with_its_ledger)
{
    nmx_heap_stats h0, h1;
    CHECK_EQ(nmx_heap_stats_get(&h0), NMERR_SUCCESS);
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    /* Under TSan a worker may not reach Run within 300 ms on a loaded
     * machine: the time limit would then end a run that never hung. */
    o.time_limit_ms = UNDER_TSAN ? 3000 : 300;
    o.grace_ms = 200;
    iu_run r;
    CHECK_EQ(iu_start(&r, "hang_holding", &o), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK(r.res.hung);
    CHECK(r.res.killed);
    CHECK(r.res.terminated);
    CHECK(r.res.timed_out);
    CHECK(!r.res.returned);
    CHECK(r.res.wall_seconds >= 0.45);
    CHECK_EQ(r.res.status.Status, EXPERTSTATUS_ABORTED);
    CHECK(has(r.res.status.szStatusText, "killed"));
    CHECK_EQ(iu_nstatus(&r), 1);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_RUNNING);
    CHECK_EQ(r.status.PercentDone, 7);
    CHECK(has(r.status.szStatusText, "hang_holding: spinning"));
    CHECK_EQ(r.res.mem.live_blocks, 3);
    CHECK_EQ(r.res.mem.live_bytes, HANG_BYTES);
    CHECK_EQ(r.res.mem.allocs, 3);
    CHECK_EQ(nmx_heap_stats_get(&h1), NMERR_SUCCESS);
    CHECK_EQ(h1.keys_live, h0.keys_live);
    iu_release(&r);
}

/* H11, H4: terminate reaches the expert in its worker. */
TEST(test_h11_h4_terminate_reaches_the_worker)
{
    iu_run r;
    CHECK_EQ(iu_start(&r, "honours_terminate", NULL), NMERR_SUCCESS);
    for (int i = 0; i < 3000 && iu_nstatus(&r) == 0; i++)
        usleep(1000);
    CHECK(iu_nstatus(&r) > 0);
    CHECK_EQ(nmx_run_terminate(r.run), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK(r.res.returned);
    CHECK(r.res.terminated);
    CHECK(!r.res.hung);
    CHECK_EQ(r.res.status.Status, EXPERTSTATUS_ABORTED);
    CHECK_EQ(r.res.status.SubStatus, EXPERTSUBSTATUS_ABORTED_USER);
    CHECK_EQ(r.res.mem.live_blocks, 0);
    CHECK(r.res.mem.failed_terminate >= 1);
    iu_release(&r);
}

/* H11: the policy stops a socket, an exec and a file opened for writing;
 * the run fails naming the call, with the block it held in its ledger. */
static void check_stopped(const char *name, const char *call, const EXPERTCONFIG *cfg)
{
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.config = cfg;
    iu_run r;
    CHECK_EQ(iu_start(&r, name, &o), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK(!r.res.hung);
    CHECK(!r.res.returned);
    CHECK_EQ(r.res.fault_signal, SIGSYS);
    CHECK_EQ(r.res.status.Status, EXPERTSTATUS_ABORTED);
    CHECK_EQ(r.res.status.SubStatus, EXPERTSUBSTATUS_ABORTED_THREAD_FAIL);
    CHECK(has(r.res.status.szStatusText, "isolation policy"));
    CHECK(has(r.res.status.szStatusText, call));
    CHECK_EQ(r.nev, 0);
    CHECK_EQ(r.res.mem.live_blocks, 1);
    CHECK_EQ(r.res.mem.live_bytes, 4096);
    iu_release(&r);
}

TEST(test_h11_policy_stops_sockets_exec_and_writing_files)
{
    check_stopped("policy_socket", "socket", NULL);
    check_stopped("policy_exec", "execve", NULL);
    char path[] = "/tmp/nmx-policy-XXXXXX";
    CHECK(mkdtemp(path) != NULL);
    struct {
        DWORD len;
        char file[64];
    } blob;
    memset(&blob, 0, sizeof blob);
    blob.len = sizeof blob;
    snprintf(blob.file, sizeof blob.file, "%s/written", path);
    check_stopped("policy_write", "open", (const EXPERTCONFIG *)&blob);
    struct stat st;
    CHECK(stat(blob.file, &st) != 0); /* nothing was created */
    unlink(blob.file);
    rmdir(path);
}

/* H11: what docs/WRITING-EXPERTS.md says an expert may do works in a
 * worker (memory, a thread, time, getrandom, reading files, isatty, stderr,
 * a signal to itself), as in process. */
TEST(test_h11_policy_allows_what_an_expert_may_do)
{
    nmx_capture *cap = NULL;
    char err[1024];
    CHECK_EQ(nmx_capture_open(NMX_SAMPLE_CAPTURE, &cap, err, sizeof err), NMERR_SUCCESS);
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = cap;
    iu_run r;
    CHECK_EQ(iu_start(&r, "policy_allowed", &o), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK(r.res.returned && r.res.run_value);
    if (!r.res.returned)
        fprintf(stderr, "  %s\n", r.res.status.szStatusText);
    CHECK_EQ(r.nev, 1);
    if (r.nev == 1)
        CHECK_EQ(r.ev[0]->Column[0].VariantData.Value.Uint32Val, 0);
    iu_check_same_as_in_process(&o, &r);
    iu_release(&r);
    nmx_capture_close(cap);
}

/* H11: what a worker writes to its host is checked: a forged frame gets
 * the worker killed and the run reported failed, naming it. */
TEST(test_h11_forged_message_gets_the_worker_killed)
{
    iu_run r;
    CHECK_EQ(iu_start(&r, "forger", NULL), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK(!r.res.hung); /* the host killed it at once, not the watchdog */
    CHECK(r.res.killed);
    CHECK(!r.res.returned);
    CHECK_EQ(r.res.status.Status, EXPERTSTATUS_ABORTED);
    CHECK(has(r.res.status.szStatusText, "malformed"));
    CHECK_EQ(iu_nstatus(&r), 1);
    CHECK_EQ(r.res.mem.live_blocks, 1);
    CHECK_EQ(r.res.mem.live_bytes, 4096);
    iu_release(&r);
}

/* H11: a wild write over the process heap and a corrupted malloc heap end
 * their own runs only: runs beside them are exact, later runs work. */
TEST(test_h11_wild_write_and_heap_corruption_end_only_their_runs)
{
    nmx_run_options lim;
    memset(&lim, 0, sizeof lim);
    lim.time_limit_ms = 3000;
    lim.grace_ms = 300;
    iu_run bad[2], ok[2];
    CHECK_EQ(iu_start(&bad[0], "wildwrite", &lim), NMERR_SUCCESS);
    CHECK_EQ(iu_start(&bad[1], "heapcorrupt", &lim), NMERR_SUCCESS);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(iu_start(&ok[i], "wellbehaved", NULL), NMERR_SUCCESS);
    for (int i = 0; i < 2; i++) {
        iu_finish(&bad[i]);
        /* ThreadSanitizer's allocator keeps no header beside a block for
         * heapcorrupt to damage: there its run simply finishes. */
        if (i == 0 || !UNDER_TSAN)
            CHECK_EQ(bad[i].res.status.Status, EXPERTSTATUS_ABORTED);
        iu_finish(&ok[i]);
        iu_check_same_as_in_process(NULL, &ok[i]);
    }
    printf("note: wildwrite: %s; heapcorrupt: %s\n", bad[0].res.status.szStatusText,
           bad[1].res.status.szStatusText);
    for (int i = 0; i < 2; i++) {
        iu_release(&bad[i]);
        iu_release(&ok[i]);
    }
}

/* H11: many rounds of every misbehaving expert beside well-behaved runs
 * leave the host with no extra thread, descriptor or memory. */
TEST(test_h11_many_rounds_leave_no_thread_descriptor_or_memory)
{
    static const char *const bad[] = {"nullderef", "abort",      "divzero",     "recurse",
                                      "doublefree", "overrun",   "quota",       "leaky",
                                      "wildwrite",  "heapcorrupt", "policy_socket",
                                      "policy_exec", "hang_holding", "ignores_terminate"};
    enum { NBAD = sizeof bad / sizeof bad[0], NGOOD = 2, ROUNDS = 8 };
    nmx_run_options lim;
    memset(&lim, 0, sizeof lim);
    lim.time_limit_ms = 500;
    lim.grace_ms = 100;
    iu_run warm;
    CHECK_EQ(iu_start(&warm, "wellbehaved", NULL), NMERR_SUCCESS);
    iu_finish(&warm);
    iu_release(&warm);
    nmx_heap_stats h0, h1;
    CHECK_EQ(nmx_heap_stats_get(&h0), NMERR_SUCCESS);
    int threads0 = iu_threads(), fds0 = iu_fds();
    long rss0 = mu_rss_kb();
    for (int round = 0; round < ROUNDS; round++) {
        iu_run b[NBAD], g[NGOOD];
        for (int i = 0; i < NBAD; i++)
            CHECK_EQ(iu_start(&b[i], bad[i], &lim), NMERR_SUCCESS);
        for (int i = 0; i < NGOOD; i++)
            CHECK_EQ(iu_start(&g[i], "wellbehaved", NULL), NMERR_SUCCESS);
        for (int i = 0; i < NGOOD; i++) {
            iu_finish(&g[i]);
            CHECK_EQ(g[i].res.status.Status, EXPERTSTATUS_DONE);
            CHECK_EQ(g[i].nev, 1);
            if (g[i].nev == 1 && g[i].ev[0]->NumColumns == 2)
                CHECK_EQ(g[i].ev[0]->Column[0].VariantData.Value.Uint32Val, 4050045000u);
            CHECK_EQ(g[i].res.mem.live_blocks, 0);
            iu_release(&g[i]);
        }
        for (int i = 0; i < NBAD; i++) {
            iu_finish(&b[i]);
            CHECK(b[i].res.status.Status != EXPERTSTATUS_DONE || !strcmp(bad[i], "leaky") ||
                  !strcmp(bad[i], "doublefree") || !strcmp(bad[i], "overrun") ||
                  !strcmp(bad[i], "quota") || (UNDER_TSAN && !strcmp(bad[i], "heapcorrupt")));
            iu_release(&b[i]);
        }
    }
    int threads1 = iu_threads(), fds1 = iu_fds();
    long rss1 = mu_rss_kb();
    CHECK_EQ(nmx_heap_stats_get(&h1), NMERR_SUCCESS);
    CHECK_EQ(h1.keys_live, h0.keys_live);
    CHECK_EQ(threads1, threads0);
    CHECK_EQ(fds1, fds0);
    long tolerance_kb = UNDER_ASAN || UNDER_TSAN ? 16 * 1024 : 2 * 1024;
    CHECK(rss1 - rss0 < tolerance_kb);
    printf("note: %d rounds of %d runs: threads %d -> %d, descriptors %d -> %d, "
           "VmRSS %ld -> %ld kB\n",
           ROUNDS, NBAD + NGOOD, threads0, threads1, fds0, fds1, rss0, rss1);
}

/* ---- the bundled experts (H11: identical results in both modes) ---- */

static const char *const g_bundled[] = {"protdist", "propdist", "resptime", "tcpretrans",
                                        "topusers"};

/* Runs every bundled expert over the capture at `path` in a worker and in
 * process and compares (the capture is opened once, by the host). With
 * `sample`, each run must also finish DONE with events. Returns 0 if the
 * capture cannot be opened (nothing to compare). */
static int check_bundled_on(const char *capture_path, int sample)
{
    char err[4096];
    nmx_capture *cap = NULL;
    if (nmx_capture_open(capture_path, &cap, err, sizeof err) != NMERR_SUCCESS)
        return 0;
    for (size_t i = 0; i < sizeof g_bundled / sizeof g_bundled[0]; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.so", NMX_BUNDLED_EXPERTS_DIR, g_bundled[i]);
        nmx_run_options o;
        memset(&o, 0, sizeof o);
        o.capture = cap;
        o.time_limit_ms = 120000;
        iu_run r;
        CHECK_EQ(iu_start_path(&r, path, &o), NMERR_SUCCESS);
        iu_finish(&r);
        if (sample) {
            CHECK_EQ(r.res.status.Status, EXPERTSTATUS_DONE);
            CHECK(r.nev > 0);
        }
        int failures = check_failures_;
        iu_check_same_as_in_process(&o, &r);
        if (check_failures_ != failures)
            fprintf(stderr, "  %s on %s\n", g_bundled[i], capture_path);
        iu_release(&r);
    }
    nmx_capture_close(cap);
    return 1;
}

TEST(test_h11_bundled_experts_give_identical_results_on_the_sample)
{
    CHECK(check_bundled_on(NMX_SAMPLE_CAPTURE, 1));
}

typedef struct paths {
    char **v;
    size_t n, cap;
} paths;

static void find_captures(const char *dir, paths *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[8192];
        snprintf(p, sizeof p, "%.4096s/%.1024s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        size_t n = strlen(p);
        if (S_ISDIR(st.st_mode)) {
            find_captures(p, out);
        } else if ((n > 5 && !strcmp(p + n - 5, ".pcap")) || (n > 7 && !strcmp(p + n - 7, ".pcapng")) ||
                   (n > 6 && !strcmp(p + n - 6, ".trace"))) {
            if (out->n == out->cap) {
                out->cap = out->cap ? out->cap * 2 : 64;
                out->v = realloc(out->v, out->cap * sizeof *out->v);
            }
            out->v[out->n++] = strdup(p);
        }
    }
    closedir(d);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* H11 on the captures the bundled experts' own tests use (the zeek corpus). */
TEST(test_h11_bundled_experts_give_identical_results_on_the_zeek_corpus)
{
    const char *shared = getenv("NMX_SHARED_DIR");
    char dir[4200];
    snprintf(dir, sizeof dir, "%.4096s/captures/zeek", shared ? shared : "../shared");
    paths files = {NULL, 0, 0};
    find_captures(dir, &files);
    if (!files.n)
        SKIP_HERE("the shared capture corpus is absent");
    qsort(files.v, files.n, sizeof *files.v, by_name);
    /* Every capture; under a sanitizer, every eighth (the same code runs
     * on each, and ten times slower). */
    size_t step = UNDER_ASAN || UNDER_TSAN ? 8 : 1, compared = 0;
    for (size_t i = 0; i < files.n; i++) {
        if (i % step == 0)
            compared += (size_t)check_bundled_on(files.v[i], 0);
        free(files.v[i]);
    }
    free(files.v);
    CHECK(compared * step > 300);
    printf("note: %zu captures, 5 experts each, identical in both modes\n", compared);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    RUN(test_h11_start_without_the_worker_program_fails_cleanly);
    RUN(test_h11_wellbehaved_run_in_a_worker_matches_the_in_process_run);
    RUN(test_h11_m11_quota_holds_in_a_worker);
    RUN(test_h11_m15_run_in_a_worker_sees_the_configuration_blob);
    RUN(test_h11_h5_faults_in_a_worker_end_the_run_as_in_process);
    RUN(test_h11_hung_expert_is_killed_and_reported_with_its_ledger);
    RUN(test_h11_h4_terminate_reaches_the_worker);
    RUN(test_h11_policy_stops_sockets_exec_and_writing_files);
    RUN(test_h11_policy_allows_what_an_expert_may_do);
    RUN(test_h11_forged_message_gets_the_worker_killed);
    RUN(test_h11_wild_write_and_heap_corruption_end_only_their_runs);
    RUN(test_h11_many_rounds_leave_no_thread_descriptor_or_memory);
    RUN(test_h11_bundled_experts_give_identical_results_on_the_sample);
    RUN_CORPUS(test_h11_bundled_experts_give_identical_results_on_the_zeek_corpus);
    return CHECK_DONE();
}
