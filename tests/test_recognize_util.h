/* Comparing a frame's recognition table with tshark's frame.protocols
 * (tests/test_recognize_corpus.c), and the named reasons for the
 * differences that are expected.
 *
 * Both lists become sequences of "classes" (our protocol ids, with the
 * layers Wireshark names alike merged: sll/sll2, gtp-u/gtp-c, a stack of
 * MPLS labels), without what does not matter here: tshark's pseudo-layers
 * (frame, ethertype, wlan_radio, IPv6 extension headers), its "data" and
 * our PAYLOAD. The comparison stops
 *   - where tshark enters a protocol we do not decode: from there on we
 *     must list nothing (only PAYLOAD);
 *   - after ICMP: tshark dissects the datagram an error message quotes, we
 *     do not (it is not a flow of the frame);
 *   - after the first application protocol that is not a container of
 *     another (NBSS, NBDGM, TPKT, COTP, SIP contain one): what tshark
 *     finds inside a message (certificates, media types, GSS-API) is
 *     beyond recognition.
 */
#ifndef NMX_TESTS_RECOGNIZE_UTIL_H
#define NMX_TESTS_RECOGNIZE_UTIL_H

#include "check.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RZ_MAX 64
#define RZ_STOP_UNKNOWN 1 /* tshark went on with a protocol we do not decode */

typedef struct rz_seq {
    int n;
    int stop; /* RZ_STOP_* */
    uint16_t c[RZ_MAX];
} rz_seq;

/* ---- names ---- */

static const struct {
    const char *name;
    int cls; /* >0 our class, 0 transparent */
} rz_names[] = {
    {"frame", 0},
    {"ethertype", 0},
    {"wlan_radio", 0},
    {"ipv6.hopopts", 0},
    {"ipv6.routing", 0},
    {"ipv6.fraghdr", 0},
    {"ipv6.dstopts", 0},
    {"ah", 0},
    {"raw", 0},
    {"data", 0},
    {"mptcp", 0}, /* MPTCP's TCP options, listed as a layer */
    {"eth", NMX_PROTO_ETHERNET},
    {"vlan", NMX_PROTO_VLAN},
    {"ieee8021ad", NMX_PROTO_VLAN},
    {"sll", NMX_PROTO_SLL},
    {"null", NMX_PROTO_NULL},
    {"arp", NMX_PROTO_ARP},
    {"ip", NMX_PROTO_IPV4},
    {"ipv6", NMX_PROTO_IPV6},
    {"tcp", NMX_PROTO_TCP},
    {"udp", NMX_PROTO_UDP},
    {"icmp", NMX_PROTO_ICMP},
    {"icmpv6", NMX_PROTO_ICMPV6},
    {"mpls", NMX_PROTO_MPLS},
    {"pppoes", NMX_PROTO_PPPOE},
    {"pppoed", NMX_PROTO_PPPOE},
    {"ppp", NMX_PROTO_PPP},
    {"gre", NMX_PROTO_GRE},
    {"erspan", NMX_PROTO_ERSPAN},
    {"vxlan", NMX_PROTO_VXLAN},
    {"geneve", NMX_PROTO_GENEVE},
    {"gtp", NMX_PROTO_GTPU},
    {"teredo", NMX_PROTO_TEREDO},
    {"wlan", NMX_PROTO_IEEE80211},
    {"radiotap", NMX_PROTO_RADIOTAP},
    {"chdlc", NMX_PROTO_CHDLC},
    {"llc", NMX_PROTO_LLC},
    {"stp", NMX_PROTO_STP},
    {"lldp", NMX_PROTO_LLDP},
    {"cdp", NMX_PROTO_CDP},
    {"vrrp", NMX_PROTO_VRRP},
    {"dns", NMX_PROTO_DNS},
    {"mdns", NMX_PROTO_MDNS},
    {"llmnr", NMX_PROTO_LLMNR},
    {"nbns", NMX_PROTO_NBNS},
    {"dhcp", NMX_PROTO_DHCP},
    {"dhcpv6", NMX_PROTO_DHCPV6},
    {"ntp", NMX_PROTO_NTP},
    {"snmp", NMX_PROTO_SNMP},
    {"syslog", NMX_PROTO_SYSLOG},
    {"sip", NMX_PROTO_SIP},
    {"rtp", NMX_PROTO_RTP},
    {"quic", NMX_PROTO_QUIC},
    {"http", NMX_PROTO_HTTP},
    {"tls", NMX_PROTO_TLS},
    {"ssh", NMX_PROTO_SSH},
    {"smb", NMX_PROTO_SMB},
    {"smb2", NMX_PROTO_SMB2},
    {"ftp", NMX_PROTO_FTP},
    {"smtp", NMX_PROTO_SMTP},
    {"pop", NMX_PROTO_POP},
    {"imap", NMX_PROTO_IMAP},
    {"ldap", NMX_PROTO_LDAP},
    {"kerberos", NMX_PROTO_KERBEROS},
    {"rdp", NMX_PROTO_RDP},
    {"bgp", NMX_PROTO_BGP},
    {"nbss", NMX_PROTO_NBSS},
    {"nbdgm", NMX_PROTO_NBDGM},
    {"tpkt", NMX_PROTO_TPKT},
    {"cotp", NMX_PROTO_COTP},
    {"ftp-data", NMX_PROTO_FTP_DATA},
    {"sdp", NMX_PROTO_SDP},
    {"rtcp", NMX_PROTO_RTCP},
};

