/* nmexpert-worker: the fork-server and the worker processes of isolated runs
 * (issue 9, SPEC H11). See docs/ARCHITECTURE.md, "Isolated runs".
 *
 *   server.c   main: the fork-server loop (requests, the spare worker, reap)
 *   child.c    a new worker: descriptors, limits, policy, then the run
 *   policy.c   the seccomp-bpf policy and its SIGSYS reporter, rlimits
 *   relay.c    the run inside the worker and everything it sends the host
 *   answer.c   Register or Configure alone, answered to the host
 */
#ifndef NMX_WORKER_H
#define NMX_WORKER_H

#include "host/iso_wire.h"

#include <nmexpert/capture.h>

/* ASan or TSan: their builds relax the worker a little (policy.c, server.c). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define NMX_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define NMX_SANITIZED 1
#endif
#endif

/* The descriptors a worker starts with (child.c moves them there): its
 * channel, its page (closed once mapped), and the capture's
 * (pg->req.capture_fds of them) from WORKER_CAPTURE_FD on. */
enum { WORKER_CHAN_FD = 3, WORKER_PAGE_FD = 4, WORKER_CAPTURE_FD = 5 };

/* child.c: what a spare does, in the forked child, before its request
 * comes on sock: signals as a worker needs them, and page tables filled. */
void worker_ready(int sock);
/* child.c: runs in the forked child, once ready, with the request's n
 * descriptors (the page, the channel, the capture's); never returns. */
__attribute__((noreturn)) void worker_child(const int *fds, int n);

/* policy.c */
/* Resource limits for the run described by pg (RLIMIT_CORE 0, RLIMIT_FSIZE
 * 0, RLIMIT_NOFILE, RLIMIT_CPU, RLIMIT_AS when the run has a quota). */
void policy_limits(const nmx_iso_page *pg);
/* Build the seccomp filter once, in the server, for every worker it forks. */
void policy_prepare(void);
/* Load the seccomp filter into the calling (only) thread, inherited by every
 * thread it starts; a refused call then runs last_words (may be NULL),
 * records its number in pg and ends the process. Returns 0, or -1 with
 * nothing loaded. */
int policy_confine(nmx_iso_page *pg, void (*last_words)(void));

/* relay.c: what the relay needs of the process before any request (the
 * library's definitions of the calls it interposes); in the spare. */
void relay_prepare(void);
/* relay.c: the worker's work (pg->req.op); returns its exit code. */
int relay_main(nmx_iso_page *pg, int chan);
/* One frame to the host, its payload a then b (either may be empty);
 * -1 if the host is gone. Any thread. */
int relay_send(uint32_t type, const void *a, size_t alen, const void *b, size_t blen);
/* The capture and host filter of the request (NULL: none); errors are
 * reported to the host (a FAIL frame) and returned. */
DWORD relay_open_capture(const nmx_iso_page *pg, nmx_capture **cap, nmx_filter **filter);

/* answer.c: Register and Configure alone, for the host (NMX_ISO_OP_*);
 * each returns the worker's exit code. */
/* rc, ex (NULL unless rc is 0) and err: what nmx_expert_load gave. */
int answer_register(DWORD rc, const nmx_expert *ex, const char *err);
int answer_configure(const nmx_iso_page *pg, nmx_expert *ex);
/* Publish the key's statistics in the run's page now (relay.c). */
void relay_publish(void);

#endif
