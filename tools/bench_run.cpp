#include "tools/bench_run.hpp"

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "cluster/router.hpp"
#include "cluster/slot.hpp"
#include "cluster/topology.hpp"
#include "net/command_connection.hpp"
#include "net/connection.hpp"
#include "notifications/keyspace_notifications.hpp"
#include "sentinel/primary_resolver.hpp"
#include "sentinel/sentinel_keyspace_notifications.hpp"

namespace ksn::tools::bench {

namespace {

using namespace std::chrono_literals;

/// Exact keyspace subscriptions are one channel per key; past this, use a pattern.
constexpr std::uint64_t max_exact_keys = 100000;
constexpr std::uint32_t max_writers = 1024;
constexpr std::uint32_t max_pipeline = 100000;
constexpr std::uint32_t max_extra_patterns = 100000;
constexpr std::uint32_t max_hset_fields = 1000;
constexpr std::uint32_t max_value_size = 512u << 20;
/// Redirections (MOVED, ASK) one write may follow before it counts as failed.
constexpr int max_redirects = 16;
/// Retries of TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN (and READONLY with sentinels),
/// 100 ms apart.
constexpr int max_retries = 50;
constexpr auto retry_delay = 100ms;
/// Keys a writer picks for one write before it waits for the next tick, when the nodes
/// of those it picked are not ready (a cluster with a primary down).
constexpr int max_picks = 8;
/// The pacing tick: at most this late, a write is sent at its due time.
constexpr auto tick = 1ms;
/// How often a writer that cannot reach a node asks for the cluster's slots.
constexpr auto refresh_interval = 1s;
/// Sentinel: how often the writers ask the notifier which primary it confirmed, and how
/// often at most a doubting writer makes it ask the sentinels at once.
constexpr auto follow_interval = 250ms;
constexpr auto doubt_interval = 1s;
/// How long the end waits for the replies still due.
constexpr auto reply_wait = 10s;
/// Admin commands (discovery, CONFIG, cleanup) each get this long.
constexpr auto admin_timeout = 10s;

// --- one-off commands --------------------------------------------------------------------

/// Runs commands in order on a fresh command connection to `at` (on an io_context of its
/// own) and returns their replies, or nullopt with `error` set when the connection failed.
std::optional<std::vector<protocol::value>> admin(
    net::connection_options opts, const net::endpoint& at,
    const std::vector<std::vector<std::string>>& commands, std::string& error) {
    asio::io_context io;
    opts.address = at;
    opts.connect_timeout = std::min<std::chrono::milliseconds>(opts.connect_timeout, admin_timeout);
    bool ready = false;
    bool lost = false;
    std::string why;  // a sentence naming the node
    // The handlers capture locals by reference: `conn` is closed (and destroyed) before
    // they go out of scope.
    auto conn = net::command_connection::create(
        io, opts, [&ready] { ready = true; },
        [&lost, &why](const std::error_code&, const std::string& detail) {
            lost = true;
            why = detail;
        });
    conn->start();
    const auto connect_deadline = clock::now() + admin_timeout;
    while (!ready && !lost && clock::now() < connect_deadline)
        io.run_for(20ms);
    if (!ready) {
        conn->close();
        io.run_for(10ms);
        error = !why.empty() ? why : at.to_string() + ": cannot connect in 10 s";
        return std::nullopt;
    }
    std::vector<protocol::value> replies(commands.size());
    std::size_t done = 0;
    std::error_code failure;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        std::vector<std::string_view> args(commands[i].begin(), commands[i].end());
        conn->command(args, [&, i](const std::error_code& ec, const protocol::value& v) {
            if (ec && ec != net::errc::server_error && !failure) failure = ec;
            replies[i] = v;
            ++done;
        });
    }
    const auto deadline = clock::now() + admin_timeout * static_cast<int>(std::max<std::size_t>(
                                                             1, commands.size() / 1000 + 1));
    while (done < commands.size() && !failure && !lost && clock::now() < deadline)
        io.run_for(50ms);
    conn->close();
    io.run_for(10ms);
    if (done < commands.size() || failure) {
        error = !why.empty() ? why
                : failure    ? at.to_string() + ": " + failure.message()
                             : at.to_string() + ": no reply in 10 s";
        return std::nullopt;
    }
    return replies;
}

/// The value of a CONFIG GET reply (RESP2 array or RESP3 map of name, value).
std::optional<std::string> config_value(const protocol::value& v) {
    if (v.elements.size() >= 2 && v.elements[1].is_string()) return v.elements[1].data;
    return std::nullopt;
}

// --- the writers ---------------------------------------------------------------------------

class load;

/// A writer's connection reconnects (a node restarted or failed over comes back), so it
/// is a net::connection, not a one-shot command connection. On a db other than 0 it
/// selects the db first thing on every (re)connection.
class writer_observer final : public net::connection_observer {
  public:
    void on_state(net::connection_state s, const std::error_code&, const std::string&) override {
        if (s == net::connection_state::ready && on_ready) on_ready();
    }
    void on_message(const protocol::pubsub_frame&, clock::time_point) override {}
    void on_confirmation(const protocol::pubsub_frame&) override {}
    std::function<void()> on_ready;
};

/// One writer: a connection per node it has written to, a pipeline and a rate.
struct writer {
    struct link {
        std::shared_ptr<net::connection> conn;
        std::unique_ptr<writer_observer> observer;
        std::uint32_t node = 0;  ///< the router's number of the node
        std::uint32_t matcher_conn = 0;
        std::uint64_t next_index = 0;
    };
    std::uint32_t id = 0;
    std::vector<std::unique_ptr<link>> links;  // by router node
    std::uint32_t in_flight = 0;
    double credit = 0;
    std::uint64_t rng = 0;
    bool pumping = false;

