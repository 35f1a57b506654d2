/* Which protocol Wireshark 4.0 registers on a port (docs/RECOGNITION.md):
 * for UDP the tunnels and the protocols a datagram shows (decode_udp.c),
 * for TCP the conversations rz_tcp.c follows. 0: none of ours. Tables
 * indexed by port: a lookup is one load, on every UDP datagram and every
 * new TCP conversation. */
#ifndef NMX_CAPTURE_PORTS_H
#define NMX_CAPTURE_PORTS_H

#include <stdint.h>

extern const uint8_t nmx__udp_ports[65536]; /* NMX_PROTO_* (every id fits a byte) */
extern const uint8_t nmx__tcp_ports[65536];

#endif
