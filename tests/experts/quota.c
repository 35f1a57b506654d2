/* quota: allocates 4 KiB blocks until the run's quota says no (M11).
 *
 * The pointers go into a table grown with ExpertReallocMemory (the table
 * counts against the quota too). The first failure must be
 * NMERR_OUT_OF_MEMORY; then everything is freed. One event reports how many
 * blocks it got and the failing code. Without a quota it stops by itself at
 * 64 MiB and returns FALSE, so it can never exhaust the machine.
 */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "quota");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Allocates until the quota stops it");
    info->Version = 1;
    return TRUE;
}

#define BLOCK 4096u
#define LIMIT (64u << 20)

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err = NMERR_SUCCESS, fail = NMERR_SUCCESS;
    void **tab = NULL;
    size_t n = 0, cap = 0;
    BOOL ok = TRUE;
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "quota: allocating", 0);
    for (;;) {
        if ((size_t)n * BLOCK >= LIMIT) {
            ok = FALSE; /* no quota in force */
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void **t = tab ? ExpertReallocMemory(key, tab, ncap * sizeof *t, &err)
                           : ExpertAllocMemory(key, ncap * sizeof *t, &err);
            if (!t) {
                fail = err;
                break;
            }
            tab = t;
            cap = ncap;
        }
        void *p = ExpertAllocMemory(key, BLOCK, &err);
        if (!p) {
            fail = err;
            break;
        }
        memset(p, 0x33, BLOCK);
        tab[n++] = p;
    }
    if (fail != NMERR_OUT_OF_MEMORY)
        ok = FALSE;
    for (size_t i = 0; i < n; i++)
        if (ExpertFreeMemory(key, tab[i]) != NMERR_SUCCESS)
            ok = FALSE;
    if (tab && ExpertFreeMemory(key, tab) != NMERR_SUCCESS)
        ok = FALSE;

    /* After freeing, the quota has room again. */
    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + 2 * sizeof(NMCOLUMNINFO), &err);
    if (!ev)
        return FALSE;
    ev->EventIdent = 1;
    ev->NumColumns = 2;
    ev->szSourceName = "quota";
    ev->szEventName = "Quota reached";
    ev->Column[0].szColumnName = "Blocks";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[0].VariantData.Value.Uint32Val = (DWORD)n;
    ev->Column[1].szColumnName = "Error";
    ev->Column[1].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[1].VariantData.Value.Uint32Val = fail;
    if (ExpertSubmitEvent(key, ev) != NMERR_SUCCESS)
        ok = FALSE;
    if (ExpertFreeMemory(key, ev) != NMERR_SUCCESS)
        ok = FALSE;
    return ok;
}
