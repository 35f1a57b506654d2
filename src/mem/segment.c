/* Segments: the unit in which keys own memory.
 *
 * Every segment ever mapped stays mapped (its header readable) for the life of
 * the process, and its entry in the segment map never changes. That is what
 * lets any thread look up any pointer without a lock and without a race
 * against a concurrent release: a released segment's header says "no owner".
 * What goes back to the OS is the segments' pages (MADV_DONTNEED), beyond a
 * bounded cache of resident segments kept for reuse without page faults.
 *
 * Giving pages back costs far more than the rest of a key's destroy (about
 * 5 ms per 100 MB against 25 us for the segments' bookkeeping), so destroy
 * only queues the surplus: a trimmer thread, started at the first need,
 * decommits it at once on another core. nmx_heap_trim() does the same work on
 * the caller's thread.
 */
#define _GNU_SOURCE
#include "mem/mem.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* The segment map (declared in mem.h): written under g_lock, read by anyone. */
_Atomic(nmx_map_leaf *) nmx__seg_map[1u << NMX_MAP_L1_BITS];
nmx_map_leaf nmx__seg_map_empty;

void nmx__seg_init(void)
{
    for (size_t i = 0; i < (1u << NMX_MAP_L1_BITS); i++)
        atomic_store_explicit(&nmx__seg_map[i], &nmx__seg_map_empty, memory_order_release);
}

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static nmx_seg *g_resident;  /* released segments, pages resident (dirty) */
static nmx_seg *g_decommitted; /* released segments, pages given back */
static nmx_seg *g_huge_free;   /* released huge segments, pages given back */
static size_t g_resident_count, g_decommitted_count, g_in_use;
static size_t g_huge_in_use_bytes;
static size_t g_cache_limit = (size_t)64 << 20;
static int g_limit_read;
static pthread_cond_t g_trim_cond = PTHREAD_COND_INITIALIZER;
static int g_trimmer_started;

/* g_lock held. */
static int map_set(uintptr_t base, size_t size, nmx_seg *s)
{
    for (uintptr_t a = base; a < base + size; a += NMX_SEG_SIZE) {
        uintptr_t i = a >> NMX_SEG_SHIFT;
        nmx_map_leaf *leaf = atomic_load_explicit(&nmx__seg_map[i >> NMX_MAP_L2_BITS], memory_order_relaxed);
        if (leaf == &nmx__seg_map_empty) {
            leaf = nmx__os_map_aligned(sizeof(nmx_map_leaf), 4096);
            if (!leaf)
                return -1;
            atomic_store_explicit(&nmx__seg_map[i >> NMX_MAP_L2_BITS], leaf, memory_order_release);
        }
        atomic_store_explicit(&(*leaf)[i & ((1u << NMX_MAP_L2_BITS) - 1)], s, memory_order_release);
    }
    return 0;
}

static size_t meta_start(void)
{
    return (NMX_GUARD_SIZE + sizeof(nmx_seg) + 63) & ~(size_t)63;
}

/* The first byte after the header's own OS page(s): what may be decommitted. */
static size_t decommit_start(void)
{
    return (NMX_GUARD_SIZE + sizeof(nmx_seg) + 4095) & ~(size_t)4095;
}

/* g_lock held. Maps a new segment of `size` bytes with guards and a header. */
static nmx_seg *seg_map(size_t size, int huge)
{
    void *p = nmx__os_map_aligned(size, NMX_SEG_SIZE);
    if (!p)
        return NULL;
    uintptr_t base = (uintptr_t)p;
    size_t data = huge ? NMX_HUGE_DATA_OFFSET : NMX_FIRST_DATA_PAGE * NMX_PAGE_SIZE;
    if (nmx__os_guard(p, NMX_GUARD_SIZE) != 0 ||
        nmx__os_guard((void *)(base + data - NMX_GUARD_SIZE), NMX_GUARD_SIZE) != 0) {
        nmx__os_decommit(p, size);
        return NULL; /* leaves the range mapped but unused: rare, harmless */
    }
    nmx_seg *s = (nmx_seg *)(base + NMX_GUARD_SIZE);
    s->size = size;
    s->huge = (uint8_t)huge;
    if (map_set(base, size, s) != 0)
        return NULL;
    return s;
}

static void list_push(nmx_seg **head, nmx_seg *s)
{
    s->prev = NULL;
    s->next = *head;
    if (*head)
        (*head)->prev = s;
    *head = s;
}

