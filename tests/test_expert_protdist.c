/* Protocol Distribution (SPEC E1, E2): unit tests on a capture the test
 * writes, and agreement with tshark's protocol hierarchy on the zeek corpus.
 *
 * tshark's hierarchy is built here from frame.protocols (and frame.len),
 * frame by frame: `-z io,phs` walks the same protocol tree, but tshark run
 * with -T fields prunes the tree its taps see, so its phs undercounts
 * there; cli_check.sh compares the sample with a real -z io,phs run. Names
 * that are part of a layer in nmexpert's terms ("ethertype", "vlan.etype",
 * the IPv6 extension headers, "wlan_radio") are transparent (their children
 * move up). A node is compared when it and every node above it are names
 * the host can list (experts/common/xu_proto.h): tshark's other nodes
 * (data-text-lines, tcp.segments, protocols the host does not recognise)
 * are left out with their subtree, and so is what tshark shows inside an
 * ICMP error (a quoted datagram, which the host does not decode). Every
 * node of ours must be such a node of tshark's with the same frames and
 * bytes, and vice versa. Captures with IP fragments are excluded (tshark
 * counts the reassembled datagram's protocols on the last fragment only),
 * as are files whose frames the capture layer does not all read. Listed
 * exceptions below say why their definition differs.
 * Time: every 4th zeek file by name (NMX_EXPERT_CORPUS_FULL=1: all).
 */
#include "expert_counting_util.h" /* first: it sets _DEFAULT_SOURCE */
#include "../experts/common/xu_proto.h"

/* ---- unit tests ---- */

static const NMEVENTDATA *row_named(nmx_run *run, const char *label)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(col_str(ev[i], "Protocol"), label) == 0)
            return ev[i];
    return NULL;
}

static void check_row(nmx_run *run, const char *label, double frames, double bytes, double total_f,
                      double total_b)
{
    const NMEVENTDATA *ev = row_named(run, label);
    if (!ev) {
        fprintf(stderr, "  no row \"%s\"\n", label);
        CHECK(ev != NULL);
        return;
    }
    CHECK_EQ(col_num(ev, "Frames"), frames);
    CHECK_EQ(col_num(ev, "Bytes"), bytes);
    CHECK(fabs(col_num(ev, "% Frames") - 100.0 * frames / total_f) < 1e-9);
    CHECK(fabs(col_num(ev, "% Bytes") - 100.0 * bytes / total_b) < 1e-9);
    CHECK_EQ(ev->EventIdent, 1);
    CHECK(strcmp(ev->szSourceName, "Protocol Distribution") == 0);
    CHECK(ev->szEventName != NULL);
}

/* Opens the capture at path (*cap) and runs the expert over it with its
 * default configuration; NULL (and *cap NULL) when either fails. */
static nmx_run *run_default(const char *path, nmx_capture **cap, nmx_run_result *r)
{
    *cap = path ? open_capture(path) : NULL;
    CHECK(*cap != NULL);
    if (!*cap || !ex)
        return NULL;
    nmx_run *run = run_over(ex, *cap, NULL, r, NULL);
    CHECK(run != NULL);
    return run;
}

