/* Several runs at once in one process (SPEC H10, with H3, H5, M8, M9, M11
 * holding for each of them).
 *
 * The misbehaving experts of tests/experts/ run side by side with
 * wellbehaved, which must still compute its exact result; then many runs of
 * wellbehaved and leaky go at once. Each run's outcome is checked as in
 * test_host.c. Under ThreadSanitizer (label "concurrency") the rounds are
 * fewer; the experts themselves are not instrumented (they are the foreign
 * code under test), the host is.
 */
#define _GNU_SOURCE
#include <nmexpert/host.h>

#include "check.h"
#include "host_util.h"

#include <signal.h>
#include <stdint.h>

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#define MIB (1024u * 1024u)
#define WAIT_MS 60000u

typedef enum kind {
    K_WELL,      /* DONE, sum event, empty ledger */
    K_LEAKY,     /* DONE, one block left */
    K_DOUBLE,    /* DONE, invalid calls counted */
    K_OVERRUN,   /* DONE, empty ledger */
    K_FAULT,     /* ABORTED / THREAD_FAIL, 1 MiB in the ledger */
    K_QUOTA,     /* DONE, stopped by the quota */
    K_PROPDIST   /* DONE, 12 deep-copied events */
} kind;

typedef struct spec {
    const char *name;
    kind k;
    int sig;
    nmx_expert *ex;
} spec;

static spec g_specs[] = {
    {"wellbehaved", K_WELL, 0, NULL},      {"leaky", K_LEAKY, 0, NULL},
    {"doublefree", K_DOUBLE, 0, NULL},     {"overrun", K_OVERRUN, 0, NULL},
    {"nullderef", K_FAULT, SIGSEGV, NULL}, {"recurse", K_FAULT, SIGSEGV, NULL},
    {"divzero", K_FAULT, SIGFPE, NULL},    {"abort", K_FAULT, SIGABRT, NULL},
    {"quota", K_QUOTA, 0, NULL},           {"propdist_style", K_PROPDIST, 0, NULL},
};
#define NSPECS (sizeof g_specs / sizeof g_specs[0])


static int streq(const char *a, const char *b)
{
    return a && b ? strcmp(a, b) == 0 : a == b;
}

static spec *spec_of(const char *name)
{
    for (size_t i = 0; i < NSPECS; i++)
        if (!strcmp(g_specs[i].name, name))
            return &g_specs[i];
    return NULL;
}

static nmx_run *start(spec *s)
{
    nmx_run_options opt;
    memset(&opt, 0, sizeof opt);
    if (s->k == K_QUOTA)
        opt.quota_bytes = MIB;
    nmx_run *run = NULL;
    DWORD rc = nmx_run_start(s->ex, &opt, &run);
    CHECK_EQ(rc, NMERR_SUCCESS);
    return rc == NMERR_SUCCESS ? run : NULL;
}

static void check_propdist(nmx_run *run)
{
    size_t n = 0;
    const NMEVENTDATA *const *evs = nmx_run_events(run, &n);
    CHECK_EQ(n, 12);
    for (unsigned i = 0; evs && i < n && i < 12; i++) {
        const NMEVENTDATA *ev = evs[i];
        char want[64];
        CHECK_EQ(ev->EventIdent, 100 + i);
        CHECK_EQ(ev->NumColumns, i % 4 + 1);
        snprintf(want, sizeof want, "event %u", i);
        CHECK(streq(ev->szEventName, want));
        snprintf(want, sizeof want, "justification for %u", i);
        CHECK(streq(ev->Justification, want));
        for (unsigned c = 0; c < ev->NumColumns && c < 4; c++) {
            const NMCOLUMNVARIANT *v = &ev->Column[c].VariantData;
            snprintf(want, sizeof want, "col%u.%u", i, c);
            CHECK(streq(ev->Column[c].szColumnName, want));
            if (c % 3 == 0) {
                snprintf(want, sizeof want, "value %u.%u", i, c);
                CHECK(streq(v->Value.pStringVal, want));
            } else if (c % 3 == 1) {
                CHECK(v->Type == NMCOLUMNTYPE_STRING && v->Value.pStringVal == NULL);
            } else {
                CHECK_EQ(v->Value.Uint32Val, 1000 * i + c);
            }
        }
    }
}

