/* The bundled experts' hash table (header-only; memory through the key).
 *
 * Items live back to back in one array grown with ExpertReallocMemory, in
 * the order they were added (so a report can walk them in first-seen order,
 * and an index stays valid while pointers do not: adding may move the
 * array). Each item starts with its key, key_size bytes (a multiple of 4),
 * hashed and compared as whole words, in line (a lookup is on every frame's
 * path: no memcmp call): pad key structures with zeros. Lookups take the
 * key's size too (it must be key_size): a constant there lets the compiler
 * unroll the hash and the comparison. The slots (open
 * addressing, linear probing, at most half full) hold an item's index + 1
 * and its hash, so growing never rehashes, and most probes that miss end on
 * the hash without touching the item.
 */
#ifndef NMX_XU_MAP_H
#define NMX_XU_MAP_H

#include <nmexpert/netmon.h>

#include <assert.h>
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
    assert(key_size % 4 == 0 && key_size <= item_size);
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

static inline uint64_t xu_load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t xu_load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The hash of an n-byte key (n a multiple of 4): 8 bytes at a time, each
 * word mixed in with a multiply and a shift (the shift brings the high bits
 * down for the next word's multiply to spread), then murmur3's finaliser,
 * so that every byte reaches the low bits that pick the slot. */
static inline uint32_t xu_hash(const void *k, size_t n)
{
    const uint8_t *p = k;
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    size_t i = 0;
#pragma GCC unroll 8
    for (; i + 8 <= n; i += 8) {
        h = (h ^ xu_load64(p + i)) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    if (i < n)
        h = (h ^ xu_load32(p + i)) * 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return (uint32_t)h;
}

/* Whether the n-byte keys a and b (n a multiple of 4) are equal. */
static inline int xu_key_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint64_t d = 0;
    size_t i = 0;
#pragma GCC unroll 8
    for (; i + 8 <= n; i += 8)
        d |= xu_load64(a + i) ^ xu_load64(b + i);
    if (i < n)
        d |= xu_load32(a + i) ^ xu_load32(b + i);
    return d == 0;
}

/* The slot for `k` (n bytes): the one holding it, or the empty one where
 * it would go. */
static inline xu_slot *xu_map_probe(const xu_map *m, const void *k, size_t n, uint32_t h)
{
    assert(n == m->key_size);
    size_t mask = m->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        xu_slot *s = &m->slots[i];
        if (!s->item || (s->hash == h && xu_key_eq(xu_map_item(m, s->item - 1), k, n)))
            return s;
    }
}

/* The index of the item with key k (n bytes), or -1. */
static inline long xu_map_find(const xu_map *m, const void *k, size_t n)
{
    if (!m->nslots)
        return -1;
    xu_slot *s = xu_map_probe(m, k, n, xu_hash(k, n));
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

/* Adds a zeroed item with key k (n bytes) and returns its index (-1 with
 * *err set).
 * If k is there already, the new item replaces it in the table (the old one
 * stays in the array, found no more): a reused TCP tuple starts a new
 * conversation this way. */
static inline long xu_map_add(xu_map *m, const void *k, size_t n, DWORD *err)
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
    uint32_t h = xu_hash(k, n);
    xu_slot *s = xu_map_probe(m, k, n, h);
    uint8_t *it = xu_map_item(m, m->n);
    memset(it, 0, m->item_size);
    memcpy(it, k, n);
    s->item = (uint32_t)++m->n;
    s->hash = h;
    return (long)m->n - 1;
}

/* The index of the item with key k (n bytes), added (zeroed) if it is not
 * there. */
static inline long xu_map_get(xu_map *m, const void *k, size_t n, DWORD *err)
{
    long i = xu_map_find(m, k, n);
    return i >= 0 ? i : xu_map_add(m, k, n, err);
}

/* ---- flows: a key for either direction of a conversation ---- */

typedef struct xu_flow_key {
    uint8_t fam, proto, pad[2]; /* fam 0 Ethernet, 4, 6; proto 6 TCP, 17 UDP, 0 none */
    uint16_t port[2];
    uint8_t addr[2][16]; /* zero padded */
} xu_flow_key;

/* Orders the addresses a and b of family fam as memcmp would (byte by
 * byte, unsigned): < 0, 0, > 0. In line, with the family's fixed length. */
static inline int xu_addr_order(int fam, const uint8_t *a, const uint8_t *b)
{
    uint64_t x, y;
    if (fam == 4) {
        x = __builtin_bswap32(xu_load32(a));
        y = __builtin_bswap32(xu_load32(b));
    } else if (fam == 6) {
        x = __builtin_bswap64(xu_load64(a));
        y = __builtin_bswap64(xu_load64(b));
        if (x == y) {
            x = __builtin_bswap64(xu_load64(a + 8));
            y = __builtin_bswap64(xu_load64(b + 8));
        }
    } else { /* Ethernet: 6 bytes */
        x = (uint64_t)__builtin_bswap32(xu_load32(a)) << 16 | (uint64_t)a[4] << 8 | a[5];
        y = (uint64_t)__builtin_bswap32(xu_load32(b)) << 16 | (uint64_t)b[4] << 8 | b[5];
    }
    return (x > y) - (x < y);
}

/* Copies an address of family fam into a zeroed 16-byte field. */
static inline void xu_addr_copy(uint8_t *to, int fam, const uint8_t *a)
{
    if (fam == 4)
        memcpy(to, a, 4);
    else if (fam == 6)
        memcpy(to, a, 16);
    else
        memcpy(to, a, 6);
}

/* The key of a flow between (a, pa) and (b, pb), the lower endpoint first
 * (address bytes, then port), so both directions find it; returns which
 * side of the key (a, pa) is: 0 or 1. */
static inline int xu_flow_key_of(xu_flow_key *k, int fam, uint8_t proto, const uint8_t *a, uint16_t pa,
                                 const uint8_t *b, uint16_t pb)
{
    int c = xu_addr_order(fam, a, b);
    int swap = c > 0 || (c == 0 && pa > pb);
    memset(k, 0, sizeof *k);
    k->fam = (uint8_t)fam;
    k->proto = proto;
    xu_addr_copy(k->addr[swap], fam, a);
    xu_addr_copy(k->addr[!swap], fam, b);
    k->port[swap] = pa;
    k->port[!swap] = pb;
    return swap;
}

#endif
