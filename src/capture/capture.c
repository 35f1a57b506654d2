/* Captures: read once from the frame source (source.h: every format and
 * input libwiretap reads) into an immutable index (SPEC C1, C6, C7), the
 * capture table that makes handles checkable, and the capinfos accessors.
 *
 * Memory layout (docs/CAPTURES.md has the figures):
 *   data   one mmap'd region holding, for each frame, its FRAME record
 *          (TimeStamp, FrameLength, nBytesAvail) followed by its bytes,
 *          8-byte aligned; grown with mremap (no copy), made read-only once
 *          loaded so an expert scribbling on pFrame faults instead of
 *          corrupting every other run's view (C7);
 *   recs   16 bytes per frame: where its FRAME is, its recognition table,
 *          its link type;
 *   rtabs  the distinct RECOGNIZEDATATABLEs, interned: frames with the same
 *          layers at the same offsets share one table (a capture has a few
 *          hundred distinct ones at most in practice).
 */
#define _GNU_SOURCE /* mremap */
#include "capture/capture_internal.h"
#include "capture/source.h"

#include <assert.h>
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

#define FRAME_HDR offsetof(FRAME, MacFrame) /* 16: TimeStamp, FrameLength, nBytesAvail */
#define MAX_FRAMES 0xfffffffeu              /* INVALID_FRAME_NUMBER is not a frame */

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
    if (n >= cap->nframes)
        return NULL;
    *number = n;
    return cap;
}

/* ------------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------------ */

typedef struct rchunk {
    struct rchunk *next;
    size_t used, size;
    _Alignas(16) unsigned char mem[];
} rchunk;

typedef struct loader {
    nmx_capture *cap;
    size_t recs_cap;    /* slots in cap->recs */
    uint32_t rtabs_cap; /* slots in cap->rtabs */
    uint32_t *hash;     /* interning: rtab index + 1, 0 empty */
    uint32_t hash_cap;
    nmx__recognizer *rz;
} loader;

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static int data_reserve(loader *L, size_t more) {
    nmx_capture *cap = L->cap;
    if (cap->data_len + more <= L->cap->data_map)
        return 1;
    size_t want = L->cap->data_map ? L->cap->data_map : (size_t)1 << 20;
    while (want < cap->data_len + more) {
        if (want > SIZE_MAX / 2)
            return 0;
        want *= 2;
    }
    void *p = cap->data ? mremap(cap->data, L->cap->data_map, want, MREMAP_MAYMOVE)
                        : mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    /* Filling fresh pages is most of an open's time (page faults): 2 MiB
     * pages where the kernel allows them cut that by more than half. */
    if (want >= ((size_t)4 << 20))
        (void)madvise(p, want, MADV_HUGEPAGE);
    cap->data = p;
    L->cap->data_map = want;
    return 1;
}

static void *arena_alloc(nmx_capture *cap, size_t n) {
    rchunk *c = cap->rtab_chunks;
    n = align8(n);
    if (!c || c->size - c->used < n) {
        size_t size = n > 16384 ? n : 16384;
        c = malloc(sizeof *c + size);
        if (!c)
            return NULL;
        c->next = cap->rtab_chunks;
        c->used = 0;
        c->size = size;
        cap->rtab_chunks = c;
        cap->rtab_bytes += sizeof *c + size;
    }
    void *p = c->mem + c->used;
    c->used += n;
    return p;
}

static uint32_t hash_layers(const RECOGNIZEDATA *rd, unsigned n) {
    uint32_t h = 2166136261u ^ n;
    for (unsigned i = 0; i < n; i++) {
        h = (h ^ rd[i].ProtocolID) * 16777619u;
        h = (h ^ rd[i].nProtocolOffset) * 16777619u;
    }
    return h;
}

static int same_layers(const RECOGNIZEDATATABLE *t, const RECOGNIZEDATA *rd, unsigned n) {
    if (t->nRecognizeDatas != n)
        return 0;
    for (unsigned i = 0; i < n; i++)
        if (t->RecognizeData[i].ProtocolID != rd[i].ProtocolID ||
            t->RecognizeData[i].nProtocolOffset != rd[i].nProtocolOffset)
            return 0;
    return 1;
}

