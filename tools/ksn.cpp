// The ksn program: `ksn watch` subscribes to keyspace notifications on a Redis server and
// prints them; `ksn parse` decodes a subscriber's raw byte stream (a capture) the same way.
//
// Exit status: 0 success (for watch: --count reached, or --timeout without --count);
// 1 a runtime failure (connection refused, authentication failed, fewer than --count
// notifications before --timeout, an unreadable input or unwritable output); 2 a usage
// error, or for parse a protocol error in the input; for watch, 128 + the signal number
// (130 for SIGINT, 143 for SIGTERM) when interrupted, after a clean shutdown (output
// flushed, --stats printed).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "notifications/keyspace_notifications.hpp"
#include "sentinel/sentinel_keyspace_notifications.hpp"
#include "tools/bench_report.hpp"
#include "tools/bench_run.hpp"
#include "tools/output.hpp"
#include "tools/server_flags.hpp"
#include "tools/stream_decoder.hpp"

#ifndef KSN_VERSION
#define KSN_VERSION "unknown"
#endif

namespace {

using namespace std::chrono_literals;
using ksn::tools::output_format;

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;
constexpr int exit_protocol_error = 2;  // ksn parse: malformed RESP in the input
/// --timeout values above this (about 30 years) mean "none" in practice and would
/// overflow the clock.
constexpr double max_timeout = 1e9;

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int sig) {
    g_signal = sig;
}

/// SIGINT and SIGTERM ask for a clean stop; a second one kills (SA_RESETHAND).
void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int interrupted_status() {
    return g_signal != 0 ? 128 + g_signal : exit_ok;
}

/// Flushes stdout; false (with a message) when any write to it failed (a full disk).
bool flush_output(const char* who) {
    if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return true;
    std::cerr << who << ": cannot write the output: " << std::strerror(errno) << '\n';
    return false;
}

void write_out(const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
}

// --- watch ---------------------------------------------------------------------------------

struct watch_options {
    ksn::tools::server_flags server;
    std::int32_t db = 0;
    std::string prefix;
    std::vector<std::string> keyspace;
    std::vector<std::string> keyevent;
    std::vector<std::string> subkeyspace;
    std::vector<std::string> subkeyevent;
    std::vector<std::pair<std::string, std::string>> subkeyspaceitem;
    std::vector<std::pair<std::string, std::string>> subkeyspaceevent;
    std::vector<std::string> exact;
    std::vector<std::string> pattern;
    std::vector<std::string> channels;
    bool json = false;
    std::string format;       // --format TEMPLATE; empty: text or json
    double idle = 0;          // seconds without a notification before exiting; 0: never
    std::uint64_t count = 0;  // 0: unbounded
    double timeout = 0;       // seconds; 0: none
    bool stats = false;
    bool verbose = false;
    std::size_t queue = ksn::notifier_options{}.queue_capacity;
    std::string overflow = "drop-oldest";
};

/// The largest --queue: slots are allocated as the depth requires, about 200 bytes each
/// for small notifications.
constexpr std::size_t max_queue = 1 << 20;

ksn::overflow_policy overflow_of(const std::string& name) {
    if (name == "drop-newest") return ksn::overflow_policy::drop_newest;
    if (name == "disconnect") return ksn::overflow_policy::disconnect;
    return ksn::overflow_policy::drop_oldest;
}

/// The channels built from --keyspace ... --subkeyspaceevent (throws
/// std::invalid_argument for one that could never receive anything).
std::vector<ksn::channel> built_channels(const watch_options& o) {
    std::vector<ksn::channel> out;
    for (const auto& k : o.keyspace)
        out.push_back(ksn::channel::keyspace(k, o.db));
    for (const auto& e : o.keyevent)
        out.push_back(ksn::channel::keyevent(e, o.db));
    for (const auto& k : o.subkeyspace)
        out.push_back(ksn::channel::subkeyspace(k, o.db));
    for (const auto& e : o.subkeyevent)
        out.push_back(ksn::channel::subkeyevent(e, o.db));
    for (const auto& [key, subkey] : o.subkeyspaceitem)
        out.push_back(ksn::channel::subkeyspaceitem(key, subkey, o.db));
    for (const auto& [event, key] : o.subkeyspaceevent)
        out.push_back(ksn::channel::subkeyspaceevent(event, key, o.db));
    const bool raw = !o.exact.empty() || !o.pattern.empty() || !o.channels.empty();
    if (out.empty() && !raw) out.push_back(ksn::channel::keyspace("*", o.db));
    return out;
}

/// Prints the notifier's diagnostics to stderr as "ksn: SEVERITY: MESSAGE". Until
/// started(), it holds them back: if subscribing fails, its error says the same in one line.
class startup_diagnostics {
  public:
    explicit startup_diagnostics(bool verbose) : verbose_(verbose) {}
    void add(ksn::severity s, const std::string& m) {
        if (s == ksn::severity::info && !verbose_) return;
        std::string line = "ksn: " + std::string(ksn::to_string(s)) + ": " + m + "\n";
        std::lock_guard lock(mutex_);
        if (started_) {
            std::fputs(line.c_str(), stderr);
        } else {
            held_ += line;
        }
    }
    void started() {
        std::lock_guard lock(mutex_);
        started_ = true;
        std::fputs(held_.c_str(), stderr);
        held_.clear();
    }

