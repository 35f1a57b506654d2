/* libFuzzer target for the capture layer (SPEC C1, C6): the reader and the
 * decoder on arbitrary input.
 *
 * The first input byte chooses the mode:
 *   even  the rest is a capture file in any format (libwiretap's readers,
 *         libpcap's for plain pcap it would misread, the decompressors),
 *         opened as one of four kinds of input chosen by bits 1-2: a memfd
 *         by path (/proc/self/fd/N); the same file twice (two inputs); a
 *         folder holding it twice; standard input, fed through a pipe (so
 *         the pipe peek, streaming and spooling run). The index, the
 *         recognition tables and the frame engine all run; then every frame
 *         is walked both ways, with a filter, and checked against what the
 *         index says;
 *   odd   the decoder alone: byte 1 picks a link type (one the decoder
 *         knows, or any value), the rest is one frame; every layer must lie
 *         inside the frame and the decoder must never read past it (ASan).
 * Inputs that start like a capture header are the interesting ones: seed
 * the corpus with small captures in several formats and compressions
 * (prefixed with a 0, 2, 4 or 6 byte).
 *
 *   cmake -S . -B build-fuzz -DNMX_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   build-fuzz/fuzz/fuzz_capture -max_total_time=60 corpus/
 */
#define _GNU_SOURCE /* memfd_create */
#include "capture/capture_internal.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENSURE(cond)                                                                  \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "fuzz_capture: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            __builtin_trap();                                                         \
        }                                                                             \
    } while (0)

static void check_decoded(const nmx_decoded *d, uint32_t n) {
    ENSURE(d->nlayers <= NMX_DECODE_MAX_LAYERS);
    for (unsigned i = 0; i < d->nlayers; i++) {
        ENSURE(d->layers[i].offset < n);
        ENSURE(i == 0 || d->layers[i].offset >= d->layers[i - 1].offset);
    }
}

static void fuzz_decoder(const uint8_t *data, size_t size) {
    static const int dlts[] = {1, 0, 108, 113, 276, 12, 101, 228, 229};
    if (size < 1)
        return;
    int dlt = data[0] < 200 ? dlts[data[0] % (sizeof dlts / sizeof dlts[0])] : data[0];
    const uint8_t *b = data + 1;
    uint32_t n = (uint32_t)(size - 1);
    /* a heap copy of exactly n bytes, so ASan sees any read past the end */
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, b, n);
    nmx_decoded d;
    nmx_decode(copy, n, dlt, &d);
    check_decoded(&d, n);
    free(copy);
}

typedef struct feed {
    int fd;
    const uint8_t *data;
    size_t size;
} feed;

static void *feeder(void *arg) {
    feed *f = arg;
    for (size_t off = 0; off < f->size;) {
        ssize_t n = write(f->fd, f->data + off, f->size - off);
        if (n <= 0)
            break; /* EPIPE: the reader stopped at damage */
        off += (size_t)n;
    }
    close(f->fd);
    return NULL;
}

/* Open data as input kind `kind`; the error text must name what failed. */
static DWORD open_as(int kind, const uint8_t *data, size_t size, nmx_capture **cap, char *err, size_t errlen) {
    int fd = memfd_create("fuzz_capture", 0);
    if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) {
        if (fd >= 0)
            close(fd);
        return NMERR_OUT_OF_MEMORY;
    }
    char path[64], dir[64] = "", a[96] = "", b[96] = "";
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    const char *two[] = {path, path}, *stdin_path[] = {"-"};
    DWORD rc;
    if (kind == 2 && snprintf(dir, sizeof dir, "/tmp/fuzz_capture_XXXXXX") && mkdtemp(dir)) {
        snprintf(a, sizeof a, "%s/a.cap", dir);
        snprintf(b, sizeof b, "%s/b.cap", dir);
        int ok = symlink(path, a) == 0 && symlink(path, b) == 0; /* two names, one file */
        const char *d[] = {dir};
        rc = ok ? nmx_capture_open_inputs(d, 1, cap, err, errlen) : NMERR_OUT_OF_MEMORY;
        unlink(a), unlink(b), rmdir(dir);
    } else if (kind == 3) {
        int p[2], saved = dup(0);
        if (pipe(p) != 0 || saved < 0) {
            close(fd);
            return NMERR_OUT_OF_MEMORY;
        }
        dup2(p[0], 0);
        close(p[0]);
        feed f = {p[1], data, size};
        pthread_t t;
        pthread_create(&t, NULL, feeder, &f);
        rc = nmx_capture_open_inputs(stdin_path, 1, cap, err, errlen);
        dup2(saved, 0);
        close(saved);
        pthread_join(t, NULL);
    } else {
        rc = nmx_capture_open_inputs(two, kind == 1 ? 2 : 1, cap, err, errlen);
    }
    close(fd);
    return rc;
}

