/* Capture layer: reading, iteration, filters, Netmon frame functions,
 * decoding, damaged files (SPEC C1-C7), on small captures the tests write. */
#define _DEFAULT_SOURCE /* mkdtemp */
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LT_ETH 1
#define LT_NULL 0
#define LT_RAW 101
#define DLT_RAW_LINUX 12
#define LT_LOOP 108
#define LT_SLL 113
#define LT_SLL2 276
#define LT_IPV4 228
#define LT_IPV6 229

static char tmpdir[256];

static const char *tmp(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static const uint8_t A[4] = {10, 0, 0, 1}, B[4] = {10, 0, 0, 2};

/* The five frames of the standard test capture: TCP :80, UDP :53, TCP :443,
 * ARP, ICMP echo. */
static uint8_t fb[5][128];
static tframe tf[5];

static void build_frames(void) {
    size_t o;
    uint8_t *p;
    /* 0: eth / ipv4 / tcp 1234 -> 80, 10 bytes of payload */
    p = fb[0];
    o = eth_hdr(p, 0x0800);
    o += ipv4_hdr(p + o, 6, 0, 30, 0, A, B);
    o += tcp_hdr(p + o, 1234, 80, 1000, 0x18, 0);
    memset(p + o, 'x', 10);
    o += 10;
    tf[0] = (tframe){p, (uint32_t)o, (uint32_t)o, 1700000000123456789LL, 0};
    /* 1: eth / ipv4 / udp 5353 -> 53, 4 bytes */
    p = fb[1];
    o = eth_hdr(p, 0x0800);
    o += ipv4_hdr(p + o, 17, 0, 12, 0, B, A);
    o += udp_hdr(p + o, 5353, 53, 4);
    memset(p + o, 'y', 4);
    o += 4;
    tf[1] = (tframe){p, (uint32_t)o, (uint32_t)o + 100, 1700000001000000001LL, 0}; /* snapped */
    /* 2: eth / ipv4 / tcp 443, no payload, padded to 60 */
    p = fb[2];
    memset(p, 0, 60);
    o = eth_hdr(p, 0x0800);
    o += ipv4_hdr(p + o, 6, 0, 20, 0, A, B);
    o += tcp_hdr(p + o, 50000, 443, 7, 0x02, 0);
    tf[2] = (tframe){p, 60, 60, 1700000002999999999LL, 0};
    /* 3: eth / arp request */
    p = fb[3];
    memset(p, 0, 60);
    o = eth_hdr(p, 0x0806);
    p[o + 1] = 1, p[o + 2] = 8, p[o + 4] = 6, p[o + 5] = 4, p[o + 7] = 1;
    tf[3] = (tframe){p, 60, 60, 1700000003000000000LL, 0};
    /* 4: eth / ipv4 / icmp echo request, 8 bytes of data */
    p = fb[4];
    o = eth_hdr(p, 0x0800);
    o += ipv4_hdr(p + o, 1, 0, 16, 0, A, B);
    p[o] = 8, p[o + 1] = 0;
    memset(p + o + 2, 0, 6);
    memset(p + o + 8, 'z', 8);
    o += 16;
    tf[4] = (tframe){p, (uint32_t)o, (uint32_t)o, 1700000004000000000LL, 0};
}

static nmx_capture *open_ok(const char *path) {
    nmx_capture *cap = NULL;
    char err[512];
    DWORD rc = nmx_capture_open(path, &cap, err, sizeof err);
    if (rc != NMERR_SUCCESS)
        fprintf(stderr, "open %s: %u %s\n", path, rc, err);
    CHECK_EQ(rc, NMERR_SUCCESS);
    return cap;
}

static nmx_capture *std_capture(void) {
    const char *p = tmp("std.pcap");
    CHECK(write_pcap(p, LT_ETH, 0, 1, tf, 5));
    return open_ok(p);
}

static nmx_filter *filter(nmx_capture *cap, const char *expr) {
    nmx_filter *f = NULL;
    char err[256];
    DWORD rc = nmx_filter_create(cap, expr, &f, err, sizeof err);
    if (rc)
        fprintf(stderr, "filter %s: %s\n", expr, err);
    CHECK_EQ(rc, NMERR_SUCCESS);
    return f;
}

/* Walk in `dir` from INVALID_FRAME_NUMBER; the frame numbers into out. */
static int walk(nmx_capture *cap, nmx_filter *hf, nmx_filter *ef, DWORD dir, DWORD flags, DWORD *out, int max) {
    EXPERTFRAMEDESCRIPTOR d;
    DWORD n = INVALID_FRAME_NUMBER;
    int k = 0;
    DWORD rc;
    while ((rc = nmx__capture_get_frame(cap, hf, ef, dir, flags, n, &d)) == NMERR_SUCCESS && k < max) {
        out[k++] = d.FrameNumber;
        n = d.FrameNumber;
    }
    CHECK_EQ(rc, NMERR_NO_MORE_FRAMES);
    return k;
}

/* ---- C1: formats ---- */

/* C1 */
TEST(test_c1_reads_pcap_in_both_byte_orders_and_precisions) {
    for (int be = 0; be < 2; be++)
        for (int nano = 0; nano < 2; nano++) {
            const char *p = tmp("v.pcap");
            CHECK(write_pcap(p, LT_ETH, be, nano, tf, 5));
            nmx_capture *cap = open_ok(p);
            if (!cap)
                continue;
            CHECK_EQ(nmx_capture_frames(cap), 5);
            CHECK(nmx_capture_error(cap) == NULL);
            CHECK_EQ(nmx_capture_link_type(cap), LT_ETH);
            nmx_capture_info in;
            CHECK_EQ(nmx_capture_get_info(cap, &in), NMERR_SUCCESS);
            CHECK_EQ(in.format, NMX_FORMAT_PCAP);
            CHECK_EQ(in.swapped, be); /* the host is little-endian */
            CHECK_EQ(in.ts_digits, nano ? 9 : 6);
            CHECK_EQ(in.frames, 5);
            uint64_t wire = 0, capt = 0;
            for (int i = 0; i < 5; i++) {
                nmx_frame f;
                CHECK_EQ(nmx_capture_frame(cap, (DWORD)i, &f), NMERR_SUCCESS);
                int64_t want = nano ? tf[i].ts_ns : tf[i].ts_ns / 1000 * 1000;
                CHECK_EQ(f.ts_ns, want);
                CHECK_EQ(f.wire_len, tf[i].len);
                CHECK_EQ(f.cap_len, tf[i].caplen);
                CHECK(memcmp(f.bytes, tf[i].b, tf[i].caplen) == 0);
                wire += tf[i].len;
                capt += tf[i].caplen;
            }
            CHECK_EQ(in.wire_bytes, wire);
            CHECK_EQ(in.captured_bytes, capt);
            CHECK_EQ(in.first_ts, nano ? tf[0].ts_ns : tf[0].ts_ns / 1000 * 1000);
            CHECK_EQ(in.last_ts, tf[4].ts_ns);
            CHECK_EQ(in.earliest_ts, in.first_ts);
            CHECK_EQ(in.latest_ts, in.last_ts);
            struct stat st;
            CHECK(stat(p, &st) == 0 && in.file_bytes == (uint64_t)st.st_size);
            CHECK_EQ(nmx_capture_close(cap), NMERR_SUCCESS);
        }
}

/* C1 */
TEST(test_c1_reads_pcapng_with_nanosecond_time_stamps) {
    const char *p = tmp("a.pcapng");
    uint32_t lt = LT_ETH;
    CHECK(write_pcapng(p, &lt, 1, tf, 5));
    nmx_capture *cap = open_ok(p);
    if (!cap)
        return;
    nmx_capture_info in;
    nmx_capture_get_info(cap, &in);
    CHECK_EQ(in.format, NMX_FORMAT_PCAPNG);
    CHECK_EQ(in.frames, 5);
    CHECK(in.error == NULL);
    for (int i = 0; i < 5; i++) {
        nmx_frame f;
        CHECK_EQ(nmx_capture_frame(cap, (DWORD)i, &f), NMERR_SUCCESS);
        CHECK_EQ(f.ts_ns, tf[i].ts_ns);
        CHECK_EQ(f.wire_len, tf[i].len);
        CHECK(memcmp(f.bytes, tf[i].b, f.cap_len) == 0);
    }
    nmx_capture_close(cap);
}

/* C1 */
TEST(test_c1_empty_capture_opens_with_no_frames) {
    const char *p = tmp("empty.pcap");
    CHECK(write_pcap(p, LT_ETH, 0, 0, NULL, 0));
    nmx_capture *cap = open_ok(p);
    if (!cap)
        return;
    CHECK_EQ(nmx_capture_frames(cap), 0);
    EXPERTFRAMEDESCRIPTOR d;
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, INVALID_FRAME_NUMBER, &d),
             NMERR_NO_MORE_FRAMES);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, INVALID_FRAME_NUMBER, &d),
             NMERR_NO_MORE_FRAMES);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 0, &d), NMERR_FRAME_NOT_FOUND);
    nmx_filter *f = filter(cap, "tcp");
    CHECK_EQ(nmx_filter_destroy(f), NMERR_SUCCESS);
    nmx_capture_close(cap);
}

