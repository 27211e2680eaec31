#include "tests/support/redis_sentinel.hpp"

#include <cstdlib>
#include <optional>
#include <stdexcept>

#include "tests/support/timing.hpp"

namespace ksn::test {

using namespace std::chrono_literals;

namespace {

/// How often the waits ask every node again: each round opens a connection per sentinel
/// and per data node, so not at wait_until()'s default 10 ms.
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

/// The value of `name` in a flat name/value array (SENTINEL MASTER, one entry of
/// SENTINEL REPLICAS or SENTINEL SENTINELS); empty when absent.
std::string field(const protocol::value& flat, std::string_view name) {
    for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
        if (flat.elements[i].data == name) return flat.elements[i + 1].data;
    }
    return {};
}

/// The entry of a SENTINEL REPLICAS / SENTINELS reply whose port is `port`, or null.
const protocol::value* entry_on_port(const protocol::value& list, std::uint16_t port) {
    for (const auto& e : list.elements) {
        if (field(e, "port") == std::to_string(port)) return &e;
    }
    return nullptr;
}

std::string address(std::uint16_t port) {
    return "127.0.0.1:" + std::to_string(port);
}

/// A fresh connection to `port`, authenticated with `auth` (AUTH's arguments) when set.
std::unique_ptr<client> connect(std::uint16_t port, const std::vector<std::string>& auth) {
    auto c = std::make_unique<client>(port);
    if (!auth.empty()) {
        std::vector<std::string> a{"AUTH"};
        a.insert(a.end(), auth.begin(), auth.end());
        const auto v = c->command(a);
        if (v.is_error()) throw std::runtime_error(address(port) + ": AUTH: " + v.data);
    }
    return c;
}

/// What a sentinel's SENTINEL GET-MASTER-ADDR-BY-NAME said: the port (0 when it named
/// none) and the reply in words.
struct named_primary {
    std::uint16_t port = 0;
    std::string said;
};

named_primary ask_primary(client& c, const std::string& name) {
    const auto v = c.command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", name});
    if (v.is_error()) return {0, "error " + v.data};
    if (v.elements.size() != 2) return {0, "no address"};
    const int port = std::atoi(v.elements[1].data.c_str());
    const std::string said = v.elements[0].data + ":" + v.elements[1].data;
    if (v.elements[0].data != "127.0.0.1" || port <= 0 || port > 65535) return {0, said};
    return {static_cast<std::uint16_t>(port), said};
}

/// ROLE in words ("master", "slave of 127.0.0.1:P connected", ...).
std::string role_words(const protocol::value& role) {
    if (role.is_error()) return "error " + role.data;
    if (role.elements.empty()) return "an empty ROLE reply";
    std::string out = role.elements[0].data;
    if (out == "slave" && role.elements.size() >= 4) {
        out += " of " + role.elements[1].data + ":" + std::to_string(role.elements[2].integer) +
               " " + role.elements[3].data;
    }
    return out;
}

bool is_master(const protocol::value& role) {
    return !role.is_error() && !role.elements.empty() && role.elements[0].data == "master";
}

/// ROLE says a replica of 127.0.0.1:`primary` whose link is connected.
bool is_connected_replica_of(const protocol::value& role, std::uint16_t primary) {
    return !role.is_error() && role.elements.size() >= 4 && role.elements[0].data == "slave" &&
           role.elements[1].data == "127.0.0.1" && role.elements[2].integer == primary &&
           role.elements[3].data == "connected";
}

/// Why the data node on `port` is not a replica of `primary` with its link up; empty when
/// it is.
std::string not_replica_reason(client& c, std::uint16_t port, std::uint16_t primary) {
    const auto role = c.command({"ROLE"});
    if (!is_connected_replica_of(role, primary)) {
        return address(port) + " answers ROLE " + role_words(role) + ", not slave of " +
               address(primary) + " connected";
    }
    const auto info = c.command({"INFO", "replication"}).data;
    const auto link = info_field(info, "master_link_status");
    if (link != "up") return address(port) + " says master_link_status:" + link;
    return {};
}

bool has_flag(const std::string& flags, std::string_view flag) {
    std::size_t at = 0;
    while (at <= flags.size()) {
        const auto comma = flags.find(',', at);
        const auto one = std::string_view(flags).substr(
            at, comma == std::string::npos ? std::string::npos : comma - at);
        if (one == flag) return true;
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return false;
}

/// AUTH's arguments for a user (maybe empty) and password (empty: no AUTH).
std::vector<std::string> auth_args(const std::string& user, const std::string& password) {
    if (password.empty()) return {};
    if (user.empty()) return {password};
    return {user, password};
}

/// The config lines that make `password` (and `user`) required: requirepass, or with a
/// user, the default user off and that user with every permission.
void add_auth_config(std::vector<std::string>& lines, const std::string& user,
                     const std::string& password) {
    if (password.empty()) return;
    if (user.empty()) {
        lines.push_back("requirepass " + password);
    } else {
        lines.push_back("user default off");
        lines.push_back("user " + user + " on >" + password + " ~* &* +@all");
    }
}

/// Shortens a sentinel's periods the way Redis's own Sentinel tests do (SENTINEL DEBUG,
/// Redis 7.0+; not a config directive, so it is set again after each start):
/// - INFO every 1 s instead of 10 s and hello messages every 500 ms instead of 2 s: the
///   sentinels find each other sooner, see a role change sooner, and make a returning
///   former primary a replica after 2 s (4 publish periods, sentinel.c) instead of 8.
/// - PING (and reconnection, and the questions to the other sentinels while the primary
///   is down) every 500 ms instead of 1 s. A sentinel reconnects to an instance at most
///   once a ping period, and a failover moves the old primary's link, with its last
///   reconnection time, to the new one: with down-after (1 s) no longer than the period,
///   a new primary was sometimes declared down before the sentinel had connected to it
///   and failed over again, at once. Not shorter: when the primary is down, a replica
///   counts for promotion only while its last INFO (asked every 1 s then) is younger than
///   5 ping periods.
/// - A sentinel whose timer stalled (SIGSTOP) stays in TILT mode, acting on nothing, 2 s
///   instead of 30.
void set_periods(redis_server& s) {
    const auto v = s.command({"SENTINEL", "DEBUG", "info-period", "1000", "publish-period", "500",
                              "ping-period", "500", "ask-period", "500", "tilt-period", "2000"});
    if (v.is_error() || v.data != "OK") {
        throw std::runtime_error(s.address() + ": SENTINEL DEBUG failed: " + v.data);
    }
}

}  // namespace

redis_sentinel_set::redis_sentinel_set(options opts) : opts_(std::move(opts)) {
    if (opts_.sentinels < 1 || opts_.quorum < 1) {
        throw std::invalid_argument("redis_sentinel_set: needs at least one sentinel and a quorum");
    }
    if (opts_.data_password.empty() && !opts_.data_user.empty()) {
        throw std::invalid_argument("redis_sentinel_set: data_user without data_password");
    }
    if (opts_.sentinel_password.empty() && !opts_.sentinel_user.empty()) {
        throw std::invalid_argument("redis_sentinel_set: sentinel_user without sentinel_password");
    }
    data_auth_ = auth_args(opts_.data_user, opts_.data_password);
    sentinel_auth_ = auth_args(opts_.sentinel_user, opts_.sentinel_password);
    const std::string& name = opts_.primary_name;

    // The data nodes. Both get masterauth: either may be a replica after a failover. The
    // full sync of a new replica starts at once (the default waits 5 s for more replicas
    // to share a diskless transfer): after a failover too.
    std::vector<std::string> data_config{"repl-diskless-sync-delay 0"};
    add_auth_config(data_config, opts_.data_user, opts_.data_password);
    if (!opts_.data_password.empty()) {
        data_config.push_back("masterauth " + opts_.data_password);
        if (!opts_.data_user.empty()) data_config.push_back("masteruser " + opts_.data_user);
    }
    data_config.insert(data_config.end(), opts_.data_config.begin(), opts_.data_config.end());

    server_options primary;
    primary.config = data_config;
    data_.push_back(std::make_unique<redis_server>(primary));
    data_[0]->set_auth(data_auth_);
    const std::uint16_t primary_port = data_[0]->port();

    server_options replica;
    replica.config = data_config;
    replica.config.push_back("replicaof 127.0.0.1 " + std::to_string(primary_port));
    data_.push_back(std::make_unique<redis_server>(replica));
    data_[1]->set_auth(data_auth_);
    const std::uint16_t replica_port = data_[1]->port();

    // The sentinels find the replica in the primary's INFO (its slave0 line) at their
    // first INFO: with the link up before they start, they know it at once.
    std::string why;
    const auto linked = [&] {
        try {
            why =
                not_replica_reason(*connect(replica_port, data_auth_), replica_port, primary_port);
        } catch (const std::exception& e) {
            why = e.what();
        }
        return why.empty();
    };
    if (!wait_until(linked, 30s, poll)) throw std::runtime_error("replica did not sync: " + why);

    // down-after grows with the time scale, like cluster-node-timeout (redis_server.cpp):
    // a starved primary must not be failed over by mistake. failover-timeout bounds a
    // vote, a promotion and the replicas' reconfiguration, and a sentinel waits twice that
    // before it tries again after an attempt that did not complete (a split vote): small
    // for speed, and several down-after periods so that a slow vote is not cut short.
    std::vector<std::string> sentinel_config{
        "sentinel monitor " + name + " 127.0.0.1 " + std::to_string(primary_port) + " " +
            std::to_string(opts_.quorum),
        "sentinel down-after-milliseconds " + name + " " + std::to_string(1000 * time_scale()),
        "sentinel failover-timeout " + name + " " + std::to_string(5000 * time_scale()),
        "sentinel parallel-syncs " + name + " 1",
    };
    if (!opts_.data_password.empty()) {
        sentinel_config.push_back("sentinel auth-pass " + name + " " + opts_.data_password);
        if (!opts_.data_user.empty())
            sentinel_config.push_back("sentinel auth-user " + name + " " + opts_.data_user);
    }
    add_auth_config(sentinel_config, opts_.sentinel_user, opts_.sentinel_password);
    if (!opts_.sentinel_password.empty()) {
        // The sentinels ask each other (SENTINEL IS-MASTER-DOWN-BY-ADDR) with these.
        sentinel_config.push_back("sentinel sentinel-pass " + opts_.sentinel_password);
        if (!opts_.sentinel_user.empty())
            sentinel_config.push_back("sentinel sentinel-user " + opts_.sentinel_user);
    }
    sentinel_config.insert(sentinel_config.end(), opts_.sentinel_config.begin(),
                           opts_.sentinel_config.end());
    for (int i = 0; i < opts_.sentinels; ++i) {
        server_options s;
        s.sentinel = true;
        s.config = sentinel_config;
        sentinels_.push_back(std::make_unique<redis_server>(s));
        sentinels_.back()->set_auth(sentinel_auth_);
        set_periods(*sentinels_.back());
    }
    wait_stable(30s);
}

void redis_sentinel_set::start_sentinel(std::size_t i) {
    auto& s = *sentinels_.at(i);
    s.start();
    set_periods(s);
}

redis_sentinel_set::~redis_sentinel_set() {
    // The sentinels first: they would otherwise watch the data nodes go and fail over.
    sentinels_.clear();
    data_.clear();
}

std::vector<net::endpoint> redis_sentinel_set::sentinel_endpoints() const {
    std::vector<net::endpoint> out;
    for (const auto& s : sentinels_)
        out.emplace_back("127.0.0.1", s->port());
    return out;
}

redis_server& redis_sentinel_set::node(std::uint16_t port) {
    for (auto& n : data_) {
        if (n->port() == port) return *n;
    }
    throw std::runtime_error("no data node on port " + std::to_string(port));
}

redis_server& redis_sentinel_set::other_node(std::uint16_t port) {
    node(port);  // throws for a port that is no data node
    return data_[0]->port() == port ? *data_[1] : *data_[0];
}

std::vector<std::size_t> redis_sentinel_set::live_sentinels() const {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < sentinels_.size(); ++i) {
        if (sentinels_[i]->running() && !sentinels_[i]->paused()) out.push_back(i);
    }
    return out;
}

