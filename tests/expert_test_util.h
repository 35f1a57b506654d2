/* What every bundled expert's test needs (included by expert_tcp_util.h and
 * expert_counting_util.h, which set the feature macros first): loading an
 * expert, configuration blobs, reading a run's tables, a scratch folder,
 * whether tshark is there, and the begin/end of a test program. */
#ifndef NMX_TESTS_EXPERT_TEST_UTIL_H
#define NMX_TESTS_EXPERT_TEST_UTIL_H

#include <nmexpert/capture.h>
#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef NMX_BUNDLED_EXPERTS_DIR
#error "NMX_BUNDLED_EXPERTS_DIR must name the folder of the built experts"
#endif

static char tmpdir[256];

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The bundled expert `name` ("topusers"), or NULL (said on stderr). */
static inline nmx_expert *load_bundled(const char *name)
{
    char path[4096], err[4096];
    snprintf(path, sizeof path, "%s/%s.so", NMX_BUNDLED_EXPERTS_DIR, name);
    nmx_expert *e = NULL;
    DWORD rc = nmx_expert_load(path, &e, err, sizeof err);
    if (rc != NMERR_SUCCESS)
        fprintf(stderr, "cannot load %s: %s (%s)\n", path, err, nmx_strerror(rc));
    return e;
}

/* A config blob for `text` (malloc'd), or NULL for NULL. */
static inline EXPERTCONFIG *make_config(const char *text)
{
    if (!text)
        return NULL;
    size_t n = strlen(text) + 1;
    EXPERTCONFIG *c = calloc(1, sizeof(DWORD) + n);
    if (!c)
        return NULL;
    c->RawConfigLength = (DWORD)(sizeof(DWORD) + n);
    memcpy(c->RawConfigData, text, n);
    return c;
}

static inline const NMCOLUMNINFO *col(const NMEVENTDATA *ev, const char *name)
{
    for (BYTE i = 0; ev && i < ev->NumColumns; i++)
        if (ev->Column[i].szColumnName && strcmp(ev->Column[i].szColumnName, name) == 0)
            return &ev->Column[i];
    return NULL;
}

static inline const char *col_str(const NMEVENTDATA *ev, const char *name)
{
    const NMCOLUMNINFO *c = col(ev, name);
    return c && c->VariantData.Type == NMCOLUMNTYPE_STRING && c->VariantData.Value.pStringVal
               ? c->VariantData.Value.pStringVal
               : "";
}

/* A number column's value; -1 when there is none. */
static inline double col_num(const NMEVENTDATA *ev, const char *name)
{
    const NMCOLUMNINFO *c = col(ev, name);
    if (!c)
        return -1;
    switch (c->VariantData.Type) {
    case NMCOLUMNTYPE_FLOAT64: return c->VariantData.Value.Float64Val;
    case NMCOLUMNTYPE_UINT32: return c->VariantData.Value.Uint32Val;
    case NMCOLUMNTYPE_FRAME: return c->VariantData.Value.FrameVal;
    default: return -1;
    }
}

/* Row k of table `table` of an ended run, or NULL. */
static inline const NMEVENTDATA *table_row(nmx_run *run, DWORD table, size_t k)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        if (ev[i]->EventIdent == table && k-- == 0)
            return ev[i];
    return NULL;
}

static inline size_t table_rows(nmx_run *run, DWORD table)
{
    size_t n = 0, m = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        m += ev[i]->EventIdent == table;
    return m;
}

static inline int have_tshark(void)
{
    return system("tshark -v >/dev/null 2>&1") == 0;
}

/* A test program's start: a scratch folder /tmp/nmx_<tag>_XXXXXX (0 when it
 * cannot be made); and its end: the folder removed (NMX_KEEP_TMP keeps it). */
static inline int tests_begin(const char *tag)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_%s_XXXXXX", tag);
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 0;
    }
    return 1;
}

static inline void tests_end(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (getenv("NMX_KEEP_TMP"))
        printf("     kept %s\n", tmpdir);
    else if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

#endif
