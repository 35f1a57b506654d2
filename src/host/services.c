/* The Expert* services a run's expert calls (H4, H7, H9, C2-C5, C4): status,
 * startup information, frames, filters. Events are in events.c.
 *
 * Every function here follows one shape, which is what makes a fault of the
 * expert's, wherever it strikes, end its own run only (H5):
 *   1. check the stack (stack_guard.h), before anything is taken;
 *   2. copy what the expert handed in into host memory (usermem.c: a bad
 *      pointer is an error code, not a fault);
 *   3. hold the key (nmx__key_hold): the run cannot be freed meanwhile, and
 *      a key destroyed or never issued gives NMERR_INVALID_EXPERT_HANDLE;
 *      work on host memory only; release the hold;
 *   4. copy results out to the expert (usermem.c), holding nothing.
 */
#define _GNU_SOURCE
#include "host/run_internal.h"
#include "stack_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Filter expressions longer than this are refused: they bound the stack and
 * time libpcap's compiler may spend on an expert's input. */
#define MAX_FILTER_EXPR 4096

NMX_API DWORD WINAPI ExpertIndicateStatus(HEXPERTKEY key, EXPERTSTATUSENUMERATION status,
                                          DWORD sub, const char *text, LONG percent)
{
    nmx__stack_check();
    char buf[sizeof(((EXPERTSTATUS *)0)->szStatusText)];
    int more;
    if (text && nmx__user_read_str(buf, text, sizeof buf, &more) < 0)
        return NMERR_INVALID_PARAMETER;
    if (!text)
        buf[0] = '\0';
    nmx_key_hold h;
    nmx_run *r = nmx__key_hold(key, &h);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    if (nmx__key_hold_terminated(&h)) {
        nmx__key_unhold(&h);
        return NMERR_EXPERT_TERMINATE;
    }
    pthread_mutex_lock(&r->mu);
    r->status.Status = status;
    r->status.SubStatus = sub;
    r->status.PercentDone = (DWORD)(percent < 0 ? 0 : percent > 99 ? 99 : percent);
    r->status.Frame = atomic_load_explicit(&r->last_frame, memory_order_relaxed);
    memcpy(r->status.szStatusText, buf, sizeof buf);
    EXPERTSTATUS copy = r->status;
    pthread_mutex_unlock(&r->mu);
    /* The hold keeps the run alive for the host's callback. */
    if (r->opt.progress)
        r->opt.progress(r, &copy, r->opt.progress_ctx);
    nmx__key_unhold(&h);
    return NMERR_SUCCESS;
}

NMX_API DWORD WINAPI ExpertGetStartupInfo(HEXPERTKEY key, PEXPERTSTARTUPINFO out)
{
    nmx__stack_check();
    nmx_key_hold h;
    nmx_run *r = nmx__key_hold(key, &h);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    EXPERTSTARTUPINFO si = r->startup;
    nmx__key_unhold(&h);
    if (nmx__user_write(out, &si, sizeof si) != 0)
        return NMERR_INVALID_PARAMETER;
    return NMERR_SUCCESS;
}

/* Is f one of the run's own filters? (The key is held.) */
static int own_filter(const nmx_run *r, const nmx_filter *f)
{
    for (size_t i = 0; i < r->nfilters; i++)
        if (r->filters[i] == f)
            return 1;
    return 0;
}

/* The engine's stop question while it waits for a frame: has the held key
 * been told to terminate? (tell_terminate in run.c wakes the wait.) */
static int hold_terminated(void *h)
{
    return nmx__key_hold_terminated(h);
}

NMX_API DWORD WINAPI ExpertGetFrame(HEXPERTKEY key, DWORD direction, DWORD flags, DWORD number,
                                    HFILTER filter, LPEXPERTFRAMEDESCRIPTOR out)
{
    nmx__stack_check();
    if (!out)
        return NMERR_INVALID_PARAMETER;
    nmx_key_hold h;
    nmx_run *r = nmx__key_hold(key, &h);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    DWORD rc;
    EXPERTFRAMEDESCRIPTOR d;
    if (nmx__key_hold_terminated(&h))
        rc = NMERR_EXPERT_TERMINATE;
    else if (filter && !own_filter(r, filter))
        rc = NMERR_INVALID_HFILTER; /* another run's, destroyed, or forged */
    else if (!r->opt.capture)
        rc = NMERR_NO_MORE_FRAMES; /* memory for the empty capture was refused */
    else
        /* May wait for the reader (C8), holding the key: the run stays
         * alive, and a terminate interrupts the wait (H4). */
        rc = nmx__capture_get_frame_wait(r->opt.capture, r->opt.filter, filter, direction, flags,
                                         number, hold_terminated, &h, &d);
    if (rc == NMERR_SUCCESS)
        atomic_store_explicit(&r->last_frame, d.FrameNumber, memory_order_relaxed);
    nmx__key_unhold(&h);
    if (rc == NMERR_SUCCESS && nmx__user_write(out, &d, sizeof d) != 0)
        rc = NMERR_INVALID_PARAMETER;
    return rc;
}

