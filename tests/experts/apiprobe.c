/* apiprobe: calls the non-memory Expert* functions with good and bad input
 * and records what they returned in the exported `apiprobe` (H2, H8, H9).
 * The test reads it through dlsym after the run. One run at a time.
 * It submits exactly one event (a valid one on its own stack), and every
 * invalid one must be refused without being recorded.
 */
#include <nmexpert/netmon.h>

#include <string.h>

typedef struct apiprobe_t {
    int si_nonnull, hcapture_nonnull;
    DWORD startup_flags;   /* Run's StartupFlags */
    int config_null;       /* Run's config was NULL */
    DWORD getstartup_rc;
    int copy_same;         /* the copy matches Run's EXPERTSTARTUPINFO member by member */
    DWORD frame_number;    /* dwFrameNumber */
    char capture_file[MAX_PATH];
    DWORD getstartup_null_rc;       /* ExpertGetStartupInfo(key, NULL) */
    DWORD getstartup_badkey_rc;     /* ... (NULL key, &si) */
    DWORD getstartup_forgedkey_rc;  /* ... ((HEXPERTKEY)0x1234, &si) */
    DWORD status_badkey_rc;         /* ExpertIndicateStatus(NULL key) */
    DWORD submit_badkey_rc;         /* ExpertSubmitEvent(NULL key, valid) */
    DWORD submit_null_rc;           /* ExpertSubmitEvent(key, NULL) */
    DWORD submit_badtype_rc;        /* a column of type 99 */
    DWORD submit_overcols_rc;       /* NumColumns 5 in a block sized for 1 */
    DWORD submit_ok_rc;             /* a valid event on the stack, no columns */
    DWORD status_ok_rc;
    DWORD total_frames;             /* GetCaptureTotalFrames(si->hCapture) */
} apiprobe_t;

apiprobe_t apiprobe;

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "apiprobe");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Probes the host's Expert* functions");
    info->Version = 1;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO si, DWORD flags,
                HWND parent)
{
    (void)parent;
    apiprobe_t *p = &apiprobe;
    memset(p, 0, sizeof *p);
    p->si_nonnull = si != NULL;
    p->hcapture_nonnull = si && si->hCapture != NULL;
    p->startup_flags = flags;
    p->config_null = config == NULL;
    EXPERTSTARTUPINFO copy;
    memset(&copy, 0x77, sizeof copy);
    p->getstartup_rc = ExpertGetStartupInfo(key, &copy);
    if (si) {
        p->copy_same = copy.Flags == si->Flags && copy.hCapture == si->hCapture &&
                       strcmp(copy.szCaptureFile, si->szCaptureFile) == 0 &&
                       copy.dwFrameNumber == si->dwFrameNumber &&
                       copy.hProtocol == si->hProtocol &&
                       copy.lpPropertyInst == si->lpPropertyInst &&
                       copy.sBitfield.BitNumber == si->sBitfield.BitNumber &&
                       copy.sBitfield.bOn == si->sBitfield.bOn;
        p->frame_number = si->dwFrameNumber;
        p->total_frames = GetCaptureTotalFrames(si->hCapture);
        memcpy(p->capture_file, si->szCaptureFile, MAX_PATH);
        p->capture_file[MAX_PATH - 1] = '\0';
    }
    p->getstartup_null_rc = ExpertGetStartupInfo(key, NULL);
    p->getstartup_badkey_rc = ExpertGetStartupInfo(NULL, &copy);
    p->getstartup_forgedkey_rc = ExpertGetStartupInfo((HEXPERTKEY)(uintptr_t)0x1234, &copy);
    p->status_badkey_rc = ExpertIndicateStatus(NULL, EXPERTSTATUS_RUNNING, 0, "x", 1);

    NMEVENTDATA ok;
    memset(&ok, 0, sizeof ok);
    ok.EventIdent = 7;
    ok.szSourceName = "apiprobe";
    ok.szEventName = "valid";
    p->submit_badkey_rc = ExpertSubmitEvent(NULL, &ok);
    p->submit_null_rc = ExpertSubmitEvent(key, NULL);

    DWORD err;
    PNMEVENTDATA one = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + sizeof(NMCOLUMNINFO), &err);
    if (!one)
        return FALSE;
    one->NumColumns = 1;
    one->Column[0].szColumnName = "bad";
    one->Column[0].VariantData.Type = (NMCOLUMNTYPE)99;
    p->submit_badtype_rc = ExpertSubmitEvent(key, one);
    one->Column[0].VariantData.Type = NMCOLUMNTYPE_UINT32;
    one->NumColumns = 5;
    p->submit_overcols_rc = ExpertSubmitEvent(key, one);
    ExpertFreeMemory(key, one);

    p->submit_ok_rc = ExpertSubmitEvent(key, &ok);
    p->status_ok_rc = ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "apiprobe done", 99);
    return TRUE;
}
