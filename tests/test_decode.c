/* nmx_decode on crafted frames (SPEC C1, C5, C6; issue 11 item 2): every
 * tunnel and link layer, the UDP protocols a datagram alone shows, the
 * innermost flow in nmx_decoded's fields, and frames cut anywhere.
 */
#include "check.h"
#include "test_decode_util.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <stdlib.h>
#include <string.h>

#define DLT_PPP_ 9
#define DLT_PPP_SERIAL_ 50
#define DLT_PPP_ETHER_ 51
#define DLT_C_HDLC_ 104
#define DLT_IEEE802_11_ 105
#define DLT_RADIOTAP_ 127

/* An inner Ethernet frame carrying TCP 1234 -> 80 between C and D, with
 * `n` payload bytes. */
static void inner_tcp(pkt *p, size_t n) {
    memset(pkt_pre(p, n), 'x', n);
    pre_tcp(p, 1234, 80, 1000, 0x18);
    pre_ipv4(p, 6, T_C, T_D);
    pre_eth(p, 0x0800, 0x20);
}

static void gre(pkt *p, unsigned flags, unsigned type, unsigned extra_words) {
    uint8_t *h = pkt_pre(p, 4 + 4 * extra_words);
    wr16(h, flags), wr16(h + 2, type);
}

static void outer_ipv4_eth(pkt *p, uint8_t proto) {
    pre_ipv4(p, proto, T_A, T_B);
    pre_eth(p, 0x0800, 0x10);
}

/* C1 */
TEST(test_c1_decodes_gre_versions_and_payload_types) {
    pkt p;
    nmx_decoded d;
    /* version 0 with key and sequence number, transparent Ethernet bridging */
    pkt_init(&p);
    inner_tcp(&p, 4);
    gre(&p, 0x3000, 0x6558, 2);
    outer_ipv4_eth(&p, 47);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 ethernet@46 ipv4@60 tcp@80 payload@100");
    /* checksum and routing present: the source route entries up to the empty one */
    pkt_init(&p);
    memset(pkt_pre(&p, 4), 'x', 4);
    pre_udp(&p, 5, 6);
    pre_ipv4(&p, 17, T_C, T_D);
    uint8_t *sre = pkt_pre(&p, 4 + 8); /* one entry with 4 bytes, then the empty one */
    sre[3] = 4;
    gre(&p, 0xc000, 0x0800, 1);
    outer_ipv4_eth(&p, 47);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 ipv4@54 udp@74 payload@82");
    /* version 1 (PPTP) with its acknowledgment number, PPP inside */
    pkt_init(&p);
    pre_udp(&p, 7, 8);
    pre_ipv4(&p, 17, T_C, T_D);
    uint8_t *ppp = pkt_pre(&p, 4);
    ppp[0] = 0xff, ppp[1] = 0x03, wr16(ppp + 2, 0x0021);
    gre(&p, 0x2081, 0x880b, 2);
    outer_ipv4_eth(&p, 47);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 ppp@46 ipv4@50 udp@70");
    /* CDP by type 0x2000; an unknown GRE version is opaque and malformed */
    pkt_init(&p);
    memset(pkt_pre(&p, 8), 1, 8);
    gre(&p, 0x0000, 0x2000, 0);
    outer_ipv4_eth(&p, 47);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 cdp@38");
    p.buf[p.at + 34 + 1] = 0x03;
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 payload@38");
    CHECK(d.flags & NMX_DEC_MALFORMED);
}

/* C1: ERSPAN type I (no header), II (8 bytes), III (12, +8 with its
 * platform subheader; a frame type other than Ethernet is opaque) */
