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
check run_starts_with_the_capture_summary sh -c 'head -2 "$1" | grep -q "283 frames, 1.6 MB (1647520 bytes)"' _ "$tmp/text"
check run_ends_with_one_ledger_line sh -c 'test "$(grep -c "^Memory: " "$1")" -eq 1 && tail -1 "$1" | grep -q "^Memory: 7 runs (0 failed), peak"' _ "$tmp/text"
check no_progress_when_not_a_terminal test ! -s "$tmp/err"

"$nmx" run -o json "$sample" >"$tmp/json"; rc=$?
check json_exits_0 test "$rc" -eq 0
check json_is_one_object sh -c 'head -c 12 "$1" | grep -q "^{\"capture\"" && tail -c 3 "$1" | grep -q "}}"' _ "$tmp/json"
check json_has_the_capture_summary grep -q '"frames":283,"bytes":1647520,.*"duration_s":0.21121502' "$tmp/json"
check json_numbers_in_full_precision grep -qF '[18,1,283,2,0.70671378091872794,' "$tmp/json"
check json_ledger_of_all_runs grep -q '"runs":{"count":7,"failed":0,"memory":{"peak_bytes":' "$tmp/json"
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
check in_process_gives_the_same_results sh -c 'sed -E "s/, [0-9.]+ m?s\)/)/" "$1" >"$1.x" &&
    sed -E "s/, [0-9.]+ m?s\)/)/" "$2" >"$2.x" && cmp -s "$1.x" "$2.x"' _ "$tmp/text" "$tmp/text_threads"

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
check mem_limit_failure_is_a_problem grep -q "problem: Protocol Distribution: out of memory" "$tmp/mem1k"
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
    check timeout_is_reported grep -q "^  time limit: stopped" "$tmp/t1"
    check timeout_stops_it_soon test "$ms" -lt 2000
    "$nmx" run -e ignores_terminate -t 0.2 "$sample" >"$tmp/t2" 2>&1; rc=$?
    check timeout_ignored_is_hung_1 sh -c 'test "$1" -eq 1 && grep -q "hung: did not stop after its time limit" "$2"' _ "$rc" "$tmp/t2"
    "$nmx" run -e honours_terminate -t 0.3 -o json "$sample" >"$tmp/t1.json" 2>&1
    check json_says_timed_out_and_why grep -q '"ok":false,"reason":"time limit: stopped","returned":true,"timed_out":true' "$tmp/t1.json"
    "$nmx" run -e nullderef -o json "$sample" >"$tmp/crash.json" 2>&1
    check json_says_why_a_run_failed grep -q '"reason":"crashed: signal 11 at' "$tmp/crash.json"
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