  private:
    bool verbose_;
    std::mutex mutex_;
    bool started_ = false;
    std::string held_;
};

void print_stats(const ksn::notifier_base& n) {
    const auto s = n.stats();
    for (const auto& x : s.nodes) {
        std::fprintf(
            stderr,
            "ksn: stats %s state=%s resp=%d notifications=%llu redelivered=%llu bytes=%llu "
            "protocol_errors=%llu invalid=%llu filtered=%llu other_messages=%llu "
            "reconnects=%llu gaps=%llu dropped=%llu%s\n",
            x.node.c_str(), std::string(ksn::net::to_string(x.state)).c_str(), x.resp,
            static_cast<unsigned long long>(x.notifications),
            static_cast<unsigned long long>(x.redelivered),
            static_cast<unsigned long long>(x.bytes),
            static_cast<unsigned long long>(x.protocol_errors),
            static_cast<unsigned long long>(x.invalid), static_cast<unsigned long long>(x.filtered),
            static_cast<unsigned long long>(x.other_messages),
            static_cast<unsigned long long>(x.reconnects), static_cast<unsigned long long>(x.gaps),
            static_cast<unsigned long long>(x.dropped),
            x.standby ? (" standby held=" + std::to_string(x.held)).c_str() : "");
    }
    std::fprintf(stderr, "ksn: stats queue depth=%zu high_water=%zu dropped=%llu\n", s.queue_depth,
                 s.queue_high_water, static_cast<unsigned long long>(s.queue_dropped));
}

/// -v in cluster mode: the primaries watched, one line each with their slots
/// ("ksn: info: primary 127.0.0.1:7000 slots=0-5460"), once subscribed and again when
/// the topology changed since: after a gap (a node that takes over slots reports one), at
/// most once a second while nothing arrives (a handover without loss reports none) and
/// at the end.
class primaries_report {
  public:
    explicit primaries_report(ksn::cluster_keyspace_notifications& n) : notifier_(n) {}

    /// Prints `header` and the primaries when the topology differs from the one printed
    /// last (always the first time).
    void show(const std::string& header) {
        std::optional<ksn::cluster::topology> t;
        try {
            t = notifier_.topology();
        } catch (const ksn::error&) {
            return;  // the I/O thread did not answer in time: the next gap asks again
        }
        if (!t || (shown_ && t->signature() == signature_)) return;
        shown_ = true;
        signature_ = t->signature();
        std::string text = "ksn: info: " + header + std::to_string(t->shards().size()) +
                           (t->shards().size() == 1 ? " primary\n" : " primaries\n");
        std::vector<std::pair<std::uint16_t, std::uint16_t>> ranges;
        for (const auto& shard : t->shards()) {
            ranges.clear();
            for (const auto& r : shard.slots)
                ranges.emplace_back(r.first, r.last);
            text += "ksn: info: primary " + shard.primary.address.to_string() + " slots=";
            ksn::tools::append_slot_ranges(text, ranges);
            text += '\n';
        }
        // Primaries that serve no slot yet (a node just added) or any more (one emptied).
        for (const auto& spare : t->spares())
            text += "ksn: info: primary " + spare.address.to_string() + " slots=none\n";
        std::fputs(text.c_str(), stderr);
    }

  private:
    ksn::cluster_keyspace_notifications& notifier_;
    bool shown_ = false;
    std::uint64_t signature_ = 0;
};

