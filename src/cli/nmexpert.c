/* nmexpert: list experts, describe a capture, run experts over it.
 *
 *   nmexpert list
 *   nmexpert info CAPTURE
 *   nmexpert run [-e NAME]... [--filter EXPR] [--config NAME:KEY=VALUE]...
 *                [--mem-limit BYTES] [--timeout SECONDS] [--format text|json|csv]
 *                [--html FILE] CAPTURE
 *
 * Exit status: 0 when every run finished; 1 when a run failed (crashed, hung,
 * timed out, reported a problem); 2 for bad input (usage, a capture or filter
 * that cannot be used, an unknown expert).
 *
 * Experts are found in NMEXPERT_PATH (colon-separated folders), then in the
 * bundled folder (installed, or the build tree's). Results are the experts'
 * events, one event a table row (experts/common/expert_util.h conventions).
 */
#define _GNU_SOURCE
#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include <errno.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { EXIT_RUN_FAILED = 1, EXIT_BAD_INPUT = 2 };

/* ---- experts ---- */

typedef struct found {
    nmx_expert **ex;
    size_t n, cap;
    int quiet;
} found;

static void on_loaded(nmx_expert *ex, void *ctx)
{
    found *f = ctx;
    for (size_t i = 0; i < f->n; i++) {
        /* the first folder wins: NMEXPERT_PATH can override a bundled expert */
        const char *a = strrchr(nmx_expert_path(f->ex[i]), '/');
        const char *b = strrchr(nmx_expert_path(ex), '/');
        if (a && b && strcmp(a, b) == 0) {
            nmx_expert_unload(ex);
            return;
        }
    }
    if (f->n == f->cap) {
        size_t nc = f->cap ? f->cap * 2 : 16;
        nmx_expert **nn = realloc(f->ex, nc * sizeof *nn);
        if (!nn) {
            nmx_expert_unload(ex);
            return;
        }
        f->ex = nn;
        f->cap = nc;
    }
    f->ex[f->n++] = ex;
}

static void on_rejected(const char *path, const char *reason, void *ctx)
{
    found *f = ctx;
    if (!f->quiet)
        printf("rejected  %s: %s\n", path, reason);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void find_experts(found *f)
{
    const char *env = getenv("NMEXPERT_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save))
            nmx_expert_scan(d, on_loaded, on_rejected, f);
        free(copy);
    }
    if (is_dir(NMX_INSTALL_EXPERTS_DIR))
        nmx_expert_scan(NMX_INSTALL_EXPERTS_DIR, on_loaded, on_rejected, f);
    else if (is_dir(NMX_BUILD_EXPERTS_DIR))
        nmx_expert_scan(NMX_BUILD_EXPERTS_DIR, on_loaded, on_rejected, f);
}

/* "protdist" for ".../protdist.so" */
static void short_name(const nmx_expert *ex, char *buf, size_t len)
{
    const char *p = nmx_expert_path(ex), *b = strrchr(p, '/');
    snprintf(buf, len, "%s", b ? b + 1 : p);
    char *dot = strstr(buf, ".so");
    if (dot)
        *dot = '\0';
}

static int matches(const nmx_expert *ex, const char *name)
{
    char s[256];
    short_name(ex, s, sizeof s);
    return strcasecmp(s, name) == 0 || strcasecmp(nmx_expert_info(ex)->szName, name) == 0;
}

static int cmd_list(void)
{
    found f = {0};
    find_experts(&f);
    for (size_t i = 0; i < f.n; i++) {
        const EXPERTENUMINFO *in = nmx_expert_info(f.ex[i]);
        char s[256];
        short_name(f.ex[i], s, sizeof s);
        printf("%-10s %s (%s, version %u, flags 0x%x%s)\n           %s\n           %s\n", s,
               in->szName, in->szVendor, (unsigned)in->Version, (unsigned)in->Flags,
               (in->Flags & EXPERT_ENUM_FLAG_CONFIGURABLE) ? ": configurable" : "",
               in->szDescription, nmx_expert_path(f.ex[i]));
        nmx_expert_unload(f.ex[i]);
    }
    free(f.ex);
    return 0;
}

/* ---- info ---- */

static void fmt_time(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[64];
    strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, len, "%s.%09" PRId64 " UTC", d, ns % 1000000000);
}

