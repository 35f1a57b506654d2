/* No fault of an expert's may hang, corrupt or fool the host, wherever it
 * strikes (SPEC H5, M8, M12; issue 8).
 *
 * 1. The systematic hostile expert (tests/experts/hostile.c): for every
 *    function an expert can call, every pointer parameter given as NULL,
 *    unmapped, read-only and too short for what the call needs, each in its
 *    own run beside a well-behaved run that must finish with exact results.
 *    Each case either returns the documented error code (and the key still
 *    works afterwards), or, where the only way to answer is to write through
 *    the expert's own pointer after the call (pError), ends that run alone
 *    with SIGSEGV. Then 100 more runs in the same process must all work.
 * 2. The regression cases issue 8 found (tests/experts/misuse.c), one test
 *    each, named after what must hold.
 *
 * A concurrency test (runs side by side): it carries the TSan label.
 */
#define _GNU_SOURCE
#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include "check.h"
#include "host_util.h"
#include "test_capture_util.h"

#include <dlfcn.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAIT_MS 30000u

extern char **environ;

static nmx_capture *g_cap; /* 10 TCP frames, 5 UDP port 53, 5 other UDP */
static char g_tmp[64];

/* ---- helpers ---- */



/* A configuration blob holding `text` and its NUL, padded to `size` bytes
 * (0: no padding). malloc'd. */
static EXPERTCONFIG *blob(const char *text, size_t size)
{
    size_t n = sizeof(DWORD) + strlen(text) + 1;
    if (size < n)
        size = n;
    EXPERTCONFIG *c = calloc(1, size);
    c->RawConfigLength = (DWORD)size;
    memcpy(c->RawConfigData, text, strlen(text) + 1);
    return c;
}

static nmx_run *start(nmx_expert *ex, const char *config, size_t quota, unsigned limit_ms)
{
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = g_cap;
    EXPERTCONFIG *c = config ? blob(config, 0) : NULL;
    o.config = c;
    o.quota_bytes = quota;
    o.time_limit_ms = limit_ms;
    nmx_run *r = NULL;
    DWORD rc = nmx_run_start(ex, &o, &r);
    free(c);
    CHECK_EQ(rc, NMERR_SUCCESS);
    return r;
}

static int wait_end(nmx_run *r, nmx_run_result *res)
{
    memset(res, 0, sizeof *res);
    DWORD rc = r ? nmx_run_wait(r, WAIT_MS, res) : NMERR_INVALID_PARAMETER;
    CHECK_EQ(rc, NMERR_SUCCESS);
    CHECK(!res->hung);
    return rc == NMERR_SUCCESS && !res->hung;
}

/* The reference run: wellbehaved's exact result, an empty ledger. */
static void check_wellbehaved(nmx_run *r)
{
    nmx_run_result res;
    if (!wait_end(r, &res))
        return;
    CHECK(res.returned && res.run_value);
    CHECK_EQ(res.status.Status, EXPERTSTATUS_DONE);
    CHECK_EQ(res.mem.live_blocks, 0);
    CHECK_EQ(res.events, 1);
    const NMEVENTDATA *ev = nmx_run_event(r, 0);
    CHECK(ev && ev->NumColumns == 2);
    if (ev && ev->NumColumns == 2) {
        CHECK_EQ(ev->Column[0].VariantData.Value.Uint32Val, 4050045000u);
        CHECK_EQ(ev->Column[1].VariantData.Value.Uint32Val, 90000u);
    }
    CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
}

/* The filtering expert's two counts on g_cap: 10 TCP frames, 5 DNS. */
static void check_filtering(nmx_run *r)
{
    nmx_run_result res;
    if (!wait_end(r, &res))
        return;
    CHECK(res.returned);
    const NMEVENTDATA *ev = nmx_run_event(r, 0);
    CHECK(ev && ev->NumColumns == 5);
    if (ev && ev->NumColumns == 5) {
        CHECK_EQ(ev->Column[0].VariantData.Value.Uint32Val, 10);
        CHECK_EQ(ev->Column[1].VariantData.Value.Uint32Val, 5);
    }
    CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
}

