/* The TCP Retransmit expert (SPEC E1, E2).
 *
 * - Crafted captures (written here with tests/test_capture_util.h): a plain
 *   retransmission, a spurious one, a fast one after three duplicate ACKs,
 *   an out-of-order segment; also checked against tshark when it is
 *   installed. Configuration parsing, the default blob, terminate, a
 *   malformed capture.
 * - E2 on the zeek captures under $NMX_SHARED_DIR/captures/zeek (skipped when
 *   absent, or without tshark): the totals of retransmissions, fast and
 *   spurious retransmissions and out-of-order segments equal the numbers of
 *   frames tshark (-n) flags tcp.analysis.retransmission, .fast_retransmission,
 *   .spurious_retransmission and .out_of_order, frame by frame. To stay well
 *   under a minute on two cores the default subset is zeek/tcp/, zeek/http/
 *   and the files at the top of zeek/ (about 130 of 395 files: one tshark
 *   process per file costs ~0.4 s); NMX_EXPERT_CORPUS=all takes every file.
 *   Files where the definitions legitimately differ are listed below with
 *   the reason and reported, never skipped silently.
 */
#define NMX_TEST_EXPERT_SO "tcpretrans.so"
#include "expert_tcp_util.h" /* first: it sets _GNU_SOURCE */

/* ---- the crafted connection ---- */

#define MS 1000000LL
static const uint8_t CLI[4] = {10, 0, 0, 1}, SRV[4] = {10, 0, 0, 2};

typedef struct craft {
    uint8_t buf[64][200];
    tframe fr[64];
    size_t n;
} craft;

/* One Ethernet/IPv4/TCP frame; from_client picks the direction. */
static void seg(craft *k, int64_t t_ms, int from_client, uint32_t seq, uint32_t ack, uint8_t flags, size_t len)
{
    uint8_t *p = k->buf[k->n];
    size_t o = eth_hdr(p, 0x0800);
    o += ipv4_hdr(p + o, 6, 0, 20 + len, 0, from_client ? CLI : SRV, from_client ? SRV : CLI);
    size_t t = o;
    o += tcp_hdr(p + o, from_client ? 40000 : 80, from_client ? 80 : 40000, seq, flags, 0);
    p[t + 8] = (uint8_t)(ack >> 24);
    p[t + 9] = (uint8_t)(ack >> 16);
    p[t + 10] = (uint8_t)(ack >> 8);
    p[t + 11] = (uint8_t)ack;
    memset(p + o, 'a', len);
    o += len;
    k->fr[k->n].b = p;
    k->fr[k->n].caplen = (uint32_t)o;
    k->fr[k->n].len = (uint32_t)o;
    k->fr[k->n].ts_ns = 1700000000LL * 1000000000LL + t_ms * MS;
    k->n++;
}

enum { SYN = 0x02, ACK = 0x10, PSH = 0x08 };

/* Frame numbers below are 1-based, as tshark counts. */
static void build_scenario(craft *k)
{
    memset(k, 0, sizeof *k);
    seg(k, 0, 1, 1000, 0, SYN, 0);                /* 1 */
    seg(k, 10, 0, 5000, 1001, SYN | ACK, 0);      /* 2 */
    seg(k, 20, 1, 1001, 5001, ACK, 0);            /* 3: handshake RTT 20 ms */
    seg(k, 30, 1, 1001, 5001, ACK | PSH, 100);    /* 4 */
    seg(k, 31, 1, 1101, 5001, ACK | PSH, 100);    /* 5 */
    seg(k, 32, 1, 1201, 5001, ACK | PSH, 100);    /* 6 */
    seg(k, 40, 0, 5001, 1101, ACK, 0);            /* 7: acks frame 4 */
    seg(k, 300, 1, 1101, 5001, ACK | PSH, 100);   /* 8: retransmission of 5 (RTO) */
    seg(k, 310, 0, 5001, 1301, ACK, 0);           /* 9: acks everything */
    seg(k, 600, 1, 1201, 5001, ACK | PSH, 100);   /* 10: spurious: already acked */
    seg(k, 700, 1, 1301, 5001, ACK | PSH, 100);   /* 11 */
    seg(k, 701, 1, 1401, 5001, ACK | PSH, 100);   /* 12 */
    seg(k, 702, 1, 1501, 5001, ACK | PSH, 100);   /* 13 */
    seg(k, 710, 0, 5001, 1401, ACK, 0);           /* 14: 12 lost */
    seg(k, 711, 0, 5001, 1401, ACK, 0);           /* 15: dup ack 1 */
    seg(k, 712, 0, 5001, 1401, ACK, 0);           /* 16: dup ack 2 */
    seg(k, 713, 0, 5001, 1401, ACK, 0);           /* 17: dup ack 3 */
    seg(k, 715, 1, 1401, 5001, ACK | PSH, 100);   /* 18: fast retransmission */
    seg(k, 800, 0, 5001, 1601, ACK, 0);           /* 19 */
    seg(k, 900, 1, 1701, 5001, ACK | PSH, 100);   /* 20: 1601 comes late */
    seg(k, 905, 1, 1601, 5001, ACK | PSH, 100);   /* 21: out-of-order (5 ms < RTT) */
    seg(k, 910, 0, 5001, 1801, ACK, 0);           /* 22 */
}

