/* nmx-ndpi-compare: what nDPI (libndpi 4.2, Debian's) would give for issue
 * 11's per-frame recognition, for docs/RECOGNITION.md's choice.
 *
 *   nmx-ndpi-compare FILE|DIR...   (bench/recognize/ndpi_vs_tshark.sh runs it)
 *
 * Every file is read with libpcap; every frame decoded with nmx_decode
 * (tunnels included), and the innermost IP datagram of each TCP or UDP
 * conversation handed to ndpi_detection_process_packet until nDPI says it
 * is done (as nDPI's own reader does), then ndpi_detection_giveup for
 * the undecided. nDPI classifies conversations, not frames: each frame
 * with payload is labelled with its conversation's final protocol (the
 * most favourable reading for nDPI, since it uses the whole conversation).
 * Output, one line per frame: FILE <tab> FRAME (1-based) <tab> LABEL <tab>
 * OURS, LABEL being nDPI's protocol name lower-cased or "-", OURS the
 * layers nmexpert's recognizer lists (nmx_proto_name, colon-separated);
 * then, on stderr, the time spent in nDPI per frame (only the frames it
 * was given) and per call.
 * Never a test.
 */
#define _GNU_SOURCE
#include "capture/capture_internal.h"

#include <nmexpert/capture.h>

#include <ndpi_api.h>
#include <pcap/pcap.h>

#include <ctype.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct flow {
    uint8_t key[40];
    struct ndpi_flow_struct *nf;
    ndpi_protocol proto;
    int done;
} flow;

