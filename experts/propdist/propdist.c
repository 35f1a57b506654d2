/* Property Distribution: for one configured field, each value's count and
 * share of the frames that carry the field, and the field's count, minimum,
 * maximum and mean. Field names are Wireshark's; the value is taken from the
 * outermost header that carries it (as the first value tshark -T fields
 * prints). Config: "field=NAME" (default frame.len), "top=N" (value rows,
 * 0 = all, the default). See README.md.
 */
#include <nmexpert/netmon.h>

#include "expert_util.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Property Distribution"

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, NAME);
    strcpy(info->szVendor, "nmexpert");
    strcpy(info->szDescription,
           "Distribution of one field's values (eth.type, ip.proto, ip.ttl, ip.len, tcp ports, "
           "tcp.window_size_value, udp ports, frame.len) with count, minimum, maximum and mean "
           "(config: field=NAME, top=N)");
    info->Version = 1;
    info->Flags = EXPERT_ENUM_FLAG_CONFIGURABLE;
    return TRUE;
}

enum { F_FRAME_LEN, F_ETH_TYPE, F_IP_PROTO, F_IP_TTL, F_IP_LEN, F_TCP_SRCPORT, F_TCP_DSTPORT,
       F_TCP_WINDOW, F_UDP_SRCPORT, F_UDP_DSTPORT, NFIELDS };
static const char *const field_names[NFIELDS] = {
    "frame.len",   "eth.type",    "ip.proto",  "ip.ttl", "ip.len", "tcp.srcport",
    "tcp.dstport", "tcp.window_size_value", "udp.srcport", "udp.dstport"};

/* ---- configuration ---- */

typedef struct pr_config {
    int field;
    unsigned long top;
    char error[200];
} pr_config;

static int cfg_line(const char *k, const char *v, void *ctx)
{
    pr_config *c = ctx;
    if (strcmp(k, "field") == 0) {
        for (int i = 0; i < NFIELDS; i++)
            if (strcmp(v, field_names[i]) == 0) {
                c->field = i;
                return 0;
            }
        snprintf(c->error, sizeof c->error, "field=%.60s: not a supported field", v);
        return 1;
    }
    if (strcmp(k, "top") == 0) {
        unsigned long n = 0;
        const char *p = v;
        for (; *p >= '0' && *p <= '9' && n <= 100000000ul; p++)
            n = n * 10 + (unsigned long)(*p - '0');
        if (!*v || *p || n > 100000000ul) {
            snprintf(c->error, sizeof c->error, "top=%.60s: not a number of rows", v);
            return 1;
        }
        c->top = n;
        return 0;
    }
    snprintf(c->error, sizeof c->error, "unknown configuration key \"%.60s\" (known: field, top)", k);
    return 1;
}

static int cfg_parse(const EXPERTCONFIG *cfg, pr_config *c)
{
    memset(c, 0, sizeof *c);
    c->field = F_FRAME_LEN;
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
    pr_config c;
    if (!cfg_parse(*ppConfig, &c)) {
        ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, c.error, 0);
        return FALSE;
    }
    char text[128];
    snprintf(text, sizeof text, "field=%s\ntop=%lu\n", field_names[c.field], c.top);
    return xu_config_store(key, ppConfig, text);
}

/* ---- reading a field ---- */

