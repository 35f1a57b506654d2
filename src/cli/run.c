/* `run`: open the input, pick the experts, run them all at once, report. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Appends "K=V\n" to the job's configuration blob. */
static int add_config(cli_job *j, const char *kv)
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

/* The jobs: every expert found, or those -e names (each must match one). */
static int select_jobs(const cli_args *a, const cli_experts *f, cli_job *jobs, size_t *nj)
{
    int rc = 0;
    *nj = 0;
    for (size_t i = 0; i < f->n; i++) {
        int want = a->nnames == 0;
        for (size_t k = 0; k < a->nnames && !want; k++)
            want = nmx__cli_matches(f->ex[i], a->names[k]);
        if (want) {
            jobs[*nj].ex = f->ex[i];
            nmx__cli_short_name(f->ex[i], jobs[*nj].name, sizeof jobs[*nj].name);
            (*nj)++;
        }
    }
    for (size_t k = 0; k < a->nnames; k++) {
        int hit = 0;
        for (size_t i = 0; i < *nj && !hit; i++)
            hit = nmx__cli_matches(jobs[i].ex, a->names[k]);
        if (!hit) {
            fprintf(stderr, "nmexpert: no expert named %s (see nmexpert list)\n", a->names[k]);
            rc = EXIT_BAD_INPUT;
        }
    }
    if (*nj == 0 && rc == 0) {
        fprintf(stderr, "nmexpert: no experts found (NMEXPERT_PATH, %s)\n",
                nmx__cli_bundled_dir());
        rc = EXIT_BAD_INPUT;
    }
    return rc;
}

/* -c NAME:K=V lines go to the jobs NAME matches (at least one). */
static int apply_configs(const cli_args *a, cli_job *jobs, size_t nj)
{
    for (size_t c = 0; c < a->nconfigs; c++) {
        const char *line = a->configs[c], *colon = strchr(line, ':');
        int hit = 0;
        char who[256];
        if (colon)
            snprintf(who, sizeof who, "%.*s", (int)(colon - line), line);
        for (size_t i = 0; colon && i < nj; i++)
            if (nmx__cli_matches(jobs[i].ex, who)) {
                hit = 1;
                if (add_config(&jobs[i], colon + 1))
                    return EXIT_BAD_INPUT;
            }
        if (!hit) {
            fprintf(stderr, "nmexpert: --config %s: not NAME:KEY=VALUE for an expert that runs\n",
                    line);
            return EXIT_BAD_INPUT;
        }
    }
    return 0;
}

/* Writes the report with the emitter `format` to `path`. */
static int write_file(const char *format, const char *path, const cli_report *r)
{
    FILE *o = fopen(path, "w");
    if (!o) {
        fprintf(stderr, "nmexpert: cannot write %s: %s\n", path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    nmx__cli_emitter(format)->emit(o, r);
    if (fclose(o) != 0) {
        fprintf(stderr, "nmexpert: cannot write %s: %s\n", path, strerror(errno));
        return EXIT_BAD_INPUT;
    }
    return 0;
}

/* Runs the jobs and reports; returns 0 or EXIT_RUN_FAILED (or EXIT_BAD_INPUT
 * when the HTML file cannot be written). */
static int run_and_report(const cli_args *a, nmx_capture *cap, nmx_filter *flt, cli_job *jobs,
                          size_t nj)
{
    nmx_run_options o;
    memset(&o, 0, sizeof o);
    o.capture = cap;
    o.filter = flt;
    o.quota_bytes = a->quota;
    o.time_limit_ms = a->timeout_ms;
    /* Each expert in a worker process of its own unless asked (H11): a
     * crash, a wild write or a hang then costs the command nothing. */
    o.isolation = a->in_process ? NMX_ISOLATION_THREAD : NMX_ISOLATION_PROCESS;
    nmx__cli_run_all(jobs, nj, &o, isatty(STDERR_FILENO));
    int rc = 0;
    for (size_t i = 0; i < nj; i++) {
        if (nmx__cli_run_failed(&jobs[i]))
            rc = EXIT_RUN_FAILED;
        if (nmx__cli_tables(&jobs[i]))
            fprintf(stderr, "nmexpert: out of memory for %s's tables\n", jobs[i].name);
    }
    /* Once the runs are over: asked before, it would wait for the end of the
     * reading, and the experts would not start until then (C8). */
    if (nmx_capture_error(cap))
        fprintf(stderr, "nmexpert: warning: %s\n", nmx_capture_error(cap));
    nmx_capture_info in;
    nmx_capture_get_info(cap, &in);
    cli_report r = {.capture = nmx__cli_input_name(a->inputs, a->ninputs),
                    .sum = {in.frames, in.wire_bytes, in.earliest_ts, in.latest_ts},
                    .jobs = jobs,
                    .njobs = nj};
    nmx__cli_emitter(a->format)->emit(stdout, &r);
    if (a->html && write_file("html", a->html, &r))
        rc = EXIT_BAD_INPUT;
    return rc;
}

int nmx__cli_run(const cli_args *a)
{
    nmx_capture *cap;
    int rc = nmx__cli_open_input(a->inputs, a->ninputs, &cap);
    if (rc)
        return rc;
    nmx_filter *flt = NULL;
    char err[1024];
    if (a->filter && nmx_filter_create(cap, a->filter, &flt, err, sizeof err) != NMERR_SUCCESS) {
        fprintf(stderr, "nmexpert: bad filter: %s\n", err);
        nmx_capture_close(cap);
        return EXIT_BAD_INPUT;
    }
    cli_experts f = {.quiet = 1, .in_process = a->in_process, .names = a->names,
                     .nnames = a->nnames};
    nmx__cli_find_experts(&f);
    cli_job *jobs = calloc(f.n ? f.n : 1, sizeof *jobs);
    size_t nj = 0;
    rc = jobs ? select_jobs(a, &f, jobs, &nj) : EXIT_BAD_INPUT;
    if (rc == 0)
        rc = apply_configs(a, jobs, nj);
    if (rc == 0)
        rc = run_and_report(a, cap, flt, jobs, nj);
    int any_hung = 0;
    for (size_t i = 0; i < nj; i++) {
        /* a hung worker was killed: only a hung thread is still running */
        int hung = jobs[i].res.hung && !jobs[i].res.killed;
        any_hung |= hung;
        nmx__cli_tables_free(&jobs[i]);
        if (jobs[i].run && !hung)
            nmx_run_free(jobs[i].run);
        free(jobs[i].config);
    }
    free(jobs);
    fflush(stdout);
    if (any_hung)
        _exit(rc); /* a hung expert's thread still runs: do not tear down under it */
    nmx__cli_unload_experts(&f);
    nmx_filter_destroy(flt);
    nmx_capture_close(cap);
    return rc;
}