static struct ndpi_detection_module_struct *ndpi;
static flow *flows;
static size_t nflows, flows_cap;
static double ndpi_seconds;
static uint64_t ndpi_calls, frames_total;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* A conversation by its two endpoints in canonical order (linear search
 * is enough for test captures; nDPI's time is measured, not ours). */
static flow *flow_of(const nmx_decoded *d) {
    uint8_t a[19] = {0}, b[19] = {0}, key[40] = {0};
    memcpy(a, d->ip_src, 16), a[16] = (uint8_t)(d->sport >> 8), a[17] = (uint8_t)d->sport;
    memcpy(b, d->ip_dst, 16), b[16] = (uint8_t)(d->dport >> 8), b[17] = (uint8_t)d->dport;
    int swap = memcmp(a, b, 18) > 0;
    memcpy(key, swap ? b : a, 18), memcpy(key + 18, swap ? a : b, 18), key[36] = d->ip_proto;
    for (size_t i = 0; i < nflows; i++)
        if (memcmp(flows[i].key, key, sizeof key) == 0)
            return &flows[i];
    if (nflows == flows_cap) {
        flows_cap = flows_cap ? flows_cap * 2 : 256;
        flows = realloc(flows, flows_cap * sizeof *flows);
    }
    flow *f = &flows[nflows++];
    memset(f, 0, sizeof *f);
    memcpy(f->key, key, sizeof key);
    f->nf = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
    memset(f->nf, 0, SIZEOF_FLOW_STRUCT);
    return f;
}

static void label(const flow *f, char *out, size_t len) {
    uint16_t id = f->proto.master_protocol ? f->proto.master_protocol : f->proto.app_protocol;
    if (!f || id == NDPI_PROTOCOL_UNKNOWN) {
        snprintf(out, len, "-");
        return;
    }
    snprintf(out, len, "%s", ndpi_get_proto_name(ndpi, id));
    for (char *c = out; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

static void one_file(const char *path) {
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path, err);
    if (!p)
        return;
    size_t cap = 1024, n = 0;
    long *which = malloc(cap * sizeof *which); /* frame -> flow index, -1: none or no payload */
    char **ours = malloc(cap * sizeof *ours);  /* frame -> our layers */
    nmx__recognizer *rz = nmx__recognizer_new();
    struct pcap_pkthdr *h;
    const u_char *b;
    while (pcap_next_ex(p, &h, &b) == 1) {
        if (n == cap) {
            cap *= 2;
            which = realloc(which, cap * sizeof *which);
            ours = realloc(ours, cap * sizeof *ours);
        }
        which[n] = -1;
        nmx_decoded d;
        nmx__recognize(rz, b, h->caplen, pcap_datalink(p), 0, &d);
        char layers[512] = "";
        for (unsigned i = 0; i < d.nlayers; i++)
            snprintf(layers + strlen(layers), sizeof layers - strlen(layers), "%s%s", i ? ":" : "",
                     nmx_proto_name(d.layers[i].proto));
        ours[n] = strdup(layers);
        nmx_decode(b, h->caplen, pcap_datalink(p), &d);
        frames_total++;
        if ((d.flags & NMX_DEC_L4) && (d.ip_proto == 6 || d.ip_proto == 17) && !d.ip_fragment) {
            flow *f = flow_of(&d);
            uint32_t iplen = h->caplen - d.l3_offset;
            if (!f->done) {
                double s = now();
                f->proto = ndpi_detection_process_packet(ndpi, f->nf, b + d.l3_offset,
                                                         (unsigned short)(iplen > 65535 ? 65535 : iplen),
                                                         (uint64_t)h->ts.tv_sec * 1000 + (uint64_t)h->ts.tv_usec / 1000000);
                ndpi_seconds += now() - s;
                ndpi_calls++;
                f->done = f->proto.app_protocol != NDPI_PROTOCOL_UNKNOWN && !ndpi_extra_dissection_possible(ndpi, f->nf);
            }
            if (d.payload_len)
                which[n] = (long)(f - flows);
        }
        n++;
    }
    pcap_close(p);
    for (size_t i = 0; i < nflows; i++) {
        if (flows[i].proto.app_protocol == NDPI_PROTOCOL_UNKNOWN && flows[i].proto.master_protocol == NDPI_PROTOCOL_UNKNOWN) {
            uint8_t guessed = 0;
            flows[i].proto = ndpi_detection_giveup(ndpi, flows[i].nf, 0, &guessed);
        }
    }
    for (size_t i = 0; i < n; i++) {
        char name[64] = "-";
        if (which[i] >= 0)
            label(&flows[which[i]], name, sizeof name);
        printf("%s\t%zu\t%s\t%s\n", path, i + 1, name, ours[i]);
        free(ours[i]);
    }
    free(ours);
    nmx__recognizer_free(rz);
    for (size_t i = 0; i < nflows; i++)
        ndpi_flow_free(flows[i].nf);
    nflows = 0;
    free(which);
}

static char **paths;
static size_t npaths;

static int visit(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    size_t n = strlen(path);
    if (type == FTW_F && ((n > 5 && strcmp(path + n - 5, ".pcap") == 0) || (n > 7 && strcmp(path + n - 7, ".pcapng") == 0))) {
        paths = realloc(paths, (npaths + 1) * sizeof *paths);
        paths[npaths++] = strdup(path);
    }
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    ndpi = ndpi_init_detection_module(ndpi_no_prefs);
    if (!ndpi)
        return 1;
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(ndpi, &all);
    ndpi_finalize_initialization(ndpi);
    for (int i = 1; i < argc; i++)
        nftw(argv[i], visit, 16, FTW_PHYS);
    qsort(paths, npaths, sizeof *paths, by_name);
    for (size_t i = 0; i < npaths; i++) {
        one_file(paths[i]);
        free(paths[i]);
    }
    free(paths);
    free(flows);
    fprintf(stderr, "ndpi: %llu frames, %llu calls to ndpi_detection_process_packet, %.1f ns per frame, %.1f ns per call\n",
            (unsigned long long)frames_total, (unsigned long long)ndpi_calls,
            frames_total ? ndpi_seconds * 1e9 / (double)frames_total : 0.0,
            ndpi_calls ? ndpi_seconds * 1e9 / (double)ndpi_calls : 0.0);
    ndpi_exit_detection_module(ndpi);
    return 0;
}