/* <0: a protocol we do not decode */
static int rz_tshark_class(const char *name) {
    for (size_t i = 0; i < sizeof rz_names / sizeof rz_names[0]; i++)
        if (strcmp(rz_names[i].name, name) == 0)
            return rz_names[i].cls;
    return -1;
}

static int rz_our_class(unsigned id) {
    switch (id) {
    case NMX_PROTO_SLL2: return NMX_PROTO_SLL;
    case NMX_PROTO_GTPC: return NMX_PROTO_GTPU;
    case NMX_PROTO_PAYLOAD: return 0;
    default: return (int)id;
    }
}

static const char *rz_class_name(int c) {
    for (size_t i = 0; i < sizeof rz_names / sizeof rz_names[0]; i++)
        if (rz_names[i].cls == c)
            return rz_names[i].name;
    return "?";
}

static int rz_is_app(int c) { return c >= NMX_PROTO_DNS; }
static int rz_is_container(int c) {
    return c == NMX_PROTO_NBSS || c == NMX_PROTO_NBDGM || c == NMX_PROTO_TPKT || c == NMX_PROTO_COTP ||
           c == NMX_PROTO_SIP;
}

/* Append class c; 0: the comparison stops after it. */
static int rz_push(rz_seq *s, int c) {
    if (c == NMX_PROTO_MPLS && s->n && s->c[s->n - 1] == NMX_PROTO_MPLS)
        return 1; /* one label stack */
    if (s->n < RZ_MAX)
        s->c[s->n++] = (uint16_t)c;
    if (c == NMX_PROTO_ICMP || c == NMX_PROTO_ICMPV6)
        return 0;
    return !(rz_is_app(c) && !rz_is_container(c));
}

/* tshark's colon-separated list (modified in place). */
static void rz_tshark_seq(char *line, rz_seq *s) {
    memset(s, 0, sizeof *s);
    for (char *save, *tok = strtok_r(line, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        int c = rz_tshark_class(tok);
        if (c < 0) {
            s->stop = RZ_STOP_UNKNOWN;
            return;
        }
        if (c && !rz_push(s, c))
            return;
    }
}

static void rz_our_seq(const RECOGNIZEDATATABLE *t, rz_seq *s) {
    memset(s, 0, sizeof *s);
    for (unsigned i = 0; i < t->nRecognizeDatas; i++) {
        int c = rz_our_class(t->RecognizeData[i].ProtocolID);
        if (c && !rz_push(s, c))
            return;
    }
}

static void rz_fmt(char *buf, size_t len, const rz_seq *s) {
    buf[0] = 0;
    for (int i = 0; i < s->n; i++) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s%s", i ? ":" : "", rz_class_name(s->c[i]));
    }
    if (s->stop) {
        size_t u = strlen(buf);
        snprintf(buf + u, len - u, "%s...", s->n ? ":" : "");
    }
}

