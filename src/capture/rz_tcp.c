/* TCP conversations (issue 11 item 1): which application protocol a
 * conversation carries, and on which segments its messages end.
 *
 * The protocol: a conversation announced by another (FTP data) first,
 * then the lower port's protocol, then the higher's, then the payload
 * checks Wireshark 4.0 runs on any port by default (HTTP and TLS), which
 * once they match hold for the rest of the conversation.
 *
 * The frames that carry it, as Wireshark's reassembly lists them:
 *   - the protocols it reads segment by segment (FTP, FTP data, SSH, the
 *     mail protocols): every segment with payload;
 *   - the length-prefixed ones (rz_pdu.c) and HTTP (rz_http.c): the
 *     segments in which a message ends; a segment in the middle of a
 *     message carries only PAYLOAD. A start that is not one of the
 *     protocol's headers is taken whole (Wireshark lists it as a
 *     continuation) and the next segment is read as a new start;
 *   - never a retransmission or a segment that arrives out of order
 *     (Wireshark does not hand them to the protocol again); a message
 *     whose bytes were lost never ends; a segment cut by the snapshot
 *     length is listed (Wireshark dissects what there is) and the next one
 *     read as a new start.
 */
#include "capture/ports.h"
#include "capture/rz_internal.h"
#include "capture/rz_pdu.h"
#include "capture/rz_tcp.h"
#include "capture/text.h"

#include <string.h>

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* ---- which protocol ---- */

static uint16_t port_proto(uint16_t port) { return nmx__tcp_ports[port]; }

/* Ports where Wireshark runs a dissector of another protocol first (which
 * takes the conversation, so its HTTP and TLS heuristics never run):
 * SOCKS, IRC. */
static int other_port(uint16_t port) {
    return port == 1080 || port == 6667;
}

/* Wireshark's TLS heuristic: a handshake, alert, change-cipher-spec or
 * application record of a version it knows. */
static int tls_start(const uint8_t *p, uint32_t n) {
    return n >= 5 && p[0] >= 20 && p[0] <= 23 && p[1] == 3 && p[2] <= 4;
}

#define FLOW_UNPORTED 0x01 /* the protocol came from a payload check or an announcement */

/* The conversation of a segment, made when its protocol is known. */
static nmx__rz_flow *flow_of(nmx__recognizer *rz, const nmx_decoded *d, const uint8_t *p, uint32_t n,
                             int *dir) {
    uint16_t lo = d->sport < d->dport ? d->sport : d->dport, hi = d->sport ^ d->dport ^ lo;
    uint16_t by_lo = port_proto(lo), by_hi = port_proto(hi);
    nmx__rz_key key;
    nmx__rz_key_of(d, &key, dir);
    /* Without a known port, only a payload check or an announcement can
     * have made the conversation: if none ever did, there is none. */
    nmx__rz_flow *f = by_lo || by_hi || rz->unported ? nmx__rz_find(&rz->flows, &key) : NULL;
    if (f || rz->oom)
        return f;
    uint16_t proto = rz->nexpect ? nmx__rz_expected(rz, d) : 0, flags = proto ? FLOW_UNPORTED : 0;
    /* Wireshark tries the server's port first when it saw the handshake:
     * the SYN's destination (the SYN-ACK's source) */
    if (!proto && (d->tcp_flags & TH_SYN))
        proto = port_proto((d->tcp_flags & TH_ACK) ? d->sport : d->dport);
    if (!proto)
        proto = by_lo ? by_lo : by_hi;
    if (!proto && n && !other_port(lo) && !other_port(hi)) {
        proto = nmx__rz_http_start(p, n) ? NMX_PROTO_HTTP : tls_start(p, n) ? NMX_PROTO_TLS : 0;
        flags = FLOW_UNPORTED;
    }
    if (!proto)
        return NULL;
    f = nmx__rz_get(&rz->flows, &key);
    if (!f) {
        rz->oom = 1;
        return NULL;
    }
    f->proto = proto;
    f->flags = flags;
    if (flags & FLOW_UNPORTED)
        rz->unported++;
    return f;
}

/* ---- where messages end ---- */

void nmx__rz_dir_restart(nmx__rz_dir *dd) {
    dd->remain = 0;
    dd->state = 0;
    dd->hlen = 0;
    dd->broken = 0;
    dd->flags = 0;
    dd->line = 0;
}

