/* nmexpert-worker --fork-server: the fork-server of isolated runs (SPEC H11).
 *
 * The host spawns it once (src/host/iso_spawn.c) with a SOCK_SEQPACKET
 * socket as descriptor 3. Each request carries the run's page, the
 * worker's end of the run's channel and the capture's descriptors
 * (NMX_ISO_MAX_CAPTURE_FDS at most); the server passes them on to the
 * worker it forked ahead of the request (the spare, below; child.c),
 * answers with the worker's pid and a pidfd, through which the host can
 * signal it without a pid-reuse race, then forks the next. The server is
 * single-threaded and never runs expert code, so its fork children start
 * clean. It reaps its workers, writes each one's wait status into its page,
 * and only then closes its copy of the channel: the host's EOF on a channel
 * thus means the exit status is there. It ends when the host's socket closes
 * (the host exited); workers still running then see their own channels close
 * and end too.
 */
#define _GNU_SOURCE
#include "worker/worker.h"

#include <errno.h>
#include <stdio.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define SERVER_FD 3
#define MAX_FDS (2 + (int)NMX_ISO_MAX_CAPTURE_FDS) /* page, channel, capture */

#ifdef NMX_SANITIZED
/* Sanitizer builds: a report in a worker must not start a symbolizer
 * process, which the policy forbids (the report then names the refused
 * pipe2 or clone instead of the error); the report's addresses stay raw.
 * Workers end with _exit, so no leak check would run anyway, and with
 * threads running (the control thread, a hung expert's), which is how a
 * worker ends by design, not a leak. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "symbolize=0:detect_leaks=0";
}
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "symbolize=0:report_thread_leaks=0";
}
#endif

typedef struct worker {
    pid_t pid;
    nmx_iso_page *pg;
    size_t size;
    int chan; /* kept until the exit status is written */
} worker;

static worker *g_w;
static size_t g_n, g_cap;

typedef struct reply {
    int32_t err; /* 0 or an errno */
    int32_t pid;
} reply;

static void answer(int sock, int err, pid_t pid, int pidfd)
{
    reply r = {err, pid};
    struct iovec iov = {&r, sizeof r};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    if (pidfd >= 0) {
        m.msg_control = u.buf;
        m.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
    }
    (void)sendmsg(sock, &m, MSG_NOSIGNAL);
}

/* Receives a request's descriptors; returns how many (0 at EOF, -1 on error). */
static int receive(int sock, int *fds, int max)
{
    uint32_t version = 0;
    struct iovec iov = {&version, sizeof version};
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    if (n <= 0)
        return n == 0 ? 0 : -1;
    int got = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof fd);
            if (got < max)
                fds[got++] = fd;
            else
                close(fd);
        }
    }
    if (version != NMX_ISO_VERSION || (m.msg_flags & MSG_CTRUNC)) {
        for (int i = 0; i < got; i++)
            close(fds[i]);
        return -1;
    }
    return got;
}

static int remember(pid_t pid, int page_fd, int chan)
{
    if (g_n == g_cap) {
        size_t nc = g_cap ? g_cap * 2 : 16;
        worker *w = realloc(g_w, nc * sizeof *w);
        if (!w)
            return -1;
        g_w = w;
        g_cap = nc;
    }
    struct stat st;
    void *m = fstat(page_fd, &st) == 0
                  ? mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0)
                  : MAP_FAILED;
    g_w[g_n++] = (worker){pid, m == MAP_FAILED ? NULL : m, (size_t)st.st_size, chan};
    return 0;
}

/* The spare: the next worker, forked ahead of its request (zygote style)
 * and waiting on a socket of its own for the request's descriptors. A fork
 * of the server costs milliseconds here (its page tables, then the faults
 * of copy-on-write: docs/PERFORMANCE.md), which a run would otherwise wait
 * for; forked right after the previous worker was handed out, the spare
 * is ready by the next request. pidfd is opened at the fork, before the
 * spare can have been reaped. */
static struct {
    pid_t pid; /* 0: none */
    int sock;
    int pidfd;
} g_spare = {0, -1, -1};

__attribute__((noreturn)) static void spare_main(int sock)
{
    /* Nothing of the server's but stdio and this socket: not its socket to
     * the host, its signalfd, nor other workers' channels. */
    if (dup2(sock, SERVER_FD) < 0)
        _exit(120);
    syscall(SYS_close_range, SERVER_FD + 1, ~0U, 0);
    worker_ready(SERVER_FD);
    int fds[MAX_FDS];
    int n = receive(SERVER_FD, fds, MAX_FDS);
    if (n <= 0)
        _exit(0); /* the server is gone: no run for this one */
    close(SERVER_FD);
    worker_child(fds, n);
}

static void forget_spare(void)
{
    close(g_spare.sock);
    close(g_spare.pidfd);
    g_spare.pid = 0;
}

static void drop_spare(void)
{
    if (!g_spare.pid)
        return;
    kill(g_spare.pid, SIGKILL); /* not reaped yet: still ours */
    forget_spare();
}