TEST(test_protdist_counts_a_known_capture)
{
    nmx_capture *cap;
    nmx_run_result r;
    nmx_run *run = run_default(write_unit_capture(0), &cap, &r);
    if (!cap || !ex)
        return;
    if (run) {
        check_clean_end(&r);
        /* wire: tcp 74 x3, udp 54 + 60, arp 60, vlan udp 50, ipv6 icmpv6 62, truncated 1514 */
        double tf = 9, tb = 74 * 3 + 54 + 60 + 60 + 50 + 62 + 1514;
        check_row(run, "eth", 9, tb, tf, tb);
        check_row(run, "  ip", 6, 74 * 3 + 54 + 60 + 1514, tf, tb);
        check_row(run, "    tcp", 4, 74 * 3 + 1514, tf, tb);
        check_row(run, "    udp", 2, 54 + 60, tf, tb);
        check_row(run, "      dns", 2, 54 + 60, tf, tb); /* from port 53: DNS to the host, as to tshark */
        check_row(run, "  arp", 1, 60, tf, tb);
        check_row(run, "  vlan", 1, 50, tf, tb);
        check_row(run, "    ip", 1, 50, tf, tb);
        check_row(run, "      udp", 1, 50, tf, tb);
        check_row(run, "  ipv6", 1, 62, tf, tb);
        check_row(run, "    icmpv6", 1, 62, tf, tb);
        CHECK_EQ(r.events, 11);
        /* the first row is the root, and children follow their parent */
        const NMEVENTDATA *first = nmx_run_event(run, 0), *second = nmx_run_event(run, 1);
        CHECK(first && strcmp(col_str(first, "Protocol"), "eth") == 0);
        CHECK(second && strcmp(col_str(second, "Protocol"), "  ip") == 0);
        nmx_run_free(run);
    }
    /* depth=1: the roots only */
    run = run_over(ex, cap, "depth=1\n", &r, NULL);
    CHECK(run != NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(r.events, 1);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

TEST(test_protdist_configuration)
{
    if (!ex)
        return;
    const EXPERTENUMINFO *info = nmx_expert_info(ex);
    CHECK(strcmp(info->szName, "Protocol Distribution") == 0);
    CHECK(strcmp(info->szVendor, "nmexpert") == 0);
    CHECK_EQ(info->Version, 1);
    CHECK_EQ(info->Flags, EXPERT_ENUM_FLAG_CONFIGURABLE);
    CHECK(info->pConfigProc != NULL);
    EXPERTCONFIG *out = NULL;
    BOOL ret = FALSE;
    CHECK_EQ(nmx_expert_configure(ex, NULL, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret);
    CHECK(out != NULL);
    if (out) {
        CHECK_EQ(out->RawConfigLength, sizeof(DWORD) + strlen("depth=0\n") + 1);
        CHECK(strcmp((const char *)out->RawConfigData, "depth=0\n") == 0);
        free(out);
    }
    EXPERTCONFIG *in = make_config("  depth = 3 \n# comment\n");
    out = NULL;
    CHECK_EQ(nmx_expert_configure(ex, in, NULL, &out, &ret), NMERR_SUCCESS);
    CHECK(ret);
    if (out) {
        CHECK(strcmp((const char *)out->RawConfigData, "depth=3\n") == 0);
        free(out);
    }
    free(in);
    static const char *const bad[] = {"colour=blue\n", "depth=x\n", "depth\n", "depth=1000\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        in = make_config(bad[i]);
        out = NULL;
        ret = TRUE;
        nmx_expert_configure(ex, in, NULL, &out, &ret);
        CHECK(!ret);
        free(out);
        free(in);
        /* Run with it: PROBLEM, no rows, nothing left */
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

TEST(test_protdist_terminate_and_empty_capture)
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
        CHECK(!r.hung);
        CHECK_EQ(r.mem.live_blocks, 0);
        CHECK_EQ(r.events, 0);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
    /* no capture: no rows, a clean end */
    run = run_over(ex, NULL, NULL, &r, NULL);
    CHECK(run != NULL);
    if (run) {
        check_clean_end(&r);
        CHECK_EQ(r.events, 0);
        nmx_run_free(run);
    }
}

/* Wireshark's names for PPPoE: a discovery packet (PADI: code 0x09) is
 * pppoed, a session packet (code 0) pppoes (zeek/pppoe.pcap) */
TEST(test_protdist_names_pppoe_discovery_and_session_apart)
{
    static uint8_t b[2][60];
    tframe fr[2];
    for (int i = 0; i < 2; i++) {
        size_t o = eth_hdr(b[i], i ? 0x8864 : 0x8863);
        const uint8_t pppoe[8] = {0x11, i ? 0x00 : 0x09, 0x00, (uint8_t)i, 0x00, 0x02, 0xc0, 0x21}; /* + LCP */
        memcpy(b[i] + o, pppoe, sizeof pppoe);
        fr[i] = (tframe){b[i], 60, 60, (int64_t)i * 1000, 0};
    }
    char path[600];
    snprintf(path, sizeof path, "%s/pppoe.pcap", tmpdir);
    CHECK(write_pcap(path, 1, 0, 1, fr, 2));
    nmx_capture *cap;
    nmx_run_result r;
    nmx_run *run = run_default(path, &cap, &r);
    if (!cap || !ex)
        return;
    if (run) {
        check_row(run, "  pppoed", 1, 60, 2, 120);
        check_row(run, "  pppoes", 1, 60, 2, 120);
        nmx_run_free(run);
    }
    nmx_capture_close(cap);
}

TEST(test_protdist_damaged_frames)
{
    static const char *const cfg[] = {NULL, "depth=2"};
    check_survives_damage(ex, cfg, 2, 1);
}

/* ---- against tshark ---- */

typedef struct pnode {
    char path[256];
    unsigned long long frames, bytes;
    int seen;
} pnode;

typedef struct plist {
    pnode *v;
    size_t n, cap;
} plist;

static pnode *plist_get(plist *l, const char *path)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].path, path) == 0)
            return &l->v[i];
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    pnode *x = &l->v[l->n++];
    memset(x, 0, sizeof *x);
    snprintf(x->path, sizeof x->path, "%s", path);
    return x;
}

