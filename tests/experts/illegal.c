/* illegal: executes an illegal instruction (H5): SIGILL. Holds 1 MiB first.
 * __builtin_trap is ud2 on x86-64; gcc and clang both emit it. */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "illegal");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Executes an illegal instruction");
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
    volatile int go = 1;
    if (go)
        __builtin_trap();
    return TRUE;
}
