/* misuse: the ways an expert once hung, corrupted or fooled the host (issue
 * 8's regression cases; tests/test_host_hostile_mt.c says what the host must
 * make of each). Its configuration is the case's name:
 *
 *   status_unmapped   ExpertIndicateStatus with a text pointer into unmapped
 *                     memory, then reports status until told to stop;
 *   filter_errbuf     a bad expression with an ErrorLength larger than the
 *                     buffer really is (the buffer ends at a PROT_NONE page);
 *   overflow_in_alloc N  recurses until N bytes of stack are left, then asks
 *                     for a block big enough to need a new segment (the
 *                     segment cache's lock);
 *   event_race        submits events while a thread of its own keeps growing
 *                     and shrinking one of their strings;
 *   mprotect_block    leaves a large block and a small one read-only and
 *                     returns;
 *   free_config       frees its pConfig, then allocates a block of the same
 *                     size and leaves it (a leak of exactly one block);
 *   config_quota      reports whether it got its configuration;
 *   stray_thread      starts a thread that keeps calling Expert* functions
 *                     with the key after Run has returned;
 *   share_filter      makes a filter, publishes it, waits until released;
 *   foreign_filter    uses and destroys the filter another run published;
 *   wait_for_signal   publishes its thread and waits until terminated.
 *
 * Results go to the exported `misuse_out`. One case at a time, except
 * share_filter beside foreign_filter.
 */
#define _GNU_SOURCE
#include <nmexpert/netmon.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

typedef struct misuse_out_t {
    DWORD rc[4];
    _Atomic int published;    /* share_filter, wait_for_signal: ready */
    _Atomic int release;      /* share_filter: the test lets it end */
    HFILTER filter;           /* share_filter's filter */
    pthread_t thread;         /* wait_for_signal's thread */
    _Atomic int stray_done;   /* stray_thread: the thread has stopped */
    _Atomic long stray_calls; /* ... and made this many calls */
    DWORD config_length;      /* config_quota: RawConfigLength seen, 0 if none */
    unsigned events;          /* event_race: events submitted */
} misuse_out_t;

misuse_out_t misuse_out;

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "misuse");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Misuses the host in the ways issue 8 lists");
    info->Version = 1;
    return TRUE;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static BOOL status_unmapped(HEXPERTKEY key)
{
    misuse_out.rc[0] = ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0,
                                            (const char *)(uintptr_t)0x8000, 5);
    while (ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "waiting", 10) !=
           NMERR_EXPERT_TERMINATE)
        sleep_ms(1);
    return TRUE;
}

static BOOL filter_errbuf(HEXPERTKEY key)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *p = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return FALSE;
    mprotect(p + pg, (size_t)pg, PROT_NONE);
    HFILTER f = NULL;
    misuse_out.rc[0] = nmx_ExpertCreateFilter(key, "tcp and and", &f, p + pg - 8, 4096);
    munmap(p, (size_t)(2 * pg));
    return TRUE;
}

static char *g_stack_lo;
static long g_leave; /* bytes of stack to leave */

static __attribute__((noinline)) void dive(HEXPERTKEY key, int depth)
{
    volatile char pad[16];
    pad[0] = (char)depth;
    if ((char *)__builtin_frame_address(0) - g_stack_lo > g_leave + 64) {
        dive(key, depth + 1);
        pad[1] = pad[0]; /* not a tail call */
        return;
    }
    DWORD err;
    ExpertAllocMemory(key, (SIZE_T)8 << 20, &err);
}

static BOOL overflow_in_alloc(HEXPERTKEY key, const char *arg)
{
    g_leave = strtol(arg, NULL, 10);
    pthread_attr_t a;
    void *lo;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &a) != 0)
        return FALSE;
    pthread_attr_getstack(&a, &lo, &size);
    pthread_attr_destroy(&a);
    g_stack_lo = lo;
    dive(key, 0);
    return TRUE; /* not reached: the host ends the run */
}

static char g_grow[4096];
static atomic_int g_grow_stop;

/* Long and short in turns, each for a while, so that a copy that measures
 * in one pass and copies in a second often sees both. */
static void *grower(void *arg)
{
    (void)arg;
    volatile char *s = g_grow;
    while (!atomic_load_explicit(&g_grow_stop, memory_order_relaxed)) {
        for (size_t i = 2; i < sizeof g_grow - 1; i++)
            s[i] = 'A';
        s[1] = 'A';
        for (volatile int spin = 0; spin < 2000; spin++)
            ;
        s[1] = '\0';
        for (volatile int spin = 0; spin < 2000; spin++)
            ;
    }
    return NULL;
}

static BOOL event_race(HEXPERTKEY key)
{
    memset(g_grow, 0, sizeof g_grow);
    g_grow[0] = 'A';
    atomic_store(&g_grow_stop, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, grower, NULL) != 0)
        return FALSE;
    NMEVENTDATA *ev = ExpertAllocMemory(key, sizeof *ev + sizeof(NMCOLUMNINFO), NULL);
    ev->NumColumns = 1;
    ev->szSourceName = g_grow;
    ev->Column[0].szColumnName = "grown";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_STRING;
    ev->Column[0].VariantData.Value.pStringVal = g_grow;
    unsigned n = 0;
    for (int i = 0; i < 20000; i++)
        n += ExpertSubmitEvent(key, ev) == NMERR_SUCCESS;
    atomic_store(&g_grow_stop, 1);
    pthread_join(t, NULL);
    misuse_out.events = n;
    ExpertFreeMemory(key, ev);
    return TRUE;
}