std::uint16_t redis_sentinel_set::current_primary() {
    const auto live = live_sentinels();
    if (live.empty()) throw std::runtime_error("current_primary: no live sentinel");
    std::uint16_t primary = 0;
    std::string views;
    bool agree = true;
    for (const auto i : live) {
        const auto port = sentinels_[i]->port();
        const auto named = ask_primary(*connect(port, sentinel_auth_), opts_.primary_name);
        views += (views.empty() ? "" : "; ") + address(port) + " names " + named.said;
        if (named.port == 0 || (primary != 0 && named.port != primary)) agree = false;
        if (primary == 0) primary = named.port;
    }
    if (!agree) throw std::runtime_error("current_primary: the sentinels disagree: " + views);
    return primary;
}

std::uint16_t redis_sentinel_set::wait_primary_changed(std::uint16_t from_port,
                                                       std::chrono::seconds limit) {
    std::uint16_t primary = 0;
    std::string views;
    const auto changed = [&] {
        views.clear();
        primary = 0;
        const auto live = live_sentinels();
        if (live.empty()) {
            views = "no live sentinel";
            return false;
        }
        bool ok = true;
        for (const auto i : live) {
            const auto port = sentinels_[i]->port();
            try {
                const auto named = ask_primary(*connect(port, sentinel_auth_), opts_.primary_name);
                views += (views.empty() ? "" : "; ") + address(port) + " names " + named.said;
                if (named.port == 0 || named.port == from_port ||
                    (primary != 0 && named.port != primary)) {
                    ok = false;
                }
                if (primary == 0) primary = named.port;
            } catch (const std::exception& e) {
                views += (views.empty() ? "" : "; ") + address(port) + ": " + e.what();
                ok = false;
            }
        }
        if (!ok) return false;
        try {
            const auto role = connect(primary, data_auth_)->command({"ROLE"});
            views += "; " + address(primary) + " answers ROLE " + role_words(role);
            return is_master(role);
        } catch (const std::exception& e) {
            views += "; " + address(primary) + ": " + e.what();
            return false;
        }
    };
    if (!wait_until(changed, limit, poll)) {
        throw std::runtime_error("the sentinels did not switch from " + address(from_port) +
                                 " within " + std::to_string(scaled(limit).count()) +
                                 " s: " + views);
    }
    return primary;
}

