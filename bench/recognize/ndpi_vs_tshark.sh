#!/bin/sh
# nDPI's conversation labels against tshark's per-frame frame.protocols, for
# docs/RECOGNITION.md (why nmexpert does not use nDPI). Never a test.
#
#   bench/recognize/ndpi_vs_tshark.sh BUILD [DIR...]    (default: the zeek corpus)
#
# BUILD/bench/recognize/nmx-ndpi-compare labels every frame with payload with
# its conversation's nDPI protocol, and gives the layers our recognizer lists;
# tshark (default preferences) gives each frame's protocols. For each of
# issue 11's protocols: the frames tshark lists it in, the frames nDPI's
# label names it, the frames we list it in, and how many of each tshark
# agrees with. nDPI's NetBIOS label is counted for nbns, nbdgm and nbss
# alike, its SMBv23 for smb2.
set -eu
build=$1
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -gt 0 ] || set -- "${NMX_SHARED_DIR:-$src/../shared}/captures/zeek"
tmp=$(mktemp -d /tmp/nmx-ndpi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$build/bench/recognize/nmx-ndpi-compare" "$@" >"$tmp/ndpi" 2>"$tmp/ndpi.time"
cut -f1 "$tmp/ndpi" | uniq >"$tmp/files"
# tshark per file, two at a time: "FILE<tab>FRAME<tab>protocols"
xargs -P 2 -I{} sh -c 'tshark -n -r "$1" -T fields -e frame.number -e frame.protocols 2>/dev/null |
    sed "s|^|$1\t|" > "$2/$(echo "$1" | md5sum | cut -c1-16).t"' _ {} "$tmp" <"$tmp/files"
cat "$tmp"/*.t >"$tmp/tshark"
awk -F '\t' '
    BEGIN {
        n = split("dns mdns llmnr nbns nbdgm dhcp dhcpv6 ntp snmp syslog sip rtp quic http tls ssh smb smb2 ftp ftp-data smtp pop imap ldap kerberos rdp bgp nbss", t, " ")
        for (i = 1; i <= n; i++) target[t[i]] = 1
        map["ftp_control"] = "ftp"; map["ftp_data"] = "ftp-data"; map["pop3"] = "pop"
        map["smbv1"] = "smb"; map["smbv23"] = "smb2"
    }
    FNR == NR { key = $1 "\t" $2; ndpi[key] = $3; ours[key] = ":" $4 ":"; next }
    {
        key = $1 "\t" $2
        if (!(key in ndpi)) next
        frames++
        delete have
        m = split($3, p, ":")
        for (i = 1; i <= m; i++) if (p[i] in target) have[p[i]] = 1
        l = ndpi[key]
        if (l in map) l = map[l]
        for (x in target) {
            g = (x == "nbns" || x == "nbdgm" || x == "nbss") ? (l == "netbios") : (l == x)
            o = index(ours[key], ":" x ":") > 0
            tsh[x] += (x in have); nd[x] += g; ndb[x] += (g && (x in have))
            our[x] += o; ourb[x] += (o && (x in have))
        }
    }
    END {
        printf "%-10s %8s %8s %12s %8s %12s\n", "protocol", "tshark", "nDPI", "nDPI&tshark", "ours", "ours&tshark"
        for (i = 1; i <= n; i++) {
            x = t[i]
            if (tsh[x] || nd[x] || our[x])
                printf "%-10s %8d %8d %12d %8d %12d\n", x, tsh[x], nd[x], ndb[x], our[x], ourb[x]
        }
        printf "%d frames\n", frames
    }' "$tmp/ndpi" "$tmp/tshark"
cat "$tmp/ndpi.time"
