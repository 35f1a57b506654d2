/* Top Users: per-endpoint frame and byte counts at the Ethernet, IPv4 and
 * IPv6 levels, as Wireshark's `-z endpoints,eth|ip|ipv6` count them.
 *
 * A frame counts once as sent (Tx) for its source address and once as
 * received (Rx) for its destination, with its wire length; Frames and Bytes
 * are Tx + Rx (so a frame from an address to itself counts twice, as in
 * tshark). Every header of each kind counts (a tunnel's inner ones too, as
 * Wireshark taps each); a bogus or truncated IP header is not counted, as
 * Wireshark's taps do not see it. Tables sorted by bytes, descending; config "top=N" (default 20,
 * 0 = all). See README.md.
 */
#include <nmexpert/netmon.h>

#include "expert_util.h"
#include "xu_addr.h"
#include "xu_map.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Top Users"
#define DEFAULT_TOP 20u

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Endpoints at the Ethernet, IPv4 and IPv6 levels: frames and bytes sent, received and "
                       "total, sorted by bytes (config: top=N)",
                       1);
}

/* ---- configuration ---- */

typedef struct tu_config {
    unsigned long top;
    char error[200];
} tu_config;

static int cfg_line(const char *k, const char *v, void *ctx)
{
    tu_config *c = ctx;
    if (strcmp(k, "top") == 0) {
        if (!xu_parse_uint(v, 100000000ul, &c->top)) {
            snprintf(c->error, sizeof c->error, "top=%.60s: not a number of rows", v);
            return 1;
        }
        return 0;
    }
    snprintf(c->error, sizeof c->error, "unknown configuration key \"%.60s\" (known: top)", k);
    return 1;
}

/* 1 if the blob is valid (or absent); fills *c. */
static int cfg_parse(const EXPERTCONFIG *cfg, tu_config *c)
{
    memset(c, 0, sizeof *c);
    c->top = DEFAULT_TOP;
    return xu_config_load(cfg, cfg_line, c, c->error, sizeof c->error);
}

static void normalise(const tu_config *c, char *text, size_t len)
{
    snprintf(text, len, "top=%lu\n", c->top);
}

XU_CONFIGURE(tu_config, cfg_parse, normalise)

/* ---- the endpoint table ---- */

enum { K_ETH = 0, K_IP4 = 1, K_IP6 = 2, NKINDS = 3 };
static const int addr_fam[NKINDS] = {0, 4, 6};

typedef struct endpoint {
    uint8_t kind, addr[16], pad[7]; /* the key (zero padded) */
    uint64_t txf, txb, rxf, rxb;
} endpoint;

#define EP_KEY offsetof(endpoint, txf)

/* A source and destination seen together, with their endpoints' indices:
 * a frame costs one lookup per header, not one per address. */
typedef struct pair {
    uint8_t kind, pad[3];
    uint8_t addr[2][16]; /* [0] the source, [1] the destination (zero padded) */
    uint32_t ep[2];
} pair;

#define PAIR_KEY offsetof(pair, ep)

typedef struct tables {
    xu_map endpoints, pairs;
} tables;

/* The index of the endpoint of `kind` at address a, added if new; -1 with *err set. */
static long endpoint_of(xu_map *m, unsigned kind, const uint8_t *a, DWORD *err)
{
    endpoint k;
    memset(&k, 0, EP_KEY);
    k.kind = (uint8_t)kind;
    xu_addr_copy(k.addr, addr_fam[kind], a);
    return xu_map_get(m, &k, EP_KEY, err);
}

/* Counts a header of `kind` from src to dst: sent by src, received by dst. */
static DWORD add(tables *t, unsigned kind, const uint8_t *src, const uint8_t *dst, DWORD bytes)
{
    pair k;
    memset(&k, 0, PAIR_KEY);
    k.kind = (uint8_t)kind;
    xu_addr_copy(k.addr[0], addr_fam[kind], src);
    xu_addr_copy(k.addr[1], addr_fam[kind], dst);
    DWORD err = NMERR_SUCCESS;
    long i = xu_map_find(&t->pairs, &k, PAIR_KEY);
    if (i < 0) {
        long s = endpoint_of(&t->endpoints, kind, src, &err);
        long d = s >= 0 ? endpoint_of(&t->endpoints, kind, dst, &err) : -1;
        if (d < 0 || (i = xu_map_add(&t->pairs, &k, PAIR_KEY, &err)) < 0)
            return err;
        pair *p = xu_map_item(&t->pairs, (size_t)i);
        p->ep[0] = (uint32_t)s;
        p->ep[1] = (uint32_t)d;
    }
    const pair *p = xu_map_item(&t->pairs, (size_t)i);
    endpoint *e = xu_map_item(&t->endpoints, p->ep[0]);
    e->txf++;
    e->txb += bytes;
    e = xu_map_item(&t->endpoints, p->ep[1]);
    e->rxf++;
    e->rxb += bytes;
    return NMERR_SUCCESS;
}

