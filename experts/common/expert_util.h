/* Helpers shared by nmexpert's bundled experts (header-only; each expert is
 * still a shared object built against nmexpert/netmon.h alone).
 *
 * Conventions every bundled expert follows, which the nmexpert command relies on:
 *  - Results are events; one event is one row of a table. EventIdent numbers
 *    the table (1, 2, ...), szEventName is the table's title, the columns'
 *    szColumnName are its headers, in the same order on every row of a table.
 *  - szSourceName is the expert's name; Severity informational unless the row
 *    reports a problem; Flags NMEVENTFLAG_EXPERT.
 *  - Configuration is a text blob of "key=value" lines after the
 *    RawConfigLength DWORD (see xu_config_get); unknown keys are an error the
 *    expert reports with EXPERTSTATUS_PROBLEM.
 *  - Progress: ExpertIndicateStatus(RUNNING, 0, text, percent) every 1/100 of
 *    the capture; NMERR_EXPERT_TERMINATE from any call ends the run at once.
 *  - A table whose first column is "Time (s)" is a time series (one row per
 *    interval, in time order): reports chart it over time.
 *  - Numbers are FLOAT64 (exact below 2^53), percentages 0..100 in columns
 *    whose name starts with "%".
 *
 * The other headers here: xu_map.h (the hash table), xu_addr.h (addresses as
 * tshark prints them), xu_proto.h (protocol ids by Wireshark's names).
 */
#ifndef NMX_EXPERT_UTIL_H
#define NMX_EXPERT_UTIL_H

#include <nmexpert/netmon.h>

#include "xu_proto.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- frames ---- */

#define XU_MAX_LAYERS 48

typedef struct xu_layer {
    WORD proto, off;
} xu_layer;

/* One frame as the experts see it: bytes, lengths, time and the layers the
 * host recognised, in the order of its table (outermost first), with a bit
 * per protocol present (xu_has; xu_off finds the outermost layer's offset).
 *
 * bytes points into the host's frame: valid until the run's next
 * ExpertGetFrame call (SPEC C5 as amended). An expert copies what it keeps
 * (addresses, names) and keeps no pointer into a frame across frames. */
typedef struct xu_frame {
    DWORD number;
    const uint8_t *bytes;
    DWORD caplen, wirelen;
    int64_t ts_ns;
    uint64_t have[XU_NPROTO / 64];
    unsigned nlayers;
    xu_layer layer[XU_MAX_LAYERS];
} xu_frame;

static inline int xu_has(const xu_frame *f, unsigned proto)
{
    return proto < XU_NPROTO && ((f->have[proto >> 6] >> (proto & 63)) & 1u);
}

/* Where the outermost layer `proto` starts (valid when xu_has(f, proto)). */
static inline DWORD xu_off(const xu_frame *f, unsigned proto)
{
    for (unsigned i = 0; i < f->nlayers; i++)
        if (f->layer[i].proto == proto)
            return f->layer[i].off;
    return 0;
}

/* Bytes available from offset `off` to the end of the captured bytes. */
static inline DWORD xu_avail(const xu_frame *f, DWORD off)
{
    return off < f->caplen ? f->caplen - off : 0;
}

static inline uint16_t xu_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t xu_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* The length of the IPv4 datagram at offset ip (its header captured), as
 * Wireshark takes it: the total length field, except that 0 (TCP
 * segmentation offload leaves it to the NIC) and a length beyond `end` (where
 * the bytes it may use end: xu_end_before) both give the length up to `end`. */
static inline uint32_t xu_ipv4_len(const xu_frame *f, DWORD ip, uint32_t end)
{
    uint32_t tot = xu_be16(f->bytes + ip + 2), room = end > ip ? end - ip : 0;
    return tot == 0 || tot > room ? room : tot;
}

/* Where the wire bytes layer i may use end, as Wireshark bounds them: the
 * frame's length, cut by each PPPoE, IPv4 and IPv6 header before it, which
 * hands what it carries only the bytes its own length field covers (a PPPoE
 * payload length shorter than the frame leaves the rest as padding). */
