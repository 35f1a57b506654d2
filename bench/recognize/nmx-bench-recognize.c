/* nmx-bench-recognize: what recognition costs per frame on the capture
 * reader's path (issue 11, item 3 of the dec brief; docs/PERFORMANCE.md).
 *
 *   nmx-bench-recognize [-r ROUNDS] [-c decode|recognize] FILE|DIR...
 *
 * Every frame of the files (a directory: every .pcap/.pcapng below it) is
 * read into memory with libpcap, untimed. Then, ROUNDS times (default 7),
 * interleaved, three loops over all frames, and the median of each:
 *   touch      one byte of every frame (the memory traffic alone);
 *   decode     nmx_decode of every frame;
 *   recognize  nmx__recognize of every frame, one recognizer per file, as
 *              nmx_capture_open calls it.
 * Printed: ns per frame of each and recognize - decode. Built against the
 * library of an older commit (bench/recognize_cost.sh does so) the same
 * program measures that commit's path, so the two builds give what a change
 * added. -c runs one loop once and exits, for
 *   valgrind --tool=callgrind --toggle-collect=recognize_loop ...
 * Never a test.
 */
#define _GNU_SOURCE
#include "capture/capture_internal.h"

#include <pcap/pcap.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct frame {
    size_t off; /* in data */
    uint32_t len;
    int dlt;
    uint32_t file;
} frame;

static uint8_t *data;
static size_t data_len, data_cap;
static frame *frames;
static size_t nframes, frames_cap;
static uint32_t nfiles;

static void add_frame(const uint8_t *b, uint32_t len, int dlt) {
    if (data_len + len > data_cap) {
        data_cap = (data_cap + len) * 2;
        data = realloc(data, data_cap);
    }
    if (nframes == frames_cap) {
        frames_cap = frames_cap ? frames_cap * 2 : 65536;
        frames = realloc(frames, frames_cap * sizeof *frames);
    }
    if (!data || !frames) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    memcpy(data + data_len, b, len);
    frames[nframes++] = (frame){data_len, len, dlt, nfiles};
    data_len += len;
}

static void load(const char *path) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p)
        return;
    struct pcap_pkthdr *h;
    const u_char *b;
    while (pcap_next_ex(p, &h, &b) == 1)
        add_frame(b, h->caplen, pcap_datalink(p));
    pcap_close(p);
    nfiles++;
}

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    size_t n = strlen(path);
    if (type == FTW_F && ((n > 5 && strcmp(path + n - 5, ".pcap") == 0) || (n > 7 && strcmp(path + n - 7, ".pcapng") == 0)))
        load(path);
    return 0;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

__attribute__((noinline)) static uint64_t touch_loop(void) {
    uint64_t sum = 0;
    for (size_t i = 0; i < nframes; i++)
        sum += frames[i].len ? data[frames[i].off] : 0;
    return sum;
}

__attribute__((noinline)) static uint64_t decode_loop(void) {
    uint64_t sum = 0;
    nmx_decoded d;
    for (size_t i = 0; i < nframes; i++)
        sum += nmx_decode(data + frames[i].off, frames[i].len, frames[i].dlt, &d);
    return sum;
}

__attribute__((noinline)) static uint64_t recognize_loop(void) {
    uint64_t sum = 0;
    nmx_decoded d;
    nmx__recognizer *rz = NULL;
    for (size_t i = 0; i < nframes; i++) {
        if (!rz || (i && frames[i].file != frames[i - 1].file)) {
            nmx__recognizer_free(rz);
            rz = nmx__recognizer_new();
        }
        sum += nmx__recognize(rz, data + frames[i].off, frames[i].len, frames[i].dlt, 0, &d);
    }
    nmx__recognizer_free(rz);
    return sum;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int rounds = 7, opt;
    const char *only = NULL;
    while ((opt = getopt(argc, argv, "r:c:")) != -1) {
        if (opt == 'r')
            rounds = atoi(optarg) > 0 ? atoi(optarg) : 1;
        else if (opt == 'c')
            only = optarg;
        else
            return 2;
    }
    if (optind == argc) {
        fprintf(stderr, "usage: %s [-r ROUNDS] [-c decode|recognize] FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = optind; i < argc; i++)
        nftw(argv[i], visit, 16, FTW_PHYS);
    if (!nframes) {
        fprintf(stderr, "no frames\n");
        return 1;
    }
    if (only) {
        uint64_t s = strcmp(only, "decode") == 0 ? decode_loop() : recognize_loop();
        printf("%s: %zu frames (%llu layers)\n", only, nframes, (unsigned long long)s);
        return 0;
    }
    double *t[3];
    for (int k = 0; k < 3; k++)
        t[k] = calloc((size_t)rounds, sizeof(double));
    uint64_t layers[3] = {0};
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 3; k++) {
            double s = now();
            layers[k] = k == 0 ? touch_loop() : k == 1 ? decode_loop() : recognize_loop();
            t[k][r] = (now() - s) * 1e9 / (double)nframes;
        }
    }
    double med[3];
    for (int k = 0; k < 3; k++) {
        qsort(t[k], (size_t)rounds, sizeof(double), by_value);
        med[k] = t[k][rounds / 2];
        free(t[k]);
    }
    printf("%zu frames from %u files (%.0f B per frame), median of %d interleaved rounds\n", nframes, nfiles,
           (double)data_len / (double)nframes, rounds);
    printf("touch      %8.1f ns/frame\n", med[0]);
    printf("decode     %8.1f ns/frame  (%llu layers)\n", med[1], (unsigned long long)layers[1]);
    printf("recognize  %8.1f ns/frame  (%llu layers)\n", med[2], (unsigned long long)layers[2]);
    printf("recognize - decode: %.1f ns/frame\n", med[2] - med[1]);
    free(frames);
    free(data);
    return 0;
}
