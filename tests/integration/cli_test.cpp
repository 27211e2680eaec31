// The ksn program itself (KSN_BINARY, built by meson) against real redis-server processes:
// `ksn watch` output and exit statuses (standalone, cluster and Sentinel), `ksn parse` on
// crafted byte streams. Every child process runs under a deadline and is killed when it
// passes.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/ksn_process.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/redis_sentinel.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/tls.hpp"
#include "tests/unit/tools/resp_frames.hpp"
#include "tools/json.hpp"

#ifndef KSN_BINARY
#error "KSN_BINARY must name the ksn executable"
#endif

extern char** environ;

namespace ksn::test {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < text.size()) {
        const auto nl = text.find('\n', at);
        const auto end = nl == std::string::npos ? text.size() : nl;
        out.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

/// The CLIENT ID of the server's client named ksn-watch that holds at least `channels`
/// subscriptions, if there is one now.
std::optional<std::string> subscribed_ksn_client(redis_server& server, int channels = 1) {
    const auto list = server.command({"CLIENT", "LIST"}).data;
    for (const auto& l : lines(list)) {
        if (l.find("name=ksn-watch") == std::string::npos || !l.starts_with("id=")) continue;
        int sub = 0, psub = 0;
        const auto s = l.find(" sub="), p = l.find(" psub=");
        if (s != std::string::npos) sub = std::stoi(l.substr(s + 5));
        if (p != std::string::npos) psub = std::stoi(l.substr(p + 6));
        if (sub + psub >= channels) return l.substr(3, l.find(' ') - 3);
    }
    return std::nullopt;
}

/// Waits until the server has a client named ksn-watch with at least one subscription.
bool ksn_subscribed(redis_server& server, int channels = 1) {
    return wait_until([&] { return subscribed_ksn_client(server, channels).has_value(); });
}

/// Cuts ksn's subscriber connection to `server` (CLIENT KILL, as the server does to a
/// slow consumer) and waits until ksn has subscribed again on a new one: a gap.
bool cut_ksn_connection(redis_server& server) {
    const auto before = subscribed_ksn_client(server);
    if (!before) return false;
    server.command({"CLIENT", "KILL", "ID", *before});
    return wait_until([&] {
        const auto now = subscribed_ksn_client(server);
        return now && *now != *before;
    });
}

std::int64_t monotonic_now_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// --- reading ksn's JSON lines -------------------------------------------------------------

/// A value of a JSON object as ksn writes them: a string (unescaped to its bytes), an
/// integer, null, an array of strings, or an array of arrays of integers (a gap's slots).
struct json_value {
    enum class kind { string, number, null, array } type = kind::null;
    std::string text;
    std::int64_t number = 0;
    std::vector<std::string> items;
    std::vector<std::vector<std::int64_t>> rows;
};
using json_line = std::map<std::string, json_value>;

class json_reader {
  public:
    explicit json_reader(std::string_view s) : s_(s) {}

    std::optional<json_line> object() {
        json_line out;
        if (!eat('{')) return std::nullopt;
        if (eat('}')) return at_end() ? std::optional(out) : std::nullopt;
        do {
            auto name = string();
            if (!name || !eat(':')) return std::nullopt;
            auto v = value();
            if (!v) return std::nullopt;
            out[*name] = std::move(*v);
        } while (eat(','));
        if (!eat('}') || !at_end()) return std::nullopt;
        return out;
    }

  private:
    bool at_end() const { return i_ == s_.size(); }
    bool eat(char c) {
        if (i_ < s_.size() && s_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    std::optional<std::string> string() {
        if (!eat('"')) return std::nullopt;
        std::string out;
        while (i_ < s_.size()) {
            const char c = s_[i_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;  // must be escaped
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= s_.size()) return std::nullopt;
            const char e = s_[i_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'u': {
                    // ksn escapes only control characters, so \u00XX is all it writes.
                    if (i_ + 4 > s_.size() || s_.substr(i_, 2) != "00") return std::nullopt;
                    out += static_cast<char>(
                        std::stoi(std::string(s_.substr(i_ + 2, 2)), nullptr, 16));
                    i_ += 4;
                    break;
                }
                default:
                    return std::nullopt;
            }
        }
        return std::nullopt;
    }
    std::optional<json_value> value() {
        json_value v;
        if (i_ < s_.size() && s_[i_] == '"') {
            auto s = string();
            if (!s) return std::nullopt;
            v.type = json_value::kind::string;
            v.text = std::move(*s);
        } else if (s_.substr(i_, 4) == "null") {
            i_ += 4;
        } else if (eat('[')) {
            v.type = json_value::kind::array;
            if (eat(']')) return v;
            do {
                if (eat('[')) {  // an array of integers
                    auto& row = v.rows.emplace_back();
                    if (eat(']')) continue;
                    do {
                        auto n = integer();
                        if (!n) return std::nullopt;
                        row.push_back(*n);
                    } while (eat(','));
                    if (!eat(']')) return std::nullopt;
                    continue;
                }
                auto s = string();
                if (!s) return std::nullopt;
                v.items.push_back(std::move(*s));
            } while (eat(','));
            if (!eat(']')) return std::nullopt;
            if (!v.items.empty() && !v.rows.empty()) return std::nullopt;  // ksn never mixes
        } else {
            auto n = integer();
            if (!n) return std::nullopt;
            v.type = json_value::kind::number;
            v.number = *n;
        }
        return v;
    }
    std::optional<std::int64_t> integer() {
        const std::size_t start = i_;
        if (eat('-')) {}
        while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9')
            ++i_;
        if (i_ == start) return std::nullopt;
        return std::stoll(std::string(s_.substr(start, i_ - start)));
    }

    std::string_view s_;
    std::size_t i_ = 0;
};

/// Every line of `out` as a JSON object; a line that is not one fails the test.
std::vector<json_line> json_lines(const std::string& out) {
    std::vector<json_line> objects;
    for (const auto& l : lines(out)) {
        auto o = json_reader(l).object();
        EXPECT_TRUE(o.has_value()) << "not a JSON object: " << l;
        if (o) objects.push_back(std::move(*o));
    }
    return objects;
}

/// The bytes of field `name`: its text, or the decoded `name_b64`.
std::optional<std::string> field_bytes(const json_line& o, const std::string& name) {
    if (auto it = o.find(name); it != o.end()) return it->second.text;
    if (auto it = o.find(name + "_b64"); it != o.end())
        return tools::base64_decode(it->second.text);
    return std::nullopt;
}

std::string text_of(const json_line& o, const std::string& name) {
    const auto it = o.find(name);
    return it == o.end() ? "<missing " + name + ">" : it->second.text;
}

// --- watch -------------------------------------------------------------------------------

using commands = std::vector<std::vector<std::string>>;

/// Runs `ksn watch --port <server's> ARGS` to its end: once the server shows it holds
/// `subscriptions` subscriptions, `writes` run in order on one client connection.
result watch_while(redis_server& server, std::vector<std::string> args, const commands& writes,
                   int subscriptions = 1, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), {"watch", "--port", std::to_string(server.port())});
    ksn_process ksn(args, env);
    if (!ksn_subscribed(server, subscriptions)) ADD_FAILURE() << "ksn did not subscribe";
    client c(server.port());
    for (const auto& w : writes)
        c.command(w);
    return ksn.wait();
}

/// watch_while() that must exit 0 with `expected` JSON lines.
std::vector<json_line> watch_json(redis_server& server, std::vector<std::string> args,
                                  const commands& writes, std::size_t expected,
                                  int subscriptions = 1) {
    args.insert(args.end(),
                {"--json", "--count", std::to_string(expected), "--timeout", scaled_seconds(15)});
    const auto r = watch_while(server, std::move(args), writes, subscriptions);
    EXPECT_EQ(r.status, 0) << describe(r);
    auto objects = json_lines(r.out);
    EXPECT_EQ(objects.size(), expected) << r.out;
    objects.resize(expected);  // tests index what they expect
    return objects;
}

TEST(CliWatch, JsonLinesCarryEveryField) {
    redis_server server;
    const auto before = monotonic_now_ns();
    const auto objects = watch_json(server, {},
                                    {{"SET", "k", "v"},
                                     {"EXPIRE", "k", "100"},
                                     {"HSET", "h", "f", "v"},
                                     {"LPUSH", "l", "a"},
                                     {"DEL", "k"}},
                                    5);
    const auto after = monotonic_now_ns();
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"k", "set"}, {"k", "expire"}, {"h", "hset"}, {"l", "lpush"}, {"k", "del"}};
    std::int64_t last_ts = 0;
    for (std::size_t i = 0; i < objects.size(); ++i) {
        const auto& o = objects[i];
        EXPECT_EQ(text_of(o, "type"), "keyspace");
        EXPECT_EQ(o.at("db").number, 0);
        EXPECT_EQ(text_of(o, "key"), expected[i].first);
        EXPECT_EQ(text_of(o, "event"), expected[i].second);
        ASSERT_EQ(o.at("subkeys").type, json_value::kind::array);
        EXPECT_TRUE(o.at("subkeys").items.empty());
        EXPECT_EQ(text_of(o, "channel"), "__keyspace@0__:" + expected[i].first);
        EXPECT_EQ(text_of(o, "node"), server.address());
        // ts_ns is CLOCK_MONOTONIC, the same clock in every process of the machine.
        const auto ts = o.at("ts_ns").number;
        EXPECT_GE(ts, before);
        EXPECT_LE(ts, after);
        EXPECT_GE(ts, last_ts);
        last_ts = ts;
    }
}