static const char *craft_path(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    return p;
}

TEST(test_e1_register_and_default_config)
{
    nmx_expert *ex = load_expert();
    CHECK(ex != NULL);
    if (!ex)
        return;
    const EXPERTENUMINFO *in = nmx_expert_info(ex);
    CHECK(!strcmp(in->szName, "TCP Retransmit"));
    CHECK(!strcmp(in->szVendor, "nmexpert"));
    CHECK(in->szDescription[0] != '\0');
    CHECK_EQ(in->Version, 1);
    CHECK_EQ(in->Flags, EXPERT_ENUM_FLAG_CONFIGURABLE);
    EXPERTCONFIG *out = NULL;
    BOOL ret = FALSE;
    CHECK_EQ(nmx_expert_configure(ex, NULL, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret);
    CHECK(out != NULL);
    if (out) {
        CHECK(out->RawConfigLength > sizeof(DWORD));
        const char *t = (const char *)out->RawConfigData;
        CHECK(strstr(t, "top=0") && strstr(t, "ooo_ms=3"));
        /* The default blob validates. */
        EXPERTCONFIG *again = NULL;
        ret = FALSE;
        CHECK_EQ(nmx_expert_configure(ex, out, NULL, &again, &ret), NMERR_SUCCESS);
        CHECK(ret);
        free(again);
    }
    free(out);
    const char *bad[] = {"nosuchkey=1\n", "top=-1\n", "ooo_ms=abc\n", "all=2\n", "no equals sign\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        EXPERTCONFIG *b = make_config(bad[i]), *o = NULL;
        ret = TRUE;
        CHECK_EQ(nmx_expert_configure(ex, b, NULL, &o, &ret), NMERR_SUCCESS);
        if (ret)
            fprintf(stderr, "  accepted bad config: %s", bad[i]);
        CHECK(!ret);
        free(o);
        free(b);
    }
    nmx_expert_unload(ex);
}

/* What tshark flags in `path`: one letter per flagged frame, "<frame><R|F|S|O>"
 * joined by spaces (retransmission, fast, spurious, out-of-order); "" when it
 * flags nothing; NULL without tshark. */
static const char *tshark_flags(const char *path)
{
    static char out[512];
    if (!have_tshark())
        return NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "tshark -n -r %s -Y 'tcp.analysis.retransmission or tcp.analysis.out_of_order' -T fields "
             "-e frame.number -e tcp.analysis.fast_retransmission -e tcp.analysis.spurious_retransmission "
             "-e tcp.analysis.out_of_order 2>/dev/null",
             path);
    FILE *p = popen(cmd, "r");
    char line[256];
    out[0] = '\0';
    while (p && fgets(line, sizeof line, p)) {
        char *f[4] = {line, NULL, NULL, NULL};
        for (int i = 1; i < 4 && f[i - 1]; i++)
            if ((f[i] = strchr(f[i - 1], '\t')))
                *f[i]++ = '\0';
        char kind = f[1] && *f[1] && *f[1] != '\n' ? 'F' : f[2] && *f[2] && *f[2] != '\n' ? 'S'
                    : f[3] && *f[3] && *f[3] != '\n'                                      ? 'O'
                                                                                          : 'R';
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%d%c", out[0] ? " " : "", atoi(line), kind);
    }
    if (p)
        pclose(p);
    return out;
}

