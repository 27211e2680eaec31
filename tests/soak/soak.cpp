// ksn_soak: a bounded soak of cluster_keyspace_notifications against a local cluster of
// 3 primaries + 3 replicas (tests/support/redis_cluster.hpp, on free loopback ports).
//
// For --seconds N (default 180) it keeps a steady write load (--rate writes/s, default
// 1000, keys "soak:<n>" over all slots) while it, at fixed fractions of the run:
//     5%  a slow consumer: the puller stops for 4 s while a burst of 30000 writes
//         overflows the deliberately small queue (20000, overflow_policy::drop_oldest)
//    15%, 35%, 55%, 75%  a manual failover (CLUSTER FAILOVER on a replica)
//    25%  end of warm-up: RSS, thread and fd counts are taken as the baseline
//    45%  a crash failover (SIGKILL of a primary; its replica is elected)
//    65%  the killed node is started again and rejoins as a replica
//    85%  a server restart (a replica stopped with SIGTERM and started again)
// and at the end checks, one line each:
//    delivery  every write outside a reported gap was notified (gaps widened by
//              gap_slack, a queue overflow's by its node's read lag too:
//              tests/support/cluster_checks.hpp); a failure prints the gaps and the
//              first missing writes on lines that say FAIL (CI's summary shows them)
//    coverage  the notifier is subscribed to exactly the cluster's primaries
//    rss       RSS at the end at most rss_tolerance above RSS after warm-up (sampled
//              every second; skipped under sanitizers, whose allocators hold freed memory)
//    threads   /proc/self/task back to its warm-up count, and after the notifier is
//              destroyed back to its count before it was created
//    fds       /proc/self/fd likewise (the test writer's own connections excluded)
//    events    every fault was carried out (the cluster failed over, the node rejoined)
// Exit status 0 only if every check passed; 2 for a bad command line.
//
// The run's schedule and the slow consumer's hold are the soak's subject and take the
// times above; every bound it waits on (a promotion, a resubscription, a stable cluster,
// the counts coming back) is scaled by KSN_TEST_TIME_SCALE (tests/support/timing.hpp).
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "tests/support/cluster_checks.hpp"
#include "tests/support/redis_cluster.hpp"
#include "tests/support/timing.hpp"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define KSN_SOAK_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define KSN_SOAK_SANITIZED 1
#endif
#endif
#ifndef KSN_SOAK_SANITIZED
#define KSN_SOAK_SANITIZED 0
#endif

namespace ksn::test {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t queue_capacity = 20000;
constexpr std::size_t burst_writes = 30000;
constexpr auto burst_pause = 4s;
/// RSS may end this much above its warm-up value. The soak's own records (writes,
/// notifications) are made and touched before the run, so RSS after warm-up measures the
/// notifier, the cluster fixture and the allocator. glibc's arenas and the kernel's page
/// accounting move by a few hundred KiB without any leak (a topology is rebuilt every
/// refresh, connections come and go with failovers); 4 MiB is ten times what the runs
/// show (docs/benchmarks.md) and still catches a leak of 25 bytes per notification over
/// the default run (180 000 writes), 7 bytes over ten minutes. A leak per fault (a
/// handful per run) is too small for RSS: the fd and thread checks are what catch a lost
/// connection or thread.
constexpr long rss_tolerance = 4L << 20;

struct settings {
    int seconds = 180;
    int rate = 1000;
    bool verbose = false;
};

const clock::time_point started = clock::now();

double since_start() {
    return std::chrono::duration<double>(clock::now() - started).count();
}

void say(const std::string& line) {
    std::printf("[%7.1fs] %s\n", since_start(), line.c_str());
    std::fflush(stdout);
}

// --- the process, from /proc ----------------------------------------------------------------

/// The sampler and the main thread read /proc under one lock, so neither sees the other's
/// transient file descriptor.
std::mutex proc_mutex;

long rss_bytes() {
    std::lock_guard lock(proc_mutex);
    std::ifstream statm("/proc/self/statm");
    long size = 0, resident = 0;
    statm >> size >> resident;
    return resident * ::sysconf(_SC_PAGESIZE);
}

/// Entries of a /proc/self directory (the directory's own descriptor included, a constant).
int entries(const char* dir) {
    std::lock_guard lock(proc_mutex);
    DIR* d = ::opendir(dir);
    if (d == nullptr) return -1;
    int n = 0;
    for (int i = 0; i < 1000000 && ::readdir(d) != nullptr; ++i)
        ++n;
    ::closedir(d);
    return n - 2;  // "." and ".."
}

int thread_count() {
    return entries("/proc/self/task");
}
int fd_count() {
    return entries("/proc/self/fd");
}

std::string mib(long bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return buf;
}

/// RSS every second in a thread of its own.
class rss_sampler {
  public:
    explicit rss_sampler(int seconds) : limit_(seconds * 2 + 600) {
        thread_ = std::thread([this] { run(); });
    }
    ~rss_sampler() {
        stop_ = true;
        thread_.join();
    }
    long latest() {
        std::lock_guard lock(m_);
        return samples_.empty() ? rss_bytes() : samples_.back();
    }
    /// Highest sample since `from` (an index).
    long max_since(std::size_t from) {
        std::lock_guard lock(m_);
        long best = 0;
        for (std::size_t i = from; i < samples_.size(); ++i)
            best = std::max(best, samples_[i]);
        return best;
    }
    std::size_t count() {
        std::lock_guard lock(m_);
        return samples_.size();
    }

