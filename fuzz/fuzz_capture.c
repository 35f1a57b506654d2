/* libFuzzer target for the capture layer (SPEC C1, C6): the reader and the
 * decoder on arbitrary input.
 *
 * The first input byte chooses the mode:
 *   even  the rest is a capture file: written to a memfd and opened by path
 *         (/proc/self/fd/N) with nmx_capture_open, so libpcap's reader, the
 *         index, the recognition tables and the frame engine all run; then
 *         every frame is walked both ways, with a filter, and checked
 *         against what the index says;
 *   odd   the decoder alone: byte 1 picks a link type (one the decoder
 *         knows, or any value), the rest is one frame; every layer must lie
 *         inside the frame and the decoder must never read past it (ASan).
 * Inputs that start like a pcap/pcapng header are the interesting ones: seed
 * the corpus with small captures (prefixed with a 0 byte).
 *
 *   cmake -S . -B build-fuzz -DNMX_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   build-fuzz/fuzz/fuzz_capture -max_total_time=60 corpus/
 */
#define _GNU_SOURCE /* memfd_create */
#include "capture/capture_internal.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static void fuzz_reader(const uint8_t *data, size_t size) {
    int fd = memfd_create("fuzz_capture", 0);
    if (fd < 0)
        return;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    nmx_capture *cap = NULL;
    char err[512];
    DWORD rc = nmx_capture_open(path, &cap, err, sizeof err);
    close(fd);
    if (rc != NMERR_SUCCESS) {
        ENSURE(cap == NULL);
        ENSURE(rc == NMERR_INVALID_FILE_FORMAT || rc == NMERR_OUT_OF_MEMORY);
        ENSURE(strncmp(err, path, strlen(path)) == 0);
        return;
    }
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
    if (data[0] & 1)
        fuzz_decoder(data + 1, size - 1);
    else
        fuzz_reader(data + 1, size - 1);
    return 0;
}
