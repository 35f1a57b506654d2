/* Capture files: opened here and read once by a reader thread (reader.c)
 * into spools every run shares (SPEC C1, C6, C7, C8); the capture table that
 * makes handles checkable; the capinfos accessors and the Netmon frame
 * functions.
 *
 * Storage (docs/CAPTURES.md has the figures), three spools (spool.h):
 *   data   for each frame, its FRAME record (TimeStamp, FrameLength,
 *          nBytesAvail) followed by its bytes, 8-byte aligned;
 *   index  the shared page (frame count, link types, figures, damage), the
 *          workers' wait page, then 16 bytes per frame: where its FRAME is,
 *          its recognition table, its link type;
 *   tabs   the distinct RECOGNIZEDATATABLEs, interned.
 * All three are file pages the kernel may evict; the capture's anonymous
 * memory is a few pages whatever its size.
 *
 * Accessors that report totals (frame count, info, damage, link types) wait
 * until reading has ended; frames are handed out as soon as they are read.
 */
#define _GNU_SOURCE /* u_char and friends in pcap.h */
#include "capture/capture_internal.h"
#include "capture/reader.h"
#include "capture/source.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(sizeof(uintptr_t) == 8, "HFRAME encoding needs 64-bit pointers");
_Static_assert(sizeof(nmx__frec) == 32, "frame record is 32 bytes");


