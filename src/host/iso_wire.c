/* The wire between a host and its isolated workers: the page's statistics
 * and the relocatable form of events (iso_wire.h). Built into the library
 * (the host decodes) and into nmexpert-worker (the worker encodes).
 */
#include "host/iso_wire.h"

#include <stdlib.h>
#include <string.h>

void nmx__iso_stats_put(nmx_iso_page *pg, const nmx_mem_stats *st)
{
    uint64_t v[NMX_ISO_NSTATS];
    memcpy(v, st, sizeof v);
    uint32_t s = atomic_load_explicit(&pg->seq, memory_order_relaxed);
    atomic_store_explicit(&pg->seq, s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    for (unsigned i = 0; i < NMX_ISO_NSTATS; i++)
        atomic_store_explicit(&pg->stats[i], v[i], memory_order_relaxed);
    atomic_store_explicit(&pg->seq, s + 2, memory_order_release);
}

void nmx__iso_stats_get(const nmx_iso_page *pg, nmx_mem_stats *out)
{
    uint64_t v[NMX_ISO_NSTATS];
    /* A worker killed halfway through a write leaves seq odd for ever: after
     * a few tries the values are taken as they are (each one is whole). */
    for (int tries = 0; tries < 64; tries++) {
        uint32_t s1 = atomic_load_explicit(&pg->seq, memory_order_acquire);
        for (unsigned i = 0; i < NMX_ISO_NSTATS; i++)
            v[i] = atomic_load_explicit(&pg->stats[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        if (!(s1 & 1) && atomic_load_explicit(&pg->seq, memory_order_relaxed) == s1)
            break;
    }
    memcpy(out, v, sizeof v);
}

const char *nmx__iso_str(const nmx_iso_page *pg, nmx_iso_str s)
{
    size_t data = pg->size > NMX_ISO_DATA_OFF ? pg->size - NMX_ISO_DATA_OFF : 0;
    if (s.len == 0 || s.off > data || s.len > data - s.off)
        return NULL;
    const char *p = (const char *)pg + NMX_ISO_DATA_OFF + s.off;
    return p[s.len - 1] == '\0' ? p : NULL;
}

/* ---- events ---- */

/* The string members of an event, in the order the pool holds them. */
#define EVENT_STRINGS(X) \
    X(szSourceName) X(szEventName) X(szDescription) X(szMachine) X(Justification)

static size_t head_size(size_t ncol)
{
    return sizeof(NMEVENTDATA) + ncol * sizeof(NMCOLUMNINFO);
}

static size_t str_size(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

size_t nmx__iso_event_size(const NMEVENTDATA *ev)
{
    size_t n = head_size(ev->NumColumns);
#define X(f) n += str_size(ev->f);
    EVENT_STRINGS(X)
#undef X
    for (size_t i = 0; i < ev->NumColumns; i++) {
        n += str_size(ev->Column[i].szColumnName);
        if (ev->Column[i].VariantData.Type == NMCOLUMNTYPE_STRING)
            n += str_size(ev->Column[i].VariantData.Value.pStringVal);
    }
    return n;
}

/* Appends s to the pool and returns its reference: 1 + offset, 0 for NULL. */
static void *put(char *pool, size_t *used, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    memcpy(pool + *used, s, n);
    uintptr_t ref = (uintptr_t)*used + 1;
    *used += n;
    return (void *)ref;
}

void nmx__iso_event_encode(const NMEVENTDATA *ev, void *buf)
{
    size_t head = head_size(ev->NumColumns), used = 0;
    NMEVENTDATA *c = buf;
    memcpy(c, ev, head);
    char *pool = (char *)buf + head;
    c->pszReserved = NULL;
    c->pvReserved = NULL;
#define X(f) c->f = put(pool, &used, ev->f);
    EVENT_STRINGS(X)
#undef X
    for (size_t i = 0; i < ev->NumColumns; i++) {
        c->Column[i].szColumnName = put(pool, &used, ev->Column[i].szColumnName);
        if (ev->Column[i].VariantData.Type == NMCOLUMNTYPE_STRING)
            c->Column[i].VariantData.Value.pStringVal =
                put(pool, &used, ev->Column[i].VariantData.Value.pStringVal);
    }
}

/* The pointer for reference ref into pool[0..len), NULL for 0; clears *ok
 * when the reference is not the next string of the pool. */
static char *rebase(char *pool, size_t len, size_t *next, const void *ref, int *ok)
{
    uintptr_t r = (uintptr_t)ref;
    if (r == 0 || !*ok)
        return NULL;
    /* Strings are laid out back to back in field order: each must start
     * where the previous one ended, so no two fields share bytes. */
    char *s = pool + *next, *nul = NULL;
    if (r - 1 == *next && *next < len)
        nul = memchr(s, '\0', len - *next);
    if (!nul) {
        *ok = 0;
        return NULL;
    }
    *next += (size_t)(nul - s) + 1;
    return s;
}

NMEVENTDATA *nmx__iso_event_decode(const void *buf, size_t len)
{
    if (len < sizeof(NMEVENTDATA))
        return NULL;
    BYTE ncol_byte; /* buf need not be aligned */
    memcpy(&ncol_byte, (const char *)buf + offsetof(NMEVENTDATA, NumColumns), 1);
    size_t ncol = ncol_byte;
    size_t head = head_size(ncol);
    if (len < head)
        return NULL;
    NMEVENTDATA *c = malloc(len);
    if (!c)
        return NULL;
    memcpy(c, buf, len);
    char *pool = (char *)c + head;
    size_t plen = len - head, next = 0;
    int ok = 1;
    c->pszReserved = NULL;
    c->pvReserved = NULL;
#define X(f) c->f = rebase(pool, plen, &next, c->f, &ok);
    EVENT_STRINGS(X)
#undef X
    for (size_t i = 0; ok && i < ncol; i++) {
        NMCOLUMNVARIANT *v = &c->Column[i].VariantData;
        c->Column[i].szColumnName = rebase(pool, plen, &next, c->Column[i].szColumnName, &ok);
        if ((unsigned)v->Type > (unsigned)NMCOLUMNTYPE_STRING)
            ok = 0;
        else if (v->Type == NMCOLUMNTYPE_STRING)
            v->Value.pStringVal = rebase(pool, plen, &next, v->Value.pStringVal, &ok);
    }
    if (!ok || next != plen) {
        free(c);
        return NULL;
    }
    return c;
}
