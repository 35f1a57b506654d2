/* ignores_terminate: the hung expert (H6). It reports one status, then spins
 * forever without calling anything, so it never sees a terminate. Its thread
 * runs until the process exits: a test that uses it must do so last. */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "ignores_terminate");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Never returns");
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
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "spinning", 1);
    for (;;) {
        volatile int x = 0;
        (void)x;
    }
}
