/* Helpers for the capture tests: write small pcap / pcapng files byte by
 * byte (so byte order, precision and damage are under the test's control),
 * build frames, find the shared corpus. */
#ifndef NMX_TESTS_CAPTURE_UTIL_H
#define NMX_TESTS_CAPTURE_UTIL_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct tframe {
    const uint8_t *b;
    uint32_t caplen, len;
    int64_t ts_ns;
    uint32_t iface; /* pcapng only */
} tframe;

static inline void put16(FILE *f, uint16_t v, int be) {
    uint8_t b[2] = {(uint8_t)(be ? v >> 8 : v), (uint8_t)(be ? v : v >> 8)};
    fwrite(b, 1, 2, f);
}

static inline void put32(FILE *f, uint32_t v, int be) {
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[be ? 3 - i : i] = (uint8_t)(v >> (8 * i));
    fwrite(b, 1, 4, f);
}

/* A classic pcap file. be: big-endian file; nano: nanosecond magic. */
static inline int write_pcap(const char *path, uint32_t linktype, int be, int nano, const tframe *fr, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    put32(f, nano ? 0xa1b23c4du : 0xa1b2c3d4u, be);
    put16(f, 2, be);
    put16(f, 4, be);
    put32(f, 0, be);
    put32(f, 0, be);
    put32(f, 262144, be);
    put32(f, linktype, be);
    for (size_t i = 0; i < n; i++) {
        int64_t sec = fr[i].ts_ns / 1000000000, frac = fr[i].ts_ns % 1000000000;
        put32(f, (uint32_t)sec, be);
        put32(f, (uint32_t)(nano ? frac : frac / 1000), be);
        put32(f, fr[i].caplen, be);
        put32(f, fr[i].len, be);
        fwrite(fr[i].b, 1, fr[i].caplen, f);
    }
    return fclose(f) == 0;
}

/* pcapng: a section header, then for each of the nlt interfaces an IDB
 * (nanosecond resolution) and the frames as EPBs. sections > 1 repeats the
 * SHB + IDBs before frame k*n/sections (tests of multi-section files). */
static inline void pcapng_shb(FILE *f) {
    put32(f, 0x0a0d0d0au, 0);
    put32(f, 28, 0);
    put32(f, 0x1a2b3c4du, 0);
    put16(f, 1, 0);
    put16(f, 0, 0);
    put32(f, 0xffffffffu, 0);
    put32(f, 0xffffffffu, 0);
    put32(f, 28, 0);
}

static inline void pcapng_idb(FILE *f, uint32_t linktype) {
    put32(f, 1, 0);
    put32(f, 32, 0);
    put16(f, (uint16_t)linktype, 0);
    put16(f, 0, 0);
    put32(f, 262144, 0);
    put16(f, 9, 0); /* if_tsresol */
    put16(f, 1, 0);
    uint8_t res[4] = {9, 0, 0, 0};
    fwrite(res, 1, 4, f);
    put32(f, 0, 0); /* opt_endofopt */
    put32(f, 32, 0);
}

static inline void pcapng_epb(FILE *f, const tframe *fr) {
    uint32_t pad = (4 - fr->caplen % 4) % 4, len = 32 + fr->caplen + pad;
    uint64_t ts = (uint64_t)fr->ts_ns;
    put32(f, 6, 0);
    put32(f, len, 0);
    put32(f, fr->iface, 0);
    put32(f, (uint32_t)(ts >> 32), 0);
    put32(f, (uint32_t)ts, 0);
    put32(f, fr->caplen, 0);
    put32(f, fr->len, 0);
    fwrite(fr->b, 1, fr->caplen, f);
    uint8_t z[4] = {0};
    fwrite(z, 1, pad, f);
    put32(f, len, 0);
}