/* Do they agree? With tshark stopped at a protocol we do not decode, we
 * must have listed the same up to there and nothing after. */
static int rz_agree(const rz_seq *ours, const rz_seq *theirs) {
    if (ours->n != theirs->n)
        return 0;
    return memcmp(ours->c, theirs->c, (size_t)ours->n * sizeof ours->c[0]) == 0;
}

static int rz_has(const rz_seq *s, int c) {
    for (int i = 0; i < s->n; i++)
        if (s->c[i] == c)
            return 1;
    return 0;
}

/* ---- the named reasons for expected differences ---- */

/* What a reason looks at. */
typedef struct rz_ctx {
    const char *file;
    const nmx_frame *fr;
    const nmx_decoded *d; /* nmx_decode of the frame */
    const rz_seq *ours, *theirs;
    const char *line; /* tshark's whole frame.protocols */
} rz_ctx;

static int rz_is_prefix(const rz_seq *a, const rz_seq *b) {
    return a->n < b->n && memcmp(a->c, b->c, (size_t)a->n * sizeof a->c[0]) == 0;
}

/* Is some IPv4 header of the frame, or its innermost IP header, part of a
 * fragmented datagram? */
static int rz_fragmented(const rz_ctx *x) {
    const RECOGNIZEDATATABLE *t = x->fr->recognized;
    for (unsigned i = 0; i < t->nRecognizeDatas; i++) {
        unsigned o = t->RecognizeData[i].nProtocolOffset;
        if (t->RecognizeData[i].ProtocolID == NMX_PROTO_IPV4 && o + 8 <= x->fr->cap_len &&
            ((x->fr->bytes[o + 6] & 0x3f) | x->fr->bytes[o + 7]))
            return 1;
    }
    return x->d->ip_fragment;
}

static int rz_no_bytes(const rz_ctx *x) { return x->fr->cap_len == 0; }

static int rz_cut_header(const rz_ctx *x) {
    return (x->d->flags & NMX_DEC_TRUNCATED) && rz_is_prefix(x->ours, x->theirs) && x->theirs->n == x->ours->n + 1;
}

static int rz_link_type(const rz_ctx *x) {
    static const int ours[] = {0, 1, 9, 12, 50, 51, 101, 104, 105, 108, 113, 127, 228, 229, 276};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (x->fr->link_type == ours[i])
            return 0;
    return x->ours->n == 0;
}

static int rz_ipv4_says_6(const rz_ctx *x) {
    const RECOGNIZEDATATABLE *t = x->fr->recognized;
    for (unsigned i = 0; i < t->nRecognizeDatas; i++)
        if (t->RecognizeData[i].ProtocolID == NMX_PROTO_IPV4 &&
            x->fr->bytes[t->RecognizeData[i].nProtocolOffset] >> 4 == 6)
            return 1;
    return 0;
}

static int rz_isl(const rz_ctx *x) {
    static const uint8_t isl[5] = {0x01, 0x00, 0x0c, 0x00, 0x00};
    return x->fr->link_type == 1 && x->fr->cap_len >= 14 && memcmp(x->fr->bytes, isl, 5) == 0;
}

