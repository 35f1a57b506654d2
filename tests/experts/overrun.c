/* overrun: writes past the end of its blocks, then frees everything (M8).
 *
 * The allocator keeps its metadata out of line, so the frees that follow
 * must all succeed and the host must not be disturbed. Run returns TRUE when
 * every free returned NMERR_SUCCESS and the block sizes were intact.
 */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "overrun");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Writes past the end of its blocks");
    info->Version = 1;
    return TRUE;
}

#define NBLOCKS 64

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err;
    unsigned char *blk[NBLOCKS];
    SIZE_T size[NBLOCKS];
    for (int i = 0; i < NBLOCKS; i++) {
        size[i] = (SIZE_T)(1 + i * 37 % 200);
        blk[i] = ExpertAllocMemory(key, size[i], &err);
        if (!blk[i])
            return FALSE;
    }
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "overrun: scribbling", 50);
    /* Every block gets its size plus 48 bytes of 0xA5: over the padding and
     * into the neighbours (all of this key). The last one is written last, so
     * it is the only one whose content is intact. */
    for (int i = 0; i < NBLOCKS; i++)
        memset(blk[i], 0xA5, size[i] + 48);
    BOOL ok = TRUE;
    for (int i = 0; i < NBLOCKS; i++)
        if (ExpertMemorySize(key, blk[i]) != size[i])
            ok = FALSE;
    for (int i = 0; i < NBLOCKS; i++)
        if (ExpertFreeMemory(key, blk[i]) != NMERR_SUCCESS)
            ok = FALSE;
    /* A fresh block after all that must be zero-filled (M1). */
    unsigned char *z = ExpertAllocMemory(key, 200, &err);
    if (!z)
        return FALSE;
    for (int i = 0; i < 200; i++)
        if (z[i])
            ok = FALSE;
    if (ExpertFreeMemory(key, z) != NMERR_SUCCESS)
        ok = FALSE;
    return ok;
}
