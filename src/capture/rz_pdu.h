/* Message framing of the length-prefixed TCP protocols (rz_tcp.c): how many
 * bytes of a message's start are needed to know its length, its length,
 * and the protocols listed for it (the message and what it carries: NBSS
 * with SMB or SMB2 inside, TPKT with COTP and RDP). */
#ifndef NMX_RZ_PDU_H
#define NMX_RZ_PDU_H

#include <nmexpert/netmon.h>

#include <stdint.h>

/* Not a protocol id: the WebSocket frames of an upgraded HTTP
 * conversation, which Wireshark lists as http (with websocket inside). */
#define NMX__RZ_WEBSOCKET 0xff01

/* The protocol a conversation's messages are listed as. */
static inline uint16_t nmx__rz_listed(uint16_t proto) {
    return proto == NMX__RZ_WEBSOCKET ? NMX_PROTO_HTTP : proto;
}

/* A message start: `have` bytes of it at h (at least 1). */
typedef struct nmx__rz_msg {
    const uint8_t *h;
    uint32_t have;
    uint16_t proto;  /* the conversation's protocol (NMX_PROTO_*) */
    uint8_t cifs;    /* NBSS on port 445: a 24-bit length */
} nmx__rz_msg;

/* How many bytes of the start decide the length (and the inner
 * protocols); never more than NMX_RZ_HDR. */
uint32_t nmx__rz_need(const nmx__rz_msg *m);

/* The message's whole length (its header included), given
 * nmx__rz_need(m) bytes; 0: these bytes are not a start of this
 * protocol's message. */
uint64_t nmx__rz_length(const nmx__rz_msg *m);

/* The layers a message is listed with: up to 3 (protocol, offset from the
 * message start); returns how many. */
unsigned nmx__rz_layers(const nmx__rz_msg *m, uint16_t *proto, uint8_t *rel);

/* Is `proto` one whose messages rz_pdu.c frames? */
int nmx__rz_framed(uint16_t proto);

#endif