/* ---- C6: damage ---- */

/* C6 */
TEST(test_c6_truncated_file_keeps_the_frames_before_and_names_the_problem) {
    const char *p = tmp("cut.pcap");
    CHECK(write_pcap(p, LT_ETH, 0, 0, tf, 5));
    struct stat st;
    CHECK(stat(p, &st) == 0);
    CHECK(truncate(p, st.st_size - 5) == 0); /* inside the last frame's bytes */
    nmx_capture *cap = open_ok(p);
    if (!cap)
        return;
    CHECK_EQ(nmx_capture_frames(cap), 4);
    const char *e = nmx_capture_error(cap);
    CHECK(e && strstr(e, p) && strstr(e, "frame 4") && strstr(e, "truncated"));
    if (e)
        printf("     (error: %s)\n", e);
    nmx_capture_close(cap);

    CHECK(truncate(p, 24 + 16 + 3) == 0); /* inside the first record header... plus 3 bytes of data */
    cap = open_ok(p);
    if (cap) {
        CHECK_EQ(nmx_capture_frames(cap), 0);
        CHECK(nmx_capture_error(cap) != NULL);
        nmx_capture_close(cap);
    }
}

/* C6 */
TEST(test_c6_pcapng_link_type_change_is_read_past) {
    const char *p = tmp("lt.pcapng");
    FILE *f = fopen(p, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    pcapng_shb(f);
    pcapng_idb(f, LT_ETH);
    pcapng_epb(f, &tf[0]);
    pcapng_epb(f, &tf[1]);
    pcapng_idb(f, LT_RAW);
    tframe raw = tf[0];
    raw.b += 14, raw.caplen -= 14, raw.len -= 14, raw.iface = 1;
    pcapng_epb(f, &raw);
    fclose(f);
    nmx_capture *cap = open_ok(p);
    if (!cap)
        return;
    /* libwiretap reads on past it (libpcap could not) */
    CHECK_EQ(nmx_capture_frames(cap), 3);
    CHECK(nmx_capture_error(cap) == NULL);
    int lts[2];
    CHECK_EQ(nmx_capture_link_types(cap, lts, 2), 2);
    CHECK(lts[0] == 1 && lts[1] == 12); /* EN10MB, then RAW (LINKTYPE_RAW 101 is DLT_RAW) */
    nmx_capture_close(cap);
}

/* C6 */
TEST(test_c6_open_errors_say_what_and_where) {
    nmx_capture *cap = (nmx_capture *)1;
    char err[512];
    CHECK_EQ(nmx_capture_open(tmp("does-not-exist.pcap"), &cap, err, sizeof err), NMERR_FILE_NOT_FOUND);
    CHECK(cap == NULL);
    CHECK(strstr(err, "does-not-exist.pcap") != NULL);

    const char *p = tmp("text.pcap");
    FILE *f = fopen(p, "w");
    fputs("this is not a capture file, just some text long enough for a header\n", f);
    fclose(f);
    CHECK_EQ(nmx_capture_open(p, &cap, err, sizeof err), NMERR_INVALID_FILE_FORMAT);
    CHECK(cap == NULL && strstr(err, p) && strlen(err) > strlen(p) + 2);
    printf("     (not a capture: %s)\n", err);

    p = tmp("zero.pcap");
    f = fopen(p, "w");
    fclose(f);
    CHECK_EQ(nmx_capture_open(p, &cap, err, sizeof err), NMERR_INVALID_FILE_FORMAT);

    CHECK_EQ(nmx_capture_open(tmp("no-such-dir/x.pcap"), &cap, err, sizeof err), NMERR_FILE_NOT_FOUND);
    CHECK_EQ(nmx_capture_open(NULL, &cap, err, sizeof err), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_capture_open(p, NULL, NULL, 0), NMERR_INVALID_PARAMETER);
    /* a tiny errbuf is cut and terminated */
    char small[8];
    CHECK_EQ(nmx_capture_open(tmp("nope"), &cap, small, sizeof small), NMERR_FILE_NOT_FOUND);
    CHECK_EQ(strlen(small), 7);
}

/* ---- C2, C3: iteration ---- */

/* C2 */
TEST(test_c2_forward_walk_from_invalid_frame_number_visits_every_frame) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    DWORD got[8];
    int n = walk(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, got, 8);
    CHECK_EQ(n, 5);
    for (int i = 0; i < n; i++)
        CHECK_EQ(got[i], i);
    nmx_capture_close(cap);
}

