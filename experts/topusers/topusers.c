/* Top Users: per-endpoint frame and byte counts at the Ethernet, IPv4 and
 * IPv6 levels, as Wireshark's `-z endpoints,eth|ip|ipv6` count them.
 *
 * A frame counts once as sent (Tx) for its source address and once as
 * received (Rx) for its destination, with its wire length; Frames and Bytes
 * are Tx + Rx (so a frame from an address to itself counts twice, as in
 * tshark). Only the outermost header of each kind is counted (tunnels are not
 * decoded); a bogus or truncated IP header is not counted, as Wireshark's
 * taps do not see it. Tables sorted by bytes, descending; config "top=N" (default 20,
 * 0 = all). See README.md.
 */
#include <nmexpert/netmon.h>

#include "expert_util.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define NAME "Top Users"
#define DEFAULT_TOP 20u

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, NAME);
    strcpy(info->szVendor, "nmexpert");
    strcpy(info->szDescription,
           "Endpoints at the Ethernet, IPv4 and IPv6 levels: frames and bytes sent, received and "
           "total, sorted by bytes (config: top=N)");
    info->Version = 1;
    info->Flags = EXPERT_ENUM_FLAG_CONFIGURABLE;
    return TRUE;
}

/* ---- configuration ---- */

typedef struct tu_config {
    unsigned long top;
    char error[200];
} tu_config;

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
    if (!*v)
        return 0;
    unsigned long n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        n = n * 10 + (unsigned long)(*p - '0');
        if (n > max)
            return 0;
    }
    *out = n;
    return 1;
}

static int cfg_line(const char *k, const char *v, void *ctx)
{
    tu_config *c = ctx;
    if (strcmp(k, "top") == 0) {
        if (!parse_uint(v, 100000000ul, &c->top)) {
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
    int rc = xu_config_each(cfg, cfg_line, c);
    if (rc == -1)
        snprintf(c->error, sizeof c->error, "a configuration line without '='");
    return rc == 0;
}

BOOL WINAPI Configure(HEXPERTKEY key, PEXPERTCONFIG *ppConfig, PEXPERTSTARTUPINFO startup,
                      DWORD flags, HWND parent)
{
    (void)startup;
    (void)flags;
    (void)parent;
    if (!ppConfig)
        return FALSE;
    tu_config c;
    if (!cfg_parse(*ppConfig, &c)) {
        ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, c.error, 0);
        return FALSE;
    }
    char text[64];
    snprintf(text, sizeof text, "top=%lu\n", c.top);
    return xu_config_store(key, ppConfig, text);
}

/* ---- the endpoint table ---- */

enum { K_ETH = 0, K_IP4 = 1, K_IP6 = 2, NKINDS = 3 };
static const unsigned addr_len[NKINDS] = {6, 4, 16};

typedef struct endpoint {
    uint8_t used, kind;
    uint8_t addr[16];
    uint64_t txf, txb, rxf, rxb;
} endpoint;

typedef struct table {
    endpoint *slot;
    size_t cap, n; /* cap: power of two */
} table;

static uint64_t hash_addr(unsigned kind, const uint8_t *a)
{
    uint64_t h = 1469598103934665603ull ^ kind;
    for (unsigned i = 0; i < addr_len[kind]; i++) {
        h ^= a[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

/* Grows the table (ExpertReallocMemory); returns an Expert error code. */
static DWORD grow(HEXPERTKEY key, table *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 256;
    DWORD err = NMERR_SUCCESS;
    endpoint *old = t->slot;
    size_t ocap = t->cap;
    /* A fresh block, then rehash; the old block is freed. */
    endpoint *s = ExpertReallocMemory(key, NULL, ncap * sizeof *s, &err);
    if (!s)
        return err;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].used)
            continue;
        size_t j = (size_t)hash_addr(old[i].kind, old[i].addr) & (ncap - 1);
        while (s[j].used)
            j = (j + 1) & (ncap - 1);
        s[j] = old[i];
    }
    ExpertFreeMemory(key, old);
    t->slot = s;
    t->cap = ncap;
    return NMERR_SUCCESS;
}

static DWORD add(HEXPERTKEY key, table *t, unsigned kind, const uint8_t *a, int tx, DWORD bytes)
{
    if ((t->n + 1) * 4 > t->cap * 3) {
        DWORD rc = grow(key, t);
        if (rc != NMERR_SUCCESS)
            return rc;
    }
    size_t j = (size_t)hash_addr(kind, a) & (t->cap - 1);
    while (t->slot[j].used &&
           !(t->slot[j].kind == kind && memcmp(t->slot[j].addr, a, addr_len[kind]) == 0))
        j = (j + 1) & (t->cap - 1);
    endpoint *e = &t->slot[j];
    if (!e->used) {
        e->used = 1;
        e->kind = (uint8_t)kind;
        memcpy(e->addr, a, addr_len[kind]);
        t->n++;
    }
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

static void format_addr(const endpoint *e, char *buf, size_t len)
{
    const uint8_t *a = e->addr;
    if (e->kind == K_ETH)
        snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
    else if (e->kind == K_IP4)
        snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    else if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len)) /* glibc: RFC 5952, as tshark */
        snprintf(buf, len, "?");
}