int run_watch(const watch_options& o) {
    using clock = ksn::clock;
    const auto start = clock::now();
    const bool bounded = o.timeout > 0;
    const auto deadline =
        start + std::chrono::duration_cast<clock::duration>(
                    std::chrono::duration<double>(std::min(o.timeout, max_timeout)));

    std::vector<ksn::channel> channels;
    try {
        channels = built_channels(o);
    } catch (const std::invalid_argument& e) {
        std::cerr << "ksn watch: " << e.what() << '\n';
        return exit_usage;
    }
    std::optional<ksn::tools::line_template> templated;
    if (!o.format.empty()) {
        std::string why;
        templated = ksn::tools::line_template::compile(o.format, why);
        if (!templated) {
            std::cerr << "ksn watch: --format: " << why << '\n';
            return exit_usage;
        }
    }
    const auto idle = std::chrono::duration_cast<clock::duration>(
        std::chrono::duration<double>(std::min(o.idle, max_timeout)));

    ksn::cluster_options opts;
    opts.connection = o.server.connection("ksn-watch");
    opts.deliver_invalid = true;
    if (o.server.cluster) {
        try {
            opts.seeds = o.server.seed_endpoints();
            opts.require_every_primary = o.server.require_every_primary;
        } catch (const std::invalid_argument& e) {
            std::cerr << "ksn watch: " << e.what() << '\n';
            return exit_usage;
        }
    }
    opts.redundancy = o.server.redundancy_choice();
    opts.key_prefix = o.prefix;
    // One thread: next() below reads the sockets itself (no I/O thread, no hand-off
    // between threads, no wake-up per read).
    opts.dispatch = ksn::dispatch_mode::caller;
    opts.queue_capacity = o.queue;
    opts.overflow = overflow_of(o.overflow);
    if (bounded) {
        // Nothing may take longer than the whole run is allowed to.
        const auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - start);
        const auto cap = std::max(budget, std::chrono::milliseconds(1));
        opts.connection.connect_timeout = std::min(opts.connection.connect_timeout, cap);
        opts.subscribe_timeout = std::min(opts.subscribe_timeout, cap);
    }

    startup_diagnostics diagnostics(o.verbose);  // outlives the notifier's thread
    opts.diagnostics = [&diagnostics](ksn::severity s, const std::string& m) {
        diagnostics.add(s, m);
    };
    std::unique_ptr<ksn::notifier_base> notifier;
    std::optional<primaries_report> primaries;
    ksn::sentinel_keyspace_notifications* followed = nullptr;  // with --sentinel
    if (o.server.sentinel()) {
        ksn::sentinel_options so;
        static_cast<ksn::notifier_options&>(so) = static_cast<const ksn::notifier_options&>(opts);
        try {
            so.sentinels = o.server.sentinel_endpoints();
        } catch (const std::invalid_argument& e) {
            std::cerr << "ksn watch: " << e.what() << '\n';
            return exit_usage;
        }
        so.primary_name = o.server.primary_name;
        so.redundancy = opts.redundancy;
        so.sentinel_connection = o.server.sentinel_connection("ksn-watch");
        so.sentinel_connection.connect_timeout = opts.connection.connect_timeout;
        if (bounded) so.reply_timeout = std::min(so.reply_timeout, opts.subscribe_timeout);
        auto s = std::make_unique<ksn::sentinel_keyspace_notifications>(std::move(so));
        followed = s.get();
        notifier = std::move(s);
    } else if (o.server.cluster) {
        auto cluster = std::make_unique<ksn::cluster_keyspace_notifications>(opts);
        if (o.verbose) primaries.emplace(*cluster);
        notifier = std::move(cluster);
    } else {
        notifier = std::make_unique<ksn::keyspace_notifications>(
            static_cast<const ksn::notifier_options&>(opts));
    }
    ksn::notifier_base& n = *notifier;
    try {
        if (!channels.empty()) n.subscribe(channels);
        for (const auto& c : o.exact)
            n.subscribe(c, {}, ksn::match::exact);
        for (const auto& c : o.pattern)
            n.subscribe(c, {}, ksn::match::pattern);
        for (const auto& c : o.channels)
            n.subscribe(c, {}, ksn::match::detect);
    } catch (const std::system_error& e) {
        // The error names the cause; the diagnostics that led to it would repeat it.
        std::cerr << "ksn watch: " << e.what() << '\n';
        return g_signal != 0 ? interrupted_status() : exit_failure;
    }
    diagnostics.started();
    if (o.verbose) {
        const auto watched =
            std::to_string(channels.size() + o.exact.size() + o.pattern.size() + o.channels.size());
        if (primaries) {
            primaries->show("watching " + watched + " channel(s) on ");
        } else if (followed != nullptr) {
            // The primary subscribe() waited for; the library reported who named it.
            std::optional<ksn::net::endpoint> primary;
            try {
                primary = followed->primary();
            } catch (const ksn::error&) {
                // The I/O thread did not answer in time: printed as "?".
            }
            std::cerr << "ksn: info: watching " << watched << " channel(s) on primary '"
                      << o.server.primary_name << "' at "
                      << (primary ? primary->to_string() : std::string("?")) << '\n';
        } else {
            std::cerr << "ksn: info: watching " << watched << " channel(s) on "
                      << opts.connection.address.to_string() << '\n';
        }
    }

    const auto format = o.json ? output_format::json : output_format::text;
    std::string line;
    ksn::delivery d;
    std::uint64_t received = 0;
    int status = exit_ok;
    auto topology_check = clock::now() + 1s;
    auto last_notification = clock::now();  // --idle counts from here
    while (g_signal == 0) {
        if (o.count > 0 && received >= o.count) break;
        // Drain what is queued without flushing; flush before waiting.
        bool got = n.next(d, clock::duration::zero());
        if (!got) {
            std::fflush(stdout);
            if (primaries && clock::now() >= topology_check) {
                primaries->show("topology changed: ");
                topology_check = clock::now() + 1s;
            }
            auto wait = clock::duration(200ms);  // bounds how long a signal waits
            if (o.idle > 0) {
                const auto now = clock::now();
                if (now >= last_notification + idle) {
                    if (o.count > 0) {
                        std::cerr << "ksn watch: idle: " << received << " of " << o.count
                                  << " notifications, then none for " << o.idle << " s\n";
                        status = exit_failure;
                    }
                    break;
                }
                wait = std::min(wait, last_notification + idle - now);
            }
            if (bounded) {
                const auto now = clock::now();
                if (now >= deadline) {
                    if (o.count > 0) {
                        std::cerr << "ksn watch: timeout: " << received << " of " << o.count
                                  << " notifications in " << o.timeout << " s\n";
                        status = exit_failure;
                    }
                    break;
                }
                wait = std::min(wait, deadline - now);
            }
            got = n.next(d, wait);
            if (!got && !n.subscribed()) {
                std::cerr << "ksn watch: the notifier closed\n";
                status = exit_failure;
                break;
            }
        }
        if (!got) continue;
        if (d.is_notification()) {
            const ksn::tools::origin from{d.notification().node(), d.notification().received(),
                                          d.notification().redelivered()};
            if (templated) {
                templated->render(line, d.notification(), from);
            } else {
                ksn::tools::format_notification(line, format, d.notification(), &from);
            }
            write_out(line);
            ++received;
            last_notification = from.received;
        } else if (d.is_invalid()) {
            const auto& bad = d.invalid();
            ksn::parse_result r;
            r.status = ksn::parse_status::malformed;
            r.error = static_cast<ksn::notification_errc>(bad.error.value());
            r.part = bad.part;
            r.offset = bad.offset;
            ksn::tools::format_invalid(line, format, bad.channel, bad.payload, r);
            write_out(line);
        } else if (d.is_gap()) {
            ksn::tools::format_gap(line, format, d.gap());
            write_out(line);
            if (primaries) {
                std::fflush(stdout);  // the gap first, then what changed
                primaries->show("topology changed: ");
            }
            if (d.gap().reason == ksn::gap_reason::node_closed) {
                std::fflush(stdout);
                std::cerr << "ksn watch: " << d.gap().detail << '\n';
                status = exit_failure;
                break;
            }
        }
    }
    if (!flush_output("ksn watch")) status = exit_failure;
    if (primaries) primaries->show("topology changed: ");
    if (o.stats) print_stats(n);
    n.close();
    return g_signal != 0 ? interrupted_status() : status;
}