/* The same from the expert's table 3, frames 1-based as tshark counts. */
static const char *expert_flags(nmx_run *run)
{
    static char out[512];
    out[0] = '\0';
    for (size_t j = 0; j < table_rows(run, 3); j++) {
        const NMEVENTDATA *ev = table_row(run, 3, j);
        const NMCOLUMNINFO *kc = col(ev, "Kind");
        const char *kd = kc && kc->VariantData.Value.pStringVal ? kc->VariantData.Value.pStringVal : "";
        char kind = !strcmp(kd, "out-of-order") ? 'O' : !strcmp(kd, "fast retransmission") ? 'F'
                    : !strcmp(kd, "spurious retransmission")                              ? 'S'
                                                                                          : 'R';
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%u%c", out[0] ? " " : "",
                 (unsigned)col_num(ev, "Frame") + 1, kind);
    }
    return out;
}

TEST(test_e1_crafted_retransmissions_are_classified)
{
    static craft k;
    build_scenario(&k);
    const char *path = craft_path("retrans.pcap");
    CHECK(write_pcap(path, 1, 0, 1, k.fr, k.n));
    nmx_expert *ex = load_expert();
    CHECK(ex != NULL);
    if (!ex)
        return;
    result r;
    CHECK(run_on(ex, path, "frames=1\n", &r, 0));
    if (r.run) {
        CHECK(r.r.returned && r.r.run_value);
        CHECK_EQ(r.r.status.Status, EXPERTSTATUS_DONE);
        CHECK_EQ(r.r.mem.live_blocks, 0);
        const NMEVENTDATA *tot = table_row(r.run, 2, 0);
        CHECK(tot != NULL);
        CHECK(tot && !strcmp(tot->szEventName, "Retransmission totals"));
        CHECK_EQ(col_num(tot, "Connections"), 1);
        CHECK_EQ(col_num(tot, "Segments"), 22);
        CHECK_EQ(col_num(tot, "Retransmissions"), 3);
        CHECK_EQ(col_num(tot, "Retransmitted bytes"), 300);
        CHECK_EQ(col_num(tot, "Fast"), 1);
        CHECK_EQ(col_num(tot, "Spurious"), 1);
        CHECK_EQ(col_num(tot, "Out-of-order"), 1);
        CHECK_EQ(table_rows(r.run, 1), 1);
        const NMEVENTDATA *c = table_row(r.run, 1, 0);
        const NMCOLUMNINFO *cl = col(c, "Client"), *sv = col(c, "Server");
        CHECK(cl && !strcmp(cl->VariantData.Value.pStringVal, "10.0.0.1:40000"));
        CHECK(sv && !strcmp(sv->VariantData.Value.pStringVal, "10.0.0.2:80"));
        CHECK_EQ(col_num(c, "Retransmissions"), 3);
        /* Table 3: which frames, 0-based (C2). */
        static const struct { unsigned frame; const char *kind; } want[] = {
            {7, "retransmission"}, {9, "spurious retransmission"}, {17, "fast retransmission"}, {20, "out-of-order"}};
        CHECK_EQ(table_rows(r.run, 3), 4);
        for (size_t i = 0; i < 4; i++) {
            const NMEVENTDATA *e = table_row(r.run, 3, i);
            CHECK_EQ(col_num(e, "Frame"), want[i].frame);
            const NMCOLUMNINFO *kd = col(e, "Kind");
            CHECK(kd && !strcmp(kd->VariantData.Value.pStringVal, want[i].kind));
        }
    }
    done(&r);
    /* top=N limits table 1; all=1 lists clean connections too. */
    CHECK(run_on(ex, path, "top=0\nall=1\n", &r, 0));
    if (r.run)
        CHECK_EQ(table_rows(r.run, 1), 1);
    done(&r);
    /* A bad blob is a problem, reported before any frame is read. */
    CHECK(run_on(ex, path, "top=x\n", &r, 0));
    if (r.run) {
        CHECK(!r.r.run_value);
        CHECK_EQ(r.r.status.Status, EXPERTSTATUS_PROBLEM);
        CHECK(strstr(r.r.status.szStatusText, "top") != NULL);
        CHECK_EQ(r.r.mem.live_blocks, 0);
    }
    done(&r);
    nmx_expert_unload(ex);

    /* E2: tshark flags the same frames. */
    const char *theirs = tshark_flags(path);
    if (!theirs) {
        SKIP_HERE("tshark not installed");
    }
    CHECK(!strcmp(theirs, "8R 10S 18F 21O"));
}

/* ---- fixes found by checking against tshark on unseen captures (issue 11) ---- */

/* Runs the expert on scenario k (frames=1) and checks its flags against
 * `want` and, when installed, tshark's; returns the totals row's value of
 * `column` (or -1). */