static void list_remove(nmx_seg **head, nmx_seg *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        *head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void read_limit_once(void)
{
    if (g_limit_read)
        return;
    g_limit_read = 1;
    const char *e = getenv("NMEXPERT_CACHE_MB");
    if (e && *e) {
        char *end;
        unsigned long long mb = strtoull(e, &end, 10);
        if (*end == '\0' && mb < ((size_t)1 << 40))
            g_cache_limit = (size_t)mb << 20;
    }
}

static int over_limit(void)
{
    return g_resident && g_resident_count * NMX_SEG_SIZE > g_cache_limit;
}

/* g_lock held (and held again on return): gives back the pages of resident
 * cached segments beyond the limit. The lock is dropped around each
 * madvise, so allocation never waits for the kernel. */
static void trim_locked(void)
{
    while (over_limit()) {
        nmx_seg *s = g_resident;
        list_remove(&g_resident, s);
        g_resident_count--;
        pthread_mutex_unlock(&g_lock);
        size_t from = decommit_start();
        nmx__os_decommit((void *)(nmx_seg_base(s) + from), NMX_SEG_SIZE - from);
        for (size_t i = 0; i < NMX_PAGES_PER_SEG; i++)
            s->pages[i].touched = 0;
        pthread_mutex_lock(&g_lock);
        list_push(&g_decommitted, s);
        g_decommitted_count++;
    }
}

static void *trimmer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g_lock);
    for (;;) {
        while (!over_limit())
            pthread_cond_wait(&g_trim_cond, &g_lock);
        trim_locked();
    }
    return NULL;
}

/* g_lock held. Wakes the trimmer, starting it the first time; if no thread
 * can be started, trims here. */
static void trim_soon(void)
{
    if (!over_limit())
        return;
    if (!g_trimmer_started) {
        pthread_attr_t attr;
        sigset_t all, old;
        pthread_t t;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* no signals for the host land there */
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        g_trimmer_started = pthread_create(&t, &attr, trimmer, NULL) == 0;
        pthread_attr_destroy(&attr);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!g_trimmer_started) {
            trim_locked();
            return;
        }
    }
    pthread_cond_signal(&g_trim_cond);
}

/* Every field of a cached segment's page descriptors but touched and tag
 * (0 since release) back to zero. */
static void seg_reset(nmx_seg *s)
{
    for (size_t i = 0; i < NMX_PAGES_PER_SEG; i++) {
        nmx_page *pg = &s->pages[i];
        uint8_t touched = pg->touched;
        memset(pg, 0, offsetof(nmx_page, tag));
        pg->prev = pg->next = NULL;
        pg->touched = touched;
    }
    s->free_mask = ~(uint64_t)0 << NMX_FIRST_DATA_PAGE;
    s->meta_bump = (uint32_t)meta_start();
    s->in_free_list = 0;
    s->free_next = s->free_prev = NULL;
    s->huge_live = 0;
    s->huge_req = 0;
}

/* A segment another key used may hold blocks that key's expert made
 * read-only or PROT_NONE, or unmapped (issue 8 case 5): the next key would
 * fault zeroing them, perhaps on the host's own thread. So its data pages get
 * back the heap's protection before reuse, here rather than at release, which
 * keeps destroy free of system calls (W3); nothing touches a cached
 * segment's data meanwhile (the trimmer's madvise works on any protection).
 * Not under the lock. 0, or -1 if the segment cannot be used again. */
static int restore(nmx_seg *s, size_t from)
{
    int r = nmx__os_restore((void *)(nmx_seg_base(s) + from), s->size - from);
    if (r > 0) /* mapped afresh: zero */
        for (size_t i = NMX_FIRST_DATA_PAGE; i < NMX_PAGES_PER_SEG; i++)
            s->pages[i].touched = 0;
    return r < 0 ? -1 : 0;
}

/* A segment that cannot be used again stays out of every list (its map
 * entry stays too: a pointer into it is foreign). */
static void drop(nmx_seg *s)
{
    pthread_mutex_lock(&g_lock);
    if (s->huge)
        g_huge_in_use_bytes -= s->size;
    else
        g_in_use--;
    pthread_mutex_unlock(&g_lock);
}