// --- parse ---------------------------------------------------------------------------------

class printing_sink : public ksn::tools::stream_decoder::sink {
  public:
    explicit printing_sink(output_format f) : format_(f) {}
    void notification(const ksn::key_notification& n) override {
        ksn::tools::format_notification(line_, format_, n);
        write_out(line_);
    }
    void invalid(std::string_view channel, std::string_view payload,
                 const ksn::parse_result& r) override {
        ksn::tools::format_invalid(line_, format_, channel, payload, r);
        write_out(line_);
    }

  private:
    output_format format_;
    std::string line_;
};

int run_parse(bool json, const std::string& prefix, const std::string& path) {
    const bool from_stdin = path.empty() || path == "-";
    std::FILE* in = from_stdin ? stdin : std::fopen(path.c_str(), "rb");
    if (in == nullptr) {
        std::cerr << "ksn parse: " << path << ": " << std::strerror(errno) << '\n';
        return exit_failure;
    }
    ksn::tools::stream_decoder decoder(prefix);
    printing_sink sink(json ? output_format::json : output_format::text);
    std::vector<char> chunk(64 * 1024);
    int status = exit_ok;
    for (;;) {
        const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), in);
        if (n > 0 && !decoder.feed({chunk.data(), n}, sink)) {
            std::fflush(stdout);
            std::cerr << "ksn parse: protocol error at byte " << decoder.error_offset() << ": "
                      << decoder.error().message() << '\n';
            status = exit_protocol_error;
            break;
        }
        if (n < chunk.size()) {
            if (std::ferror(in)) {
                std::fflush(stdout);
                std::cerr << "ksn parse: " << (from_stdin ? "stdin" : path.c_str()) << ": "
                          << std::strerror(errno) << '\n';
                status = exit_failure;
                break;
            }
            if (std::feof(in)) break;
        }
    }
    if (!from_stdin) std::fclose(in);
    if (!flush_output("ksn parse") && status == exit_ok) status = exit_failure;
    if (status == exit_ok && decoder.pending() > 0) {
        std::cerr << "ksn parse: warning: the input ends inside a frame at byte "
                  << decoder.offset() << " (" << decoder.pending() << " bytes not decoded)\n";
    }
    return status;
}

// --- bench ---------------------------------------------------------------------------------

struct bench_cli {
    ksn::tools::server_flags server;
    ksn::tools::bench::bench_config config;
    std::string channel = "keyspace";
    bool json = false;
    std::string csv;
    bool quiet = false;
};