static double check_scenario(const char *name, craft *k, const char *want, const char *column)
{
    const char *path = craft_path(name);
    CHECK(write_pcap(path, 1, 0, 1, k->fr, k->n));
    nmx_expert *ex = load_expert();
    CHECK(ex != NULL);
    if (!ex)
        return -1;
    result r;
    double v = -1;
    CHECK(run_on(ex, path, "frames=1\n", &r, 0));
    if (r.run) {
        const char *ours = expert_flags(r.run);
        if (strcmp(ours, want))
            printf("     %s: expert flags \"%s\", want \"%s\"\n", name, ours, want);
        CHECK(!strcmp(ours, want));
        const char *theirs = tshark_flags(path);
        if (theirs && strcmp(theirs, want))
            printf("     %s: tshark flags \"%s\", want \"%s\"\n", name, theirs, want);
        CHECK(!theirs || !strcmp(theirs, want));
        v = column ? col_num(table_row(r.run, 2, 0), column) : 0;
    }
    done(&r);
    nmx_expert_unload(ex);
    return v;
}

/* A fresh scenario: the handshake of client 1000 and server 5000, frames
 * 1-3, 10 ms apart. */
static void handshake(craft *k)
{
    memset(k, 0, sizeof *k);
    seg(k, 0, 1, 1000, 0, SYN, 0);
    seg(k, 10, 0, 5000, 1001, SYN | ACK, 0);
    seg(k, 20, 1, 1001, 5001, ACK, 0);
}

/* A bare ACK after a lost segment carries the sender's next sequence
 * number: Wireshark's next expected sequence number moves with it, so the
 * later resend of the missing data is a retransmission. */
TEST(test_e2_bare_ack_advances_next_sequence_number)
{
    static craft k;
    handshake(&k); /* 1-3 */
    seg(&k, 30, 1, 1001, 5001, ACK | PSH, 100); /* 4; 1101..1200 not captured */
    seg(&k, 40, 1, 1201, 5001, ACK, 0);         /* 5: bare ACK, seq 1201 */
    seg(&k, 50, 0, 5001, 1101, ACK, 0);         /* 6 */
    seg(&k, 400, 1, 1101, 5001, ACK | PSH, 100); /* 7: the missing data, resent */
    seg(&k, 410, 0, 5001, 1201, ACK, 0);        /* 8 */
    CHECK_EQ(check_scenario("bare_ack.pcap", &k, "7R", "Retransmissions"), 1);
}

/* A connection with out-of-order segments and no retransmission is not a
 * connection with retransmissions. */
TEST(test_e2_out_of_order_alone_is_no_retransmitting_connection)
{
    static craft k;
    handshake(&k); /* 1-3: RTT 20 ms */
    seg(&k, 30, 1, 1101, 5001, ACK | PSH, 100); /* 4 */
    seg(&k, 31, 1, 1001, 5001, ACK | PSH, 100); /* 5: out-of-order */
    seg(&k, 60, 0, 5001, 1201, ACK, 0);         /* 6 */
    CHECK_EQ(check_scenario("ooo_only.pcap", &k, "5O", "Connections with retransmissions"), 0);
}

/* An IPv4 total length beyond the frame: the payload is what the frame
 * holds (Wireshark does not trust the length), not what the header says. */
TEST(test_e2_ipv4_length_beyond_frame_is_capped)
{
    static craft k;
    handshake(&k); /* 1-3 */
    seg(&k, 30, 1, 1001, 5001, ACK | PSH, 100); /* 4: says 1000 bytes, holds 100 */
    seg(&k, 300, 1, 1001, 5001, ACK | PSH, 100); /* 5: the same again */
    for (int i = 3; i <= 4; i++) {
        uint8_t *ip = (uint8_t *)k.fr[i].b + 14;
        ip[2] = (uint8_t)(1040 >> 8);
        ip[3] = (uint8_t)(1040 & 255);
        ip[10] = ip[11] = 0;
    }
    CHECK_EQ(check_scenario("iplen_beyond.pcap", &k, "5R", "Retransmitted bytes"), 100);
}

/* The ACK that completes the handshake is still judged with the default
 * out-of-order window (3 ms), not with the round-trip time it measures. */
TEST(test_e2_handshake_rtt_applies_after_the_completing_ack)
{
    static craft k;
    memset(&k, 0, sizeof k);
    seg(&k, 0, 1, 1000, 0, SYN, 100);         /* 1: SYN with 100 bytes (nextseq 1101) */
    seg(&k, 1, 0, 5000, 1001, SYN | ACK, 0);  /* 2 */
    seg(&k, 2, 1, 1001, 5001, ACK | PSH, 50); /* 3: completes the handshake, 2 ms after 1 */
    seg(&k, 40, 0, 5001, 1101, ACK, 0);       /* 4 */
    /* 2 ms < the default 3 ms: out-of-order; with the RTT (2 ms) it was not. */
    CHECK_EQ(check_scenario("rtt_on_ack.pcap", &k, "3O", "Out-of-order"), 1);
}

