/* forger: writes a forged frame into its worker's channel to the host.
 *
 * In a worker (H11) descriptor 3 is the channel (src/worker/worker.h); this
 * expert writes a frame header claiming more bytes than any frame may have,
 * then spins. The host must not trust it: it kills the worker and reports a
 * failed run naming the malformed message. Its own expert memory (one 4 KiB
 * block) is in the ledger. In process, descriptor 3 is whatever the host
 * has there: do not run it in process.
 */
#include <nmexpert/netmon.h>

#include <stdint.h>
#include <string.h>
#include <unistd.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "forger");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Forges a message to the host");
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
    if (!ExpertAllocMemory(key, 4096, &err))
        return FALSE;
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "forger: forging", 5);
    uint32_t frame[2] = {2 /* an event */, 0xFFFFFFFFu};
    (void)!write(3, frame, sizeof frame);
    for (;;) {
        volatile int x = 0;
        (void)x;
    }
}
