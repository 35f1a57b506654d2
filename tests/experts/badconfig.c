/* badconfig: a Configure that misbehaves as its input blob says (M15).
 *
 * The blob's text (after RawConfigLength) selects the mistake:
 *   "crash"   writes through NULL                 -> NMERR_INTERNAL_EXCEPTION
 *   "lie"     returns an 8-byte block claiming 1000 -> NMERR_INVALID_DATA
 *   "static"  returns a blob that is not expert memory -> NMERR_INVALID_DATA
 *   "drop"    frees the blob, returns NULL        -> success, no blob
 * Without a blob it returns one saying "ok".
 */
#include <nmexpert/netmon.h>

#include <string.h>

static struct {
    DWORD len;
    char text[8];
} static_blob = {sizeof(DWORD) + 7, "static"};

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "badconfig");
    strcpy(info->szVendor, "nmexpert tests");
    info->Version = 1;
    info->Flags = EXPERT_ENUM_FLAG_CONFIGURABLE;
    return TRUE;
}

static int is(const EXPERTCONFIG *c, const char *word)
{
    return c && c->RawConfigLength >= sizeof(DWORD) + strlen(word) + 1 &&
           strcmp((const char *)c->RawConfigData, word) == 0;
}

BOOL WINAPI Configure(HEXPERTKEY key, PEXPERTCONFIG *ppConfig, PEXPERTSTARTUPINFO startup,
                      DWORD flags, HWND parent)
{
    (void)startup;
    (void)flags;
    (void)parent;
    PEXPERTCONFIG c = *ppConfig;
    DWORD err;
    if (is(c, "crash")) {
        volatile int *volatile p = NULL;
        *p = 1;
    } else if (is(c, "lie")) {
        PEXPERTCONFIG n = ExpertAllocMemory(key, 8, &err);
        if (!n)
            return FALSE;
        n->RawConfigLength = 1000;
        *ppConfig = n;
    } else if (is(c, "static")) {
        *ppConfig = (PEXPERTCONFIG)(void *)&static_blob;
    } else if (is(c, "drop")) {
        ExpertFreeMemory(key, c);
        *ppConfig = NULL;
    } else {
        PEXPERTCONFIG n = ExpertAllocMemory(key, sizeof(DWORD) + 3, &err);
        if (!n)
            return FALSE;
        n->RawConfigLength = sizeof(DWORD) + 3;
        memcpy(n->RawConfigData, "ok", 3);
        *ppConfig = n;
    }
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)key;
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    return TRUE;
}