static int make_capture(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/nmx_hostile_XXXXXX");
    if (!mkdtemp(g_tmp))
        return 0;
    static uint8_t buf[20][128];
    tframe fr[20];
    static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    for (int i = 0; i < 20; i++) {
        uint8_t *p = buf[i];
        size_t n = eth_hdr(p, 0x0800);
        int tcp = i < 10;
        n += ipv4_hdr(p + n, tcp ? 6 : 17, 0, tcp ? 20 + 10 : 8 + 10, 0, a, b);
        n += tcp ? tcp_hdr(p + n, 40000, 80, (uint32_t)i * 10, 0x18, 0)
                 : udp_hdr(p + n, 40000, i < 15 ? 53 : 5353, 10);
        memset(p + n, 'd', 10);
        n += 10;
        fr[i] = (tframe){p, (uint32_t)n, (uint32_t)n, 1000000000LL * (i + 1), 0};
    }
    char path[128], err[1024];
    snprintf(path, sizeof path, "%s/hostile.pcap", g_tmp);
    return write_pcap(path, 1, 0, 0, fr, 20) &&
           nmx_capture_open(path, &g_cap, err, sizeof err) == NMERR_SUCCESS;
}

/* ---- 1. the systematic hostile expert ---- */

typedef struct hostile_result_t {
    int called;
    uint64_t value;
    int key_works;
    int unknown;
} hostile_result_t;

enum { ANSWER, FAULT };

typedef struct hcase {
    const char *fn, *param, *kinds; /* kinds: letters n u r s */
    int outcome;
    uint64_t value;
} hcase;

#define BADKEY NMERR_INVALID_EXPERT_HANDLE
#define BADPARAM NMERR_INVALID_PARAMETER

static const hcase g_cases[] = {
    {"alloc", "key", "nur", ANSWER, BADKEY},
    {"alloc", "perror", "n", ANSWER, 1},
    {"alloc", "perror", "ur", FAULT, 0}, /* written after the call: the expert's own pointer */
    {"realloc", "key", "nur", ANSWER, BADKEY},
    {"realloc", "ptr", "n", ANSWER, NMERR_SUCCESS},
    {"realloc", "ptr", "ur", ANSWER, BADPARAM},
    {"realloc", "perror", "n", ANSWER, 1},
    {"realloc", "perror", "ur", FAULT, 0},
    {"free", "key", "nur", ANSWER, BADKEY},
    {"free", "ptr", "n", ANSWER, NMERR_SUCCESS},
    {"free", "ptr", "ur", ANSWER, BADPARAM},
    {"size", "key", "nur", ANSWER, 0},
    {"size", "ptr", "nur", ANSWER, 0},
    {"status", "key", "nur", ANSWER, BADKEY},
    {"status", "text", "nr", ANSWER, NMERR_SUCCESS},
    {"status", "text", "us", ANSWER, BADPARAM},
    {"event", "key", "nur", ANSWER, BADKEY},
    {"event", "ev", "nus", ANSWER, BADPARAM},
    {"event", "ev", "r", ANSWER, NMERR_SUCCESS},
    {"event", "source", "nr", ANSWER, NMERR_SUCCESS},
    {"event", "source", "us", ANSWER, BADPARAM},
    {"event", "colname", "nr", ANSWER, NMERR_SUCCESS},
    {"event", "colname", "us", ANSWER, BADPARAM},
    {"event", "colstr", "nr", ANSWER, NMERR_SUCCESS},
    {"event", "colstr", "us", ANSWER, BADPARAM},
    {"startup", "key", "nur", ANSWER, BADKEY},
    {"startup", "out", "nurs", ANSWER, BADPARAM},
    {"getframe", "key", "nur", ANSWER, BADKEY},
    {"getframe", "filter", "n", ANSWER, NMERR_SUCCESS},
    {"getframe", "filter", "ur", ANSWER, NMERR_INVALID_HFILTER},
    {"getframe", "out", "nurs", ANSWER, BADPARAM},
    {"createfilter", "key", "nur", ANSWER, BADKEY},
    {"createfilter", "expr", "nus", ANSWER, BADPARAM},
    {"createfilter", "expr", "r", ANSWER, NMERR_SUCCESS},
    {"createfilter", "out", "nurs", ANSWER, BADPARAM},
    {"createfilter", "err", "nurs", ANSWER, NMERR_FILTER_INVALID_EXPRESSION},
    {"destroyfilter", "key", "nur", ANSWER, BADKEY},
    {"destroyfilter", "filter", "n", ANSWER, NMERR_SUCCESS},
    {"destroyfilter", "filter", "ur", ANSWER, NMERR_INVALID_HFILTER},
    {"totalframes", "handle", "nur", ANSWER, 0},
    {"framecapture", "handle", "nur", ANSWER, 0},
    {"framelength", "handle", "nur", ANSWER, 0},
    {"framestored", "handle", "nur", ANSWER, 0},
    {"frametime", "handle", "nur", ANSWER, 0},
    {"framemac", "handle", "nur", ANSWER, MAC_TYPE_UNKNOWN},
    {"framenumber", "handle", "nur", ANSWER, INVALID_FRAME_NUMBER},
    {"frameptr", "handle", "nur", ANSWER, 0},
};

