/* Reading application messages where the host recognised them (header-only):
 * DNS (and mDNS, LLMNR), HTTP requests and responses, TLS handshakes and
 * SMB2 headers. Each function reads only captured bytes and says 0 when
 * what it looks for is not wholly there: one frame is all it sees (no TCP
 * reassembly), which the experts' READMEs state.
 */
#ifndef NMX_XU_APP_H
#define NMX_XU_APP_H

#include "expert_util.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* A message in a frame: where it starts and how many of its bytes were
 * captured (up to the transport's end). */
typedef struct xu_msg {
    const uint8_t *p;
    DWORD len;
    int over_tcp; /* the transport before it is TCP */
} xu_msg;

/* m: the bytes [o, end) of the frame, cut where the capture ends; 0 when
 * none of them was captured. */
static inline int xu_msg_set(const xu_frame *f, xu_msg *m, DWORD o, DWORD end)
{
    if (end > f->caplen)
        end = f->caplen;
    if (o >= end)
        return 0;
    m->p = f->bytes + o;
    m->len = end - o;
    return 1;
}

/* m: the message at offset o, carried by the transport g before it (a TCP
 * segment when tcp, else a UDP datagram; NULL: none), bounded by the
 * payload the IP lengths give (Ethernet padding is not message). */
static inline int xu_msg_after(const xu_frame *f, unsigned proto, DWORD o, const xu_seg *g, int tcp, xu_msg *m)
{
    DWORD end = f->caplen;
    m->over_tcp = 0;
    if (g && tcp) {
        DWORD thl = (DWORD)(f->bytes[g->l4_off + 12] >> 4) * 4;
        end = g->l4_off + thl + g->seglen;
        m->over_tcp = 1;
        /* DNS over TCP: a 2-byte length before the message */
        if ((proto == NMX_PROTO_DNS || proto == NMX_PROTO_MDNS || proto == NMX_PROTO_LLMNR) &&
            o == g->l4_off + thl)
            o += 2;
    } else if (g) {
        end = g->l4_off + 8 + g->seglen;
    }
    return xu_msg_set(f, m, o, end);
}

/* The innermost layer `proto` as a message, after the frame's innermost
 * TCP segment, else its innermost UDP datagram, when it comes before. */
static inline int xu_msg_of(const xu_frame *f, unsigned proto, xu_msg *m)
{
    int i = xu_innermost(f, proto);
    if (i < 0)
        return 0;
    DWORD o = f->layer[i].off;
    xu_seg g;
    if (xu_tcp_parse(f, &g) && g.l4_off < o)
        return xu_msg_after(f, proto, o, &g, 1, m);
    if (xu_udp_parse(f, &g) && g.l4_off < o)
        return xu_msg_after(f, proto, o, &g, 0, m);
    return xu_msg_after(f, proto, o, NULL, 0, m);
}

/* xu_msg_of for a caller that parsed the transport already: g is the
 * frame's innermost TCP segment (tcp), or its innermost UDP datagram in a
 * frame whose TCP does not parse (!tcp). */
static inline int xu_msg_in(const xu_frame *f, unsigned proto, const xu_seg *g, int tcp, xu_msg *m)
{
    int i = xu_innermost(f, proto);
    if (i < 0)
        return 0;
    DWORD o = f->layer[i].off;
    return g->l4_off < o ? xu_msg_after(f, proto, o, g, tcp, m) : xu_msg_of(f, proto, m);
}

/* The payload of TCP segment g of the frame (as the IP lengths give it, cut
 * where the capture ends). A message that spans segments is listed by the
 * host on the segment where it ends, at that segment's payload; its first
 * bytes (an HTTP request line and head) are in the segment where it began. */
static inline int xu_tcp_payload_of(const xu_frame *f, const xu_seg *g, xu_msg *m)
{
    if (!g->seglen)
        return 0;
    DWORD o = g->l4_off + (DWORD)(f->bytes[g->l4_off + 12] >> 4) * 4;
    m->over_tcp = 1;
    return xu_msg_set(f, m, o, o + g->seglen);
}

/* The payload of the frame's innermost TCP segment (xu_tcp_payload_of). */
static inline int xu_tcp_payload(const xu_frame *f, xu_msg *m)
{
    xu_seg g;
    return xu_tcp_parse(f, &g) && xu_tcp_payload_of(f, &g, m);
}

/* ---- DNS ---- */

typedef struct xu_dns {
    uint16_t id;
    int response;     /* QR bit */
    uint16_t qdcount;
} xu_dns;

static inline int xu_dns_header(const xu_msg *m, xu_dns *d)
{
    if (m->len < 12)
        return 0;
    d->id = xu_be16(m->p);
    d->response = m->p[2] >> 7;
    d->qdcount = xu_be16(m->p + 4);
    return 1;
}

/* The name at offset *at of the message, as Wireshark shows dns.qry.name:
 * labels joined by dots, the root as "<Root>", compression followed (at
 * most 64 jumps); bytes outside printable ASCII as \xHH. *at moves past the
 * name. Returns 0 when the name is not wholly captured or malformed. */
static inline int xu_dns_name(const xu_msg *m, DWORD *at, char *out, size_t len)
{
    DWORD p = *at, next = 0;
    size_t n = 0;
    int jumps = 0;
    out[0] = '\0';
    for (;;) {
        if (p >= m->len)
            return 0;
        unsigned l = m->p[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= m->len || ++jumps > 64)
                return 0;
            if (!next)
                next = p + 2;
            p = ((l & 0x3fu) << 8) | m->p[p + 1];
            continue;
        }
        if (l & 0xc0)
            return 0; /* extended label types: not a name Wireshark prints either */
        if (l == 0)
            break;
        if (p + 1 + l > m->len)
            return 0;
        if (n && n + 1 < len)
            out[n++] = '.';
        for (unsigned i = 0; i < l && n + 5 < len; i++) {
            uint8_t c = m->p[p + 1 + i];
            if (c >= 0x20 && c < 0x7f)
                out[n++] = (char)c;
            else
                n += (size_t)snprintf(out + n, len - n, "\\x%02x", c);
        }
        out[n < len ? n : len - 1] = '\0';
        p += 1 + l;
    }
    if (n == 0)
        snprintf(out, len, "<Root>");
    *at = next ? next : p + 1;
    return 1;
}

