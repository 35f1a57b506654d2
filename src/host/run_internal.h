/* A run, as src/host's files share it (run.c: its life; services.c and
 * events.c: the Expert* services an expert calls with the run's key;
 * configure.c: Configure on a run of its own).
 *
 * Who touches what:
 * - Fields set before the run's thread starts (expert, run_proc, key, opt,
 *   config, startup) never change afterwards.
 * - The expert's filters (filters, nfilters) are touched only by a thread
 *   holding the run's key (nmx__key_hold: holds on one key exclude each
 *   other) and, after the key is destroyed, by the run's thread.
 * - Everything else is under `mu`. No code holding `mu` reads or writes
 *   expert-supplied memory or calls into the memory layer.
 */
#ifndef NMX_RUN_INTERNAL_H
#define NMX_RUN_INTERNAL_H

#include "capture/capture_internal.h"
#include "host/host_internal.h"
#include "mem/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

struct nmx_run {
    nmx_expert *expert;
    PEXPERTRUNPROC run_proc;
    HEXPERTKEY key;
    nmx_run_options opt;
    EXPERTCONFIG *config; /* Run's configuration: host pages outside the key */
    size_t config_map;    /* bytes mapped at config */
    EXPERTSTARTUPINFO startup;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread, watchdog;
    int have_watchdog;
    EXPERTSTATUS status;
    int terminated, timed_out, hung, done;
    struct timespec start, term_at;
    nmx_run_result result;
    NMEVENTDATA **events;
    size_t nevents, cap_events, event_bytes;
    _Atomic DWORD last_frame; /* EXPERTSTATUS.Frame: the last frame handed out */

    nmx_filter **filters; /* made by the expert (nmx_ExpertCreateFilter) */
    size_t nfilters, cap_filters;

    struct nmx__iso *iso; /* process isolation (H11): the worker; NULL in a thread */
};

/* run.c: a run's skeleton without thread or key (for Configure too), and
 * its end. */
nmx_run *nmx__run_alloc(nmx_expert *ex, const nmx_run_options *opt);
void nmx__run_release(nmx_run *r);
/* Creates the run's key and points it at the run. */
DWORD nmx__run_new_key(nmx_run *r);
void nmx__run_fill_startup(nmx_run *r);
/* Destroys the filters the expert left (no holder of the key may remain). */
void nmx__run_filters_release(nmx_run *r);

/* events.c: the deep copy of an expert's event (H8), made from expert memory
 * without faulting. NULL with *rc set when the event is invalid or memory
 * is refused; *size receives the bytes the copy holds. `block` is the size of
 * the key's block holding the event, or 0 when it is not in the key's heap:
 * checked afterwards by the caller (nmx__event_fits). */
NMEVENTDATA *nmx__event_copy(const NMEVENTDATA *ev, size_t *size, DWORD *rc);
int nmx__event_fits(const NMEVENTDATA *copy, size_t block);
/* Appends an event copy of `size` bytes to the run's events (mu held);
 * NMERR_OUT_OF_MEMORY beyond the run's bounds (the copy is then not kept). */
DWORD nmx__run_keep_event(nmx_run *r, NMEVENTDATA *c, size_t size);

/* run_iso.c: process isolation (H11). Starts the worker and the run's relay
 * thread (r->thread); the relay records the end as the expert thread does. */
DWORD nmx__run_start_isolated(nmx_run *r, const nmx_run_options *opt);
/* run.c: the end of an isolated run as the worker reported it (mu held). */
void nmx__run_record_isolated(nmx_run *r, const nmx_run_result *res, int killed);

#endif