void nmx__rz_switch(nmx__rz_flow *f, uint16_t proto) {
    f->proto = proto;
    for (int i = 0; i < 2; i++) {
        nmx__rz_dir_restart(&f->dir[i]);
        f->dir[i].tcp &= (uint8_t)~NMX_RZ_VALID;
    }
}

/* A message of the conversation's protocol ended; `start`: where it
 * starts in the payload (-1: in an earlier segment). The segment is listed
 * with the layers of the first message that ends in it. */
static void ended(nmx__rz_found *out, const nmx__rz_msg *m, int32_t start) {
    if (out->ended)
        return;
    out->ended = 1;
    out->start = start;
    out->n = nmx__rz_layers(m, out->proto, out->rel);
}

/* Bytes that do not start a message of the protocol: once a message was
 * seen in this direction, Wireshark's dissector takes them as a
 * continuation of something it missed; before, it declines them. */
static void continuation(nmx__rz_found *out, const nmx__rz_dir *dd, uint16_t proto, int32_t start) {
    if (out->ended || !(dd->tcp & NMX_RZ_VALID))
        return;
    *out = (nmx__rz_found){1, 1, start, 1, {nmx__rz_listed(proto)}, {0}};
}

/* Wireshark's TLS dissector lists itself before it asks TCP for the rest
 * of a record: a segment in which a record starts carries TLS even when the
 * record ends in a later one. (The others are called only with whole
 * messages.) */
static void tls_started(nmx__rz_found *out, const nmx__rz_msg *m, int32_t start) {
    if (m->proto == NMX_PROTO_TLS && start >= 0)
        ended(out, m, start);
}

/* Length-prefixed messages over the segment's n bytes. */
static void framed(nmx__rz_flow *f, nmx__rz_dir *dd, const uint8_t *p, uint32_t n, nmx__rz_found *out) {
    nmx__rz_msg m = {dd->hdr, 0, f->proto, f->key.port[0] == 445 || f->key.port[1] == 445};
    int32_t start = -1; /* where the current message starts in this segment */
    uint32_t i = 0;
    while (i < n) {
        if (dd->remain) {
            uint32_t take = dd->remain < n - i ? dd->remain : n - i;
            dd->remain -= take;
            i += take;
            if (dd->remain)
                return;
            m.have = dd->hlen;
            if (!dd->broken)
                ended(out, &m, start);
            dd->broken = 0;
            dd->hlen = 0;
            continue;
        }
        /* at a message start: gather the bytes that tell its length */
        if (!dd->hlen)
            start = (int32_t)i;
        m.have = dd->hlen;
        uint32_t need = dd->hlen ? nmx__rz_need(&m) : 1;
        while (dd->hlen < need && i < n) { /* the bytes it needs, then perhaps more */
            uint32_t take = need - dd->hlen < n - i ? need - dd->hlen : n - i;
            memcpy(dd->hdr + dd->hlen, p + i, take);
            dd->hlen = (uint8_t)(dd->hlen + take);
            i += take;
            m.have = dd->hlen;
            need = nmx__rz_need(&m);
        }
        if (dd->hlen < need) {
            tls_started(out, &m, start);
            return; /* the rest comes in the next segment */
        }
        uint64_t len = nmx__rz_length(&m);
        if (len < dd->hlen) {
            continuation(out, dd, f->proto, start);
            nmx__rz_dir_restart(dd);
            return;
        }
        dd->tcp |= NMX_RZ_VALID;
        dd->remain = len - dd->hlen > UINT32_MAX ? UINT32_MAX : (uint32_t)(len - dd->hlen);
        if (!dd->remain) {
            ended(out, &m, start);
            dd->hlen = 0;
        } else if (dd->remain > n - i) {
            tls_started(out, &m, start);
        }
    }
}

/* ---- STARTTLS: after the server's yes, the conversation is TLS ---- */

#define FLOW_STARTTLS 0x08 /* the client asked (rz_http.c uses 0x02, 0x04) */

static int has(const uint8_t *p, uint32_t n, const char *s) {
    size_t l = strlen(s);
    for (uint32_t i = 0; i + l <= n; i++)
        if (memcmp(p + i, s, l) == 0)
            return 1;
    return 0;
}

/* The client's request for each protocol: SMTP STARTTLS, POP STLS, IMAP
 * "tag STARTTLS", FTP AUTH TLS/SSL, LDAP's StartTLS extended operation. */