/* tshark's nodes that are part of the layer above them in nmexpert's
 * terms (or no layer at all): left out of a path, their children kept. */
static int transparent(const char *n)
{
    static const char *const t[] = {"frame", "raw", "ethertype", "vlan.etype", "ipv6.hopopts", "ipv6.routing",
                                    "ipv6.dstopts", "ipv6.fraghdr", "wlan_radio"};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (strcmp(n, t[i]) == 0)
            return 1;
    return 0;
}

/* 1 if the host can list this node: a protocol name of xu_proto.h (or
 * ieee8021ad, or pppoed: names Protocol Distribution gives apart). tshark's other nodes (data-text-lines, tcp.segments, the
 * protocols the host does not recognise) are left out with what is below
 * them, and so is anything below icmp/icmpv6: an ICMP error's quoted
 * datagram is not decoded (netmon.h). */
static int listed(const char *n)
{
    return !strcmp(n, "ieee8021ad") || !strcmp(n, "pppoed") || xu_proto_id(n) >= 0;
}

/* tshark's hierarchy from the -T fields lines (frame.protocols first,
 * frame.len last): each frame counts once in every node of its path. */
static void parse_phs(const char *text, plist *out)
{
    for (const char *p = text; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char line[4096];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        p = nl ? nl + 1 : NULL;
        char *tab = strchr(line, '\t'), *last = strrchr(line, '\t');
        if (!tab || !last)
            continue;
        *tab = '\0';
        unsigned long long bytes = strtoull(last + 1, NULL, 10);
        char stack[32][64], path[256] = "";
        int depth = 0, ok = 1;
        char *save = NULL;
        int transport = -1; /* depth of the innermost tcp/udp so far */
        for (char *tok = strtok_r(line, ":", &save); tok && depth < 32; tok = strtok_r(NULL, ":", &save)) {
            if (transparent(tok))
                continue;
            /* the host lists the layers of the first message in a frame:
             * tshark's second message (tls:tls, nbss:smb:nbss:smb) and what
             * QUIC carries (its CRYPTO frames' TLS) are not in our tree */
            int again = 0;
            for (int k = transport + 1; transport >= 0 && k < depth; k++)
                again |= !strcmp(stack[k], tok);
            if (again || (depth && !strcmp(stack[depth - 1], "quic")))
                break;
            if (!strcmp(tok, "tcp") || !strcmp(tok, "udp"))
                transport = depth;
            /* compared while every node on the way is listed, and not inside ICMP */
            ok = ok && listed(tok) && !(depth && (!strcmp(stack[depth - 1], "icmp") ||
                                                   !strcmp(stack[depth - 1], "icmpv6")));
            if (!ok)
                break;
            snprintf(stack[depth++], sizeof stack[0], "%s", tok);
            size_t u = strlen(path);
            if (u + 66 < sizeof path)
                snprintf(path + u, sizeof path - u, "%s%.63s", u ? "/" : "", tok);
            pnode *x = plist_get(out, path);
            x->frames++;
            x->bytes += bytes;
        }
    }
}

