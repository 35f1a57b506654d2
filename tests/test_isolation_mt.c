/* Isolated runs from many threads at once (SPEC H10, H11, issue 9).
 *
 * Several host threads start, terminate, kill and reap workers at the same
 * time, so the fork-server's requests, the relay threads and the ends of
 * runs interleave; a kill that races with a run's normal end gives either
 * the exact result or a killed run, never anything else. Run under
 * ThreadSanitizer in CI (the concurrency label).
 */
#define _GNU_SOURCE
#include "isolation_util.h"

#include <signal.h>
#include <stdatomic.h>

enum { THREADS = 4, ROUNDS = UNDER_TSAN ? 3 : 8 };

static _Atomic int g_bad_results;

static void check_good(const iu_run *r)
{
    int ok = r->res.status.Status == EXPERTSTATUS_DONE && r->nev == 1 &&
             r->res.mem.live_blocks == 0 && r->ev[0]->NumColumns == 2 &&
             r->ev[0]->Column[0].VariantData.Value.Uint32Val == 4050045000u;
    if (!ok)
        atomic_fetch_add(&g_bad_results, 1);
}

/* A kill racing with the end: the exact result, or a killed run. */
static void check_good_or_killed(const iu_run *r)
{
    if (r->res.status.Status == EXPERTSTATUS_DONE)
        check_good(r);
    else if (!(r->res.status.Status == EXPERTSTATUS_ABORTED &&
               r->res.status.SubStatus == EXPERTSUBSTATUS_ABORTED_USER))
        atomic_fetch_add(&g_bad_results, 1);
}

static void *host_thread(void *arg)
{
    (void)arg;
    for (int round = 0; round < ROUNDS; round++) {
        iu_run good, crash, term, raced;
        if (iu_start(&good, "wellbehaved", NULL) != NMERR_SUCCESS ||
            iu_start(&crash, "nullderef", NULL) != NMERR_SUCCESS ||
            iu_start(&term, "honours_terminate", NULL) != NMERR_SUCCESS ||
            iu_start(&raced, "wellbehaved", NULL) != NMERR_SUCCESS) {
            atomic_fetch_add(&g_bad_results, 1);
            return NULL;
        }
        nmx__iso_terminate(term.w);
        nmx__iso_kill(raced.w);
        iu_finish(&good, IU_WAIT_MS, 1000);
        iu_finish(&crash, IU_WAIT_MS, 1000);
        iu_finish(&term, IU_WAIT_MS, 1000);
        iu_finish(&raced, IU_WAIT_MS, 1000);
        check_good(&good);
        if (crash.res.fault_signal != SIGSEGV || crash.res.mem.live_blocks != 1)
            atomic_fetch_add(&g_bad_results, 1);
        if (term.res.status.Status != EXPERTSTATUS_ABORTED)
            atomic_fetch_add(&g_bad_results, 1);
        check_good_or_killed(&raced);
        /* after the end, terminate and kill change nothing */
        nmx__iso_terminate(good.w);
        nmx__iso_kill(good.w);
        iu_release(&good);
        iu_release(&crash);
        iu_release(&term);
        iu_release(&raced);
    }
    return NULL;
}

/* H10, H11: runs started, ended, terminated and killed from several threads
 * at once all give their exact results, and leave nothing behind. */
TEST(test_h11_h10_workers_from_many_threads_at_once)
{
    iu_run warm;
    CHECK_EQ(iu_start(&warm, "wellbehaved", NULL), NMERR_SUCCESS);
    iu_finish(&warm, IU_WAIT_MS, 1000);
    iu_release(&warm);
    int threads0 = iu_threads(), fds0 = iu_fds();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, host_thread, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ(atomic_load(&g_bad_results), 0);
    CHECK_EQ(iu_threads(), threads0);
    CHECK_EQ(iu_fds(), fds0);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    RUN(test_h11_h10_workers_from_many_threads_at_once);
    return CHECK_DONE();
}
