/* wellbehaved: the reference for a correct expert.
 *
 * Puts 1..N into a table it grows with ExpertReallocMemory (N = 90000), checks
 * every entry survived the moves, sums them, submits one event with the sum
 * (4050045000) and the count as UINT32 columns, frees everything, reports
 * progress every 10 % and returns TRUE. It leaves nothing behind, so its
 * ledger must be empty; any other result means something disturbed it.
 */
#include <nmexpert/netmon.h>

#include <string.h>

#define N 90000u

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "wellbehaved");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Sums 1..90000 in a growing table");
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
    if (ExpertIndicateStatus(key, EXPERTSTATUS_STARTING, 0, "wellbehaved: starting", 0) !=
        NMERR_SUCCESS)
        return FALSE;
    DWORD *tab = NULL;
    size_t n = 0, cap = 0;
    for (DWORD i = 1; i <= N; i++) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            DWORD *t = ExpertReallocMemory(key, tab, ncap * sizeof *t, &err);
            if (!t) {
                ExpertFreeMemory(key, tab);
                return FALSE;
            }
            tab = t;
            cap = ncap;
        }
        tab[n++] = i;
        if (i % (N / 10) == 0 &&
            ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "wellbehaved: summing",
                                 (LONG)(100u * i / N)) == NMERR_EXPERT_TERMINATE) {
            ExpertFreeMemory(key, tab);
            return FALSE;
        }
    }
    DWORD sum = 0;
    BOOL ok = ExpertMemorySize(key, tab) == cap * sizeof *tab;
    for (size_t k = 0; k < n; k++) {
        if (tab[k] != k + 1)
            ok = FALSE;
        sum += tab[k];
    }
    ExpertFreeMemory(key, tab);

    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + 2 * sizeof(NMCOLUMNINFO), &err);
    if (!ev)
        return FALSE;
    ev->EventIdent = 1;
    ev->NumColumns = 2;
    ev->szSourceName = "wellbehaved";
    ev->szEventName = "Sum";
    ev->szDescription = "sum of 1..90000";
    ev->Column[0].szColumnName = "Sum";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[0].VariantData.Value.Uint32Val = sum;
    ev->Column[1].szColumnName = "Count";
    ev->Column[1].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[1].VariantData.Value.Uint32Val = (DWORD)n;
    if (ExpertSubmitEvent(key, ev) != NMERR_SUCCESS)
        ok = FALSE;
    if (ExpertFreeMemory(key, ev) != NMERR_SUCCESS)
        ok = FALSE;
    return ok;
}