/* C2: NEXT_BACKWARD from INVALID_FRAME_NUMBER starts at the last frame */
TEST(test_c2_backward_walk_from_invalid_frame_number_starts_at_the_last_frame) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    DWORD got[8];
    int n = walk(cap, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, got, 8);
    CHECK_EQ(n, 5);
    for (int i = 0; i < n; i++)
        CHECK_EQ(got[i], 4 - i);
    nmx_capture_close(cap);
}

/* C2 */
TEST(test_c2_next_is_strictly_after_or_before_the_given_number) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    EXPERTFRAMEDESCRIPTOR d;
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, 2, &d), NMERR_SUCCESS);
    CHECK_EQ(d.FrameNumber, 3);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, 2, &d), NMERR_SUCCESS);
    CHECK_EQ(d.FrameNumber, 1);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 2, &d), NMERR_SUCCESS);
    CHECK_EQ(d.FrameNumber, 2);
    /* backward from beyond the end: the last frame */
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, 1000, &d), NMERR_SUCCESS);
    CHECK_EQ(d.FrameNumber, 4);
    nmx_capture_close(cap);
}

/* C3 */
TEST(test_c3_end_codes) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    EXPERTFRAMEDESCRIPTOR d, before;
    memset(&d, 0xab, sizeof d);
    before = d;
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, 4, &d), NMERR_NO_MORE_FRAMES);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, 99, &d), NMERR_NO_MORE_FRAMES);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_FRAME_NEXT_BACKWARD, 0, 0, &d), NMERR_NO_MORE_FRAMES);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 5, &d), NMERR_FRAME_NOT_FOUND);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, INVALID_FRAME_NUMBER, &d),
             NMERR_FRAME_NOT_FOUND);
    nmx_filter *tcp = filter(cap, "tcp");
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, tcp, GET_SPECIFIED_FRAME, 0, 1, &d), NMERR_FRAME_FAILED_FILTER);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, tcp, GET_FRAME_NEXT_FORWARD, 0, 2, &d), NMERR_NO_MORE_FRAMES);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, 3, 0, 0, &d), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, 0xffffffffu, 0, 0, &d), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 0, NULL), NMERR_INVALID_PARAMETER);
    CHECK(memcmp(&d, &before, sizeof d) == 0); /* failures leave the descriptor alone */
    CHECK_EQ(NMERR_NO_MORE_FRAMES, 5);
    CHECK_EQ(NMERR_FRAME_NOT_FOUND, 51);
    CHECK_EQ(NMERR_FRAME_FAILED_FILTER, 124);
    nmx_filter_destroy(tcp);
    nmx_capture_close(cap);
}

/* ---- C4: filters ---- */

/* C4: without FLAGS_DEFER_TO_UI_FILTER only the expert's filter applies */
TEST(test_c4_expert_filter_alone_and_host_filter_ignored_without_defer) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    nmx_filter *tcp = filter(cap, "tcp"), *host = filter(cap, "port 80 or port 53");
    DWORD got[8];
    int n = walk(cap, NULL, tcp, GET_FRAME_NEXT_FORWARD, 0, got, 8);
    CHECK_EQ(n, 2);
    CHECK(got[0] == 0 && got[1] == 2);
    n = walk(cap, host, tcp, GET_FRAME_NEXT_FORWARD, 0, got, 8); /* host ignored */
    CHECK_EQ(n, 2);
    n = walk(cap, host, NULL, GET_FRAME_NEXT_FORWARD, FLAGS_ATTACH_PROPERTIES, got, 8);
    CHECK_EQ(n, 5);
    n = walk(cap, NULL, tcp, GET_FRAME_NEXT_BACKWARD, 0, got, 8);
    CHECK_EQ(n, 2);
    CHECK(got[0] == 2 && got[1] == 0);
    nmx_filter_destroy(tcp);
    nmx_filter_destroy(host);
    nmx_capture_close(cap);
}

/* C4: with FLAGS_DEFER_TO_UI_FILTER the host filter applies, then the expert's */
TEST(test_c4_defer_to_ui_filter_applies_host_then_expert_filter) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    nmx_filter *tcp = filter(cap, "tcp"), *host = filter(cap, "port 80 or port 53");
    DWORD got[8];
    int n = walk(cap, host, NULL, GET_FRAME_NEXT_FORWARD, FLAGS_DEFER_TO_UI_FILTER, got, 8);
    CHECK_EQ(n, 2);
    CHECK(got[0] == 0 && got[1] == 1);
    n = walk(cap, host, tcp, GET_FRAME_NEXT_FORWARD, FLAGS_DEFER_TO_UI_FILTER, got, 8);
    CHECK_EQ(n, 1);
    CHECK_EQ(got[0], 0);
    n = walk(cap, host, tcp, GET_FRAME_NEXT_BACKWARD, FLAGS_DEFER_TO_UI_FILTER | FLAGS_ATTACH_PROPERTIES, got, 8);
    CHECK_EQ(n, 1);
    EXPERTFRAMEDESCRIPTOR d;
    CHECK_EQ(nmx__capture_get_frame(cap, host, NULL, GET_SPECIFIED_FRAME, FLAGS_DEFER_TO_UI_FILTER, 2, &d),
             NMERR_FRAME_FAILED_FILTER);
    CHECK_EQ(nmx__capture_get_frame(cap, host, NULL, GET_SPECIFIED_FRAME, 0, 2, &d), NMERR_SUCCESS);
    CHECK_EQ(nmx_filter_match(host, cap, 1), 1);
    CHECK_EQ(nmx_filter_match(host, cap, 2), 0);
    CHECK_EQ(nmx_filter_match(host, cap, 99), 0);
    nmx_filter_destroy(tcp);
    nmx_filter_destroy(host);
    nmx_capture_close(cap);
}

