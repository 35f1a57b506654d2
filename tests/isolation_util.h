/* Helpers of the isolation tests (test_isolation*.c): a run in a worker
 * process through the public run API (nmx_run_options.isolation, SPEC
 * H11), with the last status it reported; the same expert run in process
 * for comparison; deep comparison of events; the host's threads,
 * descriptors and VmRSS.
 */
#ifndef NMX_TESTS_ISOLATION_UTIL_H
#define NMX_TESTS_ISOLATION_UTIL_H

#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include "check.h"
#include "mem_util.h"

#include <dirent.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define IU_WAIT_MS 30000u

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#elif __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

typedef struct iu_run {
    nmx_expert *ex;
    nmx_run *run;
    nmx_run_result res;
    const NMEVENTDATA *const *ev; /* once ended */
    size_t nev;
    pthread_mutex_t mu;
    EXPERTSTATUS status; /* the last one reported (progress) */
    unsigned nstatus;
} iu_run;

static inline void iu_progress(nmx_run *run, const EXPERTSTATUS *st, void *ctx)
{
    (void)run;
    iu_run *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->status = *st;
    r->nstatus++;
    pthread_mutex_unlock(&r->mu);
}

static inline unsigned iu_nstatus(iu_run *r)
{
    pthread_mutex_lock(&r->mu);
    unsigned n = r->nstatus;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static inline void iu_expert_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.so", NMX_TEST_EXPERTS_DIR, name);
}

static inline nmx_expert *iu_load_path(const char *path)
{
    char err[8192];
    nmx_expert *ex = NULL;
    if (nmx_expert_load(path, &ex, err, sizeof err) != NMERR_SUCCESS)
        fprintf(stderr, "cannot load %s: %s\n", path, err);
    return ex;
}

static inline nmx_expert *iu_load(const char *name)
{
    char path[4096];
    iu_expert_path(path, sizeof path, name);
    return iu_load_path(path);
}

/* Starts the module at `path` in a worker with *opt's options (may be NULL;
 * its progress callback is replaced). */
static inline DWORD iu_start_path(iu_run *r, const char *path, const nmx_run_options *opt)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    if (!(r->ex = iu_load_path(path)))
        return NMERR_LOAD_EXPERT_FAILED;
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    if (opt)
        o = *opt;
    o.isolation = NMX_ISOLATION_PROCESS;
    o.progress = iu_progress;
    o.progress_ctx = r;
    DWORD rc = nmx_run_start(r->ex, &o, &r->run);
    if (rc != NMERR_SUCCESS)
        fprintf(stderr, "nmx_run_start %s: %s\n", path, nmx_strerror(rc));
    return rc;
}

static inline DWORD iu_start(iu_run *r, const char *name, const nmx_run_options *opt)
{
    char path[4096];
    iu_expert_path(path, sizeof path, name);
    return iu_start_path(r, path, opt);
}

/* Waits up to ms for the end; 1 if it came (then r->res, r->ev are set). */
static inline int iu_wait(iu_run *r, unsigned ms)
{
    if (!r->run || nmx_run_wait(r->run, ms, &r->res) != NMERR_SUCCESS)
        return 0;
    r->ev = nmx_run_events(r->run, &r->nev);
    return 1;
}

static inline void iu_finish(iu_run *r)
{
    CHECK(iu_wait(r, IU_WAIT_MS));
}

static inline void iu_release(iu_run *r)
{
    if (r->run)
        CHECK_EQ(nmx_run_free(r->run), NMERR_SUCCESS);
    nmx_expert_unload(r->ex);
    pthread_mutex_destroy(&r->mu);
    memset(r, 0, sizeof *r);
}

/* ---- comparing with the in-process run ---- */

