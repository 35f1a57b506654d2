/* Server Response Time's shared state (resptime.c: entry points, flows,
 * samples and the report; resptime_proto.c: the protocol matchers). */
#ifndef NMX_RESPTIME_H
#define NMX_RESPTIME_H

#include <nmexpert/netmon.h>

#include "expert_util.h"
#include "xu_app.h"
#include "xu_map.h"

#define RT_INTERNAL __attribute__((visibility("hidden")))

#define NAME "Server Response Time"
#define MAX_PORTS 64

enum { P_TCP, P_DNS, P_HTTP, P_TLS, P_SMB2, NPROTO };

typedef struct cfg {
    uint16_t ports[MAX_PORTS];
    unsigned nports;   /* 0: every port */
    unsigned long top; /* 0: every server */
    int detail;        /* table 2: every exchange */
    unsigned protos;   /* bit p: protocol p timed */
    char bad[128];
} cfg;

/* One TCP connection (or UDP flow), both directions; sides are those of k. */
typedef struct flow {
    xu_flow_key k;
    /* per side, the end of the highest data seen: a segment that brings
     * nothing beyond it is a copy (a retransmission) */
    uint32_t data_end[2];
    uint8_t data_seen[2];
    /* generic TCP request/response (as before the per-protocol tables) */
    uint8_t server;      /* which side of k is the server */
    uint8_t server_known; /* from a SYN or SYN/ACK */
    uint8_t waiting;     /* a request started, no reply yet */
    uint8_t syn_seen;    /* the client's SYN, and its sequence number */
    uint32_t syn_seq;
    int64_t req_ts;
    DWORD req_frame;
    /* HTTP: the latest request, answered by the next response (Wireshark
     * 4.0's req_res_tail); per side, whether a message is in progress
     * (began in an earlier segment) and whether it began as a request or
     * status line */
    uint8_t http_client_known, http_client, http_upgraded, http_pending;
    uint8_t http_in_msg[2], http_msg_ok[2];
    int64_t http_ts;
    DWORD http_frame;
    /* TLS: a ClientHello awaiting its ServerHello; per side, the handshake
     * type of a record that began in an earlier segment (0: none) */
    uint8_t hello_pending, hello_side, tls_in_record[2];
    int64_t hello_ts;
    DWORD hello_frame;
    /* SMB2, per side: the headers of a message that began in an earlier
     * segment, where its next chained header is and how much of it was seen */
    struct smb2_part {
        uint8_t n, rsp[4], hlen, hbuf[64]; /* headers read; the one being read, hlen bytes of it */
        uint64_t mid[4];
        uint32_t next;         /* where that header starts in the message, + 1 (0: the chain ended) */
        uint32_t seen, total;  /* the message's bytes seen so far and its length (0: none) */
    } smb2[2];
} flow;

typedef struct sample {
    uint32_t server; /* index in servers */
    DWORD req_frame, rsp_frame;
    int64_t dt;      /* ns */
} sample;

typedef struct state {
    HEXPERTKEY key;
    const cfg *cf;
    xu_map flows, dns, smb2, servers;
    sample *s;
    size_t ns, caps;
} state;

/* A frame's TCP segment or UDP datagram with its flow and the side of the
 * flow key its source is. */
typedef struct seen {
    const xu_frame *f;
    xu_seg g;
    int tcp; /* g is the frame's innermost TCP segment, else its innermost UDP datagram */
    flow *fl;
    int side;
    int copy; /* TCP data already seen (retransmitted): no message begins or ends in it */
} seen;

/* Records an exchange of protocol p answered by the side `server` of the
 * flow key (its address and port name the server). */
RT_INTERNAL DWORD rt_sample(state *s, int p, const xu_flow_key *k, int server, DWORD req_frame,
                            int64_t req_ts, const xu_frame *rsp);

/* The matchers' tables in s (dns, smb2): set up empty; freed by the caller. */
RT_INTERNAL void rt_proto_init(state *s);

/* The per-protocol matchers: each looks at a frame of a flow. */
RT_INTERNAL DWORD rt_dns(state *s, const seen *x);
RT_INTERNAL DWORD rt_http(state *s, const seen *x);
RT_INTERNAL DWORD rt_tls(state *s, const seen *x);
RT_INTERNAL DWORD rt_smb2(state *s, const seen *x);

#endif