/* C4 */
TEST(test_c4_bad_expression_fails_with_libpcaps_message) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    nmx_filter *f = (nmx_filter *)1;
    char err[256];
    CHECK_EQ(nmx_filter_create(cap, "tcp and and", &f, err, sizeof err), NMERR_FILTER_INVALID_EXPRESSION);
    CHECK(f == NULL);
    CHECK(strstr(err, "syntax error") != NULL);
    printf("     (libpcap: %s)\n", err);
    CHECK_EQ(nmx_filter_create(cap, "host no.such.host.invalid", &f, err, sizeof err),
             NMERR_FILTER_INVALID_EXPRESSION);
    CHECK(err[0] != 0);
    /* the empty expression matches everything */
    f = filter(cap, "");
    CHECK_EQ(nmx_filter_match(f, cap, 3), 1);
    CHECK(strcmp(nmx_filter_expression(f), "") == 0);
    nmx_filter_destroy(f);
    nmx_capture_close(cap);
}

/* C4: a filter is compiled for the capture's link type */
TEST(test_c4_filter_uses_the_captures_link_type) {
    /* the same IPv4/TCP packet as raw IP: "tcp port 80" must match at offset 0 */
    const char *p = tmp("raw.pcap");
    tframe raw = tf[0];
    raw.b += 14, raw.caplen -= 14, raw.len -= 14;
    CHECK(write_pcap(p, LT_RAW, 0, 0, &raw, 1));
    nmx_capture *cap = open_ok(p);
    if (!cap)
        return;
    CHECK_EQ(nmx_capture_link_type(cap), DLT_RAW_LINUX);
    nmx_filter *f = filter(cap, "tcp port 80");
    CHECK_EQ(nmx_filter_match(f, cap, 0), 1);
    nmx_filter_destroy(f);
    nmx_capture *other = std_capture();
    f = filter(other, "tcp");
    EXPERTFRAMEDESCRIPTOR d;
    /* a filter of another capture matches nothing here */
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, f, GET_SPECIFIED_FRAME, 0, 0, &d), NMERR_FRAME_FAILED_FILTER);
    CHECK_EQ(nmx_filter_match(f, cap, 0), 0);
    nmx_filter_destroy(f);
    nmx_capture_close(other);
    nmx_capture_close(cap);
}

/* ---- C4, C5: descriptors ---- */

/* C5, C4 */
TEST(test_c5_descriptor_points_at_the_frame_and_its_recognised_layers) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    EXPERTFRAMEDESCRIPTOR d0, d;
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, FLAGS_ATTACH_PROPERTIES, 0, &d0),
             NMERR_SUCCESS);
    CHECK(d0.lpPropertyTable == NULL);
    CHECK_EQ(d0.FrameNumber, 0);
    CHECK_EQ(d0.pFrame->TimeStamp, tf[0].ts_ns);
    CHECK_EQ(d0.pFrame->FrameLength, tf[0].len);
    CHECK_EQ(d0.pFrame->nBytesAvail, tf[0].caplen);
    CHECK(memcmp(d0.pFrame->MacFrame, tf[0].b, tf[0].caplen) == 0);
    const RECOGNIZEDATATABLE *t = d0.lpRecognizeDataTable;
    CHECK(t != NULL);
    static const WORD want[][2] = {{NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV4, 14}, {NMX_PROTO_TCP, 34},
                                   {NMX_PROTO_PAYLOAD, 54}};
    CHECK_EQ(t->nRecognizeDatas, 4);
    for (int i = 0; i < 4 && i < t->nRecognizeDatas; i++) {
        CHECK_EQ(t->RecognizeData[i].ProtocolID, want[i][0]);
        CHECK_EQ(t->RecognizeData[i].nProtocolOffset, want[i][1]);
        CHECK(t->RecognizeData[i].InstData == NULL);
    }
    /* frame 2 has Ethernet padding only: no payload layer */
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 2, &d), NMERR_SUCCESS);
    CHECK_EQ(d.lpRecognizeDataTable->nRecognizeDatas, 3);
    /* ARP */
    CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, 3, &d), NMERR_SUCCESS);
    CHECK_EQ(d.lpRecognizeDataTable->nRecognizeDatas, 2);
    CHECK_EQ(d.lpRecognizeDataTable->RecognizeData[1].ProtocolID, NMX_PROTO_ARP);
    /* after walking everything, the first descriptor's table is intact: it is
     * the capture's (pFrame is promised only until the next call, C5) */
    CHECK_EQ(((uintptr_t)d0.pFrame) % 8, 0);
    DWORD got[8];
    walk(cap, NULL, NULL, GET_FRAME_NEXT_FORWARD, 0, got, 8);
    CHECK_EQ(d0.lpRecognizeDataTable->RecognizeData[2].nProtocolOffset, 34);
    nmx_capture_close(cap);
}

/* ---- Netmon frame functions ---- */

