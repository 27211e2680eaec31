#include "tools/bench_report.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ksn::tools::bench {

namespace {

double us(std::uint64_t ns) {
    return static_cast<double>(ns) / 1000.0;
}

nlohmann::ordered_json counts_json(const node_result& n) {
    nlohmann::ordered_json j;
    j["node"] = n.node;
    j["writes_sent"] = n.writes_sent;
    j["writes_acked"] = n.writes_acked;
    j["writes_failed"] = n.writes_failed;
    j["writes_silent"] = n.writes_silent;
    j["expected"] = n.expected;
    j["received"] = n.received;
    j["lost"] = n.lost;
    j["lost_in_gaps"] = n.lost_in_gaps;
    j["duplicated"] = n.duplicated;
    j["redelivered"] = n.redelivered;
    j["out_of_order"] = n.out_of_order;
    j["unconfirmed"] = n.unconfirmed;
    j["gaps"] = n.gaps;
    j["latency_us"] = {{"count", n.latency.count},   {"p50", us(n.latency.p50)},
                       {"p90", us(n.latency.p90)},   {"p99", us(n.latency.p99)},
                       {"p999", us(n.latency.p999)}, {"max", us(n.latency.max)}};
    return j;
}

const char* mode_of(const bench_config& c) {
    if (!c.sentinels.empty()) return "sentinel";
    return c.cluster ? "cluster" : "standalone";
}

std::string duration_text(std::uint64_t ns) {
    if (ns < 1'000'000) return fmt::format("{:.0f} µs", us(ns));
    if (ns < 10'000'000'000ULL) return fmt::format("{:.2f} ms", static_cast<double>(ns) / 1e6);
    return fmt::format("{:.2f} s", static_cast<double>(ns) / 1e9);
}

}  // namespace

std::string to_json(const bench_report& r) {
    const auto& c = r.config;
    nlohmann::ordered_json j;
    j["schema"] = "ksn-bench/1";
    j["target"] = {{"mode", mode_of(c)},
                   {"address", c.connection.address.to_string()},
                   {"tls", c.connection.tls.enabled}};
    if (!c.sentinels.empty()) {
        // The address is the primary at the start; the nodes say where the writes went.
        j["target"]["primary_name"] = c.primary_name;
        j["target"]["sentinels"] = nlohmann::ordered_json::array();
        for (const auto& s : c.sentinels)
            j["target"]["sentinels"].push_back(s.to_string());
        j["target"]["sentinel_tls"] = c.sentinel_connection.tls.enabled;
    }
    j["config"] = {{"writers", c.writers},
                   {"pipeline", c.pipeline},
                   {"rate", c.rate},
                   {"duration_s", c.duration},
                   {"ops", c.ops},
                   {"keys", c.keys},
                   {"mix", c.mix},
                   {"hset_fields", c.hset_fields},
                   {"value_size", c.value_size},
                   {"prefix", c.prefix},
                   {"db", c.db},
                   {"channel", c.kind == channel_kind::keyevent ? "keyevent" : "keyspace"},
                   {"match", c.exact ? "exact" : "pattern"},
                   {"extra_patterns", c.extra_patterns},
                   {"drain_s", c.drain},
                   {"seed", c.seed}};
    j["required_flags"] = r.required_flags;
    j["configured_nodes"] = r.nodes_configured;
    j["subscriptions"] = r.subscriptions;
    j["elapsed_s"] = r.elapsed;
    j["interrupted"] = r.interrupted;
    j["write_rate"] = r.write_rate;
    j["notification_rate"] = r.notification_rate;
    j["first_error"] = r.first_error.empty() ? nlohmann::ordered_json(nullptr)
                                             : nlohmann::ordered_json(r.first_error);
    j["redirects"] = {
        {"moved", r.moved}, {"ask", r.asked}, {"retries", r.retried}, {"switches", r.switches}};
    j["total"] = counts_json(r.result.total);
    j["nodes"] = nlohmann::ordered_json::array();
    for (const auto& n : r.result.nodes)
        j["nodes"].push_back(counts_json(n));
    j["gaps"] = nlohmann::ordered_json::array();
    for (const auto& g : r.result.gaps) {
        nlohmann::ordered_json x;
        x["node"] = g.node;
        x["reason"] = g.reason;
        x["detail"] = g.detail;
        x["lost_s"] = g.lost_s;
        x["restored_s"] =
            g.restored_s ? nlohmann::ordered_json(*g.restored_s) : nlohmann::ordered_json(nullptr);
        x["dropped"] = g.dropped;
        x["slots"] = nlohmann::ordered_json::array();
        for (const auto& [first, last] : g.slots)
            x["slots"].push_back({first, last});
        x["lost_writes"] = g.lost_writes;
        j["gaps"].push_back(std::move(x));
    }
    j["other_events"] = r.result.other_events;
    j["timeline"] = nlohmann::ordered_json::array();
    for (const auto& s : r.timeline) {
        j["timeline"].push_back({{"second", s.second},
                                 {"sent", s.sent},
                                 {"acked", s.acked},
                                 {"received", s.received},
                                 {"p50_us", us(s.p50_ns)},
                                 {"p99_us", us(s.p99_ns)}});
    }
    // Keys and details are bytes from the server; replace what is not UTF-8.
    return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string csv_header() {
    return "second,sent,acked,received,p50_us,p99_us\n";
}

std::string csv_row(const second_result& s) {
    return fmt::format("{},{},{},{},{:.1f},{:.1f}\n", s.second, s.sent, s.acked, s.received,
                       us(s.p50_ns), us(s.p99_ns));
}

std::string to_table(const bench_report& r) {
    const auto& c = r.config;
    const auto& t = r.result.total;
    std::string out;
    const std::string target = c.sentinels.empty()
                                   ? c.connection.address.to_string()
                                   : fmt::format("'{}' (primary {} at the start)", c.primary_name,
                                                 c.connection.address.to_string());
    out += fmt::format(
        "ksn bench: {} {}, {} writers x {} in flight, rate {}, {:.1f} s{}, {} {} channel(s)\n",
        mode_of(c), target, c.writers, c.pipeline,
        c.rate > 0 ? fmt::format("{:.0f}/s", c.rate) : std::string("max"), r.elapsed,
        r.interrupted ? " (interrupted)" : "", r.subscriptions,
        c.kind == channel_kind::keyevent ? "keyevent" : "keyspace");
    out += fmt::format("  mix {}, {} keys, prefix {}\n", c.mix, c.keys, c.prefix);
    out += fmt::format(
        "  writes:        sent {} ({:.0f}/s), acked {}, failed {}, publishing nothing {}\n",
        t.writes_sent, r.write_rate, t.writes_acked, t.writes_failed, t.writes_silent);
    out += fmt::format(
        "  notifications: expected {}, received {} ({:.0f}/s), lost {} ({} in gaps), duplicated "
        "{}, redelivered {}, out of order {}, unconfirmed {}\n",
        t.expected, t.received, r.notification_rate, t.lost, t.lost_in_gaps, t.duplicated,
        t.redelivered, t.out_of_order, t.unconfirmed);
    out += fmt::format(
        "  latency (write sent -> notification received): p50 {}, p90 {}, p99 {}, "
        "p99.9 {}, max {}\n",
        duration_text(t.latency.p50), duration_text(t.latency.p90), duration_text(t.latency.p99),
        duration_text(t.latency.p999), duration_text(t.latency.max));
    if (!c.sentinels.empty()) {
        if (r.switches + r.retried > 0) {
            out += fmt::format("  sentinel: {} primary switch(es) followed, {} retries\n",
                               r.switches, r.retried);
        }
    } else if (r.moved + r.asked + r.retried > 0) {
        out += fmt::format("  cluster: {} MOVED and {} ASK redirections followed, {} retries\n",
                           r.moved, r.asked, r.retried);
    }
    if (!r.first_error.empty()) out += fmt::format("  first write error: {}\n", r.first_error);
    out += fmt::format("\n  {:<22} {:>10} {:>10} {:>10} {:>10} {:>8} {:>6} {:>6} {:>10} {:>10}\n",
                       "node", "sent", "acked", "expected", "received", "lost", "dup", "ooo",
                       "p50 µs", "p99 µs");
    for (const auto& n : r.result.nodes) {
        out += fmt::format(
            "  {:<22} {:>10} {:>10} {:>10} {:>10} {:>8} {:>6} {:>6} {:>10.1f} {:>10.1f}\n", n.node,
            n.writes_sent, n.writes_acked, n.expected, n.received, n.lost, n.duplicated,
            n.out_of_order, us(n.latency.p50), us(n.latency.p99));
    }
    if (!r.result.gaps.empty()) {
        out += "\n  gaps:\n";
        for (const auto& g : r.result.gaps) {
            out += fmt::format(
                "  {} {} from {:.3f} s to {}: {} lost write(s); {}\n", g.node, g.reason, g.lost_s,
                g.restored_s ? fmt::format("{:.3f} s", *g.restored_s) : std::string("the end"),
                g.lost_writes, g.detail);
        }
    }
    if (r.result.other_events > 0) {
        out += fmt::format("  (also {} notifications of other events on the benchmark's keys)\n",
                           r.result.other_events);
    }
    return out;
}

std::string progress_line(double elapsed, const progress& p, double write_rate) {
    return fmt::format("{:7.1f}s  {:>9.0f} writes/s  received {:>10}  missing {:>6}  p99 {}",
                       elapsed, write_rate, p.received, p.missing, duration_text(p.p99_ns));
}

}  // namespace ksn::tools::bench
