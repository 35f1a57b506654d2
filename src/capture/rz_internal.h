/* Internals of the recognizer (recognize.c) shared with its parts:
 * rz_tcp.c (TCP conversations: which protocol, where its messages end),
 * rz_pdu.c (the message framing of each TCP protocol), rz_udp.c (UDP
 * conversations: QUIC, RTP and RTCP announced by SDP) and rz_expect.c
 * (conversations announced by others: FTP data, RTP).
 *
 * The reference for what a frame carries is Wireshark 4.0's
 * frame.protocols with its default preferences (docs/RECOGNITION.md): a
 * protocol is listed on the frames where Wireshark's dissector for it ran,
 * which for TCP protocols that Wireshark reassembles means the segments in
 * which one of their messages ends.
 */
#ifndef NMX_RZ_INTERNAL_H
#define NMX_RZ_INTERNAL_H

#include "capture/capture_internal.h"
#include "capture/rz_flow.h"

#include <stdint.h>

/* Conversations announced by another one (FTP's PASV/EPSV replies, SDP's
 * media lines): an address and port, the protocol to give the
 * conversation that uses them. */
typedef struct nmx__rz_expect {
    uint8_t addr[16];
    uint16_t port;
    uint8_t ip_version, ip_proto;
    uint16_t proto;
} nmx__rz_expect;

/* Announcements live in a table of this many slots, one per (address,
 * port) hash: a newer one in the same slot replaces the older. */
#define NMX_RZ_EXPECT_SLOTS 1024

struct nmx__recognizer {
    nmx__rz_table flows;
    nmx__rz_expect *expect; /* NMX_RZ_EXPECT_SLOTS, made at the first announcement; proto 0: empty */
    uint32_t nexpect;       /* announcements made */
    uint32_t unported;      /* conversations known by neither of their ports */
    int oom;                /* memory was refused once: no new conversations */
};

/* rz_tcp.c: the layer list: replace a trailing PAYLOAD by `proto` at
 * `off` (or add it after the transport). Nothing when off is not captured
 * or the table is full. */
void nmx__rz_list(nmx_decoded *d, uint16_t proto, uint32_t off);

/* rz_tcp.c: a TCP segment of a decoded frame (NMX_DEC_TCP set). */
void nmx__rz_tcp(nmx__recognizer *rz, const uint8_t *bytes, nmx_decoded *d);

/* rz_udp.c: a UDP datagram of a decoded frame (NMX_DEC_L4, ip_proto 17). */
void nmx__rz_udp(nmx__recognizer *rz, const uint8_t *bytes, nmx_decoded *d);

/* rz_expect.c */
/* Announce a conversation to `addr` (ip_version 4/6) port `port`. */
void nmx__rz_expect_add(nmx__recognizer *rz, const uint8_t *addr, uint8_t ip_version, uint8_t ip_proto,
                        uint16_t port, uint16_t proto);
/* The protocol announced for a frame's conversation (either endpoint), 0
 * if none. The announcement stays (a data connection may be re-opened). */
uint16_t nmx__rz_expected(const nmx__recognizer *rz, const nmx_decoded *d);
/* FTP control messages announce data connections: the 227 and 229
 * replies to PASV and EPSV (an EPSV reply names no address: the server's
 * own, d's source). Active mode needs nothing: its data comes from port 20,
 * which is FTP data by port. `m` is one segment's payload. */
void nmx__rz_ftp_control(nmx__recognizer *rz, const char *m, uint32_t len, const nmx_decoded *d);
/* An SDP body announces RTP on each media port and RTCP on the next. */
void nmx__rz_sdp(nmx__recognizer *rz, const char *m, uint32_t len, const nmx_decoded *d);

#endif
