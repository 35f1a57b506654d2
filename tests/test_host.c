/* The host runtime, one run at a time (SPEC H1-H9, M15; H10 in
 * test_host_mt.c, H6 in test_host_hang.c).
 *
 * Every expert here is a real shared object from tests/experts/, loaded from
 * NMX_TEST_EXPERTS_DIR; each file there says what it does and what the host
 * must make of it. Some experts export a probe structure or a counter, which
 * the tests read or set through dlsym on the module (EXPERTENUMINFO.hModule).
 *
 * Sanitizers: the experts are built without them (tests/experts/CMakeLists.txt
 * says why); the host and this program are instrumented. Under ASan the fault
 * tests run too: ASan installs its SIGSEGV/SIGFPE handlers at start-up and
 * the host's trap, installed later, takes precedence on expert threads.
 * (This program replaces ASan's handlers with its own before the trap exists,
 * to check the chaining of H5; test_host_mt.c leaves ASan's in place, so the
 * precedence over ASan itself is checked there.)
 */
#define _GNU_SOURCE
#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include "check.h"
#include "host_util.h"
#include "mem_util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define MIB (1024u * 1024u)
#define LEAKY_BYTES (sizeof(NMEVENTDATA) + 2 * sizeof(NMCOLUMNINFO))
#define WAIT_MS 30000u /* a generous bound: a run that takes longer is a failure */

/* ---- helpers ---- */

static void expert_file(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.so", NMX_TEST_EXPERTS_DIR, name);
}


/* A symbol the expert exports (its probe), or NULL. */


static void sleep_ms(unsigned ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Runs `ex` to the end and fills *res. If `keep` is NULL the run is freed;
 * otherwise *keep receives it (for its events). Returns nmx_run_wait's code. */
static DWORD run_to_end(nmx_expert *ex, const nmx_run_options *opt, nmx_run_result *res,
                        nmx_run **keep)
{
    memset(res, 0, sizeof *res);
    if (keep)
        *keep = NULL;
    nmx_run *run = NULL;
    DWORD rc = nmx_run_start(ex, opt, &run);
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmx_run_start: %s\n", nmx_strerror(rc));
        return rc;
    }
    rc = nmx_run_wait(run, WAIT_MS, res);
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmx_run_wait: %s\n", nmx_strerror(rc));
        return rc; /* still running: leave it, freeing would fail */
    }
    if (keep)
        *keep = run;
    else
        CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
    return rc;
}

static int has(const char *hay, const char *needle)
{
    int ok = hay && strstr(hay, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  expected \"%s\" in \"%s\"\n", needle, hay ? hay : "(null)");
    return ok;
}

/* The one event a run submitted, or NULL. */
static const NMEVENTDATA *only_event(nmx_run *run)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    return ev && n == 1 ? ev[0] : NULL;
}

static int streq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The outcome every faulting expert must have (H5): ended by the signal,
 * status ABORTED / THREAD_FAIL, and its 1 MiB block in the ledger. */
static void check_fault(const nmx_run_result *r, int sig)
{
    CHECK(!r->returned);
    CHECK(!r->run_value);
    CHECK_EQ(r->fault_signal, sig);
    CHECK(!r->hung);
    CHECK(!r->terminated);
    CHECK_EQ(r->status.Status, EXPERTSTATUS_ABORTED);
    CHECK_EQ(r->status.SubStatus, EXPERTSUBSTATUS_ABORTED_THREAD_FAIL);
    CHECK_EQ(r->mem.live_blocks, 1);
    CHECK_EQ(r->mem.live_bytes, MIB);
    CHECK_EQ(r->events, 0);
}

static void check_wellbehaved(const nmx_run_result *r, nmx_run *run)
{
    CHECK(r->returned);
    CHECK(r->run_value);
    CHECK_EQ(r->fault_signal, 0);
    CHECK(!r->hung);
    CHECK_EQ(r->status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(r->status.PercentDone, 100);
    CHECK_EQ(r->mem.live_blocks, 0);
    CHECK_EQ(r->mem.live_bytes, 0);
    CHECK_EQ(r->events, 1);
    const NMEVENTDATA *ev = run ? only_event(run) : NULL;
    CHECK(ev != NULL);
    if (ev && ev->NumColumns == 2) {
        CHECK(streq(ev->szSourceName, "wellbehaved"));
        CHECK(streq(ev->Column[0].szColumnName, "Sum"));
        CHECK_EQ(ev->Column[0].VariantData.Type, NMCOLUMNTYPE_UINT32);
        CHECK_EQ(ev->Column[0].VariantData.Value.Uint32Val, 4050045000u);
        CHECK_EQ(ev->Column[1].VariantData.Value.Uint32Val, 90000u);
    } else {
        CHECK(ev && ev->NumColumns == 2);
    }
}

/* The event list propdist_style must leave (see tests/experts/propdist_style.c). */
static void check_propdist_events(nmx_run *run)
{
    size_t n = 0;
    const NMEVENTDATA *const *evs = nmx_run_events(run, &n);
    CHECK_EQ(n, 12);
    CHECK(evs != NULL);
    if (!evs)
        return;
    for (unsigned i = 0; i < n && i < 12; i++) {
        const NMEVENTDATA *ev = evs[i];
        char want[64];
        CHECK_EQ(ev->EventIdent, 100 + i);
        CHECK_EQ(ev->Severity, i % 6);
        CHECK_EQ(ev->NumColumns, i % 4 + 1);
        CHECK(streq(ev->szSourceName, "propdist_style"));
        snprintf(want, sizeof want, "event %u", i);
        CHECK(streq(ev->szEventName, want));
        CHECK(ev->szDescription == NULL);
        CHECK(ev->szMachine == NULL);
        snprintf(want, sizeof want, "justification for %u", i);
        CHECK(streq(ev->Justification, want));
        for (unsigned c = 0; c < ev->NumColumns && c < 4; c++) {
            const NMCOLUMNINFO *col = &ev->Column[c];
            snprintf(want, sizeof want, "col%u.%u", i, c);
            CHECK(streq(col->szColumnName, want));
            if (c % 3 == 0) {
                CHECK_EQ(col->VariantData.Type, NMCOLUMNTYPE_STRING);
                snprintf(want, sizeof want, "value %u.%u", i, c);
                CHECK(streq(col->VariantData.Value.pStringVal, want));
            } else if (c % 3 == 1) {
                CHECK_EQ(col->VariantData.Type, NMCOLUMNTYPE_STRING);
                CHECK(col->VariantData.Value.pStringVal == NULL);
            } else {
                CHECK_EQ(col->VariantData.Type, NMCOLUMNTYPE_UINT32);
                CHECK_EQ(col->VariantData.Value.Uint32Val, 1000 * i + c);
            }
        }
    }
}

/* A fresh temporary folder; "" if none could be made. */
static void make_tmpdir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/nmx_test_host_XXXXXX");
    if (!mkdtemp(buf))
        buf[0] = '\0';
}

static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            remove_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

/* ---- H1: loading ---- */

TEST(test_h1_load_fills_info_and_private_members)
{
    char path[4096], err[8192];
    expert_file(path, sizeof path, "wellbehaved");
    nmx_expert *ex = NULL;
    strcpy(err, "untouched");
    CHECK_EQ(nmx_expert_load(path, &ex, err, sizeof err), NMERR_SUCCESS);
    CHECK(ex != NULL);
    if (!ex)
        return;
    CHECK(streq(err, ""));
    const EXPERTENUMINFO *info = nmx_expert_info(ex);
    CHECK(info != NULL);
    CHECK(streq(info->szName, "wellbehaved"));
    CHECK(streq(info->szVendor, "nmexpert tests"));
    CHECK_EQ(info->Version, 1); /* the samples' 1 is accepted (H1) */
    CHECK(streq(info->szDllName, "wellbehaved.so"));
    CHECK(info->hExpert == (HEXPERT)ex);
    CHECK(info->hModule != NULL);
    CHECK(info->pRegisterProc != NULL);
    CHECK(info->pRunProc != NULL);
    CHECK(info->pConfigProc == NULL);
    CHECK(streq(nmx_expert_path(ex), path));
    nmx_expert_unload(ex);

    nmx_expert *cfg = load_test_expert("configurable");
    CHECK(cfg != NULL);
    if (cfg) {
        CHECK(nmx_expert_info(cfg)->pConfigProc != NULL);
        CHECK_EQ(nmx_expert_info(cfg)->Flags, EXPERT_ENUM_FLAG_CONFIGURABLE);
        nmx_expert_unload(cfg);
    }
}

