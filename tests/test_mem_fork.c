/* fork() while other threads are inside the expert heap (issue 8; issue 9
 * forks worker processes from a host whose runs are going on): the child,
 * which has only the forking thread, must be able to create keys and
 * allocate, whatever lock or key another thread held at that moment, and
 * calls with the keys it inherited must come back (done, or refused).
 *
 * Not a concurrency test for ThreadSanitizer, which does not support fork in
 * a process with threads.
 */
#define _GNU_SOURCE
#include "check.h"
#include "mem/mem.h"
#include "mem_util.h"

#include <nmexpert/host.h>
#include <nmexpert/netmon.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define KiB ((size_t)1 << 10)
#define MiB ((size_t)1 << 20)

typedef struct busy {
    HEXPERTKEY shared; /* owned by the churner; the foreign thread calls on it too */
    atomic_int stop;
    atomic_ulong rounds;
} busy;

static size_t size_of(unsigned i)
{
    static const size_t sizes[] = {16, 100, 1000, 4096, 20000, 100 * KiB, 5 * MiB};
    return sizes[i % (sizeof sizes / sizeof sizes[0])];
}

/* The owner: alloc, realloc and free of every kind, on its own path. */
static void *churner(void *p)
{
    busy *b = p;
    void *blocks[64] = {0};
    DWORD err;
    for (unsigned i = 0; !atomic_load(&b->stop); i++) {
        unsigned j = i % 64;
        if (blocks[j])
            ExpertFreeMemory(b->shared, blocks[j]);
        blocks[j] = ExpertAllocMemory(b->shared, size_of(i / 64 + j), &err);
        if (i % 7 == 0 && blocks[j])
            blocks[j] = ExpertReallocMemory(b->shared, blocks[j], size_of(i), &err);
        atomic_fetch_add(&b->rounds, 1);
    }
    for (unsigned j = 0; j < 64; j++)
        ExpertFreeMemory(b->shared, blocks[j]);
    return NULL;
}

/* A foreign thread on the shared key (its mutex), with holds. */
static void *foreigner(void *p)
{
    busy *b = p;
    DWORD err;
    while (!atomic_load(&b->stop)) {
        ExpertFreeMemory(b->shared, ExpertAllocMemory(b->shared, 64, &err));
        nmx_key_hold h;
        nmx__key_hold(b->shared, &h);
        nmx__key_unhold(&h);
    }
    return NULL;
}

/* Keys come and go, with huge blocks and the cache trimmed (the table lock,
 * the segment cache's lock, the trimmer thread). */
static void *creator(void *p)
{
    busy *b = p;
    DWORD err;
    while (!atomic_load(&b->stop)) {
        HEXPERTKEY k = NULL;
        if (nmx_key_create(NULL, &k) != NMERR_SUCCESS)
            continue;
        void *h = ExpertAllocMemory(k, 6 * MiB, &err);
        ExpertAllocMemory(k, 300 * KiB, &err);
        ExpertFreeMemory(k, h);
        nmx_mem_stats st;
        nmx_key_stats(NULL, &st);
        nmx_key_destroy(k, NULL);
        nmx_heap_trim();
    }
    return NULL;
}

/* In the child: new keys work, and so do (or fail cleanly) inherited ones. */
static int child_work(void *p)
{
    busy *b = p;
    int before = check_failures_;
    DWORD err;
    for (int r = 0; r < 2; r++) {
        HEXPERTKEY k = NULL;
        CHECK_EQ(nmx_key_create(NULL, &k), NMERR_SUCCESS);
        for (unsigned i = 0; i < 14; i++) {
            size_t n = size_of(i);
            char *q = ExpertAllocMemory(k, n, &err);
            CHECK(q != NULL);
            if (q) {
                CHECK(mu_first_nonzero(q, n) == MU_NONE);
                memset(q, 0x5A, n);
                q = ExpertReallocMemory(k, q, n + 5000, &err);
                CHECK(q != NULL);
                CHECK_EQ(ExpertFreeMemory(k, q), NMERR_SUCCESS);
            }
        }
        CHECK(ExpertAllocMemory(k, 9 * MiB, &err) != NULL);
        nmx_mem_stats st;
        CHECK_EQ(nmx_key_stats(NULL, &st), NMERR_SUCCESS);
        nmx_heap_trim();
        CHECK_EQ(nmx_key_destroy(k, NULL), NMERR_SUCCESS);
    }
    /* The inherited key: abandoned (a thread was inside it) or usable. */
    void *q = ExpertAllocMemory(b->shared, 64, &err);
    CHECK(q != NULL || err == NMERR_INVALID_EXPERT_HANDLE);
    DWORD rc = nmx_key_destroy(b->shared, NULL);
    CHECK(rc == NMERR_SUCCESS || rc == NMERR_INVALID_EXPERT_HANDLE);
    CHECK(q == NULL || rc == NMERR_SUCCESS);
    return check_failures_ != before;
}

/* Issue 8, 9: forks taken while three threads are inside the heap (an
 * owner's path, a foreign mutex and hold, key creation with huge blocks and
 * trims): each child creates keys and allocates, and calls on inherited
 * keys come back. Before: the child could wait for ever on a lock a thread
 * that does not exist in it held, or use a key a vanished thread was
 * changing. */
TEST(test_fork_child_makes_keys_while_threads_are_inside_the_heap)
{
    busy b;
    memset(&b, 0, sizeof b);
    CHECK_EQ(nmx_key_create(NULL, &b.shared), NMERR_SUCCESS);
    pthread_t t[3];
    void *(*fns[3])(void *) = {churner, foreigner, creator};
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, fns[i], &b), 0);
    while (atomic_load(&b.rounds) < 1000)
        sched_yield();
    int ok = 0;
    const int forks = 40;
    for (int i = 0; i < forks; i++) {
        ok += mu_in_child("fork while threads are inside the heap", child_work, &b, 20);
        usleep(1000 * (unsigned)(i % 5));
    }
    CHECK_EQ(ok, forks);
    atomic_store(&b.stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    nmx_mem_stats st;
    CHECK_EQ(nmx_key_destroy(b.shared, &st), NMERR_SUCCESS);
    CHECK_EQ(st.live_blocks, 0);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    RUN(test_fork_child_makes_keys_while_threads_are_inside_the_heap);
    return CHECK_DONE();
}
