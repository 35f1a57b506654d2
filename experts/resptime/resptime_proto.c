/* Server Response Time: the protocol matchers. Each pairs a request with
 * its response the way Wireshark's dissector does for its time field:
 * DNS by transaction id (dns.time), HTTP in order on a connection
 * (http.time), TLS ClientHello with ServerHello, SMB2 by message id
 * (smb2.time). Messages are those the host recognised, on the frame where
 * it lists them: where a message ends, as tshark dissects it. */
#include "resptime.h"

#include <string.h>

/* ---- DNS (and mDNS, LLMNR) ---- */

#define DNS_RETRANSMISSION_NS 5000000000LL /* tshark's dns.retransmission_timer: 5 s */

typedef struct dns_key {
    xu_flow_key k;
    uint16_t id;
    uint8_t pad[6];
} dns_key;

typedef struct dns_tx {
    dns_key key;
    int64_t ts;
    DWORD frame;
    uint8_t answered;
} dns_tx;

/* A query opens a transaction unless the latest one with its id is still
 * unanswered and younger than 5 s (then it is a retransmission and the
 * first query's time stands); a response closes the latest transaction with
 * its id (a response sent again is timed again, as tshark does). */
RT_INTERNAL DWORD rt_dns(state *s, const seen *x)
{
    static const unsigned protos[] = {NMX_PROTO_DNS, NMX_PROTO_MDNS, NMX_PROTO_LLMNR};
    xu_msg m;
    xu_dns d;
    unsigned i = 0;
    while (i < 3 && !xu_msg_in(x->f, protos[i], &x->g, x->tcp, &m))
        i++;
    if (i == 3 || !xu_dns_header(&m, &d))
        return NMERR_SUCCESS;
    dns_key key;
    memset(&key, 0, sizeof key);
    key.k = x->fl->k;
    key.id = d.id;
    long t = xu_map_find(&s->dns, &key, sizeof key);
    dns_tx *tx = t >= 0 ? xu_map_item(&s->dns, (size_t)t) : NULL;
    DWORD err = NMERR_SUCCESS;
    if (!d.response) {
        if (tx && !tx->answered && x->f->ts_ns - tx->ts < DNS_RETRANSMISSION_NS)
            return NMERR_SUCCESS;
        if ((t = xu_map_add(&s->dns, &key, sizeof key, &err)) < 0)
            return err;
        tx = xu_map_item(&s->dns, (size_t)t);
        tx->ts = x->f->ts_ns;
        tx->frame = x->f->number;
        return NMERR_SUCCESS;
    }
    if (!tx)
        return NMERR_SUCCESS;
    tx->answered = 1;
    return rt_sample(s, P_DNS, &x->fl->k, x->side, tx->frame, tx->ts, x->f);
}

/* ---- HTTP ---- */