/* Loads `path`, expects `code` and a message naming the file and `reason`. */
static void expect_rejected(const char *path, DWORD code, const char *reason, const char *reason2)
{
    char err[8192];
    nmx_expert *ex = (nmx_expert *)(uintptr_t)1;
    DWORD rc = nmx_expert_load(path, &ex, err, sizeof err);
    CHECK_EQ(rc, code);
    CHECK(ex == NULL);
    CHECK(has(err, path));
    CHECK(has(err, reason));
    if (reason2)
        CHECK(has(err, reason2));
    if (ex && ex != (nmx_expert *)(uintptr_t)1)
        nmx_expert_unload(ex);
}

TEST(test_h1_rejects_module_without_run)
{
    char path[4096];
    expert_file(path, sizeof path, "norun");
    expect_rejected(path, NMERR_LOAD_EXPERT_FAILED, "no Run", NULL);
}

TEST(test_h1_rejects_register_returning_false)
{
    char path[4096];
    expert_file(path, sizeof path, "regfalse");
    expect_rejected(path, NMERR_EXPERT_REPORT_FAILED, "Register returned FALSE", NULL);
}

TEST(test_h1_rejects_register_that_crashes)
{
    char path[4096];
    expert_file(path, sizeof path, "regcrash");
    expect_rejected(path, NMERR_EXPERT_REPORT_FAILED, "Register crashed", NULL);
    expect_rejected(path, NMERR_EXPERT_REPORT_FAILED, "Register crashed", NULL); /* again */
}

TEST(test_h1_rejects_unresolved_symbol)
{
    char path[4096];
    expert_file(path, sizeof path, "unresolved");
    expect_rejected(path, NMERR_LOAD_EXPERT_FAILED, "unresolved symbol", "nmx_no_such_function");
}

TEST(test_h1_rejects_non_elf_file)
{
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0] != '\0');
    if (!dir[0])
        return;
    snprintf(path, sizeof path, "%s/notelf.so", dir);
    CHECK(write_file(path, "this is not an ELF file\n"));
    expect_rejected(path, NMERR_LOAD_EXPERT_FAILED, "not a loadable shared object", NULL);
    remove_tree(dir);
}

TEST(test_h1_rejects_missing_path)
{
    const char *path = NMX_TEST_EXPERTS_DIR "/no_such_expert.so";
    expect_rejected(path, NMERR_FILE_NOT_FOUND, "No such file", NULL);
}

TEST(test_h1_rejects_directory)
{
    char dir[64], path[128];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0] != '\0');
    if (!dir[0])
        return;
    snprintf(path, sizeof path, "%s/folder.so", dir);
    CHECK(mkdir(path, 0700) == 0);
    expect_rejected(path, NMERR_LOAD_EXPERT_FAILED, "not a regular file", NULL);
    expect_rejected(dir, NMERR_LOAD_EXPERT_FAILED, "not a regular file", NULL);
    remove_tree(dir);
}

TEST(test_h1_load_error_buffer_is_optional_and_bounded)
{
    nmx_expert *ex = NULL;
    CHECK_EQ(nmx_expert_load(NMX_TEST_EXPERTS_DIR "/nothing.so", &ex, NULL, 0),
             NMERR_FILE_NOT_FOUND);
    CHECK(ex == NULL);
    char small[8];
    memset(small, 'Z', sizeof small);
    CHECK_EQ(nmx_expert_load(NMX_TEST_EXPERTS_DIR "/nothing.so", &ex, small, sizeof small),
             NMERR_FILE_NOT_FOUND);
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    char path[4096];
    expert_file(path, sizeof path, "leaky");
    CHECK_EQ(nmx_expert_load(path, &ex, NULL, 0), NMERR_SUCCESS);
    nmx_expert_unload(ex);
}

typedef struct scan_log {
    char loaded[32][64];
    int nloaded;
    char rejected[32][64];
    char reasons[32][512];
    int nrejected;
} scan_log;

static const char *base_of(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

static void on_loaded(nmx_expert *ex, void *ctx)
{
    scan_log *log = ctx;
    if (log->nloaded < 32)
        snprintf(log->loaded[log->nloaded++], 64, "%s", base_of(nmx_expert_path(ex)));
    nmx_expert_unload(ex);
}

static void on_rejected(const char *path, const char *reason, void *ctx)
{
    scan_log *log = ctx;
    if (log->nrejected >= 32)
        return;
    snprintf(log->rejected[log->nrejected], 64, "%s", base_of(path));
    snprintf(log->reasons[log->nrejected], 512, "%s", reason ? reason : "");
    log->nrejected++;
}

static int listed(char (*names)[64], int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return i;
    return -1;
}

TEST(test_h1_scan_reports_each_rejection_and_loads_the_rest)
{
    char dir[64];
    make_tmpdir(dir, sizeof dir);
    CHECK(dir[0] != '\0');
    if (!dir[0])
        return;
    /* The experts folder, linked, plus a non-ELF file, a directory named
     * like a module and a file that is not a .so (both ignored). */
    int nexperts = 0;
    DIR *d = opendir(NMX_TEST_EXPERTS_DIR);
    CHECK(d != NULL);
    if (!d) {
        remove_tree(dir);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0)
            continue;
        char from[4096], to[4096];
        snprintf(from, sizeof from, "%s/%s", NMX_TEST_EXPERTS_DIR, e->d_name);
        snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
        CHECK(symlink(from, to) == 0);
        nexperts++;
    }
    closedir(d);
    char p[256];
    snprintf(p, sizeof p, "%s/zz_notelf.so", dir);
    CHECK(write_file(p, "garbage"));
    snprintf(p, sizeof p, "%s/aa_folder.so", dir);
    CHECK(mkdir(p, 0700) == 0);
    snprintf(p, sizeof p, "%s/readme.txt", dir);
    CHECK(write_file(p, "not an expert"));

    scan_log log;
    memset(&log, 0, sizeof log);
    CHECK_EQ(nmx_expert_scan(dir, on_loaded, on_rejected, &log), NMERR_SUCCESS);
    static const char *const rejected[] = {"norun.so", "regcrash.so", "regfalse.so",
                                           "unresolved.so", "zz_notelf.so"};
    CHECK_EQ(log.nrejected, 5);
    /* Issue 8, case 8: a folder named like a module is not a module; it is
     * neither loaded nor reported. */
    CHECK(listed(log.rejected, log.nrejected, "aa_folder.so") < 0);
    CHECK_EQ(log.nloaded, nexperts - 4);
    for (size_t i = 0; i < sizeof rejected / sizeof *rejected; i++) {
        int at = listed(log.rejected, log.nrejected, rejected[i]);
        CHECK(at >= 0);
        if (at >= 0)
            CHECK(log.reasons[at][0] != '\0');
        if (at < 0)
            fprintf(stderr, "  %s was not reported as rejected\n", rejected[i]);
    }
    int r = listed(log.rejected, log.nrejected, "norun.so");
    if (r >= 0)
        CHECK(has(log.reasons[r], "no Run"));
    r = listed(log.rejected, log.nrejected, "regfalse.so");
    if (r >= 0)
        CHECK(has(log.reasons[r], "FALSE"));
    r = listed(log.rejected, log.nrejected, "regcrash.so");
    if (r >= 0)
        CHECK(has(log.reasons[r], "crashed"));
    r = listed(log.rejected, log.nrejected, "unresolved.so");
    if (r >= 0)
        CHECK(has(log.reasons[r], "nmx_no_such_function"));
    CHECK(listed(log.loaded, log.nloaded, "wellbehaved.so") >= 0);
    CHECK(listed(log.loaded, log.nloaded, "ignores_terminate.so") >= 0);
    for (int i = 1; i < log.nloaded; i++)
        CHECK(strcmp(log.loaded[i - 1], log.loaded[i]) < 0); /* name order */

    /* Neither callback: loads and unloads, still succeeds. */
    CHECK_EQ(nmx_expert_scan(dir, NULL, NULL, NULL), NMERR_SUCCESS);
    remove_tree(dir);
    CHECK_EQ(nmx_expert_scan(dir, on_loaded, on_rejected, &log), NMERR_PATH_NOT_FOUND);
}

