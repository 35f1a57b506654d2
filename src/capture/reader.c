/* The reader thread: the frame source's frames (source.h) into the
 * capture's spools (SPEC C1, C6, C7, C8). Each frame is recognised
 * (nmx__recognize, in capture order), its FRAME record and bytes appended to
 * the data spool unless they are read where a mapped input file stores them,
 * its record to the index spool, then published: from that moment every run
 * may read it, and nothing about it changes until the capture closes. */
#include "capture/reader.h"

#include "capture/intern.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HDR offsetof(FRAME, MacFrame) /* 16: TimeStamp, FrameLength, nBytesAvail */
#define MAX_FRAMES 0xfffffffeu              /* INVALID_FRAME_NUMBER is not a frame */
#define PUBLISH_BATCH 256u /* frames written and published together (one at a time from a pipe) */

struct nmx__reader {
    nmx_capture *cap;
    nmx__source *src;
    nmx__recognizer *rz;
    nmx__intern in;
    int stream; /* an input may stall (a pipe): wake waiting runs at every frame */
    pthread_t thread;
    _Atomic int stop;
};

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Is dlt among the capture's link types, or is there room for it? */
static int lt_fits(const nmx_capture *cap, int dlt)
{
    const nmx__cap_shared *sh = cap->wsh;
    unsigned n = atomic_load_explicit(&sh->nlts, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        if (sh->lts[i] == dlt)
            return 1;
    return n < NMX__MAX_LTS;
}

static unsigned lt_index(nmx_capture *cap, int dlt)
{
    nmx__cap_shared *sh = cap->wsh;
    unsigned n = atomic_load_explicit(&sh->nlts, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        if (sh->lts[i] == dlt)
            return i;
    if (n < NMX__MAX_LTS) {
        sh->lts[n] = dlt;
        atomic_store_explicit(&sh->nlts, n + 1, memory_order_release);
        return n;
    }
    return 0; /* not reached: the reader stops at a ninth link type (lt_fits) */
}

static void count_frame(nmx_capture_info *in, uint32_t n, const nmx__src_frame *f)
{
    if (n == 0) {
        in->first_ts = in->earliest_ts = in->latest_ts = f->ts_ns;
    } else {
        if (f->ts_ns < in->earliest_ts)
            in->earliest_ts = f->ts_ns;
        if (f->ts_ns > in->latest_ts)
            in->latest_ts = f->ts_ns;
    }
    in->last_ts = f->ts_ns;
    in->wire_bytes += f->wire_len;
    in->captured_bytes += f->cap_len;
}

/* Write what was appended and publish frames 0..n-1. 0 (errno) when the
 * disk refuses. */
static int publish(nmx__reader *rd, uint32_t n)
{
    int e = nmx__spool_flush(&rd->cap->data);
    if (!e)
        e = nmx__spool_flush(&rd->cap->index);
    if (e) {
        errno = e;
        return 0;
    }
    nmx__capture_publish(rd->cap, n);
    return 1;
}

/* Where frame h's bytes stay: k + 1 when they are read in mapped input k
 * (stored there verbatim, and inside what was mapped), else 0 (copied into
 * the data spool). */
static unsigned mapped_in(const nmx_capture *cap, const nmx__src_frame *h)
{
    unsigned k = h->file_off != UINT64_MAX && h->input < NMX__MAX_INMAPS ? cap->map_of[h->input] : 0;
    if (k && h->cap_len <= cap->maps[k - 1].size && h->file_off <= cap->maps[k - 1].size - h->cap_len)
        return k;
    return 0;
}

/* Copy frame h into the data spool as a FRAME record followed by its bytes;
 * its offset in *off. 0 when memory or disk is refused (errno). */
static int spool_frame(nmx_capture *cap, const nmx__src_frame *h, uint64_t *off)
{
    size_t need = align8(FRAME_HDR + (h->cap_len > 8 ? (size_t)h->cap_len : 8)); /* a whole FRAME fits */
    FRAME *f = nmx__spool_append(&cap->data, need, off);
    if (!f)
        return 0;
    f->TimeStamp = h->ts_ns;
    f->FrameLength = h->wire_len;
    f->nBytesAvail = h->cap_len;
    memcpy(f->MacFrame, h->bytes, h->cap_len);
    memset(f->MacFrame + h->cap_len, 0, need - FRAME_HDR - h->cap_len);
    return 1;
}

/* Append frame n; publish it with those before when a batch is complete.
 * 0 when memory or disk is refused (errno). */
static int add_frame(nmx__reader *rd, uint32_t n, const nmx__src_frame *h)
{
    nmx_capture *cap = rd->cap;
    unsigned in = mapped_in(cap, h);
    uint64_t off = h->file_off, roff;
    if (!in && !spool_frame(cap, h, &off))
        return 0;
    nmx__frec *r = nmx__spool_append(&cap->index, sizeof *r, &roff);
    if (!r)
        return 0;
    nmx_decoded d;
    nmx__recognize(rd->rz, h->bytes, h->cap_len, h->dlt, h->ts_ns, &d);
    uint32_t rt = nmx__intern_table(&rd->in, &d);
    if (rt == UINT32_MAX)
        return 0;
    r->off = off;
    r->ts = h->ts_ns;
    r->wire = h->wire_len;
    r->caplen = h->cap_len;
    r->rtab = rt;
    r->in = (uint16_t)in;
    r->lt = (uint8_t)lt_index(cap, h->dlt);
    r->mac = (uint8_t)h->mac_type;
    count_frame(&cap->wsh->info, n, h);
    if (rd->stream || (n + 1) % PUBLISH_BATCH == 0)
        return publish(rd, n + 1);
    return 1;
}

/* The damage (C6) when the capture, not the source, stops reading at frame
 * n, of input `path`. (The source's own message names its file.) */
static void set_damage(nmx_capture *cap, const char *path, uint32_t n, const char *msg)
{
    snprintf(cap->wsh->error, sizeof cap->wsh->error, "%s: frame %u: %s", path, n, msg);
}

static void store_failed(nmx_capture *cap, const char *path, uint32_t n)
{
    char why[160];
    snprintf(why, sizeof why, "cannot store the frame: %s (spool in $TMPDIR or /var/tmp)", strerror(errno));
    set_damage(cap, path, n, why);
}

static uint32_t read_all(nmx__reader *rd)
{
    nmx_capture *cap = rd->cap;
    uint32_t n = 0;
    nmx__src_frame f;
    int r;
    while (!atomic_load_explicit(&rd->stop, memory_order_relaxed) && (r = nmx__source_next(rd->src, &f)) == 1) {
        const char *path = nmx__source_input(rd->src, f.input)->path;
        if (n == MAX_FRAMES) {
            set_damage(cap, path, n, "more than 4294967294 frames; the rest is not read");
            return n;
        }
        if (!lt_fits(cap, f.dlt)) { /* a pcapng file with interfaces of 9 link types */
            char msg[128];
            snprintf(msg, sizeof msg, "link type %d is a ninth one, more than a capture holds; the rest is not read",
                     f.dlt);
            set_damage(cap, path, n, msg);
            return n;
        }
        if (!add_frame(rd, n, &f)) {
            store_failed(cap, path, n);
            return n;
        }
        n++;
    }
    const char *e = nmx__source_error(rd->src); /* it names the file */
    if (!atomic_load_explicit(&rd->stop, memory_order_relaxed) && r < 0)
        snprintf(cap->wsh->error, sizeof cap->wsh->error, "%s", e ? e : "the input is damaged");
    return n;
}

static void *reader_main(void *arg)
{
    nmx__reader *rd = arg;
    nmx_capture *cap = rd->cap;
    uint32_t n = read_all(rd);
    if (!publish(rd, n)) { /* a full disk: what was published before counts */
        store_failed(cap, cap->path, atomic_load(&cap->wsh->nframes));
        n = atomic_load(&cap->wsh->nframes);
    }
    nmx__capture_inputs_final(cap, rd->src);
    nmx__source_close(rd->src);
    rd->src = NULL;
    nmx__recognizer_free(rd->rz);
    rd->rz = NULL;
    nmx__intern_free(&rd->in);
    nmx__capture_finish(cap, n);
    nmx__capture_publish_done(cap);
    return NULL;
}

/* The link types the inputs declare, known before any frame (filters are
 * compiled for them at once). */
static void declared_link_types(nmx_capture *cap, const nmx__source *src)
{
    int all = 1;
    for (size_t i = 0; i < nmx__source_inputs(src); i++) {
        int dlt = nmx__source_input(src, i)->encap_dlt;
        if (dlt >= 0)
            lt_index(cap, dlt);
        else
            all = 0;
    }
    cap->wsh->lts_known = (uint32_t)all;
}

static int has_pipe(const nmx__source *src)
{
    for (size_t i = 0; i < nmx__source_inputs(src); i++)
        if (strcmp(nmx__source_input(src, i)->path, "-") == 0)
            return 1;
    return 0;
}

int nmx__reader_start(nmx_capture *cap, nmx__source *src)
{
    nmx__reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->rz = nmx__recognizer_new())) {
        free(rd);
        nmx__source_close(src);
        return ENOMEM;
    }
    rd->cap = cap;
    rd->src = src;
    rd->in.tabs = &cap->tabs;
    rd->stream = has_pipe(src);
    declared_link_types(cap, src);
    int e = pthread_create(&rd->thread, NULL, reader_main, rd);
    if (e) {
        nmx__recognizer_free(rd->rz);
        nmx__source_close(src);
        free(rd);
        return e;
    }
    cap->rd = rd;
    return 0;
}

void nmx__reader_stop(nmx_capture *cap)
{
    nmx__reader *rd = cap->rd;
    if (!rd)
        return;
    atomic_store(&rd->stop, 1);
    pthread_join(rd->thread, NULL);
    free(rd);
    cap->rd = NULL;
}
