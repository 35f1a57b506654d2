/* Is a zstd or lz4 file whole? libwiretap (4.0) ends a truncated zstd or
 * lz4 stream as if it were the end of the file, with no error, so a cut
 * file would look complete (capinfos says the same). Walking the frame and
 * block headers, without decompressing, finds the cut: every frame must end
 * with its last block (zstd) or end mark (lz4) and checksum, exactly at the
 * end of the file. Skippable frames are skipped; lz4's legacy format has no
 * end mark and passes.
 */
#define _DEFAULT_SOURCE /* pread, O_CLOEXEC */
#include "capture/source_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* n bytes at off, or 0 when the file ends first */
static int get(int fd, uint64_t off, uint8_t *b, size_t n) {
    return pread(fd, b, n, (off_t)off) == (ssize_t)n;
}

/* The end of the zstd frame at off (its magic read), or 0 if cut. */
static uint64_t zstd_frame(int fd, uint64_t off) {
    uint8_t h[4];
    if (!get(fd, off, h, 1))
        return 0;
    unsigned fhd = h[0], fcs = fhd >> 6, single = fhd >> 5 & 1, sum = fhd >> 2 & 1;
    static const unsigned dict_size[4] = {0, 1, 2, 4}, fcs_size[4] = {0, 2, 4, 8};
    off += 1u + (single ? 0u : 1u) + dict_size[fhd & 3] + (fcs == 0 ? single : fcs_size[fcs]);
    for (;;) {
        if (!get(fd, off, h, 3))
            return 0;
        uint32_t bh = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
        unsigned last = bh & 1, type = bh >> 1 & 3;
        if (type == 3)
            return 0; /* reserved: corrupt */
        off += 3u + (type == 1 ? 1u : bh >> 3);
        if (last)
            break;
    }
    off += sum ? 4u : 0u;
    return get(fd, off - 1, h, 1) ? off : 0;
}

/* The end of the lz4 frame at off (its magic read), or 0 if cut. */
static uint64_t lz4_frame(int fd, uint64_t off) {
    uint8_t h[4];
    if (!get(fd, off, h, 2))
        return 0;
    unsigned flg = h[0], block_sum = flg >> 4 & 1, size = flg >> 3 & 1, sum = flg >> 2 & 1, dict = flg & 1;
    off += 3u + (size ? 8u : 0u) + (dict ? 4u : 0u);
    for (;;) {
        if (!get(fd, off, h, 4))
            return 0;
        uint32_t bs = le32(h);
        off += 4;
        if (bs == 0)
            break;
        off += (bs & 0x7fffffffu) + (block_sum ? 4u : 0u);
    }
    off += sum ? 4u : 0u;
    return get(fd, off - 1, h, 1) ? off : 0;
}

int nmx__compressed_whole(const char *path, const char *compression) {
    int zstd = strcmp(compression, "zstd") == 0, lz4 = strcmp(compression, "lz4") == 0;
    int fd = zstd || lz4 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return 1; /* nothing to say: not ours to judge, or a pipe */
    }
    uint64_t off = 0, end = (uint64_t)st.st_size;
    int whole = 1;
    while (whole && off < end) {
        uint8_t m[8];
        if (!get(fd, off, m, 4)) {
            whole = 0;
            break;
        }
        uint32_t magic = le32(m);
        if ((magic & 0xfffffff0u) == 0x184d2a50u) /* skippable, both formats */
            off = get(fd, off + 4, m, 4) ? off + 8 + le32(m) : 0;
        else if (zstd && magic == 0xfd2fb528u)
            off = zstd_frame(fd, off + 4);
        else if (lz4 && magic == 0x184d2204u)
            off = lz4_frame(fd, off + 4);
        else
            break; /* legacy lz4, or what the decompressor judged already */
        whole = off != 0 && off <= end;
    }
    close(fd);
    return whole;
}