/* ---- H2, H3, H7: a good run ---- */

typedef struct progress_log {
    atomic_int calls;
    atomic_int bad_percent; /* a report above 99 or going down */
    atomic_int last_percent;
} progress_log;

static void on_progress(nmx_run *run, const EXPERTSTATUS *st, void *ctx)
{
    (void)run;
    progress_log *p = ctx;
    atomic_fetch_add(&p->calls, 1);
    int pct = (int)st->PercentDone;
    if (pct > 99 || pct < atomic_load(&p->last_percent))
        atomic_store(&p->bad_percent, 1);
    atomic_store(&p->last_percent, pct);
}

TEST(test_h3_wellbehaved_run_is_done_with_result_and_empty_ledger)
{
    nmx_expert *ex = load_test_expert("wellbehaved");
    CHECK(ex != NULL);
    if (!ex)
        return;
    progress_log pl;
    atomic_init(&pl.calls, 0);
    atomic_init(&pl.bad_percent, 0);
    atomic_init(&pl.last_percent, 0);
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.progress = on_progress;
    opt.progress_ctx = &pl;
    nmx_run_result r;
    nmx_run *run;
    CHECK_EQ(run_to_end(ex, &opt, &r, &run), NMERR_SUCCESS);
    check_wellbehaved(&r, run);
    CHECK(!r.terminated);
    CHECK(!r.timed_out);
    CHECK(r.fault_address == NULL);
    CHECK(r.mem.allocs >= 2);
    CHECK_EQ(r.mem.allocs, r.mem.frees); /* everything it took, it gave back */
    CHECK(r.mem.reallocs >= 10);
    CHECK(r.wall_seconds > 0.0 && r.wall_seconds < 30.0);
    CHECK_EQ(atomic_load(&pl.calls), 11); /* STARTING + every 10 % */
    CHECK(!atomic_load(&pl.bad_percent));
    CHECK_EQ(atomic_load(&pl.last_percent), 99); /* it said 100: clamped (H7) */
    /* The result is stable: waiting again gives the same. */
    nmx_run_result again;
    CHECK_EQ(nmx_run_wait(run, 0, &again), NMERR_SUCCESS);
    CHECK_EQ(again.status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(again.events, 1);
    CHECK_EQ(nmx_run_wait(run, 0, NULL), NMERR_SUCCESS);
    CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
    nmx_expert_unload(ex);
}

TEST(test_h3_leaky_ledger_is_the_event_it_left)
{
    nmx_expert *ex = load_test_expert("leaky");
    CHECK(ex != NULL);
    if (!ex)
        return;
    nmx_run_result r;
    nmx_run *run;
    CHECK_EQ(run_to_end(ex, NULL, &r, &run), NMERR_SUCCESS);
    CHECK(r.returned);
    CHECK(r.run_value);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(r.status.PercentDone, 100);
    CHECK(streq(r.status.szStatusText, "leaky: done"));
    CHECK_EQ(r.mem.live_blocks, 1);
    CHECK_EQ(r.mem.live_bytes, LEAKY_BYTES);
    CHECK_EQ(r.mem.allocs, 1);
    CHECK_EQ(r.mem.frees, 0);
    CHECK_EQ(r.events, 1);
    const NMEVENTDATA *ev = run ? only_event(run) : NULL;
    CHECK(ev != NULL);
    if (ev) {
        /* The expert's buffer went with its key; this is the host's copy. */
        CHECK(streq(ev->szEventName, "Leak"));
        CHECK_EQ(ev->NumColumns, 2);
        CHECK_EQ(ev->Column[0].VariantData.Value.Uint32Val, 42);
        CHECK(streq(ev->Column[1].VariantData.Value.pStringVal, "leaked"));
        CHECK(ev->pszReserved == NULL && ev->pvReserved == NULL);
    }
    if (run)
        CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
    nmx_expert_unload(ex);
}

/* ---- M6, M8, M9, M11 seen through a run ---- */

TEST(test_m9_doublefree_and_foreign_frees_are_refused_and_counted)
{
    nmx_expert *ex = load_test_expert("doublefree");
    CHECK(ex != NULL);
    if (!ex)
        return;
    nmx_run_result r;
    CHECK_EQ(run_to_end(ex, NULL, &r, NULL), NMERR_SUCCESS);
    CHECK(r.returned);
    CHECK(r.run_value);
    if (!r.run_value)
        fprintf(stderr, "  doublefree says: %s\n", r.status.szStatusText);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(r.mem.bad_double_free, 1);
    /* Freeing a stack address and a malloc'd pointer, and asking the size of
     * the stack address: ExpertMemorySize counts its invalid calls too (M9). */
    CHECK_EQ(r.mem.bad_foreign, 3);
    CHECK_EQ(r.mem.bad_interior, 1);
    CHECK_EQ(r.mem.bad_wrong_owner, 0);
    CHECK_EQ(r.mem.live_blocks, 0);
    CHECK_EQ(r.mem.live_bytes, 0);
    nmx_expert_unload(ex);
}

TEST(test_m8_overrun_then_every_free_succeeds)
{
    nmx_expert *ex = load_test_expert("overrun");
    nmx_expert *good = load_test_expert("wellbehaved");
    CHECK(ex && good);
    if (!ex || !good)
        goto out;
    nmx_run_result r;
    CHECK_EQ(run_to_end(ex, NULL, &r, NULL), NMERR_SUCCESS);
    CHECK(r.returned);
    CHECK(r.run_value);
    CHECK_EQ(r.fault_signal, 0);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(r.mem.live_blocks, 0);
    CHECK_EQ(r.mem.live_bytes, 0);
    CHECK_EQ(r.mem.bad_double_free + r.mem.bad_foreign + r.mem.bad_interior, 0);
    /* The heap is sound afterwards: the next expert computes correctly. */
    nmx_run *run;
    CHECK_EQ(run_to_end(good, NULL, &r, &run), NMERR_SUCCESS);
    check_wellbehaved(&r, run);
    if (run)
        nmx_run_free(run);
out:
    nmx_expert_unload(ex);
    nmx_expert_unload(good);
}

TEST(test_m11_quota_stops_the_expert_with_out_of_memory)
{
    nmx_expert *ex = load_test_expert("quota");
    CHECK(ex != NULL);
    if (!ex)
        return;
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.quota_bytes = MIB;
    nmx_run_result r;
    nmx_run *run;
    CHECK_EQ(run_to_end(ex, &opt, &r, &run), NMERR_SUCCESS);
    CHECK(r.returned);
    CHECK(r.run_value);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_DONE);
    CHECK(r.mem.failed_quota >= 1);
    CHECK(r.mem.peak_bytes <= MIB);
    CHECK(r.mem.peak_bytes > MIB - 2 * 4096 - 4096); /* it did fill the quota */
    CHECK_EQ(r.mem.live_blocks, 0);
    const NMEVENTDATA *ev = run ? only_event(run) : NULL;
    CHECK(ev != NULL);
    if (ev && ev->NumColumns == 2) {
        DWORD blocks = ev->Column[0].VariantData.Value.Uint32Val;
        CHECK(blocks >= 240 && blocks < 256);
        CHECK_EQ(ev->Column[1].VariantData.Value.Uint32Val, NMERR_OUT_OF_MEMORY);
    }
    if (run)
        nmx_run_free(run);
    nmx_expert_unload(ex);
}

/* ---- H5: faults ---- */

static void run_fault(const char *name, int sig)
{
    nmx_expert *ex = load_test_expert(name);
    CHECK(ex != NULL);
    if (!ex)
        return;
    nmx_run_result r;
    CHECK_EQ(run_to_end(ex, NULL, &r, NULL), NMERR_SUCCESS);
    check_fault(&r, sig);
    if (sig == SIGSEGV && !strcmp(name, "nullderef"))
        CHECK(r.fault_address == NULL);
    if (!strcmp(name, "recurse"))
        CHECK(r.fault_address != NULL); /* near the guard page, far from 0 */
    nmx_expert_unload(ex);
}

