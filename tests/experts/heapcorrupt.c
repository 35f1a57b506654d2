/* heapcorrupt: corrupts the C library's heap, which the host shares in
 * process.
 *
 * It holds one 1 MiB block, then mallocs two small blocks, overruns the
 * first over the second's header and frees the second: glibc detects the
 * damage and aborts (SIGABRT) from inside free, with its arena lock held.
 * In process the trap ends the run, but that lock, and the damaged heap,
 * stay in the host. In a worker the run ends as failed and both go away with
 * the process (H11); the host kills the worker if it hangs on that lock.
 */
#include <nmexpert/netmon.h>

#include <stdlib.h>
#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "heapcorrupt");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Corrupts malloc's heap");
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
    if (!ExpertAllocMemory(key, 1u << 20, &err))
        return FALSE;
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "heapcorrupt: corrupting", 30);
    /* Through volatile pointers, so that the compiler cannot reason the
     * overrun and the frees away. */
    void (*volatile release)(void *) = free;
    volatile char *a = malloc(24), *b = malloc(24);
    for (int i = 0; i < 24 + 16; i++)
        a[i] = 0; /* on through b's size field */
    release((void *)b);
    release((void *)a);
    return TRUE;
}
