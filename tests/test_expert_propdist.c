/* Property Distribution (SPEC E1, E2): unit tests on a capture the test
 * writes, and agreement with an aggregation of
 * `tshark -n -r F -T fields -e FIELD` for every supported field on a few
 * zeek captures: each value's count, and count, minimum, maximum, mean.
 *
 * Frames where tshark prints an empty field are not counted (ours: the frame
 * does not carry it, or not all its bytes were captured). The captures
 * compared are those without tunnels, IP fragments, ICMP errors quoting a
 * packet, or IP behind a layer nmexpert does not decode: there tshark prints
 * several values (or values nmexpert cannot see) for a field that nmexpert
 * takes from the outermost header only, a definition that legitimately
 * differs. Time: every 16th zeek file by name, those that qualify
 * (NMX_EXPERT_CORPUS_FULL=1: every file that qualifies).
 */
#include "expert_counting_util.h" /* first: it sets _DEFAULT_SOURCE */

static const char *const fields[] = {"frame.len",   "eth.type",    "ip.proto",
                                     "ip.ttl",      "ip.len",      "tcp.srcport",
                                     "tcp.dstport", "tcp.window_size_value", "udp.srcport",
                                     "udp.dstport", "eth.src", "eth.dst", "ip.src", "ip.dst",
                                     "ipv6.src", "ipv6.dst", "dns.qry.name", "http.host",
                                     "tls.handshake.extensions_server_name"};
#define NF (sizeof fields / sizeof *fields)
#define NNUMERIC 10   /* the first NF fields are numbers: min, max and mean compared */
#define NAMES_FROM 16 /* these need the host to recognise DNS, HTTP and TLS */

/* ---- unit tests ---- */

static double count_of(nmx_run *run, const char *value)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        if (ev[i]->EventIdent == 1 && strcmp(col_str(ev[i], "Value"), value) == 0)
            return col_num(ev[i], "Count");
    return 0;
}

static const NMEVENTDATA *summary(nmx_run *run)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        if (ev[i]->EventIdent == 2)
            return ev[i];
    return NULL;
}

static nmx_run *run_field(nmx_capture *cap, const char *field, nmx_run_result *r)
{
    char cfg[128];
    snprintf(cfg, sizeof cfg, "field=%s\n", field);
    nmx_run *run = run_over(ex, cap, cfg, r, NULL);
    CHECK(run != NULL);
    if (run)
        check_clean_end(r);
    return run;
}

static void check_summary(nmx_run *run, const char *field, double n, double mn, double mx, double mean)
{
    const NMEVENTDATA *s = summary(run);
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK(strcmp(col_str(s, "Field"), field) == 0);
    CHECK_EQ(col_num(s, "Count"), n);
    CHECK_EQ(col_num(s, "Minimum"), mn);
    CHECK_EQ(col_num(s, "Maximum"), mx);
    CHECK(fabs(col_num(s, "Mean") - mean) < 1e-9);
}