static int hash_grow(loader *L) {
    uint32_t ncap = L->hash_cap ? L->hash_cap * 2 : 256;
    uint32_t *nh = calloc(ncap, sizeof *nh);
    if (!nh)
        return 0;
    for (uint32_t i = 0; i < L->hash_cap; i++) {
        uint32_t id = L->hash[i];
        if (!id)
            continue;
        const RECOGNIZEDATATABLE *t = L->cap->rtabs[id - 1];
        uint32_t h = hash_layers(t->RecognizeData, t->nRecognizeDatas) & (ncap - 1);
        while (nh[h])
            h = (h + 1) & (ncap - 1);
        nh[h] = id;
    }
    free(L->hash);
    L->hash = nh;
    L->hash_cap = ncap;
    return 1;
}

/* The index of the table listing these layers, made if new; UINT32_MAX on OOM. */
static uint32_t intern(loader *L, const nmx_decoded *d) {
    nmx_capture *cap = L->cap;
    RECOGNIZEDATA rd[NMX_DECODE_MAX_LAYERS];
    unsigned n = 0;
    /* nProtocolOffset is a WORD: a layer starting beyond 65535 cannot be
     * named, so the table stops before it (docs/CAPTURES.md). */
    while (n < d->nlayers && d->layers[n].offset <= 0xffff) {
        rd[n].ProtocolID = d->layers[n].proto;
        rd[n].nProtocolOffset = (WORD)d->layers[n].offset;
        rd[n].InstData = NULL;
        n++;
    }
    if ((uint64_t)(cap->nrtabs + 1) * 2 > L->hash_cap && !hash_grow(L))
        return UINT32_MAX;
    uint32_t h = hash_layers(rd, n) & (L->hash_cap - 1);
    for (; L->hash[h]; h = (h + 1) & (L->hash_cap - 1))
        if (same_layers(cap->rtabs[L->hash[h] - 1], rd, n))
            return L->hash[h] - 1;
    if (cap->nrtabs == L->rtabs_cap) {
        uint32_t ncap = L->rtabs_cap ? L->rtabs_cap * 2 : 64;
        const RECOGNIZEDATATABLE **nt = realloc(cap->rtabs, ncap * sizeof *nt);
        if (!nt)
            return UINT32_MAX;
        cap->rtabs = nt;
        L->rtabs_cap = ncap;
    }
    RECOGNIZEDATATABLE *t = arena_alloc(cap, sizeof *t + n * sizeof(RECOGNIZEDATA));
    if (!t)
        return UINT32_MAX;
    t->nRecognizeDatas = (WORD)n;
    memcpy(t->RecognizeData, rd, n * sizeof *rd);
    cap->rtabs[cap->nrtabs] = t;
    L->hash[h] = cap->nrtabs + 1;
    return cap->nrtabs++;
}

#define MAX_LTS (sizeof ((nmx_capture *)0)->lts / sizeof ((nmx_capture *)0)->lts[0])

/* Is dlt among the capture's link types, or is there room for it? */
static int lt_fits(const nmx_capture *cap, int dlt) {
    for (unsigned i = 0; i < cap->nlts; i++)
        if (cap->lts[i] == dlt)
            return 1;
    return cap->nlts < MAX_LTS;
}

static unsigned lt_index(nmx_capture *cap, int dlt) { /* lt_fits(cap, dlt) */
    for (unsigned i = 0; i < cap->nlts; i++)
        if (cap->lts[i] == dlt)
            return i;
    cap->lts[cap->nlts] = dlt;
    return cap->nlts++;
}

