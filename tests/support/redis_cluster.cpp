#include "tests/support/redis_cluster.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "cluster/slot.hpp"
#include "tests/support/timing.hpp"

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
    const auto deadline = std::chrono::steady_clock::now() + scaled(limit);
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

namespace {

/// How often the cluster's waits ask every node again: each round opens a connection or
/// more per node, so not at wait_until()'s default 10 ms.
constexpr std::chrono::milliseconds poll{50};

/// The value of `name` in an INFO-style reply ("name:value" lines); empty when absent.
std::string info_field(const std::string& info, std::string_view name) {
    std::size_t at = 0;
    while (at < info.size()) {
        const auto eol = info.find('\n', at);
        const auto line =
            std::string_view(info).substr(at, eol == std::string::npos ? eol : eol - at);
        if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':') {
            auto value = line.substr(name.size() + 1);
            if (value.ends_with('\r')) value.remove_suffix(1);
            return std::string(value);
        }
        if (eol == std::string::npos) break;
        at = eol + 1;
    }
    return {};
}

/// One line of CLUSTER NODES: "<id> <ip:port@cport> <flags> <primary> ...".
struct nodes_line {
    std::string id, address, flags;
};

std::vector<nodes_line> cluster_nodes(redis_server& n) {
    std::vector<nodes_line> out;
    std::istringstream lines(n.command({"CLUSTER", "NODES"}).data);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        nodes_line l;
        if (fields >> l.id >> l.address >> l.flags) out.push_back(std::move(l));
    }
    return out;
}

/// True when `n` lists each of `ids` as a node it completed the handshake with.
bool knows_all(redis_server& n, const std::vector<std::string>& ids, std::string& why) {
    const auto lines = cluster_nodes(n);
    for (const auto& id : ids) {
        const auto it = std::find_if(lines.begin(), lines.end(),
                                     [&](const nodes_line& l) { return l.id == id; });
        if (it == lines.end()) {
            why = n.address() + " does not know node " + id;
            return false;
        }
        if (it->flags.find("handshake") != std::string::npos ||
            it->flags.find("noaddr") != std::string::npos) {
            why = n.address() + " sees " + it->address + " as " + it->flags;
            return false;
        }
    }
    return true;
}

/// The cluster bus port of `n` (cluster-port, or port + 10000 when that is 0).
std::uint16_t bus_port(redis_server& n) {
    const auto v = n.command({"CONFIG", "GET", "cluster-port"});
    int port = 0;
    if (v.elements.size() == 2) port = std::atoi(v.elements[1].data.c_str());
    return static_cast<std::uint16_t>(port > 0 ? port : n.port() + 10000);
}

/// Runs a command that must answer +OK; throws with the reply otherwise.
void expect_ok(redis_server& n, std::initializer_list<std::string_view> args) {
    const auto v = n.command(args);
    if (v.is_error() || v.data != "OK") {
        std::string line;
        for (const auto a : args)
            line += std::string(a) + " ";
        throw std::runtime_error(n.address() + ": " + line + "failed: " + v.data);
    }
}

