#!/bin/sh
# The nmexpert command end to end on the bundled sample (E3):
# exit statuses, formats, and live progress only on a terminal.
# Usage: cli_check.sh NMEXPERT SOURCE_DIR TEST_EXPERTS_DIR
set -u
nmx=$1 sample=$2/samples/loopback-http.pcapng testexperts=${3:-}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
no() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { name=$1; shift; if "$@"; then ok "$name"; else no "$name"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$nmx" info "$sample" >"$tmp/info" 2>&1
check info_counts_frames grep -q "^Frames: *283$" "$tmp/info"
check info_names_link_type grep -q "EN10MB" "$tmp/info"

"$nmx" list >"$tmp/list" 2>&1
check list_names_bundled_experts grep -q "TCP Retransmit" "$tmp/list"

"$nmx" run "$sample" >"$tmp/text" 2>"$tmp/err"; rc=$?
check run_all_finishes_with_0 test "$rc" -eq 0
check run_prints_a_ledger_per_expert grep -q "memory: peak" "$tmp/text"
check no_progress_when_not_a_terminal test ! -s "$tmp/err"

"$nmx" run -o json "$sample" >"$tmp/json"; rc=$?
check json_exits_0 test "$rc" -eq 0
check json_is_one_object sh -c 'head -c 12 "$1" | grep -q "^{\"capture\"" && tail -c 3 "$1" | grep -q "]}"' _ "$tmp/json"
"$nmx" run -o csv "$sample" >"$tmp/csv"
check csv_has_headers grep -q '^expert,table,' "$tmp/csv"

"$nmx" run -e no-such-expert "$sample" >/dev/null 2>&1; rc=$?
check unknown_expert_is_bad_input_2 test "$rc" -eq 2
"$nmx" run --filter "tcp and and" "$sample" >/dev/null 2>&1; rc=$?
check bad_filter_is_bad_input_2 test "$rc" -eq 2
"$nmx" run "$tmp/none.pcap" >/dev/null 2>&1; rc=$?
check missing_capture_is_bad_input_2 test "$rc" -eq 2
"$nmx" run -t 0 "$sample" >/dev/null 2>&1; rc=$?
check bad_timeout_is_bad_input_2 test "$rc" -eq 2
"$nmx" bogus >/dev/null 2>&1; rc=$?
check unknown_command_is_2 test "$rc" -eq 2
"$nmx" run --help >"$tmp/help"; rc=$?
check help_exits_0 test "$rc" -eq 0
check help_lists_options grep -q -- "--mem-limit" "$tmp/help"

# Isolated by default (H11): the same results on threads of the command.
"$nmx" run --in-process "$sample" >"$tmp/text_threads" 2>/dev/null; rc=$?
check in_process_exits_0 test "$rc" -eq 0
# (the same but for each run's wall time)
check in_process_gives_the_same_results sh -c 'sed "s/, [0-9.]* s;/;/" "$1" >"$1.x" &&
    sed "s/, [0-9.]* s;/;/" "$2" >"$2.x" && cmp -s "$1.x" "$2.x"' _ "$tmp/text" "$tmp/text_threads"

# What the options do, with the bundled experts and the test experts
# (tests/experts: misbehaving on purpose).
"$nmx" run -e protdist -o csv "$sample" >"$tmp/pd_all"
"$nmx" run -e protdist -c protdist:depth=1 -o csv "$sample" >"$tmp/pd_1"; rc=$?
# depth=1: the roots only (eth), where the default goes down to tcp.
check config_reaches_the_expert sh -c 'test "$(grep -c "^\"Protocol" "$1")" -eq 1 &&
    test "$(grep -c "^\"Protocol" "$2")" -ge 3' _ "$tmp/pd_1" "$tmp/pd_all"
check config_run_exits_0 test "$rc" -eq 0
"$nmx" run -e topusers -c topusers:bogus=1 "$sample" >"$tmp/badcfg" 2>&1; rc=$?
check bad_config_key_fails_the_run_1 test "$rc" -eq 1
check bad_config_key_is_named grep -q 'problem: .*"bogus"' "$tmp/badcfg"
"$nmx" run -e topusers -c nosuch:top=1 "$sample" >/dev/null 2>&1; rc=$?
check config_for_no_running_expert_is_2 test "$rc" -eq 2
"$nmx" run -e protdist -m 1k "$sample" >"$tmp/mem1k" 2>&1; rc=$?
check mem_limit_too_small_fails_1 test "$rc" -eq 1
check mem_limit_failure_is_a_problem grep -q "status problem" "$tmp/mem1k"
"$nmx" run -e protdist -m 64M "$sample" >/dev/null 2>&1; rc=$?
check mem_limit_large_enough_exits_0 test "$rc" -eq 0
"$nmx" run -m 12Q "$sample" >/dev/null 2>&1; rc=$?
check bad_mem_limit_is_2 test "$rc" -eq 2
if [ -n "$testexperts" ] && [ -f "$testexperts/quota.so" ]; then
    export NMEXPERT_PATH=$testexperts
    # quota allocates 4 KiB blocks until refused: 1M lets it have ~255.
    "$nmx" run -e quota -m 1M -o csv "$sample" >"$tmp/q1"; rc=$?
    blocks=$(grep '^"quota","Quota reached"' "$tmp/q1" | cut -d, -f3 | tr -d '"')
    check mem_limit_caps_the_run test -n "$blocks" -a "${blocks:-0}" -ge 200 -a "${blocks:-999}" -le 256
    "$nmx" run -e nullderef "$sample" >"$tmp/crash" 2>&1; rc=$?
    check crashed_run_exits_1 test "$rc" -eq 1
    check crashed_run_is_reported grep -q "crashed: signal 11" "$tmp/crash"
    "$nmx" run -e wellbehaved "$sample" >/dev/null 2>&1; rc=$?
    check well_behaved_test_expert_exits_0 test "$rc" -eq 0
    start=$(date +%s%N)
    "$nmx" run -e honours_terminate -t 0.3 "$sample" >"$tmp/t1" 2>&1; rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    check timeout_ends_the_run_1 test "$rc" -eq 1
    check timeout_is_reported grep -q "status aborted (time limit)" "$tmp/t1"
    check timeout_stops_it_soon test "$ms" -lt 2000
    "$nmx" run -e ignores_terminate -t 0.2 "$sample" >"$tmp/t2" 2>&1; rc=$?
    check timeout_ignored_is_hung_1 sh -c 'test "$1" -eq 1 && grep -q "(hung)" "$2"' _ "$rc" "$tmp/t2"
    # H11: workers by default, confined; --in-process opts out.
    check hung_worker_is_killed grep -q "killed by the host" "$tmp/t2"
    "$nmx" run -e policy_socket "$sample" >"$tmp/sock" 2>&1; rc=$?
    check socket_in_a_worker_fails_the_run_1 test "$rc" -eq 1
    check socket_in_a_worker_is_named grep -q "isolation policy: socket" "$tmp/sock"
    "$nmx" run -e wellbehaved --in-process "$sample" >/dev/null 2>&1; rc=$?
    check in_process_run_exits_0 test "$rc" -eq 0
    unset NMEXPERT_PATH