/* Our rows as "a/b/c" paths. */
static void our_nodes(nmx_run *run, plist *out)
{
    size_t n = 0;
    const NMEVENTDATA *const *ev = nmx_run_events(run, &n);
    char stack[64][32];
    for (size_t i = 0; i < n; i++) {
        const char *label = col_str(ev[i], "Protocol");
        size_t ind = strspn(label, " ");
        size_t depth = ind / 2;
        if (depth >= 64)
            continue;
        snprintf(stack[depth], sizeof stack[depth], "%s", label + ind);
        char path[256] = "";
        for (size_t k = 0; k <= depth; k++) {
            size_t u = strlen(path);
            if (u + 34 < sizeof path) /* one more level fits: "/" and 32 */
                snprintf(path + u, sizeof path - u, "%s%.31s", u ? "/" : "", stack[k]);
        }
        pnode *x = plist_get(out, path);
        x->frames += (unsigned long long)col_num(ev[i], "Frames");
        x->bytes += (unsigned long long)col_num(ev[i], "Bytes");
    }
}

static const struct {
    const char *file, *why;
} exceptions[] = {
    {"cisco-fabric-path.pcap",
     "Wireshark's FabricPath heuristic dissector takes the FabricPath frames whole (phs root \"cfp\", "
     "not \"eth\"); nmexpert decodes them as Ethernet frames carrying an unknown type"},
    /* Where the host's recognition and tshark's frame.protocols differ, for the reasons
     * tests/test_recognize_util.h names (the recognizer's own corpus test). */
    {"rdp/rdp-unknown-keyboard.pcap",
     "recognition: the X.224 connection request that opens an RDP conversation, which tshark lists as "
     "cotp:rdp without the tpkt it is in"},
    {"http/http-bad-content-range-01.pcap",
     "recognition: an HTTP response without a length ends when the server closes; tshark lists http on the "
     "FIN segment, which has no payload, the host lists layers only on bytes"},
    {"http/http-inner-transfer-encoding-ossfuzz.pcap",
     "recognition: fuzzed HTTP, whose messages Wireshark's parser ends elsewhere"},
    {"netbios/netbios-split-session-msg.pcap",
     "recognition: a NetBIOS session message split over segments, which tshark reassembles into a nested "
     "nbss:smb inside the first"},
    {"tunnels/geneve-truncated.pcapng",
     "recognition: a Geneve packet cut inside its inner Ethernet header; tshark lists the cut eth, the host "
     "stops at the header that was cut"},
};

static const char *exception_for(const char *path)
{
    for (size_t i = 0; i < sizeof exceptions / sizeof *exceptions; i++)
        if (strcmp(short_name(path), exceptions[i].file) == 0)
            return exceptions[i].why;
    return tunnel_exception(path);
}

static int phs_argv(size_t i, const char *path, char **argv, void *ctx)
{
    (void)ctx;
    static const char *const z[] = {"-e", "frame.len", NULL};
    if (!in_subset(i, 4) && !exception_for(path))
        return 0;
    corpus_argv(argv, path, z);
    return 1;
}

