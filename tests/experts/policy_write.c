/* policy_write: creates a file and writes to it (H11: no file opened for
 * writing in a worker).
 *
 * The path comes from its configuration blob (RawConfigData, NUL-terminated),
 * so a test can give a scratch path and check that nothing was created. It
 * holds one 4 KiB block, then opens the path with O_WRONLY | O_CREAT. Under
 * the worker's policy the call never happens: the run ends as failed, its
 * status text naming "openat", and the file does not exist. If the open
 * ever succeeded (no policy), it writes "written" and returns TRUE.
 */
#include <nmexpert/netmon.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "policy_write");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Writes a file");
    info->Version = 1;
    return TRUE;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err;
    if (!ExpertAllocMemory(key, 4096, &err))
        return FALSE;
    if (!config || config->RawConfigLength <= sizeof(DWORD))
        return FALSE;
    const char *path = (const char *)config->RawConfigData;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return FALSE;
    (void)!write(fd, "written\n", 8);
    close(fd);
    return TRUE;
}
