/* Traffic Over Time: frames, bytes and bits per second per time interval,
 * in total and optionally per protocol, as Wireshark's `tshark -z
 * io,stat,INTERVAL[,PROTO...]` counts them. See README.md.
 * Built against nmexpert/netmon.h and experts/common/ alone. */
#include <nmexpert/netmon.h>

#include "expert_util.h"

#include <stdlib.h>
#include <string.h>

#define NAME "Traffic Over Time"
#define MAX_PROTOS 8
#define MAX_ROWS 1000000u /* intervals; more is a problem the configuration must fix */

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    return xu_register(info, NAME,
                       "Frames, bytes and bits per second per time interval, in total and per protocol "
                       "(config: interval=SECONDS, protocols=tcp,udp,...)",
                       1);
}

/* ---- configuration ---- */

typedef struct tt_config {
    uint64_t interval_us;
    unsigned nprotos;
    unsigned protos[MAX_PROTOS];
    char error[200];
} tt_config;

static int add_proto(const char *word, void *ctx)
{
    tt_config *c = ctx;
    int p = xu_proto_id(word);
    if (p < 0 || c->nprotos == MAX_PROTOS)
        return 1;
    c->protos[c->nprotos++] = (unsigned)p;
    return 0;
}

static int cfg_line(const char *k, const char *v, void *ctx)
{
    tt_config *c = ctx;
    double s;
    if (!strcmp(k, "interval")) {
        /* microseconds, as tshark counts them */
        if (xu_parse_real(v, 0.000001, 1e7, &s) && (uint64_t)(s * 1e6 + 0.5) > 0) {
            c->interval_us = (uint64_t)(s * 1e6 + 0.5);
            return 0;
        }
        snprintf(c->error, sizeof c->error, "interval=%.60s: not a number of seconds (0.000001..1e7)", v);
        return 1;
    }
    if (!strcmp(k, "protocols")) {
        c->nprotos = 0;
        if (!*v || !xu_each_word(v, add_proto, c))
            return 0;
        snprintf(c->error, sizeof c->error,
                 "protocols=%.60s: not a list of at most %d protocol names (tcp, udp, dns, ...)", v, MAX_PROTOS);
        return 1;
    }
    snprintf(c->error, sizeof c->error, "unknown configuration key \"%.60s\" (known: interval, protocols)", k);
    return 1;
}

static int cfg_parse(const EXPERTCONFIG *cfg, tt_config *c)
{
    memset(c, 0, sizeof *c);
    c->interval_us = 1000000;
    return xu_config_load(cfg, cfg_line, c, c->error, sizeof c->error);
}

/* "1", "0.5", "0.000001": the interval as a config value. */
static void fmt_us(char *buf, size_t len, uint64_t us)
{
    int n = snprintf(buf, len, "%llu.%06llu", (unsigned long long)(us / 1000000),
                     (unsigned long long)(us % 1000000));
    while (n > 0 && buf[n - 1] == '0')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '.')
        buf[--n] = '\0';
}

static void normalise(const tt_config *c, char *text, size_t len)
{
    char iv[32], list[160] = "";
    fmt_us(iv, sizeof iv, c->interval_us);
    for (unsigned i = 0; i < c->nprotos; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "",
                 xu_proto_name(c->protos[i]));
    snprintf(text, len, "interval=%s\nprotocols=%s\n", iv, list);
}

XU_CONFIGURE(tt_config, cfg_parse, normalise)

/* ---- counting ---- */

typedef struct cell {
    uint64_t frames, bytes;
} cell;

/* Column 0 counts every frame, column 1 + i those of protocol i. Each
 * column has rows 0..last[col]: a frame whose time falls before its
 * column's latest interval (time stamps out of order, or before the first
 * frame) counts in that latest interval, as tshark's io,stat does. */
typedef struct series {
    HEXPERTKEY key;
    const tt_config *cfg;
    unsigned ncols;
    cell *rows; /* nrows x ncols */
    size_t nrows, cap;
    size_t last[1 + MAX_PROTOS];
    int64_t t0, tmax; /* ns: the first frame's time, the latest seen */
    uint64_t frames, bytes;
    int too_many;     /* a frame beyond MAX_ROWS intervals */
} series;

static DWORD grow(series *s, size_t need)
{
    if (need > MAX_ROWS) {
        s->too_many = 1; /* reported with the reason by Run */
        return NMERR_OUT_OF_MEMORY;
    }
    if (need <= s->cap)
        return NMERR_SUCCESS;
    size_t nc = s->cap ? s->cap : 256;
    while (nc < need)
        nc *= 2;
    DWORD err = NMERR_SUCCESS;
    cell *p = ExpertReallocMemory(s->key, s->rows, nc * s->ncols * sizeof *p, &err);
    if (!p)
        return err;
    s->rows = p;
    s->cap = nc; /* the grown tail is zero-filled (M1) */
    return NMERR_SUCCESS;
}

/* The frame's interval: its time from the first frame, rounded to the
 * microsecond as tshark rounds it (negative: interval 0). */
static size_t interval_of(const series *s, int64_t ts)
{
    int64_t rel = ts - s->t0;
    if (rel < 0)
        return 0;
    return (size_t)((uint64_t)(rel + 500) / 1000 / s->cfg->interval_us);
}