    std::uint64_t next_random() noexcept {  // xorshift64*
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return rng * 0x2545F4914F6CDD1DULL;
    }
};

class load {
  public:
    load(asio::io_context& io, const bench_config& cfg, const key_space& keys,
         const command_mix& mix, matcher& m, cluster::router r)
        : io_(io),
          cfg_(cfg),
          keys_(keys),
          mix_(mix),
          matcher_(m),
          router_(std::move(r)),
          timer_(io),
          touched_(keys.size(), false),
          value_(cfg.value_size, 'x') {
        for (std::uint32_t f = 0; f < cfg.hset_fields; ++f)
            fields_.push_back("f" + std::to_string(f));
        std::uint64_t seed = cfg.seed;
        for (std::uint32_t w = 0; w < cfg.writers; ++w) {
            auto wr = std::make_unique<writer>();
            wr->id = w;
            seed += 0x9E3779B97F4A7C15ULL;  // splitmix step: distinct, non-zero states
            wr->rng = seed | 1;
            writers_.push_back(std::move(wr));
        }
        rate_per_writer_ = cfg.rate / cfg.writers;
    }

    /// On the io thread: connects and starts writing.
    void start() {
        last_tick_ = clock::now();
        for (auto& w : writers_)
            for (std::uint32_t n = 0; n < router_.size(); ++n)
                (void)to(*w, n);
        on_tick();
    }
    /// On the io thread: no more new writes.
    void stop() {
        stopping_ = true;
        timer_.cancel();
    }
    /// On the io thread: UNLINK every key written; `done` runs when every UNLINK is answered.
    void cleanup(std::function<void()> done) {
        auto remaining = std::make_shared<std::size_t>(1);
        auto finish = std::make_shared<std::function<void()>>(std::move(done));
        auto one_done = [remaining, finish] {
            if (--*remaining == 0) (*finish)();
        };
        if (!writers_.empty()) {
            auto& w = *writers_.front();
            std::string name;
            for (std::uint32_t k = 0; k < touched_.size(); ++k) {
                if (!touched_[k]) continue;
                name = keys_.name(k);
                auto* l = route(w, name);
                if (l == nullptr) continue;
                ++*remaining;
                const std::string_view args[] = {"UNLINK", name};
                l->conn->command(args, [one_done](const std::error_code&, const protocol::value&) {
                    one_done();
                });
            }
        }
        one_done();
    }
    void close() {
        timer_.cancel();
        for (auto& t : retry_timers_)
            t->cancel();
        for (auto& w : writers_)
            for (auto& l : w->links)
                if (l) l->conn->close();
    }

    /// Sentinel mode, before start(): writes go to the primary given by set_primary()
    /// (at first the router's one node); `doubt` runs on the io thread when a write
    /// suggests it moved.
    void follow_primary(std::function<void()> doubt) {
        follow_primary_ = true;
        on_doubt_ = std::move(doubt);
    }
    /// On the io thread: the notifier confirmed a new primary; new writes (and the retries
    /// of READONLY ones) go there. Connections to the old one stay until the end: writes
    /// in flight there still get their replies.
    void set_primary(const net::endpoint& primary) {
        const auto node = router_.add(primary);
        if (node == primary_node_) return;
        primary_node_ = node;
        ++switches_;
        for (auto& w : writers_)
            (void)to(*w, node);
    }

    // Read from other threads.
    std::uint64_t sent() const noexcept { return sent_.load(std::memory_order_relaxed); }
    std::uint32_t in_flight() const noexcept { return in_flight_.load(std::memory_order_relaxed); }
    bool budget_spent() const noexcept { return cfg_.ops > 0 && sent() >= cfg_.ops; }
    /// Redirections followed and retries made (read after the io thread stopped).
    std::uint64_t moved() const noexcept { return moved_; }
    std::uint64_t asked() const noexcept { return asked_; }
    std::uint64_t retried() const noexcept { return retried_; }
    std::uint64_t switches() const noexcept { return switches_; }
    std::string first_error() const {
        std::lock_guard lock(error_mutex_);
        return first_error_;
    }

