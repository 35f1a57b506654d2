/* configurable: Configure grows its blob, Run reports it (M15).
 *
 * The blob is an EXPERTCONFIG whose RawConfigData holds the text
 * "gen=<n>;pad=<n * 100 'x'>" and its NUL; RawConfigLength counts it all,
 * the DWORD included. Each Configure reads the generation it was given (0
 * without a blob), adds one and grows the blob with ExpertReallocMemory
 * (ExpertAllocMemory when there is none). Run submits one event: a STRING
 * column "config" with the text ("none" without a blob) and a UINT32
 * column "length" with RawConfigLength (0 without a blob).
 */
#include <nmexpert/netmon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "configurable");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Grows its configuration blob");
    info->Version = 1;
    info->Flags = EXPERT_ENUM_FLAG_CONFIGURABLE;
    return TRUE;
}

/* The text of a blob, or NULL if it does not hold one. */
static const char *blob_text(const EXPERTCONFIG *c)
{
    if (!c || c->RawConfigLength < sizeof(DWORD) + 5)
        return NULL;
    const char *t = (const char *)c->RawConfigData;
    size_t n = c->RawConfigLength - sizeof(DWORD);
    if (memchr(t, '\0', n) == NULL || strncmp(t, "gen=", 4) != 0)
        return NULL;
    return t;
}

BOOL WINAPI Configure(HEXPERTKEY key, PEXPERTCONFIG *ppConfig, PEXPERTSTARTUPINFO startup,
                      DWORD flags, HWND parent)
{
    (void)startup;
    (void)flags;
    (void)parent;
    if (!ppConfig)
        return FALSE;
    PEXPERTCONFIG c = *ppConfig;
    const char *old = blob_text(c);
    unsigned gen = old ? (unsigned)strtoul(old + 4, NULL, 10) : 0;
    gen++;
    size_t pad = 100u * gen;
    size_t textlen = (size_t)snprintf(NULL, 0, "gen=%u;pad=", gen) + pad;
    size_t size = sizeof(DWORD) + textlen + 1;
    DWORD err;
    PEXPERTCONFIG n = c ? ExpertReallocMemory(key, c, size, &err) : ExpertAllocMemory(key, size, &err);
    if (!n)
        return FALSE; /* the old blob, if any, is untouched and still the host's */
    char *t = (char *)n->RawConfigData;
    int head = sprintf(t, "gen=%u;pad=", gen);
    memset(t + head, 'x', pad);
    t[head + (int)pad] = '\0';
    n->RawConfigLength = (DWORD)size;
    *ppConfig = n;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err;
    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + 2 * sizeof(NMCOLUMNINFO), &err);
    if (!ev)
        return FALSE;
    const char *text = blob_text(config);
    ev->EventIdent = 1;
    ev->NumColumns = 2;
    ev->szSourceName = "configurable";
    ev->szEventName = "Configuration";
    ev->Column[0].szColumnName = "config";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_STRING;
    ev->Column[0].VariantData.Value.pStringVal = text ? text : "none";
    ev->Column[1].szColumnName = "length";
    ev->Column[1].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[1].VariantData.Value.Uint32Val = config ? config->RawConfigLength : 0;
    BOOL ok = ExpertSubmitEvent(key, ev) == NMERR_SUCCESS;
    ExpertFreeMemory(key, ev);
    return ok;
}
