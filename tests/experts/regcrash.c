/* regcrash: Register crashes; loading must reject the module and the host
 * must survive (H1, H5: Register runs under the fault trap). */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "regcrash");
    volatile int *volatile p = NULL;
    *p = 1;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)key;
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    return TRUE;
}
