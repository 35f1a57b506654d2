/* Recognition against tshark on the shared zeek corpus (SPEC C1, C5): the
 * layers we decode agree with tshark's frame.protocols on every frame of the
 * zeek corpus. The frames we read are written into one pcapng with a section
 * per file and tshark dissects it in one run. Nothing is cached: the pcapng
 * goes to a temporary directory removed at the end. Without the corpus or
 * tshark the test skips.
 */
#define _DEFAULT_SOURCE /* mkdtemp, strdup, popen */
#define _XOPEN_SOURCE 700 /* nftw */
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];
static char corpus[8192];
static char **files; /* the zeek corpus, sorted by path */
static size_t nfiles, files_cap;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *base(const char *p) {
    size_t n = strlen(corpus);
    return strncmp(p, corpus, n) == 0 ? p + n + 1 : p;
}

static int add_capture(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)ftw;
    size_t n = strlen(path);
    int is_cap = (n > 5 && strcmp(path + n - 5, ".pcap") == 0) || (n > 7 && strcmp(path + n - 7, ".pcapng") == 0);
    if (type != FTW_F || !is_cap)
        return 0;
    if (nfiles == files_cap) {
        files_cap = files_cap ? files_cap * 2 : 512;
        files = realloc(files, files_cap * sizeof *files);
    }
    files[nfiles++] = strdup(path);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

enum { L_ETH = 1, L_VLAN, L_SLL, L_NULL, L_ARP, L_IP, L_IP6, L_TCP, L_UDP, L_ICMP, L_ICMP6 };

static int our_kind(unsigned proto) {
    switch (proto) {
    case NMX_PROTO_ETHERNET: return L_ETH;
    case NMX_PROTO_VLAN: return L_VLAN;
    case NMX_PROTO_SLL:
    case NMX_PROTO_SLL2: return L_SLL;
    case NMX_PROTO_NULL: return L_NULL;
    case NMX_PROTO_ARP: return L_ARP;
    case NMX_PROTO_IPV4: return L_IP;
    case NMX_PROTO_IPV6: return L_IP6;
    case NMX_PROTO_TCP: return L_TCP;
    case NMX_PROTO_UDP: return L_UDP;
    case NMX_PROTO_ICMP: return L_ICMP;
    case NMX_PROTO_ICMPV6: return L_ICMP6;
    default: return 0;
    }
}

static int terminal(int k) { return k == L_ARP || k == L_TCP || k == L_UDP || k == L_ICMP || k == L_ICMP6; }

/* tshark's name: >0 a layer of ours, 0 transparent (skipped), -1 something
 * we do not decode (the comparison stops there). */
static int tshark_kind(const char *t) {
    static const struct { const char *n; int k; } map[] = {
        {"eth", L_ETH},   {"vlan", L_VLAN},  {"ieee8021ad", L_VLAN}, {"sll", L_SLL},   {"null", L_NULL},
        {"arp", L_ARP},    {"ip", L_IP},           {"ipv6", L_IP6},  {"tcp", L_TCP},
        {"udp", L_UDP},   {"icmp", L_ICMP},  {"icmpv6", L_ICMP6},    {"frame", 0},     {"ethertype", 0},
        {"raw", 0},       {"ipv6.hopopts", 0}, {"ipv6.routing", 0},  {"ipv6.fraghdr", 0}, {"ipv6.dstopts", 0},
        {"ah", 0},        {"vlan.etype", 0},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(t, map[i].n) == 0)
            return map[i].k;
    return -1;
}

/* tshark's layers up to its first transport layer, or up to the first
 * protocol we do not decode, or up to a second network layer (tunnels). */
static int tshark_layers(char *line, int *out, int max) {
    int n = 0, net = 0;
    for (char *tok = strtok(line, ":\n"); tok && n < max; tok = strtok(NULL, ":\n")) {
        int k = tshark_kind(tok);
        if (k == 0)
            continue;
        if (k < 0)
            break;
        if (k == L_IP || k == L_IP6) {
            if (net++)
                break; /* IP in IP: a tunnel */
        } else if (net && k != L_TCP && k != L_UDP && k != L_ICMP && k != L_ICMP6) {
            break; /* a link layer after IP: a tunnel */
        }
        out[n++] = k;
        if (terminal(k))
            break;
    }
    return n;
}

static int our_layers(const RECOGNIZEDATATABLE *t, int *out, int max) {
    int n = 0;
    for (unsigned i = 0; i < t->nRecognizeDatas && n < max; i++) {
        int k = our_kind(t->RecognizeData[i].ProtocolID);
        if (!k)
            break;
        out[n++] = k;
        if (terminal(k))
            break;
    }
    return n;
}

static uint32_t dlt_to_linktype(int dlt) { return dlt == 12 ? 101u : (uint32_t)dlt; }

static const char *kind_name(int k) {
    static const char *n[] = {"?", "eth", "vlan", "sll", "null", "arp", "ip", "ipv6", "tcp", "udp", "icmp", "icmpv6"};
    return k >= 0 && k <= L_ICMP6 ? n[k] : "?";
}

static void fmt_layers(char *buf, size_t len, const int *k, int n) {
    buf[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s", i ? ":" : "", kind_name(k[i]));
    }
}