/* C2, C5 */
TEST(test_netmon_frame_functions_read_the_frame_a_handle_names) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    CHECK_EQ(GetCaptureTotalFrames(cap), 5);
    for (DWORD i = 0; i < 5; i++) {
        EXPERTFRAMEDESCRIPTOR d;
        CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, i, &d), NMERR_SUCCESS);
        CHECK(GetFrameCaptureHandle(d.hFrame) == cap);
        CHECK_EQ(GetFrameLength(d.hFrame), tf[i].len);
        CHECK_EQ(GetFrameStoredLength(d.hFrame), tf[i].caplen);
        CHECK_EQ(GetFrameTimeStamp(d.hFrame), tf[i].ts_ns);
        CHECK_EQ(GetFrameMacType(d.hFrame), MAC_TYPE_ETHERNET);
        CHECK_EQ(GetFrameNumber(d.hFrame), i);
        CHECK(GetFrameFromFrameHandle(d.hFrame) == d.pFrame);
    }
    nmx_capture_close(cap);
    const char *p = tmp("raw1.pcap");
    tframe raw = tf[0];
    raw.b += 14, raw.caplen -= 14, raw.len -= 14;
    CHECK(write_pcap(p, LT_RAW, 0, 0, &raw, 1));
    cap = open_ok(p);
    if (!cap)
        return;
    nmx_frame f;
    CHECK_EQ(nmx_capture_frame(cap, 0, &f), NMERR_SUCCESS);
    CHECK_EQ(GetFrameMacType(f.hframe), MAC_TYPE_UNKNOWN);
    CHECK_EQ(GetFrameLength(f.hframe), raw.len);
    nmx_capture_close(cap);
}

/* Invalid handles: 0 / NULL / an error code, never a crash (netmon.h contracts). */
TEST(test_null_and_garbage_handles_are_refused_everywhere) {
    nmx_capture *cap = std_capture();
    if (!cap)
        return;
    nmx_frame fr;
    CHECK_EQ(nmx_capture_frame(cap, 1, &fr), NMERR_SUCCESS);
    HFRAME live = fr.hframe;
    struct { char junk[256]; } fake;
    memset(&fake, 0x5a, sizeof fake);
    void *garbage[] = {NULL, (void *)1, (void *)0x1234, &fake, (void *)UINTPTR_MAX, (void *)((uintptr_t)live + 10),
                       (void *)((uintptr_t)live ^ ((uintptr_t)1 << 48)), (void *)((uintptr_t)live ^ ((uintptr_t)1 << 40)),
                       (void *)((uintptr_t)live & 0x0fffffffffffffffull)};
    for (size_t k = 0; k < sizeof garbage / sizeof garbage[0]; k++) {
        void *g = garbage[k];
        HFRAME hf = (HFRAME)g;
        CHECK_EQ(GetCaptureTotalFrames((HCAPTURE)g), 0);
        CHECK(GetFrameCaptureHandle(hf) == NULL);
        CHECK_EQ(GetFrameLength(hf), 0);
        CHECK_EQ(GetFrameStoredLength(hf), 0);
        CHECK_EQ(GetFrameTimeStamp(hf), 0);
        CHECK_EQ(GetFrameMacType(hf), MAC_TYPE_UNKNOWN);
        CHECK_EQ(GetFrameNumber(hf), INVALID_FRAME_NUMBER);
        CHECK(GetFrameFromFrameHandle(hf) == NULL);
        nmx_capture *gc = (nmx_capture *)g;
        CHECK_EQ(nmx_capture_frames(gc), 0);
        CHECK_EQ(nmx_capture_link_type(gc), -1);
        CHECK(nmx_capture_error(gc) == NULL);
        CHECK(nmx_capture_path(gc) == NULL);
        nmx_capture_info in;
        CHECK_EQ(nmx_capture_get_info(gc, &in), NMERR_INVALID_HCAPTURE);
        CHECK_EQ(nmx_capture_link_types(gc, NULL, 0), 0);
        CHECK_EQ(nmx_capture_frame(gc, 0, &fr), NMERR_INVALID_HCAPTURE);
        nmx_filter *f = (nmx_filter *)1;
        CHECK_EQ(nmx_filter_create(gc, "tcp", &f, NULL, 0), g ? NMERR_INVALID_HCAPTURE : NMERR_INVALID_PARAMETER);
        CHECK(f == NULL);
        if (g) {
            CHECK_EQ(nmx_capture_close(gc), NMERR_INVALID_HCAPTURE);
            CHECK_EQ(nmx_filter_destroy((nmx_filter *)g), NMERR_INVALID_HFILTER);
        }
        CHECK(nmx_filter_expression((nmx_filter *)g) == NULL);
        CHECK_EQ(nmx_filter_match((nmx_filter *)g, cap, 0), -1);
        CHECK(nmx__filter_valid((nmx_filter *)g) == 0);
    }
    CHECK_EQ(nmx_capture_close(NULL), NMERR_SUCCESS);
    CHECK_EQ(nmx_filter_destroy(NULL), NMERR_SUCCESS);
    CHECK_EQ(nmx_capture_get_info(cap, NULL), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_capture_frame(cap, 0, NULL), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_capture_frame(cap, 5, &fr), NMERR_FRAME_NOT_FOUND);
    nmx_filter *f;
    CHECK_EQ(nmx_filter_create(cap, NULL, &f, NULL, 0), NMERR_INVALID_PARAMETER);
    CHECK_EQ(nmx_filter_create(cap, "tcp", NULL, NULL, 0), NMERR_INVALID_PARAMETER);
    f = filter(cap, "tcp");
    CHECK_EQ(nmx_filter_destroy(f), NMERR_SUCCESS);
    CHECK_EQ(nmx_filter_destroy(f), NMERR_INVALID_HFILTER); /* destroyed: refused, untouched */
    CHECK_EQ(nmx_filter_match(f, cap, 0), -1);
    /* a closed capture and its frames */
    CHECK_EQ(nmx_capture_close(cap), NMERR_SUCCESS);
    CHECK_EQ(nmx_capture_close(cap), NMERR_INVALID_HCAPTURE);
    CHECK_EQ(GetCaptureTotalFrames(cap), 0);
    CHECK_EQ(GetFrameLength(live), 0);
    CHECK(GetFrameFromFrameHandle(live) == NULL);
    /* a stale HFRAME does not name the capture that reuses its slot's address */
    nmx_capture *again = std_capture();
    CHECK(GetFrameCaptureHandle(live) == NULL);
    nmx_capture_close(again);
    /* the decoder */
    nmx_decoded d;
    CHECK_EQ(nmx_decode(NULL, 100, LT_ETH, &d), 0);
    CHECK_EQ(nmx_decode(tf[0].b, tf[0].caplen, LT_ETH, NULL), 0);
    CHECK_EQ(nmx_decode(tf[0].b, tf[0].caplen, 99999, &d), 0);
    CHECK(strcmp(nmx_proto_name(999), "?") == 0);
    CHECK(strcmp(nmx_proto_name(0), "?") == 0);
    CHECK(strcmp(nmx_proto_name(NMX_PROTO_TCP), "tcp") == 0);
}

