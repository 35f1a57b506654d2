/* Register and Configure in a worker (SPEC H11, H1, M15; issue 9): a module
 * loaded with nmx_load_options.isolation = NMX_ISOLATION_PROCESS never runs
 * in the host, and gives what it gives in process: the same EXPERTENUMINFO,
 * the same load errors, the same Configure blobs and codes, and, run with
 * such a blob, the same events.
 */
#define _GNU_SOURCE
#include "isolation_util.h"

#include <stdio.h>

static const nmx_load_options g_isolated = {NMX_ISOLATION_PROCESS};

static nmx_expert *load_isolated(const char *name)
{
    char path[4096], err[8192];
    iu_expert_path(path, sizeof path, name);
    nmx_expert *ex = NULL;
    if (nmx_expert_load_with(path, &g_isolated, &ex, err, sizeof err) != NMERR_SUCCESS)
        fprintf(stderr, "cannot load %s in a worker: %s\n", path, err);
    return ex;
}

/* Is a file whose path ends in "/<name>.so" mapped in this process? */
static int mapped(const char *name)
{
    char want[256], line[8192];
    snprintf(want, sizeof want, "/%s.so\n", name);
    FILE *f = fopen("/proc/self/maps", "re");
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        size_t n = strlen(line), w = strlen(want);
        found = n >= w && strcmp(line + n - w, want) == 0;
    }
    if (f)
        fclose(f);
    return found;
}

/* H11, H1: Register runs in a worker; the host keeps what it filled, the
 * same as in process, and never maps the module. (First in the program, so
 * that no earlier test has mapped the modules.) */
TEST(test_h11_h1_register_in_a_worker_fills_the_same_info_and_maps_nothing_here)
{
    static const char *const names[] = {"configurable", "wellbehaved", "badconfig"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        nmx_expert *iso = load_isolated(names[i]);
        CHECK(iso != NULL);
        CHECK(!mapped(names[i]));
        nmx_expert *here = iu_load(names[i]);
        CHECK(here != NULL);
        if (!iso || !here)
            continue;
        const EXPERTENUMINFO *a = nmx_expert_info(iso), *b = nmx_expert_info(here);
        CHECK(strcmp(a->szName, b->szName) == 0);
        CHECK(strcmp(a->szVendor, b->szVendor) == 0);
        CHECK(strcmp(a->szDescription, b->szDescription) == 0);
        CHECK(strcmp(a->szDllName, b->szDllName) == 0);
        CHECK_EQ(a->Version, b->Version);
        CHECK_EQ(a->Flags, b->Flags);
        CHECK(a->hExpert == (HEXPERT)iso);
        CHECK(a->hModule == NULL && a->pRunProc == NULL && a->pConfigProc == NULL);
        nmx_expert_unload(iso);
        nmx_expert_unload(here);
    }
}

/* H11, H1: a module that cannot be loaded is refused with the same code in
 * a worker as here, and the message names the reason. */
