/* The reader thread: libpcap's frames into the capture's spools (SPEC C1,
 * C6, C7, C8). Each frame is recognised (nmx__recognize, in capture order),
 * its FRAME record and bytes appended to the data spool, its record to the
 * index spool, then published: from that moment every run may read it, and
 * nothing about it changes until the capture closes. */
#define _GNU_SOURCE /* u_char and friends in pcap.h */
#include "capture/reader.h"

#include "capture/intern.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HDR offsetof(FRAME, MacFrame) /* 16: TimeStamp, FrameLength, nBytesAvail */
#define MAX_FRAMES 0xfffffffeu              /* INVALID_FRAME_NUMBER is not a frame */

struct nmx__reader {
    nmx_capture *cap;
    pcap_t *p;
    int dlt;
    nmx__recognizer *rz;
    nmx__intern in;
    pthread_t thread;
    _Atomic int stop;
};

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static int64_t ts_ns(const struct timeval *tv)
{
    /* PCAP_TSTAMP_PRECISION_NANO: tv_usec holds nanoseconds. Saturate what
     * int64_t nanoseconds cannot hold (year 2262 and beyond, or before 1678). */
    int64_t sec = (int64_t)tv->tv_sec, ns = (int64_t)tv->tv_usec;
    if (sec > INT64_MAX / 1000000000 - 1)
        return INT64_MAX;
    if (sec < INT64_MIN / 1000000000 + 1)
        return INT64_MIN;
    return sec * 1000000000 + ns;
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
    return 0; /* cannot happen with libpcap (one link type per file) */
}

static void count_frame(nmx_capture_info *in, uint32_t n, const FRAME *f)
{
    if (n == 0) {
        in->first_ts = in->earliest_ts = in->latest_ts = f->TimeStamp;
    } else {
        if (f->TimeStamp < in->earliest_ts)
            in->earliest_ts = f->TimeStamp;
        if (f->TimeStamp > in->latest_ts)
            in->latest_ts = f->TimeStamp;
    }
    in->last_ts = f->TimeStamp;
    in->wire_bytes += f->FrameLength;
    in->captured_bytes += f->nBytesAvail;
}

/* Append and publish frame n. 0 when memory or disk is refused (errno). */
static int add_frame(nmx__reader *rd, uint32_t n, const struct pcap_pkthdr *h, const uint8_t *pkt)
{
    nmx_capture *cap = rd->cap;
    size_t need = align8(FRAME_HDR + (h->caplen > 8 ? (size_t)h->caplen : 8)); /* a whole FRAME fits */
    uint64_t off, roff;
    FRAME *f = nmx__spool_append(&cap->data, need, &off);
    nmx__frec *r = f ? nmx__spool_append(&cap->index, sizeof *r, &roff) : NULL;
    if (!r)
        return 0;
    nmx_decoded d;
    nmx__recognize(rd->rz, pkt, h->caplen, rd->dlt, ts_ns(&h->ts), &d);
    uint32_t rt = nmx__intern_table(&rd->in, &d);
    if (rt == UINT32_MAX)
        return 0;

    f->TimeStamp = ts_ns(&h->ts);
    f->FrameLength = h->len;
    f->nBytesAvail = h->caplen;
    memcpy(f->MacFrame, pkt, h->caplen);
    memset(f->MacFrame + h->caplen, 0, need - FRAME_HDR - h->caplen);
    r->off = off;
    r->rtab = rt;
    r->lt = (uint16_t)lt_index(cap, rd->dlt);
    r->reserved = 0;
    count_frame(&cap->wsh->info, n, f);
    nmx__capture_publish(cap, n + 1, 0);
    return 1;
}

static void dlt_desc(char *buf, size_t len, int dlt)
{
    const char *name = pcap_datalink_val_to_name(dlt);
    if (name)
        snprintf(buf, len, "%d (%s)", dlt, name);
    else
        snprintf(buf, len, "%d", dlt);
}

/* The damage message for a read error after n frames (C6). */
static void set_damage(nmx_capture *cap, uint32_t n, const char *pcap_msg, int dlt)
{
    char buf[512], a[64], b[64];
    unsigned other;
    if (sscanf(pcap_msg, "an interface has a type %u different from the type of the first interface",
               &other) == 1) {
        dlt_desc(a, sizeof a, (int)other);
        dlt_desc(b, sizeof b, dlt);
        snprintf(buf, sizeof buf,
                 "frame %u: pcapng interface with link type %s differs from %s; libpcap cannot read past it",
                 n, a, b);
    } else if (sscanf(pcap_msg,
                      "an interface has a snapshot length %u different from the snapshot length of the first "
                      "interface",
                      &other) == 1) {
        snprintf(buf, sizeof buf,
                 "frame %u: pcapng interface with snapshot length %u differs from %d; libpcap cannot read past it",
                 n, other, cap->wsh->info.snaplen);
    } else {
        snprintf(buf, sizeof buf, "frame %u: %s", n, pcap_msg);
    }
    snprintf(cap->wsh->error, sizeof cap->wsh->error, "%s: %s", cap->path, buf);
}

static void *reader_main(void *arg)
{
    nmx__reader *rd = arg;
    nmx_capture *cap = rd->cap;
    uint32_t n = 0;
    while (!atomic_load_explicit(&rd->stop, memory_order_relaxed)) {
        struct pcap_pkthdr *h;
        const u_char *pkt;
        int r = pcap_next_ex(rd->p, &h, &pkt);
        if (r == 1) {
            if (n == MAX_FRAMES) {
                set_damage(cap, n, "more than 4294967294 frames; the rest is not read", rd->dlt);
                break;
            }
            if (!add_frame(rd, n, h, pkt)) {
                char why[128];
                snprintf(why, sizeof why, "cannot store the frame: %s (spool in $TMPDIR or /var/tmp)",
                         strerror(errno));
                set_damage(cap, n, why, rd->dlt);
                break;
            }
            n++;
        } else if (r == PCAP_ERROR_BREAK) {
            break; /* end of file */
        } else {
            set_damage(cap, n, pcap_geterr(rd->p), rd->dlt);
            break;
        }
    }
    pcap_close(rd->p); /* closes the file */
    rd->p = NULL;
    nmx__recognizer_free(rd->rz);
    rd->rz = NULL;
    nmx__intern_free(&rd->in);
    nmx__capture_publish(cap, n, 1);
    nmx__capture_finish(cap, n);
    nmx__capture_publish_done(cap);
    return NULL;
}

int nmx__reader_start(nmx_capture *cap, pcap_t *p)
{
    nmx__reader *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->rz = nmx__recognizer_new())) {
        free(rd);
        pcap_close(p);
        return ENOMEM;
    }
    rd->cap = cap;
    rd->p = p;
    rd->dlt = pcap_datalink(p);
    rd->in.tabs = &cap->tabs;
    lt_index(cap, rd->dlt);
    int e = pthread_create(&rd->thread, NULL, reader_main, rd);
    if (e) {
        nmx__recognizer_free(rd->rz);
        pcap_close(p);
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
