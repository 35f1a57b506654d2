/* Runs of experts (SPEC H2-H10, M15) and the Expert* services they call.
 *
 * A run owns a key, an expert thread and a watchdog thread. The expert
 * thread calls Run under the fault trap, then records the outcome and
 * destroys the key (the leak ledger). The watchdog enforces the time limit
 * and, after any terminate, the grace period: a run still going after it is
 * declared hung and left alone (its key cannot be reclaimed while its thread
 * may use it). Everything shared is under the run's mutex.
 */
#define _GNU_SOURCE
#include "capture/capture_internal.h"
#include "host/host_internal.h"
#include "mem/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_GRACE_MS 2000u
#define MAX_EVENTS 1000000u /* per run: a runaway expert cannot exhaust the host */

struct nmx_run {
    nmx_expert *expert;
    PEXPERTRUNPROC run_proc;
    HEXPERTKEY key;
    nmx_run_options opt;
    EXPERTCONFIG *config_copy; /* host copy of opt.config until the run thread takes it */
    EXPERTSTARTUPINFO startup;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread, watchdog;
    int have_thread, have_watchdog;
    EXPERTSTATUS status;
    int terminated, timed_out, hung, done;
    struct timespec start, term_at;
    nmx_run_result result;
    NMEVENTDATA **events;
    size_t nevents, cap_events;
    _Atomic DWORD last_frame; /* EXPERTSTATUS.Frame: the last frame handed out */
    nmx_filter **filters;     /* made by the expert (nmx_ExpertCreateFilter) */
    size_t nfilters, cap_filters;
};

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

static nmx_run *run_alloc(nmx_expert *ex, const nmx_run_options *opt)
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

/* Destroys the filters the expert made and left (under r->mu or alone). */
static void filters_release(nmx_run *r)
{
    for (size_t i = 0; i < r->nfilters; i++)
        nmx_filter_destroy(r->filters[i]);
    free(r->filters);
    r->filters = NULL;
    r->nfilters = r->cap_filters = 0;
}

