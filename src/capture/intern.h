/* Interning recognition tables into a capture's tables spool (intern.c). */
#ifndef NMX_INTERN_H
#define NMX_INTERN_H

#include <nmexpert/capture.h>

#include "capture/spool.h"

typedef struct nmx__intern {
    nmx__spool *tabs; /* where the tables go */
    uint32_t *hash;   /* open addressing: table id + 1, 0 empty */
    uint32_t hash_cap, count;
} nmx__intern;

/* The id (offset / 8 in the spool) of the table listing d's layers, made if
 * new; UINT32_MAX when memory or disk is refused. */
uint32_t nmx__intern_table(nmx__intern *in, const nmx_decoded *d);
void nmx__intern_free(nmx__intern *in);

#endif
