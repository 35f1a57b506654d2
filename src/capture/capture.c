/* Capture files: read once through libpcap into an immutable index (SPEC C1,
 * C6, C7), the capture table that makes handles checkable, and the capinfos
 * accessors.
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

static int64_t ts_ns(const struct timeval *tv) {
    /* PCAP_TSTAMP_PRECISION_NANO: tv_usec holds nanoseconds. Saturate what
     * int64_t nanoseconds cannot hold (year 2262 and beyond, or before 1678). */
    int64_t sec = (int64_t)tv->tv_sec, ns = (int64_t)tv->tv_usec;
    if (sec > INT64_MAX / 1000000000 - 1)
        return INT64_MAX;
    if (sec < INT64_MIN / 1000000000 + 1)
        return INT64_MIN;
    return sec * 1000000000 + ns;
}

static unsigned lt_index(nmx_capture *cap, int dlt) {
    for (unsigned i = 0; i < cap->nlts; i++)
        if (cap->lts[i] == dlt)
            return i;
    if (cap->nlts < sizeof cap->lts / sizeof cap->lts[0]) {
        cap->lts[cap->nlts] = dlt;
        return cap->nlts++;
    }
    return 0; /* cannot happen with libpcap (one link type per file) */
}

/* Append one frame. 0 on OOM. */
static int add_frame(loader *L, const struct pcap_pkthdr *h, const uint8_t *pkt, int dlt) {
    nmx_capture *cap = L->cap;
    size_t need = align8(FRAME_HDR + (h->caplen > 8 ? h->caplen : 8)); /* a whole FRAME fits */
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
    nmx__recognize(L->rz, pkt, h->caplen, dlt, ts_ns(&h->ts), &d);
    uint32_t rt = intern(L, &d);
    if (rt == UINT32_MAX)
        return 0;

    FRAME *f = (FRAME *)(void *)(cap->data + cap->data_len);
    f->TimeStamp = ts_ns(&h->ts);
    f->FrameLength = h->len;
    f->nBytesAvail = h->caplen;
    memcpy(f->MacFrame, pkt, h->caplen);
    memset(f->MacFrame + h->caplen, 0, need - FRAME_HDR - h->caplen);

    nmx__frec *r = &cap->recs[cap->nframes];
    r->off = cap->data_len;
    r->rtab = rt;
    r->lt = (uint16_t)lt_index(cap, dlt);
    r->reserved = 0;
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
    in->wire_bytes += h->len;
    in->captured_bytes += h->caplen;
    cap->nframes++;
    return 1;
}

static void dlt_desc(char *buf, size_t len, int dlt) {
    const char *name = pcap_datalink_val_to_name(dlt);
    if (name)
        snprintf(buf, len, "%d (%s)", dlt, name);
    else
        snprintf(buf, len, "%d", dlt);
}

/* The damage message for a read error after `cap->nframes` frames (C6). */
static void set_damage(nmx_capture *cap, const char *pcap_msg, int dlt) {
    char buf[512], a[64], b[64];
    unsigned other;
    if (sscanf(pcap_msg, "an interface has a type %u different from the type of the first interface",
               &other) == 1) {
        dlt_desc(a, sizeof a, (int)other);
        dlt_desc(b, sizeof b, dlt);
        snprintf(buf, sizeof buf,
                 "frame %u: pcapng interface with link type %s differs from %s; libpcap cannot read past it",
                 cap->nframes, a, b);
    } else if (sscanf(pcap_msg,
                      "an interface has a snapshot length %u different from the snapshot length of the first "
                      "interface",
                      &other) == 1) {
        snprintf(buf, sizeof buf,
                 "frame %u: pcapng interface with snapshot length %u differs from %d; libpcap cannot read past it",
                 cap->nframes, other, cap->info.snaplen);
    } else {
        snprintf(buf, sizeof buf, "frame %u: %s", cap->nframes, pcap_msg);
    }
    size_t n = strlen(cap->path) + strlen(buf) + 3;
    cap->error = malloc(n);
    if (cap->error)
        snprintf(cap->error, n, "%s: %s", cap->path, buf);
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
    free(cap->path);
    free(cap->error);
    free(cap);
}