static void run_release(nmx_run *r)
{
    filters_release(r);
    for (size_t i = 0; i < r->nevents; i++)
        free(r->events[i]);
    free(r->events);
    free(r->config_copy);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

static DWORD new_key(nmx_run *r)
{
    const EXPERTENUMINFO *info = nmx_expert_info(r->expert);
    nmx_key_options ko = {r->opt.quota_bytes, info ? info->szName : NULL};
    DWORD rc = nmx_key_create(&ko, &r->key);
    if (rc == NMERR_SUCCESS)
        nmx__key_set_context(r->key, r);
    return rc;
}

static void fill_startup(nmx_run *r)
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

/* A copy of a configuration blob in the key's memory (M15), or NULL. */
static EXPERTCONFIG *config_into_key(HEXPERTKEY key, const EXPERTCONFIG *cfg)
{
    if (!cfg || cfg->RawConfigLength < sizeof(DWORD))
        return NULL;
    DWORD err;
    EXPERTCONFIG *c = ExpertAllocMemory(key, cfg->RawConfigLength, &err);
    if (c)
        memcpy(c, cfg, cfg->RawConfigLength);
    return c;
}

static EXPERTCONFIG *config_dup(const EXPERTCONFIG *cfg)
{
    if (!cfg || cfg->RawConfigLength < sizeof(DWORD))
        return NULL;
    EXPERTCONFIG *c = malloc(cfg->RawConfigLength);
    if (c)
        memcpy(c, cfg, cfg->RawConfigLength);
    return c;
}

/* ---- the expert thread ---- */

typedef struct run_call {
    nmx_run *r;
    EXPERTCONFIG *config;
    BOOL value;
} run_call;

static void call_run(void *p)
{
    run_call *c = p;
    nmx_run *r = c->r;
    c->value = r->run_proc(r->key, c->config, &r->startup, r->opt.startup_flags, NULL);
}

static void *run_thread(void *arg)
{
    nmx_run *r = arg;
    nmx_altstack ss;
    nmx__trap_thread_enter(&ss);
    run_call c = {r, config_into_key(r->key, r->config_copy), FALSE};
    nmx_fault f;
    int sig = nmx__trap_call(call_run, &c, &f);
    if (sig)
        nmx__key_recover_thread(r->key);
    nmx__trap_thread_leave(&ss);
    /* The configuration copy is the host's, not a leak of the expert's. */
    if (c.config)
        nmx__key_block_quiet(r->key, c.config, 1);

    nmx_mem_stats mem;
    memset(&mem, 0, sizeof mem);
    nmx_key_destroy(r->key, &mem);

    pthread_mutex_lock(&r->mu);
    filters_release(r); /* they belonged to the key */
    nmx_run_result *res = &r->result;
    res->returned = sig == 0;
    res->run_value = sig == 0 ? c.value : FALSE;
    res->fault_signal = sig;
    res->fault_address = sig ? f.addr : NULL;
    res->mem = mem;
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
    r->done = 1;
    res->wall_seconds = seconds_since(&r->start);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
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
            if (rc == ETIMEDOUT && !r->done && !r->terminated) {
                r->terminated = r->timed_out = 1;
                clock_gettime(CLOCK_MONOTONIC, &r->term_at);
                nmx_key_terminate(r->key);
            }
        } else {
            struct timespec grace = deadline_after(&r->term_at, r->opt.grace_ms);
            if (pthread_cond_timedwait(&r->cv, &r->mu, &grace) == ETIMEDOUT && !r->done) {
                r->hung = 1;
                pthread_cond_broadcast(&r->cv);
                break;
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
    if (!ex || !out || !info->pRunProc)
        return NMERR_INVALID_PARAMETER;
    nmx_run *r = run_alloc(ex, opt);
    if (!r)
        return NMERR_OUT_OF_MEMORY;
    r->run_proc = info->pRunProc;
    if (!r->opt.capture)
        r->opt.capture = nmx__capture_empty();
    r->config_copy = config_dup(r->opt.config);
    r->opt.config = NULL;
    fill_startup(r);
    DWORD rc = new_key(r);
    if (rc != NMERR_SUCCESS) {
        run_release(r);
        return rc;
    }
    if (pthread_create(&r->thread, NULL, run_thread, r) != 0) {
        nmx_key_destroy(r->key, NULL);
        run_release(r);
        return NMERR_OUT_OF_MEMORY;
    }
    r->have_thread = 1;
    r->have_watchdog = pthread_create(&r->watchdog, NULL, watchdog_thread, r) == 0;
    *out = r;
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_run_terminate(nmx_run *r)
{
    if (!r)
        return NMERR_INVALID_PARAMETER;
    pthread_mutex_lock(&r->mu);
    if (!r->terminated && !r->done) {
        r->terminated = 1;
        clock_gettime(CLOCK_MONOTONIC, &r->term_at);
        nmx_key_terminate(r->key);
        pthread_cond_broadcast(&r->cv);
    }
    pthread_mutex_unlock(&r->mu);
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_run_wait(nmx_run *r, unsigned timeout_ms, nmx_run_result *result)
{
    if (!r)
        return NMERR_INVALID_PARAMETER;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    struct timespec until = deadline_after(&now, timeout_ms);
    pthread_mutex_lock(&r->mu);
    while (!r->done && !r->hung) {
        int rc = timeout_ms == UINT32_MAX ? pthread_cond_wait(&r->cv, &r->mu)
                                          : pthread_cond_timedwait(&r->cv, &r->mu, &until);
        if (rc == ETIMEDOUT && !r->done && !r->hung) {
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
        result->hung = r->hung && !r->done;
        result->events = r->nevents;
        if (result->hung) {
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
    run_release(r);
    return NMERR_SUCCESS;
}

/* ---- the Expert* services ---- */

static nmx_run *run_of(HEXPERTKEY key)
{
    return nmx__key_context(key);
}

NMX_API DWORD WINAPI ExpertIndicateStatus(HEXPERTKEY key, EXPERTSTATUSENUMERATION status,
                                          DWORD sub, const char *text, LONG percent)
{
    nmx_run *r = run_of(key);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    if (nmx__key_is_terminated(key))
        return NMERR_EXPERT_TERMINATE;
    EXPERTSTATUS copy;
    pthread_mutex_lock(&r->mu);
    r->status.Status = status;
    r->status.SubStatus = sub;
    r->status.PercentDone = (DWORD)(percent < 0 ? 0 : percent > 99 ? 99 : percent);
    r->status.Frame = atomic_load_explicit(&r->last_frame, memory_order_relaxed);
    size_t n = text ? strnlen(text, sizeof r->status.szStatusText - 1) : 0;
    memcpy(r->status.szStatusText, text ? text : "", n);
    r->status.szStatusText[n] = '\0';
    copy = r->status;
    pthread_mutex_unlock(&r->mu);
    if (r->opt.progress)
        r->opt.progress(r, &copy, r->opt.progress_ctx);
    return NMERR_SUCCESS;
}

NMX_API DWORD WINAPI ExpertGetStartupInfo(HEXPERTKEY key, PEXPERTSTARTUPINFO out)
{
    nmx_run *r = run_of(key);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    if (!out)
        return NMERR_INVALID_PARAMETER;
    *out = r->startup;
    return NMERR_SUCCESS;
}

NMX_API DWORD WINAPI ExpertGetFrame(HEXPERTKEY key, DWORD direction, DWORD flags, DWORD number,
                                    HFILTER filter, LPEXPERTFRAMEDESCRIPTOR out)
{
    nmx_run *r = run_of(key);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    if (nmx__key_is_terminated(key))
        return NMERR_EXPERT_TERMINATE;
    if (filter && !nmx__filter_valid(filter))
        return NMERR_INVALID_HFILTER;
    if (!r->opt.capture)
        return NMERR_NO_MORE_FRAMES; /* memory for the empty capture was refused */
    DWORD rc = nmx__capture_get_frame(r->opt.capture, r->opt.filter, filter, direction, flags,
                                      number, out);
    if (rc == NMERR_SUCCESS)
        atomic_store_explicit(&r->last_frame, out->FrameNumber, memory_order_relaxed);
    return rc;
}

NMX_API DWORD WINAPI nmx_ExpertCreateFilter(HEXPERTKEY key, const char *expr, HFILTER *out,
                                            char *err, DWORD errlen)
{
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    nmx_run *r = run_of(key);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    if (nmx__key_is_terminated(key))
        return NMERR_EXPERT_TERMINATE;
    if (!expr || !out)
        return NMERR_INVALID_PARAMETER;
    nmx_filter *f;
    DWORD rc = nmx_filter_create(r->opt.capture, expr, &f, err, err ? errlen : 0);
    if (rc != NMERR_SUCCESS)
        return rc;
    pthread_mutex_lock(&r->mu);
    if (r->nfilters == r->cap_filters) {
        size_t ncap = r->cap_filters ? r->cap_filters * 2 : 4;
        nmx_filter **n = realloc(r->filters, ncap * sizeof *n);
        if (!n) {
            pthread_mutex_unlock(&r->mu);
            nmx_filter_destroy(f);
            return NMERR_OUT_OF_MEMORY;
        }
        r->filters = n;
        r->cap_filters = ncap;
    }
    r->filters[r->nfilters++] = f;
    pthread_mutex_unlock(&r->mu);
    *out = f;
    return NMERR_SUCCESS;
}

NMX_API DWORD WINAPI nmx_ExpertDestroyFilter(HEXPERTKEY key, HFILTER filter)
{
    nmx_run *r = run_of(key);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    if (!filter)
        return NMERR_SUCCESS;
    pthread_mutex_lock(&r->mu);
    size_t i = 0;
    while (i < r->nfilters && r->filters[i] != filter)
        i++;
    int found = i < r->nfilters;
    if (found)
        r->filters[i] = r->filters[--r->nfilters];
    pthread_mutex_unlock(&r->mu);
    if (!found)
        return NMERR_INVALID_HFILTER;
    nmx_filter_destroy(filter);
    return NMERR_SUCCESS;
}

/* The bytes a string needs in the copy, 0 for NULL. */
static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static char *str_put(char **pool, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = memcpy(*pool, s, n);
    *pool += n;
    return d;
}

/* Copies the event and every string it points to into one malloc'd block
 * (H8). Reading a wild string pointer faults on the expert's thread, where
 * the trap turns it into the end of the run, as any fault of the expert. */
static NMEVENTDATA *event_copy(const NMEVENTDATA *ev)
{
    size_t ncol = ev->NumColumns;
    size_t size = sizeof *ev + ncol * sizeof(NMCOLUMNINFO);
    size += str_size(ev->szSourceName) + str_size(ev->szEventName) +
            str_size(ev->szDescription) + str_size(ev->szMachine) +
            str_size(ev->Justification);
    for (size_t i = 0; i < ncol; i++) {
        size += str_size(ev->Column[i].szColumnName);
        if (ev->Column[i].VariantData.Type == NMCOLUMNTYPE_STRING)
            size += str_size(ev->Column[i].VariantData.Value.pStringVal);
    }
    NMEVENTDATA *c = malloc(size);
    if (!c)
        return NULL;
    memcpy(c, ev, sizeof *ev + ncol * sizeof(NMCOLUMNINFO));
    char *pool = (char *)c + sizeof *ev + ncol * sizeof(NMCOLUMNINFO);
    c->pszReserved = NULL;
    c->pvReserved = NULL;
    c->szSourceName = str_put(&pool, ev->szSourceName);
    c->szEventName = str_put(&pool, ev->szEventName);
    c->szDescription = str_put(&pool, ev->szDescription);
    c->szMachine = str_put(&pool, ev->szMachine);
    c->Justification = str_put(&pool, ev->Justification);
    for (size_t i = 0; i < ncol; i++) {
        c->Column[i].szColumnName = str_put(&pool, ev->Column[i].szColumnName);
        if (ev->Column[i].VariantData.Type == NMCOLUMNTYPE_STRING)
            c->Column[i].VariantData.Value.pStringVal =
                str_put(&pool, ev->Column[i].VariantData.Value.pStringVal);
    }
    return c;
}

NMX_API DWORD WINAPI ExpertSubmitEvent(HEXPERTKEY key, PNMEVENTDATA ev)
{
    nmx_run *r = run_of(key);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    if (nmx__key_is_terminated(key))
        return NMERR_EXPERT_TERMINATE;
    if (!ev)
        return NMERR_INVALID_PARAMETER;
    /* An event in the expert's heap must hold the columns it claims. */
    size_t block = nmx__key_block_quiet(key, ev, 0);
    if (block && block < sizeof *ev + (size_t)ev->NumColumns * sizeof(NMCOLUMNINFO))
        return NMERR_INVALID_PARAMETER;
    for (size_t i = 0; i < ev->NumColumns; i++)
        if ((unsigned)ev->Column[i].VariantData.Type > (unsigned)NMCOLUMNTYPE_STRING)
            return NMERR_INVALID_PARAMETER;
    NMEVENTDATA *c = event_copy(ev);
    if (!c)
        return NMERR_OUT_OF_MEMORY;
    pthread_mutex_lock(&r->mu);
    DWORD rc = NMERR_SUCCESS;
    if (r->nevents == r->cap_events) {
        size_t ncap = r->cap_events ? r->cap_events * 2 : 64;
        NMEVENTDATA **n = r->nevents >= MAX_EVENTS ? NULL
                                                   : realloc(r->events, ncap * sizeof *n);
        if (n) {
            r->events = n;
            r->cap_events = ncap;
        } else {
            rc = NMERR_OUT_OF_MEMORY;
        }
    }
    if (rc == NMERR_SUCCESS)
        r->events[r->nevents++] = c;
    pthread_mutex_unlock(&r->mu);
    if (rc != NMERR_SUCCESS)
        free(c);
    return rc;
}

/* ---- Configure (M15) ---- */

typedef struct configure_call {
    PEXPERTCONFIGPROC fn;
    nmx_run *r;
    EXPERTCONFIG *blob;
    BOOL value;
} configure_call;

static void call_configure(void *p)
{
    configure_call *c = p;
    c->value = c->fn(c->r->key, &c->blob, &c->r->startup, 0, NULL);
}

NMX_API DWORD nmx_expert_configure(nmx_expert *ex, const EXPERTCONFIG *in, HCAPTURE capture,
                                   EXPERTCONFIG **out, BOOL *returned)
{
    if (out)
        *out = NULL;
    const EXPERTENUMINFO *info = nmx_expert_info(ex);
    if (!ex || !out)
        return NMERR_INVALID_PARAMETER;
    if (!info->pConfigProc)
        return NMERR_NOT_SUPPORTED;
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = capture ? capture : nmx__capture_empty();
    nmx_run *r = run_alloc(ex, &o);
    if (!r)
        return NMERR_OUT_OF_MEMORY;
    fill_startup(r);
    DWORD rc = new_key(r);
    if (rc != NMERR_SUCCESS) {
        run_release(r);
        return rc;
    }
    configure_call c = {info->pConfigProc, r, config_into_key(r->key, in), FALSE};
    nmx_fault f;
    int sig = nmx__trap_call_on_thread(call_configure, &c, r->key, &f);
    if (sig != 0) {
        rc = NMERR_INTERNAL_EXCEPTION;
    } else {
        if (returned)
            *returned = c.value;
        if (c.blob) {
            size_t have = nmx__key_block_quiet(r->key, c.blob, 0);
            if (have < sizeof(DWORD) || c.blob->RawConfigLength < sizeof(DWORD) ||
                c.blob->RawConfigLength > have)
                rc = NMERR_INVALID_DATA;
            else if (!(*out = config_dup(c.blob)))
                rc = NMERR_OUT_OF_MEMORY;
        }
    }
    nmx_key_destroy(r->key, NULL);
    run_release(r);
    return rc;
}