static const char *kind_name(char k)
{
    return k == 'n' ? "null" : k == 'u' ? "unmapped" : k == 'r' ? "readonly" : "short";
}

/* One case beside a wellbehaved run. Returns 1 if it behaved as expected. */
static int one_case(nmx_expert *hostile, nmx_expert *good, const hcase *c, char kind)
{
    volatile hostile_result_t *out = expert_sym(hostile, "hostile_result");
    char config[128];
    snprintf(config, sizeof config, "%s %s %s", c->fn, c->param, kind_name(kind));
    nmx_run *g = start(good, NULL, 0, 0);
    nmx_run *h = start(hostile, config, 0, 0);
    nmx_run_result res;
    int ok = wait_end(h, &res);
    if (ok && c->outcome == ANSWER)
        ok = res.returned && res.run_value && out->called && !out->unknown &&
             out->value == c->value && out->key_works;
    else if (ok)
        ok = !res.returned && res.fault_signal == SIGSEGV &&
             res.status.Status == EXPERTSTATUS_ABORTED;
    if (!ok)
        fprintf(stderr, "  case '%s': returned %d signal %d called %d value %llu (want %llu) "
                        "key works %d\n",
                config, res.returned, res.fault_signal, out->called,
                (unsigned long long)out->value, (unsigned long long)c->value, out->key_works);
    if (h)
        CHECK_EQ(nmx_run_free(h), NMERR_SUCCESS);
    check_wellbehaved(g);
    return ok;
}

/* H5, M8: every pointer parameter of every function an expert can call,
 * bad in four ways, beside a good run; then 100 runs that must all work. */
TEST(test_h5_every_bad_pointer_to_every_expert_function_is_answered_or_contained)
{
    nmx_expert *hostile = load_test_expert("hostile"), *good = load_test_expert("wellbehaved"), *filt = load_test_expert("filtering");
    CHECK(hostile && good && filt);
    if (!hostile || !good || !filt)
        return;
    unsigned n = 0, bad = 0;
    for (size_t i = 0; i < sizeof g_cases / sizeof *g_cases; i++)
        for (const char *k = g_cases[i].kinds; *k; k++, n++)
            bad += !one_case(hostile, good, &g_cases[i], *k);
    CHECK_EQ(bad, 0);
    printf("     %u hostile calls, %u not as expected\n", n, bad);
    for (int i = 0; i < 100; i++) {
        nmx_run *r = start(i % 2 ? filt : good, NULL, 0, 0);
        if (i % 2)
            check_filtering(r);
        else
            check_wellbehaved(r);
    }
    nmx_expert_unload(hostile);
    nmx_expert_unload(good);
    nmx_expert_unload(filt);
}

/* ---- 2. issue 8's cases ---- */

typedef struct misuse_out_t {
    DWORD rc[4];
    _Atomic int published;
    _Atomic int release;
    HFILTER filter;
    pthread_t thread;
    _Atomic int stray_done;
    _Atomic long stray_calls;
    DWORD config_length;
    unsigned events;
} misuse_out_t;