/* 1 and *v when the frame carries the field with all its bytes captured. */
static int field_value(const xu_frame *f, int field, uint32_t *v)
{
    DWORD o;
    switch (field) {
    case F_FRAME_LEN:
        *v = f->wirelen;
        return 1;
    case F_ETH_TYPE:
        if (!xu_has(f, NMX_PROTO_ETHERNET) || xu_avail(f, o = f->off[NMX_PROTO_ETHERNET]) < 14)
            return 0;
        *v = xu_be16(f->bytes + o + 12);
        return *v >= 0x0600; /* below: an 802.3 length (eth.len), not a type */
    case F_IP_PROTO:
    case F_IP_TTL:
    case F_IP_LEN:
        if (!xu_has(f, NMX_PROTO_IPV4))
            return 0;
        o = f->off[NMX_PROTO_IPV4];
        /* Wireshark stops before these fields on a bogus version or header
         * length, and before ttl and proto on a total length shorter than
         * the header (0 is TSO, accepted) */
        if (xu_avail(f, o) < 4 || (f->bytes[o] >> 4) != 4 || (f->bytes[o] & 0x0f) < 5)
            return 0;
        if (field != F_IP_LEN) {
            uint16_t tot = xu_be16(f->bytes + o + 2);
            if (tot != 0 && tot < (f->bytes[o] & 0x0f) * 4u)
                return 0;
        }
        if (field == F_IP_LEN) {
            /* 0 is TCP segmentation offload: Wireshark shows the length it
             * infers from the frame; a length beyond the frame it shows as
             * it is (flagged bogus) */
            *v = xu_be16(f->bytes + o + 2);
            if (*v == 0)
                *v = f->wirelen > o ? f->wirelen - o : 0;
        } else {
            DWORD at = field == F_IP_TTL ? 8 : 9;
            if (xu_avail(f, o) < at + 1)
                return 0;
            *v = f->bytes[o + at];
        }
        return 1;
    case F_TCP_SRCPORT:
    case F_TCP_DSTPORT:
    case F_TCP_WINDOW: {
        if (!xu_has(f, NMX_PROTO_TCP))
            return 0;
        o = f->off[NMX_PROTO_TCP];
        DWORD at = field == F_TCP_SRCPORT ? 0 : field == F_TCP_DSTPORT ? 2 : 14;
        if (xu_avail(f, o) < at + 2)
            return 0;
        *v = xu_be16(f->bytes + o + at);
        return 1;
    }
    case F_UDP_SRCPORT:
    case F_UDP_DSTPORT: {
        if (!xu_has(f, NMX_PROTO_UDP))
            return 0;
        o = f->off[NMX_PROTO_UDP];
        DWORD at = field == F_UDP_SRCPORT ? 0 : 2;
        if (xu_avail(f, o) < at + 2)
            return 0;
        *v = xu_be16(f->bytes + o + at);
        return 1;
    }
    default:
        return 0;
    }
}

/* ---- value counts: open addressing, grown with ExpertReallocMemory ---- */

typedef struct bucket {
    uint32_t value, used;
    uint64_t count;
} bucket;

typedef struct counts {
    bucket *b;
    size_t cap, n;
} counts;

static size_t hash32(uint32_t v, size_t cap)
{
    uint64_t h = (uint64_t)v * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (cap - 1);
}

static DWORD count_value(HEXPERTKEY key, counts *c, uint32_t v)
{
    if ((c->n + 1) * 4 > c->cap * 3) {
        size_t ncap = c->cap * 2;
        DWORD err = NMERR_SUCCESS;
        bucket *nb = ExpertReallocMemory(key, c->b, ncap * sizeof *nb, &err);
        if (!nb)
            return err;
        /* rehash in place: the grown tail is zero; move every entry out of
         * the way, then put it back */
        size_t ocap = c->cap;
        bucket *tmp = ExpertAllocMemory(key, c->n * sizeof *tmp + 1, &err);
        if (!tmp) {
            c->b = nb; /* the old layout, in the first ocap slots: still consistent */
            return err;
        }
        size_t k = 0;
        for (size_t i = 0; i < ocap; i++)
            if (nb[i].used)
                tmp[k++] = nb[i];
        memset(nb, 0, ncap * sizeof *nb);
        for (size_t i = 0; i < k; i++) {
            size_t j = hash32(tmp[i].value, ncap);
            while (nb[j].used)
                j = (j + 1) & (ncap - 1);
            nb[j] = tmp[i];
        }
        ExpertFreeMemory(key, tmp);
        c->b = nb;
        c->cap = ncap;
    }
    size_t j = hash32(v, c->cap);
    while (c->b[j].used && c->b[j].value != v)
        j = (j + 1) & (c->cap - 1);
    if (!c->b[j].used) {
        c->b[j].used = 1;
        c->b[j].value = v;
        c->n++;
    }
    c->b[j].count++;
    return NMERR_SUCCESS;
}

