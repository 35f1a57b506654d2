/* Encapsulations (SPEC C1, C6; issue 11 item 2): GRE with ERSPAN types I,
 * II and III and Aruba's 802.11-in-GRE, the UDP-borne tunnels (VXLAN,
 * Geneve, GTP-U, GTP-C, Teredo, MPLS over UDP), MPLS label stacks, PPPoE and
 * PPP. Each lists its own layer and hands what it carries back to the
 * common decoders, so an inner frame or datagram is decoded like an outer
 * one (and its flow becomes the one nmx_decoded describes).
 *
 * Where a format leaves the inner protocol implicit, we decide as Wireshark
 * 4.0 does, since its frame.protocols is the reference (tests/
 * test_recognize_corpus.c): MPLS and GTP-U payloads by their first nibble,
 * ERSPAN type I when GRE type 0x88be comes without a sequence number.
 */
#include "capture/decode_internal.h"

typedef nmx__dec dec;

/* ---- GRE (RFC 2784, 2890; PPTP's enhanced GRE, RFC 2637) ---- */

#define GRE_C 0x8000u
#define GRE_R 0x4000u
#define GRE_K 0x2000u
#define GRE_S 0x1000u
#define GRE_A 0x0080u /* version 1: acknowledgment number present */

/* Aruba's controllers carry 802.11 frames in GRE with these types. */
static int aruba_type(uint16_t t) {
    return (t >= 0x8200 && t <= 0x8270 && (t & 0xf) == 0) || t == 0x9000;
}

/* ERSPAN type II (8-byte header) and III (12, +8 with the optional
 * platform subheader); type I has no header at all. */
static void erspan(dec *s, uint32_t off, int type) {
    if (!nmx__layer(s, NMX_PROTO_ERSPAN, off))
        return;
    if (type == 1) {
        nmx__dec_ethernet(s, off);
        return;
    }
    uint32_t hl = type == 2 ? 8 : 12;
    if (!nmx__have(s, off, hl)) {
        nmx__truncated(s);
        return;
    }
    unsigned ver = s->b[off] >> 4;
    if (ver != (type == 2 ? 1u : 2u)) {
        nmx__malformed(s);
        nmx__payload(s, off + hl);
        return;
    }
    if (type == 3) {
        uint16_t w = nmx__be16(s, off + 10);
        if (w & 1) /* O: an 8-byte platform-specific subheader follows */
            hl += 8;
        if (((w >> 10) & 0x1f) != 0) { /* frame type other than Ethernet */
            nmx__payload(s, off + hl);
            return;
        }
    }
    nmx__dec_ethernet(s, off + hl);
}

void nmx__dec_gre(dec *s, uint32_t off) {
    if (!nmx__header(s, NMX_PROTO_GRE, off, 4))
        return;
    uint16_t fl = nmx__be16(s, off), type = nmx__be16(s, off + 2);
    unsigned ver = fl & 7u;
    if (ver > 1) { /* not a GRE version we know: its bytes are opaque */
        nmx__malformed(s);
        nmx__payload(s, off + 4);
        return;
    }
    uint32_t p = off + 4;
    if (fl & (GRE_C | GRE_R))
        p += 4;
    if (fl & GRE_K)
        p += 4;
    if (fl & GRE_S)
        p += 4;
    if (ver == 1 && (fl & GRE_A))
        p += 4;
    if (fl & GRE_R) { /* source route entries, up to an empty one */
        for (;;) {
            if (!nmx__have(s, p, 4)) {
                nmx__truncated(s);
                return;
            }
            uint32_t len = s->b[p + 3];
            p += 4 + len;
            if (len == 0)
                break;
        }
    }
    if (!nmx__have(s, p, 1)) {
        if (p > s->n)
            nmx__truncated(s);
        return;
    }
    if (type == 0x88be) {
        erspan(s, p, (fl & GRE_S) ? 2 : 1);
    } else if (type == 0x22eb) {
        erspan(s, p, 3);
    } else if (type == 0x880b) {
        nmx__dec_ppp(s, p);
    } else if (type == 0x883e) { /* WCCP: a 4-byte redirect header before the IP datagram (v2) */
        if (!nmx__dec_ip_any(s, nmx__have(s, p, 1) && s->b[p] >> 4 == 4 ? p : p + 4))
            nmx__payload(s, p);
    } else if (aruba_type(type)) {
        nmx__dec_ieee80211(s, p);
    } else {
        nmx__dec_ethertype(s, type, p);
    }
}

/* ---- UDP-borne tunnels ---- */

static void vxlan(dec *s, uint32_t off) {
    if (nmx__header(s, NMX_PROTO_VXLAN, off, 8))
        nmx__dec_ethernet(s, off + 8);
}

static void geneve(dec *s, uint32_t off) {
    if (!nmx__header(s, NMX_PROTO_GENEVE, off, 8))
        return;
    if (s->b[off] >> 6 != 0) { /* version 0 is the only one */
        nmx__malformed(s);
        nmx__payload(s, off + 8);
        return;
    }
    uint32_t hl = 8 + (uint32_t)(s->b[off] & 0x3f) * 4;
    if (!nmx__have(s, off, hl)) {
        nmx__truncated(s);
        return;
    }
    nmx__dec_ethertype(s, nmx__be16(s, off + 2), off + hl);
}

