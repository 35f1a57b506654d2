/* Server Response Time: per server address and port, the number of
 * request/response exchanges and the minimum, mean and maximum time from the
 * first segment of a client's request to the first data segment of the
 * server's reply (see README.md). Built against nmexpert/netmon.h and
 * experts/common/expert_util.h alone. */
#include <nmexpert/netmon.h>

#include "expert_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME "Server Response Time"
#define MAX_PORTS 64

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* ---- configuration ---- */

typedef struct cfg {
    uint16_t ports[MAX_PORTS];
    unsigned nports;      /* 0: every port */
    unsigned long top;    /* 0: every server */
    int detail;           /* table 2: every exchange */
    char bad[128];
} cfg;

static int cfg_line(const char *k, const char *v, void *ctx)
{
    cfg *c = ctx;
    if (!strcmp(k, "ports")) {
        c->nports = 0;
        const char *s = v;
        while (*s) {
            while (*s == ' ' || *s == ',')
                s++;
            if (!*s)
                break;
            char *end;
            unsigned long p = strtoul(s, &end, 10);
            if (end == s || p == 0 || p > 65535 || (*end && *end != ',' && *end != ' '))
                goto bad;
            if (c->nports == MAX_PORTS) {
                snprintf(c->bad, sizeof c->bad, "more than %d ports", MAX_PORTS);
                return 1;
            }
            c->ports[c->nports++] = (uint16_t)p;
            s = end;
        }
    } else if (!strcmp(k, "top")) {
        char *end;
        if (!*v || *v == '-')
            goto bad;
        unsigned long n = strtoul(v, &end, 10);
        if (*end)
            goto bad;
        c->top = n;
    } else if (!strcmp(k, "detail")) {
        if (strcmp(v, "0") && strcmp(v, "1"))
            goto bad;
        c->detail = v[0] == '1';
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
    int rc = xu_config_each(blob, cfg_line, c);
    if (rc == -1)
        snprintf(c->bad, sizeof c->bad, "a line without '='");
    return rc == 0;
}

static int port_listed(const cfg *c, uint16_t p)
{
    for (unsigned i = 0; i < c->nports; i++)
        if (c->ports[i] == p)
            return 1;
    return 0;
}

static const char DEFAULT_CONFIG[] = "# Server Response Time (see README.md)\n"
                                     "# ports: server ports to measure, comma-separated (empty = every port)\n"
                                     "ports=\n"
                                     "# top=N: list the N servers with most exchanges (0 = all)\n"
                                     "top=0\n"
                                     "# detail=1: also list every exchange (table 2)\n"
                                     "detail=0\n";

/* ---- tables ---- */

typedef struct conn {
    uint8_t fam;
    uint8_t addr[2][16]; /* [1] is the server */
    uint16_t port[2];
    int server_known;    /* from a SYN or SYN/ACK */
    int waiting;         /* a request started, no reply yet */
    int syn_seen;        /* the client's SYN, and its sequence number */
    uint32_t syn_seq;
    int64_t req_ts;
    DWORD req_frame;
    uint32_t next_in_chain;
} conn;

typedef struct server {
    uint8_t fam;
    uint8_t addr[16];
    uint16_t port;
    uint64_t n;
    int64_t min, max;
    double sum;
    DWORD first_frame;
    uint32_t next_in_chain;
} server;

typedef struct table {
    void *items;
    size_t n, cap, size;
    int is_conn; /* items are conns, else servers */
    uint32_t *buckets;
    size_t nbuckets;
} table;

typedef struct state {
    HEXPERTKEY key;
    table conns, servers;
} state;

static uint32_t mix(uint32_t h)
{
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

static uint32_t fnv(uint32_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static uint32_t ep_hash(uint8_t fam, const uint8_t *a, uint16_t port)
{
    uint8_t pb[2] = {(uint8_t)(port >> 8), (uint8_t)port};
    return fnv(fnv(2166136261u, a, fam == 4 ? 4 : 16), pb, 2);
}

static uint32_t conn_hash(const conn *c)
{
    uint32_t a = ep_hash(c->fam, c->addr[0], c->port[0]), b = ep_hash(c->fam, c->addr[1], c->port[1]);
    return mix(a ^ b ^ (a + b));
}

static uint32_t server_hash(const server *s)
{
    return mix(ep_hash(s->fam, s->addr, s->port));
}

static uint32_t item_hash(const table *t, size_t i)
{
    const uint8_t *p = (const uint8_t *)t->items + i * t->size;
    return t->is_conn ? conn_hash((const conn *)p) : server_hash((const server *)p);
}

static uint32_t *chain_of(const table *t, size_t i)
{
    uint8_t *p = (uint8_t *)t->items + i * t->size;
    return t->is_conn ? &((conn *)p)->next_in_chain : &((server *)p)->next_in_chain;
}

static DWORD rehash(HEXPERTKEY key, table *t, size_t nb)
{
    DWORD err = NMERR_SUCCESS;
    uint32_t *b = ExpertAllocMemory(key, nb * sizeof *b, &err);
    if (!b)
        return err;
    ExpertFreeMemory(key, t->buckets);
    t->buckets = b;
    t->nbuckets = nb;
    for (size_t i = 0; i < t->n; i++) {
        uint32_t h = item_hash(t, i) & (uint32_t)(nb - 1);
        *chain_of(t, i) = b[h];
        b[h] = (uint32_t)i + 1;
    }
    return NMERR_SUCCESS;
}

/* Appends a zeroed item; the caller fills it and calls link_last. */
static void *append(HEXPERTKEY key, table *t, DWORD *err)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        void *p = ExpertReallocMemory(key, t->items, nc * t->size, err);
        if (!p)
            return NULL;
        t->items = p;
        t->cap = nc;
    }
    if (t->n + 1 > t->nbuckets / 2) {
        DWORD e = rehash(key, t, t->nbuckets ? t->nbuckets * 2 : 128);
        if (e != NMERR_SUCCESS) {
            *err = e;
            return NULL;
        }
    }
    void *p = (uint8_t *)t->items + t->n * t->size;
    memset(p, 0, t->size);
    t->n++;
    return p;
}

static void link_last(table *t)
{
    size_t i = t->n - 1;
    uint32_t h = item_hash(t, i) & (uint32_t)(t->nbuckets - 1);
    *chain_of(t, i) = t->buckets[h];
    t->buckets[h] = (uint32_t)i + 1;
}

static void table_free(HEXPERTKEY key, table *t)
{
    ExpertFreeMemory(key, t->items);
    ExpertFreeMemory(key, t->buckets);
    t->items = NULL;
    t->buckets = NULL;
}

static conn *find_conn(state *s, const xu_seg *g, int *from_server)
{
    table *t = &s->conns;
    if (!t->nbuckets)
        return NULL;
    size_t al = g->fam == 4 ? 4 : 16;
    uint32_t a = ep_hash(g->fam, g->src, g->sp), b = ep_hash(g->fam, g->dst, g->dp);
    uint32_t h = mix(a ^ b ^ (a + b)) & (uint32_t)(t->nbuckets - 1);
    for (uint32_t i = t->buckets[h]; i; i = ((conn *)t->items)[i - 1].next_in_chain) {
        conn *c = &((conn *)t->items)[i - 1];
        if (c->fam != g->fam)
            continue;
        for (int side = 0; side < 2; side++)
            if (c->port[side] == g->sp && c->port[!side] == g->dp && !memcmp(c->addr[side], g->src, al) &&
                !memcmp(c->addr[!side], g->dst, al)) {
                *from_server = side;
                return c;
            }
    }
    return NULL;
}

static server *find_server(state *s, const conn *c, DWORD frame, DWORD *err)
{
    table *t = &s->servers;
    size_t al = c->fam == 4 ? 4 : 16;
    if (t->nbuckets) {
        uint32_t h = mix(ep_hash(c->fam, c->addr[1], c->port[1])) & (uint32_t)(t->nbuckets - 1);
        for (uint32_t i = t->buckets[h]; i; i = ((server *)t->items)[i - 1].next_in_chain) {
            server *v = &((server *)t->items)[i - 1];
            if (v->fam == c->fam && v->port == c->port[1] && !memcmp(v->addr, c->addr[1], al))
                return v;
        }
    }
    server *v = append(s->key, t, err);
    if (!v)
        return NULL;
    v->fam = c->fam;
    memcpy(v->addr, c->addr[1], al);
    v->port = c->port[1];
    v->first_frame = frame;
    link_last(t);
    return v;
}

/* ---- output ---- */

static void fmt_addr(char *buf, size_t len, uint8_t fam, const uint8_t *a)
{
    if (fam == 4) {
        snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
        return;
    }
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
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < 8 && n < len; i++) {
        if (i == best) {
            n += (size_t)snprintf(buf + n, len - n, "::");
            i += bestlen - 1;
            continue;
        }
        n += (size_t)snprintf(buf + n, len - n, "%s%x", (n && buf[n - 1] != ':') ? ":" : "", w[i]);
    }
}

