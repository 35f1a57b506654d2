/* Isolated runs from many threads at once (SPEC H10, H11, issue 9).
 *
 * Several host threads start, terminate and reap runs in worker processes
 * at the same time, through the public run API, so the fork-server's
 * requests, the relay threads, the watchdogs' kills and the ends of runs
 * interleave. Run under ThreadSanitizer in CI (the concurrency label).
 */
#define _GNU_SOURCE
#include "isolation_util.h"

#include <signal.h>
#include <stdatomic.h>

enum { THREADS = 4, ROUNDS = UNDER_TSAN ? 3 : 8 };

static _Atomic int g_bad_results;

static void bad(const char *what)
{
    fprintf(stderr, "  %s\n", what);
    atomic_fetch_add(&g_bad_results, 1);
}

static void check_good(const iu_run *r)
{
    if (!(r->res.status.Status == EXPERTSTATUS_DONE && r->nev == 1 &&
          r->res.mem.live_blocks == 0 && r->ev[0]->NumColumns == 2 &&
          r->ev[0]->Column[0].VariantData.Value.Uint32Val == 4050045000u))
        bad("wellbehaved");
}

static void *host_thread(void *arg)
{
    (void)arg;
    nmx_run_options hang;
    memset(&hang, 0, sizeof hang);
    hang.time_limit_ms = 400;
    hang.grace_ms = 100;
    for (int round = 0; round < ROUNDS; round++) {
        iu_run good, crash, term, hung;
        if (iu_start(&good, "wellbehaved", NULL) != NMERR_SUCCESS ||
            iu_start(&crash, "nullderef", NULL) != NMERR_SUCCESS ||
            iu_start(&term, "honours_terminate", NULL) != NMERR_SUCCESS ||
            iu_start(&hung, "hang_holding", &hang) != NMERR_SUCCESS) {
            bad("start");
            return NULL;
        }
        nmx_run_terminate(term.run);
        if (!iu_wait(&good, IU_WAIT_MS) || !iu_wait(&crash, IU_WAIT_MS) ||
            !iu_wait(&term, IU_WAIT_MS) || !iu_wait(&hung, IU_WAIT_MS)) {
            bad("end");
            return NULL;
        }
        check_good(&good);
        if (crash.res.fault_signal != SIGSEGV || crash.res.mem.live_blocks != 1)
            bad("nullderef");
        if (term.res.status.Status != EXPERTSTATUS_ABORTED)
            bad("honours_terminate");
        /* once it reported holding its three blocks it must be killed with
         * that ledger; a machine loaded enough may reach the time limit
         * before the expert reaches its loop (its Alloc then says
         * terminate and Run returns) */
        if (iu_nstatus(&hung) ? !hung.res.hung || !hung.res.killed ||
                                    hung.res.mem.live_blocks != 3
                              : !hung.res.timed_out)
            bad("hang_holding");
        /* after the end, terminate changes nothing */
        nmx_run_terminate(good.run);
        iu_release(&good);
        iu_release(&crash);
        iu_release(&term);
        iu_release(&hung);
    }
    return NULL;
}

/* H10, H11: runs started, ended, terminated and killed from several threads
 * at once all give their exact results, and leave nothing behind. */
TEST(test_h11_h10_workers_from_many_threads_at_once)
{
    iu_run warm;
    CHECK_EQ(iu_start(&warm, "wellbehaved", NULL), NMERR_SUCCESS);
    iu_finish(&warm);
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
