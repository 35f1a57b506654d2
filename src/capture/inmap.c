/* Input files mapped whole, read-only (capture_internal.h, nmx__inmap): the
 * frames an uncompressed pcap or pcapng file stores verbatim are read where
 * its mapping has them, instead of being copied into the data spool. The
 * mapping is shared and read-only: its pages are the page cache's (C8), and
 * nobody can write through it (C7). It is guarded (inmap_guard.c) so that a
 * file cut short under us reads zeros and is reported, never a SIGBUS. */
#define _GNU_SOURCE
#include "capture/capture_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The damage text for when the file named `name` is cut short. */
static char *changed_text(const char *name)
{
    static const char fmt[] = "%s: the file changed (was truncated) while being read; "
                              "the frames past the cut are lost";
    int n = snprintf(NULL, 0, fmt, name);
    char *t = n < 0 ? NULL : malloc((size_t)n + 1);
    if (t)
        snprintf(t, (size_t)n + 1, fmt, name);
    return t;
}

/* Map, and guard, the regular file open read-only as fd (taken over) and
 * named `name`; 0 or errno. */
static int map_fd(nmx__inmap *m, int fd, const char *name)
{
    struct stat st;
    m->fd = -1;
    m->base = NULL;
    m->size = 0;
    m->slot = -1;
    m->changed = NULL;
    if (fd < 0)
        return errno;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) {
        int e = errno ? errno : EINVAL;
        close(fd);
        return e;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        int e = errno;
        close(fd);
        return e;
    }
    m->fd = fd;
    m->base = p;
    m->size = (uint64_t)st.st_size;
    m->changed = changed_text(name);
    if (!m->changed || nmx__inmap_guard(m) != 0) {
        nmx__inmap_close(m);
        return ENOMEM;
    }
    return 0;
}

int nmx__inmap_open(nmx__inmap *m, const char *path)
{
    errno = 0;
    return map_fd(m, open(path, O_RDONLY | O_CLOEXEC), path);
}

int nmx__inmap_attach(nmx__inmap *m, int fd, const char *name)
{
    errno = 0;
    return map_fd(m, fcntl(fd, F_DUPFD_CLOEXEC, 0), name);
}

void nmx__inmap_close(nmx__inmap *m)
{
    nmx__inmap_unguard(m);
    if (m->base)
        munmap((void *)(uintptr_t)m->base, m->size);
    if (m->fd >= 0)
        close(m->fd);
    free(m->changed);
    m->changed = NULL;
    m->base = NULL;
    m->fd = -1;
}