static int by_bytes(const void *pa, const void *pb)
{
    const endpoint *a = *(const endpoint *const *)pa, *b = *(const endpoint *const *)pb;
    uint64_t ba = a->txb + a->rxb, bb = b->txb + b->rxb;
    if (ba != bb)
        return ba > bb ? -1 : 1;
    uint64_t fa = a->txf + a->rxf, fb = b->txf + b->rxf;
    if (fa != fb)
        return fa > fb ? -1 : 1;
    return memcmp(a->addr, b->addr, 16);
}

static const char *const titles[NKINDS] = {"Ethernet Endpoints", "IPv4 Endpoints",
                                           "IPv6 Endpoints"};

/* Submits table `kind`; returns an Expert error code. */
static DWORD report(HEXPERTKEY key, const xu_map *m, unsigned kind, unsigned long top)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += ((const endpoint *)xu_map_item(m, i))->kind == kind;
    if (!n)
        return NMERR_SUCCESS;
    DWORD err = NMERR_SUCCESS;
    const endpoint **v = ExpertAllocMemory(key, n * sizeof *v, &err);
    if (!v)
        return err;
    size_t k = 0;
    uint64_t all = 0;
    for (size_t i = 0; i < m->n; i++) {
        const endpoint *e = xu_map_item(m, i);
        if (e->kind == kind) {
            v[k++] = e;
            all += e->txb + e->rxb;
        }
    }
    qsort(v, n, sizeof *v, by_bytes);
    if (top && n > top)
        n = top;
    DWORD rc = NMERR_SUCCESS;
    for (size_t i = 0; i < n && rc == NMERR_SUCCESS; i++) {
        const endpoint *e = v[i];
        char addr[64];
        xu_fmt_addr(addr, sizeof addr, addr_fam[kind], e->addr);
        xu_row r;
        xu_row_begin(&r, NAME, kind + 1, titles[kind]);
        xu_col_str(&r, "Address", addr);
        xu_col_f64(&r, "Frames", (double)(e->txf + e->rxf));
        xu_col_f64(&r, "Bytes", (double)(e->txb + e->rxb));
        xu_col_f64(&r, "% Bytes", all ? 100.0 * (double)(e->txb + e->rxb) / (double)all : 0.0);
        xu_col_f64(&r, "Tx Frames", (double)e->txf);
        xu_col_f64(&r, "Tx Bytes", (double)e->txb);
        xu_col_f64(&r, "Rx Frames", (double)e->rxf);
        xu_col_f64(&r, "Rx Bytes", (double)e->rxb);
        rc = xu_row_submit(key, &r);
    }
    ExpertFreeMemory(key, v);
    return rc;
}

/* Counts every Ethernet, IPv4 and IPv6 header of the frame (a tunnel's inner
 * ones too, as Wireshark's taps see each), sent by its source and received
 * by its destination. */
static DWORD count_frame(tables *t, const xu_frame *f)
{
    DWORD rc = NMERR_SUCCESS;
    for (unsigned i = 0; i < f->nlayers && rc == NMERR_SUCCESS; i++) {
        DWORD o = f->layer[i].off;
        unsigned kind, src, dst;
        switch (f->layer[i].proto) {
        case NMX_PROTO_ETHERNET:
            if (xu_avail(f, o) < 12)
                continue;
            kind = K_ETH, src = 6, dst = 0;
            break;
        case NMX_PROTO_IPV4:
            if (!xu_ipv4_tapped(f, o))
                continue;
            kind = K_IP4, src = 12, dst = 16;
            break;
        case NMX_PROTO_IPV6:
            if (!xu_ipv6_tapped(f, o))
                continue;
            kind = K_IP6, src = 8, dst = 24;
            break;
        default:
            continue;
        }
        rc = add(t, kind, f->bytes + o + src, f->bytes + o + dst, f->wirelen);
    }
    return rc;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)flags;
    (void)parent;
    tu_config c;
    if (!xu_run_config(key, cfg_parse(config, &c), c.error))
        return FALSE;
    tables t;
    xu_map_init(&t.endpoints, key, EP_KEY, sizeof(endpoint));
    xu_map_init(&t.pairs, key, PAIR_KEY, sizeof(pair));
    xu_walk w;
    xu_frame f;
    DWORD rc = NMERR_SUCCESS;
    xu_walk_begin(&w, key, startup, "Counting endpoints");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f))
        rc = count_frame(&t, &f);
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    for (unsigned k = 0; k < NKINDS && rc == NMERR_NO_MORE_FRAMES; k++)
        if ((rc = report(key, &t.endpoints, k, c.top)) == NMERR_SUCCESS)
            rc = NMERR_NO_MORE_FRAMES;
    xu_map_free(&t.pairs);
    xu_map_free(&t.endpoints);
    return xu_run_end(key, NAME, rc);
}
