/* The link layers beyond Ethernet and cooked captures (SPEC C1, C6; issue
 * 11 item 2): 802.11 with or without radiotap, Cisco HDLC, PPP; 802.2 LLC
 * with SNAP; and the layer-2 control protocols it carries (STP, CDP). LLDP
 * and VRRP, which have their own Ethertype and IP protocol, are listed by
 * decode.c. Only what is needed to find the datagram inside is read: the
 * control protocols are listed, not decoded.
 */
#define _DEFAULT_SOURCE /* u_char & co. in <pcap/pcap.h> */
#include "capture/decode_internal.h"

#include <pcap/dlt.h>

typedef nmx__dec dec;

/* ---- 802.2 LLC and SNAP ---- */

#define SAP_STP 0x42
#define SAP_SNAP 0xaa
#define OUI_ETHERTYPE 0x000000u /* RFC 1042: the PID is an Ethertype */
#define OUI_BRIDGE_TUNNEL 0x0000f8u /* 802.1H: likewise */
#define OUI_CISCO 0x00000cu
#define PID_CISCO_CDP 0x2000
#define PID_CISCO_PVSTP 0x010b /* Cisco's per-VLAN spanning tree */

static void snap(dec *s, uint32_t off) {
    if (!nmx__have(s, off, 5)) {
        nmx__truncated(s);
        return;
    }
    uint32_t oui = (uint32_t)s->b[off] << 16 | (uint32_t)s->b[off + 1] << 8 | s->b[off + 2];
    uint16_t pid = nmx__be16(s, off + 3);
    if (oui == OUI_ETHERTYPE || oui == OUI_BRIDGE_TUNNEL)
        nmx__dec_ethertype(s, pid, off + 5);
    else if (oui == OUI_CISCO && pid == PID_CISCO_CDP)
        (void)nmx__layer(s, NMX_PROTO_CDP, off + 5);
    else if (oui == OUI_CISCO && pid == PID_CISCO_PVSTP)
        (void)nmx__layer(s, NMX_PROTO_STP, off + 5);
    else
        nmx__payload(s, off + 5);
}

void nmx__dec_llc(dec *s, uint32_t off) {
    /* Novell's "raw 802.3": IPX straight after the length, no LLC */
    if (nmx__have(s, off, 2) && s->b[off] == 0xff && s->b[off + 1] == 0xff) {
        nmx__payload(s, off);
        return;
    }
    if (!nmx__header(s, NMX_PROTO_LLC, off, 3))
        return;
    uint8_t dsap = s->b[off], ctl = s->b[off + 2];
    uint32_t hl = (ctl & 3) == 3 ? 3 : 4; /* U format: 1-byte control; I and S: 2 */
    if (!nmx__have(s, off, hl)) {
        nmx__truncated(s);
        return;
    }
    if (dsap == SAP_SNAP && s->b[off + 1] == SAP_SNAP && hl == 3)
        snap(s, off + 3);
    else if (dsap == SAP_STP)
        (void)nmx__layer(s, NMX_PROTO_STP, off + hl);
    else
        nmx__payload(s, off + hl);
}

/* ---- 802.11 ---- */

#define WLAN_TYPE_DATA 2
#define WLAN_TO_FROM_DS 0x03 /* both set: a fourth address */
#define WLAN_PROTECTED 0x40
#define WLAN_ORDER 0x80      /* with QoS: an HT control field */
#define WLAN_SUB_QOS 0x08
#define WLAN_SUB_NODATA 0x04 /* Null, QoS Null, CF-Ack, CF-Poll: no body */
#define WLAN_QOS_AMSDU 0x80  /* in the QoS control's first byte */

void nmx__dec_ieee80211(dec *s, uint32_t off) {
    if (!nmx__header(s, NMX_PROTO_IEEE80211, off, 2))
        return;
    uint8_t fc0 = s->b[off], fc1 = s->b[off + 1];
    unsigned type = (fc0 >> 2) & 3, sub = fc0 >> 4;
    if ((fc0 & 3) != 0) { /* protocol version 0 is the only one */
        nmx__malformed(s);
        return;
    }
    if (type != WLAN_TYPE_DATA) { /* management, control: no datagram inside */
        uint32_t hl = type == 0 ? 24 : 0;
        if (hl && nmx__have(s, off, hl))
            nmx__payload(s, off + hl + ((fc1 & WLAN_ORDER) ? 4 : 0));
        return;
    }
    uint32_t hl = 24, qos = 0;
    if ((fc1 & WLAN_TO_FROM_DS) == WLAN_TO_FROM_DS)
        hl += 6;
    if (sub & WLAN_SUB_QOS) {
        qos = off + hl;
        hl += 2;
        if (fc1 & WLAN_ORDER)
            hl += 4;
    }
    if (!nmx__have(s, off, hl)) {
        nmx__truncated(s);
        return;
    }
    uint32_t p = off + hl;
    if (sub & WLAN_SUB_NODATA)
        return;
    if (fc1 & WLAN_PROTECTED) { /* encrypted: opaque */
        nmx__payload(s, p);
        return;
    }
    if (qos && (s->b[qos] & WLAN_QOS_AMSDU)) /* A-MSDU: the first subframe (DA, SA, length) */
        p += 14;
    nmx__dec_llc(s, p);
}

/* Radiotap: a little-endian header of its own length before the 802.11
 * frame. */
static void radiotap(dec *s) {
    if (!nmx__header(s, NMX_PROTO_RADIOTAP, 0, 4))
        return;
    uint32_t len = nmx__le16(s, 2);
    if (len < 8) { /* (Wireshark reads on whatever the version byte says) */
        nmx__malformed(s);
        return;
    }
    if (len > s->n) {
        nmx__truncated(s);
        return;
    }
    nmx__dec_ieee80211(s, len);
}

/* ---- Cisco HDLC, PPP link types ---- */

#define CHDLC_SLARP 0x8035 /* not RARP here: Cisco's serial-line ARP */
#define CHDLC_OSI 0xfefe

static void chdlc(dec *s) {
    if (!nmx__header(s, NMX_PROTO_CHDLC, 0, 4))
        return;
    uint16_t proto = nmx__be16(s, 2);
    if (proto == CHDLC_SLARP || proto == CHDLC_OSI)
        nmx__payload(s, 4);
    else
        nmx__dec_ethertype(s, proto, 4);
}

int nmx__dec_link(dec *s, int dlt) {
    switch (dlt) {
    case DLT_IEEE802_11_RADIO:
        radiotap(s);
        return 1;
    case DLT_IEEE802_11:
        nmx__dec_ieee80211(s, 0);
        return 1;
    case DLT_C_HDLC:
        chdlc(s);
        return 1;
    case DLT_PPP:
        nmx__dec_ppp(s, 0);
        return 1;
    case DLT_PPP_SERIAL: /* PPP in HDLC-like framing, or Cisco HDLC (address 0x0f/0x8f) */
        if (nmx__have(s, 0, 1) && (s->b[0] == 0x0f || s->b[0] == 0x8f))
            chdlc(s);
        else
            nmx__dec_ppp(s, 0);
        return 1;
    case DLT_PPP_ETHER: /* PPPoE without its Ethernet header */
        nmx__dec_pppoe(s, 0x8864, 0);
        return 1;
    default:
        return 0;
    }
}