static int rz_udp_length_zero(const rz_ctx *x) {
    const RECOGNIZEDATATABLE *t = x->fr->recognized;
    for (unsigned i = 0; i < t->nRecognizeDatas; i++) {
        unsigned o = t->RecognizeData[i].nProtocolOffset;
        if (t->RecognizeData[i].ProtocolID == NMX_PROTO_UDP && o + 6 <= x->fr->cap_len &&
            x->fr->bytes[o + 4] == 0 && x->fr->bytes[o + 5] == 0)
            return 1;
    }
    return 0;
}

static int rz_arp_twice(const rz_ctx *x) { return strstr(x->line, "arp:arp") != NULL; }

static int rz_http_at_close(const rz_ctx *x) {
    return x->d->payload_len == 0 && (x->d->tcp_flags & 0x01) && rz_has(x->theirs, NMX_PROTO_HTTP) &&
           !rz_has(x->ours, NMX_PROTO_HTTP);
}

static int rz_mptcp(const rz_ctx *x) { return strstr(x->line, "mptcp") != NULL; }

typedef struct rz_reason {
    const char *name, *why;
    int (*match)(const rz_ctx *);  /* NULL: every difference in `files` */
    const char *const *files;      /* only in these files (NULL: any) */
} rz_reason;

#define RZ_FILES(...) ((const char *const[]){__VA_ARGS__, NULL})

static int rz_in_files(const char *const *files, const char *file) {
    if (!files)
        return 1;
    for (; *files; files++)
        if (strcmp(*files, file) == 0)
            return 1;
    return 0;
}

static int rz_x224_without_tpkt(const rz_ctx *x) { return strstr(x->line, "tcp:cotp:rdp") != NULL; }

