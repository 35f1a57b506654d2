/* Where HTTP/1.x (and SIP over TCP) messages end, byte by byte across
 * segments (rz_tcp.h): a start line and headers up to the empty line, then
 * a body of Content-Length bytes, or chunks up to the last one and its
 * trailer, or (a response with neither) everything up to the close.
 * Responses to HEAD and 1xx, 204, 304 have no body. After a 101 or a
 * successful CONNECT the conversation is a tunnel: nothing more is HTTP.
 *
 * As Wireshark's HTTP dissector does, bytes that do not start with a
 * request or status line are taken as a message of their own up to the
 * next empty line.
 */
#include "capture/rz_pdu.h"
#include "capture/rz_tcp.h"
#include "capture/text.h"

#include <nmexpert/netmon.h>

#include <string.h>

enum { S_START, S_HEAD, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_END, S_TRAILER, S_CLOSE, S_TUNNEL };

/* nmx__rz_dir.flags */
#define F_RESPONSE 0x01
#define F_LENGTH 0x02  /* a Content-Length was given (in remain) */
#define F_CHUNKED 0x04
#define F_NOBODY 0x08  /* 1xx, 204, 304, a response to HEAD */
#define F_INFO 0x10    /* 1xx: another response follows */
#define F_TUNNEL 0x20  /* 101, or 2xx to CONNECT */
#define F_REQUEST 0x40
#define F_SIP 0x80
#define F_WEBSOCKET 0x100 /* Upgrade: websocket */

/* nmx__rz_flow.flags (rz_tcp.c uses 0x01) */
#define FLOW_HEAD 0x02    /* a HEAD request awaits its response */
#define FLOW_CONNECT 0x04 /* a CONNECT request awaits its response */
#define FLOW_SEEN 0x10    /* a request's or response's headers have been seen */

/* The methods Wireshark's HTTP dissector knows (HTTP, WebDAV, SSDP,
 * Cisco's CCM_POST, RPC over HTTP), with their lengths. */
#define M(s) {s, sizeof s - 1}
static const struct {
    const char *name;
    uint8_t len;
} methods[] = {
    M("GET"),      M("POST"),     M("HEAD"),       M("PUT"),        M("DELETE"),      M("OPTIONS"),
    M("TRACE"),    M("CONNECT"),  M("PATCH"),      M("PROPFIND"),   M("PROPPATCH"),   M("MKCOL"),
    M("COPY"),     M("MOVE"),     M("LOCK"),       M("UNLOCK"),     M("SEARCH"),      M("REPORT"),
    M("CHECKOUT"), M("CHECKIN"),  M("UNCHECKOUT"), M("MERGE"),      M("LABEL"),       M("UPDATE"),
    M("NOTIFY"),   M("SUBSCRIBE"), M("UNSUBSCRIBE"), M("M-SEARCH"), M("POLL"),        M("ACL"),
    M("BCOPY"),    M("BMOVE"),    M("BDELETE"),    M("BPROPFIND"),  M("BPROPPATCH"),  M("MKACTIVITY"),
    M("MKWORKSPACE"), M("CCM_POST"), M("RPC_CONNECT"), M("VERSION-CONTROL"), M("BASELINE-CONTROL"),
};
#undef M
enum { METHOD_HEAD = 3, METHOD_CONNECT = 8 }; /* their places above, from 1 */

/* A known method, then a space or the line's end: its place from 1; 0 if
 * none. */
static int request_line(const uint8_t *p, uint32_t n) {
    /* the methods' first letters: A B C D G H L M N O P R S T U V */
    static const uint32_t first = 1u << ('A' - 'A') | 1u << ('B' - 'A') | 1u << ('C' - 'A') | 1u << ('D' - 'A') |
                                  1u << ('G' - 'A') | 1u << ('H' - 'A') | 1u << ('L' - 'A') | 1u << ('M' - 'A') |
                                  1u << ('N' - 'A') | 1u << ('O' - 'A') | 1u << ('P' - 'A') | 1u << ('R' - 'A') |
                                  1u << ('S' - 'A') | 1u << ('T' - 'A') | 1u << ('U' - 'A') | 1u << ('V' - 'A');
    if (n < 4 || p[0] < 'A' || p[0] > 'Z' || !(first >> (p[0] - 'A') & 1))
        return 0;
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        size_t l = methods[i].len;
        if (methods[i].name[0] == p[0] && n > l && memcmp(p, methods[i].name, l) == 0 &&
            (p[l] == ' ' || p[l] == '\r' || p[l] == '\n'))
            return (int)i + 1;
    }
    return 0;
}

