/* Frame decoding (SPEC C1, C5, C6): the entry point, Ethernet and VLAN tags,
 * Linux cooked captures, BSD loopback, raw IP, ARP, IPv4/IPv6 with
 * extension headers, TCP/UDP/ICMP/ICMPv6, and the dispatch into tunnels
 * (decode_tunnel.c) and the other link layers (decode_link.c).
 * decode_internal.h says how every header is read.
 */
#define _DEFAULT_SOURCE /* u_char & co. in <pcap/pcap.h> */
#include "capture/decode_internal.h"

#include <pcap/dlt.h>
#include <stddef.h>
#include <string.h>

/* Link types whose value differs between systems or that dlt.h may lack. */
#define LT_RAW_101 101 /* LINKTYPE_RAW */
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif

#define ARPHRD_NETLINK 824

typedef nmx__dec dec;

#define be16 nmx__be16
#define be32 nmx__be32
#define have nmx__have
#define layer nmx__layer
#define truncated nmx__truncated
#define malformed nmx__malformed
#define payload nmx__payload

/* ---- transport ---- */

/* A TCP or UDP header at off: its layer and ports; 1 when its first `full`
 * bytes are captured. */
static inline __attribute__((always_inline)) int ports(dec *s, uint16_t proto, uint32_t off, uint32_t full) {
    nmx_decoded *d = s->d;
    if (!nmx__header(s, proto, off, 4))
        return 0;
    d->sport = be16(s, off);
    d->dport = be16(s, off + 2);
    d->flags |= NMX_DEC_L4;
    if (!have(s, off, full)) {
        truncated(s);
        return 0;
    }
    return 1;
}

static void tcp(dec *s, uint32_t off, uint32_t avail) {
    nmx_decoded *d = s->d;
    if (!ports(s, NMX_PROTO_TCP, off, 20))
        return;
    d->tcp_seq = be32(s, off + 4);
    d->tcp_ack = be32(s, off + 8);
    uint32_t hl = (uint32_t)(s->b[off + 12] >> 4) * 4;
    d->tcp_hdr_len = (uint8_t)hl;
    d->tcp_flags = (uint16_t)((s->b[off + 12] & 1u) << 8 | s->b[off + 13]);
    d->tcp_window = be16(s, off + 14);
    d->flags |= NMX_DEC_TCP;
    if (hl < 20 || hl > avail) {
        malformed(s);
        return;
    }
    d->payload_offset = off + hl;
    d->payload_len = avail - hl;
    if (!have(s, off, hl)) {
        truncated(s);
        return;
    }
    if (d->payload_len)
        payload(s, off + hl);
}

static void udp(dec *s, uint32_t off, uint32_t avail) {
    nmx_decoded *d = s->d;
    if (!ports(s, NMX_PROTO_UDP, off, 8))
        return;
    uint32_t ulen = be16(s, off + 4);
    d->payload_offset = off + 8;
    if (ulen >= 8 && ulen <= avail)
        d->payload_len = ulen - 8;
    else if (avail >= 8)
        d->payload_len = avail - 8; /* UDP length 0 (jumbogram) or bogus: trust IP */
    if (!d->payload_len)
        return;
    s->lim = off + 8 + d->payload_len;
    nmx__dec_udp_payload(s, d->sport, d->dport, off + 8);
}

static void icmp(dec *s, uint8_t proto, uint32_t off, uint32_t avail) {
    nmx_decoded *d = s->d;
    if (!layer(s, proto == 1 ? NMX_PROTO_ICMP : NMX_PROTO_ICMPV6, off))
        return;
    if (!have(s, off, 2)) {
        truncated(s);
        return;
    }
    d->icmp_type = s->b[off];
    d->icmp_code = s->b[off + 1];
    d->flags |= NMX_DEC_L4;
    if (!have(s, off, 8)) {
        truncated(s);
        return;
    }
    /* An ICMP error quotes the datagram that caused it: its bytes are this
     * frame's payload, not a flow of its own, so they are not decoded. */
    d->payload_offset = off + 8;
    d->payload_len = avail > 8 ? avail - 8 : 0;
    if (d->payload_len)
        payload(s, off + 8);
}