/* The first question's name. */
static inline int xu_dns_qname(const xu_msg *m, char *out, size_t len)
{
    xu_dns d;
    DWORD at = 12;
    return xu_dns_header(m, &d) && d.qdcount > 0 && xu_dns_name(m, &at, out, len);
}

/* ---- HTTP ---- */

/* 1 when the message starts with an HTTP request line ("GET / HTTP/1.1"). */
static inline int xu_http_is_request(const xu_msg *m)
{
    DWORD i = 0;
    while (i < m->len && i < 20 && m->p[i] >= 'A' && m->p[i] <= 'Z')
        i++;
    if (i == 0 || i >= m->len || m->p[i] != ' ')
        return 0;
    for (DWORD k = i; k + 5 < m->len && m->p[k] != '\r' && m->p[k] != '\n'; k++)
        if (!memcmp(m->p + k, " HTTP/", 6))
            return 1;
    return 0;
}

/* 1 when the message starts with a status line ("HTTP/1.1 200 OK"). */
static inline int xu_http_is_response(const xu_msg *m)
{
    return m->len >= 12 && !memcmp(m->p, "HTTP/", 5);
}

/* The value of header `name` (with its colon, any case: "host:") in the
 * head of the message, spaces around it trimmed. */
static inline int xu_http_header(const xu_msg *m, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    DWORD i = 0;
    while (i < m->len && m->p[i] != '\n') /* the request or status line */
        i++;
    for (i++; i < m->len;) {
        DWORD e = i;
        while (e < m->len && m->p[e] != '\n')
            e++;
        if (e == m->len)
            return 0; /* the line goes on beyond the capture */
        DWORD le = e > i && m->p[e - 1] == '\r' ? e - 1 : e;
        if (le == i)
            return 0; /* the blank line: the head ends, no such header */
        if (le - i >= nl && !strncasecmp((const char *)m->p + i, name, nl)) {
            DWORD v = i + (DWORD)nl;
            while (v < le && (m->p[v] == ' ' || m->p[v] == '\t'))
                v++;
            while (le > v && (m->p[le - 1] == ' ' || m->p[le - 1] == '\t'))
                le--;
            size_t n = le - v < len - 1 ? le - v : len - 1;
            memcpy(out, m->p + v, n);
            out[n] = '\0';
            return 1;
        }
        i = e + 1;
    }
    return 0;
}