static int fork_spare(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return errno;
    pid_t pid = fork();
    if (pid == 0)
        spare_main(sv[1]);
    int err = pid < 0 ? errno : 0;
    close(sv[1]);
    int pidfd = pid > 0 ? pidfd_open(pid, 0) : -1;
    if (pid > 0 && pidfd < 0) {
        err = errno;
        kill(pid, SIGKILL);
    }
    if (err) {
        close(sv[0]);
        return err;
    }
    g_spare.pid = pid;
    g_spare.sock = sv[0];
    g_spare.pidfd = pidfd;
    return 0;
}

/* Sends the request's n descriptors to the spare; 0, or -1 if it is gone. */
static int hand_over(const int *fds, int n)
{
    uint32_t version = NMX_ISO_VERSION;
    struct iovec iov = {&version, sizeof version};
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_FDS)];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    return sendmsg(g_spare.sock, &m, MSG_NOSIGNAL) == (ssize_t)sizeof version ? 0 : -1;
}

/* Makes the spare the worker of the request (forking one first if there is
 * none, or again if it died meanwhile); 0 or an errno. */
static int use_spare(const int *fds, int n, pid_t *pid, int *pidfd)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int err = g_spare.pid ? 0 : fork_spare();
        if (err)
            return err;
        if (hand_over(fds, n) == 0) {
            *pid = g_spare.pid;
            *pidfd = g_spare.pidfd;
            close(g_spare.sock);
            g_spare.pid = 0;
            return 0;
        }
        drop_spare();
    }
    return ECHILD;
}

/* fds: the page, the worker's channel end, the capture's (n in all); the
 * server keeps only the channel (until it has reaped the worker). */
static void start_worker(int sock, const int *fds, int n)
{
    pid_t pid = 0;
    int pidfd = -1;
    int err = use_spare(fds, n, &pid, &pidfd);
    if (!err && remember(pid, fds[0], fds[1]) != 0) {
        err = ENOMEM;
        kill(pid, SIGKILL);
    }
    answer(sock, err, pid, pidfd);
    if (pidfd >= 0)
        close(pidfd);
    close(fds[0]);
    for (int i = 2; i < n; i++)
        close(fds[i]);
    if (err)
        close(fds[1]);
    fork_spare(); /* for the next request; without one, that request forks */
}

/* The worker's end, in its page: its wait status and, if the policy
 * stopped it, the name of the call. */
static void write_exit(nmx_iso_page *pg, int status, size_t size)
{
    int nr = atomic_load_explicit(&pg->policy_syscall, memory_order_acquire);
    char *name = nr >= 0 ? seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr) : NULL;
    snprintf(pg->policy_call, sizeof pg->policy_call, "%s", name ? name : "");
    free(name);
    atomic_store_explicit(&pg->exit_status, status, memory_order_relaxed);
    atomic_store_explicit(&pg->exit_known, 1, memory_order_release);
    munmap(pg, size);
}

static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == g_spare.pid) { /* died waiting: its pidfd must go too */
            forget_spare();
            continue;
        }
        for (size_t i = 0; i < g_n; i++) {
            if (g_w[i].pid != pid)
                continue;
            if (g_w[i].pg)
                write_exit(g_w[i].pg, status, g_w[i].size);
            close(g_w[i].chan); /* now the host sees EOF */
            g_w[i] = g_w[--g_n];
            break;
        }
    }
}

static int serve(void)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        return 1;
    fork_spare(); /* the first run's worker */
    struct pollfd p[2] = {{SERVER_FD, POLLIN, 0}, {sfd, POLLIN, 0}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (p[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
                ;
            reap();
        }
        if (p[0].revents) {
            int fds[MAX_FDS];
            int n = receive(SERVER_FD, fds, MAX_FDS);
            if (n == 0)
                return 0; /* the host is gone */
            if (n < 2) {
                for (int i = 0; i < n; i++)
                    close(fds[i]);
                answer(SERVER_FD, EINVAL, 0, -1);
                continue;
            }
            start_worker(SERVER_FD, fds, n);
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || strcmp(argv[1], "--fork-server") != 0) {
        static const char usage[] =
            "nmexpert-worker: started by libnmexpert for isolated runs, not by hand\n";
        (void)!write(2, usage, sizeof usage - 1);
        return 2;
    }
    struct stat st;
    if (fstat(SERVER_FD, &st) != 0 || !S_ISSOCK(st.st_mode))
        return 2;
    /* Nothing of the host's but the socket and stdio. */
    syscall(SYS_close_range, SERVER_FD + 1, ~0U, 0);
    signal(SIGPIPE, SIG_IGN);
    /* The heap registers for expedited membarrier at its first key. In a
     * worker that already has threads, registration waits for an RCU grace
     * period (about 12 ms, most of a run's start-up); registered here, while
     * single-threaded, it costs nothing and every fork inherits it, so the
     * heap's own registration finds it done. */
    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    policy_prepare();
    return serve();
}
