/* The nmexpert command's internal seams. One file per job:
 *
 *   main.c       the subcommands and their usage
 *   args.c       `run`'s options -> cli_args (nothing is opened there)
 *   input.c      the capture the command reads (one place for new inputs)
 *   experts.c    finding, naming and listing experts
 *   info.c       `info`
 *   run.c        `run`: select experts, start their runs, build the report
 *   wait.c       waiting for runs without polling, live progress on a tty
 *   table.c      an expert's events grouped into tables; cell text
 *   emit.c       the output formats by name; emit_<format>.c one each
 *
 * A new output format is one emit_<name>.c and one line in emit.c; a new
 * input kind is input.c alone.
 */
#ifndef NMX_CLI_H
#define NMX_CLI_H

#include <nmexpert/capture.h>
#include <nmexpert/host.h>

#include <stddef.h>
#include <stdio.h>

enum { EXIT_RUN_FAILED = 1, EXIT_BAD_INPUT = 2 };

/* ---- run's options (args.c) ---- */

#define CLI_MAX_NAMES 64
#define CLI_MAX_CONFIGS 256
#define CLI_MAX_INPUTS 1024

typedef struct cli_args {
    const char *inputs[CLI_MAX_INPUTS]; /* capture paths, in the order given */
    size_t ninputs;
    const char *names[CLI_MAX_NAMES]; /* -e: experts to run; none: all */
    size_t nnames;
    const char *configs[CLI_MAX_CONFIGS]; /* -c NAME:K=V, as given */
    size_t nconfigs;
    const char *filter;  /* -f, or NULL */
    const char *format;  /* -o: an emitter's name */
    const char *html;    /* --html FILE, or NULL */
    size_t quota;        /* -m bytes; 0: none */
    unsigned timeout_ms; /* -t; 0: none */
    int in_process;      /* --in-process: runs on threads of the command, not in
                            worker processes (H11) */
    int help;            /* -h given: print usage, exit 0 */
} cli_args;

/* Parse `run`'s arguments (after the word "run"). Returns 0, or
 * EXIT_BAD_INPUT after printing why on stderr. */
int nmx__cli_parse_run(int argc, char **argv, cli_args *out);

/* ---- the capture read (input.c) ---- */

/* Opens what the arguments name as one capture. Prints why on stderr and
 * returns EXIT_BAD_INPUT when it cannot; a damaged file that still gave
 * frames is opened, with a warning. */
int nmx__cli_open_input(const char *const *paths, size_t n, nmx_capture **out);

/* The name reports show for the inputs: their paths joined by ", ", "-"
 * shown as "stdin" (cut at 1 KiB; a static buffer). */
const char *nmx__cli_input_name(const char *const *paths, size_t n);

/* ---- experts (experts.c) ---- */

typedef struct cli_experts {
    nmx_expert **ex;
    size_t n, cap;
    int quiet;     /* do not print rejected modules */
    int in_process; /* load them here (--in-process); else each one's Register
                       runs in a worker and no expert code runs in the command */
    const char *const *names; /* -e: when each names a file (NAME.so), only
                                 those are loaded; else every one is */
    size_t nnames;
} cli_experts;

/* Loads every expert of NMEXPERT_PATH's folders, then of the bundled folder
 * (found relative to the executable). The first of a file name wins. */
void nmx__cli_find_experts(cli_experts *f);
void nmx__cli_unload_experts(cli_experts *f);
/* The folder the bundled experts are looked for in (for messages). */
const char *nmx__cli_bundled_dir(void);
/* "protdist" for ".../protdist.so" */
void nmx__cli_short_name(const nmx_expert *ex, char *buf, size_t len);
/* The expert answers to `name`: its file name or its registered name. */
int nmx__cli_matches(const nmx_expert *ex, const char *name);

int nmx__cli_list(void);
int nmx__cli_info(const char *const *paths, size_t n);
int nmx__cli_run(const cli_args *a);

/* ---- results (table.c) ---- */

