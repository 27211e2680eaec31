// What a replica publishes as keyspace notifications, against what its primary publishes
// for the same writes. Each test starts a primary and a replica of it (both
// notify-keyspace-events KEA), subscribes `PSUBSCRIBE __key*__:*` on each, runs writes on
// the primary, waits until the replica has applied everything the primary propagated
// (INFO replication offsets) and compares the two sequences of (channel, payload)
// exactly. docs/notifications.md, "What a replica publishes", is the table these tests
// prove: one test per row or group of rows.
//
// The replica publishes what it executes, and it executes the primary's replication
// stream, which is not always the command the client sent: the primary rewrites commands
// to deterministic ones (INCRBYFLOAT as SET, SPOP as SREM, relative TTLs as PXAT/PEXPIREAT)
// and turns its own deletions (expiry, eviction) into DEL. Every difference below follows.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "protocol/encoder.hpp"
#include "protocol/value.hpp"
#include "tests/support/redis_server.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

/// One published message as a subscriber receives it.
struct message {
    std::string channel;
    std::string payload;
    bool operator==(const message&) const = default;
};
using messages = std::vector<message>;

void PrintTo(const message& m, std::ostream* os) {
    *os << m.channel << " -> " << m.payload;
}

/// One notification: the server publishes it on the keyspace channel, then the keyevent.
struct note {
    std::string event;
    std::string key;
    int db = 0;
};

/// What the server publishes for `notes`, in order, with KEA (K and E both on).
messages published(std::initializer_list<note> notes) {
    messages out;
    for (const auto& n : notes) {
        const std::string db = std::to_string(n.db);
        out.push_back({"__keyspace@" + db + "__:" + n.key, n.event});
        out.push_back({"__keyevent@" + db + "__:" + n.event, n.key});
    }
    return out;
}

/// A PSUBSCRIBE `__key*__:*` connection read with deadlines. (The support `client`
/// reads replies, not pushes.)
class subscriber {
  public:
    explicit subscriber(std::uint16_t port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            if (fd_ >= 0) ::close(fd_);
            throw std::runtime_error("subscriber: cannot connect to 127.0.0.1:" +
                                     std::to_string(port));
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        send({"PSUBSCRIBE", "__key*__:*"});
        const auto confirmation = read(clock_type::now() + scaled(5s));
        if (!confirmation || confirmation->elements.empty() ||
            confirmation->elements[0].data != "psubscribe") {
            throw std::runtime_error("subscriber: no psubscribe confirmation");
        }
    }
    ~subscriber() { ::close(fd_); }
    subscriber(const subscriber&) = delete;
    subscriber& operator=(const subscriber&) = delete;

    /// Reads messages into `out` until one arrives on `channel`; false if none does within
    /// `limit` (scaled here).
    bool read_until(const std::string& channel, messages& out, std::chrono::milliseconds limit) {
        const auto deadline = clock_type::now() + scaled(limit);
        while (const auto v = read(deadline)) {
            if (const auto m = as_message(*v)) {
                out.push_back(*m);
                if (m->channel == channel) return true;
            }
        }
        return false;
    }

    /// Everything published to this connection until now. In subscribed mode a RESP2 PING
    /// is answered ["pong", ""] in order with the messages queued before it, so the pong
    /// is the barrier: no waiting for "quiet", and nothing published earlier is left.
    messages drain() {
        send({"PING"});
        messages out;
        const auto deadline = clock_type::now() + scaled(5s);
        for (;;) {
            const auto v = read(deadline);
            if (!v) throw std::runtime_error("subscriber: no pong within 5 s (scaled)");
            if (!v->elements.empty() && v->elements[0].data == "pong") return out;
            if (const auto m = as_message(*v)) out.push_back(*m);
        }
    }

  private:
    static std::optional<message> as_message(const protocol::value& v) {
        if (v.elements.size() != 4 || v.elements[0].data != "pmessage") return std::nullopt;
        return message{v.elements[2].data, v.elements[3].data};
    }

