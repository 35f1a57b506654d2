/* wildwrite: a wild write over what, in process, is the host's own memory.
 *
 * It holds one 1 MiB block, reports a status, then fills with 0xA5 every
 * byte of the process's brk heap ("[heap]" in /proc/self/maps, where glibc's
 * malloc keeps the host's run structures, events and the expert list) and
 * of the writable data of the library its Expert* calls resolve to (the
 * heap's key table and segment map pointers, its locks), then submits an
 * event and returns. No trap can contain that in process:
 * the host's own data is gone. In a worker it ends that run only (H11): the
 * worker dies or hangs, the host kills it if need be, and reports a failed
 * run while every other run is exact.
 */
#define _GNU_SOURCE /* dladdr */
#include <nmexpert/netmon.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef struct range {
    unsigned long lo, hi;
} range;

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
    Dl_info lib;
    const char *libname = dladdr((void *)ExpertAllocMemory, &lib) ? lib.dli_fname : NULL;
    range r[64];
    int n = 0;
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return FALSE;
    while (n < 64 && fgets(line, sizeof line, f)) {
        int heap = strstr(line, "[heap]") != NULL;
        int data = libname && strstr(line, libname) && strstr(line, " rw-p ");
        if ((heap || data) && sscanf(line, "%lx-%lx", &r[n].lo, &r[n].hi) == 2)
            n++;
    }
    fclose(f); /* before the heap it lives in is gone */
    for (int i = 0; i < n; i++)
        memset((void *)r[i].lo, 0xA5, r[i].hi - r[i].lo);
    NMEVENTDATA ev;
    memset(&ev, 0, sizeof ev);
    ev.szSourceName = "wildwrite";
    ev.szEventName = "after the scribble";
    ExpertSubmitEvent(key, &ev);
    return TRUE;
}
