#!/bin/sh
# The HTML report (E3) opens in a browser without network access: headless
# Chromium renders it to a screenshot, its DOM holds the tables and charts,
# and the browser logs no console message (the report has no script at all).
# Usage: html_check.sh NMEXPERT SOURCE_DIR
set -u
nmx=$1 sample=$2/samples/netns-lab.pcap
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "skip html report rendering: chromium not installed (Debian package chromium)"
    echo "0 passed, 0 failed, 1 skipped"
    exit 77
fi
pass=0 fail=0
check() { name=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nmx" run --html "$tmp/report.html" "$sample" >/dev/null; rc=$?
check report_written test "$rc" -eq 0 -a -s "$tmp/report.html"
check report_fetches_nothing sh -c '! grep -Eq "(src|href)=\"(https?:)?//" "$1"' _ "$tmp/report.html"
flags="--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync"
# shellcheck disable=SC2086
timeout 120 "$chromium" $flags --user-data-dir="$tmp/profile" --enable-logging=stderr --v=0 \
    --window-size=1000,1400 --screenshot="$tmp/shot.png" "file://$tmp/report.html" \
    >"$tmp/log" 2>&1
check screenshot_taken sh -c 'test "$(wc -c <"$1")" -gt 20000' _ "$tmp/shot.png"
check no_console_messages sh -c '! grep -q "CONSOLE" "$1"' _ "$tmp/log"
# shellcheck disable=SC2086
timeout 120 "$chromium" $flags --user-data-dir="$tmp/profile2" --dump-dom \
    "file://$tmp/report.html" >"$tmp/dom" 2>/dev/null
check dom_has_a_section_per_expert test "$(grep -c "<h2>" "$tmp/dom")" -eq 7
check dom_has_charts sh -c 'grep -q "<svg" "$1" && grep -q "<rect" "$1"' _ "$tmp/dom"
check dom_has_traffic_over_time_chart grep -q '<polyline class="area"' "$tmp/dom"
check dom_has_the_ledger grep -q "leaked blocks" "$tmp/dom"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
