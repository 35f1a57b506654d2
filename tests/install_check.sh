#!/bin/sh
# Installs the build into a scratch prefix and uses it the ways a user does:
#   cc prog.c $(pkg-config --cflags --libs nmexpert)     (and --static)
#   find_package(nmexpert) in a CMake project
#   the installed nmexpert command, run from the prefix with no environment
# Usage: install_check.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name nmexpert.pc)
[ -n "$pc" ] || fail "no nmexpert.pc installed"
for f in netmon.h host.h capture.h; do
    [ -f "$tmp/prefix/include/nmexpert/$f" ] || fail "$f not installed"
done
libdir=$(dirname "$(dirname "$pc")")
[ -f "$libdir/libnmexpert.a" ] && [ -f "$libdir/libnmexpert.so" ] || fail "libraries not in $libdir"
export PKG_CONFIG_PATH=$(dirname "$pc")

# pkg-config: our include path only (no public header includes libpcap's),
# each library once.
cflags=$(pkg-config --cflags nmexpert)
set -- $cflags
[ $# -eq 1 ] && [ "$(cd "${1#-I}" && pwd -P)" = "$(cd "$tmp/prefix/include" && pwd -P)" ] ||
    fail "pkg-config --cflags gives '$cflags'"
for l in $(pkg-config --libs --static nmexpert | tr ' ' '\n' | sort | uniq -d); do
    fail "pkg-config --libs --static names $l twice"
done
# shellcheck disable=SC2046
cc -std=c11 "$src/examples/demo.c" $(pkg-config --cflags --libs nmexpert) -o "$tmp/demo"
LD_LIBRARY_PATH=$libdir "$tmp/demo" | grep -q "stale key is refused" || fail "demo (shared)"
# shellcheck disable=SC2046
cc -std=c11 "$src/examples/demo.c" $cflags "$libdir/libnmexpert.a" \
    $(pkg-config --libs --static nmexpert | sed 's/-lnmexpert//') -o "$tmp/demo-static"
"$tmp/demo-static" | grep -q "stale key is refused" || fail "demo (static)"

# find_package(nmexpert)
mkdir -p "$tmp/user"
cat >"$tmp/user/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(user C)
find_package(nmexpert REQUIRED)
add_executable(demo demo.c)
target_link_libraries(demo PRIVATE nmexpert::nmexpert)
add_executable(demo-static demo.c)
target_link_libraries(demo-static PRIVATE nmexpert::static)
CM
cp "$src/examples/demo.c" "$tmp/user/"
cmake -S "$tmp/user" -B "$tmp/user/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null ||
    fail "find_package(nmexpert)"
cmake --build "$tmp/user/build" >/dev/null || fail "building against nmexpert::nmexpert"
LD_LIBRARY_PATH=$libdir "$tmp/user/build/demo" | grep -q "stale key is refused" || fail "cmake demo"
"$tmp/user/build/demo-static" | grep -q "stale key is refused" || fail "cmake demo (static)"

# The installed command starts from the prefix alone (RPATH $ORIGIN/../lib).
env -u LD_LIBRARY_PATH "$tmp/prefix/bin/nmexpert" --help >/dev/null 2>&1 ||
    fail "installed nmexpert does not start"
echo "1 passed, 0 failed"
