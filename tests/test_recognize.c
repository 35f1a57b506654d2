/* The recognizer on crafted conversations (SPEC C5, C6; issue 11 item 1):
 * which frames of a TCP conversation carry its protocol (where messages
 * end), the conversations others announce (FTP data, RTP), QUIC, STARTTLS,
 * and the tables the capture reader stores.
 */
#define _DEFAULT_SOURCE /* mkstemp */
#include "capture/capture_internal.h"
#include "check.h"
#include "test_capture_util.h"
#include "test_decode_util.h"

#include <nmexpert/capture.h>
#include <nmexpert/netmon.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SYN 0x02
#define FIN 0x01
#define RST 0x04
#define ACK 0x10
#define PSH 0x08

/* A TCP conversation between A:cport (client) and B:sport (server). */
typedef struct conv {
    nmx__recognizer *rz;
    unsigned cport, sport;
    uint32_t seq[2]; /* next sequence number: [0] client, [1] server */
    char tail[256];  /* the layers after TCP of the last segment */
} conv;

/* Recognise one frame; `tail` gets the layers after the (innermost) TCP
 * or UDP header, "" for none. */
static const char *recognise(nmx__recognizer *rz, const pkt *p, char *tail, size_t len) {
    nmx_decoded d;
    nmx__recognize(rz, pkt_bytes(p), (uint32_t)pkt_len(p), DLT_ETH, 0, &d);
    char all[1024];
    layers_text(&d, all, sizeof all);
    const char *t = strstr(all, " tcp@");
    t = t ? t : strstr(all, " udp@");
    t = t ? strchr(t + 1, ' ') : NULL;
    snprintf(tail, len, "%s", t ? t + 1 : "");
    return tail;
}

/* A segment from the client (from_server 0) or the server at sequence
 * number `seq`. */
static const char *seg_at(conv *c, int from_server, uint32_t seq, const void *data, size_t n, uint8_t flags) {
    pkt p;
    pkt_init(&p);
    pre_bytes(&p, data, n);
    if (from_server) {
        pre_tcp(&p, c->sport, c->cport, seq, flags);
        pre_ipv4(&p, 6, T_B, T_A);
    } else {
        pre_tcp(&p, c->cport, c->sport, seq, flags);
        pre_ipv4(&p, 6, T_A, T_B);
    }
    pre_eth(&p, 0x0800, 1);
    return recognise(c->rz, &p, c->tail, sizeof c->tail);
}

/* The next segment in order. */
static const char *seg(conv *c, int from_server, const void *data, size_t n) {
    uint32_t s = c->seq[from_server];
    c->seq[from_server] += (uint32_t)n;
    return seg_at(c, from_server, s, data, n, ACK | PSH);
}

static const char *text(conv *c, int from_server, const char *s) { return seg(c, from_server, s, strlen(s)); }

static void conv_open(conv *c, nmx__recognizer *rz, unsigned cport, unsigned sport, int handshake) {
    memset(c, 0, sizeof *c);
    c->rz = rz, c->cport = cport, c->sport = sport, c->seq[0] = 1000, c->seq[1] = 50000;
    if (!handshake)
        return;
    seg_at(c, 0, c->seq[0]++, NULL, 0, SYN);
    seg_at(c, 1, c->seq[1]++, NULL, 0, SYN | ACK);
}

#define TAIL(expr, want)                                                                                     \
    do {                                                                                                     \
        const char *got_ = (expr);                                                                           \
        if (strcmp(got_, (want)) != 0)                                                                       \
            fprintf(stderr, "%s:%d: got \"%s\", want \"%s\"\n", __FILE__, __LINE__, got_, (want));           \
        CHECK(strcmp(got_, (want)) == 0);                                                                    \
    } while (0)

/* A TLS record header for `len` bytes of content type `type`. */
static size_t tls_record(uint8_t *b, uint8_t type, size_t len) {
    b[0] = type, b[1] = 3, b[2] = 3, wr16(b + 3, (unsigned)len);
    memset(b + 5, 0x5a, len);
    return 5 + len;
}

/* C5, issue 11 item 1: a TLS record is listed where it starts and where it
 * ends, not in between; two records in a segment list the first */