static int asks_starttls(uint16_t proto, const uint8_t *p, uint32_t n) {
    const char *m = (const char *)p;
    if (n < 4)
        return 0;
    switch (proto) {
    case NMX_PROTO_SMTP:
        return (p[0] | 0x20) == 's' && nmx__text_prefix(m, n, "STARTTLS");
    case NMX_PROTO_POP:
        return (p[0] | 0x20) == 's' && nmx__text_prefix(m, n, "STLS");
    case NMX_PROTO_FTP:
        return (p[0] | 0x20) == 'a' && (nmx__text_prefix(m, n, "AUTH TLS") || nmx__text_prefix(m, n, "AUTH SSL"));
    case NMX_PROTO_IMAP: {
        const uint8_t *sp = memchr(p, ' ', n < 64 ? n : 64);
        return sp && nmx__text_prefix((const char *)sp + 1, n - (uint32_t)(sp + 1 - p), "STARTTLS");
    }
    case NMX_PROTO_LDAP:
        return n > 6 && p[0] == 0x30 && has(p, n < 64 ? n : 64, "1.3.6.1.4.1.1466.20037");
    default:
        return 0;
    }
}

/* The server's go-ahead: 220, +OK, "tag OK", 234, an LDAP extended
 * response with result success. */
static int starttls_accepted(uint16_t proto, const uint8_t *p, uint32_t n) {
    const char *m = (const char *)p;
    switch (proto) {
    case NMX_PROTO_SMTP:
        return nmx__text_prefix(m, n, "220");
    case NMX_PROTO_POP:
        return nmx__text_prefix(m, n, "+OK");
    case NMX_PROTO_FTP:
        return nmx__text_prefix(m, n, "234");
    case NMX_PROTO_IMAP: {
        const uint8_t *sp = memchr(p, ' ', n < 64 ? n : 64);
        return sp && nmx__text_prefix((const char *)sp + 1, n - (uint32_t)(sp + 1 - p), "OK");
    }
    case NMX_PROTO_LDAP:
        return n > 10 && p[0] == 0x30 && memchr(p, 0x78, 8) && has(p, n < 16 ? n : 16, "\x0a\x01") &&
               !has(p, n < 16 ? n : 16, "\x0a\x01\x01");
    default:
        return 0;
    }
}

/* After the client asked and the server said yes, the conversation is TLS;
 * any other answer ends the request. */
static void starttls(nmx__rz_flow *f, const uint8_t *p, uint32_t n) {
    if (!(f->flags & FLOW_STARTTLS)) {
        if (asks_starttls(f->proto, p, n))
            f->flags |= FLOW_STARTTLS;
    } else if (starttls_accepted(f->proto, p, n)) {
        nmx__rz_switch(f, NMX_PROTO_TLS);
    } else {
        f->flags &= (uint16_t)~FLOW_STARTTLS;
    }
}

/* ---- one segment ---- */

static int every_segment(uint16_t proto) {
    switch (proto) {
    case NMX_PROTO_FTP:
    case NMX_PROTO_FTP_DATA:
    case NMX_PROTO_SSH:
    case NMX_PROTO_SMTP:
    case NMX_PROTO_POP:
    case NMX_PROTO_IMAP:
        return 1;
    default:
        return 0;
    }
}

/* Bytes lost before this segment: a message of known length they were part
 * of never ends (Wireshark waits for them), but the next one can be found;
 * otherwise the next byte is read as a message start. */
static void lost(nmx__rz_flow *f, int dir, uint32_t n) {
    nmx__rz_dir *dd = &f->dir[dir];
    if ((f->proto == NMX_PROTO_HTTP || f->proto == NMX_PROTO_SIP) && !nmx__rz_http_in_body(f, dir)) {
        if (!nmx__rz_http_upgraded(f, dir))
            nmx__rz_dir_restart(dd);
        return;
    }
    if (dd->remain > n) {
        dd->remain -= n;
        dd->broken = 1;
    } else {
        nmx__rz_dir_restart(dd);
    }
}

/* Is the segment the next in order? Retransmissions and segments that
 * fill an earlier hole are not (0); a hole before it is lost data. */
static int in_order(nmx__rz_flow *f, int dir, uint32_t seq, uint32_t len, uint32_t *skip) {
    nmx__rz_dir *dd = &f->dir[dir];
    *skip = 0;
    if (!(dd->tcp & NMX_RZ_SEQ)) {
        dd->tcp |= NMX_RZ_SEQ;
        dd->next_seq = seq;
    }
    int32_t delta = (int32_t)(seq - dd->next_seq);
    if (delta < 0) { /* a retransmission (Wireshark's name even when part of it is new) */
        if ((int64_t)delta + len <= 0)
            return 0;
        *skip = (uint32_t)-delta;
        dd->next_seq = seq + len;
        return -1;
    }
    if (delta > 0)
        lost(f, dir, (uint32_t)delta);
    dd->next_seq = seq + len;
    return 1;
}

