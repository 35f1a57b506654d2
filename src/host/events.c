/* Events (SPEC H8): ExpertSubmitEvent and the deep copy it keeps.
 *
 * The copy is made from the expert's memory in one pass, each byte read
 * once (usermem.c), before anything is held: the header and column array
 * first, then every string straight into a growing host buffer. A length
 * measured in one pass and copied in a second could change in between (a
 * thread of the expert growing a string), which is how a copy overflows; here
 * there is no second pass to disagree with the first. A NULL string stays
 * NULL; an unreadable event or string refuses the event.
 *
 * Bounds, so that a runaway expert cannot exhaust the host: a string is cut
 * at MAX_STRING bytes; a run keeps at most MAX_EVENTS events and
 * MAX_EVENT_BYTES bytes of them; beyond, ExpertSubmitEvent fails with
 * NMERR_OUT_OF_MEMORY and the run goes on.
 */
#define _GNU_SOURCE
#include "host/run_internal.h"
#include "stack_guard.h"

#include <stdlib.h>
#include <string.h>

#define MAX_STRING 65535u
#define MAX_EVENTS 1000000u
#define MAX_EVENT_BYTES ((size_t)256 << 20)

#define NO_STRING ((size_t)-1) /* offset of a NULL string */

typedef struct pool {
    char *buf;
    size_t used, cap;
} pool;

static int grow(pool *p)
{
    size_t ncap = p->cap * 2;
    char *n = realloc(p->buf, ncap);
    if (!n)
        return -1;
    p->buf = n;
    p->cap = ncap;
    return 0;
}

/* Appends the expert's string s (NUL included) and stores its offset in
 * *off (NO_STRING for NULL). Returns NMERR_SUCCESS,
 * NMERR_INVALID_PARAMETER (unreadable), or NMERR_OUT_OF_MEMORY. */
static DWORD add_string(pool *p, const char *s, size_t *off)
{
    *off = NO_STRING;
    if (!s)
        return NMERR_SUCCESS;
    size_t start = p->used, total = 0;
    for (;;) {
        if (p->cap - p->used < 2 && grow(p) != 0)
            return NMERR_OUT_OF_MEMORY;
        size_t room = p->cap - p->used, left = MAX_STRING - total + 1;
        int more;
        long n = nmx__user_read_str(p->buf + p->used, s + total, room < left ? room : left,
                                    &more);
        if (n < 0)
            return NMERR_INVALID_PARAMETER;
        total += (size_t)n;
        p->used += (size_t)n;
        if (!more || total >= MAX_STRING)
            break;
    }
    p->buf[p->used++] = '\0'; /* read_str left it there; count it */
    *off = start;
    return NMERR_SUCCESS;
}

/* Where each string of the event goes: the five header strings, then each
 * column's name and string value. */
#define HEADER_STRINGS 5
#define STRINGS(ncol) (HEADER_STRINGS + 2 * (size_t)(ncol))

/* String i of the event: 1 with *v set if the event has that slot. */
static int get_string(const NMEVENTDATA *e, size_t i, const char **v)
{
    const char *hdr[HEADER_STRINGS] = {e->szSourceName, e->szEventName, e->szDescription,
                                       e->szMachine, e->Justification};
    if (i < HEADER_STRINGS) {
        *v = hdr[i];
        return 1;
    }
    const NMCOLUMNINFO *c = &e->Column[(i - HEADER_STRINGS) / 2];
    if ((i - HEADER_STRINGS) % 2 == 0) {
        *v = c->szColumnName;
        return 1;
    }
    *v = c->VariantData.Type == NMCOLUMNTYPE_STRING ? c->VariantData.Value.pStringVal : NULL;
    return c->VariantData.Type == NMCOLUMNTYPE_STRING;
}

static void set_string(NMEVENTDATA *e, size_t i, char *v)
{
    switch (i) {
    case 0: e->szSourceName = v; return;
    case 1: e->szEventName = v; return;
    case 2: e->szDescription = v; return;
    case 3: e->szMachine = v; return;
    case 4: e->Justification = v; return;
    default: break;
    }
    NMCOLUMNINFO *c = &e->Column[(i - HEADER_STRINGS) / 2];
    if ((i - HEADER_STRINGS) % 2 == 0)
        c->szColumnName = v;
    else
        c->VariantData.Value.pStringVal = v;
}

/* Copies every string the event (already in the pool, at offset 0) names,
 * then points the copy's fields at the copies. */