static nmx_expert *g_misuse;
static misuse_out_t *g_out;

static void reset_out(void)
{
    memset(g_out, 0, sizeof *g_out);
}

/* Case 1: a status text in unmapped memory is refused, and the run's time
 * limit still ends it: nothing is left holding the run's mutex. */
TEST(test_h5_unmapped_status_text_is_refused_and_the_time_limit_still_ends_the_run)
{
    reset_out();
    nmx_run *r = start(g_misuse, "status_unmapped", 0, 200);
    nmx_run_result res;
    EXPERTSTATUS st;
    if (r)
        CHECK_EQ(nmx_run_status(r, &st), NMERR_SUCCESS);
    if (!wait_end(r, &res))
        return;
    CHECK_EQ(g_out->rc[0], NMERR_INVALID_PARAMETER);
    CHECK(res.timed_out && res.terminated && res.returned);
    CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
}

/* Case 2: a filter message written into a buffer shorter than ErrorLength
 * says faults the expert's write, not the compile lock: every later filter
 * of every run can still be made. */
TEST(test_h5_filter_message_into_a_short_buffer_leaves_filters_working)
{
    reset_out();
    nmx_expert *filt = load_test_expert("filtering");
    nmx_run_result res;
    nmx_run *r = start(g_misuse, "filter_errbuf", 0, 0);
    if (wait_end(r, &res)) {
        CHECK(res.returned);
        CHECK_EQ(g_out->rc[0], NMERR_FILTER_INVALID_EXPRESSION);
        CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
    }
    for (int i = 0; filt && i < 3; i++)
        check_filtering(start(filt, NULL, 0, 0));
    nmx_filter *f = NULL;
    CHECK_EQ(nmx_filter_create(g_cap, "udp", &f, NULL, 0), NMERR_SUCCESS);
    nmx_filter_destroy(f);
    nmx_expert_unload(filt);
}

/* Case 3: a stack overflow that would land inside ExpertAllocMemory (with the
 * segment lock held) ends the run at the call's entry; other keys still get
 * segments, on other runs and on the host's own thread. */
TEST(test_h5_stack_overflow_at_alloc_ends_the_run_and_segments_still_come)
{
    /* Leaving 64 to 1024 bytes, in 16-byte steps, one of the depths lands
     * inside the segment lock if the check at the entry is missing. */
    for (int left = 64; left <= 1024; left += 16) {
        reset_out();
        nmx_run_result res;
        char config[64];
        snprintf(config, sizeof config, "overflow_in_alloc %d", left);
        nmx_run *r = start(g_misuse, config, 0, 0);
        if (!wait_end(r, &res))
            return;
        CHECK(!res.returned);
        CHECK_EQ(res.fault_signal, SIGSEGV);
        CHECK_EQ(res.status.Status, EXPERTSTATUS_ABORTED);
        CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
    }
    nmx_expert *good = load_test_expert("wellbehaved");
    nmx_run *g = good ? start(good, NULL, 0, 0) : NULL;
    HEXPERTKEY k;
    CHECK_EQ(nmx_key_create(NULL, &k), NMERR_SUCCESS);
    for (int i = 0; i < 8; i++) /* new segments, each under the segment lock */
        CHECK(ExpertAllocMemory(k, (SIZE_T)6 << 20, NULL) != NULL);
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
    if (g)
        check_wellbehaved(g);
    nmx_expert_unload(good);
}

/* Case 4: an event whose string another thread of the expert grows while it
 * is submitted is copied consistently (one pass): every copy is a run of
 * 'A's no longer than the buffer, and nothing overflows (ASan). */
