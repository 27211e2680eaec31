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
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "notifications/keyspace_notifications.hpp"
#include "tools/output.hpp"
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
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string user;
    std::string password;
    int resp = 0;
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
    std::uint64_t count = 0;  // 0: unbounded
    double timeout = 0;       // seconds; 0: none
    bool stats = false;
    bool verbose = false;
    // Cluster: every primary, found from --host/--port and the --seed nodes.
    bool cluster = false;
    std::vector<std::string> seeds;
    // TLS.
    bool tls = false;
    std::string cacert;
    std::string cert;
    std::string key;
    std::string sni;
    bool insecure = false;
};

/// "host:port" or "[v6]:port" as an endpoint; throws std::invalid_argument.
ksn::net::endpoint parse_endpoint(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) {
        throw std::invalid_argument("--seed " + text + ": expected HOST:PORT");
    }
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    const std::string port = text.substr(colon + 1);
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (host.empty() || *end != '\0' || p <= 0 || p > 65535) {
        throw std::invalid_argument("--seed " + text + ": expected HOST:PORT");
    }
    return {host, static_cast<std::uint16_t>(p)};
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
            "ksn: stats %s state=%s resp=%d notifications=%llu bytes=%llu "
            "protocol_errors=%llu invalid=%llu filtered=%llu other_messages=%llu "
            "reconnects=%llu gaps=%llu dropped=%llu\n",
            x.node.c_str(), std::string(ksn::net::to_string(x.state)).c_str(), x.resp,
            static_cast<unsigned long long>(x.notifications),
            static_cast<unsigned long long>(x.bytes),
            static_cast<unsigned long long>(x.protocol_errors),
            static_cast<unsigned long long>(x.invalid), static_cast<unsigned long long>(x.filtered),
            static_cast<unsigned long long>(x.other_messages),
            static_cast<unsigned long long>(x.reconnects), static_cast<unsigned long long>(x.gaps),
            static_cast<unsigned long long>(x.dropped));
    }
    std::fprintf(stderr, "ksn: stats queue depth=%zu high_water=%zu dropped=%llu\n", s.queue_depth,
                 s.queue_high_water, static_cast<unsigned long long>(s.queue_dropped));
}

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

    ksn::cluster_options opts;
    opts.connection.address = {o.host, o.port};
    opts.connection.tls.enabled = o.tls;
    opts.connection.tls.ca_file = o.cacert;
    opts.connection.tls.cert_file = o.cert;
    opts.connection.tls.key_file = o.key;
    opts.connection.tls.server_name = o.sni;
    opts.connection.tls.verify = !o.insecure;
    opts.deliver_invalid = true;
    if (o.cluster) {
        try {
            opts.seeds.push_back(opts.connection.address);
            for (const auto& s : o.seeds)
                opts.seeds.push_back(parse_endpoint(s));
        } catch (const std::invalid_argument& e) {
            std::cerr << "ksn watch: " << e.what() << '\n';
            return exit_usage;
        }
    }
    opts.connection.username = o.user;
    opts.connection.password = o.password;
    opts.connection.client_name = "ksn-watch";
    opts.connection.resp = static_cast<ksn::net::resp_version>(o.resp);
    opts.key_prefix = o.prefix;
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
    if (o.cluster) {
        notifier = std::make_unique<ksn::cluster_keyspace_notifications>(opts);
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
        std::cerr << "ksn: info: watching "
                  << channels.size() + o.exact.size() + o.pattern.size() + o.channels.size()
                  << " channel(s) on " << opts.connection.address.to_string() << '\n';
    }

    const auto format = o.json ? output_format::json : output_format::text;
    std::string line;
    ksn::delivery d;
    std::uint64_t received = 0;
    int status = exit_ok;
    while (g_signal == 0) {
        if (o.count > 0 && received >= o.count) break;
        // Drain what is queued without flushing; flush before waiting.
        bool got = n.next(d, clock::duration::zero());
        if (!got) {
            std::fflush(stdout);
            auto wait = clock::duration(200ms);  // bounds how long a signal waits
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
            const ksn::tools::origin from{d.notification().node(), d.notification().received()};
            ksn::tools::format_notification(line, format, d.notification(), &from);
            write_out(line);
            ++received;
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
            if (d.gap().reason == ksn::gap_reason::node_closed) {
                std::fflush(stdout);
                std::cerr << "ksn watch: " << d.gap().detail << '\n';
                status = exit_failure;
                break;
            }
        }
    }
    if (!flush_output("ksn watch")) status = exit_failure;
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

// --- command line --------------------------------------------------------------------------