TEST(CliWatch, TextLinesForPeople) {
    redis_server server;
    const auto r = watch_while(server, {"--count", "2", "--timeout", scaled_seconds(15)},
                               {{"SET", "user:1", "v"}, {"SET", "a key\xff", "v"}});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto ls = lines(r.out);
    ASSERT_EQ(ls.size(), 2u) << r.out;
    EXPECT_TRUE(ls[0].ends_with(" keyspace@0 set user:1")) << ls[0];
    EXPECT_TRUE(ls[1].ends_with(" keyspace@0 set \"a key\\xff\"")) << ls[1];
}

TEST(CliWatch, BinaryKeysRoundTripByteForByte) {
    redis_server server;
    const std::vector<std::string> keys = {
        "nul\0key"s,
        "line\nbreak"s,
        "bad\xff\xfeutf8"s,
        "\xff"s,
        "mixed\0\n\xc3\xa9\xc3"s,
        "caf\xc3\xa9"s,
        "quote\"back\\slash\ttab"s,
    };
    commands writes;
    for (const auto& k : keys)
        writes.push_back({"SET", k, "v"});
    const auto objects = watch_json(server, {}, writes, keys.size());
    for (std::size_t i = 0; i < objects.size(); ++i) {
        const auto& o = objects[i];
        const bool utf8 = tools::valid_utf8(keys[i]);
        // Valid UTF-8 (control characters included) is plain JSON text; the rest base64.
        EXPECT_EQ(o.count("key"), utf8 ? 1u : 0u) << i;
        EXPECT_EQ(o.count("key_b64"), utf8 ? 0u : 1u) << i;
        EXPECT_EQ(field_bytes(o, "key"), keys[i]) << i;
        EXPECT_EQ(field_bytes(o, "channel"), "__keyspace@0__:" + keys[i]) << i;
        EXPECT_EQ(text_of(o, "event"), "set");
    }
}

TEST(CliWatch, KeyeventDbAndResp2) {
    redis_server server;
    const auto objects = watch_json(
        server, {"--db", "3", "--keyevent", "del", "--resp", "2"},
        {{"SELECT", "3"}, {"SET", "a", "1"}, {"DEL", "a"}, {"SET", "b", "1"}, {"DEL", "b"}}, 2);
    for (const auto& o : objects) {
        EXPECT_EQ(text_of(o, "type"), "keyevent");
        EXPECT_EQ(o.at("db").number, 3);
        EXPECT_EQ(text_of(o, "event"), "del");
        EXPECT_EQ(text_of(o, "channel"), "__keyevent@3__:del");
    }
    EXPECT_EQ(text_of(objects[0], "key"), "a");
    EXPECT_EQ(text_of(objects[1], "key"), "b");
}

TEST(CliWatch, ExactChannelOfAGlobLookingKey) {
    redis_server server;
    const auto objects = watch_json(server, {"--exact", "__keyspace@0__:a*b"},
                                    {{"SET", "axb", "1"},  // would match if a*b were a pattern
                                     {"SET", "a*b", "1"}},
                                    1);
    EXPECT_EQ(text_of(objects[0], "key"), "a*b");
}

TEST(CliWatch, PatternsAndPositionalChannels) {
    redis_server server;
    const auto objects =
        watch_json(server, {"--pattern", "__keyevent@0__:h*", "__keyspace@0__:list"},
                   {{"SET", "s", "1"}, {"HSET", "h", "f", "v"}, {"LPUSH", "list", "x"}}, 2, 2);
    EXPECT_EQ(text_of(objects[0], "type"), "keyevent");
    EXPECT_EQ(text_of(objects[0], "event"), "hset");
    EXPECT_EQ(text_of(objects[1], "type"), "keyspace");
    EXPECT_EQ(text_of(objects[1], "event"), "lpush");
}

TEST(CliWatch, PrefixFiltersAndStrips) {
    redis_server server;
    const auto r = watch_while(
        server,
        {"--prefix", "app:", "--json", "--count", "2", "--timeout", scaled_seconds(15), "--stats"},
        {{"SET", "other", "1"}, {"SET", "app:one", "1"}, {"SET", "app:two", "1"}});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 2u) << r.out;
    EXPECT_EQ(text_of(objects[0], "key"), "one");
    EXPECT_EQ(text_of(objects[1], "key"), "two");
    EXPECT_EQ(text_of(objects[1], "channel"), "__keyspace@0__:app:two");
    // --stats: per-node counters on stderr.
    EXPECT_NE(r.err.find("ksn: stats " + server.address()), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("notifications=2 "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("filtered=1 "), std::string::npos) << r.err;
}

TEST(CliWatch, SubkeyChannelsDecodePublishedPayloads) {
    // Redis 7.0 does not emit subkey notifications, but it delivers a PUBLISH on their
    // channels byte for byte.
    redis_server server;
    const auto objects =
        watch_json(server, {"--subkeyspaceitem", "h", "f\xff", "--subkeyspaceevent", "hset", "h"},
                   {{"PUBLISH", "__subkeyspaceitem@0__:h\nf\xff", "hexpired"},
                    {"PUBLISH", "__subkeyspaceevent@0__:hset|h", "1:a,2:\xff\n"}},
                   2, 2);
    EXPECT_EQ(text_of(objects[0], "type"), "subkeyspaceitem");
    EXPECT_EQ(text_of(objects[0], "key"), "h");
    EXPECT_EQ(text_of(objects[0], "event"), "hexpired");
    ASSERT_EQ(objects[0].count("subkeys_b64"), 1u);
    ASSERT_EQ(objects[0].at("subkeys_b64").items.size(), 1u);
    EXPECT_EQ(tools::base64_decode(objects[0].at("subkeys_b64").items[0]), "f\xff");
    EXPECT_EQ(text_of(objects[1], "type"), "subkeyspaceevent");
    ASSERT_EQ(objects[1].count("subkeys_b64"), 1u);
    const auto& items = objects[1].at("subkeys_b64").items;
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(tools::base64_decode(items[0]), "a");
    EXPECT_EQ(tools::base64_decode(items[1]), "\xff\n");
}

TEST(CliWatch, FormatTemplateForPipes) {
    redis_server server;
    const auto before = monotonic_now_ns();
    const auto r = watch_while(server,
                               {"--format", "{ts_ns} {db} {event} {key} {{{node}}}", "--count", "2",
                                "--timeout", scaled_seconds(15)},
                               {{"SET", "user:1", "v"}, {"SET", "a key", "v"}});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto ls = lines(r.out);
    ASSERT_EQ(ls.size(), 2u) << r.out;
    const std::string node = " {127.0.0.1:" + std::to_string(server.port()) + "}";
    EXPECT_TRUE(ls[0].ends_with(" 0 set user:1" + node)) << ls[0];
    EXPECT_TRUE(ls[1].ends_with(" 0 set \"a key\"" + node)) << ls[1];
    const auto ts = std::stoll(ls[0].substr(0, ls[0].find(' ')));
    EXPECT_GE(ts, before);
    EXPECT_LE(ts, monotonic_now_ns());
}

