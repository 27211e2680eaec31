#include "tests/support/redis_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "protocol/encoder.hpp"
#include "tests/support/timing.hpp"

namespace ksn::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string redis_server_path() {
    if (const char* env = std::getenv("KSN_REDIS_SERVER")) return env;
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/usr/local/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const auto candidate = fs::path(dir) / "redis-server";
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    for (const char* c : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
        if (::access(c, X_OK) == 0) return c;
    }
    throw std::runtime_error(
        "redis-server not found (PATH or KSN_REDIS_SERVER): install Debian's redis-server "
        "package (./dev.sh deps does)");
}

namespace {

bool port_free(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

int connect_loopback(std::uint16_t port, std::chrono::milliseconds timeout) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0)
            throw std::runtime_error(std::string("test client: send: ") + std::strerror(errno));
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

namespace {

// The first port of the kernel's ephemeral range (net.ipv4.ip_local_port_range), from
// which every outgoing connection of every process takes its local port: a port found
// free there can be taken by a client's connect() before the server binds it (CI saw
// "bind: Address already in use" on 37250). 32768, Linux's default, when it cannot be read
// or leaves too little below it.
std::uint16_t ephemeral_start() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned low = 0;
    if (!(in >> low) || low < 25000 || low > 65535) return 32768;
    return static_cast<std::uint16_t>(low);
}

// The next port of a cursor cycling through [from, to), spread by the process id so that
// parallel test programs rarely probe the same ports.
std::uint16_t next_of(std::uint16_t& cursor, std::uint16_t from, std::uint16_t to) {
    if (cursor < from || cursor >= to) {
        cursor = static_cast<std::uint16_t>(from + (::getpid() * 97) % (to - from));
    }
    const std::uint16_t p = cursor;
    cursor = static_cast<std::uint16_t>(cursor + 1 >= to ? from : cursor + 1);
    return p;
}

}  // namespace

std::uint16_t free_port(bool with_bus) {
    // Below the ephemeral range, so that no connection's local port takes it: plain ports
    // in [10000, 20000); a cluster node's port in [10000, start - 10000), with its bus
    // port (port + 10000) in [20000, start).
    static const std::uint16_t start = ephemeral_start();
    static std::uint16_t plain = 0;
    static std::uint16_t bus = 0;
    for (int i = 0; i < 2000; ++i) {
        const std::uint16_t p = with_bus
                                    ? next_of(bus, 10000, static_cast<std::uint16_t>(start - 10000))
                                    : next_of(plain, 10000, 20000);
        if (port_free(p) && (!with_bus || port_free(static_cast<std::uint16_t>(p + 10000))))
            return p;
    }
    throw std::runtime_error("no free loopback port found");
}

// --- client -----------------------------------------------------------------------------

client::client(std::uint16_t port, std::chrono::milliseconds timeout) {
    fd_ = connect_loopback(port, scaled(timeout));
    if (fd_ < 0) {
        throw std::runtime_error("test client: cannot connect to 127.0.0.1:" +
                                 std::to_string(port));
    }
}

client::~client() {
    if (fd_ >= 0) ::close(fd_);
}

protocol::value client::read_one() {
    char buf[65536];
    for (;;) {
        if (!buffer_.empty()) {
            protocol::value v;
            const auto r = reader_.read(buffer_, v);
            buffer_.erase(0, r.consumed);
            if (r.status == protocol::parse_status::complete) return v;
            if (r.status == protocol::parse_status::error) {
                throw std::runtime_error("test client: bad reply: " + reader_.error().message());
            }
        }
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) throw std::runtime_error("test client: connection closed or timed out");
        buffer_.append(buf, static_cast<std::size_t>(n));
    }
}

protocol::value client::command(std::initializer_list<std::string_view> args) {
    std::string out;
    protocol::append_command(out, args);
    write_all(fd_, out);
    return read_one();
}

protocol::value client::command(const std::vector<std::string>& args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string out;
    protocol::append_command(out, views);
    write_all(fd_, out);
    return read_one();
}

std::vector<protocol::value> client::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
    std::string out;
    for (const auto& c : commands) {
        std::vector<std::string_view> views(c.begin(), c.end());
        protocol::append_command(out, views);
    }
    write_all(fd_, out);
    std::vector<protocol::value> replies;
    replies.reserve(commands.size());
    for (std::size_t i = 0; i < commands.size(); ++i)
        replies.push_back(read_one());
    return replies;
}

// --- redis_server -----------------------------------------------------------------------

redis_server::redis_server(options opts) : opts_(std::move(opts)) {
    port_ = opts_.port ? opts_.port : free_port(opts_.cluster);
    char tmpl[] = "/tmp/ksn-redis-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    // A port found free can still be taken before the server binds it (by another test
    // program's server): then another port, a few times.
    for (int attempt = 1;; ++attempt) {
        try {
            start();
            return;
        } catch (const std::runtime_error&) {
            if (opts_.port != 0 || attempt == 5 ||
                log().find("Address already in use") == std::string::npos) {
                throw;
            }
            port_ = free_port(opts_.cluster);
            std::error_code ec;
            fs::remove(dir_ + "/redis.conf", ec);  // written again with the new port
            fs::remove(dir_ + "/redis.log", ec);
        }
    }
}

redis_server::~redis_server() {
    try {
        if (pid_ > 0) {
            ::kill(pid_, SIGCONT);
            stop();
        }
    } catch (...) {}
    std::error_code ec;
    fs::remove_all(dir_, ec);
}