static int by_exchanges(const void *pa, const void *pb)
{
    const server *a = *(const server *const *)pa, *b = *(const server *const *)pb;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return a->first_frame < b->first_frame ? -1 : a->first_frame > b->first_frame;
}

static DWORD report(state *s, const cfg *cf)
{
    DWORD err = NMERR_SUCCESS;
    size_t n = s->servers.n;
    server **order = ExpertAllocMemory(s->key, (n ? n : 1) * sizeof *order, &err);
    if (!order)
        return err;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        server *v = &((server *)s->servers.items)[i];
        if (v->n)
            order[m++] = v;
    }
    qsort(order, m, sizeof *order, by_exchanges);
    if (cf->top && m > cf->top)
        m = cf->top;
    for (size_t i = 0; i < m && err == NMERR_SUCCESS; i++) {
        const server *v = order[i];
        char a[64];
        fmt_addr(a, sizeof a, v->fam, v->addr);
        xu_row r;
        xu_row_begin(&r, NAME, 1, "Response time by server");
        xu_col_str(&r, "Server", a);
        xu_col_u32(&r, "Port", v->port);
        xu_col_f64(&r, "Exchanges", (double)v->n);
        xu_col_f64(&r, "Min (ms)", (double)v->min / 1e6);
        xu_col_f64(&r, "Mean (ms)", v->sum / (double)v->n / 1e6);
        xu_col_f64(&r, "Max (ms)", (double)v->max / 1e6);
        err = xu_row_submit(s->key, &r);
    }
    ExpertFreeMemory(s->key, order);
    return err;
}

