/* A new worker, just forked by the server: it keeps only its own
 * descriptors, maps its run's page, takes its limits and its policy, and
 * runs (SPEC H11). The server is single-threaded, so the child of its fork
 * may do anything: no lock of another thread is left held in it.
 */
#define _GNU_SOURCE
#include "worker/worker.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Puts the request's descriptors at their fixed numbers (fds[0], the page,
 * at WORKER_PAGE_FD; fds[1], the channel, at WORKER_CHAN_FD; the capture's
 * from WORKER_CAPTURE_FD on, in order) and closes every other descriptor
 * above stderr: the server's socket, other runs' channels. Each is first
 * moved above both the targets and every source, so that no dup2 closes a
 * descriptor not yet moved. */
static int own_descriptors(const int *fds, int n)
{
    int above = WORKER_CAPTURE_FD + n;
    for (int i = 0; i < n; i++)
        if (fds[i] >= above)
            above = fds[i] + 1;
    int high[2 + NMX_ISO_MAX_CAPTURE_FDS];
    if (n > (int)(sizeof high / sizeof high[0]))
        return -1;
    for (int i = 0; i < n; i++)
        if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, above)) < 0)
            return -1;
    for (int i = 0; i < n; i++) {
        int to = i == 0 ? WORKER_PAGE_FD : i == 1 ? WORKER_CHAN_FD : WORKER_CAPTURE_FD + i - 2;
        if (dup2(high[i], to) < 0)
            return -1;
    }
    return (int)syscall(SYS_close_range, WORKER_CAPTURE_FD + n - 2, ~0U, 0);
}

static void signals_default(void)
{
    sigset_t none;
    sigemptyset(&none);
    signal(SIGCHLD, SIG_DFL);
    /* A host that went away must not kill the worker halfway through a
     * write: the write fails and the worker ends by itself. */
    signal(SIGPIPE, SIG_IGN);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static nmx_iso_page *map_page(void)
{
    struct stat st;
    if (fstat(WORKER_PAGE_FD, &st) != 0 || (size_t)st.st_size < NMX_ISO_DATA_OFF)
        return NULL;
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, WORKER_PAGE_FD, 0);
    if (m == MAP_FAILED)
        return NULL;
    nmx_iso_page *pg = m;
    if (pg->magic != NMX_ISO_MAGIC || pg->version != NMX_ISO_VERSION ||
        pg->size != (uint64_t)st.st_size)
        return NULL;
    return pg;
}

static void say_fail(const char *text)
{
    nmx_iso_frame f = {NMX_ISO_MSG_FAIL, (uint32_t)strlen(text) + 1};
    if (write(WORKER_CHAN_FD, &f, sizeof f) == (ssize_t)sizeof f)
        (void)!write(WORKER_CHAN_FD, text, f.len);
}

void worker_child(const int *fds, int n)
{
    signals_default();
    if (n < 2 || own_descriptors(fds, n) != 0)
        _exit(120);
    nmx_iso_page *pg = map_page();
    if (!pg) {
        say_fail("the worker could not map its run's page");
        _exit(121);
    }
    close(WORKER_PAGE_FD); /* the mapping is enough */
    if (pg->req.capture_fds != (uint32_t)(n - 2)) {
        say_fail("the worker did not receive its capture's descriptors");
        _exit(123);
    }
    atomic_store_explicit(&pg->policy_syscall, -1, memory_order_relaxed);
    if (pg->req.confine) {
        policy_limits(pg);
        if (policy_confine(pg, relay_publish) != 0) {
            say_fail("the worker could not load its seccomp policy");
            _exit(122);
        }
    }
    _exit(relay_main(pg, WORKER_CHAN_FD));
}
