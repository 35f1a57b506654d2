/* Server Response Time: per protocol (generic TCP request/response, DNS,
 * HTTP, TLS handshakes, SMB2) and per server address and port, the number
 * of exchanges and the minimum, mean, maximum and 95th percentile of the
 * time from request to response (see README.md). Built against
 * nmexpert/netmon.h and experts/common/ alone. */
#define _GNU_SOURCE /* qsort_r */
#include "resptime.h"

#include "xu_addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TH_SYN 0x02
#define TH_ACK 0x10

static const char *const proto_label[NPROTO] = {"TCP", "DNS", "HTTP", "TLS", "SMB2"};
static const char *const proto_word[NPROTO] = {"tcp", "dns", "http", "tls", "smb2"};
static const char *const proto_title[NPROTO] = {"Response time by server", "DNS response time by server",
                                                "HTTP response time by server", "TLS handshake time by server",
                                                "SMB2 response time by server"};
/* Table 1 is generic TCP (as before the protocols came), 2 the exchanges,
 * 3 the protocols side by side, 4.. one per protocol. */
static const DWORD proto_table[NPROTO] = {1, 4, 5, 6, 7};

/* ---- configuration ---- */

static int add_port(const char *word, void *ctx)
{
    cfg *c = ctx;
    unsigned long p;
    if (!xu_parse_uint(word, 65535, &p) || p == 0)
        return 1;
    if (c->nports == MAX_PORTS) {
        snprintf(c->bad, sizeof c->bad, "more than %d ports", MAX_PORTS);
        return 2;
    }
    c->ports[c->nports++] = (uint16_t)p;
    return 0;
}

static int add_proto(const char *word, void *ctx)
{
    cfg *c = ctx;
    for (int p = 0; p < NPROTO; p++)
        if (!strcmp(word, proto_word[p])) {
            c->protos |= 1u << p;
            return 0;
        }
    return 1;
}

static int cfg_line(const char *k, const char *v, void *ctx)
{
    cfg *c = ctx;
    int rc = 0;
    if (!strcmp(k, "ports")) {
        c->nports = 0;
        rc = *v ? xu_each_word(v, add_port, c) : 0;
        if (rc == 2)
            return 1; /* the message is set */
    } else if (!strcmp(k, "protocols")) {
        c->protos = 0;
        rc = xu_each_word(v, add_proto, c);
    } else if (!strcmp(k, "top")) {
        rc = !xu_parse_uint(v, 4294967295ul, &c->top);
    } else if (!strcmp(k, "detail")) {
        rc = !xu_parse_bool(v, &c->detail);
    } else {
        snprintf(c->bad, sizeof c->bad, "unknown key \"%.60s\"", k);
        return 1;
    }
    if (rc)
        snprintf(c->bad, sizeof c->bad, "bad value for %.40s: \"%.60s\"", k, v);
    return rc != 0;
}

static int cfg_load(const EXPERTCONFIG *blob, cfg *c)
{
    memset(c, 0, sizeof *c);
    c->protos = (1u << NPROTO) - 1;
    return xu_config_load(blob, cfg_line, c, c->bad, sizeof c->bad);
}

static int port_listed(const cfg *c, uint16_t p)
{
    for (unsigned i = 0; i < c->nports; i++)
        if (c->ports[i] == p)
            return 1;
    return 0;
}

static const char DEFAULT_CONFIG[] = "# Server Response Time (see README.md)\n"
                                     "# protocols: which to time (tcp = any request/response over TCP)\n"
                                     "protocols=tcp,dns,http,tls,smb2\n"
                                     "# ports: server ports to measure, comma-separated (empty = every port)\n"
                                     "ports=\n"
                                     "# top=N: list the N servers with most exchanges (0 = all)\n"
                                     "top=0\n"
                                     "# detail=1: also list every exchange (table 2)\n"
                                     "detail=0\n";

/* ---- servers and their samples ---- */

typedef struct server_key {
    uint8_t proto, fam, pad[2];
    uint16_t port, pad2;
    uint8_t addr[16];
} server_key;

typedef struct server {
    server_key k;
    DWORD first_frame;
} server;

