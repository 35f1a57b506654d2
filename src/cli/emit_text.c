/* Text: each expert's tables with aligned columns, then its ledger. */
#include "cli.h"

#include <inttypes.h>
#include <string.h>

static void print_table(FILE *o, const cli_table *t)
{
    const NMEVENTDATA *h = t->head;
    size_t nc = h->NumColumns, w[256] = {0}; /* NumColumns is a BYTE */
    char cell[512];
    for (size_t c = 0; c < nc; c++)
        w[c] = strlen(h->Column[c].szColumnName ? h->Column[c].szColumnName : "");
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < nc && c < t->rows[r]->NumColumns; c++) {
            nmx__cli_cell_text(&t->rows[r]->Column[c].VariantData, cell, sizeof cell);
            if (strlen(cell) > w[c])
                w[c] = strlen(cell);
        }
    fprintf(o, "\n  %s\n  ", h->szEventName ? h->szEventName : "");
    for (size_t c = 0; c < nc; c++) {
        const char *name = h->Column[c].szColumnName ? h->Column[c].szColumnName : "";
        fprintf(o, nmx__cli_is_numeric(&h->Column[c].VariantData) ? "%*s  " : "%-*s  ",
                (int)w[c], name);
    }
    fprintf(o, "\n");
    for (size_t r = 0; r < t->nrows; r++) {
        fprintf(o, "  ");
        for (size_t c = 0; c < nc && c < t->rows[r]->NumColumns; c++) {
            const NMCOLUMNVARIANT *v = &t->rows[r]->Column[c].VariantData;
            nmx__cli_cell_text(v, cell, sizeof cell);
            fprintf(o, nmx__cli_is_numeric(v) ? "%*s  " : "%-*s  ", (int)w[c], cell);
        }
        fprintf(o, "\n");
    }
}

static void print_ledger(FILE *o, const cli_job *j)
{
    const nmx_mem_stats *m = &j->res.mem;
    fprintf(o, "\n  status %s%s%s, %.3f s; memory: peak %" PRIu64 " B, %" PRIu64
               " allocations, reclaimed %" PRIu64 " leaked blocks (%" PRIu64 " B), %" PRIu64
               " invalid calls\n",
            nmx__cli_status_name(j->res.status.Status), j->res.hung ? " (hung)" : "",
            j->res.timed_out ? " (time limit)" : "", j->res.wall_seconds, m->peak_bytes,
            m->allocs, m->live_blocks, m->live_bytes, nmx__cli_invalid_calls(m));
    if (j->res.fault_signal)
        fprintf(o, "  crashed: signal %d at %p\n", j->res.fault_signal, j->res.fault_address);
    if (j->res.status.Status == EXPERTSTATUS_PROBLEM && j->res.status.szStatusText[0])
        fprintf(o, "  problem: %s\n", j->res.status.szStatusText);
    /* An aborted run's text: the expert's last words, or, for a worker that
     * ended without a result, the reason (killed, stopped by the policy). */
    if (j->res.status.Status == EXPERTSTATUS_ABORTED && j->res.status.szStatusText[0])
        fprintf(o, "  last status: %s\n", j->res.status.szStatusText);
}

void nmx__cli_emit_text(FILE *o, const cli_report *r)
{
    for (size_t i = 0; i < r->njobs; i++) {
        const cli_job *j = &r->jobs[i];
        fprintf(o, "== %s ==\n", nmx_expert_info(j->ex)->szName);
        for (size_t t = 0; t < j->ntables; t++)
            print_table(o, &j->tables[t]);
        print_ledger(o, j);
        fprintf(o, "\n");
    }
}
