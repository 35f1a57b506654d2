/* What a UDP datagram carries, by port (issue 11 items 1 and 2): the
 * tunnels of decode_tunnel.c and the application protocols that need no
 * context (one datagram, one message): DNS, mDNS, LLMNR, NBNS, NetBIOS
 * datagrams with the SMB inside, DHCP/BOOTP, DHCPv6, NTP, SNMP, Syslog,
 * Kerberos, SIP (with its SDP body). Those that need flow state (RTP and
 * RTCP announced by SDP, QUIC connections) are the recognizer's.
 *
 * As Wireshark does, the lower port is tried first, then the higher; a
 * protocol whose first bytes do not fit lets the other port be tried
 * (ports.h has the ports).
 */
#include "capture/decode_internal.h"
#include "capture/ports.h"
#include "capture/text.h"

typedef nmx__dec dec;

/* NetBIOS name (RFC 1002 4.1): length-prefixed labels up to an empty one.
 * Returns the offset after it, 0 if it runs past the captured bytes. */
static uint32_t skip_netbios_name(const dec *s, uint32_t p) {
    for (unsigned labels = 0; labels < 64; labels++) {
        if (!nmx__have(s, p, 1))
            return 0;
        uint32_t len = s->b[p];
        if (len == 0)
            return p + 1;
        if (len & 0xc0) /* a compression pointer ends the name */
            return nmx__have(s, p, 2) ? p + 2 : 0;
        p += 1 + len;
    }
    return 0;
}

static int is_smb1(const dec *s, uint32_t p) {
    return nmx__have(s, p, 4) && s->b[p] == 0xff && s->b[p + 1] == 'S' && s->b[p + 2] == 'M' && s->b[p + 3] == 'B';
}

/* NetBIOS datagram service (RFC 1002 4.4): the direct and broadcast
 * datagrams carry a message after two names, usually an SMB mailslot. */
static void nbdgm(dec *s, uint32_t off) {
    if (!nmx__header(s, NMX_PROTO_NBDGM, off, 10))
        return;
    uint8_t type = s->b[off];
    if (type < 0x10 || type > 0x12) /* errors and queries: no user data */
        return;
    uint32_t p = skip_netbios_name(s, off + 14);
    p = p ? skip_netbios_name(s, p) : 0;
    if (p && is_smb1(s, p))
        (void)nmx__layer(s, NMX_PROTO_SMB, p);
    else if (p)
        nmx__payload(s, p);
}

/* SIP over UDP: a request or status line, headers, and an SDP body when
 * the headers say so. Not SIP: 0. */
static int sip(dec *s, uint32_t off) {
    uint32_t len = s->n - off;
    const char *m = (const char *)s->b + off;
    if (!nmx__sip_start_line(m, len))
        return 0;
    (void)nmx__layer(s, NMX_PROTO_SIP, off);
    uint32_t body = nmx__headers_end(m, len);
    if (body && body < len && nmx__sip_has_sdp(m, body))
        (void)nmx__layer(s, NMX_PROTO_SDP, off + body);
    return 1;
}

/* One port's protocol, if it takes the datagram at off. */
static int by_port(dec *s, uint16_t port, uint32_t off) {
    uint8_t proto = nmx__udp_ports[port];
    switch (proto) {
    case 0:
        return 0;
    case NMX_PROTO_NBDGM:
        nbdgm(s, off);
        return 1;
    case NMX_PROTO_SNMP: /* a BER SEQUENCE, or Wireshark declines it */
        return s->b[off] == 0x30 && nmx__layer(s, NMX_PROTO_SNMP, off);
    case NMX_PROTO_KERBEROS: { /* Kerberos 5: an APPLICATION tag; version 4 on the same port: its version */
        uint8_t b = s->b[off];
        return (b == 4 || (b >= 0x60 && b <= 0x7f)) && nmx__layer(s, NMX_PROTO_KERBEROS, off);
    }
    case NMX_PROTO_SIP:
        return sip(s, off);
    case NMX_PROTO_VXLAN:
    case NMX_PROTO_GENEVE:
    case NMX_PROTO_GTPU:
    case NMX_PROTO_GTPC:
    case NMX_PROTO_TEREDO:
    case NMX_PROTO_MPLS:
        nmx__dec_udp_tunnel(s, proto, off);
        return 1;
    default: /* the protocols that take any datagram */
        (void)nmx__layer(s, proto, off);
        return 1;
    }
}

/* Wireshark 4.0's DNS heuristic, as its answers on crafted datagrams
 * show: more than a header, opcode 0 (query), a query with one question
 * and no answer or authority records, a response with at most one
 * question, and at most 100 answers, 10 authority and 10 additional
 * records. */
static int dns_like(const dec *s, uint32_t off) {
    if (!nmx__have(s, off, 13))
        return 0;
    uint16_t flags = nmx__be16(s, off + 2), qd = nmx__be16(s, off + 4), an = nmx__be16(s, off + 6),
             ns = nmx__be16(s, off + 8), ar = nmx__be16(s, off + 10);
    if ((flags >> 11 & 0xf) != 0 || an > 100 || ns > 10 || ar > 10)
        return 0;
    if (flags & 0x8000)
        return qd <= 1;
    return qd == 1 && an == 0 && ns == 0;
}

void nmx__dec_udp_payload(dec *s, uint16_t sport, uint16_t dport, uint32_t off) {
    uint16_t lo = sport < dport ? sport : dport, hi = sport < dport ? dport : sport;
    if (!nmx__have(s, off, 1))
        return;
    if (by_port(s, lo, off) || (hi != lo && by_port(s, hi, off)))
        return;
    /* the payload checks Wireshark runs on any port: SIP, DNS */
    if (sip(s, off))
        return;
    if (dns_like(s, off)) {
        (void)nmx__layer(s, NMX_PROTO_DNS, off);
        return;
    }
    nmx__payload(s, off);
}
