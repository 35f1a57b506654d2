#!/bin/sh
# Bounded memory (SPEC C8): the peak anonymous memory (RssAnon) of
# `nmexpert run` over synthetic captures of about 100 MB, 1 GB and 4 GB grows
# by no more than the per-frame allowance (4 bytes per frame) between the
# smallest and the largest. Not timed. The captures repeat the records of
# samples/netns-lab.pcap after its header (so the expert's own state stays
# the same whatever the size); they and the capture's spool live in a
# temporary folder, deleted at the end. Skipped (77) when that folder's file
# system has less than 12 GB free. MEMORY_CHECK_SIZES="100 1000" (MB) runs
# fewer sizes.
# Usage: memory_check.sh NMEXPERT SOURCE_DIR
set -u
nmx=$1 sample=$2/samples/netns-lab.pcap
sizes=${MEMORY_CHECK_SIZES:-100 1000 4000}
base=${TMPDIR:-/var/tmp}
free_kb=$(df -Pk "$base" | awk 'NR == 2 { print $4 }')
if [ "${free_kb:-0}" -lt 12000000 ]; then
    echo "skip: less than 12 GB free in $base"
    exit 77
fi
tmp=$(mktemp -d "$base/nmx-memory-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export TMPDIR="$tmp" # the capture's spool goes there too

# body.100: the sample's records repeated to about 100 MB.
tail -c +25 "$sample" >"$tmp/rec"
rec_bytes=$(wc -c <"$tmp/rec")
: >"$tmp/body.100"
n=0
while [ $((n * rec_bytes)) -lt 100000000 ]; do cat "$tmp/rec"; n=$((n + 1)); done >"$tmp/body.100"
frames_per_rec=$("$nmx" info "$sample" | awk '/^Frames:/ { print $2 }')

make_capture() { # MB -> path; the frame count in $frames
    mb=$1 out=$tmp/c$1.pcap
    k=$(((mb + 99) / 100))
    { head -c 24 "$sample"; i=0; while [ $i -lt $k ]; do cat "$tmp/body.100"; i=$((i + 1)); done; } >"$out"
    frames=$((k * n * frames_per_rec))
}

# The peak RssAnon (kB) of one run, sampled every 20 ms from /proc.
peak_anon() {
    "$nmx" run --in-process -e topusers "$1" >/dev/null 2>"$tmp/err" &
    pid=$!
    peak=0
    while kill -0 $pid 2>/dev/null; do
        a=$(awk '/^RssAnon:/ { print $2 }' /proc/$pid/status 2>/dev/null)
        [ -n "$a" ] && [ "$a" -gt "$peak" ] && peak=$a
        sleep 0.02
    done
    wait $pid || { echo "FAIL nmexpert run over $1:"; cat "$tmp/err"; exit 1; }
    echo "$peak"
}

first_peak= first_frames=
for mb in $sizes; do
    make_capture "$mb"
    p=$(peak_anon "$tmp/c$mb.pcap") || { echo "$p"; exit 1; }
    echo "$mb MB: $frames frames, peak RssAnon $p kB"
    if [ -z "$first_peak" ]; then
        first_peak=$p first_frames=$frames
    else
        allowed=$(((frames - first_frames) * 4 / 1024))
        grown=$((p - first_peak))
        if [ "$grown" -gt "$allowed" ]; then
            echo "FAIL c8_anonymous_memory_bounded: grew $grown kB from $first_frames to $frames frames; allowance $allowed kB"
            exit 1
        fi
        echo "ok   c8_anonymous_memory_bounded: grew $grown kB, allowance $allowed kB"
    fi
    rm -f "$tmp/c$mb.pcap"
done
exit 0
