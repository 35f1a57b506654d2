#!/bin/sh
# All bundled experts over one capture against the corresponding tshark runs
# in the same run: io,phs (Protocol Distribution), endpoints,eth/ip/ipv6 (Top
# Users), and the tcp.analysis and http.time fields (TCP Retransmit, Server
# Response Time), in one tshark pass with -z and -T fields. Wall time of each
# side, best of N. Never a test.
#   bench/experts_vs_tshark.sh BUILD_DIR [CAPTURE] [N]
# Without CAPTURE it uses the 1M-frame synthetic capture that
# BUILD_DIR/bench/capture/nmx-bench-capture writes.
set -eu
build=$1 cap=${2:-/tmp/nmx-bench-capture-1M.pcap} n=${3:-3}
if [ ! -f "$cap" ]; then
    "$build/bench/capture/nmx-bench-capture" -r 1 >/dev/null
fi
best() { # best wall seconds of N runs of "$@"
    b=""
    i=0
    while [ "$i" -lt "$n" ]; do
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1
        e=$(date +%s.%N)
        t=$(awk -v e="$e" -v s="$s" 'BEGIN { print e - s }')
        if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
        i=$((i + 1))
    done
    echo "$b"
}
frames=$(capinfos -c -M "$cap" 2>/dev/null | awk '/Number of packets/ {print $NF}')
ours=$(best "$build/nmexpert" run -o csv "$cap")
theirs=$(best tshark -n -q -r "$cap" -o tcp.desegment_tcp_streams:FALSE \
    -z io,phs -z endpoints,eth -z endpoints,ip -z endpoints,ipv6 \
    -T fields -e tcp.analysis.retransmission -e http.time)
echo "capture: $cap ($frames frames), best of $n"
printf "nmexpert run (5 experts at once): %8.2f s\n" "$ours"
printf "tshark (same analyses, one pass): %8.2f s\n" "$theirs"
printf "speed-up: %.1fx (target: 10x)\n" "$(awk -v a="$theirs" -v b="$ours" 'BEGIN { print a / b }')"