# Every expert's figures on the lab sample (samples/netns-lab.pcap, E2,
# issue 11 item 8) equal tshark's; where the host's recognition and tshark's
# differ on this capture, the check names the difference and leaves out
# just that (samples/README.md explains both).
lab=$2/samples/netns-lab.pcap
if command -v tshark >/dev/null 2>&1 && [ -f "$lab" ]; then
    T() { tshark -n -r "$lab" "$@" 2>/dev/null; }
    N() { T -Y "$1" | wc -l; }
    run() { "$nmx" run -o csv "$@" "$lab"; }
    rows() { grep "^\"$1\",\"$2\"," | cut -d, -f3- | tr -d '"'; }
    # Protocol Distribution: every node of -z io,phs made of names the host
    # lists. Known: tshark's SSH dissector guesses message ends in encrypted
    # data and lists ssh on some segments only (the host: every segment with
    # payload); one HTTP response is completed by a resent segment, which
    # tshark dissects and the host, as for every retransmission, does not.
    T -q -z io,phs | awk '
        /frames:/ { d = (match($0, /[^ ]/) - 1) / 2; n[d] = $1; sub("frames:", "", $2); sub("bytes:", "", $3)
                    skip = ($1 ~ /^(data-text-lines|media|json|tcp\.segments|_ws\.malformed)$/)
                    for (i = 0; i < d; i++) if (n[i] ~ /^(data-text-lines|media|json|tcp\.segments|_ws\.malformed|icmp)$/) skip = 1
                    if (skip) next
                    p = n[0]; for (i = 1; i <= d; i++) p = p "/" n[i]; print p, $2, $3 }' | sort >"$tmp/phs"
    run -e protdist | rows "Protocol Distribution" "Protocol Hierarchy" | awk -F, '
        { d = (match($1, /[^ ]/) - 1) / 2; sub(/^ +/, "", $1); n[d] = $1
          p = n[0]; for (i = 1; i <= d; i++) p = p "/" n[i]; print p, $2, $3 }' | sort >"$tmp/pd"
    known='(/ssh|^eth/vlan/ipv6/tcp/http) '
    grep -Ev "$known" "$tmp/phs" >"$tmp/phs.k"
    grep -Ev "$known" "$tmp/pd" >"$tmp/pd.k"
    check lab_protdist_equals_io_phs sh -c 'test -s "$1" && cmp -s "$1" "$2"' _ "$tmp/phs.k" "$tmp/pd.k"
    # Top Users: -z endpoints,eth|ip|ipv6, every address and count.
    for t in eth:Ethernet ip:IPv4 ipv6:IPv6; do
        T -q -z "endpoints,${t%%:*}" | awk 'NF == 7 && $2 ~ /^[0-9]+$/ { print $1 "," $2 "," $3 "," $4 "," $5 "," $6 "," $7 }' |
            sort >"$tmp/ep"
        run -e topusers -c topusers:top=0 | rows "Top Users" "${t#*:} Endpoints" | cut -d, -f1,2,3,5,6,7,8 | sort >"$tmp/tu"
        check "lab_topusers_${t%%:*}_equals_endpoints" sh -c 'test -s "$1" && cmp -s "$1" "$2"' _ "$tmp/ep" "$tmp/tu"
    done
    # Conversations: -z conv,eth|ip|ipv6|tcp|udp, every pair with its frames each way.
    for t in eth:Ethernet ip:IPv4 ipv6:IPv6 tcp:TCP udp:UDP; do
        T -q -z "conv,${t%%:*}" | awk '$2 == "<->" { print $1, $3, $7, $4 }' | sort >"$tmp/cv"
        run -e conversations -c conversations:top=0 | rows Conversations "${t#*:} Conversations" |
            awk -F, -v ports="$( [ "${t%%:*}" = tcp ] || [ "${t%%:*}" = udp ] && echo 1)" '
                ports { print $1 ":" $2, $3 ":" $4, $7, $9; next } { print $1, $2, $5, $7 }' | sort >"$tmp/oc"
        check "lab_conversations_${t%%:*}_equal_conv" sh -c 'test -s "$1" && cmp -s "$1" "$2"' _ "$tmp/cv" "$tmp/oc"
    done
    # Traffic Over Time: -z io,stat,1: frames and bytes of every second.
    T -q -z io,stat,1 | awk -F'|' '/<>/ { gsub(/ /, "", $3); gsub(/ /, "", $4); print $3, $4 }' >"$tmp/io"
    run -e traffic | rows "Traffic Over Time" "Traffic over time" | awk -F, '{ print $3, $4 }' |
        head -n "$(wc -l <"$tmp/io")" >"$tmp/tt"
    check lab_traffic_equals_io_stat sh -c 'test -s "$1" && cmp -s "$1" "$2"' _ "$tmp/io" "$tmp/tt"
    # TCP Retransmit: tshark's analysis flags, in total.
    tot=$(run -e tcpretrans | rows "TCP Retransmit" "Retransmission totals")
    f() { echo "$tot" | cut -d, -f"$1"; }
    check lab_retransmissions_equal_tshark test "$(f 4)" -eq "$(N tcp.analysis.retransmission)" -a "$(f 4)" -gt 0
    check lab_fast_retransmissions_equal_tshark test "$(f 7)" -eq "$(N tcp.analysis.fast_retransmission)"
    check lab_spurious_equal_tshark test "$(f 8)" -eq "$(N tcp.analysis.spurious_retransmission)"
    check lab_out_of_order_equal_tshark test "$(f 9)" -eq "$(N tcp.analysis.out_of_order)"
    # Server Response Time: DNS exchanges and times as dns.time; TLS handshakes
    # as ClientHello/ServerHello pairs; HTTP as http.time but for the response
    # a resent segment completes (tshark times it there).
    rt=$(run -e resptime -c resptime:detail=1 | rows "Server Response Time" Exchanges)
    timed() { echo "$rt" | awk -F, -v p="$1" '$1 == p { printf "%d %.3f\n", $5 + 1, $6 }' | sort; }
    T -Y dns.time -T fields -e frame.number -e dns.time | awk '{ printf "%d %.3f\n", $1, $2 * 1000 }' | sort >"$tmp/dt"
    check lab_resptime_dns_equals_dns_time sh -c 'test -s "$1" && test "$(cat "$1")" = "$2"' _ "$tmp/dt" "$(timed DNS)"
    T -Y http.time -T fields -e frame.number -e http.time -e tcp.analysis.retransmission |
        awk '$3 == "" { printf "%d %.3f\n", $1, $2 * 1000 }' | sort >"$tmp/ht"
    check lab_resptime_http_equals_http_time sh -c 'test -s "$1" && test "$(cat "$1")" = "$2"' _ "$tmp/ht" "$(timed HTTP)"
    check lab_resptime_tls_pairs sh -c 'test "$1" -gt 0 -a "$1" -eq "$2"' _ "$(echo "$rt" | grep -c '^TLS,')" \
        "$(N 'tls.handshake.type == 2')"
    # Property Distribution: lengths, addresses and names, value by value
    # (names not from inside an ICMP error: tshark decodes the quoted DNS
    # query there, the host does not).
    for fld in frame.len ip.src ipv6.dst eth.src dns.qry.name http.host tls.handshake.extensions_server_name; do
        case $fld in *.*.*|dns.*|http.*) where='!(icmp || icmpv6)' ;; *) where=frame ;; esac
        T -Y "$where" -T fields -e "$fld" | cut -d, -f1 | grep -v '^$' | sort | uniq -c | awk '{ print $2, $1 }' |
            sort >"$tmp/pt"
        run -e propdist -c "propdist:field=$fld" | rows "Property Distribution" "$fld values" |
            awk -F, '{ print $1, $2 }' | sort >"$tmp/po"
        check "lab_propdist_${fld}_equals_tshark" sh -c 'test -s "$1" && cmp -s "$1" "$2"' _ "$tmp/pt" "$tmp/po"
    done
else
    echo "skip lab_*: tshark not installed or samples/netns-lab.pcap missing"
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
