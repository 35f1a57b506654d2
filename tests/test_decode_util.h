/* Building frames inside out for the decoding and recognition tests: a
 * packet grows towards its start as each header is put before what it
 * carries, so lengths are known when a header is written. And a check of
 * a decoded frame's layers written as "ethernet@0 ipv4@14 ...".
 */
#ifndef NMX_TESTS_DECODE_UTIL_H
#define NMX_TESTS_DECODE_UTIL_H

#include "check.h"

#include <nmexpert/capture.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct pkt {
    uint8_t buf[8192];
    size_t at; /* the packet is buf[at .. sizeof buf) */
} pkt;

static inline void pkt_init(pkt *p) { p->at = sizeof p->buf; }
static inline size_t pkt_len(const pkt *p) { return sizeof p->buf - p->at; }
static inline const uint8_t *pkt_bytes(const pkt *p) { return p->buf + p->at; }

/* Room for n bytes before the packet (zeroed); returns where they are. */
static inline uint8_t *pkt_pre(pkt *p, size_t n) {
    p->at -= n;
    memset(p->buf + p->at, 0, n);
    return p->buf + p->at;
}

static inline void wr16(uint8_t *q, unsigned v) { q[0] = (uint8_t)(v >> 8), q[1] = (uint8_t)v; }
static inline void wr32(uint8_t *q, uint32_t v) { wr16(q, v >> 16), wr16(q + 2, v & 0xffff); }

static inline void pre_bytes(pkt *p, const void *b, size_t n) {
    if (n)
        memcpy(pkt_pre(p, n), b, n);
}
static inline void pre_text(pkt *p, const char *s) { pre_bytes(p, s, strlen(s)); }

static const uint8_t T_A[4] = {10, 0, 0, 1}, T_B[4] = {10, 0, 0, 2}, T_C[4] = {192, 168, 7, 1},
                     T_D[4] = {192, 168, 7, 2};

static inline void pre_udp(pkt *p, unsigned sport, unsigned dport) {
    size_t len = pkt_len(p) + 8;
    uint8_t *h = pkt_pre(p, 8);
    wr16(h, sport), wr16(h + 2, dport), wr16(h + 4, (unsigned)len);
}

static inline void pre_tcp(pkt *p, unsigned sport, unsigned dport, uint32_t seq, uint8_t flags) {
    uint8_t *h = pkt_pre(p, 20);
    wr16(h, sport), wr16(h + 2, dport), wr32(h + 4, seq), wr32(h + 8, 1);
    h[12] = 5 << 4, h[13] = flags, wr16(h + 14, 65535);
}

static inline void pre_ipv4(pkt *p, uint8_t proto, const uint8_t src[4], const uint8_t dst[4]) {
    size_t len = pkt_len(p) + 20;
    uint8_t *h = pkt_pre(p, 20);
    h[0] = 0x45, wr16(h + 2, (unsigned)len), wr16(h + 4, 0x4242), h[8] = 64, h[9] = proto;
    memcpy(h + 12, src, 4), memcpy(h + 16, dst, 4);
}

static inline void pre_ipv6(pkt *p, uint8_t nh, uint8_t src_last, uint8_t dst_last) {
    size_t len = pkt_len(p);
    uint8_t *h = pkt_pre(p, 40);
    h[0] = 0x60, wr16(h + 4, (unsigned)len), h[6] = nh, h[7] = 33;
    h[8] = 0x20, h[9] = 0x01, h[23] = src_last;
    h[24] = 0x20, h[25] = 0x01, h[39] = dst_last;
}

static inline void pre_eth(pkt *p, unsigned et, uint8_t mac_last) {
    uint8_t *h = pkt_pre(p, 14);
    h[5] = mac_last, h[6] = 0x02, h[11] = (uint8_t)(mac_last + 1), wr16(h + 12, et);
}

static inline void pre_vlan(pkt *p, unsigned id, unsigned inner_et) {
    uint8_t *h = pkt_pre(p, 4);
    wr16(h, id), wr16(h + 2, inner_et);
}

/* The layers as "name@offset name@offset ..." */
static inline void layers_text(const nmx_decoded *d, char *out, size_t len) {
    out[0] = 0;
    for (unsigned i = 0; i < d->nlayers; i++) {
        size_t u = strlen(out);
        snprintf(out + u, len - u, "%s%s@%u", i ? " " : "", nmx_proto_name(d->layers[i].proto),
                 d->layers[i].offset);
    }
}

static inline void expect_layers(const nmx_decoded *d, const char *want, int line) {
    char got[1024];
    layers_text(d, got, sizeof got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "line %d: layers\n   %s\nwant\n   %s\n", line, got, want);
    CHECK(strcmp(got, want) == 0);
}
#define EXPECT_LAYERS(d, want) expect_layers((d), (want), __LINE__)

#define DLT_ETH 1

/* Decode a built packet as Ethernet (or another link type). */
static inline void decode_pkt(const pkt *p, int dlt, nmx_decoded *d) {
    nmx_decode(pkt_bytes(p), (uint32_t)pkt_len(p), dlt, d);
}

#endif
