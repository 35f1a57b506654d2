/* The run inside a worker, and everything it tells the host (SPEC H11).
 *
 * The worker is the in-process host reduced to one call: it loads the module
 * with nmx_expert_load, then runs it with nmx_run_start (or, asked for
 * Register or Configure alone, answers them: answer.c), so Register, Run,
 * Configure, the key, the trap, the configuration copy, status and event
 * checks are the very code of in-process mode, and so are the results. What
 * it adds to a run is the relay to the host, in the order things happen:
 *   - status: the run's progress callback sends each status as recorded (H7);
 *     ExpertIndicateStatus is interposed as well, to publish the statistics
 *     once the library's call has let go of the key;
 *   - events: ExpertSubmitEvent is interposed (the executable's definition
 *     comes first in the global scope the expert's references bind to): it
 *     calls the library's, then sends every event recorded so far and not
 *     yet sent, before it returns to the expert (H8);
 *   - the key's statistics (M14): published in the run's page by the control
 *     thread every 10 ms, after every status and event, and at the end;
 *   - the result, when nmx_run_wait returns.
 * Frames go whole to the channel under one lock; the host keeps what came
 * before a death.
 *
 * The control thread reads the host's terminate bytes (nmx_run_terminate)
 * and ends the worker when the host's end of the channel closes.
 */
#define _GNU_SOURCE
#include "worker/worker.h"
#include "capture/capture_internal.h"

#include <nmexpert/capture.h>

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PUBLISH_MS 10

typedef DWORD(WINAPI *submit_fn)(HEXPERTKEY, PNMEVENTDATA);
typedef DWORD(WINAPI *status_fn)(HEXPERTKEY, EXPERTSTATUSENUMERATION, DWORD, const char *, LONG);

static struct {
    nmx_iso_page *pg;
    int chan;
    pthread_mutex_t mu;       /* the channel, and the events sent so far */
    pthread_mutex_t stats_mu; /* the page's statistics: taken last, alone */
    _Atomic(nmx_run *) run;
    _Atomic int terminate_asked;
    size_t sent;
    submit_fn submit; /* the library's ExpertSubmitEvent */
    status_fn status; /* the library's ExpertIndicateStatus */
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .stats_mu = PTHREAD_MUTEX_INITIALIZER, .chan = -1};

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One frame, whole, its payload a then b (callers hold g.mu). */
static int frame_out(uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    nmx_iso_frame f = {type, (uint32_t)(alen + blen)};
    return write_all(g.chan, &f, sizeof f) || write_all(g.chan, a, alen) ||
                   write_all(g.chan, b, blen)
               ? -1
               : 0;
}

static int send_frame(uint32_t type, const void *payload, size_t len)
{
    return frame_out(type, payload, len, NULL, 0);
}

/* The worker has one key, the run's: the process-wide figures are its own
 * (bad_key aside, which a key's statistics never count). Called with none of
 * the relay's locks and outside any hold of the key: nmx_key_stats(NULL)
 * takes the key table's lock, which an Expert* call holding the key must not
 * wait for. */
static void publish_stats(void)
{
    nmx_mem_stats st;
    if (!g.pg || nmx_key_stats(NULL, &st) != NMERR_SUCCESS)
        return;
    st.bad_key = 0;
    pthread_mutex_lock(&g.stats_mu);
    nmx__iso_stats_put(g.pg, &st);
    pthread_mutex_unlock(&g.stats_mu);
}

void relay_publish(void)
{
    /* From the policy's SIGSYS handler, on a thread inside a refused system
     * call, which holds no lock of the key table. Never wait on stats_mu: if
     * another thread holds it, it is publishing anyway. */
    nmx_mem_stats st;
    if (!g.pg || nmx_key_stats(NULL, &st) != NMERR_SUCCESS)
        return;
    st.bad_key = 0;
    if (pthread_mutex_trylock(&g.stats_mu) == 0) {
        nmx__iso_stats_put(g.pg, &st);
        pthread_mutex_unlock(&g.stats_mu);
    }
}

/* Sends the events recorded and not yet sent (callers hold g.mu). Returns
 * NMERR_OUT_OF_MEMORY if one is too large for a frame (it is not sent). */
