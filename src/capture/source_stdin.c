/* Standard input as a path libwiretap opens (see source_internal.h).
 *
 * A pipe is looked at without being consumed (tee(2) copies what is in it
 * to a second pipe): a format read front to back streams from the pipe
 * itself; one libwiretap must seek in (Network Monitor's frame table is at
 * the end, ERF and most others are found by trying readers in turn) is
 * copied to an unlinked temporary file first, in $TMPDIR or /tmp.
 */
#define _GNU_SOURCE /* tee, O_TMPFILE */
#include "capture/source_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PEEK 4

/* Up to PEEK bytes at the front of the pipe on fd 0, left in it. A writer
 * slower than a second to write its first 4 bytes gets fewer looked at. */
static size_t peek(unsigned char *m) {
    int p[2];
    if (pipe(p) != 0)
        return 0;
    ssize_t got = 0;
    for (int tries = 0; tries < 200; tries++) {
        ssize_t n = tee(0, p[1], PEEK, 0); /* blocks until the pipe holds something or has no writer */
        /* drain the copy at once: each tee takes one of the second pipe's 16 slots */
        got = n > 0 ? read(p[0], m, (size_t)n) : 0;
        if (got <= 0 || got >= PEEK)
            break;
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    close(p[0]);
    close(p[1]);
    return got > 0 && got <= PEEK ? (size_t)got : 0;
}

static int streams(const unsigned char *m, size_t n) {
    static const unsigned char magic[][4] = {
        {0xa1, 0xb2, 0xc3, 0xd4}, {0xd4, 0xc3, 0xb2, 0xa1}, {0xa1, 0xb2, 0x3c, 0x4d},
        {0x4d, 0x3c, 0xb2, 0xa1}, {0x0a, 0x0d, 0x0d, 0x0a}, /* pcap (micro, nano), pcapng */
        {0x28, 0xb5, 0x2f, 0xfd}, {0x04, 0x22, 0x4d, 0x18}, /* zstd, lz4 */
        {'s', 'n', 'o', 'o'},                               /* snoop */
    };
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
        return 1; /* gzip */
    for (size_t i = 0; n >= 4 && i < sizeof magic / sizeof magic[0]; i++)
        if (memcmp(m, magic[i], 4) == 0)
            return 1;
    return 0;
}

static int tmpfile_fd(void) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    snprintf(path, sizeof path, "%s/nmexpert-stdin-XXXXXX", dir);
    fd = mkstemp(path);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static int copy_all(int from, int to) {
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(from, buf, sizeof buf);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(to, buf + w, (size_t)(n - w));
            if (k < 0 && errno != EINTR)
                return errno;
            w += k > 0 ? k : 0;
        }
    }
}

static DWORD spool(char *buf, size_t len, int *fd_out, char *err, size_t errlen) {
    int fd = tmpfile_fd();
    int e = fd < 0 ? errno : copy_all(0, fd);
    if (!e && lseek(fd, 0, SEEK_END) == 0) { /* libwiretap would call it an empty ERF capture */
        snprintf(err, errlen, "stdin: empty, not a capture");
        close(fd);
        return NMERR_INVALID_FILE_FORMAT;
    }
    if (e) {
        snprintf(err, errlen, "stdin: copying it to a temporary file: %s", strerror(e));
        if (fd >= 0)
            close(fd);
        return e == ENOMEM ? NMERR_OUT_OF_MEMORY : NMERR_FILE_READ_ERROR;
    }
    *fd_out = fd;
    snprintf(buf, len, "/proc/self/fd/%d", fd);
    return NMERR_SUCCESS;
}

DWORD nmx__stdin_path(char *buf, size_t len, int *fd_out, char *err, size_t errlen) {
    struct stat st;
    *fd_out = -1;
    if (fstat(0, &st) != 0) {
        snprintf(err, errlen, "stdin: %s", strerror(errno));
        return NMERR_FILE_READ_ERROR;
    }
    if (isatty(0)) {
        snprintf(err, errlen, "stdin: a terminal, not a capture (pipe or redirect one)");
        return NMERR_INVALID_PARAMETER;
    }
    snprintf(buf, len, "-"); /* libwiretap reads fd 0 for "-" */
    if (!S_ISFIFO(st.st_mode))
        return NMERR_SUCCESS;
    unsigned char m[PEEK];
    size_t n = peek(m);
    if (streams(m, n))
        return NMERR_SUCCESS;
    return spool(buf, len, fd_out, err, errlen);
}
