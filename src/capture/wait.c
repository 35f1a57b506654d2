/* Waiting for frames the reader has not yet published (capture_internal.h,
 * "streaming"): futexes, no polling. The workers' wait queue is on a shared
 * file page, so a futex there works between the host's reader and a worker
 * process's runs as well as between threads.
 *
 * The handshake: a waiter counts itself in `waiters`, reads `seq`, checks
 * the frame count, and sleeps only while `seq` is unchanged. The writer
 * stores the frame count, then reads `waiters`; when someone waits, it bumps
 * `seq` and wakes everyone. Both sides use sequentially consistent order, so
 * either the waiter sees the new count or the writer sees the waiter.
 */
#define _GNU_SOURCE
#include "capture/capture_internal.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex_wait(_Atomic uint32_t *w, uint32_t val)
{
    /* Not FUTEX_PRIVATE: the word may be on a page another process maps. */
    syscall(SYS_futex, (void *)w, FUTEX_WAIT, val, NULL, NULL, 0);
}

static void waitq_wake(nmx__waitq *q)
{
    atomic_fetch_add(&q->seq, 1);
    syscall(SYS_futex, (void *)&q->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static int have_frame(const nmx__cap_shared *sh, uint32_t i)
{
    return i != UINT32_MAX && atomic_load(&sh->nframes) > i;
}

static int wait_sleep(const nmx_capture *cap, uint32_t i, int (*stop)(void *), void *arg)
{
    const nmx__cap_shared *sh = cap->sh;
    nmx__waitq *q = cap->wq;
    int r;
    atomic_fetch_add(&q->waiters, 1);
    for (;;) {
        uint32_t seq = atomic_load(&q->seq);
        if (have_frame(sh, i)) {
            r = 1;
            break;
        }
        if (atomic_load(&sh->done)) {
            r = have_frame(sh, i);
            break;
        }
        if (stop && stop(arg)) {
            r = -1;
            break;
        }
        futex_wait(&q->seq, seq);
    }
    atomic_fetch_sub(&q->waiters, 1);
    return r;
}

int nmx__capture_wait(const nmx_capture *cap, uint32_t i, int (*stop)(void *), void *arg)
{
    int r = have_frame(cap->sh, i) ? 1 : wait_sleep(cap, i, stop, arg);
    if (r == 1 && cap->attached && nmx__capture_map(cap, i) != 0)
        r = 0; /* the worker cannot map it: as if the frame did not exist */
    return r;
}

void nmx__capture_wait_done(const nmx_capture *cap)
{
    if (!atomic_load(&cap->sh->done))
        (void)wait_sleep(cap, UINT32_MAX, NULL, NULL);
}

void nmx__capture_wake(const nmx_capture *cap)
{
    waitq_wake(cap->wq);
}

static void wake_all(nmx_capture *cap)
{
    if (atomic_load(&cap->local.waiters))
        waitq_wake(&cap->local);
    if (cap->xq && atomic_load(&cap->xq->waiters))
        waitq_wake(cap->xq);
}

void nmx__capture_publish(nmx_capture *cap, uint32_t n)
{
    atomic_store(&cap->wsh->nframes, n);
    wake_all(cap);
}

void nmx__capture_publish_done(nmx_capture *cap)
{
    atomic_store(&cap->wsh->done, 1);
    wake_all(cap);
}
