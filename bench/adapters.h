/* bench/adapters.h — one allocator behind the benchmark's five operations.
 *
 * workload.c is compiled once per allocator, with exactly one BENCH_<NAME>
 * macro and BENCH_ZERO (1: the zero-filling variant) defined by
 * bench/CMakeLists.txt. Each process therefore links one allocator only:
 * Debian's libjemalloc and libmimalloc both export malloc/free themselves and
 * must not share a process with the glibc peer.
 *
 * The operations are static inline so that every allocator pays the same
 * (zero) adapter cost:
 *   owner_new()          a new owner, made on the calling thread
 *   owner_destroy(o)     release the owner and every block it still holds;
 *                        BENCH_BULK_DESTROY says whether that is one bulk
 *                        call (else the workload frees each block first)
 *   b_alloc(o, n)        n bytes (zero-filled when BENCH_ZERO)
 *   b_realloc(o, p, old, n)  grow or shrink; with BENCH_ZERO the bytes past
 *                        `old` read as zero afterwards
 *   b_free(o, p)
 */
#ifndef NMX_BENCH_ADAPTERS_H
#define NMX_BENCH_ADAPTERS_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BENCH_ZERO
#error "BENCH_ZERO must be defined (0 or 1)"
#endif

static void bench_die(const char *what)
{
    fprintf(stderr, "nmx-bench worker: %s\n", what);
    exit(2);
}

/* ------------------------------------------------------------------ ours */
#if defined(BENCH_OURS)
#include <nmexpert/host.h>

#if !BENCH_ZERO
#error "ours always zero-fills"
#endif
#define BENCH_BULK_DESTROY 1
typedef struct owner owner; /* an HEXPERTKEY */

static owner *owner_new(void)
{
    HEXPERTKEY k = NULL;
    if (nmx_key_create(NULL, &k) != NMERR_SUCCESS) bench_die("nmx_key_create failed");
    return (owner *)k;
}
static void owner_destroy(owner *o)
{
    if (nmx_key_destroy((HEXPERTKEY)o, NULL) != NMERR_SUCCESS) bench_die("nmx_key_destroy failed");
}
static inline void *b_alloc(owner *o, size_t n)
{
    DWORD err;
    return ExpertAllocMemory((HEXPERTKEY)o, n, &err);
}
static inline void *b_realloc(owner *o, void *p, size_t old, size_t n)
{
    DWORD err;
    (void)old;
    return ExpertReallocMemory((HEXPERTKEY)o, p, n, &err);
}
static inline void b_free(owner *o, void *p) { (void)ExpertFreeMemory((HEXPERTKEY)o, p); }

/* -------------------------------------------------------------- mimalloc */
#elif defined(BENCH_MIMALLOC)
#include <mimalloc.h>

#define BENCH_BULK_DESTROY 1
typedef mi_heap_t owner;

static owner *owner_new(void)
{
    mi_heap_t *h = mi_heap_new();
    if (h == NULL) bench_die("mi_heap_new failed");
    return h;
}
static void owner_destroy(owner *o) { mi_heap_destroy(o); }
static inline void *b_alloc(owner *o, size_t n)
{
    return BENCH_ZERO ? mi_heap_zalloc(o, n) : mi_heap_malloc(o, n);
}
static inline void *b_realloc(owner *o, void *p, size_t old, size_t n)
{
    (void)old;
    return BENCH_ZERO ? mi_heap_rezalloc(o, p, n) : mi_heap_realloc(o, p, n);
}
static inline void b_free(owner *o, void *p)
{
    (void)o;
    mi_free(p);
}

/* -------------------------------------------------------------- jemalloc */
#elif defined(BENCH_JEMALLOC)
#include <jemalloc/jemalloc.h>

/* An owner is an arena of its own plus an explicit thread cache: the
 * per-owner arrangement jemalloc offers. Destroy flushes (destroys) the
 * tcache first, as arena.<i>.reset/destroy require, then the arena. */