/* In order: a difference counts under the first reason that matches. */
static const rz_reason rz_reasons[] = {
    {"no captured bytes", "tshark lists the link layer of a frame with no captured byte; we list only layers "
                          "with at least one captured byte", rz_no_bytes, NULL},
    {"link type", "a link type we do not decode (ATM, Frame Relay, 802.15.4, ...): our table is empty",
     rz_link_type, NULL},
    {"IP fragment", "tshark reassembles IP datagrams and lists their layers on the fragment that completes "
                    "them; we decode each fragment alone (the first one has the transport header)",
     rz_fragmented, NULL},
    {"cut header", "the capture ends inside or right after a header: tshark lists the next layer with no (or "
                   "too few) bytes, we stop at the header that was cut", rz_cut_header, NULL},
    {"IPv4 type, version 6", "an Ethertype/protocol saying IPv4 before a header whose version is 6: tshark "
                             "lists ip and decodes it as IPv6, we flag it malformed", rz_ipv4_says_6, NULL},
    {"Cisco ISL", "Cisco ISL frames (destination 01-00-0c-00-00-xx): Wireshark decodes the ISL header and the "
                  "frame inside, we see an 802.3 frame", rz_isl, NULL},
    {"UDP length 0", "BIG TCP / GSO beyond 64 KiB (IP and UDP lengths 0): tshark stops at UDP, we take the "
                     "lengths from the captured bytes as for TSO", rz_udp_length_zero, NULL},
    {"ARP listed twice", "an ARP whose hardware type is AX.25: tshark lists arp twice", rz_arp_twice, NULL},
    {"HTTP ended by the close", "an HTTP response without a length ends when the server closes: tshark lists "
                                "http on the FIN segment, which has no payload; we list layers only on bytes",
     rz_http_at_close, NULL},
    {"MPTCP", "Multipath TCP: tshark reassembles the connection's data across its subflows, we read each "
              "subflow as a TCP conversation", rz_mptcp, NULL},
    {"RDP connection request", "the X.224 connection request that opens an RDP conversation: tshark lists "
                               "cotp:rdp without the tpkt it is in", rz_x224_without_tpkt, NULL},
    {"copies of every segment", "every segment captured four times: tshark hands some of the copies to SSH "
                                "again, we list none (they are retransmissions)", NULL,
     RZ_FILES("zeek/tcp/ssh-dups.pcap")},
    {"BGP without a marker", "test captures whose first BGP bytes have no valid marker: tshark lists bgp "
                             "anyway, we only after a valid message", NULL,
     RZ_FILES("tcpdump/bgp-ub.pcap", "tcpdump/bgp-as-path-oobr.pcap", "tcpdump/zmtp1-inf-loop-1.pcapng")},
    {"not a TLS record", "bytes on a TLS conversation that start no TLS record (an RPC record mark on port "
                         "993, a protocol error, data after the close): tshark lists tls or declines them where "
                         "we do the opposite", NULL,
     RZ_FILES("tcpdump/nfs-write-verf-cookie.pcapng", "zeek/tls/tls-1.2-protocol-error.pcap",
              "zeek/globus-url-copy.pcap", "zeek/globus-url-copy-bad-encoding.pcap")},
    {"fuzzed HTTP", "fuzzed or overflowing HTTP (a request line split around a lost segment, garbage start "
                    "lines, lengths beyond 2^64): Wireshark's HTTP parser ends those messages elsewhere", NULL,
     RZ_FILES("zeek/tcp/reassembly.pcap", "zeek/http/http-inner-transfer-encoding-ossfuzz.pcap",
              "zeek/http/261/variant-01-chunk_2pow64_overflow.pcap", "zeek/http/261/variant-02-cl_uint64max.pcap")},
    {"SMTP BDAT across a gap", "an SMTP BDAT chunk whose announced size spans a lost segment: Wireshark waits "
                               "for the chunk's bytes, we read segment by segment", NULL,
     RZ_FILES("zeek/smtp/smtp-bdat-gap.pcap")},
    {"request in IP fragments", "the first segment of an HTTP request came in an IP-fragmented GTP datagram, "
                                "which tshark reassembles and we do not: the request's end is a message we "
                                "never saw begin", NULL,
     RZ_FILES("zeek/tunnels/gtp/gtp1_gn_normal_incl_fragmentation.pcap")},
    {"Google QUIC", "Google's pre-standard QUIC (versions Q0xx) on UDP 443: tshark lists gquic, we list quic",
     NULL, RZ_FILES("tcpdump/gquic.pcap")},
    {"Kerberos by conversation", "UDP 1799-4444 between the hosts of a Kerberos exchange on port 88: tshark "
                                 "keeps dissecting it as Kerberos, we recognise Kerberos by port", NULL,
     RZ_FILES("tcpdump/afs.pcap")},
};
#define RZ_NREASONS (sizeof rz_reasons / sizeof rz_reasons[0])

/* ---- statistics ---- */

#define RZ_CLASSES 128

typedef struct rz_diff {
    char *key; /* "file: ours X, tshark Y" */
    unsigned count;
    unsigned first_frame;
} rz_diff;

typedef struct rz_stats {
    size_t frames, agree, unexplained, explained;
    size_t by_reason[RZ_NREASONS];
    size_t theirs[RZ_CLASSES], ours[RZ_CLASSES], both[RZ_CLASSES];
    rz_diff *diffs;
    size_t ndiffs, diffs_cap;
} rz_stats;

static void rz_stats_init(rz_stats *st) { memset(st, 0, sizeof *st); }

static void rz_stats_free(rz_stats *st) {
    for (size_t i = 0; i < st->ndiffs; i++)
        free(st->diffs[i].key);
    free(st->diffs);
}

static void rz_note_diff(rz_stats *st, const char *key, unsigned frame) {
    for (size_t i = 0; i < st->ndiffs; i++)
        if (strcmp(st->diffs[i].key, key) == 0) {
            st->diffs[i].count++;
            return;
        }
    if (st->ndiffs == st->diffs_cap) {
        st->diffs_cap = st->diffs_cap ? st->diffs_cap * 2 : 256;
        st->diffs = realloc(st->diffs, st->diffs_cap * sizeof *st->diffs);
    }
    st->diffs[st->ndiffs++] = (rz_diff){strdup(key), 1, frame};
}

