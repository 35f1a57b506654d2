/* An ended run's events as tables (experts/common/expert_util.h: one event
 * is one row, EventIdent numbers the table), and cells as text. */
#define _DEFAULT_SOURCE /* gmtime_r */
#include "cli.h"

#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int nmx__cli_tables(cli_job *j)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = j->run ? nmx_run_events(j->run, &n) : NULL;
    j->tables = NULL;
    j->ntables = 0;
    j->rowmem = NULL;
    if (!ev || n == 0)
        return 0;
    /* Tables in the order of their first row; few tables, many rows: a
     * linear search over the tables per event, then a counting sort. */
    size_t *which = malloc(n * sizeof *which);
    j->tables = calloc(n, sizeof *j->tables);
    j->rowmem = malloc(n * sizeof *j->rowmem);
    if (!which || !j->tables || !j->rowmem) {
        free(which);
        nmx__cli_tables_free(j);
        return -1;
    }
    for (size_t e = 0; e < n; e++) {
        size_t t = 0;
        while (t < j->ntables && j->tables[t].head->EventIdent != ev[e]->EventIdent)
            t++;
        if (t == j->ntables)
            j->tables[j->ntables++].head = ev[e];
        j->tables[t].nrows++;
        which[e] = t;
    }
    size_t at = 0;
    for (size_t t = 0; t < j->ntables; t++) {
        j->tables[t].rows = j->rowmem + at;
        at += j->tables[t].nrows;
        j->tables[t].nrows = 0;
    }
    for (size_t e = 0; e < n; e++) {
        cli_table *t = &j->tables[which[e]];
        t->rows[t->nrows++] = ev[e];
    }
    free(which);
    return 0;
}

void nmx__cli_tables_free(cli_job *j)
{
    free(j->tables);
    free(j->rowmem);
    j->tables = NULL;
    j->rowmem = NULL;
    j->ntables = 0;
}

const char *nmx__cli_status_name(DWORD s)
{
    static const char *n[] = {"inactive", "starting", "running", "problem", "aborted", "done"};
    return s < 6 ? n[s] : "?";
}

int nmx__cli_run_failed(const cli_job *j)
{
    return !j->started || !j->res.returned || j->res.hung || j->res.fault_signal ||
           j->res.status.Status != EXPERTSTATUS_DONE;
}

uint64_t nmx__cli_invalid_calls(const nmx_mem_stats *m)
{
    return m->bad_double_free + m->bad_foreign + m->bad_wrong_owner + m->bad_interior;
}

int nmx__cli_is_numeric(const NMCOLUMNVARIANT *v)
{
    return v->Type <= NMCOLUMNTYPE_FRAME;
}

void nmx__cli_run_reason(const cli_job *j, char *buf, size_t len)
{
    const nmx_run_result *r = &j->res;
    if (!j->started)
        snprintf(buf, len, "did not start: %s", nmx_strerror(j->start_rc));
    else if (r->fault_signal == SIGSYS && r->status.szStatusText[0])
        snprintf(buf, len, "%s", r->status.szStatusText); /* the isolation policy's stop */
    else if (r->fault_signal)
        snprintf(buf, len, "crashed: signal %d at %p", r->fault_signal, r->fault_address);
    else if (r->hung)
        snprintf(buf, len, "hung: did not stop %s%s",
                 r->timed_out ? "after its time limit" : "when told to",
                 r->killed ? "; killed by the host" : "");
    else if (r->timed_out)
        snprintf(buf, len, "time limit: stopped");
    else if (r->status.Status == EXPERTSTATUS_PROBLEM)
        snprintf(buf, len, "problem: %s", r->status.szStatusText);
    else if (!r->returned || r->status.Status != EXPERTSTATUS_DONE)
        snprintf(buf, len, "ended %s", nmx__cli_status_name(r->status.Status));
    else
        buf[0] = '\0';
}

void nmx__cli_totals(const cli_report *r, cli_totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < r->njobs; i++) {
        const cli_job *j = &r->jobs[i];
        const nmx_mem_stats *m = &j->res.mem;
        t->runs++;
        t->failed += nmx__cli_run_failed(j) != 0;
        if (!t->peak_job || m->peak_bytes > t->peak_bytes) {
            t->peak_bytes = m->peak_bytes;
            t->peak_job = j;
        }
        t->allocs += m->allocs;
        t->leaked_blocks += m->live_blocks;
        t->leaked_bytes += m->live_bytes;
        t->invalid_calls += nmx__cli_invalid_calls(m);
    }
}

