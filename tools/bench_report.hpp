// The output of `ksn bench`: one JSON document (--json), CSV rows (--csv), a table.
//
// JSON schema (version 1; times in seconds since the writes started, latencies in µs):
//   {"schema":"ksn-bench/1",
//    "target":{"mode":"standalone"|"cluster","address":"host:port","tls":bool},
//    "config":{"writers","pipeline","rate" (0: max),"duration_s","ops","keys","mix",
//              "hset_fields","value_size","prefix","db","channel":"keyspace"|"keyevent",
//              "match":"pattern"|"exact","extra_patterns","drain_s","seed"},
//    "required_flags":"K$ghl","configured_nodes":[...],"subscriptions":N,
//    "elapsed_s","interrupted":bool,"write_rate","notification_rate",
//    "first_error":string|null,"redirects":{"moved","ask","retries"},
//    "total":COUNTS,"nodes":[COUNTS with "node"],
//    "gaps":[{"node","reason","detail","lost_s","restored_s" (null: never),"dropped",
//             "slots":[[first,last],...],"lost_writes"}],
//    "other_events":N,
//    "timeline":[{"second","sent","acked","received","p50_us","p99_us"}]}
//   COUNTS: {"node","writes_sent","writes_acked","writes_failed","writes_silent",
//            "expected","received","lost","lost_in_gaps","duplicated","out_of_order",
//            "unconfirmed","gaps",
//            "latency_us":{"count","p50","p90","p99","p999","max"}}
#pragma once

#include <string>

#include "tools/bench_run.hpp"

namespace ksn::tools::bench {

/// The JSON document (pretty-printed, ending in a newline).
[[nodiscard]] std::string to_json(const bench_report& r);
/// The CSV header line and one line per second.
[[nodiscard]] std::string csv_header();
[[nodiscard]] std::string csv_row(const second_result& s);
/// The human summary: totals, a per-node table, the gaps.
[[nodiscard]] std::string to_table(const bench_report& r);
/// "12.3s  45678 w/s  received 456789  missing 0  p99 1.23 ms" for the progress line.
[[nodiscard]] std::string progress_line(double elapsed, const progress& p, double write_rate);

}  // namespace ksn::tools::bench
