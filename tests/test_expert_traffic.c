/* Traffic Over Time (SPEC E1, E2; issue 11 item 4): unit tests on captures
 * the test writes (intervals, time stamps out of order and before the first
 * frame, protocol columns, configuration, terminate, damage), and agreement
 * with tshark's `-z io,stat,INTERVAL,frame,tcp,udp` on the zeek corpus:
 * frames and bytes of every interval, in total and for TCP and UDP.
 *
 * The interval of each file is the smallest power of two seconds (2^-6 up)
 * that gives at most 64 intervals over its duration: exact in binary, so
 * tshark and the expert mean the same microseconds. One difference of
 * definition, counted and printed: tshark prints the intervals that end
 * before the capture's duration (ceil(duration / interval) of them, none for
 * a capture of one instant), so a frame exactly at the last boundary is in
 * no row it prints; the expert reports every interval that has a frame.
 * Captures left out, counted: those the capture layer reads short, with IP
 * fragments (with reassembly on, tshark's "udp" matches only the frame that
 * completes a datagram; the host lists UDP on the first fragment, which
 * carries the header), with packets quoted in ICMP errors (tshark's "tcp"
 * and "udp" match the quoted header), with IP behind a layer the host does
 * not decode and,
 * while it does not decode
 * tunnels, with tunnels (tshark's "tcp" and "udp" columns match inner
 * transports). Time: every 4th zeek file (NMX_EXPERT_CORPUS_FULL=1: all).
 */
#include "expert_counting_util.h" /* first: it sets _DEFAULT_SOURCE */

/* ---- unit tests ---- */

typedef struct ttrow {
    double start, frames, bytes, bits, pf[2], pb[2];
} ttrow;

/* Table 1's rows (at most n), with the first two protocol columns. */
static size_t rows_of(nmx_run *run, ttrow *out, size_t n, const char *p0, const char *p1)
{
    size_t ne = 0, k = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &ne);
    char c[4][48];
    snprintf(c[0], sizeof c[0], "%s Frames", p0 ? p0 : "");
    snprintf(c[1], sizeof c[1], "%s Bytes", p0 ? p0 : "");
    snprintf(c[2], sizeof c[2], "%s Frames", p1 ? p1 : "");
    snprintf(c[3], sizeof c[3], "%s Bytes", p1 ? p1 : "");
    for (size_t i = 0; i < ne && k < n; i++) {
        if (ev[i]->EventIdent != 1)
            continue;
        ttrow *r = &out[k++];
        r->start = col_num(ev[i], "Time (s)");
        r->frames = col_num(ev[i], "Frames");
        r->bytes = col_num(ev[i], "Bytes");
        r->bits = col_num(ev[i], "Bits/s");
        r->pf[0] = p0 ? col_num(ev[i], c[0]) : 0;
        r->pb[0] = p0 ? col_num(ev[i], c[1]) : 0;
        r->pf[1] = p1 ? col_num(ev[i], c[2]) : 0;
        r->pb[1] = p1 ? col_num(ev[i], c[3]) : 0;
    }
    return k;
}

static const NMEVENTDATA *summary_row(nmx_run *run)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        if (ev[i]->EventIdent == 2)
            return ev[i];
    return NULL;
}

