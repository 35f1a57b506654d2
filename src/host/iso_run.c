/* One isolated run, seen from the host (SPEC H11): its page and channel,
 * the relay of what the worker reports, and the ways to end it.
 *
 * Everything the worker sends is checked before use (iso_wire.h): a worker
 * is foreign code that may write anything on its channel or in its page. A
 * frame that is not well formed ends the worker (it is killed) and the run
 * is reported as failed, naming that.
 */
#define _GNU_SOURCE
#include "host/isolate.h"
#include "host/iso_wire.h"
#include "capture/capture_internal.h"

#include <nmexpert/capture.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define DRAIN_MS 2000 /* after the worker died, how long its channel may stay open */

struct nmx__iso {
    nmx_iso_page *pg;
    size_t size;
    int chan;  /* the host's end */
    int pidfd;
    pid_t pid;
    _Atomic int killed;
};

static size_t str_bytes(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static nmx_iso_str put(char *data, size_t *used, const void *src, size_t n)
{
    nmx_iso_str s = {(uint32_t)*used, (uint32_t)n};
    if (n)
        memcpy(data + *used, src, n);
    *used += n;
    return s;
}

/* A binary blob followed by a NUL of its own, so that nmx__iso_str
 * accepts it (len counts it); none if n is 0. */
static nmx_iso_str put_blob(char *data, size_t *used, const void *src, size_t n)
{
    if (!n)
        return (nmx_iso_str){0, 0};
    nmx_iso_str s = put(data, used, src, n);
    data[(*used)++] = '\0';
    s.len++;
    return s;
}

/* The capture as the worker gets it (C7: nothing read again): descriptors
 * of its spools (nmx__capture_export), each a new read-only open but the
 * wait page's, so that nothing the worker maps of them can be written back
 * into the host's capture (mprotect cannot make writable what was opened
 * read-only). None for the empty capture or a capture that cannot be
 * exported: the worker then opens it by its path. */
typedef struct handover {
    int fds[NMX_ISO_MAX_CAPTURE_FDS];
    size_t nfds;
} handover;

static void handover_free(handover *h)
{
    for (size_t i = 0; i < h->nfds; i++)
        close(h->fds[i]);
    h->nfds = 0;
}

static int reopen(int fd, int read_only)
{
    if (!read_only)
        return fcntl(fd, F_DUPFD_CLOEXEC, 0);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    return open(proc, O_RDONLY | O_CLOEXEC);
}

static DWORD handover_make(HCAPTURE cap, handover *h)
{
    memset(h, 0, sizeof *h);
    int own[NMX_ISO_MAX_CAPTURE_FDS];
    int n = cap ? nmx__capture_export(cap, own, (int)NMX_ISO_MAX_CAPTURE_FDS) : -1;
    for (int i = 0; i < n; i++) {
        if ((h->fds[i] = reopen(own[i], i < NMX__EXPORT_SPOOLS)) < 0) {
            handover_free(h);
            return NMERR_NO_HANDLES;
        }
        h->nfds++;
    }
    return NMERR_SUCCESS;
}

/* The run's page, as a memfd: the request, then its strings and blobs. */
static int make_page(const nmx__iso_spec *sp, const handover *h, nmx__iso *w)
{
    const char *cap = sp->capture ? nmx_capture_path(sp->capture) : NULL;
    const char *flt = sp->filter ? nmx_filter_expression(sp->filter) : NULL;
    size_t cfg = sp->config && sp->config->RawConfigLength >= sizeof(DWORD)
                     ? sp->config->RawConfigLength : 0;
    size_t data = str_bytes(sp->expert_path) + str_bytes(cap) + str_bytes(flt) + cfg + 1;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    w->size = (NMX_ISO_DATA_OFF + data + page - 1) / page * page;
    int fd = memfd_create("nmexpert-run", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    void *m = ftruncate(fd, (off_t)w->size) == 0
                  ? mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                  : MAP_FAILED;
    if (m == MAP_FAILED) {
        close(fd);
        return -1;
    }
    nmx_iso_page *pg = w->pg = m;
    pg->magic = NMX_ISO_MAGIC;
    pg->version = NMX_ISO_VERSION;
    pg->size = w->size;
    pg->req.op = sp->op;
    pg->req.quota_bytes = sp->quota_bytes;
    pg->req.startup_flags = sp->startup_flags;
    pg->req.cpu_seconds = sp->cpu_seconds;
    pg->req.confine = !sp->unconfined;
    pg->req.capture_fds = (uint32_t)h->nfds;
    atomic_store(&pg->policy_syscall, -1);
    char *d = (char *)pg + NMX_ISO_DATA_OFF;
    size_t used = 0;
    /* The blob first, where the data area's alignment is EXPERTCONFIG's. */
    pg->req.config = put_blob(d, &used, sp->config, cfg);
    pg->req.expert = put(d, &used, sp->expert_path, str_bytes(sp->expert_path));
    pg->req.capture = put(d, &used, cap, str_bytes(cap));
    pg->req.filter = put(d, &used, flt, str_bytes(flt));
    return fd;
}

/* The page, the channel and the worker, for w. */
static DWORD spawn(nmx__iso *w, const nmx__iso_spec *sp, const handover *h)
{
    int page_fd = make_page(sp, h, w), sv[2] = {-1, -1};
    DWORD rc = NMERR_OUT_OF_MEMORY;
    if (page_fd >= 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0) {
        int fds[2 + NMX_ISO_MAX_CAPTURE_FDS] = {page_fd, sv[1]};
        memcpy(fds + 2, h->fds, h->nfds * sizeof(int));
        rc = nmx__iso_fork(fds, 2 + h->nfds, &w->pid, &w->pidfd);
        close(sv[1]);
        w->chan = sv[0];
    }
    if (page_fd >= 0)
        close(page_fd);
    return rc;
}

DWORD nmx__iso_start(const nmx__iso_spec *sp, nmx__iso **out)
{
    *out = NULL;
    if (!sp || !sp->expert_path)
        return NMERR_INVALID_PARAMETER;
    nmx__iso *w = calloc(1, sizeof *w);
    if (!w)
        return NMERR_OUT_OF_MEMORY;
    w->chan = w->pidfd = -1;
    handover h;
    DWORD rc = handover_make(sp->capture, &h);
    if (rc == NMERR_SUCCESS)
        rc = spawn(w, sp, &h);
    handover_free(&h);
    if (rc != NMERR_SUCCESS) {
        nmx__iso_free(w);
        return rc;
    }
    *out = w;
    return NMERR_SUCCESS;
}

void nmx__iso_terminate(nmx__iso *w)
{
    char c = NMX_ISO_TERMINATE;
    (void)!send(w->chan, &c, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void nmx__iso_kill(nmx__iso *w)
{
    atomic_store(&w->killed, 1);
    pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
}

int nmx__iso_killed(const nmx__iso *w)
{
    return atomic_load(&w->killed);
}

void nmx__iso_stats(const nmx__iso *w, nmx_mem_stats *out)
{
    nmx__iso_stats_get(w->pg, out);
}

void nmx__iso_free(nmx__iso *w)
{
    if (!w)
        return;
    if (w->chan >= 0)
        close(w->chan);
    if (w->pidfd >= 0)
        close(w->pidfd);
    if (w->pg)
        munmap(w->pg, w->size);
    free(w);
}

/* ---- serving ---- */

typedef struct reader {
    char *buf;
    size_t len, cap;
    int have_result, failed, malformed;
    int final; /* the op's last frame came: the result, or Register's or Configure's answer */
    nmx_iso_result result;
    char fail_text[EXPERTSTRINGLENGTH];
} reader;

static void on_frame(nmx__iso *w, reader *rd, const nmx_iso_frame *f, const char *p,
                     const nmx__iso_sink *sink)
{
    switch (f->type) {
    case NMX_ISO_MSG_STATUS:
        if (f->len == sizeof(EXPERTSTATUS) && !rd->have_result) {
            EXPERTSTATUS st;
            memcpy(&st, p, sizeof st);
            st.szStatusText[sizeof st.szStatusText - 1] = '\0';
            if (sink->status)
                sink->status(sink->ctx, &st);
            return;
        }
        break;
    case NMX_ISO_MSG_EVENT:
        if (!rd->have_result) {
            NMEVENTDATA *ev = nmx__iso_event_decode(p, f->len);
            if (ev) {
                if (sink->event)
                    sink->event(sink->ctx, ev, f->len);
                else
                    free(ev);
                return;
            }
        }
        break;
    case NMX_ISO_MSG_RESULT:
        if (f->len == sizeof(nmx_iso_result) && !rd->have_result) {
            memcpy(&rd->result, p, sizeof rd->result);
            rd->result.status.szStatusText[EXPERTSTRINGLENGTH - 1] = '\0';
            rd->have_result = rd->final = 1;
            return;
        }
        break;
    case NMX_ISO_MSG_REGISTERED:
    case NMX_ISO_MSG_CONFIGURED:
        if (sink->reply && sink->reply(sink->ctx, f->type, p, f->len) == 0) {
            rd->final = 1;
            return;
        }
        break;
    case NMX_ISO_MSG_FAIL:
        if (f->len > 0 && !rd->failed) {
            size_t n = f->len < sizeof rd->fail_text ? f->len : sizeof rd->fail_text;
            memcpy(rd->fail_text, p, n);
            rd->fail_text[n - 1] = '\0';
            rd->failed = 1;
            return;
        }
        break;
    }
    rd->malformed = 1;
    nmx__iso_kill(w);
}

/* Dispatches the whole frames in rd->buf; keeps a partial one. */
static void dispatch(nmx__iso *w, reader *rd, const nmx__iso_sink *sink)
{
    size_t at = 0;
    while (!rd->malformed && !rd->final && rd->len - at >= sizeof(nmx_iso_frame)) {
        nmx_iso_frame f;
        memcpy(&f, rd->buf + at, sizeof f);
        if (f.len > NMX_ISO_MAX_FRAME) {
            rd->malformed = 1;
            nmx__iso_kill(w);
            break;
        }
        if (rd->len - at - sizeof f < f.len)
            break;
        on_frame(w, rd, &f, rd->buf + at + sizeof f, sink);
        at += sizeof f + f.len;
    }
    memmove(rd->buf, rd->buf + at, rd->len - at);
    rd->len -= at;
}

/* Reads what is there; returns 0 at EOF, 1 to go on. */
static int take(nmx__iso *w, reader *rd, const nmx__iso_sink *sink)
{
    if (rd->cap - rd->len < 65536) {
        size_t nc = rd->cap ? rd->cap * 2 : 262144;
        char *nb = realloc(rd->buf, nc);
        if (!nb) {
            nmx__iso_kill(w); /* cannot take its frames: end it */
            return 0;
        }
        rd->buf = nb;
        rd->cap = nc;
    }
    ssize_t n = read(w->chan, rd->buf + rd->len, rd->cap - rd->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0)
        return 0;
    rd->len += (size_t)n;
    if (rd->malformed)
        rd->len = 0; /* killed already: what else comes is drained, not kept */
    else
        dispatch(w, rd, sink);
    return 1;
}

/* How the run ended when the worker sent no result. */
static void lost(nmx__iso *w, const reader *rd, nmx_run_result *res)
{
    res->status.Status = EXPERTSTATUS_ABORTED;
    res->status.SubStatus = EXPERTSUBSTATUS_ABORTED_THREAD_FAIL;
    char *text = res->status.szStatusText;
    size_t tl = sizeof res->status.szStatusText;
    int sys = atomic_load_explicit(&w->pg->policy_syscall, memory_order_acquire);
    int known = atomic_load_explicit(&w->pg->exit_known, memory_order_acquire);
    int ws = atomic_load_explicit(&w->pg->exit_status, memory_order_relaxed);
    if (rd->malformed) {
        snprintf(text, tl, "the worker sent a malformed message and was killed");
    } else if (atomic_load(&w->killed)) {
        res->status.SubStatus = EXPERTSUBSTATUS_ABORTED_USER;
        snprintf(text, tl, "killed by the host");
    } else if (rd->failed) {
        res->status.SubStatus = EXPERTSUBSTATUS_ABORTED_LOAD_FAIL;
        snprintf(text, tl, "%s", rd->fail_text);
    } else if (sys >= 0) {
        char name[sizeof w->pg->policy_call] = "";
        if (known)
            memcpy(name, w->pg->policy_call, sizeof name - 1);
        res->fault_signal = SIGSYS;
        snprintf(text, tl, "stopped by the isolation policy: %s (system call %d)",
                 name[0] ? name : "?", sys);
    } else if (known && WIFSIGNALED(ws)) {
        res->fault_signal = WTERMSIG(ws);
        snprintf(text, tl, "the worker died of signal %d (%s)", WTERMSIG(ws),
                 strsignal(WTERMSIG(ws)));
    } else if (known) {
        snprintf(text, tl, "the worker exited with status %d without a result",
                 WEXITSTATUS(ws));
    } else {
        snprintf(text, tl, "the worker ended without a result");
    }
}

static void ended(nmx__iso *w, const reader *rd, nmx_run_result *res)
{
    /* A killed worker's result is never taken (the watchdog may kill it
     * while its result is on the way): the expert may have forged it
     * before it hung. */
    if (rd->have_result && !rd->malformed && !atomic_load(&w->killed)) {
        const nmx_iso_result *r = &rd->result;
        res->returned = r->returned != 0;
        res->run_value = r->run_value != 0;
        res->fault_signal = r->fault_signal;
        res->fault_address = (void *)(uintptr_t)r->fault_address;
        res->status = r->status;
        memcpy(&res->mem, r->mem, sizeof res->mem);
        return;
    }
    res->returned = FALSE;
    res->run_value = FALSE;
    res->fault_address = NULL;
    nmx__iso_stats_get(w->pg, &res->mem);
    lost(w, rd, res);
}

void nmx__iso_serve(nmx__iso *w, const nmx__iso_sink *sink, nmx_run_result *res)
{
    reader rd;
    memset(&rd, 0, sizeof rd);
    struct pollfd p[2] = {{w->chan, POLLIN, 0}, {w->pidfd, POLLIN, 0}};
    int dead = 0;
    for (;;) {
        int n = poll(p, dead ? 1 : 2, dead ? DRAIN_MS : -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* dead, and the channel still open: something holds it */
        if (p[0].revents && !take(w, &rd, sink))
            break;
        if (rd.final) {
            /* Nothing follows the op's last frame: the worker is exiting.
             * Its exit (the teardown of its address space, then the
             * server's reaping) is not waited for, which would cost a run
             * milliseconds: it is ended now, whatever it would still do. */
            pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0);
            break;
        }
        if (!dead && p[1].revents)
            dead = 1;
    }
    free(rd.buf);
    ended(w, &rd, res);
}