void nmx__errf(char *errbuf, size_t errlen, const char *fmt, ...) {
    if (!errbuf || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

/* ------------------------------------------------------------------------
 * The capture table: slot + generation, never freed. An HFRAME names a slot;
 * an HCAPTURE is checked by comparing it with the occupied slots, so a forged
 * handle is refused without being dereferenced.
 * ------------------------------------------------------------------------ */

#define SLOT_BITS 12
#define NSLOTS (1u << SLOT_BITS)
#define HFRAME_TAG 0xAull

static struct {
    _Atomic(nmx_capture *) cap;
    _Atomic uint32_t gen;
} slots[NSLOTS];
static pthread_mutex_t slots_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint32_t slots_hwm; /* slots at and above are unused */
static uint32_t slots_next;        /* round robin: a closed slot is reused as late as possible */

static int slot_take(nmx_capture *cap) {
    int ok = 0;
    pthread_mutex_lock(&slots_mu);
    for (uint32_t k = 0; k < NSLOTS; k++) {
        uint32_t s = (slots_next + k) % NSLOTS;
        if (atomic_load_explicit(&slots[s].cap, memory_order_relaxed))
            continue;
        uint32_t gen = (atomic_load_explicit(&slots[s].gen, memory_order_relaxed) + 1) & 0xffff;
        cap->slot = (uint16_t)s;
        cap->gen = gen;
        atomic_store_explicit(&slots[s].gen, gen, memory_order_relaxed);
        atomic_store_explicit(&slots[s].cap, cap, memory_order_release);
        if (s + 1 > atomic_load_explicit(&slots_hwm, memory_order_relaxed))
            atomic_store_explicit(&slots_hwm, s + 1, memory_order_release);
        slots_next = (s + 1) % NSLOTS;
        ok = 1;
        break;
    }
    pthread_mutex_unlock(&slots_mu);
    return ok;
}

int nmx__capture_valid(const nmx_capture *cap) {
    if (!cap)
        return 0;
    uint32_t hwm = atomic_load_explicit(&slots_hwm, memory_order_acquire);
    for (uint32_t s = 0; s < hwm; s++)
        if (atomic_load_explicit(&slots[s].cap, memory_order_acquire) == cap)
            return 1;
    return 0;
}

HFRAME nmx__hframe_make(const nmx_capture *cap, DWORD number) {
    uint64_t v = HFRAME_TAG << 60 | (uint64_t)cap->slot << 48 | (uint64_t)(cap->gen & 0xffff) << 32 |
                 number;
    return (HFRAME)(uintptr_t)v;
}

const nmx_capture *nmx__hframe_resolve(HFRAME hf, DWORD *number) {
    uint64_t v = (uint64_t)(uintptr_t)hf;
    if (v >> 60 != HFRAME_TAG || (v >> 48 & 0xfff) >= NSLOTS)
        return NULL;
    uint32_t s = (uint32_t)(v >> 48 & 0xfff);
    const nmx_capture *cap = atomic_load_explicit(&slots[s].cap, memory_order_acquire);
    if (!cap || atomic_load_explicit(&slots[s].gen, memory_order_relaxed) != (uint32_t)(v >> 32 & 0xffff))
        return NULL;
    uint32_t n = (uint32_t)v;
    if (n >= nmx__published(cap))
        return NULL;
    *number = n;
    return cap;
}

/* ------------------------------------------------------------------------
 * Opening: the file and its header here, the frames on the reader thread
 * ------------------------------------------------------------------------ */

static void capture_free(nmx_capture *cap)
{
    if (!cap)
        return;
    nmx__reader_stop(cap);
    if (cap->attached) {
        nmx__spool_unmap_rw(&cap->waits, cap->wq, NMX__WAITQ_BYTES);
    } else {
        nmx__spool_unmap_rw(&cap->index, cap->wsh, NMX__INDEX_BASE);
        nmx__spool_unmap_rw(&cap->waits, cap->xq, NMX__WAITQ_BYTES);
    }
    nmx__spool_destroy(&cap->data);
    nmx__spool_destroy(&cap->index);
    nmx__spool_destroy(&cap->tabs);
    nmx__spool_destroy(&cap->waits);
    for (unsigned k = 0; k < cap->nmaps; k++)
        nmx__inmap_close(&cap->maps[k]);
    for (unsigned i = 0; i < cap->ninputs; i++)
        free((char *)cap->inputs[i].path);
    free(cap->inputs);
    free(cap->path);
    free(cap);
}

/* The index spool's first two pages (the shared page, and one unused),
 * zeroed, written, and mapped writable for the reader. 0 or errno. */
static int shared_pages(nmx_capture *cap)
{
    uint64_t off;
    uint8_t *p = nmx__spool_append(&cap->index, NMX__INDEX_BASE, &off);
    if (!p)
        return errno;
    memset(p, 0, NMX__INDEX_BASE);
    int e = nmx__spool_flush(&cap->index);
    if (e)
        return e;
    uint8_t *w = nmx__spool_map_rw(&cap->index, 0, NMX__INDEX_BASE);
    if (!w)
        return errno;
    cap->wsh = (nmx__cap_shared *)(void *)w;
    cap->sh = (const nmx__cap_shared *)(const void *)nmx__spool_at(&cap->index, 0);
    return 0;
}

/* The workers' wait page: the wait spool's, zeroed, written, and mapped
 * writable (the one spool a worker may write: capture_internal.h). */
static int wait_page(nmx_capture *cap)
{
    uint64_t off;
    uint8_t *p = nmx__spool_append(&cap->waits, NMX__WAITQ_BYTES, &off);
    if (!p)
        return errno;
    memset(p, 0, NMX__WAITQ_BYTES);
    int e = nmx__spool_flush(&cap->waits);
    if (e)
        return e;
    cap->xq = nmx__spool_map_rw(&cap->waits, 0, NMX__WAITQ_BYTES);
    return cap->xq ? 0 : errno;
}

/* A capture with empty spools and its shared pages; NULL with errno. */
static nmx_capture *capture_new(const char *path)
{
    nmx_capture *cap = calloc(1, sizeof *cap);
    if (!cap)
        return NULL;
    cap->data.fd = cap->index.fd = cap->tabs.fd = cap->waits.fd = -1;
    cap->wq = &cap->local;
    int e = 0;
    if (!(cap->path = strdup(path)))
        e = ENOMEM;
    if (!e)
        e = nmx__spool_create(&cap->data);
    if (!e)
        e = nmx__spool_create(&cap->index);
    if (!e)
        e = nmx__spool_create(&cap->tabs);
    if (!e)
        e = nmx__spool_create(&cap->waits);
    if (!e)
        e = shared_pages(cap);
    if (!e)
        e = wait_page(cap);
    if (e) {
        capture_free(cap);
        errno = e;
        return NULL;
    }
    return cap;
}

void nmx__capture_finish(nmx_capture *cap, uint32_t n)
{
    nmx_capture_info *in = &cap->wsh->info;
    in->frames = n;
    in->n_link_types = atomic_load(&cap->wsh->nlts);
    in->link_type = cap->wsh->lts[0];
    in->memory_bytes = sizeof *cap + strlen(cap->path) + 1 + cap->data.len + cap->index.len + cap->tabs.len;
}

/* ------------------------------------------------------------------------
 * Isolation: the same capture in a worker process (capture_internal.h)
 * ------------------------------------------------------------------------ */

int nmx__capture_export(const nmx_capture *cap, int *fds, int max)
{
    if (!fds || !nmx__capture_valid(cap) || cap->attached || max < NMX__EXPORT_FDS + (int)cap->nmaps ||
        cap->index.fd < 0 || cap->data.anon)
        return -1;
    fds[0] = cap->index.fd;
    fds[1] = cap->data.fd;
    fds[2] = cap->tabs.fd;
    fds[3] = cap->waits.fd;
    for (unsigned k = 0; k < cap->nmaps; k++)
        fds[NMX__EXPORT_FDS + k] = cap->maps[k].fd;
    return NMX__EXPORT_FDS + (int)cap->nmaps;
}

/* The host's mapped inputs, fds[NMX__EXPORT_FDS ...], in its order. */
static int attach_inputs(nmx_capture *cap, const int *fds, int n)
{
    if (n - NMX__EXPORT_FDS > NMX__MAX_INMAPS)
        return EINVAL;
    for (int i = NMX__EXPORT_FDS; i < n; i++) {
        int e = nmx__inmap_attach(&cap->maps[cap->nmaps], fds[i], cap->path);
        if (e)
            return e;
        cap->nmaps++;
    }
    return 0;
}

static int attach_spools(nmx_capture *cap, const int *fds)
{
    struct stat st;
    if (fstat(fds[0], &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size < NMX__INDEX_BASE)
        return EINVAL;
    int e = nmx__spool_attach(&cap->index, fds[0]);
    if (!e)
        e = nmx__spool_attach(&cap->data, fds[1]);
    if (!e)
        e = nmx__spool_attach(&cap->tabs, fds[2]);
    if (!e)
        e = nmx__spool_attach(&cap->waits, fds[3]);
    if (!e)
        e = nmx__spool_map(&cap->index, 0);
    if (e)
        return e;
    void *q = nmx__spool_map_rw(&cap->waits, 0, NMX__WAITQ_BYTES);
    if (!q)
        return errno;
    cap->wq = q;
    cap->sh = (const nmx__cap_shared *)(const void *)nmx__spool_at(&cap->index, 0);
    return 0;
}

DWORD nmx__capture_attach(const int *fds, int n, const char *path, nmx_capture **out)
{
    if (!out)
        return NMERR_INVALID_PARAMETER;
    *out = NULL;
    if (!fds || n < NMX__EXPORT_FDS)
        return NMERR_INVALID_PARAMETER;
    nmx_capture *cap = calloc(1, sizeof *cap);
    if (!cap)
        return NMERR_OUT_OF_MEMORY;
    cap->data.fd = cap->index.fd = cap->tabs.fd = cap->waits.fd = -1;
    cap->attached = 1;
    int e = (cap->path = strdup(path ? path : "")) ? attach_spools(cap, fds) : ENOMEM;
    if (!e)
        e = attach_inputs(cap, fds, n);
    if (e || !slot_take(cap)) {
        capture_free(cap);
        return e == ENOMEM ? NMERR_OUT_OF_MEMORY : e ? NMERR_INVALID_PARAMETER : NMERR_NO_HANDLES;
    }
    *out = cap;
    return NMERR_SUCCESS;
}

int nmx__capture_map(const nmx_capture *cap, uint32_t i)
{
    nmx_capture *c = (nmx_capture *)(uintptr_t)cap; /* the chunk tables are the process's own */
    int e = nmx__spool_map(&c->index, NMX__INDEX_BASE + (uint64_t)i * sizeof(nmx__frec));
    if (e)
        return e;
    const nmx__frec *r = nmx__rec(cap, i);
    if (r->in > cap->nmaps)
        return EINVAL; /* a mapped input the host did not hand over */
    e = r->in ? 0 : nmx__spool_map(&c->data, r->off);
    return e ? e : nmx__spool_map(&c->tabs, (uint64_t)r->rtab * 8);
}

/* What only the header of a plain pcap or pcapng file says: byte order,
 * version, time stamp digits. Left 0 for other formats and compressed files. */
static void header_facts(const char *path, nmx_capture_info *in) {
    uint8_t h[16];
    FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : NULL;
    size_t got = fp ? fread(h, 1, sizeof h, fp) : 0;
    if (fp)
        fclose(fp);
    if (got < sizeof h)
        return;
    uint32_t m = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
    const uint8_t *v = h + 4; /* pcap: major, minor after the magic */
    if (in->format == NMX_FORMAT_PCAPNG) {
        m = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
        v = h + 12; /* after the byte-order magic */
        in->swapped = m == 0x4d3c2b1au;
    } else if (in->format == NMX_FORMAT_PCAP) {
        in->swapped = m == 0xd4c3b2a1u || m == 0x4d3cb2a1u;
        in->ts_digits = (m == 0xa1b23c4du || m == 0x4d3cb2a1u) ? 9 : 6;
    } else {
        return;
    }
    in->version_major = in->swapped ? v[0] << 8 | v[1] : v[1] << 8 | v[0];
    in->version_minor = in->swapped ? v[2] << 8 | v[3] : v[3] << 8 | v[2];
}

/* The inputs' descriptions, kept by the capture, and the info they give. */
static int keep_inputs(nmx_capture *cap, const nmx__source *src) {
    size_t n = nmx__source_inputs(src);
    cap->inputs = calloc(n, sizeof *cap->inputs);
    if (!cap->inputs)
        return 0;
    for (size_t i = 0; i < n; i++) {
        cap->inputs[i] = *nmx__source_input(src, i);
        cap->inputs[i].path = strdup(cap->inputs[i].path);
        if (!cap->inputs[i].path)
            return 0;
        cap->ninputs++;
        cap->info0.file_bytes += cap->inputs[i].file_bytes;
    }
    nmx_capture_info *in = &cap->info0;
    const nmx_capture_input *first = &cap->inputs[0];
    int plain = strcmp(first->compression, "none") == 0;
    in->file_type = first->format;
    in->compression = first->compression;
    in->inputs = cap->ninputs;
    in->snaplen = (int)first->snaplen;
    in->format = strcmp(first->format_name, "pcapng") == 0 ? NMX_FORMAT_PCAPNG
                 : strstr(first->format_name, "pcap")     ? NMX_FORMAT_PCAP
                                                          : NMX_FORMAT_OTHER;
    if (plain)
        header_facts(first->path, in);
    return 1;
}

/* Map the first inputs that are uncompressed pcap or pcapng files (the ones
 * whose frames the source can say are stored verbatim, at file_off). An input
 * that cannot be mapped is spooled, as any other. */
static void map_inputs(nmx_capture *cap)
{
    for (unsigned i = 0; i < cap->ninputs && i < NMX__MAX_INMAPS; i++) {
        const nmx_capture_input *in = &cap->inputs[i];
        int pcap = strcmp(in->format_name, "pcapng") == 0 || strstr(in->format_name, "pcap") != NULL;
        if (!pcap || strcmp(in->compression, "none") != 0 || strcmp(in->path, "-") == 0)
            continue;
        if (nmx__inmap_open(&cap->maps[cap->nmaps], in->path) == 0)
            cap->map_of[i] = (uint8_t)++cap->nmaps;
    }
}

void nmx__capture_inputs_final(nmx_capture *cap, const nmx__source *src)
{
    for (unsigned i = 0; i < cap->ninputs && i < nmx__source_inputs(src); i++) {
        cap->inputs[i].first_frame = nmx__source_input(src, i)->first_frame;
        cap->inputs[i].frames = nmx__source_input(src, i)->frames;
    }
}

DWORD nmx_capture_open_inputs(const char *const *paths, size_t n, nmx_capture **out, char *errbuf,
                              size_t errlen) {
    nmx__errf(errbuf, errlen, "%s", "");
    if (!out) {
        nmx__errf(errbuf, errlen, "nmx_capture_open: out is NULL");
        return NMERR_INVALID_PARAMETER;
    }
    *out = NULL;
    nmx__source *src;
    char err[1024];
    DWORD rc = nmx__source_open(paths, n, &src, err, sizeof err);
    if (rc != NMERR_SUCCESS) {
        nmx__errf(errbuf, errlen, "%s", err);
        return rc;
    }
    /* the first path as given (a folder, "-"), which reopens as it did */
    const char *first = paths[0];
    nmx_capture *cap = capture_new(first);
    if (!cap || !keep_inputs(cap, src)) {
        int e = cap ? ENOMEM : errno;
        nmx__errf(errbuf, errlen, "%s: cannot make the capture's spool files: %s", first, strerror(e));
        nmx__source_close(src);
        capture_free(cap);
        return e == ENOMEM ? NMERR_OUT_OF_MEMORY : NMERR_FILE_READ_ERROR;
    }
    cap->wsh->info = cap->info0;
    map_inputs(cap);
    int e = nmx__reader_start(cap, src); /* owns src from here */
    if (e || !slot_take(cap)) {
        if (e)
            nmx__errf(errbuf, errlen, "%s: cannot start reading: %s", cap->path, strerror(e));
        else
            nmx__errf(errbuf, errlen, "%s: 4096 captures are open already", cap->path);
        capture_free(cap);
        return e ? NMERR_OUT_OF_MEMORY : NMERR_NO_HANDLES;
    }
    *out = cap;
    return NMERR_SUCCESS;
}

DWORD nmx_capture_open(const char *path, nmx_capture **out, char *errbuf, size_t errlen) {
    if (!path || !out) {
        if (out)
            *out = NULL;
        nmx__errf(errbuf, errlen, "nmx_capture_open: %s is NULL", path ? "out" : "path");
        return NMERR_INVALID_PARAMETER;
    }
    return nmx_capture_open_inputs(&path, 1, out, errbuf, errlen);
}

/* The capture with no frames that a run gets when the host gives it none
 * (H2: hCapture is never NULL). Made once, never closed. */
static nmx_capture *g_empty;
static pthread_once_t g_empty_once = PTHREAD_ONCE_INIT;

/* Its shared page: read to the end, no frames, link type DLT_NULL. */
static nmx__cap_shared g_empty_sh = {
    .done = 1, .nlts = 1, .lts_known = 1, .lts = {DLT_NULL}, .info = {.link_type = DLT_NULL, .n_link_types = 1}};

static void empty_make(void) {
    nmx_capture *cap = calloc(1, sizeof *cap);
    if (!cap)
        return;
    cap->data.fd = cap->index.fd = cap->tabs.fd = -1;
    cap->path = strdup("");
    cap->sh = &g_empty_sh;
    cap->wq = &cap->local;
    if (!cap->path || !slot_take(cap)) {
        free(cap->path);
        free(cap);
        return;
    }
    g_empty = cap;
}

HCAPTURE nmx__capture_empty(void) {
    pthread_once(&g_empty_once, empty_make);
    return g_empty;
}

DWORD nmx_capture_close(nmx_capture *cap) {
    if (!cap)
        return NMERR_SUCCESS;
    if (cap == g_empty)
        return NMERR_INVALID_HCAPTURE; /* not the caller's to close */
    int found = 0;
    pthread_mutex_lock(&slots_mu);
    uint32_t hwm = atomic_load_explicit(&slots_hwm, memory_order_relaxed);
    for (uint32_t s = 0; s < hwm; s++) {
        if (atomic_load_explicit(&slots[s].cap, memory_order_relaxed) == cap) {
            atomic_store_explicit(&slots[s].cap, NULL, memory_order_release);
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&slots_mu);
    if (!found)
        return NMERR_INVALID_HCAPTURE;
    capture_free(cap);
    return NMERR_SUCCESS;
}

/* ------------------------------------------------------------------------
 * Accessors
 * ------------------------------------------------------------------------ */

uint32_t nmx_capture_frames(const nmx_capture *cap) {
    if (!nmx__capture_valid(cap))
        return 0;
    nmx__capture_wait_done(cap);
    return nmx__published(cap);
}

int nmx_capture_link_type(const nmx_capture *cap) {
    if (!nmx__capture_valid(cap))
        return -1;
    if (!atomic_load(&cap->sh->nlts))
        nmx__capture_wait(cap, 0, NULL, NULL); /* not declared: the first frame's */
    return atomic_load(&cap->sh->nlts) ? cap->sh->lts[0] : -1;
}

/* The damage (C6): a mapped input cut short while open (whether or not a
 * fault showed it: a worker may have met it, or nobody yet), else what the
 * reader found; NULL if none. The reading has ended. */
static const char *damage(const nmx_capture *cap)
{
    for (unsigned k = 0; k < cap->nmaps; k++) {
        const nmx__inmap *m = &cap->maps[k];
        struct stat st;
        if (atomic_load(&m->lost) < m->size ||
            (fstat(m->fd, &st) == 0 && (uint64_t)st.st_size < m->size))
            return m->changed;
    }
    return cap->sh->error[0] ? cap->sh->error : NULL;
}

const char *nmx_capture_error(const nmx_capture *cap) {
    if (!nmx__capture_valid(cap))
        return NULL;
    nmx__capture_wait_done(cap);
    return damage(cap);
}

const char *nmx_capture_path(const nmx_capture *cap) { return nmx__capture_valid(cap) ? cap->path : NULL; }

DWORD nmx_capture_get_info(const nmx_capture *cap, nmx_capture_info *out) {
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__capture_valid(cap))
        return NMERR_INVALID_HCAPTURE;
    nmx__capture_wait_done(cap);
    *out = cap->sh->info;
    out->path = cap->path;
    out->error = damage(cap);
    /* The strings are this process's (a worker's view has no inputs). */
    out->file_type = cap->ninputs ? cap->info0.file_type : NULL;
    out->compression = cap->ninputs ? cap->info0.compression : NULL;
    return NMERR_SUCCESS;
}

unsigned nmx_capture_link_types(const nmx_capture *cap, int *out, unsigned n) {
    if (!nmx__capture_valid(cap))
        return 0;
    nmx__capture_wait_done(cap);
    unsigned have = atomic_load(&cap->sh->nlts);
    for (unsigned i = 0; out && i < n && i < have; i++)
        out[i] = cap->sh->lts[i];
    return have;
}

unsigned nmx_capture_inputs(const nmx_capture *cap) { return nmx__capture_valid(cap) ? cap->ninputs : 0; }

DWORD nmx_capture_input_info(const nmx_capture *cap, unsigned i, nmx_capture_input *out) {
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__capture_valid(cap))
        return NMERR_INVALID_HCAPTURE;
    if (i >= cap->ninputs)
        return NMERR_FILE_NOT_FOUND;
    nmx__capture_wait_done(cap); /* its frame count is final */
    *out = cap->inputs[i];
    return NMERR_SUCCESS;
}

DWORD nmx_capture_frame(const nmx_capture *cap, DWORD number, nmx_frame *out) {
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__capture_valid(cap))
        return NMERR_INVALID_HCAPTURE;
    if (nmx__capture_wait(cap, number, NULL, NULL) != 1)
        return NMERR_FRAME_NOT_FOUND;
    const nmx__frec *r = nmx__rec(cap, number);
    const FRAME *f = nmx__frame_view(cap, number, r, NMX__VIEW_OTHER);
    if (!f)
        return NMERR_OUT_OF_MEMORY;
    if (nmx__inmap_lost(cap->maps, r))
        return NMERR_MEMORY_MAPPED_FILE_ERROR; /* its input was cut short: nmx_capture_error */
    out->number = number;
    out->hframe = nmx__hframe_make(cap, number);
    out->frame = f;
    out->bytes = nmx__bytes(cap, r);
    out->wire_len = r->wire;
    out->cap_len = r->caplen;
    out->ts_ns = r->ts;
    out->link_type = cap->sh->lts[r->lt];
    out->recognized = nmx__rtab(cap, r);
    return NMERR_SUCCESS;
}

/* ------------------------------------------------------------------------
 * The Netmon frame functions (netmon.h): invalid handles give 0 / NULL.
 * ------------------------------------------------------------------------ */

static const nmx__frec *rec_of(HFRAME hf) {
    DWORD n;
    const nmx_capture *cap = nmx__hframe_resolve(hf, &n);
    return cap ? nmx__rec(cap, n) : NULL;
}

DWORD WINAPI GetCaptureTotalFrames(HCAPTURE hCapture) { return nmx_capture_frames(hCapture); }

HCAPTURE WINAPI GetFrameCaptureHandle(HFRAME hFrame) {
    DWORD n;
    return (HCAPTURE)nmx__hframe_resolve(hFrame, &n);
}

DWORD WINAPI GetFrameLength(HFRAME hFrame) {
    const nmx__frec *r = rec_of(hFrame);
    return r ? r->wire : 0;
}

DWORD WINAPI GetFrameStoredLength(HFRAME hFrame) {
    const nmx__frec *r = rec_of(hFrame);
    return r ? r->caplen : 0;
}

int64_t WINAPI GetFrameTimeStamp(HFRAME hFrame) {
    const nmx__frec *r = rec_of(hFrame);
    return r ? r->ts : 0;
}

DWORD WINAPI GetFrameMacType(HFRAME hFrame) {
    const nmx__frec *r = rec_of(hFrame);
    return r ? r->mac : MAC_TYPE_UNKNOWN; /* the source maps Netmon media types and link types alike */
}

DWORD WINAPI GetFrameNumber(HFRAME hFrame) {
    DWORD n;
    return nmx__hframe_resolve(hFrame, &n) ? n : INVALID_FRAME_NUMBER; /* 0 is a frame */
}

ULPFRAME WINAPI GetFrameFromFrameHandle(HFRAME hFrame) {
    /* The capture's read-only FRAME, or the calling thread's copy of a mapped
     * input's frame (nmx__frame_view): the cast only matches Netmon's type. */
    DWORD n;
    const nmx_capture *cap = nmx__hframe_resolve(hFrame, &n);
    return cap ? (ULPFRAME)(uintptr_t)nmx__frame_view(cap, n, nmx__rec(cap, n), NMX__VIEW_OTHER) : NULL;
}
