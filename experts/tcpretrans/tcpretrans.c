/* TCP Retransmit: per connection and in total, retransmitted segments and
 * bytes, with fast retransmissions, spurious retransmissions and
 * out-of-order segments told apart, classified the way Wireshark's
 * tcp_analyze_sequence_number() does (see README.md). Built against
 * nmexpert/netmon.h and experts/common/expert_util.h alone. */
#include <nmexpert/netmon.h>

#include "expert_util.h"

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

static int parse_num(const char *v, double *out, double min, double max)
{
    char *end;
    double d = strtod(v, &end);
    if (!*v || *end || d != d || d < min || d > max)
        return 0;
    *out = d;
    return 1;
}

static int cfg_line(const char *k, const char *v, void *ctx)
{
    cfg *c = ctx;
    double d;
    if (!strcmp(k, "top")) {
        if (!parse_num(v, &d, 0, 4294967295.0) || d != (double)(unsigned long)d)
            goto bad;
        c->top = (unsigned long)d;
    } else if (!strcmp(k, "ooo_ms")) {
        if (!parse_num(v, &d, 0, 1e9))
            goto bad;
        c->ooo_ms = d;
    } else if (!strcmp(k, "fast_ms")) {
        if (!parse_num(v, &d, 0, 1e9))
            goto bad;
        c->fast_ms = d;
    } else if (!strcmp(k, "all")) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            goto bad;
        c->all = v[0] == '1';
    } else if (!strcmp(k, "frames")) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            goto bad;
        c->frames = v[0] == '1';
    } else {
        snprintf(c->bad, sizeof c->bad, "unknown key \"%.60s\"", k);
        return 1;
    }
    return 0;
bad:
    snprintf(c->bad, sizeof c->bad, "bad value for %.40s: \"%.60s\"", k, v);
    return 1;
}

static int cfg_load(const EXPERTCONFIG *blob, cfg *c)
{
    memset(c, 0, sizeof *c);
    c->ooo_ms = 3;
    c->fast_ms = 20;
    int rc = xu_config_each(blob, cfg_line, c);
    if (rc == -1)
        snprintf(c->bad, sizeof c->bad, "a line without '='");
    return rc == 0;
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
    int base_set;
    uint32_t base_seq;
    uint32_t nextseq, maxseqtobeacked, lastack;
    int64_t nextseqtime, lastacktime;
    uint32_t window, dupacknum;
    int has_window;
} dir_state;

typedef struct conn {
    uint8_t fam;            /* 4 or 6 */
    uint8_t addr[2][16];    /* [0] the side that sent first (client unless the first frame was a SYN/ACK) */
    uint16_t port[2];
    uint32_t first_frame;
    int64_t ts_mru_syn, first_rtt;
    dir_state d[2];
    uint64_t segments, retrans, retrans_bytes, fast, spurious, ooo;
    uint32_t next_in_chain; /* hash chain, index + 1 */
} conn;

typedef struct state {
    HEXPERTKEY key;
    conn *conns;
    size_t n, cap;
    uint32_t *buckets; /* index + 1 */
    size_t nbuckets;
} state;

static uint32_t hash_tuple(uint8_t fam, const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
    /* Order-independent: hash each endpoint, combine symmetrically. */
    uint32_t ha = 2166136261u, hb = 2166136261u;
    size_t al = fam == 4 ? 4 : 16;
    for (size_t i = 0; i < al; i++) {
        ha = (ha ^ a[i]) * 16777619u;
        hb = (hb ^ b[i]) * 16777619u;
    }
    ha = (ha ^ pa) * 16777619u;
    hb = (hb ^ pb) * 16777619u;
    uint32_t h = ha ^ hb ^ (ha + hb);
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

static uint32_t conn_hash(const conn *c)
{
    return hash_tuple(c->fam, c->addr[0], c->port[0], c->addr[1], c->port[1]);
}

static DWORD rehash(state *s, size_t nb)
{
    DWORD err = NMERR_SUCCESS;
    uint32_t *b = ExpertAllocMemory(s->key, nb * sizeof *b, &err);
    if (!b)
        return err;
    ExpertFreeMemory(s->key, s->buckets);
    s->buckets = b;
    s->nbuckets = nb;
    for (size_t i = 0; i < s->n; i++) {
        uint32_t h = conn_hash(&s->conns[i]) & (uint32_t)(nb - 1);
        s->conns[i].next_in_chain = b[h];
        b[h] = (uint32_t)i + 1;
    }
    return NMERR_SUCCESS;
}

/* Finds the live connection of a tuple; *dir = 0 when src is side 0. */
static conn *find(state *s, uint8_t fam, const uint8_t *src, uint16_t sp, const uint8_t *dst, uint16_t dp,
                  int *dir)
{
    if (!s->nbuckets)
        return NULL;
    size_t al = fam == 4 ? 4 : 16;
    uint32_t h = hash_tuple(fam, src, sp, dst, dp) & (uint32_t)(s->nbuckets - 1);
    for (uint32_t i = s->buckets[h]; i; i = s->conns[i - 1].next_in_chain) {
        conn *c = &s->conns[i - 1];
        if (c->fam != fam)
            continue;
        if (c->port[0] == sp && c->port[1] == dp && !memcmp(c->addr[0], src, al) && !memcmp(c->addr[1], dst, al)) {
            *dir = 0;
            return c;
        }
        if (c->port[1] == sp && c->port[0] == dp && !memcmp(c->addr[1], src, al) && !memcmp(c->addr[0], dst, al)) {
            *dir = 1;
            return c;
        }
    }
    return NULL;
}

/* A new connection (newest first in its chain, so a reused tuple finds it). */
static conn *add(state *s, uint8_t fam, const uint8_t *src, uint16_t sp, const uint8_t *dst, uint16_t dp,
                 DWORD frame, DWORD *err)
{
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 64;
        conn *p = ExpertReallocMemory(s->key, s->conns, nc * sizeof *p, err);
        if (!p)
            return NULL;
        s->conns = p;
        s->cap = nc;
    }
    if (s->n + 1 > s->nbuckets / 2) {
        DWORD e = rehash(s, s->nbuckets ? s->nbuckets * 2 : 128);
        if (e != NMERR_SUCCESS) {
            *err = e;
            return NULL;
        }
    }
    conn *c = &s->conns[s->n];
    memset(c, 0, sizeof *c);
    size_t al = fam == 4 ? 4 : 16;
    c->fam = fam;
    memcpy(c->addr[0], src, al);
    memcpy(c->addr[1], dst, al);
    c->port[0] = sp;
    c->port[1] = dp;
    c->first_frame = frame;
    uint32_t h = conn_hash(c) & (uint32_t)(s->nbuckets - 1);
    c->next_in_chain = s->buckets[h];
    s->buckets[h] = (uint32_t)s->n + 1;
    s->n++;
    return c;
}

