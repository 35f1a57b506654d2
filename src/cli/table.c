/* An ended run's events as tables (experts/common/expert_util.h: one event
 * is one row, EventIdent numbers the table), and cells as text. */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

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

static void number_text(double d, char *buf, size_t len)
{
    if (d == (double)(int64_t)d && d < 9e15 && d > -9e15)
        snprintf(buf, len, "%" PRId64, (int64_t)d);
    else
        snprintf(buf, len, "%.3f", d);
}

void nmx__cli_cell_text(const NMCOLUMNVARIANT *v, char *buf, size_t len)
{
    switch (v->Type) {
    case NMCOLUMNTYPE_UINT8: snprintf(buf, len, "%u", v->Value.Uint8Val); break;
    case NMCOLUMNTYPE_SINT8: snprintf(buf, len, "%d", v->Value.Sint8Val); break;
    case NMCOLUMNTYPE_UINT16: snprintf(buf, len, "%u", v->Value.Uint16Val); break;
    case NMCOLUMNTYPE_SINT16: snprintf(buf, len, "%d", v->Value.Sint16Val); break;
    case NMCOLUMNTYPE_UINT32:
    case NMCOLUMNTYPE_FRAME: snprintf(buf, len, "%u", (unsigned)v->Value.Uint32Val); break;
    case NMCOLUMNTYPE_SINT32: snprintf(buf, len, "%d", (int)v->Value.Sint32Val); break;
    case NMCOLUMNTYPE_FLOAT64:
    case NMCOLUMNTYPE_VARTIME: number_text(v->Value.Float64Val, buf, len); break;
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
    nmx__cli_cell_text(v, buf, sizeof buf);
    return strtod(buf, NULL);
}
