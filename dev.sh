#!/usr/bin/env bash
# ksn's single entry script. Run `./dev.sh help` for the commands.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the build, the tests, the fuzzers and the benchmarks need.
PACKAGES=(g++ meson ninja-build pkg-config python3 libasio-dev libgtest-dev libbenchmark-dev
          libhiredis-dev libcli11-dev redis-server redis-tools clang libclang-rt-dev cmake libssl-dev openssl
          libfmt-dev nlohmann-json3-dev)

say() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    # The Debian package of redis-server starts a system service; ksn's tests start their
    # own servers on free ports and need nothing from it.
}

# setup DIR [meson options...]: configure DIR once, reconfigure when it exists.
setup() {
    local dir=$1; shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
}

# build/ installs into build/prefix (for the out-of-tree consumer checks); configure a
# build directory of your own with --prefix=/usr/local to install ksn system-wide.
build() {
    setup build --prefix="$PWD/build/prefix"
    ninja -C build
}

# clear_test_logs DIR: removes the test log and the GoogleTest XML files of DIR, so that a
# run that stops early (a failed build, an abort) cannot have a previous run counted.
clear_test_logs() {
    rm -f "$1/meson-logs/testlog.json" "$1"/*.xml
}

# run_meson_tests DIR [meson test args...]: runs tests; failures are counted later. Time
# bounds need no --timeout-multiplier: tests/meson.build scales meson's timeouts and the
# tests' own waits (KSN_TEST_TIME_SCALE) by the build's sanitizer.
run_meson_tests() {
    local dir=$1; shift
    clear_test_logs "$dir"
    meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" "$@" || true
}

have_clang_fuzzer() {
    command -v clang++ >/dev/null 2>&1 &&
        echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long){return 0;}' |
            clang++ -x c++ -fsanitize=fuzzer -o /dev/null - >/dev/null 2>&1
}

# The fuzz executables the current build-fuzz/ configuration defines (not whatever an
# older configuration left in the directory).
fuzz_targets() {
    meson introspect build-fuzz --targets | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["type"] == "executable" and t["name"].startswith("fuzz_"):
        print(*t["filename"], sep="\n")' | sort
}

# fuzz SECONDS [TARGET...]: builds the libFuzzer targets with clang and runs each.
# Writes build-fuzz/fuzz-results.txt (PASS/FAIL per target) for the summary. Returns 1,
# with no results file, when the set-up or the build fails: callers may run it where
# `set -e` does not apply (`fuzz || ...`), so every step's status is checked here, and
# binaries of an older build are never fuzzed.
fuzz() {
    local seconds=$1; shift
    local results=build-fuzz/fuzz-results.txt
    rm -f "$results"
    if ! CXX=clang++ setup build-fuzz -Dfuzz=true -Dtests=false -Dbenchmarks=false \
        -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized; then
        say "fuzz: meson setup of build-fuzz/ failed"
        return 1
    fi
    if ! ninja -C build-fuzz; then
        say "fuzz: the build of build-fuzz/ failed"
        return 1
    fi
    local targets
    if ! targets=$(fuzz_targets) || [ -z "$targets" ]; then
        say "fuzz: build-fuzz/ defines no fuzz target"
        return 1
    fi
    : >"$results"
    local t name corpus work
    for t in $targets; do
        name=$(basename "$t")
        [ $# -eq 0 ] || [[ " $* " == *" $name "* ]] || continue
        corpus=tests/fuzz/corpus/${name#fuzz_}
        work=$(mktemp -d)
        say "fuzzing $name for ${seconds}s"
        if "$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -dict=tests/fuzz/resp.dict -print_final_stats=1 \
            -artifact_prefix=build-fuzz/"$name"- "$work" "$corpus" >build-fuzz/"$name".log 2>&1; then
            echo "PASS $name" >>"$results"
            tail -n 12 build-fuzz/"$name".log | grep -E 'stat::number_of_executed_units|cov:' | tail -2 >&2 || true
        else
            echo "FAIL $name (see build-fuzz/$name.log)" >>"$results"
            tail -n 40 build-fuzz/"$name".log >&2
        fi
        rm -rf "$work"
    done
}

cmd_test() {
    deps
    # Results that are not GoogleTest cases: builds, the consumer checks, fuzz runs.
    local results=build-results.txt
    : >"$results"
    # build_and_test DIR [SUITE...]: builds DIR (with suites given, only what their tests
    # need: scripts/test_targets.py) and runs its tests (those suites only). A failed build
    # is one failed case, and its stale test log must not count.
    build_and_test() {
        local dir=$1; shift
        local targets=() args=() suite listing
        for suite in "$@"; do args+=(--suite "$suite"); done
        clear_test_logs "$dir"
        if [ $# -gt 0 ]; then
            if ! listing=$(python3 scripts/test_targets.py "$dir" "$@"); then
                echo "FAIL build of $dir (its test targets could not be listed)" >>"$results"
                return
            fi
            mapfile -t targets <<<"$listing"
        fi
        if ninja -C "$dir" "${targets[@]}"; then
            run_meson_tests "$dir" "${args[@]}"
        else
            echo "FAIL build of $dir" >>"$results"
        fi
    }

    say "build (release) and all tests"
    setup build --prefix="$PWD/build/prefix"
    build_and_test build

    say "install, then build and run a consumer out of tree (pkg-config, CMake, subproject)"
    rm -rf build/prefix
    if meson install -C build --quiet >/dev/null; then
        bash tests/consumer/run.sh "$PWD/build/prefix" "$PWD/$results"
    else
        echo "FAIL meson install" >>"$results"
    fi

    # The whole suite again under ASan+UBSan, and the threaded tests under TSan: on a 2-core
    # machine they take about 19 of the whole run's 28 minutes (docs/benchmarks.md,
    # "Under sanitizers").
    say "all tests (unit, integration, soak) under AddressSanitizer + UndefinedBehaviorSanitizer"
    setup_asan build-asan
    build_and_test build-asan

    say "threaded tests (integration, soak) under ThreadSanitizer"
    setup_tsan
    TSAN_OPTIONS=$(tsan_options) build_and_test build-tsan "${TSAN_SUITES[@]}"

    rm -f build-fuzz/fuzz-results.txt
    if have_clang_fuzzer; then
        local seconds=${KSN_FUZZ_SECONDS:-$([ "${CI:-}" = true ] && echo 60 || echo 20)}
        say "fuzz targets, ${seconds}s each"
        if ! fuzz "$seconds"; then
            rm -f build-fuzz/fuzz-results.txt
            echo "FAIL fuzz set-up or build (build-fuzz/)" >>"$results"
        fi
    else
        say "clang with libFuzzer not found: fuzz targets not run"
        echo "SKIP fuzz targets (clang with libFuzzer not found)" >>"$results"
    fi
    python3 scripts/test_summary.py build build-asan build-tsan --results "$results" \
        --results build-fuzz/fuzz-results.txt
}

# sanitize_summary DIR...: the closing line of the sanitizer commands.
sanitize_summary() {
    python3 scripts/test_summary.py "$@"
}

# asan-all [meson test args]: the whole test suite — unit, integration (real redis-server
# processes and clusters) and the soak's short version — under AddressSanitizer +
# UndefinedBehaviorSanitizer, in build-asan-all/. meson test sets ASAN_OPTIONS and
# UBSAN_OPTIONS to halt_on_error=1, so any report fails its test.
# The sanitizer builds compile at -O1 with line tables only (-g1: reports still name file
# and line): on 2 cores this halves their compile time against -O2 -g (a heavy test file:
# 48 s at -O2 -g, 19 s at -O1 -g1), and -O1 is what the sanitizers' own docs advise.
# (b_ndebug=false: assert() stays on.)
SANITIZER_BUILD=(-Doptimization=1 -Ddebug=false -Db_ndebug=false -Dcpp_args=-g1
                 -Dbenchmarks=false -Dexamples=false)
setup_asan() {
    setup "$1" -Db_sanitize=address,undefined "${SANITIZER_BUILD[@]}" -Dintegration=true
}

cmd_asan_all() {
    deps
    say "whole suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan-all/)"
    setup_asan build-asan-all
    clear_test_logs build-asan-all
    ninja -C build-asan-all
    run_meson_tests build-asan-all "$@"
    sanitize_summary build-asan-all
}

# tsan [meson test args]: the threaded tests — the integration suite and the soak's short
# version (the notifier's I/O thread, pullers, workers) — under ThreadSanitizer, in
# build-tsan/. Unit tests are single-threaded pure code and stay with ASan.
# scripts/tsan.supp holds the suppressions (each one explained there); a report fails the
# test (TSan's exit code 66). meson.build explains -Wno-tsan (Asio's fences under GCC).
setup_tsan() {
    setup build-tsan -Db_sanitize=thread "${SANITIZER_BUILD[@]}"
}
tsan_options() {
    echo "suppressions=$PWD/scripts/tsan.supp second_deadlock_stack=1 history_size=4 ${TSAN_OPTIONS:-}"
}
TSAN_SUITES=(integration soak)

cmd_tsan() {
    deps
    say "integration tests and the soak under ThreadSanitizer (build-tsan/)"
    setup_tsan
    clear_test_logs build-tsan
    local listing targets=() args=() suite
    listing=$(python3 scripts/test_targets.py build-tsan "${TSAN_SUITES[@]}")
    mapfile -t targets <<<"$listing"
    for suite in "${TSAN_SUITES[@]}"; do args+=(--suite "$suite"); done
    ninja -C build-tsan "${targets[@]}"
    TSAN_OPTIONS=$(tsan_options) run_meson_tests build-tsan "${args[@]}" "$@"
    sanitize_summary build-tsan
}

# demo: the main job. Builds ksn, starts a throwaway redis-server (Debian's) on a free
# loopback port in a temporary directory, runs `ksn watch` on it while redis-cli writes a
# few keys, shows what ksn printed, and removes everything again, whatever happens.
# KSN_BUILD_DIR picks another build directory (default build/).
DEMO_DIR=
DEMO_SERVER_PID=
DEMO_KSN_PID=

demo_cleanup() {
    local pid
    for pid in "$DEMO_KSN_PID" "$DEMO_SERVER_PID"; do
        [ -n "$pid" ] || continue
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    DEMO_KSN_PID= DEMO_SERVER_PID=
    [ -z "$DEMO_DIR" ] || rm -rf "$DEMO_DIR"
    DEMO_DIR=
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds, at most SECONDS.
wait_for() {
    local tries=$(($1 * 10)); shift
    while [ "$tries" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        tries=$((tries - 1))
        sleep 0.1
    done
    return 1
}

# demo_subscribed PORT: true once the server has a pattern subscription (ksn's).
demo_subscribed() {
    [ "$(redis-cli -p "$1" pubsub numpat)" -ge 1 ]
}

cmd_demo() {
    deps
    local dir=${KSN_BUILD_DIR:-build}
    say "build ksn into $dir/"
    setup "$dir"
    ninja -C "$dir" tools/ksn >/dev/null
    local ksn=$dir/tools/ksn

    trap demo_cleanup EXIT
    trap 'exit 130' INT TERM
    DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ksn-demo.XXXXXX")
    local port
    port=$(free_port)
    say "start a throwaway redis-server on 127.0.0.1:$port (notify-keyspace-events KEA)"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$DEMO_DIR" --save '' --appendonly no \
        --notify-keyspace-events KEA --logfile "$DEMO_DIR/redis.log" &
    DEMO_SERVER_PID=$!
    if ! wait_for 10 redis-cli -p "$port" ping; then
        cat "$DEMO_DIR/redis.log" >&2 || true
        say "redis-server did not start"
        return 1
    fi

    local count=9
    say "$ksn watch --port $port --count $count --timeout 10"
    "$ksn" watch --port "$port" --count "$count" --timeout 10 >"$DEMO_DIR/ksn.out" 2>"$DEMO_DIR/ksn.err" &
    DEMO_KSN_PID=$!
    if ! wait_for 10 demo_subscribed "$port"; then
        cat "$DEMO_DIR/ksn.err" >&2
        say "ksn did not subscribe"
        return 1
    fi

    say "write a few keys with redis-cli"
    local -a writes=(
        'SET greeting hello'
        'HSET user:1 name Ada lang C++'
        'EXPIRE greeting 60'
        'SET session:42 token PX 100'
        'LPUSH jobs job-1'
        'DEL greeting'
        'SET "bin\x00\xffkey" binary-safe'
    )
    local w
    for w in "${writes[@]}"; do
        printf '    redis-cli> %s\n' "$w" >&2
        printf '%s\n' "$w" | redis-cli -p "$port" >/dev/null
    done
    sleep 0.3
    printf '    redis-cli> %s\n' 'GET session:42   (expired by now)' >&2
    redis-cli -p "$port" GET session:42 >/dev/null

    local status=0
    wait "$DEMO_KSN_PID" || status=$?
    DEMO_KSN_PID=
    say "ksn printed (exit status $status):"
    cat "$DEMO_DIR/ksn.out"
    cat "$DEMO_DIR/ksn.err" >&2
    if [ "$status" -ne 0 ]; then
        say "ksn watch failed"
        return "$status"
    fi
    demo_cleanup
    say "done: the server is stopped and its directory removed. More: $ksn watch --help"
}

cmd_bench() {
    deps
    build
    local b
    for b in build/bench/*_bench; do
        [ -x "$b" ] || continue
        say "$b"
        "$b" "$@"
    done
}

usage() {
    cat <<'USAGE'
usage: ./dev.sh COMMAND

  demo            the main job: build ksn, start a throwaway redis-server on a free loopback
                  port, run `ksn watch` on it while writing a few keys, show the
                  notifications, clean up
  test            install what is missing (apt-get), build, run every test (release build,
                  all again under ASan+UBSan, integration and soak under TSan, each fuzz
                  target briefly when clang is there); ends with "N passed, N failed, N skipped"
  fuzz [S] [T..]  build the libFuzzer targets with clang and run each (or the named ones)
                  for S seconds (default 300)
  asan-all        the whole test suite (integration and the soak included) under
                  ASan+UBSan in build-asan-all/; ends with the same summary line
  tsan            the threaded tests (integration suite, the soak's short version) under
                  ThreadSanitizer in build-tsan/ (suppressions: scripts/tsan.supp)
  bench [ARGS]    build and run every Google Benchmark program in bench/ (ARGS go to each)
  deps            install the Debian packages the project needs
  build           configure and build into build/
USAGE
}

case "${1:-help}" in
    demo) shift; cmd_demo ;;
    test) shift; cmd_test "$@" ;;
    fuzz)
        shift; deps; fuzz "${1:-300}" "${@:2}"; cat build-fuzz/fuzz-results.txt
        ! grep -q '^FAIL' build-fuzz/fuzz-results.txt ;;
    asan-all) shift; cmd_asan_all "$@" ;;
    tsan) shift; cmd_tsan "$@" ;;
    bench) shift; cmd_bench "$@" ;;
    deps) deps ;;
    build) deps; build ;;
    help | -h | --help) usage ;;
    *) usage >&2; exit 2 ;;
esac