/* Adds f to the run's filters (the key is held). */
static DWORD keep_filter(nmx_run *r, nmx_filter *f)
{
    if (r->nfilters == r->cap_filters) {
        size_t ncap = r->cap_filters ? r->cap_filters * 2 : 4;
        nmx_filter **n = realloc(r->filters, ncap * sizeof *n);
        if (!n)
            return NMERR_OUT_OF_MEMORY;
        r->filters = n;
        r->cap_filters = ncap;
    }
    r->filters[r->nfilters++] = f;
    return NMERR_SUCCESS;
}

/* Removes f from the run's filters (the key is held); 0 if it was not one. */
static int drop_filter(nmx_run *r, const nmx_filter *f)
{
    for (size_t i = 0; i < r->nfilters; i++)
        if (r->filters[i] == f) {
            r->filters[i] = r->filters[--r->nfilters];
            return 1;
        }
    return 0;
}

/* Compiles expr for the run's capture and keeps the filter with the run.
 * The message of a refused expression goes to msg (host memory). */
static DWORD make_filter(HEXPERTKEY key, const char *expr, nmx_filter **out, char *msg,
                         size_t msglen)
{
    nmx_key_hold h;
    nmx_run *r = nmx__key_hold(key, &h);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    DWORD rc = NMERR_EXPERT_TERMINATE;
    if (!nmx__key_hold_terminated(&h))
        rc = nmx_filter_create(r->opt.capture, expr, out, msg, msglen);
    if (rc == NMERR_SUCCESS && (rc = keep_filter(r, *out)) != NMERR_SUCCESS) {
        nmx_filter_destroy(*out);
        *out = NULL;
    }
    nmx__key_unhold(&h);
    return rc;
}

/* The expression, copied from the expert (NULL, unreadable, too long: the
 * error and its message). */
static DWORD read_expr(const char *expr, char *copy, char *msg, size_t msglen)
{
    int more = 0;
    if (!expr || nmx__user_read_str(copy, expr, MAX_FILTER_EXPR + 1, &more) < 0)
        return NMERR_INVALID_PARAMETER;
    if (more) {
        snprintf(msg, msglen, "expression longer than %d bytes", MAX_FILTER_EXPR);
        return NMERR_FILTER_INVALID_EXPRESSION;
    }
    return NMERR_SUCCESS;
}

/* The message, cut to the expert's ErrorLength and NUL-terminated. */
static int write_msg(char *err, DWORD errlen, char *msg, size_t msglen)
{
    if (!err || !errlen)
        return 0;
    size_t n = strnlen(msg, msglen - 1);
    if (n >= errlen)
        n = errlen - 1;
    msg[n] = '\0';
    return nmx__user_write(err, msg, n + 1);
}

NMX_API DWORD WINAPI nmx_ExpertCreateFilter(HEXPERTKEY key, const char *expr, HFILTER *out,
                                            char *err, DWORD errlen)
{
    nmx__stack_check();
    char msg[512] = "";
    nmx_filter *f = NULL;
    DWORD rc = NMERR_INVALID_PARAMETER;
    if (out) {
        char *copy = malloc(MAX_FILTER_EXPR + 1);
        rc = copy ? read_expr(expr, copy, msg, sizeof msg) : NMERR_OUT_OF_MEMORY;
        if (rc == NMERR_SUCCESS)
            rc = make_filter(key, copy, &f, msg, sizeof msg);
        free(copy);
    }
    if (write_msg(err, errlen, msg, sizeof msg) != 0 && rc == NMERR_SUCCESS)
        rc = NMERR_INVALID_PARAMETER;
    if (rc != NMERR_SUCCESS && f) {
        nmx_ExpertDestroyFilter(key, f);
        f = NULL;
    }
    if (nmx__user_write(out, &f, sizeof f) != 0 && f) {
        nmx_ExpertDestroyFilter(key, f);
        rc = NMERR_INVALID_PARAMETER;
    }
    return rc;
}

NMX_API DWORD WINAPI nmx_ExpertDestroyFilter(HEXPERTKEY key, HFILTER filter)
{
    nmx__stack_check();
    nmx_key_hold h;
    nmx_run *r = nmx__key_hold(key, &h);
    if (!r)
        return NMERR_INVALID_EXPERT_HANDLE;
    int found = !filter || drop_filter(r, filter);
    nmx__key_unhold(&h);
    if (!found)
        return NMERR_INVALID_HFILTER;
    nmx_filter_destroy(filter);
    return NMERR_SUCCESS;
}
