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
_Static_assert(sizeof(nmx__frec) == 16, "frame record is 16 bytes");


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
    if (cap->attached && cap->wq)
        munmap(cap->wq, NMX__WAITQ_BYTES);
    nmx__spool_destroy(&cap->data);
    nmx__spool_destroy(&cap->index);
    nmx__spool_destroy(&cap->tabs);
    nmx__spool_destroy(&cap->waits);
    free(cap->path);
    free(cap);
}

/* A capture with empty spools and its shared pages; NULL with errno. */
static nmx_capture *capture_new(const char *path)
{
    nmx_capture *cap = calloc(1, sizeof *cap);
    if (!cap)
        return NULL;
    cap->data.fd = cap->index.fd = cap->tabs.fd = cap->waits.fd = -1;
    int e = 0;
    uint64_t off;
    uint8_t *pages = NULL, *waits = NULL;
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
    if (!e && !(pages = nmx__spool_append(&cap->index, NMX__INDEX_BASE, &off)))
        e = errno;
    if (!e && !(waits = nmx__spool_append(&cap->waits, NMX__WAITQ_BYTES, &off)))
        e = errno;
    if (e) {
        capture_free(cap);
        errno = e;
        return NULL;
    }
    cap->wsh = (nmx__cap_shared *)(void *)pages;
    cap->sh = (const nmx__cap_shared *)(const void *)nmx__spool_at(&cap->index, 0);
    cap->xq = (nmx__waitq *)(void *)waits;
    cap->wq = &cap->local;
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
    if (!fds || max < NMX__EXPORT_FDS || !nmx__capture_valid(cap) || cap->attached ||
        cap->index.fd < 0 || cap->data.anon)
        return -1;
    fds[0] = cap->index.fd;
    fds[1] = cap->data.fd;
    fds[2] = cap->tabs.fd;
    fds[3] = cap->waits.fd;
    return NMX__EXPORT_FDS;
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
    void *q = mmap(NULL, NMX__WAITQ_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, cap->waits.fd, 0);
    if (q == MAP_FAILED)
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
    e = nmx__spool_map(&c->data, r->off);
    return e ? e : nmx__spool_map(&c->tabs, (uint64_t)r->rtab * 8);
}

static DWORD open_errno(const char *path, int err, char *errbuf, size_t errlen)
{
    nmx__errf(errbuf, errlen, "%s: %s", path, strerror(err));
    switch (err) {
    case ENOENT:
    case ENOTDIR:
        return NMERR_FILE_NOT_FOUND;
    case EACCES:
    case EPERM:
        return NMERR_ACCESS_DENIED;
    case ENOMEM:
        return NMERR_OUT_OF_MEMORY;
    default:
        return NMERR_FILE_READ_ERROR;
    }
}

/* The file, positioned at its start, and its first bytes. */
static DWORD open_file(const char *path, FILE **fpp, struct stat *st, uint8_t magic[4], size_t *got,
                       char *errbuf, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return open_errno(path, errno, errbuf, errlen);
    int e = 0;
    if (fstat(fileno(fp), st) != 0)
        e = errno;
    else if (S_ISDIR(st->st_mode))
        e = EISDIR;
    if (!e) {
        setvbuf(fp, NULL, _IOFBF, (size_t)1 << 18);
        *got = fread(magic, 1, 4, fp);
        if (fseek(fp, 0, SEEK_SET) != 0)
            e = errno;
    }
    if (e) {
        fclose(fp);
        return open_errno(path, e, errbuf, errlen);
    }
    *fpp = fp;
    return NMERR_SUCCESS;
}

/* What capinfos says of the file, known from its header. */
static void header_info(nmx_capture_info *in, pcap_t *p, const uint8_t magic[4], size_t got,
                        const struct stat *st)
{
    in->format = got == 4 && magic[0] == 0x0a && magic[1] == 0x0d && magic[2] == 0x0d && magic[3] == 0x0a
                     ? NMX_FORMAT_PCAPNG
                     : NMX_FORMAT_PCAP;
    if (in->format == NMX_FORMAT_PCAP) {
        uint32_t m = (uint32_t)magic[0] | (uint32_t)magic[1] << 8 | (uint32_t)magic[2] << 16 |
                     (uint32_t)magic[3] << 24;
        in->ts_digits = (m == 0xa1b23c4du || m == 0x4d3cb2a1u) ? 9 : 6;
    }
    in->swapped = pcap_is_swapped(p);
    in->version_major = pcap_major_version(p);
    in->version_minor = pcap_minor_version(p);
    in->snaplen = pcap_snapshot(p);
    in->link_type = pcap_datalink(p);
    in->file_bytes = (uint64_t)st->st_size;
}