TEST(test_h11_h1_load_failures_in_a_worker_are_the_in_process_ones)
{
    static const struct {
        const char *name, *reason;
    } cases[] = {{"regcrash", "Register crashed"},
                 {"regfalse", "Register returned FALSE"},
                 {"norun", "no Run"},
                 {"unresolved", "unresolved symbol"},
                 {"nothing", "No such file"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[4096], e1[8192] = "", e2[8192] = "";
        iu_expert_path(path, sizeof path, cases[i].name);
        nmx_expert *a = NULL, *b = NULL;
        DWORD iso = nmx_expert_load_with(path, &g_isolated, &a, e1, sizeof e1);
        DWORD here = nmx_expert_load(path, &b, e2, sizeof e2);
        CHECK(iso != NMERR_SUCCESS && a == NULL);
        CHECK_EQ(iso, here);
        CHECK(strstr(e1, cases[i].reason) != NULL);
        if (!strstr(e1, cases[i].reason))
            fprintf(stderr, "  %s: \"%s\" (in process: \"%s\")\n", cases[i].name, e1, e2);
        nmx_expert_unload(b);
    }
}

/* H11: the code of a module loaded in a worker never runs here: a run on a
 * thread is refused; a run in a worker gives the in-process events. */
TEST(test_h11_a_module_loaded_in_a_worker_runs_only_in_workers)
{
    nmx_expert *ex = load_isolated("wellbehaved");
    CHECK(ex != NULL);
    if (!ex)
        return;
    nmx_run *run = (nmx_run *)(uintptr_t)1;
    CHECK_EQ(nmx_run_start(ex, NULL, &run), NMERR_NOT_SUPPORTED);
    CHECK(run == NULL);
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.isolation = NMX_ISOLATION_PROCESS;
    CHECK_EQ(nmx_run_start(ex, &o, &run), NMERR_SUCCESS);
    nmx_run_result res;
    CHECK_EQ(run ? nmx_run_wait(run, IU_WAIT_MS, &res) : NMERR_INVALID_PARAMETER, NMERR_SUCCESS);
    size_t n = 0;
    if (run) {
        nmx_run_events(run, &n);
        CHECK(res.returned && res.run_value);
        CHECK(n > 0);
        nmx_run_free(run);
    }
    CHECK(!mapped("wellbehaved"));
    nmx_expert_unload(ex);
}

static int blob_equal(const EXPERTCONFIG *a, const EXPERTCONFIG *b)
{
    if (!a || !b)
        return a == b;
    return a->RawConfigLength == b->RawConfigLength &&
           memcmp(a, b, a->RawConfigLength) == 0;
}

/* Configure of ex with the blob `in`, in a worker and here (same module
 * loaded both ways): the same code, BOOL and blob. Returns the worker's blob
 * (the caller frees it). */
static EXPERTCONFIG *configure_both(nmx_expert *iso, nmx_expert *here, const EXPERTCONFIG *in,
                                    DWORD want)
{
    EXPERTCONFIG *a = NULL, *b = NULL;
    BOOL ra = 7, rb = 7;
    CHECK_EQ(nmx_expert_configure(iso, in, NULL, &a, &ra), want);
    CHECK_EQ(nmx_expert_configure(here, in, NULL, &b, &rb), want);
    CHECK_EQ(ra, rb);
    CHECK(blob_equal(a, b));
    free(b);
    return a;
}

static EXPERTCONFIG *text_blob(const char *word, unsigned char *buf)
{
    EXPERTCONFIG *in = (EXPERTCONFIG *)(void *)buf;
    in->RawConfigLength = (DWORD)(sizeof(DWORD) + strlen(word) + 1);
    memcpy(in->RawConfigData, word, strlen(word) + 1);
    return in;
}

/* H11, M15: Configure runs in the worker and gives the in-process blobs and
 * codes, misbehaving ones included; a module without Configure is refused. */
TEST(test_h11_m15_configure_in_a_worker_gives_the_in_process_blobs)
{
    nmx_expert *iso = load_isolated("configurable"), *here = iu_load("configurable");
    CHECK(iso && here);
    if (iso && here) {
        EXPERTCONFIG *one = configure_both(iso, here, NULL, NMERR_SUCCESS);
        CHECK(one != NULL);
        EXPERTCONFIG *two = configure_both(iso, here, one, NMERR_SUCCESS);
        CHECK(one && two && two->RawConfigLength == one->RawConfigLength + 100);
        free(one);
        free(two);
    }
    nmx_expert_unload(iso);
    nmx_expert_unload(here);

    iso = load_isolated("badconfig");
    here = iu_load("badconfig");
    CHECK(iso && here);
    static const struct {
        const char *word;
        DWORD rc;
    } cases[] = {{"crash", NMERR_INTERNAL_EXCEPTION}, {"lie", NMERR_INVALID_DATA},
                 {"static", NMERR_INVALID_DATA}, {"drop", NMERR_SUCCESS},
                 {"anything", NMERR_SUCCESS}};
    for (size_t i = 0; iso && here && i < sizeof cases / sizeof cases[0]; i++) {
        unsigned char buf[64];
        free(configure_both(iso, here, text_blob(cases[i].word, buf), cases[i].rc));
    }
    nmx_expert_unload(iso);
    nmx_expert_unload(here);

    iso = load_isolated("wellbehaved");
    EXPERTCONFIG *out = (EXPERTCONFIG *)(uintptr_t)1;
    CHECK(iso != NULL);
    if (iso)
        CHECK_EQ(nmx_expert_configure(iso, NULL, NULL, &out, NULL), NMERR_NOT_SUPPORTED);
    CHECK(out == NULL);
    nmx_expert_unload(iso);
}

/* H11, M15: the blob a worker's Configure made reaches Run in a worker as
 * the in-process one reaches Run in process: the same events and ledger. */
TEST(test_h11_m15_run_with_a_worker_configured_blob_matches_in_process)
{
    nmx_expert *iso = load_isolated("configurable");
    EXPERTCONFIG *blob = NULL;
    if (iso)
        CHECK_EQ(nmx_expert_configure(iso, NULL, NULL, &blob, NULL), NMERR_SUCCESS);
    nmx_expert_unload(iso);
    CHECK(blob != NULL);
    if (!blob)
        return;
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.config = blob;
    iu_run r;
    CHECK_EQ(iu_start(&r, "configurable", &o), NMERR_SUCCESS);
    iu_finish(&r);
    CHECK_EQ(r.nev, 1);
    iu_check_same_as_in_process(&o, &r);
    iu_release(&r);
    free(blob);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    RUN(test_h11_h1_register_in_a_worker_fills_the_same_info_and_maps_nothing_here);
    RUN(test_h11_h1_load_failures_in_a_worker_are_the_in_process_ones);
    RUN(test_h11_a_module_loaded_in_a_worker_runs_only_in_workers);
    RUN(test_h11_m15_configure_in_a_worker_gives_the_in_process_blobs);
    RUN(test_h11_m15_run_with_a_worker_configured_blob_matches_in_process);
    return CHECK_DONE();
}