#define BENCH_BULK_DESTROY 1
typedef struct owner {
    unsigned arena, tcache;
    int flags; /* MALLOCX_ARENA | MALLOCX_TCACHE [| MALLOCX_ZERO] */
    int dflags;
} owner;

static owner *owner_new(void)
{
    owner *o = malloc(sizeof *o);
    size_t sz = sizeof(unsigned);
    if (o == NULL) bench_die("out of memory");
    if (mallctl("arenas.create", &o->arena, &sz, NULL, 0) != 0) bench_die("arenas.create failed");
    sz = sizeof(unsigned);
    if (mallctl("tcache.create", &o->tcache, &sz, NULL, 0) != 0) bench_die("tcache.create failed");
    o->flags = MALLOCX_ARENA(o->arena) | MALLOCX_TCACHE(o->tcache) | (BENCH_ZERO ? MALLOCX_ZERO : 0);
    o->dflags = MALLOCX_TCACHE(o->tcache);
    return o;
}
static void owner_destroy(owner *o)
{
    char name[64];
    if (mallctl("tcache.destroy", NULL, NULL, &o->tcache, sizeof o->tcache) != 0)
        bench_die("tcache.destroy failed");
    snprintf(name, sizeof name, "arena.%u.destroy", o->arena);
    if (mallctl(name, NULL, NULL, NULL, 0) != 0) bench_die("arena.<i>.destroy failed");
    free(o);
}
static inline void *b_alloc(owner *o, size_t n) { return mallocx(n, o->flags); }
static inline void *b_realloc(owner *o, void *p, size_t old, size_t n)
{
    (void)old; /* MALLOCX_ZERO zero-fills the grown part of rallocx */
    return rallocx(p, n, o->flags);
}
static inline void b_free(owner *o, void *p) { dallocx(p, o->dflags); }

/* ---------------------------------------------------------------- talloc */
#elif defined(BENCH_TALLOC)
#include <talloc.h>

#define BENCH_BULK_DESTROY 1 /* talloc_free(ctx), which walks every child */
typedef struct owner owner;  /* a talloc context */

static owner *owner_new(void)
{
    void *ctx = talloc_new(NULL);
    if (ctx == NULL) bench_die("talloc_new failed");
    return (owner *)ctx;
}
static void owner_destroy(owner *o) { talloc_free(o); }
static inline void *b_alloc(owner *o, size_t n)
{
    return BENCH_ZERO ? talloc_zero_size(o, n) : talloc_size(o, n);
}
static inline void *b_realloc(owner *o, void *p, size_t old, size_t n)
{
    p = talloc_realloc_size(o, p, n);
    if (BENCH_ZERO && p != NULL && n > old) memset((char *)p + old, 0, n - old);
    return p;
}
static inline void b_free(owner *o, void *p)
{
    (void)o;
    talloc_free(p);
}

/* ----------------------------------------------------------------- glibc */
#elif defined(BENCH_GLIBC)

#define BENCH_BULK_DESTROY 0 /* no owner: W3 frees each block */
typedef struct owner {
    int unused;
} owner;

static owner glibc_owner;
static owner *owner_new(void) { return &glibc_owner; }
static void owner_destroy(owner *o) { (void)o; }
static inline void *b_alloc(owner *o, size_t n)
{
    (void)o;
    return BENCH_ZERO ? calloc(1, n) : malloc(n);
}
static inline void *b_realloc(owner *o, void *p, size_t old, size_t n)
{
    (void)o;
    p = realloc(p, n);
    if (BENCH_ZERO && p != NULL && n > old) memset((char *)p + old, 0, n - old);
    return p;
}
static inline void b_free(owner *o, void *p)
{
    (void)o;
    free(p);
}

#else
#error "define one of BENCH_OURS, BENCH_MIMALLOC, BENCH_JEMALLOC, BENCH_TALLOC, BENCH_GLIBC"
#endif

#endif
