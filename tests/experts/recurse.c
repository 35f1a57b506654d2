/* recurse: unbounded recursion until the thread's stack overflows (H5).
 *
 * Each frame keeps a volatile array, and the result of the inner call is
 * used after it returns, so the compiler can turn this neither into a loop
 * nor into a tail call. The overflow is a SIGSEGV that only an alternate
 * signal stack can catch. Holds 1 MiB of expert memory first, as nullderef.
 */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "recurse");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Overflows its stack");
    info->Version = 1;
    return TRUE;
}

volatile int recurse_stop; /* never set: keeps -Winfinite-recursion quiet */

static unsigned deeper(unsigned n)
{
    volatile unsigned char frame[256];
    frame[0] = (unsigned char)n;
    frame[255] = (unsigned char)(n >> 8);
    if (recurse_stop)
        return frame[0];
    return deeper(n + 1) + frame[0] + frame[255];
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
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "recurse: going down", 50);
    return deeper(0) != 0;
}
