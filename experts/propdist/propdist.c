/* Property Distribution: for one configured field, each value's count and
 * share of the frames that carry the field, the field's count, minimum,
 * maximum and mean (numbers) or count and distinct values (addresses,
 * names), and for lengths the size buckets of `-z plen,tree`. Field names
 * are Wireshark's; the value is taken from the outermost header that
 * carries it (as the first value tshark -T fields prints). Config:
 * "field=NAME" (default frame.len), "top=N" (value rows, 0 = all, the
 * default). See README.md.
 */
#define _GNU_SOURCE /* qsort_r */
#include <nmexpert/netmon.h>

#include "expert_util.h"
#include "propdist_fields.h"
#include "xu_addr.h"
#include "xu_map.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Property Distribution"

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Distribution of one field's values (frame, Ethernet, IP and transport fields, DNS query "
                       "names, HTTP hosts, TLS server names) with count, minimum, maximum, mean and length "
                       "buckets (config: field=NAME, top=N)",
                       2);
}

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
        c->field = pd_field_by_name(v);
        if (c->field >= 0)
            return 0;
        snprintf(c->error, sizeof c->error, "field=%.60s: not a supported field", v);
        return 1;
    }
    if (strcmp(k, "top") == 0) {
        if (xu_parse_uint(v, 100000000ul, &c->top))
            return 0;
        snprintf(c->error, sizeof c->error, "top=%.60s: not a number of rows", v);
        return 1;
    }
    snprintf(c->error, sizeof c->error, "unknown configuration key \"%.60s\" (known: field, top)", k);
    return 1;
}

static int cfg_parse(const EXPERTCONFIG *cfg, pr_config *c)
{
    memset(c, 0, sizeof *c);
    c->field = F_FRAME_LEN;
    return xu_config_load(cfg, cfg_line, c, c->error, sizeof c->error);
}

static void normalise(const pr_config *c, char *text, size_t len)
{
    snprintf(text, len, "field=%s\ntop=%lu\n", pd_fields[c->field].name, c->top);
}

XU_CONFIGURE(pr_config, cfg_parse, normalise)

/* ---- counting ---- */

/* The size buckets of Wireshark's plen tree: [lo, next lo). */
static const uint32_t bucket_lo[] = {0, 20, 40, 80, 160, 320, 640, 1280, 2560, 5120};
#define NBUCKETS (sizeof bucket_lo / sizeof bucket_lo[0])

typedef struct bucket {
    uint64_t n, sum;
    uint32_t min, max;
} bucket;

typedef struct counts {
    const pd_field *field;
    xu_map values;       /* key: the value (pd_value's bytes), then a uint64_t count */
    size_t count_at;     /* where the count sits in an item */
    uint64_t n, sum;     /* frames with the field; sum of numeric values */
    uint32_t min, max;
    bucket b[NBUCKETS];
} counts;

static uint64_t *count_of(const counts *c, size_t i)
{
    return (uint64_t *)((uint8_t *)xu_map_item(&c->values, i) + c->count_at);
}

static DWORD count_value(counts *c, const pd_value *v)
{
    DWORD err = NMERR_SUCCESS;
    long i = xu_map_get(&c->values, v->key, c->values.key_size, &err);
    if (i < 0)
        return err;
    ++*count_of(c, (size_t)i);
    c->n++;
    if (c->field->kind != PD_NUMBER)
        return NMERR_SUCCESS;
    uint32_t x = v->number;
    c->sum += x;
    if (c->n == 1 || x < c->min)
        c->min = x;
    if (c->n == 1 || x > c->max)
        c->max = x;
    if (c->field->buckets) {
        size_t k = NBUCKETS - 1;
        while (k > 0 && x < bucket_lo[k])
            k--;
        bucket *b = &c->b[k];
        if (!b->n || x < b->min)
            b->min = x;
        if (!b->n || x > b->max)
            b->max = x;
        b->n++;
        b->sum += x;
    }
    return NMERR_SUCCESS;
}

/* ---- the report ---- */

/* Most frequent first; ties by value (numbers and addresses as unsigned
 * big-endian bytes, names by length, then bytes). */
static int by_count(const void *pa, const void *pb, void *ctx)
{
    const counts *c = ctx;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    uint64_t ca = *count_of(c, a), cb = *count_of(c, b);
    if (ca != cb)
        return ca > cb ? -1 : 1;
    return memcmp(xu_map_item(&c->values, a), xu_map_item(&c->values, b), c->values.key_size);
}