  private:
    writer::link* to(writer& w, std::uint32_t node) {
        if (node == cluster::router::no_node) return nullptr;
        if (w.links.size() <= node) w.links.resize(node + 1);
        auto& l = w.links[node];
        if (!l) {
            l = std::make_unique<writer::link>();
            l->node = node;
            l->observer = std::make_unique<writer_observer>();
            auto opts = cfg_.connection;
            opts.address = router_.node(node);
            opts.client_name = "ksn-bench-writer";
            l->conn = net::connection::create(io_, opts, l->observer.get());
            if (cfg_.db != 0) {
                // Writes go to the db the subscriptions name, on every (re)connection.
                l->observer->on_ready = [conn = l->conn.get(), db = std::to_string(cfg_.db)] {
                    conn->command({"SELECT", db},
                                  [](const std::error_code&, const protocol::value&) {});
                };
            }
            l->matcher_conn = matcher_.add_connection(opts.address.to_string());
            l->conn->start();
        }
        return l.get();
    }
    writer::link* route(writer& w, std::string_view key) {
        return to(w, follow_primary_ ? primary_node_ : router_.node_of_key(key));
    }
    /// Sentinel: asks for the primary again (a write's connection failed, or READONLY).
    void doubt() {
        if (on_doubt_) on_doubt_();
    }
    static bool usable(const writer::link& l) {
        const auto s = l.conn->state();
        return s == net::connection_state::ready;
    }

    void on_tick() {
        if (stopping_) return;
        const auto now = clock::now();
        const double dt = std::chrono::duration<double>(now - last_tick_).count();
        last_tick_ = now;
        for (auto& w : writers_) {
            if (cfg_.rate > 0) {
                // At most one pipeline's worth of backlog: a writer that fell behind (a
                // full pipeline, a node down) does not burst to catch up.
                w->credit =
                    std::min(w->credit + rate_per_writer_ * dt, static_cast<double>(cfg_.pipeline));
            }
            pump(*w);
        }
        if (router_.clustered() && now - last_refresh_ >= refresh_interval) {
            last_refresh_ = now;
            refresh_if_down();
        }
        timer_.expires_after(tick);
        timer_.async_wait([this](const std::error_code& ec) {
            if (!ec) on_tick();
        });
    }

    /// A node a writer cannot reach may have failed over: ask a reachable one for the
    /// slots (redirections alone never reach slots whose owner is down).
    void refresh_if_down() {
        writer::link* ready = nullptr;
        bool down = false;
        for (auto& l : writers_.front()->links) {
            if (!l) continue;
            if (l->conn->state() == net::connection_state::ready) {
                ready = l.get();
            } else {
                down = true;
            }
        }
        if (!down || ready == nullptr || refreshing_) return;
        refreshing_ = true;
        auto at = ready->conn->address();
        ready->conn->command(
            {"CLUSTER", "SLOTS"}, [this, at](const std::error_code& ec, const protocol::value& v) {
                refreshing_ = false;
                if (ec || v.is_error()) return;
                std::string why;
                if (auto t = cluster::parse_cluster_slots(v, at, why); t && !t->empty())
                    router_.update(*t);
            });
    }

    void pump(writer& w) {
        if (w.pumping) return;
        w.pumping = true;
        while (!stopping_ && w.in_flight < cfg_.pipeline && (cfg_.rate <= 0 || w.credit >= 1)) {
            if (cfg_.ops > 0 && sent() >= cfg_.ops) break;
            if (!send_one(w)) break;
            if (cfg_.rate > 0) w.credit -= 1;
        }
        w.pumping = false;
    }

    /// Sends one write of the mix to a key of w's, if a pick among max_picks lands on a
    /// node that is ready: the keys of a node down (or not yet connected) are passed over,
    /// so the others' writes go on at the rate asked.
    bool send_one(writer& w) {
        for (int pick = 0; pick < max_picks; ++pick) {
            if (try_send(w)) return true;
        }
        return false;
    }

    bool try_send(writer& w) {
        const op o = mix_.pick(w.next_random() % mix_.total());
        auto type = key_space::creates(o);
        if (!type) {
            // DEL / EXPIRE: a key of a type the mix creates, in proportion.
            const std::uint64_t creators =
                mix_.of(op::set) + mix_.of(op::hset) + mix_.of(op::lpush);
            auto r = w.next_random() % creators;
            for (const op c : {op::set, op::hset, op::lpush}) {
                if (r < mix_.of(c)) {
                    type = key_space::creates(c);
                    break;
                }
                r -= mix_.of(c);
            }
        }
        const auto n = keys_.size(*type);
        const auto mine = (n - w.id + cfg_.writers - 1) / cfg_.writers;  // indexes ≡ id mod W
        const auto index = w.id + cfg_.writers * static_cast<std::uint32_t>(w.next_random() % mine);
        const auto key = keys_.id(*type, index);
        build(o, key);
        auto* l = route(w, args_[1]);
        if (l == nullptr || !usable(*l)) return false;
        touched_[key] = true;
        const auto t = matcher_.sent(key, o, l->matcher_conn, l->next_index++, clock::now());
        ++w.in_flight;
        in_flight_.fetch_add(1, std::memory_order_relaxed);
        sent_.fetch_add(1, std::memory_order_relaxed);
        issue(w, *l, o, t, 0, 0);
        return true;
    }

