#!/bin/sh
# What recognition adds to the capture reader's path, against an older
# commit's (docs/PERFORMANCE.md, "Recognition"). Never a test.
#
#   bench/recognize_cost.sh BUILD [BASE_REV] [FILE|DIR...]
#
# BUILD: a Release build of this tree (its bench/recognize/nmx-bench-
# recognize). BASE_REV (default 83e5b75, the last commit before issue 11's
# recognition): its library is built in a temporary git worktree and the
# same benchmark source is compiled against it. FILES default to the zeek
# corpus and the 1M-frame synthetic capture of nmx-bench-capture (written
# first if missing). For each input: callgrind's instructions per frame of
# both paths (steady), then ROUNDS (default 5) alternations of the two
# programs, each printing the median of 5 interleaved rounds (time on a
# shared machine: read the spread).
set -eu
build=$(cd "$1" && pwd)
base=${2:-83e5b75}
shift $(($# > 1 ? 2 : 1))
src=$(cd "$(dirname "$0")/.." && pwd)
shared=${NMX_SHARED_DIR:-$src/../shared}
synth=/tmp/nmx-bench-capture-1M.pcap
if [ $# -eq 0 ]; then
    [ -f "$synth" ] || "$build/bench/capture/nmx-bench-capture" -r 1 >/dev/null
    set -- "$shared/captures/zeek" "$synth"
fi
ours=$build/bench/recognize/nmx-bench-recognize
tmp=$(mktemp -d /tmp/nmx-recognize-cost.XXXXXX)
trap 'git -C "$src" worktree remove --force "$tmp/base" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
git -C "$src" worktree add --detach "$tmp/base" "$base" >/dev/null 2>&1
cmake -S "$tmp/base" -B "$tmp/base/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DNMX_BUILD_BENCH=OFF >/dev/null
cmake --build "$tmp/base/build" --target nmexpert_static -j2 >/dev/null
theirs=$tmp/nmx-bench-recognize-base
cc -O2 -I"$tmp/base/include" -I"$tmp/base/src" "$src/bench/recognize/nmx-bench-recognize.c" \
    "$tmp/base/build/libnmexpert.a" -lpcap -lpthread -ldl -o "$theirs"

per_frame() { # BIN MODE INPUT: callgrind instructions per frame of the loop
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" --toggle-collect="${2}_loop" \
        "$1" -c "$2" "$3" >"$tmp/out" 2>/dev/null
    awk -v n="$(awk '{print $2}' "$tmp/out")" '/^summary:/ {printf "%.0f", $2 / n}' "$tmp/cg"
}

for input in "$@"; do
    echo "== $input"
    printf "instructions per frame (callgrind): %s (%s) path %s, this path %s (its nmx_decode alone %s)\n" \
        "$base" "$(git -C "$src" log -1 --format=%h "$base")" "$(per_frame "$theirs" recognize "$input")" \
        "$(per_frame "$ours" recognize "$input")" "$(per_frame "$ours" decode "$input")"
    i=0
    while [ "$i" -lt "${ROUNDS:-5}" ]; do
        a=$("$theirs" -r 5 "$input" | awk '$1 == "recognize" && $2 != "-" {print $2}')
        b=$("$ours" -r 5 "$input" | awk '$1 == "recognize" && $2 != "-" {print $2}')
        awk -v a="$a" -v b="$b" 'BEGIN {printf "ns per frame: base %7.1f  this %7.1f  added %7.1f\n", a, b, b - a}'
        i=$((i + 1))
    done
done