/* ---- C1, C5, C6: decoding ---- */

static void check_layers(const nmx_decoded *d, const uint16_t (*want)[2], unsigned n, int line) {
    if (d->nlayers != n)
        fprintf(stderr, "line %d: %u layers, want %u\n", line, d->nlayers, n);
    CHECK_EQ(d->nlayers, n);
    for (unsigned i = 0; i < n && i < d->nlayers; i++) {
        if (d->layers[i].proto != want[i][0] || d->layers[i].offset != want[i][1])
            fprintf(stderr, "line %d: layer %u is %s@%u, want %s@%u\n", line, i, nmx_proto_name(d->layers[i].proto),
                    d->layers[i].offset, nmx_proto_name(want[i][0]), want[i][1]);
        CHECK_EQ(d->layers[i].proto, want[i][0]);
        CHECK_EQ(d->layers[i].offset, want[i][1]);
    }
}
#define LAYERS(d, ...)                                                                                  \
    do {                                                                                                \
        const uint16_t w_[][2] = {__VA_ARGS__};                                                  \
        check_layers(d, w_, sizeof w_ / sizeof w_[0], __LINE__);                                        \
    } while (0)

/* C1 */
TEST(test_c1_decodes_tcp_fields) {
    nmx_decoded d;
    nmx_decode(tf[0].b, tf[0].caplen, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV4, 14}, {NMX_PROTO_TCP, 34}, {NMX_PROTO_PAYLOAD, 54});
    CHECK_EQ(d.flags, NMX_DEC_ETH | NMX_DEC_IP | NMX_DEC_L4 | NMX_DEC_TCP);
    CHECK_EQ(d.eth_dst[5], 0x55);
    CHECK_EQ(d.eth_src[0], 0x66);
    CHECK_EQ(d.ethertype, 0x0800);
    CHECK_EQ(d.ip_version, 4);
    CHECK(memcmp(d.ip_src, A, 4) == 0 && memcmp(d.ip_dst, B, 4) == 0);
    CHECK_EQ(d.ip_proto, 6);
    CHECK_EQ(d.ttl, 64);
    CHECK_EQ(d.ip_total_len, 50);
    CHECK_EQ(d.ip_id, 0x1234);
    CHECK_EQ(d.ip_fragment, 0);
    CHECK_EQ(d.sport, 1234);
    CHECK_EQ(d.dport, 80);
    CHECK_EQ(d.tcp_seq, 1000);
    CHECK_EQ(d.tcp_ack, 1);
    CHECK_EQ(d.tcp_flags, 0x18);
    CHECK_EQ(d.tcp_window, 0xfff0);
    CHECK_EQ(d.tcp_hdr_len, 20);
    CHECK_EQ(d.payload_offset, 54);
    CHECK_EQ(d.payload_len, 10);
    nmx_decode(tf[1].b, tf[1].caplen, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV4, 14}, {NMX_PROTO_UDP, 34}, {NMX_PROTO_DNS, 42}); /* port 53 */
    CHECK(d.sport == 5353 && d.dport == 53 && d.payload_len == 4);
    nmx_decode(tf[4].b, tf[4].caplen, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV4, 14}, {NMX_PROTO_ICMP, 34}, {NMX_PROTO_PAYLOAD, 42});
    CHECK(d.icmp_type == 8 && d.icmp_code == 0 && (d.flags & NMX_DEC_L4));
    nmx_decode(tf[3].b, tf[3].caplen, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_ARP, 14});
    CHECK_EQ(d.arp_op, 1);
}

/* C1: 802.1ad outer tag, 802.1Q inner tag */
TEST(test_c1_decodes_stacked_vlan_tags) {
    uint8_t p[128];
    size_t o = eth_hdr(p, 0x88a8);
    p[o] = 0x00, p[o + 1] = 100, p[o + 2] = 0x81, p[o + 3] = 0x00;
    o += 4;
    p[o] = 0x20, p[o + 1] = 200, p[o + 2] = 0x08, p[o + 3] = 0x00;
    o += 4;
    o += ipv4_hdr(p + o, 17, 0, 10, 0, A, B);
    o += udp_hdr(p + o, 1, 2, 2);
    p[o++] = 0, p[o++] = 0;
    nmx_decoded d;
    nmx_decode(p, (uint32_t)o, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_VLAN, 14}, {NMX_PROTO_VLAN, 18}, {NMX_PROTO_IPV4, 22},
           {NMX_PROTO_UDP, 42}, {NMX_PROTO_PAYLOAD, 50});
    CHECK_EQ(d.nvlans, 2);
    CHECK_EQ(d.vlan_ids[0], 100);
    CHECK_EQ(d.vlan_ids[1], 200);
    CHECK_EQ(d.ethertype, 0x0800);
}

/* C1 */
TEST(test_c1_decodes_linux_cooked_v1_and_v2) {
    uint8_t p[128];
    memset(p, 0, sizeof p);
    /* SLL v1: 16 bytes, protocol at 14 */
    p[14] = 0x08, p[15] = 0x00;
    size_t o = 16 + ipv4_hdr(p + 16, 6, 0, 20, 0, A, B);
    o += tcp_hdr(p + o, 1, 2, 3, 0x10, 0);
    nmx_decoded d;
    nmx_decode(p, (uint32_t)o, LT_SLL, &d);
    LAYERS(&d, {NMX_PROTO_SLL, 0}, {NMX_PROTO_IPV4, 16}, {NMX_PROTO_TCP, 36});
    /* SLL v2: 20 bytes, protocol at 0 */
    memset(p, 0, sizeof p);
    p[0] = 0x08, p[1] = 0x06;
    p[20 + 7] = 2; /* ARP reply */
    nmx_decode(p, 48, LT_SLL2, &d);
    LAYERS(&d, {NMX_PROTO_SLL2, 0}, {NMX_PROTO_ARP, 20});
    CHECK_EQ(d.arp_op, 2);
    /* SLL with a netlink hardware type: the protocol is not an Ethertype */
    memset(p, 0, sizeof p);
    p[2] = 0x03, p[3] = 0x38; /* 824 */
    p[14] = 0x08, p[15] = 0x00;
    nmx_decode(p, 40, LT_SLL, &d);
    LAYERS(&d, {NMX_PROTO_SLL, 0}, {NMX_PROTO_PAYLOAD, 16});
}

