/* CSV: per table a header line "expert,table,<columns>", its rows, a blank line. */
#include "cli.h"

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
            nmx__cli_cell_text(&t->rows[r]->Column[c].VariantData, cell, sizeof cell);
            fputc(',', o);
            csv_str(o, cell);
        }
        fputc('\n', o);
    }
    fputc('\n', o);
}

void nmx__cli_emit_csv(FILE *o, const cli_report *r)
{
    for (size_t i = 0; i < r->njobs; i++)
        for (size_t t = 0; t < r->jobs[i].ntables; t++)
            table(o, nmx_expert_info(r->jobs[i].ex)->szName, &r->jobs[i].tables[t]);
}
