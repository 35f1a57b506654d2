#!/bin/sh
# Peak anonymous memory (RssAnon) and peak resident (VmHWM) of `nmexpert run`
# against tshark and capinfos over synthetic captures of SIZES MB (default
# "100 1000 4000"): the records of samples/netns-lab.pcap repeated after its
# header. /proc/PID/status is sampled every 50 ms. Captures and the spool go
# to $TMPDIR (default /var/tmp), deleted at the end. docs/PERFORMANCE.md.
# PEERS=no measures nmexpert alone (for a capture larger than the machine's
# memory, where tshark's per-frame state would exhaust it). Never a test.
# Usage: [SIZES="100 1000"] [PEERS=no] memory_vs_tools.sh NMEXPERT SOURCE_DIR
set -u
nmx=$1 sample=$2/samples/netns-lab.pcap
tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/nmx-memtools-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
tail -c +25 "$sample" >"$tmp/rec"
rec_bytes=$(wc -c <"$tmp/rec")
frames_per_rec=$("$nmx" info "$sample" | awk '/^Frames:/ { print $2 }')
n=0
while [ $((n * rec_bytes)) -lt 100000000 ]; do cat "$tmp/rec"; n=$((n + 1)); done >"$tmp/body.100"
peak() { # command... -> "anon_kB resident_kB seconds"
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1 &
    pid=$! pa=0 hwm=0
    while kill -0 $pid 2>/dev/null; do
        set -- $(awk '/^RssAnon:/ { a = $2 } /^VmHWM:/ { h = $2 } END { print a + 0, h + 0 }' /proc/$pid/status 2>/dev/null)
        [ "${1:-0}" -gt $pa ] && pa=$1
        [ "${2:-0}" -gt $hwm ] && hwm=$2
        sleep 0.05
    done
    wait $pid
    echo "$pa $hwm $(echo "$(date +%s.%N) - $t0" | bc)"
}
for mb in ${SIZES:-100 1000 4000}; do
    k=$(((mb + 99) / 100)) f=$tmp/c$mb.pcap
    { head -c 24 "$sample"; i=0; while [ $i -lt $k ]; do cat "$tmp/body.100"; i=$((i + 1)); done; } >"$f"
    echo "== $mb MB ($(stat -c %s "$f") bytes, $((k * n * frames_per_rec)) frames): peak RssAnon kB, VmHWM kB, s"
    echo "nmexpert run --in-process:              $(peak "$nmx" run --in-process "$f")"
    echo "nmexpert run --in-process -e topusers:  $(peak "$nmx" run --in-process -e topusers "$f")"
    if [ "${PEERS:-yes}" != no ]; then
        echo "tshark -r F -q:                         $(peak tshark -r "$f" -q)"
        echo "capinfos F:                             $(peak capinfos "$f")"
    fi
    rm -f "$f"
done