TEST(test_h5_null_dereference_ends_only_that_run)
{
    run_fault("nullderef", SIGSEGV);
}

TEST(test_h5_stack_overflow_is_caught_on_the_alternate_stack)
{
    run_fault("recurse", SIGSEGV);
}

TEST(test_h5_division_by_zero_ends_only_that_run)
{
    run_fault("divzero", SIGFPE);
}

TEST(test_h5_illegal_instruction_ends_only_that_run)
{
    run_fault("illegal", SIGILL);
}

TEST(test_h5_bus_error_ends_only_that_run)
{
    run_fault("buserror", SIGBUS);
}

TEST(test_h5_abort_ends_only_that_run_and_can_happen_again)
{
    /* glibc's abort() resets its own state before raising, so an expert
     * that aborts after another one did is contained as well. */
    run_fault("abort", SIGABRT);
    run_fault("abort", SIGABRT);
}

/* Signals on threads that are not expert threads keep their effect, and a
 * handler installed before the host's trap is chained (H5). main() installs
 * chained_handler for SIGSEGV and SIGFPE before anything loads an expert (the
 * trap is installed at the first trapped call: Register). */
static volatile sig_atomic_t g_expecting, g_chained_hits;

static void chained_handler(int sig)
{
    if (g_expecting) {
        g_chained_hits++;
        return; /* raise()d, not a real fault: returning is fine */
    }
    signal(sig, SIG_DFL); /* a real fault of this program: die of it */
}

static void install_chained_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = chained_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
}

static void *raise_both(void *arg)
{
    (void)arg;
    raise(SIGSEGV);
    raise(SIGFPE);
    return NULL;
}

TEST(test_h5_signals_outside_expert_threads_reach_earlier_handlers)
{
    /* the trap is in place by now: an expert fault is still contained */
    run_fault("divzero", SIGFPE);
    g_chained_hits = 0;
    g_expecting = 1;
    raise_both(NULL); /* the main thread */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, raise_both, NULL) == 0);
    pthread_join(t, NULL); /* a host thread that is not an expert's */
    g_expecting = 0;
    CHECK_EQ(g_chained_hits, 4);
    /* and after that, the trap still works */
    run_fault("nullderef", SIGSEGV);
}

/* ---- H8: events ---- */

TEST(test_h8_events_are_deep_copies_that_outlive_the_expert_buffers)
{
    nmx_expert *ex = load_test_expert("propdist_style");
    nmx_expert *other = load_test_expert("leaky");
    CHECK(ex && other);
    if (!ex || !other)
        goto out;
    nmx_run_result r;
    nmx_run *run;
    CHECK_EQ(run_to_end(ex, NULL, &r, &run), NMERR_SUCCESS);
    CHECK(r.returned);
    CHECK(r.run_value);
    CHECK_EQ(r.events, 12);
    CHECK_EQ(r.mem.live_blocks, 0);
    if (!run)
        goto out;
    check_propdist_events(run);
    /* Another run takes over the memory the first key gave back (zeroing it,
     * M13): the copies must not care. */
    for (int i = 0; i < 3; i++) {
        nmx_run_result lr;
        CHECK_EQ(run_to_end(other, NULL, &lr, NULL), NMERR_SUCCESS);
    }
    check_propdist_events(run);
    CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
out:
    nmx_expert_unload(ex);
    nmx_expert_unload(other);
}

/* apiprobe's record (tests/experts/apiprobe.c). */
typedef struct apiprobe_t {
    int si_nonnull, hcapture_nonnull;
    DWORD startup_flags;
    int config_null;
    DWORD getstartup_rc;
    int copy_same;
    DWORD frame_number;
    char capture_file[MAX_PATH];
    DWORD getstartup_null_rc, getstartup_badkey_rc, getstartup_forgedkey_rc;
    DWORD status_badkey_rc, submit_badkey_rc, submit_null_rc, submit_badtype_rc,
        submit_overcols_rc, submit_ok_rc, status_ok_rc;
    DWORD total_frames;
} apiprobe_t;

/* Runs apiprobe; *exp keeps the module loaded (so the probe stays readable)
 * until the caller unloads it. */
static const apiprobe_t *run_apiprobe_on(HCAPTURE cap, nmx_run_result *r, nmx_run **run,
                                         nmx_expert **exp)
{
    nmx_expert *ex = *exp = load_test_expert("apiprobe");
    CHECK(ex != NULL);
    if (!ex)
        return NULL;
    apiprobe_t *p = expert_sym(ex, "apiprobe");
    CHECK(p != NULL);
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.startup_flags = EXPERT_STARTUP_FLAG_USE_STARTUP_DATA_OVER_CONFIG_DATA;
    opt.capture = cap;
    CHECK_EQ(run_to_end(ex, &opt, r, run), NMERR_SUCCESS);
    CHECK(r->returned);
    CHECK(r->run_value);
    return p;
}

static const apiprobe_t *run_apiprobe(nmx_run_result *r, nmx_run **run, nmx_expert **exp)
{
    return run_apiprobe_on(NULL, r, run, exp);
}

TEST(test_h2_h9_startup_info_is_always_given_and_copied)
{
    nmx_run_result r;
    nmx_run *run = NULL;
    nmx_expert *ex = NULL;
    const apiprobe_t *p = run_apiprobe(&r, &run, &ex);
    if (!p) {
        nmx_expert_unload(ex);
        return;
    }
    CHECK(p->si_nonnull);
    CHECK(p->hcapture_nonnull); /* capture NULL in the options: the empty capture */
    CHECK_EQ(p->startup_flags, EXPERT_STARTUP_FLAG_USE_STARTUP_DATA_OVER_CONFIG_DATA);
    CHECK(p->config_null);
    CHECK_EQ(p->getstartup_rc, NMERR_SUCCESS);
    CHECK(p->copy_same);
    CHECK_EQ(p->frame_number, INVALID_FRAME_NUMBER);
    CHECK(streq(p->capture_file, ""));
    CHECK_EQ(p->total_frames, 0);
    CHECK_EQ(p->getstartup_null_rc, NMERR_INVALID_PARAMETER);
    CHECK_EQ(p->getstartup_badkey_rc, NMERR_INVALID_EXPERT_HANDLE);
    CHECK_EQ(p->getstartup_forgedkey_rc, NMERR_INVALID_EXPERT_HANDLE);
    if (run)
        nmx_run_free(run);
    nmx_expert_unload(ex);
}

/* With a real capture the startup info names it (H2). Uses a capture of the
 * shared corpus; skipped where it is absent. */
TEST(test_h2_startup_info_names_the_capture)
{
    const char *shared = getenv("NMX_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/captures/tcpdump/dns_tcp.pcap",
             shared ? shared : "/work/shared");
    if (access(path, R_OK) != 0)
        SKIP_HERE("the shared capture corpus is absent");
    char err[4096];
    nmx_capture *cap = NULL;
    CHECK_EQ(nmx_capture_open(path, &cap, err, sizeof err), NMERR_SUCCESS);
    if (!cap)
        return;
    nmx_run_result r;
    nmx_run *run = NULL;
    nmx_expert *ex = NULL;
    const apiprobe_t *p = run_apiprobe_on(cap, &r, &run, &ex);
    if (p) {
        CHECK(p->si_nonnull);
        CHECK(p->copy_same);
        CHECK_EQ(p->total_frames, nmx_capture_frames(cap));
        CHECK(p->total_frames > 0);
        CHECK(streq(p->capture_file, nmx_capture_path(cap)));
        CHECK(p->capture_file[0] != '\0');
    }
    if (run)
        nmx_run_free(run);
    nmx_expert_unload(ex);
    nmx_capture_close(cap);
}