    void build(op o, std::uint32_t key) {
        name_ = keys_.prefix();
        keys_.append_suffix(name_, key);
        switch (o) {
            case op::set:
                args_ = {"SET", name_, value_};
                break;
            case op::del:
                args_ = {"DEL", name_};
                break;
            case op::expire:
                args_ = {"EXPIRE", name_, "100000"};
                break;
            case op::lpush:
                args_ = {"LPUSH", name_, value_};
                break;
            case op::hset:
                args_ = {"HSET", name_};
                for (const auto& f : fields_) {
                    args_.push_back(f);
                    args_.push_back(value_);
                }
                break;
        }
    }

    void issue(writer& w, writer::link& l, op o, matcher::ticket t, int redirects, int retries) {
        l.conn->command(args_, [this, &w, node = l.node, o, t, redirects, retries](
                                   const std::error_code& ec, const protocol::value& v) {
            on_reply(w, node, o, t, redirects, retries, ec, v);
        });
    }

    void done(writer& w, matcher::ticket t, matcher::outcome outcome) {
        matcher_.replied(t, outcome, clock::now());
        --w.in_flight;
        in_flight_.fetch_sub(1, std::memory_order_relaxed);
        if (cfg_.rate <= 0) pump(w);
    }

    void note_error(const std::string& e) {
        std::lock_guard lock(error_mutex_);
        if (first_error_.empty()) first_error_ = e;
    }

    /// `node`: the router's number of the node that answered.
    void on_reply(writer& w, std::uint32_t node, op o, matcher::ticket t, int redirects,
                  int retries, const std::error_code& ec, const protocol::value& v) {
        if (ec && ec != net::errc::server_error) {  // no reply: the connection went away
            // It may have executed: not sent again (it is unconfirmed unless notified).
            if (follow_primary_) doubt();
            note_error(ec.message());
            done(w, t, matcher::outcome::failed);
            return;
        }
        if (!v.is_error()) {
            const bool published = (o == op::del || o == op::expire)
                                       ? v.type == protocol::resp_type::integer && v.integer > 0
                                       : true;
            done(w, t, published ? matcher::outcome::published : matcher::outcome::silent);
            return;
        }
        const std::string_view msg = v.data;
        // A malformed MOVED or ASK classifies as `other`: rejected, not followed.
        const auto kind = cluster::classify_error(msg);
        const bool moved = kind == cluster::error_class::moved;
        const bool ask = kind == cluster::error_class::ask;
        if ((moved || ask) && redirects < max_redirects && router_.clustered()) {
            if (const auto r = cluster::parse_redirect(msg)) {
                ++(moved ? moved_ : asked_);
                auto* l = to(w, router_.follow(*r, router_.node(node)));
                build(o, t.key);
                if (ask)
                    l->conn->command({"ASKING"},
                                     [](const std::error_code&, const protocol::value&) {});
                matcher_.resent(t, l->matcher_conn, l->next_index++);
                issue(w, *l, o, t, redirects + 1, retries);
                return;
            }
        }
        // A demoted primary: the retry goes wherever the notifier says the primary is then.
        const bool demoted = follow_primary_ && is_readonly_error(msg);
        if (demoted) doubt();
        if ((kind == cluster::error_class::retry_later || demoted) && retries < max_retries) {
            ++retried_;
            auto timer = std::make_shared<asio::steady_timer>(io_, retry_delay);
            retry_timers_.push_back(timer);
            timer->async_wait(
                [this, &w, o, t, redirects, retries, timer](const std::error_code& e) {
                    std::erase(retry_timers_, timer);
                    if (e) return;
                    build(o, t.key);
                    auto* l = route(w, args_[1]);
                    if (l == nullptr) {
                        done(w, t, matcher::outcome::rejected);
                        return;
                    }
                    matcher_.resent(t, l->matcher_conn, l->next_index++);
                    issue(w, *l, o, t, redirects, retries + 1);
                });
            return;
        }
        note_error(std::string(msg));
        done(w, t, matcher::outcome::rejected);
    }

    asio::io_context& io_;
    const bench_config& cfg_;
    const key_space& keys_;
    const command_mix& mix_;
    matcher& matcher_;
    cluster::router router_;
    asio::steady_timer timer_;
    std::vector<std::shared_ptr<asio::steady_timer>> retry_timers_;
    std::vector<std::unique_ptr<writer>> writers_;
    std::vector<bool> touched_;
    std::string value_;
    std::vector<std::string> fields_;
    std::string name_;
    std::vector<std::string_view> args_;
    double rate_per_writer_ = 0;
    clock::time_point last_tick_{};
    clock::time_point last_refresh_{};
    bool refreshing_ = false;
    bool stopping_ = false;
    bool follow_primary_ = false;
    std::uint32_t primary_node_ = 0;
    std::function<void()> on_doubt_;
    std::uint64_t switches_ = 0;
    std::uint64_t moved_ = 0;
    std::uint64_t asked_ = 0;
    std::uint64_t retried_ = 0;
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint32_t> in_flight_{0};
    mutable std::mutex error_mutex_;
    std::string first_error_;
};

// --- following a Sentinel-managed primary -------------------------------------------------

/// Asks the notifier which primary it confirmed, on a thread of its own: primary() is a
/// blocking query to the notifier's I/O thread, which neither the writers' thread (it would
/// stall every writer) nor the notifier's thread may wait on. It asks every
/// follow_interval, and at once after doubt(), when it also makes the notifier ask the
/// sentinels (at most every doubt_interval). Each change goes to `changed`, on this thread.
class primary_follower {
  public:
    using changed_handler = std::function<void(const net::endpoint&)>;

