/* Register and Configure alone, in a worker, for a host that keeps expert
 * code out of its own process (SPEC H11, nmx_expert_load_with): the module
 * was loaded by nmx_expert_load (Register on a thread under the trap, as in
 * process), and Configure runs through nmx_expert_configure (its key, the
 * trap and the checks of the blob, as in process). The answer is one frame;
 * the host checks it (src/host/iso_expert.c).
 */
#include "worker/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int answer_register(DWORD rc, const nmx_expert *ex, const char *err)
{
    nmx_iso_registered a;
    memset(&a, 0, sizeof a);
    a.rc = rc;
    if (rc == NMERR_SUCCESS) {
        const EXPERTENUMINFO *in = nmx_expert_info(ex);
        memcpy(a.name, in->szName, sizeof a.name);
        memcpy(a.vendor, in->szVendor, sizeof a.vendor);
        memcpy(a.description, in->szDescription, sizeof a.description);
        a.version = in->Version;
        a.flags = in->Flags;
        a.configurable = in->pConfigProc != NULL;
    } else {
        snprintf(a.error, sizeof a.error, "%s", err);
    }
    return relay_send(NMX_ISO_MSG_REGISTERED, &a, sizeof a, NULL, 0) == 0 ? 0 : 8;
}

int answer_configure(const nmx_iso_page *pg, nmx_expert *ex)
{
    nmx_capture *cap;
    nmx_filter *filter;
    if (relay_open_capture(pg, &cap, &filter) != NMERR_SUCCESS)
        return 6;
    const EXPERTCONFIG *in = (const EXPERTCONFIG *)nmx__iso_str(pg, pg->req.config);
    EXPERTCONFIG *out = NULL;
    BOOL returned = FALSE;
    nmx_iso_configured a = {nmx_expert_configure(ex, in, cap, &out, &returned), returned != FALSE};
    int rc = relay_send(NMX_ISO_MSG_CONFIGURED, &a, sizeof a, out,
                        out ? out->RawConfigLength : 0);
    free(out);
    return rc == 0 ? 0 : 8;
}
