#include "tests/support/redis_cluster.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cluster/slot.hpp"

namespace ksn::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string redis_cli_path() {
    const fs::path server = redis_server_path();
    const auto beside = server.parent_path() / "redis-cli";
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
    if (::access("/usr/bin/redis-cli", X_OK) == 0) return "/usr/bin/redis-cli";
    throw std::runtime_error("redis-cli not found: install Debian's redis-tools package");
}

spawned spawn_reading(const std::vector<std::string>& argv, bool with_stderr,
                      bool die_with_parent) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
    // argv is built before fork: the child only calls async-signal-safe functions.
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        if (die_with_parent) ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        ::dup2(pipefd[1], STDOUT_FILENO);
        if (with_stderr) ::dup2(pipefd[1], STDERR_FILENO);
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        const int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    return {pid, pipefd[0]};
}

int run_command(const std::vector<std::string>& argv, std::string& output,
                std::chrono::seconds limit) {
    const auto [pid, out] = spawn_reading(argv, true);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    for (;;) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd p{out, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = ::read(out, buf, sizeof buf);
        if (n <= 0) break;
        output.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

redis_cluster::redis_cluster(int primaries, int replicas, std::vector<std::string> extra_config,
                             per_node_config per_node)
    : config_(std::move(extra_config)) {
    const int total = primaries * (1 + replicas);
    for (int i = 0; i < total; ++i) {
        server_options o;
        o.cluster = true;
        o.config = config_;
        if (per_node) {
            o.port_config = [per_node, i](std::uint16_t port) {
                return per_node(static_cast<std::size_t>(i), port);
            };
        }
        nodes_.push_back(std::make_unique<redis_server>(o));
    }
    std::vector<std::string> argv{redis_cli_path(), "--cluster", "create"};
    for (const auto& n : nodes_)
        argv.push_back(n->address());
    argv.insert(argv.end(), {"--cluster-replicas", std::to_string(replicas), "--cluster-yes"});
    std::string out;
    const int status = run_command(argv, out);
    if (status != 0) throw std::runtime_error("redis-cli --cluster create failed:\n" + out);
    wait_stable(30s, replicas);
}

redis_cluster::~redis_cluster() = default;

redis_server& redis_cluster::node(std::uint16_t port) {
    for (auto& n : nodes_) {
        if (n->port() == port) return *n;
    }
    throw std::runtime_error("no cluster node on port " + std::to_string(port));
}

std::vector<net::endpoint> redis_cluster::seeds() const {
    std::vector<net::endpoint> out;
    for (const auto& n : nodes_)
        out.push_back({"127.0.0.1", n->port()});
    return out;
}

cluster::topology redis_cluster::topology() {
    for (auto& n : nodes_) {
        if (!n->running()) continue;
        try {
            const auto v = n->command({"CLUSTER", "SLOTS"});
            std::string error;
            if (auto t = cluster::parse_cluster_slots(v, {"127.0.0.1", n->port()}, error))
                return *t;
        } catch (...) {}
    }
    throw std::runtime_error("no live cluster node answered CLUSTER SLOTS");
}

void redis_cluster::wait_stable(std::chrono::seconds limit, int replicas) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::string last;
    while (std::chrono::steady_clock::now() < deadline) {
        bool ok = true;
        std::uint64_t signature = 0;
        bool first = true;
        for (auto& n : nodes_) {
            if (!n->running()) continue;
            try {
                const auto info = n->command({"CLUSTER", "INFO"});
                if (info.data.find("cluster_state:ok") == std::string::npos) {
                    ok = false;
                    last = n->address() + " not ok";
                    break;
                }
                std::string error;
                const auto t = cluster::parse_cluster_slots(n->command({"CLUSTER", "SLOTS"}),
                                                            {"127.0.0.1", n->port()}, error);
                if (!t || !t->complete()) {
                    ok = false;
                    last = n->address() + " slots incomplete";
                    break;
                }
                if (replicas >= 0) {
                    for (const auto& s : t->shards()) {
                        if (static_cast<int>(s.replicas.size()) != replicas) {
                            ok = false;
                            last = n->address() + " sees a primary without its replicas";
                        }
                    }
                }
                if (!first && t->signature() != signature) {
                    ok = false;
                    last = "nodes disagree on the topology";
                }
                signature = t->signature();
                first = false;
            } catch (const std::exception& e) {
                ok = false;
                last = e.what();
                break;
            }
            if (!ok) break;
        }
        if (ok && !first) return;
        std::this_thread::sleep_for(100ms);
    }
    throw std::runtime_error("cluster not stable in time: " + last);
}

std::uint16_t redis_cluster::owner_port(std::string_view key) {
    const auto t = topology();
    const auto* s = t.owner(cluster::key_slot(key));
    if (!s) throw std::runtime_error("slot not served");
    return s->primary.address.port;
}

redis_server& redis_cluster::add_node() {
    server_options o;
    o.cluster = true;
    o.config = config_;
    nodes_.push_back(std::make_unique<redis_server>(o));
    auto& added = *nodes_.back();
    std::string out;
    if (run_command(
            {redis_cli_path(), "--cluster", "add-node", added.address(), nodes_.front()->address()},
            out) != 0) {
        throw std::runtime_error("redis-cli --cluster add-node failed:\n" + out);
    }
    // Until every node agrees on the configuration, redis-cli refuses to reshard.
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    const std::string needle = ":" + std::to_string(added.port()) + "@";
    while (std::chrono::steady_clock::now() < deadline) {
        bool known = true;
        for (auto& n : nodes_) {
            if (n->running() &&
                n->command({"CLUSTER", "NODES"}).data.find(needle) == std::string::npos) {
                known = false;
            }
        }
        out.clear();
        if (known &&
            run_command({redis_cli_path(), "--cluster", "check", nodes_.front()->address()}, out) ==
                0 &&
            out.find("[ERR]") == std::string::npos) {
            return added;
        }
        std::this_thread::sleep_for(200ms);
    }
    throw std::runtime_error("cluster did not agree on the new node in time:\n" + out);
}

std::string cluster_node_id(redis_server& node) {
    return node.command({"CLUSTER", "MYID"}).data;
}

void redis_cluster::reshard(redis_server& from, redis_server& to, int slots) {
    std::string out;
    const int status =
        run_command({redis_cli_path(), "--cluster", "reshard", from.address(), "--cluster-from",
                     cluster_node_id(from), "--cluster-to", cluster_node_id(to), "--cluster-slots",
                     std::to_string(slots), "--cluster-yes"},
                    out);
    if (status != 0) {
        throw std::runtime_error("redis-cli --cluster reshard " + from.address() + " -> " +
                                 to.address() + " failed (" + std::to_string(status) + "): " + out);
    }
}

// --- cluster_writer -------------------------------------------------------------------------

void cluster_writer::refresh() {
    const auto t = cluster_.topology();
    slot_port_.assign(cluster::slot_count, 0);
    for (std::uint32_t s = 0; s < cluster::slot_count; ++s) {
        if (const auto* o = t.owner(static_cast<std::uint16_t>(s))) {
            slot_port_[s] = o->primary.address.port;
        }
    }
}

client& cluster_writer::to(std::uint16_t port) {
    auto& c = clients_[port];
    if (!c) c = std::make_unique<client>(port);
    return *c;
}

std::uint16_t cluster_writer::command(const std::vector<std::string>& args, std::size_t key_index) {
    std::uint16_t port = slot_port_.at(cluster::key_slot(args.at(key_index)));
    bool asking = false;
    for (int attempt = 0; attempt < 200; ++attempt) {
        protocol::value v;
        try {
            client& c = to(port);
            if (asking) c.command({"ASKING"});
            v = c.command(args);
        } catch (const std::exception&) {
            // The node died: forget the connection, ask the cluster again.
            clients_.erase(port);
            std::this_thread::sleep_for(50ms);
            try {
                refresh();
            } catch (...) {}
            port = slot_port_.at(cluster::key_slot(args.at(key_index)));
            continue;
        }
        asking = false;
        if (!v.is_error()) return port;
        const std::string& e = v.data;
        if (e.rfind("MOVED ", 0) == 0 || e.rfind("ASK ", 0) == 0) {
            const auto colon = e.rfind(':');
            port = static_cast<std::uint16_t>(std::stoi(e.substr(colon + 1)));
            if (e[0] == 'A') {
                asking = true;
            } else {
                refresh();
            }
            continue;
        }
        if (e.rfind("CLUSTERDOWN", 0) == 0 || e.rfind("TRYAGAIN", 0) == 0 ||
            e.rfind("LOADING", 0) == 0) {
            std::this_thread::sleep_for(50ms);
            continue;
        }
        throw std::runtime_error("cluster write failed: " + e);
    }
    throw std::runtime_error("cluster write did not succeed after 200 attempts");
}

std::vector<std::uint16_t> cluster_writer::set_many(const std::vector<std::string>& keys) {
    std::map<std::uint16_t, std::vector<std::size_t>> by_port;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        by_port[slot_port_.at(cluster::key_slot(keys[i]))].push_back(i);
    }
    std::vector<std::uint16_t> ports(keys.size(), 0);
    for (const auto& [port, indexes] : by_port) {
        for (std::size_t from = 0; from < indexes.size(); from += 5000) {
            std::vector<std::vector<std::string>> batch;
            const std::size_t to = std::min(indexes.size(), from + 5000);
            for (std::size_t j = from; j < to; ++j)
                batch.push_back({"SET", keys[indexes[j]], "v"});
            const auto replies = this->to(port).pipeline(batch);
            for (std::size_t j = from; j < to; ++j) {
                // A reply other than OK (a slot that just moved) is retried one by one.
                ports[indexes[j]] = replies[j - from].is_error() ? set(keys[indexes[j]]) : port;
            }
        }
    }
    return ports;
}

}  // namespace ksn::test