static inline uint32_t xu_end_before(const xu_frame *f, int i)
{
    uint32_t end = f->wirelen;
    for (int k = 0; k < i; k++) {
        DWORD o = f->layer[k].off;
        uint32_t e = end;
        if (f->layer[k].proto == NMX_PROTO_PPPOE && xu_avail(f, o) >= 6)
            e = o + 6 + xu_be16(f->bytes + o + 4);
        else if (f->layer[k].proto == NMX_PROTO_IPV4 && xu_avail(f, o) >= 20)
            e = o + xu_ipv4_len(f, o, end);
        else if (f->layer[k].proto == NMX_PROTO_IPV6 && xu_avail(f, o) >= 40 && xu_be16(f->bytes + o + 4))
            e = o + 40 + xu_be16(f->bytes + o + 4);
        if (e < end)
            end = e;
    }
    return end;
}

/* Whether an IPv4 header counts, as Wireshark's ip tap sees it: version 4,
 * a header length of at least 20 bytes, the whole header (options included)
 * captured, and a total length of 0 (TSO) or at least the header length.
 * Wireshark stops before its tap on a bogus or truncated header. */
static inline int xu_ipv4_tapped(const xu_frame *f, DWORD o)
{
    DWORD avail = xu_avail(f, o);
    if (avail < 20)
        return 0;
    const uint8_t *p = f->bytes + o;
    DWORD hlen = (DWORD)(p[0] & 0x0f) * 4;
    uint16_t tot = xu_be16(p + 2);
    return (p[0] >> 4) == 4 && hlen >= 20 && avail >= hlen && (tot == 0 || tot >= hlen);
}

/* Whether an IPv6 header counts: version 6 and the fixed header and its
 * chain of extension headers (hop-by-hop, routing, fragment, destination
 * options, AH) wholly captured; Wireshark taps IPv6 after walking the chain,
 * so a truncated chain never reaches its tap. */
static inline int xu_ipv6_tapped(const xu_frame *f, DWORD o)
{
    DWORD avail = xu_avail(f, o);
    if (avail < 40 || (f->bytes[o] >> 4) != 6)
        return 0;
    unsigned nh = f->bytes[o + 6];
    DWORD at = o + 40;
    for (int i = 0; i < 64; i++) {
        DWORD len;
        if (nh == 0 || nh == 43 || nh == 60) {
            if (xu_avail(f, at) < 2)
                return 0;
            len = ((DWORD)f->bytes[at + 1] + 1) * 8;
        } else if (nh == 44) {
            len = 8;
        } else if (nh == 51) {
            if (xu_avail(f, at) < 2)
                return 0;
            len = ((DWORD)f->bytes[at + 1] + 2) * 4;
        } else {
            return 1;
        }
        if (xu_avail(f, at) < len)
            return 0;
        nh = f->bytes[at];
        at += len;
    }
    return 1;
}

/* Fills f from a frame descriptor (every frame of a walk: kept short). */
static inline void xu_frame_fill(xu_frame *f, const EXPERTFRAMEDESCRIPTOR *d)
{
    f->number = d->FrameNumber;
    f->bytes = d->pFrame->MacFrame;
    f->caplen = d->pFrame->nBytesAvail;
    f->wirelen = d->pFrame->FrameLength;
    f->ts_ns = d->pFrame->TimeStamp;
    memset(f->have, 0, sizeof f->have);
    unsigned n = 0;
    const RECOGNIZEDATATABLE *t = d->lpRecognizeDataTable;
    WORD nt = t ? t->nRecognizeDatas : 0;
    for (WORD i = 0; i < nt && n < XU_MAX_LAYERS; i++) {
        WORD p = t->RecognizeData[i].ProtocolID;
        if (p >= XU_NPROTO)
            continue;
        f->layer[n].proto = p;
        f->layer[n++].off = t->RecognizeData[i].nProtocolOffset;
        f->have[p >> 6] |= 1ull << (p & 63);
    }
    f->nlayers = n;
}

/* The next frame after *number (start with INVALID_FRAME_NUMBER), through the
 * host's filter and `filter` (may be NULL). Returns ExpertGetFrame's code. */