/* GTP version 1, user plane: only a T-PDU (message type 255) carries a
 * datagram, after the optional fields and extension headers. */
static void gtpu(dec *s, uint32_t off) {
    if (!nmx__header(s, NMX_PROTO_GTPU, off, 8))
        return;
    uint8_t f = s->b[off];
    if (f >> 5 != 1 || !(f & 0x10)) { /* not GTPv1 (GTP' has PT 0) */
        nmx__malformed(s);
        nmx__payload(s, off + 8);
        return;
    }
    uint32_t p = off + 8;
    if (f & 0x07) { /* E, S or PN: sequence number, N-PDU number, next extension type */
        if (!nmx__have(s, p, 4)) {
            nmx__truncated(s);
            return;
        }
        uint8_t next = (f & 0x04) ? s->b[p + 3] : 0;
        p += 4;
        while (next) { /* each extension: length in 4-byte units, its last byte the next type */
            if (!nmx__have(s, p, 1)) {
                nmx__truncated(s);
                return;
            }
            uint32_t len = (uint32_t)s->b[p] * 4;
            if (len == 0) {
                nmx__malformed(s);
                return;
            }
            if (!nmx__have(s, p, len)) {
                nmx__truncated(s);
                return;
            }
            next = s->b[p + len - 1];
            p += len;
        }
    }
    if (s->b[off + 1] != 0xff || !nmx__dec_ip_any(s, p)) /* signalling (echo ...), or not IP */
        nmx__payload(s, p);
}

/* Teredo (RFC 4380): IPv6 in UDP, after an optional authentication header
 * and an optional origin indication. */
static void teredo(dec *s, uint32_t off) {
    if (!nmx__layer(s, NMX_PROTO_TEREDO, off))
        return;
    uint32_t p = off;
    if (nmx__have(s, p, 4) && nmx__be16(s, p) == 0x0001) { /* authentication */
        uint32_t len = 4 + (uint32_t)s->b[p + 2] + s->b[p + 3] + 8 + 1;
        p += len;
    }
    if (nmx__have(s, p, 2) && nmx__be16(s, p) == 0x0000) /* origin indication */
        p += 8;
    if (!nmx__have(s, p, 1)) {
        nmx__truncated(s);
        return;
    }
    nmx__dec_ipv6(s, p);
}

void nmx__dec_udp_tunnel(dec *s, uint16_t tunnel, uint32_t off) {
    switch (tunnel) {
    case NMX_PROTO_VXLAN:
        vxlan(s, off);
        return;
    case NMX_PROTO_GENEVE:
        geneve(s, off);
        return;
    case NMX_PROTO_GTPU:
        gtpu(s, off);
        return;
    case NMX_PROTO_TEREDO:
        teredo(s, off);
        return;
    case NMX_PROTO_MPLS:
        nmx__dec_mpls(s, off);
        return;
    default: /* GTP-C: listed, not decoded */
        (void)nmx__layer(s, tunnel, off);
        return;
    }
}

/* ---- MPLS, PPPoE, PPP ---- */

void nmx__dec_mpls(dec *s, uint32_t off) {
    for (;;) {
        if (!nmx__header(s, NMX_PROTO_MPLS, off, 4))
            return;
        int bottom = s->b[off + 2] & 1;
        off += 4;
        if (bottom)
            break;
    }
    /* no protocol field: the first nibble tells (RFC 4928); pseudowires and
     * OAM are not decoded */
    if (!nmx__dec_ip_any(s, off))
        nmx__payload(s, off);
}

void nmx__dec_pppoe(dec *s, uint16_t et, uint32_t off) {
    if (!nmx__header(s, NMX_PROTO_PPPOE, off, 6))
        return;
    uint32_t end = off + 6 + nmx__be16(s, off + 4); /* what follows is bounded by its length */
    if (end < s->lim)
        s->lim = end;
    if (et == 0x8863) { /* discovery: tags, no datagram */
        nmx__payload(s, off + 6);
        return;
    }
    nmx__dec_ppp(s, off + 6);
}

void nmx__dec_ppp(dec *s, uint32_t off) {
    if (!nmx__layer(s, NMX_PROTO_PPP, off))
        return;
    uint32_t p = off;
    if (nmx__have(s, p, 2) && s->b[p] == 0xff && s->b[p + 1] == 0x03) /* HDLC-like framing */
        p += 2;
    if (!nmx__have(s, p, 1)) {
        nmx__truncated(s);
        return;
    }
    uint16_t proto;
    if (s->b[p] & 1) { /* protocol field compressed to one byte (RFC 1661 6.5) */
        proto = s->b[p];
        p += 1;
    } else {
        if (!nmx__have(s, p, 2)) {
            nmx__truncated(s);
            return;
        }
        proto = nmx__be16(s, p);
        p += 2;
    }
    switch (proto) {
    case 0x0021:
        s->d->ethertype = 0x0800;
        nmx__dec_ipv4(s, p);
        return;
    case 0x0057:
        s->d->ethertype = 0x86dd;
        nmx__dec_ipv6(s, p);
        return;
    case 0x0281:
    case 0x0283:
        nmx__dec_mpls(s, p);
        return;
    default: /* LCP, IPCP, PAP ...: not decoded */
        nmx__payload(s, p);
        return;
    }
}
