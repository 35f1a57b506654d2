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

#include "expert_test_util.h"

static nmx_expert *load_expert(void)
{
    char name[64];
    snprintf(name, sizeof name, "%s", NMX_TEST_EXPERT_SO);
    *strstr(name, ".so") = '\0';
    return load_bundled(name);
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
    EXPERTCONFIG *c = make_config(text);
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    opt.capture = (HCAPTURE)out->cap;
    opt.config = c;
    opt.time_limit_ms = time_limit_ms;
    /* A terminated expert frees tens of thousands of entries: under ASan on
     * a loaded machine that can pass the default 2 s grace (H6) without
     * being a hang. */
    opt.grace_ms = 20000;
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

#endif