static inline DWORD xu_next(HEXPERTKEY key, DWORD *number, HFILTER filter, xu_frame *f)
{
    EXPERTFRAMEDESCRIPTOR d;
    DWORD rc = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, FLAGS_DEFER_TO_UI_FILTER, *number,
                              filter, &d);
    if (rc != NMERR_SUCCESS)
        return rc;
    *number = d.FrameNumber;
    xu_frame_fill(f, &d);
    return NMERR_SUCCESS;
}

/* Reports progress when it moved by a percent; returns the call's code. */
static inline DWORD xu_progress(HEXPERTKEY key, DWORD frame, DWORD total, LONG *last,
                                const char *text)
{
    LONG pct = total ? (LONG)((uint64_t)(frame + 1) * 100 / total) : 0;
    if (pct > 99)
        pct = 99;
    if (pct == *last)
        return NMERR_SUCCESS;
    *last = pct;
    return ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, text, pct);
}

/* The first frame number after which xu_progress's percent is no longer
 * `pct` (frame numbers only grow in a walk): none (UINT32_MAX) without a
 * total or at 99 %. Spares a division on every frame. */
static inline DWORD xu_progress_next(DWORD total, LONG pct)
{
    if (!total || pct >= 99)
        return UINT32_MAX;
    return (DWORD)(((uint64_t)(pct + 1) * total + 99) / 100 - 1);
}

/* The time stamp of the capture's first frame (Wireshark's reference for
 * relative times), whatever the host's filter shows; 0 without frames. */
static inline int64_t xu_capture_t0(HEXPERTKEY key)
{
    EXPERTFRAMEDESCRIPTOR d;
    if (ExpertGetFrame(key, GET_SPECIFIED_FRAME, 0, 0, NULL, &d) != NMERR_SUCCESS)
        return 0;
    return d.pFrame->TimeStamp;
}

/* ---- a Run's walk over the capture ---- */

typedef struct xu_walk {
    HEXPERTKEY key;
    DWORD number, total;
    LONG pct;
    DWORD next_pct; /* the frame number where pct changes (xu_progress_next) */
    const char *text;
    DWORD rc; /* why the walk stopped: NMERR_NO_MORE_FRAMES at the end */
} xu_walk;

/* Starts a walk: reports RUNNING at 0 % with `text` (kept, not copied). */
static inline void xu_walk_begin(xu_walk *w, HEXPERTKEY key, const EXPERTSTARTUPINFO *st,
                                 const char *text)
{
    w->key = key;
    w->number = INVALID_FRAME_NUMBER;
    w->total = st ? GetCaptureTotalFrames(st->hCapture) : 0;
    w->pct = 0;
    w->next_pct = xu_progress_next(w->total, 0);
    w->text = text;
    w->rc = ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, text, 0);
    if (w->rc != NMERR_EXPERT_TERMINATE)
        w->rc = NMERR_SUCCESS;
}

/* The next frame (1), or 0 when the walk is over: w->rc says why. */
static inline int xu_walk_next(xu_walk *w, xu_frame *f)
{
    if (w->rc != NMERR_SUCCESS)
        return 0;
    if ((w->rc = xu_next(w->key, &w->number, NULL, f)) != NMERR_SUCCESS)
        return 0;
    if (w->number < w->next_pct)
        return 1;
    if (xu_progress(w->key, w->number, w->total, &w->pct, w->text) == NMERR_EXPERT_TERMINATE) {
        w->rc = NMERR_EXPERT_TERMINATE;
        return 0;
    }
    w->next_pct = xu_progress_next(w->total, w->pct);
    return 1;
}

/* What Run returns when it stops with code rc (NMERR_SUCCESS or
 * NMERR_NO_MORE_FRAMES: it finished): FALSE after a terminate, or after
 * reporting the problem (out of memory or quota, an unreadable capture) as
 * EXPERTSTATUS_PROBLEM, "<name>: <what>". */
static inline BOOL xu_run_end(HEXPERTKEY key, const char *name, DWORD rc)
{
    if (rc == NMERR_SUCCESS || rc == NMERR_NO_MORE_FRAMES)
        return TRUE;
    if (rc == NMERR_EXPERT_TERMINATE)
        return FALSE;
    char msg[200];
    if (rc == NMERR_OUT_OF_MEMORY)
        snprintf(msg, sizeof msg, "%s: out of memory (or over the run's memory limit)", name);
    else
        snprintf(msg, sizeof msg, "%s: cannot read the capture (error %lu)", name, (unsigned long)rc);
    ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, rc, msg, 0);
    return FALSE;
}

