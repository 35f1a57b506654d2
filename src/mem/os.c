/* The operating system beneath the heap. */
#define _GNU_SOURCE
#include "mem/mem.h"

#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

void *nmx__os_map_aligned(size_t size, size_t align)
{
    /* Over-map by `align` and trim both ends: the kernel gives no alignment. */
    size_t len = size + align;
    if (len < size)
        return NULL;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    uintptr_t a = (uintptr_t)p;
    uintptr_t start = (a + align - 1) & ~(uintptr_t)(align - 1);
    if (start > a)
        munmap(p, start - a);
    uintptr_t end = start + size;
    if (a + len > end)
        munmap((void *)end, a + len - end);
    return (void *)start;
}

void nmx__os_decommit(void *p, size_t size)
{
    /* Private anonymous memory reads back as zero after MADV_DONTNEED. */
    if (size)
        (void)madvise(p, size, MADV_DONTNEED);
}

int nmx__os_restore(void *p, size_t size)
{
    if (mprotect(p, size, PROT_READ | PROT_WRITE) == 0)
        return 0;
    /* ENOMEM: part of it was unmapped. Map the whole range afresh. */
    void *q = mmap(p, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return q == p ? 1 : -1;
}

int nmx__os_guard(void *p, size_t size)
{
    return mprotect(p, size, PROT_NONE);
}

static long membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

/* The membarrier mode needs nmx__os_flush_stores as its way out should
 * membarrier fail later (excl.c); where there is none, it is not used. */
int nmx__os_membarrier_init(void)
{
#if defined(__x86_64__) || defined(__i386__)
    long q = membarrier(MEMBARRIER_CMD_QUERY);
    if (q < 0 || !(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return 0;
    return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
#else
    return 0;
#endif
}

int nmx__os_membarrier(void)
{
    return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0 ? 0 : -1;
}

/* Taking write access away from a present, dirty page makes the kernel shoot
 * its TLB entry down on every CPU that runs a thread of this process, by an
 * interrupt it waits for (x86); the interrupted thread's earlier stores,
 * which x86 keeps in order, are visible before the interrupt's own. The
 * fallback of CoreCLR's FlushProcessWriteBuffers, with a page of its own per
 * call, so nothing is shared. */
int nmx__os_flush_stores(void)
{
#if defined(__x86_64__) || defined(__i386__)
    volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    p[0] = 1; /* present and dirty, or there is nothing to shoot down */
    int rc = mprotect((void *)p, 4096, PROT_READ);
    munmap((void *)p, 4096);
    return rc == 0 ? 0 : -1;
#else
    return -1;
#endif
}
