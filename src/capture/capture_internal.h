/* Internals of src/capture shared with src/host (nmx__ names).
 *
 * A capture is read once, by its reader thread, into spools (spool.h) that
 * every run shares without locks (C7): a frame, once published, never
 * changes or moves until the capture closes. Entry points in
 * capture.c / filter.c validate handles; the nmx__ functions here assume
 * valid, live arguments (asserted).
 */
#ifndef NMX_CAPTURE_INTERNAL_H
#define NMX_CAPTURE_INTERNAL_H

#include <nmexpert/capture.h>

#include "capture/spool.h"

#include <stdatomic.h>
#include <stdint.h>

/* One frame in the index: 32 bytes, in the capture's index spool. Its time
 * stamp and lengths are here; its bytes are either in the data spool, after
 * a FRAME record (TimeStamp, FrameLength, nBytesAvail) 8-byte aligned at
 * `off`, so that pFrame points straight into the capture (in == 0), or, for
 * a frame stored verbatim in an uncompressed input file, in that file's
 * mapping at `off` (in == k + 1 for the capture's mapped input k): nothing
 * copied while reading, and a FRAME made per thread when asked for one
 * (frame_view.c). */
typedef struct nmx__frec {
    uint64_t off;  /* of the FRAME record in the data spool, or of the bytes in the input */
    int64_t ts;    /* TimeStamp: ns since the epoch */
    uint32_t wire; /* FrameLength */
    uint32_t caplen; /* nBytesAvail */
    uint32_t rtab; /* its recognition table: offset / 8 in the tables spool */
    uint16_t in;   /* 0: the data spool; k + 1: mapped input k */
    uint8_t lt;    /* index of its link type in the shared header's lts */
    uint8_t mac;   /* its MAC_TYPE_* (GetFrameMacType), from the source */
} nmx__frec;

/* An input file mapped whole, read-only (shared: its pages are the page
 * cache's, never the process's anonymous memory, C8). */
typedef struct nmx__inmap {
    int fd;             /* open read-only; -1 when not mapped */
    const uint8_t *base;
    uint64_t size;      /* bytes mapped: the file's size when the capture was opened */
    _Atomic uint64_t lost; /* bytes from here on are not the file's: `size` at first, lowered when
                              the file is found cut short (inmap_guard.c); a worker mapping a file
                              already cut maps less than the host's frames need, and they are lost */
    int slot;           /* in the fault handler's registry (inmap_guard.c) */
    char *changed;      /* the damage text (C6) naming the file, for when it is cut short */
} nmx__inmap;

/* inmap.c: map the file at `path`, or the one open as fd (duplicated and
 * named `name` in messages), whole and read-only, guarded against being cut
 * short; 0 or an errno value. Close with nmx__inmap_close. */
int nmx__inmap_open(nmx__inmap *m, const char *path);
int nmx__inmap_attach(nmx__inmap *m, int fd, const char *name);
void nmx__inmap_close(nmx__inmap *m);

/* inmap_guard.c: register m's mapping with the fault handler (0, or -1 when
 * the registry is full), before it is used; unregister it before unmapping.
 * nmx__inmap_repair, called by the SIGBUS handler (src/host/fault.c) with a
 * synchronous fault's address: 1 when it was in a registered mapping, now
 * repaired with zero pages and m->lost lowered (the access may resume), 0
 * otherwise. Async-signal-safe. */
int nmx__inmap_guard(nmx__inmap *m);
void nmx__inmap_unguard(nmx__inmap *m);
int nmx__inmap_repair(const void *addr);

/* 1 when frame r's bytes reach past where its input was cut short (or past
 * what a worker could map of it): they are not the file's (the change is
 * reported as damage, C6). */
static inline int nmx__inmap_lost(const nmx__inmap *maps, const nmx__frec *r)
{
    return r->in && r->off + r->caplen >
                        atomic_load_explicit(&maps[r->in - 1].lost, memory_order_relaxed);
}

#define NMX__MAX_INMAPS 64 /* the first inputs, mapped when they can be; later ones are spooled */

#define NMX__MAX_LTS 8

/* The capture's published state: the first page of the index spool (the
 * records follow it), so a worker process that maps the spool (isolated
 * runs, nmx__capture_attach) follows the reading as the host does. The
 * reader thread is its only writer. Fields not marked atomic are written
 * before `done` is set (the final figures) or, for lts, before nlts covers
 * them. */
typedef struct nmx__cap_shared {
    _Atomic uint32_t nframes; /* frames 0..nframes-1 are readable (release) */
    _Atomic uint32_t done;    /* 1: reading ended; the counts below are final */
    _Atomic uint32_t nlts;    /* distinct link types so far */
    uint32_t lts_known;       /* 1: every input declared its link type, all are in lts from the start */
    int32_t lts[NMX__MAX_LTS];
    nmx_capture_info info;    /* figures only: its pointers are not used here */
    char error[2048];         /* the damage (C6), "" if none; final with done */
} nmx__cap_shared;

