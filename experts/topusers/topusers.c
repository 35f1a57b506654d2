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
static const unsigned addr_len[NKINDS] = {6, 4, 16};
static const int addr_fam[NKINDS] = {0, 4, 6};

typedef struct endpoint {
    uint8_t kind, addr[16], pad[7]; /* the key (zero padded) */
    uint64_t txf, txb, rxf, rxb;
} endpoint;

#define EP_KEY offsetof(endpoint, txf)

static DWORD add(xu_map *m, unsigned kind, const uint8_t *a, int tx, DWORD bytes)
{
    endpoint k;
    memset(&k, 0, EP_KEY);
    k.kind = (uint8_t)kind;
    memcpy(k.addr, a, addr_len[kind]);
    DWORD err = NMERR_SUCCESS;
    long i = xu_map_get(m, &k, &err);
    if (i < 0)
        return err;
    endpoint *e = xu_map_item(m, (size_t)i);
    if (tx) {
        e->txf++;
        e->txb += bytes;
    } else {
        e->rxf++;
        e->rxb += bytes;
    }
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
static DWORD count_frame(xu_map *m, const xu_frame *f)
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
        if ((rc = add(m, kind, f->bytes + o + src, 1, f->wirelen)) == NMERR_SUCCESS)
            rc = add(m, kind, f->bytes + o + dst, 0, f->wirelen);
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
    xu_map m;
    xu_map_init(&m, key, EP_KEY, sizeof(endpoint));
    xu_walk w;
    xu_frame f;
    DWORD rc = NMERR_SUCCESS;
    xu_walk_begin(&w, key, startup, "Counting endpoints");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f))
        rc = count_frame(&m, &f);
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    for (unsigned k = 0; k < NKINDS && rc == NMERR_NO_MORE_FRAMES; k++)
        if ((rc = report(key, &m, k, c.top)) == NMERR_SUCCESS)
            rc = NMERR_NO_MORE_FRAMES;
    xu_map_free(&m);
    return xu_run_end(key, NAME, rc);
}