void redis_server::write_config() const {
    std::ofstream conf(dir_ + "/redis.conf");
    conf << "port " << port_ << "\n"
         << "bind 127.0.0.1\n"
         << "protected-mode no\n"
         << "daemonize no\n"
         << "dir " << dir_ << "\n"
         << "logfile " << dir_ << "/redis.log\n";
    // A sentinel keeps no data set and publishes no keyspace events.
    if (!opts_.sentinel) {
        conf << "save \"\"\n"
             << "appendonly no\n"
             << "dbfilename dump.rdb\n";
        if (!opts_.notify.empty()) conf << "notify-keyspace-events " << opts_.notify << "\n";
    }
    if (opts_.unix_socket) conf << "unixsocket " << socket_path() << "\nunixsocketperm 700\n";
    if (opts_.cluster) {
        // A short node timeout keeps the failover tests fast (a dead primary is failed
        // over about two timeouts later). Under a sanitizer the tests' own processes take
        // more CPU from the nodes, so the timeout grows with the time scale: a starved
        // node must not be declared failed by mistake. The full sync of a new replica
        // starts at once (the default waits 5 s for more replicas to share it).
        conf << "cluster-enabled yes\n"
             << "cluster-config-file " << dir_ << "/nodes.conf\n"
             << "cluster-node-timeout " << 1000 * time_scale() << "\n"
             << "repl-diskless-sync-delay 0\n";
    }
    for (const auto& line : opts_.config)
        conf << line << "\n";
    if (opts_.port_config) {
        for (const auto& line : opts_.port_config(port_))
            conf << line << "\n";
    }
}

void redis_server::start() {
    if (pid_ > 0) return;
    const std::string bin = redis_server_path();
    const std::string conf = dir_ + "/redis.conf";
    // A sentinel's state lives in its config file (it rewrites it): a restart keeps it.
    if (!opts_.sentinel || !fs::exists(conf)) write_config();
    const char* mode = opts_.sentinel ? "--sentinel" : nullptr;
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        // The server must not outlive a crashed test.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        const int devnull = ::open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            ::dup2(devnull, STDIN_FILENO);
            ::dup2(devnull, STDOUT_FILENO);
        }
        ::execl(bin.c_str(), bin.c_str(), conf.c_str(), mode, static_cast<char*>(nullptr));
        ::_exit(127);
    }
    pid_ = pid;
    paused_ = false;
    wait_ready();
}

void redis_server::wait_ready() {
    const auto limit = scaled(10s);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            throw std::runtime_error("redis-server exited at start; log:\n" + log());
        }
        const int fd = connect_loopback(port_, 500ms);
        if (fd >= 0) {
            ::close(fd);
            try {
                const auto v = command({"PING"});
                // LOADING or NOAUTH still mean the server is up.
                if (v.data == "PONG" || v.is_error()) return;
            } catch (...) {}
        }
        std::this_thread::sleep_for(20ms);
    }
    throw std::runtime_error("redis-server on port " + std::to_string(port_) +
                             " did not answer within " + std::to_string(limit.count()) +
                             " s; log:\n" + log());
}

void redis_server::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + scaled(5s);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            paused_ = false;
            return;
        }
        std::this_thread::sleep_for(10ms);
    }
    kill9();
}

void redis_server::kill9() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    paused_ = false;
}

void redis_server::pause() {
    if (pid_ > 0 && ::kill(pid_, SIGSTOP) == 0) paused_ = true;
}

void redis_server::resume() {
    if (pid_ > 0 && ::kill(pid_, SIGCONT) == 0) paused_ = false;
}

protocol::value redis_server::command(std::initializer_list<std::string_view> args) {
    client c(port_);
    if (!auth_.empty()) {
        std::vector<std::string> a{"AUTH"};
        a.insert(a.end(), auth_.begin(), auth_.end());
        c.command(a);
    }
    return c.command(args);
}

std::string redis_server::log() const {
    std::ifstream in(dir_ + "/redis.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// --- fake_peer --------------------------------------------------------------------------

fake_peer::fake_peer(script s) : script_(std::move(s)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = 0;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0) {
        throw std::runtime_error("fake_peer: cannot listen");
    }
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
}

fake_peer::~fake_peer() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    ::close(listen_fd_);
}

void fake_peer::run() {
    // One connection at a time: each is served until the client closes it or the script
    // answers "\x04" (close), bounded by 10 s.
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        const int fd = ::accept(listen_fd_, nullptr, nullptr);
        if (fd < 0) continue;
        const int index = connections_++;
        std::string received;
        std::size_t sent = 0;
        const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
        bool open = true;
        while (open && !stop_ && std::chrono::steady_clock::now() < deadline) {
            const std::string out = script_(received, index);
            if (out == "\x04") break;
            if (out.size() > sent) {
                if (::send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL) < 0) break;
                sent = out.size();
            }
            pollfd q{fd, POLLIN, 0};
            if (::poll(&q, 1, 20) > 0) {
                char buf[4096];
                const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n <= 0)
                    open = false;
                else
                    received.append(buf, static_cast<std::size_t>(n));
            }
        }
        ::close(fd);
    }
}

bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds limit,
                std::chrono::milliseconds every) {
    const auto deadline = std::chrono::steady_clock::now() + scaled(limit);
    while (std::chrono::steady_clock::now() < deadline) {
        if (cond()) return true;
        std::this_thread::sleep_for(every);
    }
    return cond();
}

}  // namespace ksn::test