TEST(test_h8_invalid_events_are_refused_and_not_recorded)
{
    nmx_run_result r;
    nmx_run *run = NULL;
    nmx_expert *ex = NULL;
    const apiprobe_t *p = run_apiprobe(&r, &run, &ex);
    if (!p) {
        nmx_expert_unload(ex);
        return;
    }
    CHECK_EQ(p->status_badkey_rc, NMERR_INVALID_EXPERT_HANDLE);
    CHECK_EQ(p->submit_badkey_rc, NMERR_INVALID_EXPERT_HANDLE);
    CHECK_EQ(p->submit_null_rc, NMERR_INVALID_PARAMETER);
    CHECK_EQ(p->submit_badtype_rc, NMERR_INVALID_PARAMETER);
    CHECK_EQ(p->submit_overcols_rc, NMERR_INVALID_PARAMETER);
    CHECK_EQ(p->submit_ok_rc, NMERR_SUCCESS);
    CHECK_EQ(p->status_ok_rc, NMERR_SUCCESS);
    CHECK_EQ(r.events, 1);
    /* The host's own validation of an event that is not in the expert's heap
     * (a stack NMEVENTDATA, which the samples' style allows) must not be
     * counted as an invalid call of the expert (M9 counts the expert's). */
    CHECK_EQ(r.mem.bad_foreign, 0);
    const NMEVENTDATA *ev = run ? only_event(run) : NULL;
    CHECK(ev != NULL);
    if (ev) {
        CHECK_EQ(ev->EventIdent, 7);
        CHECK(streq(ev->szEventName, "valid"));
        CHECK_EQ(ev->NumColumns, 0);
    }
    if (run)
        nmx_run_free(run);
    nmx_expert_unload(ex);
}

/* ---- H7: status during the run; wait/free while running ---- */

typedef struct status_seen {
    atomic_int calls;
    EXPERTSTATUS last[3];
} status_seen;

static void record_status(nmx_run *run, const EXPERTSTATUS *st, void *ctx)
{
    (void)run;
    status_seen *s = ctx;
    int n = atomic_load(&s->calls);
    if (n < 3)
        s->last[n] = *st;
    atomic_store(&s->calls, n + 1);
}

/* Polls the run's status until pred holds (5 s at most). */
static int wait_status(nmx_run *run, EXPERTSTATUSENUMERATION st, DWORD sub, DWORD pct,
                       EXPERTSTATUS *out)
{
    for (int i = 0; i < 5000; i++) {
        if (nmx_run_status(run, out) == NMERR_SUCCESS && out->Status == st &&
            out->SubStatus == sub && out->PercentDone == pct)
            return 1;
        sleep_ms(1);
    }
    fprintf(stderr, "  status never became %d/%u/%u (last %d/%u/%u \"%s\")\n", (int)st,
            (unsigned)sub, (unsigned)pct, (int)out->Status, (unsigned)out->SubStatus,
            (unsigned)out->PercentDone, out->szStatusText);
    return 0;
}

TEST(test_h7_status_is_cut_clamped_and_visible_during_the_run)
{
    nmx_expert *ex = load_test_expert("statusprobe");
    CHECK(ex != NULL);
    if (!ex)
        return;
    atomic_int *go = expert_sym(ex, "statusprobe_go");
    DWORD *rcs = expert_sym(ex, "statusprobe_rc");
    CHECK(go && rcs);
    if (!go || !rcs) {
        nmx_expert_unload(ex);
        return;
    }
    atomic_store(go, 0);
    status_seen seen;
    memset(&seen, 0, sizeof seen);
    atomic_init(&seen.calls, 0);
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.progress = record_status;
    opt.progress_ctx = &seen;
    nmx_run *run = NULL;
    CHECK_EQ(nmx_run_start(ex, &opt, &run), NMERR_SUCCESS);
    if (!run) {
        nmx_expert_unload(ex);
        return;
    }
    EXPERTSTATUS st;
    /* 1: 400 characters, 150 % */
    CHECK(wait_status(run, EXPERTSTATUS_RUNNING, 7, 99, &st));
    CHECK_EQ(strlen(st.szStatusText), 259);
    CHECK_EQ(mu_first_not(st.szStatusText, 259, 'A'), MU_NONE);
    /* while it runs: no result yet, and it cannot be freed */
    nmx_run_result res;
    CHECK_EQ(nmx_run_wait(run, 0, &res), NMERR_TIMEOUT);
    CHECK_EQ(nmx_run_wait(run, 20, &res), NMERR_TIMEOUT);
    CHECK_EQ(nmx_run_free(run), NMERR_PENDING);
    /* the event it submitted before step 1 is visible already, one by one
     * (nmx_run_event); the whole array only once the run has ended */
    size_t nev = 99;
    CHECK(nmx_run_events(run, &nev) == NULL);
    CHECK_EQ(nev, 0);
    CHECK_EQ(nmx_run_event_count(run), 1);
    const NMEVENTDATA *ev0 = nmx_run_event(run, 0);
    CHECK(ev0 != NULL);
    if (ev0)
        CHECK(streq(ev0->szEventName, "before step 1"));
    CHECK(nmx_run_event(run, 1) == NULL);
    atomic_store(go, 1);
    /* 2: NULL text, -5 % */
    CHECK(wait_status(run, EXPERTSTATUS_PROBLEM, 3, 0, &st));
    CHECK(streq(st.szStatusText, ""));
    atomic_store(go, 2);
    /* 3: plain */
    CHECK(wait_status(run, EXPERTSTATUS_RUNNING, 0, 42, &st));
    CHECK(streq(st.szStatusText, "third"));
    atomic_store(go, 3);
    CHECK_EQ(nmx_run_wait(run, WAIT_MS, &res), NMERR_SUCCESS);
    CHECK(res.run_value);
    CHECK_EQ(res.status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(res.status.PercentDone, 100);
    CHECK_EQ(nmx_run_status(run, &st), NMERR_SUCCESS);
    CHECK_EQ(st.Status, EXPERTSTATUS_DONE);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(rcs[i], NMERR_SUCCESS);
    /* the callback saw each report as the host recorded it */
    CHECK_EQ(atomic_load(&seen.calls), 3);
    CHECK_EQ(seen.last[0].PercentDone, 99);
    CHECK_EQ(strlen(seen.last[0].szStatusText), 259);
    CHECK_EQ(seen.last[1].Status, EXPERTSTATUS_PROBLEM);
    CHECK_EQ(seen.last[1].PercentDone, 0);
    CHECK(streq(seen.last[1].szStatusText, ""));
    CHECK_EQ(seen.last[2].PercentDone, 42);
    CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
    nmx_expert_unload(ex);
}

/* The event calls while the run goes on are safe; statusprobe's event is
 * checked in the H7 test. */
TEST(test_h8_events_call_is_safe_while_the_run_goes_on)
{
    nmx_expert *ex = load_test_expert("honours_terminate");
    CHECK(ex != NULL);
    if (!ex)
        return;
    /* honours_terminate submits nothing before terminate: 0 so far, and the
     * call is safe while it runs. */
    nmx_run *run = NULL;
    CHECK_EQ(nmx_run_start(ex, NULL, &run), NMERR_SUCCESS);
    if (run) {
        size_t n = 99;
        nmx_run_events(run, &n);
        CHECK_EQ(n, 0);
        CHECK_EQ(nmx_run_event_count(run), 0);
        CHECK(nmx_run_event(run, 0) == NULL);
        nmx_run_terminate(run);
        CHECK_EQ(nmx_run_wait(run, WAIT_MS, NULL), NMERR_SUCCESS);
        nmx_run_free(run);
    }
    nmx_expert_unload(ex);
}

/* ---- H4: terminate ---- */

/* honours_terminate's record (tests/experts/honours_terminate.c). */
typedef struct honours_probe_t {
    int reached;
    unsigned loops;
    DWORD first_terminate;
    DWORD alloc_rc;
    int alloc_null;
    DWORD realloc_rc;
    int realloc_null;
    SIZE_T held_size_after_realloc;
    DWORD status_rc, submit_rc, getframe_rc, startup_rc;
    int have_getframe;
    SIZE_T free_rc;
    SIZE_T held_size_after_free;
    SIZE_T free_again_rc;
    SIZE_T free_null_rc;
} honours_probe_t;

/* Starts honours_terminate and waits until it has reported `reports` times. */
static nmx_run *start_honours(nmx_expert *ex, const nmx_run_options *base, progress_log *pl,
                              int reports)
{
    nmx_run_options opt;
    if (base)
        opt = *base;
    else
        memset(&opt, 0, sizeof opt);
    atomic_init(&pl->calls, 0);
    atomic_init(&pl->bad_percent, 0);
    atomic_init(&pl->last_percent, 0);
    opt.progress = on_progress;
    opt.progress_ctx = pl;
    nmx_run *run = NULL;
    CHECK_EQ(nmx_run_start(ex, &opt, &run), NMERR_SUCCESS);
    for (int i = 0; run && i < 5000 && atomic_load(&pl->calls) < reports; i++)
        sleep_ms(1);
    return run;
}

TEST(test_h4_terminate_makes_every_call_say_so_and_free_still_frees)
{
    nmx_expert *ex = load_test_expert("honours_terminate");
    CHECK(ex != NULL);
    if (!ex)
        return;
    honours_probe_t *p = expert_sym(ex, "honours_probe");
    CHECK(p != NULL);
    progress_log pl;
    nmx_run *run = start_honours(ex, NULL, &pl, 5);
    CHECK(run != NULL);
    if (!run || !p) {
        nmx_expert_unload(ex);
        return;
    }
    CHECK(atomic_load(&pl.calls) >= 5);
    EXPERTSTATUS st;
    CHECK_EQ(nmx_run_status(run, &st), NMERR_SUCCESS);
    CHECK_EQ(st.Status, EXPERTSTATUS_RUNNING);
    double t0 = now_s();
    CHECK_EQ(nmx_run_terminate(run), NMERR_SUCCESS);
    CHECK_EQ(nmx_run_terminate(run), NMERR_SUCCESS); /* idempotent */
    nmx_run_result r;
    CHECK_EQ(nmx_run_wait(run, 5000, &r), NMERR_SUCCESS);
    double took = now_s() - t0;
    CHECK(took < 1.0);
    CHECK(r.returned);
    CHECK(r.run_value);
    CHECK(r.terminated);
    CHECK(!r.timed_out);
    CHECK(!r.hung);
    CHECK_EQ(r.fault_signal, 0);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_ABORTED);
    CHECK_EQ(r.status.SubStatus, EXPERTSUBSTATUS_ABORTED_USER);
    CHECK_EQ(r.mem.live_blocks, 0); /* it freed its block after terminate (M6) */
    CHECK(r.mem.failed_terminate >= 2);
    CHECK_EQ(r.events, 0);
    CHECK(p->reached);
    CHECK(p->first_terminate >= 1 && p->first_terminate <= 3);
    CHECK(p->alloc_null);
    CHECK_EQ(p->alloc_rc, NMERR_EXPERT_TERMINATE);
    CHECK(p->realloc_null);
    CHECK_EQ(p->realloc_rc, NMERR_EXPERT_TERMINATE);
    CHECK_EQ(p->held_size_after_realloc, 100); /* the failed realloc left it */
    CHECK_EQ(p->status_rc, NMERR_EXPERT_TERMINATE);
    CHECK_EQ(p->submit_rc, NMERR_EXPERT_TERMINATE);
    if (p->have_getframe)
        CHECK_EQ(p->getframe_rc, NMERR_EXPERT_TERMINATE);
    else
        printf("note: ExpertGetFrame is not in this build; its terminate code is unchecked\n");
    CHECK_EQ(p->free_rc, NMERR_EXPERT_TERMINATE);
    CHECK_EQ(p->held_size_after_free, 0); /* ... and the block was released */
    CHECK(p->free_again_rc == NMERR_INVALID_PARAMETER ||
          p->free_again_rc == NMERR_EXPERT_TERMINATE);
    CHECK(p->free_null_rc == NMERR_SUCCESS || p->free_null_rc == NMERR_EXPERT_TERMINATE);
    /* terminate after the end changes nothing */
    CHECK_EQ(nmx_run_terminate(run), NMERR_SUCCESS);
    nmx_run_result again;
    CHECK_EQ(nmx_run_wait(run, 0, &again), NMERR_SUCCESS);
    CHECK_EQ(again.status.SubStatus, EXPERTSUBSTATUS_ABORTED_USER);
    CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
    nmx_expert_unload(ex);
}