/* ---- flows: the innermost IP layer and the transport after it ---- */

typedef struct xu_seg {
    uint8_t fam;               /* 4 or 6 */
    const uint8_t *src, *dst;  /* into the frame: copy what you keep */
    uint16_t sp, dp;
    DWORD ip_off, l4_off;
    uint32_t seglen;           /* payload bytes after the transport header, as the IP lengths give them */
    uint32_t seq, ack, win;    /* TCP */
    uint8_t flags;             /* TCP */
} xu_seg;

/* Index of the innermost layer `proto` in f's list, or -1; also -1 when an
 * ICMP layer precedes it (a packet quoted in an ICMP error is not traffic). */
static inline int xu_innermost(const xu_frame *f, unsigned proto)
{
    int at = -1;
    for (unsigned i = 0; i < f->nlayers; i++) {
        unsigned p = f->layer[i].proto;
        if (p == proto)
            at = (int)i;
        else if ((p == NMX_PROTO_ICMP || p == NMX_PROTO_ICMPV6) && at < 0)
            return -1;
    }
    return at;
}

/* The endpoints Wireshark gives an IPv6 packet's transport (pinfo's source
 * and destination): a Home Address option (Mobile IPv6) is the source, and
 * the last address of a type 0 or type 2 routing header with segments left
 * is the destination. Walks the captured extension headers only. */
static inline void xu_ipv6_ends(const xu_frame *f, DWORD ip, const uint8_t **src, const uint8_t **dst)
{
    unsigned nh = f->bytes[ip + 6];
    DWORD at = ip + 40;
    for (int i = 0; i < 16 && (nh == 0 || nh == 43 || nh == 60); i++) {
        if (xu_avail(f, at) < 8)
            return;
        const uint8_t *h = f->bytes + at;
        DWORD len = ((DWORD)h[1] + 1) * 8;
        if (xu_avail(f, at) < len)
            return;
        if (nh == 43 && (h[2] == 0 || h[2] == 2) && h[3] > 0 && len >= 24)
            *dst = h + len - 16; /* the last address listed */
        for (DWORD o = 2; nh == 60 && o + 2 <= len;) {
            if (h[o] == 0) { /* Pad1 */
                o++;
                continue;
            }
            if (h[o] == 201 && h[o + 1] == 16 && o + 18 <= len)
                *src = h + o + 2; /* Home Address */
            o += 2u + h[o + 1];
        }
        nh = h[0];
        at += len;
    }
}

/* The IP header right before layer i: fills fam, src, dst, ip_off and
 * returns how many bytes the IP lengths give from layer i's start on (the
 * transport's wire length), or -1 when there is no usable IP header. */
static inline int64_t xu_ip_before(const xu_frame *f, int i, xu_seg *g)
{
    while (--i >= 0 && f->layer[i].proto != NMX_PROTO_IPV4 && f->layer[i].proto != NMX_PROTO_IPV6)
        ;
    if (i < 0)
        return -1;
    DWORD ip = f->layer[i].off, l4 = g->l4_off;
    const uint8_t *p = f->bytes + ip;
    uint32_t end = xu_end_before(f, i);
    g->ip_off = ip;
    if (f->layer[i].proto == NMX_PROTO_IPV4) {
        if (xu_avail(f, ip) < 20 || (p[0] & 15) < 5)
            return -1;
        g->fam = 4;
        g->src = p + 12;
        g->dst = p + 16;
        return (int64_t)xu_ipv4_len(f, ip, end) - (int64_t)(l4 - ip);
    }
    if (xu_avail(f, ip) < 40)
        return -1;
    uint32_t plen = xu_be16(p + 4), room = end > ip + 40 ? end - ip - 40 : 0;
    if (plen == 0 || plen > room) /* jumbogram or TSO; or more than the frame holds */
        plen = room;
    g->fam = 6;
    g->src = p + 8;
    g->dst = p + 24;
    xu_ipv6_ends(f, ip, &g->src, &g->dst);
    return (int64_t)plen + 40 - (int64_t)(l4 - ip);
}

