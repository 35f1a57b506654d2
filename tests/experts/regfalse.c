/* regfalse: Register says FALSE; loading must reject it (H1). */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "regfalse");
    return FALSE;
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
