/* Spools: append-only stores in unlinked temporary files (spool.h). */
#define _GNU_SOURCE /* O_TMPFILE, fallocate */
#include "capture/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Disk blocks are reserved ahead of the writer in steps that double from
 * 64 KiB to 8 MiB: a small capture reserves little (freeing blocks costs
 * time on a file system mounted with discard), a large one few times. */
#define FALLOC_MIN ((uint64_t)64 << 10)
#define FALLOC_MAX ((uint64_t)8 << 20)
#define TABLE_BYTES (NMX_SPOOL_MAX_CHUNKS * sizeof(uint8_t *))

/* 512 KiB of address space; only the pages of chunks in use are ever
 * touched, so a small capture's table costs one page. */
static void *table_make(void)
{
    void *t = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    return t == MAP_FAILED ? NULL : t;
}

/* Unmap the chunks below `end` (the slots above were never used) and the
 * table. */
static void table_unmap(void *t, uint32_t end)
{
    if (!t)
        return;
    uint8_t **c = t;
    for (uint32_t i = 0; i < end; i++)
        if (c[i])
            munmap(c[i], NMX_SPOOL_CHUNK);
    munmap(t, TABLE_BYTES);
}

static void anon_unmap(nmx__spool *s, uint32_t end)
{
    /* One mapping per chunk, in both tables. */
    for (uint32_t i = 0; i < end; i++)
        if (s->wchunks[i])
            munmap(s->wchunks[i], NMX_SPOOL_CHUNK);
    munmap(s->wchunks, TABLE_BYTES);
    munmap((void *)s->chunks, TABLE_BYTES);
}

static int tmpfile_open(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/var/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EOPNOTSUPP) {
        /* A file system without O_TMPFILE: make a file and unlink it. */
        char path[4096];
        size_t n = strlen(dir);
        if (n + sizeof "/nmx-spool-XXXXXX" > sizeof path)
            return -1;
        memcpy(path, dir, n);
        memcpy(path + n, "/nmx-spool-XXXXXX", sizeof "/nmx-spool-XXXXXX");
        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
    }
    return fd;
}

/* Inside a seccomp filter (an isolated run's worker: prctl itself is then
 * refused, or says 2) files may not be made: chunks are shared anonymous
 * memory instead, and such a spool cannot be exported. */
static int confined(void) { return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0; }

int nmx__spool_create(nmx__spool *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->chunks = table_make();
    s->wchunks = table_make();
    if (!s->chunks || !s->wchunks)
        return ENOMEM;
    s->writable = 1;
    if (confined()) {
        s->anon = 1;
        return 0;
    }
    s->fd = tmpfile_open();
    return s->fd < 0 ? (errno ? errno : ENAMETOOLONG) : 0;
}

int nmx__spool_attach(nmx__spool *s, int fd)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    s->chunks = table_make();
    if (!s->chunks)
        return ENOMEM;
    s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return s->fd < 0 ? errno : 0;
}

void nmx__spool_destroy(nmx__spool *s)
{
    uint32_t end = atomic_load(&s->nmapped);
    if (s->anon && s->chunks && s->wchunks) {
        anon_unmap(s, end);
    } else {
        table_unmap((void *)s->chunks, end);
        table_unmap(s->wchunks, end);
    }
    s->chunks = NULL;
    s->wchunks = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Map chunk k of the file into this process (the writer after growing the
 * file; a reader when it first needs it). Racing readers: one mapping wins. */
static int chunk_map(nmx__spool *s, uint64_t k)
{
    if (k >= NMX_SPOOL_MAX_CHUNKS)
        return EFBIG;
    if (atomic_load_explicit(&s->chunks[k], memory_order_acquire))
        return 0;
    off_t at = (off_t)(k << NMX_SPOOL_CHUNK_SHIFT);
    if (s->anon) {
        void *a = mmap(NULL, NMX_SPOOL_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (a == MAP_FAILED)
            return errno;
        s->wchunks[k] = a;
        atomic_store_explicit(&s->chunks[k], (uint8_t *)a, memory_order_release);
        atomic_store(&s->nmapped, (uint32_t)k + 1);
        return 0;
    }
    if (s->writable) {
        void *w = mmap(NULL, NMX_SPOOL_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, at);
        if (w == MAP_FAILED)
            return errno;
        s->wchunks[k] = w;
    }
    void *p = mmap(NULL, NMX_SPOOL_CHUNK, PROT_READ, MAP_SHARED, s->fd, at);
    if (p == MAP_FAILED)
        return errno;
    uint8_t *none = NULL;
    if (!atomic_compare_exchange_strong_explicit(&s->chunks[k], &none, p, memory_order_acq_rel,
                                                 memory_order_acquire))
        munmap(p, NMX_SPOOL_CHUNK);
    uint32_t end = atomic_load(&s->nmapped);
    while (end < k + 1 && !atomic_compare_exchange_weak(&s->nmapped, &end, (uint32_t)k + 1))
        ;
    return 0;
}

int nmx__spool_map(nmx__spool *s, uint64_t off) { return chunk_map(s, off >> NMX_SPOOL_CHUNK_SHIFT); }

/* Reserve disk blocks up to `end` (and a step beyond), so that writing
 * through the mapping cannot meet a full disk. */
static int reserve_blocks(nmx__spool *s, uint64_t end)
{
    if (s->anon || end <= s->falloc)
        return 0;
    uint64_t step = s->falloc < FALLOC_MIN ? FALLOC_MIN : s->falloc > FALLOC_MAX ? FALLOC_MAX : s->falloc;
    uint64_t want = (end + step - 1) / step * step;
    int e = posix_fallocate(s->fd, (off_t)s->falloc, (off_t)(want - s->falloc));
    if (e)
        return e;
    s->falloc = want;
    return 0;
}

void *nmx__spool_append(nmx__spool *s, size_t n, uint64_t *off)
{
    if (!s->writable || n > NMX_SPOOL_CHUNK) {
        errno = EINVAL;
        return NULL;
    }
    uint64_t at = s->len, k = at >> NMX_SPOOL_CHUNK_SHIFT;
    if (n && ((at + n - 1) >> NMX_SPOOL_CHUNK_SHIFT) != k) {
        k++; /* does not fit in what is left of this chunk: the next one */
        at = k << NMX_SPOOL_CHUNK_SHIFT;
    }
    int e = reserve_blocks(s, at + n);
    if (!e)
        e = chunk_map(s, k);
    if (e) {
        errno = e;
        return NULL;
    }
    s->len = at + n;
    *off = at;
    return s->wchunks[k] + (at & (NMX_SPOOL_CHUNK - 1));
}
