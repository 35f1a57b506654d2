/* A spool: an append-only store in an unlinked temporary file, mapped
 * shared in fixed-size chunks, so that (SPEC C8)
 *   - its pages are the page cache's: the kernel writes them back and evicts
 *     them under pressure; they never count as the process's anonymous memory;
 *   - an address, once handed out, never moves (chunks are never remapped):
 *     readers on other threads use what the writer published while it goes
 *     on appending (C7 with streaming);
 *   - another process can map the same file (nmx__capture_export);
 *   - what readers get is a read-only mapping (the writer writes through a
 *     second, writable one), so an expert writing through pFrame faults
 *     instead of changing what every other run sees (C7).
 *
 * One writer appends; any number of readers read what has been published to
 * them by the writer (the capture's frame count, stored with release order,
 * is that publication). Disk blocks are reserved with fallocate before the
 * writer touches a page, so a full disk is an error from nmx__spool_append,
 * never a SIGBUS.
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
    int fd;           /* the unlinked file; -1 when closed */
    int writable;     /* 0: attached read-only in another process */
    int anon;         /* 1: shared anonymous chunks, no file (made in a confined worker) */
    uint64_t len;     /* bytes appended (the writer's) */
    uint64_t falloc;  /* bytes of the file with disk blocks reserved */
    _Atomic(uint8_t *) *chunks; /* NMX_SPOOL_MAX_CHUNKS read-only mappings, made lazily */
    uint8_t **wchunks;          /* the writer's writable mappings of the same chunks */
    _Atomic uint32_t nmapped;   /* chunk slots at and above are empty */
} nmx__spool;

/* Make an empty spool in an unlinked file of $TMPDIR (else /var/tmp, which
 * is on disk where /tmp may be tmpfs). 0, or an errno value. */
int nmx__spool_create(nmx__spool *s);

/* A spool over an existing file (another process's spool), read-only; the
 * fd is duplicated. 0 or an errno value. */
int nmx__spool_attach(nmx__spool *s, int fd);

/* Unmap and close. Safe on a zeroed or half-made spool. */
void nmx__spool_destroy(nmx__spool *s);

/* Room for n contiguous bytes at the end (n <= NMX_SPOOL_CHUNK); a piece
 * never straddles two chunks (the rest of a chunk is skipped when it does
 * not fit). Returns the writable address and sets *off to its offset
 * (readers use nmx__spool_at(off)); the bytes count as appended at once. NULL with errno set (ENOSPC, ENOMEM, EFBIG) when it
 * cannot be had. Writer only. */
void *nmx__spool_append(nmx__spool *s, size_t n, uint64_t *off);

/* Map the chunk holding `off` if this process has not yet (a reader of an
 * attached spool). 0 or an errno value. */
int nmx__spool_map(nmx__spool *s, uint64_t off);

/* The address of offset `off`, which was appended (and, attached, mapped). */
static inline uint8_t *nmx__spool_at(const nmx__spool *s, uint64_t off)
{
    uint8_t *c = atomic_load_explicit(&s->chunks[off >> NMX_SPOOL_CHUNK_SHIFT], memory_order_acquire);
    return c + (off & (NMX_SPOOL_CHUNK - 1));
}

#endif