TEST(test_h4_time_limit_terminates_the_run)
{
    nmx_expert *ex = load_test_expert("honours_terminate");
    CHECK(ex != NULL);
    if (!ex)
        return;
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.time_limit_ms = 200;
    nmx_run_result r;
    CHECK_EQ(run_to_end(ex, &opt, &r, NULL), NMERR_SUCCESS);
    CHECK(r.returned);
    CHECK(r.terminated);
    CHECK(r.timed_out);
    CHECK(!r.hung);
    CHECK_EQ(r.status.Status, EXPERTSTATUS_ABORTED);
    CHECK(r.wall_seconds >= 0.19);
    CHECK(r.wall_seconds < 2.0);
    CHECK_EQ(r.mem.live_blocks, 0);
    nmx_expert_unload(ex);
}

TEST(test_h4_time_limit_does_not_touch_a_run_that_finishes_in_time)
{
    nmx_expert *ex = load_test_expert("wellbehaved");
    CHECK(ex != NULL);
    if (!ex)
        return;
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.time_limit_ms = 20000;
    nmx_run_result r;
    nmx_run *run;
    CHECK_EQ(run_to_end(ex, &opt, &r, &run), NMERR_SUCCESS);
    check_wellbehaved(&r, run);
    CHECK(!r.terminated);
    CHECK(!r.timed_out);
    if (run)
        nmx_run_free(run);
    nmx_expert_unload(ex);
}

/* ---- M15: Configure ---- */

static const char *blob_text(const EXPERTCONFIG *c)
{
    return c && c->RawConfigLength > sizeof(DWORD) ? (const char *)c->RawConfigData : "";
}

static void expect_blob(const EXPERTCONFIG *c, unsigned gen)
{
    char want[1024];
    int head = snprintf(want, sizeof want, "gen=%u;pad=", gen);
    memset(want + head, 'x', 100u * gen);
    want[head + (int)(100u * gen)] = '\0';
    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_EQ(c->RawConfigLength, sizeof(DWORD) + strlen(want) + 1);
    CHECK(streq(blob_text(c), want));
}

TEST(test_m15_configure_grows_the_blob_and_sees_it_again)
{
    nmx_expert *ex = load_test_expert("configurable");
    CHECK(ex != NULL);
    if (!ex)
        return;
    EXPERTCONFIG *one = NULL, *two = NULL;
    BOOL ret = FALSE;
    CHECK_EQ(nmx_expert_configure(ex, NULL, NULL, &one, &ret), NMERR_SUCCESS);
    CHECK(ret);
    expect_blob(one, 1);
    /* The stored blob goes in; the expert reallocates it bigger under the
     * Configure key; the host hands back the bigger one. */
    ret = FALSE;
    CHECK_EQ(nmx_expert_configure(ex, one, NULL, &two, &ret), NMERR_SUCCESS);
    CHECK(ret);
    expect_blob(two, 2);
    if (one && two)
        CHECK(two->RawConfigLength == one->RawConfigLength + 100);
    expect_blob(one, 1); /* the caller's blob is the caller's, untouched */
    EXPERTCONFIG *three = NULL;
    CHECK_EQ(nmx_expert_configure(ex, two, NULL, &three, NULL), NMERR_SUCCESS);
    expect_blob(three, 3);
    free(one);
    free(two);
    free(three);
    nmx_expert_unload(ex);
}

