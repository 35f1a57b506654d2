/* statusprobe: reports three statuses, each held until the test says go (H7).
 *
 * The test watches nmx_run_status while the expert waits, then bumps the
 * exported counter `statusprobe_go`:
 *   1. RUNNING, sub 7, 400 'A's, percent 150  -> text cut to 259, percent 99
 *   2. PROBLEM, sub 3, NULL text, percent -5  -> "", percent 0
 *   3. RUNNING, sub 0, "third", percent 42
 * Before step 1 it submits one event (EventIdent 1, "before step 1"), so
 * the test can look at the events of a run that is still going.
 * Each return code goes to `statusprobe_rc`. A step waits at most 10 s.
 * One run at a time (globals).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <nmexpert/netmon.h>

#include <stdatomic.h>
#include <string.h>
#include <time.h>

atomic_int statusprobe_go;
DWORD statusprobe_rc[3];

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "statusprobe");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Reports statuses step by step");
    info->Version = 1;
    return TRUE;
}

static BOOL wait_go(int step)
{
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 10000; i++) {
        if (atomic_load(&statusprobe_go) >= step)
            return TRUE;
        nanosleep(&ms, NULL);
    }
    return FALSE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    char longtext[401];
    memset(longtext, 'A', 400);
    longtext[400] = '\0';
    NMEVENTDATA ev;
    memset(&ev, 0, sizeof ev);
    ev.EventIdent = 1;
    ev.szSourceName = "statusprobe";
    ev.szEventName = "before step 1";
    if (ExpertSubmitEvent(key, &ev) != NMERR_SUCCESS)
        return FALSE;
    statusprobe_rc[0] = ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 7, longtext, 150);
    if (!wait_go(1))
        return FALSE;
    statusprobe_rc[1] = ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 3, NULL, -5);
    if (!wait_go(2))
        return FALSE;
    statusprobe_rc[2] = ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "third", 42);
    if (!wait_go(3))
        return FALSE;
    return TRUE;
}
