/* TCP Retransmit: per connection and in total, retransmitted segments and
 * bytes, with fast retransmissions, spurious retransmissions and
 * out-of-order segments told apart, classified the way Wireshark's
 * tcp_analyze_sequence_number() does (see README.md). Built against
 * nmexpert/netmon.h and experts/common/expert_util.h alone. */
#include <nmexpert/netmon.h>

#include "expert_util.h"
#include "xu_addr.h"
#include "xu_map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "TCP Retransmit"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

static int lt_seq(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static int le_seq(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static int gt_seq(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/* ---- configuration ---- */

typedef struct cfg {
    unsigned long top;    /* 0: every connection */
    double ooo_ms;        /* out-of-order threshold without a handshake RTT */
    double fast_ms;       /* fast retransmission: within this of the last dup ACK */
    int all;              /* list connections without any retransmission too */
    int frames;           /* table 3: every flagged segment */
    char bad[128];
} cfg;

static int cfg_line(const char *k, const char *v, void *ctx)
{
    cfg *c = ctx;
    int ok;
    if (!strcmp(k, "top"))
        ok = xu_parse_uint(v, 4294967295ul, &c->top);
    else if (!strcmp(k, "ooo_ms"))
        ok = xu_parse_real(v, 0, 1e9, &c->ooo_ms);
    else if (!strcmp(k, "fast_ms"))
        ok = xu_parse_real(v, 0, 1e9, &c->fast_ms);
    else if (!strcmp(k, "all"))
        ok = xu_parse_bool(v, &c->all);
    else if (!strcmp(k, "frames"))
        ok = xu_parse_bool(v, &c->frames);
    else {
        snprintf(c->bad, sizeof c->bad, "unknown key \"%.60s\"", k);
        return 1;
    }
    if (!ok)
        snprintf(c->bad, sizeof c->bad, "bad value for %.40s: \"%.60s\"", k, v);
    return !ok;
}

static int cfg_load(const EXPERTCONFIG *blob, cfg *c)
{
    memset(c, 0, sizeof *c);
    c->ooo_ms = 3;
    c->fast_ms = 20;
    return xu_config_load(blob, cfg_line, c, c->bad, sizeof c->bad);
}

static const char DEFAULT_CONFIG[] = "# TCP Retransmit (see README.md)\n"
                                     "# top=N: list the N connections with most retransmissions (0 = all)\n"
                                     "top=0\n"
                                     "# ooo_ms: out-of-order window when the handshake RTT is unknown\n"
                                     "ooo_ms=3\n"
                                     "# fast_ms: a fast retransmission follows the dup ACKs within this\n"
                                     "fast_ms=20\n"
                                     "# all=1: also list connections without retransmissions\n"
                                     "all=0\n"
                                     "# frames=1: also list every flagged segment (table 3)\n"
                                     "frames=0\n";

/* ---- connections ---- */

typedef struct dir_state {
    uint32_t nextseq, maxseqtobeacked, lastack;
    int64_t nextseqtime, lastacktime;
    uint32_t window, dupacknum;
    int has_window;
} dir_state;

typedef struct conn {
    xu_flow_key k;          /* the tuple, lower endpoint first */
    uint8_t client;         /* which side of k is the client: the side that sent first,
                               or the SYN's sender (not the SYN/ACK's) */
    uint32_t first_frame;
    int64_t ts_mru_syn, first_rtt;
    xu_tcp_bases b;         /* [0] the client's, [1] the server's */
    dir_state d[2];         /* [0] client to server, [1] back */
    uint64_t segments, retrans, retrans_bytes, fast, spurious, ooo;
} conn;

typedef struct state {
    HEXPERTKEY key;
    xu_map conns; /* a reused tuple's newest connection is the one found */
} state;

/* ---- Wireshark's sequence analysis ---- */

enum { A_RETRANS = 1, A_FAST = 2, A_SPURIOUS = 4, A_OOO = 8, A_KEEPALIVE = 16, A_ZWP = 32, A_OTHER = 64, A_ACK_LOST = 128 };

static unsigned analyze(const cfg *cf, conn *c, int dir, const xu_seg *g, int64_t now)
{
    dir_state *fwd = &c->d[dir], *rev = &c->d[!dir];
    uint32_t flags = g->flags;
    uint32_t seglen = g->seglen;

    /* Relative numbers, as Wireshark computes them. */
    xu_tcp_note(&c->b, dir, g);
    uint32_t seq = g->seq - c->b.base[dir];
    uint32_t ack = (flags & TH_ACK) ? g->ack - c->b.base[!dir] : g->ack;
    uint32_t window = g->win;

    unsigned a = 0;
    int dupack = 0;

    /* Zero window probe */
    if (seglen == 1 && seq == fwd->nextseq && rev->has_window && rev->window == 0) {
        a |= A_ZWP;
        goto finished_fwd;
    }
    /* Zero window */
    if (window == 0 && !(flags & (TH_RST | TH_FIN | TH_SYN)))
        a |= A_OTHER;
    /* Previous segment not captured */
    if (fwd->nextseq && gt_seq(seq, fwd->nextseq) && !(flags & TH_RST))
        a |= A_OTHER;
    /* Keep-alive */
    if (seglen <= 1 && seq == fwd->nextseq - 1 && !(flags & (TH_SYN | TH_FIN | TH_RST)))
        a |= A_KEEPALIVE;
    /* Duplicate ACK (window updates and keep-alive ACKs are not) */
    if (seglen == 0 && window && fwd->has_window && window == fwd->window && seq == fwd->nextseq &&
        ack == fwd->lastack && !(flags & (TH_SYN | TH_FIN | TH_RST))) {
        fwd->dupacknum++;
        dupack = 1;
    }
finished_fwd:
    /* Wireshark resets the duplicate-ACK count when the ACK number moves,
     * not on every other segment. */
    (void)dupack;
    if (ack != fwd->lastack)
        fwd->dupacknum = 0;

    /* ACKed segment that was not captured (flagged; unlike a zero window
     * or a gap, it does not stop a retransmission, as in Wireshark) */
    if (rev->maxseqtobeacked && gt_seq(ack, rev->maxseqtobeacked) && (flags & TH_ACK)) {
        a |= A_ACK_LOST;
        rev->maxseqtobeacked = rev->nextseq;
    }

    if (seglen > 0 || (flags & (TH_SYN | TH_FIN))) {
        int not_adv = fwd->nextseq && lt_seq(seq, fwd->nextseq);
        if (a & A_KEEPALIVE)
            goto finished_retrans;
        /* Data the other side acknowledged already: spurious, before the
         * fast and out-of-order tests (tshark 4.0.17's order) */
        if (seglen > 0 && rev->lastack && le_seq(seq + seglen, rev->lastack)) {
            a |= A_SPURIOUS | A_RETRANS;
            goto finished_retrans;
        }
        int64_t t = now - rev->lastacktime;
        if (not_adv && rev->dupacknum >= 2 && rev->lastack == seq && t < (int64_t)(cf->fast_ms * 1e6)) {
            a |= A_FAST | A_RETRANS;
            goto finished_retrans;
        }
        t = now - fwd->nextseqtime;
        int64_t thres = c->first_rtt ? c->first_rtt : (int64_t)(cf->ooo_ms * 1e6);
        if (not_adv && t < thres && fwd->nextseq != seq + seglen + ((flags & (TH_SYN | TH_FIN)) ? 1 : 0)) {
            a |= A_OOO;
            goto finished_retrans;
        }
        if (not_adv && !(a & (A_OTHER | A_ZWP)))
            a |= A_RETRANS;
    }
finished_retrans:;
    /* The next expected sequence number moves on every segment that goes
     * beyond it, bare ACKs included (a bare ACK after a lost segment carries
     * the sender's next sequence number): a later resend of the missing data
     * is then a retransmission, as Wireshark has it. */
    uint32_t nextseq = seq + seglen + ((flags & (TH_SYN | TH_FIN)) ? 1u : 0u);
    if ((gt_seq(nextseq, fwd->nextseq) || !fwd->nextseq) && !(a & A_ZWP)) {
        fwd->nextseq = nextseq;
        fwd->nextseqtime = now;
    }
    if (gt_seq(nextseq, fwd->maxseqtobeacked) || !fwd->maxseqtobeacked) {
        if (!(a & A_ZWP))
            fwd->maxseqtobeacked = fwd->nextseq;
    }
    fwd->window = window;
    fwd->has_window = 1;
    fwd->lastack = ack;
    fwd->lastacktime = now;
    /* The handshake's RTT: the first ACK after the (latest) SYN. Taken after
     * the classification, so the ACK that completes the handshake is still
     * judged with the default out-of-order window, as in Wireshark. */
    if ((flags & (TH_SYN | TH_ACK)) == TH_SYN)
        c->ts_mru_syn = now;
    if ((flags & (TH_SYN | TH_ACK)) == TH_ACK && c->ts_mru_syn && !c->first_rtt)
        c->first_rtt = now - c->ts_mru_syn;
    return a;
}

/* ---- output ---- */

/* The client's (side 0) or the server's (side 1) address:port. */
static void fmt_ep(char *buf, size_t len, const conn *c, int side)
{
    int k = side ? !c->client : c->client;
    xu_fmt_endpoint(buf, len, c->k.fam, c->k.addr[k], c->k.port[k]);
}

static int by_retrans(const void *pa, const void *pb)
{
    const conn *a = *(const conn *const *)pa, *b = *(const conn *const *)pb;
    if (a->retrans != b->retrans)
        return a->retrans > b->retrans ? -1 : 1;
    if (a->retrans_bytes != b->retrans_bytes)
        return a->retrans_bytes > b->retrans_bytes ? -1 : 1;
    return a->first_frame < b->first_frame ? -1 : a->first_frame > b->first_frame;
}

static DWORD report(state *s, const cfg *cf, uint64_t tcp_frames)
{
    DWORD err = NMERR_SUCCESS;
    conn **order = ExpertAllocMemory(s->key, (s->conns.n ? s->conns.n : 1) * sizeof *order, &err);
    if (!order)
        return err;
    size_t m = 0, n = s->conns.n;
    uint64_t tot[6] = {0};
    size_t with = 0;
    for (size_t i = 0; i < n; i++) {
        conn *c = xu_map_item(&s->conns, i);
        tot[0] += c->segments;
        tot[1] += c->retrans;
        tot[2] += c->retrans_bytes;
        tot[3] += c->fast;
        tot[4] += c->spurious;
        tot[5] += c->ooo;
        int any = c->retrans || c->ooo;
        with += c->retrans != 0; /* out-of-order alone is not a retransmission */
        if (any || cf->all)
            order[m++] = c;
    }
    qsort(order, m, sizeof *order, by_retrans);
    if (cf->top && m > cf->top)
        m = cf->top;
    for (size_t i = 0; i < m && err == NMERR_SUCCESS; i++) {
        const conn *c = order[i];
        char a[80], b[80];
        fmt_ep(a, sizeof a, c, 0);
        fmt_ep(b, sizeof b, c, 1);
        xu_row r;
        xu_row_begin(&r, NAME, 1, "Retransmissions by connection");
        if (c->retrans)
            r.ev.Severity = NMEVENT_SEVERITY_WARNING;
        xu_col_str(&r, "Client", a);
        xu_col_str(&r, "Server", b);
        xu_col_f64(&r, "Segments", (double)c->segments);
        xu_col_f64(&r, "Retransmissions", (double)c->retrans);
        xu_col_f64(&r, "Retransmitted bytes", (double)c->retrans_bytes);
        xu_col_f64(&r, "Fast", (double)c->fast);
        xu_col_f64(&r, "Spurious", (double)c->spurious);
        xu_col_f64(&r, "Out-of-order", (double)c->ooo);
        err = xu_row_submit(s->key, &r);
    }
    ExpertFreeMemory(s->key, order);
    if (err != NMERR_SUCCESS)
        return err;
    xu_row r;
    xu_row_begin(&r, NAME, 2, "Retransmission totals");
    if (tot[1])
        r.ev.Severity = NMEVENT_SEVERITY_WARNING;
    xu_col_f64(&r, "Connections", (double)n);
    xu_col_f64(&r, "Connections with retransmissions", (double)with);
    xu_col_f64(&r, "Segments", (double)tcp_frames);
    xu_col_f64(&r, "Retransmissions", (double)tot[1]);
    xu_col_f64(&r, "% Retransmitted", tcp_frames ? 100.0 * (double)tot[1] / (double)tcp_frames : 0.0);
    xu_col_f64(&r, "Retransmitted bytes", (double)tot[2]);
    xu_col_f64(&r, "Fast", (double)tot[3]);
    xu_col_f64(&r, "Spurious", (double)tot[4]);
    xu_col_f64(&r, "Out-of-order", (double)tot[5]);
    return xu_row_submit(s->key, &r);
}

/* ---- entry points ---- */

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Retransmitted TCP segments and bytes per connection and in total, with fast and spurious "
                       "retransmissions and out-of-order segments told apart (Wireshark's TCP analysis)",
                       1);
}

BOOL WINAPI Configure(HEXPERTKEY key, PEXPERTCONFIG *ppConfig, PEXPERTSTARTUPINFO startup, DWORD flags,
                      HWND window)
{
    (void)startup;
    (void)flags;
    (void)window;
    if (!ppConfig)
        return FALSE;
    if (!*ppConfig)
        return xu_config_store(key, ppConfig, DEFAULT_CONFIG);
    cfg cf;
    return cfg_load(*ppConfig, &cf) ? TRUE : FALSE;
}

/* The connection of segment g and the direction g goes (0: from the
 * client); a new one for a new tuple, and for a SYN with another initial
 * sequence number on a known tuple: the port was reused, a new connection
 * begins (as Wireshark starts a new stream). NULL with *err set. */
static conn *connection_of(state *s, const xu_seg *g, DWORD frame, int *dir, DWORD *err)
{
    xu_flow_key k;
    int side = xu_flow_key_of(&k, g->fam, 6, g->src, g->sp, g->dst, g->dp);
    long i = xu_map_find(&s->conns, &k, sizeof k);
    conn *c = i >= 0 ? xu_map_item(&s->conns, (size_t)i) : NULL;
    if (c) {
        *dir = side != c->client;
        if (!xu_tcp_new_stream(&c->b, *dir, g))
            return c;
    }
    if ((i = xu_map_add(&s->conns, &k, sizeof k, err)) < 0)
        return NULL;
    c = xu_map_item(&s->conns, (size_t)i);
    int synack = (g->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
    c->client = (uint8_t)(synack ? !side : side);
    c->first_frame = frame;
    *dir = synack;
    return c;
}

/* A row of table 3 for a flagged segment. */
static DWORD flag_row(HEXPERTKEY key, DWORD number, unsigned a, uint32_t bytes)
{
    xu_row r;
    xu_row_begin(&r, NAME, 3, "Flagged segments");
    NMCOLUMNINFO *col = xu_col(&r, "Frame", NMCOLUMNTYPE_FRAME);
    if (col)
        col->VariantData.Value.FrameVal = number;
    xu_col_str(&r, "Kind", (a & A_FAST) ? "fast retransmission"
                           : (a & A_SPURIOUS) ? "spurious retransmission"
                           : (a & A_RETRANS)  ? "retransmission"
                                              : "out-of-order");
    xu_col_u32(&r, "Bytes", bytes);
    return xu_row_submit(key, &r);
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags, HWND window)
{
    (void)flags;
    (void)window;
    cfg cf;
    if (!xu_run_config(key, cfg_load(config, &cf), cf.bad))
        return FALSE;
    state s;
    s.key = key;
    xu_map_init(&s.conns, key, sizeof(xu_flow_key), sizeof(conn));
    xu_walk w;
    xu_frame f;
    uint64_t tcp_frames = 0;
    DWORD rc = NMERR_SUCCESS;
    xu_walk_begin(&w, key, startup, "Analysing TCP sequence numbers");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f)) {
        xu_seg g;
        if (!xu_tcp_parse(&f, &g))
            continue;
        int dir = 0;
        conn *c = connection_of(&s, &g, f.number, &dir, &rc);
        if (!c)
            break;
        tcp_frames++;
        c->segments++;
        unsigned a = analyze(&cf, c, dir, &g, f.ts_ns);
        if (a & A_RETRANS) {
            c->retrans++;
            c->retrans_bytes += g.seglen;
        }
        c->fast += !!(a & A_FAST);
        c->spurious += !!(a & A_SPURIOUS);
        c->ooo += !!(a & A_OOO);
        if (cf.frames && (a & (A_RETRANS | A_OOO)))
            rc = flag_row(key, f.number, a, g.seglen);
    }
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    if (rc == NMERR_NO_MORE_FRAMES)
        rc = report(&s, &cf, tcp_frames);
    xu_map_free(&s.conns);
    return xu_run_end(key, NAME, rc);
}