RT_INTERNAL DWORD rt_sample(state *s, int p, const xu_flow_key *k, int side, DWORD req_frame, int64_t req_ts,
                            const xu_frame *rsp)
{
    if (s->cf->nports && !port_listed(s->cf, k->port[side]))
        return NMERR_SUCCESS;
    server_key sk;
    memset(&sk, 0, sizeof sk);
    sk.proto = (uint8_t)p;
    sk.fam = k->fam;
    sk.port = k->port[side];
    memcpy(sk.addr, k->addr[side], 16);
    DWORD err = NMERR_SUCCESS;
    long i = xu_map_find(&s->servers, &sk, sizeof sk);
    if (i < 0) {
        if ((i = xu_map_add(&s->servers, &sk, sizeof sk, &err)) < 0)
            return err;
        ((server *)xu_map_item(&s->servers, (size_t)i))->first_frame = rsp->number;
    }
    if (s->ns == s->caps) {
        size_t nc = s->caps ? s->caps * 2 : 256;
        sample *v = ExpertReallocMemory(s->key, s->s, nc * sizeof *v, &err);
        if (!v)
            return err;
        s->s = v;
        s->caps = nc;
    }
    int64_t dt = rsp->ts_ns - req_ts;
    sample *x = &s->s[s->ns++];
    x->server = (uint32_t)i;
    x->req_frame = req_frame;
    x->rsp_frame = rsp->number;
    x->dt = dt < 0 ? 0 : dt; /* time stamps out of order */
    if (!s->cf->detail)
        return NMERR_SUCCESS;
    char a[64];
    xu_fmt_addr(a, sizeof a, sk.fam, sk.addr);
    xu_row r;
    xu_row_begin(&r, NAME, 2, "Exchanges");
    xu_col_str(&r, "Protocol", proto_label[p]);
    xu_col_str(&r, "Server", a);
    xu_col_u32(&r, "Port", sk.port);
    NMCOLUMNINFO *col = xu_col(&r, "Request frame", NMCOLUMNTYPE_FRAME);
    if (col)
        col->VariantData.Value.FrameVal = req_frame;
    col = xu_col(&r, "Response frame", NMCOLUMNTYPE_FRAME);
    if (col)
        col->VariantData.Value.FrameVal = rsp->number;
    xu_col_f64(&r, "Time (ms)", (double)x->dt / 1e6);
    return xu_row_submit(s->key, &r);
}

/* ---- generic TCP request/response ---- */

/* The flow of segment g, created the way the generic TCP timing has always
 * told client from server: the destination of a SYN, the source of a
 * SYN/ACK; mid-stream, a configured port, else the lower port. A SYN from
 * the side taken for the server reuses the tuple the other way round: a new
 * flow. */