  private:
    void run() {
        for (int i = 0; !stop_ && i < limit_; ++i) {
            const long rss = rss_bytes();
            {
                std::lock_guard lock(m_);
                samples_.push_back(rss);
            }
            for (int j = 0; j < 10 && !stop_; ++j)
                std::this_thread::sleep_for(100ms);
        }
    }
    int limit_;
    std::mutex m_;
    std::vector<long> samples_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// --- the cluster ------------------------------------------------------------------------------

std::set<std::string> primaries(redis_cluster& c) {
    std::set<std::string> out;
    const auto t = c.topology();
    for (const auto& s : t.shards())
        out.insert(s.primary.address.to_string());
    return out;
}

/// Nodes the notifier has a ready subscriber connection to.
std::set<std::string> subscribed(notifier_base& n) {
    std::set<std::string> out;
    for (const auto& s : n.stats().nodes) {
        if (s.state == net::connection_state::ready) out.insert(s.node);
    }
    return out;
}

/// A shard with a live replica, the `turn`-th such (round robin); nullopt if none.
struct shard_pick {
    net::endpoint primary, replica;
};
std::optional<shard_pick> pick_shard(redis_cluster& c, int turn) {
    const auto t = c.topology();
    std::vector<shard_pick> candidates;
    for (const auto& s : t.shards()) {
        for (const auto& r : s.replicas) {
            if (c.node(r.address.port).running()) {
                candidates.push_back({s.primary.address, r.address});
                break;
            }
        }
    }
    if (candidates.empty()) return std::nullopt;
    return candidates[static_cast<std::size_t>(turn) % candidates.size()];
}

bool is_primary(redis_cluster& c, const net::endpoint& node) {
    try {
        return primaries(c).count(node.to_string()) == 1;
    } catch (const std::exception&) {
        return false;  // no live node answered: ask again
    }
}

// --- the run ----------------------------------------------------------------------------------

struct event_log {
    int done = 0;
    std::vector<std::string> failed;
    void result(const std::string& name, bool ok) {
        if (ok) {
            ++done;
        } else {
            failed.push_back(name);
        }
    }
};

class soak {
  public:
    explicit soak(settings s) : s_(s) {}
    int run();

  private:
    /// The run's schedule (its subject, not a wait on a condition): faults at fixed
    /// fractions of --seconds.
    void at(double fraction) {
        std::this_thread::sleep_until(t0_ +
                                      std::chrono::duration_cast<clock::duration>(
                                          std::chrono::duration<double>(s_.seconds) * fraction));
    }
    bool slow_consumer_burst();
    bool manual_failover(int turn);
    bool crash_failover();
    bool rejoin();
    bool restart_replica();
    /// Waits until `replica` is a primary, then for the notifier to subscribe to it.
    bool promoted(const net::endpoint& replica, std::chrono::seconds limit);
    /// Waits until the notifier is subscribed to `node` and says how long it took.
    void report_subscribed(const net::endpoint& node, clock::time_point since);
    bool check(const std::string& name, bool ok, const std::string& detail);