/* ---- Wireshark's sequence analysis ---- */

enum { A_RETRANS = 1, A_FAST = 2, A_SPURIOUS = 4, A_OOO = 8, A_KEEPALIVE = 16, A_ZWP = 32, A_OTHER = 64, A_ACK_LOST = 128 };

static unsigned analyze(const cfg *cf, conn *c, int dir, const xu_seg *g, int64_t now)
{
    dir_state *fwd = &c->d[dir], *rev = &c->d[!dir];
    uint32_t flags = g->flags;
    uint32_t seglen = g->seglen;

    /* Relative numbers, as Wireshark computes them. */
    if (!fwd->base_set) {
        fwd->base_seq = (flags & TH_SYN) ? g->seq : g->seq - 1;
        fwd->base_set = 1;
    }
    if (!rev->base_set && (flags & TH_ACK)) {
        rev->base_seq = g->ack - 1;
        rev->base_set = 1;
    }
    uint32_t seq = g->seq - fwd->base_seq;
    uint32_t ack = (flags & TH_ACK) ? g->ack - rev->base_seq : g->ack;
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
        if (seglen > 0 && rev->lastack && le_seq(seq + seglen, rev->lastack)) {
            a |= A_SPURIOUS | A_RETRANS;
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

static void fmt_ep(char *buf, size_t len, const conn *c, int side)
{
    const uint8_t *a = c->addr[side];
    if (c->fam == 4) {
        snprintf(buf, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], c->port[side]);
        return;
    }
    /* IPv6, RFC 5952 style: the longest run of zero groups as "::". */
    uint16_t w[8];
    for (int i = 0; i < 8; i++)
        w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
    int best = -1, bestlen = 1;
    for (int i = 0; i < 8;) {
        int j = i;
        while (j < 8 && w[j] == 0)
            j++;
        if (j - i > bestlen) {
            best = i;
            bestlen = j - i;
        }
        i = j > i ? j : i + 1;
    }
    char s[64];
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            n += (size_t)snprintf(s + n, sizeof s - n, "::");
            i += bestlen - 1;
            continue;
        }
        n += (size_t)snprintf(s + n, sizeof s - n, "%s%x", (n && s[n - 1] != ':') ? ":" : "", w[i]);
    }
    snprintf(buf, len, "[%s]:%u", s, c->port[side]);
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
    conn **order = ExpertAllocMemory(s->key, (s->n ? s->n : 1) * sizeof *order, &err);
    if (!order)
        return err;
    size_t m = 0;
    uint64_t tot[6] = {0};
    size_t with = 0;
    for (size_t i = 0; i < s->n; i++) {
        conn *c = &s->conns[i];
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
    xu_col_f64(&r, "Connections", (double)s->n);
    xu_col_f64(&r, "Connections with retransmissions", (double)with);
    xu_col_f64(&r, "Segments", (double)tcp_frames);
    xu_col_f64(&r, "Retransmissions", (double)tot[1]);
    xu_col_f64(&r, "Retransmitted bytes", (double)tot[2]);
    xu_col_f64(&r, "Fast", (double)tot[3]);
    xu_col_f64(&r, "Spurious", (double)tot[4]);
    xu_col_f64(&r, "Out-of-order", (double)tot[5]);
    return xu_row_submit(s->key, &r);
}

