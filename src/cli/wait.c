/* Running the jobs and waiting for them without polling: one thread per run
 * blocks in nmx_run_wait; it and the runs' progress callbacks wake the
 * command's thread through a condition variable, which then redraws the
 * progress lines (on a terminal) or just counts the runs still going. A
 * run's end is seen the moment it happens, never up to a poll period late. */
#include "cli.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct waitset {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t pending;       /* runs not ended yet */
    unsigned long events; /* bumped by every progress report and every end */
} waitset;

typedef struct waiter {
    waitset *w;
    cli_job *job;
    pthread_t thread;
    int threaded;
} waiter;

static void poke(waitset *w, int ended)
{
    pthread_mutex_lock(&w->mu);
    w->events++;
    if (ended)
        w->pending--;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void on_progress(nmx_run *run, const EXPERTSTATUS *st, void *ctx)
{
    (void)run;
    (void)st;
    poke(ctx, 0);
}

static void *wait_one(void *arg)
{
    waiter *wt = arg;
    nmx_run_wait(wt->job->run, UINT32_MAX, &wt->job->res);
    poke(wt->w, 1);
    return NULL;
}

/* One line per expert, redrawn in place. */
static void draw_progress(const cli_job *jobs, size_t n, int redraw)
{
    if (redraw)
        fprintf(stderr, "\033[%zuA", n);
    for (size_t i = 0; i < n; i++) {
        EXPERTSTATUS st;
        memset(&st, 0, sizeof st);
        if (jobs[i].run)
            nmx_run_status(jobs[i].run, &st);
        fprintf(stderr, "\033[2K%-28.28s %3u%%  %-9s %.60s\n", nmx_expert_info(jobs[i].ex)->szName,
                (unsigned)st.PercentDone, nmx__cli_status_name(st.Status), st.szStatusText);
    }
    fflush(stderr);
}

/* Static, not on the stack: a hung run's thread may still report progress
 * after the command has stopped waiting for it. */
static waitset w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

void nmx__cli_run_all(cli_job *jobs, size_t n, const nmx_run_options *base, int tty)
{
    waiter *ws = calloc(n ? n : 1, sizeof *ws);
    for (size_t i = 0; i < n; i++) {
        nmx_run_options o = *base;
        o.config = jobs[i].config;
        o.progress = tty ? on_progress : NULL;
        o.progress_ctx = &w;
        jobs[i].start_rc = nmx_run_start(jobs[i].ex, &o, &jobs[i].run);
        jobs[i].started = jobs[i].start_rc == NMERR_SUCCESS;
        if (!jobs[i].started)
            jobs[i].run = NULL;
    }
    for (size_t i = 0; ws && i < n; i++) {
        if (!jobs[i].started)
            continue;
        ws[i] = (waiter){.w = &w, .job = &jobs[i]};
        pthread_mutex_lock(&w.mu);
        w.pending++;
        pthread_mutex_unlock(&w.mu);
        ws[i].threaded = pthread_create(&ws[i].thread, NULL, wait_one, &ws[i]) == 0;
        if (!ws[i].threaded)
            wait_one(&ws[i]); /* no thread to spare: wait for this one here */
    }
    int drawn = 0;
    pthread_mutex_lock(&w.mu);
    for (;;) {
        unsigned long seen = w.events;
        size_t left = w.pending;
        if (tty) {
            pthread_mutex_unlock(&w.mu);
            draw_progress(jobs, n, drawn);
            drawn = 1;
            pthread_mutex_lock(&w.mu);
        }
        if (left == 0)
            break;
        while (w.events == seen)
            pthread_cond_wait(&w.cv, &w.mu);
    }
    pthread_mutex_unlock(&w.mu);
    for (size_t i = 0; ws && i < n; i++)
        if (ws[i].threaded)
            pthread_join(ws[i].thread, NULL);
    if (!ws) /* no memory for the waiters: wait for each run in turn */
        for (size_t i = 0; i < n; i++)
            if (jobs[i].started)
                nmx_run_wait(jobs[i].run, UINT32_MAX, &jobs[i].res);
    free(ws);
}