    void send(std::initializer_list<std::string_view> args) {
        std::string out;
        protocol::append_command(out, args);
        std::string_view rest = out;
        while (!rest.empty()) {
            const ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
            if (n <= 0)
                throw std::runtime_error(std::string("subscriber: send: ") + std::strerror(errno));
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    /// The next whole value, or nothing if none is complete by `deadline`.
    std::optional<protocol::value> read(clock_type::time_point deadline) {
        for (;;) {
            if (!buffer_.empty()) {
                protocol::value v;
                const auto r = reader_.read(buffer_, v);
                buffer_.erase(0, r.consumed);
                if (r.status == protocol::parse_status::complete) return v;
                if (r.status == protocol::parse_status::error)
                    throw std::runtime_error("subscriber: bad reply: " + reader_.error().message());
            }
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[65536];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) throw std::runtime_error("subscriber: connection closed");
            buffer_.append(buf, static_cast<std::size_t>(n));
        }
    }

    int fd_ = -1;
    std::string buffer_;
    protocol::value_reader reader_;
};

/// A field of INFO `section` as a number; throws if it is absent.
long long info_number(client& c, std::string_view section, const std::string& field) {
    const std::string info = c.command({"INFO", section}).data;
    const auto at = info.find("\r\n" + field + ":");
    if (at == std::string::npos) throw std::runtime_error("INFO has no " + field + ":\n" + info);
    return std::stoll(info.substr(at + field.size() + 3));
}

/// An absolute time for EXPIREAT and SET ... EXAT.
std::string unix_seconds_from_now(long long seconds) {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::now().time_since_epoch());
    return std::to_string(now.count() + seconds);
}

/// A TTL that passes soon, in ms, for PEXPIRE and SET ... PX. Not 1: a TTL that has
/// already passed when the primary checks it (the TTL counts from the command's start
/// time, the check uses the clock) deletes the key at once, published as del, not expired.
std::string short_ttl() {
    return std::to_string(scaled(100ms).count());
}

bool link_up(client& replica) {
    return replica.command({"INFO", "replication"}).data.find("master_link_status:up") !=
           std::string::npos;
}

struct observed {
    messages primary;
    messages replica;
};

class ReplicaEvents : public testing::Test {
  protected:
    ReplicaEvents()
        // DEBUG SET-ACTIVE-EXPIRE (the lazy-expiry tests) needs the debug command. A
        // diskless sync holds the replication stream back until the replica's first
        // REPLCONF ACK, sent by its once-a-second cron, so the first write would reach
        // the replica up to a second late; a sync through an RDB file streams at once.
        : primary_(with_config({"enable-debug-command local", "repl-diskless-sync no"})),
          replica_(),
          p_(primary_.port()),
          r_(replica_.port()) {
        // The REPLICAOF command connects at once; the `replicaof` config line would wait
        // for the replication cron (up to a second).
        expect_ok(r_.command({"REPLICAOF", "127.0.0.1", std::to_string(primary_.port())}));
        attach();
        primary_sub_ = std::make_unique<subscriber>(primary_.port());
        replica_sub_ = std::make_unique<subscriber>(replica_.port());
    }

    static void expect_ok(const protocol::value& v) {
        if (v.is_error()) throw std::runtime_error("unexpected error reply: " + v.data);
    }

    /// Waits until the replica's link is up and it has applied all the primary sent.
    void attach() {
        if (!wait_until([&] { return link_up(r_); }, 10s))
            throw std::runtime_error("the replica did not sync; its log:\n" + replica_.log());
        wait_replicated();
    }

    /// Waits until the replica has applied everything the primary has propagated so far:
    /// its slave_repl_offset reaches the primary's master_repl_offset read now.
    void wait_replicated() {
        const auto target = info_number(p_, "replication", "master_repl_offset");
        if (!wait_until(
                [&] { return info_number(r_, "replication", "slave_repl_offset") >= target; }, 5s,
                1ms)) {
            throw std::runtime_error("the replica did not reach offset " + std::to_string(target));
        }
    }

