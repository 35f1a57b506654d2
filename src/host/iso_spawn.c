/* The fork-server of isolated runs, seen from the host (SPEC H11).
 *
 * Spawned once, with posix_spawn (exec: nothing of the multithreaded host
 * survives in it but a socket and stdio), from nmexpert-worker. Each run
 * then costs the host one request on that socket and the server one fork of
 * a small single-threaded process, instead of an exec and the dynamic
 * linking of libnmexpert and its dependencies per run (docs/ARCHITECTURE.md
 * gives the figures). Requests are serialised by one mutex; a server that
 * died is reaped and spawned again at the next request.
 */
#define _GNU_SOURCE
#include "host/isolate.h"
#include "host/iso_wire.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef NMX_WORKER_RELDIR
#define NMX_WORKER_RELDIR "../libexec/nmexpert"
#endif
#define WORKER_NAME "nmexpert-worker"

extern char **environ;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_sock = -1;  /* our end of the server's socket */
static pid_t g_server;   /* its pid, for reaping it once it died */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* A child of a fork of the host must not talk on its parent's socket: its
 * requests and the parent's would cross. It spawns a server of its own. */
static void forget_in_child(void)
{
    if (g_sock >= 0)
        close(g_sock);
    g_sock = -1;
    g_server = 0;
    pthread_mutex_init(&g_mu, NULL);
}

static void at_fork_once(void)
{
    pthread_atfork(NULL, NULL, forget_in_child);
}

static int executable(const char *p)
{
    return access(p, X_OK) == 0;
}

int nmx__iso_worker_path(char *buf, size_t len)
{
    const char *env = getenv("NMEXPERT_WORKER");
    if (env && *env) {
        snprintf(buf, len, "%s", env);
        return executable(buf) ? 0 : -1;
    }
    Dl_info info;
    if (!dladdr((void *)nmx__iso_worker_path, &info) || !info.dli_fname)
        return -1;
    const char *slash = strrchr(info.dli_fname, '/');
    int dir = slash ? (int)(slash - info.dli_fname) : 1;
    const char *base = slash ? info.dli_fname : ".";
    snprintf(buf, len, "%.*s/%s", dir, base, WORKER_NAME);
    if (executable(buf))
        return 0;
    snprintf(buf, len, "%.*s/%s/%s", dir, base, NMX_WORKER_RELDIR, WORKER_NAME);
    return executable(buf) ? 0 : -1;
}

/* Spawns the server with one end of a new socketpair as its descriptor 3. */
static DWORD spawn_server(void)
{
    char path[4096];
    if (nmx__iso_worker_path(path, sizeof path) != 0)
        return NMERR_FILE_NOT_FOUND;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return NMERR_OUT_OF_MEMORY;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = {path, "--fork-server", NULL};
    int rc = posix_spawn(&g_server, path, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return NMERR_OUT_OF_MEMORY;
    }
    g_sock = sv[0];
    return NMERR_SUCCESS;
}

static void forget_server(void)
{
    close(g_sock);
    g_sock = -1;
    waitpid(g_server, NULL, 0); /* its socket closed: it is ending */
}

/* One request and its answer; -1 when the server is gone. fds: the page,
 * the worker's channel end, then the capture's (at most 2 +
 * NMX_ISO_MAX_CAPTURE_FDS in all). */
static int ask(const int *fds, size_t nfds, pid_t *pid, int *pidfd, int *err)
{
    uint32_t version = NMX_ISO_VERSION;
    struct iovec iov = {&version, sizeof version};
    union {
        char buf[CMSG_SPACE(sizeof(int) * (2 + NMX_ISO_MAX_CAPTURE_FDS))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
                       .msg_controllen = CMSG_SPACE(sizeof(int) * nfds)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
    if (sendmsg(g_sock, &m, MSG_NOSIGNAL) != (ssize_t)sizeof version)
        return -1;

    int32_t r[2];
    struct iovec riov = {r, sizeof r};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ru;
    struct msghdr rm = {.msg_iov = &riov, .msg_iovlen = 1, .msg_control = ru.buf,
                        .msg_controllen = sizeof ru.buf};
    ssize_t n;
    while ((n = recvmsg(g_sock, &rm, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof r)
        return -1;
    *pidfd = -1;
    struct cmsghdr *rc = CMSG_FIRSTHDR(&rm);
    if (rc && rc->cmsg_type == SCM_RIGHTS && rc->cmsg_len == CMSG_LEN(sizeof(int)))
        memcpy(pidfd, CMSG_DATA(rc), sizeof(int));
    *err = r[0];
    *pid = (pid_t)r[1];
    return 0;
}

DWORD nmx__iso_fork(const int *fds, size_t nfds, pid_t *pid, int *pidfd)
{
    if (nfds < 2 || nfds > 2 + NMX_ISO_MAX_CAPTURE_FDS)
        return NMERR_INVALID_PARAMETER;
    pthread_once(&g_once, at_fork_once);
    pthread_mutex_lock(&g_mu);
    DWORD rc = NMERR_SUCCESS;
    int err = 0;
    for (int attempt = 0;; attempt++) {
        if (g_sock < 0 && (rc = spawn_server()) != NMERR_SUCCESS)
            break;
        if (ask(fds, nfds, pid, pidfd, &err) == 0)
            break;
        forget_server();
        if (attempt == 1) {
            rc = NMERR_OUT_OF_MEMORY;
            break;
        }
    }
    pthread_mutex_unlock(&g_mu);
    if (rc == NMERR_SUCCESS && (err || *pidfd < 0)) {
        if (*pidfd >= 0)
            close(*pidfd);
        rc = NMERR_OUT_OF_MEMORY;
    }
    return rc;
}