else
    echo "skip test-expert checks: no test experts in '$testexperts'"
fi

# The experts agree with tshark on the project's own sample (E2): the
# retransmission and out-of-order totals, and the number of HTTP exchanges.
if command -v tshark >/dev/null 2>&1; then
    ts() { tshark -n -r "$sample" -o tcp.desegment_tcp_streams:FALSE -Y "$1" 2>/dev/null | wc -l; }
    totals=$("$nmx" run -e tcpretrans -o csv "$sample" | grep '"Retransmission totals","[0-9]')
    field() { echo "$totals" | cut -d, -f"$1" | tr -d '"'; }
    check sample_retransmissions_equal_tshark test "$(field 6)" -eq "$(ts tcp.analysis.retransmission)"
    check sample_fast_retransmissions_equal_tshark test "$(field 8)" -eq "$(ts tcp.analysis.fast_retransmission)"
    check sample_out_of_order_equal_tshark test "$(field 10)" -eq "$(ts tcp.analysis.out_of_order)"
    rt=$("$nmx" run -e resptime -o csv "$sample" | grep '"Response time by server","127.0.0.1","8765"')
    check sample_http_exchanges_equal_tshark test "$(echo "$rt" | cut -d, -f5 | tr -d '"')" -eq "$(ts http.time)"
    # Protocol Distribution against io,phs: frames and bytes of eth, ip, tcp.
    phs=$(tshark -n -q -r "$sample" -z io,phs 2>/dev/null)
    pd=$("$nmx" run -e protdist -o csv "$sample")
    for p in eth ip tcp; do
        theirs=$(echo "$phs" | awk -v p="$p" '$1 == p { sub("frames:", "", $2); sub("bytes:", "", $3); print $2 "," $3 }')
        ours=$(echo "$pd" | awk -F'","' -v p="$p" '{ gsub(/^ +/, "", $3) } $3 == p { print $4 "," $5 }')
        check "sample_protdist_${p}_equals_io_phs" test -n "$theirs" -a "$ours" = "$theirs"
    done
    # Top Users against endpoints,ip: packets, bytes, Tx/Rx of each address.
    eps=$(tshark -n -q -r "$sample" -z endpoints,ip 2>/dev/null |
        awk '$1 ~ /^[0-9]+\./ { print $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," $7 }' | sort)
    tu=$("$nmx" run -e topusers -c topusers:top=0 -o csv "$sample" | grep '"IPv4 Endpoints"' |
        cut -d, -f3- | tr -d '"' | sort)
    check sample_topusers_ipv4_equals_endpoints_ip test -n "$eps" -a "$tu" = "$eps"
    # Property Distribution against -T fields -e frame.len: count, min, max.
    fl=$(tshark -n -r "$sample" -T fields -e frame.len 2>/dev/null |
        awk 'NR == 1 { mn = mx = $1 } { n++; if ($1 < mn) mn = $1; if ($1 > mx) mx = $1 } END { print n "," mn "," mx }')
    pr=$("$nmx" run -e propdist -c propdist:field=frame.len -o csv "$sample" |
        grep '"frame.len summary","frame.len"' | cut -d, -f4-6 | tr -d '"')
    check sample_propdist_frame_len_equals_tshark test -n "$fl" -a "$pr" = "$fl"
else
    echo "skip sample_*_equal_tshark: tshark not installed"
fi

# On a terminal (script(1) gives the command a pseudo-terminal), progress
# lines with percentages are drawn on stderr.
if command -v script >/dev/null 2>&1; then
    script -qec "$nmx run $sample" "$tmp/tty" >/dev/null 2>&1
    check progress_on_a_terminal grep -q "100%  done" "$tmp/tty"
else
    echo "skip progress_on_a_terminal: script(1) not installed"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
