/* Helpers for the host tests (tests/test_host*.c): load a test expert from
 * NMX_TEST_EXPERTS_DIR, reach a symbol it exports (its probe), read a clock. */
#ifndef NMX_TESTS_HOST_UTIL_H
#define NMX_TESTS_HOST_UTIL_H

#include <nmexpert/host.h>

#include <dlfcn.h>
#include <stdio.h>
#include <time.h>

#ifndef NMX_TEST_EXPERTS_DIR
#error "NMX_TEST_EXPERTS_DIR must name the folder of the test experts (tests/experts/CMakeLists.txt)"
#endif

/* tests/experts/<name>.so, loaded; NULL (and the reason on stderr) if not. */
static inline nmx_expert *load_test_expert(const char *name)
{
    char path[4096], err[8192];
    snprintf(path, sizeof path, "%s/%s.so", NMX_TEST_EXPERTS_DIR, name);
    nmx_expert *ex = NULL;
    DWORD rc = nmx_expert_load(path, &ex, err, sizeof err);
    if (rc != NMERR_SUCCESS)
        fprintf(stderr, "cannot load %s: %s (%s)\n", name, err, nmx_strerror(rc));
    return ex;
}

/* A symbol the expert exports (its probe), or NULL. */
static inline void *expert_sym(nmx_expert *ex, const char *sym)
{
    const EXPERTENUMINFO *info = nmx_expert_info(ex);
    return info && info->hModule ? dlsym(info->hModule, sym) : NULL;
}

static inline double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#endif
