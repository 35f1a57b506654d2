/* The host side of isolated runs (issue 9, SPEC H11): a run whose expert
 * lives in a worker process. docs/ARCHITECTURE.md, "Isolated runs", says
 * how the pieces fit; src/host/iso_wire.h is the wire; run_iso.c drives
 * this for run.c (nmx_run_options.isolation).
 *
 *   iso_spawn.c  the fork-server: found, spawned once, asked for workers
 *   iso_run.c    one worker: start, serve (status, events, end), terminate,
 *                kill, live statistics, free
 *   iso_expert.c Register and Configure in a worker (nmx_expert_load_with)
 *
 * The run's bookkeeping (its events, status, result, time limit and grace)
 * stays the caller's (run.c): nmx__iso_serve hands it each status and event
 * as the worker reports them, on the caller's thread, and returns when the
 * worker is gone.
 */
#ifndef NMX_ISOLATE_H
#define NMX_ISOLATE_H

#include <nmexpert/host.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct nmx__iso nmx__iso;

typedef struct nmx__iso_spec {
    unsigned op;             /* NMX_ISO_OP_RUN (0), _REGISTER, _CONFIGURE */
    const char *expert_path; /* the module, loaded again in the worker */
    HCAPTURE capture;        /* NULL: the empty capture; else handed over to
                                the worker (its descriptors, iso_run.c) */
    HFILTER filter;          /* the host filter, or NULL */
    const EXPERTCONFIG *config; /* NULL: none */
    DWORD startup_flags;
    size_t quota_bytes;      /* the key's quota (M11), and RLIMIT_AS's backstop */
    unsigned cpu_seconds;    /* RLIMIT_CPU; 0: none */
    int unconfined;          /* 1: no seccomp policy and no limits (tests only) */
} nmx__iso_spec;

/* Where a worker's reports go; a NULL member drops them. */
typedef struct nmx__iso_sink {
    void (*status)(void *ctx, const EXPERTSTATUS *st);
    /* takes the malloc'd copy (one block of `size` bytes) */
    void (*event)(void *ctx, NMEVENTDATA *ev, size_t size);
    /* the answer of a worker asked for Register or Configure (the frame's
     * type and payload, unchecked); returns 0 if it is well formed, -1 if
     * not (the worker is then killed as for any malformed frame). NULL: such
     * frames are malformed. */
    int (*reply)(void *ctx, uint32_t type, const void *p, size_t len);
    void *ctx;
} nmx__iso_sink;

/* ---- iso_spawn.c ---- */

/* Asks the fork-server (spawned at the first call, and again if it died)
 * for a worker serving the run whose descriptors are given: fds[0] the
 * run's page, fds[1] the worker's end of its channel, then the capture's
 * (nfds at most 2 + NMX_ISO_MAX_CAPTURE_FDS). They stay the caller's.
 * On success *pid and *pidfd are the worker's. Returns NMERR_SUCCESS,
 * NMERR_INVALID_PARAMETER (nfds out of range), NMERR_FILE_NOT_FOUND (no
 * nmexpert-worker: see nmx__iso_worker_path), NMERR_OUT_OF_MEMORY (no
 * process, no descriptor). */
DWORD nmx__iso_fork(const int *fds, size_t nfds, pid_t *pid, int *pidfd);

/* Where nmexpert-worker is looked for, in order: $NMEXPERT_WORKER; beside
 * the library (the build tree); <libdir>/NMX_WORKER_RELDIR (installed).
 * Writes the first that exists into buf; returns 0, or -1 if none does. */
int nmx__iso_worker_path(char *buf, size_t len);

/* ---- iso_expert.c ---- */

/* Load the module at path in a worker (Register runs there, confined):
 * start asks a worker, finish waits for its answer (several may be started
 * first, to run side by side) and frees *a. finish fills *info with what
 * Register filled (strings NUL-terminated, host-private members zero) and
 * *configurable with whether the module exports Configure, and returns
 * nmx_expert_load's code with its message in errbuf, or, when the worker
 * could not answer, NMERR_EXPERT_REPORT_FAILED (it died: the reason in
 * errbuf), NMERR_FILE_NOT_FOUND or NMERR_OUT_OF_MEMORY (no worker). Every
 * start needs its finish, whatever start returned. */
typedef struct nmx__iso_answer nmx__iso_answer;
DWORD nmx__iso_register_start(const char *path, nmx__iso_answer **a);
DWORD nmx__iso_register_finish(nmx__iso_answer *a, EXPERTENUMINFO *info, int *configurable,
                               char *errbuf, size_t errlen);

/* nmx_expert_configure of the module at path, in a worker: the same
 * arguments and codes; a worker that dies gives NMERR_INTERNAL_EXCEPTION. */
DWORD nmx__iso_configure(const char *path, const EXPERTCONFIG *in, HCAPTURE capture,
                         EXPERTCONFIG **out, BOOL *returned);

/* ---- iso_run.c ---- */

/* Starts a worker for a run. Errors: NMERR_INVALID_PARAMETER (no expert
 * path), NMERR_OUT_OF_MEMORY, NMERR_FILE_NOT_FOUND (no nmexpert-worker). */
DWORD nmx__iso_start(const nmx__iso_spec *spec, nmx__iso **out);

/* Relays the worker's status and events to sink until its op's last frame
 * (the result, or the answer to Register or Configure: the worker, exiting
 * then, is killed rather than waited for) or until the worker is gone
 * without it, then fills what the worker's end decides of *res: returned,
 * run_value, status (text naming the reason when the worker did not report
 * an end), fault_signal, fault_address, mem. A worker that died without a result
 * leaves mem as last published (what it held when it died). Call once, from
 * one thread. */
void nmx__iso_serve(nmx__iso *w, const nmx__iso_sink *sink, nmx_run_result *res);

/* Ask the worker's run to stop (H4). Any thread, any time; idempotent. */
void nmx__iso_terminate(nmx__iso *w);

/* End the worker at once (SIGKILL). Any thread, any time; serve then
 * reports the run as killed, with the statistics last published. */
void nmx__iso_kill(nmx__iso *w);

/* Did the host kill the worker (nmx__iso_kill, or a malformed frame)? */
int nmx__iso_killed(const nmx__iso *w);

/* The key's statistics as last published by the worker (M14): live while it
 * runs, and after its death what it held when it died. */
void nmx__iso_stats(const nmx__iso *w, nmx_mem_stats *out);

/* Release everything of the run in the host: descriptors and mapping. The
 * worker must be gone (serve returned). */
void nmx__iso_free(nmx__iso *w);

#endif