static int cmd_info(const char *path)
{
    nmx_capture *cap;
    char err[1024];
    DWORD rc = nmx_capture_open(path, &cap, err, sizeof err);
    if (rc != NMERR_SUCCESS) {
        fprintf(stderr, "nmexpert: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    nmx_capture_info in;
    nmx_capture_get_info(cap, &in);
    int lts[8];
    unsigned nlt = nmx_capture_link_types(cap, lts, 8);
    printf("File:            %s\n", path);
    printf("Frames:          %u\n", nmx_capture_frames(cap));
    printf("Wire bytes:      %" PRIu64 "\n", (uint64_t)in.wire_bytes);
    printf("Captured bytes:  %" PRIu64 "\n", (uint64_t)in.captured_bytes);
    printf("Link types:     ");
    for (unsigned i = 0; i < nlt && i < 8; i++) {
        const char *n = pcap_datalink_val_to_name(lts[i]);
        printf(" %d (%s)", lts[i], n ? n : "?");
    }
    printf("\n");
    if (nmx_capture_frames(cap)) {
        char a[96], b[96];
        fmt_time(in.earliest_ts, a, sizeof a);
        fmt_time(in.latest_ts, b, sizeof b);
        printf("First time:      %s\nLast time:       %s\n", a, b);
        printf("Duration:        %.6f s\n", (double)(in.latest_ts - in.earliest_ts) / 1e9);
    }
    if (nmx_capture_error(cap))
        printf("Damage:          %s\n", nmx_capture_error(cap));
    nmx_capture_close(cap);
    return 0;
}

/* ---- run ---- */

typedef struct job {
    nmx_expert *ex;
    char name[256];
    EXPERTCONFIG *config;
    nmx_run *run;
    nmx_run_result res;
    int started;
} job;

static int add_config(job *j, const char *kv)
{
    size_t have = j->config ? j->config->RawConfigLength - sizeof(DWORD) : 0;
    size_t add = strlen(kv) + 1;
    EXPERTCONFIG *c = realloc(j->config, sizeof(DWORD) + have + add);
    if (!c)
        return -1;
    memcpy(c->RawConfigData + have, kv, add - 1);
    c->RawConfigData[have + add - 1] = '\n';
    c->RawConfigLength = (DWORD)(sizeof(DWORD) + have + add);
    j->config = c;
    return 0;
}

static const char *status_name(DWORD s)
{
    static const char *n[] = {"inactive", "starting", "running", "problem", "aborted", "done"};
    return s < 6 ? n[s] : "?";
}

static void cell_text(const NMCOLUMNVARIANT *v, char *buf, size_t len)
{
    switch (v->Type) {
    case NMCOLUMNTYPE_UINT8: snprintf(buf, len, "%u", v->Value.Uint8Val); break;
    case NMCOLUMNTYPE_SINT8: snprintf(buf, len, "%d", v->Value.Sint8Val); break;
    case NMCOLUMNTYPE_UINT16: snprintf(buf, len, "%u", v->Value.Uint16Val); break;
    case NMCOLUMNTYPE_SINT16: snprintf(buf, len, "%d", v->Value.Sint16Val); break;
    case NMCOLUMNTYPE_UINT32: case NMCOLUMNTYPE_FRAME:
        snprintf(buf, len, "%u", (unsigned)v->Value.Uint32Val); break;
    case NMCOLUMNTYPE_SINT32: snprintf(buf, len, "%d", (int)v->Value.Sint32Val); break;
    case NMCOLUMNTYPE_FLOAT64: case NMCOLUMNTYPE_VARTIME: {
        double d = v->Value.Float64Val;
        if (d == (double)(int64_t)d && d < 9e15 && d > -9e15)
            snprintf(buf, len, "%" PRId64, (int64_t)d);
        else
            snprintf(buf, len, "%.3f", d);
        break;
    }
    case NMCOLUMNTYPE_YESNO: snprintf(buf, len, "%s", v->Value.YesNoVal ? "yes" : "no"); break;
    case NMCOLUMNTYPE_ONOFF: snprintf(buf, len, "%s", v->Value.OnOffVal ? "on" : "off"); break;
    case NMCOLUMNTYPE_TRUEFALSE: snprintf(buf, len, "%s", v->Value.TrueFalseVal ? "true" : "false"); break;
    case NMCOLUMNTYPE_MACADDR: {
        const BYTE *m = v->Value.MACAddrVal;
        snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
        break;
    }
    case NMCOLUMNTYPE_IPADDR: {
        DWORD a = v->Value.IPAddrVal;
        snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
        break;
    }
    case NMCOLUMNTYPE_STRING: snprintf(buf, len, "%s", v->Value.pStringVal ? v->Value.pStringVal : ""); break;
    default: snprintf(buf, len, "?"); break;
    }
}

static int is_numeric(const NMCOLUMNVARIANT *v)
{
    return v->Type <= NMCOLUMNTYPE_FRAME;
}

/* JSON string body with the escapes JSON needs. */
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

/* The rows of table `ident` (in order), or count only. */
static size_t table_rows(const NMEVENTDATA *const *ev, size_t n, DWORD ident,
                         const NMEVENTDATA **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ev[i]->EventIdent == ident) {
            if (out)
                out[k] = ev[i];
            k++;
        }
    return k;
}

static void print_text_table(FILE *o, const NMEVENTDATA **rows, size_t n)
{
    const NMEVENTDATA *h = rows[0];
    size_t nc = h->NumColumns, w[256] = {0};
    char cell[512];
    for (size_t c = 0; c < nc; c++)
        w[c] = strlen(h->Column[c].szColumnName ? h->Column[c].szColumnName : "");
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < nc && c < rows[r]->NumColumns; c++) {
            cell_text(&rows[r]->Column[c].VariantData, cell, sizeof cell);
            if (strlen(cell) > w[c])
                w[c] = strlen(cell);
        }
    fprintf(o, "\n  %s\n  ", h->szEventName ? h->szEventName : "");
    for (size_t c = 0; c < nc; c++) {
        const char *name = h->Column[c].szColumnName ? h->Column[c].szColumnName : "";
        fprintf(o, is_numeric(&h->Column[c].VariantData) ? "%*s  " : "%-*s  ", (int)w[c], name);
    }
    fprintf(o, "\n");
    for (size_t r = 0; r < n; r++) {
        fprintf(o, "  ");
        for (size_t c = 0; c < nc && c < rows[r]->NumColumns; c++) {
            cell_text(&rows[r]->Column[c].VariantData, cell, sizeof cell);
            fprintf(o, is_numeric(&rows[r]->Column[c].VariantData) ? "%*s  " : "%-*s  ",
                    (int)w[c], cell);
        }
        fprintf(o, "\n");
    }
}

