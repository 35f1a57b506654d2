/* nullderef: holds 1 MiB of expert memory, then writes through NULL (H5).
 *
 * The run must end ABORTED / ABORTED_THREAD_FAIL with SIGSEGV at address 0,
 * and the 1 MiB block must appear in the ledger and be reclaimed.
 * Built without sanitizers (see CMakeLists.txt): UBSan would otherwise
 * report the NULL store and exit the process before the signal.
 */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "nullderef");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Dereferences NULL");
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
    memset(hold, 0x5A, 1u << 20); /* resident, so a missed reclaim shows in RSS */
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "nullderef: about to crash", 50);
    volatile int *volatile p = NULL;
    *p = 1;
    return TRUE;
}
