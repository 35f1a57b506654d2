/* Finding experts: NMEXPERT_PATH's folders, then the bundled folder, which is
 * found from where the executable is (an installed command runs from any
 * prefix; nothing of the build machine is baked in). */
#define _GNU_SOURCE
#include "cli.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* NMX_EXPERTS_RELDIR: the installed experts' folder relative to the
 * installed executable's folder, computed at configure time from
 * CMAKE_INSTALL_BINDIR and CMAKE_INSTALL_LIBDIR ("../lib/nmexpert/experts"). */
#ifndef NMX_EXPERTS_RELDIR
#error "NMX_EXPERTS_RELDIR must be defined by the build"
#endif

static void on_loaded(nmx_expert *ex, void *ctx)
{
    cli_experts *f = ctx;
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
    cli_experts *f = ctx;
    if (!f->quiet)
        printf("rejected  %s: %s\n", path, reason);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char bundled[PATH_MAX + 64];

/* The installed layout (<bin>/NMX_EXPERTS_RELDIR) if it is there, else the
 * build tree's (<build>/nmexpert beside <build>/experts). */
const char *nmx__cli_bundled_dir(void)
{
    if (bundled[0])
        return bundled;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(bundled, sizeof bundled, "(cannot read /proc/self/exe)");
        return bundled;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(bundled, sizeof bundled, "%s/%s", exe, NMX_EXPERTS_RELDIR);
    if (!is_dir(bundled)) {
        char build[sizeof bundled];
        snprintf(build, sizeof build, "%s/experts", exe);
        if (is_dir(build))
            memcpy(bundled, build, sizeof build);
    }
    return bundled;
}

/* Calls fn(dir, f, o) for NMEXPERT_PATH's folders, then the bundled one. */
static void each_dir(cli_experts *f, const nmx_load_options *o,
                     void (*fn)(const char *, cli_experts *, const nmx_load_options *))
{
    const char *env = getenv("NMEXPERT_PATH");
    if (env && *env) {
        char *copy = strdup(env), *save = NULL;
        for (char *d = copy ? strtok_r(copy, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
            fn(d, f, o);
        free(copy);
    }
    if (is_dir(nmx__cli_bundled_dir()))
        fn(nmx__cli_bundled_dir(), f, o);
}

static void scan_dir(const char *dir, cli_experts *f, const nmx_load_options *o)
{
    nmx_expert_scan_with(dir, o, on_loaded, on_rejected, f);
}

/* Loads dir/NAME.so for each -e NAME there is such a file of. */
static void named_in_dir(const char *dir, cli_experts *f, const nmx_load_options *o)
{
    for (size_t k = 0; k < f->nnames; k++) {
        char path[PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s.so", dir, f->names[k]);
        nmx_expert *ex;
        if (access(path, F_OK) == 0 &&
            nmx_expert_load_with(path, o, &ex, NULL, 0) == NMERR_SUCCESS)
            on_loaded(ex, f);
    }
}

/* Does every -e name match a loaded expert? */
static int all_named_found(const cli_experts *f)
{
    for (size_t k = 0; k < f->nnames; k++) {
        int hit = 0;
        for (size_t i = 0; i < f->n && !hit; i++)
            hit = nmx__cli_matches(f->ex[i], f->names[k]);
        if (!hit)
            return 0;
    }
    return 1;
}

/* With -e names that are all file names, only those modules are loaded
 * (loading one in a worker costs a process); otherwise every module is. */
void nmx__cli_find_experts(cli_experts *f)
{
    nmx_load_options o = {f->in_process ? NMX_ISOLATION_THREAD : NMX_ISOLATION_PROCESS};
    if (f->nnames) {
        each_dir(f, &o, named_in_dir);
        if (all_named_found(f))
            return;
        nmx__cli_unload_experts(f);
    }
    each_dir(f, &o, scan_dir);
}

void nmx__cli_unload_experts(cli_experts *f)
{
    for (size_t i = 0; i < f->n; i++)
        nmx_expert_unload(f->ex[i]);
    free(f->ex);
    f->ex = NULL;
    f->n = f->cap = 0;
}

void nmx__cli_short_name(const nmx_expert *ex, char *buf, size_t len)
{
    const char *p = nmx_expert_path(ex), *b = strrchr(p, '/');
    snprintf(buf, len, "%s", b ? b + 1 : p);
    char *dot = strstr(buf, ".so");
    if (dot)
        *dot = '\0';
}

int nmx__cli_matches(const nmx_expert *ex, const char *name)
{
    char s[256];
    nmx__cli_short_name(ex, s, sizeof s);
    return strcasecmp(s, name) == 0 || strcasecmp(nmx_expert_info(ex)->szName, name) == 0;
}

int nmx__cli_list(void)
{
    cli_experts f = {0};
    nmx__cli_find_experts(&f);
    for (size_t i = 0; i < f.n; i++) {
        const EXPERTENUMINFO *in = nmx_expert_info(f.ex[i]);
        char s[256];
        nmx__cli_short_name(f.ex[i], s, sizeof s);
        printf("%-10s %s (%s, version %u, flags 0x%x%s)\n           %s\n           %s\n", s,
               in->szName, in->szVendor, (unsigned)in->Version, (unsigned)in->Flags,
               (in->Flags & EXPERT_ENUM_FLAG_CONFIGURABLE) ? ": configurable" : "",
               in->szDescription, nmx_expert_path(f.ex[i]));
    }
    nmx__cli_unload_experts(&f);
    return 0;
}