/* Data the other side acknowledged, resent within the handshake RTT of
 * the segment that set the next expected sequence number: tshark 4.0.17
 * checks "spurious" before "out-of-order" (zeek/pppoe-over-qinq.pcap,
 * frame 13). */
TEST(test_e2_acknowledged_data_is_spurious_before_out_of_order)
{
    static craft k;
    memset(&k, 0, sizeof k);
    seg(&k, 0, 1, 1000, 0, SYN, 0);             /* 1 */
    seg(&k, 10, 0, 5000, 1001, SYN | ACK, 0);   /* 2 */
    seg(&k, 400, 1, 1001, 5001, ACK, 0);        /* 3: handshake RTT 400 ms */
    seg(&k, 410, 0, 5001, 1001, ACK | PSH, 100); /* 4 */
    seg(&k, 411, 0, 5101, 1001, ACK | PSH, 100); /* 5: sets the next expected sequence number */
    seg(&k, 420, 1, 1001, 5101, ACK, 0);        /* 6: acknowledges 4 */
    seg(&k, 500, 0, 5001, 1001, ACK | PSH, 100); /* 7: 4 again, 89 ms after 5, acknowledged */
    CHECK_EQ(check_scenario("spurious_first.pcap", &k, "7S", "Spurious"), 1);
}

/* Frame i of k carried in PPPoE session (Ethernet, PPPoE, PPP, IPv4):
 * PPPoE's length covers PPP and the IP datagram's captured bytes; `pad`
 * bytes follow it, and the IP total length claims them too. */
static void in_pppoe(craft *k, size_t i, uint8_t pad)
{
    uint8_t *p = k->buf[i];
    uint32_t len = k->fr[i].caplen, ip = len - 14;
    memmove(p + 22, p + 14, ip);
    p[12] = 0x88, p[13] = 0x64;
    const uint8_t hdr[8] = {0x11, 0x00, 0x00, 0x01, (uint8_t)((ip + 2) >> 8), (uint8_t)(ip + 2), 0x00, 0x21};
    memcpy(p + 14, hdr, sizeof hdr);
    memset(p + 22 + ip, 0, pad);
    p[22 + 2] = (uint8_t)((ip + pad) >> 8), p[22 + 3] = (uint8_t)(ip + pad);
    p[22 + 10] = p[22 + 11] = 0; /* no checksum */
    k->fr[i].caplen = k->fr[i].len = len + 8 + pad;
}

/* Regression (zeek/pppoe-over-qinq.pcap): an IP total length beyond the
 * PPPoE payload length counts only what PPPoE carries; the padding after it
 * is no TCP payload, so the bare ACK moves no sequence number and the data
 * after it is no retransmission. */
TEST(test_e2_pppoe_length_bounds_the_ip_datagram)
{
    static craft k;
    handshake(&k);                              /* 1-3 */
    seg(&k, 30, 1, 1001, 5001, ACK, 0);         /* 4: bare ACK, IP says 6 more bytes */
    seg(&k, 40, 1, 1001, 5001, ACK | PSH, 100); /* 5: new data */
    seg(&k, 50, 0, 5001, 1101, ACK, 0);         /* 6 */
    for (size_t i = 0; i < k.n; i++)
        in_pppoe(&k, i, i == 3 ? 6 : 0);
    CHECK_EQ(check_scenario("pppoe_pad.pcap", &k, "", "Retransmissions"), 0);
}