    settings s_;
    clock::time_point t0_;
    std::unique_ptr<redis_cluster> cluster_;
    std::unique_ptr<cluster_keyspace_notifications> notifier_;
    std::unique_ptr<collector> collector_;
    std::unique_ptr<write_load> load_;
    std::optional<net::endpoint> crashed_;
    std::atomic<int> diagnostics_{0};
    event_log events_;
    bool all_passed_ = true;
};

bool soak::check(const std::string& name, bool ok, const std::string& detail) {
    std::printf("CHECK %-9s %s  %s\n", name.c_str(), ok ? "PASS" : "FAIL", detail.c_str());
    std::fflush(stdout);
    all_passed_ = all_passed_ && ok;
    return ok;
}

bool soak::promoted(const net::endpoint& replica, std::chrono::seconds limit) {
    if (!wait_until([&] { return is_primary(*cluster_, replica); }, limit)) {
        say("  " + replica.to_string() + " was not promoted within " +
            std::to_string(scaled(limit).count()) + " s");
        return false;
    }
    report_subscribed(replica, clock::now());
    return true;
}

void soak::report_subscribed(const net::endpoint& node, clock::time_point since) {
    const bool ok =
        wait_until([&] { return subscribed(*notifier_).count(node.to_string()) == 1; }, 10s);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - since).count();
    say(ok ? "  notifier subscribed to " + node.to_string() + " " + std::to_string(ms) +
                 " ms after the promotion was seen"
           : "  notifier NOT subscribed to " + node.to_string() + " within " +
                 std::to_string(scaled(10s).count()) + " s");
}

bool soak::slow_consumer_burst() {
    say("slow consumer: pulling stops for " + std::to_string(burst_pause.count()) + " s; " +
        std::to_string(burst_writes) + " extra writes into a queue of " +
        std::to_string(queue_capacity));
    collector_->pause();
    std::vector<std::string> keys;
    keys.reserve(burst_writes);
    for (std::size_t i = 0; i < burst_writes; ++i)
        keys.push_back("soak:b" + std::to_string(i));  // short keys: no heap in the records
    cluster_writer w(*cluster_);
    w.set_many(keys);
    // The subject: a consumer that does not pull for burst_pause while writes go on.
    std::this_thread::sleep_for(burst_pause);
    // The burst is acknowledged, but a slower (sanitized) I/O thread may still be pushing
    // it into the queue: keep holding until the queue overflowed (at once when it has).
    wait_until([&] { return notifier_->stats().queue_dropped > 0; }, 2 * burst_pause);
    const auto depth = notifier_->stats().queue_depth;
    collector_->resume();
    const auto dropped = notifier_->stats().queue_dropped;
    say("  queue depth " + std::to_string(depth) + ", dropped so far " + std::to_string(dropped) +
        "; pulling again");
    return dropped > 0;
}

bool soak::manual_failover(int turn) {
    const auto pick = pick_shard(*cluster_, turn);
    if (!pick) {
        say("manual failover: no shard has a live replica");
        return false;
    }
    say("manual failover: CLUSTER FAILOVER on " + pick->replica.to_string() + " (primary " +
        pick->primary.to_string() + ")");
    try {
        cluster_->node(pick->replica.port).command({"CLUSTER", "FAILOVER"});
    } catch (const std::exception& e) {
        say(std::string("  CLUSTER FAILOVER failed: ") + e.what());
        return false;
    }
    return promoted(pick->replica, 20s);
}

bool soak::crash_failover() {
    const auto pick = pick_shard(*cluster_, 1);
    if (!pick) {
        say("crash failover: no shard has a live replica");
        return false;
    }
    say("crash failover: SIGKILL " + pick->primary.to_string() + " (replica " +
        pick->replica.to_string() + ")");
    cluster_->node(pick->primary.port).kill9();
    crashed_ = pick->primary;
    // cluster-node-timeout is 1 s (scaled, tests/support/redis_server.cpp); then the
    // replica's election.
    return promoted(pick->replica, 30s);
}

bool soak::rejoin() {
    if (!crashed_) return false;
    say("restart the killed node " + crashed_->to_string() + ": it rejoins as a replica");
    try {
        cluster_->node(crashed_->port).start();
        cluster_->wait_stable(30s, 1);
    } catch (const std::exception& e) {
        say(std::string("  ") + e.what());
        return false;
    }
    const bool replica = !is_primary(*cluster_, *crashed_);
    say(replica ? "  rejoined as a replica" : "  rejoined as a PRIMARY");
    return replica;
}

bool soak::restart_replica() {
    const auto pick = pick_shard(*cluster_, 2);
    if (!pick) {
        say("server restart: no live replica");
        return false;
    }
    say("server restart: SIGTERM the replica " + pick->replica.to_string() +
        ", start it again once the cluster marked it failed");
    try {
        auto& node = cluster_->node(pick->replica.port);
        node.stop();
        // A real outage: its primary sees it fail (cluster-node-timeout, then the FAIL flag).
        const std::string needle = ":" + std::to_string(node.port()) + "@";
        const bool failed = wait_until(
            [&] {
                try {
                    std::istringstream lines(
                        cluster_->node(pick->primary.port).command({"CLUSTER", "NODES"}).data);
                    for (std::string line; std::getline(lines, line);) {
                        if (line.find(needle) == std::string::npos) continue;
                        std::istringstream fields(line);
                        std::string id, address, flags;
                        fields >> id >> address >> flags;
                        return ("," + flags + ",").find(",fail,") != std::string::npos;
                    }
                } catch (const std::exception&) {}
                return false;
            },
            10s);
        if (!failed) say("  the cluster did not mark it failed; starting it anyway");
        node.start();
        cluster_->wait_stable(30s, 1);
    } catch (const std::exception& e) {
        say(std::string("  ") + e.what());
        return false;
    }
    say("  back and in sync");
    return true;
}

int soak::run() {
    say("starting a cluster of 3 primaries + 3 replicas");
    cluster_ = std::make_unique<redis_cluster>();
    rss_sampler sampler(s_.seconds);
    const int threads_before = thread_count();
    const int fds_before = fd_count();

    auto options = test_cluster_options(*cluster_);
    options.queue_capacity = queue_capacity;
    options.overflow = overflow_policy::drop_oldest;
    notifier_ = std::make_unique<cluster_keyspace_notifications>(options);
    notifier_->on_diagnostic([this](severity sev, const std::string& m) {
        ++diagnostics_;
        if (s_.verbose)
            say(std::string("  diagnostic (") + std::string(to_string(sev)) + "): " + m);
    });
    notifier_->subscribe_keyspace("soak:*");

    const auto expected = static_cast<std::size_t>(s_.seconds) * static_cast<std::size_t>(s_.rate);
    collector_ = std::make_unique<collector>(*notifier_, expected * 13 / 10 + burst_writes);
    write_load::options load_options;
    load_options.rate = s_.rate;
    load_options.limit = expected * 12 / 10 + 1000;
    t0_ = clock::now();
    load_ = std::make_unique<write_load>(*cluster_, "soak:", load_options);
    say("load: " + std::to_string(s_.rate) + " writes/s for " + std::to_string(s_.seconds) + " s");

    int turn = 0;
    at(0.05);
    events_.result("slow consumer", slow_consumer_burst());
    at(0.15);
    events_.result("manual failover 1", manual_failover(turn++));

    at(0.25);
    const long rss_warm = rss_bytes();
    const std::size_t warm_sample = sampler.count();
    const int threads_warm = thread_count();
    const int fds_warm = fd_count() - static_cast<int>(load_->connections());
    say("warm-up done: RSS " + mib(rss_warm) + ", " + std::to_string(threads_warm) + " threads, " +
        std::to_string(fds_warm) + " fds (writer's excluded), " + std::to_string(load_->count()) +
        " writes so far");

    at(0.35);
    events_.result("manual failover 2", manual_failover(turn++));
    at(0.45);
    events_.result("crash failover", crash_failover());
    at(0.55);
    events_.result("manual failover 3", manual_failover(turn++));
    at(0.65);
    events_.result("rejoin", rejoin());
    at(0.75);
    events_.result("manual failover 4", manual_failover(turn++));
    at(0.85);
    events_.result("server restart", restart_replica());
    at(1.0);

    // The end, still under load. A reconnect may be in flight: wait (bounded) for the
    // counts to come back before calling it a leak.
    int threads_end = 0, fds_end = 0;
    wait_until(
        [&] {
            threads_end = thread_count();
            fds_end = fd_count() - static_cast<int>(load_->connections());
            return threads_end == threads_warm && fds_end == fds_warm;
        },
        5s);
    const long rss_end = rss_bytes();
    const long rss_max = std::max(sampler.max_since(warm_sample), rss_end);
    load_->stop();
    const auto duration = clock::now() - t0_;
    const auto writes = load_->writes();
    say("load stopped after " + std::to_string(writes.size()) + " writes; waiting for the rest");
    wait_settled(*collector_, writes, 15s);
    const auto subscribed_end = subscribed(*notifier_);
    std::set<std::string> primaries_end;
    try {
        primaries_end = primaries(*cluster_);
    } catch (const std::exception&) {}
    const auto stats = notifier_->stats();
    const auto gaps = collector_->gaps();
    const auto received = collector_->received();
    const auto report = check_delivery(writes, received, gaps, collector_->received_at());

    // Teardown in order: the writer, the puller, then the notifier.
    load_.reset();
    collector_.reset();
    notifier_.reset();
    int threads_after = 0, fds_after = 0;
    wait_until(
        [&] {
            threads_after = thread_count();
            fds_after = fd_count();
            return threads_after == threads_before && fds_after == fds_before;
        },
        5s);

    // --- the report -------------------------------------------------------------------------
    const double secs = std::chrono::duration<double>(duration).count();
    std::string reasons;
    for (const auto& [reason, n] : report.gaps_by_reason)
        reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(n);
    std::uint64_t reconnects = 0, node_notifications = 0;
    for (const auto& n : stats.nodes) {
        reconnects += n.reconnects;
        node_notifications += n.notifications;
    }
    char line[512];
    std::snprintf(line, sizeof line,
                  "SUMMARY %.0f s, %zu writes (%.0f/s) + %zu burst, %zu notifications pulled, "
                  "%zu gaps (%s), queue dropped %llu, high water %zu, %llu reconnects, "
                  "%d diagnostics",
                  secs, writes.size(), static_cast<double>(writes.size()) / secs, burst_writes,
                  received.size(), gaps.size(), reasons.empty() ? "none" : reasons.c_str(),
                  static_cast<unsigned long long>(stats.queue_dropped), stats.queue_high_water,
                  static_cast<unsigned long long>(reconnects), diagnostics_.load());
    std::printf("%s\n", line);
    if (s_.verbose) {
        for (const auto& g : gaps) {
            const double lost = std::chrono::duration<double>(g.lost - started).count();
            const double len =
                g.restored ? std::chrono::duration<double>(*g.restored - g.lost).count() : -1;
            std::printf("  gap at %.3fs for %.3fs %s %s dropped %llu slots %zu\n", lost, len,
                        g.node.c_str(), std::string(to_string(g.reason)).c_str(),
                        static_cast<unsigned long long>(g.dropped), g.slots.size());
        }
    }

    check("delivery", report.missing == 0 && report.writes > 0,
          std::to_string(report.writes) + " writes: " + std::to_string(report.received) +
              " notified (" + std::to_string(report.covered_but_notified) +
              " of them inside gaps), " + std::to_string(report.excused) +
              " not notified inside gaps, " + std::to_string(report.missing) + " missing" +
              (report.missing ? " (e.g. " + report.example + ")" : "") + "; read lag up to " +
              std::to_string(
                  std::chrono::duration_cast<std::chrono::milliseconds>(report.read_lag).count()) +
              " ms");
    if (report.missing) {
        // Where the losses lie, on lines a CI log's summary picks up (they say FAIL): the
        // gaps, then the first missing writes.
        const auto at = [](clock::time_point t) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3fs",
                          std::chrono::duration<double>(t - started).count());
            return std::string(buf);
        };
        for (const auto& g : gaps) {
            if (g.reason == gap_reason::queue_overflow) continue;
            std::printf("FAIL detail: gap %s %s from %s to %s, %zu slots: %s\n", g.node.c_str(),
                        std::string(to_string(g.reason)).c_str(), at(g.lost).c_str(),
                        g.restored ? at(*g.restored).c_str() : "open", g.slots.size(),
                        g.detail.substr(0, 160).c_str());
        }
        for (std::size_t i = 0; i < report.missing_writes.size() && i < 4; ++i) {
            const auto& w = report.missing_writes[i];
            std::printf("FAIL detail: missing %s on port %u, sent %s, acknowledged %s\n",
                        w.key.c_str(), static_cast<unsigned>(w.port), at(w.sent).c_str(),
                        at(w.acked).c_str());
        }
    }
    check("coverage", !primaries_end.empty() && subscribed_end == primaries_end,
          "subscribed to " + std::to_string(subscribed_end.size()) + " of " +
              std::to_string(primaries_end.size()) + " primaries at the end");
    const long allowed = rss_tolerance;
    const std::string rss_detail = "after warm-up " + mib(rss_warm) + ", end " + mib(rss_end) +
                                   " (max " + mib(rss_max) + "), allowed +" + mib(allowed);
    if (KSN_SOAK_SANITIZED) {
        std::printf("CHECK %-9s SKIP  %s (a sanitizer's allocator keeps freed memory)\n", "rss",
                    rss_detail.c_str());
    } else {
        check("rss", rss_end <= rss_warm + allowed, rss_detail);
    }
    check("threads", threads_end == threads_warm && threads_after == threads_before,
          "after warm-up " + std::to_string(threads_warm) + ", end " + std::to_string(threads_end) +
              "; before the notifier " + std::to_string(threads_before) + ", after it " +
              std::to_string(threads_after));
    check("fds", fds_end == fds_warm && fds_after == fds_before,
          "after warm-up " + std::to_string(fds_warm) + ", end " + std::to_string(fds_end) +
              "; before the notifier " + std::to_string(fds_before) + ", after it " +
              std::to_string(fds_after));
    std::string failed;
    for (const auto& f : events_.failed)
        failed += " " + f + ";";
    check("events", events_.failed.empty(),
          std::to_string(events_.done) + " faults carried out" +
              (failed.empty() ? "" : ", failed:" + failed));
    std::printf("soak: %s\n", all_passed_ ? "PASS" : "FAIL");
    return all_passed_ ? 0 : 1;
}

int usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--seconds N] [--rate WRITES_PER_S] [--verbose]\n"
                 "  a soak of the cluster notifier on a local 3+3 cluster (default 180 s at "
                 "1000 writes/s)\n",
                 argv0);
    return 2;
}

}  // namespace
}  // namespace ksn::test

int main(int argc, char** argv) {
    ksn::test::settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if ((a == "--seconds" || a == "--rate") && i + 1 < argc) {
            const int v = std::atoi(argv[++i]);
            if (v <= 0) return ksn::test::usage(argv[0]);
            (a == "--seconds" ? s.seconds : s.rate) = v;
        } else if (a == "--verbose") {
            s.verbose = true;
        } else {
            return ksn::test::usage(argv[0]);
        }
    }
    if (s.seconds < 20) {
        std::fprintf(stderr, "--seconds must be at least 20 (the faults need room)\n");
        return 2;
    }
    try {
        return ksn::test::soak(s).run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "soak: %s\n", e.what());
        return 1;
    }
}
