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

/* A row's name in a chart: its cells before the first count (a FLOAT64
 * column), joined: "10.0.1.10 38240 10.0.9.1 22" for a conversation. */
static void row_label(const NMEVENTDATA *row, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t c = 0; c < row->NumColumns && row->Column[c].VariantData.Type != NMCOLUMNTYPE_FLOAT64; c++) {
        char cell[128];
        nmx__cli_cell_text(&row->Column[c].VariantData, NULL, cell, sizeof cell);
        n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", c ? " " : "", cell);
        if (n >= len)
            break;
    }
}

/* A horizontal bar chart of the rows' names against column vc. */
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
        row_label(row, label, sizeof label);
        nmx__cli_cell_text(&row->Column[vc].VariantData, t->head->Column[vc].szColumnName, val, sizeof val);
        double w = 440.0 * v / max;
        unsigned y = (unsigned)(r * 22 + 5);
        fprintf(o, "<text x=\"0\" y=\"%u\" class=\"lbl\"%s>", y + 14, /* a long name squeezed to fit */
                strlen(label) > 36 ? " textLength=\"232\" lengthAdjust=\"spacingAndGlyphs\"" : "");
        html_text(o, label);
        fprintf(o, "</text><rect x=\"240\" y=\"%u\" width=\"%.1f\" height=\"16\" class=\"bar\"/>"
                   "<text x=\"%.1f\" y=\"%u\" class=\"val\">%s</text>\n",
                y, w < 1 ? 1 : w, 246 + (w < 1 ? 1 : w), y + 14, val);
    }
    fprintf(o, "</svg>\n");
}

static int column_named(const NMEVENTDATA *h, const char *name)
{
    for (size_t c = 0; c < h->NumColumns; c++)
        if (h->Column[c].szColumnName && !strcmp(h->Column[c].szColumnName, name))
            return (int)c;
    return -1;
}

/* A time series (first column "Time (s)", experts/common/expert_util.h):
 * a line of its Bits/s (else Frames) over time, with the area under it.
 * At most 600 points: a longer series is drawn by the maximum of each run
 * of rows, so a peak is never averaged away. */
static void series_chart(FILE *o, const cli_table *t)
{
    int vc = column_named(t->head, "Bits/s");
    if (vc < 0)
        vc = column_named(t->head, "Frames");
    if (vc < 0 || t->nrows < 2)
        return;
    enum { W = 700, H = 200, X0 = 60, Y0 = 10, NPTS = 600 };
    size_t per = (t->nrows + NPTS - 1) / NPTS, npts = (t->nrows + per - 1) / per;
    double max = 0, pts[NPTS];
    for (size_t i = 0; i < npts; i++) {
        pts[i] = 0;
        for (size_t r = i * per; r < (i + 1) * per && r < t->nrows; r++) {
            double v = t->rows[r]->NumColumns > (size_t)vc
                           ? nmx__cli_cell_number(&t->rows[r]->Column[vc].VariantData) : 0;
            if (v > pts[i])
                pts[i] = v;
        }
        if (pts[i] > max)
            max = pts[i];
    }
    char first[64], last[64], top[64];
    nmx__cli_cell_text(&t->rows[0]->Column[0].VariantData, NULL, first, sizeof first);
    nmx__cli_cell_text(&t->rows[t->nrows - 1]->Column[0].VariantData, NULL, last, sizeof last);
    static const char *const si[] = {"", " k", " M", " G", " T"};
    int k = 0;
    for (double m = max; m >= 1000 && k < 4; m /= 1000)
        k++;
    snprintf(top, sizeof top, "%.3g%s", max / (k == 0 ? 1 : k == 1 ? 1e3 : k == 2 ? 1e6 : k == 3 ? 1e9 : 1e12),
             si[k]);
    fprintf(o, "<svg class=\"series\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"", W + X0 + 20,
            H + Y0 + 30);
    html_text(o, t->head->Column[vc].szColumnName);
    fprintf(o, " over time\">\n<polyline class=\"area\" points=\"%d,%d", X0, Y0 + H);
    for (size_t i = 0; i < npts; i++)
        fprintf(o, " %.1f,%.1f", X0 + (npts > 1 ? (double)W * (double)i / (double)(npts - 1) : 0),
                Y0 + H - (max > 0 ? H * pts[i] / max : 0));
    fprintf(o, " %d,%d\"/>\n", X0 + W, Y0 + H);
    fprintf(o, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
               "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
            X0, Y0, X0, Y0 + H, X0, Y0 + H, X0 + W, Y0 + H);
    fprintf(o, "<text x=\"%d\" y=\"%d\" class=\"lbl\" text-anchor=\"end\">%s</text>"
               "<text x=\"%d\" y=\"%d\" class=\"lbl\" text-anchor=\"end\">0</text>\n",
            X0 - 4, Y0 + 10, top, X0 - 4, Y0 + H);
    fprintf(o, "<text x=\"%d\" y=\"%d\" class=\"lbl\">%s s</text>"
               "<text x=\"%d\" y=\"%d\" class=\"lbl\" text-anchor=\"end\">%s s</text>\n",
            X0, Y0 + H + 18, first, X0 + W, Y0 + H + 18, last);
    fprintf(o, "<text x=\"%d\" y=\"%d\" class=\"lbl\">", X0 + 8, Y0 + 12);
    html_text(o, t->head->Column[vc].szColumnName);
    fprintf(o, "</text>\n</svg>\n");
}

