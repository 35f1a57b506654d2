/* A spool: an append-only store in an unlinked temporary file, read through
 * shared read-only mappings of fixed-size chunks, so that (SPEC C8)
 *   - its pages are the page cache's: the kernel writes them back and evicts
 *     them under pressure; they never count as the process's anonymous memory;
 *   - an address, once handed out, never moves (chunks are never remapped):
 *     readers on other threads use what the writer published while it goes
 *     on appending (C7 with streaming);
 *   - another process can map the same file (nmx__capture_export);
 *   - readers see read-only pages, so an expert writing through pFrame
 *     faults instead of changing what every other run sees (C7).
 *
 * The writer appends into a small staging buffer of its own and writes it
 * to the file with pwrite when it is full or flushed (no page faults on the
 * writer's side, and a full disk is an error, never a SIGBUS). What has been
 * flushed is readable through nmx__spool_at; publishing it to readers (the
 * capture's frame count, stored with release order) is the caller's.
 *
 * In a process confined by seccomp (an isolated run's worker) no file can
 * be made: the chunks are then shared anonymous memory, written in place.
 */
#ifndef NMX_SPOOL_H
#define NMX_SPOOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define NMX_SPOOL_CHUNK_SHIFT 26 /* 64 MiB chunks */
#define NMX_SPOOL_CHUNK ((uint64_t)1 << NMX_SPOOL_CHUNK_SHIFT)
#define NMX_SPOOL_MAX_CHUNKS 65536u /* 4 TiB per spool */

typedef struct nmx__spool {
    int fd;           /* the unlinked file; -1 when closed, or anonymous */
    int anon;         /* 1: shared anonymous chunks, written in place */
    uint64_t len;     /* bytes appended (the writer's) */
    uint8_t *stage;   /* the writer's: bytes appended since the last flush */
    uint64_t stage_off; /* their offset in the spool */
    size_t stage_len, stage_cap;
    _Atomic(uint8_t *) *chunks; /* NMX_SPOOL_MAX_CHUNKS mappings, made lazily */
    _Atomic uint32_t nmapped;   /* chunk slots at and above are empty */
} nmx__spool;

/* Make an empty spool in an unlinked file of $TMPDIR (else /var/tmp, which
 * is on disk where /tmp may be tmpfs). 0, or an errno value. */
int nmx__spool_create(nmx__spool *s);

/* A spool over an existing file (another process's spool), to read; the
 * fd is duplicated. 0 or an errno value. */
int nmx__spool_attach(nmx__spool *s, int fd);

/* Unmap and close. Safe on a zeroed spool whose fd is -1. */
void nmx__spool_destroy(nmx__spool *s);

/* Room for n contiguous bytes at the end (n <= NMX_SPOOL_CHUNK); a piece
 * never straddles two chunks (the rest of a chunk is skipped when it does
 * not fit). Returns where the writer writes them, valid until the next
 * append or flush, and sets *off to their offset (readers use
 * nmx__spool_at(off) once flushed). NULL with errno set when memory or disk
 * is refused. */
void *nmx__spool_append(nmx__spool *s, size_t n, uint64_t *off);

/* Write what was appended to the file. 0 or an errno value (ENOSPC ...). */
int nmx__spool_flush(nmx__spool *s);

/* A writable view of [off, off + len), page-aligned and flushed: state the
 * writer updates in place (the capture's shared page, the workers' wait
 * page). NULL with errno. Undo with nmx__spool_unmap_rw. */
void *nmx__spool_map_rw(nmx__spool *s, uint64_t off, size_t len);
void nmx__spool_unmap_rw(const nmx__spool *s, void *p, size_t len);

/* Map the chunk holding `off` if this process has not yet (a reader of an
 * attached spool). 0 or an errno value. */
int nmx__spool_map(nmx__spool *s, uint64_t off);

/* The address of offset `off`, which was flushed (and, attached, mapped). */
static inline uint8_t *nmx__spool_at(const nmx__spool *s, uint64_t off)
{
    uint8_t *c = atomic_load_explicit(&s->chunks[off >> NMX_SPOOL_CHUNK_SHIFT], memory_order_acquire);
    return c + (off & (NMX_SPOOL_CHUNK - 1));
}

#endif
