/* nmexpert/host.h — what a host program sees: keys and their memory.
 *
 * An expert never includes this header (SPEC T3). A host creates one key per
 * expert run or Configure call, hands it to the expert as its HEXPERTKEY, and
 * destroys it when the expert returns; destroy reclaims every block the key
 * still holds and reports them as the leak ledger.
 *
 * Error convention: every function returns a Netmon code (NMERR_*, from
 * netmon.h); nmx_strerror() turns one into text.
 */
#ifndef NMEXPERT_HOST_H
#define NMEXPERT_HOST_H

#include <nmexpert/netmon.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * Keys (SPEC M4, M9, M11, M12, M14)
 * ------------------------------------------------------------------------ */

typedef struct nmx_key_options {
    size_t quota_bytes; /* cap on requested live bytes; 0: no quota (M11) */
    const char *name;   /* copied (first 63 bytes); shown in logs; may be NULL */
} nmx_key_options;

/* Statistics of one key (M14). Byte counts are requested bytes, not the
 * allocator's rounded block sizes. Every field is maintained on every call,
 * so reading them never walks the heap. */
typedef struct nmx_mem_stats {
    uint64_t live_bytes, live_blocks, peak_bytes; /* requested bytes */
    uint64_t allocs, reallocs, frees;             /* successful calls */
    uint64_t failed_oom, failed_quota, failed_terminate;
    uint64_t bad_double_free, bad_foreign, bad_wrong_owner, bad_interior, bad_key;
} nmx_mem_stats;

/* Create a key. `opt` may be NULL (no quota, no name). On success *out holds
 * a new key, distinct from every key ever issued in this process, and the
 * result is NMERR_SUCCESS.
 * Errors: NMERR_INVALID_PARAMETER (out is NULL), NMERR_OUT_OF_MEMORY (no
 * memory for the key's table entry), NMERR_NO_HANDLES (2^18 = 262144 keys
 * alive at once). */
NMX_API DWORD nmx_key_create(const nmx_key_options *opt, HEXPERTKEY *out);

/* Tell the key's expert to stop (H4, M4-M6): from now on ExpertAllocMemory
 * and ExpertReallocMemory fail with NMERR_EXPERT_TERMINATE, and
 * ExpertFreeMemory still releases a live block but returns
 * NMERR_EXPERT_TERMINATE. Idempotent; safe from any thread at any time, and
 * never waits: it takes no lock (a call in progress on the key finishes as
 * it started). Errors: NMERR_INVALID_EXPERT_HANDLE. */
NMX_API DWORD nmx_key_terminate(HEXPERTKEY key);

/* Copy the key's current statistics into *out (M14). For one key it is
 * cheap (no walk, no lock) and safe from any thread while the key is in use;
 * each field is exact, the fields together are a snapshot only when no call
 * is running on the key.
 * With key == NULL, *out receives the process-wide figures: allocs,
 * reallocs, frees, failures and invalid calls summed over every key ever
 * created; live_bytes and live_blocks summed over the live keys; peak_bytes
 * the highest peak of any key; and bad_key, the calls made with a NULL,
 * forged or destroyed key (which belong to no key and count only here).
 * That sum walks the live keys under the key table's lock (it waits for a
 * concurrent nmx_key_create or destroy, never for a call on a key).
 * Errors: NMERR_INVALID_PARAMETER (out NULL), NMERR_INVALID_EXPERT_HANDLE. */
NMX_API DWORD nmx_key_stats(HEXPERTKEY key, nmx_mem_stats *out);

/* Destroy a key (M12). Releases every block the key still holds in time
 * proportional to its pages, not its blocks. If `final` is not NULL it
 * receives the key's last statistics; its live_bytes and live_blocks are what
 * destroy reclaimed: the leak ledger. Calls racing with destroy on this key
 * either complete before the reclaim or fail with
 * NMERR_INVALID_EXPERT_HANDLE; afterwards the key is invalid forever.
 * Blocks of a destroyed key must not be touched: their memory is reused.
 * Errors: NMERR_INVALID_EXPERT_HANDLE (already destroyed, NULL, forged). */
NMX_API DWORD nmx_key_destroy(HEXPERTKEY key, nmx_mem_stats *final);

/* Copy the key's name (NUL-terminated, cut to fit) into buf. An unnamed key
 * gives "". Errors: NMERR_INVALID_PARAMETER (buf NULL or len 0),
 * NMERR_INVALID_EXPERT_HANDLE. */
NMX_API DWORD nmx_key_name(HEXPERTKEY key, char *buf, size_t len);

/* ------------------------------------------------------------------------
 * Invalid calls (M9)
 * ------------------------------------------------------------------------ */

