/* JSON: one object, {"capture":..., "experts":[{...,"tables":[...]}]}. */
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

static void table(FILE *o, const cli_table *t)
{
    const NMEVENTDATA *h = t->head;
    char cell[512];
    fprintf(o, "{\"title\":");
    json_str(o, h->szEventName);
    fprintf(o, ",\"columns\":[");
    for (size_t c = 0; c < h->NumColumns; c++)
        fprintf(o, "%s", c ? "," : ""), json_str(o, h->Column[c].szColumnName);
    fprintf(o, "],\"rows\":[");
    for (size_t r = 0; r < t->nrows; r++) {
        fprintf(o, "%s[", r ? "," : "");
        for (size_t c = 0; c < t->rows[r]->NumColumns; c++) {
            const NMCOLUMNVARIANT *v = &t->rows[r]->Column[c].VariantData;
            nmx__cli_cell_text(v, cell, sizeof cell);
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

static void expert(FILE *o, const cli_job *j)
{
    const nmx_mem_stats *m = &j->res.mem;
    fprintf(o, "{\"expert\":");
    json_str(o, nmx_expert_info(j->ex)->szName);
    fprintf(o, ",\"status\":\"%s\",\"returned\":%s,\"hung\":%s,\"signal\":%d,"
               "\"seconds\":%.6f,\"memory\":{\"peak_bytes\":%" PRIu64 ",\"allocs\":%" PRIu64
               ",\"leaked_blocks\":%" PRIu64 ",\"leaked_bytes\":%" PRIu64
               ",\"invalid_calls\":%" PRIu64 "},\"tables\":[",
            nmx__cli_status_name(j->res.status.Status), j->res.returned ? "true" : "false",
            j->res.hung ? "true" : "false", j->res.fault_signal, j->res.wall_seconds,
            m->peak_bytes, m->allocs, m->live_blocks, m->live_bytes, nmx__cli_invalid_calls(m));
    for (size_t t = 0; t < j->ntables; t++) {
        if (t)
            fputc(',', o);
        table(o, &j->tables[t]);
    }
    fprintf(o, "]}");
}

void nmx__cli_emit_json(FILE *o, const cli_report *r)
{
    fprintf(o, "{\"capture\":");
    json_str(o, r->capture);
    fprintf(o, ",\"experts\":[");
    for (size_t i = 0; i < r->njobs; i++) {
        if (i)
            fputc(',', o);
        expert(o, &r->jobs[i]);
    }
    fprintf(o, "]}\n");
}
