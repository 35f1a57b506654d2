/* Isolated runs: each expert in a worker process (SPEC H11, issue 9).
 *
 * Runs go through src/host/isolate.h (the worker side is nmexpert-worker,
 * from $NMEXPERT_WORKER); tests/isolation_util.h plays run.c's part (events,
 * status, the watchdog's terminate, grace and kill). Every well-behaved run
 * is compared with the same expert run in process in this very program.
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

static nmx_expert *load_path(const char *path)
{
    char err[8192];
    nmx_expert *ex = NULL;
    if (nmx_expert_load(path, &ex, err, sizeof err) != NMERR_SUCCESS)
        fprintf(stderr, "cannot load %s: %s\n", path, err);
    return ex;
}

static nmx_expert *load(const char *name)
{
    char path[4096];
    iu_expert_path(path, sizeof path, name);
    return load_path(path);
}

static int has(const char *hay, const char *needle)
{
    int ok = strstr(hay, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  expected \"%s\" in \"%s\"\n", needle, hay);
    return ok;
}

/* Runs the test expert `name` in a worker and in process with the same
 * options, and checks they agree (H11). */
static void check_same(const char *name, const nmx__iso_spec *spec, const nmx_run_options *opt)
{
    nmx_expert *ex = load(name);
    CHECK(ex != NULL);
    if (!ex)
        return;
    iu_run r;
    CHECK_EQ(iu_start(&r, name, spec), NMERR_SUCCESS);
    iu_finish(&r, IU_WAIT_MS, 1000);
    CHECK(!r.hung);
    iu_check_same_as_in_process(ex, opt, &r);
    CHECK_EQ(r.res.fault_signal, 0);
    iu_release(&r);
    nmx_expert_unload(ex);
}

/* H11, H3, H8: the same events, status and ledger as in process. */
TEST(test_h11_wellbehaved_run_in_a_worker_matches_the_in_process_run)
{
    check_same("wellbehaved", NULL, NULL);
    check_same("leaky", NULL, NULL);
    check_same("doublefree", NULL, NULL);
    check_same("overrun", NULL, NULL);
    check_same("propdist_style", NULL, NULL);
}

/* H11, M11: the key's quota stops the expert the same way in a worker. */
TEST(test_h11_m11_quota_holds_in_a_worker)
{
    nmx__iso_spec s;
    memset(&s, 0, sizeof s);
    s.quota_bytes = 1u << 20;
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.quota_bytes = 1u << 20;
    check_same("quota", &s, &o);
}

/* H11, M15: the configuration blob reaches Run in the worker. */
TEST(test_h11_m15_run_in_a_worker_sees_the_configuration_blob)
{
    struct {
        DWORD len;
        char text[12];
    } blob = {sizeof blob, "threshold=7"};
    nmx__iso_spec s;
    memset(&s, 0, sizeof s);
    s.config = (const EXPERTCONFIG *)&blob;
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.config = (const EXPERTCONFIG *)&blob;
    check_same("configurable", &s, &o);
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
        iu_finish(&r, IU_WAIT_MS, 1000);
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
 * reported hung, with the status it reported and the ledger it held. */
TEST(test_h11_hung_expert_is_killed_and_reported_with_its_ledger)
{
    iu_run r;
    CHECK_EQ(iu_start(&r, "hang_holding", NULL), NMERR_SUCCESS);
    iu_finish(&r, 300, 200);
    CHECK(r.hung);
    CHECK(!r.res.returned);
    CHECK_EQ(r.res.status.Status, EXPERTSTATUS_ABORTED);
    CHECK(has(r.res.status.szStatusText, "killed"));
    CHECK_EQ(r.nstatus, 1);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_RUNNING);
    CHECK_EQ(r.status.PercentDone, 7);
    CHECK(has(r.status.szStatusText, "hang_holding: spinning"));
    CHECK_EQ(r.res.mem.live_blocks, 3);
    CHECK_EQ(r.res.mem.live_bytes, HANG_BYTES);
    CHECK_EQ(r.res.mem.allocs, 3);
    iu_release(&r);
}