typedef enum nmx_bad_kind {
    NMX_BAD_DOUBLE_FREE = 1, /* a block start of this key that is not live */
    NMX_BAD_FOREIGN,         /* not memory this allocator hands out */
    NMX_BAD_WRONG_OWNER,     /* a block that belongs to another key */
    NMX_BAD_INTERIOR,        /* inside this key's memory, not at a block start */
    NMX_BAD_KEY              /* NULL, never issued, or destroyed key */
} nmx_bad_kind;

/* Called for every invalid call, after the call has been refused and on the
 * thread that made it. `fn` must not call back into the key API of the same
 * key. The default (fn NULL) is the error code alone: nothing is printed and
 * nothing aborts. */
typedef void (*nmx_bad_call_fn)(nmx_bad_kind kind, HEXPERTKEY key, const void *ptr,
                                void *ctx);

/* Install (or, with fn NULL, remove) the process-wide invalid-call hook. */
NMX_API void nmx_set_bad_call_hook(nmx_bad_call_fn fn, void *ctx);

/* A short English name for a kind ("double free", ...); "?" when unknown. */
NMX_API const char *nmx_bad_kind_name(nmx_bad_kind kind);

/* ------------------------------------------------------------------------
 * The allocator as a whole
 * ------------------------------------------------------------------------ */

typedef struct nmx_heap_stats {
    uint64_t segments_in_use;   /* 4 MiB segments held by live keys */
    uint64_t segments_cached;   /* resident, ready for reuse without faults */
    uint64_t segments_released; /* reserved, pages returned to the OS */
    uint64_t huge_bytes_in_use; /* blocks too large for a segment */
    uint64_t keys_live;
    uint64_t cache_limit_bytes;
} nmx_heap_stats;

/* Fill *out with the allocator's global figures. Errors: NMERR_INVALID_PARAMETER. */
NMX_API DWORD nmx_heap_stats_get(nmx_heap_stats *out);

/* Set how many bytes of released segments stay resident for reuse (default
 * 64 MiB, or NMEXPERT_CACHE_MB from the environment at first use). Memory
 * released beyond it goes back to the OS. Trims the cache to the new limit
 * before it returns. Always succeeds. */
NMX_API void nmx_heap_set_cache_limit(size_t bytes);

/* Give back to the OS, before returning, the released memory beyond the cache
 * limit. Without this call the same happens moments after each destroy, on a
 * background thread the library starts the first time it is needed (all
 * signals blocked there), so that destroy itself stays O(segments). */
NMX_API void nmx_heap_trim(void);

/* ------------------------------------------------------------------------
 * Expert modules (SPEC H1)
 * ------------------------------------------------------------------------ */

/* Where an expert's code runs (SPEC H11): its runs, and Register and
 * Configure of a module loaded with nmx_expert_load_with. */
typedef enum nmx_isolation {
    NMX_ISOLATION_THREAD = 0, /* on a thread of this process (the default) */
    NMX_ISOLATION_PROCESS     /* in a worker process of its own: a crash, a wild
                                 write or a hang ends that run only, a hung run is
                                 killed, and the worker is confined (no sockets,
                                 no exec, no file opened for writing). Needs
                                 nmexpert-worker (installed with the library) */
} nmx_isolation;

/* A loaded expert module: a shared object exporting Register and Run, and
 * Configure if it is configurable, with C linkage. Its Expert* calls resolve
 * to this library, so a host links libnmexpert dynamically (pkg-config's
 * default) or exports the symbols (-rdynamic). */
typedef struct nmx_expert nmx_expert;

/* Load the module at `path`: dlopen it, resolve Register, Run and Configure,
 * and call Register with a zeroed EXPERTENUMINFO; the host then fills the
 * private members (szDllName, hExpert, hModule, the three procs). Register
 * runs on a thread of its own under the fault trap, as Run does.
 * On failure *out is NULL and errbuf (if given) holds "<path>: <reason>":
 * not found, not a shared object, unresolved symbol, missing Run or
 * Register, Register returned FALSE, Register crashed.
 * Errors: NMERR_INVALID_PARAMETER (path or out NULL), NMERR_FILE_NOT_FOUND,
 * NMERR_LOAD_EXPERT_FAILED (dlopen refused it or a symbol is missing),
 * NMERR_EXPERT_REPORT_FAILED (Register returned FALSE or crashed). */
NMX_API DWORD nmx_expert_load(const char *path, nmx_expert **out, char *errbuf, size_t errlen);

/* How a module is loaded. */
typedef struct nmx_load_options {
    nmx_isolation isolation; /* NMX_ISOLATION_PROCESS: the module is loaded, and
                                Register called, in a confined worker process
                                (H11); the host keeps what Register filled and
                                never loads the module itself, so no code of it
                                runs in the host: its runs must be isolated
                                (NMERR_NOT_SUPPORTED in a thread) and
                                nmx_expert_configure calls Configure in a
                                worker. Its EXPERTENUMINFO's hModule and the
                                three procs are NULL. */
} nmx_load_options;

