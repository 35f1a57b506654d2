#!/bin/sh
# Each bundled expert alone: instructions per frame (valgrind's callgrind,
# deterministic, unlike times on a shared machine) of `nmexpert run
# --in-process -e NAME` over a capture, minus those of the same run with the
# capture benchmark's walk_expert (an expert that only walks the frames with
# ExpertGetFrame): what the expert's own code costs per frame, its
# ExpertGetFrame calls and the capture's reading left out.
#   bench/experts_ipf.sh BUILD_DIR [CAPTURE] [EXPERT...]
# BUILD_DIR needs the nmx-bench-capture target built (walk_expert.so).
# Without CAPTURE: the first 100,000 frames of the 1M-frame synthetic capture
# (editcap from Wireshark's tools; the 1M capture is written by
# BUILD_DIR/bench/capture/nmx-bench-capture when missing). Never a test.
set -eu
build=$1
cap=${2:-/tmp/nmx-bench-capture-100k.pcap}
[ $# -ge 2 ] && shift 2 || shift $#
if [ ! -f "$cap" ]; then
    [ -f /tmp/nmx-bench-capture-1M.pcap ] || "$build/bench/capture/nmx-bench-capture" -r 1 >/dev/null
    editcap -r /tmp/nmx-bench-capture-1M.pcap "$cap" 1-100000
fi
walker="$build/bench/capture/walk_expert.so"
[ -f "$walker" ] || { echo "no $walker: build the nmx-bench-capture target" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
frames=$(capinfos -c -M "$cap" | awk '/Number of packets/ { print $NF }')
ir() { # instructions of one in-process run of expert $1
    NMEXPERT_PATH=$(dirname "$walker") valgrind --tool=callgrind --callgrind-out-file="$tmp/out" \
        "$build/nmexpert" run --in-process -e "$1" "$cap" >/dev/null 2>"$tmp/err" || true
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/err"
}
experts=${*:-$(ls "$build/experts" | sed -n 's/\.so$//p')}
base=$(ir walk_expert)
echo "capture: $cap ($frames frames); walk_expert: $((base / frames)) instructions/frame"
printf '%-16s %12s\n' expert "instr/frame"
for e in $experts; do
    printf '%-16s %12d\n' "$e" $((($(ir "$e") - base) / frames))
done
