/* The service hold of src/mem/key.c (nmx__key_hold), which src/host takes
 * around every Expert* service call made with a key (ExpertGetFrame,
 * ExpertIndicateStatus, ...) so that the key's context, the host's run,
 * cannot be destroyed under the call (SPEC H5, M12).
 *
 * Holds are taken here both by the key's owner thread (the memory calls' fast
 * path) and by other threads (the key's mutex); a destroy must wait for
 * either, a hold must never be mistaken for a memory call on another key,
 * and a thread unwound by a fault while holding is released by
 * nmx__key_recover_thread. Runs under ThreadSanitizer (label concurrency).
 */
#define _GNU_SOURCE
#include "check.h"
#include "mem/mem.h"
#include "mem_util.h"

#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static HEXPERTKEY key_new(void)
{
    HEXPERTKEY k = NULL;
    CHECK_EQ(nmx_key_create(NULL, &k), NMERR_SUCCESS);
    return k;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- a destroy on another thread, watched from here ---- */

typedef struct destroyer {
    pthread_t t;
    HEXPERTKEY key;
    atomic_int done;
    DWORD rc;
} destroyer;

static void *destroy_main(void *p)
{
    destroyer *d = p;
    d->rc = nmx_key_destroy(d->key, NULL);
    atomic_store(&d->done, 1);
    return NULL;
}

static void destroyer_start(destroyer *d, HEXPERTKEY key)
{
    d->key = key;
    atomic_store(&d->done, 0);
    d->rc = 0xFFFFFFFFu;
    CHECK_EQ(pthread_create(&d->t, NULL, destroy_main, d), 0);
}

/* Joins, and checks that the destroy succeeded. */
static void destroyer_join(destroyer *d)
{
    pthread_join(d->t, NULL);
    CHECK_EQ(atomic_load(&d->done), 1);
    CHECK_EQ(d->rc, NMERR_SUCCESS);
}

/* ---- a thread that holds a key until told to let go ---- */

typedef struct holder {
    pthread_t t;
    HEXPERTKEY key, other; /* other: a key of the holder's own, used while holding */
    int make_owner;        /* a memory call first: the fast (owner) hold */
    int recover;           /* let go as a fault's recovery would, not by unhold */
    atomic_int holding, release;
    void *ctx;
} holder;

static void *hold_main(void *p)
{
    holder *h = p;
    DWORD err;
    if (h->make_owner)
        ExpertFreeMemory(h->key, ExpertAllocMemory(h->key, 16, &err));
    nmx_key_hold kh;
    h->ctx = nmx__key_hold(h->key, &kh);
    atomic_store(&h->holding, 1);
    if (h->other) {
        /* A memory call on another key must not end the hold. */
        void *q = ExpertAllocMemory(h->other, 100, &err);
        ExpertFreeMemory(h->other, q);
    }
    while (!atomic_load(&h->release))
        sleep_ms(1);
    if (h->recover)
        nmx__key_recover_thread(h->key); /* as the trap does after unwinding */
    else
        nmx__key_unhold(&kh);
    return NULL;
}

static void holder_start(holder *h)
{
    atomic_store(&h->holding, 0);
    atomic_store(&h->release, 0);
    CHECK_EQ(pthread_create(&h->t, NULL, hold_main, h), 0);
    while (!atomic_load(&h->holding))
        sleep_ms(1);
}

/* A destroy started while h holds its key must still be waiting 100 ms
 * later, and must finish once h lets go. */
static void check_destroy_waits_for(holder *h)
{
    destroyer d;
    destroyer_start(&d, h->key);
    sleep_ms(100);
    CHECK_EQ(atomic_load(&d.done), 0);
    atomic_store(&h->release, 1);
    pthread_join(h->t, NULL);
    destroyer_join(&d);
}

/* ------------------------------------------------------------------------ */

/* H5, M9: a hold on a NULL, forged or destroyed key holds nothing. */
TEST(test_hold_of_bad_keys_holds_nothing)
{
    HEXPERTKEY dead = key_new();
    nmx__key_set_context(dead, &dead);
    CHECK_EQ(nmx_key_destroy(dead, NULL), NMERR_SUCCESS);
    HEXPERTKEY bad[] = {NULL, dead, (HEXPERTKEY)(uintptr_t)0x12345, (HEXPERTKEY)(uintptr_t)-1};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        nmx_key_hold h;
        CHECK(nmx__key_hold(bad[i], &h) == NULL);
        CHECK(h.k == NULL);
        CHECK_EQ(nmx__key_hold_terminated(&h), 0);
        CHECK_EQ(nmx__key_hold_block_size(&h, &h), 0);
        nmx__key_unhold(&h); /* a no-op */
    }
    /* Nothing was left held: the slot's next key is usable from here. */
    HEXPERTKEY k = key_new();
    DWORD err;
    void *p = ExpertAllocMemory(k, 8, &err);
    CHECK(p != NULL);
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
}

/* H4, M7, M9: the hold gives the key's context and its terminate flag, and
 * block sizes of the held key without counting or reporting bad pointers. */