/* nmx_expert_load with options (NULL: the defaults, as nmx_expert_load).
 * With process isolation a worker that dies in Register (a fault outside
 * the trap, a call the policy refuses) gives NMERR_EXPERT_REPORT_FAILED
 * with the reason; no nmexpert-worker: NMERR_FILE_NOT_FOUND. */
NMX_API DWORD nmx_expert_load_with(const char *path, const nmx_load_options *opt,
                                   nmx_expert **out, char *errbuf, size_t errlen);

/* The EXPERTENUMINFO Register filled (strings always NUL-terminated), valid
 * until nmx_expert_unload; NULL for NULL. */
NMX_API const EXPERTENUMINFO *nmx_expert_info(const nmx_expert *expert);

/* The path the expert was loaded from; NULL for NULL. */
NMX_API const char *nmx_expert_path(const nmx_expert *expert);

/* Unload the module. Every run of it must have been freed (nmx_run_free);
 * a module with a hung run is never unloaded (its code may still run).
 * NULL is a no-op. */
NMX_API void nmx_expert_unload(nmx_expert *expert);

/* Load every regular file in `dir` whose name ends in ".so", in name order.
 * on_loaded is called for each module loaded (it then owns the expert and
 * must unload it), on_rejected for each file that failed with its reason;
 * either may be NULL (a loaded expert nobody takes is unloaded).
 * Returns NMERR_SUCCESS even when some files are rejected;
 * NMERR_PATH_NOT_FOUND if dir cannot be read; NMERR_INVALID_PARAMETER. */
typedef void (*nmx_expert_loaded_fn)(nmx_expert *expert, void *ctx);
typedef void (*nmx_expert_rejected_fn)(const char *path, const char *reason, void *ctx);
NMX_API DWORD nmx_expert_scan(const char *dir, nmx_expert_loaded_fn on_loaded,
                              nmx_expert_rejected_fn on_rejected, void *ctx);
/* nmx_expert_scan loading each module with nmx_expert_load_with(opt). */
NMX_API DWORD nmx_expert_scan_with(const char *dir, const nmx_load_options *opt,
                                   nmx_expert_loaded_fn on_loaded,
                                   nmx_expert_rejected_fn on_rejected, void *ctx);

/* ------------------------------------------------------------------------
 * Runs (SPEC H2-H10)
 * ------------------------------------------------------------------------ */

typedef struct nmx_run nmx_run;

/* Called on the expert's thread each time it reports status (H7); must be
 * quick and must not call nmx_run_wait or nmx_run_free on this run. */
typedef void (*nmx_progress_fn)(nmx_run *run, const EXPERTSTATUS *status, void *ctx);


typedef struct nmx_run_options {
    HCAPTURE capture;          /* may be NULL: the expert sees an empty capture */
    HFILTER filter;            /* the host's ("UI") filter, for FLAGS_DEFER_TO_UI_FILTER */
    const EXPERTCONFIG *config; /* copied (RawConfigLength bytes) into pages of the
                                  run, outside its key: Run's pConfig is the host's,
                                  counted neither against quota_bytes nor in the
                                  ledger; NULL (or a blob shorter than its length
                                  field): Run gets NULL */
    DWORD startup_flags;       /* EXPERT_STARTUP_FLAG_* passed to Run */
    size_t quota_bytes;        /* memory quota of the run's key; 0: none (M11) */
    unsigned time_limit_ms;    /* 0: none; then the run is terminated (H4) */
    unsigned grace_ms;         /* after a terminate, before hung (H6); 0: 2000 */
    nmx_progress_fn progress;  /* may be NULL; in process isolation called on
                                  the run's relay thread in the host */
    void *progress_ctx;
    nmx_isolation isolation;   /* NMX_ISOLATION_THREAD (0) or _PROCESS (H11) */
} nmx_run_options;

typedef struct nmx_run_result {
    BOOL returned;             /* Run returned (no fault, not hung) */
    BOOL run_value;            /* what Run returned, if it did */
    EXPERTSTATUS status;       /* final: DONE (100 %), PROBLEM, or ABORTED */
    BOOL terminated;           /* the host asked it to stop (user or time limit) */
    BOOL timed_out;            /* ... because of the time limit */
    int fault_signal;          /* 0, or SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT (H5) */
    void *fault_address;       /* si_addr of the fault */
    BOOL hung;                 /* did not return within the grace period (H6) */
    BOOL killed;               /* process isolation: the host ended the worker
                                  (hung, or it sent a malformed message) */
    nmx_mem_stats mem;         /* the key's final statistics: the leak ledger (H3);
                                  zero for a hung run in a thread, whose key cannot
                                  be reclaimed; in process isolation, for a worker
                                  that ended without a result (killed, stopped by
                                  the policy, crashed outside the trap), what it
                                  last reported: what it held when it died */
    size_t events;             /* events submitted (H8) */
    double wall_seconds;
} nmx_run_result;

