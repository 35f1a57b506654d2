/* CSV: blocks of a header line "expert,table,<columns>", their rows and a
 * blank line: the capture summary first, then every table (numbers in full
 * precision), then one row per run with its outcome and memory ledger. */
#include "cli.h"

#include <inttypes.h>

static void csv_str(FILE *o, const char *s)
{
    fputc('"', o);
    for (; s && *s; s++) {
        if (*s == '"')
            fputc('"', o);
        fputc(*s, o);
    }
    fputc('"', o);
}

static void head(FILE *o, const char *const *cols, size_t n)
{
    fprintf(o, "expert,table");
    for (size_t c = 0; c < n; c++)
        fputc(',', o), csv_str(o, cols[c]);
    fputc('\n', o);
}

static void table(FILE *o, const char *expert, const cli_table *t)
{
    const NMEVENTDATA *h = t->head;
    char cell[512];
    fprintf(o, "expert,table");
    for (size_t c = 0; c < h->NumColumns; c++)
        fputc(',', o), csv_str(o, h->Column[c].szColumnName);
    fputc('\n', o);
    for (size_t r = 0; r < t->nrows; r++) {
        csv_str(o, expert);
        fputc(',', o);
        csv_str(o, h->szEventName);
        for (size_t c = 0; c < t->rows[r]->NumColumns; c++) {
            nmx__cli_cell_exact(&t->rows[r]->Column[c].VariantData, cell, sizeof cell);
            fputc(',', o);
            csv_str(o, cell);
        }
        fputc('\n', o);
    }
    fputc('\n', o);
}

static void summary(FILE *o, const cli_report *r)
{
    static const char *const cols[] = {"File", "Frames", "Bytes", "First", "Last", "Duration (s)"};
    char a[96] = "", b[96] = "";
    head(o, cols, 6);
    if (r->sum.frames) {
        nmx__cli_fmt_time(r->sum.first_ts, a, sizeof a);
        nmx__cli_fmt_time(r->sum.last_ts, b, sizeof b);
    }
    fprintf(o, "\"nmexpert\",\"Capture summary\",");
    csv_str(o, r->capture);
    fprintf(o, ",\"%" PRIu64 "\",\"%" PRIu64 "\",\"%s\",\"%s\",\"%.17g\"\n\n", r->sum.frames, r->sum.bytes, a, b,
            (double)(r->sum.last_ts - r->sum.first_ts) / 1e9);
}

static void runs(FILE *o, const cli_report *r)
{
    static const char *const cols[] = {"Expert", "Status", "Reason", "Seconds", "Peak bytes", "Allocations",
                                       "Leaked blocks", "Leaked bytes", "Invalid calls"};
    head(o, cols, 9);
    for (size_t i = 0; i < r->njobs; i++) {
        const cli_job *j = &r->jobs[i];
        const nmx_mem_stats *m = &j->res.mem;
        char why[512];
        nmx__cli_run_reason(j, why, sizeof why);
        fprintf(o, "\"nmexpert\",\"Runs\",");
        csv_str(o, nmx_expert_info(j->ex)->szName);
        fprintf(o, ",\"%s\",", nmx__cli_run_failed(j) ? "failed" : "done");
        csv_str(o, why);
        fprintf(o, ",\"%.17g\",\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\"\n",
                j->res.wall_seconds, m->peak_bytes, m->allocs, m->live_blocks, m->live_bytes,
                nmx__cli_invalid_calls(m));
    }
    fputc('\n', o);
}

void nmx__cli_emit_csv(FILE *o, const cli_report *r)
{
    summary(o, r);
    for (size_t i = 0; i < r->njobs; i++)
        for (size_t t = 0; t < r->jobs[i].ntables; t++)
            table(o, nmx_expert_info(r->jobs[i].ex)->szName, &r->jobs[i].tables[t]);
    runs(o, r);
}
