/* libFuzzer target for the decoders and the recognizer (SPEC C5, C6;
 * issue 11): frames in sequence through one recognizer, so its state
 * (conversations, framing, announcements) is fuzzed too.
 *
 * The first input byte chooses the mode:
 *   even  raw frames: byte 1 picks a link type, then records of a 2-byte
 *         length and that many bytes, each one frame;
 *   odd   TCP and UDP conversations: each record (a flags byte, a port
 *         choice, a 2-byte sequence step, a 2-byte length, the payload) is
 *         wrapped in Ethernet/IPv4/TCP (or UDP) between two hosts, so the
 *         fuzzer works on the recognizer's framing, not on checksums.
 * Every frame is decoded alone (nmx_decode) and through the recognizer;
 * every layer must lie inside the frame, offsets never go backwards, the
 * recognizer keeps nmx_decode's layers up to the transport, and no read
 * goes past a frame (each is a heap copy of exactly its length: ASan).
 *
 *   cmake -S . -B build-fuzz -DNMX_BUILD_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   build-fuzz/fuzz/fuzz_decode -max_total_time=60 corpus/
 */
#include "capture/capture_internal.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENSURE(cond)                                                                 \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "fuzz_decode: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
            __builtin_trap();                                                        \
        }                                                                            \
    } while (0)

static void check_layers(const nmx_decoded *d, uint32_t n) {
    ENSURE(d->nlayers <= NMX_DECODE_MAX_LAYERS);
    for (unsigned i = 0; i < d->nlayers; i++) {
        ENSURE(d->layers[i].offset < n);
        ENSURE(i == 0 || d->layers[i].offset >= d->layers[i - 1].offset);
        ENSURE(strcmp(nmx_proto_name(d->layers[i].proto), "?") != 0);
    }
}

/* One frame both ways. */
static void frame(nmx__recognizer *rz, const uint8_t *b, uint32_t n, int dlt) {
    uint8_t *copy = malloc(n ? n : 1);
    memcpy(copy, b, n);
    nmx_decoded alone, rec;
    nmx_decode(copy, n, dlt, &alone);
    check_layers(&alone, n);
    nmx__recognize(rz, copy, n, dlt, 0, &rec);
    check_layers(&rec, n);
    /* the recognizer adds to the transport's layers, or replaces PAYLOAD */
    unsigned keep = alone.nlayers;
    if (keep && alone.layers[keep - 1].proto == NMX_PROTO_PAYLOAD)
        keep--;
    ENSURE(rec.nlayers >= keep);
    for (unsigned i = 0; i < keep; i++)
        ENSURE(rec.layers[i].proto == alone.layers[i].proto && rec.layers[i].offset == alone.layers[i].offset);
    free(copy);
}

static void raw_frames(nmx__recognizer *rz, const uint8_t *data, size_t size) {
    static const int dlts[] = {1, 0, 9, 12, 50, 51, 101, 104, 105, 108, 113, 127, 228, 229, 276};
    if (size < 1)
        return;
    int dlt = dlts[data[0] % (sizeof dlts / sizeof dlts[0])];
    size_t at = 1;
    while (at + 2 <= size) {
        uint32_t n = (uint32_t)data[at] << 8 | data[at + 1];
        at += 2;
        if (n > size - at)
            n = (uint32_t)(size - at);
        frame(rz, data + at, n, dlt);
        at += n;
    }
}

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }

/* The ports a conversation may use: the recognised ones and a free one. */
static const uint16_t ports[] = {20, 21, 22, 25, 53, 80, 88, 110, 123, 137, 138, 139, 143, 161, 179,
                                 389, 443, 445, 514, 2152, 3389, 4789, 5060, 5353, 6081, 8080, 40000};

static void conversations(nmx__recognizer *rz, const uint8_t *data, size_t size) {
    uint32_t seq[2] = {1000, 50000};
    uint8_t f[14 + 20 + 20 + 2048];
    size_t at = 0;
    while (at + 6 <= size) {
        uint8_t flags = data[at], choice = data[at + 1];
        unsigned step = (unsigned)data[at + 2] << 8 | data[at + 3];
        uint32_t n = (uint32_t)data[at + 4] << 8 | data[at + 5];
        at += 6;
        if (n > size - at)
            n = (uint32_t)(size - at);
        if (n > 2048)
            n = 2048;
        int dir = flags & 1, udp = (choice & 0x80) != 0;
        uint16_t server = ports[(choice & 0x7f) % (sizeof ports / sizeof ports[0])];
        uint16_t client = (uint16_t)(40001 + ((choice >> 5) & 3));
        uint32_t hl = udp ? 8 : 20;
        memset(f, 0, 14 + 20 + hl);
        f[12] = 0x08, f[14] = 0x45, f[22] = 64, f[23] = udp ? 17 : 6;
        put16(f + 16, 20 + hl + n);
        f[26] = 10, f[29] = (uint8_t)(1 + dir), f[30] = 10, f[33] = (uint8_t)(2 - dir);
        uint8_t *l4 = f + 34;
        put16(l4, dir ? server : client), put16(l4 + 2, dir ? client : server);
        if (udp) {
            put16(l4 + 4, 8 + n);
        } else {
            seq[dir] += step - 256; /* mostly forward, sometimes back (retransmissions) */
            l4[4] = (uint8_t)(seq[dir] >> 24), l4[5] = (uint8_t)(seq[dir] >> 16);
            l4[6] = (uint8_t)(seq[dir] >> 8), l4[7] = (uint8_t)seq[dir];
            l4[12] = 0x50, l4[13] = (uint8_t)(flags >> 1);
            seq[dir] += n;
        }
        memcpy(l4 + hl, data + at, n);
        frame(rz, f, 14 + 20 + hl + n, 1);
        at += n;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    nmx__recognizer *rz = nmx__recognizer_new();
    if (!rz)
        return 0;
    if (data[0] & 1)
        conversations(rz, data + 1, size - 1);
    else
        raw_frames(rz, data + 1, size - 1);
    nmx__recognizer_free(rz);
    return 0;
}