/* The header after IP at off, inside a datagram ending at `end`. */
static void transport(dec *s, uint8_t proto, uint32_t off, uint32_t end) {
    nmx_decoded *d = s->d;
    d->l4_offset = off;
    uint32_t avail = end > off ? end - off : 0; /* bytes of the datagram from here */
    switch (proto) {
    case 6:
        tcp(s, off, avail);
        return;
    case 17:
        udp(s, off, avail);
        return;
    case 1:
    case 58:
        icmp(s, proto, off, avail);
        return;
    case 4: /* IPv4 in IP */
        nmx__dec_ipv4(s, off);
        return;
    case 41: /* IPv6 in IP (6in4, 6in6) */
        nmx__dec_ipv6(s, off);
        return;
    case 47:
        nmx__dec_gre(s, off);
        return;
    case 143: /* Ethernet (segment routing, RFC 8986) */
        nmx__dec_ethernet(s, off);
        return;
    case 112: /* VRRP: the whole datagram is its message */
        (void)layer(s, NMX_PROTO_VRRP, off);
        return;
    default:
        d->payload_offset = off;
        d->payload_len = avail;
        if (avail)
            payload(s, off);
        return;
    }
}

/* Skip IPv6 extension headers (and AH, after IPv4 too) starting at *off with
 * next-header *nh. Returns 0 when decoding must stop (truncated, or a
 * non-first fragment: its payload is listed and nothing more). */
static int skip_ext(dec *s, uint8_t *nh, uint32_t *off, uint32_t end, int v6) {
    nmx_decoded *d = s->d;
    for (;;) {
        uint8_t h = *nh;
        uint32_t p = *off, len;
        if (v6 && (h == 0 || h == 43 || h == 60)) { /* hop-by-hop, routing, destination */
            if (!have(s, p, 2)) {
                truncated(s);
                return 0;
            }
            len = ((uint32_t)s->b[p + 1] + 1) * 8;
        } else if (h == 51) { /* AH */
            if (!have(s, p, 2)) {
                truncated(s);
                return 0;
            }
            len = ((uint32_t)s->b[p + 1] + 2) * 4;
        } else if (v6 && h == 44) { /* fragment */
            if (!have(s, p, 8)) {
                truncated(s);
                return 0;
            }
            uint16_t fo = be16(s, p + 2);
            d->frag_offset = (uint16_t)(fo & 0xfff8);
            d->ip_more_fragments = (uint8_t)(fo & 1);
            d->ip_fragment = (uint8_t)(d->frag_offset || d->ip_more_fragments);
            d->ip_id = be32(s, p + 4);
            len = 8;
            if (d->frag_offset) { /* not the first fragment: no transport header here */
                *nh = s->b[p];
                *off = p + len;
                d->ip_proto = *nh;
                d->payload_offset = *off;
                d->payload_len = end > *off ? end - *off : 0;
                payload(s, *off);
                return 0;
            }
        } else {
            return 1;
        }
        *nh = s->b[p];
        *off = p + len;
        if (!have(s, p, len)) {
            truncated(s);
            return 0;
        }
    }
}

/* A datagram's end: its length field's, cut at the enclosing length; never
 * before its header's end `hdr_end`. Its content is bounded by it. */
static uint32_t bounded_end(dec *s, uint64_t end, uint32_t hdr_end) {
    if (end > s->lim)
        end = s->lim;
    if (end < hdr_end)
        end = hdr_end;
    s->lim = (uint32_t)end;
    return (uint32_t)end;
}

/* A complete inner IP header starts a new flow: what an outer header and
 * its transport set is cleared (nmx_decoded: the innermost flow). */
static void new_datagram(nmx_decoded *d) {
    if (!(d->flags & NMX_DEC_IP)) /* the first: nmx_decode cleared them */
        return;
    d->flags |= NMX_DEC_TUNNEL;
    memset(&d->ip_version, 0, offsetof(nmx_decoded, layers) - offsetof(nmx_decoded, ip_version));
    d->flags &= ~(uint32_t)(NMX_DEC_L4 | NMX_DEC_TCP | NMX_DEC_IP_LEN_ZERO);
}