/* The TCP segment of layer i of a frame (xu_tcp_at) or of its innermost
 * TCP layer (xu_tcp_parse), with the IP header before it: addresses (pointing into the frame), ports, sequence and
 * acknowledgement numbers, window, flags and the payload length the IP
 * lengths give (wire bytes). Returns 0 for anything that is not a
 * whole-enough TCP header, and for a header length the IP lengths
 * contradict (Wireshark: no analysis). */
static inline int xu_tcp_at(const xu_frame *f, int i, xu_seg *g)
{
    if (i < 0)
        return 0;
    DWORD t = g->l4_off = f->layer[i].off;
    if (xu_avail(f, t) < 20)
        return 0;
    const uint8_t *tp = f->bytes + t;
    uint32_t thl = (uint32_t)(tp[12] >> 4) * 4;
    int64_t l4 = xu_ip_before(f, i, g);
    if (thl < 20 || l4 < (int64_t)thl)
        return 0; /* Wireshark: bogus header length, no analysis */
    g->seglen = (uint32_t)(l4 - thl);
    g->sp = xu_be16(tp);
    g->dp = xu_be16(tp + 2);
    g->seq = xu_be32(tp + 4);
    g->ack = xu_be32(tp + 8);
    g->flags = tp[13];
    g->win = xu_be16(tp + 14);
    return 1;
}

static inline int xu_tcp_parse(const xu_frame *f, xu_seg *g)
{
    return xu_tcp_at(f, xu_innermost(f, NMX_PROTO_TCP), g);
}

/* TCP streams as Wireshark tells them apart. Each direction's base
 * sequence number is its SYN's, else one below its first segment's, or
 * taken from the other side's first ACK; a SYN (without ACK) whose sequence
 * number is not its direction's base starts a new stream on the same tuple
 * (the port was reused). */
typedef struct xu_tcp_bases {
    uint32_t base[2];
    uint8_t set[2];
} xu_tcp_bases;

static inline int xu_tcp_new_stream(const xu_tcp_bases *b, int dir, const xu_seg *g)
{
    return (g->flags & 0x12) == 0x02 && b->set[dir] && b->base[dir] != g->seq;
}

static inline void xu_tcp_note(xu_tcp_bases *b, int dir, const xu_seg *g)
{
    if (!b->set[dir]) {
        b->base[dir] = (g->flags & 0x02) ? g->seq : g->seq - 1;
        b->set[dir] = 1;
    }
    if (!b->set[!dir] && (g->flags & 0x10)) {
        b->base[!dir] = g->ack - 1;
        b->set[!dir] = 1;
    }
}

/* The UDP datagram of layer i (xu_udp_at) or of the innermost UDP layer
 * (xu_udp_parse), with the IP header before it; seglen is the payload the UDP length gives (capped by
 * the IP lengths). Returns 0 without a whole UDP header. */
static inline int xu_udp_at(const xu_frame *f, int i, xu_seg *g)
{
    if (i < 0)
        return 0;
    DWORD u = g->l4_off = f->layer[i].off;
    if (xu_avail(f, u) < 8)
        return 0;
    const uint8_t *up = f->bytes + u;
    int64_t l4 = xu_ip_before(f, i, g);
    if (l4 < 8)
        return 0;
    uint32_t ulen = xu_be16(up + 4);
    g->seglen = (uint32_t)((ulen >= 8 && ulen <= l4 ? ulen : l4) - 8);
    g->sp = xu_be16(up);
    g->dp = xu_be16(up + 2);
    g->seq = g->ack = g->win = 0;
    g->flags = 0;
    return 1;
}

static inline int xu_udp_parse(const xu_frame *f, xu_seg *g)
{
    return xu_udp_at(f, xu_innermost(f, NMX_PROTO_UDP), g);
}

/* ---- rows ---- */

#define XU_MAX_COLS 32

/* A row being built: the event plus room for its columns, on the stack. The
 * host deep-copies it on submit, so strings may point at local buffers. A
 * union, because C forbids a structure that ends in a flexible array member
 * (NMEVENTDATA.Column) inside another structure. */
