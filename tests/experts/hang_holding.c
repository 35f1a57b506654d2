/* hang_holding: holds memory, then hangs (H6, H11).
 *
 * It allocates three blocks (100 B, 4 KiB and 1 MiB, all written so they
 * are resident), reports one status, then spins without calling anything,
 * so it never sees a terminate. In process isolation the host must kill it
 * after the grace period and report the ledger it held: 3 blocks,
 * 1052772 bytes. In process (a thread) it would spin until the process ends.
 */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "hang_holding");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Holds three blocks and never returns");
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
    static const SIZE_T sizes[3] = {100, 4096, 1u << 20};
    DWORD err;
    for (int i = 0; i < 3; i++) {
        void *p = ExpertAllocMemory(key, sizes[i], &err);
        if (!p)
            return FALSE;
        memset(p, 0x77, sizes[i]);
    }
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "hang_holding: spinning", 7);
    for (;;) {
        volatile int x = 0;
        (void)x;
    }
}