TEST(test_e2_protdist_equals_tshark_phs_on_the_zeek_corpus)
{
    corpus c;
    const char *skip;
    if (!corpus_start(&c, phs_argv, NULL, &skip)) {
        SKIP_HERE(skip);
    }
    unsigned compared = 0, equal = 0, frag = 0, differ = 0, nodes = 0, quoted = 0,
             short_read = 0, excused = 0;
    corpus_file cf;
    while (corpus_next(&c, &cf)) {
        const char *path = cf.path;
        nmx_capture *cap = cf.cap;
        file_traits tr = cf.tr;
        if (tr.fragments) {
            frag++;
            corpus_file_done(&cf);
            continue;
        }
        if (our_frames(cap) != tr.frames) {
            short_read++;
            printf("     excluded: %s: the capture layer reads %u of tshark's %u frames\n", short_name(path),
                   our_frames(cap), tr.frames);
            corpus_file_done(&cf);
            continue;
        }
        quoted += tr.icmp_quote || tr.tunnels;
        plist theirs = {0}, ours = {0};
        parse_phs(cf.text, &theirs);
        nmx_run_result r;
        nmx_run *run = run_over(ex, cap, NULL, &r, NULL);
        CHECK(run != NULL);
        if (run) {
            check_clean_end(&r);
            our_nodes(run, &ours);
            nmx_run_free(run);
        }
        compared++;
        int same = 1;
        for (size_t i = 0; i < ours.n; i++) {
            pnode *o = &ours.v[i], *t = NULL;
            for (size_t k = 0; k < theirs.n; k++)
                if (strcmp(theirs.v[k].path, o->path) == 0)
                    t = &theirs.v[k];
            if (!t || t->frames != o->frames || t->bytes != o->bytes) {
                same = 0;
                printf("     %s: %s: %s ours %llu frames %llu bytes, tshark %llu %llu%s\n",
                       exception_for(path) ? "differs" : "DIFFERS", short_name(path), o->path, o->frames, o->bytes, t ? t->frames : 0,
                       t ? t->bytes : 0, t ? "" : " (no such node)");
            }
            if (t)
                t->seen = 1;
            nodes++;
        }
        for (size_t k = 0; k < theirs.n; k++)
            if (!theirs.v[k].seen) {
                same = 0;
                printf("     %s: %s: tshark has %s %llu frames %llu bytes, we have none\n",
                       exception_for(path) ? "differs" : "DIFFERS", short_name(path), theirs.v[k].path, theirs.v[k].frames, theirs.v[k].bytes);
            }
        const char *why = exception_for(path);
        if (same)
            equal++;
        else if (why) {
            excused++;
            printf("     differs as expected: %s: %s\n", short_name(path), why);
        } else
            differ++;
        free(ours.v);
        free(theirs.v);
        corpus_file_done(&cf);
    }
    printf("     io,phs: %zu zeek files, %zu in the subset: %u compared (%u nodes), %u equal, %u differ, %u listed "
           "exceptions; %u excluded for IP fragments, %u read short by libpcap, %u unreadable; %u have tunnels or ICMP "
           "errors (compared down to what the host decodes) (%.1f s)\n",
           c.files.n, c.nj, compared, nodes, equal, differ, excused, frag, short_read, c.unreadable, quoted, now_s() - c.t0);
    CHECK(compared > 0);
    CHECK_EQ(differ, 0);
    corpus_end(&c);
}

int main(int argc, char **argv)
{
    if (!counting_begin(argc, argv, "protdist"))
        return EXIT_FAILURE;
    RUN(test_protdist_counts_a_known_capture);
    RUN(test_protdist_configuration);
    RUN(test_protdist_terminate_and_empty_capture);
    RUN(test_protdist_names_pppoe_discovery_and_session_apart);
    RUN(test_protdist_damaged_frames);
    RUN_CORPUS(test_e2_protdist_equals_tshark_phs_on_the_zeek_corpus);
    return counting_end();
}
