/* JSON: one object: the capture at a glance, each expert with its run's
 * outcome (a failed run's reason, whether it was timed out) and its tables
 * (numbers in full precision), and the memory ledger of all runs. */
#include "cli.h"

#include <inttypes.h>

/* A JSON string with the escapes JSON needs. */
static void json_str(FILE *o, const char *s)
{
    fputc('"', o);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(o, "\\%c", c);
        else if (c < 0x20)
            fprintf(o, "\\u%04x", c);
        else
            fputc(c, o);
    }
    fputc('"', o);
}

static const char *yes(int b)
{
    return b ? "true" : "false";
}

static void table(FILE *o, const cli_table *t)
{
    const NMEVENTDATA *h = t->head;
    char cell[512];
    fprintf(o, "{\"title\":");
    json_str(o, h->szEventName);
    fprintf(o, ",\"id\":%u,\"columns\":[", (unsigned)h->EventIdent);
    for (size_t c = 0; c < h->NumColumns; c++)
        fprintf(o, "%s", c ? "," : ""), json_str(o, h->Column[c].szColumnName);
    fprintf(o, "],\"rows\":[");
    for (size_t r = 0; r < t->nrows; r++) {
        fprintf(o, "%s[", r ? "," : "");
        for (size_t c = 0; c < t->rows[r]->NumColumns; c++) {
            const NMCOLUMNVARIANT *v = &t->rows[r]->Column[c].VariantData;
            nmx__cli_cell_exact(v, cell, sizeof cell);
            fprintf(o, "%s", c ? "," : "");
            if (nmx__cli_is_numeric(v))
                fprintf(o, "%s", cell);
            else
                json_str(o, cell);
        }
        fprintf(o, "]");
    }
    fprintf(o, "]}");
}

static void memory(FILE *o, uint64_t peak, uint64_t allocs, uint64_t blocks, uint64_t bytes, uint64_t invalid)
{
    fprintf(o, "{\"peak_bytes\":%" PRIu64 ",\"allocs\":%" PRIu64 ",\"leaked_blocks\":%" PRIu64
               ",\"leaked_bytes\":%" PRIu64 ",\"invalid_calls\":%" PRIu64 "}",
            peak, allocs, blocks, bytes, invalid);
}

static void expert(FILE *o, const cli_job *j)
{
    const nmx_mem_stats *m = &j->res.mem;
    const nmx_run_result *r = &j->res;
    char why[512];
    nmx__cli_run_reason(j, why, sizeof why);
    fprintf(o, "{\"expert\":");
    json_str(o, nmx_expert_info(j->ex)->szName);
    fprintf(o, ",\"file\":");
    json_str(o, j->name);
    fprintf(o, ",\"status\":\"%s\",\"ok\":%s,\"reason\":", nmx__cli_status_name(r->status.Status),
            yes(!nmx__cli_run_failed(j)));
    json_str(o, why);
    fprintf(o, ",\"returned\":%s,\"timed_out\":%s,\"terminated\":%s,\"hung\":%s,\"signal\":%d,"
               "\"seconds\":%.17g,\"memory\":",
            yes(r->returned), yes(r->timed_out), yes(r->terminated), yes(r->hung), r->fault_signal,
            r->wall_seconds);
    memory(o, m->peak_bytes, m->allocs, m->live_blocks, m->live_bytes, nmx__cli_invalid_calls(m));
    fprintf(o, ",\"tables\":[");
    for (size_t t = 0; t < j->ntables; t++) {
        if (t)
            fputc(',', o);
        table(o, &j->tables[t]);
    }
    fprintf(o, "]}");
}

static void capture(FILE *o, const cli_report *r)
{
    char a[96], b[96];
    fprintf(o, "{\"capture\":{\"file\":");
    json_str(o, r->capture);
    fprintf(o, ",\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64, r->sum.frames, r->sum.bytes);
    if (r->sum.frames) {
        nmx__cli_fmt_time(r->sum.first_ts, a, sizeof a);
        nmx__cli_fmt_time(r->sum.last_ts, b, sizeof b);
        fprintf(o, ",\"first\":\"%s\",\"last\":\"%s\",\"first_ns\":%" PRId64 ",\"last_ns\":%" PRId64
                   ",\"duration_s\":%.17g",
                a, b, r->sum.first_ts, r->sum.last_ts, (double)(r->sum.last_ts - r->sum.first_ts) / 1e9);
    }
    fputc('}', o);
}

void nmx__cli_emit_json(FILE *o, const cli_report *r)
{
    capture(o, r);
    fprintf(o, ",\"experts\":[");
    for (size_t i = 0; i < r->njobs; i++) {
        if (i)
            fputc(',', o);
        expert(o, &r->jobs[i]);
    }
    cli_totals t;
    nmx__cli_totals(r, &t);
    fprintf(o, "],\"runs\":{\"count\":%zu,\"failed\":%zu,\"memory\":", t.runs, t.failed);
    memory(o, t.peak_bytes, t.allocs, t.leaked_blocks, t.leaked_bytes, t.invalid_calls);
    fprintf(o, "}}\n");
}
