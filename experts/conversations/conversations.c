/* Conversations: per Ethernet, IPv4, IPv6, TCP and UDP conversation, the
 * frames and bytes each way, when it started and how long it lasted, as
 * Wireshark's `-z conv,eth|ip|ipv6|tcp|udp` counts them. See README.md.
 * Built against nmexpert/netmon.h and experts/common/ alone. */
#include <nmexpert/netmon.h>

#include "expert_util.h"
#include "xu_addr.h"
#include "xu_map.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Conversations"
#define DEFAULT_TOP 20u

enum { T_ETH, T_IP4, T_IP6, T_TCP, T_UDP, NTYPES };
static const char *const type_names[NTYPES] = {"eth", "ip", "ipv6", "tcp", "udp"};
static const char *const titles[NTYPES] = {"Ethernet Conversations", "IPv4 Conversations",
                                           "IPv6 Conversations", "TCP Conversations",
                                           "UDP Conversations"};

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Ethernet, IPv4, IPv6, TCP and UDP conversations: frames and bytes each way, start and "
                       "duration, most frames first (config: top=N, types=eth,ip,ipv6,tcp,udp)",
                       1);
}

/* ---- configuration ---- */

typedef struct cv_config {
    unsigned long top;
    unsigned types; /* bit t: table t reported */
    char error[200];
} cv_config;

static int add_type(const char *word, void *ctx)
{
    unsigned *m = ctx;
    for (int k = 0; k < NTYPES; k++)
        if (!strcmp(word, type_names[k])) {
            *m |= 1u << k;
            return 0;
        }
    return 1;
}

static int parse_types(const char *v, unsigned *out)
{
    unsigned m = 0;
    if (xu_each_word(v, add_type, &m))
        return 0;
    *out = m;
    return 1;
}

static int cfg_line(const char *k, const char *v, void *ctx)
{
    cv_config *c = ctx;
    if (!strcmp(k, "top")) {
        if (xu_parse_uint(v, 100000000ul, &c->top))
            return 0;
        snprintf(c->error, sizeof c->error, "top=%.60s: not a number of rows", v);
        return 1;
    }
    if (!strcmp(k, "types")) {
        if (parse_types(v, &c->types))
            return 0;
        snprintf(c->error, sizeof c->error, "types=%.60s: not a list of eth, ip, ipv6, tcp, udp", v);
        return 1;
    }
    snprintf(c->error, sizeof c->error, "unknown configuration key \"%.60s\" (known: top, types)", k);
    return 1;
}

static int cfg_parse(const EXPERTCONFIG *cfg, cv_config *c)
{
    memset(c, 0, sizeof *c);
    c->top = DEFAULT_TOP;
    c->types = (1u << NTYPES) - 1;
    return xu_config_load(cfg, cfg_line, c, c->error, sizeof c->error);
}

static void normalise(const cv_config *c, char *text, size_t len)
{
    char types[64] = "";
    for (int t = 0; t < NTYPES; t++)
        if (c->types & (1u << t))
            snprintf(types + strlen(types), sizeof types - strlen(types), "%s%s", types[0] ? "," : "",
                     type_names[t]);
    snprintf(text, len, "top=%lu\ntypes=%s\n", c->top, types);
}

XU_CONFIGURE(cv_config, cfg_parse, normalise)

/* ---- conversations ---- */

typedef struct conv_key {
    uint8_t type, pad[3]; /* T_* */
    xu_flow_key k;        /* lower endpoint first; ports 0 but for TCP and UDP */
} conv_key;

typedef struct conv {
    conv_key key;
    uint8_t a;                    /* which side of key.k is A: the first frame's source */
    uint64_t frames[2], bytes[2]; /* [0] A to B, [1] B to A */
    int64_t first, last;          /* the earliest and latest time stamps, ns */
    xu_tcp_bases b;               /* TCP: [0] A's, [1] B's */
} conv;

typedef struct state {
    xu_map convs; /* in first-seen order; a reused TCP tuple's newest stream is found */
    int64_t t0;   /* the capture's first frame: start times are relative to it */
} state;

/* Counts frame f in the conversation of type t between (a, pa) and (b, pb).
 * TCP: a SYN that is not its side's first starts a new conversation. */
static DWORD count(state *s, const xu_frame *f, int type, int fam, const uint8_t *a, uint16_t pa,
                   const uint8_t *b, uint16_t pb, const xu_seg *tcp)
{
    conv_key k;
    memset(&k, 0, sizeof k);
    k.type = (uint8_t)type;
    int side = xu_flow_key_of(&k.k, fam, 0, a, pa, b, pb);
    DWORD err = NMERR_SUCCESS;
    long i = xu_map_find(&s->convs, &k, sizeof k);
    conv *c = i >= 0 ? xu_map_item(&s->convs, (size_t)i) : NULL;
    int dir = c ? side != c->a : 0;
    if (!c || (tcp && xu_tcp_new_stream(&c->b, dir, tcp))) {
        if ((i = xu_map_add(&s->convs, &k, sizeof k, &err)) < 0)
            return err;
        c = xu_map_item(&s->convs, (size_t)i);
        c->a = (uint8_t)side;
        c->first = c->last = f->ts_ns;
        dir = 0;
    }
    if (tcp)
        xu_tcp_note(&c->b, dir, tcp);
    c->frames[dir]++;
    c->bytes[dir] += f->wirelen;
    if (f->ts_ns < c->first)
        c->first = f->ts_ns;
    if (f->ts_ns > c->last)
        c->last = f->ts_ns;
    return NMERR_SUCCESS;
}

/* Every Ethernet, IP, TCP and UDP header (a tunnel's inner and outer ones
 * alike, as Wireshark's taps see each; a transport with the IP header
 * before it), but none quoted in an ICMP error. */