TEST(test_c1_decodes_erspan_types) {
    pkt p;
    nmx_decoded d;
    pkt_init(&p);
    inner_tcp(&p, 1);
    gre(&p, 0x0000, 0x88be, 0);
    outer_ipv4_eth(&p, 47);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 erspan@38 ethernet@38 ipv4@52 tcp@72 payload@92");
    pkt_init(&p);
    inner_tcp(&p, 1);
    pkt_pre(&p, 8)[0] = 0x10; /* version 1 */
    gre(&p, 0x1000, 0x88be, 1);
    outer_ipv4_eth(&p, 47);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 erspan@42 ethernet@50 ipv4@64 tcp@84 payload@104");
    pkt_init(&p);
    inner_tcp(&p, 1);
    pkt_pre(&p, 8); /* platform-specific subheader */
    uint8_t *e3 = pkt_pre(&p, 12);
    e3[0] = 0x20, e3[11] = 0x01; /* version 2, O */
    gre(&p, 0x0000, 0x22eb, 0);
    outer_ipv4_eth(&p, 47);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 erspan@38 ethernet@58 ipv4@72 tcp@92 payload@112");
    p.buf[p.at + 38 + 10] = 0x1c; /* frame type 7 */
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 gre@34 erspan@38 payload@58");
}

static void vxlan_frame(pkt *p) {
    inner_tcp(p, 3);
    pkt_pre(p, 8)[0] = 0x08;
    pre_udp(p, 40000, 4789);
    outer_ipv4_eth(p, 17);
}

/* C1 */
TEST(test_c1_decodes_udp_tunnels) {
    pkt p;
    nmx_decoded d;
    pkt_init(&p);
    vxlan_frame(&p);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 vxlan@42 ethernet@50 ipv4@64 tcp@84 payload@104");
    /* Geneve with 8 bytes of options, an IPv6 datagram inside */
    pkt_init(&p);
    pre_udp(&p, 1, 2);
    pre_ipv6(&p, 17, 1, 2);
    pkt_pre(&p, 8);
    uint8_t *g = pkt_pre(&p, 8);
    g[0] = 2, wr16(g + 2, 0x86dd);
    pre_udp(&p, 6081, 6081);
    outer_ipv4_eth(&p, 17);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 geneve@42 ipv6@58 udp@98");
    /* GTP-U T-PDU with the optional fields and one extension header */
    pkt_init(&p);
    pre_udp(&p, 9, 10);
    pre_ipv4(&p, 17, T_C, T_D);
    uint8_t *ext = pkt_pre(&p, 4);
    ext[0] = 1; /* 4 bytes, next type 0 */
    uint8_t *gt = pkt_pre(&p, 12);
    gt[0] = 0x34, gt[1] = 0xff, gt[11] = 0x85; /* v1, PT, E; next extension 0x85 */
    pre_udp(&p, 2152, 2152);
    outer_ipv4_eth(&p, 17);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 gtp-u@42 ipv4@58 udp@78");
    p.buf[p.at + 43] = 1; /* an echo request: no datagram inside */
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 gtp-u@42 payload@58");
    p.buf[p.at + 54] = 0; /* an extension of length 0 */
    p.buf[p.at + 43] = 0xff;
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 gtp-u@42");
    CHECK(d.flags & NMX_DEC_MALFORMED);
    /* GTP-C is listed; Teredo with an origin indication; MPLS over UDP */
    pkt_init(&p);
    memset(pkt_pre(&p, 12), 0x48, 12);
    pre_udp(&p, 2123, 33000);
    outer_ipv4_eth(&p, 17);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 gtp-c@42");
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv6(&p, 17, 1, 2);
    pkt_pre(&p, 8); /* origin indication: 0x0000 ... */
    pre_udp(&p, 3544, 50000);
    outer_ipv4_eth(&p, 17);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 teredo@42 ipv6@50 udp@90");
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    uint8_t *lab = pkt_pre(&p, 4);
    lab[2] = 0x01, lab[3] = 64;
    pre_udp(&p, 50000, 6635);
    outer_ipv4_eth(&p, 17);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 mpls@42 ipv4@46 udp@66");
}

