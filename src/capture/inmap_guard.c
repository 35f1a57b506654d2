/* Mapped inputs cut short under us (capture_internal.h, nmx__inmap_guard).
 *
 * A program that truncates an input file while its mapping is in use takes
 * the pages past the new end away: touching one raises SIGBUS, whichever
 * thread does it (the reader, a run, the library user). The fault trap
 * (src/host/fault.c) asks nmx__inmap_repair first: if the address lies in a
 * registered mapping, zero-filled pages are mapped over the lost part, the
 * input records from which byte its contents are lost, and the access
 * resumes, reading zeros. The capture reports the change (C6) from that
 * record: a frame past it is an error, never a crash.
 *
 * The registry is read by the signal handler, so without locks: a fixed
 * array of slots, each published with release order once its range and
 * input are written, and cleared (end first) before its mapping goes. A
 * slot is claimed with a compare-and-swap. */
#define _GNU_SOURCE
#include "capture/capture_internal.h"
#include "host/host_internal.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define NMX__MAX_GUARDS 1024 /* mapped inputs open at once in a process */

typedef struct guard {
    _Atomic int used;            /* claimed by an input */
    _Atomic uintptr_t start, end; /* end != 0: published; [start, end) page-aligned */
    nmx__inmap *_Atomic m;
} guard;

static guard g_guards[NMX__MAX_GUARDS];
static _Atomic uintptr_t g_page; /* the page size, read once outside the handler */

int nmx__inmap_guard(nmx__inmap *m)
{
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    atomic_store(&g_page, pg);
    atomic_store(&m->lost, m->size);
    nmx__trap_install(); /* a library user reading frames is covered too */
    for (int i = 0; i < NMX__MAX_GUARDS; i++) {
        guard *g = &g_guards[i];
        int free_ = 0;
        if (!atomic_compare_exchange_strong(&g->used, &free_, 1))
            continue;
        uintptr_t start = (uintptr_t)m->base;
        atomic_store_explicit(&g->m, m, memory_order_relaxed);
        atomic_store_explicit(&g->start, start, memory_order_relaxed);
        atomic_store_explicit(&g->end, (start + m->size + pg - 1) & ~(pg - 1), memory_order_release);
        m->slot = i;
        return 0;
    }
    m->slot = -1;
    return -1;
}

void nmx__inmap_unguard(nmx__inmap *m)
{
    if (m->slot < 0)
        return;
    guard *g = &g_guards[m->slot];
    atomic_store_explicit(&g->end, 0, memory_order_release);
    atomic_store_explicit(&g->start, 0, memory_order_relaxed);
    atomic_store_explicit(&g->m, NULL, memory_order_relaxed);
    atomic_store(&g->used, 0);
    m->slot = -1;
}

/* Lower m->lost to `off` (a compare-and-swap loop: lock-free, signal-safe). */
static void lose_from(nmx__inmap *m, uint64_t off)
{
    uint64_t cur = atomic_load(&m->lost);
    while (off < cur && !atomic_compare_exchange_weak(&m->lost, &cur, off)) {
    }
}

/* Async-signal-safe: atomics, mmap and fstat only. */
int nmx__inmap_repair(const void *addr)
{
    uintptr_t a = (uintptr_t)addr;
    uintptr_t pg = atomic_load_explicit(&g_page, memory_order_relaxed);
    for (int i = 0; i < NMX__MAX_GUARDS; i++) {
        guard *g = &g_guards[i];
        uintptr_t end = atomic_load_explicit(&g->end, memory_order_acquire);
        uintptr_t start = atomic_load_explicit(&g->start, memory_order_relaxed);
        nmx__inmap *m = atomic_load_explicit(&g->m, memory_order_relaxed);
        if (!end || !m || a < start || a >= end)
            continue;
        uintptr_t from = a & ~(pg - 1);
        if (mmap((void *)from, end - from, PROT_READ, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
            MAP_FAILED)
            return 0;
        /* The bytes between the new end and the fault page read zeros too,
         * without faulting: the file's size says where the loss starts. */
        struct stat st;
        uint64_t cut = from - start;
        if (fstat(m->fd, &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size < cut)
            cut = (uint64_t)st.st_size;
        lose_from(m, cut);
        return 1;
    }
    return 0;
}