DWORD nmx_capture_open(const char *path, nmx_capture **out, char *errbuf, size_t errlen)
{
    nmx__errf(errbuf, errlen, "%s", "");
    if (out)
        *out = NULL;
    if (!path || !out) {
        nmx__errf(errbuf, errlen, "nmx_capture_open: %s is NULL", path ? "out" : "path");
        return NMERR_INVALID_PARAMETER;
    }
    FILE *fp = NULL;
    struct stat st;
    uint8_t magic[4] = {0};
    size_t got = 0;
    DWORD rc = open_file(path, &fp, &st, magic, &got, errbuf, errlen);
    if (rc != NMERR_SUCCESS)
        return rc;
    char pcerr[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, pcerr);
    if (!p) {
        fclose(fp); /* libpcap leaves it to us on failure */
        nmx__errf(errbuf, errlen, "%s: %s", path, pcerr[0] ? pcerr : "not a capture file");
        return NMERR_INVALID_FILE_FORMAT;
    }
    nmx_capture *cap = capture_new(path);
    if (!cap) {
        int e = errno;
        pcap_close(p);
        nmx__errf(errbuf, errlen, "%s: cannot make the capture's spool files: %s", path, strerror(e));
        return e == ENOMEM ? NMERR_OUT_OF_MEMORY : NMERR_FILE_READ_ERROR;
    }
    header_info(&cap->wsh->info, p, magic, got, &st);
    int e = nmx__reader_start(cap, p); /* owns p from here */
    if (e || !slot_take(cap)) {
        capture_free(cap);
        if (e)
            nmx__errf(errbuf, errlen, "%s: cannot start reading: %s", path, strerror(e));
        else
            nmx__errf(errbuf, errlen, "%s: 4096 captures are open already", path);
        return e ? NMERR_OUT_OF_MEMORY : NMERR_NO_HANDLES;
    }
    *out = cap;
    return NMERR_SUCCESS;
}

/* The capture with no frames that a run gets when the host gives it none
 * (H2: hCapture is never NULL). Made once, never closed. */
static nmx_capture *g_empty;
static pthread_once_t g_empty_once = PTHREAD_ONCE_INIT;

/* Its shared page: read to the end, no frames, link type DLT_NULL. */
static nmx__cap_shared g_empty_sh = {
    .done = 1, .nlts = 1, .lts = {DLT_NULL}, .info = {.link_type = DLT_NULL, .n_link_types = 1}};

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

int nmx_capture_link_type(const nmx_capture *cap) { return nmx__capture_valid(cap) ? cap->sh->lts[0] : -1; }

const char *nmx_capture_error(const nmx_capture *cap) {
    if (!nmx__capture_valid(cap))
        return NULL;
    nmx__capture_wait_done(cap);
    return cap->sh->error[0] ? cap->sh->error : NULL;
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
    out->error = cap->sh->error[0] ? cap->sh->error : NULL;
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

DWORD nmx_capture_frame(const nmx_capture *cap, DWORD number, nmx_frame *out) {
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__capture_valid(cap))
        return NMERR_INVALID_HCAPTURE;
    if (nmx__capture_wait(cap, number, NULL, NULL) != 1)
        return NMERR_FRAME_NOT_FOUND;
    const nmx__frec *r = nmx__rec(cap, number);
    const FRAME *f = nmx__frame(cap, r);
    out->number = number;
    out->hframe = nmx__hframe_make(cap, number);
    out->frame = f;
    out->bytes = f->MacFrame;
    out->wire_len = f->FrameLength;
    out->cap_len = f->nBytesAvail;
    out->ts_ns = f->TimeStamp;
    out->link_type = cap->sh->lts[r->lt];
    out->recognized = nmx__rtab(cap, r);
    return NMERR_SUCCESS;
}

/* ------------------------------------------------------------------------
 * The Netmon frame functions (netmon.h): invalid handles give 0 / NULL.
 * ------------------------------------------------------------------------ */

static const FRAME *frame_of(HFRAME hf, const nmx_capture **capp, DWORD *np) {
    DWORD n;
    const nmx_capture *cap = nmx__hframe_resolve(hf, &n);
    if (!cap)
        return NULL;
    if (capp)
        *capp = cap;
    if (np)
        *np = n;
    return nmx__frame(cap, nmx__rec(cap, n));
}

DWORD WINAPI GetCaptureTotalFrames(HCAPTURE hCapture) { return nmx_capture_frames(hCapture); }

HCAPTURE WINAPI GetFrameCaptureHandle(HFRAME hFrame) {
    DWORD n;
    return (HCAPTURE)nmx__hframe_resolve(hFrame, &n);
}

DWORD WINAPI GetFrameLength(HFRAME hFrame) {
    const FRAME *f = frame_of(hFrame, NULL, NULL);
    return f ? f->FrameLength : 0;
}

DWORD WINAPI GetFrameStoredLength(HFRAME hFrame) {
    const FRAME *f = frame_of(hFrame, NULL, NULL);
    return f ? f->nBytesAvail : 0;
}

int64_t WINAPI GetFrameTimeStamp(HFRAME hFrame) {
    const FRAME *f = frame_of(hFrame, NULL, NULL);
    return f ? f->TimeStamp : 0;
}

DWORD WINAPI GetFrameMacType(HFRAME hFrame) {
    const nmx_capture *cap;
    DWORD n;
    if (!frame_of(hFrame, &cap, &n))
        return MAC_TYPE_UNKNOWN;
    switch (cap->sh->lts[nmx__rec(cap, n)->lt]) {
    case DLT_EN10MB:
        return MAC_TYPE_ETHERNET;
    case DLT_IEEE802:
        return MAC_TYPE_TOKENRING;
    case DLT_FDDI:
        return MAC_TYPE_FDDI;
    case DLT_ATM_RFC1483:
    case DLT_SUNATM:
        return MAC_TYPE_ATM;
    case DLT_APPLE_IP_OVER_IEEE1394:
        return MAC_TYPE_1394;
    default:
        return MAC_TYPE_UNKNOWN;
    }
}

DWORD WINAPI GetFrameNumber(HFRAME hFrame) {
    DWORD n;
    return nmx__hframe_resolve(hFrame, &n) ? n : INVALID_FRAME_NUMBER; /* 0 is a frame */
}

ULPFRAME WINAPI GetFrameFromFrameHandle(HFRAME hFrame) {
    /* The FRAME is read-only memory: the cast only matches Netmon's type. */
    return (ULPFRAME)(uintptr_t)frame_of(hFrame, NULL, NULL);
}