static int by_count(const void *pa, const void *pb)
{
    const bucket *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return a->value < b->value ? -1 : a->value > b->value;
}

static void format_value(int field, uint32_t v, char *buf, size_t len)
{
    if (field == F_ETH_TYPE)
        snprintf(buf, len, "0x%04x", (unsigned)v); /* as tshark -T fields prints it */
    else
        snprintf(buf, len, "%u", (unsigned)v);
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)flags;
    (void)parent;
    pr_config cfg;
    if (!cfg_parse(config, &cfg)) {
        ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, cfg.error, 0);
        return FALSE;
    }
    DWORD total = startup ? GetCaptureTotalFrames(startup->hCapture) : 0;
    DWORD rc = NMERR_SUCCESS;
    counts c = {0};
    c.cap = 64;
    c.b = ExpertAllocMemory(key, c.cap * sizeof *c.b, &rc);
    if (!c.b) {
        if (rc != NMERR_EXPERT_TERMINATE)
            ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, rc, "Property Distribution: out of memory", 0);
        return FALSE;
    }
    uint64_t n = 0, sum = 0;
    uint32_t mn = UINT32_MAX, mx = 0;
    DWORD number = INVALID_FRAME_NUMBER;
    LONG last = -1;
    xu_frame f;
    BOOL ok = TRUE;
    while ((rc = xu_next(key, &number, NULL, &f)) == NMERR_SUCCESS) {
        if ((rc = xu_progress(key, f.number, total, &last, "Counting values")) != NMERR_SUCCESS)
            break;
        uint32_t v;
        if (!field_value(&f, cfg.field, &v))
            continue;
        if ((rc = count_value(key, &c, v)) != NMERR_SUCCESS)
            break;
        n++;
        sum += v;
        if (v < mn)
            mn = v;
        if (v > mx)
            mx = v;
    }
    if (rc != NMERR_NO_MORE_FRAMES) {
        ok = FALSE;
        if (rc != NMERR_EXPERT_TERMINATE)
            ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, rc, "Property Distribution: cannot read the capture", 0);
        goto out;
    }
    /* compact, sort, report */
    size_t k = 0;
    for (size_t i = 0; i < c.cap; i++)
        if (c.b[i].used)
            c.b[k++] = c.b[i];
    qsort(c.b, k, sizeof *c.b, by_count);
    size_t rows = cfg.top && k > cfg.top ? cfg.top : k;
    char title[96];
    snprintf(title, sizeof title, "%s values", field_names[cfg.field]);
    for (size_t i = 0; i < rows; i++) {
        char val[32];
        format_value(cfg.field, c.b[i].value, val, sizeof val);
        xu_row r;
        xu_row_begin(&r, NAME, 1, title);
        xu_col_str(&r, "Value", val);
        xu_col_f64(&r, "Count", (double)c.b[i].count);
        xu_col_f64(&r, "%", n ? 100.0 * (double)c.b[i].count / (double)n : 0.0);
        if ((rc = xu_row_submit(key, &r)) != NMERR_SUCCESS) {
            ok = FALSE;
            goto out;
        }
    }
    {
        char title2[96];
        snprintf(title2, sizeof title2, "%s summary", field_names[cfg.field]);
        xu_row r;
        xu_row_begin(&r, NAME, 2, title2);
        xu_col_str(&r, "Field", field_names[cfg.field]);
        xu_col_f64(&r, "Count", (double)n);
        xu_col_f64(&r, "Minimum", n ? (double)mn : 0.0);
        xu_col_f64(&r, "Maximum", n ? (double)mx : 0.0);
        xu_col_f64(&r, "Mean", n ? (double)sum / (double)n : 0.0);
        if (xu_row_submit(key, &r) != NMERR_SUCCESS)
            ok = FALSE;
    }
out:
    ExpertFreeMemory(key, c.b);
    return ok;
}
