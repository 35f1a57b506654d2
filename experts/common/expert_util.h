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
 */
#ifndef NMX_EXPERT_UTIL_H
#define NMX_EXPERT_UTIL_H

#include <nmexpert/netmon.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* One frame as the experts see it: bytes, lengths, time and where each
 * recognised layer starts (off[NMX_PROTO_x], valid when has(x)). For VLAN the
 * first tag's offset is kept and nvlan counts the tags. */
typedef struct xu_frame {
    DWORD number;
    const uint8_t *bytes;
    DWORD caplen, wirelen;
    int64_t ts_ns;
    uint32_t have; /* bit x: layer NMX_PROTO_x present */
    unsigned nvlan;
    WORD off[NMX_PROTO_PAYLOAD + 1];
} xu_frame;

static inline int xu_has(const xu_frame *f, unsigned proto)
{
    return (f->have >> proto) & 1u;
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
    memset(f, 0, sizeof *f);
    f->number = d.FrameNumber;
    f->bytes = d.pFrame->MacFrame;
    f->caplen = d.pFrame->nBytesAvail;
    f->wirelen = d.pFrame->FrameLength;
    f->ts_ns = d.pFrame->TimeStamp;
    const RECOGNIZEDATATABLE *t = d.lpRecognizeDataTable;
    for (WORD i = 0; t && i < t->nRecognizeDatas; i++) {
        WORD p = t->RecognizeData[i].ProtocolID;
        /* The outer stack only, as the experts were written for: stop at
         * the first tunnel, link or application layer they do not know and
         * at a second IP header (IP in IP). Reading inner flows is issue 11
         * items 3-8. */
        if (p > NMX_PROTO_PAYLOAD || ((p == NMX_PROTO_IPV4 || p == NMX_PROTO_IPV6) &&
                                      (xu_has(f, NMX_PROTO_IPV4) || xu_has(f, NMX_PROTO_IPV6))))
            break;
        if (p == NMX_PROTO_VLAN)
            f->nvlan++;
        if (!xu_has(f, p))
            f->off[p] = t->RecognizeData[i].nProtocolOffset;
        f->have |= 1u << p;
    }
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

/* ---- TCP ---- */

typedef struct xu_seg {
    uint8_t fam;
    const uint8_t *src, *dst;
    uint16_t sp, dp;
    uint32_t seq, ack, win, seglen;
    uint8_t flags;
} xu_seg;

/* The TCP segment of a frame, from the innermost IP header before TCP:
 * addresses (pointing into the frame), ports, sequence and acknowledgement
 * numbers, window, flags and the payload length the IP lengths give (wire
 * bytes). Returns 0 for anything that is not a whole-enough TCP header, and
 * for a header length the IP lengths contradict (Wireshark: no analysis). */
static inline int xu_tcp_parse(const xu_frame *f, xu_seg *g)
{
    if (!xu_has(f, NMX_PROTO_TCP))
        return 0;
    DWORD t = f->off[NMX_PROTO_TCP];
    int v4 = xu_has(f, NMX_PROTO_IPV4) && f->off[NMX_PROTO_IPV4] < t;
    int v6 = xu_has(f, NMX_PROTO_IPV6) && f->off[NMX_PROTO_IPV6] < t;
    if (v4 && v6) {
        if (f->off[NMX_PROTO_IPV4] > f->off[NMX_PROTO_IPV6])
            v6 = 0;
        else
            v4 = 0;
    }
    if (xu_avail(f, t) < 20)
        return 0;
    const uint8_t *tp = f->bytes + t;
    uint32_t thl = (uint32_t)(tp[12] >> 4) * 4;
    if (thl < 20)
        return 0;
    int64_t l4;
    if (v4) {
        DWORD ip = f->off[NMX_PROTO_IPV4];
        if (xu_avail(f, ip) < 20)
            return 0;
        const uint8_t *p = f->bytes + ip;
        uint32_t ihl = (uint32_t)(p[0] & 15) * 4;
        uint32_t tot = xu_be16(p + 2);
        if (tot == 0) /* TSO: the total length is left to the NIC */
            tot = f->wirelen > ip ? f->wirelen - ip : 0;
        l4 = (int64_t)tot - (int64_t)(t - ip);
        if (ihl < 20)
            return 0;
        g->fam = 4;
        g->src = p + 12;
        g->dst = p + 16;
    } else if (v6) {
        DWORD ip = f->off[NMX_PROTO_IPV6];
        if (xu_avail(f, ip) < 40)
            return 0;
        const uint8_t *p = f->bytes + ip;
        uint32_t plen = xu_be16(p + 4);
        if (plen == 0)
            plen = f->wirelen > ip + 40 ? f->wirelen - ip - 40 : 0;
        l4 = (int64_t)plen + 40 - (int64_t)(t - ip);
        g->fam = 6;
        g->src = p + 8;
        g->dst = p + 24;
    } else {
        return 0;
    }
    if (l4 < (int64_t)thl)
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

/* ---- rows ---- */

#define XU_MAX_COLS 16

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

#endif