/* C1 */
TEST(test_c1_decodes_mpls_pppoe_and_ppp) {
    pkt p;
    nmx_decoded d;
    /* two labels, then IPv6 by its first nibble; a pseudowire is opaque */
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv6(&p, 17, 1, 2);
    uint8_t *st = pkt_pre(&p, 8);
    st[6] = 0x01; /* the second label is the bottom */
    pre_eth(&p, 0x8847, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 mpls@14 mpls@18 ipv6@22 udp@62");
    p.buf[p.at + 22] = 0x00;
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 mpls@14 mpls@18 payload@22");
    /* PPPoE session: PPP, IPv4; discovery: tags only */
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    wr16(pkt_pre(&p, 2), 0x0021);
    uint8_t *po = pkt_pre(&p, 6);
    po[0] = 0x11, wr16(po + 4, (unsigned)pkt_len(&p) - 6);
    pre_eth(&p, 0x8864, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 pppoe@14 ppp@20 ipv4@22 udp@42");
    p.buf[p.at + 13] = 0x63;
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 pppoe@14 payload@20");
    /* PPP link types: HDLC-like framing, a compressed protocol field, Cisco HDLC on PPP_SERIAL */
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    uint8_t *hd = pkt_pre(&p, 4);
    hd[0] = 0xff, hd[1] = 0x03, wr16(hd + 2, 0x0021);
    decode_pkt(&p, DLT_PPP_, &d);
    EXPECT_LAYERS(&d, "ppp@0 ipv4@4 udp@24");
    hd[2] = 0x21, hd[3] = 0x45; /* one-byte protocol 0x21, then the IPv4 header moves up a byte */
    memmove(hd + 3, hd + 4, pkt_len(&p) - 4);
    nmx_decode(pkt_bytes(&p), (uint32_t)pkt_len(&p) - 1, DLT_PPP_, &d);
    EXPECT_LAYERS(&d, "ppp@0 ipv4@3 udp@23");
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    hd = pkt_pre(&p, 4);
    hd[0] = 0x0f, wr16(hd + 2, 0x0800);
    decode_pkt(&p, DLT_PPP_SERIAL_, &d);
    EXPECT_LAYERS(&d, "chdlc@0 ipv4@4 udp@24");
    /* PPPoE without Ethernet */
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    wr16(pkt_pre(&p, 2), 0x0021);
    po = pkt_pre(&p, 6);
    po[0] = 0x11, wr16(po + 4, (unsigned)pkt_len(&p) - 6);
    decode_pkt(&p, DLT_PPP_ETHER_, &d);
    EXPECT_LAYERS(&d, "pppoe@0 ppp@6 ipv4@8 udp@28");
}

/* C1: IP in IP, 6in4, 4in6, Ethernet in IPv6 (RFC 8986) */
TEST(test_c1_decodes_ip_in_ip) {
    pkt p;
    nmx_decoded d;
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    outer_ipv4_eth(&p, 4);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 ipv4@34 udp@54");
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv6(&p, 17, 1, 2);
    outer_ipv4_eth(&p, 41);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 ipv6@34 udp@74");
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    pre_ipv6(&p, 4, 1, 2);
    pre_eth(&p, 0x86dd, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv6@14 ipv4@54 udp@74");
    pkt_init(&p);
    inner_tcp(&p, 2);
    pre_ipv6(&p, 143, 1, 2);
    pre_eth(&p, 0x86dd, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv6@14 ethernet@54 ipv4@68 tcp@88 payload@108");
}

/* C5: in a tunnel, the flow fields are the inner flow's; the layers list
 * both */
TEST(test_c5_flow_fields_describe_the_innermost_flow) {
    pkt p;
    nmx_decoded d;
    pkt_init(&p);
    vxlan_frame(&p);
    pre_vlan(&p, 7, 0x0800);
    /* the outer Ethernet announced IPv4; make it a tagged frame */
    memmove(p.buf + p.at, p.buf + p.at + 4, 12);
    wr16(p.buf + p.at + 12, 0x8100);
    wr16(p.buf + p.at + 14, 7);
    wr16(p.buf + p.at + 16, 0x0800);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 vlan@14 ipv4@18 udp@38 vxlan@46 ethernet@54 ipv4@68 tcp@88 payload@108");
    CHECK(d.flags & NMX_DEC_TUNNEL);
    CHECK(memcmp(d.ip_src, T_C, 4) == 0 && memcmp(d.ip_dst, T_D, 4) == 0);
    CHECK_EQ(d.sport, 1234);
    CHECK_EQ(d.dport, 80);
    CHECK_EQ(d.ip_proto, 6);
    CHECK(d.flags & NMX_DEC_TCP);
    CHECK_EQ(d.tcp_seq, 1000);
    CHECK_EQ(d.l3_offset, 68);
    CHECK_EQ(d.payload_offset, 108);
    CHECK_EQ(d.payload_len, 3);
    CHECK_EQ(d.eth_dst[5], 0x20); /* the inner Ethernet header's */
    CHECK_EQ(d.nvlans, 1);
    CHECK_EQ(d.vlan_ids[0], 7);
    /* the inner IPv4 header cut short: the outer flow (UDP to 4789) stays */
    nmx_decode(pkt_bytes(&p), 68 + 10, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 vlan@14 ipv4@18 udp@38 vxlan@46 ethernet@54 ipv4@68");
    CHECK(memcmp(d.ip_src, T_A, 4) == 0);
    CHECK_EQ(d.dport, 4789);
    CHECK(!(d.flags & NMX_DEC_TUNNEL));
    CHECK(d.flags & NMX_DEC_TRUNCATED);
}

/* C1 */
TEST(test_c1_decodes_80211_radiotap_and_cisco_hdlc) {
    pkt p;
    nmx_decoded d;
    /* a QoS data frame to the AP, LLC/SNAP, IPv4 */
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    uint8_t *snap = pkt_pre(&p, 8);
    snap[0] = 0xaa, snap[1] = 0xaa, snap[2] = 0x03, wr16(snap + 6, 0x0800);
    uint8_t *w = pkt_pre(&p, 26);
    w[0] = 0x88, w[1] = 0x01; /* data, QoS data; to DS */
    decode_pkt(&p, DLT_IEEE802_11_, &d);
    EXPECT_LAYERS(&d, "ieee802.11@0 llc@26 ipv4@34 udp@54");
    /* behind an 18-byte radiotap header */
    uint8_t *rt = pkt_pre(&p, 18);
    rt[2] = 18;
    decode_pkt(&p, DLT_RADIOTAP_, &d);
    EXPECT_LAYERS(&d, "radiotap@0 ieee802.11@18 llc@44 ipv4@52 udp@72");
    /* protected: opaque; a null function has no body; management: opaque */
    p.buf[p.at + 18 + 1] = 0x41;
    decode_pkt(&p, DLT_RADIOTAP_, &d);
    EXPECT_LAYERS(&d, "radiotap@0 ieee802.11@18 payload@44");
    p.buf[p.at + 18 + 0] = 0xc8, p.buf[p.at + 18 + 1] = 0x01; /* QoS null */
    decode_pkt(&p, DLT_RADIOTAP_, &d);
    EXPECT_LAYERS(&d, "radiotap@0 ieee802.11@18");
    p.buf[p.at + 18 + 0] = 0x80; /* beacon */
    decode_pkt(&p, DLT_RADIOTAP_, &d);
    EXPECT_LAYERS(&d, "radiotap@0 ieee802.11@18 payload@42");
    /* an A-MSDU: the first subframe after its 14-byte header */
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    snap = pkt_pre(&p, 8);
    snap[0] = 0xaa, snap[1] = 0xaa, snap[2] = 0x03, wr16(snap + 6, 0x0800);
    pkt_pre(&p, 14);
    w = pkt_pre(&p, 26);
    w[0] = 0x88, w[1] = 0x02, w[24] = 0x80;
    decode_pkt(&p, DLT_IEEE802_11_, &d);
    EXPECT_LAYERS(&d, "ieee802.11@0 llc@40 ipv4@48 udp@68");
    /* Cisco HDLC: IPv4; SLARP is not ARP */
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    pre_ipv4(&p, 17, T_C, T_D);
    uint8_t *ch = pkt_pre(&p, 4);
    ch[0] = 0x0f, wr16(ch + 2, 0x0800);
    decode_pkt(&p, DLT_C_HDLC_, &d);
    EXPECT_LAYERS(&d, "chdlc@0 ipv4@4 udp@24");
    wr16(ch + 2, 0x8035);
    decode_pkt(&p, DLT_C_HDLC_, &d);
    EXPECT_LAYERS(&d, "chdlc@0 payload@4");
}

/* C1: 802.3 with LLC (STP, Cisco's SNAP: CDP and PVST+), tagged 802.3,
 * LLDP, VRRP, Novell's raw 802.3 */
TEST(test_c1_decodes_llc_and_layer2_control_protocols) {
    pkt p;
    nmx_decoded d;
    pkt_init(&p);
    memset(pkt_pre(&p, 35), 0, 35);
    uint8_t *llc = pkt_pre(&p, 3);
    llc[0] = 0x42, llc[1] = 0x42, llc[2] = 0x03;
    pre_eth(&p, 38, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 llc@14 stp@17");
    pkt_init(&p);
    memset(pkt_pre(&p, 20), 2, 20);
    uint8_t *sn = pkt_pre(&p, 8);
    sn[0] = 0xaa, sn[1] = 0xaa, sn[2] = 0x03, sn[5] = 0x0c, wr16(sn + 6, 0x2000);
    pre_eth(&p, 28, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 llc@14 cdp@22");
    wr16(sn + 6, 0x010b);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 llc@14 stp@22");
    pre_vlan(&p, 5, 28);
    memmove(p.buf + p.at, p.buf + p.at + 4, 12);
    wr16(p.buf + p.at + 12, 0x8100);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 vlan@14 llc@18 stp@26");
    pkt_init(&p);
    memset(pkt_pre(&p, 30), 2, 30);
    pre_eth(&p, 0x88cc, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 lldp@14");
    pkt_init(&p);
    memset(pkt_pre(&p, 20), 0x21, 20);
    outer_ipv4_eth(&p, 112);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 vrrp@34");
    pkt_init(&p);
    memset(pkt_pre(&p, 30), 0xff, 30);
    pre_eth(&p, 30, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 payload@14");
}

static void udp_frame(pkt *p, unsigned sport, unsigned dport, const void *payload, size_t n) {
    pkt_init(p);
    pre_bytes(p, payload, n);
    pre_udp(p, sport, dport);
    outer_ipv4_eth(p, 17);
}

static const char *udp_last(unsigned sport, unsigned dport, const void *payload, size_t n) {
    static char name[32];
    pkt p;
    nmx_decoded d;
    udp_frame(&p, sport, dport, payload, n);
    decode_pkt(&p, DLT_ETH, &d);
    snprintf(name, sizeof name, "%s@%u", nmx_proto_name(d.layers[d.nlayers - 1].proto),
             d.layers[d.nlayers - 1].offset);
    return name;
}

/* C1, issue 11 item 1: the UDP protocols by port (the lower one first), and
 * the checks Wireshark makes before it takes a datagram */
TEST(test_c1_recognises_udp_protocols_by_port) {
    static const uint8_t ber[] = {0x30, 0x26, 0x02, 0x01, 0x00}, junk[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t krb5[] = {0x6a, 0x81, 0x9c, 0x30, 0x81}, krb4[] = {4, 2, 0, 0, 0};
    static const struct {
        unsigned sport, dport;
        const char *want;
    } simple[] = {
        {40000, 53, "dns@42"},    {5353, 5353, "mdns@42"}, {50000, 5355, "llmnr@42"}, {137, 137, "nbns@42"},
        {68, 67, "dhcp@42"},      {546, 547, "dhcpv6@42"}, {123, 123, "ntp@42"},      {514, 40000, "syslog@42"},
        {2152, 53, "dns@42"}, /* the lower port first */
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        CHECK(strcmp(udp_last(simple[i].sport, simple[i].dport, junk, sizeof junk), simple[i].want) == 0);
    CHECK(strcmp(udp_last(40000, 161, ber, sizeof ber), "snmp@42") == 0);
    CHECK(strcmp(udp_last(40000, 161, junk, sizeof junk), "payload@42") == 0);
    CHECK(strcmp(udp_last(161, 546, junk, sizeof junk), "dhcpv6@42") == 0); /* SNMP declines: the other port */
    CHECK(strcmp(udp_last(88, 40000, krb5, sizeof krb5), "kerberos@42") == 0);
    CHECK(strcmp(udp_last(88, 40000, krb4, sizeof krb4), "kerberos@42") == 0);
    CHECK(strcmp(udp_last(88, 40000, junk, sizeof junk), "payload@42") == 0);
}

/* issue 11 item 1: SIP with SDP, NetBIOS datagrams with SMB, and DNS found
 * by Wireshark's heuristic on other ports */
TEST(test_c1_recognises_sip_nbdgm_and_dns_on_any_port) {
    pkt p;
    nmx_decoded d;
    const char *sip = "INVITE sip:b@example.org SIP/2.0\r\nVia: SIP/2.0/UDP a\r\nContent-Type: application/sdp\r\n"
                      "Content-Length: 10\r\n\r\nv=0\r\nm=x\r\n";
    udp_frame(&p, 5060, 5060, sip, strlen(sip));
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 sip@42 sdp@149");
    udp_frame(&p, 40000, 40002, sip, strlen(sip)); /* any port */
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 sip@42 sdp@149");
    const char *notsip = "INVITE sip:b@example.org HTTP/1.1\r\n\r\n";
    CHECK(strcmp(udp_last(5060, 5060, notsip, strlen(notsip)), "payload@42") == 0);
    /* direct group datagram: header (14 bytes), two names, SMB */
    uint8_t dg[14 + 34 + 34 + 8] = {0x11};
    dg[14] = 32, dg[14 + 34] = 32;
    memcpy(dg + 14 + 68, "\xffSMB\x25\0\0\0", 8);
    udp_frame(&p, 138, 138, dg, sizeof dg);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 ipv4@14 udp@34 nbdgm@42 smb@124");
    /* a query (one question, nothing else), a response; not: two questions, an update, 11 authorities */
    uint8_t q[29] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1};
    CHECK(strcmp(udp_last(40000, 40001, q, sizeof q), "dns@42") == 0);
    q[2] = 0x81, q[7] = 5;
    CHECK(strcmp(udp_last(40000, 40001, q, sizeof q), "dns@42") == 0);
    q[2] = 0x01, q[7] = 0, q[5] = 2;
    CHECK(strcmp(udp_last(40000, 40001, q, sizeof q), "payload@42") == 0);
    q[5] = 1, q[2] = 0x29;
    CHECK(strcmp(udp_last(40000, 40001, q, sizeof q), "payload@42") == 0);
    q[2] = 0x81, q[9] = 11;
    CHECK(strcmp(udp_last(40000, 40001, q, sizeof q), "payload@42") == 0);
}

/* C6: what an enclosing length says bounds what is inside it */
TEST(test_c6_a_datagram_is_bounded_by_its_enclosing_length) {
    pkt p;
    nmx_decoded d;
    pkt_init(&p);
    memset(pkt_pre(&p, 6), 0, 6); /* Ethernet padding after the PPPoE payload */
    pre_tcp(&p, 1234, 443, 1, 0x10);
    pre_ipv4(&p, 6, T_C, T_D); /* its total length counts the padding: 46 */
    wr16(pkt_pre(&p, 2), 0x0021);
    uint8_t *po = pkt_pre(&p, 6);
    po[0] = 0x11, wr16(po + 4, 42); /* PPP protocol + 40 bytes of IPv4 */
    pre_eth(&p, 0x8864, 1);
    decode_pkt(&p, DLT_ETH, &d);
    EXPECT_LAYERS(&d, "ethernet@0 pppoe@14 ppp@20 ipv4@22 tcp@42");
    CHECK_EQ(d.ip_total_len, 46);
    CHECK_EQ(d.payload_len, 0);
}

/* C6: every cut of tunnelled frames decodes as a prefix of the whole
 * frame's layers, never reading past the cut (ASan watches) */
TEST(test_c6_cut_tunnelled_frames_decode_as_far_as_their_bytes_allow) {
    pkt frames[3];
    pkt_init(&frames[0]);
    vxlan_frame(&frames[0]);
    pkt_init(&frames[1]);
    inner_tcp(&frames[1], 5);
    pkt_pre(&frames[1], 8)[0] = 0x10;
    gre(&frames[1], 0x1000, 0x88be, 1);
    outer_ipv4_eth(&frames[1], 47);
    pkt_init(&frames[2]);
    pre_udp(&frames[2], 3, 4);
    pre_ipv6(&frames[2], 17, 1, 2);
    uint8_t *st = pkt_pre(&frames[2], 4);
    st[2] = 1;
    wr16(pkt_pre(&frames[2], 2), 0x0281);
    uint8_t *po = pkt_pre(&frames[2], 6);
    po[0] = 0x11, wr16(po + 4, (unsigned)pkt_len(&frames[2]) - 6);
    pre_eth(&frames[2], 0x8864, 1);
    for (int k = 0; k < 3; k++) {
        nmx_decoded full, d;
        decode_pkt(&frames[k], DLT_ETH, &full);
        uint32_t n = (uint32_t)pkt_len(&frames[k]);
        for (uint32_t cut = 0; cut <= n; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1); /* exactly `cut` bytes: ASan sees any read beyond */
            memcpy(copy, pkt_bytes(&frames[k]), cut);
            nmx_decode(copy, cut, DLT_ETH, &d);
            CHECK(d.nlayers <= full.nlayers);
            for (unsigned i = 0; i < d.nlayers; i++) {
                CHECK(d.layers[i].offset < cut);
                CHECK(d.layers[i].offset == full.layers[i].offset);
                CHECK(d.layers[i].proto == full.layers[i].proto || d.layers[i].proto == NMX_PROTO_PAYLOAD);
            }
            if (cut < n && d.nlayers < full.nlayers && full.layers[d.nlayers].offset < cut)
                CHECK(d.flags & (NMX_DEC_TRUNCATED | NMX_DEC_MALFORMED));
            free(copy);
        }
    }
}

/* C6: tunnels in tunnels end when the layer table is full */
TEST(test_c6_nested_tunnels_stop_at_the_layer_table) {
    pkt p;
    nmx_decoded d;
    pkt_init(&p);
    pre_udp(&p, 3, 4);
    for (int i = 0; i < 40; i++)
        pre_ipv4(&p, i ? 4 : 17, T_A, T_B);
    pre_eth(&p, 0x0800, 1);
    decode_pkt(&p, DLT_ETH, &d);
    CHECK_EQ(d.nlayers, NMX_DECODE_MAX_LAYERS);
    CHECK_EQ(d.layers[NMX_DECODE_MAX_LAYERS - 1].proto, NMX_PROTO_IPV4);
    for (int r = 0; r < 300; r++) { /* random bytes through every link type this file adds */
        uint8_t junk[200];
        for (size_t i = 0; i < sizeof junk; i++)
            junk[i] = (uint8_t)rand();
        static const int dlts[] = {DLT_PPP_, DLT_PPP_SERIAL_, DLT_PPP_ETHER_, DLT_C_HDLC_, DLT_IEEE802_11_,
                                   DLT_RADIOTAP_, DLT_ETH};
        for (size_t k = 0; k < sizeof dlts / sizeof dlts[0]; k++) {
            nmx_decode(junk, sizeof junk, dlts[k], &d);
            for (unsigned i = 0; i < d.nlayers; i++)
                CHECK(d.layers[i].offset < sizeof junk);
        }
    }
}

/* netmon.h: every id has a name */
TEST(test_c5_every_protocol_id_has_a_name) {
    for (unsigned id = 1; id <= NMX_PROTO_GTPC; id++) {
        int documented = id <= NMX_PROTO_VRRP || id >= NMX_PROTO_DNS;
        CHECK((strcmp(nmx_proto_name(id), "?") != 0) == documented);
    }
    CHECK(strcmp(nmx_proto_name(NMX_PROTO_GTPC + 1), "?") == 0);
}

int main(int argc, char **argv) {
    CHECK_INIT(argc, argv);
    RUN(test_c1_decodes_gre_versions_and_payload_types);
    RUN(test_c1_decodes_erspan_types);
    RUN(test_c1_decodes_udp_tunnels);
    RUN(test_c1_decodes_mpls_pppoe_and_ppp);
    RUN(test_c1_decodes_ip_in_ip);
    RUN(test_c5_flow_fields_describe_the_innermost_flow);
    RUN(test_c1_decodes_80211_radiotap_and_cisco_hdlc);
    RUN(test_c1_decodes_llc_and_layer2_control_protocols);
    RUN(test_c1_recognises_udp_protocols_by_port);
    RUN(test_c1_recognises_sip_nbdgm_and_dns_on_any_port);
    RUN(test_c6_a_datagram_is_bounded_by_its_enclosing_length);
    RUN(test_c6_cut_tunnelled_frames_decode_as_far_as_their_bytes_allow);
    RUN(test_c6_nested_tunnels_stop_at_the_layer_table);
    RUN(test_c5_every_protocol_id_has_a_name);
    return CHECK_DONE();
}
