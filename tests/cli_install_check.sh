#!/bin/sh
# The installed command runs from any prefix: it finds its library through
# its RUNPATH ($ORIGIN/<bin-to-lib>) and the bundled experts relative to its
# own executable, with nothing of the build machine baked in.
# Usage: cli_install_check.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd -P) src=$(cd "$2" && pwd -P)
pass=0 fail=0
check() { name=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok   $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/any/where
cmake --install "$build" --prefix "$prefix" >/dev/null 2>&1
check installed test -x "$prefix/bin/nmexpert"
# From another folder, with no help from the environment.
cd "$tmp"
env -u NMEXPERT_PATH -u LD_LIBRARY_PATH "$prefix/bin/nmexpert" list >"$tmp/list" 2>&1
check list_finds_bundled_experts grep -q "TCP Retransmit" "$tmp/list"
check experts_are_the_installed_ones sh -c '! grep "^ *\/" "$1" | grep -v "^ *$2/"' _ "$tmp/list" "$prefix"
env -u NMEXPERT_PATH -u LD_LIBRARY_PATH "$prefix/bin/nmexpert" run -e protdist \
    "$src/samples/loopback-http.pcapng" >"$tmp/run" 2>&1
check installed_run_works grep -q "^Memory: 1 runs (0 failed)" "$tmp/run"
# What the program reads at run time (its strings and its RUNPATH) holds no
# path of the build tree (debug information and sanitizer reports may name
# the sources; they are not looked up).
check no_build_path_in_strings sh -c '! readelf -p .rodata "$1" | grep -aq -e "$2"' _ \
    "$prefix/bin/nmexpert" "$build"
check runpath_is_relative sh -c 'readelf -d "$1" | grep -E "R(UN)?PATH" | grep -q "\[\$ORIGIN/[^]:]*\]"' _ \
    "$prefix/bin/nmexpert"
# Moved elsewhere as a whole, it still works: nothing depends on the prefix.
mv "$prefix" "$tmp/moved"
env -u NMEXPERT_PATH -u LD_LIBRARY_PATH "$tmp/moved/bin/nmexpert" list >"$tmp/list2" 2>&1
check moved_prefix_still_lists grep -q "$tmp/moved/.*tcpretrans.so" "$tmp/list2"
# Runs are isolated by default (H11): the library finds nmexpert-worker
# relative to itself, wherever the prefix went.
env -u NMEXPERT_PATH -u LD_LIBRARY_PATH -u NMEXPERT_WORKER "$tmp/moved/bin/nmexpert" run \
    -e protdist "$src/samples/loopback-http.pcapng" >"$tmp/run2" 2>&1
check moved_prefix_runs_isolated grep -q "^Memory: 1 runs (0 failed)" "$tmp/run2"
check worker_holds_no_build_path sh -c 'w=$(find "$1" -name nmexpert-worker -type f) &&
    test -n "$w" && ! readelf -p .rodata "$w" | grep -aq -e "$2"' _ "$tmp/moved" "$build"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