typedef union xu_row {
    NMEVENTDATA ev;
    unsigned char room[sizeof(NMEVENTDATA) + XU_MAX_COLS * sizeof(NMCOLUMNINFO)];
} xu_row;

static inline void xu_row_begin(xu_row *r, const char *source, DWORD table, const char *title)
{
    memset(r, 0, sizeof *r);
    r->ev.szSourceName = (LPSTR)source;
    r->ev.szEventName = (LPSTR)title;
    r->ev.EventIdent = table;
    r->ev.Flags = NMEVENTFLAG_EXPERT;
    r->ev.Severity = NMEVENT_SEVERITY_INFORMATIONAL;
}

static inline NMCOLUMNINFO *xu_col(xu_row *r, const char *name, NMCOLUMNTYPE type)
{
    if (r->ev.NumColumns >= XU_MAX_COLS)
        return NULL;
    NMCOLUMNINFO *c = &r->ev.Column[r->ev.NumColumns++];
    c->szColumnName = (LPSTR)name;
    c->VariantData.Type = type;
    return c;
}

static inline void xu_col_u32(xu_row *r, const char *name, DWORD v)
{
    NMCOLUMNINFO *c = xu_col(r, name, NMCOLUMNTYPE_UINT32);
    if (c)
        c->VariantData.Value.Uint32Val = v;
}

/* 64-bit counts go out as FLOAT64 (exact below 2^53). */
static inline void xu_col_f64(xu_row *r, const char *name, double v)
{
    NMCOLUMNINFO *c = xu_col(r, name, NMCOLUMNTYPE_FLOAT64);
    if (c)
        c->VariantData.Value.Float64Val = v;
}

static inline void xu_col_str(xu_row *r, const char *name, const char *v)
{
    NMCOLUMNINFO *c = xu_col(r, name, NMCOLUMNTYPE_STRING);
    if (c)
        c->VariantData.Value.pStringVal = v;
}

static inline DWORD xu_row_submit(HEXPERTKEY key, xu_row *r)
{
    return ExpertSubmitEvent(key, &r->ev);
}

/* ---- configuration ---- */

/* The text of a configuration blob (after RawConfigLength), or NULL. */
static inline const char *xu_config_text(const EXPERTCONFIG *cfg, size_t *len)
{
    if (!cfg || cfg->RawConfigLength <= sizeof(DWORD)) {
        *len = 0;
        return NULL;
    }
    *len = cfg->RawConfigLength - sizeof(DWORD);
    return (const char *)cfg->RawConfigData;
}

/* Stores `text` as the configuration blob *pp (Configure's ppConfig): grows
 * the blob the expert was given with ExpertReallocMemory, or allocates one
 * when there is none. RawConfigLength counts itself, the text and its NUL. */
static inline BOOL xu_config_store(HEXPERTKEY key, PEXPERTCONFIG *pp, const char *text)
{
    size_t n = strlen(text);
    SIZE_T size = sizeof(DWORD) + (SIZE_T)n + 1;
    DWORD err;
    PEXPERTCONFIG b = *pp ? ExpertReallocMemory(key, *pp, size, &err)
                          : ExpertAllocMemory(key, size, &err);
    if (!b)
        return FALSE;
    memcpy(b->RawConfigData, text, n + 1);
    b->RawConfigLength = (DWORD)size;
    *pp = b;
    return TRUE;
}

/* Numbers and switches in configuration values: 1 and *out when v is one. */
static inline int xu_parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    unsigned long n = 0;
    if (!*v)
        return 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9' || n > (max - (unsigned long)(*p - '0')) / 10)
            return 0;
        n = n * 10 + (unsigned long)(*p - '0');
    }
    *out = n;
    return 1;
}

static inline int xu_parse_real(const char *v, double min, double max, double *out)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || d != d || d < min || d > max)
        return 0;
    *out = d;
    return 1;
}

static inline int xu_parse_bool(const char *v, int *out)
{
    if (strcmp(v, "0") && strcmp(v, "1"))
        return 0;
    *out = v[0] == '1';
    return 1;
}

/* Calls fn(word, ctx) for each word of a comma- or space-separated list
 * (words cut at 63 bytes); stops at and returns the first non-zero result.
 * Returns -1 for an empty list. */