/* Waits for the run, checks its outcome against its spec, frees it. */
static void finish(const spec *s, nmx_run *run)
{
    if (!run)
        return;
    nmx_run_result r;
    DWORD rc = nmx_run_wait(run, WAIT_MS, &r);
    CHECK_EQ(rc, NMERR_SUCCESS);
    if (rc != NMERR_SUCCESS)
        return;
    CHECK(!r.hung);
    CHECK(!r.terminated);
    if (s->k == K_FAULT) {
        CHECK(!r.returned);
        CHECK_EQ(r.fault_signal, s->sig);
        CHECK_EQ(r.status.Status, EXPERTSTATUS_ABORTED);
        CHECK_EQ(r.status.SubStatus, EXPERTSUBSTATUS_ABORTED_THREAD_FAIL);
        CHECK_EQ(r.mem.live_blocks, 1);
        CHECK_EQ(r.mem.live_bytes, MIB);
    } else {
        CHECK(r.returned);
        CHECK(r.run_value);
        CHECK_EQ(r.fault_signal, 0);
        CHECK_EQ(r.status.Status, EXPERTSTATUS_DONE);
        CHECK_EQ(r.status.PercentDone, 100);
    }
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    switch (s->k) {
    case K_WELL:
        CHECK_EQ(r.mem.live_blocks, 0);
        CHECK_EQ(n, 1);
        if (ev && n == 1 && ev[0]->NumColumns == 2) {
            CHECK_EQ(ev[0]->Column[0].VariantData.Value.Uint32Val, 4050045000u);
            CHECK_EQ(ev[0]->Column[1].VariantData.Value.Uint32Val, 90000u);
        }
        break;
    case K_LEAKY:
        CHECK_EQ(r.mem.live_blocks, 1);
        CHECK_EQ(r.mem.live_bytes, sizeof(NMEVENTDATA) + 2 * sizeof(NMCOLUMNINFO));
        CHECK_EQ(n, 1);
        if (ev && n == 1)
            CHECK(streq(ev[0]->Column[1].VariantData.Value.pStringVal, "leaked"));
        break;
    case K_DOUBLE:
        CHECK_EQ(r.mem.live_blocks, 0);
        CHECK_EQ(r.mem.bad_double_free, 1);
        CHECK_EQ(r.mem.bad_foreign, 3);
        CHECK_EQ(r.mem.bad_interior, 1);
        CHECK_EQ(r.mem.bad_wrong_owner, 0);
        break;
    case K_OVERRUN:
        CHECK_EQ(r.mem.live_blocks, 0);
        break;
    case K_FAULT:
        CHECK_EQ(n, 0);
        break;
    case K_QUOTA:
        CHECK_EQ(r.mem.live_blocks, 0);
        CHECK(r.mem.failed_quota >= 1);
        CHECK(r.mem.peak_bytes <= MIB);
        CHECK_EQ(n, 1);
        if (ev && n == 1)
            CHECK_EQ(ev[0]->Column[1].VariantData.Value.Uint32Val, NMERR_OUT_OF_MEMORY);
        break;
    case K_PROPDIST:
        CHECK_EQ(r.mem.live_blocks, 0);
        check_propdist(run);
        break;
    }
    CHECK_EQ(nmx_run_free(run), NMERR_SUCCESS);
}

static int load_all(void)
{
    int ok = 1;
    for (size_t i = 0; i < NSPECS; i++)
        if (!g_specs[i].ex && !(g_specs[i].ex = load_test_expert(g_specs[i].name)))
            ok = 0;
    return ok;
}

