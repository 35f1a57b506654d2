/* abort: calls abort() (H5): SIGABRT on the expert's thread. Holds 1 MiB
 * first, as nullderef. */
#include <nmexpert/netmon.h>

#include <stdlib.h>
#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "abort");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Calls abort()");
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
    memset(hold, 0x5A, 1u << 20);
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "abort: giving up", 50);
    abort();
}