TEST(CliWatch, BadFormatTemplatesAreUsageErrors) {
    const auto r = run_ksn({"watch", "--port", "1", "--format", "{ts} {key}"});
    EXPECT_EQ(r.status, 2) << describe(r);
    EXPECT_NE(r.err.find("ksn watch: --format: unknown field {ts} (fields: {ts_ns}"),
              std::string::npos)
        << r.err;
    const auto both = run_ksn({"watch", "--port", "1", "--format", "{key}", "--json"});
    EXPECT_EQ(both.status, 2) << describe(both);
    EXPECT_NE(both.err.find("--json excludes --format"), std::string::npos) << both.err;
}

TEST(CliWatch, IdleExitsOnceNotificationsStop) {
    redis_server server;
    // Two notifications, then none: exit 0 after the idle time (long enough for the
    // writes to follow the subscription under the sanitizers).
    const std::string idle = scaled_seconds(1);
    const auto r = watch_while(server, {"--idle", idle}, {{"SET", "a", "1"}, {"SET", "b", "1"}});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(lines(r.out).size(), 2u) << r.out;
    // With --count not reached it is a failure, said like a timeout.
    const auto few = watch_while(server, {"--idle", idle, "--count", "3"}, {{"SET", "c", "1"}});
    EXPECT_EQ(few.status, 1) << describe(few);
    EXPECT_NE(few.err.find("ksn watch: idle: 1 of 3 notifications, then none for " + idle + " s"),
              std::string::npos)
        << few.err;
}

TEST(CliWatch, TimeoutWithTooFewNotificationsExitsOne) {
    redis_server server;
    const auto started = std::chrono::steady_clock::now();
    const auto r = watch_while(server, {"--json", "--count", "5", "--timeout", "1.5"},
                               {{"SET", "a", "1"}, {"SET", "b", "1"}});
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_FALSE(r.timed_out);
    EXPECT_LT(std::chrono::steady_clock::now() - started, scaled(5s));
    EXPECT_EQ(json_lines(r.out).size(), 2u);
    EXPECT_NE(r.err.find("timeout: 2 of 5"), std::string::npos) << r.err;
}

TEST(CliWatch, TimeoutWithoutCountExitsZero) {
    redis_server server;
    const auto r = run_ksn({"watch", "--port", std::to_string(server.port()), "--timeout", "0.5"});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_TRUE(r.out.empty());
}

TEST(CliWatch, InterruptExitsCleanly) {
    redis_server server;
    for (const int sig : {SIGINT, SIGTERM}) {
        ksn_process ksn({"watch", "--port", std::to_string(server.port()), "--stats"});
        ASSERT_TRUE(ksn_subscribed(server));
        ksn.signal(sig);
        const auto r = ksn.wait(10s);
        EXPECT_EQ(r.status, 128 + sig) << describe(r);
        EXPECT_FALSE(r.timed_out);
        EXPECT_NE(r.err.find("ksn: stats"), std::string::npos) << r.err;  // a clean exit
        ASSERT_TRUE(wait_until([&] {
            return server.command({"CLIENT", "LIST"}).data.find("ksn-watch") == std::string::npos;
        }));
    }
}

// ThreadSanitizer's runtime starts one background thread of its own the first time a
// program creates a thread (its pthread_create interceptor), so a program with a resolver
// thread has one more under TSan. The ksn program is built with the same flags as this test.
#if defined(__SANITIZE_THREAD__)
constexpr std::size_t sanitizer_threads_per_started_thread = 1;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr std::size_t sanitizer_threads_per_started_thread = 1;
#else
constexpr std::size_t sanitizer_threads_per_started_thread = 0;
#endif
#else
constexpr std::size_t sanitizer_threads_per_started_thread = 0;
#endif

// ksn watch runs on one thread: the notifier has none of its own (dispatch_mode::caller),
// and a numeric address needs no resolver thread.
TEST(CliWatch, RunsOnOneThread) {
    redis_server server;
    for (const std::string host : {"127.0.0.1", "localhost"}) {
        SCOPED_TRACE(host);
        ksn_process ksn({"watch", "--host", host, "--port", std::to_string(server.port()),
                         "--count", "1", "--timeout", scaled_seconds(15)});
        ASSERT_TRUE(ksn_subscribed(server));
        std::size_t threads = 0;
        for (const auto& e :
             std::filesystem::directory_iterator("/proc/" + std::to_string(ksn.pid()) + "/task")) {
            (void)e;
            ++threads;
        }
        // A host name is resolved by Asio's resolver, on a thread of its own.
        EXPECT_EQ(threads, host == "localhost" ? 2 + sanitizer_threads_per_started_thread : 1u);
        server.command({"SET", "one", "v"});
        const auto r = ksn.wait(20s);
        EXPECT_EQ(r.status, 0) << describe(r);
        EXPECT_TRUE(r.out.ends_with(" keyspace@0 set one\n")) << r.out;
    }
}

/// The number after `name=` on the first line of `err` that starts with `prefix`.
std::optional<std::uint64_t> stat_of(const std::string& err, const std::string& prefix,
                                     const std::string& name) {
    for (const auto& l : lines(err)) {
        if (!l.starts_with(prefix)) continue;
        const auto at = l.find(" " + name + "=");
        if (at == std::string::npos) return std::nullopt;
        return std::stoull(l.substr(at + name.size() + 2));
    }
    return std::nullopt;
}

TEST(CliWatch, QueueAndOverflowPolicyWithOneSetOfCounters) {
    for (const std::string policy : {"drop-newest", "drop-oldest", "disconnect"}) {
        SCOPED_TRACE(policy);
        redis_server server;
        // Nobody reads ksn's output until the flood is written: the pipe fills, the printer
        // blocks, and the queue of 100 overflows.
        ksn_process ksn({"watch", "--port", std::to_string(server.port()), "--keyspace", "o:*",
                         "--json", "--queue", "100", "--overflow", policy, "--stats", "--timeout",
                         scaled_seconds(2)});
        ASSERT_TRUE(ksn_subscribed(server));
        client c(server.port(), 30s);
        std::vector<std::vector<std::string>> batch;
        for (int i = 0; i < 20000; ++i)
            batch.push_back({"SET", "o:" + std::to_string(i), "v"});
        c.pipeline(batch);
        const auto r = ksn.wait(30s);
        EXPECT_EQ(r.status, 0) << describe(r);
        std::uint64_t notified = 0, in_gaps = 0, gaps = 0;
        for (const auto& o : json_lines(r.out)) {
            if (text_of(o, "type") != "gap") {
                ++notified;
                continue;
            }
            ++gaps;
            in_gaps += static_cast<std::uint64_t>(o.at("dropped").number);
            EXPECT_EQ(text_of(o, "reason"),
                      policy == "disconnect" ? "slow_consumer_disconnect" : "queue_overflow");
        }
        EXPECT_GE(gaps, 1u) << r.err;
        EXPECT_LT(notified, 20000u);
        // The node's counters and the queue's agree with what was printed.
        const std::string node = "ksn: stats " + server.address() + " ";
        const auto node_dropped = stat_of(r.err, node, "dropped");
        const auto queue_dropped = stat_of(r.err, "ksn: stats queue", "dropped");
        ASSERT_TRUE(node_dropped && queue_dropped) << r.err;
        EXPECT_GE(*node_dropped, 1u) << r.err;
        EXPECT_EQ(*node_dropped, *queue_dropped) << r.err;
        EXPECT_EQ(stat_of(r.err, node, "gaps"), gaps) << r.err;
        if (policy != "disconnect") {
            // Every notification is printed or counted in a gap.
            EXPECT_EQ(in_gaps, *node_dropped) << r.err;
            EXPECT_EQ(notified + in_gaps, 20000u) << r.err;
            EXPECT_LE(stat_of(r.err, "ksn: stats queue", "high_water"), 100u) << r.err;
        }
    }
    const auto bad = run_ksn({"watch", "--overflow", "sideways"});
    EXPECT_EQ(bad.status, 2) << describe(bad);
    EXPECT_NE(bad.err.find("--overflow"), std::string::npos) << bad.err;
    const auto zero = run_ksn({"watch", "--queue", "0"});
    EXPECT_EQ(zero.status, 2) << describe(zero);
    EXPECT_NE(zero.err.find("--queue"), std::string::npos) << zero.err;
}