/* H11, H4: terminate reaches the expert in its worker. */
TEST(test_h11_h4_terminate_reaches_the_worker)
{
    iu_run r;
    CHECK_EQ(iu_start(&r, "honours_terminate", NULL), NMERR_SUCCESS);
    pthread_mutex_lock(&r.mu);
    while (r.nstatus == 0 && !r.done)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
    nmx__iso_terminate(r.w);
    CHECK(iu_wait(&r, IU_WAIT_MS));
    CHECK(r.res.returned);
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
    nmx__iso_spec s;
    memset(&s, 0, sizeof s);
    s.config = cfg;
    iu_run r;
    CHECK_EQ(iu_start(&r, name, &s), NMERR_SUCCESS);
    iu_finish(&r, IU_WAIT_MS, 1000);
    CHECK(!r.hung);
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

/* H11: what a worker writes to its host is checked: a forged frame gets
 * the worker killed and the run reported failed, naming it. */
TEST(test_h11_forged_message_gets_the_worker_killed)
{
    iu_run r;
    CHECK_EQ(iu_start(&r, "forger", NULL), NMERR_SUCCESS);
    iu_finish(&r, IU_WAIT_MS, 1000);
    CHECK(!r.hung); /* the host killed it at once, not the watchdog */
    CHECK(!r.res.returned);
    CHECK_EQ(r.res.status.Status, EXPERTSTATUS_ABORTED);
    CHECK(has(r.res.status.szStatusText, "malformed"));
    CHECK_EQ(r.nstatus, 1);
    CHECK_EQ(r.res.mem.live_blocks, 1);
    CHECK_EQ(r.res.mem.live_bytes, 4096);
    iu_release(&r);
}

/* H11: a wild write over the process heap and a corrupted malloc heap end
 * their own runs only: runs beside them are exact, later runs work. */
TEST(test_h11_wild_write_and_heap_corruption_end_only_their_runs)
{
    nmx_expert *good = load("wellbehaved");
    CHECK(good != NULL);
    if (!good)
        return;
    iu_run bad[2], ok[2];
    CHECK_EQ(iu_start(&bad[0], "wildwrite", NULL), NMERR_SUCCESS);
    CHECK_EQ(iu_start(&bad[1], "heapcorrupt", NULL), NMERR_SUCCESS);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(iu_start(&ok[i], "wellbehaved", NULL), NMERR_SUCCESS);
    for (int i = 0; i < 2; i++) {
        iu_finish(&bad[i], 3000, 300);
        /* ThreadSanitizer's allocator keeps no header beside a block for
         * heapcorrupt to damage: there its run simply finishes. */
        if (i == 0 || !UNDER_TSAN)
            CHECK_EQ(bad[i].res.status.Status, EXPERTSTATUS_ABORTED);
        iu_finish(&ok[i], IU_WAIT_MS, 1000);
        iu_check_same_as_in_process(good, NULL, &ok[i]);
    }
    printf("note: wildwrite: %s; heapcorrupt: %s\n", bad[0].res.status.szStatusText,
           bad[1].res.status.szStatusText);
    for (int i = 0; i < 2; i++) {
        iu_release(&bad[i]);
        iu_release(&ok[i]);
    }
    nmx_expert_unload(good);
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
    nmx_expert *good = load("wellbehaved");
    CHECK(good != NULL);
    if (!good)
        return;
    iu_run warm;
    CHECK_EQ(iu_start(&warm, "wellbehaved", NULL), NMERR_SUCCESS);
    iu_finish(&warm, IU_WAIT_MS, 1000);
    iu_release(&warm);
    int threads0 = iu_threads(), fds0 = iu_fds();
    long rss0 = mu_rss_kb();
    for (int round = 0; round < ROUNDS; round++) {
        iu_run b[NBAD], g[NGOOD];
        for (int i = 0; i < NBAD; i++)
            CHECK_EQ(iu_start(&b[i], bad[i], NULL), NMERR_SUCCESS);
        for (int i = 0; i < NGOOD; i++)
            CHECK_EQ(iu_start(&g[i], "wellbehaved", NULL), NMERR_SUCCESS);
        for (int i = 0; i < NGOOD; i++) {
            iu_finish(&g[i], IU_WAIT_MS, 1000);
            CHECK_EQ(g[i].res.status.Status, EXPERTSTATUS_DONE);
            CHECK_EQ(g[i].nev, 1);
            if (g[i].nev == 1 && g[i].ev[0]->NumColumns == 2)
                CHECK_EQ(g[i].ev[0]->Column[0].VariantData.Value.Uint32Val, 4050045000u);
            CHECK_EQ(g[i].res.mem.live_blocks, 0);
            iu_release(&g[i]);
        }
        for (int i = 0; i < NBAD; i++) {
            iu_finish(&b[i], 500, 100);
            iu_release(&b[i]);
        }
    }
    int threads1 = iu_threads(), fds1 = iu_fds();
    long rss1 = mu_rss_kb();
    CHECK_EQ(threads1, threads0);
    CHECK_EQ(fds1, fds0);
    long tolerance_kb = UNDER_ASAN || UNDER_TSAN ? 16 * 1024 : 2 * 1024;
    CHECK(rss1 - rss0 < tolerance_kb);
    printf("note: %d rounds of %d runs: threads %d -> %d, descriptors %d -> %d, "
           "VmRSS %ld -> %ld kB\n",
           ROUNDS, NBAD + NGOOD, threads0, threads1, fds0, fds1, rss0, rss1);
    nmx_expert_unload(good);
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
        nmx_expert *ex = load_path(path);
        CHECK(ex != NULL);
        if (!ex)
            continue;
        nmx__iso_spec s;
        memset(&s, 0, sizeof s);
        s.capture = cap;
        nmx_run_options o;
        memset(&o, 0, sizeof o);
        o.capture = cap;
        iu_run r;
        CHECK_EQ(iu_start_path(&r, path, &s), NMERR_SUCCESS);
        iu_finish(&r, 120000, 1000);
        if (sample) {
            CHECK_EQ(r.res.status.Status, EXPERTSTATUS_DONE);
            CHECK(r.nev > 0);
        }
        int failures = check_failures_;
        iu_check_same_as_in_process(ex, &o, &r);
        if (check_failures_ != failures)
            fprintf(stderr, "  %s on %s\n", g_bundled[i], capture_path);
        iu_release(&r);
        nmx_expert_unload(ex);
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
    RUN(test_h11_wellbehaved_run_in_a_worker_matches_the_in_process_run);
    RUN(test_h11_m11_quota_holds_in_a_worker);
    RUN(test_h11_m15_run_in_a_worker_sees_the_configuration_blob);
    RUN(test_h11_h5_faults_in_a_worker_end_the_run_as_in_process);
    RUN(test_h11_hung_expert_is_killed_and_reported_with_its_ledger);
    RUN(test_h11_h4_terminate_reaches_the_worker);
    RUN(test_h11_policy_stops_sockets_exec_and_writing_files);
    RUN(test_h11_forged_message_gets_the_worker_killed);
    RUN(test_h11_wild_write_and_heap_corruption_end_only_their_runs);
    RUN(test_h11_many_rounds_leave_no_thread_descriptor_or_memory);
    RUN(test_h11_bundled_experts_give_identical_results_on_the_sample);
    RUN_CORPUS(test_h11_bundled_experts_give_identical_results_on_the_zeek_corpus);
    return CHECK_DONE();
}