TEST(test_c5_tls_records_are_listed_where_they_start_and_end) {
    nmx__recognizer *rz = nmx__recognizer_new();
    conv c;
    conv_open(&c, rz, 40000, 443, 1);
    uint8_t rec[3000];
    size_t n = tls_record(rec, 22, 2995);
    TAIL(seg(&c, 0, rec, 1000), "tls@54");
    TAIL(seg(&c, 0, rec + 1000, 1000), "payload@54");
    TAIL(seg(&c, 0, rec + 2000, n - 2000), "tls@54"); /* it started earlier: the payload's start */
    uint8_t two[200];
    size_t a = tls_record(two, 20, 1), b = tls_record(two + a, 22, 40);
    TAIL(seg(&c, 1, two, a + b), "tls@54");
    /* the header itself split 3 + 2 */
    TAIL(seg(&c, 1, two, 3), "tls@54");
    TAIL(seg(&c, 1, two + 3, a - 3), "tls@54");
    /* TLS on another port: Wireshark's heuristic, then the conversation stays TLS */
    conv_open(&c, rz, 40001, 8443, 0);
    TAIL(seg(&c, 0, two, a), "tls@54");
    TAIL(seg(&c, 0, "\x17\x03\x03\x00\x02zz", 7), "tls@54");
    /* not a record on a conversation without one yet: declined; after one: a continuation */
    conv_open(&c, rz, 40002, 443, 1);
    TAIL(text(&c, 1, "hello"), "payload@54");
    TAIL(seg(&c, 0, two, a), "tls@54");
    TAIL(text(&c, 0, "hello"), "tls@54");
    nmx__recognizer_free(rz);
}

/* C5: NBSS messages and the SMB2 inside, where a message ends; the layers of
 * a message begun in an earlier segment start at the payload */
TEST(test_c5_nbss_and_smb2_are_listed_where_the_message_ends) {
    nmx__recognizer *rz = nmx__recognizer_new();
    conv c;
    conv_open(&c, rz, 40000, 445, 1);
    uint8_t m[2004] = {0};
    wr32(m, 2000); /* a session message, 24-bit length on port 445 */
    memcpy(m + 4, "\xfeSMB", 4);
    TAIL(seg(&c, 0, m, 100), "payload@54");
    TAIL(seg(&c, 0, m + 100, 1904), "nbss@54 smb2@54");
    TAIL(seg(&c, 1, m, 2004), "nbss@54 smb2@58");
    memcpy(m + 4, "\xffSMB", 4);
    TAIL(seg(&c, 1, m, 2004), "nbss@54 smb@58");
    static const uint8_t keepalive[4] = {0x85, 0, 0, 0};
    TAIL(seg(&c, 1, keepalive, 4), "nbss@54");
    nmx__recognizer_free(rz);
}

/* C5: HTTP messages end after their headers, their Content-Length body,
 * their last chunk; a response without a length runs to the close */
