/* Register and Configure in a worker (SPEC H11): for a module loaded with
 * process isolation (nmx_expert_load_with), no code of it runs in the host.
 * A worker loads the module (its constructors and Register run there,
 * confined), answers what it was asked in one frame and exits; the answer is
 * checked here like anything else a worker sends (src/worker/answer.c
 * writes it).
 */
#define _GNU_SOURCE
#include "host/isolate.h"
#include "host/iso_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nmx__iso_answer {
    nmx__iso *w;
    char path[4096];
    DWORD rc;      /* of the start */
    uint32_t want; /* the frame type asked for */
    int got;
    nmx_iso_registered reg;
    nmx_iso_configured cfg;
    EXPERTCONFIG *blob; /* Configure's, malloc'd; NULL: it left none */
};
typedef nmx__iso_answer answer;

static int take_configured(answer *a, const char *p, size_t len)
{
    if (len < sizeof a->cfg)
        return -1;
    memcpy(&a->cfg, p, sizeof a->cfg);
    size_t blob = len - sizeof a->cfg;
    DWORD claimed = 0;
    if (blob)
        memcpy(&claimed, p + sizeof a->cfg, blob < sizeof claimed ? blob : sizeof claimed);
    if (blob && (blob < sizeof(DWORD) || claimed != blob))
        return -1;
    if (blob && !(a->blob = malloc(blob)))
        a->cfg.rc = NMERR_OUT_OF_MEMORY;
    else if (blob)
        memcpy(a->blob, p + sizeof a->cfg, blob);
    return 0;
}

static int on_reply(void *ctx, uint32_t type, const void *p, size_t len)
{
    answer *a = ctx;
    if (a->got || type != a->want)
        return -1;
    if (type == NMX_ISO_MSG_REGISTERED) {
        if (len != sizeof a->reg)
            return -1;
        memcpy(&a->reg, p, sizeof a->reg);
    } else if (take_configured(a, p, len) != 0) {
        return -1;
    }
    a->got = 1;
    return 0;
}

/* Starts a worker for sp; the answer is waited for by finish(). */
static DWORD start(const nmx__iso_spec *sp, answer *a)
{
    return nmx__iso_start(sp, &a->w);
}

/* Waits for the worker's answer: a->got says whether it answered, and
 * why[] says why not. Frees the worker. */
static void finish(answer *a, char *why, size_t whylen)
{
    nmx__iso_sink sink = {.reply = on_reply, .ctx = a};
    nmx_run_result res;
    memset(&res, 0, sizeof res);
    nmx__iso_serve(a->w, &sink, &res);
    if (nmx__iso_killed(a->w)) { /* a malformed frame after the answer */
        a->got = 0;
        free(a->blob);
        a->blob = NULL;
    }
    nmx__iso_free(a->w);
    a->w = NULL;
    if (!a->got && why)
        snprintf(why, whylen, "%s", res.status.szStatusText);
}

static void copy_string(char *dst, const char *src)
{
    memcpy(dst, src, EXPERTSTRINGLENGTH);
    dst[EXPERTSTRINGLENGTH - 1] = '\0';
}

DWORD nmx__iso_register_start(const char *path, nmx__iso_answer **out)
{
    answer *a = calloc(1, sizeof *a);
    *out = a;
    if (!a)
        return NMERR_OUT_OF_MEMORY;
    snprintf(a->path, sizeof a->path, "%s", path);
    a->want = NMX_ISO_MSG_REGISTERED;
    nmx__iso_spec sp = {.op = NMX_ISO_OP_REGISTER, .expert_path = a->path};
    return a->rc = start(&sp, a);
}

DWORD nmx__iso_register_finish(nmx__iso_answer *a, EXPERTENUMINFO *info, int *configurable,
                               char *errbuf, size_t errlen)
{
    if (!a)
        return NMERR_OUT_OF_MEMORY;
    char why[EXPERTSTRINGLENGTH] = "no worker process for Register";
    if (a->rc == NMERR_SUCCESS)
        finish(a, why, sizeof why);
    DWORD rc = a->rc != NMERR_SUCCESS ? a->rc
               : !a->got              ? NMERR_EXPERT_REPORT_FAILED
               : a->reg.rc            ? a->reg.rc
                                      : NMERR_SUCCESS;
    a->reg.error[sizeof a->reg.error - 1] = '\0';
    if (errbuf && errlen)
        snprintf(errbuf, errlen, a->got ? "%s" : "%s: %s", a->got ? a->reg.error : a->path, why);
    if (rc == NMERR_SUCCESS) {
        memset(info, 0, sizeof *info);
        copy_string(info->szName, a->reg.name);
        copy_string(info->szVendor, a->reg.vendor);
        copy_string(info->szDescription, a->reg.description);
        info->Version = a->reg.version;
        info->Flags = a->reg.flags;
        *configurable = a->reg.configurable != 0;
    }
    free(a);
    return rc;
}

DWORD nmx__iso_configure(const char *path, const EXPERTCONFIG *in, HCAPTURE capture,
                         EXPERTCONFIG **out, BOOL *returned)
{
    nmx__iso_spec sp = {.op = NMX_ISO_OP_CONFIGURE, .expert_path = path, .capture = capture,
                        .config = in};
    answer a = {.want = NMX_ISO_MSG_CONFIGURED};
    DWORD rc = start(&sp, &a);
    if (rc != NMERR_SUCCESS)
        return rc;
    finish(&a, NULL, 0);
    if (!a.got)
        return NMERR_INTERNAL_EXCEPTION;
    if (returned && a.cfg.rc != NMERR_INTERNAL_EXCEPTION)
        *returned = a.cfg.returned != 0;
    if (a.cfg.rc != NMERR_SUCCESS) { /* as in process: no blob with an error */
        free(a.blob);
        a.blob = NULL;
    }
    *out = a.blob;
    return a.cfg.rc;
}
