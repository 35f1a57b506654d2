/* buserror: reads a page of a mapped file beyond the file's end (H5): SIGBUS.
 * Holds 1 MiB first. The file is an unlinked temporary, so nothing is left. */
#define _GNU_SOURCE
#include <nmexpert/netmon.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "buserror");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Reads a mapped file past its end");
    info->Version = 1;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err;
    void *hold = ExpertAllocMemory(key, 1u << 20, &err);
    if (!hold)
        return FALSE;
    memset(hold, 0x5A, 1u << 20);
    char path[] = "/tmp/nmx-buserror-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return FALSE;
    unlink(path);
    long page = sysconf(_SC_PAGESIZE);
    /* The mapping covers two pages; the file has none: any access is SIGBUS. */
    volatile char *p = mmap(NULL, (size_t)(2 * page), PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return FALSE;
    return p[page] != 42;
}
