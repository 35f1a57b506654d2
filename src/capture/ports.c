/* The registered ports (ports.h): Wireshark 4.0's port for each protocol we
 * recognise, as tables indexed by port so that a lookup costs a load. */
#include "capture/ports.h"

#include <nmexpert/netmon.h>

const uint8_t nmx__udp_ports[65536] = {
    [53] = NMX_PROTO_DNS,       [5353] = NMX_PROTO_MDNS,    [5355] = NMX_PROTO_LLMNR,  [137] = NMX_PROTO_NBNS,
    [138] = NMX_PROTO_NBDGM,    [67] = NMX_PROTO_DHCP,      [68] = NMX_PROTO_DHCP,     [546] = NMX_PROTO_DHCPV6,
    [547] = NMX_PROTO_DHCPV6,   [123] = NMX_PROTO_NTP,      [161] = NMX_PROTO_SNMP,    [162] = NMX_PROTO_SNMP,
    [514] = NMX_PROTO_SYSLOG,   [88] = NMX_PROTO_KERBEROS,  [5060] = NMX_PROTO_SIP,    [4789] = NMX_PROTO_VXLAN,
    [6081] = NMX_PROTO_GENEVE,  [2152] = NMX_PROTO_GTPU,    [2123] = NMX_PROTO_GTPC,   [3544] = NMX_PROTO_TEREDO,
    [6635] = NMX_PROTO_MPLS,
};

const uint8_t nmx__tcp_ports[65536] = {
    [20] = NMX_PROTO_FTP_DATA, [21] = NMX_PROTO_FTP,    [22] = NMX_PROTO_SSH,     [25] = NMX_PROTO_SMTP,
    [587] = NMX_PROTO_SMTP,    [53] = NMX_PROTO_DNS,    [80] = NMX_PROTO_HTTP,    [1900] = NMX_PROTO_HTTP,
    [2710] = NMX_PROTO_HTTP,   [2869] = NMX_PROTO_HTTP, [3128] = NMX_PROTO_HTTP,  [3132] = NMX_PROTO_HTTP,
    [5985] = NMX_PROTO_HTTP,   [8080] = NMX_PROTO_HTTP, [8088] = NMX_PROTO_HTTP,  [11371] = NMX_PROTO_HTTP,
    [88] = NMX_PROTO_KERBEROS, [110] = NMX_PROTO_POP,   [139] = NMX_PROTO_NBSS,   [445] = NMX_PROTO_NBSS,
    [143] = NMX_PROTO_IMAP,    [179] = NMX_PROTO_BGP,   [389] = NMX_PROTO_LDAP,   [3268] = NMX_PROTO_LDAP,
    [102] = NMX_PROTO_TPKT,    [3389] = NMX_PROTO_TPKT, [443] = NMX_PROTO_TLS,    [465] = NMX_PROTO_TLS,
    [636] = NMX_PROTO_TLS,     [853] = NMX_PROTO_TLS,   [989] = NMX_PROTO_TLS,    [990] = NMX_PROTO_TLS,
    [992] = NMX_PROTO_TLS,     [993] = NMX_PROTO_TLS,   [994] = NMX_PROTO_TLS,    [995] = NMX_PROTO_TLS,
    [5061] = NMX_PROTO_TLS,    [5060] = NMX_PROTO_SIP,
};