TEST(test_propdist_counts_a_known_capture)
{
    const char *path = write_unit_capture(0);
    nmx_capture *cap = path ? open_capture(path) : NULL;
    CHECK(cap != NULL);
    if (!cap || !ex)
        return;
    nmx_run_result r;
    /* default: frame.len */
    nmx_run *run = run_over(ex, cap, NULL, &r, NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(count_of(run, "74"), 3);
        CHECK_EQ(count_of(run, "60"), 2);
        CHECK_EQ(count_of(run, "1514"), 1);
        check_summary(run, "frame.len", 9, 50, 1514, (74.0 * 3 + 54 + 60 + 60 + 50 + 62 + 1514) / 9);
        /* the value rows: most frequent first, percentages of the frames counted */
        const NMEVENTDATA *first = nmx_run_event(run, 0);
        CHECK(first && strcmp(col_str(first, "Value"), "74") == 0);
        CHECK(first && fabs(col_num(first, "%") - 100.0 * 3 / 9) < 1e-9);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "eth.type", &r))) {
        CHECK_EQ(count_of(run, "0x0800"), 6);
        CHECK_EQ(count_of(run, "0x8100"), 1);
        CHECK_EQ(count_of(run, "0x0806"), 1);
        CHECK_EQ(count_of(run, "0x86dd"), 1);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "ip.len", &r))) {
        CHECK_EQ(count_of(run, "60"), 3);
        CHECK_EQ(count_of(run, "40"), 2);
        CHECK_EQ(count_of(run, "32"), 1);
        CHECK_EQ(count_of(run, "1500"), 1);
        check_summary(run, "ip.len", 7, 32, 1500, (180.0 + 80 + 32 + 1500) / 7);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "ip.ttl", &r))) {
        check_summary(run, "ip.ttl", 7, 64, 64, 64);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "ip.proto", &r))) {
        CHECK_EQ(count_of(run, "6"), 4);
        CHECK_EQ(count_of(run, "17"), 3);
        nmx_run_free(run);
    }
    /* the truncated frame has its ports captured but not its window */
    if ((run = run_field(cap, "tcp.srcport", &r))) {
        check_summary(run, "tcp.srcport", 4, 1000, 1000, 1000);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "tcp.dstport", &r))) {
        check_summary(run, "tcp.dstport", 4, 80, 80, 80);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "tcp.window_size_value", &r))) {
        check_summary(run, "tcp.window_size_value", 3, 65520, 65520, 65520);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "udp.srcport", &r))) {
        CHECK_EQ(count_of(run, "53"), 2);
        CHECK_EQ(count_of(run, "4000"), 1);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "udp.dstport", &r))) {
        CHECK_EQ(count_of(run, "5353"), 2);
        check_summary(run, "udp.dstport", 3, 4001, 5353, (5353.0 * 2 + 4001) / 3);
        nmx_run_free(run);
    }
    /* top=1: one value row, the summary and (a length) the 10 buckets */
    run = run_over(ex, cap, "field=ip.len\ntop=1\n", &r, NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(r.events, 12);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "ip.src", &r))) {
        CHECK_EQ(count_of(run, "10.0.0.1"), 4);
        CHECK_EQ(count_of(run, "10.0.0.2"), 2);
        CHECK_EQ(count_of(run, "10.0.0.3"), 1);
        const NMEVENTDATA *s = summary(run);
        CHECK(s && col_num(s, "Count") == 7 && col_num(s, "Distinct") == 3);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "ip.dst", &r))) {
        CHECK_EQ(count_of(run, "10.0.0.2"), 4);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "ipv6.src", &r))) {
        CHECK_EQ(count_of(run, "2001:db8::1"), 1);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "ipv6.dst", &r))) {
        CHECK_EQ(count_of(run, "2001:db8::2"), 1);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "eth.src", &r))) {
        CHECK_EQ(count_of(run, "66:77:88:99:aa:bb"), 9);
        nmx_run_free(run);
    }
    if ((run = run_field(cap, "eth.dst", &r))) {
        CHECK_EQ(count_of(run, "00:11:22:33:44:55"), 9);
        nmx_run_free(run);
    }
    /* frame.len buckets, as -z plen,tree: 50 and 54..74 in 40-79, 1514 in 1280-2559 */
    if ((run = run_field(cap, "frame.len", &r))) {
        size_t n = 0, rows = 0;
        const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
        for (size_t i = 0; i < n; i++) {
            if (ev[i]->EventIdent != 3)
                continue;
            rows++;
            const char *b = col_str(ev[i], "Bucket");
            double c = col_num(ev[i], "Count");
            if (!strcmp(b, "40-79")) {
                CHECK_EQ(c, 8);
                CHECK_EQ(col_num(ev[i], "Minimum"), 50);
                CHECK_EQ(col_num(ev[i], "Maximum"), 74);
                CHECK(fabs(col_num(ev[i], "Average") - (74.0 * 3 + 54 + 60 + 60 + 50 + 62) / 8) < 1e-9);
                CHECK(fabs(col_num(ev[i], "%") - 800.0 / 9) < 1e-9);
            } else if (!strcmp(b, "1280-2559")) {
                CHECK_EQ(c, 1);
            } else {
                CHECK_EQ(c, 0);
            }
        }
        CHECK_EQ(rows, 10);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

/* Regression (issue 11, found against tshark): an IPv4 total length of 0
 * (TCP segmentation offload) is shown as the length Wireshark infers from
 * the frame, not as 0; a length beyond the frame stays what the header says. */
TEST(test_propdist_ip_len_of_tso_frames_is_inferred)
{
    static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    static uint8_t fr[2][128];
    tframe t[2];
    for (int i = 0; i < 2; i++) {
        size_t n = eth_hdr(fr[i], 0x0800);
        n += ipv4_hdr(fr[i] + n, 6, 0, 40, 0, a, b);
        n += tcp_hdr(fr[i] + n, 1000, 80, 1, 0x10, 0);
        fr[i][16] = 0; /* total length 0 (frame 0) or 9000 (frame 1) */
        fr[i][17] = 0;
        if (i == 1)
            fr[i][16] = 9000 >> 8, fr[i][17] = 9000 & 255;
        t[i] = (tframe){fr[i], (uint32_t)n, 2974, (int64_t)i * 1000, 0};
    }
    char path[512];
    snprintf(path, sizeof path, "%s/tso.pcap", tmpdir);
    CHECK(write_pcap(path, 1, 0, 1, t, 2));
    nmx_capture *cap = open_capture(path);
    CHECK(cap != NULL);
    if (!cap || !ex)
        return;
    nmx_run_result r;
    nmx_run *run = run_field(cap, "ip.len", &r);
    if (run) {
        CHECK_EQ(count_of(run, "2960"), 1); /* 2974 on the wire - 14 of Ethernet */
        CHECK_EQ(count_of(run, "9000"), 1);
        CHECK_EQ(count_of(run, "0"), 0);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
    if (!have_tshark()) {
        SKIP_HERE("tshark not installed");
    }
    char cmd[1024], got[64] = "";
    snprintf(cmd, sizeof cmd, "tshark -n -r %s -T fields -e ip.len 2>/dev/null | tr '\\n' ' '", path);
    FILE *p = popen(cmd, "r");
    if (p && !fgets(got, sizeof got, p))
        got[0] = '\0';
    if (p)
        pclose(p);
    CHECK(strcmp(got, "2960 9000 ") == 0);
}

TEST(test_propdist_configuration)
{
    if (!ex)
        return;
    const EXPERTENUMINFO *info = nmx_expert_info(ex);
    CHECK(strcmp(info->szName, "Property Distribution") == 0);
    CHECK(strcmp(info->szVendor, "nmexpert") == 0);
    CHECK_EQ(info->Version, 2);
    CHECK_EQ(info->Flags, EXPERT_ENUM_FLAG_CONFIGURABLE);
    EXPERTCONFIG *out = NULL;
    BOOL ret = FALSE;
    CHECK_EQ(nmx_expert_configure(ex, NULL, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret);
    CHECK(out != NULL);
    if (out) {
        const char *want = "field=frame.len\ntop=0\n";
        CHECK_EQ(out->RawConfigLength, sizeof(DWORD) + strlen(want) + 1);
        CHECK(strcmp((const char *)out->RawConfigData, want) == 0);
        free(out);
    }
    EXPERTCONFIG *in = make_config("field = tcp.dstport\n");
    out = NULL;
    CHECK_EQ(nmx_expert_configure(ex, in, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret);
    if (out) {
        CHECK(strcmp((const char *)out->RawConfigData, "field=tcp.dstport\ntop=0\n") == 0);
        free(out);
    }
    free(in);
    static const char *const bad[] = {"field=ip.nonsense\n", "fields=ip.ttl\n", "top=x\n", "field\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        in = make_config(bad[i]);
        out = NULL;
        ret = TRUE;
        nmx_expert_configure(ex, in, NULL, &out, &ret);
        CHECK(!ret);
        free(out);
        free(in);
        nmx_run_result r;
        nmx_run *run = run_over(ex, NULL, bad[i], &r, NULL);
        CHECK(run != NULL);
        if (run) {
            CHECK(r.returned);
            CHECK_EQ(r.status.Status, EXPERTSTATUS_PROBLEM);
            CHECK_EQ(r.events, 0);
            CHECK_EQ(r.mem.live_blocks, 0);
            nmx_run_free(run);
        }
    }
}

TEST(test_propdist_terminate_and_many_values)
{
    if (!ex)
        return;
    const char *path = write_unit_capture(3000);
    nmx_capture *cap = path ? open_capture(path) : NULL;
    CHECK(cap != NULL);
    if (!cap)
        return;
    terminate_calls = 0;
    nmx_run_result r;
    nmx_run *run = run_over(ex, cap, NULL, &r, terminate_at_progress);
    CHECK(run != NULL);
    if (run) {
        CHECK(terminate_calls > 0);
        CHECK(r.returned);
        CHECK(r.terminated);
        CHECK(!r.run_value);
        CHECK_EQ(r.fault_signal, 0);
        CHECK_EQ(r.mem.live_blocks, 0);
        CHECK_EQ(r.events, 0);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
    /* 2000 distinct lengths: the value table grows many times */
    enum { N = 2000 };
    static uint8_t buf[1600];
    tframe *t = calloc(N, sizeof *t);
    if (!t)
        return;
    eth_hdr(buf, 0x0800);
    for (int i = 0; i < N; i++)
        t[i] = (tframe){buf, 14, (uint32_t)(60 + i), (int64_t)i * 1000, 0};
    char p2[600];
    snprintf(p2, sizeof p2, "%s/lengths.pcap", tmpdir);
    CHECK(write_pcap(p2, 1, 0, 0, t, N));
    free(t);
    cap = open_capture(p2);
    CHECK(cap != NULL);
    if (!cap)
        return;
    run = run_over(ex, cap, "field=frame.len", &r, NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(r.events, N + 1 + 10); /* values, summary, the 10 length buckets */
        check_summary(run, "frame.len", N, 60, 60 + N - 1, 60 + (N - 1) / 2.0);
        CHECK(r.mem.reallocs > 0);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

TEST(test_propdist_damaged_frames)
{
    static const char *const cfg[] = {"field=frame.len", "field=eth.type", "field=ip.proto", "field=ip.ttl",
                                      "field=ip.len", "field=tcp.srcport", "field=tcp.dstport",
                                      "field=tcp.window_size_value", "field=udp.srcport", "field=udp.dstport"};
    check_survives_damage(ex, cfg, 10, 1);
}

/* ---- against tshark ---- */

typedef struct vcount {
    char value[300];
    unsigned long long n;
    int seen;
} vcount;

typedef struct agg {
    vcount *v;
    size_t n, cap;
    unsigned long long count;
    double min, max, sum;
} agg;

static void agg_add(agg *a, const char *value, unsigned long long k)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].value, value) == 0) {
            a->v[i].n += k;
            return;
        }
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = realloc(a->v, a->cap * sizeof *a->v);
    }
    vcount *x = &a->v[a->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->value, sizeof x->value, "%s", value);
    x->n = k;
}

/* Aggregates column `c` (3 + field index) of the -T fields lines: the first
 * value of each non-empty cell. */
static void aggregate(const char *text, size_t c, agg *a)
{
    memset(a, 0, sizeof *a);
    a->min = 1e300;
    a->max = -1;
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (strncmp(p, "====", 4) == 0)
            break;
        const char *cell = p;
        size_t k = 0;
        while (k < c && cell < p + len) {
            const char *tab = memchr(cell, '\t', (size_t)(p + len - cell));
            if (!tab) {
                cell = p + len;
                break;
            }
            cell = tab + 1;
            k++;
        }
        if (k == c && cell < p + len) {
            size_t w = strcspn(cell, ",\t\n");
            if (w > 0 && w < 299) {
                char v[300];
                memcpy(v, cell, w);
                v[w] = 0;
                agg_add(a, v, 1);
                double d = (double)strtoull(v, NULL, 0);
                a->count++;
                a->sum += d;
                if (d < a->min)
                    a->min = d;
                if (d > a->max)
                    a->max = d;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
}

static int fields_argv(size_t i, const char *path, char **argv, void *ctx)
{
    (void)ctx;
    static const char *e[2 * NF + 1];
    for (size_t f = 0; f < NF; f++) {
        e[2 * f] = "-e";
        e[2 * f + 1] = fields[f];
    }
    if (!in_subset(i, 16))
        return 0;
    corpus_argv(argv, path, e);
    return 1;
}

/* A field whose values tshark and the expert define differently in a file,
 * with the reason (printed, and in the README), or NULL. */
static const char *field_exception(const char *path, const char *field)
{
    if (!strncmp(short_name(path), "quic/", 5) && !strcmp(field, "tls.handshake.extensions_server_name"))
        return "the ClientHello of a QUIC Initial packet: tshark decrypts it with the Initial keys, the host "
               "does not decrypt QUIC and lists no TLS inside it (docs/RECOGNITION.md)";
    return NULL;
}

TEST(test_e2_propdist_equals_tshark_fields_on_zeek_captures)
{
    /* The name fields read messages the host recognises; a host without
     * application-protocol recognition (nmx_proto_name says "?") has none. */
    int app_recognised = strcmp(nmx_proto_name(NMX_PROTO_DNS), "?") != 0;
    if (!app_recognised)
        printf("     not compared: dns.qry.name, http.host, tls.handshake.extensions_server_name: this host "
               "does not recognise application protocols\n");
    corpus c;
    const char *skip;
    if (!corpus_start(&c, fields_argv, NULL, &skip)) {
        SKIP_HERE(skip);
    }
    unsigned compared = 0, equal = 0, differ = 0, skipped = 0, comparisons = 0;
    corpus_file cf;
    while (corpus_next(&c, &cf)) {
        const char *path = cf.path, *text = cf.text;
        nmx_capture *cap = cf.cap;
        const file_traits tr = cf.tr;
        if (tr.frames < 5 || tr.tunnels || tr.fragments || tr.icmp_quote || tr.undecoded ||
            our_frames(cap) != tr.frames) {
            skipped++;
            corpus_file_done(&cf);
            continue;
        }
        compared++;
        int same = 1;
        for (size_t f = 0; f < NF; f++) {
            if (f >= NAMES_FROM && !app_recognised)
                continue;
            const char *why = field_exception(path, fields[f]);
            if (why) {
                printf("     not compared, as expected: %s: %s: %s\n", short_name(path), fields[f], why);
                continue;
            }
            agg a;
            aggregate(text, 3 + f, &a);
            char cfg[128];
            snprintf(cfg, sizeof cfg, "field=%s\n", fields[f]);
            nmx_run_result r;
            nmx_run *run = run_over(ex, cap, cfg, &r, NULL);
            CHECK(run != NULL);
            if (!run) {
                free(a.v);
                continue;
            }
            check_clean_end(&r);
            comparisons++;
            size_t n = 0;
            const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
            int ok = 1;
            for (size_t i = 0; i < n; i++) {
                if (ev[i]->EventIdent != 1)
                    continue;
                const char *v = col_str(ev[i], "Value");
                unsigned long long k = (unsigned long long)col_num(ev[i], "Count");
                vcount *t = NULL;
                for (size_t q = 0; q < a.n && !t; q++)
                    if (strcmp(a.v[q].value, v) == 0)
                        t = &a.v[q];
                if (!t || t->n != k) {
                    ok = 0;
                    printf("     DIFFERS: %s: %s value %s: ours %llu, tshark %llu\n", short_name(path), fields[f], v,
                           k, t ? t->n : 0);
                }
                if (t)
                    t->seen = 1;
            }
            for (size_t q = 0; q < a.n; q++)
                if (!a.v[q].seen) {
                    ok = 0;
                    printf("     DIFFERS: %s: %s value %s: tshark %llu, ours none\n", short_name(path), fields[f],
                           a.v[q].value, a.v[q].n);
                }
            const NMEVENTDATA *s = summary(run);
            if (!s || col_num(s, "Count") != (double)a.count ||
                (a.count && f >= NNUMERIC && col_num(s, "Distinct") != (double)a.n) ||
                (a.count && f < NNUMERIC && (col_num(s, "Minimum") != a.min || col_num(s, "Maximum") != a.max ||
                             fabs(col_num(s, "Mean") - a.sum / (double)a.count) > 1e-9 * (1 + a.max)))) {
                ok = 0;
                printf("     DIFFERS: %s: %s summary: ours %g %g %g %g, tshark %llu %g %g %g\n", short_name(path),
                       fields[f], s ? col_num(s, "Count") : -1, s ? col_num(s, "Minimum") : -1,
                       s ? col_num(s, "Maximum") : -1, s ? col_num(s, "Mean") : -1, a.count, a.min, a.max,
                       a.count ? a.sum / (double)a.count : 0);
            }
            if (!ok)
                same = 0;
            nmx_run_free(run);
            free(a.v);
        }
        if (same)
            equal++;
        else
            differ++;
        corpus_file_done(&cf);
    }
    printf("     fields: %zu tshark runs: %u captures compared (%u field runs, %zu fields each), %u equal, %u "
           "differ; %u not qualifying (tunnels, fragments, ICMP quotes, undecoded layers, < 5 frames) (%.1f s)\n",
           c.nj, compared, comparisons, NF, equal, differ, skipped, now_s() - c.t0);
    CHECK(compared > 0);
    CHECK_EQ(differ, 0);
    corpus_end(&c);
}

int main(int argc, char **argv)
{
    if (!counting_begin(argc, argv, "propdist"))
        return EXIT_FAILURE;
    RUN(test_propdist_counts_a_known_capture);
    RUN(test_propdist_ip_len_of_tso_frames_is_inferred);
    RUN(test_propdist_configuration);
    RUN(test_propdist_terminate_and_many_values);
    RUN(test_propdist_damaged_frames);
    RUN_CORPUS(test_e2_propdist_equals_tshark_fields_on_zeek_captures);
    return counting_end();
}
