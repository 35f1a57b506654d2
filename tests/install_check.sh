#!/bin/sh
# Installs the build into a scratch prefix and builds a program the way a user
# does: cc prog.c $(pkg-config --cflags --libs nmexpert). Then runs it against
# the installed shared library. Usage: install_check.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name nmexpert.pc)
[ -n "$pc" ] || { echo "FAIL: no nmexpert.pc installed"; exit 1; }
for f in netmon.h host.h capture.h; do
    [ -f "$tmp/prefix/include/nmexpert/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
ls "$tmp"/prefix/lib*/libnmexpert.a "$tmp"/prefix/lib*/libnmexpert.so >/dev/null 2>&1 ||
    ls "$tmp"/prefix/lib/*/libnmexpert.a "$tmp"/prefix/lib/*/libnmexpert.so >/dev/null
export PKG_CONFIG_PATH=$(dirname "$pc")
# shellcheck disable=SC2046
cc -std=c11 "$src/examples/demo.c" $(pkg-config --cflags --libs nmexpert) -o "$tmp/demo"
LD_LIBRARY_PATH=$(dirname "$(dirname "$pc")") "$tmp/demo" | grep -q "stale key is refused"
echo "1 passed, 0 failed"