TEST(test_e1_terminate_and_malformed)
{
    /* A long capture of many short connections, terminated early. */
    size_t n = 60000;
    tframe *fr = calloc(n, sizeof *fr);
    uint8_t(*buf)[80] = calloc(n, 80);
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = buf[i];
        uint8_t src[4] = {10, 1, (uint8_t)(i >> 8), (uint8_t)i};
        size_t o = eth_hdr(p, 0x0800);
        o += ipv4_hdr(p + o, 6, 0, 30, 0, src, SRV);
        o += tcp_hdr(p + o, (uint16_t)(1024 + i % 50000), 80, (uint32_t)(i % 3), ACK, 0);
        o += 10;
        fr[i].b = p;
        fr[i].caplen = fr[i].len = (uint32_t)o;
        fr[i].ts_ns = (int64_t)i * 1000;
    }
    const char *path = craft_path("many.pcap");
    CHECK(write_pcap(path, 1, 0, 1, fr, n));
    nmx_expert *ex = load_expert();
    if (!ex) {
        CHECK(ex != NULL);
        free(fr);
        free(buf);
        return;
    }
    result r;
    CHECK(run_on(ex, path, NULL, &r, 5));
    if (r.run) {
        CHECK(r.r.returned);
        CHECK(!r.r.hung);
        CHECK_EQ(r.r.mem.live_blocks, 0);
        CHECK_EQ(r.r.mem.live_bytes, 0);
    }
    done(&r);
    /* Without a limit the same capture runs to the end, leak-free. */
    CHECK(run_on(ex, path, NULL, &r, 0));
    if (r.run) {
        CHECK(r.r.run_value);
        CHECK_EQ(r.r.mem.live_blocks, 0);
        CHECK_EQ(col_num(table_row(r.run, 2, 0), "Segments"), n);
    }
    done(&r);

    /* Malformed: TCP headers cut short, header lengths below 20 or beyond
     * the IP length, IP lengths shorter than the headers. Nothing crashes. */
    size_t m = 0;
    for (size_t i = 0; i < 400; i++) {
        uint8_t *p = buf[i];
        size_t o = eth_hdr(p, 0x0800);
        o += ipv4_hdr(p + o, 6, 0, i % 40, 0, CLI, SRV);
        o += tcp_hdr(p + o, 1, 2, (uint32_t)i, (uint8_t)i, 0);
        p[14 + 20 + 12] = (uint8_t)((i % 16) << 4);
        fr[m].b = p;
        fr[m].caplen = (uint32_t)(14 + 20 + i % 21);
        fr[m].len = (uint32_t)(14 + 20 + i % 60);
        fr[m].ts_ns = (int64_t)i;
        m++;
    }
    path = craft_path("malformed.pcap");
    CHECK(write_pcap(path, 1, 0, 1, fr, m));
    CHECK(run_on(ex, path, "all=1\n", &r, 0));
    if (r.run) {
        CHECK(r.r.returned && r.r.run_value);
        CHECK_EQ(r.r.fault_signal, 0);
        CHECK_EQ(r.r.mem.live_blocks, 0);
    }
    done(&r);
    nmx_expert_unload(ex);
    free(fr);
    free(buf);
}

/* ---- E2 on the zeek corpus ---- */

typedef struct cfile {
    char path[4400];
} cfile;

static cfile *files;
static size_t nfiles, capfiles;

static int pcap_name(const char *n)
{
    size_t l = strlen(n);
    return (l > 5 && !strcmp(n + l - 5, ".pcap")) || (l > 7 && !strcmp(n + l - 7, ".pcapng"));
}

static void scan(const char *dir, int depth, int all)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4400];
        snprintf(p, sizeof p, "%.4000s/%.255s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (all || (depth == 0 && (!strcmp(e->d_name, "tcp") || !strcmp(e->d_name, "http"))))
                scan(p, depth + 1, 1);
        } else if (pcap_name(e->d_name)) {
            if (nfiles == capfiles) {
                capfiles = capfiles ? capfiles * 2 : 256;
                files = realloc(files, capfiles * sizeof *files);
            }
            memcpy(files[nfiles++].path, p, sizeof p);
        }
    }
    closedir(d);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(((const cfile *)a)->path, ((const cfile *)b)->path);
}

/* Files where the expert and tshark legitimately count differently, and
 * which of the four counts (bit 0 retransmissions, 1 fast, 2 spurious, 3
 * out-of-order) may differ there; every other count must still be equal. */
static const struct {
    const char *suffix;
    unsigned may_differ;
    const char *why;
} EXCEPTIONS[] = {
    {"ldap/gap-data-missing.pcapng", 15,
     "its pcapng interfaces have different snapshot lengths, which libpcap cannot read past (the capture "
     "layer warns): the expert sees no frame; the cap branch's reader (libwiretap) reads them"},
    {"tcp/reassembly.pcap", 2,
     "tshark 4.0 calls the server's repeated FINs fast retransmissions although the client sent no duplicate "
     "ACK (its tcp.analysis.duplicate_ack_num is empty on every client frame); the expert requires two, as the "
     "issue defines a fast retransmission; all 20 are retransmissions for both"},
    {NULL, 0, NULL},
};

