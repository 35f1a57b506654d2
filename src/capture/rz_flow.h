/* The recognizer's flow table: per TCP or UDP conversation (innermost
 * addresses and ports, both directions in one entry), the state
 * recognition keeps between frames. Entries are made only for
 * conversations whose protocol is known (by port, by a payload check, or
 * announced by another conversation: FTP data, RTP), so a frame of an
 * unknown conversation costs one lookup.
 *
 * Entries live until the recognizer is freed: a capture is finite, and a
 * conversation's state is 164 bytes, and 8 more of table at worst
 * (docs/RECOGNITION.md).
 */
#ifndef NMX_RZ_FLOW_H
#define NMX_RZ_FLOW_H

#include <nmexpert/capture.h>

#include <stdint.h>

/* A conversation's key: the two endpoints in a canonical order. */
typedef struct nmx__rz_key {
    uint8_t addr[2][16];
    uint16_t port[2];
    uint8_t ip_version, ip_proto;
} nmx__rz_key;

/* Bytes of a message's start (or of a text line) kept while it arrives in
 * pieces. */
#define NMX_RZ_HDR 40

/* One direction of a TCP conversation. */
/* nmx__rz_dir.tcp */
#define NMX_RZ_SEQ 0x01   /* next_seq is known */
#define NMX_RZ_SYN 0x02   /* syn_seq is the direction's SYN */
#define NMX_RZ_VALID 0x04 /* a message of the protocol was seen this way */

typedef struct nmx__rz_dir {
    uint32_t next_seq;  /* the sequence number after the last byte seen in order */
    uint32_t syn_seq;
    uint32_t remain;    /* bytes left of the current message (or body, or chunk) */
    uint8_t tcp;        /* NMX_RZ_* */
    uint8_t state;      /* the framing's parse state (0: at a message start) */
    uint8_t hlen;       /* bytes in hdr */
    uint8_t broken;     /* bytes of the current message were lost: it never ends */
    uint16_t flags;     /* the framing's own (rz_http.c) */
    uint16_t line;      /* text protocols: length of the current line so far */
    uint8_t hdr[NMX_RZ_HDR];
} nmx__rz_dir;

typedef struct nmx__rz_flow {
    nmx__rz_key key;
    uint16_t proto;     /* NMX_PROTO_* the conversation carries; 0 not yet known */
    uint16_t flags;     /* rz_tcp.c, rz_udp.c */
    nmx__rz_dir dir[2]; /* [0]: from key endpoint 0 */
} nmx__rz_flow;

typedef struct nmx__rz_table {
    nmx__rz_flow *flows; /* in the order made */
    uint32_t nflows, flows_cap;
    uint32_t *slots;     /* open addressing: flow index + 1, 0 empty */
    uint32_t nslots;     /* a power of two */
    uint32_t last;       /* the flow found or made last, index + 1 (0: none) */
} nmx__rz_table;

/* The key of a decoded frame's innermost flow and the frame's direction
 * in it (0: from endpoint 0). */
void nmx__rz_key_of(const nmx_decoded *d, nmx__rz_key *key, int *dir);

/* The conversation with this key, or NULL (the table remembers it, so a
 * run of frames of one conversation costs one key comparison each). */
nmx__rz_flow *nmx__rz_find(nmx__rz_table *t, const nmx__rz_key *key);

/* The conversation with this key, made (zeroed, proto 0) if new; NULL when
 * memory is refused. A pointer stays valid until the next _get. */
nmx__rz_flow *nmx__rz_get(nmx__rz_table *t, const nmx__rz_key *key);

void nmx__rz_table_free(nmx__rz_table *t);

#endif
