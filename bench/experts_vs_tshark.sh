#!/bin/sh
# All seven bundled experts in one `nmexpert run` (recognition and tunnel
# decoding are always on: the capture layer does both while it reads) against
# tshark computing the same statistics in one pass:
#   Protocol Distribution   -z io,phs
#   Top Users               -z endpoints,eth|ip|ipv6
#   Conversations           -z conv,eth|ip|ipv6|tcp|udp
#   Traffic Over Time       -z io,stat,1
#   TCP Retransmit          tcp.analysis.retransmission, .fast_retransmission,
#                           .spurious_retransmission, .out_of_order
#   Server Response Time    http.time, dns.time, smb2.time, tls.handshake.type
#   Property Distribution   frame.len (its default field)
# (-T fields for the fields; tcp.desegment_tcp_streams:FALSE, which only
# makes tshark faster). Our run twice: as `nmexpert run` runs by default
# (each expert in a confined worker process) and with --in-process (threads).
# Each side's wall time and CPU time (user + sys, /usr/bin/time from
# Debian's `time`, else CPU 0; a worker's CPU is not counted: the workers are not the
# command's children) in interleaved rounds, and the median of each. On a
# shared machine CPU time is the fairer comparison. Never a test.
#   bench/experts_vs_tshark.sh BUILD_DIR [CAPTURE] [ROUNDS]
# Without CAPTURE it uses the 1M-frame synthetic capture that
# BUILD_DIR/bench/capture/nmx-bench-capture writes (580 MB in /tmp).
set -eu
build=$1 cap=${2:-/tmp/nmx-bench-capture-1M.pcap} n=${3:-3}
if [ ! -f "$cap" ]; then
    "$build/bench/capture/nmx-bench-capture" -r 1 >/dev/null
fi
run() { # "wall cpu" seconds of one run of "$@" (cpu 0 without /usr/bin/time)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f "%e %U %S" -o "$tmp" "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
        awk '{ print $1, $2 + $3 }' "$tmp"
    else
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
        awk -v e="$(date +%s.%N)" -v s="$s" 'BEGIN { print e - s, 0 }'
    fi
}
median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# tshark's statistics and fields (no argument holds a space: split on purpose)
zs="-z io,phs -z endpoints,eth -z endpoints,ip -z endpoints,ipv6 -z conv,eth -z conv,ip -z conv,ipv6 -z conv,tcp
    -z conv,udp -z io,stat,1"
fs="-e tcp.analysis.retransmission -e tcp.analysis.fast_retransmission -e tcp.analysis.spurious_retransmission
    -e tcp.analysis.out_of_order -e http.time -e dns.time -e smb2.time -e tls.handshake.type -e frame.len"
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.w" "$tmp.p" "$tmp.t"' EXIT
experts=$("$build/nmexpert" list 2>/dev/null | grep -c "\.so$" || true)
i=0
while [ "$i" -lt "$n" ]; do
    run "$build/nmexpert" run -o csv "$cap" >>"$tmp.w"
    run "$build/nmexpert" run -o csv --in-process "$cap" >>"$tmp.p"
    # shellcheck disable=SC2086
    run tshark -n -q -r "$cap" -o tcp.desegment_tcp_streams:FALSE $zs -T fields $fs >>"$tmp.t"
    i=$((i + 1))
done
frames=$(capinfos -c -M "$cap" 2>/dev/null | awk '/Number of packets/ {print $NF}')
col() { cut -d' ' -f"$2" "$1" | median; }
echo "capture: $cap ($frames frames), $experts bundled experts, median of $n interleaved rounds;" \
    "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-44s %9s %9s\n" "" "wall (s)" "CPU (s)"
printf "%-44s %9.2f %9s\n" "nmexpert run (workers, the default)" "$(col "$tmp.w" 1)" "-"
printf "%-44s %9.2f %9.2f\n" "nmexpert run --in-process" "$(col "$tmp.p" 1)" "$(col "$tmp.p" 2)"
printf "%-44s %9.2f %9.2f\n" "tshark (the same statistics, one pass)" "$(col "$tmp.t" 1)" "$(col "$tmp.t" 2)"
awk -v tw="$(col "$tmp.t" 1)" -v tc="$(col "$tmp.t" 2)" -v ww="$(col "$tmp.w" 1)" -v pw="$(col "$tmp.p" 1)" \
    -v pc="$(col "$tmp.p" 2)" 'BEGIN { printf "speed-up (target 20x): wall %.1fx (workers), %.1fx (in-process); CPU %.1fx\n", tw / ww, tw / pw, tc / pc }'