/* Where runs sleep while frames are missing: a futex word and a count of
 * sleepers. The host's runs use one in the capture object; a worker's runs
 * use the one on the wait spool's page, a file of its own: the only file a
 * worker gets writable (the other spools are handed over read-only, so a
 * hostile worker can disturb other workers' waits, never the host's pages
 * or waits). The reader wakes both. */
typedef struct nmx__waitq {
    _Atomic uint32_t seq;     /* bumped when sleepers must look again */
    _Atomic uint32_t waiters; /* threads sleeping or about to */
} nmx__waitq;

#define NMX__WAITQ_BYTES 4096u /* the workers' wait queue: the wait spool's page */
#define NMX__INDEX_BASE 8192u  /* the records start on the third page */

typedef struct nmx__reader nmx__reader;

struct _CAPTURE {
    uint16_t slot;  /* in the capture table: HFRAMEs name it */
    uint32_t gen;   /* that slot's generation when this capture took it */
    int attached;   /* 1: a worker's view of another process's capture */
    nmx__spool data;  /* FRAME records back to back, 8-byte aligned */
    nmx__spool index; /* the shared page, then nmx__frec per frame */
    nmx__spool tabs;  /* RECOGNIZEDATATABLEs, interned: one per distinct set of layers */
    nmx__spool waits; /* the workers' wait queue (one page), writable by them */
    nmx__inmap maps[NMX__MAX_INMAPS]; /* uncompressed pcap/pcapng inputs, mapped (in = k + 1) */
    unsigned nmaps;
    uint8_t map_of[NMX__MAX_INMAPS];  /* input i's k + 1 in maps, 0 when not mapped (the reader's) */
    const nmx__cap_shared *sh; /* read-only view of the shared page */
    nmx__cap_shared *wsh;      /* the reader's writable view (NULL attached) */
    nmx__waitq local;          /* the host's runs wait here */
    nmx__waitq *wq;            /* where this process's runs wait: &local, or attached the wait page */
    nmx__waitq *xq;            /* the host: the workers' wait page, which the reader wakes too */
    nmx__reader *rd;           /* the reader thread's state (NULL attached) */
    nmx_capture_input *inputs; /* the files read, paths owned (none attached) */
    unsigned ninputs;
    nmx_capture_info info0;    /* what the inputs' headers say, with this process's strings */
    char *path;
};

/* Frame i's record, bytes and recognition table. i < nframes (published),
 * and, attached, nmx__capture_map(cap, i) done. */
static inline const nmx__frec *nmx__rec(const nmx_capture *cap, uint32_t i)
{
    return (const nmx__frec *)(const void *)nmx__spool_at(&cap->index,
                                                          NMX__INDEX_BASE + (uint64_t)i * sizeof(nmx__frec));
}
/* The FRAME record in the data spool; NULL for a frame of a mapped input. */
static inline const FRAME *nmx__spooled_frame(const nmx_capture *cap, const nmx__frec *r)
{
    return r->in ? NULL : (const FRAME *)(const void *)nmx__spool_at(&cap->data, r->off);
}
static inline const uint8_t *nmx__bytes(const nmx_capture *cap, const nmx__frec *r)
{
    return r->in ? cap->maps[r->in - 1].base + r->off : nmx__spooled_frame(cap, r)->MacFrame;
}
static inline const RECOGNIZEDATATABLE *nmx__rtab(const nmx_capture *cap, const nmx__frec *r)
{
    return (const RECOGNIZEDATATABLE *)(const void *)nmx__spool_at(&cap->tabs, (uint64_t)r->rtab * 8);
}

/* frame_view.c: frame i as a FRAME (r = nmx__rec(cap, i)). A spooled frame's
 * is its record in the data spool, valid until the capture closes; a mapped
 * frame's is a copy in a buffer of the calling thread, valid until the
 * thread's next call with the same `use` (C5 as amended: until the run's
 * next ExpertGetFrame). Two uses, so that the Netmon frame functions do not
 * overwrite what ExpertGetFrame handed out: the other use first looks
 * whether the ExpertGetFrame buffer holds the frame. NULL only when memory
 * is refused. */
enum { NMX__VIEW_GETFRAME, NMX__VIEW_OTHER };
const FRAME *nmx__frame_view(const nmx_capture *cap, uint32_t i, const nmx__frec *r, int use);

/* Frames published so far (acquire: their records and bytes are visible). */
static inline uint32_t nmx__published(const nmx_capture *cap)
{
    return atomic_load_explicit(&cap->sh->nframes, memory_order_acquire);
}

/* ---- streaming (wait.c) ------------------------------------------------
 * A run waits for frames the reader has not yet published, without polling:
 * a futex on the shared page's seq, which works across processes.
 *
 * nmx__capture_wait(cap, i, stop, arg): returns once frame i is published
 * (1), reading has ended without it (0), or stop(arg) says so (-1); stop is
 * checked before every sleep and after every wake (NULL: never stop). A
 * terminate wakes the waiters with nmx__capture_wake after setting what stop
 * reads, so it interrupts a wait (H4). i = UINT32_MAX waits for the end.
 * Attached, the chunks frame i needs are mapped before it returns 1.
 * nmx__capture_wait_done(cap): until reading ends (never interrupted). */