nmx_seg *nmx__seg_acquire(uintptr_t owner)
{
    nmx_seg *s;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        read_limit_once();
        int reused = 1;
        if ((s = g_resident) != NULL) {
            list_remove(&g_resident, s);
            g_resident_count--;
        } else if ((s = g_decommitted) != NULL) {
            list_remove(&g_decommitted, s);
            g_decommitted_count--;
        } else {
            s = seg_map(NMX_SEG_SIZE, 0);
            reused = 0;
        }
        if (s) {
            g_in_use++;
            seg_reset(s);
        }
        pthread_mutex_unlock(&g_lock);
        if (!s || !reused || restore(s, NMX_FIRST_DATA_PAGE * NMX_PAGE_SIZE) == 0)
            break;
        drop(s);
    }
    if (s)
        atomic_store_explicit(&s->owner, owner, memory_order_release);
    return s;
}

nmx_seg *nmx__seg_acquire_huge(uintptr_t owner, size_t data_bytes)
{
    size_t need = NMX_HUGE_DATA_OFFSET + data_bytes;
    need = (need + NMX_SEG_SIZE - 1) & ~(NMX_SEG_SIZE - 1);
    nmx_seg *s;
    for (;;) {
        pthread_mutex_lock(&g_lock);
        for (s = g_huge_free; s; s = s->next)
            if (s->size >= need && s->size / 2 <= need)
                break;
        int reused = s != NULL;
        if (s)
            list_remove(&g_huge_free, s);
        else
            s = seg_map(need, 1);
        if (s) {
            g_huge_in_use_bytes += s->size;
            s->huge_live = 0;
            s->huge_req = 0;
        }
        pthread_mutex_unlock(&g_lock);
        /* Its pages were given back at release: zero, whatever happens here. */
        if (!s || !reused || restore(s, NMX_HUGE_DATA_OFFSET) == 0)
            break;
        drop(s);
    }
    if (s)
        atomic_store_explicit(&s->owner, owner, memory_order_release);
    return s;
}

void nmx__seg_release(nmx_seg *s)
{
    atomic_store_explicit(&s->owner, 0, memory_order_release);
    if (s->huge) {
        /* Huge blocks are too big to keep resident: their pages go back now. */
        nmx__os_decommit((void *)(nmx_seg_base(s) + NMX_HUGE_DATA_OFFSET),
                         s->size - NMX_HUGE_DATA_OFFSET);
        s->huge_live = 0;
        pthread_mutex_lock(&g_lock);
        g_huge_in_use_bytes -= s->size;
        list_push(&g_huge_free, s);
        pthread_mutex_unlock(&g_lock);
        return;
    }
    /* The key may have written anywhere in its segment (an overrun into a
     * page it never used, say): the next key clears each page it formats. */
    for (size_t i = NMX_FIRST_DATA_PAGE; i < NMX_PAGES_PER_SEG; i++) {
        s->pages[i].touched = 1;
        atomic_store_explicit(&s->pages[i].tag, 0, memory_order_relaxed);
    }
    pthread_mutex_lock(&g_lock);
    g_in_use--;
    list_push(&g_resident, s);
    g_resident_count++;
    trim_soon();
    pthread_mutex_unlock(&g_lock);
}

void nmx__seg_stats(nmx_heap_stats *out)
{
    pthread_mutex_lock(&g_lock);
    read_limit_once();
    out->segments_in_use = g_in_use;
    out->segments_cached = g_resident_count;
    out->segments_released = g_decommitted_count;
    out->huge_bytes_in_use = g_huge_in_use_bytes;
    out->cache_limit_bytes = g_cache_limit;
    pthread_mutex_unlock(&g_lock);
}

NMX_API void nmx_heap_set_cache_limit(size_t bytes)
{
    pthread_mutex_lock(&g_lock);
    g_limit_read = 1;
    g_cache_limit = bytes;
    trim_locked();
    pthread_mutex_unlock(&g_lock);
}

NMX_API void nmx_heap_trim(void)
{
    pthread_mutex_lock(&g_lock);
    read_limit_once();
    trim_locked();
    pthread_mutex_unlock(&g_lock);
}

/* Fork (key.c's handlers, the table lock taken first): the cache is
 * consistent in the child because its lock is held across the fork. A
 * segment the trimmer was giving back at that moment (outside the lock) is
 * lost to the child, which only leaks its address range there. */
void nmx__seg_fork_prepare(void)
{
    pthread_mutex_lock(&g_lock);
}

void nmx__seg_fork_parent(void)
{
    pthread_mutex_unlock(&g_lock);
}

void nmx__seg_fork_child(void)
{
    pthread_mutex_init(&g_lock, NULL);
    pthread_cond_init(&g_trim_cond, NULL);
    g_trimmer_started = 0; /* threads do not survive fork: started again when needed */
}