    /// A command on the primary that must not fail.
    protocol::value on_primary(std::initializer_list<std::string_view> args) {
        auto v = p_.command(args);
        EXPECT_FALSE(v.is_error()) << v.data;
        return v;
    }

    /// Runs `writes` (on the primary), optionally waits for the primary to publish on
    /// `primary_channel` (its own expiry or eviction happens later), then waits until the
    /// replica has applied it all, and returns what each side published meanwhile.
    observed observe_writes(const std::function<void()>& writes,
                            const std::string& primary_channel = {}) {
        observed o;
        writes();
        if (!primary_channel.empty() &&
            !primary_sub_->read_until(primary_channel, o.primary, 10s)) {
            throw std::runtime_error("the primary published nothing on " + primary_channel);
        }
        // What the primary propagates with that publication is in its offset by the time
        // it answers the INFO below (a later event-loop turn).
        wait_replicated();
        for (auto& m : primary_sub_->drain())
            o.primary.push_back(std::move(m));
        o.replica = replica_sub_->drain();
        return o;
    }

    /// `observe()` of commands run one after another on the primary.
    observed observe(std::initializer_list<std::initializer_list<std::string_view>> commands) {
        return observe_writes([&] {
            for (const auto& c : commands)
                on_primary(c);
        });
    }

    /// Lets the replica catch up and drops what both published (a test's setup).
    void settle() {
        observe_writes([] {});
    }

    /// Both sides published `expected` for `commands`.
    void expect_same(std::initializer_list<std::initializer_list<std::string_view>> commands,
                     const messages& expected) {
        const auto o = observe(commands);
        EXPECT_EQ(o.primary, expected);
        EXPECT_EQ(o.replica, expected);
    }

    redis_server primary_;
    redis_server replica_;
    client p_;  ///< on the primary
    client r_;  ///< on the replica
    std::unique_ptr<subscriber> primary_sub_;
    std::unique_ptr<subscriber> replica_sub_;
};

// --- the same on both -------------------------------------------------------------------

TEST_F(ReplicaEvents, PlainWritesAreTheSame) {
    expect_same({{"SET", "k", "v"}}, published({{"set", "k"}}));
    expect_same({{"HSET", "h", "a", "1", "b", "2", "c", "3"}}, published({{"hset", "h"}}));
    expect_same({{"SETRANGE", "r", "5", "x"}}, published({{"setrange", "r"}}));
    expect_same({{"APPEND", "a", "x"}, {"APPEND", "a", "y"}},
                published({{"append", "a"}, {"append", "a"}}));
    // SETRANGE with an empty value on a missing key changes nothing and says nothing.
    expect_same({{"SETRANGE", "r2", "0", ""}}, {});
}

TEST_F(ReplicaEvents, SetWithATtlIsTheSame) {
    // Replicated as SET ... PXAT <absolute ms>: the same set then expire.
    const std::string at = unix_seconds_from_now(1000);
    const auto set_expire = published({{"set", "k"}, {"expire", "k"}});
    expect_same({{"SET", "k", "v", "EX", "100"}}, set_expire);
    expect_same({{"SET", "k", "v", "PX", "100000"}}, set_expire);
    expect_same({{"SET", "k", "v", "EXAT", at}}, set_expire);
    expect_same({{"SETEX", "k", "100", "v"}}, set_expire);
    expect_same({{"PSETEX", "k", "100000", "v"}}, set_expire);
}

TEST_F(ReplicaEvents, TtlCommandsAndGetdelAreTheSame) {
    const std::string at = unix_seconds_from_now(1000);
    on_primary({"SET", "k", "v"});
    settle();
    // GETEX EX and the EXPIRE family are replicated as PEXPIREAT, GETEX PERSIST as PERSIST.
    expect_same({{"GETEX", "k", "EX", "100"}}, published({{"expire", "k"}}));
    expect_same({{"GETEX", "k", "PERSIST"}}, published({{"persist", "k"}}));
    expect_same({{"EXPIRE", "k", "100"}}, published({{"expire", "k"}}));
    expect_same({{"PEXPIRE", "k", "100000"}}, published({{"expire", "k"}}));
    expect_same({{"EXPIREAT", "k", at}}, published({{"expire", "k"}}));
    expect_same({{"PERSIST", "k"}}, published({{"persist", "k"}}));
    // A TTL in the past deletes the key; replicated as DEL.
    expect_same({{"EXPIRE", "k", "-1"}}, published({{"del", "k"}}));
    // GETDEL is replicated as DEL.
    on_primary({"SET", "g", "v"});
    settle();
    expect_same({{"GETDEL", "g"}}, published({{"del", "g"}}));
}

