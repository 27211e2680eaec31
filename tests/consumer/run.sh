#!/usr/bin/env bash
# Builds tests/consumer/consumer.cpp out of tree against an installed ksn, once with
# pkg-config and once with CMake, and once with ksn as a meson subproject, and runs each
# against a throwaway redis-server.
# usage: run.sh PREFIX RESULTS_FILE   (appends "PASS name" / "FAIL name" lines)
set -uo pipefail
prefix=$1
results=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
    --notify-keyspace-events KEA --dir "$work" --logfile "$work/redis.log" &
server_pid=$!
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

# run_consumer NAME BINARY: runs it while writing the key it waits for.
run_consumer() {
    local name=$1 bin=$2
    "$bin" "$port" >"$work/$name.out" 2>&1 &
    local pid=$!
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        redis-cli -p "$port" set consumer x >/dev/null
        sleep 0.1
    done
    if wait "$pid"; then
        echo "PASS $name" >>"$results"
        cat "$work/$name.out" >&2
    else
        echo "FAIL $name (see output above)" >>"$results"
        cat "$work/$name.out" >&2
    fi
}

# The installed headers are the public ones and no others: the same list as the links in
# include/ksn/ (what in-tree and subproject users see), none of session.hpp & co., and no
# tools/ or tests/.
incdir=$(find "$prefix" -type d -path '*/include/ksn' | head -1)
(cd "$here/../../include" && find ksn -name '*.hpp' | sort) >"$work/headers.tree"
if [ -n "$incdir" ]; then (cd "$incdir/.." && find ksn -type f | sort) >"$work/headers.installed"; fi
if [ -n "$incdir" ] && diff "$work/headers.tree" "$work/headers.installed" >"$work/headers.diff"; then
    echo "PASS installed_headers_are_the_public_ones" >>"$results"
else
    echo "FAIL installed_headers_are_the_public_ones (< only in include/ksn/, > only installed)" >>"$results"
    cat "$work/headers.diff" >&2
fi

# Each installed header compiles on its own with only the installed tree on the include
# path, and none but io_context.hpp (the io_context API) reaches an Asio or OpenSSL header: the
# compiler's own list of every file it read (-M) says so.
bad=0
for h in $(cat "$work/headers.installed" 2>/dev/null); do
    printf '#include <%s>\nint main() {}\n' "$h" >"$work/one.cpp"
    if ! g++ -std=c++20 -fsyntax-only -I "$incdir/.." -DASIO_STANDALONE "$work/one.cpp" \
        2>"$work/one.log"; then
        echo "$h does not compile on its own:" >&2
        head -20 "$work/one.log" >&2
        bad=1
        continue
    fi
    reached=$(g++ -std=c++20 -M -I "$incdir/.." -DASIO_STANDALONE "$work/one.cpp" |
        tr ' \\' '\n\n' | grep -cE '/asio[/.]|/openssl/')
    if [ "$h" = ksn/io_context.hpp ]; then
        [ "$reached" -gt 0 ] || { echo "$h reaches no Asio header" >&2; bad=1; }
    elif [ "$reached" -ne 0 ]; then
        echo "$h reaches $reached Asio/OpenSSL headers" >&2
        bad=1
    fi
done
if [ -s "$work/headers.installed" ] && [ $bad -eq 0 ]; then
    echo "PASS installed_headers_compile_alone_without_asio_or_openssl" >>"$results"
else
    echo "FAIL installed_headers_compile_alone_without_asio_or_openssl (see above)" >>"$results"
fi

libdir=$(find "$prefix" -name ksn.pc -printf '%h\n' | head -1)
if [ -n "$libdir" ] &&
    g++ -std=c++20 -o "$work/consumer-pc" "$here/consumer.cpp" \
        $(PKG_CONFIG_PATH="$libdir" pkg-config --cflags --libs --static ksn) 2>"$work/pc.log"; then
    run_consumer consumer_pkgconfig "$work/consumer-pc"
else
    echo "FAIL consumer_pkgconfig (build failed)" >>"$results"
    cat "$work/pc.log" >&2
fi

if cmake -S "$here" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake.log" 2>&1 &&
    cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1; then
    run_consumer consumer_cmake "$work/cmake/consumer"
else
    echo "FAIL consumer_cmake (build failed)" >>"$results"
    cat "$work/cmake.log" >&2
fi

# As a meson subproject: the consumer's own meson project with subprojects/ksn -> this tree.
# Only the consumer is built (with the library it needs), not the subproject's ksn program
# and examples.
mkdir -p "$work/sub/subprojects"
ln -s "$(cd "$here/../.." && pwd)" "$work/sub/subprojects/ksn"
cp "$here/consumer.cpp" "$work/sub/"
cat >"$work/sub/meson.build" <<'MESON'
project('consumer', 'cpp', default_options : ['cpp_std=c++20'])
ksn = dependency('ksn', fallback : ['ksn', 'ksn_dep'],
  default_options : ['tests=false', 'benchmarks=false'])
executable('consumer', 'consumer.cpp', dependencies : ksn)
MESON
if meson setup "$work/sub/build" "$work/sub" >"$work/sub.log" 2>&1 &&
    ninja -C "$work/sub/build" consumer >>"$work/sub.log" 2>&1; then
    run_consumer consumer_subproject "$work/sub/build/consumer"
else
    echo "FAIL consumer_subproject (build failed)" >>"$results"
    tail -30 "$work/sub.log" >&2
fi