static DWORD report_values(HEXPERTKEY key, counts *c, unsigned long top)
{
    size_t k = c->values.n;
    DWORD rc = NMERR_SUCCESS;
    size_t *order = ExpertAllocMemory(key, (k ? k : 1) * sizeof *order, &rc);
    if (!order)
        return rc;
    for (size_t i = 0; i < k; i++)
        order[i] = i;
    qsort_r(order, k, sizeof *order, by_count, c);
    size_t rows = top && k > top ? top : k;
    char title[96];
    snprintf(title, sizeof title, "%s values", c->field->name);
    for (size_t i = 0; i < rows && rc == NMERR_SUCCESS; i++) {
        char val[PD_MAX_TEXT + 8];
        pd_format(c->field, xu_map_item(&c->values, order[i]), val, sizeof val);
        uint64_t n = *count_of(c, order[i]);
        xu_row r;
        xu_row_begin(&r, NAME, 1, title);
        xu_col_str(&r, "Value", val);
        xu_col_f64(&r, "Count", (double)n);
        xu_col_f64(&r, "%", c->n ? 100.0 * (double)n / (double)c->n : 0.0);
        rc = xu_row_submit(key, &r);
    }
    ExpertFreeMemory(key, order);
    return rc;
}

static DWORD report_summary(HEXPERTKEY key, const counts *c)
{
    char title[96];
    snprintf(title, sizeof title, "%s summary", c->field->name);
    xu_row r;
    xu_row_begin(&r, NAME, 2, title);
    xu_col_str(&r, "Field", c->field->name);
    xu_col_f64(&r, "Count", (double)c->n);
    if (c->field->kind == PD_NUMBER) {
        xu_col_f64(&r, "Minimum", c->n ? (double)c->min : 0.0);
        xu_col_f64(&r, "Maximum", c->n ? (double)c->max : 0.0);
        xu_col_f64(&r, "Mean", c->n ? (double)c->sum / (double)c->n : 0.0);
    } else {
        xu_col_f64(&r, "Distinct", (double)c->values.n);
    }
    return xu_row_submit(key, &r);
}

/* Table 3, lengths only: every bucket, as -z plen,tree lists them. */
static DWORD report_buckets(HEXPERTKEY key, const counts *c)
{
    char title[96];
    snprintf(title, sizeof title, "%s buckets", c->field->name);
    DWORD rc = NMERR_SUCCESS;
    for (size_t k = 0; k < NBUCKETS && rc == NMERR_SUCCESS; k++) {
        const bucket *b = &c->b[k];
        char range[32];
        if (k + 1 < NBUCKETS)
            snprintf(range, sizeof range, "%u-%u", bucket_lo[k], bucket_lo[k + 1] - 1);
        else
            snprintf(range, sizeof range, "%u and greater", bucket_lo[k]);
        xu_row r;
        xu_row_begin(&r, NAME, 3, title);
        xu_col_str(&r, "Bucket", range);
        xu_col_f64(&r, "Count", (double)b->n);
        xu_col_f64(&r, "Average", b->n ? (double)b->sum / (double)b->n : 0.0);
        xu_col_f64(&r, "Minimum", (double)b->min);
        xu_col_f64(&r, "Maximum", (double)b->max);
        xu_col_f64(&r, "%", c->n ? 100.0 * (double)b->n / (double)c->n : 0.0);
        rc = xu_row_submit(key, &r);
    }
    return rc;
}

static DWORD report(HEXPERTKEY key, counts *c, unsigned long top)
{
    DWORD rc = report_values(key, c, top);
    if (rc == NMERR_SUCCESS)
        rc = report_summary(key, c);
    if (rc == NMERR_SUCCESS && c->field->buckets)
        rc = report_buckets(key, c);
    return rc;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)flags;
    (void)parent;
    pr_config cfg;
    if (!xu_run_config(key, cfg_parse(config, &cfg), cfg.error))
        return FALSE;
    counts c;
    memset(&c, 0, sizeof c);
    c.field = &pd_fields[cfg.field];
    size_t ks = pd_key_size(c.field);
    c.count_at = (ks + 7) & ~(size_t)7;
    xu_map_init(&c.values, key, ks, c.count_at + sizeof(uint64_t));
    xu_walk w;
    xu_frame f;
    pd_value v;
    DWORD rc = NMERR_SUCCESS;
    xu_walk_begin(&w, key, startup, "Counting values");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f))
        if (pd_value_of(&f, c.field, &v))
            rc = count_value(&c, &v);
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    if (rc == NMERR_NO_MORE_FRAMES)
        rc = report(key, &c, cfg.top);
    xu_map_free(&c.values);
    return xu_run_end(key, NAME, rc);
}