static inline int iu_streq(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static inline int iu_event_equal(const NMEVENTDATA *a, const NMEVENTDATA *b)
{
    if (a->Version != b->Version || a->EventIdent != b->EventIdent || a->Flags != b->Flags ||
        a->Severity != b->Severity || a->NumColumns != b->NumColumns ||
        memcmp(&a->SysTime, &b->SysTime, sizeof a->SysTime) != 0 ||
        !iu_streq(a->szSourceName, b->szSourceName) || !iu_streq(a->szEventName, b->szEventName) ||
        !iu_streq(a->szDescription, b->szDescription) || !iu_streq(a->szMachine, b->szMachine) ||
        !iu_streq(a->Justification, b->Justification))
        return 0;
    for (unsigned i = 0; i < a->NumColumns; i++) {
        const NMCOLUMNINFO *x = &a->Column[i], *y = &b->Column[i];
        if (!iu_streq(x->szColumnName, y->szColumnName) ||
            x->VariantData.Type != y->VariantData.Type)
            return 0;
        if (x->VariantData.Type == NMCOLUMNTYPE_STRING
                ? !iu_streq(x->VariantData.Value.pStringVal, y->VariantData.Value.pStringVal)
                : memcmp(&x->VariantData.Value, &y->VariantData.Value,
                         sizeof x->VariantData.Value) != 0)
            return 0;
    }
    return 1;
}

/* The ledgers agree in every field (M14). */
static inline int iu_mem_equal(const nmx_mem_stats *a, const nmx_mem_stats *b)
{
    int same = memcmp(a, b, sizeof *a) == 0;
    if (!same)
        fprintf(stderr, "  ledgers differ: live %llu/%llu B, %llu/%llu blocks, allocs %llu/%llu, "
                "frees %llu/%llu, peak %llu/%llu\n",
                (unsigned long long)a->live_bytes, (unsigned long long)b->live_bytes,
                (unsigned long long)a->live_blocks, (unsigned long long)b->live_blocks,
                (unsigned long long)a->allocs, (unsigned long long)b->allocs,
                (unsigned long long)a->frees, (unsigned long long)b->frees,
                (unsigned long long)a->peak_bytes, (unsigned long long)b->peak_bytes);
    return same;
}

/* Runs r's expert in process with opt and checks that the isolated run r
 * gave the same events, final status and ledger (H11). */
static inline void iu_check_same_as_in_process(const nmx_run_options *opt, const iu_run *r)
{
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    if (opt)
        o = *opt;
    o.isolation = NMX_ISOLATION_THREAD;
    nmx_run *run = NULL;
    nmx_run_result res;
    CHECK_EQ(nmx_run_start(r->ex, &o, &run), NMERR_SUCCESS);
    if (!run)
        return;
    CHECK_EQ(nmx_run_wait(run, IU_WAIT_MS, &res), NMERR_SUCCESS);
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    CHECK_EQ(r->nev, n);
    for (size_t i = 0; i < n && i < r->nev; i++)
        if (!iu_event_equal(ev[i], r->ev[i])) {
            fprintf(stderr, "  event %zu differs\n", i);
            CHECK(0);
            break;
        }
    CHECK(iu_mem_equal(&r->res.mem, &res.mem));
    CHECK_EQ(r->res.returned, res.returned);
    CHECK_EQ(r->res.run_value, res.run_value);
    CHECK_EQ(r->res.fault_signal, res.fault_signal);
    CHECK_EQ(r->res.status.Status, res.status.Status);
    CHECK_EQ(r->res.status.SubStatus, res.status.SubStatus);
    CHECK_EQ(r->res.status.PercentDone, res.status.PercentDone);
    CHECK_EQ(r->res.status.Frame, res.status.Frame);
    CHECK(iu_streq(r->res.status.szStatusText, res.status.szStatusText));
    CHECK_EQ(r->res.events, res.events);
    CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
}

/* ---- the host's resources ---- */

static inline int iu_count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static inline int iu_threads(void)
{
    return iu_count_dir("/proc/self/task");
}

/* Open descriptors, the one reading the folder excluded. */
static inline int iu_fds(void)
{
    return iu_count_dir("/proc/self/fd") - 1;
}

#endif
