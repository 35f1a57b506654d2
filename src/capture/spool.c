/* Spools: append-only stores in unlinked temporary files (spool.h). */
#define _GNU_SOURCE /* O_TMPFILE */
#include "capture/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

/* The stage grows from 64 KiB (a small capture's spools cost little) to
 * 1 MiB, the size of the pieces written to the file. */
#define STAGE_MIN ((size_t)64 << 10)
#define STAGE_BYTES ((size_t)1 << 20)
#define TABLE_BYTES (NMX_SPOOL_MAX_CHUNKS * sizeof(uint8_t *))

/* 512 KiB of address space; only the pages of chunks in use are ever
 * touched, so a small capture's table costs one page. */
static int table_make(nmx__spool *s)
{
    void *t = mmap(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (t == MAP_FAILED)
        return errno;
    s->chunks = t;
    return 0;
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
 * refused, or says 2) files may not be made. */
static int confined(void) { return prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 0; }

int nmx__spool_create(nmx__spool *s)
{
    memset(s, 0, sizeof *s);
    s->fd = -1;
    int e = table_make(s);
    if (e)
        return e;
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
    int e = table_make(s);
    if (e)
        return e;
    s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return s->fd < 0 ? errno : 0;
}

void nmx__spool_destroy(nmx__spool *s)
{
    if (s->chunks) {
        uint32_t end = atomic_load(&s->nmapped);
        for (uint32_t i = 0; i < end; i++) {
            uint8_t *c = atomic_load_explicit(&s->chunks[i], memory_order_relaxed);
            if (c)
                munmap(c, NMX_SPOOL_CHUNK);
        }
        munmap((void *)s->chunks, TABLE_BYTES);
        s->chunks = NULL;
    }
    free(s->stage);
    s->stage = NULL;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

/* Map chunk k into this process: read-only from the file, or read-write
 * anonymous. Racing readers: one mapping wins. */
static int chunk_map(nmx__spool *s, uint64_t k)
{
    if (k >= NMX_SPOOL_MAX_CHUNKS)
        return EFBIG;
    if (atomic_load_explicit(&s->chunks[k], memory_order_acquire))
        return 0;
    void *p = s->anon ? mmap(NULL, NMX_SPOOL_CHUNK, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)
                      : mmap(NULL, NMX_SPOOL_CHUNK, PROT_READ, MAP_SHARED, s->fd,
                             (off_t)(k << NMX_SPOOL_CHUNK_SHIFT));
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

int nmx__spool_flush(nmx__spool *s)
{
    size_t done = 0;
    while (done < s->stage_len) {
        ssize_t w = pwrite(s->fd, s->stage + done, s->stage_len - done, (off_t)(s->stage_off + done));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? errno : ENOSPC;
        done += (size_t)w;
    }
    s->stage_off += s->stage_len;
    s->stage_len = 0;
    return 0;
}

static int stage_grow(nmx__spool *s, size_t want)
{
    uint8_t *b = realloc(s->stage, want);
    if (!b)
        return ENOMEM;
    s->stage = b;
    s->stage_cap = want;
    return 0;
}

/* Make the stage hold n bytes at offset `at`: grow it (doubling up to
 * STAGE_BYTES), else write what it holds when they do not follow it or do
 * not fit. 0 or an errno value. */
static int stage_room(nmx__spool *s, uint64_t at, size_t n)
{
    int follows = at == s->stage_off + s->stage_len;
    size_t want = s->stage_len + n;
    if (follows && want > s->stage_cap && s->stage_cap < STAGE_BYTES) {
        size_t cap = s->stage_cap ? 2 * s->stage_cap : STAGE_MIN;
        cap = cap > STAGE_BYTES ? STAGE_BYTES : cap;
        if (stage_grow(s, cap > want ? cap : want) != 0)
            return ENOMEM;
    }
    if (!follows || want > s->stage_cap) {
        int e = nmx__spool_flush(s);
        if (e)
            return e;
        s->stage_off = at;
    }
    return n > s->stage_cap ? stage_grow(s, n) : 0; /* a frame larger than the stage */
}

void *nmx__spool_append(nmx__spool *s, size_t n, uint64_t *off)
{
    if (n > NMX_SPOOL_CHUNK || (!s->anon && s->fd < 0)) {
        errno = EINVAL;
        return NULL;
    }
    uint64_t at = s->len, k = at >> NMX_SPOOL_CHUNK_SHIFT;
    if (n && ((at + n - 1) >> NMX_SPOOL_CHUNK_SHIFT) != k) {
        k++; /* does not fit in what is left of this chunk: the next one */
        at = k << NMX_SPOOL_CHUNK_SHIFT;
    }
    int e = chunk_map(s, k);
    if (!e && !s->anon)
        e = stage_room(s, at, n);
    if (e) {
        errno = e;
        return NULL;
    }
    s->len = at + n;
    *off = at;
    if (s->anon)
        return nmx__spool_at(s, at);
    uint8_t *p = s->stage + s->stage_len;
    s->stage_len += n;
    return p;
}

void *nmx__spool_map_rw(nmx__spool *s, uint64_t off, size_t len)
{
    if (s->anon)
        return nmx__spool_at(s, off);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, (off_t)off);
    return p == MAP_FAILED ? NULL : p;
}

void nmx__spool_unmap_rw(const nmx__spool *s, void *p, size_t len)
{
    if (p && !s->anon)
        munmap(p, len);
}