TEST(test_h10_misbehaving_runs_side_by_side_with_a_good_one)
{
    CHECK(load_all());
    int rounds = UNDER_TSAN ? 1 : 5;
    for (int round = 0; round < rounds; round++) {
        nmx_run *runs[NSPECS * 2];
        /* every expert once, then wellbehaved and the faulting ones again,
         * all started before any is waited for */
        size_t nruns = 0;
        const spec *of[NSPECS * 2];
        for (size_t i = 0; i < NSPECS; i++) {
            if (!g_specs[i].ex)
                continue;
            of[nruns] = &g_specs[i];
            runs[nruns++] = start(&g_specs[i]);
        }
        for (size_t i = 0; i < NSPECS; i++) {
            if (!g_specs[i].ex || (g_specs[i].k != K_WELL && g_specs[i].k != K_FAULT))
                continue;
            of[nruns] = &g_specs[i];
            runs[nruns++] = start(&g_specs[i]);
        }
        for (size_t i = 0; i < nruns; i++)
            finish(of[i], runs[i]);
    }
}

TEST(test_h10_eight_wellbehaved_and_eight_leaky_at_once)
{
    CHECK(load_all());
    spec *well = spec_of("wellbehaved"), *leaky = spec_of("leaky");
    if (!well->ex || !leaky->ex)
        return;
    int rounds = UNDER_TSAN ? 1 : 4;
    for (int round = 0; round < rounds; round++) {
        nmx_run *w[8], *l[8];
        for (int i = 0; i < 8; i++) {
            w[i] = start(well);
            l[i] = start(leaky);
        }
        for (int i = 0; i < 8; i++) {
            finish(well, w[i]);
            finish(leaky, l[i]);
        }
    }
}

/* Terminating some runs while others go on: only those end ABORTED. */
TEST(test_h10_h4_terminate_one_run_among_many)
{
    CHECK(load_all());
    spec *well = spec_of("wellbehaved");
    nmx_expert *hon = load_test_expert("honours_terminate");
    CHECK(hon != NULL);
    if (!hon || !well->ex)
        return;
    nmx_run *h = NULL;
    CHECK_EQ(nmx_run_start(hon, NULL, &h), NMERR_SUCCESS);
    nmx_run *w[4];
    for (int i = 0; i < 4; i++)
        w[i] = start(well);
    if (h) {
        CHECK_EQ(nmx_run_terminate(h), NMERR_SUCCESS);
        nmx_run_result r;
        CHECK_EQ(nmx_run_wait(h, WAIT_MS, &r), NMERR_SUCCESS);
        CHECK(r.returned);
        CHECK(r.terminated);
        CHECK_EQ(r.status.Status, EXPERTSTATUS_ABORTED);
        CHECK_EQ(r.status.SubStatus, EXPERTSUBSTATUS_ABORTED_USER);
        CHECK_EQ(r.mem.live_blocks, 0);
        CHECK_EQ(nmx_run_free(h), NMERR_SUCCESS);
    }
    for (int i = 0; i < 4; i++)
        finish(well, w[i]);
    nmx_expert_unload(hon);
}

/* After all that, the expert heap holds nothing for the finished runs. */
TEST(test_h10_m12_no_segment_left_behind)
{
    nmx_heap_trim();
    nmx_heap_stats h;
    CHECK_EQ(nmx_heap_stats_get(&h), NMERR_SUCCESS);
    CHECK_EQ(h.keys_live, 0);
    CHECK_EQ(h.segments_in_use, 0);
    CHECK_EQ(h.huge_bytes_in_use, 0);
}

int main(void)
{
    RUN(test_h10_misbehaving_runs_side_by_side_with_a_good_one);
    RUN(test_h10_eight_wellbehaved_and_eight_leaky_at_once);
    RUN(test_h10_h4_terminate_one_run_among_many);
    RUN(test_h10_m12_no_segment_left_behind);
    for (size_t i = 0; i < NSPECS; i++)
        nmx_expert_unload(g_specs[i].ex);
    return CHECK_DONE();
}
