/* norun: exports Register but no Run; loading must reject it (H1). */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "norun");
    info->Version = 1;
    return TRUE;
}