static flow *tcp_flow(state *s, const xu_seg *g, int *side, DWORD *err)
{
    xu_flow_key k;
    *side = xu_flow_key_of(&k, g->fam, 6, g->src, g->sp, g->dst, g->dp);
    long i = xu_map_find(&s->flows, &k, sizeof k);
    flow *fl = i >= 0 ? xu_map_item(&s->flows, (size_t)i) : NULL;
    int syn = (g->flags & (TH_SYN | TH_ACK)) == TH_SYN, synack = (g->flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
    if (fl && !(syn && *side == fl->server && !fl->waiting && fl->server_known))
        return fl;
    int src_is_server;
    if (syn)
        src_is_server = 0;
    else if (synack)
        src_is_server = 1;
    else if (s->cf->nports && port_listed(s->cf, g->sp) != port_listed(s->cf, g->dp))
        src_is_server = port_listed(s->cf, g->sp);
    else
        src_is_server = g->sp < g->dp;
    if ((i = xu_map_add(&s->flows, &k, sizeof k, err)) < 0)
        return NULL;
    fl = xu_map_item(&s->flows, (size_t)i);
    fl->server = (uint8_t)(src_is_server ? *side : !*side);
    fl->server_known = (uint8_t)(syn || synack);
    return fl;
}

/* A request is the client's data after the server's last (or the first);
 * its response the server's first data after it. The same SYN seen again
 * (a resend, or a copy delayed in the network) changes nothing. */
static DWORD tcp_exchange(state *s, const seen *x)
{
    flow *fl = x->fl;
    const xu_seg *g = &x->g;
    int from_server = x->side == fl->server;
    if ((g->flags & (TH_SYN | TH_ACK)) == TH_SYN && !from_server && !(fl->syn_seen && fl->syn_seq == g->seq)) {
        fl->waiting = 0; /* a new connection on the tuple: no request yet */
        fl->syn_seen = 1;
        fl->syn_seq = g->seq;
    }
    if (g->seglen == 0)
        return NMERR_SUCCESS;
    if (!from_server) {
        if (!fl->waiting) { /* the first segment of a request */
            fl->waiting = 1;
            fl->req_ts = x->f->ts_ns;
            fl->req_frame = x->f->number;
        }
        return NMERR_SUCCESS;
    }
    if (!fl->waiting)
        return NMERR_SUCCESS; /* more of the same reply */
    fl->waiting = 0;
    return rt_sample(s, P_TCP, &fl->k, x->side, fl->req_frame, fl->req_ts, x->f);
}

/* ---- a frame ---- */

static DWORD frame(state *s, const xu_frame *f)
{
    seen x = {.f = f};
    DWORD rc = NMERR_SUCCESS;
    unsigned want = s->cf->protos;
    if ((x.tcp = xu_tcp_parse(f, &x.g))) {
        if (!(x.fl = tcp_flow(s, &x.g, &x.side, &rc)))
            return rc;
        uint32_t end = x.g.seq + x.g.seglen;
        x.copy = x.fl->data_seen[x.side] && (int32_t)(end - x.fl->data_end[x.side]) <= 0;
        if (x.g.seglen && !x.copy) {
            x.fl->data_end[x.side] = end;
            x.fl->data_seen[x.side] = 1;
        }
        if (want & 1u << P_TCP)
            rc = tcp_exchange(s, &x);
        if (rc == NMERR_SUCCESS && (want & 1u << P_HTTP) && x.g.seglen && !x.copy &&
            (xu_has(f, NMX_PROTO_HTTP) || xu_has(f, NMX_PROTO_PAYLOAD)))
            rc = rt_http(s, &x);
        if (rc == NMERR_SUCCESS && (want & 1u << P_TLS) && !x.copy && xu_has(f, NMX_PROTO_TLS))
            rc = rt_tls(s, &x);
        if (rc == NMERR_SUCCESS && (want & 1u << P_SMB2) && x.g.seglen && !x.copy &&
            (xu_has(f, NMX_PROTO_SMB2) || xu_has(f, NMX_PROTO_PAYLOAD)))
            rc = rt_smb2(s, &x);
    } else if (!xu_udp_parse(f, &x.g)) {
        return NMERR_SUCCESS;
    }
    if (rc != NMERR_SUCCESS || !(want & 1u << P_DNS) ||
        !(xu_has(f, NMX_PROTO_DNS) || xu_has(f, NMX_PROTO_MDNS) || xu_has(f, NMX_PROTO_LLMNR)))
        return rc;
    flow uf; /* UDP: the flow is only its key */
    if (!x.fl) {
        memset(&uf, 0, sizeof uf);
        x.side = xu_flow_key_of(&uf.k, x.g.fam, 17, x.g.src, x.g.sp, x.g.dst, x.g.dp);
        x.fl = &uf;
    }
    return rt_dns(s, &x);
}

/* ---- the report ---- */

/* Samples by server, then time: each server's run is in order. */
static int by_server_time(const void *pa, const void *pb)
{
    const sample *a = pa, *b = pb;
    if (a->server != b->server)
        return a->server < b->server ? -1 : 1;
    return a->dt < b->dt ? -1 : a->dt > b->dt;
}

typedef struct figures {
    uint64_t n;
    int64_t min, max, p95;
    double sum;
} figures;

/* The figures of n sorted times: p95 by the nearest rank (the smallest time
 * with at least 95 % of the times at or below it). */
static figures figures_of(const sample *v, size_t n)
{
    figures x = {n, v[0].dt, v[n - 1].dt, v[(n * 95 + 99) / 100 - 1].dt, 0};
    for (size_t i = 0; i < n; i++)
        x.sum += (double)v[i].dt;
    return x;
}

static void figure_cols(xu_row *r, const figures *x)
{
    xu_col_f64(r, "Exchanges", (double)x->n);
    xu_col_f64(r, "Min (ms)", (double)x->min / 1e6);
    xu_col_f64(r, "Mean (ms)", x->sum / (double)x->n / 1e6);
    xu_col_f64(r, "Max (ms)", (double)x->max / 1e6);
    xu_col_f64(r, "P95 (ms)", (double)x->p95 / 1e6);
}

typedef struct srow {
    const server *sv;
    figures x;
} srow;

/* Most exchanges first; ties in the order the servers were first seen. */
static int by_exchanges(const void *pa, const void *pb)
{
    const srow *a = pa, *b = pb;
    if (a->x.n != b->x.n)
        return a->x.n > b->x.n ? -1 : 1;
    return a->sv->first_frame < b->sv->first_frame ? -1 : a->sv->first_frame > b->sv->first_frame;
}

static DWORD server_rows(state *s, int p, srow *rows, size_t n)
{
    qsort(rows, n, sizeof *rows, by_exchanges);
    if (s->cf->top && n > s->cf->top)
        n = s->cf->top;
    DWORD rc = NMERR_SUCCESS;
    for (size_t i = 0; i < n && rc == NMERR_SUCCESS; i++) {
        char a[64];
        xu_fmt_addr(a, sizeof a, rows[i].sv->k.fam, rows[i].sv->k.addr);
        xu_row r;
        xu_row_begin(&r, NAME, proto_table[p], proto_title[p]);
        xu_col_str(&r, "Protocol", proto_label[p]);
        xu_col_str(&r, "Server", a);
        xu_col_u32(&r, "Port", rows[i].sv->k.port);
        figure_cols(&r, &rows[i].x);
        rc = xu_row_submit(s->key, &r);
    }
    return rc;
}

/* One row per protocol with exchanges (table 3), then each protocol's
 * servers. Times per protocol need the samples in time order across its
 * servers: a second sort of a copy. */
static DWORD report(state *s)
{
    DWORD rc = NMERR_SUCCESS;
    size_t nsv = s->servers.n;
    srow *rows = ExpertAllocMemory(s->key, (nsv ? nsv : 1) * sizeof *rows, &rc);
    sample *byp = rows ? ExpertAllocMemory(s->key, (s->ns ? s->ns : 1) * sizeof *byp, &rc) : NULL;
    if (!byp) {
        ExpertFreeMemory(s->key, rows);
        return rc;
    }
    if (s->ns) /* s->s is NULL before the first exchange */
        qsort(s->s, s->ns, sizeof *s->s, by_server_time);
    for (int p = 0; p < NPROTO && rc == NMERR_SUCCESS; p++) {
        size_t nr = 0, nb = 0;
        for (size_t i = 0; i < s->ns;) {
            size_t j = i;
            while (j < s->ns && s->s[j].server == s->s[i].server)
                j++;
            const server *sv = xu_map_item(&s->servers, s->s[i].server);
            if (sv->k.proto == p) {
                rows[nr].sv = sv;
                rows[nr++].x = figures_of(s->s + i, j - i);
                for (size_t k = i; k < j; k++) {
                    byp[nb] = s->s[k];
                    byp[nb++].server = 0;
                }
            }
            i = j;
        }
        if (!nb)
            continue;
        qsort(byp, nb, sizeof *byp, by_server_time);
        figures all = figures_of(byp, nb);
        xu_row r;
        xu_row_begin(&r, NAME, 3, "Response time by protocol");
        xu_col_str(&r, "Protocol", proto_label[p]);
        figure_cols(&r, &all);
        xu_col_f64(&r, "Servers", (double)nr);
        if ((rc = xu_row_submit(s->key, &r)) == NMERR_SUCCESS)
            rc = server_rows(s, p, rows, nr);
    }
    ExpertFreeMemory(s->key, byp);
    ExpertFreeMemory(s->key, rows);
    return rc;
}

/* ---- entry points ---- */

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Server response time per protocol and server: DNS queries, HTTP requests, TLS "
                       "handshakes, SMB2 commands and any TCP request/response, with count, minimum, mean, "
                       "maximum and 95th percentile",
                       2);
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

static void cleanup(state *s)
{
    xu_map_free(&s->flows);
    xu_map_free(&s->dns);
    xu_map_free(&s->smb2);
    xu_map_free(&s->servers);
    ExpertFreeMemory(s->key, s->s);
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags, HWND window)
{
    (void)flags;
    (void)window;
    cfg cf;
    if (!xu_run_config(key, cfg_load(config, &cf), cf.bad))
        return FALSE;
    state s;
    memset(&s, 0, sizeof s);
    s.key = key;
    s.cf = &cf;
    xu_map_init(&s.flows, key, sizeof(xu_flow_key), sizeof(flow));
    xu_map_init(&s.servers, key, sizeof(server_key), sizeof(server));
    rt_proto_init(&s);
    xu_walk w;
    xu_frame f;
    DWORD rc = NMERR_SUCCESS;
    xu_walk_begin(&w, key, startup, "Timing requests and responses");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f))
        rc = frame(&s, &f);
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    if (rc == NMERR_NO_MORE_FRAMES)
        rc = report(&s);
    cleanup(&s);
    return xu_run_end(key, NAME, rc);
}