static atomic_int g_hook_calls;
static void count_hook(nmx_bad_kind kind, HEXPERTKEY key, const void *ptr, void *ctx)
{
    (void)kind, (void)key, (void)ptr, (void)ctx;
    atomic_fetch_add(&g_hook_calls, 1);
}

TEST(test_hold_gives_context_terminate_and_quiet_block_sizes)
{
    HEXPERTKEY k = key_new(), other = key_new();
    int ctx;
    nmx__key_set_context(k, &ctx);
    DWORD err;
    char *a = ExpertAllocMemory(k, 100, &err);
    char *big = ExpertAllocMemory(k, (size_t)1 << 20, &err);
    char *gone = ExpertAllocMemory(k, 40, &err);
    ExpertFreeMemory(k, gone);
    char *theirs = ExpertAllocMemory(other, 100, &err);
    nmx_set_bad_call_hook(count_hook, NULL);
    atomic_store(&g_hook_calls, 0);

    nmx_key_hold h;
    CHECK(nmx__key_hold(k, &h) == &ctx);
    CHECK(h.k != NULL);
    CHECK_EQ(nmx__key_hold_terminated(&h), 0);
    CHECK_EQ(nmx__key_hold_block_size(&h, a), 100);
    CHECK_EQ(nmx__key_hold_block_size(&h, big), (size_t)1 << 20);
    CHECK_EQ(nmx__key_hold_block_size(&h, a + 16), 0);   /* interior */
    CHECK_EQ(nmx__key_hold_block_size(&h, gone), 0);     /* freed */
    CHECK_EQ(nmx__key_hold_block_size(&h, theirs), 0);   /* another key's */
    CHECK_EQ(nmx__key_hold_block_size(&h, &ctx), 0);     /* foreign */
    CHECK_EQ(nmx__key_hold_block_size(&h, NULL), 0);
    nmx__key_unhold(&h);
    CHECK(h.k == NULL);

    CHECK_EQ(nmx_key_terminate(k), NMERR_SUCCESS);
    CHECK(nmx__key_hold(k, &h) == &ctx);
    CHECK_EQ(nmx__key_hold_terminated(&h), 1);
    nmx__key_unhold(&h);

    nmx_set_bad_call_hook(NULL, NULL);
    CHECK_EQ(atomic_load(&g_hook_calls), 0);
    nmx_mem_stats st;
    CHECK_EQ(nmx_key_destroy(k, &st), NMERR_SUCCESS);
    CHECK_EQ(st.bad_interior + st.bad_double_free + st.bad_wrong_owner + st.bad_foreign, 0);
    CHECK_EQ(st.live_blocks, 2);
    CHECK_EQ(nmx_key_destroy(other, NULL), NMERR_SUCCESS);
}

/* M12, H5: a destroy waits while the key's owner thread holds it. */
TEST(test_hold_by_owner_thread_delays_destroy)
{
    holder h = {.key = key_new(), .make_owner = 1};
    holder_start(&h);
    check_destroy_waits_for(&h);
}

/* M12, H5: a destroy waits while another (non-owner) thread holds it. */
TEST(test_hold_by_foreign_thread_delays_destroy)
{
    holder h = {.key = key_new()};
    DWORD err;
    ExpertFreeMemory(h.key, ExpertAllocMemory(h.key, 16, &err)); /* main owns it */
    holder_start(&h);
    check_destroy_waits_for(&h);
}

/* M12: memory calls on another key made while holding leave the hold in place. */
TEST(test_hold_survives_memory_calls_on_another_key)
{
    holder h = {.key = key_new(), .other = key_new(), .make_owner = 1};
    DWORD err;
    /* The holder thread also owns `other`, so its calls there take the
     * owner's path, which would clear a shared "inside" word. */
    void *p = ExpertAllocMemory(h.other, 8, &err);
    ExpertFreeMemory(h.other, p); /* main owns other: the holder is foreign there */
    holder_start(&h);
    check_destroy_waits_for(&h);
    HEXPERTKEY other = h.other;
    holder h2 = {.key = key_new(), .other = key_new(), .make_owner = 1};
    holder_start(&h2); /* h2 makes its first `other` call while holding: it owns it */
    check_destroy_waits_for(&h2);
    CHECK_EQ(nmx_key_destroy(other, NULL), NMERR_SUCCESS);
    CHECK_EQ(nmx_key_destroy(h2.other, NULL), NMERR_SUCCESS);
}

/* H5: a thread unwound while holding (owner or not) is released by
 * nmx__key_recover_thread: the destroy then completes. */
TEST(test_hold_released_by_fault_recovery)
{
    for (int owner = 0; owner < 2; owner++) {
        holder h = {.key = key_new(), .make_owner = owner, .recover = 1};
        if (!owner) {
            DWORD err;
            ExpertFreeMemory(h.key, ExpertAllocMemory(h.key, 16, &err));
        }
        holder_start(&h);
        atomic_store(&h.release, 1);
        pthread_join(h.t, NULL);
        destroyer d;
        destroyer_start(&d, h.key);
        for (int i = 0; i < 5000 && !atomic_load(&d.done); i++)
            sleep_ms(1);
        CHECK_EQ(atomic_load(&d.done), 1);
        if (atomic_load(&d.done))
            destroyer_join(&d);
    }
}

