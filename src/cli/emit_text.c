/* Text: the capture at a glance, each expert's tables with aligned columns
 * (a failed run says why under its name), and the memory ledger of all the
 * runs in one line at the end. */
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
            nmx__cli_cell_text(&t->rows[r]->Column[c].VariantData, h->Column[c].szColumnName, cell, sizeof cell);
            if (strlen(cell) > w[c])
                w[c] = strlen(cell);
        }
    fprintf(o, "\n  %s\n  ", h->szEventName ? h->szEventName : "");
    for (size_t c = 0; c < nc; c++) {
        const char *name = h->Column[c].szColumnName ? h->Column[c].szColumnName : "";
        fprintf(o, nmx__cli_is_numeric(&h->Column[c].VariantData) ? "%*s  " : "%-*s  ", (int)w[c], name);
    }
    fprintf(o, "\n");
    for (size_t r = 0; r < t->nrows; r++) {
        fprintf(o, "  ");
        for (size_t c = 0; c < nc && c < t->rows[r]->NumColumns; c++) {
            const NMCOLUMNVARIANT *v = &t->rows[r]->Column[c].VariantData;
            nmx__cli_cell_text(v, h->Column[c].szColumnName, cell, sizeof cell);
            fprintf(o, nmx__cli_is_numeric(v) ? "%*s  " : "%-*s  ", (int)w[c], cell);
        }
        fprintf(o, "\n");
    }
}

static void print_summary(FILE *o, const cli_report *r)
{
    char a[96], b[96], by[32];
    nmx__cli_fmt_bytes(r->sum.bytes, by, sizeof by);
    fprintf(o, "Capture: %s\n  %" PRIu64 " frames, %s (%" PRIu64 " bytes)", r->capture, r->sum.frames, by,
            r->sum.bytes);
    if (r->sum.frames) {
        nmx__cli_fmt_time(r->sum.first_ts, a, sizeof a);
        nmx__cli_fmt_time(r->sum.last_ts, b, sizeof b);
        fprintf(o, ", %s to %s (%.3f s)", a, b, (double)(r->sum.last_ts - r->sum.first_ts) / 1e9);
    }
    fprintf(o, "\n\n");
}

static void print_ledger(FILE *o, const cli_report *r)
{
    cli_totals t;
    nmx__cli_totals(r, &t);
    char peak[32], leaked[32];
    nmx__cli_fmt_bytes(t.peak_bytes, peak, sizeof peak);
    nmx__cli_fmt_bytes(t.leaked_bytes, leaked, sizeof leaked);
    fprintf(o, "Memory: %zu runs (%zu failed), peak %s (%s), %" PRIu64 " allocations, %" PRIu64
               " leaked blocks (%s) reclaimed, %" PRIu64 " invalid calls\n",
            t.runs, t.failed, peak, t.peak_job ? nmx_expert_info(t.peak_job->ex)->szName : "-", t.allocs,
            t.leaked_blocks, leaked, t.invalid_calls);
}

void nmx__cli_emit_text(FILE *o, const cli_report *r)
{
    print_summary(o, r);
    for (size_t i = 0; i < r->njobs; i++) {
        const cli_job *j = &r->jobs[i];
        char why[512], took[32];
        nmx__cli_run_reason(j, why, sizeof why);
        nmx__cli_fmt_seconds(j->res.wall_seconds, took, sizeof took);
        fprintf(o, "== %s (%s, %s) ==\n", nmx_expert_info(j->ex)->szName,
                nmx__cli_run_failed(j) ? "FAILED" : "done", took);
        if (why[0])
            fprintf(o, "  %s\n", why);
        for (size_t t = 0; t < j->ntables; t++)
            print_table(o, &j->tables[t]);
        fprintf(o, "\n");
    }
    print_ledger(o, r);
}
