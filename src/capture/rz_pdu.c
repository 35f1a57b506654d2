/* Message framing of the length-prefixed TCP protocols (rz_pdu.h): TLS
 * records, NetBIOS session messages, TPKT, DNS and Kerberos over TCP,
 * BGP, LDAP (BER, or SASL-wrapped after a signing bind). */
#include "capture/rz_pdu.h"

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }

/* ---- TLS: 5-byte records; SSLv2's 2-byte record header (high bit set) ---- */

static int sslv2(const nmx__rz_msg *m) { return (m->h[0] & 0x80) != 0; }

static uint64_t tls_length(const nmx__rz_msg *m) {
    const uint8_t *h = m->h;
    if (sslv2(m)) /* a 2-byte SSLv2 record header */
        return (uint64_t)(be16(h) & 0x7fff) + 2;
    if (h[0] < 20 || h[0] > 24 || h[1] != 3 || h[2] > 4)
        return 0;
    return 5 + (uint64_t)be16(h + 3);
}

/* ---- NetBIOS session service (RFC 1002 4.3); port 445: 24-bit length ---- */

static int nbss_type(uint8_t t) { return t == 0x00 || (t >= 0x81 && t <= 0x85); }

static uint64_t nbss_length(const nmx__rz_msg *m) {
    const uint8_t *h = m->h;
    if (!nbss_type(h[0]))
        return 0;
    if (m->cifs)
        return 4 + ((uint64_t)h[1] << 16 | be16(h + 2));
    if (h[1] & 0xfe)
        return 0;
    return 4 + ((uint64_t)(h[1] & 1) << 16 | be16(h + 2));
}

/* ---- TPKT (RFC 1006) with X.224 inside ---- */

static uint64_t tpkt_length(const nmx__rz_msg *m) {
    if (m->h[0] != 3 || be16(m->h + 2) < 4) /* (Wireshark does not check the reserved byte) */
        return 0;
    return be16(m->h + 2);
}

/* ---- LDAP: a BER SEQUENCE, or a SASL buffer (4-byte length) ---- */

static uint32_t ber_need(const nmx__rz_msg *m) {
    if (m->h[0] != 0x30)
        return 4;
    if (m->have < 2 || m->h[1] < 0x80)
        return 2;
    uint32_t n = m->h[1] & 0x7f;
    return n >= 1 && n <= 4 ? 2 + n : 2;
}

static uint64_t ldap_length(const nmx__rz_msg *m) {
    const uint8_t *h = m->h;
    if (h[0] != 0x30) {
        uint64_t n = be32(h);
        return n && n < (1u << 24) ? 4 + n : 0;
    }
    if (h[1] < 0x80)
        return 2 + (uint64_t)h[1];
    uint32_t n = h[1] & 0x7f;
    if (n < 1 || n > 4)
        return 0;
    uint64_t len = 0;
    for (uint32_t i = 0; i < n; i++)
        len = len << 8 | h[2 + i];
    return 2 + n + len;
}

/* ---- the others: a fixed header with the length in it ---- */

static uint64_t bgp_length(const nmx__rz_msg *m) {
    for (int i = 0; i < 16; i++)
        if (m->h[i] != 0xff)
            return 0;
    uint32_t len = be16(m->h + 16);
    return len >= 19 ? len : 0;
}

/* ---- WebSocket (RFC 6455 5.2): 2 bytes, an extended length, a mask ---- */

static uint32_t ws_need(const nmx__rz_msg *m) {
    if (m->have < 2)
        return 2;
    uint32_t len7 = m->h[1] & 0x7fu, mask = (m->h[1] & 0x80) ? 4u : 0u;
    return 2u + (len7 == 126 ? 2u : len7 == 127 ? 8u : 0u) + mask;
}

