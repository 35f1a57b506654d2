/* hostile: calls one function the host gives experts with one bad pointer
 * (H5, M8, issue 8's systematic test; tests/test_host_hostile_mt.c).
 *
 * Its configuration is the text "FUNCTION PARAMETER KIND", for example
 * "status text unmapped". KIND is one of
 *   null      the parameter is NULL;
 *   unmapped  an address below mmap_min_addr: never mapped;
 *   readonly  a read-only page holding what the function expects (a valid
 *             text, event, expression; for output parameters, a place it
 *             cannot write);
 *   short     the object ends at a page followed by a PROT_NONE page and is
 *             shorter than the call needs (an unterminated string, an event
 *             whose columns are not there, an output buffer too small, an
 *             ErrorLength larger than the buffer really is).
 * It records the call's result in the exported `hostile_result`, then checks
 * that its key still works (alloc, free, a frame) and returns TRUE. If the
 * call faulted, Run never gets there: the host must end the run (H5). One run
 * at a time (globals).
 */
#define _GNU_SOURCE
#include <nmexpert/netmon.h>

#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct hostile_result_t {
    int called;        /* the call returned */
    uint64_t value;    /* what it returned (a code, a size, a handle or pointer as a number) */
    int key_works;     /* alloc, free and a frame worked afterwards */
    int unknown;       /* the configuration named no case */
} hostile_result_t;

hostile_result_t hostile_result;

#define UNMAPPED ((void *)(uintptr_t)0x8000)

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "hostile");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Calls one host function with one bad pointer");
    info->Version = 1;
    return TRUE;
}

/* Two pages: the first read-write, the second PROT_NONE. */
static unsigned char *two_pages(void)
{
    long pg = sysconf(_SC_PAGESIZE);
    unsigned char *p = mmap(NULL, (size_t)(2 * pg), PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    mprotect(p + pg, (size_t)pg, PROT_NONE);
    return p;
}

/* The last n bytes of the first page: an object that runs into the guard. */
static void *at_end(unsigned char *p, size_t n)
{
    return p + sysconf(_SC_PAGESIZE) - n;
}

static void seal(unsigned char *p)
{
    mprotect(p, (size_t)sysconf(_SC_PAGESIZE), PROT_READ);
}

typedef struct bad {
    const char *kind;
    unsigned char *page; /* two_pages() */
} bad;

/* An output buffer of the given size for this kind. */
static void *out_buf(bad *b, size_t size)
{
    if (!strcmp(b->kind, "null"))
        return NULL;
    if (!strcmp(b->kind, "unmapped"))
        return UNMAPPED;
    if (!strcmp(b->kind, "readonly")) {
        seal(b->page);
        return b->page;
    }
    return at_end(b->page, size / 2); /* short: half of it fits */
}

/* A string input holding `text` for this kind. */
static const char *in_str(bad *b, const char *text)
{
    if (!strcmp(b->kind, "null"))
        return NULL;
    if (!strcmp(b->kind, "unmapped"))
        return UNMAPPED;
    if (!strcmp(b->kind, "readonly")) {
        strcpy((char *)b->page, text);
        seal(b->page);
        return (const char *)b->page;
    }
    char *s = at_end(b->page, 16);
    memset(s, 'x', 16); /* no NUL before the guard page */
    return s;
}

/* A handle input (key, filter, capture, frame) for this kind. */
static void *in_handle(bad *b)
{
    if (!strcmp(b->kind, "null"))
        return NULL;
    if (!strcmp(b->kind, "unmapped"))
        return UNMAPPED;
    seal(b->page);
    return b->page;
}

static void valid_event(NMEVENTDATA *ev, const char *colstr)
{
    memset(ev, 0, sizeof *ev + sizeof(NMCOLUMNINFO));
    ev->EventIdent = 1;
    ev->NumColumns = 1;
    ev->szSourceName = "hostile";
    ev->szEventName = "probe";
    ev->Column[0].szColumnName = "value";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_STRING;
    ev->Column[0].VariantData.Value.pStringVal = colstr;
}

/* An event input for this kind. */
static NMEVENTDATA *in_event(bad *b)
{
    if (!strcmp(b->kind, "null"))
        return NULL;
    if (!strcmp(b->kind, "unmapped"))
        return UNMAPPED;
    if (!strcmp(b->kind, "readonly")) {
        valid_event((NMEVENTDATA *)(void *)b->page, "fine");
        seal(b->page);
        return (NMEVENTDATA *)(void *)b->page;
    }
    NMEVENTDATA *ev = at_end(b->page, sizeof(NMEVENTDATA)); /* the columns lie beyond */
    memset(ev, 0, sizeof *ev);
    ev->szSourceName = "hostile";
    ev->NumColumns = 3;
    return ev;
}

/* An event whose field `which` is this kind of string. */
static NMEVENTDATA *event_with(bad *b, const char *which, NMEVENTDATA *ev)
{
    const char *s = in_str(b, "text");
    valid_event(ev, "fine");
    if (!strcmp(which, "source"))
        ev->szSourceName = (LPSTR)(uintptr_t)s;
    else if (!strcmp(which, "colname"))
        ev->Column[0].szColumnName = (LPSTR)(uintptr_t)s;
    else
        ev->Column[0].VariantData.Value.pStringVal = s;
    return ev;
}

static HFRAME first_frame(HEXPERTKEY key)
{
    EXPERTFRAMEDESCRIPTOR d;
    if (ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER, NULL, &d) !=
        NMERR_SUCCESS)
        return NULL;
    return d.hFrame;
}

