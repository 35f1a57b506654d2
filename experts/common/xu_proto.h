/* Protocol ids (netmon.h NMX_PROTO_*) by the names Wireshark gives them in
 * frame.protocols and -z io,phs (header-only). */
#ifndef NMX_XU_PROTO_H
#define NMX_XU_PROTO_H

#include <nmexpert/netmon.h>

#include <string.h>

#define XU_NPROTO 128 /* ids 0..127 */

static const char *const xu_proto_names[XU_NPROTO] = {
    [NMX_PROTO_ETHERNET] = "eth",   [NMX_PROTO_VLAN] = "vlan",         [NMX_PROTO_SLL] = "sll",
    [NMX_PROTO_SLL2] = "sll",       [NMX_PROTO_NULL] = "null",         [NMX_PROTO_ARP] = "arp",
    [NMX_PROTO_IPV4] = "ip",        [NMX_PROTO_IPV6] = "ipv6",         [NMX_PROTO_TCP] = "tcp",
    [NMX_PROTO_UDP] = "udp",        [NMX_PROTO_ICMP] = "icmp",         [NMX_PROTO_ICMPV6] = "icmpv6",
    [NMX_PROTO_MPLS] = "mpls",      [NMX_PROTO_PPPOE] = "pppoes",      [NMX_PROTO_PPP] = "ppp",
    [NMX_PROTO_GRE] = "gre",        [NMX_PROTO_ERSPAN] = "erspan",     [NMX_PROTO_VXLAN] = "vxlan",
    [NMX_PROTO_GENEVE] = "geneve",  [NMX_PROTO_GTPU] = "gtp",          [NMX_PROTO_TEREDO] = "teredo",
    [NMX_PROTO_IEEE80211] = "wlan", [NMX_PROTO_RADIOTAP] = "radiotap", [NMX_PROTO_CHDLC] = "chdlc",
    [NMX_PROTO_LLC] = "llc",        [NMX_PROTO_STP] = "stp",           [NMX_PROTO_LLDP] = "lldp",
    [NMX_PROTO_CDP] = "cdp",        [NMX_PROTO_VRRP] = "vrrp",         [NMX_PROTO_DNS] = "dns",
    [NMX_PROTO_MDNS] = "mdns",      [NMX_PROTO_LLMNR] = "llmnr",       [NMX_PROTO_NBNS] = "nbns",
    [NMX_PROTO_DHCP] = "dhcp",      [NMX_PROTO_DHCPV6] = "dhcpv6",     [NMX_PROTO_NTP] = "ntp",
    [NMX_PROTO_SNMP] = "snmp",      [NMX_PROTO_SYSLOG] = "syslog",     [NMX_PROTO_SIP] = "sip",
    [NMX_PROTO_RTP] = "rtp",        [NMX_PROTO_QUIC] = "quic",         [NMX_PROTO_HTTP] = "http",
    [NMX_PROTO_TLS] = "tls",        [NMX_PROTO_SSH] = "ssh",           [NMX_PROTO_SMB] = "smb",
    [NMX_PROTO_SMB2] = "smb2",      [NMX_PROTO_FTP] = "ftp",           [NMX_PROTO_SMTP] = "smtp",
    [NMX_PROTO_POP] = "pop",        [NMX_PROTO_IMAP] = "imap",         [NMX_PROTO_LDAP] = "ldap",
    [NMX_PROTO_KERBEROS] = "kerberos", [NMX_PROTO_RDP] = "rdp",        [NMX_PROTO_BGP] = "bgp",
    [NMX_PROTO_NBSS] = "nbss",      [NMX_PROTO_NBDGM] = "nbdgm",       [NMX_PROTO_TPKT] = "tpkt",
    [NMX_PROTO_COTP] = "cotp",      [NMX_PROTO_FTP_DATA] = "ftp-data", [NMX_PROTO_SDP] = "sdp",
    [NMX_PROTO_RTCP] = "rtcp",      [NMX_PROTO_GTPC] = "gtp",
};

/* The name of id p, or NULL for an id without one (PAYLOAD among them). */
static inline const char *xu_proto_name(unsigned p)
{
    return p < XU_NPROTO ? xu_proto_names[p] : NULL;
}

/* The id called `name` (the first id of a shared name: "sll" is SLL), or -1. */
static inline int xu_proto_id(const char *name)
{
    for (unsigned p = 0; p < XU_NPROTO; p++)
        if (xu_proto_names[p] && !strcmp(xu_proto_names[p], name))
            return (int)p;
    return -1;
}

#endif
