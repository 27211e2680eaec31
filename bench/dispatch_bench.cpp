// Dispatch cost with the server out of the way: a replay peer on 127.0.0.1 (a thread of
// this process with a plain socket) answers ksn's handshake and subscription like a
// Redis server, then blasts pre-encoded keyspace notifications (pmessage frames on
// `__keyspace@0__:<key>`, keys of 8-64 bytes, a mix of events) as fast as the socket
// takes them. ksn parses and delivers them
//   Handler/resp:<2|3>/rate:<r>: to a handler inline on the I/O thread
//                       (dispatch_mode::io_thread),
//   Pull/resp:<2|3>/rate:<r>: through the bounded queue to a consumer calling next() with
//                       one reused delivery (dispatch_mode::queued, the default),
//   CallerHandler/...:  dispatch_mode::caller, no thread of ksn's: the benchmark thread
//                       calls next(), which reads the socket and runs the handler inline,
//   CallerPull/...:     dispatch_mode::caller without a handler: next() reads, queues and
//                       returns each notification on the same thread,
// with rate 0 (as fast as the socket takes them) or a paced rate in frames per second.
// Every figure is measured over the steady state, the last 80% of the frames (the
// first 20% warm up buffers, queue slots and caches), and reported as counters:
//   notifications_per_s  delivered notifications per second of wall time,
//   io_cpu_ns            CPU time of ksn's I/O thread per notification (its per-thread
//                        CPU clock: reads, parsing, dispatch, the handler or queue push),
//   consumer_cpu_ns      (Pull) CPU time of the consumer thread per notification; (Caller*)
//                        of the one thread that does everything (io_cpu_ns is then 0),
//   allocs               heap allocations per notification, whole process,
//   dropped              (Pull) notifications the queue dropped (overflow_policy::drop_oldest)
//                        because the consumer fell behind,
//   queue_high_water     (Pull) the deepest the queue got.
// Memory/<what> rows measure resident memory (/proc/self/statm) above the process before
// the notifier was built, in MB (10^6 bytes): `notifier` a notifier with default options,
// subscribed and idle; `full_queue` the same notifier once its queue holds 65,536
// notifications that nobody pulls (keys of 8-64 bytes). Run each alone
// (--benchmark_filter=Memory/notifier) for figures that no earlier row's freed heap
// hides.
// Frames per run: --benchmark_filter as usual; KSN_DISPATCH_FRAMES overrides the default
// of 5,000,000 (e.g. a smaller run under valgrind --tool=callgrind).
#include <benchmark/benchmark.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench/alloc_counter.hpp"
#include "notifications/keyspace_notifications.hpp"
#include "protocol/encoder.hpp"
#include "protocol/value.hpp"

namespace {

using namespace std::chrono_literals;
using ksn::clock;

std::uint64_t frames_per_run() {
    if (const char* env = std::getenv("KSN_DISPATCH_FRAMES")) {
        const auto n = std::strtoull(env, nullptr, 10);
        if (n >= 1000) return n;
    }
    return 5'000'000;
}

// --- the corpus -----------------------------------------------------------------------

void append_bulk(std::string& out, std::string_view s) {
    out += '$';
    out += std::to_string(s.size());
    out += "\r\n";
    out.append(s);
    out += "\r\n";
}

constexpr std::string_view pattern = "__keyspace@0__:*";

/// `count` pmessage frames for the pattern above, back to back, in RESP2 (`*4`) or RESP3
/// (`>4`); `offsets[i]` is where frame i starts (offsets[count] is the end).
struct corpus {
    std::string bytes;
    std::vector<std::size_t> offsets;
    std::size_t frames() const noexcept { return offsets.size() - 1; }
};

corpus make_corpus(int resp, std::size_t count) {
    static constexpr std::string_view events[] = {"set",    "del",  "expire", "hset",   "lpush",
                                                  "incrby", "sadd", "zadd",   "expired"};
    static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789:_-{}";
    corpus c;
    std::uint64_t state =
        0x9e3779b97f4a7c15ULL;  // a fixed xorshift seed: the same corpus every run
    const auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    std::string key;
    for (std::size_t i = 0; i < count; ++i) {
        const auto len = 8 + next() % 57;  // 8..64 bytes
        key.assign("user:");
        while (key.size() < len)
            key += alphabet[next() % alphabet.size()];
        key.resize(len);
        c.offsets.push_back(c.bytes.size());
        c.bytes += resp == 3 ? ">4\r\n" : "*4\r\n";
        append_bulk(c.bytes, "pmessage");
        append_bulk(c.bytes, pattern);
        append_bulk(c.bytes, "__keyspace@0__:" + key);
        append_bulk(c.bytes, events[next() % std::size(events)]);
    }
    c.offsets.push_back(c.bytes.size());
    return c;
}

// --- the replay peer ------------------------------------------------------------------

/// A one-connection Redis impostor on 127.0.0.1: answers HELLO, INFO, CONFIG GET,
/// CLIENT SETNAME, PING and (P)SUBSCRIBE, then on blast() sends `total` frames of the
/// corpus (cycling) as fast as the socket takes them. Bounded: gives up after 60 s.
class replay_peer {
  public:
    replay_peer(int resp, corpus c) : resp_(resp), corpus_(std::move(c)) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::listen(listen_fd_, 4) != 0) {
            throw std::runtime_error("replay_peer: cannot listen on 127.0.0.1");
        }
        socklen_t len = sizeof a;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~replay_peer() {
        stop_ = true;
        go_cv_.notify_all();
        thread_.join();
        ::close(listen_fd_);
    }
    replay_peer(const replay_peer&) = delete;
    replay_peer& operator=(const replay_peer&) = delete;

