/* Property Distribution's fields: their Wireshark names, what kind of value
 * each has, and how a frame's value is read (the outermost header that
 * carries the field, where tshark -T fields prints its first value). */
#ifndef NMX_PROPDIST_FIELDS_H
#define NMX_PROPDIST_FIELDS_H

#include "expert_util.h"
#include "xu_addr.h"
#include "xu_app.h"

enum { PD_NUMBER, PD_ADDRESS, PD_NAME };

enum {
    F_FRAME_LEN, F_ETH_TYPE, F_ETH_SRC, F_ETH_DST, F_IP_PROTO, F_IP_TTL, F_IP_LEN, F_IP_SRC, F_IP_DST,
    F_IPV6_SRC, F_IPV6_DST, F_TCP_SRCPORT, F_TCP_DSTPORT, F_TCP_WINDOW, F_UDP_SRCPORT, F_UDP_DSTPORT,
    F_DNS_QRY_NAME, F_HTTP_HOST, F_TLS_SNI, NFIELDS
};

typedef struct pd_field {
    const char *name;
    int kind;    /* PD_* */
    int fam;     /* addresses: 0 Ethernet, 4, 6 */
    int buckets; /* a length: also the plen-tree buckets */
} pd_field;

static const pd_field pd_fields[NFIELDS] = {
    [F_FRAME_LEN] = {"frame.len", PD_NUMBER, 0, 1},
    [F_ETH_TYPE] = {"eth.type", PD_NUMBER, 0, 0},
    [F_ETH_SRC] = {"eth.src", PD_ADDRESS, 0, 0},
    [F_ETH_DST] = {"eth.dst", PD_ADDRESS, 0, 0},
    [F_IP_PROTO] = {"ip.proto", PD_NUMBER, 0, 0},
    [F_IP_TTL] = {"ip.ttl", PD_NUMBER, 0, 0},
    [F_IP_LEN] = {"ip.len", PD_NUMBER, 0, 1},
    [F_IP_SRC] = {"ip.src", PD_ADDRESS, 4, 0},
    [F_IP_DST] = {"ip.dst", PD_ADDRESS, 4, 0},
    [F_IPV6_SRC] = {"ipv6.src", PD_ADDRESS, 6, 0},
    [F_IPV6_DST] = {"ipv6.dst", PD_ADDRESS, 6, 0},
    [F_TCP_SRCPORT] = {"tcp.srcport", PD_NUMBER, 0, 0},
    [F_TCP_DSTPORT] = {"tcp.dstport", PD_NUMBER, 0, 0},
    [F_TCP_WINDOW] = {"tcp.window_size_value", PD_NUMBER, 0, 0},
    [F_UDP_SRCPORT] = {"udp.srcport", PD_NUMBER, 0, 0},
    [F_UDP_DSTPORT] = {"udp.dstport", PD_NUMBER, 0, 0},
    [F_DNS_QRY_NAME] = {"dns.qry.name", PD_NAME, 0, 0},
    [F_HTTP_HOST] = {"http.host", PD_NAME, 0, 0},
    [F_TLS_SNI] = {"tls.handshake.extensions_server_name", PD_NAME, 0, 0},
};

static inline int pd_field_by_name(const char *name)
{
    for (int i = 0; i < NFIELDS; i++)
        if (strcmp(name, pd_fields[i].name) == 0)
            return i;
    return -1;
}

/* Names longer than this are cut (DNS names and server names are at most
 * 255 bytes; a longer Host header is rare). */
#define PD_MAX_TEXT 255

/* A value as its key: a number big-endian (memcmp orders it), an address
 * zero-padded to 16 bytes, a name's text zero-padded (memcmp is strcmp). */
typedef struct pd_value {
    uint32_t number;
    uint8_t key[PD_MAX_TEXT + 1];
} pd_value;

static inline size_t pd_key_size(const pd_field *f)
{
    return f->kind == PD_NUMBER ? 4 : f->kind == PD_ADDRESS ? 16 : PD_MAX_TEXT + 1;
}

static inline void pd_format(const pd_field *f, const uint8_t *key, char *buf, size_t len)
{
    if (f->kind == PD_ADDRESS)
        xu_fmt_addr(buf, len, f->fam, key);
    else if (f->kind == PD_NAME)
        snprintf(buf, len, "%s", (const char *)key);
    else if (f == &pd_fields[F_ETH_TYPE])
        snprintf(buf, len, "0x%04x", (unsigned)xu_be32(key)); /* as tshark -T fields prints it */
    else
        snprintf(buf, len, "%u", (unsigned)xu_be32(key));
}

/* IPv4 fields: Wireshark stops before them on a bogus version or header
 * length, and before ttl, proto and the addresses on a total length
 * shorter than the header (0 is TSO, accepted). */
static inline int pd_ipv4(const xu_frame *f, int field, DWORD *o)
{
    if (!xu_has(f, NMX_PROTO_IPV4))
        return 0;
    *o = xu_off(f, NMX_PROTO_IPV4);
    const uint8_t *p = f->bytes + *o;
    if (xu_avail(f, *o) < 4 || (p[0] >> 4) != 4 || (p[0] & 0x0f) < 5)
        return 0;
    uint16_t tot = xu_be16(p + 2);
    return field == F_IP_LEN || tot == 0 || tot >= (p[0] & 0x0f) * 4u;
}