/* Append one frame. 0 on OOM. */
static int add_frame(loader *L, const nmx__src_frame *h) {
    nmx_capture *cap = L->cap;
    const uint8_t *pkt = h->bytes;
    int dlt = h->dlt;
    size_t need = align8(FRAME_HDR + (h->cap_len > 8 ? h->cap_len : 8)); /* a whole FRAME fits */
    if (!data_reserve(L, need))
        return 0;
    if (cap->nframes == L->recs_cap) {
        size_t ncap = L->recs_cap ? L->recs_cap * 2 : 1024;
        nmx__frec *nr = realloc(cap->recs, ncap * sizeof *nr);
        if (!nr)
            return 0;
        cap->recs = nr;
        L->recs_cap = ncap;
    }
    nmx_decoded d;
    nmx__recognize(L->rz, pkt, h->cap_len, dlt, h->ts_ns, &d);
    uint32_t rt = intern(L, &d);
    if (rt == UINT32_MAX)
        return 0;

    FRAME *f = (FRAME *)(void *)(cap->data + cap->data_len);
    f->TimeStamp = h->ts_ns;
    f->FrameLength = h->wire_len;
    f->nBytesAvail = h->cap_len;
    memcpy(f->MacFrame, pkt, h->cap_len);
    memset(f->MacFrame + h->cap_len, 0, need - FRAME_HDR - h->cap_len);

    nmx__frec *r = &cap->recs[cap->nframes];
    r->off = cap->data_len;
    r->rtab = rt;
    r->lt = (uint16_t)lt_index(cap, dlt);
    r->mac = (uint16_t)h->mac_type;
    cap->data_len += need;

    nmx_capture_info *in = &cap->info;
    if (cap->nframes == 0) {
        in->first_ts = in->earliest_ts = in->latest_ts = f->TimeStamp;
    } else {
        if (f->TimeStamp < in->earliest_ts)
            in->earliest_ts = f->TimeStamp;
        if (f->TimeStamp > in->latest_ts)
            in->latest_ts = f->TimeStamp;
    }
    in->last_ts = f->TimeStamp;
    in->wire_bytes += h->wire_len;
    in->captured_bytes += h->cap_len;
    cap->nframes++;
    return 1;
}

/* The damage message (C6) when the capture, not the source, stops reading
 * at a frame of input `path`. */
static void set_damage(nmx_capture *cap, const char *path, const char *msg) {
    size_t n = strlen(path) + strlen(msg) + 3;
    cap->error = malloc(n);
    if (cap->error)
        snprintf(cap->error, n, "%s: %s", path, msg);
}