    std::uint16_t port() const noexcept { return port_; }
    /// Starts sending `total` frames: as fast as the socket takes them, or with `rate`
    /// (frames per second) in bursts of 50 frames.
    void blast(std::uint64_t total, std::uint64_t rate = 0) {
        {
            std::lock_guard lock(go_m_);
            total_ = total;
            rate_ = rate;
        }
        go_cv_.notify_all();
    }
    bool finished() const noexcept { return finished_.load(); }

  private:
    void run() {
        const auto deadline = clock::now() + 60s;
        int fd = -1;
        while (fd < 0 && !stop_ && clock::now() < deadline) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) fd = ::accept(listen_fd_, nullptr, nullptr);
        }
        if (fd < 0) return;
        // Answer commands until blast() is called.
        std::string in;
        ksn::protocol::value_reader reader;
        while (!stop_ && clock::now() < deadline) {
            {
                std::lock_guard lock(go_m_);
                if (total_ > 0) break;
            }
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 5) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            in.append(buf, static_cast<std::size_t>(n));
            std::size_t used = 0;
            for (int i = 0; i < 64 && used < in.size(); ++i) {
                ksn::protocol::value v;
                const auto r = reader.read(std::string_view(in).substr(used), v);
                used += r.consumed;
                if (r.status != ksn::protocol::parse_status::complete) break;
                const std::string out = answer(v);
                if (::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) break;
            }
            in.erase(0, used);
        }
        {
            std::unique_lock lock(go_m_);
            go_cv_.wait_until(lock, std::chrono::steady_clock::now() + 30s,
                              [this] { return total_ > 0 || stop_; });
        }
        // Blast: the corpus over and over, whole or in paced bursts.
        const std::uint64_t per = corpus_.frames();
        const std::uint64_t burst = rate_ > 0 ? 50 : per;
        const auto start = clock::now();
        std::uint64_t sent = 0;
        while (!stop_ && sent < total_ && clock::now() < deadline) {
            const auto pos = sent % per;
            const auto frames = std::min({burst, per - pos, total_ - sent});
            const auto begin = corpus_.offsets[pos];
            const auto end = corpus_.offsets[pos + frames];
            if (!send_all(fd, std::string_view(corpus_.bytes).substr(begin, end - begin),
                          deadline)) {
                break;
            }
            sent += frames;
            if (rate_ > 0) {
                std::this_thread::sleep_until(
                    start + std::chrono::nanoseconds(
                                static_cast<std::int64_t>(sent * 1'000'000'000 / rate_)));
            }
        }
        finished_ = true;
        // Keep the connection open (and drain what ksn sends) until the benchmark is done.
        while (!stop_ && clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 20) > 0) {
                char buf[4096];
                if (::recv(fd, buf, sizeof buf, 0) <= 0) break;
            }
        }
        ::close(fd);
    }

    static bool send_all(int fd, std::string_view bytes, clock::time_point deadline) {
        while (!bytes.empty() && clock::now() < deadline) {
            const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return bytes.empty();
    }

    // What a Redis 7 server would answer, as far as ksn asks.
    std::string answer(const ksn::protocol::value& cmd) const {
        std::vector<std::string> args;
        for (const auto& e : cmd.elements)
            args.push_back(e.data);
        std::string name = args.empty() ? std::string() : args[0];
        for (auto& ch : name)
            ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        std::string out;
        if (name == "HELLO") {
            out =
                "%3\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.0.0\r\n"
                "$5\r\nproto\r\n:3\r\n";
        } else if (name == "INFO") {
            append_bulk(out,
                        "# Server\r\nredis_version:7.0.0\r\nrun_id:"
                        "0123456789abcdef0123456789abcdef01234567\r\n");
        } else if (name == "CONFIG") {
            out = resp_ == 3 ? "%1\r\n" : "*2\r\n";
            append_bulk(out, "notify-keyspace-events");
            append_bulk(out, "AKE");
        } else if (name == "PING") {
            out = "+PONG\r\n";
        } else if (name == "PSUBSCRIBE" || name == "SUBSCRIBE") {
            for (std::size_t i = 1; i < args.size(); ++i) {
                out += resp_ == 3 ? ">3\r\n" : "*3\r\n";
                append_bulk(out, name == "PSUBSCRIBE" ? "psubscribe" : "subscribe");
                append_bulk(out, args[i]);
                out += ":" + std::to_string(i) + "\r\n";
            }
        } else if (name == "CLIENT") {
            out = "+OK\r\n";
        } else {
            out = "-ERR unknown command\r\n";
        }
        return out;
    }

    int resp_;
    corpus corpus_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> finished_{false};
    std::mutex go_m_;
    std::condition_variable go_cv_;
    std::uint64_t total_ = 0;
    std::uint64_t rate_ = 0;
};

