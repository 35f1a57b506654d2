/* doublefree: hands ExpertFreeMemory everything it must refuse (M6, M9).
 *
 * A double free, a stack address, a malloc'd pointer and an interior pointer
 * must each return NMERR_INVALID_PARAMETER and change nothing; NULL and live
 * blocks return NMERR_SUCCESS. The key's counters must then read: 1 double
 * free, 2 foreign, 1 interior. Run returns TRUE when every code was as
 * expected; otherwise it reports the first mismatch as PROBLEM status text.
 */
#include <nmexpert/netmon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "doublefree");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Double-frees and frees foreign pointers");
    info->Version = 1;
    return TRUE;
}

static int g_bad;

static void expect(HEXPERTKEY key, const char *what, SIZE_T got, SIZE_T want)
{
    if (got == want || g_bad)
        return;
    g_bad = 1;
    char text[200];
    snprintf(text, sizeof text, "%s: got %lu, want %lu", what, (unsigned long)got,
             (unsigned long)want);
    ExpertIndicateStatus(key, EXPERTSTATUS_PROBLEM, 0, text, 0);
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err;
    g_bad = 0;
    ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "doublefree", 10);

    char *a = ExpertAllocMemory(key, 64, &err);
    char *b = ExpertAllocMemory(key, 256, &err);
    if (!a || !b)
        return FALSE;
    memset(a, 'a', 64);
    memset(b, 'b', 256);

    expect(key, "free live", ExpertFreeMemory(key, a), NMERR_SUCCESS);
    expect(key, "double free", ExpertFreeMemory(key, a), NMERR_INVALID_PARAMETER);

    volatile int on_stack = 1;
    expect(key, "free stack address", ExpertFreeMemory(key, (void *)&on_stack),
           NMERR_INVALID_PARAMETER);

    char *m = malloc(32);
    if (m) {
        expect(key, "free malloc'd", ExpertFreeMemory(key, m), NMERR_INVALID_PARAMETER);
        free(m);
    }

    expect(key, "free interior", ExpertFreeMemory(key, b + 16), NMERR_INVALID_PARAMETER);
    /* b survived every refused call, content and size included */
    expect(key, "size after refusals", ExpertMemorySize(key, b), 256);
    for (int i = 0; i < 256; i++)
        if (b[i] != 'b') {
            expect(key, "content after refusals", (SIZE_T)i, 256);
            break;
        }
    expect(key, "free NULL", ExpertFreeMemory(key, NULL), NMERR_SUCCESS);
    expect(key, "size of stack address", ExpertMemorySize(key, (void *)&on_stack), 0);
    expect(key, "free b", ExpertFreeMemory(key, b), NMERR_SUCCESS);

    if (!g_bad)
        ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, "doublefree: all codes as expected", 99);
    return g_bad ? FALSE : TRUE;
}
