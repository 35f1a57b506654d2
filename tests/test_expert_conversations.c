/* Conversations (SPEC E1, E2; issue 11 item 4): unit tests on captures the
 * test writes, and agreement with tshark's `-z conv,eth`, `conv,ip`,
 * `conv,ipv6`, `conv,tcp` and `conv,udp` on the zeek corpus: every row, in
 * tshark's order (most frames first, ties in the order first seen), with
 * the same addresses and ports, frames each way (exact), bytes each way (as
 * tshark prints them: "9907 bytes", "271 kB"), relative start (to the
 * nanosecond) and duration (to tshark's 4 decimals).
 *
 * Excluded, each counted and printed: captures with IP fragments (with
 * reassembly on, tshark's UDP tap sees a datagram once, on the frame that
 * completes it; nmexpert counts the frame that carries the UDP header),
 * with packets quoted in ICMP errors (tshark's TCP and UDP taps see those
 * too), with IP behind a layer the host does not decode, and captures the
 * capture layer reads short. Time: every 4th zeek file by name
 * (NMX_EXPERT_CORPUS_FULL=1: all).
 */
#include "expert_counting_util.h" /* first: it sets _DEFAULT_SOURCE */

/* ---- unit tests ---- */

/* Row k of `table`: A, B, frames and bytes each way, start and duration. */
static void check_conv(nmx_run *run, DWORD table, size_t k, const char *a, const char *b, double fab,
                       double bab, double fba, double bba, double start, double dur)
{
    const NMEVENTDATA *e = table_row(run, table, k);
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK(strcmp(col_str(e, "Address A"), a) == 0);
    CHECK(strcmp(col_str(e, "Address B"), b) == 0);
    CHECK_EQ(col_num(e, "Frames A->B"), fab);
    CHECK_EQ(col_num(e, "Bytes A->B"), bab);
    CHECK_EQ(col_num(e, "Frames B->A"), fba);
    CHECK_EQ(col_num(e, "Bytes B->A"), bba);
    CHECK_EQ(col_num(e, "Frames"), fab + fba);
    CHECK_EQ(col_num(e, "Bytes"), bab + bba);
    CHECK(fabs(col_num(e, "Start (s)") - start) < 1e-9);
    CHECK(fabs(col_num(e, "Duration (s)") - dur) < 1e-9);
}