TEST(CliWatch, RefusedConnectionIsAClearError) {
    const auto port = std::to_string(free_port());
    const auto r = run_ksn({"watch", "--port", port, "--timeout", scaled_seconds(10)});
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_FALSE(r.timed_out);
    EXPECT_NE(r.err.find("127.0.0.1:" + port), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("connection failed"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
}

TEST(CliWatch, Passwords) {
    redis_server server(with_config({"user alice on >s3cret ~* &* +@all", "user default off"}));
    server.set_auth({"alice", "s3cret"});
    const auto port = std::to_string(server.port());
    for (const auto& extra : std::vector<std::vector<std::string>>{
             {"--user", "alice", "--pass", "wrong"}, {"--user", "alice"}, {"--resp", "2"}}) {
        std::vector<std::string> args = {"watch", "--port", port, "--timeout", scaled_seconds(10)};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = run_ksn(args, {"KSN_PASSWORD=also-wrong"});
        EXPECT_EQ(r.status, 1) << describe(r);
        EXPECT_FALSE(r.timed_out);
        EXPECT_NE(r.err.find(server.address()), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("authentication failed"), std::string::npos) << r.err;
    }
    // The right password from the environment.
    const auto r = watch_while(
        server, {"--user", "alice", "--json", "--count", "1", "--timeout", scaled_seconds(15)},
        {{"AUTH", "alice", "s3cret"}, {"SET", "k", "v"}}, 1, {"KSN_PASSWORD=s3cret"});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(json_lines(r.out).size(), 1u);
}

TEST(CliWatch, NotificationsOffIsAWarning) {
    redis_server server(with_notify(""));
    const auto r = run_ksn({"watch", "--port", std::to_string(server.port()), "--timeout", "1"});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_NE(r.err.find("ksn: warning: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("notify-keyspace-events"), std::string::npos) << r.err;
}

TEST(CliWatch, MalformedNotificationsPrintInvalidLines) {
    redis_server server;
    // --count counts notifications; the invalid line comes on top.
    const auto r = watch_while(
        server, {"--subkeyspace", "h1", "--json", "--count", "1", "--timeout", scaled_seconds(15)},
        {{"PUBLISH", "__subkeyspace@0__:h1", "hset|9:short"},
         {"PUBLISH", "__subkeyspace@0__:h1", "hset|1:x"}});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 2u) << r.out;
    EXPECT_EQ(text_of(objects[0], "type"), "invalid");
    EXPECT_EQ(text_of(objects[0], "channel"), "__subkeyspace@0__:h1");
    EXPECT_EQ(text_of(objects[0], "error"), "length runs past the end of the input");
    EXPECT_EQ(text_of(objects[1], "type"), "subkeyspace");
}

TEST(CliWatch, StandaloneGapHasNoSlots) {
    redis_server server;
    ksn_process ksn({"watch", "--port", std::to_string(server.port()), "--json", "--count", "1",
                     "--timeout", scaled_seconds(15)});
    ASSERT_TRUE(ksn_subscribed(server));
    ASSERT_TRUE(cut_ksn_connection(server));
    // Written once ksn has subscribed again, so it comes after the gap.
    server.command({"SET", "after", "1"});
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 2u) << r.out;
    const auto& g = objects[0];
    EXPECT_EQ(text_of(g, "type"), "gap");
    EXPECT_EQ(text_of(g, "node"), server.address());
    EXPECT_EQ(text_of(g, "reason"), "server_closed_connection") << r.out;
    EXPECT_EQ(g.at("restored_ts_ns").type, json_value::kind::number) << r.out;
    ASSERT_EQ(g.count("slots"), 1u) << r.out;
    EXPECT_EQ(g.at("slots").type, json_value::kind::array) << r.out;
    EXPECT_TRUE(g.at("slots").rows.empty()) << r.out;
    EXPECT_TRUE(g.at("slots").items.empty()) << r.out;
    EXPECT_EQ(text_of(objects[1], "key"), "after");
}

TEST(CliWatch, UnixSocket) {
    redis_server server(with_unix_socket());
    ksn_process ksn({"watch", "--socket", server.socket_path(), "--json", "--count", "1",
                     "--timeout", scaled_seconds(15)});
    ASSERT_TRUE(ksn_subscribed(server));
    server.command({"SET", "over-the-socket", "1"});
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 1u) << r.out;
    EXPECT_EQ(text_of(objects[0], "key"), "over-the-socket");
    EXPECT_EQ(text_of(objects[0], "node"), "unix:" + server.socket_path());

    // A socket nobody listens on is a connection failure naming it.
    const auto missing = run_ksn(
        {"watch", "--socket", server.dir() + "/nobody.sock", "--timeout", scaled_seconds(10)});
    EXPECT_EQ(missing.status, 1) << describe(missing);
    EXPECT_NE(missing.err.find("unix:" + server.dir() + "/nobody.sock: connection failed"),
              std::string::npos)
        << missing.err;
    // Usage errors: with --host, --tls or --cluster, and a path the system cannot take.
    for (const auto& extra :
         std::vector<std::vector<std::string>>{{"--host", "localhost"}, {"--tls"}, {"--cluster"}}) {
        std::vector<std::string> args = {"watch", "--socket", server.socket_path()};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r2 = run_ksn(args);
        EXPECT_EQ(r2.status, 2) << describe(r2);
        EXPECT_NE(r2.err.find("excludes"), std::string::npos) << r2.err;
    }
    const auto too_long = run_ksn({"watch", "--socket", "/tmp/" + std::string(200, 's')});
    EXPECT_EQ(too_long.status, 2) << describe(too_long);
    EXPECT_NE(too_long.err.find("the socket path is 205 bytes long; the system allows at most 107"),
              std::string::npos)
        << too_long.err;
}

TEST(CliWatch, PassFileIsReadAgainOnEveryReconnect) {
    redis_server server(with_config({"user app on >first ~* &* +@all",
                                     "user admin on >admin ~* &* +@all", "user default off"}));
    server.set_auth({"admin", "admin"});
    const std::string file = server.dir() + "/password";
    std::ofstream(file) << "first\n";
    ksn_process ksn({"watch", "--port", std::to_string(server.port()), "--user", "app",
                     "--pass-file", file, "--json", "--count", "2", "--timeout",
                     scaled_seconds(20)});
    ASSERT_TRUE(ksn_subscribed(server));
    server.command({"SET", "before", "1"});
    // Rotate: the server, then the file, then cut the connection; ksn logs in again with
    // what the file says now.
    server.command({"ACL", "SETUSER", "app", "resetpass", ">second"});
    std::ofstream(file, std::ios::trunc) << "second\r\n";
    ASSERT_TRUE(cut_ksn_connection(server));
    server.command({"SET", "after", "1"});
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    std::vector<std::string> seen;
    for (const auto& o : objects)
        seen.push_back(text_of(o, "type") == "gap" ? "gap" : text_of(o, "key"));
    EXPECT_EQ(seen, (std::vector<std::string>{"before", "gap", "after"})) << r.out;
    EXPECT_EQ(r.err.find("authentication failed"), std::string::npos) << r.err;

    // With --pass, a usage error; a file that does not exist, too.
    const auto both = run_ksn({"watch", "--pass", "x", "--pass-file", file});
    EXPECT_EQ(both.status, 2) << describe(both);
    const auto absent = run_ksn({"watch", "--pass-file", server.dir() + "/absent"});
    EXPECT_EQ(absent.status, 2) << describe(absent);
    EXPECT_NE(absent.err.find("absent"), std::string::npos) << absent.err;
}

TEST(CliWatch, TlsWithVerificationAndMutualAuthentication) {
    tls_material m;
    const auto tls_port = free_port();
    redis_server server(with_config({m.server_config(tls_port, true)}));
    ksn_process ksn({"watch", "--port", std::to_string(tls_port), "--tls", "--cacert", m.ca_cert(),
                     "--cert", m.client_cert(), "--key", m.client_key(), "--json", "--count", "1",
                     "--timeout", scaled_seconds(15)});
    ASSERT_TRUE(ksn_subscribed(server));
    server.command({"SET", "secure", "1"});
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 1u);
    EXPECT_EQ(text_of(objects[0], "key"), "secure");
    // The wrong CA: a clear error, exit 1.
    const auto bad = run_ksn({"watch", "--port", std::to_string(tls_port), "--tls", "--cacert",
                              m.other_ca_cert(), "--cert", m.client_cert(), "--key", m.client_key(),
                              "--timeout", scaled_seconds(10)});
    EXPECT_EQ(bad.status, 1) << describe(bad);
    EXPECT_NE(bad.err.find("certificate verification failed"), std::string::npos) << describe(bad);
}

