#!/usr/bin/env bash
# nmexpert's one entry point for people and CI.
#   ./nmx.sh demo    install what is missing, build, run every bundled expert over the sample capture
#   ./nmx.sh test    install what is missing, build, run every test: plain, ASan+UBSan,
#                    ThreadSanitizer (concurrency tests), and short libFuzzer runs
#   ./nmx.sh bench   build optimised and run the benchmark against the peer allocators
#                    (options after it go to nmx-bench: -q quick, -r N rounds, -n no callgrind)
set -euo pipefail
cd "$(dirname "$0")"
JOBS=$(nproc 2>/dev/null || echo 2)

# Debian packages the build, the tests and the benchmark need.
PACKAGES=(build-essential cmake pkg-config clang libclang-rt-14-dev
          libmimalloc-dev libjemalloc-dev libtalloc-dev valgrind libpcap-dev libseccomp-dev tshark libndpi-dev
          libwiretap-dev libwsutil-dev libglib2.0-dev gzip zstd lz4
          chromium)

deps() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "nmx.sh: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

build() { # build DIR [cmake args...]; the project's own builds treat warnings as errors
    local dir=$1; shift
    cmake -S . -B "$dir" -DNMX_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j"$JOBS" >/dev/null
}

# ThreadSanitizer needs the default address layout; newer kernels randomise
# mmap beyond what TSan of clang/gcc 12-14 accepts, so its runs go without ASLR.
no_aslr() { setarch "$(uname -m)" -R "$@"; }

run_tests() {
    local failed=0 passed=0
    echo "== plain build"
    build build
    if ctest --test-dir build --output-on-failure -j"$JOBS"; then passed=$((passed+1)); else failed=$((failed+1)); fi

    echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
    build build-asan -DNMX_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang
    if ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -j"$JOBS"; then
        passed=$((passed+1)); else failed=$((failed+1)); fi

    echo "== ThreadSanitizer (concurrency tests)"
    build build-tsan -DNMX_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang
    if TSAN_OPTIONS=halt_on_error=1 no_aslr ctest --test-dir build-tsan -L concurrency --output-on-failure -j"$JOBS"; then
        passed=$((passed+1)); else failed=$((failed+1)); fi

    echo "== libFuzzer (short runs)"
    build build-fuzz -DNMX_BUILD_FUZZ=ON -DBUILD_TESTING=OFF -DNMX_BUILD_BENCH=OFF -DCMAKE_C_COMPILER=clang
    local f
    for f in build-fuzz/fuzz/fuzz_*; do
        [ -x "$f" ] || continue
        mkdir -p "build-fuzz/corpus/$(basename "$f")"
        if "$f" -max_total_time="${NMX_FUZZ_SECONDS:-30}" -rss_limit_mb=4096 \
               "build-fuzz/corpus/$(basename "$f")" 2>"build-fuzz/$(basename "$f").log"; then
            echo "$(basename "$f"): ok ($(grep -c . "build-fuzz/$(basename "$f").log") log lines)"
            passed=$((passed+1))
        else
            tail -40 "build-fuzz/$(basename "$f").log"; failed=$((failed+1))
        fi
    done
    echo "suites: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

case "${1:-}" in
    demo)  deps; build build; ./build/nmexpert run samples/netns-lab.pcap ;;
    test)  deps; run_tests ;;
    bench) deps; build build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
           cmake --build build-release --target bench -j"$JOBS" >/dev/null
           shift; ./build-release/bench/nmx-bench "$@" ;;
    *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;;
esac