int run_bench(bench_cli& b) {
    namespace kb = ksn::tools::bench;
    auto& c = b.config;
    c.connection = b.server.connection("ksn-bench");
    c.cluster = b.server.cluster;
    c.require_every_primary = b.server.require_every_primary;
    c.redundancy = b.server.redundancy_choice();
    try {
        if (c.cluster) c.seeds = b.server.seed_endpoints();
        if (b.server.sentinel()) {
            c.sentinels = b.server.sentinel_endpoints();
            c.primary_name = b.server.primary_name;
            c.sentinel_connection = b.server.sentinel_connection("ksn-bench");
        }
    } catch (const std::invalid_argument& e) {
        std::cerr << "ksn bench: " << e.what() << '\n';
        return exit_usage;
    }
    c.kind = b.channel == "keyevent" ? ksn::channel_kind::keyevent : ksn::channel_kind::keyspace;

    const bool live = !b.quiet && isatty(STDERR_FILENO) == 1;
    // Warnings come from the notifier's thread too; the progress line from this one.
    std::mutex stderr_mutex;
    bool progress_shown = false;
    const auto clear_progress = [&] {
        if (progress_shown) std::fputs("\r\033[K", stderr);
        progress_shown = false;
    };
    c.on_warning = [&](const std::string& w) {
        std::lock_guard lock(stderr_mutex);
        clear_progress();
        std::cerr << "ksn bench: warning: " << w << '\n';
    };
    c.stop_requested = [] { return g_signal != 0; };
    std::uint64_t last_sent = 0;
    double last_elapsed = 0;
    if (live) {
        c.on_progress = [&](double elapsed, const kb::progress& p) {
            const double dt = elapsed - last_elapsed;
            const double rate = dt > 0 ? static_cast<double>(p.sent - last_sent) / dt : 0;
            last_sent = p.sent;
            last_elapsed = elapsed;
            std::lock_guard lock(stderr_mutex);
            std::fprintf(stderr, "\r\033[K%s", kb::progress_line(elapsed, p, rate).c_str());
            std::fflush(stderr);
            progress_shown = true;
        };
    }
    std::unique_ptr<std::ofstream> csv_file;
    std::ostream* csv = nullptr;
    if (!b.csv.empty()) {
        if (b.csv == "-") {
            csv = &std::cout;
        } else {
            csv_file = std::make_unique<std::ofstream>(b.csv, std::ios::binary | std::ios::trunc);
            if (!*csv_file) {
                std::cerr << "ksn bench: --csv " << b.csv << ": " << std::strerror(errno) << '\n';
                return exit_failure;
            }
            csv = csv_file.get();
        }
        // The header comes with the first row, so a run that cannot start writes nothing.
        c.on_second = [csv, header = false](const kb::second_result& s) mutable {
            if (!header) *csv << kb::csv_header();
            header = true;
            *csv << kb::csv_row(s) << std::flush;
        };
    }

    kb::run_error error;
    auto report = kb::run(c, error);
    {
        std::lock_guard lock(stderr_mutex);
        clear_progress();
    }
    if (!report) {
        std::cerr << "ksn bench: " << error.message << '\n';
        if (error.usage) return exit_usage;
        return g_signal != 0 ? interrupted_status() : exit_failure;
    }
    if (csv != nullptr && !*csv) {
        std::cerr << "ksn bench: cannot write the CSV output\n";
        return exit_failure;
    }
    if (b.json) {
        write_out(kb::to_json(*report));
    } else if (csv == &std::cout) {
        std::fputs(kb::to_table(*report).c_str(), stderr);
    } else {
        write_out(kb::to_table(*report));
    }
    if (!flush_output("ksn bench")) return exit_failure;
    return g_signal != 0 ? interrupted_status() : exit_ok;
}

// --- command line --------------------------------------------------------------------------

constexpr const char* main_footer = R"(
Examples:
  ksn watch                                  every key event in db 0 on 127.0.0.1:6379
  ksn watch --port 7000 --keyevent expired   keys as they expire
  ksn watch --json --count 10 --timeout 5    ten notifications as JSON lines, then exit
  ksn parse capture.bin                      decode a subscriber's captured bytes
  ksn bench --duration 10 --rate 50000       how a server delivers notifications under load

Run `ksn COMMAND --help` for a command's options.)";

constexpr const char* watch_footer = R"(
With no channel option, watches __keyspace@<db>__:* (every event on every key of the db).
Channel options may be repeated and combined; glob characters (* ? [) make a pattern
(PSUBSCRIBE) unless the channel is given with --exact. The server must publish the
events (notify-keyspace-events); ksn warns when it does not.

Text lines:  TIME KIND@DB EVENT KEY [SUBKEYS]     (odd bytes quoted and escaped)
             TIME gap NODE REASON (N ms|not restored) [dropped=N] [slots=0-5460,...]: DETAIL
JSON lines:  {"type":"keyspace","db":0,"key":"k","event":"set","subkeys":[],
              "channel":"__keyspace@0__:k","node":"127.0.0.1:6379","ts_ns":N}
             {"type":"gap","node":"…","reason":"…","detail":"…","lost_ts_ns":N,
              "restored_ts_ns":N,"dropped":N,"slots":[[0,5460],...]}
             {"type":"invalid","channel":"…","error":"…",...}   (malformed notifications)
Fields whose bytes are not valid UTF-8 are named key_b64, event_b64, channel_b64,
subkeys_b64 and hold base64. ts_ns is CLOCK_MONOTONIC time in ns when the bytes were read.
A gap: notifications from NODE between lost_ts_ns and restored_ts_ns (null: never
restored) may be lost; with --cluster only those of keys in its slots, the [first,last]
slot ranges in "slots" ([] for a standalone server and with --sentinel). It begins where
delivery stopped (the last notification read or PING answered). notifications_disabled:
the server's notify-keyspace-events stopped serving the subscriptions (checked on
connect and every 5 s), until it is set again. queue_overflow: --queue was full and
--overflow dropped notifications ("dropped" counts them).

