/* divzero: integer division by zero (H5): SIGFPE on x86. Holds 1 MiB first.
 *
 * The operands are volatile so the division happens at run time. Where the
 * CPU does not trap on integer division (AArch64 returns 0), the expert
 * raises SIGFPE itself so the test means the same everywhere.
 */
#include <nmexpert/netmon.h>

#include <signal.h>
#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "divzero");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Divides by zero");
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
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "divzero: dividing", 50);
    volatile int num = 1, den = 0;
    volatile int q = num / den;
#if !defined(__x86_64__) && !defined(__i386__)
    raise(SIGFPE);
#endif
    return q != 12345;
}
