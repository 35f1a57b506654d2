/* Expert modules (SPEC H1): load, register, scan a folder. */
#define _GNU_SOURCE
#include "host/host_internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct nmx_expert {
    void *dl;
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

NMX_API DWORD nmx_expert_load(const char *path, nmx_expert **out, char *errbuf, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!path || !out) {
        say(errbuf, errlen, "nmx_expert_load: NULL argument");
        return NMERR_INVALID_PARAMETER;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        say(errbuf, errlen, "%s: %s", path, strerror(errno));
        return NMERR_FILE_NOT_FOUND;
    }
    if (!S_ISREG(st.st_mode)) {
        say(errbuf, errlen, "%s: not a regular file", path);
        return NMERR_LOAD_EXPERT_FAILED;
    }
    nmx_expert *ex = calloc(1, sizeof *ex);
    if (!ex) {
        say(errbuf, errlen, "%s: out of memory", path);
        return NMERR_OUT_OF_MEMORY;
    }
    snprintf(ex->path, sizeof ex->path, "%s", path);
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
    terminate_strings(&ex->info);
    const char *base = strrchr(path, '/');
    snprintf(ex->info.szDllName, sizeof ex->info.szDllName, "%s", base ? base + 1 : path);
    ex->info.hExpert = ex;
    ex->info.hModule = ex->dl;
    ex->info.pRegisterProc = reg;
    ex->info.pConfigProc = cfg;
    ex->info.pRunProc = run;
    *out = ex;
    say(errbuf, errlen, "");
    return NMERR_SUCCESS;
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
    dlclose(ex->dl);
    free(ex);
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

NMX_API DWORD nmx_expert_scan(const char *dir, nmx_expert_loaded_fn on_loaded,
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
    for (size_t i = 0; i < n; i++) {
        char path[4096], err[4096 + 512];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        nmx_expert *ex;
        if (nmx_expert_load(path, &ex, err, sizeof err) == NMERR_SUCCESS) {
            if (on_loaded)
                on_loaded(ex, ctx);
            else
                nmx_expert_unload(ex);
        } else if (on_rejected) {
            const char *reason = strncmp(err, path, strlen(path)) == 0 ? err + strlen(path) + 2 : err;
            on_rejected(path, reason, ctx);
        }
        free(names[i]);
    }
    free(names);
    return NMERR_SUCCESS;
}