static inline int xu_each_word(const char *v, int (*fn)(const char *word, void *ctx), void *ctx)
{
    int any = 0;
    while (*v) {
        while (*v == ',' || *v == ' ')
            v++;
        size_t n = strcspn(v, ", ");
        if (!n)
            break;
        char w[64];
        snprintf(w, sizeof w, "%.*s", (int)(n < 63 ? n : 63), v);
        int rc = fn(w, ctx);
        if (rc)
            return rc;
        any = 1;
        v += n;
    }
    return any ? 0 : -1;
}

/* Calls fn(key, value, ctx) for each "key=value" line of the blob (spaces
 * around both trimmed, '#' lines and blank lines skipped). Stops at the first
 * non-zero return, and returns it; -1 for a line without '='. */
static inline int xu_config_each(const EXPERTCONFIG *cfg,
                                 int (*fn)(const char *k, const char *v, void *ctx), void *ctx)
{
    size_t len;
    const char *t = xu_config_text(cfg, &len);
    size_t i = 0;
    while (t && i < len) {
        char line[512];
        size_t n = 0;
        while (i < len && t[i] != '\n' && t[i] != '\0') {
            if (n + 1 < sizeof line)
                line[n++] = t[i];
            i++;
        }
        i++;
        line[n] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq)
            return -1;
        char *ke = eq;
        while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t'))
            ke--;
        *ke = '\0';
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
            ve--;
        *ve = '\0';
        int rc = fn(s, v, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

/* Runs xu_config_each with fn; on failure `err` holds fn's message (fn
 * writes it there through ctx) or says a line has no '='. Returns 1 when the
 * blob is valid (or absent). */
static inline int xu_config_load(const EXPERTCONFIG *cfg, int (*fn)(const char *, const char *, void *),
                                 void *ctx, char *err, size_t errlen)
{
    int rc = xu_config_each(cfg, fn, ctx);
    if (rc == -1)
        snprintf(err, errlen, "a configuration line without '='");
    return rc == 0;
}

/* Run's first step: the configuration, parsed by `load` (1: valid); when it
 * is not, the run's problem is "configuration: <err>" and Run returns FALSE. */
static inline int xu_run_config(HEXPERTKEY key, int ok, const char *err)
{
    if (ok)
        return 1;
    char msg[300];
    snprintf(msg, sizeof msg, "configuration: %s", err);
    ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, msg, 0);
    return 0;
}

/* Register's work: the names and EXPERT_ENUM_FLAG_CONFIGURABLE (every
 * bundled expert takes a configuration). */
static inline BOOL xu_register(PEXPERTENUMINFO info, const char *name, const char *description,
                               DWORD version)
{
    if (!info)
        return FALSE;
    snprintf(info->szName, sizeof info->szName, "%s", name);
    snprintf(info->szVendor, sizeof info->szVendor, "nmexpert");
    snprintf(info->szDescription, sizeof info->szDescription, "%s", description);
    info->Version = version;
    info->Flags = EXPERT_ENUM_FLAG_CONFIGURABLE;
    return TRUE;
}

/* Configure for an expert whose configuration type T (with a char
 * error[...] member) is parsed by `parse(const EXPERTCONFIG *, T *)` (1:
 * valid) and written back, normalised, by `normalise(const T *, char *,
 * size_t)`: a valid blob (or none: the defaults) becomes the normalised
 * text; an invalid one is refused, its reason the problem. */
#define XU_CONFIGURE(T, parse, normalise)                                                             \
    BOOL WINAPI Configure(HEXPERTKEY key, PEXPERTCONFIG *ppConfig, PEXPERTSTARTUPINFO startup,       \
                          DWORD flags, HWND parent)                                                 \
    {                                                                                               \
        (void)startup;                                                                              \
        (void)flags;                                                                                \
        (void)parent;                                                                               \
        T c;                                                                                        \
        char text[512];                                                                             \
        if (!ppConfig)                                                                              \
            return FALSE;                                                                           \
        if (!parse(*ppConfig, &c)) {                                                                \
            ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, c.error, 0);                         \
            return FALSE;                                                                           \
        }                                                                                           \
        normalise(&c, text, sizeof text);                                                           \
        return xu_config_store(key, ppConfig, text);                                                \
    }

#endif