void redis_sentinel_set::wait_replica_of(std::uint16_t port, std::uint16_t primary_port,
                                         std::chrono::seconds limit) {
    std::string why;
    const auto replica = [&] {
        try {
            why = not_replica_reason(*connect(port, data_auth_), port, primary_port);
        } catch (const std::exception& e) {
            why = e.what();
        }
        return why.empty();
    };
    if (!wait_until(replica, limit, poll)) {
        throw std::runtime_error(address(port) + " did not become a replica of " +
                                 address(primary_port) + " within " +
                                 std::to_string(scaled(limit).count()) + " s: " + why);
    }
}

void redis_sentinel_set::failover() {
    const auto live = live_sentinels();
    if (live.empty()) throw std::runtime_error("failover: no live sentinel");
    auto& s = *sentinels_[live.front()];
    const auto v = s.command({"SENTINEL", "FAILOVER", opts_.primary_name});
    if (v.is_error() || v.data != "OK") {
        throw std::runtime_error(s.address() + " refused SENTINEL FAILOVER " + opts_.primary_name +
                                 ": " + v.data);
    }
}

std::string redis_sentinel_set::unstable_reason(std::uint16_t& primary) {
    const auto live = live_sentinels();
    if (live.empty()) return "no live sentinel";
    const std::string& name = opts_.primary_name;

    // Every live sentinel names one primary, with no failover in progress or down flag.
    primary = 0;
    for (const auto i : live) {
        const auto port = sentinels_[i]->port();
        try {
            auto c = connect(port, sentinel_auth_);
            const auto named = ask_primary(*c, name);
            if (named.port == 0) return address(port) + " names " + named.said + " as the primary";
            if (primary != 0 && named.port != primary) {
                return address(port) + " names " + named.said + " as the primary, another " +
                       address(primary);
            }
            primary = named.port;
            const auto info = c->command({"INFO", "sentinel"}).data;
            if (info_field(info, "sentinel_tilt") != "0") {
                return address(port) +
                       " is in TILT mode (sentinel_tilt:" + info_field(info, "sentinel_tilt") + ")";
            }
            const auto master = c->command({"SENTINEL", "MASTER", name});
            if (master.is_error()) return address(port) + ": SENTINEL MASTER: " + master.data;
            if (field(master, "flags") != "master") {
                return address(port) + " sees the primary " + named.said + " with flags " +
                       field(master, "flags") + " (failover state " +
                       field(master, "failover-state") + ")";
            }
        } catch (const std::exception& e) {
            return address(port) + ": " + e.what();
        }
    }

    // The primary is one and says so; the other data node follows it, link up.
    try {
        node(primary);
    } catch (const std::exception& e) {
        return std::string("the sentinels name a primary that is no data node: ") + e.what();
    }
    for (auto& n : data_) {
        if (!n->running() || n->paused()) return n->address() + " is stopped or paused";
        try {
            auto c = connect(n->port(), data_auth_);
            if (n->port() == primary) {
                const auto role = c->command({"ROLE"});
                if (!is_master(role)) {
                    return "the primary the sentinels name, " + n->address() + ", answers ROLE " +
                           role_words(role);
                }
            } else if (auto why = not_replica_reason(*c, n->port(), primary); !why.empty()) {
                return why;
            }
        } catch (const std::exception& e) {
            return n->address() + ": " + e.what();
        }
    }

    // Every live sentinel approves of each replica (what SENTINEL FAILOVER needs) and sees
    // every other live sentinel (what a vote needs).
    for (const auto i : live) {
        const auto port = sentinels_[i]->port();
        try {
            auto c = connect(port, sentinel_auth_);
            const auto replicas = c->command({"SENTINEL", "REPLICAS", name});
            for (auto& n : data_) {
                if (n->port() == primary) continue;
                const auto* e = entry_on_port(replicas, n->port());
                if (e == nullptr)
                    return address(port) + " does not list the replica " + n->address();
                if (field(*e, "flags") != "slave" || field(*e, "role-reported") != "slave" ||
                    field(*e, "master-port") != std::to_string(primary) ||
                    field(*e, "master-link-status") != "ok") {
                    return address(port) + " lists the replica " + n->address() + " with flags " +
                           field(*e, "flags") + ", role-reported " + field(*e, "role-reported") +
                           ", master " + field(*e, "master-host") + ":" + field(*e, "master-port") +
                           ", master-link-status " + field(*e, "master-link-status");
                }
            }
            const auto others = c->command({"SENTINEL", "SENTINELS", name});
            for (const auto j : live) {
                if (j == i) continue;
                const auto other = sentinels_[j]->port();
                const auto* e = entry_on_port(others, other);
                if (e == nullptr) {
                    return address(port) + " does not know the sentinel " + address(other) +
                           " (it knows " + std::to_string(others.elements.size()) + ")";
                }
                const auto flags = field(*e, "flags");
                if (has_flag(flags, "s_down") || has_flag(flags, "disconnected")) {
                    return address(port) + " sees the sentinel " + address(other) + " with flags " +
                           flags;
                }
            }
        } catch (const std::exception& e) {
            return address(port) + ": " + e.what();
        }
    }
    return {};
}

std::uint16_t redis_sentinel_set::wait_stable(std::chrono::seconds limit) {
    std::string last;
    std::uint16_t primary = 0;
    if (!wait_until(
            [&] {
                last = unstable_reason(primary);
                return last.empty();
            },
            limit, poll)) {
        throw std::runtime_error("sentinels not stable within " +
                                 std::to_string(scaled(limit).count()) + " s: " + last);
    }
    return primary;
}

}  // namespace ksn::test
