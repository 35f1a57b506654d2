/* Expert modules (SPEC H1): load, register, scan a folder. A module loaded
 * with process isolation (H11) is loaded and registered in a worker instead
 * (iso_expert.c): the host keeps only its path and what Register filled. */
#define _GNU_SOURCE
#include "host/host_internal.h"
#include "host/isolate.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct nmx_expert {
    void *dl;         /* NULL when isolated */
    int isolated;     /* loaded in a worker: runs and Configure go there too */
    int configurable; /* isolated: the module exports Configure */
    EXPERTENUMINFO info;
    char path[4096];
};

static void say(char *errbuf, size_t errlen, const char *fmt, ...)
{
    if (!errbuf || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

typedef struct register_call {
    PEXPERTREGISTERPROC fn;
    EXPERTENUMINFO *info;
    BOOL ok;
} register_call;

static void call_register(void *p)
{
    register_call *c = p;
    c->ok = c->fn(c->info);
}

static void terminate_strings(EXPERTENUMINFO *info)
{
    info->szName[EXPERTSTRINGLENGTH - 1] = '\0';
    info->szVendor[EXPERTSTRINGLENGTH - 1] = '\0';
    info->szDescription[EXPERTSTRINGLENGTH - 1] = '\0';
}

/* The checks every load makes first; a zeroed expert with its path, or NULL
 * with *rc and errbuf set. */
static nmx_expert *load_begin(const char *path, nmx_expert **out, char *errbuf, size_t errlen,
                              DWORD *rc)
{
    if (out)
        *out = NULL;
    *rc = NMERR_INVALID_PARAMETER;
    if (!path || !out) {
        say(errbuf, errlen, "nmx_expert_load: NULL argument");
        return NULL;
    }
    struct stat st;
    *rc = NMERR_FILE_NOT_FOUND;
    if (stat(path, &st) != 0) {
        say(errbuf, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    *rc = NMERR_LOAD_EXPERT_FAILED;
    if (!S_ISREG(st.st_mode)) {
        say(errbuf, errlen, "%s: not a regular file", path);
        return NULL;
    }
    *rc = NMERR_OUT_OF_MEMORY;
    nmx_expert *ex = calloc(1, sizeof *ex);
    if (!ex) {
        say(errbuf, errlen, "%s: out of memory", path);
        return NULL;
    }
    snprintf(ex->path, sizeof ex->path, "%s", path);
    *rc = NMERR_SUCCESS;
    return ex;
}

/* The host's members of the info, once Register has filled the rest. */
static void load_end(nmx_expert *ex, nmx_expert **out, char *errbuf, size_t errlen)
{
    terminate_strings(&ex->info);
    const char *base = strrchr(ex->path, '/');
    snprintf(ex->info.szDllName, sizeof ex->info.szDllName, "%.*s",
             (int)sizeof ex->info.szDllName - 1, base ? base + 1 : ex->path);
    ex->info.hExpert = ex;
    *out = ex;
    say(errbuf, errlen, "");
}

/* Register in a worker (iso_expert.c), in two steps, so that several
 * modules can be registered side by side (scan). */
static nmx__iso_answer *load_isolated_start(nmx_expert *ex)
{
    ex->isolated = 1;
    nmx__iso_answer *a;
    nmx__iso_register_start(ex->path, &a);
    return a;
}

static DWORD load_isolated_finish(nmx_expert *ex, nmx__iso_answer *a, nmx_expert **out,
                                  char *errbuf, size_t errlen)
{
    DWORD rc = nmx__iso_register_finish(a, &ex->info, &ex->configurable, errbuf, errlen);
    if (rc != NMERR_SUCCESS) {
        free(ex);
        return rc;
    }
    load_end(ex, out, errbuf, errlen);
    return NMERR_SUCCESS;
}

/* dlopen and Register here, on a thread under the trap. */
static DWORD load_here(nmx_expert *ex, nmx_expert **out, char *errbuf, size_t errlen)
{
    const char *path = ex->path;
    /* RTLD_NOW: an unresolved symbol is a load error now, not a crash later. */
    ex->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!ex->dl) {
        const char *e = dlerror();
        const char *what = e && strstr(e, "undefined symbol") ? "unresolved symbol"
                                                               : "not a loadable shared object";
        say(errbuf, errlen, "%s: %s (%s)", path, what, e ? e : "?");
        free(ex);
        return NMERR_LOAD_EXPERT_FAILED;
    }
    PEXPERTREGISTERPROC reg = (PEXPERTREGISTERPROC)dlsym(ex->dl, EXPERTENTRY_REGISTER);
    PEXPERTRUNPROC run = (PEXPERTRUNPROC)dlsym(ex->dl, EXPERTENTRY_RUN);
    PEXPERTCONFIGPROC cfg = (PEXPERTCONFIGPROC)dlsym(ex->dl, EXPERTENTRY_CONFIGURE);
    if (!reg || !run) {
        say(errbuf, errlen, "%s: not an expert: no %s function", path,
            !reg ? EXPERTENTRY_REGISTER : EXPERTENTRY_RUN);
        dlclose(ex->dl);
        free(ex);
        return NMERR_LOAD_EXPERT_FAILED;
    }
    register_call c = {reg, &ex->info, FALSE};
    nmx_fault f;
    int sig = nmx__trap_call_on_thread(call_register, &c, NULL, &f);
    if (sig != 0 || !c.ok) {
        if (sig > 0)
            say(errbuf, errlen, "%s: Register crashed (signal %d at %p)", path, sig, f.addr);
        else if (sig < 0)
            say(errbuf, errlen, "%s: no thread to call Register on", path);
        else
            say(errbuf, errlen, "%s: Register returned FALSE", path);
        /* A crashed Register may have left state behind: keep the module
         * mapped rather than unmap code that something may still reference. */
        if (sig == 0)
            dlclose(ex->dl);
        free(ex);
        return NMERR_EXPERT_REPORT_FAILED;
    }
    ex->info.hModule = ex->dl;
    ex->info.pRegisterProc = reg;
    ex->info.pConfigProc = cfg;
    ex->info.pRunProc = run;
    load_end(ex, out, errbuf, errlen);
    return NMERR_SUCCESS;
}

NMX_API DWORD nmx_expert_load_with(const char *path, const nmx_load_options *opt,
                                   nmx_expert **out, char *errbuf, size_t errlen)
{
    DWORD rc;
    nmx_expert *ex = load_begin(path, out, errbuf, errlen, &rc);
    if (!ex)
        return rc;
    if (opt && opt->isolation == NMX_ISOLATION_PROCESS)
        return load_isolated_finish(ex, load_isolated_start(ex), out, errbuf, errlen);
    return load_here(ex, out, errbuf, errlen);
}

NMX_API DWORD nmx_expert_load(const char *path, nmx_expert **out, char *errbuf, size_t errlen)
{
    return nmx_expert_load_with(path, NULL, out, errbuf, errlen);
}

NMX_API const EXPERTENUMINFO *nmx_expert_info(const nmx_expert *ex)
{
    return ex ? &ex->info : NULL;
}

NMX_API const char *nmx_expert_path(const nmx_expert *ex)
{
    return ex ? ex->path : NULL;
}

NMX_API void nmx_expert_unload(nmx_expert *ex)
{
    if (!ex)
        return;
    if (ex->dl)
        dlclose(ex->dl);
    free(ex);
}

int nmx__expert_isolated(const nmx_expert *ex)
{
    return ex->isolated;
}

int nmx__expert_configurable(const nmx_expert *ex)
{
    return ex->isolated ? ex->configurable : ex->info.pConfigProc != NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is the entry a regular file (or a link to one)? Folders named x.so are not
 * modules. */
static int regular_file(const char *dir, const struct dirent *e)
{
    if (e->d_type == DT_REG)
        return 1;
    if (e->d_type != DT_LNK && e->d_type != DT_UNKNOWN)
        return 0;
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Modules a scan loads side by side (with process isolation: each in a
 * worker of its own). */
#define SCAN_BATCH 8

typedef struct scan_item {
    char path[4096], err[4096 + 512];
    nmx_expert *ex;       /* from load_begin; NULL: rc and err say why not */
    nmx__iso_answer *ask; /* isolated: the worker asked */
    DWORD rc;
} scan_item;

/* Hands a load's outcome to the scan's callbacks. */
static void scan_deliver(scan_item *it, nmx_expert *ex, nmx_expert_loaded_fn on_loaded,
                         nmx_expert_rejected_fn on_rejected, void *ctx)
{
    if (it->rc == NMERR_SUCCESS) {
        if (on_loaded)
            on_loaded(ex, ctx);
        else
            nmx_expert_unload(ex);
    } else if (on_rejected) {
        size_t pl = strlen(it->path);
        const char *reason = strncmp(it->err, it->path, pl) == 0 ? it->err + pl + 2 : it->err;
        on_rejected(it->path, reason, ctx);
    }
}

/* Loads the n (at most SCAN_BATCH) modules names[] of dir, in order; with
 * process isolation their workers are all asked first. */
static void scan_batch(const char *dir, char **names, size_t n, const nmx_load_options *opt,
                       nmx_expert_loaded_fn on_loaded, nmx_expert_rejected_fn on_rejected,
                       void *ctx)
{
    int isolated = opt && opt->isolation == NMX_ISOLATION_PROCESS;
    scan_item *it = calloc(n, sizeof *it);
    if (!it)
        return;
    nmx_expert *ex;
    for (size_t i = 0; i < n; i++) {
        snprintf(it[i].path, sizeof it[i].path, "%s/%s", dir, names[i]);
        it[i].ex = load_begin(it[i].path, &ex, it[i].err, sizeof it[i].err, &it[i].rc);
        if (it[i].ex && isolated)
            it[i].ask = load_isolated_start(it[i].ex);
    }
    for (size_t i = 0; i < n; i++) {
        if (it[i].ex)
            it[i].rc = isolated ? load_isolated_finish(it[i].ex, it[i].ask, &ex, it[i].err,
                                                       sizeof it[i].err)
                                : load_here(it[i].ex, &ex, it[i].err, sizeof it[i].err);
        scan_deliver(&it[i], ex, on_loaded, on_rejected, ctx);
    }
    free(it);
}

NMX_API DWORD nmx_expert_scan(const char *dir, nmx_expert_loaded_fn on_loaded,
                              nmx_expert_rejected_fn on_rejected, void *ctx)
{
    return nmx_expert_scan_with(dir, NULL, on_loaded, on_rejected, ctx);
}

NMX_API DWORD nmx_expert_scan_with(const char *dir, const nmx_load_options *opt,
                                   nmx_expert_loaded_fn on_loaded,
                                   nmx_expert_rejected_fn on_rejected, void *ctx)
{
    if (!dir)
        return NMERR_INVALID_PARAMETER;
    DIR *d = opendir(dir);
    if (!d)
        return NMERR_PATH_NOT_FOUND;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0 || !regular_file(dir, e))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof *nn);
            if (!nn)
                break;
            names = nn;
            cap = ncap;
        }
        if ((names[n] = strdup(e->d_name)) != NULL)
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i += SCAN_BATCH)
        scan_batch(dir, names + i, n - i < SCAN_BATCH ? n - i : SCAN_BATCH, opt, on_loaded,
                   on_rejected, ctx);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return NMERR_SUCCESS;
}