/* A number field's value; 0 when the frame does not carry all its bytes. */
static inline int pd_number(const xu_frame *f, int field, uint32_t *v)
{
    DWORD o, at;
    unsigned proto;
    switch (field) {
    case F_FRAME_LEN:
        *v = f->wirelen;
        return 1;
    case F_ETH_TYPE:
        if (!xu_has(f, NMX_PROTO_ETHERNET) || xu_avail(f, o = xu_off(f, NMX_PROTO_ETHERNET)) < 14)
            return 0;
        *v = xu_be16(f->bytes + o + 12);
        return *v >= 0x0600; /* below: an 802.3 length (eth.len), not a type */
    case F_IP_LEN:
        if (!pd_ipv4(f, field, &o))
            return 0;
        /* 0 is TCP segmentation offload: Wireshark shows the length it
         * infers from the frame; a length beyond the frame it shows as it
         * is (flagged bogus) */
        *v = xu_be16(f->bytes + o + 2);
        if (*v == 0)
            *v = f->wirelen > o ? f->wirelen - o : 0;
        return 1;
    case F_IP_TTL:
    case F_IP_PROTO:
        at = field == F_IP_TTL ? 8 : 9;
        if (!pd_ipv4(f, field, &o) || xu_avail(f, o) < at + 1)
            return 0;
        *v = f->bytes[o + at];
        return 1;
    case F_TCP_SRCPORT: proto = NMX_PROTO_TCP, at = 0; break;
    case F_TCP_DSTPORT: proto = NMX_PROTO_TCP, at = 2; break;
    case F_TCP_WINDOW: proto = NMX_PROTO_TCP, at = 14; break;
    case F_UDP_SRCPORT: proto = NMX_PROTO_UDP, at = 0; break;
    case F_UDP_DSTPORT: proto = NMX_PROTO_UDP, at = 2; break;
    default: return 0;
    }
    if (!xu_has(f, proto) || xu_avail(f, o = xu_off(f, proto)) < at + 2)
        return 0;
    *v = xu_be16(f->bytes + o + at);
    return 1;
}

static inline int pd_address(const xu_frame *f, int field, uint8_t *key)
{
    DWORD o;
    switch (field) {
    case F_ETH_SRC:
    case F_ETH_DST:
        if (!xu_has(f, NMX_PROTO_ETHERNET) || xu_avail(f, o = xu_off(f, NMX_PROTO_ETHERNET)) < 12)
            return 0;
        memcpy(key, f->bytes + o + (field == F_ETH_SRC ? 6 : 0), 6);
        return 1;
    case F_IP_SRC:
    case F_IP_DST:
        if (!pd_ipv4(f, field, &o) || xu_avail(f, o) < 20)
            return 0;
        memcpy(key, f->bytes + o + (field == F_IP_SRC ? 12 : 16), 4);
        return 1;
    default: /* IPv6 */
        if (!xu_has(f, NMX_PROTO_IPV6) || xu_avail(f, o = xu_off(f, NMX_PROTO_IPV6)) < 40 ||
            (f->bytes[o] >> 4) != 6)
            return 0;
        memcpy(key, f->bytes + o + (field == F_IPV6_SRC ? 8 : 24), 16);
        return 1;
    }
}

/* A name field: from the first message of its protocol(s) in the frame. */
static inline int pd_name(const xu_frame *f, int field, char *out)
{
    xu_msg m;
    if (field == F_DNS_QRY_NAME) {
        static const unsigned dns[] = {NMX_PROTO_DNS, NMX_PROTO_MDNS, NMX_PROTO_LLMNR};
        for (unsigned i = 0; i < 3; i++)
            if (xu_msg_of(f, dns[i], &m))
                return xu_dns_qname(&m, out, PD_MAX_TEXT + 1);
        return 0;
    }
    if (field == F_HTTP_HOST) /* where the request's head is: the segment it starts in */
        return (xu_has(f, NMX_PROTO_HTTP) || xu_has(f, NMX_PROTO_PAYLOAD)) && xu_tcp_payload(f, &m) &&
               xu_http_is_request(&m) && xu_http_header(&m, "host:", out, PD_MAX_TEXT + 1);
    return xu_msg_of(f, NMX_PROTO_TLS, &m) && xu_tls_sni(&m, out, PD_MAX_TEXT + 1);
}

/* The frame's value of field f as a key (and, for numbers, *number). */
static inline int pd_value_of(const xu_frame *f, const pd_field *field, pd_value *v)
{
    int id = (int)(field - pd_fields);
    memset(v->key, 0, pd_key_size(field));
    if (field->kind == PD_ADDRESS)
        return pd_address(f, id, v->key);
    if (field->kind == PD_NAME)
        return pd_name(f, id, (char *)v->key);
    if (!pd_number(f, id, &v->number))
        return 0;
    v->key[0] = (uint8_t)(v->number >> 24);
    v->key[1] = (uint8_t)(v->number >> 16);
    v->key[2] = (uint8_t)(v->number >> 8);
    v->key[3] = (uint8_t)v->number;
    return 1;
}

#endif