constexpr const char* main_footer = R"(
Examples:
  ksn watch                                  every key event in db 0 on 127.0.0.1:6379
  ksn watch --port 7000 --keyevent expired   keys as they expire
  ksn watch --json --count 10 --timeout 5    ten notifications as JSON lines, then exit
  ksn parse capture.bin                      decode a subscriber's captured bytes

Run `ksn COMMAND --help` for a command's options.)";

constexpr const char* watch_footer = R"(
With no channel option, watches __keyspace@<db>__:* (every event on every key of the db).
Channel options may be repeated and combined; glob characters (* ? [) make a pattern
(PSUBSCRIBE) unless the channel is given with --exact. The server must publish the
events (notify-keyspace-events); ksn warns when it does not.

Text lines:  TIME KIND@DB EVENT KEY [SUBKEYS]     (odd bytes quoted and escaped)
JSON lines:  {"type":"keyspace","db":0,"key":"k","event":"set","subkeys":[],
              "channel":"__keyspace@0__:k","node":"127.0.0.1:6379","ts_ns":N}
             {"type":"gap","node":"…","reason":"…","detail":"…","lost_ts_ns":N,
              "restored_ts_ns":N,"dropped":N}
             {"type":"invalid","channel":"…","error":"…",...}   (malformed notifications)
Fields whose bytes are not valid UTF-8 are named key_b64, event_b64, channel_b64,
subkeys_b64 and hold base64. ts_ns is CLOCK_MONOTONIC time in ns when the bytes were read.

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
  ksn watch --tls --cacert ca.crt --cert me.crt --key me.key --port 6380)";

constexpr const char* parse_footer = R"(
Reads the bytes a subscriber connection receives (RESP2 or RESP3: HELLO/AUTH replies,
subscribe confirmations and other replies are skipped) and prints the notifications in
them like `ksn watch`, without node and time. A malformed notification prints an
"invalid" line and decoding goes on; malformed RESP stops with
"ksn parse: protocol error at byte N: ..." and exit status 2.

Examples:
  ksn parse capture.bin
  tshark -r cap.pcap -qz follow,tcp,raw,0 ... | xxd -r -p | ksn parse --json -)";

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ksn " KSN_VERSION " - Redis keyspace notifications: watch them, decode captures"};
    app.set_version_flag("--version", KSN_VERSION);
    app.require_subcommand(1);
    app.footer(main_footer);

    watch_options w;
    auto* watch = app.add_subcommand("watch", "Subscribe to keyspace notifications and print them");
    watch->add_option("--host", w.host, "Server host name or IP address")->capture_default_str();
    watch->add_option("--port", w.port, "Server port")->capture_default_str();
    watch->add_option("--user", w.user, "ACL user name");
    watch->add_option("--pass", w.password, "Password (or set KSN_PASSWORD)")
        ->envname("KSN_PASSWORD");
    watch->add_option("--resp", w.resp, "Force RESP 2 or 3 (default: 3, falling back to 2)")
        ->check(CLI::IsMember({2, 3}));
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
    watch->add_flag("--json", w.json, "One JSON object per line");
    watch->add_option("--count", w.count, "Exit 0 after N notifications")
        ->type_name("N")
        ->check(CLI::PositiveNumber);
    watch
        ->add_option("--timeout", w.timeout,
                     "Stop after SECONDS (exit 1 if fewer than --count arrived)")
        ->type_name("SECONDS")
        ->check(CLI::PositiveNumber);
    watch->add_flag("--stats", w.stats, "Print per-node counters to stderr at exit");
    watch->add_flag("--cluster", w.cluster,
                    "Redis Cluster: subscribe on every primary (seed: --host/--port)");
    watch->add_option("--seed", w.seeds, "More cluster seed nodes (with --cluster)")
        ->type_name("HOST:PORT");
    watch->add_flag("--tls", w.tls, "Connect with TLS (verifying the server's certificate)");
    watch->add_option("--cacert", w.cacert, "Trusted CA certificates (PEM; default: the system's)")
        ->type_name("FILE");
    watch->add_option("--cert", w.cert, "Client certificate (PEM) for mutual TLS")
        ->type_name("FILE");
    watch->add_option("--key", w.key, "Client private key (PEM) for mutual TLS")->type_name("FILE");
    watch->add_option("--sni", w.sni, "Server name to send and verify (default: --host)")
        ->type_name("NAME");
    watch->add_flag("--insecure", w.insecure,
                    "Do not verify the server's certificate (TLS without authentication)");
    watch->add_flag("-v,--verbose", w.verbose, "Also print informational diagnostics");
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
    // parse keeps the default signal actions: a blocking read of a terminal must not
    // ignore Ctrl-C, and there is nothing to clean up.
    return run_parse(parse_json, parse_prefix, parse_path);
}