/* The status code of a response that starts at m, or 0. */
static int http_status(const xu_msg *m)
{
    if (!xu_http_is_response(m))
        return 0;
    const uint8_t *sp = memchr(m->p, ' ', m->len < 16 ? m->len : 16);
    if (!sp || sp + 4 > m->p + m->len)
        return 0;
    return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

/* Whether the HTTP message the host lists in this frame counts: a
 * response when it begins with a status line, a request otherwise (the
 * host recognised the conversation as HTTP; a request line may lack a
 * version, as Wireshark allows). If it began here, its first bytes say
 * which; if it began in an earlier segment of the same side, that
 * segment's did. Every payload segment of a side comes through here
 * (listed: a message ends; not: one goes on), so a side knows whether a
 * message is in progress. Returns 0 for a segment that ends no message,
 * 1 for a request, 2 for a response (*status its code, when it began
 * here). */
static int http_message(flow *fl, const seen *x, int *status)
{
    xu_msg m;
    int side = x->side, starts = !fl->http_in_msg[side];
    *status = 0;
    if (!xu_has(x->f, NMX_PROTO_HTTP)) {
        if (starts && xu_tcp_payload_of(x->f, &x->g, &m)) {
            fl->http_msg_ok[side] = (uint8_t)(xu_http_is_response(&m) ? 2 : 1);
            fl->http_in_msg[side] = 1;
        }
        return 0;
    }
    fl->http_in_msg[side] = 0;
    if (!xu_msg_in(x->f, NMX_PROTO_HTTP, &x->g, 1, &m))
        return 0;
    if (starts || m.p != x->f->bytes + x->g.l4_off + (DWORD)(x->f->bytes[x->g.l4_off + 12] >> 4) * 4) {
        *status = http_status(&m);
        return *status ? 2 : 1;
    }
    return fl->http_msg_ok[side];
}

/* A request becomes the latest; a response answers the latest request if
 * nothing answered it yet (else tshark gives it no http.time). The client
 * is the side of the first request, or the other side of the first
 * response; from the server, only a status line is a response (an HTTP/0.9
 * reply has none). After a 101 (an upgrade) the connection is no longer
 * HTTP. */
RT_INTERNAL DWORD rt_http(state *s, const seen *x)
{
    flow *fl = x->fl;
    int status = 0, kind = fl->http_upgraded ? 0 : http_message(fl, x, &status);
    if (!kind)
        return NMERR_SUCCESS;
    if (!fl->http_client_known) {
        fl->http_client = (uint8_t)(kind == 2 ? !x->side : x->side);
        fl->http_client_known = 1;
    }
    if (x->side == fl->http_client) {
        if (kind == 1) {
            fl->http_pending = 1;
            fl->http_ts = x->f->ts_ns;
            fl->http_frame = x->f->number;
        }
        return NMERR_SUCCESS;
    }
    if (kind != 2)
        return NMERR_SUCCESS;
    if (status == 101)
        fl->http_upgraded = 1;
    if (!fl->http_pending)
        return NMERR_SUCCESS;
    fl->http_pending = 0;
    return rt_sample(s, P_HTTP, &fl->k, x->side, fl->http_frame, fl->http_ts, x->f);
}

/* ---- TLS ---- */

/* A handshake record's type, as Wireshark sees it: where the record ends.
 * One that begins here and ends here counts now; one that goes on into
 * later segments counts at the next segment of its side the host lists as
 * TLS. Returns 0 for none. */
static int tls_handshake(flow *fl, const seen *x)
{
    int side = x->side;
    xu_msg m;
    if (!xu_msg_in(x->f, NMX_PROTO_TLS, &x->g, 1, &m))
        return 0;
    int whole = 0, type = xu_tls_handshake(&m, &whole);
    if (type < 0) { /* no record starts here: one that began earlier ends */
        type = fl->tls_in_record[side];
        fl->tls_in_record[side] = 0;
        return type;
    }
    fl->tls_in_record[side] = 0;
    if (!whole) { /* goes on */
        fl->tls_in_record[side] = (uint8_t)type;
        return 0;
    }
    return type;
}

/* The first ClientHello waits for a ServerHello from the other side (a
 * HelloRetryRequest is one; the ClientHello after it waits anew). */
RT_INTERNAL DWORD rt_tls(state *s, const seen *x)
{
    flow *fl = x->fl;
    int type = tls_handshake(fl, x);
    if (type == 1 && !fl->hello_pending) {
        fl->hello_pending = 1;
        fl->hello_side = (uint8_t)x->side;
        fl->hello_ts = x->f->ts_ns;
        fl->hello_frame = x->f->number;
    } else if (type == 2 && fl->hello_pending && x->side != fl->hello_side) {
        fl->hello_pending = 0;
        return rt_sample(s, P_TLS, &fl->k, x->side, fl->hello_frame, fl->hello_ts, x->f);
    }
    return NMERR_SUCCESS;
}

/* ---- SMB2 ---- */

typedef struct smb2_key {
    xu_flow_key k;
    uint64_t mid;
} smb2_key;

typedef struct smb2_req {
    smb2_key key;
    int64_t ts;
    DWORD frame;
} smb2_req;

static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct smb2_part smb2_part;

/* Reads the bytes [x->seen, x->seen + len) of an SMB2 message (p points at
 * the first of them): the chained headers that lie there, whole or in part
 * (a header cut by a segment boundary is gathered in hbuf), at most 4 per
 * message. Moves x->seen on. */
static void smb2_read(smb2_part *x, const uint8_t *p, uint32_t len)
{
    uint32_t from = x->seen;
    while (x->next && x->n < 4) {
        uint32_t at = x->next - 1 + x->hlen; /* the next byte of the header wanted */
        if (at < from || at >= from + len)
            break;
        uint32_t take = 64u - x->hlen, room = from + len - at;
        if (take > room)
            take = room;
        memcpy(x->hbuf + x->hlen, p + (at - from), take);
        x->hlen = (uint8_t)(x->hlen + take);
        if (x->hlen < 64)
            break;
        xu_msg one = {x->hbuf, 64, 1};
        xu_smb2 h;
        x->hlen = 0;
        if (!xu_smb2_header(&one, &h)) {
            x->next = 0;
            break;
        }
        x->mid[x->n] = h.message_id;
        x->rsp[x->n++] = (uint8_t)h.response;
        uint32_t step = le32(x->hbuf + 20);
        x->next = step >= 64 ? x->next + step : 0;
    }
    x->seen += len;
}

/* A request remembers its time; a response (an interim STATUS_PENDING one
 * too, and the final one after it) is timed from it, as smb2.time is. */
static DWORD smb2_message(state *s, const seen *x, uint64_t mid, int response)
{
    smb2_key key;
    memset(&key, 0, sizeof key);
    key.k = x->fl->k;
    key.mid = mid;
    long i = xu_map_find(&s->smb2, &key, sizeof key);
    DWORD err = NMERR_SUCCESS;
    if (!response) {
        if (i >= 0)
            return NMERR_SUCCESS; /* a CANCEL, or the request again: the first time stands */
        if ((i = xu_map_add(&s->smb2, &key, sizeof key, &err)) < 0)
            return err;
        smb2_req *r = xu_map_item(&s->smb2, (size_t)i);
        r->ts = x->f->ts_ns;
        r->frame = x->f->number;
        return NMERR_SUCCESS;
    }
    if (i < 0)
        return NMERR_SUCCESS;
    const smb2_req *r = xu_map_item(&s->smb2, (size_t)i);
    return rt_sample(s, P_SMB2, &x->fl->k, x->side, r->frame, r->ts, x->f);
}

static DWORD smb2_done(state *s, const seen *x, const smb2_part *m)
{
    DWORD rc = NMERR_SUCCESS;
    for (unsigned k = 0; k < m->n && rc == NMERR_SUCCESS; k++)
        rc = smb2_message(s, x, m->mid[k], m->rsp[k]);
    return rc;
}

/* The segment's NBSS messages (the host lists SMB2 on the segment where
 * one ends). A message that begins and ends in a listed segment counts
 * now (in an unlisted one it is not SMB2 to the host); one that goes on
 * keeps its headers, read as its bytes come, and counts at the listed
 * segment of its side where it ends. */
RT_INTERNAL DWORD rt_smb2(state *s, const seen *x)
{
    smb2_part *part = &x->fl->smb2[x->side];
    int listed = xu_has(x->f, NMX_PROTO_SMB2);
    xu_msg m;
    if (!xu_tcp_payload_of(x->f, &x->g, &m))
        return NMERR_SUCCESS;
    DWORD rc = NMERR_SUCCESS, at = 0;
    if (part->total) { /* the rest of a message that began earlier */
        uint32_t left = part->total - part->seen, here = m.len < left ? m.len : left;
        smb2_read(part, m.p, here);
        if (part->seen < part->total)
            return NMERR_SUCCESS; /* goes on */
        if (listed)
            rc = smb2_done(s, x, part);
        part->total = 0;
        at = here;
    }
    while (rc == NMERR_SUCCESS && at + 8 <= m.len && m.p[at] == 0 && !memcmp(m.p + at + 4, "\xfeSMB", 4)) {
        uint32_t plen = (uint32_t)m.p[at + 1] << 16 | (uint32_t)m.p[at + 2] << 8 | m.p[at + 3];
        uint32_t here = m.len - at - 4 < plen ? m.len - at - 4 : plen;
        smb2_part fresh = {.next = 1, .total = plen}; /* the first header at offset 0 */
        smb2_read(&fresh, m.p + at + 4, here);
        if (here < plen) { /* goes on in later segments */
            *part = fresh;
            return rc;
        }
        if (listed)
            rc = smb2_done(s, x, &fresh);
        at += 4 + plen;
    }
    return rc;
}

RT_INTERNAL void rt_proto_init(state *s)
{
    xu_map_init(&s->dns, s->key, sizeof(dns_key), sizeof(dns_tx));
    xu_map_init(&s->smb2, s->key, sizeof(smb2_key), sizeof(smb2_req));
}