    primary_follower(sentinel_keyspace_notifications& n, net::endpoint current,
                     changed_handler changed)
        : notifier_(n), current_(std::move(current)), changed_(std::move(changed)) {
        thread_ = std::thread([this] { run(); });
    }
    ~primary_follower() { stop(); }
    primary_follower(const primary_follower&) = delete;
    primary_follower& operator=(const primary_follower&) = delete;

    /// Any thread: a write suggests the primary moved.
    void doubt() {
        {
            std::lock_guard lock(mutex_);
            doubted_ = true;
        }
        wake_.notify_one();
    }
    /// Returns once the thread is gone; `changed` is not called after it.
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_one();
        if (thread_.joinable()) thread_.join();
    }

  private:
    void run() {
        std::unique_lock lock(mutex_);
        clock::time_point last_refresh{};
        while (!stopping_) {
            wake_.wait_for(lock, follow_interval, [this] { return stopping_ || doubted_; });
            if (stopping_) break;
            const bool doubted = std::exchange(doubted_, false);
            lock.unlock();
            if (doubted && clock::now() - last_refresh >= doubt_interval) {
                last_refresh = clock::now();
                notifier_.refresh_primary();  // answers later: a next turn sees it
            }
            std::optional<net::endpoint> primary;
            try {
                primary = notifier_.primary();
            } catch (const std::exception&) {
                // The I/O thread did not answer in time, or the notifier closed: next turn.
            }
            lock.lock();
            if (primary && *primary != current_ && !stopping_) {
                current_ = *primary;
                changed_(current_);
            }
        }
    }

    sentinel_keyspace_notifications& notifier_;
    net::endpoint current_;
    changed_handler changed_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool doubted_ = false;
    bool stopping_ = false;
    std::thread thread_;
};

/// The value of `name` in a flat name/value list (a RESP2 array or a RESP3 map).
const protocol::value* field_of(const protocol::value& flat, std::string_view name) {
    for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
        if (flat.elements[i].is_string() && flat.elements[i].data == name)
            return &flat.elements[i + 1];
    }
    return nullptr;
}

// --- set-up ------------------------------------------------------------------------------

std::string check_config(bench_config& c) {
    if (c.writers == 0 || c.writers > max_writers) return "--writers must be from 1 to 1024";
    if (c.pipeline == 0 || c.pipeline > max_pipeline) return "--pipeline must be from 1 to 100000";
    if (c.rate < 0) return "--rate must not be negative";
    if (c.duration < 0 || c.duration > 1e7) return "--duration must be from 0 to 10000000 seconds";
    if (c.duration == 0 && c.ops == 0) return "give --duration or --ops: a run must end";
    if (c.hset_fields == 0 || c.hset_fields > max_hset_fields)
        return "--hset-fields must be from 1 to 1000";
    if (c.value_size > max_value_size) return "--value-size must be at most 536870912 (512 MiB)";
    if (c.extra_patterns > max_extra_patterns) return "--patterns must be at most 100000";
    if (c.drain < 0 || c.drain > 3600) return "--drain must be from 0 to 3600 seconds";
    if (c.cluster && c.db != 0) return "--db: a cluster has only db 0";
    if (c.cluster && !c.sentinels.empty()) return "--sentinel and --cluster exclude each other";
    if (c.require_every_primary && !c.cluster) return "--require-every-primary needs --cluster";
    if (!c.sentinels.empty() && c.primary_name.empty()) {
        return "--sentinel needs --primary: the name the sentinels monitor the primary by";
    }
    if (c.kind != channel_kind::keyspace && c.kind != channel_kind::keyevent) {
        return "the channel kind must be keyspace or keyevent";
    }
    if (c.exact && c.kind == channel_kind::keyspace && c.keys > max_exact_keys) {
        return "--exact with keyspace channels subscribes one channel per key: at most 100000 "
               "--keys (or use a pattern)";
    }
    if (c.prefix.find_first_of("*?[]\\") != std::string::npos) {
        return "--prefix " + c.prefix + ": glob characters (* ? [ ] \\) are not allowed";
    }
    if (c.seed == 0)
        c.seed = std::random_device{}() | (std::uint64_t{std::random_device{}()} << 32);
    if (c.prefix.empty()) {
        char hex[17];
        const auto [end, ec] = std::to_chars(hex, hex + 16, c.seed & 0xffffffffffffULL, 16);
        (void)ec;
        c.prefix = "ksn-bench:" + std::string(hex, end) + ":";
    }
    return {};
}