TEST_F(ReplicaEvents, NothingForNoOps) {
    on_primary({"SADD", "s", "a", "b"});
    settle();
    expect_same({{"DEL", "missing"}}, {});
    expect_same({{"EXPIRE", "missing", "10"}}, {});
    expect_same({{"SRANDMEMBER", "s"}}, {});
    expect_same({{"SRANDMEMBER", "s", "2"}}, {});
    expect_same({{"SPOP", "s", "0"}}, {});
}

// --- the primary's own deletions arrive as del ------------------------------------------

TEST_F(ReplicaEvents, ActiveExpiryIsDelOnTheReplica) {
    // The primary's expire cycle (10 times a second) finds the key; it publishes expired
    // and propagates a DEL.
    const auto o = observe_writes(
        [&] {
            on_primary({"SET", "x", "v"});
            on_primary({"PEXPIRE", "x", short_ttl()});
        },
        "__keyevent@0__:expired");
    EXPECT_EQ(o.primary, published({{"set", "x"}, {"expire", "x"}, {"expired", "x"}}));
    EXPECT_EQ(o.replica, published({{"set", "x"}, {"expire", "x"}, {"del", "x"}}));
}

TEST_F(ReplicaEvents, ALogicallyExpiredKeyIsNotNotifiedByTheReplica) {
    // With the primary's active expiry off, the key outlives its TTL until it is touched.
    on_primary({"DEBUG", "SET-ACTIVE-EXPIRE", "0"});
    const auto setup = observe({{"SET", "x", "v"}, {"PEXPIRE", "x", short_ttl()}});
    EXPECT_EQ(setup.primary, published({{"set", "x"}, {"expire", "x"}}));
    EXPECT_EQ(setup.replica, published({{"set", "x"}, {"expire", "x"}}));
    // The replica answers as if it were gone once its TTL passed...
    ASSERT_TRUE(wait_until([&] { return r_.command({"EXISTS", "x"}).integer == 0; }, 5s));
    EXPECT_TRUE(r_.command({"GET", "x"}).is_null());
    // ...but keeps it (a replica never deletes a key its primary sent) and publishes
    // nothing. The subject is "nothing arrives": a few of the replica's cron turns (10 a
    // second) pass first.
    std::this_thread::sleep_for(scaled(300ms));
    EXPECT_EQ(r_.command({"DBSIZE"}).integer, 1);
    EXPECT_EQ(primary_sub_->drain(), messages{});
    EXPECT_EQ(replica_sub_->drain(), messages{});
    // A read on the primary expires it there (lazily): expired there, a DEL here.
    const auto o = observe({{"GET", "x"}});
    EXPECT_EQ(o.primary, published({{"expired", "x"}}));
    EXPECT_EQ(o.replica, published({{"del", "x"}}));
}

TEST_F(ReplicaEvents, AWriteToAnExpiredKeyIsDelThenTheWrite) {
    on_primary({"DEBUG", "SET-ACTIVE-EXPIRE", "0"});
    settle();
    on_primary({"SET", "w", "v"});
    on_primary({"PEXPIRE", "w", short_ttl()});
    settle();
    // The replica's answer says the TTL passed (on the same clock) without touching the
    // key on the primary, where a read would expire it.
    ASSERT_TRUE(wait_until([&] { return r_.command({"EXISTS", "w"}).integer == 0; }, 5s));
    // The write looks the key up first, which expires it on the primary.
    const auto o = observe({{"SET", "w", "new"}});
    EXPECT_EQ(o.primary, published({{"expired", "w"}, {"set", "w"}}));
    EXPECT_EQ(o.replica, published({{"del", "w"}, {"set", "w"}}));
}