#define IS(f, p) (!strcmp(fn, f) && !strcmp(param, p))

/* The memory functions. Returns 1 if (fn, param) was one of theirs. */
static int memory_case(HEXPERTKEY key, const char *fn, const char *param, bad *b, uint64_t *v)
{
    DWORD err;
    if (IS("alloc", "key"))
        *v = (uintptr_t)ExpertAllocMemory(in_handle(b), 16, &err) ? 0 : err;
    else if (IS("alloc", "perror"))
        *v = (uintptr_t)ExpertAllocMemory(key, 16, out_buf(b, sizeof(DWORD))) != 0;
    else if (IS("realloc", "key"))
        *v = (uintptr_t)ExpertReallocMemory(in_handle(b), NULL, 16, &err) ? 0 : err;
    else if (IS("realloc", "ptr")) {
        void *p = ExpertReallocMemory(key, in_handle(b), 16, &err);
        *v = err;
        ExpertFreeMemory(key, p);
    } else if (IS("realloc", "perror"))
        *v = (uintptr_t)ExpertReallocMemory(key, NULL, 16, out_buf(b, sizeof(DWORD))) != 0;
    else if (IS("free", "key"))
        *v = ExpertFreeMemory(in_handle(b), NULL);
    else if (IS("free", "ptr"))
        *v = ExpertFreeMemory(key, in_handle(b));
    else if (IS("size", "key"))
        *v = ExpertMemorySize(in_handle(b), NULL);
    else if (IS("size", "ptr"))
        *v = ExpertMemorySize(key, in_handle(b));
    else
        return 0;
    return 1;
}

/* Status, events, startup information. */
static int service_case(HEXPERTKEY key, const char *fn, const char *param, bad *b, uint64_t *v)
{
    NMEVENTDATA *ev = (NMEVENTDATA *)ExpertAllocMemory(key, sizeof *ev + sizeof(NMCOLUMNINFO), NULL);
    int done = 1;
    if (IS("status", "key"))
        *v = ExpertIndicateStatus(in_handle(b), EXPERTSTATUS_RUNNING, 0, "x", 1);
    else if (IS("status", "text"))
        *v = ExpertIndicateStatus(key, EXPERTSTATUS_RUNNING, 0, in_str(b, "status text"), 1);
    else if (IS("event", "key")) {
        valid_event(ev, "fine");
        *v = ExpertSubmitEvent(in_handle(b), ev);
    } else if (IS("event", "ev"))
        *v = ExpertSubmitEvent(key, in_event(b));
    else if (!strcmp(fn, "event"))
        *v = ExpertSubmitEvent(key, event_with(b, param, ev));
    else if (IS("startup", "key")) {
        EXPERTSTARTUPINFO si;
        *v = ExpertGetStartupInfo(in_handle(b), &si);
    } else if (IS("startup", "out"))
        *v = ExpertGetStartupInfo(key, out_buf(b, sizeof(EXPERTSTARTUPINFO)));
    else
        done = 0;
    ExpertFreeMemory(key, ev);
    return done;
}