/* Start a run of `expert` on a thread of its own with a fresh key (H2, H10),
 * or, with opt->isolation NMX_ISOLATION_PROCESS, in a worker process that
 * loads the module again and runs it the same way (H11): the same events,
 * status and ledger; status and events reach the host as they are reported.
 * A worker that ends without a result ends the run ABORTED: THREAD_FAIL
 * with fault_signal (SIGSYS when the policy stopped a system call, the status
 * text naming it), LOAD_FAIL when it could not start the run, USER when the
 * host killed it. opt may be NULL (defaults). The expert always gets a
 * non-NULL EXPERTSTARTUPINFO whose hCapture and szCaptureFile describe the
 * capture.
 * Errors: NMERR_INVALID_PARAMETER, NMERR_OUT_OF_MEMORY (also: no process for
 * the worker), NMERR_NO_HANDLES, NMERR_FILE_NOT_FOUND (process isolation:
 * nmexpert-worker is not installed beside the library, nor named by
 * $NMEXPERT_WORKER). */
NMX_API DWORD nmx_run_start(nmx_expert *expert, const nmx_run_options *opt, nmx_run **out);

/* Ask the run to stop (H4): from now on its Expert* calls return
 * NMERR_EXPERT_TERMINATE (ExpertFreeMemory still frees). Idempotent.
 * Errors: NMERR_INVALID_PARAMETER (NULL). */
NMX_API DWORD nmx_run_terminate(nmx_run *run);

/* Wait up to timeout_ms (UINT32_MAX: forever) for the run to end: Run
 * returned, faulted, or was declared hung (in process isolation: hung and
 * killed, which ends the run). Then fills *result (may be NULL).
 * Errors: NMERR_TIMEOUT (still running), NMERR_INVALID_PARAMETER. */
NMX_API DWORD nmx_run_wait(nmx_run *run, unsigned timeout_ms, nmx_run_result *result);

/* The run's current status (H7), at any time, from any thread.
 * Errors: NMERR_INVALID_PARAMETER. */
NMX_API DWORD nmx_run_status(nmx_run *run, EXPERTSTATUS *out);

/* The events the run submitted, deep copies in host memory (H8), valid until
 * nmx_run_free. The array is handed out once the run has ended; before that
 * (the array still grows) it returns NULL and *count 0: use the two calls
 * below, which are safe while the run goes on. count may be NULL. */
NMX_API const NMEVENTDATA *const *nmx_run_events(nmx_run *run, size_t *count);

/* Event i of the run (each event, once submitted, stays where it is until
 * nmx_run_free), or NULL if there is none yet; and how many there are so far. */
NMX_API const NMEVENTDATA *nmx_run_event(nmx_run *run, size_t i);
NMX_API size_t nmx_run_event_count(nmx_run *run);

/* Free a run that has ended (nmx_run_wait returned NMERR_SUCCESS). A hung
 * run in a thread is never freed: its thread may still use it (documented
 * leak); a hung run in a worker was killed, and is freed like any other.
 * Errors: NMERR_INVALID_PARAMETER; NMERR_PENDING if it has not ended. */
NMX_API DWORD nmx_run_free(nmx_run *run);

/* ------------------------------------------------------------------------
 * Configure (SPEC M15)
 * ------------------------------------------------------------------------ */

/* Call the expert's Configure without a user interface: the stored blob `in`
 * (may be NULL) is copied into memory of a fresh Configure key, so the expert
 * may grow it with ExpertReallocMemory; after Configure returns the resulting
 * blob (RawConfigLength bytes, checked against the block) is copied into
 * malloc'd memory at *out (NULL if the expert left none) and the key is
 * destroyed. *returned gets Configure's BOOL (may be NULL).
 * Errors: NMERR_INVALID_PARAMETER, NMERR_NOT_SUPPORTED (no Configure),
 * NMERR_INVALID_DATA (the blob handed back is not a block of the key or
 * claims more bytes than it has), NMERR_INTERNAL_EXCEPTION (Configure
 * crashed), NMERR_OUT_OF_MEMORY. */
NMX_API DWORD nmx_expert_configure(nmx_expert *expert, const EXPERTCONFIG *in,
                                   HCAPTURE capture, EXPERTCONFIG **out, BOOL *returned);

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* Text for a Netmon error code ("NMERR_OUT_OF_MEMORY: no memory available");
 * never NULL; unknown codes give "unknown error". Static storage. */
NMX_API const char *nmx_strerror(DWORD code);

#ifdef __cplusplus
}
#endif

#endif
