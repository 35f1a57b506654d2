/* UDP conversations (issue 11 item 1): the protocols a datagram alone does
 * not show. RTP and RTCP run on the ports an SDP body announced; QUIC is
 * UDP port 443, or a conversation that began with a QUIC long header
 * (Wireshark 4.0's QUIC heuristic), whose later short-header packets are
 * QUIC too. An SDP body seen in a SIP message announces its media.
 */
#include "capture/rz_internal.h"
#include "capture/text.h"

#include <string.h>

/* A QUIC long header (RFC 9000 17.2: the form and fixed bits set) of a
 * version Wireshark knows (v1, v2, the IETF drafts) with a connection id
 * of at most 20 bytes. */
static int quic_long_header(const uint8_t *p, uint32_t n) {
    if (n < 7 || (p[0] & 0xc0) != 0xc0 || p[5] > 20)
        return 0;
    uint32_t v = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
    return v == 1 || v == 0x6b3343cfu || (v >> 8) == 0xff0000u;
}

/* The SDP body of a frame that lists one (SIP over UDP). */
static void sdp_of(nmx__recognizer *rz, const uint8_t *bytes, const nmx_decoded *d) {
    for (unsigned i = 0; i < d->nlayers; i++)
        if (d->layers[i].proto == NMX_PROTO_SDP && d->layers[i].offset < d->caplen)
            nmx__rz_sdp(rz, (const char *)bytes + d->layers[i].offset, d->caplen - d->layers[i].offset, d);
}

void nmx__rz_udp(nmx__recognizer *rz, const uint8_t *bytes, nmx_decoded *d) {
    unsigned last = d->nlayers - 1;
    if (d->layers[last].proto == NMX_PROTO_SDP) {
        sdp_of(rz, bytes, d);
        return;
    }
    if (d->layers[last].proto != NMX_PROTO_PAYLOAD)
        return; /* a protocol by port, or nothing captured */
    const uint8_t *p = bytes + d->payload_offset;
    uint32_t cap = d->caplen - d->payload_offset;
    uint16_t proto = rz->nexpect ? nmx__rz_expected(rz, d) : 0;
    if (!proto && (d->sport == 443 || d->dport == 443))
        proto = NMX_PROTO_QUIC;
    if (!proto && rz->unported) {
        nmx__rz_key key;
        int dir;
        nmx__rz_key_of(d, &key, &dir);
        const nmx__rz_flow *f = nmx__rz_find(&rz->flows, &key);
        proto = f ? f->proto : 0;
    }
    if (!proto && quic_long_header(p, cap) && !rz->oom) {
        nmx__rz_key key;
        int dir;
        nmx__rz_key_of(d, &key, &dir);
        nmx__rz_flow *f = nmx__rz_get(&rz->flows, &key);
        if (f) {
            f->proto = proto = NMX_PROTO_QUIC;
            rz->unported++;
        } else {
            rz->oom = 1;
        }
    }
    if (proto)
        nmx__rz_list(d, proto, d->payload_offset);
}