/* Frames and filters. */
static int frame_case(HEXPERTKEY key, const char *fn, const char *param, bad *b, uint64_t *v)
{
    EXPERTFRAMEDESCRIPTOR d;
    HFILTER f = NULL;
    char err[256];
    if (IS("getframe", "key"))
        *v = ExpertGetFrame(in_handle(b), GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER, NULL, &d);
    else if (IS("getframe", "filter"))
        *v = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER, in_handle(b), &d);
    else if (IS("getframe", "out"))
        *v = ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER, NULL,
                            out_buf(b, sizeof d));
    else if (IS("createfilter", "key"))
        *v = nmx_ExpertCreateFilter(in_handle(b), "tcp", &f, err, sizeof err);
    else if (IS("createfilter", "expr"))
        *v = nmx_ExpertCreateFilter(key, in_str(b, "tcp"), &f, err, sizeof err);
    else if (IS("createfilter", "out"))
        *v = nmx_ExpertCreateFilter(key, "tcp", out_buf(b, sizeof f), err, sizeof err);
    else if (IS("createfilter", "err")) /* a bad expression: there is a message to write */
        *v = nmx_ExpertCreateFilter(key, "tcp and and", &f, out_buf(b, 16), 256);
    else if (IS("destroyfilter", "key"))
        *v = nmx_ExpertDestroyFilter(in_handle(b), NULL);
    else if (IS("destroyfilter", "filter"))
        *v = nmx_ExpertDestroyFilter(key, in_handle(b));
    else
        return 0;
    if (f)
        nmx_ExpertDestroyFilter(key, f);
    return 1;
}

/* The Netmon frame functions: each takes one handle. */
static int handle_case(const char *fn, bad *b, uint64_t *v)
{
    void *h = in_handle(b);
    if (!strcmp(fn, "totalframes"))
        *v = GetCaptureTotalFrames(h);
    else if (!strcmp(fn, "framecapture"))
        *v = (uintptr_t)GetFrameCaptureHandle(h);
    else if (!strcmp(fn, "framelength"))
        *v = GetFrameLength(h);
    else if (!strcmp(fn, "framestored"))
        *v = GetFrameStoredLength(h);
    else if (!strcmp(fn, "frametime"))
        *v = (uint64_t)GetFrameTimeStamp(h);
    else if (!strcmp(fn, "framemac"))
        *v = GetFrameMacType(h);
    else if (!strcmp(fn, "framenumber"))
        *v = GetFrameNumber(h);
    else if (!strcmp(fn, "frameptr"))
        *v = (uintptr_t)GetFrameFromFrameHandle(h);
    else
        return 0;
    return 1;
}

static int key_works(HEXPERTKEY key)
{
    DWORD err;
    void *p = ExpertAllocMemory(key, 100, &err);
    int ok = p && ExpertFreeMemory(key, p) == NMERR_SUCCESS;
    return ok && first_frame(key) != NULL;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO si, DWORD flags,
                HWND parent)
{
    (void)si;
    (void)flags;
    (void)parent;
    memset(&hostile_result, 0, sizeof hostile_result);
    char fn[32] = "", param[32] = "", kind[32] = "";
    if (!config || config->RawConfigLength <= sizeof(DWORD) ||
        sscanf((const char *)config->RawConfigData, "%31s %31s %31s", fn, param, kind) != 3) {
        hostile_result.unknown = 1;
        return FALSE;
    }
    bad b = {kind, two_pages()};
    if (!b.page)
        return FALSE;
    uint64_t v = 0;
    int known = memory_case(key, fn, param, &b, &v) || service_case(key, fn, param, &b, &v) ||
                frame_case(key, fn, param, &b, &v) || handle_case(fn, &b, &v);
    hostile_result.unknown = !known;
    hostile_result.called = known;
    hostile_result.value = v;
    hostile_result.key_works = key_works(key);
    munmap(b.page, (size_t)(2 * sysconf(_SC_PAGESIZE)));
    return TRUE;
}