static void table(FILE *o, const cli_table *t)
{
    const NMEVENTDATA *h = t->head;
    char cell[512];
    fprintf(o, "<h3>");
    html_text(o, h->szEventName);
    fprintf(o, "</h3>\n");
    int vc = chart_column(h);
    if (column_named(h, "Time (s)") == 0)
        series_chart(o, t);
    else if (vc > 0)
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
            nmx__cli_cell_text(v, h->Column[c].szColumnName, cell, sizeof cell);
            fprintf(o, nmx__cli_is_numeric(v) ? "<td class=\"n\">" : "<td>");
            html_text(o, cell);
            fprintf(o, "</td>");
        }
        fprintf(o, "</tr>\n");
    }
    fprintf(o, "</table>\n");
}

/* A failed run says why under its name. */
static void outcome(FILE *o, const cli_job *j)
{
    char why[512], took[32];
    nmx__cli_run_reason(j, why, sizeof why);
    nmx__cli_fmt_seconds(j->res.wall_seconds, took, sizeof took);
    fprintf(o, "<p class=\"run%s\">%s, %s", why[0] ? " bad" : "", why[0] ? "failed" : "done", took);
    if (why[0]) {
        fprintf(o, ": ");
        html_text(o, why);
    }
    fprintf(o, "</p>\n");
}

static void summary(FILE *o, const cli_report *r)
{
    char a[96], b[96], by[32];
    nmx__cli_fmt_bytes(r->sum.bytes, by, sizeof by);
    fprintf(o, "<table class=\"summary\"><tr><th>Frames</th><td class=\"n\">%" PRIu64 "</td></tr>\n"
               "<tr><th>Bytes</th><td class=\"n\">%s (%" PRIu64 ")</td></tr>\n",
            r->sum.frames, by, r->sum.bytes);
    if (r->sum.frames) {
        nmx__cli_fmt_time(r->sum.first_ts, a, sizeof a);
        nmx__cli_fmt_time(r->sum.last_ts, b, sizeof b);
        fprintf(o, "<tr><th>First</th><td>%s</td></tr>\n<tr><th>Last</th><td>%s</td></tr>\n"
                   "<tr><th>Duration</th><td class=\"n\">%.3f s</td></tr>\n",
                a, b, (double)(r->sum.last_ts - r->sum.first_ts) / 1e9);
    }
    fprintf(o, "</table>\n");
}

/* The memory ledger of all runs, in one line at the end. */
static void ledger(FILE *o, const cli_report *r)
{
    cli_totals t;
    nmx__cli_totals(r, &t);
    char peak[32], leaked[32];
    nmx__cli_fmt_bytes(t.peak_bytes, peak, sizeof peak);
    nmx__cli_fmt_bytes(t.leaked_bytes, leaked, sizeof leaked);
    fprintf(o, "<p class=\"ledger%s\">Memory: %zu runs (%zu failed), peak %s (", t.failed ? " bad" : "", t.runs,
            t.failed, peak);
    html_text(o, t.peak_job ? nmx_expert_info(t.peak_job->ex)->szName : "-");
    fprintf(o, "), %" PRIu64 " allocations, %" PRIu64 " leaked blocks (%s) reclaimed, %" PRIu64
               " invalid calls</p>\n",
            t.allocs, t.leaked_blocks, leaked, t.invalid_calls);
}

static const char style[] =
    "body{font-family:sans-serif;margin:2em;color:#222}\n"
    "h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}\n"
    "h3{font-size:1em;margin-bottom:.3em}\n"
    "table{border-collapse:collapse;margin:.5em 0 1em}\n"
    "td,th{border:1px solid #ddd;padding:2px 8px;font-size:.9em}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}\n"
    ".chart .bar{fill:#4a7ab5}.chart .lbl,.chart .val,.series .lbl{font-size:12px;fill:#222}\n"
    ".series .area{fill:#c9d9ee;stroke:#4a7ab5;stroke-width:1.5}.series .axis{stroke:#888}\n"
    ".ledger,.run{color:#555;font-size:.9em}.bad{color:#b00}\n";

void nmx__cli_emit_html(FILE *o, const cli_report *r)
{
    fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<title>nmexpert: ");
    html_text(o, r->capture);
    fprintf(o, "</title>\n<style>\n%s</style></head><body>\n<h1>nmexpert report: ", style);
    html_text(o, r->capture);
    fprintf(o, "</h1>\n");
    summary(o, r);
    for (size_t i = 0; i < r->njobs; i++) {
        const cli_job *j = &r->jobs[i];
        fprintf(o, "<h2>");
        html_text(o, nmx_expert_info(j->ex)->szName);
        fprintf(o, "</h2>\n");
        outcome(o, j);
        for (size_t t = 0; t < j->ntables; t++)
            table(o, &j->tables[t]);
    }
    ledger(o, r);
    fprintf(o, "</body></html>\n");
}
