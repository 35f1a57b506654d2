#!/bin/sh
# The command's inputs end to end (SPEC C1, C6; issue 10): `info` names each
# file's format and compression like capinfos; several files, a folder and
# standard input give the experts the same capture as one merged file
# (mergecap -a), a TCP connection split across two files included.
# Needs editcap, mergecap, gzip (else exit 77: skipped).
# Usage: cli_inputs_check.sh NMEXPERT SOURCE_DIR
set -u
nmx=$1 src=$2
sample=$src/samples/loopback-http.pcapng lab=$src/samples/netns-lab.pcap
for t in editcap mergecap gzip; do
    command -v $t >/dev/null 2>&1 || { echo "skip: $t not installed"; exit 77; }
done
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
no() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else no "$name"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The experts' rows of a CSV report (the summary row names the input).
# In process: until the worker attaches to the host's capture (issue 9,
# branches iso and stream) it reopens the capture by its first path.
rows() { "$nmx" run --in-process -o csv "$@" 2>/dev/null | grep -v '^"nmexpert"' | grep '^"'; }

editcap -F netmon2 "$sample" "$tmp/x.cap"
editcap -F pcapng "$lab" - | gzip -c >"$tmp/y.pcapng.gz"
"$nmx" info "$tmp/x.cap" "$tmp/y.pcapng.gz" >"$tmp/info" 2>&1
check info_names_netmon2 grep -q "^File type: *Microsoft NetMon 2.x$" "$tmp/info"
check info_names_gzip grep -q "^Compression: *gzip$" "$tmp/info"
check info_counts_both grep -q "^Frames: *2363$" "$tmp/info"
check info_lists_two_files grep -q "^Files: *2$" "$tmp/info"

# A TCP connection split across two files is analysed as one.
editcap -r "$sample" "$tmp/part1.pcapng" 1-150
editcap -r "$sample" "$tmp/part2.pcapng" 151-283
rows -e tcpretrans "$sample" >"$tmp/whole"
rows -e tcpretrans "$tmp/part1.pcapng" "$tmp/part2.pcapng" >"$tmp/split"
check tcpretrans_split_equals_whole cmp -s "$tmp/whole" "$tmp/split"
check tcpretrans_found_retransmissions grep -q '"127.0.0.1:37242","127.0.0.1:8765","15","2"' "$tmp/split"

# several files, a folder (by name: a ring buffer set), stdin = mergecap -a
mkdir "$tmp/ring"
editcap -c 500 "$lab" "$tmp/ring/lab.pcap"
set -- "$tmp"/ring/*
mergecap -a -w "$tmp/merged.pcap" "$@"
rows -e topusers -e protdist "$tmp/merged.pcap" >"$tmp/merged"
rows -e topusers -e protdist "$@" >"$tmp/files"
rows -e topusers -e protdist "$tmp/ring" >"$tmp/folder"
gzip -c "$tmp/merged.pcap" | rows -e topusers -e protdist - >"$tmp/stdin"
check merged_has_rows test -s "$tmp/merged"
check several_files_equal_merged cmp -s "$tmp/merged" "$tmp/files"
check folder_equals_merged cmp -s "$tmp/merged" "$tmp/folder"
check stdin_pipe_equals_merged cmp -s "$tmp/merged" "$tmp/stdin"
cat "$tmp/x.cap" | "$nmx" run --in-process -e topusers - >"$tmp/netmon_stdin" 2>&1; rc=$?
check stdin_netmon_is_spooled_and_read test "$rc" -eq 0
check stdin_netmon_summary grep -q "283" "$tmp/netmon_stdin"

# damage: the frames before it, a warning naming the file and the problem
head -c 100000 "$lab" >"$tmp/cut.pcap"
"$nmx" info "$tmp/cut.pcap" >"$tmp/cutinfo" 2>&1; rc=$?
check damaged_info_exits_0 test "$rc" -eq 0
check damaged_info_names_file_and_problem grep -q "^Damage: *$tmp/cut.pcap: frame [0-9]*: truncated" "$tmp/cutinfo"
"$nmx" info "$tmp/nope.pcap" >"$tmp/nope" 2>&1; rc=$?
check missing_file_exits_2 test "$rc" -eq 2
check missing_file_named grep -q "nope.pcap" "$tmp/nope"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