static int letter(uint8_t c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

int nmx__rz_http_start(const uint8_t *p, uint32_t n) {
    const char *m = (const char *)p;
    if (n < 8 || !letter(p[0]) || !letter(p[1]) || !letter(p[2])) /* a method or "HTTP" first */
        return 0;
    long l = nmx__line_len(m, n < 4096 ? n : 4096);
    if (l < 8)
        return 0;
    /* Wireshark's heuristic: the first line starts or ends with HTTP/1.x */
    return nmx__text_prefix(m, (uint32_t)l, "HTTP/1.") || nmx__text_prefix(m + l - 8, 8, "HTTP/1.");
}

/* The start line (the first `n` bytes of a message, at least one). 0: not
 * a request or a response. */
static int start_line(nmx__rz_flow *f, int dir, const uint8_t *p, uint32_t n) {
    nmx__rz_dir *dd = &f->dir[dir];
    dd->flags = f->proto == NMX_PROTO_SIP ? F_SIP : 0;
    int method = f->proto == NMX_PROTO_SIP ? nmx__sip_start_line((const char *)p, n) && p[0] != 'S'
                                           : request_line(p, n);
    if (method) {
        dd->flags |= F_REQUEST;
        if (method == METHOD_HEAD)
            f->flags |= FLOW_HEAD;
        if (method == METHOD_CONNECT)
            f->flags |= FLOW_CONNECT;
        return 1;
    }
    if ((n >= 5 && memcmp(p, "HTTP/", 5) == 0) || (n >= 8 && memcmp(p, "SIP/2.0 ", 8) == 0)) {
        dd->flags |= F_RESPONSE;
        uint32_t sp = 0;
        while (sp < n && p[sp] != ' ')
            sp++;
        unsigned code = 0;
        for (uint32_t i = sp + 1; i < n && i < sp + 4 && p[i] >= '0' && p[i] <= '9'; i++)
            code = code * 10 + (unsigned)(p[i] - '0');
        if (code >= 100 && code < 200)
            dd->flags |= F_NOBODY | F_INFO;
        if (code == 204 || code == 304 || (f->flags & FLOW_HEAD))
            dd->flags |= F_NOBODY;
        if (code == 101 || (code >= 200 && code < 300 && (f->flags & FLOW_CONNECT)))
            dd->flags |= F_TUNNEL;
        if (!(dd->flags & F_INFO))
            f->flags &= (uint16_t)~(FLOW_HEAD | FLOW_CONNECT);
        return 1;
    }
    return 0;
}

/* A header line (lowercased, its first hdr bytes in dd->hdr). */
static void header_line(nmx__rz_dir *dd, uint32_t len) {
    const char *h = (const char *)dd->hdr;
    uint32_t n = len < NMX_RZ_HDR ? len : NMX_RZ_HDR;
    uint32_t v = 0;
    switch (h[0]) { /* only these headers matter */
    case 'c':
        v = nmx__text_prefix(h, n, "content-length:") ? 15 : 0;
        break;
    case 'l':
        v = (dd->flags & F_SIP) && nmx__text_prefix(h, n, "l:") ? 2 : 0;
        break;
    case 't':
        if (nmx__text_prefix(h, n, "transfer-encoding:"))
            for (v = 18; v + 7 <= n; v++)
                if (memcmp(h + v, "chunked", 7) == 0)
                    dd->flags |= F_CHUNKED;
        return;
    case 'u':
        if (nmx__text_prefix(h, n, "upgrade:"))
            for (v = 8; v + 9 <= n; v++)
                if (memcmp(h + v, "websocket", 9) == 0)
                    dd->flags |= F_WEBSOCKET;
        return;
    default:
        return;
    }
    if (!v)
        return;
    uint64_t cl = 0; /* Content-Length */
    while (v < n && (h[v] == ' ' || h[v] == '\t'))
        v++;
    while (v < n && h[v] >= '0' && h[v] <= '9' && cl < UINT32_MAX)
        cl = cl * 10 + (uint64_t)(h[v++] - '0');
    dd->remain = cl > UINT32_MAX ? UINT32_MAX : (uint32_t)cl;
    dd->flags |= F_LENGTH;
}

/* The empty line: the headers are complete. 1: the message ended. */
static int headers_done(nmx__rz_flow *f, int dir) {
    nmx__rz_dir *dd = &f->dir[dir];
    uint16_t fl = dd->flags;
    f->flags |= FLOW_SEEN;
    if (fl & F_TUNNEL) { /* after this response, both ways */
        if (fl & F_WEBSOCKET) { /* WebSocket frames, reassembled as such */
            nmx__rz_switch(f, NMX__RZ_WEBSOCKET);
            return 1;
        }
        f->dir[0].state = f->dir[1].state = S_TUNNEL;
        return 1;
    }
    if ((fl & F_RESPONSE) && (fl & F_NOBODY)) {
        dd->state = S_START;
        return 1;
    }
    if ((fl & F_CHUNKED) && !(fl & F_SIP)) {
        dd->state = S_CHUNK_SIZE;
        return 0;
    }
    if (fl & F_LENGTH) {
        dd->state = dd->remain ? S_BODY : S_START;
        return !dd->remain;
    }
    if ((fl & F_RESPONSE) && !(fl & F_SIP)) { /* no length: up to the close */
        dd->state = S_CLOSE;
        return 0;
    }
    dd->state = S_START; /* requests, SIP and unknown starts end with their headers */
    return 1;
}

static uint32_t hexval(const uint8_t *h, uint32_t n) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t c = h[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        v = v * 16 + (uint64_t)d;
        if (v > UINT32_MAX)
            return UINT32_MAX;
    }
    return (uint32_t)v;
}