TEST(CliWatch, ClusterFansInEveryPrimaryWithStats) {
    redis_cluster c(3, 0);
    const auto seeds = c.seeds();
    ksn_process ksn({"watch", "--cluster", "--port", std::to_string(seeds[0].port), "--seed",
                     "127.0.0.1:" + std::to_string(seeds[1].port), "--keyevent", "set", "--json",
                     "--count", "30", "--timeout", scaled_seconds(20), "--stats"});
    // Subscribed on every primary.
    ASSERT_TRUE(wait_until([&] {
        for (auto& n : c.nodes()) {
            if (n->command({"PUBSUB", "NUMSUB", "__keyevent@0__:set"}).elements.at(1).integer !=
                1) {
                return false;
            }
        }
        return true;
    }));
    cluster_writer w(c);
    std::vector<std::string> keys;
    for (int i = 0; i < 30; ++i)
        keys.push_back("cli:" + std::to_string(i));
    w.set_many(keys);
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    std::set<std::string> nodes;
    for (const auto& o : json_lines(r.out))
        nodes.insert(text_of(o, "node"));
    EXPECT_EQ(nodes.size(), 3u);
    // --stats: one line per node, with its counters.
    std::size_t stat_lines = 0;
    for (const auto& l : lines(r.err))
        stat_lines += l.find("ksn: stats 127.0.0.1:") == 0;
    EXPECT_EQ(stat_lines, 3u) << r.err;
}

/// The slot ranges of the primary at `port` in `t`, as rows [first, last].
std::vector<std::vector<std::int64_t>> slot_rows(const cluster::topology& t, std::uint16_t port) {
    std::vector<std::vector<std::int64_t>> rows;
    for (const auto& shard : t.shards()) {
        if (shard.primary.address.port != port) continue;
        for (const auto& r : shard.slots)
            rows.push_back({r.first, r.last});
    }
    return rows;
}

/// The same ranges as the text lines name them: "0-5460,10923-16383" (one slot: "7").
std::string slot_text(const cluster::topology& t, std::uint16_t port) {
    std::string out;
    for (const auto& r : slot_rows(t, port)) {
        if (!out.empty()) out += ',';
        out += std::to_string(r[0]);
        if (r[1] != r[0]) out += '-' + std::to_string(r[1]);
    }
    return out;
}

/// A key whose slot `port` serves now.
std::string key_on(redis_cluster& c, std::uint16_t port, const std::string& prefix) {
    for (int i = 0; i < 10000; ++i) {
        auto key = prefix + std::to_string(i);
        if (c.owner_port(key) == port) return key;
    }
    throw std::runtime_error("no key under " + prefix + " is served by port " +
                             std::to_string(port));
}

TEST(CliWatch, ClusterWithAPrimaryDownWatchesTheOthersUnlessEveryOneIsRequired) {
    redis_cluster c(3, 0, {"cluster-require-full-coverage no"});
    auto& down = *c.nodes()[2];
    const auto live_key = key_on(c, c.nodes()[0]->port(), "live:");
    down.kill9();
    const auto seed = std::to_string(c.nodes()[0]->port());
    const auto strict = run_ksn({"watch", "--cluster", "--port", seed, "--require-every-primary",
                                 "--timeout", scaled_seconds(10)});
    EXPECT_EQ(strict.status, 1) << describe(strict);
    EXPECT_NE(strict.err.find(down.address()), std::string::npos) << strict.err;
    EXPECT_TRUE(strict.out.empty()) << strict.out;

    // By default: a warning naming the node and its slots, then the other primaries' events.
    ksn_process ksn({"watch", "--cluster", "--port", seed, "--keyevent", "set", "--json", "--count",
                     "1", "--timeout", scaled_seconds(15)});
    ASSERT_TRUE(wait_until([&] {
        return c.nodes()[0]
                   ->command({"PUBSUB", "NUMSUB", "__keyevent@0__:set"})
                   .elements.at(1)
                   .integer == 1;
    }));
    c.nodes()[0]->command({"SET", live_key, "1"});
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    EXPECT_NE(r.err.find("ksn: warning: " + down.address() + " (slots "), std::string::npos)
        << r.err;
    EXPECT_EQ(json_lines(r.out).size(), 1u) << r.out;

    const auto usage = run_ksn({"watch", "--require-every-primary"});
    EXPECT_EQ(usage.status, 2) << describe(usage);
    EXPECT_NE(usage.err.find("--cluster"), std::string::npos) << usage.err;
}

TEST(CliWatch, ClusterRedundancyHoldsEachStandbysStreamAndSaysSo) {
    redis_cluster c(3, 1);
    const auto t = c.topology();
    ksn_process ksn({"watch", "--cluster", "--port", std::to_string(c.seeds()[0].port),
                     "--redundancy", "replica", "--keyevent", "set", "--json", "-v", "--stats",
                     "--count", "30", "--timeout", scaled_seconds(30)});
    // Each primary and its replica subscribed (the replica as a standby).
    for (const auto& shard : t.shards()) {
        ASSERT_TRUE(ksn_subscribed(c.node(shard.primary.address.port)));
        ASSERT_TRUE(ksn_subscribed(c.node(shard.replicas.front().address.port)));
    }
    cluster_writer w(c);
    std::vector<std::string> keys;
    for (int i = 0; i < 30; ++i)
        keys.push_back("standby:" + std::to_string(i));
    w.set_many(keys);
    const auto r = ksn.wait(30s);
    ASSERT_EQ(r.status, 0) << describe(r);
    // Once each, from the primaries: the standbys' copies were held.
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), keys.size()) << r.out;
    std::set<std::string> primaries;
    for (const auto& shard : t.shards())
        primaries.insert(shard.primary.address.to_string());
    for (const auto& o : objects) {
        EXPECT_TRUE(primaries.count(o.at("node").text)) << o.at("node").text;
        EXPECT_FALSE(o.count("redelivered"));
    }
    for (const auto& shard : t.shards()) {
        const auto standby = shard.replicas.front().address.to_string();
        EXPECT_NE(r.err.find("ksn: info: cluster: " + standby + " stands by for " +
                             shard.primary.address.to_string()),
                  std::string::npos)
            << r.err;
        EXPECT_NE(r.err.find("ksn: stats " + standby + " state=ready"), std::string::npos) << r.err;
    }
    std::size_t held_lines = 0;
    for (const auto& l : lines(r.err))
        held_lines += l.find(" standby held=") != std::string::npos;
    EXPECT_EQ(held_lines, 3u) << r.err;

    const auto usage = run_ksn({"watch", "--redundancy", "replica"});
    EXPECT_EQ(usage.status, 2) << describe(usage);
    EXPECT_NE(usage.err.find("--cluster"), std::string::npos) << usage.err;
    const auto bad = run_ksn({"watch", "--cluster", "--redundancy", "replicas"});
    EXPECT_EQ(bad.status, 2) << describe(bad);
    EXPECT_NE(bad.err.find("replicas"), std::string::npos) << bad.err;
}

