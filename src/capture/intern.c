/* Recognition tables, interned: frames with the same layers at the same
 * offsets share one RECOGNIZEDATATABLE in the capture's tables spool (a
 * capture has a few dozen distinct ones in practice). The reader thread is
 * the only caller; the hash that finds a table again is its own memory. */
#include "capture/intern.h"

#include <stdlib.h>
#include <string.h>

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

static uint32_t hash_layers(const RECOGNIZEDATA *rd, unsigned n)
{
    uint32_t h = 2166136261u ^ n;
    for (unsigned i = 0; i < n; i++) {
        h = (h ^ rd[i].ProtocolID) * 16777619u;
        h = (h ^ rd[i].nProtocolOffset) * 16777619u;
    }
    return h;
}

static const RECOGNIZEDATATABLE *table_at(const nmx__intern *in, uint32_t id)
{
    return (const RECOGNIZEDATATABLE *)(const void *)nmx__spool_at(in->tabs, (uint64_t)id * 8);
}

static int same_layers(const RECOGNIZEDATATABLE *t, const RECOGNIZEDATA *rd, unsigned n)
{
    if (t->nRecognizeDatas != n)
        return 0;
    for (unsigned i = 0; i < n; i++)
        if (t->RecognizeData[i].ProtocolID != rd[i].ProtocolID ||
            t->RecognizeData[i].nProtocolOffset != rd[i].nProtocolOffset)
            return 0;
    return 1;
}

static int hash_grow(nmx__intern *in)
{
    uint32_t ncap = in->hash_cap ? in->hash_cap * 2 : 256;
    uint32_t *nh = calloc(ncap, sizeof *nh);
    if (!nh)
        return 0;
    for (uint32_t i = 0; i < in->hash_cap; i++) {
        uint32_t id = in->hash[i];
        if (!id)
            continue;
        const RECOGNIZEDATATABLE *t = table_at(in, id - 1);
        uint32_t h = hash_layers(t->RecognizeData, t->nRecognizeDatas) & (ncap - 1);
        while (nh[h])
            h = (h + 1) & (ncap - 1);
        nh[h] = id;
    }
    free(in->hash);
    in->hash = nh;
    in->hash_cap = ncap;
    return 1;
}

void nmx__intern_free(nmx__intern *in)
{
    free(in->hash);
    in->hash = NULL;
    in->hash_cap = in->count = 0;
}

uint32_t nmx__intern_table(nmx__intern *in, const nmx_decoded *d)
{
    RECOGNIZEDATA rd[NMX_DECODE_MAX_LAYERS];
    unsigned n = 0;
    /* nProtocolOffset is a WORD: a layer starting beyond 65535 cannot be
     * named, so the table stops before it (docs/CAPTURES.md). */
    while (n < d->nlayers && d->layers[n].offset <= 0xffff) {
        rd[n].ProtocolID = d->layers[n].proto;
        rd[n].nProtocolOffset = (WORD)d->layers[n].offset;
        rd[n].InstData = NULL;
        n++;
    }
    if ((uint64_t)(in->count + 1) * 2 > in->hash_cap && !hash_grow(in))
        return UINT32_MAX;
    uint32_t h = hash_layers(rd, n) & (in->hash_cap - 1);
    for (; in->hash[h]; h = (h + 1) & (in->hash_cap - 1))
        if (same_layers(table_at(in, in->hash[h] - 1), rd, n))
            return in->hash[h] - 1;
    uint64_t off;
    RECOGNIZEDATATABLE *t = nmx__spool_append(in->tabs, align8(sizeof *t + n * sizeof(RECOGNIZEDATA)), &off);
    if (!t || off / 8 >= UINT32_MAX)
        return UINT32_MAX;
    size_t size = align8(sizeof *t + n * sizeof(RECOGNIZEDATA));
    memset(t, 0, size);
    t->nRecognizeDatas = (WORD)n;
    memcpy(t->RecognizeData, rd, n * sizeof *rd);
    if (nmx__spool_flush(in->tabs) != 0) /* read back at once by the hash */
        return UINT32_MAX;
    in->hash[h] = (uint32_t)(off / 8) + 1;
    in->count++;
    return (uint32_t)(off / 8);
}
