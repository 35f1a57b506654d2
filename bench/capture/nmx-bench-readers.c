/* Reader benchmark: frames per second of a bare libpcap loop
 * (pcap_next_ex), a bare libwiretap loop (wtap_read) and the frame source
 * (nmx__source_next, src/capture/source.h) over the same file, in
 * interleaved rounds; the medians decide which library reads plain pcap
 * (docs/CAPTURES.md). Never a test.
 *
 *   cmake --build BUILD --target nmx-bench-readers && BUILD/bench/capture/nmx-bench-readers [FILE [ROUNDS]]
 *
 * Without FILE, /tmp/nmx-bench-readers-1M.pcap is written (1,000,000
 * Ethernet frames of 60-1514 bytes, about 800 MB) and reused. Every loop
 * touches each frame's first and last byte, so none of them skips the data.
 */
#define _DEFAULT_SOURCE
#include "capture/source.h"

#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <wiretap/wtap.h>

#define SYNTH_PATH "/tmp/nmx-bench-readers-1M.pcap"
#define SYNTH_FRAMES 1000000u

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int synth(const char *path) {
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size > 0)
        return 0;
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = p ? pcap_dump_open(p, path) : NULL;
    if (!d)
        return -1;
    static uint8_t buf[1514];
    uint64_t r = 42;
    for (uint32_t i = 0; i < SYNTH_FRAMES; i++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        unsigned len = 60 + (unsigned)(r >> 33) % 1455;
        memset(buf, (int)i, len);
        buf[12] = 0x08, buf[13] = 0x00;
        struct pcap_pkthdr h = {.ts = {(time_t)(1700000000 + i / 1000), (suseconds_t)(i % 1000) * 1000},
                                .caplen = len, .len = len};
        pcap_dump((u_char *)d, &h, buf);
    }
    pcap_dump_close(d);
    pcap_close(p);
    return 0;
}

/* libpcap on a stdio stream with a 256 KiB buffer, as capture.c used it
 * (the default 4 KiB one costs it about a third) */
static uint64_t loop_pcap(const char *path) {
    char err[PCAP_ERRBUF_SIZE];
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    setvbuf(fp, NULL, _IOFBF, (size_t)1 << 18);
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p)
        fclose(fp);
    uint64_t n = 0, sum = 0;
    struct pcap_pkthdr *h;
    const u_char *b;
    while (p && pcap_next_ex(p, &h, &b) == 1)
        n++, sum += b[0] + b[h->caplen - 1];
    if (p)
        pcap_close(p);
    return n + (sum & 1) * 0;
}

static uint64_t loop_wtap(const char *path) {
    int e;
    gchar *info = NULL;
    wtap *w = wtap_open_offline(path, WTAP_TYPE_AUTO, &e, &info, FALSE);
    wtap_rec rec;
    Buffer buf;
    wtap_rec_init(&rec);
    ws_buffer_init(&buf, 2048);
    uint64_t n = 0, sum = 0;
    gint64 off;
    while (w && wtap_read(w, &rec, &buf, &e, &info, &off)) {
        const uint8_t *b = ws_buffer_start_ptr(&buf);
        n++, sum += b[0] + b[rec.rec_header.packet_header.caplen - 1];
        wtap_rec_reset(&rec);
    }
    if (w)
        wtap_close(w);
    wtap_rec_cleanup(&rec);
    ws_buffer_free(&buf);
    return n + (sum & 1) * 0;
}

static uint64_t loop_source(const char *path) {
    nmx__source *s;
    char err[512];
    if (nmx__source_open(&path, 1, &s, err, sizeof err) != NMERR_SUCCESS)
        return 0;
    nmx__src_frame f;
    uint64_t n = 0, sum = 0;
    while (nmx__source_next(s, &f) == 1)
        n++, sum += f.bytes[0] + f.bytes[f.cap_len - 1];
    nmx__source_close(s);
    return n + (sum & 1) * 0;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : SYNTH_PATH;
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    if (rounds < 1 || rounds > 100 || (argc <= 1 && synth(path) != 0)) {
        fprintf(stderr, "usage: nmx-bench-readers [FILE [ROUNDS 1-100]] (cannot write %s?)\n", path);
        return 2;
    }
    static const char *names[] = {"libpcap pcap_next_ex", "libwiretap wtap_read", "nmx__source_next"};
    uint64_t (*loops[])(const char *) = {loop_pcap, loop_wtap, loop_source};
    double fps[3][100];
    uint64_t frames = 0;
    loop_source(path); /* the first open initialises libwiretap; the page cache warms */
    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < 3; k++) {
            int j = (k + r) % 3; /* rotate the order */
            double t0 = now();
            frames = loops[j](path);
            fps[j][r] = (double)frames / (now() - t0);
        }
    printf("%s: %llu frames, %d interleaved rounds, medians:\n", path, (unsigned long long)frames, rounds);
    for (int k = 0; k < 3; k++) {
        qsort(fps[k], (size_t)rounds, sizeof(double), cmp);
        printf("  %-22s %8.2f Mframes/s\n", names[k], fps[k][rounds / 2] / 1e6);
    }
    return 0;
}
