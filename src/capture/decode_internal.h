/* Internals of the frame decoder shared by decode.c (link, network and
 * transport layers), decode_tunnel.c (encapsulations) and decode_link.c
 * (802.11, radiotap, Cisco HDLC, LLC and the layer-2 control protocols).
 *
 * Every read goes through the bounds-checked helpers below against the
 * captured length. A layer is listed as soon as one byte of it is captured
 * (as Wireshark lists a protocol it started to dissect); its fields are
 * filled only when the bytes holding them are there, and deeper layers only
 * when the header is complete and consistent. Every decoder that goes
 * deeper lists its own layer first, and the layer table is bounded, so
 * nesting (a tunnel in a tunnel ...) ends after NMX_DECODE_MAX_LAYERS.
 */
#ifndef NMX_DECODE_INTERNAL_H
#define NMX_DECODE_INTERNAL_H

#include <nmexpert/capture.h>

#include <stdint.h>

typedef struct nmx__dec {
    const uint8_t *b;
    uint32_t n;   /* captured bytes */
    uint32_t lim; /* where the innermost enclosing length (IP, UDP, PPPoE) says its content ends;
                     a datagram inside that claims more is cut there, as Wireshark does */
    nmx_decoded *d;
} nmx__dec;

static inline uint16_t nmx__be16(const nmx__dec *s, uint32_t off) {
    return (uint16_t)((unsigned)s->b[off] << 8 | s->b[off + 1]);
}

static inline uint16_t nmx__le16(const nmx__dec *s, uint32_t off) {
    return (uint16_t)((unsigned)s->b[off + 1] << 8 | s->b[off]);
}

static inline uint32_t nmx__be32(const nmx__dec *s, uint32_t off) {
    return (uint32_t)s->b[off] << 24 | (uint32_t)s->b[off + 1] << 16 | (uint32_t)s->b[off + 2] << 8 |
           s->b[off + 3];
}

/* Are `len` bytes captured from `off`? (No overflow: both are below 2^32.) */
static inline int nmx__have(const nmx__dec *s, uint32_t off, uint32_t len) {
    return (uint64_t)off + len <= s->n;
}

/* List a layer starting at off if a byte of it is captured. 0: stop decoding
 * (nothing captured there: the frame is truncated; or the layer table is
 * full). */
static inline int nmx__layer(nmx__dec *s, uint16_t proto, uint32_t off) {
    nmx_decoded *d = s->d;
    if (d->nlayers >= NMX_DECODE_MAX_LAYERS)
        return 0;
    if (off >= s->n) {
        d->flags |= NMX_DEC_TRUNCATED;
        return 0;
    }
    d->layers[d->nlayers].proto = proto;
    d->layers[d->nlayers].offset = off;
    d->nlayers++;
    return 1;
}

/* nmx__layer, and the header's first `need` bytes are captured: 1. A layer
 * whose header is cut short is listed and flagged truncated: 0. */
static inline int nmx__header(nmx__dec *s, uint16_t proto, uint32_t off, uint32_t need) {
    if (!nmx__layer(s, proto, off))
        return 0;
    if (!nmx__have(s, off, need)) {
        s->d->flags |= NMX_DEC_TRUNCATED;
        return 0;
    }
    return 1;
}

static inline void nmx__truncated(nmx__dec *s) { s->d->flags |= NMX_DEC_TRUNCATED; }
static inline void nmx__malformed(nmx__dec *s) { s->d->flags |= NMX_DEC_MALFORMED; }
/* Opaque bytes at off, if any are captured (no bytes is not a truncation:
 * a link layer's payload may be empty). */
static inline void nmx__payload(nmx__dec *s, uint32_t off) {
    if (off < s->n)
        (void)nmx__layer(s, NMX_PROTO_PAYLOAD, off);
}

/* decode.c */
/* What follows a header whose type field (an Ethertype, as Ethernet, SLL,
 * GRE, Cisco HDLC and SNAP use them) said `et`, at off. VLAN tags are
 * unwrapped here. */
void nmx__dec_ethertype(nmx__dec *s, uint16_t et, uint32_t off);
/* An Ethernet header at off (the link layer, or inside a tunnel). */
void nmx__dec_ethernet(nmx__dec *s, uint32_t off);
/* An IPv4 or IPv6 header at off, told apart by its version nibble (raw IP
 * link types, MPLS, GTP-U, WCCP). 0: neither (nothing listed). */
int nmx__dec_ip_any(nmx__dec *s, uint32_t off);
void nmx__dec_ipv4(nmx__dec *s, uint32_t off);
void nmx__dec_ipv6(nmx__dec *s, uint32_t off);

/* decode_tunnel.c */
/* GRE (IP protocol 47) at off, and what it carries. */
void nmx__dec_gre(nmx__dec *s, uint32_t off);
/* A UDP-borne tunnel (NMX_PROTO_VXLAN, _GENEVE, _GTPU, _GTPC, _TEREDO,
 * _MPLS: ports.h says which port is which) carried at off. */
void nmx__dec_udp_tunnel(nmx__dec *s, uint16_t tunnel, uint32_t off);

/* decode_udp.c */
/* A UDP payload at off (at least one byte captured): a tunnel or an
 * application protocol chosen by port, else PAYLOAD. */
void nmx__dec_udp_payload(nmx__dec *s, uint16_t sport, uint16_t dport, uint32_t off);
/* An MPLS label stack at off (Ethertypes 0x8847, 0x8848; PPP 0x0281). */
void nmx__dec_mpls(nmx__dec *s, uint32_t off);
/* PPPoE (Ethertype 0x8863 discovery, 0x8864 session) at off. */
void nmx__dec_pppoe(nmx__dec *s, uint16_t et, uint32_t off);
/* A PPP header at off (with or without the HDLC-like ff 03 before its
 * protocol field, and with a compressed one-byte protocol field). */
void nmx__dec_ppp(nmx__dec *s, uint32_t off);

/* decode_link.c */
/* 802.2 LLC at off (after an 802.3 length field, in 802.11 data frames),
 * with SNAP, and the protocols it carries (STP, CDP, IP ...). */
void nmx__dec_llc(nmx__dec *s, uint32_t off);
/* An 802.11 MAC header at off and what its data frames carry. */
void nmx__dec_ieee80211(nmx__dec *s, uint32_t off);
/* Link-layer dispatch for the link types decode_link.c owns (radiotap,
 * 802.11, Cisco HDLC, PPP). 1: handled. */
int nmx__dec_link(nmx__dec *s, int dlt);

#endif
