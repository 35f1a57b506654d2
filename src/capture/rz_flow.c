/* The recognizer's flow table (rz_flow.h): open addressing over an array
 * of flow indexes, linear probing, doubled at half full. */
#include "capture/rz_flow.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

void nmx__rz_key_of(const nmx_decoded *d, nmx__rz_key *key, int *dir) {
    uint32_t s4 = be32(d->ip_src), d4 = be32(d->ip_dst);
    int c = d->ip_version == 6 ? memcmp(d->ip_src, d->ip_dst, 16) : (s4 > d4) - (s4 < d4);
    int swap = c > 0 || (c == 0 && d->sport > d->dport);
    memcpy(key->addr[swap], d->ip_src, 16); /* the unused 12 bytes of IPv4 are 0 in nmx_decoded */
    memcpy(key->addr[!swap], d->ip_dst, 16);
    key->port[swap] = d->sport;
    key->port[!swap] = d->dport;
    key->ip_version = d->ip_version;
    key->ip_proto = d->ip_proto;
    *dir = swap;
}

_Static_assert(sizeof(nmx__rz_key) <= 40, "a key is at most five words");

/* The key as five words (its 38 bytes, zero-padded). */
static void key_words(const nmx__rz_key *k, uint64_t w[5]) {
    w[4] = 0;
    memcpy(w, k, sizeof *k);
}

static uint32_t hash_words(const uint64_t w[5]) {
    /* FNV-1a a word at a time, then a finalizer (MurmurHash3's): the
     * table takes the low bits, which FNV's multiply leaves poorly mixed */
    uint64_t h = 14695981039346656037ull;
    for (int i = 0; i < 5; i++)
        h = (h ^ w[i]) * 1099511628211ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return (uint32_t)h;
}

static uint32_t hash_key(const nmx__rz_key *k) {
    uint64_t w[5];
    key_words(k, w);
    return hash_words(w);
}

static int same_key(const nmx__rz_key *a, const uint64_t w[5]) {
    uint64_t x[5];
    key_words(a, x);
    return ((x[0] ^ w[0]) | (x[1] ^ w[1]) | (x[2] ^ w[2]) | (x[3] ^ w[3]) | (x[4] ^ w[4])) == 0;
}

nmx__rz_flow *nmx__rz_find(nmx__rz_table *t, const nmx__rz_key *key) {
    if (!t->nslots)
        return NULL;
    uint64_t w[5];
    key_words(key, w);
    /* a capture's frames come in runs of one conversation: the last first */
    if (t->last && same_key(&t->flows[t->last - 1].key, w))
        return &t->flows[t->last - 1];
    uint32_t mask = t->nslots - 1;
    for (uint32_t i = hash_words(w) & mask; t->slots[i]; i = (i + 1) & mask) {
        nmx__rz_flow *f = &t->flows[t->slots[i] - 1];
        if (same_key(&f->key, w)) {
            t->last = t->slots[i];
            return f;
        }
    }
    return NULL;
}

static int grow_slots(nmx__rz_table *t) {
    uint32_t n = t->nslots ? t->nslots * 2 : 64;
    uint32_t *s = calloc(n, sizeof *s);
    if (!s)
        return 0;
    for (uint32_t f = 0; f < t->nflows; f++) {
        uint32_t i = hash_key(&t->flows[f].key) & (n - 1);
        while (s[i])
            i = (i + 1) & (n - 1);
        s[i] = f + 1;
    }
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    return 1;
}

nmx__rz_flow *nmx__rz_get(nmx__rz_table *t, const nmx__rz_key *key) {
    nmx__rz_flow *f = nmx__rz_find(t, key);
    if (f)
        return f;
    if ((uint64_t)(t->nflows + 1) * 2 > t->nslots && !grow_slots(t))
        return NULL;
    if (t->nflows == t->flows_cap) {
        uint32_t n = t->flows_cap ? t->flows_cap * 2 : 16;
        nmx__rz_flow *nf = realloc(t->flows, (size_t)n * sizeof *nf);
        if (!nf)
            return NULL;
        t->flows = nf;
        t->flows_cap = n;
    }
    f = &t->flows[t->nflows];
    memset(f, 0, sizeof *f);
    f->key = *key;
    uint32_t mask = t->nslots - 1, i = hash_key(key) & mask;
    while (t->slots[i])
        i = (i + 1) & mask;
    t->slots[i] = ++t->nflows;
    t->last = t->nflows;
    return f;
}

void nmx__rz_table_free(nmx__rz_table *t) {
    free(t->flows);
    free(t->slots);
    memset(t, 0, sizeof *t);
}
