/* The HTML report: one self-contained file, inline CSS and SVG, no script and
 * nothing fetched, so a browser opens it without a network. */
#include "cli.h"

#include <inttypes.h>
#include <string.h>

static void html_text(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '&': fputs("&amp;", o); break;
        case '"': fputs("&quot;", o); break;
        default: fputc(*s, o);
        }
    }
}

/* The column a chart of this table plots: the first of these headers. */
static int chart_column(const NMEVENTDATA *h)
{
    static const char *prefer[] = {"Bytes", "Mean (ms)", "Count", "Retransmissions", "Frames"};
    for (size_t p = 0; p < sizeof prefer / sizeof prefer[0]; p++)
        for (size_t c = 0; c < h->NumColumns; c++)
            if (h->Column[c].szColumnName && !strcmp(h->Column[c].szColumnName, prefer[p]) &&
                nmx__cli_is_numeric(&h->Column[c].VariantData))
                return (int)c;
    return -1;
}

/* A horizontal bar chart of the table's first column against column vc. */
static void bar_chart(FILE *o, const cli_table *t, int vc)
{
    size_t shown = t->nrows < 15 ? t->nrows : 15;
    double max = 0;
    for (size_t r = 0; r < shown; r++)
        if (t->rows[r]->NumColumns > (size_t)vc) {
            double v = nmx__cli_cell_number(&t->rows[r]->Column[vc].VariantData);
            if (v > max)
                max = v;
        }
    if (shown < 2 || max <= 0)
        return;
    unsigned h = (unsigned)(shown * 22 + 10);
    fprintf(o, "<svg class=\"chart\" width=\"760\" height=\"%u\" role=\"img\" aria-label=\"", h);
    html_text(o, t->head->Column[vc].szColumnName);
    fprintf(o, "\">\n");
    char label[512], val[64];
    for (size_t r = 0; r < shown; r++) {
        const NMEVENTDATA *row = t->rows[r];
        if (row->NumColumns <= (size_t)vc)
            continue;
        double v = nmx__cli_cell_number(&row->Column[vc].VariantData);
        nmx__cli_cell_text(&row->Column[0].VariantData, label, sizeof label);
        nmx__cli_cell_text(&row->Column[vc].VariantData, val, sizeof val);
        double w = 440.0 * v / max;
        unsigned y = (unsigned)(r * 22 + 5);
        fprintf(o, "<text x=\"0\" y=\"%u\" class=\"lbl\">", y + 14);
        html_text(o, label);
        fprintf(o, "</text><rect x=\"240\" y=\"%u\" width=\"%.1f\" height=\"16\" class=\"bar\"/>"
                   "<text x=\"%.1f\" y=\"%u\" class=\"val\">%s</text>\n",
                y, w < 1 ? 1 : w, 246 + (w < 1 ? 1 : w), y + 14, val);
    }
    fprintf(o, "</svg>\n");
}

static void table(FILE *o, const cli_table *t)
{
    const NMEVENTDATA *h = t->head;
    char cell[512];
    fprintf(o, "<h3>");
    html_text(o, h->szEventName);
    fprintf(o, "</h3>\n");
    int vc = chart_column(h);
    if (vc > 0)
        bar_chart(o, t, vc);
    fprintf(o, "<table><tr>");
    for (size_t c = 0; c < h->NumColumns; c++) {
        fprintf(o, "<th>");
        html_text(o, h->Column[c].szColumnName);
        fprintf(o, "</th>");
    }
    fprintf(o, "</tr>\n");
    for (size_t r = 0; r < t->nrows; r++) {
        fprintf(o, "<tr>");
        for (size_t c = 0; c < t->rows[r]->NumColumns; c++) {
            const NMCOLUMNVARIANT *v = &t->rows[r]->Column[c].VariantData;
            nmx__cli_cell_text(v, cell, sizeof cell);
            fprintf(o, nmx__cli_is_numeric(v) ? "<td class=\"n\">" : "<td>");
            html_text(o, cell);
            fprintf(o, "</td>");
        }
        fprintf(o, "</tr>\n");
    }
    fprintf(o, "</table>\n");
}

static void ledger(FILE *o, const cli_job *j)
{
    const nmx_mem_stats *m = &j->res.mem;
    fprintf(o, "<p class=\"ledger%s\">status %s%s; %.3f s; memory: peak %" PRIu64 " B, %" PRIu64
               " allocations, %" PRIu64 " leaked blocks (%" PRIu64 " B) reclaimed, %" PRIu64
               " invalid calls%s</p>\n",
            nmx__cli_run_failed(j) ? " bad" : "", nmx__cli_status_name(j->res.status.Status),
            j->res.hung ? " (hung)" : "", j->res.wall_seconds, m->peak_bytes, m->allocs,
            m->live_blocks, m->live_bytes, nmx__cli_invalid_calls(m),
            j->res.fault_signal ? "; crashed" : "");
}

static const char style[] =
    "body{font-family:sans-serif;margin:2em;color:#222}\n"
    "h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}\n"
    "h3{font-size:1em;margin-bottom:.3em}\n"
    "table{border-collapse:collapse;margin:.5em 0 1em}\n"
    "td,th{border:1px solid #ddd;padding:2px 8px;font-size:.9em}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}\n"
    ".chart .bar{fill:#4a7ab5}.chart .lbl,.chart .val{font-size:12px;fill:#222}\n"
    ".ledger{color:#555;font-size:.9em}.bad{color:#b00}\n";

void nmx__cli_emit_html(FILE *o, const cli_report *r)
{
    fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<title>nmexpert: ");
    html_text(o, r->capture);
    fprintf(o, "</title>\n<style>\n%s</style></head><body>\n<h1>nmexpert report: ", style);
    html_text(o, r->capture);
    fprintf(o, "</h1>\n");
    for (size_t i = 0; i < r->njobs; i++) {
        const cli_job *j = &r->jobs[i];
        fprintf(o, "<h2>");
        html_text(o, nmx_expert_info(j->ex)->szName);
        fprintf(o, "</h2>\n");
        for (size_t t = 0; t < j->ntables; t++)
            table(o, &j->tables[t]);
        ledger(o, j);
    }
    fprintf(o, "</body></html>\n");
}