/* One line of the header block, trailer or chunk size ended (its length
 * without CR LF in `len`). 1: the message ended. */
static int line_done(nmx__rz_flow *f, int dir, uint32_t len) {
    nmx__rz_dir *dd = &f->dir[dir];
    switch (dd->state) {
    case S_HEAD:
        if (len == 0)
            return headers_done(f, dir);
        header_line(dd, len);
        return 0;
    case S_CHUNK_SIZE:
        dd->remain = hexval(dd->hdr, len < NMX_RZ_HDR ? len : NMX_RZ_HDR);
        dd->state = dd->remain ? S_CHUNK_DATA : S_TRAILER;
        return 0;
    case S_CHUNK_END:
        dd->state = S_CHUNK_SIZE;
        return 0;
    case S_TRAILER:
        if (len == 0) {
            dd->state = S_START;
            return 1;
        }
        return 0;
    default:
        return 0;
    }
}

void nmx__rz_http(nmx__rz_flow *f, int dir, const uint8_t *p, uint32_t n, nmx__rz_found *out) {
    nmx__rz_dir *dd = &f->dir[dir];
    uint16_t listed = f->proto == NMX_PROTO_SIP ? NMX_PROTO_SIP : NMX_PROTO_HTTP;
    int32_t start = -1;
    for (uint32_t i = 0; i < n;) {
        switch (dd->state) {
        case S_TUNNEL: /* an upgraded connection: Wireshark's HTTP takes every segment */
            if (!out->ended)
                *out = (nmx__rz_found){1, 0, -1, 1, {listed}, {0}};
            return;
        case S_CLOSE:
            return;
        case S_START:
            start = (int32_t)i;
            if (!start_line(f, dir, p + i, n - i)) {
                /* Not a start: once the conversation has had a message, a
                 * continuation of it (taken whole); before, Wireshark keeps
                 * it and lists nothing. */
                if ((f->flags & FLOW_SEEN) && !out->ended)
                    *out = (nmx__rz_found){1, 1, start, 1, {listed}, {0}};
                return;
            }
            dd->state = S_HEAD;
            dd->line = 0;
            continue;
        case S_BODY:
        case S_CHUNK_DATA: {
            uint32_t take = dd->remain < n - i ? dd->remain : n - i;
            dd->remain -= take;
            i += take;
            if (dd->remain)
                return;
            dd->state = dd->state == S_BODY ? S_START : S_CHUNK_END;
            dd->line = 0;
            if (dd->state == S_START && dd->broken) /* part of it was lost: it never ends */
                dd->broken = 0;
            else if (dd->state == S_START && !out->ended)
                *out = (nmx__rz_found){1, 0, start, 1, {listed}, {0}};
            continue;
        }
        default: { /* a line: keep its first bytes, lowercased, up to its end */
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            uint32_t end = nl ? (uint32_t)(nl - p) : n;
            for (uint32_t k = i; k < end && dd->line + (k - i) < NMX_RZ_HDR; k++) {
                uint8_t c = p[k];
                dd->hdr[dd->line + (k - i)] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            uint32_t line = dd->line + (end - i);
            dd->line = line > UINT16_MAX ? UINT16_MAX : (uint16_t)line;
            i = end;
            if (!nl)
                return;
            i++;
            /* its length without the CR (a long line is never empty) */
            uint32_t len = dd->line;
            if (len && len <= NMX_RZ_HDR && dd->hdr[len - 1] == '\r')
                len--;
            dd->line = 0;
            if (line_done(f, dir, len) && !out->ended)
                *out = (nmx__rz_found){1, 0, start, 1, {listed}, {0}};
        }
        }
    }
}

int nmx__rz_http_fin(nmx__rz_flow *f, int dir) {
    if (f->dir[dir].state != S_CLOSE)
        return 0;
    f->dir[dir].state = S_START;
    return 1;
}

int nmx__rz_http_upgraded(const nmx__rz_flow *f, int dir) {
    return (f->proto == NMX_PROTO_HTTP || f->proto == NMX_PROTO_SIP) && f->dir[dir].state == S_TUNNEL;
}

int nmx__rz_http_in_body(const nmx__rz_flow *f, int dir) {
    return f->dir[dir].state == S_BODY || f->dir[dir].state == S_CHUNK_DATA;
}
