/* The ExpertGetFrame engine (SPEC C2-C5), over a capture that may still be
 * being read: a request waits for the frames it needs (wait.c), never for
 * more. */
#include "capture/capture_internal.h"

#include <assert.h>

int nmx__capture_describe(const nmx_capture *cap, uint32_t i, EXPERTFRAMEDESCRIPTOR *out)
{
    assert(i < nmx__published(cap));
    const nmx__frec *r = nmx__rec(cap, i);
    const FRAME *f = nmx__frame_view(cap, i, r, NMX__VIEW_GETFRAME);
    if (!f)
        return 0;
    out->FrameNumber = i;
    out->hFrame = nmx__hframe_make(cap, i);
    out->pFrame = (ULPFRAME)(uintptr_t)f;
    out->lpRecognizeDataTable = (LPRECOGNIZEDATATABLE)(uintptr_t)nmx__rtab(cap, r);
    out->lpPropertyTable = NULL; /* C4: no property database */
    return 1;
}

static int passes(const nmx_capture *cap, const nmx_filter *hf, const nmx_filter *ef, DWORD flags,
                  uint32_t i)
{
    if ((flags & FLAGS_DEFER_TO_UI_FILTER) && hf && !nmx__filter_pass(hf, cap, i))
        return 0;
    return !ef || nmx__filter_pass(ef, cap, i);
}

typedef struct request {
    const nmx_capture *cap;
    const nmx_filter *hf, *ef;
    DWORD flags;
    int (*stop)(void *);
    void *arg;
    EXPERTFRAMEDESCRIPTOR *out;
} request;

/* Frame i if it passes: 1 found (described), 0 not passing, or the
 * result of a wait that gave no frame (mapped to an error by the caller). */
static DWORD try_frame(const request *q, uint32_t i, int *found)
{
    *found = 0;
    int w = nmx__capture_wait(q->cap, i, q->stop, q->arg);
    if (w < 0)
        return NMERR_EXPERT_TERMINATE;
    if (w == 0)
        return NMERR_NO_MORE_FRAMES;
    if (passes(q->cap, q->hf, q->ef, q->flags, i)) {
        if (!nmx__capture_describe(q->cap, i, q->out))
            return NMERR_OUT_OF_MEMORY;
        *found = 1;
    }
    /* Its input was cut short under us (inmap_guard.c): its bytes read
     * zeros, so it is damage (C6), named by nmx_capture_error, not a frame. */
    if (nmx__inmap_lost(q->cap->maps, nmx__rec(q->cap, i))) {
        *found = 0;
        return NMERR_MEMORY_MAPPED_FILE_ERROR;
    }
    return NMERR_SUCCESS;
}

static DWORD specified(const request *q, DWORD number)
{
    if (number == INVALID_FRAME_NUMBER)
        return NMERR_FRAME_NOT_FOUND;
    int w = nmx__capture_wait(q->cap, number, q->stop, q->arg);
    if (w < 0)
        return NMERR_EXPERT_TERMINATE;
    if (w == 0)
        return NMERR_FRAME_NOT_FOUND;
    if (!passes(q->cap, q->hf, q->ef, q->flags, number))
        return NMERR_FRAME_FAILED_FILTER;
    return nmx__capture_describe(q->cap, number, q->out) ? NMERR_SUCCESS : NMERR_OUT_OF_MEMORY;
}

static DWORD forward(const request *q, DWORD number)
{
    uint64_t i = number == INVALID_FRAME_NUMBER ? 0 : (uint64_t)number + 1;
    for (; i < INVALID_FRAME_NUMBER; i++) {
        int found;
        DWORD rc = try_frame(q, (uint32_t)i, &found);
        if (rc != NMERR_SUCCESS || found)
            return rc;
    }
    return NMERR_NO_MORE_FRAMES;
}

static DWORD backward(const request *q, DWORD number)
{
    /* The frames below `number` (from INVALID_FRAME_NUMBER: all of them,
     * so the end of the reading) must be there, or reading must be over. */
    uint32_t want = number == INVALID_FRAME_NUMBER ? UINT32_MAX : (number ? number - 1 : 0);
    if (number != 0 && nmx__capture_wait(q->cap, want, q->stop, q->arg) < 0)
        return NMERR_EXPERT_TERMINATE;
    uint32_t n = nmx__published(q->cap);
    uint32_t i = number == INVALID_FRAME_NUMBER ? n : (number < n ? number : n);
    while (i-- > 0) {
        int found;
        DWORD rc = try_frame(q, i, &found); /* published: maps it when attached */
        if (rc != NMERR_SUCCESS || found)
            return rc;
    }
    return NMERR_NO_MORE_FRAMES;
}

DWORD nmx__capture_get_frame_wait(const nmx_capture *cap, const nmx_filter *host_filter,
                                  const nmx_filter *expert_filter, DWORD direction, DWORD flags,
                                  DWORD number, int (*stop)(void *), void *arg,
                                  EXPERTFRAMEDESCRIPTOR *out)
{
    assert(cap);
    if (!out)
        return NMERR_INVALID_PARAMETER;
    request q = {cap, host_filter, expert_filter, flags, stop, arg, out};
    switch (direction) {
    case GET_SPECIFIED_FRAME:
        return specified(&q, number);
    case GET_FRAME_NEXT_FORWARD:
        return forward(&q, number);
    case GET_FRAME_NEXT_BACKWARD:
        return backward(&q, number);
    default:
        return NMERR_INVALID_PARAMETER;
    }
}

DWORD nmx__capture_get_frame(const nmx_capture *cap, const nmx_filter *host_filter,
                             const nmx_filter *expert_filter, DWORD direction, DWORD flags,
                             DWORD number, EXPERTFRAMEDESCRIPTOR *out)
{
    return nmx__capture_get_frame_wait(cap, host_filter, expert_filter, direction, flags, number, NULL,
                                       NULL, out);
}