TEST(CliWatch, ClusterGapCarriesTheSlotsOfItsNode) {
    redis_cluster c(3, 0);
    const auto t = c.topology();
    ASSERT_EQ(t.shards().size(), 3u);
    ksn_process ksn({"watch", "--cluster", "--port", std::to_string(c.seeds()[0].port),
                     "--keyevent", "set", "--json", "--count", "1", "--timeout",
                     scaled_seconds(20)});
    for (auto& n : c.nodes())
        ASSERT_TRUE(ksn_subscribed(*n)) << n->address();
    // Not the seed: any primary's gap names that primary's slots.
    auto& victim = c.node(t.shards()[1].primary.address.port);
    ASSERT_TRUE(cut_ksn_connection(victim));
    // One notification from the victim, after its gap, ends the run.
    cluster_writer w(c);
    EXPECT_EQ(w.set(key_on(c, victim.port(), "gap:")), victim.port());
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 2u) << r.out;
    const auto& g = objects[0];
    EXPECT_EQ(text_of(g, "type"), "gap") << r.out;
    EXPECT_EQ(text_of(g, "node"), victim.address()) << r.out;
    EXPECT_EQ(text_of(g, "reason"), "server_closed_connection") << r.out;
    ASSERT_EQ(g.count("slots"), 1u) << r.out;
    const auto expected = slot_rows(t, victim.port());
    ASSERT_FALSE(expected.empty());
    EXPECT_EQ(g.at("slots").rows, expected) << r.out;
    EXPECT_EQ(text_of(objects[1], "node"), victim.address());
}

TEST(CliWatch, ClusterVerboseNamesEveryPrimaryAndFollowsAFailover) {
    redis_cluster c(3, 1);
    const auto before = c.topology();
    ASSERT_EQ(before.shards().size(), 3u);
    ksn_process ksn({"watch", "--cluster", "--port", std::to_string(c.seeds()[0].port),
                     "--keyevent", "set", "-v", "--count", "1", "--timeout", scaled_seconds(30)});
    for (const auto& shard : before.shards())
        ASSERT_TRUE(ksn_subscribed(c.node(shard.primary.address.port)));
    // Slot 0's replica takes over; the old primary stays up as a replica (only the
    // topology says it changed).
    const auto* shard0 = before.owner(0);
    ASSERT_NE(shard0, nullptr);
    ASSERT_FALSE(shard0->replicas.empty());
    const auto replica = shard0->replicas.front().address;
    c.node(replica.port).command({"CLUSTER", "FAILOVER"});
    ASSERT_TRUE(wait_until([&] { return c.topology().owner(0)->primary.address == replica; }, 15s));
    ASSERT_TRUE(ksn_subscribed(c.node(replica.port)));
    // Once the old primary has caught up, ksn lets go of it (the handover is over).
    auto& old_primary = c.node(shard0->primary.address.port);
    ASSERT_TRUE(wait_until([&] { return !subscribed_ksn_client(old_primary).has_value(); }));
    // A notification from the new primary ends the run.
    cluster_writer w(c);
    EXPECT_EQ(w.set(key_on(c, replica.port, "failover:")), replica.port);
    const auto r = ksn.wait(30s);
    ASSERT_EQ(r.status, 0) << describe(r);

    // At start, every primary with its slots, not only the seed.
    const auto err = lines(r.err);
    const auto changed =
        std::find(err.begin(), err.end(), "ksn: info: topology changed: 3 primaries");
    ASSERT_TRUE(changed != err.end()) << "no topology change on stderr:\n" << r.err;
    const std::vector<std::string> at_start(err.begin(), changed);
    EXPECT_EQ(std::count(at_start.begin(), at_start.end(),
                         "ksn: info: watching 1 channel(s) on 3 primaries"),
              1)
        << r.err;
    for (const auto& shard : before.shards()) {
        const auto& primary = shard.primary.address;
        EXPECT_EQ(std::count(at_start.begin(), at_start.end(),
                             "ksn: info: primary " + primary.to_string() +
                                 " slots=" + slot_text(before, primary.port)),
                  1)
            << r.err;
    }
    // After the failover, the new primary in place of the old one.
    const std::vector<std::string> after(changed, err.end());
    EXPECT_EQ(std::count(after.begin(), after.end(),
                         "ksn: info: primary " + replica.to_string() +
                             " slots=" + slot_text(before, shard0->primary.address.port)),
              1)
        << r.err;
    EXPECT_EQ(std::count(after.begin(), after.end(),
                         "ksn: info: primary " + shard0->primary.address.to_string() +
                             " slots=" + slot_text(before, shard0->primary.address.port)),
              0)
        << r.err;

    // The old primary stayed up and caught up with the new one: the slots changed hands
    // without a gap, and -v says so.
    EXPECT_EQ(r.out.find(" gap "), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("ksn: info: cluster: " + replica.to_string() + " took over from " +
                         shard0->primary.address.to_string() + " without loss"),
              std::string::npos)
        << r.err;
}

// --- Sentinel ----------------------------------------------------------------------------