TEST(test_m15_run_sees_the_configuration_blob)
{
    nmx_expert *ex = load_test_expert("configurable");
    CHECK(ex != NULL);
    if (!ex)
        return;
    EXPERTCONFIG *a = NULL, *b = NULL;
    CHECK_EQ(nmx_expert_configure(ex, NULL, NULL, &a, NULL), NMERR_SUCCESS);
    CHECK_EQ(nmx_expert_configure(ex, a, NULL, &b, NULL), NMERR_SUCCESS);
    CHECK(b != NULL);
    if (!b)
        goto out;
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.config = b;
    nmx_run_result r;
    nmx_run *run;
    CHECK_EQ(run_to_end(ex, &opt, &r, &run), NMERR_SUCCESS);
    CHECK(r.run_value);
    const NMEVENTDATA *ev = run ? only_event(run) : NULL;
    CHECK(ev != NULL);
    if (ev && ev->NumColumns == 2) {
        CHECK(streq(ev->Column[0].VariantData.Value.pStringVal, blob_text(b)));
        CHECK_EQ(ev->Column[1].VariantData.Value.Uint32Val, b->RawConfigLength);
    }
    /* The blob is the host's copy, not a leak of the expert's: the expert
     * freed everything it allocated. */
    CHECK_EQ(r.mem.allocs - r.mem.frees, 0);
    CHECK_EQ(r.mem.live_blocks, 0);
    if (r.mem.live_blocks)
        fprintf(stderr, "  ledger counts %llu block(s), %llu bytes: the host's copy of the "
                        "config (RawConfigLength %u) is reported as the expert's leak\n",
                (unsigned long long)r.mem.live_blocks, (unsigned long long)r.mem.live_bytes,
                (unsigned)b->RawConfigLength);
    if (run)
        nmx_run_free(run);
    /* Without a blob, Run gets NULL. */
    CHECK_EQ(run_to_end(ex, NULL, &r, &run), NMERR_SUCCESS);
    ev = run ? only_event(run) : NULL;
    if (ev && ev->NumColumns == 2) {
        CHECK(streq(ev->Column[0].VariantData.Value.pStringVal, "none"));
        CHECK_EQ(ev->Column[1].VariantData.Value.Uint32Val, 0);
    }
    CHECK_EQ(r.mem.live_blocks, 0);
    if (run)
        nmx_run_free(run);
out:
    free(a);
    free(b);
    nmx_expert_unload(ex);
}

TEST(test_m15_configure_refusals)
{
    nmx_expert *plain = load_test_expert("wellbehaved");
    nmx_expert *cfg = load_test_expert("configurable");
    CHECK(plain && cfg);
    EXPERTCONFIG *out = (EXPERTCONFIG *)(uintptr_t)1;
    if (plain) {
        CHECK_EQ(nmx_expert_configure(plain, NULL, NULL, &out, NULL), NMERR_NOT_SUPPORTED);
        CHECK(out == NULL);
    }
    CHECK_EQ(nmx_expert_configure(NULL, NULL, NULL, &out, NULL), NMERR_INVALID_PARAMETER);
    if (cfg)
        CHECK_EQ(nmx_expert_configure(cfg, NULL, NULL, NULL, NULL), NMERR_INVALID_PARAMETER);
    nmx_expert_unload(plain);
    nmx_expert_unload(cfg);
}

static DWORD configure_with(nmx_expert *ex, const char *word, EXPERTCONFIG **out)
{
    unsigned char buf[64];
    EXPERTCONFIG *in = (EXPERTCONFIG *)(void *)buf;
    in->RawConfigLength = (DWORD)(sizeof(DWORD) + strlen(word) + 1);
    memcpy(in->RawConfigData, word, strlen(word) + 1);
    *out = (EXPERTCONFIG *)(uintptr_t)1;
    return nmx_expert_configure(ex, in, NULL, out, NULL);
}

TEST(test_m15_configure_that_misbehaves_is_contained)
{
    nmx_expert *ex = load_test_expert("badconfig");
    CHECK(ex != NULL);
    if (!ex)
        return;
    EXPERTCONFIG *out;
    CHECK_EQ(configure_with(ex, "crash", &out), NMERR_INTERNAL_EXCEPTION);
    CHECK(out == NULL);
    CHECK_EQ(configure_with(ex, "lie", &out), NMERR_INVALID_DATA);
    CHECK(out == NULL);
    CHECK_EQ(configure_with(ex, "static", &out), NMERR_INVALID_DATA);
    CHECK(out == NULL);
    CHECK_EQ(configure_with(ex, "drop", &out), NMERR_SUCCESS);
    CHECK(out == NULL);
    CHECK_EQ(configure_with(ex, "anything", &out), NMERR_SUCCESS);
    CHECK(out != NULL && out != (EXPERTCONFIG *)(uintptr_t)1);
    if (out && out != (EXPERTCONFIG *)(uintptr_t)1) {
        CHECK_EQ(out->RawConfigLength, sizeof(DWORD) + 3);
        CHECK(streq((const char *)out->RawConfigData, "ok"));
        free(out);
    }
    /* no Configure key outlives its call */
    nmx_heap_stats hs;
    CHECK_EQ(nmx_heap_stats_get(&hs), NMERR_SUCCESS);
    CHECK_EQ(hs.keys_live, 0);
    nmx_expert_unload(ex);
}

/* ---- bad input to every host function ---- */

TEST(test_host_functions_refuse_null_arguments)
{
    nmx_expert *ex = load_test_expert("wellbehaved");
    CHECK(ex != NULL);
    nmx_expert *out = (nmx_expert *)(uintptr_t)1;
    char err[256];
    CHECK_EQ(nmx_expert_load(NULL, &out, err, sizeof err), NMERR_INVALID_PARAMETER);
    CHECK(out == NULL);
    CHECK_EQ(nmx_expert_load(NMX_TEST_EXPERTS_DIR "/leaky.so", NULL, err, sizeof err),
             NMERR_INVALID_PARAMETER);
    CHECK(nmx_expert_info(NULL) == NULL);
    CHECK(nmx_expert_path(NULL) == NULL);
    nmx_expert_unload(NULL);
    CHECK_EQ(nmx_expert_scan(NULL, NULL, NULL, NULL), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_expert_scan(NMX_TEST_EXPERTS_DIR "/no_such_folder", NULL, NULL, NULL),
             NMERR_PATH_NOT_FOUND);

    nmx_run *run = (nmx_run *)(uintptr_t)1;
    CHECK_EQ(nmx_run_start(NULL, NULL, &run), NMERR_INVALID_PARAMETER);
    CHECK(run == NULL);
    if (ex)
        CHECK_EQ(nmx_run_start(ex, NULL, NULL), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_run_terminate(NULL), NMERR_INVALID_PARAMETER);
    nmx_run_result r;
    CHECK_EQ(nmx_run_wait(NULL, 0, &r), NMERR_INVALID_PARAMETER);
    EXPERTSTATUS st;
    CHECK_EQ(nmx_run_status(NULL, &st), NMERR_INVALID_PARAMETER);
    size_t n = 7;
    CHECK(nmx_run_events(NULL, &n) == NULL);
    CHECK_EQ(n, 0);
    CHECK(nmx_run_events(NULL, NULL) == NULL);
    CHECK_EQ(nmx_run_free(NULL), NMERR_INVALID_PARAMETER);

    /* A real run: NULL out-pointers of the per-run calls; NULL options. */
    if (ex) {
        run = NULL;
        CHECK_EQ(nmx_run_start(ex, NULL, &run), NMERR_SUCCESS);
        if (run) {
            CHECK_EQ(nmx_run_status(run, NULL), NMERR_INVALID_PARAMETER);
            CHECK_EQ(nmx_run_wait(run, WAIT_MS, NULL), NMERR_SUCCESS);
            CHECK(nmx_run_events(run, NULL) != NULL);
            CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
        }
    }
    nmx_expert_unload(ex);
}

TEST(test_run_wait_times_out_and_free_is_pending_while_running)
{
    nmx_expert *ex = load_test_expert("honours_terminate");
    CHECK(ex != NULL);
    if (!ex)
        return;
    progress_log pl;
    nmx_run *run = start_honours(ex, NULL, &pl, 1);
    CHECK(run != NULL);
    if (run) {
        nmx_run_result r;
        CHECK_EQ(nmx_run_wait(run, 0, &r), NMERR_TIMEOUT);
        double t0 = now_s();
        CHECK_EQ(nmx_run_wait(run, 100, &r), NMERR_TIMEOUT);
        double took = now_s() - t0;
        CHECK(took >= 0.09 && took < 2.0);
        CHECK_EQ(nmx_run_free(run), NMERR_PENDING);
        nmx_run_terminate(run);
        CHECK_EQ(nmx_run_wait(run, WAIT_MS, &r), NMERR_SUCCESS);
        CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
    }
    nmx_expert_unload(ex);
}

/* ---- H3, H5, M12: the process's memory comes back ---- */