TEST(test_h8_an_event_string_growing_during_the_copy_is_copied_in_one_pass)
{
    reset_out();
    nmx_run *r = start(g_misuse, "event_race", 0, 0);
    nmx_run_result res;
    if (!wait_end(r, &res))
        return;
    CHECK(res.returned);
    CHECK_EQ(g_out->events, 20000);
    CHECK_EQ(nmx_run_event_count(r), 20000);
    unsigned bad = 0;
    for (size_t i = 0; i < nmx_run_event_count(r); i++) {
        const NMEVENTDATA *ev = nmx_run_event(r, i);
        const char *s[2] = {ev->szSourceName, ev->Column[0].VariantData.Value.pStringVal};
        for (int j = 0; j < 2; j++)
            bad += !s[j] || strlen(s[j]) >= 4096 || strspn(s[j], "A") != strlen(s[j]);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
}

/* Case 5: blocks the expert left read-only go back to the shared cache
 * writable: the next keys, the host's own included, zero and use that
 * memory without a fault. */
TEST(test_m13_blocks_left_read_only_do_not_break_the_next_key)
{
    reset_out();
    nmx_run *r = start(g_misuse, "mprotect_block", 0, 0);
    nmx_run_result res;
    if (!wait_end(r, &res))
        return;
    CHECK(res.returned);
    CHECK_EQ(g_out->rc[0], 0);
    CHECK_EQ(g_out->rc[1], 0);
    CHECK_EQ(res.mem.live_blocks, 2);
    CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
    for (int round = 0; round < 4; round++) {
        HEXPERTKEY k;
        CHECK_EQ(nmx_key_create(NULL, &k), NMERR_SUCCESS);
        for (int i = 0; i < 64; i++) {
            unsigned char *p = ExpertAllocMemory(k, 256 << 10, NULL);
            unsigned char *q = ExpertAllocMemory(k, 64, NULL);
            CHECK(p && q);
            if (p && q) {
                memset(p, 1, 256 << 10);
                memset(q, 1, 64);
            }
        }
        nmx_key_destroy(k, NULL);
    }
}

/* Case 6: an expert that frees its pConfig (not its block: refused) and then
 * allocates a block of the same size leaks exactly that block. */
TEST(test_h3_expert_freeing_its_config_cannot_shrink_its_ledger)
{
    reset_out();
    nmx_run *r = start(g_misuse, "free_config", 0, 0);
    nmx_run_result res;
    if (!wait_end(r, &res))
        return;
    CHECK(res.returned && res.run_value);
    CHECK_EQ(g_out->rc[0], NMERR_INVALID_PARAMETER);
    CHECK_EQ(res.mem.live_blocks, 1);
    CHECK_EQ(res.mem.live_bytes, sizeof(DWORD) + strlen("free_config") + 1);
    CHECK_EQ(res.mem.bad_foreign, 1);
    CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
}

/* Case 7: the configuration is the host's, outside the key: a quota smaller
 * than the blob neither refuses the run nor takes the blob away. */
TEST(test_m11_configuration_is_delivered_outside_the_quota)
{
    reset_out();
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = g_cap;
    EXPERTCONFIG *c = blob("config_quota", 4000);
    o.config = c;
    o.quota_bytes = 1024;
    nmx_run *r = NULL;
    CHECK_EQ(nmx_run_start(g_misuse, &o, &r), NMERR_SUCCESS);
    free(c);
    nmx_run_result res;
    if (!wait_end(r, &res))
        return;
    CHECK(res.returned && res.run_value);
    CHECK_EQ(g_out->config_length, 4000);
    CHECK_EQ(res.mem.failed_quota, 0);
    CHECK_EQ(res.mem.live_blocks, 0);
    CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
}

/* A thread the expert started, still calling with the key after Run
 * returned, never reaches the freed run (ASan would say so): its calls
 * finish before the key is destroyed, or fail with a bad key after. */
TEST(test_h5_threads_the_expert_started_never_reach_a_freed_run)
{
    for (int round = 0; round < 20; round++) {
        reset_out();
        nmx_run *r = start(g_misuse, "stray_thread", 0, 0);
        nmx_run_result res;
        if (!wait_end(r, &res))
            return;
        CHECK_EQ(nmx_run_free(r), NMERR_SUCCESS);
        struct timespec ms = {0, 1000000};
        for (int i = 0; i < 30000 && !atomic_load(&g_out->stray_done); i++)
            nanosleep(&ms, NULL);
        CHECK(atomic_load(&g_out->stray_done));
        CHECK(atomic_load(&g_out->stray_calls) > 0);
    }
}

/* A filter serves only the run that made it: another run can neither walk
 * with it nor destroy it (C4). */
TEST(test_c4_a_filter_serves_only_the_run_that_made_it)
{
    reset_out();
    nmx_run *a = start(g_misuse, "share_filter", 0, 0);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 20000 && !atomic_load(&g_out->published); i++)
        nanosleep(&ms, NULL);
    nmx_run *b = start(g_misuse, "foreign_filter", 0, 0);
    nmx_run_result res;
    if (wait_end(b, &res))
        CHECK_EQ(nmx_run_free(b), NMERR_SUCCESS);
    atomic_store(&g_out->release, 1);
    if (wait_end(a, &res))
        CHECK_EQ(nmx_run_free(a), NMERR_SUCCESS);
    CHECK_EQ(g_out->rc[0], NMERR_SUCCESS);
    CHECK_EQ(g_out->rc[2], NMERR_INVALID_HFILTER);
    CHECK_EQ(g_out->rc[3], NMERR_INVALID_HFILTER);
    CHECK_EQ(g_out->rc[1], NMERR_SUCCESS);
}

