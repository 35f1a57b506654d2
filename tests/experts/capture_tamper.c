/* capture_tamper: tries to make the capture it was given writable (H11: in a
 * worker the host's capture is shared read-only).
 *
 * It reads the first frame (so that every spool is mapped, or the input file
 * the capture reads a frame in place from), finds the capture's descriptors
 * (regular files, memfds aside: the spools, deleted, and mapped inputs), and
 * tries mprotect(PROT_WRITE) on every read-only mapping of those files. It
 * writes nothing. It submits one event with UINT32 columns "made_writable"
 * (mappings mprotect made writable), "writable_fds" (spool descriptors open
 * for writing: in a worker, only the wait spool's) and "mappings" (read-only
 * spool mappings seen).
 */
#define _GNU_SOURCE
#include <nmexpert/netmon.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

BOOL WINAPI Register(PEXPERTENUMINFO info)
{
    strcpy(info->szName, "capture_tamper");
    strcpy(info->szVendor, "nmexpert tests");
    strcpy(info->szDescription, "Tries to write into its capture");
    info->Version = 1;
    return TRUE;
}

/* A file, not a memfd: what a spool's (deleted) or a mapped input's
 * descriptor names. */
static int capture_file(const char *s)
{
    return s[0] == '/' && strncmp(s, "/memfd:", 7) != 0;
}

/* The capture's descriptors: their inodes (at most 16), and how many are open
 * for writing. */
static DWORD spool_fds(unsigned long *ino, int *nino)
{
    DWORD writable = 0;
    *nino = 0;
    for (int fd = 3; fd < 256; fd++) {
        char proc[64], target[4096];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ssize_t len = readlink(proc, target, sizeof target - 1);
        if (len <= 0)
            continue;
        target[len] = '\0';
        struct stat st;
        int fl = fcntl(fd, F_GETFL);
        if (!capture_file(target) || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fl < 0)
            continue;
        if ((fl & O_ACCMODE) != O_RDONLY)
            writable++;
        if (*nino < 16)
            ino[(*nino)++] = (unsigned long)st.st_ino;
    }
    return writable;
}

/* Tries mprotect(PROT_WRITE) on every read-only mapping of those inodes;
 * returns how many it made writable, *seen how many it tried. */
static DWORD made_writable(const unsigned long *ino, int nino, DWORD *seen)
{
    DWORD n = 0;
    *seen = 0;
    char line[4096];
    FILE *f = fopen("/proc/self/maps", "r");
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, inode;
        char perms[8];
        int mine = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %lu", &lo, &hi, perms, &inode) != 4 ||
            perms[1] == 'w')
            continue;
        for (int k = 0; k < nino; k++)
            mine |= inode == ino[k];
        if (!mine)
            continue;
        (*seen)++;
        if (mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) == 0) {
            n++;
            mprotect((void *)lo, hi - lo, PROT_READ);
        }
    }
    if (f)
        fclose(f);
    return n;
}

BOOL WINAPI Run(HEXPERTKEY key, PEXPERTCONFIG config, PEXPERTSTARTUPINFO startup, DWORD flags,
                HWND parent)
{
    (void)config;
    (void)startup;
    (void)flags;
    (void)parent;
    DWORD err, seen;
    unsigned long ino[16];
    int nino;
    EXPERTFRAMEDESCRIPTOR fd;
    ExpertGetFrame(key, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER, NULL, &fd);
    PNMEVENTDATA ev = ExpertAllocMemory(key, sizeof(NMEVENTDATA) + 3 * sizeof(NMCOLUMNINFO), &err);
    if (!ev)
        return FALSE;
    ev->EventIdent = 1;
    ev->NumColumns = 3;
    ev->szSourceName = "capture_tamper";
    ev->szEventName = "Tamper";
    ev->Column[0].szColumnName = "made_writable";
    ev->Column[0].VariantData.Type = NMCOLUMNTYPE_UINT32;
    DWORD writable = spool_fds(ino, &nino);
    ev->Column[0].VariantData.Value.Uint32Val = made_writable(ino, nino, &seen);
    ev->Column[1].szColumnName = "writable_fds";
    ev->Column[1].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[1].VariantData.Value.Uint32Val = writable;
    ev->Column[2].szColumnName = "mappings";
    ev->Column[2].VariantData.Type = NMCOLUMNTYPE_UINT32;
    ev->Column[2].VariantData.Value.Uint32Val = seen;
    BOOL ok = ExpertSubmitEvent(key, ev) == NMERR_SUCCESS;
    ExpertFreeMemory(key, ev);
    return ok;
}
