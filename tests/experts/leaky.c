/* leaky: a BLRPLATE-style expert that never frees its event.
 *
 * Like Microsoft's boilerplate sample it allocates one NMEVENTDATA with two
 * columns through ExpertAllocMemory, fills it field by field (relying on the
 * block being zero-filled for the rest, M1), submits it, reports status and
 * returns without freeing it. The host must reclaim exactly that block when
 * Run returns (H3, M12): 1 block of sizeof(NMEVENTDATA) + 2 *
 * sizeof(NMCOLUMNINFO) bytes.
 */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "leaky");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Allocates an event and never frees it (BLRPLATE style)");
    info->Version = 1; /* as the samples do; the documentation says 0 */
    info->Flags = 0;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err = NMERR_SUCCESS;
    if (ExpertIndicateStatus(key, EXPERTSTATUS_STARTING, 0, "leaky: starting", 0) != NMERR_SUCCESS)
        return FALSE;
    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + 2 * sizeof(NMCOLUMNINFO), &err);
    if (!ev)
        return FALSE;
    ev->Version = 0;
    ev->EventIdent = 1;
    ev->Flags = NMEVENTFLAG_EXPERT;
    ev->Severity = NMEVENT_SEVERITY_INFORMATIONAL;
    ev->NumColumns = 2;
    ev->szSourceName = "leaky";
    ev->szEventName = "Leak";
    ev->szDescription = "this event's buffer is never freed";
    ev->szMachine = NULL;
    ev->Justification = NULL;
    ev->Column[0].szColumnName = "Answer";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[0].VariantData.Value.Uint32Val = 42;
    ev->Column[1].szColumnName = "Note";
    ev->Column[1].VariantData.Type = NMCOLUMNTYPE_STRING;
    ev->Column[1].VariantData.Value.pStringVal = "leaked";
    if (ExpertSubmitEvent(key, ev) != NMERR_SUCCESS)
        return FALSE;
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "leaky: done", 100);
    return TRUE; /* ev is left for the host to reclaim */
}