static DWORD send_events(void)
{
    nmx_run *run = atomic_load(&g.run);
    DWORD rc = NMERR_SUCCESS;
    if (!run)
        return rc;
    size_t n = nmx_run_event_count(run);
    for (; g.sent < n; g.sent++) {
        const NMEVENTDATA *ev = nmx_run_event(run, g.sent);
        size_t size = nmx__iso_event_size(ev);
        if (size > NMX_ISO_MAX_FRAME) {
            rc = NMERR_OUT_OF_MEMORY;
            continue;
        }
        void *buf = malloc(size);
        if (!buf) {
            rc = NMERR_OUT_OF_MEMORY;
            continue;
        }
        nmx__iso_event_encode(ev, buf);
        send_frame(NMX_ISO_MSG_EVENT, buf, size);
        free(buf);
    }
    return rc;
}

NMX_API DWORD WINAPI ExpertSubmitEvent(HEXPERTKEY key, PNMEVENTDATA ev)
{
    DWORD rc = g.submit ? g.submit(key, ev) : NMERR_INVALID_EXPERT_HANDLE;
    if (rc != NMERR_SUCCESS)
        return rc;
    pthread_mutex_lock(&g.mu);
    rc = send_events();
    pthread_mutex_unlock(&g.mu);
    publish_stats();
    return rc;
}

/* Interposed too, so that the statistics are published with each status,
 * outside the library's call (the progress callback, on_status, runs while
 * it holds the key): before it, so that the host never has a status without
 * the statistics of what the expert did before it (a worker killed right
 * after, hung, is reported with them), and after it. */
NMX_API DWORD WINAPI ExpertIndicateStatus(HEXPERTKEY key, EXPERTSTATUSENUMERATION status,
                                          DWORD sub, const char *text, LONG percent)
{
    publish_stats();
    DWORD rc = g.status ? g.status(key, status, sub, text, percent)
                        : NMERR_INVALID_EXPERT_HANDLE;
    if (rc == NMERR_SUCCESS)
        publish_stats();
    return rc;
}

static void on_status(nmx_run *run, const EXPERTSTATUS *st, void *ctx)
{
    (void)run;
    (void)ctx;
    pthread_mutex_lock(&g.mu);
    send_frame(NMX_ISO_MSG_STATUS, st, sizeof *st);
    pthread_mutex_unlock(&g.mu);
}

static void *control_main(void *arg)
{
    (void)arg;
    struct pollfd p = {g.chan, POLLIN, 0};
    for (;;) {
        int n = poll(&p, 1, PUBLISH_MS);
        if (n > 0) {
            char c;
            ssize_t r = read(g.chan, &c, 1);
            if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
                _exit(3); /* the host is gone: nobody waits for this run */
            if (r == 1 && c == NMX_ISO_TERMINATE) {
                atomic_store(&g.terminate_asked, 1);
                nmx_run *run = atomic_load(&g.run);
                if (run)
                    nmx_run_terminate(run);
            }
        }
        publish_stats();
    }
    return NULL;
}

int relay_send(uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    pthread_mutex_lock(&g.mu);
    int rc = frame_out(type, a, alen, b, blen);
    pthread_mutex_unlock(&g.mu);
    return rc;
}

static void fail(const char *fmt, const char *a, const char *b)
{
    char text[8192];
    snprintf(text, sizeof text, fmt, a, b);
    relay_send(NMX_ISO_MSG_FAIL, text, strlen(text) + 1, NULL, 0);
}

/* The host's capture, attached from the descriptors it handed over (C7:
 * nothing read again); without them (the empty capture, or a capture the
 * host keeps in anonymous memory, which it cannot hand over), the file by
 * its path. The descriptors are closed once attached: the capture holds
 * duplicates. */
static DWORD capture_from_host(const nmx_iso_page *pg, const char *path, nmx_capture **cap,
                               char *err, size_t errlen)
{
    uint32_t n = pg->req.capture_fds;
    if (!n)
        return path ? nmx_capture_open(path, cap, err, errlen) : NMERR_SUCCESS;
    int fds[NMX_ISO_MAX_CAPTURE_FDS];
    for (uint32_t i = 0; i < n; i++)
        fds[i] = WORKER_CAPTURE_FD + (int)i;
    DWORD rc = nmx__capture_attach(fds, (int)n, path, cap);
    for (uint32_t i = 0; i < n; i++)
        close(fds[i]);
    snprintf(err, errlen, "%s", rc == NMERR_SUCCESS ? "" : nmx_strerror(rc));
    return rc;
}

