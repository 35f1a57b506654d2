/* Configure without a user interface (SPEC M15).
 *
 * The stored blob is copied into memory of a fresh Configure key, so the
 * expert may grow it with ExpertReallocMemory; Configure runs on a thread of
 * its own under the trap; the blob it hands back must be a live block of
 * that key holding the RawConfigLength it claims, and is copied out (through
 * usermem.c: the expert may have unmapped or protected it) before the key is
 * destroyed. A module loaded with process isolation gets the same call in a
 * worker (iso_expert.c, src/worker/answer.c).
 */
#define _GNU_SOURCE
#include "host/isolate.h"
#include "host/run_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct configure_call {
    PEXPERTCONFIGPROC fn;
    nmx_run *r;
    EXPERTCONFIG *blob;
    BOOL value;
} configure_call;

static void call_configure(void *p)
{
    configure_call *c = p;
    c->value = c->fn(c->r->key, &c->blob, &c->r->startup, 0, NULL);
}

/* The stored blob in the Configure key's memory, or NULL without one. */
static EXPERTCONFIG *blob_into_key(HEXPERTKEY key, const EXPERTCONFIG *cfg)
{
    if (!cfg || cfg->RawConfigLength < sizeof(DWORD))
        return NULL;
    DWORD err;
    EXPERTCONFIG *c = ExpertAllocMemory(key, cfg->RawConfigLength, &err);
    if (c)
        memcpy(c, cfg, cfg->RawConfigLength);
    return c;
}

/* The blob Configure left, checked against its block and copied into
 * malloc'd memory at *out (NULL when it left none). */
static DWORD blob_out(HEXPERTKEY key, EXPERTCONFIG *blob, EXPERTCONFIG **out)
{
    if (!blob)
        return NMERR_SUCCESS;
    size_t have = nmx__key_block_quiet(key, blob, 0);
    DWORD len = 0;
    if (have < sizeof(DWORD) || nmx__user_read(&len, &blob->RawConfigLength, sizeof len) != 0 ||
        len < sizeof(DWORD) || len > have)
        return NMERR_INVALID_DATA;
    EXPERTCONFIG *c = malloc(len);
    if (!c)
        return NMERR_OUT_OF_MEMORY;
    if (nmx__user_read(c, blob, len) != 0) {
        free(c);
        return NMERR_INVALID_DATA;
    }
    c->RawConfigLength = len; /* as checked, whatever the expert wrote since */
    *out = c;
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_expert_configure(nmx_expert *ex, const EXPERTCONFIG *in, HCAPTURE capture,
                                   EXPERTCONFIG **out, BOOL *returned)
{
    if (out)
        *out = NULL;
    const EXPERTENUMINFO *info = nmx_expert_info(ex);
    if (!ex || !out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__expert_configurable(ex))
        return NMERR_NOT_SUPPORTED;
    if (nmx__expert_isolated(ex)) /* the same call, in a worker (H11) */
        return nmx__iso_configure(nmx_expert_path(ex), in, capture, out, returned);
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = capture ? capture : nmx__capture_empty();
    nmx_run *r = nmx__run_alloc(ex, &o);
    if (!r)
        return NMERR_OUT_OF_MEMORY;
    nmx__run_fill_startup(r);
    DWORD rc = nmx__run_new_key(r);
    if (rc != NMERR_SUCCESS) {
        nmx__run_release(r);
        return rc;
    }
    configure_call c = {info->pConfigProc, r, blob_into_key(r->key, in), FALSE};
    nmx_fault f;
    int sig = nmx__trap_call_on_thread(call_configure, &c, r->key, &f);
    if (sig != 0) {
        rc = NMERR_INTERNAL_EXCEPTION;
    } else {
        if (returned)
            *returned = c.value;
        rc = blob_out(r->key, c.blob, out);
    }
    nmx_key_destroy(r->key, NULL);
    nmx__run_filters_release(r);
    nmx__run_release(r);
    return rc;
}
