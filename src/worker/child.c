/* A new worker, forked by the server ahead of its request (a spare,
 * server.c): it gets ready while it waits, then, given its request, keeps
 * only its own descriptors, maps its run's page, takes its limits and its
 * policy, and runs (SPEC H11). The server is single-threaded, so the child
 * of its fork may do anything: no lock of another thread is left held in it.
 */
#define _GNU_SOURCE
#include "worker/worker.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
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

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* Gives the spare now the page-table entries a run would otherwise fault in
 * one at a time (tens of microseconds each on a virtual machine, hundreds per
 * run): a fork copies none for the server's file mappings (its libraries'
 * code, symbol tables and strings, which the loader and the run read), and
 * the first write to a page shared with the server copies it. Read-only
 * mappings of files are populated for reading, private writable ones (the
 * libraries' data, the heap, the stack) for writing, unless larger than
 * POPULATE_MAX (a reservation, not data; a sanitizer's shadow, which is why
 * their builds skip this altogether). A few milliseconds of
 * the spare's, while the previous run goes on; given up as soon as its
 * request is there (sock readable): then a run would wait for them. */
#define POPULATE_MAX (16ul << 20)

#ifndef NMX_SANITIZED
static void populate(int sock)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return;
    char line[4352]; /* a path of PATH_MAX and the rest */
    struct pollfd p = {sock, POLLIN, 0};
    while (fgets(line, sizeof line, f) && poll(&p, 1, 0) == 0) {
        unsigned long lo, hi, ino;
        char perm[5];
        if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &lo, &hi, perm, &ino) != 4 ||
            perm[0] != 'r' || perm[3] != 'p' || strstr(line, "[v"))
            continue; /* [vvar], [vdso], [vsyscall] */
        if (perm[1] == 'w' && hi - lo <= POPULATE_MAX)
            madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
        else if (ino)
            madvise((void *)lo, hi - lo, MADV_POPULATE_READ);
    }
    fclose(f);
}
#endif

void worker_ready(int sock)
{
    signals_default();
    /* Threads share the main arena, which is populated below: a thread's
     * own would be mapped, trimmed and faulted in during the run. */
    mallopt(M_ARENA_MAX, 1);
    relay_prepare();
#ifndef NMX_SANITIZED
    populate(sock);
#else
    (void)sock;
#endif
}

void worker_child(const int *fds, int n)
{
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