/* C1: BSD loopback in both byte orders, DLT_LOOP, raw IP link types */
TEST(test_c1_decodes_loopback_and_raw_ip) {
    uint8_t p[128];
    size_t ip = ipv4_hdr(p + 4, 17, 0, 8, 0, A, B);
    udp_hdr(p + 4 + ip, 7, 9, 0);
    uint32_t n = (uint32_t)(4 + ip + 8);
    nmx_decoded d;
    p[0] = 2, p[1] = p[2] = p[3] = 0; /* little-endian AF_INET */
    nmx_decode(p, n, LT_NULL, &d);
    LAYERS(&d, {NMX_PROTO_NULL, 0}, {NMX_PROTO_IPV4, 4}, {NMX_PROTO_UDP, 24});
    p[3] = 2, p[0] = 0; /* big-endian AF_INET */
    nmx_decode(p, n, LT_NULL, &d);
    LAYERS(&d, {NMX_PROTO_NULL, 0}, {NMX_PROTO_IPV4, 4}, {NMX_PROTO_UDP, 24});
    nmx_decode(p, n, LT_LOOP, &d);
    LAYERS(&d, {NMX_PROTO_NULL, 0}, {NMX_PROTO_IPV4, 4}, {NMX_PROTO_UDP, 24});
    p[0] = 2, p[3] = 0; /* DLT_LOOP is network order: 0x02000000 is no known family */
    nmx_decode(p, n, LT_LOOP, &d);
    LAYERS(&d, {NMX_PROTO_NULL, 0}, {NMX_PROTO_PAYLOAD, 4});
    for (int k = 0; k < 4; k++) {
        int dlt = (int[]){DLT_RAW_LINUX, LT_RAW, LT_IPV4, 14}[k];
        nmx_decode(p + 4, n - 4, dlt, &d);
        if (dlt == 14)
            CHECK_EQ(d.nlayers, 0); /* not a raw link type on Linux */
        else
            LAYERS(&d, {NMX_PROTO_IPV4, 0}, {NMX_PROTO_UDP, 20});
    }
    /* IPv6 on DLT_NULL with the BSD families, and DLT_IPV6 */
    uint8_t q[128];
    memset(q, 0, sizeof q);
    q[4] = 0x60;
    q[4 + 5] = 8;  /* payload length */
    q[4 + 6] = 58; /* ICMPv6 */
    q[4 + 7] = 255;
    q[44] = 128; /* echo request */
    for (int k = 0; k < 4; k++) {
        q[0] = (uint8_t)(int[]){10, 24, 28, 30}[k];
        nmx_decode(q, 52, LT_NULL, &d);
        LAYERS(&d, {NMX_PROTO_NULL, 0}, {NMX_PROTO_IPV6, 4}, {NMX_PROTO_ICMPV6, 44});
        CHECK_EQ(d.icmp_type, 128);
        CHECK_EQ(d.ttl, 255);
    }
    nmx_decode(q + 4, 48, LT_IPV6, &d);
    LAYERS(&d, {NMX_PROTO_IPV6, 0}, {NMX_PROTO_ICMPV6, 40});
    nmx_decode(q + 4, 48, LT_IPV4, &d); /* an IPv6 packet where IPv4 is promised */
    LAYERS(&d, {NMX_PROTO_IPV4, 0});
    CHECK(d.flags & NMX_DEC_MALFORMED);
}

/* C1: IPv4 options and fragments (only the first fragment has an L4 header) */
TEST(test_c1_decodes_ipv4_options_and_fragments) {
    uint8_t p[128];
    size_t o = eth_hdr(p, 0x0800);
    o += ipv4_hdr(p + o, 6, 8, 24, 0x2000 /* MF, offset 0 */, A, B);
    o += tcp_hdr(p + o, 80, 81, 5, 0x10, 0);
    memset(p + o, 0, 4);
    o += 4;
    nmx_decoded d;
    nmx_decode(p, (uint32_t)o, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV4, 14}, {NMX_PROTO_TCP, 42}, {NMX_PROTO_PAYLOAD, 62});
    CHECK_EQ(d.l3_hdr_len, 28);
    CHECK(d.ip_fragment && d.ip_more_fragments && d.frag_offset == 0);
    CHECK_EQ(d.dport, 81);
    /* a later fragment: its bytes are payload, not TCP */
    p[14 + 6] = 0x00, p[14 + 7] = 3; /* offset 24 bytes, last fragment */
    nmx_decode(p, (uint32_t)o, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV4, 14}, {NMX_PROTO_PAYLOAD, 42});
    CHECK(d.ip_fragment && !d.ip_more_fragments && d.frag_offset == 24);
    CHECK_EQ(d.dport, 0);
    CHECK_EQ(d.payload_len, 24);
    /* IHL below 5: IPv4 is recognised, nothing deeper */
    p[14] = 0x44;
    nmx_decode(p, (uint32_t)o, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV4, 14});
    CHECK(d.flags & NMX_DEC_MALFORMED);
    /* TSO: total length 0 is taken from the captured bytes */
    o = eth_hdr(p, 0x0800);
    o += ipv4_hdr(p + o, 6, 0, 30, 0, A, B);
    o += tcp_hdr(p + o, 1, 2, 3, 0x10, 0);
    o += 10;
    p[16] = p[17] = 0;
    nmx_decode(p, (uint32_t)o, LT_ETH, &d);
    CHECK(d.flags & NMX_DEC_IP_LEN_ZERO);
    CHECK_EQ(d.payload_len, 10);
}