DWORD relay_open_capture(const nmx_iso_page *pg, nmx_capture **cap, nmx_filter **filter)
{
    char err[4096];
    *cap = NULL;
    *filter = NULL;
    const char *path = nmx__iso_str(pg, pg->req.capture);
    const char *expr = nmx__iso_str(pg, pg->req.filter);
    if (capture_from_host(pg, path, cap, err, sizeof err) != NMERR_SUCCESS) {
        fail("the worker cannot open the capture: %s%s", err, "");
        return NMERR_FILE_READ_ERROR;
    }
    if (expr && *cap && nmx_filter_create(*cap, expr, filter, err, sizeof err) != NMERR_SUCCESS) {
        fail("the worker cannot compile the filter %s: %s", expr, err);
        return NMERR_FILTER_INVALID_EXPRESSION;
    }
    return NMERR_SUCCESS;
}

static void send_result(const nmx_run_result *res)
{
    nmx_iso_result r;
    memset(&r, 0, sizeof r);
    r.returned = (uint32_t)res->returned;
    r.run_value = (uint32_t)res->run_value;
    r.fault_signal = res->fault_signal;
    r.fault_address = (uint64_t)(uintptr_t)res->fault_address;
    r.status = res->status;
    memcpy(r.mem, &res->mem, sizeof r.mem);
    pthread_mutex_lock(&g.stats_mu);
    nmx__iso_stats_put(g.pg, &res->mem);
    pthread_mutex_unlock(&g.stats_mu);
    pthread_mutex_lock(&g.mu);
    send_events();
    send_frame(NMX_ISO_MSG_RESULT, &r, sizeof r);
    pthread_mutex_unlock(&g.mu);
}

/* The run (NMX_ISO_OP_RUN) of the loaded module. */
static int run(nmx_iso_page *pg, nmx_expert *ex)
{
    nmx_capture *cap;
    nmx_filter *filter;
    if (relay_open_capture(pg, &cap, &filter) != NMERR_SUCCESS)
        return 6;
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = cap;
    o.filter = filter;
    o.config = (const EXPERTCONFIG *)nmx__iso_str(pg, pg->req.config);
    o.startup_flags = pg->req.startup_flags;
    o.quota_bytes = (size_t)pg->req.quota_bytes;
    o.grace_ms = UINT32_MAX; /* the host decides when a run is hung, and kills it */
    o.progress = on_status;
    nmx_run *run;
    if (nmx_run_start(ex, &o, &run) != NMERR_SUCCESS) {
        fail("the worker cannot start the run%s%s", "", "");
        return 7;
    }
    pthread_mutex_lock(&g.mu);
    atomic_store(&g.run, run);
    send_events(); /* those submitted before g.run was set */
    pthread_mutex_unlock(&g.mu);
    if (atomic_load(&g.terminate_asked))
        nmx_run_terminate(run);
    nmx_run_result res;
    nmx_run_wait(run, UINT32_MAX, &res);
    send_result(&res);
    return 0;
}

void relay_prepare(void)
{
    g.submit = (submit_fn)dlsym(RTLD_NEXT, "ExpertSubmitEvent");
    g.status = (status_fn)dlsym(RTLD_NEXT, "ExpertIndicateStatus");
}

int relay_main(nmx_iso_page *pg, int chan)
{
    g.pg = pg;
    g.chan = chan;
    pthread_t control;
    if (pthread_create(&control, NULL, control_main, NULL) != 0)
        return 4;
    char err[4096] = "no path";
    nmx_expert *ex = NULL;
    const char *path = nmx__iso_str(pg, pg->req.expert);
    DWORD rc = path ? nmx_expert_load(path, &ex, err, sizeof err) : NMERR_INVALID_PARAMETER;
    if (pg->req.op == NMX_ISO_OP_REGISTER)
        return answer_register(rc, ex, err);
    if (rc != NMERR_SUCCESS) {
        fail("the worker cannot load the expert: %s%s", err, "");
        return 5;
    }
    return pg->req.op == NMX_ISO_OP_CONFIGURE ? answer_configure(pg, ex) : run(pg, ex);
}