/// The slots redis-cli's reshard output says it moved ("Moving slot N from ..."; the plan
/// and the moves both print it).
std::vector<std::uint16_t> moved_slots(const std::string& out) {
    std::vector<std::uint16_t> slots;
    constexpr std::string_view mark = "Moving slot ";
    for (auto at = out.find(mark); at != std::string::npos; at = out.find(mark, at + 1)) {
        const int slot = std::atoi(out.c_str() + at + mark.size());
        if (slot >= 0 && slot < 16384) slots.push_back(static_cast<std::uint16_t>(slot));
    }
    std::sort(slots.begin(), slots.end());
    slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
    return slots;
}

}  // namespace

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
    // What `redis-cli --cluster create` does, without its fixed one-second waits: each
    // node gets a config epoch of its own (no collisions to resolve later), each primary
    // its share of the slots, then one node meets all others and gossip spreads the rest.
    std::vector<std::string> ids;
    for (int i = 0; i < total; ++i) {
        auto& n = *nodes_[static_cast<std::size_t>(i)];
        ids.push_back(cluster_node_id(n));
        expect_ok(n, {"CLUSTER", "SET-CONFIG-EPOCH", std::to_string(i + 1)});
        if (i < primaries) {
            const auto first = static_cast<long>(cluster::slot_count) * i / primaries;
            const auto last = static_cast<long>(cluster::slot_count) * (i + 1) / primaries - 1;
            expect_ok(n, {"CLUSTER", "ADDSLOTSRANGE", std::to_string(first), std::to_string(last)});
        }
    }
    auto& first = *nodes_.front();
    for (std::size_t i = 1; i < nodes_.size(); ++i) {
        auto& n = *nodes_[i];
        expect_ok(first, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(n.port()),
                          std::to_string(bus_port(n))});
    }
    std::string why;
    const auto joined = [&] {
        for (auto& n : nodes_) {
            if (!knows_all(*n, ids, why)) return false;
        }
        return true;
    };
    if (!wait_until(joined, 30s, poll)) {
        throw std::runtime_error("cluster nodes did not meet: " + why);
    }

    // Replica r follows primary r % primaries; each knows its primary by now.
    for (int i = primaries; i < total; ++i) {
        expect_ok(*nodes_[static_cast<std::size_t>(i)],
                  {"CLUSTER", "REPLICATE", ids[static_cast<std::size_t>(i % primaries)]});
    }
    if (replicas > 0) {
        const auto linked = [&] {
            for (int i = primaries; i < total; ++i) {
                auto& n = *nodes_[static_cast<std::size_t>(i)];
                const auto info = n.command({"INFO", "replication"}).data;
                if (info_field(info, "master_link_status") != "up") {
                    why = n.address() +
                          ": master_link_status:" + info_field(info, "master_link_status");
                    return false;
                }
            }
            return true;
        };
        if (!wait_until(linked, 30s, poll)) {
            throw std::runtime_error("replicas did not sync: " + why);
        }
        // CLUSTER SLOTS lists a replica only once its replication offset is not 0
        // (isReplicaAvailable() in cluster.c), and a new primary's offset moves only with
        // its replication stream: without traffic, the first PING to replicas after
        // repl-ping-replica-period (10 s). FLUSHALL of the empty data set is propagated
        // always, so it moves every offset now, without a key or a keyspace event.
        for (int i = 0; i < primaries; ++i)
            expect_ok(*nodes_[static_cast<std::size_t>(i)], {"FLUSHALL"});
    }
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
        if (!n->running() || n->paused()) continue;  // a stalled node answers nothing
        try {
            const auto v = n->command({"CLUSTER", "SLOTS"});
            std::string error;
            if (auto t = cluster::parse_cluster_slots(v, {"127.0.0.1", n->port()}, error))
                return *t;
        } catch (...) {}
    }
    throw std::runtime_error("no live cluster node answered CLUSTER SLOTS");
}

