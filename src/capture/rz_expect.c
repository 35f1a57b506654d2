/* Conversations announced by others (rz_internal.h): FTP's data
 * connections (the replies to PASV and EPSV) and the RTP and RTCP streams
 * an SDP body offers, in a table by (address, port). */
#include "capture/rz_internal.h"
#include "capture/text.h"

#include <stdlib.h>
#include <string.h>

static uint32_t slot(const uint8_t *addr, uint8_t ip_version, uint8_t ip_proto, uint16_t port) {
    uint32_t h = 2166136261u ^ ip_proto ^ (uint32_t)port << 8;
    for (unsigned i = 0; i < (ip_version == 6 ? 16u : 4u); i++)
        h = (h ^ addr[i]) * 16777619u;
    return (h ^ h >> 15) & (NMX_RZ_EXPECT_SLOTS - 1);
}

void nmx__rz_expect_add(nmx__recognizer *rz, const uint8_t *addr, uint8_t ip_version, uint8_t ip_proto,
                        uint16_t port, uint16_t proto) {
    if (!rz->expect && !(rz->expect = calloc(NMX_RZ_EXPECT_SLOTS, sizeof *rz->expect)))
        return; /* memory refused: nothing is announced */
    nmx__rz_expect *e = &rz->expect[slot(addr, ip_version, ip_proto, port)];
    *e = (nmx__rz_expect){{0}, port, ip_version, ip_proto, proto};
    memcpy(e->addr, addr, ip_version == 6 ? 16 : 4);
    rz->nexpect++;
}

static uint16_t announced(const nmx__recognizer *rz, const nmx_decoded *d, const uint8_t *addr, uint16_t port) {
    const nmx__rz_expect *e = &rz->expect[slot(addr, d->ip_version, d->ip_proto, port)];
    int same = e->proto && e->port == port && e->ip_version == d->ip_version && e->ip_proto == d->ip_proto &&
               memcmp(e->addr, addr, d->ip_version == 6 ? 16 : 4) == 0;
    return same ? e->proto : 0;
}

uint16_t nmx__rz_expected(const nmx__recognizer *rz, const nmx_decoded *d) {
    if (!rz->expect)
        return 0;
    uint16_t p = announced(rz, d, d->ip_src, d->sport);
    return p ? p : announced(rz, d, d->ip_dst, d->dport);
}

/* ---- FTP ---- */

/* Up to `max` decimal numbers separated by anything else, from m. */
static unsigned numbers(const char *m, uint32_t len, unsigned long *out, unsigned max) {
    unsigned n = 0;
    uint32_t i = 0;
    while (i < len && n < max) {
        while (i < len && (m[i] < '0' || m[i] > '9'))
            i++;
        if (i == len)
            break;
        unsigned long v = 0;
        while (i < len && m[i] >= '0' && m[i] <= '9' && v < 100000)
            v = v * 10 + (unsigned long)(m[i++] - '0');
        out[n++] = v;
    }
    return n;
}

/* 227 Entering Passive Mode (h1,h2,h3,h4,p1,p2): the address and port
 * it names. */
static void ftp_hostport(nmx__recognizer *rz, const char *m, uint32_t len) {
    unsigned long v[6];
    if (numbers(m, len, v, 6) != 6)
        return;
    for (int i = 0; i < 6; i++)
        if (v[i] > 255)
            return;
    uint8_t a[4] = {(uint8_t)v[0], (uint8_t)v[1], (uint8_t)v[2], (uint8_t)v[3]};
    nmx__rz_expect_add(rz, a, 4, 6, (uint16_t)(v[4] << 8 | v[5]), NMX_PROTO_FTP_DATA);
}

/* 229 Entering Extended Passive Mode (|||port|): the server that replied,
 * at that port (the fields between the delimiters, the first character
 * after the parenthesis). */
static void ftp_epsv(nmx__recognizer *rz, const char *m, uint32_t len, const nmx_decoded *d) {
    const char *open = memchr(m, '(', len);
    uint32_t o = open ? (uint32_t)(open - m) + 1 : len;
    if (o >= len)
        return;
    char delim = m[o];
    uint32_t start[4], n = 0;
    for (uint32_t i = o; i < len && n < 4; i++)
        if (m[i] == delim)
            start[n++] = i + 1;
    unsigned long port;
    if (n < 4 || numbers(m + start[2], start[3] - start[2], &port, 1) != 1 || port == 0 || port > 65535)
        return;
    nmx__rz_expect_add(rz, d->ip_src, d->ip_version, 6, (uint16_t)port, NMX_PROTO_FTP_DATA);
}

void nmx__rz_ftp_control(nmx__recognizer *rz, const char *m, uint32_t len, const nmx_decoded *d) {
    /* only the replies 227 and 229 announce anything, each a line of its own */
    if (len < 4 || m[0] != '2' || m[1] != '2' || (m[2] != '7' && m[2] != '9'))
        return;
    uint32_t ll;
    (void)nmx__next_line(m, len, 0, &ll);
    if (m[2] == '7')
        ftp_hostport(rz, m + 3, ll - 3);
    else
        ftp_epsv(rz, m, ll, d);
}

/* ---- SDP ---- */

/* c=IN IP4 a.b.c.d / c=IN IP6 ...; m=audio PORT RTP/AVP ... */
void nmx__rz_sdp(nmx__recognizer *rz, const char *m, uint32_t len, const nmx_decoded *d) {
    uint8_t addr[16];
    memcpy(addr, d->ip_src, 16);
    uint8_t ver = d->ip_version;
    for (uint32_t at = 0, ll, next; at < len; at = next) {
        next = nmx__next_line(m, len, at, &ll);
        const char *line = m + at;
        unsigned long v[4];
        if (nmx__text_prefix(line, ll, "c=IN IP4 ") && numbers(line + 9, ll - 9, v, 4) == 4 && v[0] < 256 &&
            v[1] < 256 && v[2] < 256 && v[3] < 256) {
            memset(addr, 0, sizeof addr);
            addr[0] = (uint8_t)v[0], addr[1] = (uint8_t)v[1], addr[2] = (uint8_t)v[2], addr[3] = (uint8_t)v[3];
            ver = 4;
        } else if (nmx__text_prefix(line, ll, "m=") && numbers(line + 2, ll - 2, v, 1) == 1 && v[0] > 0 &&
                   v[0] < 65535) {
            nmx__rz_expect_add(rz, addr, ver, 17, (uint16_t)v[0], NMX_PROTO_RTP);
            nmx__rz_expect_add(rz, addr, ver, 17, (uint16_t)(v[0] + 1), NMX_PROTO_RTCP);
        }
    }
}
