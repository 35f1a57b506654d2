/* Helpers of the isolation tests (test_isolation*.c): a run in a worker
 * process driven through src/host/isolate.h, with the bookkeeping run.c
 * keeps for a run (its events, last status, result) and the watchdog's
 * terminate / grace / kill; the same expert run in process for comparison;
 * deep comparison of events; the host's threads, descriptors and VmRSS.
 */
#ifndef NMX_TESTS_ISOLATION_UTIL_H
#define NMX_TESTS_ISOLATION_UTIL_H

#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include "check.h"
#include "host/isolate.h"
#include "mem_util.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    nmx__iso *w;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, hung, started;
    NMEVENTDATA **ev;
    size_t nev, cap;
    EXPERTSTATUS status; /* the last one reported */
    unsigned nstatus;
    nmx_run_result res;
} iu_run;

static inline void iu_on_status(void *ctx, const EXPERTSTATUS *st)
{
    iu_run *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->status = *st;
    r->nstatus++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static inline void iu_on_event(void *ctx, NMEVENTDATA *ev, size_t size)
{
    iu_run *r = ctx;
    (void)size;
    pthread_mutex_lock(&r->mu);
    if (r->nev == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        NMEVENTDATA **n = realloc(r->ev, nc * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&r->mu);
            free(ev);
            return;
        }
        r->ev = n;
        r->cap = nc;
    }
    r->ev[r->nev++] = ev;
    pthread_mutex_unlock(&r->mu);
}

static inline void *iu_serve(void *p)
{
    iu_run *r = p;
    nmx__iso_sink sink = {iu_on_status, iu_on_event, r};
    nmx_run_result res;
    memset(&res, 0, sizeof res);
    nmx__iso_serve(r->w, &sink, &res);
    pthread_mutex_lock(&r->mu);
    r->res = res;
    r->res.events = r->nev;
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static inline void iu_expert_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s.so", NMX_TEST_EXPERTS_DIR, name);
}

/* Starts `path` in a worker with *spec's options (may be NULL). */
static inline DWORD iu_start_path(iu_run *r, const char *path, const nmx__iso_spec *spec)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    nmx__iso_spec s;
    memset(&s, 0, sizeof s);
    if (spec)
        s = *spec;
    s.expert_path = path;
    DWORD rc = nmx__iso_start(&s, &r->w);
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmx__iso_start %s: %s\n", path, nmx_strerror(rc));
        return rc;
    }
    if (pthread_create(&r->thread, NULL, iu_serve, r) != 0)
        return NMERR_OUT_OF_MEMORY;
    r->started = 1;
    return rc;
}

static inline DWORD iu_start(iu_run *r, const char *name, const nmx__iso_spec *spec)
{
    char path[4096];
    iu_expert_path(path, sizeof path, name);
    return iu_start_path(r, path, spec);
}

/* Waits up to ms for the end; 1 if it came. */
static inline int iu_wait(iu_run *r, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        if (pthread_cond_timedwait(&r->cv, &r->mu, &until) == ETIMEDOUT)
            break;
    int done = r->done;
    pthread_mutex_unlock(&r->mu);
    return done;
}

/* What run.c's watchdog does (H4, H6, H11): after limit_ms, terminate; after
 * grace_ms more, declare it hung and kill it. Then the end always comes. */
static inline void iu_finish(iu_run *r, unsigned limit_ms, unsigned grace_ms)
{
    if (!r->started)
        return;
    if (!iu_wait(r, limit_ms)) {
        nmx__iso_terminate(r->w);
        if (!iu_wait(r, grace_ms)) {
            r->hung = 1;
            nmx__iso_kill(r->w);
        }
    }
    CHECK(iu_wait(r, IU_WAIT_MS));
}

static inline void iu_release(iu_run *r)
{
    if (r->started)
        pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->nev; i++)
        free(r->ev[i]);
    free(r->ev);
    nmx__iso_free(r->w);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    r->w = NULL;
    r->ev = NULL;
    r->started = 0;
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

/* Runs `ex` in process with opt and checks that the isolated run r gave
 * the same events, final status and ledger (H11). */
static inline void iu_check_same_as_in_process(nmx_expert *ex, const nmx_run_options *opt,
                                               const iu_run *r)
{
    nmx_run *run = NULL;
    nmx_run_result res;
    CHECK_EQ(nmx_run_start(ex, opt, &run), NMERR_SUCCESS);
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
    CHECK_EQ(r->res.status.Status, res.status.Status);
    CHECK_EQ(r->res.status.SubStatus, res.status.SubStatus);
    CHECK_EQ(r->res.status.PercentDone, res.status.PercentDone);
    CHECK(iu_streq(r->res.status.szStatusText, res.status.szStatusText));
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
    return n - 1; /* the directory's own descriptor (fd) or nothing (task) */
}

static inline int iu_threads(void)
{
    return iu_count_dir("/proc/self/task") + 1;
}

static inline int iu_fds(void)
{
    return iu_count_dir("/proc/self/fd");
}

#endif