// --- measuring ------------------------------------------------------------------------

/// The thread ids of this process (Linux: /proc/self/task).
std::set<pid_t> threads() {
    std::set<pid_t> out;
    if (DIR* d = ::opendir("/proc/self/task")) {
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') out.insert(static_cast<pid_t>(std::atoi(e->d_name)));
        }
        ::closedir(d);
    }
    return out;
}

/// CPU time of thread `tid` of this process, in ns. The clock id is the one glibc's
/// pthread_getcpuclockid() builds (Linux ABI: ~tid << 3 | CPUCLOCK_PERTHREAD | SCHED);
/// here we know the thread by its tid, not by a pthread_t.
std::int64_t thread_cpu_ns(pid_t tid) {
    const auto id = static_cast<clockid_t>((~static_cast<unsigned>(tid) << 3) | 4u | 2u);
    timespec ts{};
    if (::clock_gettime(id, &ts) != 0) return 0;
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t own_cpu_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// What the receiving thread records at the start and at the end of the steady state.
struct snapshot {
    clock::time_point wall{};
    std::uint64_t allocations = 0;
    std::vector<std::int64_t> ksn_threads_cpu;  // per candidate thread; reserved up front
    std::int64_t own_cpu = 0;
    std::uint64_t delivered = 0;

    void take(const std::vector<pid_t>& candidates, std::uint64_t count) {
        wall = clock::now();
        allocations = ksn::bench::allocations();
        for (std::size_t i = 0; i < candidates.size(); ++i)
            ksn_threads_cpu[i] = thread_cpu_ns(candidates[i]);
        own_cpu = own_cpu_ns();
        delivered = count;
    }
};

void report(benchmark::State& st, const snapshot& a, const snapshot& b, std::int64_t consumer_cpu) {
    const double n = static_cast<double>(b.delivered - a.delivered);
    // The I/O thread is the new thread that worked; the others (Asio's resolver) idle.
    std::int64_t io_cpu = 0;
    for (std::size_t i = 0; i < a.ksn_threads_cpu.size(); ++i)
        io_cpu = std::max(io_cpu, b.ksn_threads_cpu[i] - a.ksn_threads_cpu[i]);
    const double secs = std::chrono::duration<double>(b.wall - a.wall).count();
    st.SetIterationTime(secs);
    st.counters["notifications_per_s"] = n / secs;
    st.counters["io_cpu_ns"] = static_cast<double>(io_cpu) / n;
    st.counters["allocs"] = static_cast<double>(b.allocations - a.allocations) / n;
    if (consumer_cpu >= 0) st.counters["consumer_cpu_ns"] = static_cast<double>(consumer_cpu) / n;
}

ksn::notifier_options options_for(int resp, std::uint16_t port, ksn::dispatch_mode mode) {
    ksn::notifier_options o;
    o.connection.address.port = port;
    o.connection.resp = resp == 3 ? ksn::net::resp_version::resp3 : ksn::net::resp_version::resp2;
    o.connection.health_check_interval = 0ms;  // the peer is busy blasting
    o.dispatch = mode;
    return o;
}

/// The measuring side of a run: ksn's threads and the steady state's two snapshots.
struct probe {
    std::vector<pid_t> candidates;
    snapshot start, end;

    /// After subscribing: the threads that appeared since `before` are ksn's I/O thread
    /// (and Asio's idle resolver thread).
    void arm(const std::set<pid_t>& before) {
        for (const pid_t t : threads())
            if (!before.contains(t)) candidates.push_back(t);
        start.ksn_threads_cpu.resize(candidates.size());
        end.ksn_threads_cpu.resize(candidates.size());
    }
};

/// A run's arguments (resp, rate) and frame counts (all, and the warm-up's).
struct run_args {
    explicit run_args(const benchmark::State& st)
        : resp(static_cast<int>(st.range(0))), rate(static_cast<std::uint64_t>(st.range(1))) {}
    int resp;
    std::uint64_t rate;
    std::uint64_t total = frames_per_run();
    std::uint64_t warm = total / 5;
};

void Handler(benchmark::State& st) {
    const run_args a(st);
    replay_peer peer(a.resp, make_corpus(a.resp, 4096));
    const auto before = threads();
    ksn::keyspace_notifications n(options_for(a.resp, peer.port(), ksn::dispatch_mode::io_thread));

    probe pr;
    std::atomic<bool> armed{false};  // pr is armed (read on the I/O thread)
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    n.subscribe_keyspace("*", 0, [&](const ksn::received_notification& x) {
        bytes += x.key().size();  // touch what a user would
        ++count;
        if (count == a.warm && armed.load(std::memory_order_acquire))
            pr.start.take(pr.candidates, count);
        if (count == a.total) {
            pr.end.take(pr.candidates, count);
            std::lock_guard lock(m);
            done = true;
            cv.notify_all();
        }
    });
    pr.arm(before);
    armed.store(true, std::memory_order_release);
    for (auto _ : st) {
        peer.blast(a.total, a.rate);
        std::unique_lock lock(m);
        cv.wait_for(lock, 60s, [&] { return done; });
    }
    n.close();
    if (!done) {
        st.SkipWithError("not every frame was delivered within 60 s");
        return;
    }
    report(st, pr.start, pr.end, -1);
    benchmark::DoNotOptimize(bytes);
}
// rate 0: as fast as the socket takes them; 1000000: a paced 1 M/s, below saturation.
void runs(benchmark::internal::Benchmark* b) {
    b->Args({2, 0})
        ->Args({3, 0})
        ->Args({3, 1'000'000})
        ->ArgNames({"resp", "rate"})
        ->Iterations(1)
        ->UseManualTime();
}
BENCHMARK(Handler)->Apply(runs);

void Pull(benchmark::State& st) {
    const run_args a(st);
    replay_peer peer(a.resp, make_corpus(a.resp, 4096));
    const auto before = threads();
    ksn::keyspace_notifications n(options_for(a.resp, peer.port(), ksn::dispatch_mode::queued));
    n.subscribe_keyspace("*", 0);
    probe pr;
    pr.arm(before);
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    clock::time_point last{};
    for (auto _ : st) {
        peer.blast(a.total, a.rate);
        ksn::delivery d;
        const auto deadline = clock::now() + 60s;
        // Until every frame came, or the peer is done and nothing came for 100 ms (drops);
        // the steady state ends at the last notification.
        while (count < a.total && clock::now() < deadline) {
            if (!n.next(d, 100ms)) {
                if (peer.finished()) break;
                continue;
            }
            if (!d.is_notification()) continue;
            bytes += d.notification().key().size();
            ++count;
            if (count == a.warm) pr.start.take(pr.candidates, count);
            if (count % 256 == 0 || count == a.total) last = clock::now();  // cheaper than per item
        }
        pr.end.take(pr.candidates, count);
        pr.end.wall = last;
    }
    const auto stats = n.stats();
    n.close();
    if (count <= a.warm) {
        st.SkipWithError("too few frames were delivered");
        return;
    }
    report(st, pr.start, pr.end, pr.end.own_cpu - pr.start.own_cpu);
    st.counters["dropped"] = static_cast<double>(stats.queue_dropped);
    // Slots used for the first time grow their string buffers (the only allocations of
    // the pull path): they stop once the queue's depth stops reaching new highs.
    st.counters["queue_high_water"] = static_cast<double>(stats.queue_high_water);
    benchmark::DoNotOptimize(bytes);
}
BENCHMARK(Pull)->Apply(runs);

void Caller(benchmark::State& st, bool with_handler) {
    const run_args a(st);
    replay_peer peer(a.resp, make_corpus(a.resp, 4096));
    const auto before = threads();
    ksn::keyspace_notifications n(options_for(a.resp, peer.port(), ksn::dispatch_mode::caller));
    probe pr;
    std::uint64_t count = 0;
    std::uint64_t bytes = 0;
    clock::time_point last{};
    const auto counted = [&](std::string_view key) {
        bytes += key.size();  // touch what a user would
        ++count;
        if (count == a.warm) pr.start.take(pr.candidates, count);
        if (count % 256 == 0 || count == a.total) last = clock::now();  // cheaper than per item
    };
    if (with_handler) {
        n.subscribe_keyspace("*", 0,
                             [&](const ksn::received_notification& x) { counted(x.key()); });
    } else {
        n.subscribe_keyspace("*", 0);
    }
    pr.arm(before);  // no thread of ksn's: the candidates stay empty
    for (auto _ : st) {
        peer.blast(a.total, a.rate);
        ksn::delivery d;
        const auto deadline = clock::now() + 60s;
        while (count < a.total && clock::now() < deadline) {
            if (!n.next(d, 100ms)) {
                if (peer.finished()) break;
                continue;
            }
            if (d.is_notification()) counted(d.notification().key());
        }
        pr.end.take(pr.candidates, count);
        pr.end.wall = last;
    }
    const auto threads_of_ksn = pr.candidates.size();
    n.close();
    if (count <= a.warm) {
        st.SkipWithError("too few frames were delivered");
        return;
    }
    report(st, pr.start, pr.end, pr.end.own_cpu - pr.start.own_cpu);
    st.counters["ksn_threads"] = static_cast<double>(threads_of_ksn);
    benchmark::DoNotOptimize(bytes);
}
BENCHMARK_CAPTURE(Caller, Handler, true)->Apply(runs);
BENCHMARK_CAPTURE(Caller, Pull, false)->Apply(runs);

/// Resident set size of this process, in bytes.
std::uint64_t resident_bytes() {
    std::FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    unsigned long long size = 0, resident = 0;
    const int n = std::fscanf(f, "%llu %llu", &size, &resident);
    std::fclose(f);
    return n == 2 ? resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

void Memory(benchmark::State& st, bool fill) {
    constexpr std::uint64_t frames = 65'536;
    replay_peer peer(3, make_corpus(3, 4096));
    const std::uint64_t before = resident_bytes();
    std::uint64_t after = 0;
    std::uint64_t queued = 0;
    for (auto _ : st) {
        ksn::notifier_options o = options_for(3, peer.port(), ksn::dispatch_mode::queued);
        o.connection.health_check_interval =
            ksn::notifier_options{}.connection.health_check_interval;
        ksn::keyspace_notifications n(o);
        n.subscribe_keyspace("*", 0);
        if (fill) {
            peer.blast(frames);
            // Bounded: until the queue holds every frame, or 30 s.
            const auto until = clock::now() + 30s;
            while (n.stats().queue_depth < frames && clock::now() < until)
                std::this_thread::sleep_for(10ms);
        }
        after = resident_bytes();
        queued = n.stats().queue_depth;
        n.close();
    }
    if (fill && queued < frames) {
        st.SkipWithError("the queue did not fill within 30 s");
        return;
    }
    st.counters["rss_mb_above"] = (static_cast<double>(after) - static_cast<double>(before)) / 1e6;
    st.counters["queued"] = static_cast<double>(queued);
}
BENCHMARK_CAPTURE(Memory, notifier, false)->Iterations(1);
BENCHMARK_CAPTURE(Memory, full_queue, true)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
