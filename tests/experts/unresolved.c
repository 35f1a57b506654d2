/* unresolved: calls a function nothing defines. The module links (undefined
 * symbols are allowed in shared objects) but loading it must fail with a
 * message naming the symbol (H1). */
#include <nmexpert/netmon.h>

#include <string.h>

extern void nmx_no_such_function(void);

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "unresolved");
    info->Version = 1;
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
    nmx_no_such_function();
    return TRUE;
}