static const char *const titles[NKINDS] = {"Ethernet Endpoints", "IPv4 Endpoints",
                                           "IPv6 Endpoints"};

/* Submits table `kind`; returns an Expert error code. */
static DWORD report(HEXPERTKEY key, const table *t, unsigned kind, unsigned long top)
{
    size_t n = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].used && t->slot[i].kind == kind)
            n++;
    if (!n)
        return NMERR_SUCCESS;
    DWORD err = NMERR_SUCCESS;
    const endpoint **v = ExpertAllocMemory(key, n * sizeof *v, &err);
    if (!v)
        return err;
    size_t k = 0;
    for (size_t i = 0; i < t->cap; i++)
        if (t->slot[i].used && t->slot[i].kind == kind)
            v[k++] = &t->slot[i];
    qsort(v, n, sizeof *v, by_bytes);
    if (top && n > top)
        n = top;
    DWORD rc = NMERR_SUCCESS;
    for (size_t i = 0; i < n && rc == NMERR_SUCCESS; i++) {
        const endpoint *e = v[i];
        char addr[64];
        format_addr(e, addr, sizeof addr);
        xu_row r;
        xu_row_begin(&r, NAME, kind + 1, titles[kind]);
        xu_col_str(&r, "Address", addr);
        xu_col_f64(&r, "Frames", (double)(e->txf + e->rxf));
        xu_col_f64(&r, "Bytes", (double)(e->txb + e->rxb));
        xu_col_f64(&r, "Tx Frames", (double)e->txf);
        xu_col_f64(&r, "Tx Bytes", (double)e->txb);
        xu_col_f64(&r, "Rx Frames", (double)e->rxf);
        xu_col_f64(&r, "Rx Bytes", (double)e->rxb);
        rc = xu_row_submit(key, &r);
    }
    ExpertFreeMemory(key, v);
    return rc;
}

/* Whether an IPv4 header counts, as Wireshark's ip tap sees it: version 4,
 * a header length of at least 20 bytes, the whole header (options included)
 * captured, and a total length of 0 (TSO) or at least the header length.
 * Wireshark stops before its tap on a bogus or truncated header. */
static int ipv4_counts(const xu_frame *f, DWORD o)
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
static int ipv6_counts(const xu_frame *f, DWORD o)
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

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)flags;
    (void)parent;
    tu_config c;
    if (!cfg_parse(config, &c)) {
        ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, c.error, 0);
        return FALSE;
    }
    DWORD total = startup ? GetCaptureTotalFrames(startup->hCapture) : 0;
    table t = {0};
    DWORD number = INVALID_FRAME_NUMBER, rc;
    LONG last = -1;
    xu_frame f;
    BOOL ok = TRUE;
    while ((rc = xu_next(key, &number, NULL, &f)) == NMERR_SUCCESS) {
        if ((rc = xu_progress(key, f.number, total, &last, "Counting endpoints")) != NMERR_SUCCESS)
            break;
        DWORD o;
        if (xu_has(&f, NMX_PROTO_ETHERNET) && xu_avail(&f, o = f.off[NMX_PROTO_ETHERNET]) >= 12) {
            if ((rc = add(key, &t, K_ETH, f.bytes + o + 6, 1, f.wirelen)) != NMERR_SUCCESS ||
                (rc = add(key, &t, K_ETH, f.bytes + o, 0, f.wirelen)) != NMERR_SUCCESS)
                break;
        }
        if (xu_has(&f, NMX_PROTO_IPV4) && ipv4_counts(&f, o = f.off[NMX_PROTO_IPV4])) {
            if ((rc = add(key, &t, K_IP4, f.bytes + o + 12, 1, f.wirelen)) != NMERR_SUCCESS ||
                (rc = add(key, &t, K_IP4, f.bytes + o + 16, 0, f.wirelen)) != NMERR_SUCCESS)
                break;
        }
        if (xu_has(&f, NMX_PROTO_IPV6) && ipv6_counts(&f, o = f.off[NMX_PROTO_IPV6])) {
            if ((rc = add(key, &t, K_IP6, f.bytes + o + 8, 1, f.wirelen)) != NMERR_SUCCESS ||
                (rc = add(key, &t, K_IP6, f.bytes + o + 24, 0, f.wirelen)) != NMERR_SUCCESS)
                break;
        }
    }
    if (rc != NMERR_NO_MORE_FRAMES) {
        ok = FALSE;
        if (rc != NMERR_EXPERT_TERMINATE)
            ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, rc, "Top Users: cannot read the capture", 0);
    } else {
        for (unsigned k = 0; k < NKINDS && rc != NMERR_EXPERT_TERMINATE; k++) {
            rc = report(key, &t, k, c.top);
            if (rc != NMERR_SUCCESS)
                ok = FALSE;
        }
    }
    ExpertFreeMemory(key, t.slot);
    return ok;
}