static DWORD open_errno(const char *path, int err, char *errbuf, size_t errlen) {
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

DWORD nmx_capture_open(const char *path, nmx_capture **out, char *errbuf, size_t errlen) {
    nmx__errf(errbuf, errlen, "%s", "");
    if (out)
        *out = NULL;
    if (!path || !out) {
        nmx__errf(errbuf, errlen, "nmx_capture_open: %s is NULL", path ? "out" : "path");
        return NMERR_INVALID_PARAMETER;
    }
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return open_errno(path, errno, errbuf, errlen);
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return open_errno(path, e, errbuf, errlen);
    }
    if (S_ISDIR(st.st_mode)) {
        fclose(fp);
        return open_errno(path, EISDIR, errbuf, errlen);
    }
    setvbuf(fp, NULL, _IOFBF, (size_t)1 << 18);
    uint8_t magic[4] = {0};
    size_t got = fread(magic, 1, 4, fp);
    if (fseek(fp, 0, SEEK_SET) != 0) {
        int e = errno;
        fclose(fp);
        return open_errno(path, e, errbuf, errlen);
    }

    char pcerr[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, pcerr);
    if (!p) {
        fclose(fp); /* libpcap leaves it to us on failure */
        nmx__errf(errbuf, errlen, "%s: %s", path, pcerr[0] ? pcerr : "not a capture file");
        return NMERR_INVALID_FILE_FORMAT;
    }

    nmx_capture *cap = calloc(1, sizeof *cap);
    loader L = {.cap = cap, .rz = nmx__recognizer_new()};
    if (!cap || !L.rz || !(cap->path = strdup(path)))
        goto oom;
    int dlt = pcap_datalink(p);
    cap->lts[0] = dlt;
    cap->nlts = 1;

    nmx_capture_info *in = &cap->info;
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
    in->file_bytes = (uint64_t)st.st_size;

    for (;;) {
        struct pcap_pkthdr *h;
        const u_char *pkt;
        int r = pcap_next_ex(p, &h, &pkt);
        if (r == 1) {
            if (cap->nframes == MAX_FRAMES) {
                set_damage(cap, "more than 4294967294 frames; the rest is not read", dlt);
                break;
            }
            if (!add_frame(&L, h, pkt, dlt))
                goto oom;
        } else if (r == PCAP_ERROR_BREAK) {
            break; /* end of file */
        } else {
            set_damage(cap, pcap_geterr(p), dlt);
            break;
        }
    }
    pcap_close(p); /* closes fp */
    if (cap->nframes && cap->nframes < L.recs_cap) {
        nmx__frec *nr = realloc(cap->recs, cap->nframes * sizeof *nr);
        if (nr) {
            cap->recs = nr;
            L.recs_cap = cap->nframes;
        }
    }
    if (cap->nrtabs && cap->nrtabs < L.rtabs_cap) {
        const RECOGNIZEDATATABLE **nt = realloc(cap->rtabs, cap->nrtabs * sizeof *nt);
        if (nt) {
            cap->rtabs = nt;
            L.rtabs_cap = cap->nrtabs;
        }
    }
    p = NULL;
    free(L.hash);
    L.hash = NULL;
    nmx__recognizer_free(L.rz);
    L.rz = NULL;

    /* Shrink the data to its size and make it read-only (C7). */
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
    in->path = cap->path;
    in->error = cap->error;
    in->link_type = dlt;
    in->n_link_types = cap->nlts;
    in->frames = cap->nframes;
    in->memory_bytes = sizeof *cap + cap->data_map + L.recs_cap * sizeof(nmx__frec) +
                       L.rtabs_cap * sizeof(void *) + cap->rtab_bytes + strlen(cap->path) + 1;
    if (!slot_take(cap)) {
        capture_free(cap);
        nmx__errf(errbuf, errlen, "%s: 4096 captures are open already", path);
        return NMERR_NO_HANDLES;
    }
    *out = cap;
    return NMERR_SUCCESS;

oom:
    if (p)
        pcap_close(p);
    else
        fclose(fp);
    free(L.hash);
    nmx__recognizer_free(L.rz);
    capture_free(cap);
    nmx__errf(errbuf, errlen, "%s: out of memory reading the capture", path);
    return NMERR_OUT_OF_MEMORY;
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
    switch (cap->lts[cap->recs[n].lt]) {
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
