#!/bin/sh
# Plots fan-in latency percentiles against the write rate, ksn beside the redis-cli
# baseline, from the JSON that cluster_bench writes:
#
#   build/bench/cluster_bench --benchmark_filter=FanInLatency --benchmark_repetitions=3 \
#       --benchmark_out=fanin.json --benchmark_out_format=json
#   bench/plot_fanin.sh fanin.json docs/fanin_latency.png
#
# One panel per subscription order (Redis writes the subscriber that subscribed last
# first); each point is the median of the repetitions. Needs python3 and gnuplot
# (Debian's gnuplot-nox).
set -eu
in=${1:?usage: plot_fanin.sh cluster_bench.json out.png}
out=${2:?usage: plot_fanin.sh cluster_bench.json out.png}
data=$(mktemp)
trap 'rm -f "$data"' EXIT

# Rows: rate, ksn p50 p99 p99.9, redis-cli p50 p99 p99.9 (microseconds); the two orders
# are two gnuplot data sets (index 0: ksn subscribed first, 1: redis-cli first).
python3 - "$in" >"$data" <<'PY'
import json, statistics, sys
runs = [r for r in json.load(open(sys.argv[1]))["benchmarks"]
        if r["name"].startswith("FanInLatency/") and r.get("run_type") == "iteration"]
arg = lambda r, key: int(r["name"].split(key + ":")[1].split("/")[0])
for order in (0, 1):
    for rate in sorted({arg(r, "rate") for r in runs}):
        same = [r for r in runs if arg(r, "rate") == rate and arg(r, "cli_first") == order]
        if not same:
            continue
        cols = [str(rate)]
        for who in ("e2e", "cli_e2e"):
            for p in ("p50", "p99", "p999"):
                cols.append(str(statistics.median(r[f"{who}_{p}_us"] for r in same)))
        print(" ".join(cols))
    print("\n")
PY

gnuplot <<GP
set terminal pngcairo size 1100,460 font ",10"
set output "$out"
set multiplot layout 1,2 title "Write -> notification latency, local 3-primary cluster (medians)"
set xlabel "writes per second"
set ylabel "latency (us)"
set logscale y
set key top left
set grid
do for [order=0:1] {
  set title (order == 0 ? "ksn subscribed first (redis-cli is written first)" : "redis-cli subscribed first (ksn is written first)")
  plot "$data" index order using 1:2 with linespoints lw 2 lc rgb "#1f77b4" pt 7 title "ksn p50", \
       "$data" index order using 1:3 with linespoints lw 2 lc rgb "#1f77b4" pt 5 dt 2 title "ksn p99", \
       "$data" index order using 1:4 with linespoints lw 1 lc rgb "#1f77b4" pt 9 dt 3 title "ksn p99.9", \
       "$data" index order using 1:5 with linespoints lw 2 lc rgb "#d62728" pt 7 title "redis-cli p50", \
       "$data" index order using 1:6 with linespoints lw 2 lc rgb "#d62728" pt 5 dt 2 title "redis-cli p99", \
       "$data" index order using 1:7 with linespoints lw 1 lc rgb "#d62728" pt 9 dt 3 title "redis-cli p99.9"
}
unset multiplot
GP
echo "wrote $out"