/// `ksn watch --sentinel S --sentinel S... --primary NAME` then `extra`.
std::vector<std::string> sentinel_watch(redis_sentinel_set& s,
                                        const std::vector<std::string>& extra) {
    std::vector<std::string> args{"watch"};
    for (const auto& e : s.sentinel_endpoints())
        args.insert(args.end(), {"--sentinel", e.to_string()});
    args.insert(args.end(), {"--primary", s.primary_name()});
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

TEST(CliSentinel, WatchesThePrimaryTheSentinelsName) {
    redis_sentinel_set s;
    auto& primary = s.primary_at_start();
    ksn_process ksn(sentinel_watch(s, {"--keyspace", "s:*", "--json", "--count", "3", "--timeout",
                                       scaled_seconds(20), "-v", "--stats"}));
    ASSERT_TRUE(ksn_subscribed(primary));
    // Only the primary: the replica publishes the same events.
    EXPECT_FALSE(subscribed_ksn_client(s.replica_at_start()).has_value());
    primary.command({"SET", "s:1", "v"});
    primary.command({"HSET", "s:2", "f", "v"});
    primary.command({"SET", "other", "v"});
    primary.command({"DEL", "s:1"});
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 3u) << r.out;
    const std::vector<std::pair<std::string, std::string>> expected = {
        {"s:1", "set"}, {"s:2", "hset"}, {"s:1", "del"}};
    for (std::size_t i = 0; i < objects.size(); ++i) {
        EXPECT_EQ(text_of(objects[i], "type"), "keyspace");
        EXPECT_EQ(text_of(objects[i], "key"), expected[i].first);
        EXPECT_EQ(text_of(objects[i], "event"), expected[i].second);
        EXPECT_EQ(text_of(objects[i], "node"), primary.address());
    }
    // -v: which primary the sentinels named, and what is watched there.
    EXPECT_NE(r.err.find("ksn: info: sentinel: primary 'ksnprimary' is " + primary.address() +
                         " (named by 127.0.0.1:"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("ksn: info: watching 1 channel(s) on primary 'ksnprimary' at " +
                         primary.address() + "\n"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("ksn: stats " + primary.address() + " "), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("warning"), std::string::npos) << r.err;
}

TEST(CliSentinel, CrashFailoverMovesToTheNewPrimaryAfterItsGap) {
    redis_sentinel_set s;
    auto& old_primary = s.primary_at_start();
    const auto old_port = old_primary.port();
    const auto old_name = old_primary.address();
    ksn_process ksn(sentinel_watch(
        s, {"--keyspace", "f:*", "--json", "--count", "1", "--timeout", scaled_seconds(60), "-v"}));
    ASSERT_TRUE(ksn_subscribed(old_primary));
    old_primary.kill9();
    auto& heir = s.node(s.wait_primary_changed(old_port));
    ASSERT_TRUE(wait_until([&] { return subscribed_ksn_client(heir).has_value(); }, 20s));
    // Written once ksn has subscribed the new primary, so it comes after the switch's gap.
    heir.command({"SET", "f:after", "1"});
    const auto r = ksn.wait(60s);
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_GE(objects.size(), 2u) << r.out;
    // The last line, the notification, comes from the new primary.
    const auto& last = objects.back();
    EXPECT_EQ(text_of(last, "type"), "keyspace") << r.out;
    EXPECT_EQ(text_of(last, "key"), "f:after") << r.out;
    EXPECT_EQ(text_of(last, "node"), heir.address()) << r.out;
    // Before it: the new primary's topology_change gap, as a standalone gap ("slots":[]).
    // (The old primary's own gap may come too, once it is given up.)
    std::size_t switch_gaps = 0;
    for (std::size_t i = 0; i + 1 < objects.size(); ++i) {
        const auto& g = objects[i];
        EXPECT_EQ(text_of(g, "type"), "gap") << r.out;
        if (text_of(g, "node") != heir.address()) {
            EXPECT_EQ(text_of(g, "node"), old_name) << r.out;
            continue;
        }
        ++switch_gaps;
        EXPECT_EQ(text_of(g, "reason"), "topology_change") << r.out;
        EXPECT_NE(text_of(g, "detail").find("moved from " + old_name + " to " + heir.address()),
                  std::string::npos)
            << r.out;
        ASSERT_EQ(g.at("restored_ts_ns").type, json_value::kind::number) << r.out;
        EXPECT_LT(g.at("lost_ts_ns").number, g.at("restored_ts_ns").number) << r.out;
        ASSERT_EQ(g.count("slots"), 1u) << r.out;
        EXPECT_EQ(g.at("slots").type, json_value::kind::array) << r.out;
        EXPECT_TRUE(g.at("slots").rows.empty()) << r.out;
    }
    EXPECT_EQ(switch_gaps, 1u) << r.out;
    // The switch on stderr: the primary at the start (-v) and the move (a warning).
    EXPECT_NE(r.err.find("ksn: info: sentinel: primary 'ksnprimary' is " + old_name),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("ksn: warning: sentinel: primary 'ksnprimary' moved from " + old_name +
                         " to " + heir.address() + " (named by 127.0.0.1:"),
              std::string::npos)
        << r.err;
}

TEST(CliSentinel, AnUnknownPrimaryNameFailsNamingEverySentinel) {
    redis_sentinel_set::options o;
    o.sentinels = 2;
    o.quorum = 1;
    redis_sentinel_set s(o);
    auto args = sentinel_watch(s, {"--timeout", scaled_seconds(15)});
    *std::find(args.begin(), args.end(), s.primary_name()) = "nosuchprimary";
    const auto r = run_ksn(args);
    EXPECT_EQ(r.status, 1) << describe(r);
    EXPECT_FALSE(r.timed_out);
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_NE(r.err.find("ksn watch: sentinel: no sentinel named a primary for 'nosuchprimary': "),
              std::string::npos)
        << r.err;
    for (const auto& e : s.sentinel_endpoints()) {
        EXPECT_NE(r.err.find(e.to_string() + ": does not know the primary"), std::string::npos)
            << r.err;
    }
}

TEST(CliSentinel, AuthenticatesToTheSentinelsAndTheDataNodesSeparately) {
    redis_sentinel_set::options o;
    o.sentinel_password = "sentinel-secret";
    o.data_password = "data-secret";
    redis_sentinel_set s(o);
    auto& primary = s.primary_at_start();
    ksn_process ksn(sentinel_watch(s, {"--json", "--count", "1", "--timeout", scaled_seconds(20)}),
                    {"KSN_SENTINEL_PASSWORD=sentinel-secret", "KSN_PASSWORD=data-secret"});
    ASSERT_TRUE(ksn_subscribed(primary));
    primary.command({"SET", "a", "1"});
    const auto r = ksn.wait();
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 1u) << r.out;
    EXPECT_EQ(text_of(objects[0], "node"), primary.address());

    // The data nodes' password is not the sentinels'.
    const auto wrong = run_ksn(sentinel_watch(s, {"--pass", "data-secret", "--sentinel-pass",
                                                  "data-secret", "--timeout", scaled_seconds(10)}));
    EXPECT_EQ(wrong.status, 1) << describe(wrong);
    EXPECT_NE(wrong.err.find("no sentinel named a primary"), std::string::npos) << wrong.err;
}

TEST(CliSentinel, BadOptionCombinationsAreUsageErrors) {
    const struct {
        std::vector<std::string> args;
        std::string message;
    } cases[] = {
        {{"--sentinel", "127.0.0.1:26379"}, "--sentinel requires --primary"},
        {{"--primary", "mymaster"}, "--primary requires --sentinel"},
        {{"--sentinel", "127.0.0.1:26379", "--primary", "m", "--cluster"}, "excludes --sentinel"},
        {{"--sentinel", "127.0.0.1:26379", "--primary", "m", "--host", "h"}, "excludes"},
        {{"--sentinel", "127.0.0.1:26379", "--primary", "m", "--port", "7"}, "excludes"},
        {{"--sentinel", "127.0.0.1:26379", "--primary", "m", "--socket", "/tmp/s"}, "excludes"},
        {{"--sentinel", "nohost", "--primary", "m"}, "--sentinel: nohost: expected HOST:PORT"},
        {{"--sentinel", "h:0", "--primary", "m"}, "--sentinel: h:0: expected HOST:PORT"},
        {{"--sentinel-user", "u"}, "--sentinel-user requires --sentinel"},
        {{"--sentinel-tls"}, "--sentinel-tls requires --sentinel"},
    };
    for (const auto* cmd : {"watch", "bench"}) {
        for (const auto& c : cases) {
            std::vector<std::string> args{cmd};
            args.insert(args.end(), c.args.begin(), c.args.end());
            const auto r = run_ksn(args);
            EXPECT_EQ(r.status, 2) << describe(r);
            EXPECT_NE(r.err.find(c.message), std::string::npos) << describe(r);
        }
    }
    // The sentinels' password from the environment does not make other modes an error.
    redis_server server;
    const auto r = run_ksn({"watch", "--port", std::to_string(server.port()), "--timeout", "0.5"},
                           {"KSN_SENTINEL_PASSWORD=x"});
    EXPECT_EQ(r.status, 0) << describe(r);
    const auto help = run_ksn({"watch", "--help"});
    EXPECT_NE(help.out.find("--sentinel"), std::string::npos) << help.out;
    EXPECT_NE(help.out.find("ksn watch --sentinel "), std::string::npos) << help.out;
}

TEST(CliUsage, BadOptionsAndHelp) {
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"watch", "--bogus"},
             {"watch", "--resp", "4"},
             {"watch", "--port", "notanumber"},
             {"watch", "--count", "0"},
             {"watch", "--subkeyspaceitem", "only-one"},
             {"watch", "--subkeyspaceitem", "a\nb", "c"},  // never published: a usage error
             {"nonsense"},
             {},
         }) {
        const auto r = run_ksn(args);
        EXPECT_EQ(r.status, 2) << describe(r);
        EXPECT_FALSE(r.err.empty());
    }
    for (const auto& cmd : {"watch", "parse"}) {
        const auto r = run_ksn({cmd, "--help"});
        EXPECT_EQ(r.status, 0) << describe(r);
        EXPECT_NE(r.out.find("Examples:"), std::string::npos) << r.out;
    }
    const auto help = run_ksn({"--help"});
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("watch"), std::string::npos);
    EXPECT_NE(help.out.find("parse"), std::string::npos);
    const auto version = run_ksn({"--version"});
    EXPECT_EQ(version.status, 0);
    EXPECT_FALSE(version.out.empty());
}

// --- parse -------------------------------------------------------------------------------