std::string redis_cluster::unstable_reason(int replicas) {
    bool first = true;
    std::uint64_t signature = 0;
    for (auto& n : nodes_) {
        if (!n->running()) continue;
        try {
            client c(n->port());  // one connection for the node's questions
            const auto info = c.command({"CLUSTER", "INFO"}).data;
            if (info_field(info, "cluster_state") != "ok") {
                return n->address() + " says cluster_state:" + info_field(info, "cluster_state") +
                       " (slots ok " + info_field(info, "cluster_slots_ok") + ", pfail " +
                       info_field(info, "cluster_slots_pfail") + ", fail " +
                       info_field(info, "cluster_slots_fail") + ", known nodes " +
                       info_field(info, "cluster_known_nodes") + "); its CLUSTER NODES:\n" +
                       c.command({"CLUSTER", "NODES"}).data;
            }
            std::string error;
            const auto t = cluster::parse_cluster_slots(c.command({"CLUSTER", "SLOTS"}),
                                                        {"127.0.0.1", n->port()}, error);
            if (!t || !t->complete()) return n->address() + " does not serve every slot";
            if (replicas >= 0) {
                for (const auto& s : t->shards()) {
                    if (static_cast<int>(s.replicas.size()) != replicas) {
                        return n->address() + " sees " + s.primary.address.to_string() + " with " +
                               std::to_string(s.replicas.size()) + " replicas, not " +
                               std::to_string(replicas);
                    }
                }
            }
            if (!first && t->signature() != signature) {
                return n->address() + " disagrees with the nodes before it on the topology";
            }
            signature = t->signature();
            first = false;
            // A replica counts once it has its primary's data: a failover needs a replica
            // whose link was up (cluster-replica-validity-factor).
            const auto replication = c.command({"INFO", "replication"}).data;
            if (info_field(replication, "role") == "slave" &&
                info_field(replication, "master_link_status") != "up") {
                return n->address() + " is a replica whose link to " +
                       info_field(replication, "master_host") + ":" +
                       info_field(replication, "master_port") + " is " +
                       info_field(replication, "master_link_status");
            }
        } catch (const std::exception& e) {
            return n->address() + ": " + e.what();
        }
    }
    return first ? "no live node" : "";
}

void redis_cluster::wait_stable(std::chrono::seconds limit, int replicas) {
    std::string last;
    if (!wait_until(
            [&] {
                last = unstable_reason(replicas);
                return last.empty();
            },
            limit, poll)) {
        throw std::runtime_error("cluster not stable within " +
                                 std::to_string(scaled(limit).count()) + " s: " + last);
    }
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
    redis_server* met = nullptr;
    for (auto& n : nodes_) {
        if (n->running() && n.get() != &added) {
            met = n.get();
            break;
        }
    }
    if (met == nullptr) throw std::runtime_error("add_node: no live node to meet");
    expect_ok(*met, {"CLUSTER", "MEET", "127.0.0.1", std::to_string(added.port()),
                     std::to_string(bus_port(added))});
    // redis-cli refuses to reshard until every node knows every other and they agree on
    // the slots: wait for exactly that.
    std::string why;
    const auto joined = [&] {
        std::vector<std::string> ids;
        for (auto& n : nodes_) {
            if (n->running()) ids.push_back(cluster_node_id(*n));
        }
        for (auto& n : nodes_) {
            if (n->running() && !knows_all(*n, ids, why)) return false;
        }
        why = unstable_reason(-1);
        return why.empty();
    };
    if (!wait_until(joined, 30s, poll)) {
        throw std::runtime_error("cluster did not agree on the new node " + added.address() +
                                 " in time: " + why);
    }
    return added;
}

std::string cluster_node_id(redis_server& node) {
    return node.command({"CLUSTER", "MYID"}).data;
}

void redis_cluster::reshard(redis_server& from, redis_server& to, int slots) {
    const std::vector<std::string> argv{
        redis_cli_path(),  "--cluster",           "reshard",      from.address(),
        "--cluster-from",  cluster_node_id(from), "--cluster-to", cluster_node_id(to),
        "--cluster-slots", std::to_string(slots), "--cluster-yes"};
    // redis-cli checks the cluster before it moves a slot; when a node's view still lags
    // (a slot's new owner not yet gossiped) it refuses and nothing moved: ask again.
    const auto deadline = std::chrono::steady_clock::now() + scaled(30s);
    for (int attempt = 0;; ++attempt) {
        std::string out;
        const int status = run_command(argv, out);
        if (status == 0) {
            const auto slots = moved_slots(out);
            std::string why;
            if (wait_until([&] { return (why = misowned(slots, to, false)).empty(); }, 5s, poll))
                return;
            const auto repaired = misowned(slots, to, true);
            std::cerr << "redis_cluster: " << scaled(5s).count()
                      << " s after redis-cli --cluster reshard " << from.address() << " -> "
                      << to.address() << ":\n"
                      << why
                      << (repaired.empty() ? "and then it settled by itself\n"
                                           : "so:\n" + repaired);
            return;
        }
        const bool refused = out.find("Please fix your cluster problems") != std::string::npos;
        if (!refused || attempt >= 50 || std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("redis-cli --cluster reshard " + from.address() + " -> " +
                                     to.address() + " failed (" + std::to_string(status) +
                                     "): " + out);
        }
        wait_until([&] { return unstable_reason(-1).empty(); }, 10s, poll);
    }
}