static DWORD copy_strings(pool *p, size_t ncol)
{
    size_t offs[STRINGS(255)];
    int has[STRINGS(255)];
    for (size_t i = 0; i < STRINGS(ncol); i++) {
        const char *v;
        offs[i] = NO_STRING;
        has[i] = get_string((const NMEVENTDATA *)(void *)p->buf, i, &v);
        DWORD rc = has[i] ? add_string(p, v, &offs[i]) : NMERR_SUCCESS;
        if (rc != NMERR_SUCCESS)
            return rc;
    }
    NMEVENTDATA *e = (NMEVENTDATA *)(void *)p->buf; /* the pool has stopped moving */
    for (size_t i = 0; i < STRINGS(ncol); i++)
        if (has[i])
            set_string(e, i, offs[i] == NO_STRING ? NULL : p->buf + offs[i]);
    return NMERR_SUCCESS;
}

NMEVENTDATA *nmx__event_copy(const NMEVENTDATA *ev, size_t *size, DWORD *rc)
{
    NMEVENTDATA hdr;
    if (nmx__user_read(&hdr, ev, sizeof hdr) != 0) {
        *rc = NMERR_INVALID_PARAMETER;
        return NULL;
    }
    size_t ncol = hdr.NumColumns, fixed = sizeof hdr + ncol * sizeof(NMCOLUMNINFO);
    pool p = {malloc(fixed + 256), fixed, fixed + 256};
    *rc = NMERR_OUT_OF_MEMORY;
    if (!p.buf)
        return NULL;
    memcpy(p.buf, &hdr, sizeof hdr);
    NMEVENTDATA *e = (NMEVENTDATA *)(void *)p.buf;
    *rc = nmx__user_read(e->Column, ev->Column, ncol * sizeof(NMCOLUMNINFO)) == 0
              ? NMERR_SUCCESS
              : NMERR_INVALID_PARAMETER;
    for (size_t i = 0; i < ncol && *rc == NMERR_SUCCESS; i++)
        if ((unsigned)e->Column[i].VariantData.Type > (unsigned)NMCOLUMNTYPE_STRING)
            *rc = NMERR_INVALID_PARAMETER;
    if (*rc == NMERR_SUCCESS)
        *rc = copy_strings(&p, ncol);
    if (*rc != NMERR_SUCCESS) {
        free(p.buf);
        return NULL;
    }
    e = (NMEVENTDATA *)(void *)p.buf;
    e->pszReserved = NULL;
    e->pvReserved = NULL;
    *size = p.used;
    return e;
}

int nmx__event_fits(const NMEVENTDATA *copy, size_t block)
{
    return !block || block >= sizeof *copy + (size_t)copy->NumColumns * sizeof(NMCOLUMNINFO);
}

DWORD nmx__run_keep_event(nmx_run *r, NMEVENTDATA *c, size_t size)
{
    if (r->nevents >= MAX_EVENTS || r->event_bytes + size > MAX_EVENT_BYTES)
        return NMERR_OUT_OF_MEMORY;
    if (r->nevents == r->cap_events) {
        size_t ncap = r->cap_events ? r->cap_events * 2 : 64;
        NMEVENTDATA **n = realloc(r->events, ncap * sizeof *n);
        if (!n)
            return NMERR_OUT_OF_MEMORY;
        r->events = n;
        r->cap_events = ncap;
    }
    r->events[r->nevents++] = c;
    r->event_bytes += size;
    return NMERR_SUCCESS;
}

NMX_API DWORD WINAPI ExpertSubmitEvent(HEXPERTKEY key, PNMEVENTDATA ev)
{
    nmx__stack_check();
    if (!ev)
        return NMERR_INVALID_PARAMETER;
    size_t size = 0;
    DWORD rc;
    NMEVENTDATA *c = nmx__event_copy(ev, &size, &rc);
    nmx_key_hold h;
    nmx_run *r = nmx__key_hold(key, &h);
    if (!r)
        rc = NMERR_INVALID_EXPERT_HANDLE;
    else if (nmx__key_hold_terminated(&h))
        rc = NMERR_EXPERT_TERMINATE;
    else if (c && !nmx__event_fits(c, nmx__key_hold_block_size(&h, ev)))
        rc = NMERR_INVALID_PARAMETER; /* an event in the key's heap must hold its columns */
    if (r && c && rc == NMERR_SUCCESS) {
        pthread_mutex_lock(&r->mu);
        rc = nmx__run_keep_event(r, c, size);
        pthread_mutex_unlock(&r->mu);
    }
    nmx__key_unhold(&h);
    if (rc != NMERR_SUCCESS)
        free(c);
    return rc;
}