TEST(test_conversations_count_a_known_capture)
{
    const char *path = write_unit_capture(0);
    nmx_capture *cap = path ? open_capture(path) : NULL;
    CHECK(cap != NULL);
    if (!cap || !ex)
        return;
    nmx_run_result r;
    nmx_run *run = run_over(ex, cap, "top=0\n", &r, NULL);
    CHECK(run != NULL);
    if (run) {
        check_clean_end(&r);
        double all = 74 * 3 + 54 + 60 + 60 + 50 + 62 + 1514;
        CHECK_EQ(table_rows(run, 1), 1);
        check_conv(run, 1, 0, "66:77:88:99:aa:bb", "00:11:22:33:44:55", 9, all, 0, 0, 0, 0.008);
        /* the truncated TCP frame (8) still has its IP header */
        CHECK_EQ(table_rows(run, 2), 2);
        check_conv(run, 2, 0, "10.0.0.1", "10.0.0.2", 4, 74 * 3 + 1514, 2, 54 + 60, 0, 0.008);
        check_conv(run, 2, 1, "10.0.0.3", "10.0.0.1", 1, 50, 0, 0, 0.006, 0);
        CHECK_EQ(table_rows(run, 3), 1);
        check_conv(run, 3, 0, "2001:db8::1", "2001:db8::2", 1, 62, 0, 0, 0.007, 0);
        /* ... but not its TCP header */
        CHECK_EQ(table_rows(run, 4), 1);
        check_conv(run, 4, 0, "10.0.0.1", "10.0.0.2", 3, 74 * 3, 0, 0, 0, 0.002);
        const NMEVENTDATA *t = table_row(run, 4, 0);
        CHECK(t && col_num(t, "Port A") == 1000 && col_num(t, "Port B") == 80);
        CHECK_EQ(table_rows(run, 5), 2);
        check_conv(run, 5, 0, "10.0.0.2", "10.0.0.1", 2, 54 + 60, 0, 0, 0.003, 0.001);
        check_conv(run, 5, 1, "10.0.0.3", "10.0.0.1", 1, 50, 0, 0, 0.006, 0);
        nmx_run_free(run);
    }
    /* top=1: one row per table; types=tcp: the TCP table alone */
    run = run_over(ex, cap, "top=1\n", &r, NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(r.events, 5);
        nmx_run_free(run);
    }
    run = run_over(ex, cap, "types=tcp\ntop=0\n", &r, NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(r.events, 1);
        CHECK_EQ(table_rows(run, 4), 1);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

/* A SYN with a new initial sequence number on a known tuple starts a new
 * TCP conversation (Wireshark's new stream); the same SYN again does not. */
TEST(test_conversations_reused_tcp_ports_are_two_conversations)
{
    static const uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    static uint8_t fr[8][128];
    tframe t[8];
    /* seq, from a?, flags */
    static const struct { uint32_t seq; int from_a; uint8_t flags; } s[8] = {
        {100, 1, 0x02}, {100, 1, 0x02}, {500, 0, 0x12}, {101, 1, 0x10},
        {900, 1, 0x02}, {700, 0, 0x12}, {901, 1, 0x10}, {701, 0, 0x10}};
    for (int i = 0; i < 8; i++) {
        size_t n = eth_hdr(fr[i], 0x0800);
        n += ipv4_hdr(fr[i] + n, 6, 0, 20, 0, s[i].from_a ? a : b, s[i].from_a ? b : a);
        n += tcp_hdr(fr[i] + n, s[i].from_a ? 40000 : 80, s[i].from_a ? 80 : 40000, s[i].seq, s[i].flags, 0);
        t[i] = (tframe){fr[i], (uint32_t)n, (uint32_t)n, (int64_t)i * 1000000, 0};
    }
    char path[600];
    snprintf(path, sizeof path, "%s/reuse.pcap", tmpdir);
    CHECK(write_pcap(path, 1, 0, 1, t, 8));
    nmx_capture *cap = open_capture(path);
    CHECK(cap != NULL);
    if (!cap || !ex)
        return;
    nmx_run_result r;
    nmx_run *run = run_over(ex, cap, "types=tcp\n", &r, NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(table_rows(run, 4), 2);
        check_conv(run, 4, 0, "10.0.0.1", "10.0.0.2", 3, 54 * 3, 1, 54, 0, 0.003);
        check_conv(run, 4, 1, "10.0.0.1", "10.0.0.2", 2, 108, 2, 108, 0.004, 0.003);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

TEST(test_conversations_configuration)
{
    if (!ex)
        return;
    CHECK(strcmp(nmx_expert_info(ex)->szName, "Conversations") == 0);
    EXPERTCONFIG *out = NULL;
    BOOL ret = FALSE;
    CHECK_EQ(nmx_expert_configure(ex, NULL, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret && out && strcmp((const char *)out->RawConfigData, "top=20\ntypes=eth,ip,ipv6,tcp,udp\n") == 0);
    free(out);
    static const char *const bad[] = {"top=-1\n", "types=sctp\n", "types=\n", "colour=red\n", "top\n"};
    check_bad_configs(bad, sizeof bad / sizeof *bad);
}

TEST(test_conversations_terminate_and_damage)
{
    const char *path = write_unit_capture(20000);
    nmx_capture *cap = path ? open_capture(path) : NULL;
    CHECK(cap != NULL);
    if (!cap || !ex)
        return;
    check_terminates(cap);
    nmx_capture_close(cap);
    static const char *const cfg[] = {NULL, "top=0"};
    check_survives_damage(ex, cfg, 2, 1);
}

/* ---- against tshark ---- */

/* Bytes as tshark 4.0 prints them (format_size, SI): "9907 bytes", "12 kB". */
static void tshark_size(unsigned long long v, char *buf, size_t len)
{
    static const char *const unit[] = {"bytes", "kB", "MB", "GB", "TB"};
    int u = 0;
    unsigned long long x = v;
    while (u < 4 && x / 1000 >= 10) {
        x /= 1000;
        u++;
    }
    snprintf(buf, len, "%llu %s", x, unit[u]);
}

typedef struct crow {
    int table;
    char a[64], b[64]; /* address[:port] as tshark prints them */
    unsigned long long fab, fba;
    char bab[32], bba[32];
    long long start_ns;
    double dur;
} crow;

typedef struct crows {
    crow *v;
    size_t n, cap;
} crows;

static crow *crow_add(crows *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    memset(&l->v[l->n], 0, sizeof *l->v);
    return &l->v[l->n++];
}

static long long parse_ns(const char *s)
{
    long long sec = 0, ns = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        sec = sec * 10 + (*s - '0');
    if (*s == '.')
        for (s++; *s >= '0' && *s <= '9' && digits < 9; s++, digits++)
            ns = ns * 10 + (*s - '0');
    while (digits++ < 9)
        ns *= 10;
    return sec * 1000000000LL + ns;
}

static const char *const conv_titles[5] = {"Ethernet Conversations", "IPv4 Conversations", "IPv6 Conversations",
                                           "TCP Conversations", "UDP Conversations"};

static void parse_conv(const char *stats, crows *out)
{
    for (int t = 0; t < 5; t++) {
        const char *p = strstr(stats ? stats : "", conv_titles[t]);
        if (!p)
            continue;
        p = strstr(p, "|      Start     |");
        for (p = p ? strchr(p, '\n') : NULL; p && *p; p = strchr(p, '\n')) {
            p++;
            if (strncmp(p, "====", 4) == 0)
                break;
            crow c;
            memset(&c, 0, sizeof c);
            char arrow[8], u1[8], u2[8], u3[8], start[40];
            unsigned long long b1, b2, tf, tb;
            if (sscanf(p, "%63s %7s %63s %llu %llu %7s %llu %llu %7s %llu %llu %7s %39s %lf", c.a, arrow, c.b,
                       &c.fba, &b1, u1, &c.fab, &b2, u2, &tf, &tb, u3, start, &c.dur) != 14)
                continue;
            snprintf(c.bba, sizeof c.bba, "%llu %s", b1, u1);
            snprintf(c.bab, sizeof c.bab, "%llu %s", b2, u2);
            c.start_ns = parse_ns(start);
            c.table = t + 1;
            *crow_add(out) = c;
        }
    }
}

static void our_convs(nmx_run *run, crows *out)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++) {
        crow *c = crow_add(out);
        c->table = (int)ev[i]->EventIdent;
        int ports = c->table >= 4;
        if (ports) {
            snprintf(c->a, sizeof c->a, "%s:%.0f", col_str(ev[i], "Address A"), col_num(ev[i], "Port A"));
            snprintf(c->b, sizeof c->b, "%s:%.0f", col_str(ev[i], "Address B"), col_num(ev[i], "Port B"));
        } else {
            snprintf(c->a, sizeof c->a, "%s", col_str(ev[i], "Address A"));
            snprintf(c->b, sizeof c->b, "%s", col_str(ev[i], "Address B"));
        }
        c->fab = (unsigned long long)col_num(ev[i], "Frames A->B");
        c->fba = (unsigned long long)col_num(ev[i], "Frames B->A");
        tshark_size((unsigned long long)col_num(ev[i], "Bytes A->B"), c->bab, sizeof c->bab);
        tshark_size((unsigned long long)col_num(ev[i], "Bytes B->A"), c->bba, sizeof c->bba);
        c->start_ns = (long long)(col_num(ev[i], "Start (s)") * 1e9 + 0.5);
        c->dur = col_num(ev[i], "Duration (s)");
    }
}

/* Start times to the nanosecond, or to a double's precision when they are
 * large (tshark computes them in floating point: a capture whose first
 * frame is years before the others has starts of 1e17 ns). */
static int same_row(const crow *o, const crow *t)
{
    long long tol = 1 + (long long)(fabs((double)t->start_ns) * 1e-15);
    return o->table == t->table && !strcmp(o->a, t->a) && !strcmp(o->b, t->b) && o->fab == t->fab &&
           o->fba == t->fba && !strcmp(o->bab, t->bab) && !strcmp(o->bba, t->bba) &&
           llabs(o->start_ns - t->start_ns) <= tol && fabs(o->dur - t->dur) <= 0.00005 + 1e-9;
}

static const struct {
    const char *file, *why;
} exceptions[] = {
#define MIP6_WHY                                                                                          \
    "an IPv6 packet carrying a Mobility header (135): Wireshark 4.0's ipv6 tap does not see it, so tshark " \
    "has no IPv6 conversation for it; nmexpert counts every IPv6 header"
    {"mobile-ipv6/mip6_bu.pcap", MIP6_WHY},
    {"mobile-ipv6/mip6_back.pcap", MIP6_WHY},
    {"mobile-ipv6/mip6_be.pcap", MIP6_WHY},
    {"mobile-ipv6/mip6_cot.pcap", MIP6_WHY},
    {"mobile-ipv6/mip6_hoti.pcap", MIP6_WHY},
    {"chksums/mip6-good-mh-chksum.pcap", MIP6_WHY},
    {"snmp/",
     "SNMP: Wireshark's SNMP dissector gives replies a UDP stream of their own (it sets up a conversation "
     "for answers from any port), so tshark's conv,udp lists request and reply apart; nmexpert has one "
     "conversation per address and port pair"},
};

/* An entry ending in '/' covers a folder. */
static const char *exception_for(const char *path)
{
    const char *name = short_name(path);
    for (size_t i = 0; i < sizeof exceptions / sizeof *exceptions; i++) {
        size_t n = strlen(exceptions[i].file);
        if (exceptions[i].file[n - 1] == '/' ? !strncmp(name, exceptions[i].file, n)
                                               : !strcmp(name, exceptions[i].file))
            return exceptions[i].why;
    }
    return tunnel_exception(path);
}

static void show(const char *who, const crow *c)
{
    printf("       %s: table %d %s <-> %s  %llu %s | %llu %s  start %lld ns  %.4f s\n", who, c->table, c->a, c->b,
           c->fab, c->bab, c->fba, c->bba, c->start_ns, c->dur);
}

static int conv_argv(size_t i, const char *path, char **argv, void *ctx)
{
    (void)ctx;
    static const char *const z[] = {"-z", "conv,eth", "-z", "conv,ip", "-z", "conv,ipv6", "-z", "conv,tcp",
                                    "-z", "conv,udp", NULL};
    if (!in_subset(i, 4) && !exception_for(path))
        return 0;
    corpus_argv(argv, path, z);
    return 1;
}

/* Compares our rows with tshark's, in order; prints the first few
 * differences. 1 when they are the same. */
static int compare_rows(const char *path, const crows *ours, const crows *theirs)
{
    int same = ours->n == theirs->n, shown = 0;
    for (size_t i = 0; i < ours->n || i < theirs->n; i++) {
        if (i < ours->n && i < theirs->n && same_row(&ours->v[i], &theirs->v[i]))
            continue;
        same = 0;
        if (shown++ < 3) {
            printf("     %s: %s: row %zu\n", exception_for(path) ? "differs" : "DIFFERS", short_name(path), i);
            if (i < ours->n)
                show("ours  ", &ours->v[i]);
            if (i < theirs->n)
                show("tshark", &theirs->v[i]);
        }
    }
    return same;
}

TEST(test_e2_conversations_equal_tshark_conv_on_the_zeek_corpus)
{
    /* Tunnels are compared once the host decodes them (it names GRE). */
    int tunnels_decoded = strcmp(nmx_proto_name(NMX_PROTO_GRE), "?") != 0;
    corpus c;
    const char *why;
    if (!corpus_start(&c, conv_argv, NULL, &why)) {
        SKIP_HERE(why);
    }
    unsigned compared = 0, equal = 0, differ = 0, excused = 0, frag = 0, quote = 0, undecoded = 0,
             short_read = 0, tunnels = 0;
    unsigned long long rows = 0;
    corpus_file f;
    while (corpus_next(&c, &f)) {
        const file_traits *tr = &f.tr;
        if ((!tunnels_decoded && tr->tunnels) || tr->fragments || tr->icmp_quote || tr->undecoded ||
            our_frames(f.cap) != tr->frames) {
            tunnels += !tunnels_decoded && tr->tunnels;
            if (tunnels_decoded || !tr->tunnels) {
                frag += tr->fragments;
                quote += !tr->fragments && tr->icmp_quote;
                undecoded += !tr->fragments && !tr->icmp_quote && tr->undecoded;
                short_read += !tr->fragments && !tr->icmp_quote && !tr->undecoded;
            }
            corpus_file_done(&f);
            continue;
        }
        crows theirs = {0}, ours = {0};
        parse_conv(f.stats, &theirs);
        nmx_run_result r;
        nmx_run *run = run_over(ex, f.cap, "top=0\n", &r, NULL);
        CHECK(run != NULL);
        if (run) {
            check_clean_end(&r);
            our_convs(run, &ours);
            nmx_run_free(run);
        }
        compared++;
        rows += theirs.n;
        const char *exc = exception_for(f.path);
        if (compare_rows(f.path, &ours, &theirs))
            equal++;
        else if (exc) {
            excused++;
            printf("     differs as expected: %s: %s\n", short_name(f.path), exc);
        } else
            differ++;
        free(ours.v);
        free(theirs.v);
        corpus_file_done(&f);
    }
    printf("     conversations: %zu zeek files, %zu in the subset: %u compared (%llu rows), %u equal, %u listed "
           "exceptions, %u differ; excluded: %u with IP fragments, %u with ICMP-quoted packets, %u with IP "
           "behind undecoded layers, %u read short by the capture layer, %u with tunnels the host does not "
           "decode, %u unreadable (%.1f s)\n",
           c.files.n, c.nj, compared, rows, equal, excused, differ, frag, quote, undecoded, short_read, tunnels,
           c.unreadable, now_s() - c.t0);
    CHECK(compared > 0);
    CHECK_EQ(differ, 0);
    corpus_end(&c);
}

int main(int argc, char **argv)
{
    if (!counting_begin(argc, argv, "conversations"))
        return EXIT_FAILURE;
    RUN(test_conversations_count_a_known_capture);
    RUN(test_conversations_reused_tcp_ports_are_two_conversations);
    RUN(test_conversations_configuration);
    RUN(test_conversations_terminate_and_damage);
    RUN_CORPUS(test_e2_conversations_equal_tshark_conv_on_the_zeek_corpus);
    return counting_end();
}