With --sentinel (repeated for each sentinel) and --primary NAME, ksn asks the sentinels
where the primary NAME is, confirms it with ROLE and watches it; it asks again every
second, when a sentinel announces +switch-master and when the primary's connection
breaks. After a failover the new primary is watched (each line's node says which) and a
topology_change gap on it covers what it acknowledged before ksn had subscribed. --user,
--pass, --pass-file and --tls are the data nodes'; the sentinels' are --sentinel-user,
--sentinel-pass (or KSN_SENTINEL_PASSWORD) and --sentinel-tls (with the same --cacert,
--cert, --key and --insecure). A switch is printed as a warning ("sentinel: primary 'NAME'
moved from A to B"); -v also prints the primary named at the start and who named it.

Exit status: 0 done (--count reached, or --timeout without --count), 1 connection or
authentication failure or too few notifications before --timeout, 2 bad usage,
130/143 interrupted by SIGINT/SIGTERM.

Examples:
  ksn watch --port 6380 --keyspace 'user:*'
  ksn watch --keyevent del --keyevent expired --db 2
  ksn watch --exact '__keyspace@0__:a*b'            the key named a*b, not a pattern
  ksn watch --subkeyspaceitem user:1 name           HSET/HDEL ... of one hash field
  KSN_PASSWORD=secret ksn watch --user app --json --count 100 --timeout 30
  ksn watch --cluster --port 7000 --seed 10.0.0.2:7000 --stats   every primary of a cluster
  ksn watch --tls --cacert ca.crt --cert me.crt --key me.key --port 6380
  ksn watch --sentinel 10.0.0.5:26379 --sentinel 10.0.0.6:26379 --primary mymaster -v
  KSN_SENTINEL_PASSWORD=s1 KSN_PASSWORD=d1 ksn watch --sentinel 10.0.0.5:26379 \
      --primary mymaster --json                  the sentinels' and the data nodes' passwords)";

constexpr const char* parse_footer = R"(
Reads the bytes a subscriber connection receives (RESP2 or RESP3: HELLO/AUTH replies,
subscribe confirmations and other replies are skipped) and prints the notifications in
them like `ksn watch`, without node and time. A malformed notification prints an
"invalid" line and decoding goes on; malformed RESP stops with
"ksn parse: protocol error at byte N: ..." and exit status 2.

Examples:
  ksn parse capture.bin
  tshark -r cap.pcap -qz follow,tcp,raw,0 ... | xxd -r -p | ksn parse --json -)";

constexpr const char* bench_footer = R"(
Writes to the server with its own connections (SET, DEL, EXPIRE, HSET, LPUSH on keys
"<prefix>s:<i>", "<prefix>h:<i>", "<prefix>l:<i>"), subscribes with ksn, and matches every
notification to the write that caused it. Reports, per node and in total: writes sent,
acknowledged and failed; notifications expected, received, lost (and how many of those
fall in a gap ksn reported), duplicated and out of order; the latency from sending a write
to receiving its notification (p50 p90 p99 p99.9 max); and notifications per second.
DEL and EXPIRE of a missing key publish nothing and are not expected to. The keys written
are deleted at the end (UNLINK) unless --keep-keys.

notify-keyspace-events must publish what the mix writes (K or E, and $ g h l); ksn bench
checks every node first and stops with the letters to set, or sets them with --configure.

With --cluster, a primary that cannot be reached at the start is named in a warning and
the run goes on with the others: the keys of its slots are not written while it stays
unreachable, and a node_unreachable gap with its slots is reported (open until it is
subscribed). --require-every-primary stops the run instead (exit 1).

With --sentinel and --primary NAME, the sentinels say where the primary is (its replicas
are checked too); the writers write to the primary ksn's notifier confirmed and move with
it through a failover (a write answered READONLY by a demoted primary is sent again to the
new one, every 100 ms, at most 50 times). The switch's topology_change gap is on the new
primary; "target" then holds "primary_name", "sentinels" and "sentinel_tls", and "address"
is the primary at the start.

Output: a table on stdout (default); --json: one JSON document on stdout; --csv FILE: one
row per second (second,sent,acked,received,p50_us,p99_us), - for stdout (the table then
goes to stderr). A progress line on stderr when it is a terminal.

