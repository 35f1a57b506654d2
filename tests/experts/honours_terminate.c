/* honours_terminate: works until the host says stop, then cleans up (H4).
 *
 * It loops calling ExpertIndicateStatus and ExpertAllocMemory (holding one
 * block throughout) until a call returns NMERR_EXPERT_TERMINATE. Then it
 * calls every Expert* function once more and records what each returned in
 * the exported `honours_probe`, which the test reads through dlsym: Alloc,
 * Realloc, IndicateStatus, SubmitEvent and GetFrame must say TERMINATE;
 * Free must free the held block and say TERMINATE too (M6). It returns
 * TRUE at once. One run at a time: the probe is a global.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <nmexpert/netmon.h>

#include <string.h>
#include <time.h>

/* ExpertGetFrame comes with the capture layer: referenced weakly, so the
 * module loads into a host that does not provide it yet (probe says so). */
#pragma weak ExpertGetFrame

typedef struct honours_probe_t {
    int reached;           /* 1 once the probe below ran */
    unsigned loops;        /* iterations before the terminate was seen */
    DWORD first_terminate; /* which call saw it first: 1 status, 2 alloc, 3 free */
    DWORD alloc_rc;
    int alloc_null;
    DWORD realloc_rc;
    int realloc_null;
    SIZE_T held_size_after_realloc; /* the held block is untouched */
    DWORD status_rc, submit_rc, getframe_rc, startup_rc;
    int have_getframe;
    SIZE_T free_rc;
    SIZE_T held_size_after_free; /* 0: the block was released */
    SIZE_T free_again_rc;        /* freeing it twice is still refused */
    SIZE_T free_null_rc;
} honours_probe_t;

honours_probe_t honours_probe;

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "honours_terminate");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Runs until terminated, then cleans up");
    info->Version = 1;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    memset(&honours_probe, 0, sizeof honours_probe);
    DWORD err;
    void *held = ExpertAllocMemory(key, 100, &err);
    if (!held)
        return FALSE;
    struct timespec ms = {0, 1000000};
    for (unsigned i = 0;; i++) {
        honours_probe.loops = i;
        if (ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "working", (LONG)(i % 100)) ==
            NMERR_EXPERT_TERMINATE) {
            honours_probe.first_terminate = 1;
            break;
        }
        void *p = ExpertAllocMemory(key, 64, &err);
        if (!p) {
            if (err == NMERR_EXPERT_TERMINATE) {
                honours_probe.first_terminate = 2;
                break;
            }
            continue;
        }
        if (ExpertFreeMemory(key, p) == NMERR_EXPERT_TERMINATE) {
            honours_probe.first_terminate = 3;
            break;
        }
        nanosleep(&ms, NULL);
    }

    err = 0;
    void *a = ExpertAllocMemory(key, 32, &err);
    honours_probe.alloc_rc = err;
    honours_probe.alloc_null = a == NULL;
    err = 0;
    void *r = ExpertReallocMemory(key, held, 1000, &err);
    honours_probe.realloc_rc = err;
    honours_probe.realloc_null = r == NULL;
    honours_probe.held_size_after_realloc = ExpertMemorySize(key, held);
    honours_probe.status_rc = ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "late", 50);
    NMEVENTDATA ev;
    memset(&ev, 0, sizeof ev);
    ev.szSourceName = "honours_terminate";
    honours_probe.submit_rc = ExpertSubmitEvent(key, &ev);
    if (ExpertGetFrame) {
        EXPERTFRAMEDESCRIPTOR desc;
        memset(&desc, 0, sizeof desc);
        honours_probe.have_getframe = 1;
        honours_probe.getframe_rc = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD,
                                                   FLAGS_DEFER_TO_UI_FILTER,
                                                   INVALID_FRAME_NUMBER, NULL, &desc);
    }
    EXPERTSTARTUPINFO si;
    honours_probe.startup_rc = ExpertGetStartupInfo(key, &si);
    honours_probe.free_rc = ExpertFreeMemory(key, r ? r : held);
    honours_probe.held_size_after_free = ExpertMemorySize(key, held);
    honours_probe.free_again_rc = ExpertFreeMemory(key, held);
    honours_probe.free_null_rc = ExpertFreeMemory(key, NULL);
    honours_probe.reached = 1;
    return TRUE;
}