TEST(test_h5_m12_memory_returns_after_repeated_leaks_and_faults)
{
    static const char *const names[] = {"leaky", "nullderef", "divzero", "abort", "recurse"};
    enum { NEXP = sizeof names / sizeof *names };
    static const int rounds[NEXP] = {50, 50, 50, 50, 10}; /* each recurse touches 8 MiB of stack */
    nmx_expert *ex[NEXP];
    int ok = 1;
    for (int i = 0; i < NEXP; i++)
        if (!(ex[i] = load_test_expert(names[i])))
            ok = 0;
    CHECK(ok);
    if (!ok)
        goto out;
    /* Warm up: first uses of threads, the trap, malloc arenas. */
    for (int i = 0; i < NEXP; i++) {
        nmx_run_result r;
        run_to_end(ex[i], NULL, &r, NULL);
    }
    nmx_heap_trim();
    nmx_heap_stats h0, h1;
    CHECK_EQ(nmx_heap_stats_get(&h0), NMERR_SUCCESS);
    long rss0 = mu_rss_kb();
    uint64_t leaked = 0;
    for (int i = 0; i < NEXP; i++) {
        for (int k = 0; k < rounds[i]; k++) {
            nmx_run_result r;
            CHECK_EQ(run_to_end(ex[i], NULL, &r, NULL), NMERR_SUCCESS);
            CHECK_EQ(r.mem.live_blocks, 1);
            leaked += r.mem.live_bytes;
            if (i > 0)
                CHECK(r.fault_signal != 0);
        }
    }
    nmx_heap_trim();
    CHECK_EQ(nmx_heap_stats_get(&h1), NMERR_SUCCESS);
    long rss1 = mu_rss_kb();
    CHECK_EQ(h1.segments_in_use, h0.segments_in_use);
    CHECK_EQ(h1.huge_bytes_in_use, h0.huge_bytes_in_use);
    CHECK_EQ(h1.keys_live, h0.keys_live);
    /* 160 MiB went through keys that were reclaimed; the process holds no
     * more than a few MiB of it (malloc arenas, the segment cache). */
    long tolerance_kb = UNDER_ASAN ? 32 * 1024 : 8 * 1024;
    CHECK(leaked >= 150ull * MIB);
    CHECK(rss0 > 0 && rss1 > 0);
    CHECK(rss1 - rss0 < tolerance_kb);
    printf("note: VmRSS %ld kB before, %ld kB after %llu MiB reclaimed\n", rss0, rss1,
           (unsigned long long)(leaked / MIB));
out:
    for (int i = 0; i < NEXP; i++)
        nmx_expert_unload(ex[i]);
}

/* ---- C4: an expert's own filters (nmx_ExpertCreateFilter) ---- */

#include "test_capture_util.h"

/* C4, H4: an expert compiles BPF filters for its run's capture, walks with
 * them, gets libpcap's message for a bad expression, NMERR_INVALID_HFILTER for
 * a second destroy and for a forged filter; what it leaves the host destroys
 * with the run. */
TEST(test_c4_expert_filters_count_frames_and_are_released_with_the_run)
{
    uint8_t fr[5][128];
    tframe t[5];
    static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    for (int i = 0; i < 5; i++) {
        uint8_t *p = fr[i];
        size_t n = eth_hdr(p, 0x0800);
        int udp = i >= 3;
        n += ipv4_hdr(p + n, udp ? 17 : 6, 0, udp ? 8 : 20, 0, a, b);
        n += udp ? udp_hdr(p + n, 5000, 53, 0) : tcp_hdr(p + n, 5000, 80, (uint32_t)i, 0x18, 0);
        t[i] = (tframe){p, (uint32_t)n, (uint32_t)n, (int64_t)i * 1000, 0};
    }
    char path[] = "/tmp/nmx-filtering-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    CHECK(write_pcap(path, 1, 0, 0, t, 5));
    nmx_capture *cap = NULL;
    char err[512];
    CHECK_EQ(nmx_capture_open(path, &cap, err, sizeof err), NMERR_SUCCESS);
    nmx_expert *ex = load_test_expert("filtering");
    CHECK(ex != NULL);
    if (cap && ex) {
        nmx_run_options o;
        memset(&o, 0, sizeof o);
        o.capture = cap;
        nmx_run *run = NULL;
        CHECK_EQ(nmx_run_start(ex, &o, &run), NMERR_SUCCESS);
        nmx_run_result res;
        CHECK_EQ(nmx_run_wait(run, WAIT_MS, &res), NMERR_SUCCESS);
        CHECK(res.returned && res.run_value);
        CHECK_EQ(res.mem.live_blocks, 0);
        CHECK_EQ(res.mem.bad_foreign + res.mem.bad_interior, 0);
        size_t n = 0;
        const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
        CHECK_EQ(n, 1);
        if (ev && n == 1 && ev[0]->NumColumns == 5) {
            CHECK_EQ(ev[0]->Column[0].VariantData.Value.Uint32Val, 3);
            CHECK_EQ(ev[0]->Column[1].VariantData.Value.Uint32Val, 2);
            CHECK_EQ(ev[0]->Column[2].VariantData.Value.Uint32Val, NMERR_FILTER_INVALID_EXPRESSION);
            CHECK_EQ(ev[0]->Column[3].VariantData.Value.Uint32Val, NMERR_INVALID_HFILTER);
            CHECK_EQ(ev[0]->Column[4].VariantData.Value.Uint32Val, NMERR_INVALID_HFILTER);
        }
        CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
    }
    /* the expert's filters were destroyed with its run: none is live */
    CHECK_EQ(nmx_capture_close(cap), NMERR_SUCCESS);
    nmx_expert_unload(ex);
    unlink(path);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    install_chained_handlers(); /* before the host's trap exists */
    RUN(test_h1_load_fills_info_and_private_members);
    RUN(test_h1_rejects_module_without_run);
    RUN(test_h1_rejects_register_returning_false);
    RUN(test_h1_rejects_register_that_crashes);
    RUN(test_h1_rejects_unresolved_symbol);
    RUN(test_h1_rejects_non_elf_file);
    RUN(test_h1_rejects_missing_path);
    RUN(test_h1_rejects_directory);
    RUN(test_h1_load_error_buffer_is_optional_and_bounded);
    RUN(test_h1_scan_reports_each_rejection_and_loads_the_rest);
    RUN(test_h3_wellbehaved_run_is_done_with_result_and_empty_ledger);
    RUN(test_h3_leaky_ledger_is_the_event_it_left);
    RUN(test_m9_doublefree_and_foreign_frees_are_refused_and_counted);
    RUN(test_m8_overrun_then_every_free_succeeds);
    RUN(test_m11_quota_stops_the_expert_with_out_of_memory);
    RUN(test_h5_null_dereference_ends_only_that_run);
    RUN(test_h5_stack_overflow_is_caught_on_the_alternate_stack);
    RUN(test_h5_division_by_zero_ends_only_that_run);
    RUN(test_h5_illegal_instruction_ends_only_that_run);
    RUN(test_h5_bus_error_ends_only_that_run);
    RUN(test_h5_abort_ends_only_that_run_and_can_happen_again);
    RUN(test_h5_signals_outside_expert_threads_reach_earlier_handlers);
    RUN(test_h8_events_are_deep_copies_that_outlive_the_expert_buffers);
    RUN(test_h2_h9_startup_info_is_always_given_and_copied);
    RUN_CORPUS(test_h2_startup_info_names_the_capture);
    RUN(test_h8_invalid_events_are_refused_and_not_recorded);
    RUN(test_h7_status_is_cut_clamped_and_visible_during_the_run);
    RUN(test_h8_events_call_is_safe_while_the_run_goes_on);
    RUN(test_h4_terminate_makes_every_call_say_so_and_free_still_frees);
    RUN(test_h4_time_limit_terminates_the_run);
    RUN(test_h4_time_limit_does_not_touch_a_run_that_finishes_in_time);
    RUN(test_m15_configure_grows_the_blob_and_sees_it_again);
    RUN(test_m15_run_sees_the_configuration_blob);
    RUN(test_m15_configure_refusals);
    RUN(test_m15_configure_that_misbehaves_is_contained);
    RUN(test_host_functions_refuse_null_arguments);
    RUN(test_run_wait_times_out_and_free_is_pending_while_running);
    RUN(test_h5_m12_memory_returns_after_repeated_leaks_and_faults);
    RUN(test_c4_expert_filters_count_frames_and_are_released_with_the_run);
    return CHECK_DONE();
}