static const char *exception(const char *path, unsigned *mask)
{
    for (size_t i = 0; EXCEPTIONS[i].suffix; i++) {
        size_t a = strlen(path), b = strlen(EXCEPTIONS[i].suffix);
        if (a >= b && !strcmp(path + a - b, EXCEPTIONS[i].suffix)) {
            *mask = EXCEPTIONS[i].may_differ;
            return EXCEPTIONS[i].why;
        }
    }
    *mask = 0;
    return NULL;
}

TEST(test_e2_totals_equal_tshark_analysis_flags_on_zeek)
{
    char zeek[4200];
    snprintf(zeek, sizeof zeek, "%s/captures/zeek", shared_dir());
    struct stat st;
    if (stat(zeek, &st) != 0) {
        SKIP_HERE("no zeek captures");
    }
    if (!have_tshark()) {
        SKIP_HERE("tshark not installed");
    }
    const char *e = getenv("NMX_EXPERT_CORPUS");
    scan(zeek, 0, e && !strcmp(e, "all"));
    qsort(files, nfiles, sizeof *files, by_path);
    double t0 = now_s();
    /* tshark, two at a time: one output file per capture. */
    char list[512], cmd[2048];
    snprintf(list, sizeof list, "%s/list", tmpdir);
    FILE *lf = fopen(list, "w");
    for (size_t i = 0; i < nfiles; i++)
        fprintf(lf, "%s/%zu.txt\n%s\n", tmpdir, i, files[i].path);
    fclose(lf);
    snprintf(cmd, sizeof cmd,
             "tr '\\n' '\\0' < %s | xargs -0 -P 2 -n 2 sh -c 'tshark -n -r \"$1\" -Y \"tcp.analysis.retransmission "
             "or tcp.analysis.out_of_order\" -T fields -e frame.number -e tcp.analysis.fast_retransmission "
             "-e tcp.analysis.spurious_retransmission -e tcp.analysis.out_of_order > \"$0\" 2>/dev/null; true'",
             list);
    CHECK_EQ(system(cmd), 0);
    double t1 = now_s();

    nmx_expert *ex = load_expert();
    CHECK(ex != NULL);
    if (!ex)
        return;
    unsigned compared = 0, equal = 0, excused = 0, differ = 0, with_any = 0;
    uint64_t sum_ours[4] = {0}, sum_theirs[4] = {0};
    for (size_t i = 0; i < nfiles; i++) {
        result r;
        if (!run_on(ex, files[i].path, "frames=1\n", &r, 0) || !r.r.returned) {
            done(&r);
            continue; /* unreadable: the capture tests cover it */
        }
        /* ours: per flagged frame (1-based) a kind bitmask: 1 retrans, 2 fast, 4 spurious, 8 ooo */
        size_t nours = table_rows(r.run, 3);
        unsigned *of = calloc(nours + 1, sizeof *of), *ok = calloc(nours + 1, sizeof *ok);
        unsigned ours[4] = {0}, theirs[4] = {0};
        for (size_t j = 0; j < nours; j++) {
            const NMEVENTDATA *ev = table_row(r.run, 3, j);
            of[j] = (unsigned)col_num(ev, "Frame") + 1;
            const NMCOLUMNINFO *kc = col(ev, "Kind");
            const char *kd = kc && kc->VariantData.Value.pStringVal ? kc->VariantData.Value.pStringVal : "";
            ok[j] = !strcmp(kd, "out-of-order") ? 8 : !strcmp(kd, "fast retransmission") ? 3
                    : !strcmp(kd, "spurious retransmission")                              ? 5
                                                                                          : 1;
        }
        const NMEVENTDATA *tot = table_row(r.run, 2, 0);
        ours[0] = (unsigned)col_num(tot, "Retransmissions");
        ours[1] = (unsigned)col_num(tot, "Fast");
        ours[2] = (unsigned)col_num(tot, "Spurious");
        ours[3] = (unsigned)col_num(tot, "Out-of-order");
        char out[1100], line[512];
        snprintf(out, sizeof out, "%s/%zu.txt", tmpdir, i);
        FILE *f = fopen(out, "r");
        char mism[400] = "";
        unsigned tf[64], tk[64], nt = 0;
        while (f && fgets(line, sizeof line, f)) {
            unsigned k = 0, fi = 0, frame = (unsigned)atoi(line);
            for (char *q = strchr(line, '\t'); q; q = strchr(q + 1, '\t'), fi++)
                if (q[1] && q[1] != '\t' && q[1] != '\n')
                    k |= 2u << fi;
            if (!(k & 8))
                k |= 1;
            theirs[0] += !!(k & 1);
            theirs[1] += !!(k & 2);
            theirs[2] += !!(k & 4);
            theirs[3] += !!(k & 8);
            if (nt < 64) {
                tf[nt] = frame;
                tk[nt] = k;
            }
            nt++;
        }
        if (f)
            fclose(f);
        /* first few frame-level differences, for the report */
        for (unsigned j = 0; j < nt && j < 64 && strlen(mism) < 300; j++) {
            size_t q = 0;
            while (q < nours && of[q] != tf[j])
                q++;
            if (q == nours || ok[q] != tk[j])
                snprintf(mism + strlen(mism), sizeof mism - strlen(mism), " tshark#%u=%u/ours=%u", tf[j], tk[j],
                         q == nours ? 0 : ok[q]);
        }
        for (size_t q = 0; q < nours && strlen(mism) < 300; q++) {
            unsigned j = 0;
            while (j < nt && j < 64 && tf[j] != of[q])
                j++;
            if (j == nt)
                snprintf(mism + strlen(mism), sizeof mism - strlen(mism), " ours#%u=%u/tshark=0", of[q], ok[q]);
        }
        free(of);
        free(ok);
        compared++;
        with_any += theirs[0] || theirs[3] || ours[0] || ours[3];
        for (int j = 0; j < 4; j++) {
            sum_ours[j] += ours[j];
            sum_theirs[j] += theirs[j];
        }
        int same = !memcmp(ours, theirs, sizeof ours);
        unsigned mask = 0, diffmask = 0;
        const char *why = exception(files[i].path, &mask);
        for (int j = 0; j < 4; j++)
            diffmask |= (unsigned)(ours[j] != theirs[j]) << j;
        if (why && (diffmask & ~mask))
            why = NULL; /* differs beyond what the exception explains */
        const char *name = files[i].path + strlen(zeek) + 1;
        if (same) {
            equal++;
        } else if (why) {
            excused++;
            printf("     differs as expected: %s: ours %u/%u/%u/%u, tshark %u/%u/%u/%u: %s\n", name, ours[0], ours[1],
                   ours[2], ours[3], theirs[0], theirs[1], theirs[2], theirs[3], why);
        } else {
            differ++;
            printf("     DIFFERS: %s: retrans/fast/spurious/ooo ours %u/%u/%u/%u, tshark %u/%u/%u/%u;%s\n", name,
                   ours[0], ours[1], ours[2], ours[3], theirs[0], theirs[1], theirs[2], theirs[3], mism);
        }
        done(&r);
    }
    printf("     %u captures compared (%u with retransmissions or out-of-order segments): %u equal, %u listed "
           "exceptions, %u differ; totals retrans/fast/spurious/ooo ours %llu/%llu/%llu/%llu, tshark "
           "%llu/%llu/%llu/%llu (tshark %.1f s, expert %.1f s)\n",
           compared, with_any, equal, excused, differ, (unsigned long long)sum_ours[0],
           (unsigned long long)sum_ours[1], (unsigned long long)sum_ours[2], (unsigned long long)sum_ours[3],
           (unsigned long long)sum_theirs[0], (unsigned long long)sum_theirs[1], (unsigned long long)sum_theirs[2],
           (unsigned long long)sum_theirs[3], t1 - t0, now_s() - t1);
    CHECK(compared > 0);
    CHECK_EQ(differ, 0);
    nmx_expert_unload(ex);
    free(files);
}

int main(int argc, char **argv)
{
    CHECK_INIT(argc, argv);
    if (!tests_begin("tcpretrans"))
        return EXIT_FAILURE;
    RUN(test_e1_register_and_default_config);
    RUN(test_e1_crafted_retransmissions_are_classified);
    RUN(test_e1_terminate_and_malformed);
    RUN(test_e2_bare_ack_advances_next_sequence_number);
    RUN(test_e2_out_of_order_alone_is_no_retransmitting_connection);
    RUN(test_e2_ipv4_length_beyond_frame_is_capped);
    RUN(test_e2_handshake_rtt_applies_after_the_completing_ack);
    RUN(test_e2_acknowledged_data_is_spurious_before_out_of_order);
    RUN(test_e2_pppoe_length_bounds_the_ip_datagram);
    RUN_CORPUS(test_e2_totals_equal_tshark_analysis_flags_on_zeek);
    tests_end(); /* NMX_KEEP_TMP keeps the crafted captures for a look */
    return CHECK_DONE();
}
