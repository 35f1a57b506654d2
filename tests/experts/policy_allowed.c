/* policy_allowed: does what docs/WRITING-EXPERTS.md says an expert may do in
 * a worker (H11), and reports what worked.
 *
 * Memory (Expert* calls, malloc, an anonymous mmap and mprotect), a thread
 * with a mutex, time (clock_gettime, nanosleep), getrandom, reading files
 * (/proc/self/maps, and the capture file the startup info names, when there
 * is one), listing a folder, isatty (ioctl fails quietly), writing to
 * stderr, a signal to itself with a handler of its own. It submits one event
 * with a UINT32 column "failed": the bit of each step that failed (0: all
 * worked).
 */
#define _GNU_SOURCE
#include <nmexpert/netmon.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "policy_allowed");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Does what an isolated expert may do");
    info->Version = 1;
    return TRUE;
}

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t g_caught;

static void *thread_main(void *arg)
{
    pthread_mutex_lock(&g_mu);
    *(int *)arg = 42;
    pthread_mutex_unlock(&g_mu);
    return NULL;
}

static void on_usr1(int sig)
{
    (void)sig;
    g_caught = 1;
}

static int memory_works(HEXPERTKEY key)
{
    DWORD err;
    void *a = ExpertAllocMemory(key, 1000, &err), *b = malloc(1000);
    void *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok = a && b && m != MAP_FAILED && mprotect(m, 4096, PROT_READ) == 0;
    if (m != MAP_FAILED)
        munmap(m, 8192);
    free(b);
    if (a)
        ExpertFreeMemory(key, a);
    return ok;
}

static int thread_works(void)
{
    pthread_t t;
    int v = 0;
    if (pthread_create(&t, NULL, thread_main, &v) != 0)
        return 0;
    pthread_join(t, NULL);
    return v == 42;
}

static int time_and_random_work(void)
{
    struct timespec t, nap = {0, 1000000};
    unsigned char r[16];
    return clock_gettime(CLOCK_MONOTONIC, &t) == 0 && nanosleep(&nap, NULL) == 0 &&
           getrandom(r, sizeof r, 0) == (ssize_t)sizeof r;
}

static int reading_works(const char *capture)
{
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    int ok = f && fgets(line, sizeof line, f) != NULL;
    if (f)
        fclose(f);
    if (capture && *capture) {
        int fd = open(capture, O_RDONLY);
        ok = ok && fd >= 0 && posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) == 0 &&
             read(fd, line, 4) == 4 && pread(fd, line, 4, 0) == 4;
        if (fd >= 0)
            close(fd);
    }
    DIR *d = opendir("/");
    ok = ok && d && readdir(d) != NULL;
    if (d)
        closedir(d);
    return ok;
}

static int signals_work(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    return sigaction(SIGUSR1, &sa, NULL) == 0 && raise(SIGUSR1) == 0 && g_caught;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)flags;
    (void)parent;
    DWORD failed = 0;
    failed |= memory_works(key) ? 0 : 1u;
    failed |= thread_works() ? 0 : 2u;
    failed |= time_and_random_work() ? 0 : 4u;
    failed |= reading_works(startup ? startup->szCaptureFile : NULL) ? 0 : 8u;
    failed |= isatty(0) == 0 || isatty(0) == 1 ? 0 : 16u; /* either: it returned */
    failed |= fprintf(stderr, "%s", "") >= 0 ? 0 : 32u;
    failed |= signals_work() ? 0 : 64u;
    DWORD err;
    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + sizeof(NMCOLUMNINFO), &err);
    if (!ev)
        return FALSE;
    ev->EventIdent = 1;
    ev->NumColumns = 1;
    ev->szSourceName = "policy_allowed";
    ev->szEventName = "Allowed";
    ev->Column[0].szColumnName = "failed";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[0].VariantData.Value.Uint32Val = failed;
    BOOL ok = ExpertSubmitEvent(key, ev) == NMERR_SUCCESS;
    ExpertFreeMemory(key, ev);
    return ok;
}
