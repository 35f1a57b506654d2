/* A run in a worker process (SPEC H11), on run.c's skeleton: the run keeps
 * its events, status and result as a run on a thread does, and its watchdog
 * is run.c's; what differs is who runs the expert. Here the run's thread is
 * the relay: it serves the worker (src/host/iso_run.c), records each status
 * and event as the worker reports them, and records the end. The run has no
 * key in the host: the worker has it.
 */
#define _GNU_SOURCE
#include "host/isolate.h"
#include "host/run_internal.h"

#include <stdlib.h>
#include <string.h>

static void on_status(void *ctx, const EXPERTSTATUS *st)
{
    nmx_run *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->status = *st;
    atomic_store_explicit(&r->last_frame, st->Frame, memory_order_relaxed);
    EXPERTSTATUS copy = r->status;
    pthread_mutex_unlock(&r->mu);
    if (r->opt.progress)
        r->opt.progress(r, &copy, r->opt.progress_ctx);
}

static void on_event(void *ctx, NMEVENTDATA *ev, size_t size)
{
    nmx_run *r = ctx;
    pthread_mutex_lock(&r->mu);
    DWORD rc = nmx__run_keep_event(r, ev, size);
    pthread_mutex_unlock(&r->mu);
    if (rc != NMERR_SUCCESS)
        free(ev); /* the same bounds as in process: beyond them, events are dropped */
}

static void *relay_thread(void *arg)
{
    nmx_run *r = arg;
    nmx__iso_sink sink = {.status = on_status, .event = on_event, .ctx = r};
    nmx_run_result res;
    memset(&res, 0, sizeof res);
    nmx__iso_serve(r->iso, &sink, &res);
    pthread_mutex_lock(&r->mu);
    nmx__run_record_isolated(r, &res, nmx__iso_killed(r->iso));
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

DWORD nmx__run_start_isolated(nmx_run *r, const nmx_run_options *opt)
{
    nmx__iso_spec s;
    memset(&s, 0, sizeof s);
    s.expert_path = nmx_expert_path(r->expert);
    s.capture = opt->capture; /* NULL: the worker's own empty capture */
    s.filter = opt->filter;
    s.config = opt->config;
    s.startup_flags = opt->startup_flags;
    s.quota_bytes = opt->quota_bytes;
    /* RLIMIT_CPU a little above what the watchdog allows, as a backstop. */
    if (opt->time_limit_ms)
        s.cpu_seconds = (opt->time_limit_ms + r->opt.grace_ms) / 1000u + 2u;
    DWORD rc = nmx__iso_start(&s, &r->iso);
    if (rc != NMERR_SUCCESS)
        return rc;
    if (pthread_create(&r->thread, NULL, relay_thread, r) != 0) {
        nmx__iso_kill(r->iso); /* the server reaps it */
        nmx__iso_free(r->iso);
        r->iso = NULL;
        return NMERR_OUT_OF_MEMORY;
    }
    return NMERR_SUCCESS;
}
