/* Shared by the tests of the two TCP experts (test_expert_tcpretrans,
 * test_expert_resptime): loading the expert, running it over a capture,
 * reading its tables, writing crafted captures, running tshark. Each test
 * defines NMX_TEST_EXPERT_SO (the module's file name) and includes this
 * first (it sets _GNU_SOURCE). */
#ifndef NMX_TESTS_EXPERT_TCP_UTIL_H
#define NMX_TESTS_EXPERT_TCP_UTIL_H

#define _GNU_SOURCE
#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include "check.h"
#include "test_capture_util.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef NMX_BUNDLED_EXPERTS_DIR
#error "NMX_BUNDLED_EXPERTS_DIR must name the folder of the built experts"
#endif

static char tmpdir[256];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static nmx_expert *load_expert(void)
{
    char err[512];
    nmx_expert *ex = NULL;
    DWORD rc = nmx_expert_load(NMX_BUNDLED_EXPERTS_DIR "/" NMX_TEST_EXPERT_SO, &ex, err, sizeof err);
    if (rc != NMERR_SUCCESS)
        fprintf(stderr, "cannot load %s: %s\n", NMX_TEST_EXPERT_SO, err);
    return ex;
}

static EXPERTCONFIG *blob(const char *text)
{
    size_t n = strlen(text) + 1;
    EXPERTCONFIG *c = malloc(sizeof(DWORD) + n);
    c->RawConfigLength = (DWORD)(sizeof(DWORD) + n);
    memcpy(c->RawConfigData, text, n);
    return c;
}

typedef struct result {
    nmx_capture *cap;
    nmx_run *run;
    nmx_run_result r;
    DWORD rc;
} result;

/* Runs the expert over `path` with config `text` (NULL: none). */
static int run_on(nmx_expert *ex, const char *path, const char *text, result *out, unsigned time_limit_ms)
{
    memset(out, 0, sizeof *out);
    char err[512];
    if (nmx_capture_open(path, &out->cap, err, sizeof err) != NMERR_SUCCESS && !out->cap)
        return 0;
    EXPERTCONFIG *c = text ? blob(text) : NULL;
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.capture = (HCAPTURE)out->cap;
    opt.config = c;
    opt.time_limit_ms = time_limit_ms;
    out->rc = nmx_run_start(ex, &opt, &out->run);
    free(c);
    if (out->rc != NMERR_SUCCESS)
        return 0;
    out->rc = nmx_run_wait(out->run, 60000, &out->r);
    return out->rc == NMERR_SUCCESS;
}

static void done(result *r)
{
    if (r->run)
        nmx_run_free(r->run);
    if (r->cap)
        nmx_capture_close(r->cap);
    memset(r, 0, sizeof *r);
}

static const NMCOLUMNINFO *col(const NMEVENTDATA *ev, const char *name)
{
    for (BYTE i = 0; ev && i < ev->NumColumns; i++)
        if (ev->Column[i].szColumnName && !strcmp(ev->Column[i].szColumnName, name))
            return &ev->Column[i];
    return NULL;
}

static double num(const NMEVENTDATA *ev, const char *name)
{
    const NMCOLUMNINFO *c = col(ev, name);
    if (!c)
        return -1;
    switch (c->VariantData.Type) {
    case NMCOLUMNTYPE_FLOAT64:
        return c->VariantData.Value.Float64Val;
    case NMCOLUMNTYPE_UINT32:
        return c->VariantData.Value.Uint32Val;
    case NMCOLUMNTYPE_FRAME:
        return c->VariantData.Value.FrameVal;
    default:
        return -1;
    }
}

static const NMEVENTDATA *table_row(nmx_run *run, DWORD table, size_t k)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        if (ev[i]->EventIdent == table && k-- == 0)
            return ev[i];
    return NULL;
}

static size_t table_rows(nmx_run *run, DWORD table)
{
    size_t n = 0, m = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        m += ev[i]->EventIdent == table;
    return m;
}

static int have_tshark(void)
{
    return system("tshark -v >/dev/null 2>&1") == 0;
}

#endif