TEST(test_traffic_counts_a_known_capture)
{
    /* frames at 0..8 ms: interval 0.004 s gives [0,4) [4,8) [8,12) */
    const char *path = write_unit_capture(0);
    nmx_capture *cap = path ? open_capture(path) : NULL;
    CHECK(cap != NULL);
    if (!cap || !ex)
        return;
    nmx_run_result r;
    nmx_run *run = run_over(ex, cap, "interval=0.004\nprotocols=tcp,udp\n", &r, NULL);
    CHECK(run != NULL);
    if (run) {
        check_clean_end(&r);
        ttrow t[8];
        CHECK_EQ(rows_of(run, t, 8, "tcp", "udp"), 3);
        /* 0-3 ms: tcp 74 x3, udp 54; 4-7: udp 60, arp 60, vlan/udp 50, ipv6 62; 8: tcp (truncated) 1514 */
        CHECK_EQ(t[0].frames, 4);
        CHECK_EQ(t[0].bytes, 74 * 3 + 54);
        CHECK_EQ(t[0].pf[0], 3);
        CHECK_EQ(t[0].pb[0], 74 * 3);
        CHECK_EQ(t[0].pf[1], 1);
        CHECK_EQ(t[1].frames, 4);
        CHECK_EQ(t[1].bytes, 60 + 60 + 50 + 62);
        CHECK_EQ(t[1].pf[0], 0);
        CHECK_EQ(t[1].pf[1], 2);
        CHECK_EQ(t[1].pb[1], 110);
        CHECK_EQ(t[2].frames, 1);
        CHECK_EQ(t[2].pf[0], 1); /* truncated TCP: tshark's "tcp" matches it too */
        CHECK(fabs(t[1].start - 0.004) < 1e-12);
        CHECK(fabs(t[0].bits - (74 * 3 + 54) * 8 / 0.004) < 1e-6);
        const NMEVENTDATA *s = summary_row(run);
        CHECK(s && col_num(s, "Frames") == 9 && fabs(col_num(s, "Duration (s)") - 0.008) < 1e-12);
        CHECK(s && fabs(col_num(s, "Peak at (s)") - 0.008) < 1e-12); /* 1514 bytes */
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

/* A frame earlier than its column's latest interval counts in that
 * interval, as tshark's io,stat has it (also before the first frame). */
TEST(test_traffic_out_of_order_frames_count_in_the_latest_interval)
{
    static uint8_t fr[42];
    memset(fr, 0xff, 12);
    fr[12] = 0x08, fr[13] = 0x06;
    static const int64_t ms[] = {1000, -3500, 1500, 2999, 0, 3499, 3501};
    tframe t[7];
    for (int i = 0; i < 7; i++)
        t[i] = (tframe){fr, 42, (uint32_t)(60 + i), 1700000000LL * 1000000000LL + ms[i] * 1000000, 0};
    char path[600];
    snprintf(path, sizeof path, "%s/ooo.pcap", tmpdir);
    CHECK(write_pcap(path, 1, 0, 1, t, 7));
    nmx_capture *cap = open_capture(path);
    if (!cap || !ex) {
        CHECK(cap != NULL);
        return;
    }
    nmx_run_result r;
    nmx_run *run = run_over(ex, cap, "interval=0.5\n", &r, NULL);
    if (run) {
        check_clean_end(&r);
        ttrow x[10];
        CHECK_EQ(rows_of(run, x, 10, NULL, NULL), 6);
        static const double want[6] = {2, 1, 0, 2, 1, 1}; /* frames per half second from frame 0 */
        for (int i = 0; i < 6; i++)
            CHECK_EQ(x[i].frames, want[i]);
        CHECK_EQ(x[0].bytes, 60 + 61);
        CHECK_EQ(x[3].bytes, 63 + 64); /* 1.999 s and the frame at -1 s after it */
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

TEST(test_traffic_configuration)
{
    if (!ex)
        return;
    CHECK(strcmp(nmx_expert_info(ex)->szName, "Traffic Over Time") == 0);
    EXPERTCONFIG *out = NULL;
    BOOL ret = FALSE;
    CHECK_EQ(nmx_expert_configure(ex, NULL, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret && out && strcmp((const char *)out->RawConfigData, "interval=1\nprotocols=\n") == 0);
    free(out);
    EXPERTCONFIG *in = make_config("interval = 0.25\nprotocols = tcp, dns\n");
    out = NULL;
    CHECK_EQ(nmx_expert_configure(ex, in, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret && out && strcmp((const char *)out->RawConfigData, "interval=0.25\nprotocols=tcp,dns\n") == 0);
    free(out);
    free(in);
    static const char *const bad[] = {"interval=0\n", "interval=-1\n", "interval=x\n", "protocols=tcp,nosuch\n",
                                      "protocols=a,b,c,d,e,f,g,h,i\n", "speed=1\n"};
    check_bad_configs(bad, sizeof bad / sizeof *bad);
}

TEST(test_traffic_terminate_damage_and_too_many_intervals)
{
    const char *path = write_unit_capture(20000);
    nmx_capture *cap = path ? open_capture(path) : NULL;
    CHECK(cap != NULL);
    if (!cap || !ex)
        return;
    check_terminates(cap);
    /* 20 s of frames in microseconds: 2e7 intervals, over the limit: a problem that says so */
    nmx_run_result r;
    nmx_run *run = run_over(ex, cap, "interval=0.000001\n", &r, NULL);
    if (run) {
        CHECK_EQ(r.status.Status, EXPERTSTATUS_PROBLEM);
        CHECK(strstr(r.status.szStatusText, "longer interval") != NULL);
        CHECK_EQ(r.mem.live_blocks, 0);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
    static const char *const cfg[] = {NULL, "interval=0.001\nprotocols=ip,tcp,udp"};
    check_survives_damage(ex, cfg, 2, 1);
}

/* ---- against tshark ---- */

/* The smallest power of two seconds (2^-6 and up) giving at most 64 intervals. */
static void pick_interval(int64_t dur_ns, char *buf, size_t len)
{
    double iv = 1.0 / 64;
    while ((double)dur_ns / 1e9 / iv > 64)
        iv *= 2;
    snprintf(buf, len, "%.6f", iv);
}

typedef struct irow {
    unsigned long long v[6]; /* frames, bytes; tcp frames, bytes; udp frames, bytes */
} irow;

/* tshark's io,stat rows: "| a <> b | f | b | f | b | f | b |". */
static size_t parse_iostat(const char *text, irow *out, size_t max)
{
    size_t n = 0;
    for (const char *p = text; p && *p && n < max; p = strchr(p, '\n')) {
        if (*p == '\n')
            p++;
        if (*p != '|' || !strstr(p, "<>") || (strchr(p, '\n') && strstr(p, "<>") > strchr(p, '\n')))
            continue;
        const char *q = strchr(p + 1, '|');
        irow r;
        int k = 0;
        while (q && k < 6) {
            char *end;
            r.v[k] = strtoull(q + 1, &end, 10);
            if (end == q + 1)
                break;
            k++;
            q = strchr(end, '|');
        }
        if (k == 6)
            out[n++] = r;
    }
    return n;
}

typedef struct io_ctx {
    char (*iv)[32];    /* the interval of file i */
    char (*arg)[64];   /* its -z argument */
} io_ctx;

static int io_argv(size_t i, const char *path, char **argv, void *ctx)
{
    io_ctx *x = ctx;
    nmx_capture *cap;
    if (!in_subset(i, 4) || !(cap = open_capture(path)))
        return 0;
    nmx_capture_info in;
    nmx_capture_get_info(cap, &in);
    nmx_capture_close(cap);
    pick_interval(in.latest_ts - in.first_ts, x->iv[i], sizeof x->iv[i]);
    snprintf(x->arg[i], sizeof x->arg[i], "io,stat,%s,frame,tcp,udp", x->iv[i]);
    const char *z[] = {"-z", x->arg[i], NULL};
    corpus_argv(argv, path, z);
    return 1;
}

/* Our rows against tshark's: 1 when equal; *boundary when ours has one
 * more, starting where tshark prints none (the capture's end). */
static int compare_io(const char *path, const char *iv, const ttrow *ours, size_t no, const irow *theirs,
                      size_t nt, int *boundary)
{
    int same = no == nt || no == nt + 1, shown = 0;
    for (size_t i = 0; i < nt && i < no; i++) {
        double o[6] = {ours[i].frames, ours[i].bytes, ours[i].pf[0], ours[i].pb[0], ours[i].pf[1], ours[i].pb[1]};
        for (int k = 0; k < 6; k++)
            if (o[k] != (double)theirs[i].v[k]) {
                same = 0;
                if (shown++ < 3)
                    printf("     DIFFERS: %s (interval %s): row %zu column %d: ours %.0f, tshark %llu\n",
                           short_name(path), iv, i, k, o[k], theirs[i].v[k]);
            }
    }
    if (no != nt && no != nt + 1)
        printf("     DIFFERS: %s (interval %s): %zu rows, tshark %zu\n", short_name(path), iv, no, nt);
    *boundary = same && no == nt + 1;
    return same;
}

TEST(test_e2_traffic_equals_tshark_io_stat_on_the_zeek_corpus)
{
    int tunnels_decoded = strcmp(nmx_proto_name(NMX_PROTO_GRE), "?") != 0;
    strv probe = {0};
    zeek_files(&probe);
    io_ctx x = {calloc(probe.n + 1, 32), calloc(probe.n + 1, 64)};
    strv_free(&probe);
    corpus c;
    const char *why;
    if (!corpus_start(&c, io_argv, &x, &why)) {
        free(x.iv);
        free(x.arg);
        SKIP_HERE(why);
    }
    unsigned compared = 0, equal = 0, differ = 0, boundary = 0, undecoded = 0, short_read = 0, tunnels = 0,
             frag = 0, quote = 0, excused = 0;
    unsigned long long rows = 0;
    corpus_file f;
    for (size_t j = 0; corpus_next(&c, &f); j++) {
        const file_traits *tr = &f.tr;
        const char *iv = x.iv[c.which[c.next - 1]];
        if (tr->fragments || tr->icmp_quote || tr->undecoded || our_frames(f.cap) != tr->frames ||
            (!tunnels_decoded && tr->tunnels)) {
            if (tr->fragments)
                frag++;
            else if (tr->icmp_quote)
                quote++;
            else if (!tunnels_decoded && tr->tunnels)
                tunnels++;
            else if (tr->undecoded)
                undecoded++;
            else
                short_read++;
            corpus_file_done(&f);
            continue;
        }
        size_t cap_rows = 1 + (size_t)tr->frames + 64;
        irow *theirs = calloc(cap_rows, sizeof *theirs);
        size_t nt = parse_iostat(f.stats, theirs, cap_rows);
        char cfg[96];
        snprintf(cfg, sizeof cfg, "interval=%s\nprotocols=tcp,udp\n", iv);
        nmx_run_result r;
        nmx_run *run = run_over(ex, f.cap, cfg, &r, NULL);
        CHECK(run != NULL);
        ttrow *ours = calloc(cap_rows, sizeof *ours);
        size_t no = run ? rows_of(run, ours, cap_rows, "tcp", "udp") : 0;
        if (run) {
            check_clean_end(&r);
            nmx_run_free(run);
        }
        compared++;
        rows += nt;
        int at_end = 0;
        const char *exc = tunnel_exception(f.path);
        int same = compare_io(f.path, iv, ours, no, theirs, nt, &at_end);
        if (!same && exc) {
            excused++;
            printf("     differs as expected: %s: %s\n", short_name(f.path), exc);
        } else if (!same)
            differ++;
        else if (at_end) {
            boundary++;
            printf("     differs as expected: %s: our last interval (%.0f frames) starts at the capture's end, "
                   "where tshark prints no row\n", short_name(f.path), ours[no - 1].frames);
        } else
            equal++;
        free(ours);
        free(theirs);
        corpus_file_done(&f);
    }
    printf("     io,stat: %zu zeek files, %zu in the subset: %u compared (%llu rows), %u equal, %u with a last "
           "frame on an interval boundary, %u listed exceptions, %u differ; excluded: %u with IP fragments, %u with ICMP-quoted packets, "
           "%u with IP behind undecoded layers, %u read short by the capture layer, %u with tunnels the host does "
           "not decode (%.1f s)\n",
           c.files.n, c.nj, compared, rows, equal, boundary, excused, differ, frag, quote, undecoded, short_read, tunnels,
           now_s() - c.t0);
    CHECK(compared > 0);
    CHECK_EQ(differ, 0);
    corpus_end(&c);
    free(x.iv);
    free(x.arg);
}

int main(int argc, char **argv)
{
    if (!counting_begin(argc, argv, "traffic"))
        return EXIT_FAILURE;
    RUN(test_traffic_counts_a_known_capture);
    RUN(test_traffic_out_of_order_frames_count_in_the_latest_interval);
    RUN(test_traffic_configuration);
    RUN(test_traffic_terminate_damage_and_too_many_intervals);
    RUN_CORPUS(test_e2_traffic_equals_tshark_io_stat_on_the_zeek_corpus);
    return counting_end();
}