static uint64_t ws_length(const nmx__rz_msg *m) {
    uint64_t len = m->h[1] & 0x7f;
    uint32_t ext = len == 126 ? 2u : len == 127 ? 8u : 0u;
    if (ext) {
        len = 0;
        for (uint32_t i = 0; i < ext; i++)
            len = len << 8 | m->h[2 + i];
    }
    return ws_need(m) + len;
}

uint32_t nmx__rz_need(const nmx__rz_msg *m) {
    switch (m->proto) {
    case NMX_PROTO_TLS:
        return sslv2(m) ? 3 : 5;
    case NMX_PROTO_NBSS: /* SMB's magic too, to tell SMB from SMB2 */
        return m->have >= 4 && m->h[0] == 0 && nbss_length(m) >= 8 ? 8 : 4;
    case NMX_PROTO_TPKT: /* and the X.224 header's first bytes */
        return m->have >= 4 && tpkt_length(m) >= 6 ? 6 : 4;
    case NMX_PROTO_DNS:
        return 2;
    case NMX_PROTO_KERBEROS:
        return 4;
    case NMX_PROTO_BGP:
        return 19;
    case NMX_PROTO_LDAP:
        return ber_need(m);
    case NMX__RZ_WEBSOCKET:
        return ws_need(m);
    default:
        return 1;
    }
}

uint64_t nmx__rz_length(const nmx__rz_msg *m) {
    switch (m->proto) {
    case NMX_PROTO_TLS:
        return tls_length(m);
    case NMX_PROTO_NBSS:
        return nbss_length(m);
    case NMX_PROTO_TPKT:
        return tpkt_length(m);
    case NMX_PROTO_DNS:
        return 2 + (uint64_t)be16(m->h);
    case NMX_PROTO_KERBEROS:
        return 4 + (uint64_t)(be32(m->h) & 0x7fffffffu);
    case NMX_PROTO_BGP:
        return bgp_length(m);
    case NMX_PROTO_LDAP:
        return ldap_length(m);
    case NMX__RZ_WEBSOCKET:
        return ws_length(m);
    default:
        return 0;
    }
}

/* X.224 connection request (0xe0) and confirm (0xd0) carry RDP's
 * negotiation (and the request its cookie) after their 7-byte fixed part. */
static int rdp_in_cotp(const nmx__rz_msg *m) {
    if (m->have < 6)
        return 0;
    uint8_t li = m->h[4], code = m->h[5] & 0xf0;
    return (code == 0xe0 || code == 0xd0) && li > 6;
}

unsigned nmx__rz_layers(const nmx__rz_msg *m, uint16_t *proto, uint8_t *rel) {
    unsigned n = 0;
    proto[n] = nmx__rz_listed(m->proto), rel[n++] = 0;
    if (m->proto == NMX_PROTO_NBSS && m->have >= 8 && m->h[0] == 0 && m->h[5] == 'S' && m->h[6] == 'M' &&
        m->h[7] == 'B') {
        if (m->h[4] == 0xff)
            proto[n] = NMX_PROTO_SMB, rel[n++] = 4;
        else if (m->h[4] >= 0xfc && m->h[4] <= 0xfe)
            proto[n] = NMX_PROTO_SMB2, rel[n++] = 4;
    }
    if (m->proto == NMX_PROTO_TPKT && m->have >= 6 && tpkt_length(m) > 4) {
        proto[n] = NMX_PROTO_COTP, rel[n++] = 4;
        if (rdp_in_cotp(m))
            proto[n] = NMX_PROTO_RDP, rel[n++] = 11;
    }
    return n;
}

int nmx__rz_framed(uint16_t proto) {
    switch (proto) {
    case NMX_PROTO_TLS:
    case NMX_PROTO_NBSS:
    case NMX_PROTO_TPKT:
    case NMX_PROTO_DNS:
    case NMX_PROTO_KERBEROS:
    case NMX_PROTO_BGP:
    case NMX_PROTO_LDAP:
    case NMX__RZ_WEBSOCKET:
        return 1;
    default:
        return 0;
    }
}
