#!/bin/sh
# Records samples/netns-lab.pcap: real traffic between network namespaces on
# this machine (see samples/README.md). Needs root, iproute2, nftables,
# tcpdump, dnsmasq (dnsmasq-base), dropbear and dbclient (dropbear-bin),
# openssl, curl, ping (iputils-ping), ethtool and python3. Leaves nothing behind: the namespaces, their
# links and the scratch folder go at the end, and /root and /etc are only
# ever replaced inside private mount namespaces.
#
#   client1  10.0.1.10  fd00:1::10  --+
#                                      router -- servers 10.0.9.1 / fd00:9::1  (HTTP, HTTPS, SSH)
#   client2  10.0.2.20  fd00:2::20  --+         10.0.9.53 / fd00:9::53 (DNS)
#
# Captured: the router's link to the servers (client1's traffic) and its
# link to client2, whose frames get an 802.1Q tag (VLAN 10) afterwards: the
# kernel this ran on has neither the 8021q module nor VLAN-filtering
# bridges, so the tag is written into the captured frames, as a trunk port
# would carry them. The router drops about 3 % of the web server's TCP
# segments (nftables), for retransmissions; the web server thinks 5-60 ms
# before each answer, so response times are not all zero.
#
# Usage: sh samples/record-netns-lab.sh [OUTPUT]   (default samples/netns-lab.pcap)
set -eu
out=${1:-$(dirname "$0")/netns-lab.pcap}
case $out in /*) ;; *) out=$(pwd)/$out ;; esac
[ "$(id -u)" -eq 0 ] || { echo "record-netns-lab.sh: run as root" >&2; exit 2; }
for t in ip nft tcpdump dnsmasq dropbear dropbearkey dbclient openssl curl ping ethtool python3; do
    command -v $t >/dev/null || { echo "record-netns-lab.sh: $t is missing" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/nmx-lab.XXXXXX)
NS="nmx-c1 nmx-c2 nmx-r nmx-s"
cleanup() {
    for p in $(cat "$tmp"/*.pid 2>/dev/null); do kill "$p" 2>/dev/null || true; done
    sleep 1
    for n in $NS; do ip netns del "$n" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
nsx() { ns=$1; shift; ip netns exec "$ns" "$@"; }
bg() { # bg NAME NS COMMAND...: start in the background, remember the pid
    name=$1 ns=$2; shift 2
    ip netns exec "$ns" "$@" >"$tmp/$name.log" 2>&1 &
    echo $! >"$tmp/$name.pid"
}

# ---- the network ----
for n in $NS; do ip netns add "$n"; nsx "$n" ip link set lo up; done
link() { # link NS_A IF_A NS_B IF_B: a veth pair, named in its namespaces (not here: eth0 exists)
    ip link add nmxlab-a type veth peer name nmxlab-b
    ip link set nmxlab-a netns "$1"
    ip link set nmxlab-b netns "$3"
    nsx "$1" ip link set nmxlab-a name "$2"
    nsx "$3" ip link set nmxlab-b name "$4"
    # frames as an Ethernet wire carries them: no segmentation or receive offload
    nsx "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1
    nsx "$3" ethtool -K "$4" tso off gso off gro off tx off rx off >/dev/null 2>&1
    nsx "$1" ip link set "$2" up
    nsx "$3" ip link set "$4" up
}
link nmx-c1 eth0 nmx-r c1
link nmx-c2 eth0 nmx-r c2
link nmx-s eth0 nmx-r srv
nsx nmx-c1 ip addr add 10.0.1.10/24 dev eth0
nsx nmx-c1 ip addr add fd00:1::10/64 dev eth0 nodad
nsx nmx-c2 ip addr add 10.0.2.20/24 dev eth0
nsx nmx-c2 ip addr add fd00:2::20/64 dev eth0 nodad
nsx nmx-r ip addr add 10.0.1.1/24 dev c1
nsx nmx-r ip addr add fd00:1::1/64 dev c1 nodad
nsx nmx-r ip addr add 10.0.2.1/24 dev c2
nsx nmx-r ip addr add fd00:2::1/64 dev c2 nodad
nsx nmx-r ip addr add 10.0.9.254/24 dev srv
nsx nmx-r ip addr add fd00:9::254/64 dev srv nodad
for a in 10.0.9.1/24 10.0.9.53/24; do nsx nmx-s ip addr add $a dev eth0; done
for a in fd00:9::1/64 fd00:9::53/64; do nsx nmx-s ip addr add $a dev eth0 nodad; done
nsx nmx-c1 ip route add default via 10.0.1.1
nsx nmx-c1 ip -6 route add default via fd00:1::1
nsx nmx-c2 ip route add default via 10.0.2.1
nsx nmx-c2 ip -6 route add default via fd00:2::1
nsx nmx-s ip route add default via 10.0.9.254
nsx nmx-s ip -6 route add default via fd00:9::254
nsx nmx-r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
# some loss: about 3 % of the web server's segments, on their way out
nsx nmx-r nft add table inet lab
nsx nmx-r nft add chain inet lab relay '{ type filter hook forward priority 0; }'
nsx nmx-r nft add rule inet lab relay tcp sport 80 numgen random mod 100 '<' 3 drop

# ---- the servers ----
mkdir -p "$tmp/www" "$tmp/home/.ssh" "$tmp/client/.ssh"
python3 - "$tmp/www" <<'EOF'
import os, random, sys
random.seed(11)
d = sys.argv[1]
open(os.path.join(d, "index.html"), "w").write("<html><body>" + "<p>nmexpert lab</p>" * 40 + "</body></html>\n")
for name, size in (("logo.png", 9000), ("report.pdf", 120000), ("data.json", 30000)):
    open(os.path.join(d, name), "wb").write(bytes(random.getrandbits(8) for _ in range(size)))
EOF
cat >"$tmp/web.py" <<'EOF'
# A web server that thinks 5-60 ms before each answer, on IPv4 and IPv6.
import http.server, random, socket, sys, threading, time
root = sys.argv[1]
class H(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def handle_one_request(self):
        time.sleep(random.uniform(0.005, 0.06))
        super().handle_one_request()
    def log_message(self, *a):
        pass
class S6(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
v4 = http.server.ThreadingHTTPServer(("10.0.9.1", 80), H)
v6 = S6(("fd00:9::1", 80), H)
threading.Thread(target=v6.serve_forever, daemon=True).start()
v4.serve_forever()
EOF
bg web nmx-s python3 "$tmp/web.py" "$tmp/www"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 30 \
    -subj "/CN=www.example.test" >/dev/null 2>&1
bg tls nmx-s openssl s_server -quiet -www -accept 443 -cert "$tmp/cert.pem" -key "$tmp/key.pem"
bg dns nmx-s dnsmasq -k -C /dev/null --no-resolv --no-hosts --bind-interfaces \
    --listen-address=10.0.9.53 --listen-address=fd00:9::53 --local=/example.test/ \
    --address=/www.example.test/10.0.9.1 --address=/www.example.test/fd00:9::1 \
    --host-record=ssh.example.test,10.0.9.1,fd00:9::1 --pid-file="$tmp/dnsmasq.pidfile" --user=root
dropbearkey -t ed25519 -f "$tmp/hostkey" >/dev/null 2>&1
dropbearkey -t ed25519 -f "$tmp/client/id" 2>/dev/null | grep '^ssh-' >"$tmp/home/.ssh/authorized_keys"
chmod 700 "$tmp/home/.ssh"
chmod 600 "$tmp/home/.ssh/authorized_keys"
# /root is the scratch home in the server's own mount namespace only
bg ssh nmx-s unshare -m sh -c "mount --bind '$tmp/home' /root && exec dropbear -F -E -s -r '$tmp/hostkey' -p 22"
sleep 2

# ---- the capture ----
bg cap1 nmx-r tcpdump -n -U -s 0 -i srv -w "$tmp/srv.pcap" 'not net 10.0.2.0/24 and not net fd00:2::/64'
bg cap2 nmx-r tcpdump -n -U -s 0 -i c2 -w "$tmp/c2.pcap"
sleep 2

# ---- the traffic ----
dns() { # dns NS SERVER NAME TYPE: one query over UDP
    nsx "$1" python3 - "$2" "$3" "$4" <<'EOF'
import random, socket, struct, sys
server, name, qtype = sys.argv[1], sys.argv[2], {"A": 1, "AAAA": 28}[sys.argv[3]]
q = struct.pack(">HHHHHH", random.getrandbits(16), 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack(">HH", qtype, 1)
fam = socket.AF_INET6 if ":" in server else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, (server, 53))
try:
    s.recvfrom(2048)
except OSError:
    pass
EOF
}
web() { # web NS ADDRESS URL...: fetch over one connection, www.example.test being ADDRESS
    ns=$1 at=$2; shift 2
    set -- $(for u in "$@"; do echo "-o /dev/null $u"; done)
    nsx "$ns" curl -s -k --max-time 20 --resolve "www.example.test:80:$at" --resolve "www.example.test:443:$at" \
        "$@" || true
}
for round in 1 2 3; do
    for c in nmx-c1 nmx-c2; do
        dns $c 10.0.9.53 www.example.test A
        dns $c 10.0.9.53 www.example.test AAAA
        dns $c fd00:9::53 ssh.example.test AAAA
        dns $c 10.0.9.53 nowhere.example.test A
        web $c 10.0.9.1 http://www.example.test/ http://www.example.test/logo.png http://www.example.test/data.json
        web $c '[fd00:9::1]' http://www.example.test/report.pdf http://www.example.test/missing
        web $c 10.0.9.1 https://www.example.test/
        nsx $c ping -c 2 -i 0.2 -q 10.0.9.1 >/dev/null || true
        nsx $c ping -6 -c 1 -q fd00:9::1 >/dev/null || true
        nsx $c curl -s -o /dev/null --max-time 2 http://10.0.9.1:8080/ || true # refused: a reset
    done
    web nmx-c1 10.0.9.1 http://www.example.test/report.pdf
done
# an SSH session from each client: a command and its answer
for c in nmx-c1 nmx-c2; do
    nsx $c unshare -m sh -c "mount --bind '$tmp/client' /root && \
        dbclient -y -i /root/id root@10.0.9.1 'uname -s; ls /etc | head -20'" >/dev/null 2>&1 || true
done
sleep 2
kill "$(cat "$tmp/cap1.pid")" "$(cat "$tmp/cap2.pid")"
sleep 1

# ---- VLAN 10 on client2's segment, one file in time order ----
python3 - "$tmp/srv.pcap" "$tmp/c2.pcap" "$out" <<'EOF'
import struct, sys
def frames(path, tag):
    b = open(path, "rb").read()
    magic = struct.unpack("<I", b[:4])[0]
    e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    nano = struct.unpack(e + "I", b[:4])[0] == 0xa1b23c4d
    at = 24
    while at + 16 <= len(b):
        s, frac, cl, wl = struct.unpack(e + "IIII", b[at:at + 16])
        data = b[at + 16:at + 16 + cl]
        at += 16 + cl
        ns = s * 10**9 + (frac if nano else frac * 1000)
        if tag:  # an 802.1Q tag after the addresses: TPID 0x8100, PCP 0, VID 10
            data = data[:12] + b"\x81\x00\x00\x0a" + data[12:]
            cl += 4
            wl += 4
        yield ns, cl, wl, data
out = sorted(list(frames(sys.argv[1], False)) + list(frames(sys.argv[2], True)), key=lambda f: f[0])
with open(sys.argv[3], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b23c4d, 2, 4, 0, 0, 262144, 1))
    for ns, cl, wl, data in out:
        f.write(struct.pack("<IIII", ns // 10**9, ns % 10**9, cl, wl) + data)
print(f"{sys.argv[3]}: {len(out)} frames")
EOF
