/* An expert that filters with its own BPF filters (C4, nmexpert extension
 * nmx_ExpertCreateFilter): counts the TCP frames and the UDP port 53 frames
 * of its capture with two filters, tries a bad expression, a second destroy
 * and a forged filter, leaves the TCP filter for the host to destroy, and
 * reports everything in one event of five UINT32 columns:
 *   tcp frames, dns frames, bad-expression code, second-destroy code,
 *   forged-filter GetFrame code. */
#include <nmexpert/netmon.h>

#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "filtering");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "counts frames through its own BPF filters");
    info->Version = 1;
    return TRUE;
}

static DWORD count(HEXPERTKEY key, HFILTER f)
{
    EXPERTFRAMEDESCRIPTOR d;
    DWORD n = 0, number = INVALID_FRAME_NUMBER;
    while (ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, number, f, &d) == NMERR_SUCCESS) {
        number = d.FrameNumber;
        n++;
    }
    return n;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG cfg, PEXPERTSTARTUPINFO si, DWORD flags, HWND wnd)
{
    (void)cfg;
    (void)si;
    (void)flags;
    (void)wnd;
    HFILTER tcp = NULL, dns = NULL, bad = NULL;
    char err[256];
    DWORD vals[5] = {0};
    if (nmx_ExpertCreateFilter(key, "tcp", &tcp, NULL, 0) != NMERR_SUCCESS ||
        nmx_ExpertCreateFilter(key, "udp port 53", &dns, err, sizeof err) != NMERR_SUCCESS)
        return FALSE;
    vals[0] = count(key, tcp);
    vals[1] = count(key, dns);
    vals[2] = nmx_ExpertCreateFilter(key, "tcp and and", &bad, err, sizeof err);
    if (bad != NULL || err[0] == '\0')
        vals[2] = 0; /* a failure must leave NULL and libpcap's message */
    nmx_ExpertDestroyFilter(key, dns);
    vals[3] = nmx_ExpertDestroyFilter(key, dns);
    EXPERTFRAMEDESCRIPTOR d;
    vals[4] = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER,
                             (HFILTER)(void *)err, &d);

    DWORD e;
    NMEVENTDATA *ev = ExpertAllocMemory(key, sizeof *ev + 5 * sizeof(NMCOLUMNINFO), &e);
    if (!ev)
        return FALSE;
    ev->szSourceName = "filtering";
    ev->NumColumns = 5;
    for (int i = 0; i < 5; i++) {
        ev->Column[i].szColumnName = "value";
        ev->Column[i].VariantData.Type = NMCOLUMNTYPE_UINT32;
        ev->Column[i].VariantData.Value.Uint32Val = vals[i];
    }
    ExpertSubmitEvent(key, ev);
    ExpertFreeMemory(key, ev);
    return TRUE; /* the tcp filter is left for the host */
}