static void fuzz_reader(int kind, const uint8_t *data, size_t size) {
    nmx_capture *cap = NULL;
    char err[512];
    DWORD rc = open_as(kind, data, size, &cap, err, sizeof err);
    if (rc != NMERR_SUCCESS) {
        ENSURE(cap == NULL);
        ENSURE(rc == NMERR_INVALID_FILE_FORMAT || rc == NMERR_OUT_OF_MEMORY || rc == NMERR_FILE_READ_ERROR ||
               rc == NMERR_FILE_NOT_FOUND);
        ENSURE(err[0] != '\0');
        return;
    }
    uint32_t sum = 0;
    for (unsigned i = 0; i < nmx_capture_inputs(cap); i++) {
        nmx_capture_input ci;
        ENSURE(nmx_capture_input_info(cap, i, &ci) == NMERR_SUCCESS && ci.first_frame == sum);
        ENSURE(ci.path && ci.format && ci.compression && ci.encap);
        sum += ci.frames;
    }
    ENSURE(sum == GetCaptureTotalFrames(cap));
    nmx_capture_info in;
    ENSURE(nmx_capture_get_info(cap, &in) == NMERR_SUCCESS);
    ENSURE(in.frames == GetCaptureTotalFrames(cap));
    uint64_t wire = 0, capt = 0;
    for (uint32_t i = 0; i < in.frames; i++) {
        nmx_frame f;
        ENSURE(nmx_capture_frame(cap, i, &f) == NMERR_SUCCESS);
        ENSURE(GetFrameNumber(f.hframe) == i && GetFrameCaptureHandle(f.hframe) == cap);
        ENSURE(GetFrameLength(f.hframe) == f.wire_len && GetFrameStoredLength(f.hframe) == f.cap_len);
        ENSURE(f.frame->nBytesAvail == f.cap_len);
        wire += f.wire_len;
        capt += f.cap_len;
        for (unsigned k = 0; k < f.recognized->nRecognizeDatas; k++)
            ENSURE(f.recognized->RecognizeData[k].nProtocolOffset < f.cap_len);
        nmx_decoded d;
        nmx_decode(f.bytes, f.cap_len, f.link_type, &d);
        check_decoded(&d, f.cap_len);
    }
    ENSURE(wire == in.wire_bytes && capt == in.captured_bytes);
    nmx_filter *flt = NULL;
    (void)nmx_filter_create(cap, "tcp or udp", &flt, NULL, 0);
    for (int dir = GET_FRAME_NEXT_FORWARD; dir <= GET_FRAME_NEXT_BACKWARD; dir++) {
        EXPERTFRAMEDESCRIPTOR d;
        DWORD n = INVALID_FRAME_NUMBER, seen = 0;
        while (nmx__capture_get_frame(cap, NULL, NULL, (DWORD)dir, 0, n, &d) == NMERR_SUCCESS) {
            n = d.FrameNumber;
            seen++;
        }
        ENSURE(seen == in.frames);
        n = INVALID_FRAME_NUMBER;
        while (flt && nmx__capture_get_frame(cap, NULL, flt, (DWORD)dir, 0, n, &d) == NMERR_SUCCESS)
            n = d.FrameNumber;
    }
    nmx_filter_destroy(flt);
    ENSURE(nmx_capture_close(cap) == NMERR_SUCCESS);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    signal(SIGPIPE, SIG_IGN);
    if (data[0] & 1)
        fuzz_decoder(data + 1, size - 1);
    else
        fuzz_reader(data[0] >> 1 & 3, data + 1, size - 1);
    return 0;
}