static DWORD count_frame(state *s, const xu_frame *f, unsigned types)
{
    DWORD rc = NMERR_SUCCESS;
    for (unsigned i = 0; i < f->nlayers && rc == NMERR_SUCCESS; i++) {
        DWORD o = f->layer[i].off;
        const uint8_t *p = f->bytes + o;
        xu_seg g;
        switch (f->layer[i].proto) {
        case NMX_PROTO_ETHERNET:
            if ((types & 1u << T_ETH) && xu_avail(f, o) >= 12)
                rc = count(s, f, T_ETH, 0, p + 6, 0, p, 0, NULL);
            break;
        case NMX_PROTO_IPV4:
            if ((types & 1u << T_IP4) && xu_ipv4_tapped(f, o))
                rc = count(s, f, T_IP4, 4, p + 12, 0, p + 16, 0, NULL);
            break;
        case NMX_PROTO_IPV6:
            if ((types & 1u << T_IP6) && xu_ipv6_tapped(f, o))
                rc = count(s, f, T_IP6, 6, p + 8, 0, p + 24, 0, NULL);
            break;
        case NMX_PROTO_TCP:
            /* Wireshark's TCP tap sees a header only when all of it was
             * captured (options included): a cut one ends the dissection */
            if ((types & 1u << T_TCP) && xu_tcp_at(f, (int)i, &g) &&
                xu_avail(f, g.l4_off) >= (DWORD)(f->bytes[g.l4_off + 12] >> 4) * 4)
                rc = count(s, f, T_TCP, g.fam, g.src, g.sp, g.dst, g.dp, &g);
            break;
        case NMX_PROTO_UDP:
            if ((types & 1u << T_UDP) && xu_udp_at(f, (int)i, &g))
                rc = count(s, f, T_UDP, g.fam, g.src, g.sp, g.dst, g.dp, NULL);
            break;
        case NMX_PROTO_ICMP:
        case NMX_PROTO_ICMPV6:
            return rc; /* what follows is a quoted datagram, were it listed */
        default:
            break;
        }
    }
    return rc;
}

/* ---- the report ---- */

/* Most frames first; ties in the order first seen (index), as tshark. */
static int by_frames(const void *pa, const void *pb)
{
    const conv *a = *(const conv *const *)pa, *b = *(const conv *const *)pb;
    uint64_t fa = a->frames[0] + a->frames[1], fb = b->frames[0] + b->frames[1];
    if (fa != fb)
        return fa > fb ? -1 : 1;
    return a < b ? -1 : a > b;
}

static DWORD row(HEXPERTKEY key, const state *s, const conv *c)
{
    const xu_flow_key *k = &c->key.k;
    int type = c->key.type, ports = type == T_TCP || type == T_UDP;
    char a[64], b[64];
    xu_fmt_addr(a, sizeof a, k->fam, k->addr[c->a]);
    xu_fmt_addr(b, sizeof b, k->fam, k->addr[!c->a]);
    xu_row r;
    xu_row_begin(&r, NAME, (DWORD)type + 1, titles[type]);
    xu_col_str(&r, "Address A", a);
    if (ports)
        xu_col_u32(&r, "Port A", k->port[c->a]);
    xu_col_str(&r, "Address B", b);
    if (ports)
        xu_col_u32(&r, "Port B", k->port[!c->a]);
    xu_col_f64(&r, "Frames", (double)(c->frames[0] + c->frames[1]));
    xu_col_f64(&r, "Bytes", (double)(c->bytes[0] + c->bytes[1]));
    xu_col_f64(&r, "Frames A->B", (double)c->frames[0]);
    xu_col_f64(&r, "Bytes A->B", (double)c->bytes[0]);
    xu_col_f64(&r, "Frames B->A", (double)c->frames[1]);
    xu_col_f64(&r, "Bytes B->A", (double)c->bytes[1]);
    xu_col_f64(&r, "Start (s)", (double)(c->first - s->t0) / 1e9);
    xu_col_f64(&r, "Duration (s)", (double)(c->last - c->first) / 1e9);
    return xu_row_submit(key, &r);
}

static DWORD report(HEXPERTKEY key, const state *s, const cv_config *cfg)
{
    size_t n = s->convs.n;
    DWORD rc = NMERR_SUCCESS;
    const conv **v = ExpertAllocMemory(key, (n ? n : 1) * sizeof *v, &rc);
    if (!v)
        return rc;
    for (int t = 0; t < NTYPES && rc == NMERR_SUCCESS; t++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const conv *c = xu_map_item(&s->convs, i);
            if (c->key.type == t)
                v[m++] = c;
        }
        qsort(v, m, sizeof *v, by_frames);
        if (cfg->top && m > cfg->top)
            m = cfg->top;
        for (size_t i = 0; i < m && rc == NMERR_SUCCESS; i++)
            rc = row(key, s, v[i]);
    }
    ExpertFreeMemory(key, v);
    return rc;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)flags;
    (void)parent;
    cv_config cfg;
    if (!xu_run_config(key, cfg_parse(config, &cfg), cfg.error))
        return FALSE;
    state s;
    xu_map_init(&s.convs, key, sizeof(conv_key), sizeof(conv));
    s.t0 = xu_capture_t0(key);
    xu_walk w;
    xu_frame f;
    DWORD rc = NMERR_SUCCESS;
    xu_walk_begin(&w, key, startup, "Following conversations");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f))
        rc = count_frame(&s, &f, cfg.types);
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    if (rc == NMERR_NO_MORE_FRAMES)
        rc = report(key, &s, &cfg);
    xu_map_free(&s.convs);
    return xu_run_end(key, NAME, rc);
}