JSON (schema "ksn-bench/1"; times in s since the writes started, latencies in µs):
  {"schema","target":{"mode","address","tls",...},"config":{...the options...},
   "required_flags","configured_nodes":[],"subscriptions","elapsed_s","interrupted",
   "write_rate","notification_rate","first_error",
   "redirects":{"moved","ask","retries","switches"},
   "total":COUNTS,"nodes":[COUNTS],
   "gaps":[{"node","reason","detail","lost_s","restored_s","dropped","slots","lost_writes"}],
   "other_events","timeline":[{"second","sent","acked","received","p50_us","p99_us"}]}
  COUNTS: {"node","writes_sent","writes_acked","writes_failed","writes_silent","expected",
           "received","lost","lost_in_gaps","duplicated","out_of_order","unconfirmed",
           "gaps","latency_us":{"count","p50","p90","p99","p999","max"}}

Exit status: 0 the run completed (whatever it measured), 1 it could not run (no server,
notifications off, subscribe refused), 2 bad usage, 130/143 interrupted by SIGINT/SIGTERM
(after printing the partial results).

Examples:
  ksn bench --duration 10                          as fast as possible for 10 s
  ksn bench --rate 20000 --writers 8 --pipeline 4 --duration 30 --json > run.json
  ksn bench --cluster --port 7000 --channel keyevent --patterns 100 --csv per-second.csv
  ksn bench --mix set=1 --exact --keys 1000 --ops 100000 --configure
  ksn bench --sentinel 10.0.0.5:26379 --sentinel 10.0.0.6:26379 --primary mymaster --json)";

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ksn " KSN_VERSION
                 " - Redis keyspace notifications: watch them, decode captures, benchmark servers"};
    app.set_version_flag("--version", KSN_VERSION);
    app.require_subcommand(1);
    app.footer(main_footer);

    watch_options w;
    auto* watch = app.add_subcommand("watch", "Subscribe to keyspace notifications and print them");
    w.server.add_to(*watch);
    watch->add_option("--db", w.db, "Database of the channels")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    watch->add_option("--prefix", w.prefix, "Only keys starting with this, printed without it");
    // Channel options: repeatable, in the order of the usage line.
    struct strings_option {
        const char* name;
        std::vector<std::string>* into;
        const char* help;
        const char* type;
    };
    struct pairs_option {
        const char* name;
        std::vector<std::pair<std::string, std::string>>* into;
        const char* help;
        const char* type;
    };
    for (const auto& [name, into, help, type] : {
             strings_option{"--keyspace", &w.keyspace, "Every event on keys matching PAT", "PAT"},
             strings_option{"--keyevent", &w.keyevent, "Every key hit by events matching EVT",
                            "EVT"},
             strings_option{"--subkeyspace", &w.subkeyspace, "Subkey events on keys matching PAT",
                            "PAT"},
             strings_option{"--subkeyevent", &w.subkeyevent,
                            "Keys and subkeys of events matching EVT", "EVT"},
         }) {
        watch->add_option(name, *into, help)->type_name(type);
    }
    for (const auto& [name, into, help, type] : {
             pairs_option{"--subkeyspaceitem", &w.subkeyspaceitem, "Events on one subkey of a key",
                          "KEY SUBKEY"},
             pairs_option{"--subkeyspaceevent", &w.subkeyspaceevent,
                          "Subkeys touched by one event on a key", "EVT KEY"},
         }) {
        watch->add_option(name, *into, help)->type_name(type);
    }
    for (const auto& [name, into, help, type] : {
             strings_option{"--exact", &w.exact, "A channel name subscribed as is (SUBSCRIBE)",
                            "CHANNEL"},
             strings_option{"--pattern", &w.pattern, "A channel pattern (PSUBSCRIBE)", "PATTERN"},
             strings_option{"channels", &w.channels,
                            "Channel names; glob characters make them patterns", "CHANNEL"},
         }) {
        watch->add_option(name, *into, help)->type_name(type);
    }
    auto* json_flag = watch->add_flag("--json", w.json, "One JSON object per line");
    watch
        ->add_option("--format", w.format,
                     "One line per notification made of TEMPLATE: text and the fields " +
                         std::string(ksn::tools::line_template::fields()) +
                         " (bytes escaped as in the text lines; {{ and }} for braces); gaps "
                         "and invalid notifications stay text lines")
        ->type_name("TEMPLATE")
        ->excludes(json_flag);
    watch
        ->add_option("--idle", w.idle,
                     "Exit once SECONDS pass without a notification (exit 1 if fewer than "
                     "--count arrived)")
        ->type_name("SECONDS")
        ->check(CLI::PositiveNumber);
    watch->add_option("--count", w.count, "Exit 0 after N notifications")
        ->type_name("N")
        ->check(CLI::PositiveNumber);
    watch
        ->add_option("--timeout", w.timeout,
                     "Stop after SECONDS (exit 1 if fewer than --count arrived)")
        ->type_name("SECONDS")
        ->check(CLI::PositiveNumber);
    watch
        ->add_option("--queue", w.queue,
                     "Notifications held while the output falls behind (default 65536, at "
                     "most 1048576)")
        ->type_name("N")
        ->check(CLI::Range(std::size_t{1}, max_queue));
    watch
        ->add_option("--overflow", w.overflow,
                     "When the queue is full: drop-oldest (default), drop-newest, or disconnect "
                     "until it drained to half; each loss is a gap")
        ->type_name("POLICY")
        ->check(CLI::IsMember({"drop-oldest", "drop-newest", "disconnect"}));
    watch->add_flag("--stats", w.stats, "Print per-node counters to stderr at exit");
    watch->add_flag("-v,--verbose", w.verbose,
                    "Also print informational diagnostics (--cluster: each primary and its "
                    "slots; --sentinel: the primary the sentinels name, and each switch)");
    watch->footer(watch_footer);

    bool parse_json = false;
    std::string parse_prefix;
    std::string parse_path;
    auto* parse = app.add_subcommand("parse", "Decode a subscriber's raw byte stream");
    parse->add_flag("--json", parse_json, "One JSON object per line");
    parse->add_option("--prefix", parse_prefix, "Only keys starting with this, printed without it");
    parse->add_option("file", parse_path, "The bytes to decode; - or nothing reads stdin")
        ->type_name("FILE|-");
    parse->footer(parse_footer);

    bench_cli b;
    auto* bench = app.add_subcommand(
        "bench", "Benchmark a server's notifications: write, subscribe, match, report");
    b.server.add_to(*bench);
    auto& bc = b.config;
    bench->add_option("--db", bc.db, "Database (standalone)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    bench
        ->add_option("--writers", bc.writers,
                     "Writer connections (a cluster: each to every primary)")
        ->check(CLI::Range(1, 1024))
        ->capture_default_str();
    bench->add_option("--pipeline", bc.pipeline, "Commands in flight per writer")
        ->check(CLI::Range(1, 100000))
        ->capture_default_str();
    bench->add_option("--rate", bc.rate, "Writes per second in all; 0: as fast as possible")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    bench->add_option("--duration", bc.duration, "Seconds of writing (0: until --ops)")
        ->type_name("SECONDS")
        ->check(CLI::Range(0.0, 1e7))
        ->capture_default_str();
    bench
        ->add_option("--ops", bc.ops,
                     "Stop after N writes (whichever of --duration and --ops comes first)")
        ->type_name("N");
    bench->add_option("--keys", bc.keys, "Size of the key space")
        ->check(CLI::Range(1, 100000000))
        ->capture_default_str();
    bench->add_option("--mix", bc.mix, "Command weights (set del expire hset lpush)")
        ->type_name("NAME=W,...")
        ->capture_default_str();
    bench->add_option("--hset-fields", bc.hset_fields, "Field-value pairs per HSET")
        ->check(CLI::Range(1, 1000))
        ->capture_default_str();
    bench->add_option("--value-size", bc.value_size, "Bytes per value")->capture_default_str();
    bench->add_option("--prefix", bc.prefix, "Key prefix (default: ksn-bench:<random>:)");
    bench->add_option("--channel", b.channel, "Subscribe to keyspace or keyevent channels")
        ->check(CLI::IsMember({"keyspace", "keyevent"}))
        ->capture_default_str();
    bench->add_flag("--exact", bc.exact,
                    "SUBSCRIBE a channel per key (keyspace) or per event (keyevent) instead of "
                    "one PSUBSCRIBE");
    bench
        ->add_option("--patterns", bc.extra_patterns,
                     "Also PSUBSCRIBE N patterns that match nothing (loads the server's matching)")
        ->type_name("N")
        ->check(CLI::Range(0, 100000));
    bench->add_flag("--configure", bc.configure,
                    "Set notify-keyspace-events on nodes that lack what the mix publishes");
    bench->add_option("--drain", bc.drain, "Seconds to wait for late notifications at the end")
        ->type_name("SECONDS")
        ->check(CLI::Range(0.0, 3600.0))
        ->capture_default_str();
    bench->add_flag("--keep-keys", bc.keep_keys, "Do not delete the keys written");
    bench->add_option("--random-seed", bc.seed, "Seed of the random choices (default: random)")
        ->type_name("N");
    bench->add_flag("--json", b.json,
                    "Print one JSON document (schema below) instead of the table");
    bench->add_option("--csv", b.csv, "Write one CSV row per second to FILE (- for stdout)")
        ->type_name("FILE");
    bench->add_flag("-q,--quiet", b.quiet, "No progress line");
    bench->footer(bench_footer);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? exit_ok : exit_usage;
    }

    if (*watch) {
        install_signal_handlers();
        return run_watch(w);
    }
    if (*bench) {
        install_signal_handlers();
        return run_bench(b);
    }
    // parse keeps the default signal actions: a blocking read of a terminal must not
    // ignore Ctrl-C, and there is nothing to clean up.
    return run_parse(parse_json, parse_prefix, parse_path);
}