static int run_failed(const job *j)
{
    return !j->started || !j->res.returned || j->res.hung || j->res.fault_signal ||
           j->res.status.Status != EXPERTSTATUS_DONE;
}

static void print_ledger(FILE *o, const job *j)
{
    const nmx_mem_stats *m = &j->res.mem;
    uint64_t bad = m->bad_double_free + m->bad_foreign + m->bad_wrong_owner + m->bad_interior;
    fprintf(o, "\n  status %s%s%s, %.3f s; memory: peak %" PRIu64 " B, %" PRIu64
               " allocations, reclaimed %" PRIu64 " leaked blocks (%" PRIu64 " B), %" PRIu64
               " invalid calls\n",
            status_name(j->res.status.Status), j->res.hung ? " (hung)" : "",
            j->res.timed_out ? " (time limit)" : "", j->res.wall_seconds, m->peak_bytes,
            m->allocs, m->live_blocks, m->live_bytes, bad);
    if (j->res.fault_signal)
        fprintf(o, "  crashed: signal %d at %p\n", j->res.fault_signal, j->res.fault_address);
    if (j->res.status.Status == EXPERTSTATUS_PROBLEM && j->res.status.szStatusText[0])
        fprintf(o, "  problem: %s\n", j->res.status.szStatusText);
}