static void capture_free(nmx_capture *cap) {
    if (!cap)
        return;
    if (cap->data)
        munmap(cap->data, cap->data_map);
    free(cap->recs);
    free(cap->rtabs);
    for (rchunk *c = cap->rtab_chunks, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    for (unsigned i = 0; i < cap->ninputs; i++)
        free((char *)cap->inputs[i].path);
    free(cap->inputs);
    free(cap->path);
    free(cap->error);
    free(cap);
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
        cap->info.file_bytes += cap->inputs[i].file_bytes;
    }
    nmx_capture_info *in = &cap->info;
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

/* Read every frame of the source into the capture. 0 on OOM. */
static int load(loader *L, nmx__source *src) {
    nmx_capture *cap = L->cap;
    nmx__src_frame f;
    int r;
    while ((r = nmx__source_next(src, &f)) == 1) {
        if (cap->nframes == MAX_FRAMES) {
            set_damage(cap, nmx__source_input(src, f.input)->path,
                       "more than 4294967294 frames; the rest is not read");
            return 1;
        }
        if (cap->nframes == 0) {
            cap->lts[0] = f.dlt;
            cap->nlts = 1;
        }
        if (!lt_fits(cap, f.dlt)) { /* a pcapng file with interfaces of 9 link types */
            char msg[256];
            snprintf(msg, sizeof msg, "frame %u: link type %d is a ninth one, more than a capture holds; the "
                     "rest is not read", cap->nframes, f.dlt);
            set_damage(cap, nmx__source_input(src, f.input)->path, msg);
            return 1;
        }
        if (!add_frame(L, &f))
            return 0;
    }
    if (r < 0)
        cap->error = strdup(nmx__source_error(src)); /* NULL if refused: the frames still count */
    return 1;
}

/* Give back what loading over-reserved and make the data read-only (C7). */
static void finish(nmx_capture *cap, loader *L) {
    if (cap->nframes && cap->nframes < L->recs_cap) {
        nmx__frec *nr = realloc(cap->recs, cap->nframes * sizeof *nr);
        if (nr) {
            cap->recs = nr;
            L->recs_cap = cap->nframes;
        }
    }
    if (cap->nrtabs && cap->nrtabs < L->rtabs_cap) {
        const RECOGNIZEDATATABLE **nt = realloc(cap->rtabs, cap->nrtabs * sizeof *nt);
        if (nt) {
            cap->rtabs = nt;
            L->rtabs_cap = cap->nrtabs;
        }
    }
    if (cap->data) {
        size_t pg = (size_t)sysconf(_SC_PAGESIZE), keep = (cap->data_len + pg - 1) / pg * pg;
        if (keep < cap->data_map) {
            void *q = mremap(cap->data, cap->data_map, keep, 0);
            if (q != MAP_FAILED) {
                cap->data = q;
                cap->data_map = keep;
            }
        }
        mprotect(cap->data, cap->data_map, PROT_READ);
    }
    nmx_capture_info *in = &cap->info;
    in->path = cap->path;
    in->error = cap->error;
    in->link_type = cap->lts[0];
    in->n_link_types = cap->nlts;
    in->frames = cap->nframes;
    in->memory_bytes = sizeof *cap + cap->data_map + L->recs_cap * sizeof(nmx__frec) +
                       L->rtabs_cap * sizeof(void *) + cap->rtab_bytes + strlen(cap->path) + 1;
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
    nmx_capture *cap = calloc(1, sizeof *cap);
    loader L = {.cap = cap, .rz = nmx__recognizer_new()};
    /* the first path as given (a folder, "-"), which reopens as it did */
    if (!cap || !L.rz || !(cap->path = strdup(paths[0])))
        goto oom;
    cap->lts[0] = nmx__source_input(src, 0)->encap_dlt;
    cap->nlts = 1;
    if (!load(&L, src) || !keep_inputs(cap, src))
        goto oom;
    nmx__source_close(src);
    free(L.hash);
    nmx__recognizer_free(L.rz);
    finish(cap, &L);
    if (!slot_take(cap)) {
        nmx__errf(errbuf, errlen, "%s: 4096 captures are open already", cap->path);
        capture_free(cap);
        return NMERR_NO_HANDLES;
    }
    *out = cap;
    return NMERR_SUCCESS;

oom:
    nmx__errf(errbuf, errlen, "%s: out of memory reading the capture", paths[0]);
    nmx__source_close(src);
    free(L.hash);
    nmx__recognizer_free(L.rz);
    capture_free(cap);
    return NMERR_OUT_OF_MEMORY;
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

static void empty_make(void) {
    nmx_capture *cap = calloc(1, sizeof *cap);
    if (!cap)
        return;
    cap->path = strdup("");
    cap->nlts = 1;
    cap->lts[0] = DLT_NULL;
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

uint32_t nmx_capture_frames(const nmx_capture *cap) { return nmx__capture_valid(cap) ? cap->nframes : 0; }

int nmx_capture_link_type(const nmx_capture *cap) { return nmx__capture_valid(cap) ? cap->lts[0] : -1; }

const char *nmx_capture_error(const nmx_capture *cap) {
    return nmx__capture_valid(cap) ? cap->error : NULL;
}

const char *nmx_capture_path(const nmx_capture *cap) { return nmx__capture_valid(cap) ? cap->path : NULL; }

unsigned nmx_capture_inputs(const nmx_capture *cap) { return nmx__capture_valid(cap) ? cap->ninputs : 0; }

DWORD nmx_capture_input_info(const nmx_capture *cap, unsigned i, nmx_capture_input *out) {
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__capture_valid(cap))
        return NMERR_INVALID_HCAPTURE;
    if (i >= cap->ninputs)
        return NMERR_FILE_NOT_FOUND;
    *out = cap->inputs[i];
    return NMERR_SUCCESS;
}

DWORD nmx_capture_get_info(const nmx_capture *cap, nmx_capture_info *out) {
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__capture_valid(cap))
        return NMERR_INVALID_HCAPTURE;
    *out = cap->info;
    return NMERR_SUCCESS;
}

unsigned nmx_capture_link_types(const nmx_capture *cap, int *out, unsigned n) {
    if (!nmx__capture_valid(cap))
        return 0;
    for (unsigned i = 0; out && i < n && i < cap->nlts; i++)
        out[i] = cap->lts[i];
    return cap->nlts;
}

DWORD nmx_capture_frame(const nmx_capture *cap, DWORD number, nmx_frame *out) {
    if (!out)
        return NMERR_INVALID_PARAMETER;
    if (!nmx__capture_valid(cap))
        return NMERR_INVALID_HCAPTURE;
    if (number >= cap->nframes)
        return NMERR_FRAME_NOT_FOUND;
    const nmx__frec *r = &cap->recs[number];
    const FRAME *f = (const FRAME *)(const void *)(cap->data + r->off);
    out->number = number;
    out->hframe = nmx__hframe_make(cap, number);
    out->frame = f;
    out->bytes = f->MacFrame;
    out->wire_len = f->FrameLength;
    out->cap_len = f->nBytesAvail;
    out->ts_ns = f->TimeStamp;
    out->link_type = cap->lts[r->lt];
    out->recognized = cap->rtabs[r->rtab];
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
    return (const FRAME *)(const void *)(cap->data + cap->recs[n].off);
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
    return cap->recs[n].mac; /* the source maps Netmon media types and link types alike */
}

DWORD WINAPI GetFrameNumber(HFRAME hFrame) {
    DWORD n;
    return nmx__hframe_resolve(hFrame, &n) ? n : INVALID_FRAME_NUMBER; /* 0 is a frame */
}

ULPFRAME WINAPI GetFrameFromFrameHandle(HFRAME hFrame) {
    /* The FRAME is read-only memory: the cast only matches Netmon's type. */
    return (ULPFRAME)(uintptr_t)frame_of(hFrame, NULL, NULL);
}

/* ------------------------------------------------------------------------
 * The ExpertGetFrame engine (C2-C5)
 * ------------------------------------------------------------------------ */

void nmx__capture_describe(const nmx_capture *cap, uint32_t i, EXPERTFRAMEDESCRIPTOR *out) {
    assert(i < cap->nframes);
    const nmx__frec *r = &cap->recs[i];
    out->FrameNumber = i;
    out->hFrame = nmx__hframe_make(cap, i);
    out->pFrame = (ULPFRAME)(uintptr_t)(cap->data + r->off);
    out->lpRecognizeDataTable = (LPRECOGNIZEDATATABLE)(uintptr_t)cap->rtabs[r->rtab];
    out->lpPropertyTable = NULL; /* C4: no property database */
}

static int passes(const nmx_capture *cap, const nmx_filter *hf, const nmx_filter *ef, DWORD flags,
                  uint32_t i) {
    if ((flags & FLAGS_DEFER_TO_UI_FILTER) && hf && !nmx__filter_pass(hf, cap, i))
        return 0;
    return !ef || nmx__filter_pass(ef, cap, i);
}

DWORD nmx__capture_get_frame(const nmx_capture *cap, const nmx_filter *host_filter,
                             const nmx_filter *expert_filter, DWORD direction, DWORD flags,
                             DWORD number, EXPERTFRAMEDESCRIPTOR *out) {
    assert(cap);
    if (!out)
        return NMERR_INVALID_PARAMETER;
    uint32_t n = cap->nframes;
    switch (direction) {
    case GET_SPECIFIED_FRAME:
        if (number >= n)
            return NMERR_FRAME_NOT_FOUND;
        if (!passes(cap, host_filter, expert_filter, flags, number))
            return NMERR_FRAME_FAILED_FILTER;
        nmx__capture_describe(cap, number, out);
        return NMERR_SUCCESS;
    case GET_FRAME_NEXT_FORWARD: {
        uint64_t i = number == INVALID_FRAME_NUMBER ? 0 : (uint64_t)number + 1;
        for (; i < n; i++)
            if (passes(cap, host_filter, expert_filter, flags, (uint32_t)i)) {
                nmx__capture_describe(cap, (uint32_t)i, out);
                return NMERR_SUCCESS;
            }
        return NMERR_NO_MORE_FRAMES;
    }
    case GET_FRAME_NEXT_BACKWARD: {
        uint32_t i = number == INVALID_FRAME_NUMBER ? n : (number < n ? number : n);
        while (i-- > 0)
            if (passes(cap, host_filter, expert_filter, flags, i)) {
                nmx__capture_describe(cap, i, out);
                return NMERR_SUCCESS;
            }
        return NMERR_NO_MORE_FRAMES;
    }
    default:
        return NMERR_INVALID_PARAMETER;
    }
}