std::vector<channel> channels_for(const bench_config& c, const command_mix& mix,
                                  const key_space& keys) {
    std::vector<channel> out;
    if (c.kind == channel_kind::keyspace) {
        if (c.exact) {
            for (std::uint32_t k = 0; k < keys.size(); ++k)
                out.push_back(channel::keyspace(keys.name(k), c.db, match::exact));
        } else {
            out.push_back(channel::keyspace(c.prefix + "*", c.db, match::pattern));
        }
    } else if (c.exact) {
        for (const op o : all_ops)
            if (mix.of(o) > 0) out.push_back(channel::keyevent(name(o), c.db, match::exact));
    } else {
        out.push_back(channel::keyevent("*", c.db, match::pattern));
    }
    // Patterns no notification matches, so the server tries each against every one.
    for (std::uint32_t i = 0; i < c.extra_patterns; ++i)
        out.push_back(
            channel::keyspace("*ksn-bench-decoy-" + std::to_string(i) + "*", c.db, match::pattern));
    return out;
}

}  // namespace

std::vector<net::endpoint> sentinel_replicas(const protocol::value& reply) {
    std::vector<net::endpoint> out;
    for (const auto& entry : reply.elements) {
        const auto* ip = field_of(entry, "ip");
        const auto* port = field_of(entry, "port");
        const auto* flags = field_of(entry, "flags");
        if (ip == nullptr || port == nullptr || !ip->is_string() || ip->data.empty()) continue;
        if (flags != nullptr && flags->is_string()) {
            bool down = false;
            std::string_view rest = flags->data;
            while (!rest.empty() && !down) {
                const auto comma = rest.find(',');
                const auto flag = rest.substr(0, comma);
                down = flag == "s_down" || flag == "o_down" || flag == "disconnected";
                rest =
                    comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
            }
            if (down) continue;
        }
        std::uint32_t n = 0;
        if (port->type == protocol::resp_type::integer) {
            if (port->integer > 0 && port->integer <= 65535)
                n = static_cast<std::uint32_t>(port->integer);
        } else if (port->is_string()) {
            const std::string_view d = port->data;
            const auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), n);
            if (ec != std::errc() || end != d.data() + d.size()) n = 0;
        }
        if (n == 0 || n > 65535) continue;
        out.emplace_back(ip->data, static_cast<std::uint16_t>(n));
    }
    return out;
}

bool is_readonly_error(std::string_view message) noexcept {
    constexpr std::string_view word = "READONLY";
    return message.starts_with(word) &&
           (message.size() == word.size() || message[word.size()] == ' ');
}