/* C1: IPv6 extension headers: hop-by-hop, routing, destination options, AH, fragment */
TEST(test_c1_decodes_ipv6_extension_headers_and_fragments) {
    uint8_t p[256];
    memset(p, 0, sizeof p);
    size_t o = eth_hdr(p, 0x86dd), ip = o;
    p[o] = 0x60;
    p[o + 6] = 0;   /* hop-by-hop */
    p[o + 7] = 64;
    p[o + 8] = 0xfe; /* src fe80:: */
    o += 40;
    p[o] = 43, p[o + 1] = 0; /* hop-by-hop: next routing, 8 bytes */
    o += 8;
    p[o] = 60, p[o + 1] = 2; /* routing: next dstopts, 24 bytes */
    o += 24;
    p[o] = 51, p[o + 1] = 0; /* dstopts: next AH, 8 bytes */
    o += 8;
    p[o] = 44, p[o + 1] = 4; /* AH: next fragment, (4+2)*4 = 24 bytes */
    o += 24;
    size_t frag = o;
    p[o] = 6, p[o + 2] = 0, p[o + 3] = 1; /* fragment: next TCP, offset 0, M */
    p[o + 4] = 0xde, p[o + 7] = 0xef;
    o += 8;
    size_t tcp = o;
    o += tcp_hdr(p + o, 443, 5555, 9, 0x12, 4);
    size_t plen = o - ip - 40 + 6;
    o += 6;
    p[ip + 4] = (uint8_t)(plen >> 8), p[ip + 5] = (uint8_t)plen;
    nmx_decoded d;
    nmx_decode(p, (uint32_t)o, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV6, 14}, {NMX_PROTO_TCP, (uint16_t)tcp},
           {NMX_PROTO_PAYLOAD, (uint16_t)(tcp + 24)});
    CHECK_EQ(d.ip_version, 6);
    CHECK_EQ(d.ip_proto, 6);
    CHECK_EQ(d.ip_src[0], 0xfe);
    CHECK_EQ(d.l3_hdr_len, tcp - ip);
    CHECK(d.ip_fragment && d.ip_more_fragments && d.frag_offset == 0);
    CHECK_EQ(d.ip_id, 0xde0000efu);
    CHECK_EQ(d.sport, 443);
    CHECK_EQ(d.tcp_hdr_len, 24);
    CHECK_EQ(d.payload_len, 6);
    CHECK_EQ(d.ip_total_len, 40 + plen);
    /* a later fragment: payload after the fragment header, no TCP */
    p[frag + 2] = 0x01, p[frag + 3] = 0x00; /* offset 256 bytes, last */
    nmx_decode(p, (uint32_t)o, LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV6, 14}, {NMX_PROTO_PAYLOAD, (uint16_t)tcp});
    CHECK_EQ(d.frag_offset, 256);
    CHECK(!(d.flags & NMX_DEC_L4));
    /* cut inside the routing header: IPv6 and no more */
    nmx_decode(p, (uint32_t)(ip + 40 + 8 + 10), LT_ETH, &d);
    LAYERS(&d, {NMX_PROTO_ETHERNET, 0}, {NMX_PROTO_IPV6, 14});
    CHECK(d.flags & NMX_DEC_TRUNCATED);
}

/* C6: every cut of a frame decodes as a prefix of the whole frame's layers */
TEST(test_c6_truncated_frames_decode_as_far_as_their_bytes_allow) {
    for (int k = 0; k < 5; k++) {
        nmx_decoded full, d;
        nmx_decode(tf[k].b, tf[k].caplen, LT_ETH, &full);
        for (uint32_t n = 0; n <= tf[k].caplen; n++) {
            nmx_decode(tf[k].b, n, LT_ETH, &d);
            CHECK(d.nlayers <= full.nlayers);
            for (unsigned i = 0; i < d.nlayers; i++) {
                CHECK_EQ(d.layers[i].proto, full.layers[i].proto);
                CHECK_EQ(d.layers[i].offset, full.layers[i].offset);
                CHECK(d.layers[i].offset < n);
            }
            if (n < 14)
                CHECK(d.flags & NMX_DEC_TRUNCATED || n == 0);
        }
    }
    /* and for every link type the decoder knows, on bytes that are all 0xff / 0x00 / random */
    static const int dlts[] = {LT_ETH, LT_NULL, LT_LOOP, LT_SLL, LT_SLL2, DLT_RAW_LINUX, LT_RAW, LT_IPV4, LT_IPV6};
    uint8_t junk[300];
    uint32_t x = 12345;
    for (int r = 0; r < 200; r++) {
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = r == 0 ? 0xff : r == 1 ? 0 : (uint8_t)(x >> 16);
        }
        for (size_t i = 0; i < sizeof dlts / sizeof dlts[0]; i++)
            for (uint32_t n = 0; n < sizeof junk; n += 7) {
                nmx_decoded d;
                nmx_decode(junk, n, dlts[i], &d);
                for (unsigned l = 0; l < d.nlayers; l++)
                    CHECK(d.layers[l].offset < n);
            }
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nmx_test_capture_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    build_frames();
    RUN(test_c1_reads_pcap_in_both_byte_orders_and_precisions);
    RUN(test_c1_reads_pcapng_with_nanosecond_time_stamps);
    RUN(test_c1_empty_capture_opens_with_no_frames);
    RUN(test_c6_truncated_file_keeps_the_frames_before_and_names_the_problem);
    RUN(test_c6_pcapng_link_type_change_is_read_past);
    RUN(test_c6_open_errors_say_what_and_where);
    RUN(test_c2_forward_walk_from_invalid_frame_number_visits_every_frame);
    RUN(test_c2_backward_walk_from_invalid_frame_number_starts_at_the_last_frame);
    RUN(test_c2_next_is_strictly_after_or_before_the_given_number);
    RUN(test_c3_end_codes);
    RUN(test_c4_expert_filter_alone_and_host_filter_ignored_without_defer);
    RUN(test_c4_defer_to_ui_filter_applies_host_then_expert_filter);
    RUN(test_c4_bad_expression_fails_with_libpcaps_message);
    RUN(test_c4_filter_uses_the_captures_link_type);
    RUN(test_c5_descriptor_points_at_the_frame_and_its_recognised_layers);
    RUN(test_netmon_frame_functions_read_the_frame_a_handle_names);
    RUN(test_null_and_garbage_handles_are_refused_everywhere);
    RUN(test_c1_decodes_tcp_fields);
    RUN(test_c1_decodes_stacked_vlan_tags);
    RUN(test_c1_decodes_linux_cooked_v1_and_v2);
    RUN(test_c1_decodes_loopback_and_raw_ip);
    RUN(test_c1_decodes_ipv4_options_and_fragments);
    RUN(test_c1_decodes_ipv6_extension_headers_and_fragments);
    RUN(test_c6_truncated_frames_decode_as_far_as_their_bytes_allow);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return CHECK_DONE();
}