static inline int write_pcapng(const char *path, const uint32_t *lts, size_t nlt, const tframe *fr, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    pcapng_shb(f);
    for (size_t i = 0; i < nlt; i++)
        pcapng_idb(f, lts[i]);
    for (size_t i = 0; i < n; i++)
        pcapng_epb(f, &fr[i]);
    return fclose(f) == 0;
}

/* ---- frames ---- */

static inline size_t eth_hdr(uint8_t *p, uint16_t et) {
    static const uint8_t dst[6] = {0x00, 0x11, 0x22, 0x33, 0x44, 0x55}, src[6] = {0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb};
    memcpy(p, dst, 6);
    memcpy(p + 6, src, 6);
    p[12] = (uint8_t)(et >> 8);
    p[13] = (uint8_t)et;
    return 14;
}

/* IPv4 header with `optlen` bytes of options (NOPs), for `l4len` bytes of
 * payload. frag: the 16-bit flags/fragment-offset field. */
static inline size_t ipv4_hdr(uint8_t *p, uint8_t proto, size_t optlen, size_t l4len, uint16_t frag, const uint8_t src[4],
                       const uint8_t dst[4]) {
    size_t hl = 20 + optlen, tot = hl + l4len;
    memset(p, 0, hl);
    p[0] = (uint8_t)(0x40 | hl / 4);
    p[2] = (uint8_t)(tot >> 8);
    p[3] = (uint8_t)tot;
    p[4] = 0x12;
    p[5] = 0x34;
    p[6] = (uint8_t)(frag >> 8);
    p[7] = (uint8_t)frag;
    p[8] = 64;
    p[9] = proto;
    memcpy(p + 12, src, 4);
    memcpy(p + 16, dst, 4);
    memset(p + 20, 1, optlen);
    return hl;
}

static inline size_t tcp_hdr(uint8_t *p, uint16_t sport, uint16_t dport, uint32_t seq, uint8_t flags, size_t optlen) {
    size_t hl = 20 + optlen;
    memset(p, 0, hl);
    p[0] = (uint8_t)(sport >> 8);
    p[1] = (uint8_t)sport;
    p[2] = (uint8_t)(dport >> 8);
    p[3] = (uint8_t)dport;
    p[4] = (uint8_t)(seq >> 24);
    p[5] = (uint8_t)(seq >> 16);
    p[6] = (uint8_t)(seq >> 8);
    p[7] = (uint8_t)seq;
    p[11] = 1; /* ack 1 */
    p[12] = (uint8_t)(hl / 4 << 4);
    p[13] = flags;
    p[14] = 0xff;
    p[15] = 0xf0;
    memset(p + 20, 1, optlen);
    return hl;
}

static inline size_t udp_hdr(uint8_t *p, uint16_t sport, uint16_t dport, size_t paylen) {
    size_t l = 8 + paylen;
    p[0] = (uint8_t)(sport >> 8);
    p[1] = (uint8_t)sport;
    p[2] = (uint8_t)(dport >> 8);
    p[3] = (uint8_t)dport;
    p[4] = (uint8_t)(l >> 8);
    p[5] = (uint8_t)l;
    p[6] = p[7] = 0;
    return 8;
}

/* ---- the shared corpus ---- */

/* $NMX_SHARED_DIR, else ../shared beside the source tree. */
static inline const char *shared_dir(void) {
    static char buf[4096];
    const char *e = getenv("NMX_SHARED_DIR");
    if (e && *e)
        return e;
    snprintf(buf, sizeof buf, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (!slash)
        return "../shared";
    snprintf(slash, sizeof buf - (size_t)(slash - buf), "/../../shared");
    return buf;
}

/* Call found(path, name, arg) for every regular file under dir, folders
 * walked recursively, names starting with '.' skipped, in readdir order. */
static inline void tcu_walk(const char *dir, void (*found)(const char *path, const char *name, void *arg),
                            void *arg) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        struct stat st;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p || stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode))
            tcu_walk(p, found, arg);
        else
            found(p, e->d_name, arg);
    }
    closedir(d);
}

#endif