/* ---- entry points ---- */

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    if (!info)
        return FALSE;
    snprintf(info->szName, sizeof info->szName, "%s", NAME);
    snprintf(info->szVendor, sizeof info->szVendor, "nmexpert");
    snprintf(info->szDescription, sizeof info->szDescription,
             "Retransmitted TCP segments and bytes per connection and in total, with fast and spurious "
             "retransmissions and out-of-order segments told apart (Wireshark's TCP analysis)");
    info->Version = 1;
    info->Flags = EXPERT_ENUM_FLAG_CONFIGURABLE;
    return TRUE;
}

BOOL WINAPI Configure(HEXPERTKEY key, PEXPERTCONFIG *ppConfig, PEXPERTSTARTUPINFO startup, DWORD flags,
                      HWND window)
{
    (void)startup;
    (void)flags;
    (void)window;
    if (!ppConfig)
        return FALSE;
    if (!*ppConfig) {
        DWORD err;
        size_t n = sizeof(DWORD) + sizeof DEFAULT_CONFIG; /* text and its NUL */
        EXPERTCONFIG *c = ExpertAllocMemory(key, n, &err);
        if (!c)
            return FALSE;
        c->RawConfigLength = (DWORD)n;
        memcpy(c->RawConfigData, DEFAULT_CONFIG, sizeof DEFAULT_CONFIG);
        *ppConfig = c;
        return TRUE;
    }
    cfg cf;
    return cfg_load(*ppConfig, &cf) ? TRUE : FALSE;
}

static void cleanup(state *s)
{
    ExpertFreeMemory(s->key, s->conns);
    ExpertFreeMemory(s->key, s->buckets);
    s->conns = NULL;
    s->buckets = NULL;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags, HWND window)
{
    (void)flags;
    (void)window;
    cfg cf;
    if (!cfg_load(config, &cf)) {
        char msg[200];
        snprintf(msg, sizeof msg, "configuration: %s", cf.bad);
        ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, msg, 0);
        return FALSE;
    }
    state s;
    memset(&s, 0, sizeof s);
    s.key = key;
    DWORD total = startup ? GetCaptureTotalFrames(startup->hCapture) : 0;
    LONG last = -1;
    DWORD number = INVALID_FRAME_NUMBER, rc;
    xu_frame f;
    uint64_t tcp_frames = 0;
    if (ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "Analysing TCP sequence numbers", 0) ==
        NMERR_EXPERT_TERMINATE)
        return TRUE;
    while ((rc = xu_next(key, &number, NULL, &f)) == NMERR_SUCCESS) {
        if (xu_progress(key, number, total, &last, "Analysing TCP sequence numbers") == NMERR_EXPERT_TERMINATE) {
            cleanup(&s);
            return TRUE;
        }
        xu_seg g;
        if (!xu_tcp_parse(&f, &g))
            continue;
        int dir = 0;
        conn *c = find(&s, g.fam, g.src, g.sp, g.dst, g.dp, &dir);
        /* A new SYN with another ISN on a known tuple: the port was reused,
         * a new connection begins (as Wireshark starts a new stream). */
        if (c && (g.flags & (TH_SYN | TH_ACK)) == TH_SYN && c->d[dir].base_set && c->d[dir].base_seq != g.seq)
            c = NULL;
        if (!c) {
            DWORD err = NMERR_SUCCESS;
            int synack = (g.flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
            if (synack)
                c = add(&s, g.fam, g.dst, g.dp, g.src, g.sp, number, &err);
            else
                c = add(&s, g.fam, g.src, g.sp, g.dst, g.dp, number, &err);
            if (!c) {
                cleanup(&s);
                if (err == NMERR_EXPERT_TERMINATE)
                    return TRUE;
                ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, "out of memory", 0);
                return FALSE;
            }
            dir = synack;
        }
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
        if (cf.frames && (a & (A_RETRANS | A_OOO))) {
            xu_row r;
            xu_row_begin(&r, NAME, 3, "Flagged segments");
            NMCOLUMNINFO *col = xu_col(&r, "Frame", NMCOLUMNTYPE_FRAME);
            if (col)
                col->VariantData.Value.FrameVal = number;
            xu_col_str(&r, "Kind", (a & A_FAST) ? "fast retransmission"
                                   : (a & A_SPURIOUS) ? "spurious retransmission"
                                   : (a & A_RETRANS)  ? "retransmission"
                                                      : "out-of-order");
            xu_col_u32(&r, "Bytes", g.seglen);
            if (xu_row_submit(key, &r) == NMERR_EXPERT_TERMINATE) {
                cleanup(&s);
                return TRUE;
            }
        }
    }
    if (rc == NMERR_EXPERT_TERMINATE) {
        cleanup(&s);
        return TRUE;
    }
    rc = report(&s, &cf, tcp_frames);
    cleanup(&s);
    return TRUE;
}