/* C1, C5 */
TEST(test_c1_decoded_layers_agree_with_tshark_on_the_zeek_corpus) {
    double t0 = now_s();
    char all[512];
    snprintf(all, sizeof all, "%s/zeek-all.pcapng", tmpdir);
    FILE *w = fopen(all, "wb");
    CHECK(w != NULL);
    if (!w)
        return;
    /* which file each written frame came from */
    size_t nmap = 0, map_cap = 1 << 16;
    uint32_t *map_file = malloc(map_cap * sizeof *map_file), *map_frame = malloc(map_cap * sizeof *map_frame);
    for (size_t i = 0; i < nfiles; i++) {
        nmx_capture *cap = NULL;
        if (nmx_capture_open(files[i], &cap, NULL, 0) != NMERR_SUCCESS)
            continue;
        pcapng_shb(w);
        pcapng_idb(w, dlt_to_linktype(nmx_capture_link_type(cap)));
        for (uint32_t k = 0; k < nmx_capture_frames(cap); k++) {
            nmx_frame fr;
            nmx_capture_frame(cap, k, &fr);
            tframe t = {fr.bytes, fr.cap_len, fr.wire_len, fr.ts_ns, 0};
            pcapng_epb(w, &t);
            if (nmap == map_cap) {
                map_cap *= 2;
                map_file = realloc(map_file, map_cap * sizeof *map_file);
                map_frame = realloc(map_frame, map_cap * sizeof *map_frame);
            }
            map_file[nmap] = (uint32_t)i, map_frame[nmap] = k, nmap++;
        }
        nmx_capture_close(cap);
    }
    fclose(w);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "tshark -n -o ip.defragment:FALSE -o ipv6.defragment:FALSE -r '%s' -T fields -e frame.protocols "
             "2>/dev/null",
             all);
    FILE *f = popen(cmd, "r");
    CHECK(f != NULL);
    char line[4096];
    size_t row = 0, agree = 0, disagree = 0;
    size_t cur_file = SIZE_MAX;
    nmx_capture *cap = NULL;
    while (f && fgets(line, sizeof line, f)) {
        if (row >= nmap) {
            row++;
            continue;
        }
        if (map_file[row] != cur_file) {
            if (cap)
                nmx_capture_close(cap);
            cur_file = map_file[row];
            cap = NULL;
            nmx_capture_open(files[cur_file], &cap, NULL, 0);
        }
        nmx_frame fr;
        int ours[NMX_DECODE_MAX_LAYERS], theirs[NMX_DECODE_MAX_LAYERS];
        int no = 0, nt;
        if (cap && nmx_capture_frame(cap, map_frame[row], &fr) == NMERR_SUCCESS)
            no = our_layers(fr.recognized, ours, NMX_DECODE_MAX_LAYERS);
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", line);
        nt = tshark_layers(line, theirs, NMX_DECODE_MAX_LAYERS);
        /* tshark stopped at something we do not decode: compare what both have */
        int n = no < nt ? no : nt;
        int eq = memcmp(ours, theirs, (size_t)n * sizeof(int)) == 0 && (no == nt || no > nt);
        if (no > nt) {
            /* we went deeper: only acceptable where tshark stopped at a protocol we treat as ours */
            eq = 0;
        }
        if (eq) {
            agree++;
        } else {
            disagree++;
            if (disagree <= 40) {
                char a[256], b[256];
                fmt_layers(a, sizeof a, ours, no);
                fmt_layers(b, sizeof b, theirs, nt);
                copy[strcspn(copy, "\n")] = 0;
                fprintf(stderr, "     layers differ: %s frame %u: ours %s, tshark %s (%s)\n",
                        base(files[cur_file]), map_frame[row], a, b, copy);
            }
        }
        row++;
    }
    if (cap)
        nmx_capture_close(cap);
    if (f)
        pclose(f);
    CHECK_EQ(row, nmap);
    CHECK_EQ(disagree, 0);
    printf("     zeek corpus: %zu frames, %zu agree with tshark, %zu differ (%.1f s)\n", nmap, agree, disagree,
           now_s() - t0);
    remove(all);
    free(map_file);
    free(map_frame);
}


int main(int argc, char **argv) {
    CHECK_INIT(argc, argv);
    snprintf(corpus, sizeof corpus, "%s/captures", shared_dir());
    char zeek[8300];
    snprintf(zeek, sizeof zeek, "%s/zeek", corpus);
    nftw(zeek, add_capture, 16, FTW_PHYS);
    if (nfiles == 0) {
        SKIP_TEST(test_c1_decoded_layers_agree_with_tshark_on_the_zeek_corpus, "no captures under $NMX_SHARED_DIR/captures/zeek");
        return CHECK_DONE();
    }
    qsort(files, nfiles, sizeof *files, by_name);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_test_recognize_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    if (system("tshark -v >/dev/null 2>&1") == 0)
        RUN_CORPUS(test_c1_decoded_layers_agree_with_tshark_on_the_zeek_corpus);
    else
        SKIP_TEST(test_c1_decoded_layers_agree_with_tshark_on_the_zeek_corpus, "tshark not installed");
    rmdir(tmpdir);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return CHECK_DONE();
}
