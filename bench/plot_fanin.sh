#!/bin/sh
# Plots fan-in latency percentiles against the write rate, ksn beside the redis-cli
# baseline, from the JSON that cluster_bench writes:
#
#   build/bench/cluster_bench --benchmark_filter=FanInLatency \
#       --benchmark_out=fanin.json --benchmark_out_format=json
#   bench/plot_fanin.sh fanin.json docs/fanin_latency.png
#
# Needs python3 and gnuplot (Debian's gnuplot-nox).
set -eu
in=${1:?usage: plot_fanin.sh cluster_bench.json out.png}
out=${2:?usage: plot_fanin.sh cluster_bench.json out.png}
data=$(mktemp)
trap 'rm -f "$data"' EXIT

# One row per rate: rate, ksn p50 p99 p99.9, redis-cli p50 p99 p99.9 (microseconds).
python3 - "$in" >"$data" <<'EOF'
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
for r in sorted((r for r in runs if r["name"].startswith("FanInLatency/")
                 and r.get("run_type") == "iteration"),
                key=lambda r: int(r["name"].split("/")[1])):
    cols = [r["name"].split("/")[1]]
    for who in ("e2e", "cli_e2e"):
        cols += [str(r[f"{who}_{p}_us"]) for p in ("p50", "p99", "p999")]
    print(" ".join(cols))
EOF

gnuplot <<EOF
set terminal pngcairo size 800,480 font ",10"
set output "$out"
set title "Write -> notification latency on a local 3-primary cluster"
set xlabel "writes per second"
set ylabel "latency (us)"
set logscale y
set key top left
set grid
plot "$data" using 1:2 with linespoints lw 2 lc rgb "#1f77b4" pt 7 title "ksn p50", \
     "$data" using 1:3 with linespoints lw 2 lc rgb "#1f77b4" pt 5 dt 2 title "ksn p99", \
     "$data" using 1:4 with linespoints lw 1 lc rgb "#1f77b4" pt 9 dt 3 title "ksn p99.9", \
     "$data" using 1:5 with linespoints lw 2 lc rgb "#d62728" pt 7 title "redis-cli p50", \
     "$data" using 1:6 with linespoints lw 2 lc rgb "#d62728" pt 5 dt 2 title "redis-cli p99", \
     "$data" using 1:7 with linespoints lw 1 lc rgb "#d62728" pt 9 dt 3 title "redis-cli p99.9"
EOF
echo "wrote $out"