int nmx__capture_wait(const nmx_capture *cap, uint32_t i, int (*stop)(void *), void *arg);
void nmx__capture_wait_done(const nmx_capture *cap);
void nmx__capture_wake(const nmx_capture *cap);
/* The writer's side: publish n frames (written to the spools) and wake the
 * waiters, or publish the end. The reader publishes in batches of frames,
 * each frame at once from a pipe. */
void nmx__capture_publish(nmx_capture *cap, uint32_t n);
void nmx__capture_publish_done(nmx_capture *cap);
/* The reader's last act before publishing the end: the final figures of
 * n frames into the shared page and cap->info. */
void nmx__capture_finish(nmx_capture *cap, uint32_t n);
/* The reader, at the end: the inputs' final frame counts from the source. */
struct nmx__source;
void nmx__capture_inputs_final(nmx_capture *cap, const struct nmx__source *src);
/* Attached: map the chunks frame i needs (index, data, table). 0 or errno. */
int nmx__capture_map(const nmx_capture *cap, uint32_t i);

/* ---- isolation (issue 9): the same capture in a worker process ----------
 * nmx__capture_export(cap, fds, max): the descriptors a worker needs to see
 * cap: fds[0] the index spool (shared page + records), fds[1] the data spool
 * (FRAME records and bytes), fds[2] the tables spool, fds[3] the wait spool,
 * then one per mapped input (read-only, in the order of cap->maps). Returns
 * how many (NMX__EXPORT_FDS + cap->nmaps), or -1 when cap is not an open
 * capture of this process or max is smaller. The fds stay the capture's: the
 * caller passes them (SCM_RIGHTS, or inheritance) and must not close them.
 * They are O_CLOEXEC and open for writing: the caller hands the first
 * NMX__EXPORT_SPOOLS over read-only (a new read-only open of each), so that
 * a worker can map the wait page writable and nothing else.
 *
 * A worker's runs wait on the index spool's wait page, which the host's
 * reader wakes; a terminate in the worker wakes them with nmx__capture_wake.
 *
 * nmx__capture_attach(fds, n, path, out): in the worker, a capture over the
 * spools the host's reader is filling (or has filled): its frames,
 * numbering, link types, recognition tables and info equal the host's, read
 * from the same pages, nothing re-read or re-decoded. It follows a capture
 * still being read: ExpertGetFrame waits for frames the host has not yet
 * published, exactly as in the host. `path` (may be NULL) is what
 * nmx_capture_path reports. The fds are duplicated: the caller may close its
 * own. Errors: NMERR_INVALID_PARAMETER (n < NMX__EXPORT_FDS, bad fds, not spools),
 * NMERR_OUT_OF_MEMORY, NMERR_NO_HANDLES. Close with nmx_capture_close. */
#define NMX__EXPORT_FDS 4
#define NMX__EXPORT_SPOOLS 3 /* the read-only ones, first */
NMX_API int nmx__capture_export(const nmx_capture *cap, int *fds, int max);
NMX_API DWORD nmx__capture_attach(const int *fds, int n, const char *path, nmx_capture **out);

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

/* As nmx__capture_get_frame, waiting (without polling) for frames the
 * reader has not yet published; stop(arg) (may be NULL) is asked before
 * each sleep and after each wake, and a true answer ends the call with
 * NMERR_EXPERT_TERMINATE (the host passes "the run's key is terminated" and
 * its terminate wakes the waiters with nmx__capture_wake). Forward walks wait
 * for the next frame; backward walks, and INVALID_FRAME_NUMBER backward, for
 * the frames they need (from INVALID_FRAME_NUMBER: the end of the reading);
 * specified frames for that frame. NMERR_NO_MORE_FRAMES / FRAME_NOT_FOUND
 * only once reading has ended without the frame. */
DWORD nmx__capture_get_frame_wait(const nmx_capture *cap, const nmx_filter *host_filter,
                                  const nmx_filter *expert_filter, DWORD direction, DWORD flags,
                                  DWORD number, int (*stop)(void *), void *arg,
                                  EXPERTFRAMEDESCRIPTOR *out);

/* Fill a frame descriptor for frame i (valid): 1, or 0 when memory for a
 * mapped frame's FRAME was refused (nmx__frame_view). */
int nmx__capture_describe(const nmx_capture *cap, uint32_t i, EXPERTFRAMEDESCRIPTOR *out);

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
 * The recognition table *out points to belongs to the capture, is immutable
 * and lives until the capture closes; so does pFrame for a spooled frame,
 * while a mapped input's frame is copied into the calling thread's buffer
 * (nmx__frame_view), valid until its next ExpertGetFrame (C5 as amended).
 * The call takes no lock and allocates only when that buffer grows;
 * terminate is the host wrapper's business. */
DWORD nmx__capture_get_frame(const nmx_capture *cap, const nmx_filter *host_filter,
                             const nmx_filter *expert_filter, DWORD direction, DWORD flags,
                             DWORD number, EXPERTFRAMEDESCRIPTOR *out);
/* (It is nmx__capture_get_frame_wait with no stop: it waits for the reader
 * as needed.) */

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
