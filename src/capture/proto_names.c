/* nmx_proto_name: a short lower-case name for every NMX_PROTO_* id
 * (netmon.h). Where Wireshark has a frame.protocols name for the same
 * layer it is usually the same word; docs/RECOGNITION.md maps them all. */
#include <nmexpert/capture.h>

const char *nmx_proto_name(unsigned proto) {
    static const char *const names[] = {
        [NMX_PROTO_ETHERNET] = "ethernet", [NMX_PROTO_VLAN] = "vlan",       [NMX_PROTO_SLL] = "sll",
        [NMX_PROTO_SLL2] = "sll2",         [NMX_PROTO_NULL] = "null",       [NMX_PROTO_ARP] = "arp",
        [NMX_PROTO_IPV4] = "ipv4",         [NMX_PROTO_IPV6] = "ipv6",       [NMX_PROTO_TCP] = "tcp",
        [NMX_PROTO_UDP] = "udp",           [NMX_PROTO_ICMP] = "icmp",       [NMX_PROTO_ICMPV6] = "icmpv6",
        [NMX_PROTO_PAYLOAD] = "payload",   [NMX_PROTO_MPLS] = "mpls",       [NMX_PROTO_PPPOE] = "pppoe",
        [NMX_PROTO_PPP] = "ppp",           [NMX_PROTO_GRE] = "gre",         [NMX_PROTO_ERSPAN] = "erspan",
        [NMX_PROTO_VXLAN] = "vxlan",       [NMX_PROTO_GENEVE] = "geneve",   [NMX_PROTO_GTPU] = "gtp-u",
        [NMX_PROTO_TEREDO] = "teredo",     [NMX_PROTO_IEEE80211] = "ieee802.11",
        [NMX_PROTO_RADIOTAP] = "radiotap", [NMX_PROTO_CHDLC] = "chdlc",     [NMX_PROTO_LLC] = "llc",
        [NMX_PROTO_STP] = "stp",           [NMX_PROTO_LLDP] = "lldp",       [NMX_PROTO_CDP] = "cdp",
        [NMX_PROTO_VRRP] = "vrrp",         [NMX_PROTO_DNS] = "dns",         [NMX_PROTO_MDNS] = "mdns",
        [NMX_PROTO_LLMNR] = "llmnr",       [NMX_PROTO_NBNS] = "nbns",       [NMX_PROTO_DHCP] = "dhcp",
        [NMX_PROTO_DHCPV6] = "dhcpv6",     [NMX_PROTO_NTP] = "ntp",         [NMX_PROTO_SNMP] = "snmp",
        [NMX_PROTO_SYSLOG] = "syslog",     [NMX_PROTO_SIP] = "sip",         [NMX_PROTO_RTP] = "rtp",
        [NMX_PROTO_QUIC] = "quic",         [NMX_PROTO_HTTP] = "http",       [NMX_PROTO_TLS] = "tls",
        [NMX_PROTO_SSH] = "ssh",           [NMX_PROTO_SMB] = "smb",         [NMX_PROTO_SMB2] = "smb2",
        [NMX_PROTO_FTP] = "ftp",           [NMX_PROTO_SMTP] = "smtp",       [NMX_PROTO_POP] = "pop",
        [NMX_PROTO_IMAP] = "imap",         [NMX_PROTO_LDAP] = "ldap",       [NMX_PROTO_KERBEROS] = "kerberos",
        [NMX_PROTO_RDP] = "rdp",           [NMX_PROTO_BGP] = "bgp",         [NMX_PROTO_NBSS] = "nbss",
        [NMX_PROTO_NBDGM] = "nbdgm",       [NMX_PROTO_TPKT] = "tpkt",       [NMX_PROTO_COTP] = "cotp",
        [NMX_PROTO_FTP_DATA] = "ftp-data", [NMX_PROTO_SDP] = "sdp",         [NMX_PROTO_RTCP] = "rtcp",
        [NMX_PROTO_GTPC] = "gtp-c",
    };
    if (proto >= sizeof names / sizeof names[0] || !names[proto])
        return "?";
    return names[proto];
}