/// A file in the test's temporary directory, removed at the end.
class temp_file {
  public:
    explicit temp_file(std::string_view bytes) {
        char name[] = "/tmp/ksn-cli-test-XXXXXX";
        const int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp");
        ::close(fd);
        path_ = name;
        std::ofstream(path_, std::ios::binary)
            .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    ~temp_file() { std::filesystem::remove(path_); }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

TEST(CliParse, Resp2StreamWithConfirmationsRepliesAndAnInvalidNotification) {
    std::string s = "+OK\r\n";
    s += "*3\r\n" + bulk("psubscribe") + bulk("__keyspace@0__:*") + ":1\r\n";
    s += frame('*', {"pmessage", "__keyspace@0__:*", "__keyspace@0__:user:1", "set"});
    s += frame('*', {"pong", ""});
    s += frame('*', {"message", "__keyspace@0__:k", ""});  // empty event
    s += frame('*', {"message", "__keyevent@5__:del", "bin\0\xff"s});
    s += frame('*', {"message", "elsewhere", "x"});
    const temp_file f(s);
    const auto r = run_ksn({"parse", "--json", f.path()});
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 3u) << r.out;
    EXPECT_EQ(text_of(objects[0], "type"), "keyspace");
    EXPECT_EQ(text_of(objects[0], "key"), "user:1");
    EXPECT_EQ(objects[0].count("node"), 0u);
    EXPECT_EQ(objects[0].count("ts_ns"), 0u);
    EXPECT_EQ(text_of(objects[1], "type"), "invalid");
    EXPECT_EQ(text_of(objects[1], "channel"), "__keyspace@0__:k");
    EXPECT_EQ(text_of(objects[1], "error"), "empty event name");
    EXPECT_EQ(text_of(objects[2], "type"), "keyevent");
    EXPECT_EQ(objects[2].at("db").number, 5);
    EXPECT_EQ(field_bytes(objects[2], "key"), "bin\0\xff"s);

    const auto text = run_ksn({"parse", f.path()});
    ASSERT_EQ(text.status, 0) << describe(text);
    EXPECT_EQ(lines(text.out),
              (std::vector<std::string>{"keyspace@0 set user:1",
                                        "invalid __keyspace@0__:k \"\": empty event name at "
                                        "payload byte 0",
                                        "keyevent@5 del \"bin\\x00\\xff\""}));
}

TEST(CliParse, Resp3FromStdinWithHelloAndPrefix) {
    std::string s = "%3\r\n" + bulk("server") + bulk("redis") + bulk("proto") + ":3\r\n" +
                    bulk("modules") + "*0\r\n";
    s += ">3\r\n" + bulk("subscribe") + bulk("__keyevent@0__:expired") + ":1\r\n";
    s += frame('>', {"message", "__keyevent@0__:expired", "app:session:1"});
    s += frame('>', {"message", "__keyevent@0__:expired", "other:1"});
    s += frame('*', {"message", "__keyevent@0__:expired", "app:reply"});  // a RESP3 reply
    const auto r = run_ksn({"parse", "--json", "--prefix", "app:", "-"}, {}, s);
    ASSERT_EQ(r.status, 0) << describe(r);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), 1u) << r.out;
    EXPECT_EQ(text_of(objects[0], "key"), "session:1");
    EXPECT_EQ(text_of(objects[0], "event"), "expired");
}

TEST(CliParse, ProtocolErrorExitsTwoWithItsOffset) {
    const std::string good = frame('*', {"message", "__keyspace@0__:a", "set"});
    const std::string s = good + good + "*3\r\n$7\r\nmessage\r\n$x\r\n";
    const temp_file f(s);
    const auto r = run_ksn({"parse", "--json", f.path()});
    EXPECT_EQ(r.status, 2) << describe(r);
    EXPECT_EQ(json_lines(r.out).size(), 2u);  // what came before the error
    const auto at = 2 * good.size() + std::string_view("*3\r\n$7\r\nmessage\r\n$").size();
    EXPECT_NE(r.err.find("ksn parse: protocol error at byte " + std::to_string(at) + ": "),
              std::string::npos)
        << r.err;
}

TEST(CliParse, LargeInputIsStreamedAcrossChunks) {
    // Big enough for many 64 KiB reads, with frames cut at chunk boundaries.
    std::string s;
    constexpr int n = 20000;
    for (int i = 0; i < n; ++i)
        s += frame('>', {"message", "__keyevent@0__:set", "key:" + std::to_string(i)});
    s += frame('>', {"message", "__keyspace@0__:big", std::string(200000, 'e')});
    const temp_file f(s);
    const auto r = run_ksn({"parse", "--json", f.path()});
    ASSERT_EQ(r.status, 0) << describe(r).substr(0, 2000);
    const auto objects = json_lines(r.out);
    ASSERT_EQ(objects.size(), static_cast<std::size_t>(n + 1));
    EXPECT_EQ(text_of(objects[12345], "key"), "key:12345");
    EXPECT_EQ(text_of(objects[n], "event").size(), 200000u);
}

TEST(CliParse, TruncatedInputAndMissingFile) {
    const std::string good = frame('*', {"message", "__keyspace@0__:a", "set"});
    const temp_file f(good + good.substr(0, 10));
    const auto r = run_ksn({"parse", f.path()});
    EXPECT_EQ(r.status, 0) << describe(r);
    EXPECT_EQ(lines(r.out).size(), 1u);
    EXPECT_NE(r.err.find("ends inside a frame"), std::string::npos) << r.err;

    const auto missing = run_ksn({"parse", "/nonexistent/ksn-capture"});
    EXPECT_EQ(missing.status, 1) << describe(missing);
    EXPECT_NE(missing.err.find("/nonexistent/ksn-capture"), std::string::npos) << missing.err;
}

/// A raw subscriber socket: sends `commands`, later returns every byte the server sent.
class raw_subscriber {
  public:
    raw_subscriber(std::uint16_t port, std::string_view commands) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::write(fd_, commands.data(), commands.size()) !=
                static_cast<ssize_t>(commands.size())) {
            throw std::runtime_error("raw subscriber: cannot connect to the server");
        }
    }
    ~raw_subscriber() { ::close(fd_); }

    /// Reads until the server has been quiet for 300 ms (at most 5 s), both scaled.
    std::string received() {
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
        const auto quiet = static_cast<int>(scaled(300ms).count());
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, quiet) <= 0) break;
            char buf[65536];
            const auto n = ::read(fd_, buf, sizeof buf);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
        return out;
    }

  private:
    int fd_ = -1;
};

bool operator==(const json_value& a, const json_value& b) {
    return a.type == b.type && a.text == b.text && a.number == b.number && a.items == b.items &&
           a.rows == b.rows;
}

TEST(CliParse, ParseOfARealCaptureMatchesWatch) {
    // The bytes a real server sends to a subscriber (RESP2, and RESP3 after HELLO 3)
    // decode to exactly what `ksn watch` printed for the same commands.
    for (const bool resp3 : {false, true}) {
        SCOPED_TRACE(resp3 ? "RESP3" : "RESP2");
        redis_server server;
        std::string commands = resp3 ? frame('*', {"HELLO", "3"}) : "";
        commands += frame('*', {"PSUBSCRIBE", "__keyspace@0__:*"});
        commands += frame('*', {"SUBSCRIBE", "__keyevent@0__:del"});
        raw_subscriber capture(server.port(), commands);
        ksn_process ksn({"watch", "--port", std::to_string(server.port()), "--keyspace", "*",
                         "--keyevent", "del", "--json", "--count", "4", "--timeout",
                         scaled_seconds(15)});
        ASSERT_TRUE(ksn_subscribed(server, 2));
        client c(server.port());
        c.command({"SET", "x\xff\n", "1"});
        c.command({"HSET", "h", "f", "v"});
        c.command({"DEL", "x\xff\n"});
        const auto watched = ksn.wait();
        ASSERT_EQ(watched.status, 0) << describe(watched);
        const auto parsed = run_ksn({"parse", "--json", "-"}, {}, capture.received());
        ASSERT_EQ(parsed.status, 0) << describe(parsed);
        auto expected = json_lines(watched.out);
        for (auto& o : expected) {
            o.erase("node");
            o.erase("ts_ns");
        }
        const auto got = json_lines(parsed.out);
        EXPECT_EQ(got.size(), 4u);
        EXPECT_TRUE(got == expected) << "watch:\n" << watched.out << "parse:\n" << parsed.out;
    }
}

}  // namespace
}  // namespace ksn::test