TEST_F(ReplicaEvents, EvictionIsDelOnTheReplica) {
    // A limit of one byte, under what the server uses with no key at all: allkeys-lru
    // must evict every key, here the only one. CONFIG SET starts the eviction timer
    // itself; writes would be refused until the limit is lifted again (CONFIG and INFO
    // are not).
    on_primary({"CONFIG", "SET", "maxmemory-policy", "allkeys-lru"});
    on_primary({"SET", "big", std::string(1 << 16, 'x')});
    settle();
    const auto o = observe_writes(
        [&] {
            on_primary({"CONFIG", "SET", "maxmemory", "1"});
        },
        "__keyevent@0__:evicted");
    on_primary({"CONFIG", "SET", "maxmemory", "0"});
    EXPECT_EQ(o.primary, published({{"evicted", "big"}}));
    EXPECT_EQ(o.replica, published({{"del", "big"}}));
    // The replica applied that DEL: the key is gone there too.
    EXPECT_EQ(r_.command({"DBSIZE"}).integer, 0);
}

// --- rewritten commands -----------------------------------------------------------------

TEST_F(ReplicaEvents, FloatIncrementsAreSetAndHsetOnTheReplica) {
    // Replicated as SET <result> KEEPTTL and HSET <field> <result>.
    auto o = observe({{"INCRBYFLOAT", "f", "1.5"}});
    EXPECT_EQ(o.primary, published({{"incrbyfloat", "f"}}));
    EXPECT_EQ(o.replica, published({{"set", "f"}}));
    o = observe({{"HINCRBYFLOAT", "h", "f", "1.5"}});
    EXPECT_EQ(o.primary, published({{"hincrbyfloat", "h"}}));
    EXPECT_EQ(o.replica, published({{"hset", "h"}}));
}

