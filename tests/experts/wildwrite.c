/* wildwrite: a wild write over what, in process, is the host's own memory.
 *
 * It holds one 1 MiB block, reports a status, then fills every byte of the
 * process's brk heap ("[heap]" in /proc/self/maps, where glibc's malloc
 * keeps the host's run structures, events and the expert list) with 0xA5,
 * then submits an event and returns. No trap can contain that in process:
 * the host's own data is gone. In a worker it ends that run only (H11): the
 * worker dies or hangs, the host kills it if need be, and reports a failed
 * run while every other run is exact.
 */
#include <nmexpert/netmon.h>

#include <stdio.h>
#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "wildwrite");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Scribbles over the process heap");
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
    DWORD err;
    void *hold = ExpertAllocMemory(key, 1u << 20, &err);
    if (!hold)
        return FALSE;
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "wildwrite: scribbling", 20);
    unsigned long lo = 0, hi = 0;
    char line[512];
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return FALSE;
    while (fgets(line, sizeof line, f))
        if (strstr(line, "[heap]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
            break;
    fclose(f); /* before the heap it lives in is gone */
    if (hi > lo)
        memset((void *)lo, 0xA5, hi - lo);
    NMEVENTDATA ev;
    memset(&ev, 0, sizeof ev);
    ev.szSourceName = "wildwrite";
    ev.szEventName = "after the scribble";
    ExpertSubmitEvent(key, &ev);
    return TRUE;
}