void nmx__rz_list(nmx_decoded *d, uint16_t proto, uint32_t off) {
    if (d->nlayers && d->layers[d->nlayers - 1].proto == NMX_PROTO_PAYLOAD)
        d->nlayers--;
    if (d->nlayers < NMX_DECODE_MAX_LAYERS && off < d->caplen) {
        d->layers[d->nlayers].proto = proto;
        d->layers[d->nlayers].offset = off;
        d->nlayers++;
    }
}

static void list_found(nmx_decoded *d, const nmx__rz_found *fd, uint32_t skip) {
    uint32_t base = d->payload_offset + (fd->start >= 0 ? (uint32_t)fd->start + skip : 0);
    for (unsigned i = 0; i < fd->n; i++)
        nmx__rz_list(d, fd->proto[i], fd->start >= 0 ? base + fd->rel[i] : base);
}

/* The segment's bytes through the conversation's framing. */
static void segment(nmx__recognizer *rz, nmx__rz_flow *f, int dir, const uint8_t *p, uint32_t n,
                    const nmx_decoded *d, nmx__rz_found *fd) {
    *fd = (nmx__rz_found){0, 0, -1, 0, {0}, {0}};
    if (every_segment(f->proto)) {
        *fd = (nmx__rz_found){1, 0, 0, 1, {f->proto}, {0}};
        if (f->proto == NMX_PROTO_FTP && rz)
            nmx__rz_ftp_control(rz, (const char *)p, n, d);
    } else if (f->proto == NMX_PROTO_HTTP || f->proto == NMX_PROTO_SIP) {
        nmx__rz_http(f, dir, p, n, fd);
    } else if (nmx__rz_framed(f->proto)) {
        framed(f, &f->dir[dir], p, n, fd);
    }
}

void nmx__rz_tcp(nmx__recognizer *rz, const uint8_t *bytes, nmx_decoded *d) {
    uint32_t len = d->payload_len, cap = 0;
    if (d->payload_offset < d->caplen)
        cap = d->caplen - d->payload_offset < len ? d->caplen - d->payload_offset : len;
    if (!len && !(d->tcp_flags & (TH_SYN | TH_FIN | TH_RST)))
        return; /* a bare ACK changes nothing */
    const uint8_t *p = bytes + d->payload_offset;
    int dir;
    nmx__rz_flow *f = flow_of(rz, d, p, cap, &dir);
    if (!f)
        return;
    nmx__rz_dir *dd = &f->dir[dir];
    /* a new connection, unless it is its SYN sent again */
    if ((d->tcp_flags & TH_SYN) && !((dd->tcp & NMX_RZ_SYN) && dd->syn_seq == d->tcp_seq)) {
        nmx__rz_dir_restart(dd);
        dd->tcp = NMX_RZ_SEQ | NMX_RZ_SYN;
        dd->syn_seq = d->tcp_seq;
        dd->next_seq = d->tcp_seq + 1;
    }
    if (!len) {
        if (d->tcp_flags & TH_FIN) { /* the FIN takes a sequence number: data before it was sent */
            uint32_t skip;
            (void)in_order(f, dir, d->tcp_seq, 1, &skip);
            if (f->proto == NMX_PROTO_HTTP && nmx__rz_http_fin(f, dir))
                nmx__rz_list(d, NMX_PROTO_HTTP, d->payload_offset);
        }
        return;
    }
    if (d->tcp_flags & TH_RST) /* data on a reset is a diagnostic, not the protocol's (nor Wireshark's) */
        return;
    uint32_t skip;
    int order = in_order(f, dir, d->tcp_seq + ((d->tcp_flags & TH_SYN) ? 1u : 0u), len, &skip);
    if (!order || skip >= cap)
        return;
    if (cap < len) { /* cut by the snapshot length: taken as it is */
        nmx__rz_list(d, nmx__rz_listed(f->proto), d->payload_offset + skip);
        nmx__rz_dir_restart(dd);
        return;
    }
    nmx__rz_found fd;
    uint16_t proto = f->proto;
    segment(rz, f, dir, p + skip, cap - skip, d, &fd);
    if (fd.ended && order > 0) /* the new bytes of a retransmission are read, not listed */
        list_found(d, &fd, skip);
    if (proto != NMX_PROTO_TLS)
        starttls(f, p + skip, cap - skip);
}