/* M10: holds and memory calls from two threads on one key, with the owner
 * holding on its fast path, never overlap a foreign call's exclusive use. */
typedef struct churn {
    HEXPERTKEY key;
    atomic_int stop, inside;
    atomic_int overlap;
} churn;

static void *churn_holds(void *p)
{
    churn *c = p;
    DWORD err;
    ExpertFreeMemory(c->key, ExpertAllocMemory(c->key, 16, &err)); /* owner */
    for (int i = 0; i < 20000; i++) {
        nmx_key_hold h;
        if (!nmx__key_hold(c->key, &h) && !h.k)
            continue;
        if (atomic_fetch_add(&c->inside, 1) != 0)
            atomic_store(&c->overlap, 1);
        atomic_fetch_sub(&c->inside, 1);
        nmx__key_unhold(&h);
        void *q = ExpertAllocMemory(c->key, 32, &err);
        ExpertFreeMemory(c->key, q);
    }
    atomic_store(&c->stop, 1);
    return NULL;
}

static void *churn_foreign(void *p)
{
    churn *c = p;
    while (!atomic_load(&c->stop)) {
        nmx_key_hold h;
        nmx__key_hold(c->key, &h);
        if (atomic_fetch_add(&c->inside, 1) != 0)
            atomic_store(&c->overlap, 1);
        atomic_fetch_sub(&c->inside, 1);
        nmx__key_unhold(&h);
    }
    return NULL;
}

TEST(test_hold_owner_and_foreign_holds_exclude_each_other)
{
    churn c = {.key = key_new()};
    pthread_t a, b;
    int ctx;
    nmx__key_set_context(c.key, &ctx);
    CHECK_EQ(pthread_create(&a, NULL, churn_holds, &c), 0);
    CHECK_EQ(pthread_create(&b, NULL, churn_foreign, &c), 0);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    CHECK_EQ(atomic_load(&c.overlap), 0);
    nmx_mem_stats st;
    CHECK_EQ(nmx_key_destroy(c.key, &st), NMERR_SUCCESS);
    CHECK_EQ(st.live_blocks, 0);
}

/* H4, H6: terminate never waits for the key's mutex (the watchdog calls it;
 * a faulted thread could have left the mutex held): it returns while a
 * foreign thread holds the key, and takes effect for both paths. */
TEST(test_h4_terminate_returns_while_the_key_mutex_is_held)
{
    holder h = {.key = key_new()};
    DWORD err;
    ExpertFreeMemory(h.key, ExpertAllocMemory(h.key, 16, &err)); /* main owns it */
    holder_start(&h); /* a foreign hold: the key's mutex is held */
    CHECK_EQ(nmx_key_terminate(h.key), NMERR_SUCCESS);
    CHECK_EQ(atomic_load(&h.release), 0); /* returned before the hold ended */
    CHECK_EQ(nmx_key_terminate(h.key), NMERR_SUCCESS); /* idempotent */
    atomic_store(&h.release, 1);
    pthread_join(h.t, NULL);
    CHECK(ExpertAllocMemory(h.key, 16, &err) == NULL);
    CHECK_EQ(err, NMERR_EXPERT_TERMINATE);
    CHECK_EQ(nmx_key_destroy(h.key, NULL), NMERR_SUCCESS);
    CHECK_EQ(nmx_key_terminate(h.key), NMERR_INVALID_EXPERT_HANDLE);
}

/* Issue 8: ThreadSanitizer checks the owner's path as it runs, with fences
 * in place of membarrier (fence mode), rather than a build with the path
 * turned off; NMEXPERT_NO_FASTPATH=1 is the only way to turn it off. */
TEST(test_owner_path_is_on_unless_turned_off)
{
    HEXPERTKEY k = key_new(); /* the mode is chosen at the first key */
    const char *mode = nmx__excl_mode_name();
    if (getenv("NMEXPERT_NO_FASTPATH"))
        CHECK(strcmp(mode, "locked") == 0);
#ifdef MU_UNDER_TSAN
    else
        CHECK(strcmp(mode, "fence") == 0);
#else
    else
        CHECK(strcmp(mode, "locked") != 0);
#endif
    CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_hold_of_bad_keys_holds_nothing);
    RUN(test_hold_gives_context_terminate_and_quiet_block_sizes);
    RUN(test_hold_by_owner_thread_delays_destroy);
    RUN(test_hold_by_foreign_thread_delays_destroy);
    RUN(test_hold_survives_memory_calls_on_another_key);
    RUN(test_hold_released_by_fault_recovery);
    RUN(test_hold_owner_and_foreign_holds_exclude_each_other);
    RUN(test_h4_terminate_returns_while_the_key_mutex_is_held);
    RUN(test_owner_path_is_on_unless_turned_off);
    return CHECK_DONE();
}