TEST(test_c5_http_messages_end_where_their_length_says) {
    nmx__recognizer *rz = nmx__recognizer_new();
    conv c;
    conv_open(&c, rz, 40000, 80, 1);
    TAIL(text(&c, 0, "GET / HTTP/1.1\r\nHost: a\r\n"), "payload@54"); /* headers not complete */
    TAIL(text(&c, 0, "\r\n"), "http@54");
    TAIL(text(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"), "payload@54");
    TAIL(text(&c, 1, "67890"), "http@54");
    TAIL(text(&c, 0, "HEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n"), "http@54"); /* pipelined: the first */
    TAIL(text(&c, 1, "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"), "http@54"); /* to HEAD: no body */
    TAIL(text(&c, 1, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"), "payload@54");
    TAIL(text(&c, 1, "0\r\n\r\n"), "http@54");
    TAIL(text(&c, 0, "POST /f HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcHTTP"), "http@54");
    TAIL(text(&c, 1, "HTTP/1.0 200 OK\r\n\r\nbody"), "payload@54"); /* to the close */
    TAIL(text(&c, 1, "more body"), "payload@54");
    TAIL(seg_at(&c, 1, c.seq[1], NULL, 0, FIN | ACK), ""); /* ends on the FIN, which has no byte to list */
    /* after an upgrade every segment is HTTP; WebSocket frames end by their length */
    conv_open(&c, rz, 40001, 80, 1);
    text(&c, 0, "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
    TAIL(text(&c, 1, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"), "http@54");
    TAIL(seg(&c, 1, "\x81\x05hel", 5), "payload@54");
    TAIL(seg(&c, 1, "lo", 2), "http@54");
    conv_open(&c, rz, 40002, 80, 1);
    text(&c, 0, "GET / HTTP/1.1\r\nUpgrade: tcp\r\n\r\n");
    text(&c, 1, "HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n");
    TAIL(text(&c, 1, "raw"), "http@54");
    TAIL(text(&c, 0, "raw"), "http@54");
    /* HTTP on another port by its start line (Wireshark's heuristic) */
    conv_open(&c, rz, 40003, 8000, 1);
    TAIL(text(&c, 0, "GET / HTTP/1.1\r\n\r\n"), "http@54");
    nmx__recognizer_free(rz);
}

/* C5: retransmissions, segments out of order and bare ACKs carry nothing;
 * a message whose bytes were lost never ends, the next one is found */
TEST(test_c5_retransmissions_and_lost_bytes_carry_no_message) {
    nmx__recognizer *rz = nmx__recognizer_new();
    conv c;
    conv_open(&c, rz, 40000, 443, 1);
    uint8_t rec[100];
    size_t a = tls_record(rec, 22, 20);
    uint32_t s = c.seq[0];
    TAIL(seg(&c, 0, rec, a), "tls@54");
    TAIL(seg_at(&c, 0, s, rec, a, ACK | PSH), "payload@54"); /* sent again */
    TAIL(seg_at(&c, 0, c.seq[0], NULL, 0, ACK), "");
    /* a record of 60 bytes sent as 20 + (20 lost) + 20, then a whole one */
    uint8_t big[200];
    size_t b = tls_record(big, 23, 55);
    memcpy(big + b, rec, a);
    s = c.seq[0];
    TAIL(seg_at(&c, 0, s, big, 20, ACK), "tls@54");
    TAIL(seg_at(&c, 0, s + 40, big + 40, b - 40 + a, ACK), "tls@74"); /* the first never ends */
    TAIL(seg_at(&c, 0, s + 20, big + 20, 20, ACK), "payload@54");     /* the lost bytes, late */
    /* a SYN sent again with data does not restart the conversation */
    conv_open(&c, rz, 40001, 179, 0);
    uint8_t bgp[19];
    memset(bgp, 0xff, 16), wr16(bgp + 16, 19), bgp[18] = 4;
    TAIL(seg_at(&c, 0, 7, bgp, 19, SYN), "bgp@54");
    TAIL(seg_at(&c, 0, 7, bgp, 19, SYN), "payload@54");
    /* data on a reset is not the protocol's */
    TAIL(seg_at(&c, 0, 27, bgp, 19, RST | ACK), "payload@54");
    nmx__recognizer_free(rz);
}

/* C5: segment-by-segment protocols list every segment; FTP's PASV reply
 * announces the data connection; port 20 is FTP data */
TEST(test_c5_ftp_control_announces_its_data_connection) {
    nmx__recognizer *rz = nmx__recognizer_new();
    conv c, data;
    conv_open(&c, rz, 40000, 21, 1);
    TAIL(text(&c, 1, "220 hello\r\n"), "ftp@54");
    TAIL(text(&c, 0, "PASV\r\n"), "ftp@54");
    TAIL(text(&c, 1, "227 Entering Passive Mode (10,0,0,2,195,80).\r\n"), "ftp@54");
    conv_open(&data, rz, 40100, 50000, 1); /* 195 * 256 + 80 */
    TAIL(text(&data, 1, "file contents"), "ftp-data@54");
    TAIL(text(&c, 0, "EPSV\r\n"), "ftp@54");
    TAIL(text(&c, 1, "229 Entering Extended Passive Mode (|||50001|)\r\n"), "ftp@54");
    conv_open(&data, rz, 40101, 50001, 1);
    TAIL(text(&data, 0, "upload"), "ftp-data@54");
    conv_open(&data, rz, 40102, 50002, 1); /* announced by nobody */
    TAIL(text(&data, 0, "upload"), "payload@54");
    conv_open(&data, rz, 20, 40103, 1);
    TAIL(text(&data, 0, "active mode"), "ftp-data@54");
    nmx__recognizer_free(rz);
}

/* C5: after STARTTLS and the server's yes, the conversation is TLS */
TEST(test_c5_starttls_turns_the_conversation_into_tls) {
    nmx__recognizer *rz = nmx__recognizer_new();
    conv c;
    conv_open(&c, rz, 40000, 25, 1);
    TAIL(text(&c, 1, "220 mail ESMTP\r\n"), "smtp@54");
    TAIL(text(&c, 0, "STARTTLS\r\n"), "smtp@54");
    TAIL(text(&c, 1, "220 go ahead\r\n"), "smtp@54");
    uint8_t rec[64];
    TAIL(seg(&c, 0, rec, tls_record(rec, 22, 30)), "tls@54");
    conv_open(&c, rz, 40001, 25, 1);
    text(&c, 0, "STARTTLS\r\n");
    text(&c, 1, "454 not now\r\n");
    TAIL(text(&c, 0, "QUIT\r\n"), "smtp@54");
    nmx__recognizer_free(rz);
}

/* C5: with the handshake seen, the server's port decides first (Wireshark
 * does so); without it the lower port */
TEST(test_c5_the_server_port_decides_before_the_lower_one) {
    nmx__recognizer *rz = nmx__recognizer_new();
    conv c;
    uint8_t bgp[19];
    memset(bgp, 0xff, 16), wr16(bgp + 16, 19), bgp[18] = 4;
    conv_open(&c, rz, 21, 179, 1);
    TAIL(seg(&c, 0, bgp, 19), "bgp@54");
    conv_open(&c, rz, 21, 179, 0);
    c.cport = 22; /* another conversation, no handshake */
    TAIL(seg(&c, 0, bgp, 19), "ssh@54");
    /* SOCKS's port: Wireshark's SOCKS takes it, its TLS heuristic never runs */
    conv_open(&c, rz, 40000, 1080, 1);
    uint8_t rec[64];
    TAIL(seg(&c, 0, rec, tls_record(rec, 22, 30)), "payload@54");
    nmx__recognizer_free(rz);
}

static const char *udp_to(nmx__recognizer *rz, const uint8_t *src, unsigned sport, const uint8_t *dst,
                          unsigned dport, const void *data, size_t n, char *tail, size_t len) {
    pkt p;
    pkt_init(&p);
    pre_bytes(&p, data, n);
    pre_udp(&p, sport, dport);
    pre_ipv4(&p, 17, src, dst);
    pre_eth(&p, 0x0800, 1);
    return recognise(rz, &p, tail, len);
}

/* C5: SDP in SIP announces RTP and RTCP; QUIC on 443 and by long header */
TEST(test_c5_sdp_announces_rtp_and_quic_conversations_are_followed) {
    nmx__recognizer *rz = nmx__recognizer_new();
    char t[256];
    const char *invite = "INVITE sip:b@x SIP/2.0\r\nContent-Type: application/sdp\r\n\r\n"
                         "v=0\r\nc=IN IP4 192.168.7.2\r\nm=audio 30000 RTP/AVP 0\r\n";
    TAIL(udp_to(rz, T_A, 5060, T_B, 5060, invite, strlen(invite), t, sizeof t), "sip@42 sdp@99");
    uint8_t rtp[20] = {0x80, 0x08, 0x12, 0x34, 0, 0, 0x10};
    TAIL(udp_to(rz, T_C, 40000, T_D, 30000, rtp, sizeof rtp, t, sizeof t), "rtp@42");
    TAIL(udp_to(rz, T_D, 30001, T_C, 40001, rtp, sizeof rtp, t, sizeof t), "rtcp@42");
    TAIL(udp_to(rz, T_D, 30002, T_C, 40001, rtp, sizeof rtp, t, sizeof t), "payload@42");
    uint8_t q[40] = {0xc3, 0, 0, 0, 1}; /* a v1 long header */
    TAIL(udp_to(rz, T_A, 50000, T_B, 443, q, 8, t, sizeof t), "quic@42");
    TAIL(udp_to(rz, T_A, 50000, T_B, 4433, q, sizeof q, t, sizeof t), "quic@42");
    q[0] = 0x41; /* a short header of the same conversation */
    TAIL(udp_to(rz, T_B, 4433, T_A, 50000, q, sizeof q, t, sizeof t), "quic@42");
    TAIL(udp_to(rz, T_B, 4434, T_A, 50000, q, sizeof q, t, sizeof t), "payload@42");
    nmx__recognizer_free(rz);
}

/* C5, E1: the reader stores what the recognizer found in each frame's
 * RECOGNIZEDATATABLE, with the flow state across frames, and ExpertGetFrame
 * (its engine) hands experts exactly that table */
TEST(test_c5_e1_capture_tables_hold_the_recognised_protocols) {
    /* three frames of one conversation: a TLS record split in two, and a
     * bare ACK */
    uint8_t rec[600];
    size_t n = tls_record(rec, 22, 595);
    pkt frames[3];
    uint32_t seq[3] = {1, 301, 601};
    size_t len[3] = {300, n - 300, 0};
    tframe tf[3];
    for (int i = 0; i < 3; i++) {
        pkt_init(&frames[i]);
        pre_bytes(&frames[i], rec + (i == 1 ? 300 : 0), len[i]);
        pre_tcp(&frames[i], 40000, 443, seq[i], ACK);
        pre_ipv4(&frames[i], 6, T_A, T_B);
        pre_eth(&frames[i], 0x0800, 1);
        tf[i] = (tframe){pkt_bytes(&frames[i]), (uint32_t)pkt_len(&frames[i]), (uint32_t)pkt_len(&frames[i]),
                         (int64_t)i * 1000, 0};
    }
    char path[] = "/tmp/nmx_test_recognize_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(write_pcap(path, 1, 0, 0, tf, 3));
    nmx_capture *cap = NULL;
    CHECK_EQ(nmx_capture_open(path, &cap, NULL, 0), NMERR_SUCCESS);
    static const WORD want[3][5] = {{NMX_PROTO_ETHERNET, NMX_PROTO_IPV4, NMX_PROTO_TCP, NMX_PROTO_TLS, 0},
                                    {NMX_PROTO_ETHERNET, NMX_PROTO_IPV4, NMX_PROTO_TCP, NMX_PROTO_TLS, 0},
                                    {NMX_PROTO_ETHERNET, NMX_PROTO_IPV4, NMX_PROTO_TCP, 0, 0}};
    for (DWORD k = 0; cap && k < 3; k++) {
        nmx_frame fr;
        CHECK_EQ(nmx_capture_frame(cap, k, &fr), NMERR_SUCCESS);
        const RECOGNIZEDATATABLE *t = fr.recognized;
        unsigned i = 0;
        for (; i < 5 && want[k][i]; i++) {
            CHECK(i < t->nRecognizeDatas && t->RecognizeData[i].ProtocolID == want[k][i]);
            if (i < t->nRecognizeDatas && want[k][i] == NMX_PROTO_TLS)
                CHECK_EQ(t->RecognizeData[i].nProtocolOffset, 54);
        }
        CHECK_EQ(t->nRecognizeDatas, i);
        EXPERTFRAMEDESCRIPTOR desc;
        CHECK_EQ(nmx__capture_get_frame(cap, NULL, NULL, GET_SPECIFIED_FRAME, 0, k, &desc), NMERR_SUCCESS);
        CHECK(desc.lpRecognizeDataTable == t);
    }
    nmx_capture_close(cap);
    unlink(path);
}

/* C6: random frames, and random payloads on the recognised ports, leave
 * the recognizer sound (ASan and UBSan watch; the fuzz target goes on) */
TEST(test_c6_garbage_conversations_are_read_safely) {
    nmx__recognizer *rz = nmx__recognizer_new();
    static const unsigned ports[] = {21, 22, 25, 53, 80, 88, 110, 139, 143, 179, 389, 443, 445, 3389, 5060, 8080};
    uint32_t x = 1;
    for (int r = 0; r < 4000; r++) {
        conv c;
        x = x * 1103515245u + 12345u;
        conv_open(&c, rz, 40000 + (x >> 8) % 50, ports[(x >> 16) % 16], (x >> 4) & 1);
        uint8_t junk[700];
        for (size_t i = 0; i < sizeof junk; i++) {
            x = x * 1103515245u + 12345u;
            junk[i] = (uint8_t)(x >> 16);
        }
        if (r % 3 == 0) /* valid-looking starts */
            memcpy(junk, r % 2 ? "HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n" : "\x16\x03\x03\xff\xff", 5);
        size_t n = (x >> 3) % sizeof junk;
        seg_at(&c, (int)(x & 1), x, junk, n, (uint8_t)(x >> 24));
    }
    nmx__recognizer_free(rz);
    nmx__recognizer_free(NULL);
}

int main(int argc, char **argv) {
    CHECK_INIT(argc, argv);
    RUN(test_c5_tls_records_are_listed_where_they_start_and_end);
    RUN(test_c5_nbss_and_smb2_are_listed_where_the_message_ends);
    RUN(test_c5_http_messages_end_where_their_length_says);
    RUN(test_c5_retransmissions_and_lost_bytes_carry_no_message);
    RUN(test_c5_ftp_control_announces_its_data_connection);
    RUN(test_c5_starttls_turns_the_conversation_into_tls);
    RUN(test_c5_the_server_port_decides_before_the_lower_one);
    RUN(test_c5_sdp_announces_rtp_and_quic_conversations_are_followed);
    RUN(test_c5_e1_capture_tables_hold_the_recognised_protocols);
    RUN(test_c6_garbage_conversations_are_read_safely);
    return CHECK_DONE();
}