std::optional<bench_report> run(bench_config cfg, run_error& failure) {
    failure.message = check_config(cfg);
    failure.usage = !failure.message.empty();
    if (failure.usage) return std::nullopt;
    auto& error = failure.message;
    command_mix mix;
    std::optional<key_space> keys;
    try {
        mix = command_mix::parse(cfg.mix);
        keys.emplace(cfg.prefix, cfg.keys, mix, cfg.writers);
    } catch (const std::invalid_argument& e) {
        error = e.what();
        failure.usage = true;
        return std::nullopt;
    }
    const auto warn = [&cfg](const std::string& w) {
        if (cfg.on_warning) cfg.on_warning(w);
    };

    bench_report report;
    // Discover the nodes.
    std::optional<cluster::router> routes;
    std::vector<net::endpoint> all_nodes;
    std::size_t primaries = 0;  // all_nodes[0, primaries) must be checked; the rest may fail
    const bool sentinel = !cfg.sentinels.empty();
    if (sentinel) {
        // The sentinels in turn, as the notifier will ask them: the first that names the
        // primary also lists its replicas (which publish after a failover). The notifier
        // confirms the primary with ROLE; the writers start on the one it confirmed.
        std::string errors;
        std::optional<net::endpoint> primary;
        std::vector<net::endpoint> replicas;
        for (const auto& s : cfg.sentinels) {
            std::string why;
            auto r = admin(cfg.sentinel_connection, s,
                           {{"SENTINEL", "GET-MASTER-ADDR-BY-NAME", cfg.primary_name},
                            {"SENTINEL", "REPLICAS", cfg.primary_name}},
                           why);
            if (r) {
                primary = sentinel::parse_primary_address(r->front(), why);
                if (!primary) why = s.to_string() + ": " + why;
            }
            if (!primary) {
                errors += (errors.empty() ? "" : "; ") + why;
                continue;
            }
            if (!r->back().is_error()) replicas = sentinel_replicas(r->back());
            break;
        }
        if (!primary) {
            error = "no sentinel named a primary for '" + cfg.primary_name + "': " + errors;
            return std::nullopt;
        }
        cfg.connection.address = *primary;
        all_nodes = {*primary};
        all_nodes.insert(all_nodes.end(), replicas.begin(), replicas.end());
        primaries = 1;
        routes.emplace(*primary);
    } else if (cfg.cluster) {
        std::vector<net::endpoint> seeds = cfg.seeds;
        if (seeds.empty()) seeds.push_back(cfg.connection.address);
        std::string why;
        for (const auto& s : seeds) {
            auto r = admin(cfg.connection, s, {{"CLUSTER", "SLOTS"}}, why);
            if (!r) continue;
            if (r->front().is_error()) {
                why = s.to_string() + ": CLUSTER SLOTS: " + r->front().data;
                continue;
            }
            auto t = cluster::parse_cluster_slots(r->front(), s, why);
            if (!t || t->empty()) {
                if (t) why = s.to_string() + ": the cluster serves no slots";
                continue;
            }
            if (!t->complete())
                warn(s.to_string() + ": some slots have no node; writes to them are skipped");
            routes.emplace(*t);
            all_nodes = t->endpoints();
            primaries = all_nodes.size();
            break;
        }
        if (!routes) {
            error = "cannot discover the cluster: " + why;
            return std::nullopt;
        }
    } else {
        routes.emplace(cfg.connection.address);
        all_nodes = {cfg.connection.address};
        primaries = 1;
    }

    // notify-keyspace-events on every node.
    const notify_flags needed =
        (cfg.kind == channel_kind::keyspace ? notify_flags::keyspace : notify_flags::keyevent) |
        mix.event_classes();
    report.required_flags = to_letters(needed);
    for (std::size_t i = 0; i < all_nodes.size(); ++i) {
        const auto& node = all_nodes[i];
        std::string why;
        auto r = admin(cfg.connection, node, {{"CONFIG", "GET", "notify-keyspace-events"}}, why);
        if (!r && i >= primaries) {
            // A replica a sentinel lists may be announced at an address not reachable from
            // here; the run does not write to it.
            warn("cannot check notify-keyspace-events on the replica " + node.to_string() + ": " +
                 why);
            continue;
        }
        if (!r && cfg.cluster && !cfg.require_every_primary) {
            // Partial availability, as the notifier has it: the others are written to; the
            // notifier names this one's slots and reports its node_unreachable gap.
            warn(why +
                 "; going on with the other primaries (--require-every-primary stops "
                 "here): its keys are not written while it is unreachable, and its "
                 "notify-keyspace-events is not checked");
            continue;
        }
        if (!r) {
            error = why;
            return std::nullopt;
        }
        const auto value = r->front().is_error() ? std::nullopt : config_value(r->front());
        const auto have = value ? from_letters(*value) : std::nullopt;
        if (!have) {
            warn(node.to_string() + ": cannot read notify-keyspace-events (" +
                 (r->front().is_error() ? r->front().data : std::string("unexpected reply")) +
                 "); assuming it publishes " + report.required_flags);
            continue;
        }
        if (has_all(*have, needed)) continue;
        const auto missing = to_letters(needed & ~*have);
        if (!cfg.configure) {
            error = node.to_string() + " has notify-keyspace-events \"" + *value +
                    "\", which lacks \"" + missing + "\": the benchmark needs \"" +
                    report.required_flags + "\". Set it (CONFIG SET notify-keyspace-events " +
                    to_letters(*have | needed) + ") or run with --configure";
            return std::nullopt;
        }
        auto set =
            admin(cfg.connection, node,
                  {{"CONFIG", "SET", "notify-keyspace-events", to_letters(*have | needed)}}, why);
        if (!set || set->front().is_error()) {
            error =
                set ? node.to_string() + ": CONFIG SET notify-keyspace-events: " + set->front().data
                    : why;
            return std::nullopt;
        }
        report.nodes_configured.push_back(node.to_string());
    }

    // Subscribe.
    const auto start = clock::now();
    matcher m(*keys, start);
    cluster_options nopts;
    nopts.connection = cfg.connection;
    nopts.connection.client_name = "ksn-bench";
    nopts.key_prefix = cfg.prefix;
    nopts.dispatch = dispatch_mode::io_thread;
    nopts.check = notify_check::warn;
    nopts.subscribe_timeout = 30s;
    nopts.require_every_primary = cfg.require_every_primary;
    nopts.redundancy = cfg.redundancy;
    nopts.diagnostics = [warn](severity s, const std::string& msg) {
        if (s != severity::info) warn(msg);
    };
    std::unique_ptr<notifier_base> notifier;
    sentinel_keyspace_notifications* followed = nullptr;
    if (sentinel) {
        sentinel_options so;
        static_cast<notifier_options&>(so) = static_cast<const notifier_options&>(nopts);
        so.sentinels = cfg.sentinels;
        so.primary_name = cfg.primary_name;
        so.redundancy = cfg.redundancy;
        so.sentinel_connection = cfg.sentinel_connection;
        so.sentinel_connection.client_name = "ksn-bench";
        auto n = std::make_unique<sentinel_keyspace_notifications>(std::move(so));
        followed = n.get();
        notifier = std::move(n);
    } else if (cfg.cluster) {
        nopts.seeds =
            cfg.seeds.empty() ? std::vector<net::endpoint>{cfg.connection.address} : cfg.seeds;
        notifier = std::make_unique<cluster_keyspace_notifications>(nopts);
    } else {
        notifier =
            std::make_unique<keyspace_notifications>(static_cast<const notifier_options&>(nopts));
    }
    notifier->on_gap([&m](const gap_event& g) { m.gap(g); });
    const auto channels = channels_for(cfg, mix, *keys);
    report.subscriptions = channels.size();
    try {
        constexpr std::size_t batch = 1000;
        for (std::size_t i = 0; i < channels.size(); i += batch) {
            const auto n = std::min(batch, channels.size() - i);
            notifier->subscribe(std::span<const channel>(channels.data() + i, n),
                                [&m](const received_notification& x) {
                                    m.notified(x.key(), x.event(), x.node(), x.received(),
                                               x.redelivered());
                                });
        }
    } catch (const std::system_error& e) {
        error = e.what();
        return std::nullopt;
    }
    if (followed != nullptr) {
        // The writers start where the notifier subscribed (it confirmed it with ROLE).
        try {
            if (const auto p = followed->primary(); p && *p != cfg.connection.address) {
                cfg.connection.address = *p;
                routes.emplace(*p);
            }
        } catch (const ksn::error&) {
            // The I/O thread did not answer: start where the sentinel said; the follower
            // corrects it.
        }
    }

    // Write.
    asio::io_context io;
    auto work = asio::make_work_guard(io);
    std::thread io_thread([&io] { io.run(); });
    const auto write_start = clock::now();
    load writers(io, cfg, *keys, mix, m, std::move(*routes));
    std::optional<primary_follower> follower;
    if (followed != nullptr) {
        follower.emplace(*followed, cfg.connection.address,
                         [&io, &writers](const net::endpoint& p) {
                             asio::post(io, [&writers, p] { writers.set_primary(p); });
                         });
        writers.follow_primary([&follower] { follower->doubt(); });
    }
    asio::post(io, [&writers] { writers.start(); });

    const auto end = cfg.duration > 0
                         ? write_start + std::chrono::duration_cast<clock::duration>(
                                             std::chrono::duration<double>(cfg.duration))
                         : clock::time_point::max();
    auto next_progress = write_start + 500ms;
    const auto emit_seconds = [&](clock::time_point now) {
        for (const auto& s : m.take_seconds(now))
            if (cfg.on_second) cfg.on_second(s);
    };
    while (true) {
        std::this_thread::sleep_for(20ms);
        const auto now = clock::now();
        if (cfg.stop_requested && cfg.stop_requested()) {
            report.interrupted = true;
            break;
        }
        if (now >= end || writers.budget_spent()) break;
        if (now >= next_progress && cfg.on_progress) {
            cfg.on_progress(std::chrono::duration<double>(now - write_start).count(),
                            m.snapshot(now, 1s));
            next_progress += 500ms;
        }
        emit_seconds(now);
    }
    const auto write_end = clock::now();
    // Stopped on the io thread before the replies are counted: a write sent after the
    // count found none in flight would be acknowledged after the notifier closed, and be
    // counted lost outside every gap.
    {
        auto stopped = std::make_shared<std::promise<void>>();
        auto done = stopped->get_future();
        asio::post(io, [&writers, stopped] {
            writers.stop();
            stopped->set_value();
        });
        done.wait_for(reply_wait);
    }
    // The replies still due, then the notifications.
    const auto reply_deadline = clock::now() + reply_wait;
    while (writers.in_flight() > 0 && clock::now() < reply_deadline) {
        std::this_thread::sleep_for(5ms);
    }
    const auto drain_deadline = clock::now() + std::chrono::duration_cast<clock::duration>(
                                                   std::chrono::duration<double>(cfg.drain));
    while (!m.settled() && clock::now() < drain_deadline)
        std::this_thread::sleep_for(5ms);
    // The cleanup below writes to the primary known last.
    if (follower) follower->stop();
    notifier->close();

    if (!cfg.keep_keys) {
        // Shared: when the wait times out, the replies still come (or fail at close()).
        auto cleaned = std::make_shared<std::promise<void>>();
        auto done = cleaned->get_future();
        asio::post(io,
                   [&writers, cleaned] { writers.cleanup([cleaned] { cleaned->set_value(); }); });
        if (done.wait_for(admin_timeout) != std::future_status::ready) {
            warn("cleanup: not every key was deleted in 10 s (prefix " + cfg.prefix + ")");
        }
    }
    std::promise<void> closed;
    asio::post(io, [&writers, &closed] {
        writers.close();
        closed.set_value();
    });
    closed.get_future().wait();
    work.reset();
    io.stop();
    io_thread.join();

    report.elapsed = std::chrono::duration<double>(write_end - write_start).count();
    report.first_error = writers.first_error();
    report.moved = writers.moved();
    report.asked = writers.asked();
    report.retried = writers.retried();
    report.switches = writers.switches();
    report.result = m.finish();
    emit_seconds(clock::now() + 1s);  // the last second, and the drain's
    report.timeline = m.timeline();
    if (report.elapsed > 0) {
        report.write_rate = static_cast<double>(report.result.total.writes_sent) / report.elapsed;
        report.notification_rate =
            static_cast<double>(report.result.total.received) / report.elapsed;
    }
    report.config = std::move(cfg);
    return report;
}

}  // namespace ksn::tools::bench