/* ---- entry points ---- */

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Average server response time per server address and port: request/response exchanges over TCP "
                       "and the minimum, mean and maximum time from a request's first segment to the reply's first",
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

static void cleanup(state *s)
{
    table_free(s->key, &s->conns);
    table_free(s->key, &s->servers);
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
    s.conns.size = sizeof(conn);
    s.conns.is_conn = 1;
    s.servers.size = sizeof(server);
    DWORD total = startup ? GetCaptureTotalFrames(startup->hCapture) : 0;
    LONG last = -1;
    DWORD number = INVALID_FRAME_NUMBER, rc, err = NMERR_SUCCESS;
    xu_frame f;
    static const char *text = "Timing requests and responses";
    if (ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, text, 0) == NMERR_EXPERT_TERMINATE)
        return TRUE;
    while ((rc = xu_next(key, &number, NULL, &f)) == NMERR_SUCCESS) {
        if (xu_progress(key, number, total, &last, text) == NMERR_EXPERT_TERMINATE) {
            cleanup(&s);
            return TRUE;
        }
        xu_seg g;
        if (!xu_tcp_parse(&f, &g))
            continue;
        int from_server = 0;
        conn *c = find_conn(&s, &g, &from_server);
        int syn = (g.flags & (TH_SYN | TH_ACK)) == TH_SYN, synack = (g.flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK);
        if (c && syn && from_server && !c->waiting && c->server_known) {
            /* a SYN from the side we took for the server: the tuple is
             * reused the other way round; start afresh */
            c = NULL;
        }
        if (!c) {
            /* The server: the SYN's destination, the SYN/ACK's source;
             * mid-stream, a configured port, else the lower port. */
            int src_is_server;
            if (syn)
                src_is_server = 0;
            else if (synack)
                src_is_server = 1;
            else if (cf.nports && port_listed(&cf, g.sp) != port_listed(&cf, g.dp))
                src_is_server = port_listed(&cf, g.sp);
            else
                src_is_server = g.sp < g.dp;
            c = append(key, &s.conns, &err);
            if (!c)
                break;
            size_t al = g.fam == 4 ? 4 : 16;
            c->fam = g.fam;
            memcpy(c->addr[0], src_is_server ? g.dst : g.src, al);
            memcpy(c->addr[1], src_is_server ? g.src : g.dst, al);
            c->port[0] = src_is_server ? g.dp : g.sp;
            c->port[1] = src_is_server ? g.sp : g.dp;
            c->server_known = syn || synack;
            link_last(&s.conns);
            from_server = src_is_server;
        }
        if (syn && !from_server && !(c->syn_seen && c->syn_seq == g.seq)) {
            c->waiting = 0; /* a new connection on the tuple: no request yet */
            c->syn_seen = 1;
            c->syn_seq = g.seq;
        } /* the same SYN again (a resend, or a copy delayed in the network)
           * changes nothing: a request pending stays pending */
        if (g.seglen == 0 || (cf.nports && !port_listed(&cf, c->port[1])))
            continue;
        if (!from_server) {
            if (!c->waiting) { /* the first segment of a request */
                c->waiting = 1;
                c->req_ts = f.ts_ns;
                c->req_frame = number;
            }
            continue;
        }
        if (!c->waiting)
            continue; /* more of the same reply */
        c->waiting = 0;
        int64_t dt = f.ts_ns - c->req_ts;
        if (dt < 0)
            dt = 0; /* time stamps out of order */
        server *v = find_server(&s, c, number, &err);
        if (!v)
            break;
        if (!v->n || dt < v->min)
            v->min = dt;
        if (!v->n || dt > v->max)
            v->max = dt;
        v->n++;
        v->sum += (double)dt;
        if (cf.detail) {
            char a[64];
            fmt_addr(a, sizeof a, v->fam, v->addr);
            xu_row r;
            xu_row_begin(&r, NAME, 2, "Exchanges");
            xu_col_str(&r, "Server", a);
            xu_col_u32(&r, "Port", v->port);
            NMCOLUMNINFO *col = xu_col(&r, "Request frame", NMCOLUMNTYPE_FRAME);
            if (col)
                col->VariantData.Value.FrameVal = c->req_frame;
            col = xu_col(&r, "Response frame", NMCOLUMNTYPE_FRAME);
            if (col)
                col->VariantData.Value.FrameVal = number;
            xu_col_f64(&r, "Time (ms)", (double)dt / 1e6);
            if (xu_row_submit(key, &r) == NMERR_EXPERT_TERMINATE) {
                cleanup(&s);
                return TRUE;
            }
        }
    }
    if (rc == NMERR_SUCCESS) { /* left the loop on an allocation failure */
        cleanup(&s);
        if (err == NMERR_EXPERT_TERMINATE)
            return TRUE;
        ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, "out of memory", 0);
        return FALSE;
    }
    if (rc == NMERR_EXPERT_TERMINATE) {
        cleanup(&s);
        return TRUE;
    }
    report(&s, &cf);
    cleanup(&s);
    return TRUE;
}
