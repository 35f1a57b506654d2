/* Runs of experts (SPEC H2-H11): start, wait, terminate, free.
 *
 * A run owns a key, an expert thread and a watchdog thread. The expert
 * thread calls Run under the fault trap, then records the outcome and
 * destroys the key (the leak ledger). The watchdog enforces the time limit
 * and, after any terminate, the grace period: a run still going after it is
 * declared hung and left alone (its key cannot be reclaimed while its thread
 * may use it; run it isolated, H11, to have it killed).
 *
 * An isolated run (H11, run_iso.c) has no key here and a relay thread in
 * place of the expert thread; terminate goes to its worker, and a hung
 * worker is killed, which ends the run.
 *
 * Run's configuration is copied into pages of its own, outside the key: it
 * is the host's, so it counts neither against the key's quota nor in the
 * leak ledger, and an expert that frees it (NMERR_INVALID_PARAMETER: not its
 * block) or writes it cannot make the host free or read anything else.
 * (Configure is different: M15 puts the blob in the Configure key so the
 * expert can grow it; see configure.c.)
 */
#define _GNU_SOURCE
#include "host/isolate.h"
#include "host/run_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define DEFAULT_GRACE_MS 2000u

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) * 1e-9;
}

static struct timespec deadline_after(const struct timespec *t0, unsigned ms)
{
    struct timespec d = *t0;
    d.tv_sec += (time_t)(ms / 1000u);
    d.tv_nsec += (long)(ms % 1000u) * 1000000L;
    if (d.tv_nsec >= 1000000000L) {
        d.tv_sec++;
        d.tv_nsec -= 1000000000L;
    }
    return d;
}

nmx_run *nmx__run_alloc(nmx_expert *ex, const nmx_run_options *opt)
{
    nmx_run *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->expert = ex;
    if (opt)
        r->opt = *opt;
    if (!r->opt.grace_ms)
        r->opt.grace_ms = DEFAULT_GRACE_MS;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    clock_gettime(CLOCK_MONOTONIC, &r->start);
    r->status.Status = EXPERTSTATUS_STARTING;
    atomic_store_explicit(&r->last_frame, INVALID_FRAME_NUMBER, memory_order_relaxed);
    return r;
}

void nmx__run_filters_release(nmx_run *r)
{
    for (size_t i = 0; i < r->nfilters; i++)
        nmx_filter_destroy(r->filters[i]);
    free(r->filters);
    r->filters = NULL;
    r->nfilters = r->cap_filters = 0;
}