static void number_text(double d, int percent, char *buf, size_t len)
{
    if (percent)
        snprintf(buf, len, "%.2f", d);
    else if (d == (double)(int64_t)d && d < 9e15 && d > -9e15)
        snprintf(buf, len, "%" PRId64, (int64_t)d);
    else
        snprintf(buf, len, "%.3f", d);
}

void nmx__cli_cell_exact(const NMCOLUMNVARIANT *v, char *buf, size_t len)
{
    if (v->Type == NMCOLUMNTYPE_FLOAT64 || v->Type == NMCOLUMNTYPE_VARTIME) {
        double d = v->Value.Float64Val;
        if (d == (double)(int64_t)d && d < 9e15 && d > -9e15)
            snprintf(buf, len, "%" PRId64, (int64_t)d);
        else if (d != d || d - d != 0)
            snprintf(buf, len, "null"); /* NaN and infinities have no JSON number */
        else
            snprintf(buf, len, "%.17g", d);
        return;
    }
    nmx__cli_cell_text(v, NULL, buf, len);
}

void nmx__cli_fmt_time(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char d[64];
    strftime(d, sizeof d, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf, len, "%s.%09" PRId64 " UTC", d, ns % 1000000000);
}

void nmx__cli_fmt_seconds(double s, char *buf, size_t len)
{
    if (s < 0.1)
        snprintf(buf, len, "%.1f ms", s * 1e3);
    else
        snprintf(buf, len, "%.3f s", s);
}

void nmx__cli_fmt_bytes(uint64_t v, char *buf, size_t len)
{
    static const char *const unit[] = {"B", "kB", "MB", "GB", "TB"};
    double x = (double)v;
    int u = 0;
    while (x >= 1000 && u < 4) {
        x /= 1000;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", v);
    else
        snprintf(buf, len, "%.1f %s", x, unit[u]);
}

void nmx__cli_cell_text(const NMCOLUMNVARIANT *v, const char *column, char *buf, size_t len)
{
    int percent = column && column[0] == '%';
    switch (v->Type) {
    case NMCOLUMNTYPE_UINT8: snprintf(buf, len, "%u", v->Value.Uint8Val); break;
    case NMCOLUMNTYPE_SINT8: snprintf(buf, len, "%d", v->Value.Sint8Val); break;
    case NMCOLUMNTYPE_UINT16: snprintf(buf, len, "%u", v->Value.Uint16Val); break;
    case NMCOLUMNTYPE_SINT16: snprintf(buf, len, "%d", v->Value.Sint16Val); break;
    case NMCOLUMNTYPE_UINT32:
    case NMCOLUMNTYPE_FRAME: snprintf(buf, len, "%u", (unsigned)v->Value.Uint32Val); break;
    case NMCOLUMNTYPE_SINT32: snprintf(buf, len, "%d", (int)v->Value.Sint32Val); break;
    case NMCOLUMNTYPE_FLOAT64:
    case NMCOLUMNTYPE_VARTIME: number_text(v->Value.Float64Val, percent, buf, len); break;
    case NMCOLUMNTYPE_YESNO: snprintf(buf, len, "%s", v->Value.YesNoVal ? "yes" : "no"); break;
    case NMCOLUMNTYPE_ONOFF: snprintf(buf, len, "%s", v->Value.OnOffVal ? "on" : "off"); break;
    case NMCOLUMNTYPE_TRUEFALSE:
        snprintf(buf, len, "%s", v->Value.TrueFalseVal ? "true" : "false");
        break;
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
    case NMCOLUMNTYPE_STRING:
        snprintf(buf, len, "%s", v->Value.pStringVal ? v->Value.pStringVal : "");
        break;
    default: snprintf(buf, len, "?"); break;
    }
}

double nmx__cli_cell_number(const NMCOLUMNVARIANT *v)
{
    char buf[64];
    nmx__cli_cell_exact(v, buf, sizeof buf);
    return strtod(buf, NULL);
}
