#!/usr/bin/env bash
# The `ksn bench` figures of docs/benchmarks.md: runs ksn bench against a throwaway local
# redis-server and a throwaway 3-primary cluster, and prints each run's table.
#   bench/ksn_bench_figures.sh [KSN_BINARY]      (default build/tools/ksn)
# Ports BASE_PORT..BASE_PORT+3 on 127.0.0.1 (default 16400) must be free.
set -euo pipefail
ksn=${1:-build/tools/ksn}
base=${BASE_PORT:-16400}
dir=$(mktemp -d)
ports=("$base" $((base + 1)) $((base + 2)) $((base + 3)))
cleanup() {
    for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$dir"
}
trap cleanup EXIT
common=(--bind 127.0.0.1 --save '' --appendonly no --notify-keyspace-events KEA --daemonize yes)
redis-server --port "${ports[0]}" "${common[@]}" --dir "$dir" --logfile "$dir/standalone.log"
for p in "${ports[@]:1}"; do
    mkdir -p "$dir/$p"
    redis-server --port "$p" "${common[@]}" --dir "$dir/$p" --logfile "$dir/$p/log" \
        --cluster-enabled yes --cluster-config-file nodes.conf
done
sleep 0.5
redis-cli --cluster create "127.0.0.1:${ports[1]}" "127.0.0.1:${ports[2]}" "127.0.0.1:${ports[3]}" \
    --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 100); do  # bounded: 10 s for the cluster to agree
    redis-cli -p "${ports[1]}" cluster info | grep -q cluster_state:ok && break
    sleep 0.1
done
run() { echo "## ksn bench $*"; "$ksn" bench "$@" -q; echo; }
s=(--port "${ports[0]}" --duration 10)
c=(--cluster --port "${ports[1]}" --duration 10)
run "${s[@]}"
run "${s[@]}" --writers 1 --pipeline 1
run "${s[@]}" --rate 50000
run "${s[@]}" --rate 50000 --channel keyevent
run "${s[@]}" --rate 50000 --exact --keys 10000
run "${s[@]}" --rate 50000 --patterns 100
run "${s[@]}" --patterns 100
run "${s[@]}" --patterns 1000
run "${c[@]}"
run "${c[@]}" --rate 50000