std::string redis_cluster::misowned(const std::vector<std::uint16_t>& slots, redis_server& to,
                                    bool repair) {
    const auto id = cluster_node_id(to);
    std::string out;
    for (auto& n : nodes_) {
        if (!n->running() || n->paused()) continue;
        if (info_field(n->command({"INFO", "replication"}).data, "role") != "master") continue;
        std::string error;
        const auto t = cluster::parse_cluster_slots(n->command({"CLUSTER", "SLOTS"}),
                                                    {"127.0.0.1", n->port()}, error);
        if (!t) {
            out += n->address() + ": CLUSTER SLOTS unreadable: " + error + "\n";
            continue;
        }
        for (const auto slot : slots) {
            const auto* owner = t->owner(slot);
            if (owner != nullptr && owner->primary.address.port == to.port()) continue;
            out += n->address() + " sees slot " + std::to_string(slot) + " " +
                   (owner ? "owned by " + owner->primary.address.to_string() : "unassigned") +
                   (repair ? "; CLUSTER SETSLOT " + std::to_string(slot) + " NODE " + id : "") +
                   "\n";
            if (repair) expect_ok(*n, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", id});
        }
    }
    return out;
}

// --- cluster_writer -------------------------------------------------------------------------

void cluster_writer::refresh() {
    const auto t = cluster_.topology();
    if (router_) {
        router_->update(t);
    } else {
        router_.emplace(t);
    }
}

std::uint16_t cluster_writer::port_of(std::string_view key) const {
    const auto n = router_->node_of_key(key);
    if (n == cluster::router::no_node) {
        throw std::runtime_error("no primary serves the slot of the key");
    }
    return router_->node(n).port;
}

client& cluster_writer::to(std::uint16_t port) {
    auto& c = clients_[port];
    if (!c) c = std::make_unique<client>(port);
    return *c;
}

std::uint16_t cluster_writer::command(const std::vector<std::string>& args, std::size_t key_index) {
    const std::string& key = args.at(key_index);
    std::uint16_t port = port_of(key);
    bool asking = false;
    for (int attempt = 0; attempt < 200; ++attempt) {
        protocol::value v;
        try {
            client& c = to(port);
            if (asking) c.command({"ASKING"});
            v = c.command(args);
        } catch (const std::exception&) {
            // The node died: forget the connection, ask the cluster again (a poll interval
            // of a bounded retry loop, not a synchronisation).
            clients_.erase(port);
            std::this_thread::sleep_for(50ms);
            try {
                refresh();
                port = port_of(key);
            } catch (...) {}
            continue;
        }
        asking = false;
        if (!v.is_error()) return port;
        const std::string& e = v.data;
        switch (cluster::classify_error(e)) {
            case cluster::error_class::moved:
            case cluster::error_class::ask: {
                const auto r = cluster::parse_redirect(e);
                const net::endpoint answered{"127.0.0.1", port};
                port = router_->node(router_->follow(*r, answered)).port;
                asking = r->kind == cluster::redirect_kind::ask;
                continue;
            }
            case cluster::error_class::retry_later:
                std::this_thread::sleep_for(50ms);
                continue;
            case cluster::error_class::other:
                break;
        }
        throw std::runtime_error("cluster write failed: " + e);
    }
    throw std::runtime_error("cluster write did not succeed after 200 attempts");
}

std::vector<std::uint16_t> cluster_writer::set_many(const std::vector<std::string>& keys) {
    std::map<std::uint16_t, std::vector<std::size_t>> by_port;
    for (std::size_t i = 0; i < keys.size(); ++i) {
        by_port[port_of(keys[i])].push_back(i);
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