static DWORD count(series *s, const xu_frame *f)
{
    size_t idx = interval_of(s, f->ts_ns);
    if (idx + 1 > s->nrows) {
        DWORD rc = grow(s, idx + 1);
        if (rc != NMERR_SUCCESS)
            return rc;
        s->nrows = idx + 1;
    }
    for (unsigned c = 0; c < s->ncols; c++) {
        if (c && !xu_has(f, s->cfg->protos[c - 1]))
            continue;
        if (idx > s->last[c])
            s->last[c] = idx;
        cell *x = &s->rows[s->last[c] * s->ncols + c];
        x->frames++;
        x->bytes += f->wirelen;
    }
    if (f->ts_ns > s->tmax)
        s->tmax = f->ts_ns;
    s->frames++;
    s->bytes += f->wirelen;
    return NMERR_SUCCESS;
}

/* ---- the report ---- */

static DWORD report_rows(series *s)
{
    double iv = (double)s->cfg->interval_us / 1e6, dur = (double)(s->tmax - s->t0) / 1e9;
    char names[MAX_PROTOS][2][48];
    for (unsigned p = 0; p < s->cfg->nprotos; p++) {
        const char *pn = xu_proto_name(s->cfg->protos[p]);
        snprintf(names[p][0], sizeof names[p][0], "%.40s Frames", pn ? pn : "?");
        snprintf(names[p][1], sizeof names[p][1], "%.40s Bytes", pn ? pn : "?");
    }
    DWORD rc = NMERR_SUCCESS;
    for (size_t i = 0; i < s->nrows && rc == NMERR_SUCCESS; i++) {
        const cell *row = &s->rows[i * s->ncols];
        double start = (double)(i * s->cfg->interval_us) / 1e6, end = (double)((i + 1) * s->cfg->interval_us) / 1e6;
        xu_row r;
        xu_row_begin(&r, NAME, 1, "Traffic over time");
        xu_col_f64(&r, "Time (s)", start);
        xu_col_f64(&r, "End (s)", i + 1 == s->nrows && dur > start && dur < end ? dur : end);
        xu_col_f64(&r, "Frames", (double)row[0].frames);
        xu_col_f64(&r, "Bytes", (double)row[0].bytes);
        xu_col_f64(&r, "Bits/s", (double)row[0].bytes * 8 / iv);
        for (unsigned p = 0; p < s->cfg->nprotos; p++) {
            xu_col_f64(&r, names[p][0], (double)row[1 + p].frames);
            xu_col_f64(&r, names[p][1], (double)row[1 + p].bytes);
        }
        rc = xu_row_submit(s->key, &r);
    }
    return rc;
}

static DWORD report_summary(series *s)
{
    double iv = (double)s->cfg->interval_us / 1e6, dur = (double)(s->tmax - s->t0) / 1e9;
    size_t busiest = 0;
    for (size_t i = 1; i < s->nrows; i++)
        if (s->rows[i * s->ncols].bytes > s->rows[busiest * s->ncols].bytes)
            busiest = i;
    uint64_t peak = s->nrows ? s->rows[busiest * s->ncols].bytes : 0;
    xu_row r;
    xu_row_begin(&r, NAME, 2, "Traffic summary");
    xu_col_f64(&r, "Interval (s)", iv);
    xu_col_f64(&r, "Duration (s)", dur);
    xu_col_f64(&r, "Frames", (double)s->frames);
    xu_col_f64(&r, "Bytes", (double)s->bytes);
    xu_col_f64(&r, "Mean bits/s", dur > 0 ? (double)s->bytes * 8 / dur : 0.0);
    xu_col_f64(&r, "Peak bits/s", (double)peak * 8 / iv);
    xu_col_f64(&r, "Peak at (s)", (double)(busiest * s->cfg->interval_us) / 1e6);
    return xu_row_submit(s->key, &r);
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)flags;
    (void)parent;
    tt_config cfg;
    if (!xu_run_config(key, cfg_parse(config, &cfg), cfg.error))
        return FALSE;
    series s;
    memset(&s, 0, sizeof s);
    s.key = key;
    s.cfg = &cfg;
    s.ncols = 1 + cfg.nprotos;
    s.t0 = s.tmax = xu_capture_t0(key);
    xu_walk w;
    xu_frame f;
    DWORD rc = NMERR_SUCCESS;
    xu_walk_begin(&w, key, startup, "Counting traffic over time");
    while (rc == NMERR_SUCCESS && xu_walk_next(&w, &f))
        rc = count(&s, &f);
    if (s.too_many) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: more than %u intervals: choose a longer interval", NAME, MAX_ROWS);
        ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, rc, msg, 0);
        ExpertFreeMemory(key, s.rows);
        return FALSE;
    }
    if (rc == NMERR_SUCCESS)
        rc = w.rc;
    if (rc == NMERR_NO_MORE_FRAMES)
        rc = report_rows(&s);
    if (rc == NMERR_SUCCESS)
        rc = report_summary(&s);
    ExpertFreeMemory(key, s.rows);
    return xu_run_end(key, NAME, rc);
}