static void rz_compare_frame(rz_stats *st, const char *file, uint32_t number, const nmx_frame *fr, char *line) {
    rz_seq ours, theirs;
    rz_our_seq(fr->recognized, &ours);
    char whole[4096];
    snprintf(whole, sizeof whole, "%.4000s", line);
    rz_tshark_seq(line, &theirs);
    st->frames++;
    for (int c = 1; c < RZ_CLASSES; c++) {
        int t = rz_has(&theirs, c), o = rz_has(&ours, c);
        st->theirs[c] += (size_t)t, st->ours[c] += (size_t)o, st->both[c] += (size_t)(t && o);
    }
    if (rz_agree(&ours, &theirs)) {
        st->agree++;
        return;
    }
    nmx_decoded d;
    nmx_decode(fr->bytes, fr->cap_len, fr->link_type, &d);
    rz_ctx x = {file, fr, &d, &ours, &theirs, whole};
    size_t r = 0;
    while (r < RZ_NREASONS &&
           !(rz_in_files(rz_reasons[r].files, file) && (!rz_reasons[r].match || rz_reasons[r].match(&x))))
        r++;
    char a[512], b[512], key[1200];
    rz_fmt(a, sizeof a, &ours);
    rz_fmt(b, sizeof b, &theirs);
    snprintf(key, sizeof key, "%s%s: ours %s, tshark %s", r < RZ_NREASONS ? "[" : "",
             r < RZ_NREASONS ? rz_reasons[r].name : "", a, b);
    if (r < RZ_NREASONS) {
        st->explained++;
        st->by_reason[r]++;
        size_t u = strlen(key);
        snprintf(key + u, sizeof key - u, "] %s", file);
    } else {
        st->unexplained++;
        size_t u = strlen(key);
        snprintf(key + u, sizeof key - u, " %s", file);
    }
    rz_note_diff(st, key, number);
}

static int rz_by_count(const void *x, const void *y) {
    const rz_diff *a = x, *b = y;
    return a->count < b->count ? 1 : a->count > b->count ? -1 : strcmp(a->key, b->key);
}

static void rz_stats_print(rz_stats *st, int show) {
    printf("     %zu frames: %zu agree with tshark, %zu differ for a listed reason, %zu unexplained\n", st->frames,
           st->agree, st->explained, st->unexplained);
    for (size_t r = 0; r < RZ_NREASONS; r++)
        printf("     %6zu  %s: %s\n", st->by_reason[r], rz_reasons[r].name, rz_reasons[r].why);
    printf("     %-10s %8s %8s %8s\n", "protocol", "tshark", "ours", "both");
    for (int c = NMX_PROTO_MPLS; c < RZ_CLASSES; c++)
        if (st->theirs[c] || st->ours[c])
            printf("     %-10s %8zu %8zu %8zu\n", rz_class_name(c), st->theirs[c], st->ours[c], st->both[c]);
    qsort(st->diffs, st->ndiffs, sizeof *st->diffs, rz_by_count);
    /* the unexplained ones always; the explained ones on request */
    int shown = 0;
    for (size_t i = 0; i < st->ndiffs; i++) {
        int explained = st->diffs[i].key[0] == '[';
        if (explained ? shown++ < show : 1)
            fprintf(explained ? stdout : stderr, "     %s %5u x %s (first frame %u)\n",
                    explained ? "expected" : "DIFFERS", st->diffs[i].count, st->diffs[i].key,
                    st->diffs[i].first_frame);
    }
}

/* Reasons that explain nothing any more (so the list does not rot). */
static size_t rz_stale_reasons(const rz_stats *st) {
    size_t n = 0;
    for (size_t r = 0; r < RZ_NREASONS; r++)
        if (!st->by_reason[r]) {
            fprintf(stderr, "     reason no longer needed: %s\n", rz_reasons[r].name);
            n++;
        }
    return n;
}

#endif