void nmx__dec_ipv4(dec *s, uint32_t off) {
    nmx_decoded *d = s->d;
    if (!layer(s, NMX_PROTO_IPV4, off))
        return;
    if (!have(s, off, 20)) {
        truncated(s);
        return;
    }
    uint32_t ihl = (uint32_t)(s->b[off] & 15) * 4;
    if (s->b[off] >> 4 != 4 || ihl < 20) {
        malformed(s);
        return;
    }
    new_datagram(d);
    d->ip_version = 4;
    d->l3_offset = off;
    d->l3_hdr_len = ihl;
    d->ip_total_len = be16(s, off + 2);
    d->ip_id = be16(s, off + 4);
    uint16_t fo = be16(s, off + 6);
    d->ip_more_fragments = (uint8_t)((fo >> 13) & 1);
    d->frag_offset = (uint16_t)((fo & 0x1fff) * 8);
    d->ip_fragment = (uint8_t)(d->ip_more_fragments || d->frag_offset);
    d->ttl = s->b[off + 8];
    d->ip_proto = s->b[off + 9];
    memcpy(d->ip_src, s->b + off + 12, 4);
    memcpy(d->ip_dst, s->b + off + 16, 4);
    d->flags |= NMX_DEC_IP;
    uint32_t len = d->ip_total_len;
    if (len == 0) { /* TSO: the stack had not filled it in yet */
        d->flags |= NMX_DEC_IP_LEN_ZERO;
        len = s->n - off;
    }
    if (len < ihl) {
        malformed(s);
        return;
    }
    if (!have(s, off, ihl)) {
        truncated(s);
        return;
    }
    uint32_t p = off + ihl, end = bounded_end(s, off + len, p);
    if (d->frag_offset) { /* only the first fragment carries the transport header */
        d->payload_offset = p;
        d->payload_len = end - p;
        if (d->payload_len)
            payload(s, p);
        return;
    }
    uint8_t nh = d->ip_proto;
    if (!skip_ext(s, &nh, &p, end, 0))
        return;
    d->ip_proto = nh;
    transport(s, nh, p, end);
}

void nmx__dec_ipv6(dec *s, uint32_t off) {
    nmx_decoded *d = s->d;
    /* A version other than 6 is not IPv6 at all (Wireshark agrees): its
     * bytes are payload. */
    if (have(s, off, 1) && s->b[off] >> 4 != 6) {
        malformed(s);
        payload(s, off);
        return;
    }
    if (!layer(s, NMX_PROTO_IPV6, off))
        return;
    if (!have(s, off, 40)) {
        truncated(s);
        return;
    }
    new_datagram(d);
    d->ip_version = 6;
    d->l3_offset = off;
    uint32_t plen = be16(s, off + 4);
    uint8_t nh = s->b[off + 6];
    d->ttl = s->b[off + 7];
    memcpy(d->ip_src, s->b + off + 8, 16);
    memcpy(d->ip_dst, s->b + off + 24, 16);
    d->ip_proto = nh;
    d->flags |= NMX_DEC_IP;
    if (plen == 0) { /* jumbogram or TSO */
        d->flags |= NMX_DEC_IP_LEN_ZERO;
        plen = s->n - off - 40;
    }
    d->ip_total_len = 40 + plen;
    uint32_t p = off + 40, end = bounded_end(s, off + 40 + plen, p);
    int go = skip_ext(s, &nh, &p, end, 1);
    d->l3_hdr_len = p - off;
    if (!go)
        return;
    d->ip_proto = nh;
    if (nh == 59) /* no next header */
        return;
    transport(s, nh, p, end);
}

int nmx__dec_ip_any(dec *s, uint32_t off) {
    if (!have(s, off, 1))
        return 0;
    switch (s->b[off] >> 4) {
    case 4:
        nmx__dec_ipv4(s, off);
        return 1;
    case 6:
        nmx__dec_ipv6(s, off);
        return 1;
    default:
        return 0;
    }
}

static void arp(dec *s, uint32_t off) {
    if (!layer(s, NMX_PROTO_ARP, off))
        return;
    if (!have(s, off, 8)) {
        truncated(s);
        return;
    }
    s->d->arp_op = be16(s, off + 6);
}

void nmx__dec_ethertype(dec *s, uint16_t et, uint32_t off) {
    nmx_decoded *d = s->d;
    while (et == 0x8100 || et == 0x88a8 || et == 0x9100) {
        if (!layer(s, NMX_PROTO_VLAN, off))
            return;
        if (!have(s, off, 4)) {
            truncated(s);
            return;
        }
        if (d->nvlans < NMX_DECODE_MAX_VLANS)
            d->vlan_ids[d->nvlans++] = (uint16_t)(be16(s, off) & 0xfff);
        et = be16(s, off + 2);
        off += 4;
        if (et < 0x0600) { /* a tagged 802.3 frame: the length field, then LLC */
            nmx__dec_llc(s, off);
            return;
        }
    }
    d->ethertype = et;
    switch (et) {
    case 0x0800:
        nmx__dec_ipv4(s, off);
        return;
    case 0x86dd:
        nmx__dec_ipv6(s, off);
        return;
    case 0x0806:
    case 0x8035:
        arp(s, off);
        return;
    case 0x8847:
    case 0x8848:
        nmx__dec_mpls(s, off);
        return;
    case 0x8863:
    case 0x8864:
        nmx__dec_pppoe(s, et, off);
        return;
    case 0x6558: /* transparent Ethernet bridging (GRE, Geneve) */
        nmx__dec_ethernet(s, off);
        return;
    case 0x88cc:
        (void)layer(s, NMX_PROTO_LLDP, off);
        return;
    case 0x2000: /* CDP where a type field names it: Cisco HDLC, GRE */
        (void)layer(s, NMX_PROTO_CDP, off);
        return;
    default:
        payload(s, off);
        return;
    }
}

