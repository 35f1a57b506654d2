/* walker: walks the capture forward with ExpertGetFrame until it gives no
 * frame, checking each frame's bytes against the pattern of
 * tests/test_isolation_truncate.c (byte j of frame n is (7n + j) mod 256),
 * and submits one event: Frames (those got), Bad (those whose bytes differ)
 * and Error (ExpertGetFrame's last result). Returns TRUE.
 */
#include <nmexpert/netmon.h>
#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "walker");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Walks every frame and checks its bytes");
    info->Version = 1;
    return TRUE;
}

static int intact(const EXPERTFRAMEDESCRIPTOR *d)
{
    const FRAME *f = (const FRAME *)(uintptr_t)d->pFrame;
    for (DWORD j = 0; j < f->nBytesAvail; j++)
        if (f->MacFrame[j] != (BYTE)(7u * d->FrameNumber + j))
            return 0;
    return 1;
}

static void column(PNMEVENTDATA ev, int i, const char *name, DWORD v)
{
    ev->Column[i].szColumnName = (char *)(uintptr_t)name;
    ev->Column[i].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[i].VariantData.Value.Uint32Val = v;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    EXPERTFRAMEDESCRIPTOR d;
    DWORD frames = 0, bad = 0, err, n = INVALID_FRAME_NUMBER;
    while ((err = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, n, NULL, &d)) == NMERR_SUCCESS) {
        frames++;
        bad += !intact(&d);
        n = d.FrameNumber;
    }
    DWORD e;
    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + 3 * sizeof(NMCOLUMNINFO), &e);
    if (!ev)
        return FALSE;
    ev->EventIdent = 1;
    ev->NumColumns = 3;
    ev->szSourceName = "walker";
    ev->szEventName = "Walk";
    ev->szDescription = "frames walked";
    column(ev, 0, "Frames", frames);
    column(ev, 1, "Bad", bad);
    column(ev, 2, "Error", err);
    ExpertSubmitEvent(key, ev);
    ExpertFreeMemory(key, ev);
    return TRUE;
}