static void output(FILE *o, const char *fmt, const char *capture, job *jobs, size_t nj)
{
    int json = !strcmp(fmt, "json"), csv = !strcmp(fmt, "csv");
    if (json)
        fprintf(o, "{\"capture\":"), json_str(o, capture), fprintf(o, ",\"experts\":[");
    for (size_t i = 0; i < nj; i++) {
        job *j = &jobs[i];
        size_t n = 0;
        const NMEVENTDATA *const *ev = j->run ? nmx_run_events(j->run, &n) : NULL;
        const NMEVENTDATA **rows = n ? calloc(n, sizeof *rows) : NULL;
        if (json) {
            fprintf(o, "%s{\"expert\":", i ? "," : "");
            json_str(o, nmx_expert_info(j->ex)->szName);
            fprintf(o, ",\"status\":\"%s\",\"returned\":%s,\"hung\":%s,\"signal\":%d,"
                       "\"seconds\":%.6f,\"memory\":{\"peak_bytes\":%" PRIu64
                       ",\"allocs\":%" PRIu64 ",\"leaked_blocks\":%" PRIu64
                       ",\"leaked_bytes\":%" PRIu64 ",\"invalid_calls\":%" PRIu64 "},\"tables\":[",
                    status_name(j->res.status.Status), j->res.returned ? "true" : "false",
                    j->res.hung ? "true" : "false", j->res.fault_signal, j->res.wall_seconds,
                    j->res.mem.peak_bytes, j->res.mem.allocs, j->res.mem.live_blocks,
                    j->res.mem.live_bytes,
                    j->res.mem.bad_double_free + j->res.mem.bad_foreign +
                        j->res.mem.bad_wrong_owner + j->res.mem.bad_interior);
        } else if (!csv) {
            fprintf(o, "== %s ==\n", nmx_expert_info(j->ex)->szName);
        }
        /* Tables in the order their first row came. */
        int first_table = 1;
        for (size_t e = 0; e < n; e++) {
            DWORD id = ev[e]->EventIdent;
            int seen = 0;
            for (size_t p = 0; p < e && !seen; p++)
                seen = ev[p]->EventIdent == id;
            if (seen)
                continue;
            size_t nr = table_rows(ev, n, id, rows);
            const NMEVENTDATA *h = rows[0];
            char cell[512];
            if (json) {
                fprintf(o, "%s{\"title\":", first_table ? "" : ",");
                json_str(o, h->szEventName);
                fprintf(o, ",\"columns\":[");
                for (size_t c = 0; c < h->NumColumns; c++)
                    fprintf(o, "%s", c ? "," : ""), json_str(o, h->Column[c].szColumnName);
                fprintf(o, "],\"rows\":[");
                for (size_t r = 0; r < nr; r++) {
                    fprintf(o, "%s[", r ? "," : "");
                    for (size_t c = 0; c < rows[r]->NumColumns; c++) {
                        cell_text(&rows[r]->Column[c].VariantData, cell, sizeof cell);
                        fprintf(o, "%s", c ? "," : "");
                        if (is_numeric(&rows[r]->Column[c].VariantData))
                            fprintf(o, "%s", cell);
                        else
                            json_str(o, cell);
                    }
                    fprintf(o, "]");
                }
                fprintf(o, "]}");
            } else if (csv) {
                fprintf(o, "expert,table");
                for (size_t c = 0; c < h->NumColumns; c++)
                    fputc(',', o), csv_str(o, h->Column[c].szColumnName);
                fputc('\n', o);
                for (size_t r = 0; r < nr; r++) {
                    csv_str(o, nmx_expert_info(j->ex)->szName), fputc(',', o);
                    csv_str(o, h->szEventName);
                    for (size_t c = 0; c < rows[r]->NumColumns; c++) {
                        cell_text(&rows[r]->Column[c].VariantData, cell, sizeof cell);
                        fputc(',', o);
                        csv_str(o, cell);
                    }
                    fputc('\n', o);
                }
                fputc('\n', o);
            } else {
                print_text_table(o, rows, nr);
            }
            first_table = 0;
        }
        free(rows);
        if (json)
            fprintf(o, "]}");
        else if (!csv) {
            print_ledger(o, j);
            fprintf(o, "\n");
        }
    }
    if (json)
        fprintf(o, "]}\n");
}