/* The child of the next test: SIGSEGV sent to an expert thread with
 * pthread_kill is a request to die, not a fault of the expert's. */
static int signal_child(void)
{
    if (!make_capture())
        return 3;
    g_misuse = load_test_expert("misuse");
    if (!g_misuse)
        return 3;
    g_out = expert_sym(g_misuse, "misuse_out");
    nmx_run *r = start(g_misuse, "wait_for_signal", 0, 0);
    struct timespec ms = {0, 1000000};
    for (int i = 0; i < 20000 && !atomic_load(&g_out->published); i++)
        nanosleep(&ms, NULL);
    pthread_kill(g_out->thread, SIGSEGV);
    nmx_run_result res;
    nmx_run_wait(r, 5000, &res);
    return 0; /* survived: the trap took the signal for a fault */
}

TEST(test_h5_signals_sent_with_kill_are_not_taken_for_faults)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    CHECK(n > 0);
    if (n <= 0)
        return;
    self[n] = '\0';
    char *argv[] = {self, "signal-child", NULL};
    pid_t pid;
    CHECK_EQ(posix_spawn(&pid, self, NULL, NULL, argv, environ), 0);
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    /* Killed by the signal; a sanitizer's own SIGSEGV handler (chained
     * behind ours) reports and exits non-zero instead. */
    CHECK((WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV) || (WIFEXITED(st) && WEXITSTATUS(st) != 0 &&
                                                           WEXITSTATUS(st) != 3));
    if (WIFEXITED(st))
        printf("     child exited with %d\n", WEXITSTATUS(st));
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "signal-child"))
        return signal_child();
    CHECK_INIT(argc, argv);
    if (!make_capture()) {
        fprintf(stderr, "cannot make the test capture\n");
        return EXIT_FAILURE;
    }
    g_misuse = load_test_expert("misuse");
    CHECK(g_misuse != NULL);
    if (!g_misuse)
        return CHECK_DONE();
    g_out = expert_sym(g_misuse, "misuse_out");
    RUN(test_h5_signals_sent_with_kill_are_not_taken_for_faults);
    RUN(test_h5_every_bad_pointer_to_every_expert_function_is_answered_or_contained);
    RUN(test_h5_unmapped_status_text_is_refused_and_the_time_limit_still_ends_the_run);
    RUN(test_h5_filter_message_into_a_short_buffer_leaves_filters_working);
    RUN(test_h5_stack_overflow_at_alloc_ends_the_run_and_segments_still_come);
    RUN(test_h8_an_event_string_growing_during_the_copy_is_copied_in_one_pass);
    RUN(test_h3_expert_freeing_its_config_cannot_shrink_its_ledger);
    RUN(test_m11_configuration_is_delivered_outside_the_quota);
    RUN(test_h5_threads_the_expert_started_never_reach_a_freed_run);
    RUN(test_c4_a_filter_serves_only_the_run_that_made_it);
    RUN(test_m13_blocks_left_read_only_do_not_break_the_next_key);
    nmx_expert_unload(g_misuse);
    nmx_capture_close(g_cap);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_tmp);
    return CHECK_DONE();
}