/* ---- TLS ---- */

/* The first handshake record among the TLS records that start at m (an
 * alert or change-cipher-spec record before it is skipped): its handshake
 * type (1 ClientHello, 2 ServerHello ...) and whether the whole record was
 * captured (*whole); -1 when m does not start with a record header or no
 * handshake record starts in the bytes. */
static inline int xu_tls_handshake(const xu_msg *m, int *whole)
{
    for (DWORD at = 0; at + 6 <= m->len;) {
        const uint8_t *r = m->p + at;
        if (r[0] < 20 || r[0] > 24 || r[1] != 3)
            return -1;
        DWORD end = at + 5 + xu_be16(r + 3);
        if (r[0] == 22) {
            *whole = end <= m->len;
            return r[5];
        }
        at = end;
    }
    return -1;
}

static inline int xu_tls_handshake_type(const xu_msg *m)
{
    int whole;
    return xu_tls_handshake(m, &whole);
}

/* The server name of a ClientHello's server_name extension. */
static inline int xu_tls_sni(const xu_msg *m, char *out, size_t len)
{
    if (xu_tls_handshake_type(m) != 1)
        return 0;
    const uint8_t *p = m->p;
    DWORD end = 5 + (DWORD)xu_be16(p + 3), at = 5 + 4 + 2 + 32;
    if (end > m->len)
        end = m->len;
    if (at >= end)
        return 0;
    at += 1 + p[at]; /* session id */
    if (at + 2 > end)
        return 0;
    at += 2 + xu_be16(p + at); /* cipher suites */
    if (at + 1 > end)
        return 0;
    at += 1 + p[at]; /* compression methods */
    if (at + 2 > end)
        return 0;
    DWORD ext_end = at + 2 + xu_be16(p + at);
    if (ext_end > end)
        ext_end = end;
    for (at += 2; at + 4 <= ext_end;) {
        unsigned type = xu_be16(p + at), elen = xu_be16(p + at + 2);
        if (type == 0 && at + 4 + elen <= ext_end && elen >= 5 && p[at + 6] == 0) {
            unsigned nlen = xu_be16(p + at + 7);
            if (at + 9 + nlen > ext_end)
                return 0;
            size_t n = nlen < len - 1 ? nlen : len - 1;
            memcpy(out, p + at + 9, n);
            out[n] = '\0';
            return 1;
        }
        at += 4 + elen;
    }
    return 0;
}

/* ---- SMB2 ---- */

typedef struct xu_smb2 {
    uint16_t command;
    int response;       /* SMB2_FLAGS_SERVER_TO_REDIR */
    int async_interim;  /* a STATUS_PENDING interim response */
    uint64_t message_id;
} xu_smb2;

/* The first SMB2 header of the message (after the 4-byte NetBIOS session
 * header when the message starts with it). */
static inline int xu_smb2_header(const xu_msg *m, xu_smb2 *h)
{
    const uint8_t *p = m->p;
    DWORD len = m->len;
    if (len >= 8 && p[0] == 0 && memcmp(p + 4, "\xfeSMB", 4) == 0) {
        p += 4;
        len -= 4;
    }
    if (len < 64 || memcmp(p, "\xfeSMB", 4) != 0)
        return 0;
    uint32_t flags = (uint32_t)p[16] | (uint32_t)p[17] << 8 | (uint32_t)p[18] << 16 | (uint32_t)p[19] << 24;
    uint32_t status = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    h->command = (uint16_t)(p[12] | p[13] << 8);
    h->response = (flags & 1) != 0;
    h->async_interim = h->response && (flags & 2) && status == 0x00000103; /* STATUS_PENDING */
    h->message_id = 0;
    for (int i = 7; i >= 0; i--)
        h->message_id = h->message_id << 8 | p[24 + i];
    return 1;
}

#endif
