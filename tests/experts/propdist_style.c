/* propdist_style: submits events the way Microsoft's PROPDIST sample does (H8).
 *
 * One event buffer, allocated for the most columns, is rewritten and
 * resubmitted with NumColumns changing between submits; every string (event
 * name, justification, column names, STRING values) points into a scratch
 * buffer that is scribbled over and freed right after each submit; some
 * STRING values are NULL. Finally the event buffer itself is scribbled over
 * and freed. The host's copies must read exactly what was submitted:
 *
 *   event i (i = 0..NEVENTS-1): EventIdent 100 + i, Severity i % 6,
 *   szSourceName "propdist_style" (a literal), szEventName "event <i>",
 *   szDescription NULL, Justification "justification for <i>",
 *   NumColumns (i % 4) + 1, column c named "col<i>.<c>":
 *     c % 3 == 0: STRING "value <i>.<c>"
 *     c % 3 == 1: STRING NULL
 *     c % 3 == 2: UINT32 1000 * i + c
 */
#include <nmexpert/netmon.h>

#include <stdio.h>
#include <string.h>

#define NEVENTS 12
#define MAXCOLS 4
#define SCRATCH 1024

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "propdist_style");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Reuses and frees its event buffers right after each submit");
    info->Version = 1;
    return TRUE;
}

/* Appends s to the scratch buffer, returns where it went. */
static char *put(char *scratch, size_t *used, const char *s)
{
    size_t n = strlen(s) + 1;
    if (*used + n > SCRATCH)
        return NULL;
    char *d = memcpy(scratch + *used, s, n);
    *used += n;
    return d;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err;
    size_t evsize = sizeof(NMEVENTDATA) + MAXCOLS * sizeof(NMCOLUMNINFO);
    PNMEVENTDATA ev = ExpertAllocMemory(key, evsize, &err);
    if (!ev)
        return FALSE;
    BOOL ok = TRUE;
    for (unsigned i = 0; i < NEVENTS && ok; i++) {
        char *scratch = ExpertAllocMemory(key, SCRATCH, &err);
        if (!scratch) {
            ok = FALSE;
            break;
        }
        size_t used = 0;
        char tmp[64];
        ev->Version = 0;
        ev->EventIdent = 100 + i;
        ev->Severity = i % 6;
        ev->NumColumns = (BYTE)(i % 4 + 1);
        ev->szSourceName = "propdist_style";
        snprintf(tmp, sizeof tmp, "event %u", i);
        ev->szEventName = put(scratch, &used, tmp);
        ev->szDescription = NULL;
        snprintf(tmp, sizeof tmp, "justification for %u", i);
        ev->Justification = put(scratch, &used, tmp);
        for (unsigned c = 0; c < ev->NumColumns; c++) {
            NMCOLUMNINFO *col = &ev->Column[c];
            snprintf(tmp, sizeof tmp, "col%u.%u", i, c);
            col->szColumnName = put(scratch, &used, tmp);
            if (c % 3 == 0) {
                col->VariantData.Type = NMCOLUMNTYPE_STRING;
                snprintf(tmp, sizeof tmp, "value %u.%u", i, c);
                col->VariantData.Value.pStringVal = put(scratch, &used, tmp);
            } else if (c % 3 == 1) {
                col->VariantData.Type = NMCOLUMNTYPE_STRING;
                col->VariantData.Value.pStringVal = NULL;
            } else {
                col->VariantData.Type = NMCOLUMNTYPE_UINT32;
                col->VariantData.Value.Uint32Val = 1000 * i + c;
            }
        }
        if (ExpertSubmitEvent(key, ev) != NMERR_SUCCESS)
            ok = FALSE;
        /* Reuse at once: scribble over every string, then free them. */
        memset(scratch, '#', SCRATCH);
        if (ExpertFreeMemory(key, scratch) != NMERR_SUCCESS)
            ok = FALSE;
        ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "submitting",
                             (LONG)(100 * (i + 1) / NEVENTS));
    }
    memset(ev, 0xEE, evsize);
    if (ExpertFreeMemory(key, ev) != NMERR_SUCCESS)
        ok = FALSE;
    return ok;
}
