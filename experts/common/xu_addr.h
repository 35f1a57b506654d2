/* Addresses as tshark -n prints them (header-only). */
#ifndef NMX_XU_ADDR_H
#define NMX_XU_ADDR_H

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>

/* fam: 0 Ethernet (6 bytes), 4 IPv4, 6 IPv6 (RFC 5952, glibc's inet_ntop). */
static inline void xu_fmt_addr(char *buf, size_t len, int fam, const uint8_t *a)
{
    if (fam == 4)
        snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
    else if (fam == 6) {
        if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len))
            snprintf(buf, len, "?");
    } else
        snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* "10.0.0.1:80", "[2001:db8::1]:80" */
static inline void xu_fmt_endpoint(char *buf, size_t len, int fam, const uint8_t *a, uint16_t port)
{
    char s[64];
    xu_fmt_addr(s, sizeof s, fam, a);
    snprintf(buf, len, fam == 6 ? "[%s]:%u" : "%s:%u", s, port);
}

#endif