typedef struct cli_table {
    const NMEVENTDATA *head; /* the first row: title and column names */
    const NMEVENTDATA **rows;
    size_t nrows;
} cli_table;

typedef struct cli_job {
    nmx_expert *ex;
    char name[256]; /* short name */
    EXPERTCONFIG *config;
    nmx_run *run;
    DWORD start_rc; /* nmx_run_start's code */
    int started;
    nmx_run_result res;
    cli_table *tables; /* in the order their first row came */
    size_t ntables;
    const NMEVENTDATA **rowmem;
} cli_job;

/* What every report shows first: the capture at a glance. */
typedef struct cli_summary {
    uint64_t frames, bytes;     /* wire bytes */
    int64_t first_ts, last_ts;  /* ns since the epoch: the earliest and latest time stamps */
} cli_summary;

typedef struct cli_report {
    const char *capture; /* its name */
    cli_summary sum;
    cli_job *jobs;
    size_t njobs;
} cli_report;

/* Groups the ended run's events into tables. Returns 0, -1 out of memory. */
int nmx__cli_tables(cli_job *j);
void nmx__cli_tables_free(cli_job *j);

const char *nmx__cli_status_name(DWORD status);
int nmx__cli_run_failed(const cli_job *j);
uint64_t nmx__cli_invalid_calls(const nmx_mem_stats *m);
/* Why a run failed, in words ("crashed: signal 11 at 0x10", "time limit:
 * stopped", "problem: <the expert's text>"); "" when it did not. */
void nmx__cli_run_reason(const cli_job *j, char *buf, size_t len);

/* A cell for people: integers as integers, percentages (a column whose
 * name starts with '%') with 2 decimals, other numbers with 3. */
void nmx__cli_cell_text(const NMCOLUMNVARIANT *v, const char *column, char *buf, size_t len);
/* A cell for programs: numbers in full (%.17g, exact for doubles). */
void nmx__cli_cell_exact(const NMCOLUMNVARIANT *v, char *buf, size_t len);
double nmx__cli_cell_number(const NMCOLUMNVARIANT *v);
int nmx__cli_is_numeric(const NMCOLUMNVARIANT *v);

/* The memory ledger of all runs together (the report's last line). */
typedef struct cli_totals {
    size_t runs, failed;
    uint64_t peak_bytes, allocs, leaked_blocks, leaked_bytes, invalid_calls;
    const cli_job *peak_job; /* the run with the highest peak */
} cli_totals;
void nmx__cli_totals(const cli_report *r, cli_totals *t);

/* "2026-11-22 10:00:00.123456789 UTC" */
void nmx__cli_fmt_time(int64_t ns, char *buf, size_t len);
/* "12.3 ms", "1.234 s": a run's time for people */
void nmx__cli_fmt_seconds(double s, char *buf, size_t len);
/* "1.5 MB", "812 B": bytes for people (SI) */
void nmx__cli_fmt_bytes(uint64_t v, char *buf, size_t len);

/* ---- waiting (wait.c) ---- */

/* Starts every job's run with `opt` (its config added per job) and waits
 * until all have ended, without polling: a thread per run blocks in
 * nmx_run_wait, the progress callback wakes the drawing of progress lines on
 * stderr when `tty`. Fills each job's res. */
void nmx__cli_run_all(cli_job *jobs, size_t n, const nmx_run_options *opt, int tty);

/* ---- output formats (emit.c, emit_*.c) ---- */

typedef void (*cli_emit_fn)(FILE *o, const cli_report *r);

typedef struct cli_emitter {
    const char *name;
    cli_emit_fn emit;
} cli_emitter;

/* The emitter called `name`, or NULL. */
const cli_emitter *nmx__cli_emitter(const char *name);
/* "text|json|csv|html" */
const char *nmx__cli_format_names(void);

void nmx__cli_emit_text(FILE *o, const cli_report *r);
void nmx__cli_emit_json(FILE *o, const cli_report *r);
void nmx__cli_emit_csv(FILE *o, const cli_report *r);
void nmx__cli_emit_html(FILE *o, const cli_report *r);

#endif