void nmx__run_release(nmx_run *r)
{
    nmx__iso_free(r->iso);
    nmx__run_filters_release(r);
    for (size_t i = 0; i < r->nevents; i++)
        free(r->events[i]);
    free(r->events);
    if (r->config)
        munmap(r->config, r->config_map);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

DWORD nmx__run_new_key(nmx_run *r)
{
    const EXPERTENUMINFO *info = nmx_expert_info(r->expert);
    nmx_key_options ko = {r->opt.quota_bytes, info ? info->szName : NULL};
    DWORD rc = nmx_key_create(&ko, &r->key);
    if (rc == NMERR_SUCCESS)
        nmx__key_set_context(r->key, r);
    return rc;
}

void nmx__run_fill_startup(nmx_run *r)
{
    r->startup.hCapture = r->opt.capture;
    r->startup.dwFrameNumber = INVALID_FRAME_NUMBER;
    const char *path = nmx_capture_path(r->opt.capture);
    if (path) {
        size_t n = strlen(path);
        if (n >= sizeof r->startup.szCaptureFile)
            n = sizeof r->startup.szCaptureFile - 1;
        memcpy(r->startup.szCaptureFile, path, n);
    }
}

/* Run's configuration in pages of its own (see the top). A blob shorter
 * than its length field is no blob: Run gets NULL, as without one. */
static DWORD config_map(nmx_run *r, const EXPERTCONFIG *cfg)
{
    if (!cfg || cfg->RawConfigLength < sizeof(DWORD))
        return NMERR_SUCCESS;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = ((size_t)cfg->RawConfigLength + page - 1) / page * page;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NMERR_OUT_OF_MEMORY;
    memcpy(p, cfg, cfg->RawConfigLength);
    r->config = p;
    r->config_map = len;
    return NMERR_SUCCESS;
}

/* ---- the expert thread ---- */

typedef struct run_call {
    nmx_run *r;
    BOOL value;
} run_call;

static void call_run(void *p)
{
    run_call *c = p;
    nmx_run *r = c->r;
    c->value = r->run_proc(r->key, r->config, &r->startup, r->opt.startup_flags, NULL);
}

static void record_outcome(nmx_run *r, int sig, const nmx_fault *f, BOOL value,
                           const nmx_mem_stats *mem)
{
    nmx_run_result *res = &r->result;
    res->returned = sig == 0;
    res->run_value = sig == 0 ? value : FALSE;
    res->fault_signal = sig;
    res->fault_address = sig ? f->addr : NULL;
    res->mem = *mem;
    if (sig) {
        r->status.Status = EXPERTSTATUS_ABORTED;
        r->status.SubStatus = EXPERTSUBSTATUS_ABORTED_THREAD_FAIL;
    } else if (r->terminated) {
        r->status.Status = EXPERTSTATUS_ABORTED;
        r->status.SubStatus = EXPERTSUBSTATUS_ABORTED_USER;
    } else if (r->status.Status != EXPERTSTATUS_PROBLEM) {
        r->status.Status = EXPERTSTATUS_DONE;
        r->status.PercentDone = 100;
    }
    res->wall_seconds = seconds_since(&r->start);
}

void nmx__run_record_isolated(nmx_run *r, const nmx_run_result *res, int killed)
{
    r->result.returned = res->returned;
    r->result.run_value = res->run_value;
    r->result.fault_signal = res->fault_signal;
    r->result.fault_address = res->fault_address;
    r->result.mem = res->mem;
    r->result.killed = killed;
    r->status = res->status;
    atomic_store_explicit(&r->last_frame, res->status.Frame, memory_order_relaxed);
    r->result.wall_seconds = seconds_since(&r->start);
}

static void *run_thread(void *arg)
{
    nmx_run *r = arg;
    nmx_altstack ss;
    nmx__trap_thread_enter(&ss);
    run_call c = {r, FALSE};
    nmx_fault f;
    int sig = nmx__trap_call(call_run, &c, &f);
    if (sig)
        nmx__key_recover_thread(r->key);
    nmx__trap_thread_leave(&ss);

    /* Destroy waits for every call still holding the key (a thread the
     * expert started may be in one); after it no call can reach the run. */
    nmx_mem_stats mem;
    memset(&mem, 0, sizeof mem);
    nmx_key_destroy(r->key, &mem);
    nmx__run_filters_release(r); /* they belonged to the key */

    pthread_mutex_lock(&r->mu);
    record_outcome(r, sig, &f, c.value, &mem);
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Tells the run's expert to stop: its key, or its worker (H4). */
static void tell_terminate(nmx_run *r)
{
    if (r->iso) {
        nmx__iso_terminate(r->iso);
    } else {
        nmx_key_terminate(r->key);
        if (r->opt.capture)
            nmx__capture_wake(r->opt.capture); /* a wait for a frame ends (C8) */
    }
}

/* Marks the run terminated (mu held). Returns 1 if the key must now be told,
 * which the caller does after releasing mu: nothing waits on a key's state
 * while holding the run's mutex. */
static int mark_terminated(nmx_run *r, int timed_out)
{
    if (r->terminated || r->done)
        return 0;
    r->terminated = 1;
    r->timed_out = timed_out;
    clock_gettime(CLOCK_MONOTONIC, &r->term_at);
    pthread_cond_broadcast(&r->cv);
    return 1;
}

/* The time limit, then the grace period after any terminate (H4, H6). */
static void *watchdog_thread(void *arg)
{
    nmx_run *r = arg;
    pthread_mutex_lock(&r->mu);
    struct timespec limit = deadline_after(&r->start, r->opt.time_limit_ms);
    while (!r->done) {
        if (!r->terminated) {
            int rc = r->opt.time_limit_ms ? pthread_cond_timedwait(&r->cv, &r->mu, &limit)
                                          : pthread_cond_wait(&r->cv, &r->mu);
            if (rc == ETIMEDOUT && mark_terminated(r, 1)) {
                pthread_mutex_unlock(&r->mu);
                tell_terminate(r);
                pthread_mutex_lock(&r->mu);
            }
        } else {
            struct timespec grace = deadline_after(&r->term_at, r->opt.grace_ms);
            if (!r->hung && pthread_cond_timedwait(&r->cv, &r->mu, &grace) == ETIMEDOUT &&
                !r->done) {
                r->hung = 1;
                pthread_cond_broadcast(&r->cv);
                if (!r->iso)
                    break;
                /* A worker can always be ended (H11): killed, it ends the run. */
                pthread_mutex_unlock(&r->mu);
                nmx__iso_kill(r->iso);
                pthread_mutex_lock(&r->mu);
            } else if (r->hung) {
                pthread_cond_wait(&r->cv, &r->mu);
            }
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

NMX_API DWORD nmx_run_start(nmx_expert *ex, const nmx_run_options *opt, nmx_run **out)
{
    if (out)
        *out = NULL;
    const EXPERTENUMINFO *info = nmx_expert_info(ex);
    if (!ex || !out || (!info->pRunProc && !nmx__expert_isolated(ex)))
        return NMERR_INVALID_PARAMETER;
    int isolated = opt && opt->isolation == NMX_ISOLATION_PROCESS;
    if (!isolated && nmx__expert_isolated(ex))
        return NMERR_NOT_SUPPORTED; /* its code never runs in this process */
    nmx_run *r = nmx__run_alloc(ex, opt);
    if (!r)
        return NMERR_OUT_OF_MEMORY;
    r->run_proc = info->pRunProc;
    if (isolated) {
        DWORD rc = nmx__run_start_isolated(r, opt);
        if (rc != NMERR_SUCCESS) {
            nmx__run_release(r);
            return rc;
        }
        r->have_watchdog = pthread_create(&r->watchdog, NULL, watchdog_thread, r) == 0;
        *out = r;
        return NMERR_SUCCESS;
    }
    if (!r->opt.capture)
        r->opt.capture = nmx__capture_empty();
    r->opt.config = NULL; /* the copy below is the run's */
    nmx__run_fill_startup(r);
    DWORD rc = config_map(r, opt ? opt->config : NULL);
    if (rc == NMERR_SUCCESS)
        rc = nmx__run_new_key(r);
    if (rc != NMERR_SUCCESS) {
        nmx__run_release(r);
        return rc;
    }
    if (pthread_create(&r->thread, NULL, run_thread, r) != 0) {
        nmx_key_destroy(r->key, NULL);
        nmx__run_release(r);
        return NMERR_OUT_OF_MEMORY;
    }
    r->have_watchdog = pthread_create(&r->watchdog, NULL, watchdog_thread, r) == 0;
    *out = r;
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_run_terminate(nmx_run *r)
{
    if (!r)
        return NMERR_INVALID_PARAMETER;
    pthread_mutex_lock(&r->mu);
    int tell = mark_terminated(r, 0);
    pthread_mutex_unlock(&r->mu);
    if (tell)
        tell_terminate(r);
    return NMERR_SUCCESS;
}

/* (mu held) A hung thread is the end of its run; a hung worker is killed,
 * and the run ends (with its ledger) when the worker is gone. */
static int run_ended(const nmx_run *r)
{
    return r->done || (r->hung && !r->iso);
}

NMX_API DWORD nmx_run_wait(nmx_run *r, unsigned timeout_ms, nmx_run_result *result)
{
    if (!r)
        return NMERR_INVALID_PARAMETER;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec until = deadline_after(&now, timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (!run_ended(r)) {
        int rc = timeout_ms == UINT32_MAX ? pthread_cond_wait(&r->cv, &r->mu)
                                          : pthread_cond_timedwait(&r->cv, &r->mu, &until);
        if (rc == ETIMEDOUT && !run_ended(r)) {
            pthread_mutex_unlock(&r->mu);
            return NMERR_TIMEOUT;
        }
    }
    if (result) {
        *result = r->result;
        result->status = r->status;
        result->status.Frame = atomic_load_explicit(&r->last_frame, memory_order_relaxed);
        result->terminated = r->terminated;
        result->timed_out = r->timed_out;
        result->hung = r->hung && (!r->done || r->iso);
        result->events = r->nevents;
        if (result->hung && !r->iso) {
            result->returned = FALSE;
            result->wall_seconds = seconds_since(&r->start);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_run_status(nmx_run *r, EXPERTSTATUS *out)
{
    if (!r || !out)
        return NMERR_INVALID_PARAMETER;
    pthread_mutex_lock(&r->mu);
    *out = r->status;
    out->Frame = atomic_load_explicit(&r->last_frame, memory_order_relaxed);
    pthread_mutex_unlock(&r->mu);
    return NMERR_SUCCESS;
}

NMX_API const NMEVENTDATA *const *nmx_run_events(nmx_run *r, size_t *count)
{
    if (!r) {
        if (count)
            *count = 0;
        return NULL;
    }
    static const NMEVENTDATA *const none[1] = {NULL};
    pthread_mutex_lock(&r->mu);
    size_t n = r->nevents;
    /* The array moves as events arrive: hand it out once the run is over. */
    const NMEVENTDATA *const *ev = !r->done ? NULL
                                   : n ? (const NMEVENTDATA *const *)r->events : none;
    pthread_mutex_unlock(&r->mu);
    if (count)
        *count = ev ? n : 0;
    return ev;
}

NMX_API const NMEVENTDATA *nmx_run_event(nmx_run *r, size_t i)
{
    if (!r)
        return NULL;
    pthread_mutex_lock(&r->mu);
    const NMEVENTDATA *ev = i < r->nevents ? r->events[i] : NULL;
    pthread_mutex_unlock(&r->mu);
    return ev;
}

NMX_API size_t nmx_run_event_count(nmx_run *r)
{
    if (!r)
        return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = r->nevents;
    pthread_mutex_unlock(&r->mu);
    return n;
}

NMX_API DWORD nmx_run_free(nmx_run *r)
{
    if (!r)
        return NMERR_INVALID_PARAMETER;
    pthread_mutex_lock(&r->mu);
    int done = r->done;
    pthread_mutex_unlock(&r->mu);
    if (!done)
        return NMERR_PENDING;
    pthread_join(r->thread, NULL);
    if (r->have_watchdog)
        pthread_join(r->watchdog, NULL);
    nmx__run_release(r);
    return NMERR_SUCCESS;
}
