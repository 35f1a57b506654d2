/* Internals of src/capture shared with src/host (nmx__ names).
 *
 * The capture is immutable once nmx_capture_open returns: every structure
 * below is read without locks by any number of runs (C7). Entry points in
 * capture.c / filter.c validate handles; the nmx__ functions here assume
 * valid, live arguments (asserted).
 */
#ifndef NMX_CAPTURE_INTERNAL_H
#define NMX_CAPTURE_INTERNAL_H

#include <nmexpert/capture.h>

#include <stdatomic.h>
#include <stdint.h>

/* One frame in the index: 16 bytes. Its FRAME record (time stamp, lengths)
 * and bytes live at cap->data + off, 8-byte aligned, so the descriptor's
 * pFrame points straight into the capture and needs no per-run copy. */
typedef struct nmx__frec {
    uint64_t off;  /* of the FRAME record in cap->data */
    uint32_t rtab; /* index of its recognition table in cap->rtabs */
    uint16_t lt;   /* index of its link type in cap->lts */
    uint16_t mac;  /* its MAC_TYPE_* (GetFrameMacType), from the source */
} nmx__frec;

struct _CAPTURE {
    uint32_t nframes;
    uint16_t nlts;
    uint16_t slot;  /* in the capture table: HFRAMEs name it */
    uint32_t gen;   /* that slot's generation when this capture took it */
    nmx__frec *recs;
    uint8_t *data;  /* FRAME records back to back, 8-byte aligned */
    size_t data_len;  /* bytes used */
    size_t data_map;  /* bytes mapped */
    const RECOGNIZEDATATABLE **rtabs; /* interned, shared by every frame with the same layers */
    uint32_t nrtabs;
    void *rtab_chunks; /* arena the tables live in (a list of chunks) */
    size_t rtab_bytes;
    int lts[8];        /* distinct link types, first seen first */
    nmx_capture_input *inputs; /* the files read, paths owned */
    unsigned ninputs;
    char *path;
    char *error;
    nmx_capture_info info;
};

/* The capture with no frames that a run gets when the host gives it none
 * (H2: hCapture is never NULL): path "", link type DLT_NULL, never closed.
 * NULL only if memory was refused at its first use. */
HCAPTURE nmx__capture_empty(void);

/* HFRAME encoding: tag | slot | generation | frame number, never a pointer
 * (see docs/CAPTURES.md). */
HFRAME nmx__hframe_make(const nmx_capture *cap, DWORD number);

/* The capture and frame number an HFRAME names, or NULL when it names no
 * frame of an open capture (NULL, forged, stale). Never dereferences hf. */
const nmx_capture *nmx__hframe_resolve(HFRAME hf, DWORD *number);

/* Is cap an open capture? Compares addresses only. */
int nmx__capture_valid(const nmx_capture *cap);

/* Is f a live filter? Compares addresses only. */
int nmx__filter_valid(const nmx_filter *f);

/* Does frame i of cap pass f? cap and f valid, i < cap->nframes. A filter
 * made for another capture matches nothing. */
int nmx__filter_pass(const nmx_filter *f, const nmx_capture *cap, uint32_t i);

/* Fill a frame descriptor for frame i (valid). */
void nmx__capture_describe(const nmx_capture *cap, uint32_t i, EXPERTFRAMEDESCRIPTOR *out);

/* The ExpertGetFrame engine (C2-C5). cap valid; host_filter and
 * expert_filter NULL or valid (the host validates the expert's HFILTER with
 * nmx__filter_valid first: an invalid one is its NMERR_INVALID_HFILTER).
 *
 * The frame must pass expert_filter, and host_filter too when flags has
 * FLAGS_DEFER_TO_UI_FILTER (host filter first); without that flag the host
 * filter is ignored. FLAGS_ATTACH_PROPERTIES is accepted and changes nothing
 * (lpPropertyTable is NULL, C4); other flag bits are ignored.
 *   GET_SPECIFIED_FRAME      frame `number`: NMERR_FRAME_NOT_FOUND when it
 *                            does not exist (INVALID_FRAME_NUMBER included),
 *                            NMERR_FRAME_FAILED_FILTER when it fails a filter
 *   GET_FRAME_NEXT_FORWARD   the first passing frame > number; from
 *                            INVALID_FRAME_NUMBER, the first passing frame
 *   GET_FRAME_NEXT_BACKWARD  the last passing frame < number; from
 *                            INVALID_FRAME_NUMBER, the last passing frame
 *                            (so both walks start the same way)
 * Returns NMERR_SUCCESS with *out filled; NMERR_NO_MORE_FRAMES when no frame
 * passes in that direction; NMERR_INVALID_PARAMETER for a NULL out or an
 * unknown direction. On failure *out is left unchanged.
 *
 * Everything *out points to belongs to the capture, is immutable and lives
 * until the capture closes (so C5's "until the run ends" holds with no
 * per-run memory). The call takes no lock and allocates nothing; terminate
 * is the host wrapper's business. */
DWORD nmx__capture_get_frame(const nmx_capture *cap, const nmx_filter *host_filter,
                             const nmx_filter *expert_filter, DWORD direction, DWORD flags,
                             DWORD number, EXPERTFRAMEDESCRIPTOR *out);

/* recognize.c: the per-capture recognizer. The reader calls nmx__recognize
 * for every frame, in capture order, from one thread at a time; it fills
 * *out as nmx_decode does and adds what needs context (application
 * protocols). NULL from _new only when memory is refused. */
typedef struct nmx__recognizer nmx__recognizer;
nmx__recognizer *nmx__recognizer_new(void);
void nmx__recognizer_free(nmx__recognizer *rz);
unsigned nmx__recognize(nmx__recognizer *rz, const uint8_t *bytes, uint32_t caplen, int dlt,
                        int64_t ts_ns, nmx_decoded *out);

/* Write "fmt..." into errbuf (NUL-terminated, cut to errlen). */
void nmx__errf(char *errbuf, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