static BOOL mprotect_block(HEXPERTKEY key)
{
    unsigned char *big = ExpertAllocMemory(key, 256 << 10, NULL);
    unsigned char *small = ExpertAllocMemory(key, 64, NULL);
    if (!big || !small)
        return FALSE;
    memset(big, 0xAB, 256 << 10);
    memset(small, 0xCD, 64);
    long pg = sysconf(_SC_PAGESIZE);
    misuse_out.rc[0] = (DWORD)mprotect(big, 256 << 10, PROT_READ);
    misuse_out.rc[1] = (DWORD)mprotect((void *)((uintptr_t)small & ~(uintptr_t)(pg - 1)),
                                       (size_t)pg, PROT_READ);
    return TRUE; /* both blocks left for the host to reclaim */
}

static BOOL free_config(HEXPERTKEY key, PEXPERTCONFIG config)
{
    if (!config)
        return FALSE;
    DWORD len = config->RawConfigLength;
    misuse_out.rc[0] = (DWORD)ExpertFreeMemory(key, config);
    return ExpertAllocMemory(key, len, NULL) != NULL; /* left behind */
}

static HEXPERTKEY g_stray_key;

static void *stray(void *arg)
{
    (void)arg;
    int bad = 0;
    long calls = 0;
    NMEVENTDATA ev;
    memset(&ev, 0, sizeof ev);
    ev.szSourceName = "stray";
    while (bad < 200 && calls < 10000000) {
        EXPERTFRAMEDESCRIPTOR d;
        DWORD a = ExpertIndicateStatus(g_stray_key, EXPERTSTATUS_RUNNING, 0, "stray", 1);
        DWORD b = ExpertGetFrame(g_stray_key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER,
                                 NULL, &d);
        DWORD c = ExpertSubmitEvent(g_stray_key, &ev);
        calls += 3;
        bad = a == NMERR_INVALID_EXPERT_HANDLE && b == NMERR_INVALID_EXPERT_HANDLE &&
                      c == NMERR_INVALID_EXPERT_HANDLE
                  ? bad + 1
                  : 0;
    }
    atomic_store(&misuse_out.stray_calls, calls);
    atomic_store(&misuse_out.stray_done, 1);
    return NULL;
}

static BOOL stray_thread(HEXPERTKEY key)
{
    g_stray_key = key;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    int ok = pthread_create(&t, &a, stray, NULL) == 0;
    pthread_attr_destroy(&a);
    sleep_ms(5); /* let it get going while the run is alive */
    return ok;
}

static BOOL share_filter(HEXPERTKEY key)
{
    char err[256];
    misuse_out.rc[0] = nmx_ExpertCreateFilter(key, "tcp", &misuse_out.filter, err, sizeof err);
    atomic_store(&misuse_out.published, 1);
    for (int i = 0; i < 20000 && !atomic_load(&misuse_out.release); i++)
        sleep_ms(1);
    /* Still ours after the other run tried to destroy it. */
    EXPERTFRAMEDESCRIPTOR d;
    misuse_out.rc[1] = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER,
                                      misuse_out.filter, &d);
    return TRUE;
}

static BOOL foreign_filter(HEXPERTKEY key)
{
    EXPERTFRAMEDESCRIPTOR d;
    misuse_out.rc[2] = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER,
                                      misuse_out.filter, &d);
    misuse_out.rc[3] = nmx_ExpertDestroyFilter(key, misuse_out.filter);
    return TRUE;
}

static BOOL wait_for_signal(HEXPERTKEY key)
{
    misuse_out.thread = pthread_self();
    atomic_store(&misuse_out.published, 1);
    while (ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "waiting", 1) !=
           NMERR_EXPERT_TERMINATE)
        sleep_ms(1);
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO si, DWORD flags,
                HWND parent)
{
    (void)si;
    (void)flags;
    (void)parent;
    const char *c = config && config->RawConfigLength > sizeof(DWORD)
                        ? (const char *)config->RawConfigData
                        : "";
    if (!strncmp(c, "status_unmapped", 15))
        return status_unmapped(key);
    if (!strncmp(c, "filter_errbuf", 13))
        return filter_errbuf(key);
    if (!strncmp(c, "overflow_in_alloc", 17))
        return overflow_in_alloc(key, c + 17);
    if (!strncmp(c, "event_race", 10))
        return event_race(key);
    if (!strncmp(c, "mprotect_block", 14))
        return mprotect_block(key);
    if (!strncmp(c, "free_config", 11))
        return free_config(key, config);
    if (!strncmp(c, "config_quota", 12)) {
        misuse_out.config_length = config ? config->RawConfigLength : 0;
        return TRUE;
    }
    if (!strncmp(c, "stray_thread", 12))
        return stray_thread(key);
    if (!strncmp(c, "share_filter", 12))
        return share_filter(key);
    if (!strncmp(c, "foreign_filter", 14))
        return foreign_filter(key);
    if (!strncmp(c, "wait_for_signal", 15))
        return wait_for_signal(key);
    return FALSE;
}