void nmx__dec_ethernet(dec *s, uint32_t off) {
    if (!layer(s, NMX_PROTO_ETHERNET, off))
        return;
    if (!have(s, off, 14)) {
        truncated(s);
        return;
    }
    memcpy(s->d->eth_dst, s->b + off, 6);
    memcpy(s->d->eth_src, s->b + off + 6, 6);
    s->d->flags |= NMX_DEC_ETH;
    uint16_t et = be16(s, off + 12);
    if (et < 0x0600) { /* 802.3 length field: LLC follows */
        nmx__dec_llc(s, off + 14);
        return;
    }
    nmx__dec_ethertype(s, et, off + 14);
}

/* Linux cooked capture: the protocol field is an Ethertype except for a few
 * hardware types and the 802.2/802.3 markers below 0x0600. */
static void sll(dec *s, uint16_t proto_id, uint32_t hdr, uint32_t proto_at, uint32_t hatype_at) {
    if (!layer(s, proto_id, 0))
        return;
    if (!have(s, 0, hdr)) {
        truncated(s);
        return;
    }
    uint16_t et = be16(s, proto_at), hatype = be16(s, hatype_at);
    if (et == 0x0004) { /* LINUX_SLL_P_802_2: an LLC header follows */
        nmx__dec_llc(s, hdr);
        return;
    }
    if (et < 0x0600 || hatype == ARPHRD_NETLINK) {
        payload(s, hdr);
        return;
    }
    nmx__dec_ethertype(s, et, hdr);
}

static void bsd_null(dec *s, int loop) {
    if (!layer(s, NMX_PROTO_NULL, 0))
        return;
    if (!have(s, 0, 4)) {
        truncated(s);
        return;
    }
    uint32_t fam;
    if (loop) {
        fam = be32(s, 0);
    } else { /* host order of the capturing machine: take whichever is small */
        fam = (uint32_t)s->b[0] | (uint32_t)s->b[1] << 8 | (uint32_t)s->b[2] << 16 |
              (uint32_t)s->b[3] << 24;
        if (fam & 0xffff0000u)
            fam = be32(s, 0);
    }
    switch (fam) {
    case 2: /* AF_INET everywhere */
        s->d->ethertype = 0x0800;
        nmx__dec_ipv4(s, 4);
        return;
    case 10: /* AF_INET6: Linux */
    case 24: /* NetBSD, OpenBSD, BSD/OS */
    case 28: /* FreeBSD */
    case 30: /* Darwin */
        s->d->ethertype = 0x86dd;
        nmx__dec_ipv6(s, 4);
        return;
    default:
        payload(s, 4);
        return;
    }
}

/* A raw IP packet: the version nibble decides. */
static void raw_ip(dec *s) {
    if (!have(s, 0, 1))
        return;
    s->d->ethertype = s->b[0] >> 4 == 4 ? 0x0800 : s->b[0] >> 4 == 6 ? 0x86dd : 0;
    if (!nmx__dec_ip_any(s, 0))
        malformed(s);
}

unsigned nmx_decode(const uint8_t *bytes, uint32_t caplen, int dlt, nmx_decoded *out) {
    if (!out)
        return 0;
    memset(out, 0, offsetof(nmx_decoded, layers));
    if (!bytes)
        caplen = 0;
    out->dlt = dlt;
    out->caplen = caplen;
    dec s = {bytes, caplen, UINT32_MAX, out};
    switch (dlt) {
    case DLT_EN10MB:
        nmx__dec_ethernet(&s, 0);
        break;
    case DLT_LINUX_SLL:
        sll(&s, NMX_PROTO_SLL, 16, 14, 2);
        break;
    case DLT_LINUX_SLL2:
        sll(&s, NMX_PROTO_SLL2, 20, 0, 8);
        break;
    case DLT_NULL:
        bsd_null(&s, 0);
        break;
    case DLT_LOOP:
        bsd_null(&s, 1);
        break;
    case DLT_RAW:
    case LT_RAW_101:
        raw_ip(&s);
        break;
    case DLT_IPV4:
        s.d->ethertype = 0x0800;
        nmx__dec_ipv4(&s, 0);
        break;
    case DLT_IPV6:
        s.d->ethertype = 0x86dd;
        nmx__dec_ipv6(&s, 0);
        break;
    default:
        (void)nmx__dec_link(&s, dlt);
        break;
    }
    return out->nlayers;
}