TEST_F(ReplicaEvents, SpopIsSremOnTheReplica) {
    on_primary({"SADD", "s", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
    settle();
    // Without a count: one SREM.
    auto o = observe({{"SPOP", "s"}});
    EXPECT_EQ(o.primary, published({{"spop", "s"}}));
    EXPECT_EQ(o.replica, published({{"srem", "s"}}));
    // With a count under the size: one SREM per popped member (in a MULTI), so one spop
    // on the primary and three srem on the replica.
    o = observe({{"SPOP", "s", "3"}});
    EXPECT_EQ(o.primary, published({{"spop", "s"}}));
    EXPECT_EQ(o.replica, published({{"srem", "s"}, {"srem", "s"}, {"srem", "s"}}));
    // With a count of at least the size: the set is deleted, replicated as DEL.
    o = observe({{"SPOP", "s", "6"}});
    EXPECT_EQ(o.primary, published({{"spop", "s"}, {"del", "s"}}));
    EXPECT_EQ(o.replica, published({{"del", "s"}}));
    // Popping the last member without a count: SREM, which deletes the set too.
    on_primary({"SADD", "one", "a"});
    settle();
    o = observe({{"SPOP", "one"}});
    EXPECT_EQ(o.primary, published({{"spop", "one"}, {"del", "one"}}));
    EXPECT_EQ(o.replica, published({{"srem", "one"}, {"del", "one"}}));
}

TEST_F(ReplicaEvents, ScriptsAreTheirRewrittenEffectsOnTheReplica) {
    // Scripts are replicated as their effects (MULTI, each write rewritten, EXEC).
    on_primary({"SADD", "s", "a", "b"});
    settle();
    const auto o = observe({{"EVAL",
                             "redis.call('SET', KEYS[1], '1') "
                             "redis.call('INCRBYFLOAT', KEYS[1], '1.5') "
                             "redis.call('SPOP', KEYS[2]) "
                             "redis.call('DEL', KEYS[1]) return 1",
                             "2", "ev", "s"}});
    EXPECT_EQ(o.primary,
              published({{"set", "ev"}, {"incrbyfloat", "ev"}, {"spop", "s"}, {"del", "ev"}}));
    EXPECT_EQ(o.replica, published({{"set", "ev"}, {"set", "ev"}, {"srem", "s"}, {"del", "ev"}}));
}

TEST_F(ReplicaEvents, MultiExecIsTheSameExceptEachCommandsRewrite) {
    const auto o = observe({{"MULTI"},
                            {"SET", "m", "1"},
                            {"INCRBYFLOAT", "m", "2.5"},
                            {"EXPIRE", "m", "100"},
                            {"EXEC"}});
    EXPECT_EQ(o.primary, published({{"set", "m"}, {"incrbyfloat", "m"}, {"expire", "m"}}));
    EXPECT_EQ(o.replica, published({{"set", "m"}, {"set", "m"}, {"expire", "m"}}));
}

// --- the same again, though rewritten or multi-key --------------------------------------

TEST_F(ReplicaEvents, RenameMoveAndCopyAreTheSame) {
    expect_same({{"SET", "a", "1"}, {"RENAME", "a", "b"}},
                published({{"set", "a"}, {"rename_from", "a"}, {"rename_to", "b"}}));
    expect_same({{"MOVE", "b", "1"}}, published({{"move_from", "b"}, {"move_to", "b", 1}}));
    expect_same({{"SET", "c", "1"}, {"COPY", "c", "d"}},
                published({{"set", "c"}, {"copy_to", "d"}}));
    expect_same({{"COPY", "c", "d", "DB", "2", "REPLACE"}}, published({{"copy_to", "d", 2}}));
}

TEST_F(ReplicaEvents, ListMovesAndPopsAreTheSame) {
    expect_same({{"RPUSH", "l", "a", "b", "c", "d"}}, published({{"rpush", "l"}}));
    // LMOVE LEFT RIGHT: the destination's push is published before the source's pop.
    expect_same({{"LMOVE", "l", "l2", "LEFT", "RIGHT"}},
                published({{"rpush", "l2"}, {"lpop", "l"}}));
    expect_same({{"BLMOVE", "l", "l2", "LEFT", "RIGHT", "1"}},
                published({{"rpush", "l2"}, {"lpop", "l"}}));
    expect_same({{"LPOP", "l", "5"}}, published({{"lpop", "l"}, {"del", "l"}}));
    expect_same({{"LPOP", "l2", "1"}}, published({{"lpop", "l2"}}));
}

TEST_F(ReplicaEvents, BlockedPopsServedLaterAreTheSame) {
    // A client blocks first; a later push serves it. The primary replicates the push and
    // then the pop it served (LPOP, LMOVE, ZPOPMIN) as separate commands.
    client blocked(primary_.port());
    const auto serve = [&](std::initializer_list<std::string_view> block,
                           std::initializer_list<std::string_view> push, const std::string& key) {
        std::string failure;
        std::thread t([&] {
            try {
                blocked.command(block);
            } catch (const std::exception& e) {
                failure = e.what();
            }
        });
        const bool blocking =
            wait_until([&] { return info_number(p_, "clients", "blocked_clients") == 1; }, 5s, 1ms);
        auto o = observe({push});
        t.join();
        EXPECT_TRUE(blocking) << key;
        EXPECT_EQ(failure, "") << key;
        return o;
    };
    auto o = serve({"BLPOP", "bl", "0"}, {"RPUSH", "bl", "x"}, "bl");
    auto expected = published({{"rpush", "bl"}, {"lpop", "bl"}, {"del", "bl"}});
    EXPECT_EQ(o.primary, expected);
    EXPECT_EQ(o.replica, expected);
    o = serve({"BLMOVE", "bm", "bm2", "LEFT", "RIGHT", "0"}, {"RPUSH", "bm", "x", "y"}, "bm");
    expected = published({{"rpush", "bm"}, {"rpush", "bm2"}, {"lpop", "bm"}});
    EXPECT_EQ(o.primary, expected);
    EXPECT_EQ(o.replica, expected);
    o = serve({"BZPOPMIN", "bz", "0"}, {"ZADD", "bz", "1", "a"}, "bz");
    expected = published({{"zadd", "bz"}, {"zpopmin", "bz"}, {"del", "bz"}});
    EXPECT_EQ(o.primary, expected);
    EXPECT_EQ(o.replica, expected);
}

TEST_F(ReplicaEvents, ZpopminIsTheSame) {
    expect_same({{"ZADD", "z", "1", "a", "2", "b", "3", "c"}}, published({{"zadd", "z"}}));
    expect_same({{"ZPOPMIN", "z"}}, published({{"zpopmin", "z"}}));
    expect_same({{"ZPOPMIN", "z", "5"}}, published({{"zpopmin", "z"}, {"del", "z"}}));
}

TEST_F(ReplicaEvents, RestoreIsTheSame) {
    on_primary({"SET", "src", "hello"});
    settle();
    const std::string dump = on_primary({"DUMP", "src"}).data;
    expect_same({{"RESTORE", "r", "0", dump}}, published({{"restore", "r"}}));
    expect_same({{"RESTORE", "r", "100000", dump, "REPLACE"}}, published({{"restore", "r"}}));
}

TEST_F(ReplicaEvents, FlushesAndSwapdbPublishNothing) {
    expect_same({{"SET", "a", "1"}, {"SELECT", "1"}, {"SET", "b", "1"}, {"SELECT", "0"}},
                published({{"set", "a"}, {"set", "b", 1}}));
    expect_same({{"SWAPDB", "0", "1"}}, {});
    EXPECT_EQ(r_.command({"EXISTS", "b"}).integer, 1);  // db 0 holds what db 1 held
    expect_same({{"FLUSHDB"}}, {});
    expect_same({{"SET", "c", "1"}}, published({{"set", "c"}}));
    expect_same({{"FLUSHALL"}}, {});
    EXPECT_EQ(r_.command({"DBSIZE"}).integer, 0);
}

TEST_F(ReplicaEvents, StreamTrimmingAndClaimsAreTheSame) {
    expect_same({{"XADD", "x", "1-0", "f", "v"}, {"XADD", "x", "2-0", "f", "v"}},
                published({{"xadd", "x"}, {"xadd", "x"}}));
    // Exact trimming is replicated as is.
    expect_same({{"XADD", "x", "MAXLEN", "1", "3-0", "f", "v"}},
                published({{"xadd", "x"}, {"xtrim", "x"}}));
    // Approximate trimming (whole nodes of 100 entries go) is replicated as MAXLEN = <the
    // length it left>, so the replica trims too.
    std::vector<std::vector<std::string>> fill;
    for (int i = 0; i < 300; ++i)
        fill.push_back({"XADD", "xs", "*", "f", "v"});
    for (const auto& reply : p_.pipeline(fill))
        ASSERT_FALSE(reply.is_error()) << reply.data;
    settle();
    expect_same({{"XADD", "xs", "MAXLEN", "~", "10", "*", "f", "v"}},
                published({{"xadd", "xs"}, {"xtrim", "xs"}}));
    EXPECT_EQ(r_.command({"XLEN", "xs"}).integer, p_.command({"XLEN", "xs"}).integer);
    // XREADGROUP and XAUTOCLAIM are replicated as XCLAIM ... FORCE JUSTID, which creates
    // the consumer on the replica as well.
    expect_same({{"XGROUP", "CREATE", "x", "g", "0"},
                 {"XREADGROUP", "GROUP", "g", "c1", "STREAMS", "x", ">"}},
                published({{"xgroup-create", "x"}, {"xgroup-createconsumer", "x"}}));
    expect_same({{"XAUTOCLAIM", "x", "g", "c2", "0", "0"}},
                published({{"xgroup-createconsumer", "x"}}));
    // Claiming nothing creates no consumer (7.0 creates them lazily): nothing on either.
    expect_same({{"XAUTOCLAIM", "x", "g", "c3", "100000000", "0"}}, {});
}

TEST_F(ReplicaEvents, NewKeyEventsAreTheSame) {
    for (auto* c : {&p_, &r_})
        expect_ok(c->command({"CONFIG", "SET", "notify-keyspace-events", "KEAn"}));
    expect_same({{"SET", "n1", "v"}}, published({{"new", "n1"}, {"set", "n1"}}));
    expect_same({{"SET", "n1", "w"}}, published({{"set", "n1"}}));
    expect_same({{"RENAME", "n1", "n2"}},
                published({{"new", "n2"}, {"rename_from", "n1"}, {"rename_to", "n2"}}));
    expect_same({{"COPY", "n2", "n3"}}, published({{"new", "n3"}, {"copy_to", "n3"}}));
    expect_same({{"MOVE", "n3", "1"}},
                published({{"new", "n3", 1}, {"move_from", "n3"}, {"move_to", "n3", 1}}));
    expect_same({{"RPUSH", "l", "a"}, {"LMOVE", "l", "l2", "LEFT", "LEFT"}},
                published({{"new", "l"},
                           {"rpush", "l"},
                           {"new", "l2"},
                           {"lpush", "l2"},
                           {"lpop", "l"},
                           {"del", "l"}}));
    // The rewrite changes the event after `new`, not `new` itself.
    const auto o = observe({{"INCRBYFLOAT", "f", "1.5"}});
    EXPECT_EQ(o.primary, published({{"new", "f"}, {"incrbyfloat", "f"}}));
    EXPECT_EQ(o.replica, published({{"new", "f"}, {"set", "f"}}));
}

// --- what only the replica does ---------------------------------------------------------

TEST_F(ReplicaEvents, AWritableReplicaExpiresItsOwnKeysAsExpired) {
    expect_ok(r_.command({"CONFIG", "SET", "replica-read-only", "no"}));
    expect_ok(r_.command({"SET", "own", "v", "PX", short_ttl()}));
    // A replica expires the keys written to it directly (not those its primary sent) on
    // its cron, and publishes expired for them.
    messages replica;
    ASSERT_TRUE(replica_sub_->read_until("__keyevent@0__:expired", replica, 5s));
    for (auto& m : replica_sub_->drain())
        replica.push_back(std::move(m));
    EXPECT_EQ(replica, published({{"set", "own"}, {"expire", "own"}, {"expired", "own"}}));
    EXPECT_EQ(primary_sub_->drain(), messages{});
}

TEST_F(ReplicaEvents, AFullResyncIsNotNotifiedByTheReplica) {
    expect_same({{"SET", "keep", "1"}, {"SET", "gone", "1"}},
                published({{"set", "keep"}, {"set", "gone"}}));
    // Detached, the replica takes a write of its own; the primary goes on without it.
    expect_ok(r_.command({"REPLICAOF", "NO", "ONE"}));
    expect_ok(r_.command({"SET", "replica-only", "1"}));
    EXPECT_EQ(replica_sub_->drain(), published({{"set", "replica-only"}}));
    on_primary({"SET", "later", "1"});
    on_primary({"DEL", "gone"});
    EXPECT_EQ(primary_sub_->drain(), published({{"set", "later"}, {"del", "gone"}}));
    // Reattached, its replication id is its own now, so the primary sends a full copy:
    // the replica drops its data set and loads the primary's without a notification.
    expect_ok(r_.command({"REPLICAOF", "127.0.0.1", std::to_string(primary_.port())}));
    attach();
    EXPECT_EQ(replica_sub_->drain(), messages{});
    EXPECT_EQ(r_.command({"EXISTS", "later"}).integer, 1);
    EXPECT_EQ(r_.command({"EXISTS", "gone"}).integer, 0);
    EXPECT_EQ(r_.command({"EXISTS", "replica-only"}).integer, 0);
    // Two full syncs in the replica's log: the first attach and this one.
    const std::string log = replica_.log();
    std::size_t full = 0;
    for (auto at = log.find("Full resync from master"); at != std::string::npos;
         at = log.find("Full resync from master", at + 1))
        ++full;
    EXPECT_EQ(full, 2u) << log;
}

}  // namespace
}  // namespace ksn::test