/* ---- the HTML report: one self-contained file, inline CSS and SVG, no
 * script and nothing fetched, so a browser opens it without a network ---- */

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

static double cell_number(const NMCOLUMNVARIANT *v)
{
    char buf[64];
    cell_text(v, buf, sizeof buf);
    return strtod(buf, NULL);
}

/* The column a chart of this table plots: the first of these headers. */
static int chart_column(const NMEVENTDATA *h)
{
    static const char *prefer[] = {"Bytes", "Mean (ms)", "Count", "Retransmissions", "Frames"};
    for (size_t p = 0; p < sizeof prefer / sizeof prefer[0]; p++)
        for (size_t c = 0; c < h->NumColumns; c++)
            if (h->Column[c].szColumnName && !strcmp(h->Column[c].szColumnName, prefer[p]) &&
                is_numeric(&h->Column[c].VariantData))
                return (int)c;
    return -1;
}

/* A horizontal bar chart of the table's first column against column vc. */
static void html_chart(FILE *o, const NMEVENTDATA **rows, size_t n, int vc)
{
    size_t shown = n < 15 ? n : 15;
    double max = 0;
    for (size_t r = 0; r < shown; r++)
        if (rows[r]->NumColumns > (size_t)vc) {
            double v = cell_number(&rows[r]->Column[vc].VariantData);
            if (v > max)
                max = v;
        }
    if (shown < 2 || max <= 0)
        return;
    unsigned h = (unsigned)(shown * 22 + 10);
    fprintf(o, "<svg class=\"chart\" width=\"760\" height=\"%u\" role=\"img\" aria-label=\"", h);
    html_text(o, rows[0]->Column[vc].szColumnName);
    fprintf(o, "\">\n");
    char label[512], val[64];
    for (size_t r = 0; r < shown; r++) {
        if (rows[r]->NumColumns <= (size_t)vc)
            continue;
        double v = cell_number(&rows[r]->Column[vc].VariantData);
        cell_text(&rows[r]->Column[0].VariantData, label, sizeof label);
        cell_text(&rows[r]->Column[vc].VariantData, val, sizeof val);
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

static int write_html(const char *path, const char *capture, job *jobs, size_t nj)
{
    FILE *o = fopen(path, "w");
    if (!o)
        return -1;
    fprintf(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>nmexpert: ");
    html_text(o, capture);
    fprintf(o, "</title>\n<style>\n"
               "body{font-family:sans-serif;margin:2em;color:#222}\n"
               "h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}\n"
               "h3{font-size:1em;margin-bottom:.3em}\n"
               "table{border-collapse:collapse;margin:.5em 0 1em}\n"
               "td,th{border:1px solid #ddd;padding:2px 8px;font-size:.9em}\n"
               "td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4}\n"
               ".chart .bar{fill:#4a7ab5}.chart .lbl,.chart .val{font-size:12px;fill:#222}\n"
               ".ledger{color:#555;font-size:.9em}.bad{color:#b00}\n"
               "</style></head><body>\n<h1>nmexpert report: ");
    html_text(o, capture);
    fprintf(o, "</h1>\n");
    for (size_t i = 0; i < nj; i++) {
        job *j = &jobs[i];
        size_t n = 0;
        const NMEVENTDATA *const *ev = j->run ? nmx_run_events(j->run, &n) : NULL;
        const NMEVENTDATA **rows = n ? calloc(n, sizeof *rows) : NULL;
        fprintf(o, "<h2>");
        html_text(o, nmx_expert_info(j->ex)->szName);
        fprintf(o, "</h2>\n");
        for (size_t e = 0; rows && e < n; e++) {
            DWORD id = ev[e]->EventIdent;
            int seen = 0;
            for (size_t p = 0; p < e && !seen; p++)
                seen = ev[p]->EventIdent == id;
            if (seen)
                continue;
            size_t nr = table_rows(ev, n, id, rows);
            const NMEVENTDATA *h = rows[0];
            char cell[512];
            fprintf(o, "<h3>");
            html_text(o, h->szEventName);
            fprintf(o, "</h3>\n");
            int vc = chart_column(h);
            if (vc > 0)
                html_chart(o, rows, nr, vc);
            fprintf(o, "<table><tr>");
            for (size_t c = 0; c < h->NumColumns; c++) {
                fprintf(o, "<th>");
                html_text(o, h->Column[c].szColumnName);
                fprintf(o, "</th>");
            }
            fprintf(o, "</tr>\n");
            for (size_t r = 0; r < nr; r++) {
                fprintf(o, "<tr>");
                for (size_t c = 0; c < rows[r]->NumColumns; c++) {
                    cell_text(&rows[r]->Column[c].VariantData, cell, sizeof cell);
                    fprintf(o, is_numeric(&rows[r]->Column[c].VariantData) ? "<td class=\"n\">"
                                                                          : "<td>");
                    html_text(o, cell);
                    fprintf(o, "</td>");
                }
                fprintf(o, "</tr>\n");
            }
            fprintf(o, "</table>\n");
        }
        free(rows);
        const nmx_mem_stats *m = &j->res.mem;
        fprintf(o, "<p class=\"ledger%s\">status %s%s; %.3f s; memory: peak %" PRIu64
                   " B, %" PRIu64 " allocations, %" PRIu64 " leaked blocks (%" PRIu64
                   " B) reclaimed, %" PRIu64 " invalid calls%s</p>\n",
                run_failed(j) ? " bad" : "", status_name(j->res.status.Status),
                j->res.hung ? " (hung)" : "", j->res.wall_seconds, m->peak_bytes, m->allocs,
                m->live_blocks, m->live_bytes,
                m->bad_double_free + m->bad_foreign + m->bad_wrong_owner + m->bad_interior,
                j->res.fault_signal ? "; crashed" : "");
    }
    fprintf(o, "</body></html>\n");
    return fclose(o) == 0 ? 0 : -1;
}

/* Live progress, one line per expert, redrawn in place on a terminal. */
static void draw_progress(job *jobs, size_t nj, int redraw)
{
    if (redraw)
        fprintf(stderr, "\033[%zuA", nj);
    for (size_t i = 0; i < nj; i++) {
        EXPERTSTATUS st;
        memset(&st, 0, sizeof st);
        if (jobs[i].run)
            nmx_run_status(jobs[i].run, &st);
        fprintf(stderr, "\033[2K%-28.28s %3u%%  %-9s %.60s\n", nmx_expert_info(jobs[i].ex)->szName,
                (unsigned)st.PercentDone, status_name(st.Status), st.szStatusText);
    }
    fflush(stderr);
}

static int usage(FILE *o, int rc)
{
    fprintf(o,
            "usage: nmexpert list\n"
            "       nmexpert info CAPTURE\n"
            "       nmexpert run [options] CAPTURE\n"
            "run options:\n"
            "  -e, --expert NAME        run this expert (file name or registered name); repeatable;\n"
            "                           default: every expert found\n"
            "  -f, --filter EXPR        tcpdump/BPF filter the experts see the capture through\n"
            "  -c, --config NAME:K=V    a configuration line for expert NAME; repeatable\n"
            "  -m, --mem-limit BYTES    memory quota of each run (suffixes k, M, G)\n"
            "  -t, --timeout SECONDS    time limit of each run\n"
            "  -o, --format FMT         text (default), json or csv\n"
            "      --html FILE          also write a self-contained HTML report with charts\n"
            "Experts are looked for in NMEXPERT_PATH (colon-separated folders), then in the\n"
            "bundled folder. Exit status: 0 every run finished; 1 a run failed; 2 bad input.\n");
    return rc;
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = *end == 'k' || *end == 'K' ? 10 : *end == 'M' ? 20 : *end == 'G' ? 30 : 0;
    if (shift)
        end++;
    if (*end || v > (SIZE_MAX >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    const char *filter = NULL, *fmt = "text", *capture = NULL, *html = NULL;
    const char *names[64], *configs[256];
    size_t nnames = 0, nconfigs = 0, quota = 0;
    double timeout = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "-e") || !strcmp(a, "--expert")) {
            if (v && nnames < 64)
                names[nnames++] = v;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--filter")) {
            filter = v;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            if (v && nconfigs < 256)
                configs[nconfigs++] = v;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--mem-limit")) {
            if (!v || parse_size(v, &quota)) {
                fprintf(stderr, "nmexpert: bad --mem-limit\n");
                return EXIT_BAD_INPUT;
            }
        } else if (!strcmp(a, "-t") || !strcmp(a, "--timeout")) {
            char *end;
            timeout = v ? strtod(v, &end) : -1;
            if (!v || *end || timeout <= 0 || timeout > 4e6) {
                fprintf(stderr, "nmexpert: bad --timeout\n");
                return EXIT_BAD_INPUT;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--format")) {
            fmt = v;
            if (!fmt || (strcmp(fmt, "text") && strcmp(fmt, "json") && strcmp(fmt, "csv"))) {
                fprintf(stderr, "nmexpert: --format is text, json or csv\n");
                return EXIT_BAD_INPUT;
            }
        } else if (!strcmp(a, "--html")) {
            html = v;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            return usage(stdout, 0);
        } else if (a[0] == '-') {
            fprintf(stderr, "nmexpert: unknown option %s\n", a);
            return usage(stderr, EXIT_BAD_INPUT);
        } else {
            takes = 0;
            if (capture) {
                fprintf(stderr, "nmexpert: one capture only\n");
                return EXIT_BAD_INPUT;
            }
            capture = a;
        }
        if (takes) {
            if (!v) {
                fprintf(stderr, "nmexpert: %s needs a value\n", a);
                return EXIT_BAD_INPUT;
            }
            i++;
        }
    }
    if (!capture)
        return usage(stderr, EXIT_BAD_INPUT);

    nmx_capture *cap;
    char err[1024];
    if (nmx_capture_open(capture, &cap, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmexpert: %s\n", err);
        return EXIT_BAD_INPUT;
    }
    if (nmx_capture_error(cap))
        fprintf(stderr, "nmexpert: warning: %s\n", nmx_capture_error(cap));
    nmx_filter *flt = NULL;
    if (filter && nmx_filter_create(cap, filter, &flt, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmexpert: bad filter: %s\n", err);
        nmx_capture_close(cap);
        return EXIT_BAD_INPUT;
    }

    found f = {0};
    f.quiet = 1;
    find_experts(&f);
    job *jobs = calloc(f.n ? f.n : 1, sizeof *jobs);
    size_t nj = 0;
    int rc = 0;
    for (size_t i = 0; i < f.n; i++) {
        int want = nnames == 0;
        for (size_t k = 0; k < nnames && !want; k++)
            want = matches(f.ex[i], names[k]);
        if (want) {
            jobs[nj].ex = f.ex[i];
            short_name(f.ex[i], jobs[nj].name, sizeof jobs[nj].name);
            nj++;
        }
    }
    for (size_t k = 0; k < nnames; k++) {
        int hit = 0;
        for (size_t i = 0; i < nj && !hit; i++)
            hit = matches(jobs[i].ex, names[k]);
        if (!hit) {
            fprintf(stderr, "nmexpert: no expert named %s (see nmexpert list)\n", names[k]);
            rc = EXIT_BAD_INPUT;
        }
    }
    for (size_t c = 0; c < nconfigs && rc == 0; c++) {
        const char *colon = strchr(configs[c], ':');
        int hit = 0;
        for (size_t i = 0; colon && i < nj; i++) {
            char who[256];
            snprintf(who, sizeof who, "%.*s", (int)(colon - configs[c]), configs[c]);
            if (matches(jobs[i].ex, who)) {
                hit = 1;
                if (add_config(&jobs[i], colon + 1))
                    rc = EXIT_BAD_INPUT;
            }
        }
        if (!hit) {
            fprintf(stderr, "nmexpert: --config %s: not NAME:KEY=VALUE for an expert that runs\n",
                    configs[c]);
            rc = EXIT_BAD_INPUT;
        }
    }
    if (nj == 0 && rc == 0) {
        fprintf(stderr, "nmexpert: no experts found (NMEXPERT_PATH, %s)\n", NMX_INSTALL_EXPERTS_DIR);
        rc = EXIT_BAD_INPUT;
    }
    if (rc == 0) {
        for (size_t i = 0; i < nj; i++) {
            nmx_run_options o;
            memset(&o, 0, sizeof o);
            o.capture = cap;
            o.filter = flt;
            o.config = jobs[i].config;
            o.quota_bytes = quota;
            o.time_limit_ms = (unsigned)(timeout * 1000);
            jobs[i].started = nmx_run_start(jobs[i].ex, &o, &jobs[i].run) == NMERR_SUCCESS;
        }
        int tty = isatty(STDERR_FILENO);
        int drawn = 0;
        for (;;) {
            size_t pending = 0;
            for (size_t i = 0; i < nj; i++)
                if (jobs[i].started && nmx_run_wait(jobs[i].run, 0, NULL) == NMERR_TIMEOUT)
                    pending++;
            if (tty) {
                draw_progress(jobs, nj, drawn);
                drawn = 1;
            }
            if (!pending)
                break;
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        for (size_t i = 0; i < nj; i++) {
            if (jobs[i].started)
                nmx_run_wait(jobs[i].run, UINT32_MAX, &jobs[i].res);
            if (run_failed(&jobs[i]))
                rc = EXIT_RUN_FAILED;
        }
        output(stdout, fmt, capture, jobs, nj);
        if (html && write_html(html, capture, jobs, nj) != 0) {
            fprintf(stderr, "nmexpert: cannot write %s: %s\n", html, strerror(errno));
            rc = EXIT_BAD_INPUT;
        }
    }
    for (size_t i = 0; i < nj; i++) {
        if (jobs[i].run && !jobs[i].res.hung)
            nmx_run_free(jobs[i].run);
        free(jobs[i].config);
    }
    int any_hung = 0;
    for (size_t i = 0; i < nj; i++)
        any_hung |= jobs[i].res.hung;
    for (size_t i = 0; i < f.n && !any_hung; i++)
        nmx_expert_unload(f.ex[i]);
    free(jobs);
    free(f.ex);
    if (!any_hung) {
        nmx_filter_destroy(flt);
        nmx_capture_close(cap);
    }
    fflush(stdout);
    if (any_hung)
        _exit(rc); /* a hung expert's thread still runs: do not tear down under it */
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr, EXIT_BAD_INPUT);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help"))
        return usage(stdout, 0);
    if (!strcmp(cmd, "list")) {
        if (argc > 2 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"))) {
            printf("usage: nmexpert list\nLists the experts found (NMEXPERT_PATH, then the bundled "
                   "folder) and the modules rejected, with the reason.\n");
            return 0;
        }
        return cmd_list();
    }
    if (!strcmp(cmd, "info")) {
        if (argc != 3)
            return usage(stderr, EXIT_BAD_INPUT);
        if (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help")) {
            printf("usage: nmexpert info CAPTURE\nFrames, bytes, link types, first and last time "
                   "and duration of a pcap or pcapng file, and any damage found.\n");
            return 0;
        }
        return cmd_info(argv[2]);
    }
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 2, argv + 2);
    fprintf(stderr, "nmexpert: unknown command %s\n", cmd);
    return usage(stderr, EXIT_BAD_INPUT);
}
