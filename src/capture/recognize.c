/* Recognition: what the host lists in a frame's RECOGNIZEDATATABLE (C5;
 * issue 11 items 1 and 2).
 *
 * The reader of a capture feeds every frame through one recognizer, in
 * capture order, once (C7): nmx_decode's layers (link, network, transport,
 * tunnels, and the UDP protocols a single datagram shows), then what needs
 * the conversation's history: the TCP protocols and the frames their
 * messages end in (rz_tcp.c), QUIC, RTP and RTCP (rz_udp.c). Runs never
 * recognise anything themselves; they read the tables the reader stored.
 * State that spans frames lives here, so recognition is done by one thread
 * at a time and never repeated.
 */
#include "capture/rz_internal.h"

#include <stdlib.h>

nmx__recognizer *nmx__recognizer_new(void) { return calloc(1, sizeof(nmx__recognizer)); }

void nmx__recognizer_free(nmx__recognizer *rz) {
    if (!rz)
        return;
    nmx__rz_table_free(&rz->flows);
    free(rz->expect);
    free(rz);
}

unsigned nmx__recognize(nmx__recognizer *rz, const uint8_t *bytes, uint32_t caplen, int dlt, int64_t ts_ns,
                        nmx_decoded *out) {
    (void)ts_ns;
    nmx_decode(bytes, caplen, dlt, out);
    /* the innermost transport header, when it is the frame's last layer
     * (or only its payload follows) */
    if (!(out->flags & NMX_DEC_L4) || out->ip_fragment)
        return out->nlayers;
    unsigned last = out->nlayers - 1;
    if (out->layers[last].proto == NMX_PROTO_PAYLOAD && last > 0)
        last--;
    uint16_t l4 = out->layers[last].proto;
    if (l4 == NMX_PROTO_TCP && (out->flags & NMX_DEC_TCP))
        nmx__rz_tcp(rz, bytes, out);
    else if (l4 == NMX_PROTO_UDP || l4 == NMX_PROTO_SIP || l4 == NMX_PROTO_SDP)
        nmx__rz_udp(rz, bytes, out);
    return out->nlayers;
}
