/* The bundled experts' hash table (header-only; memory through the key).
 *
 * Items live back to back in one array grown with ExpertReallocMemory, in
 * the order they were added (so a report can walk them in first-seen order,
 * and an index stays valid while pointers do not: adding may move the
 * array). Each item starts with its key, key_size bytes, compared with
 * memcmp: pad key structures with zeros. The slots (open addressing, linear
 * probing, at most half full) hold an item's index + 1 and its hash, so
 * growing never calls back into the user's hash function.
 */
#ifndef NMX_XU_MAP_H
#define NMX_XU_MAP_H

#include <nmexpert/netmon.h>

#include <stdint.h>
#include <string.h>

typedef struct xu_slot {
    uint32_t item; /* index + 1; 0: empty */
    uint32_t hash;
} xu_slot;

typedef struct xu_map {
    HEXPERTKEY key;
    size_t key_size, item_size;
    uint8_t *items;
    size_t n, cap;
    xu_slot *slots;
    size_t nslots; /* a power of two */
} xu_map;

static inline void xu_map_init(xu_map *m, HEXPERTKEY key, size_t key_size, size_t item_size)
{
    memset(m, 0, sizeof *m);
    m->key = key;
    m->key_size = key_size;
    m->item_size = item_size;
}

static inline void xu_map_free(xu_map *m)
{
    ExpertFreeMemory(m->key, m->items);
    ExpertFreeMemory(m->key, m->slots);
    m->items = NULL;
    m->slots = NULL;
    m->n = m->cap = m->nslots = 0;
}

static inline void *xu_map_item(const xu_map *m, size_t i)
{
    return m->items + i * m->item_size;
}

/* 64-bit FNV-1a over the key, folded: good enough for addresses and ports. */
static inline uint32_t xu_hash(const void *k, size_t n)
{
    const uint8_t *p = k;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return (uint32_t)(h ^ (h >> 32));
}

/* The slot for `k`: the one holding it, or the empty one where it would go. */
static inline xu_slot *xu_map_probe(const xu_map *m, const void *k, uint32_t h)
{
    size_t mask = m->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        xu_slot *s = &m->slots[i];
        if (!s->item || (s->hash == h && !memcmp(xu_map_item(m, s->item - 1), k, m->key_size)))
            return s;
    }
}

/* The index of the item with key k, or -1. */
static inline long xu_map_find(const xu_map *m, const void *k)
{
    if (!m->nslots)
        return -1;
    xu_slot *s = xu_map_probe(m, k, xu_hash(k, m->key_size));
    return s->item ? (long)s->item - 1 : -1;
}

static inline DWORD xu_map_grow_slots(xu_map *m)
{
    size_t ns = m->nslots ? m->nslots * 2 : 64;
    DWORD err = NMERR_SUCCESS;
    xu_slot *s = ExpertAllocMemory(m->key, ns * sizeof *s, &err); /* zero-filled */
    if (!s)
        return err;
    for (size_t i = 0; i < m->nslots; i++) {
        if (!m->slots[i].item)
            continue;
        size_t j = m->slots[i].hash & (ns - 1);
        while (s[j].item)
            j = (j + 1) & (ns - 1);
        s[j] = m->slots[i];
    }
    ExpertFreeMemory(m->key, m->slots);
    m->slots = s;
    m->nslots = ns;
    return NMERR_SUCCESS;
}

/* Adds a zeroed item with key k and returns its index (-1 with *err set).
 * If k is there already, the new item replaces it in the table (the old one
 * stays in the array, found no more): a reused TCP tuple starts a new
 * conversation this way. */
static inline long xu_map_add(xu_map *m, const void *k, DWORD *err)
{
    if (m->n >= UINT32_MAX - 1) {
        *err = NMERR_OUT_OF_MEMORY;
        return -1;
    }
    if ((m->n + 1) * 2 > m->nslots && (*err = xu_map_grow_slots(m)) != NMERR_SUCCESS)
        return -1;
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 64;
        uint8_t *p = ExpertReallocMemory(m->key, m->items, nc * m->item_size, err);
        if (!p)
            return -1;
        m->items = p;
        m->cap = nc;
    }
    uint32_t h = xu_hash(k, m->key_size);
    xu_slot *s = xu_map_probe(m, k, h);
    uint8_t *it = xu_map_item(m, m->n);
    memset(it, 0, m->item_size);
    memcpy(it, k, m->key_size);
    s->item = (uint32_t)++m->n;
    s->hash = h;
    return (long)m->n - 1;
}

/* The index of the item with key k, added (zeroed) if it is not there. */
static inline long xu_map_get(xu_map *m, const void *k, DWORD *err)
{
    long i = xu_map_find(m, k);
    return i >= 0 ? i : xu_map_add(m, k, err);
}

/* ---- flows: a key for either direction of a conversation ---- */

typedef struct xu_flow_key {
    uint8_t fam, proto, pad[2]; /* fam 0 Ethernet, 4, 6; proto 6 TCP, 17 UDP, 0 none */
    uint16_t port[2];
    uint8_t addr[2][16]; /* zero padded */
} xu_flow_key;

/* The key of a flow between (a, pa) and (b, pb), the lower endpoint first
 * (address bytes, then port), so both directions find it; returns which
 * side of the key (a, pa) is: 0 or 1. */
static inline int xu_flow_key_of(xu_flow_key *k, int fam, uint8_t proto, const uint8_t *a, uint16_t pa,
                                 const uint8_t *b, uint16_t pb)
{
    size_t al = fam == 4 ? 4 : fam == 6 ? 16 : 6;
    int c = memcmp(a, b, al);
    int swap = c > 0 || (c == 0 && pa > pb);
    memset(k, 0, sizeof *k);
    k->fam = (uint8_t)fam;
    k->proto = proto;
    memcpy(k->addr[swap], a, al);
    memcpy(k->addr[!swap], b, al);
    k->port[swap] = pa;
    k->port[!swap] = pb;
    return swap;
}

#endif
