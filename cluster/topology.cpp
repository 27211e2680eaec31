#include "cluster/topology.hpp"

#include <algorithm>
#include <map>

#include "net/error.hpp"

namespace ksn::cluster {

using protocol::resp_type;
using protocol::value;

namespace {

std::uint64_t fnv(std::uint64_t h, std::string_view bytes) noexcept {
    for (const char c : bytes) {
        h ^= static_cast<std::uint8_t>(c);
        h *= 1099511628211ULL;
    }
    return h;
}

std::uint64_t fnv(std::uint64_t h, std::uint64_t v) noexcept {
    for (int i = 0; i < 8; ++i) {
        h ^= (v >> (i * 8)) & 0xff;
        h *= 1099511628211ULL;
    }
    return h;
}

void normalise(std::vector<slot_range>& ranges) {
    std::sort(ranges.begin(), ranges.end());
    std::vector<slot_range> merged;
    for (const auto& r : ranges) {
        if (!merged.empty() && r.first <= merged.back().last + 1) {
            merged.back().last = std::max(merged.back().last, r.last);
        } else {
            merged.push_back(r);
        }
    }
    ranges.swap(merged);
}

// A map's value for `key`, for RESP3 maps and RESP2 flat [key, value, ...] arrays alike.
const value* field(const value& v, std::string_view key) {
    if (v.type != resp_type::map && v.type != resp_type::array) return nullptr;
    for (std::size_t i = 0; i + 1 < v.elements.size(); i += 2) {
        if (v.elements[i].data == key) return &v.elements[i + 1];
    }
    return nullptr;
}

bool as_port(const value& v, std::uint16_t& port) {
    std::int64_t n = v.integer;
    if (v.type != resp_type::integer) {
        if (!v.is_string() || v.data.empty()) return false;
        n = 0;
        for (const char c : v.data) {
            if (c < '0' || c > '9') return false;
            n = n * 10 + (c - '0');
            if (n > 65535) return false;
        }
    }
    if (n <= 0 || n > 65535) return false;
    port = static_cast<std::uint16_t>(n);
    return true;
}

std::string host_or_asked(const std::string& host, const net::endpoint& asked) {
    return host.empty() || host == "?" ? asked.host : host;
}

}  // namespace

topology::topology(std::vector<shard> shards, std::vector<node_info> spares) {
    // Group by primary endpoint: CLUSTER SLOTS lists a primary once per range.
    std::map<std::string, shard> by_primary;
    for (auto& s : shards) {
        auto& into = by_primary[s.primary.address.to_string()];
        if (into.primary.address.host.empty() || into.primary.id.empty()) into.primary = s.primary;
        into.slots.insert(into.slots.end(), s.slots.begin(), s.slots.end());
        for (auto& r : s.replicas) {
            if (std::find(into.replicas.begin(), into.replicas.end(), r) == into.replicas.end()) {
                into.replicas.push_back(std::move(r));
            }
        }
    }
    for (auto& [name, s] : by_primary) {
        normalise(s.slots);
        std::sort(s.replicas.begin(), s.replicas.end(), [](const node_info& a, const node_info& b) {
            return a.address.to_string() < b.address.to_string();
        });
        shards_.push_back(std::move(s));
    }
    std::sort(shards_.begin(), shards_.end(), [](const shard& a, const shard& b) {
        const auto fa = a.slots.empty() ? slot_count : a.slots.front().first;
        const auto fb = b.slots.empty() ? slot_count : b.slots.front().first;
        return fa != fb ? fa < fb : a.primary.address.to_string() < b.primary.address.to_string();
    });
    std::sort(spares.begin(), spares.end(), [](const node_info& a, const node_info& b) {
        return a.address.to_string() < b.address.to_string();
    });
    for (auto& n : spares) {
        const auto name = n.address.to_string();
        if (by_primary.count(name)) continue;
        if (!spares_.empty() && spares_.back().address == n.address) continue;
        spares_.push_back(std::move(n));
    }
    owner_.assign(slot_count, 0);
    std::uint64_t h = 14695981039346656037ULL;
    for (std::size_t i = 0; i < shards_.size(); ++i) {
        const shard& s = shards_[i];
        h = fnv(fnv(h, s.primary.address.to_string()), s.primary.id);
        for (const auto& r : s.slots) {
            h = fnv(h, (std::uint64_t{r.first} << 16) | r.last);
            for (std::uint32_t slot = r.first; slot <= r.last && slot < slot_count; ++slot) {
                owner_[slot] = static_cast<std::uint16_t>(i + 1);
            }
        }
        for (const auto& r : s.replicas)
            h = fnv(h, "r" + r.address.to_string());
    }
    for (const auto& n : spares_)
        h = fnv(fnv(h, "s" + n.address.to_string()), n.id);
    signature_ = h;
}

const shard* topology::owner(std::uint16_t slot) const noexcept {
    if (slot >= owner_.size() || owner_[slot] == 0) return nullptr;
    return &shards_[owner_[slot] - 1];
}

bool topology::complete() const noexcept {
    return !owner_.empty() &&
           std::none_of(owner_.begin(), owner_.end(), [](std::uint16_t o) { return o == 0; });
}

std::vector<net::endpoint> topology::endpoints() const {
    std::vector<net::endpoint> out;
    for (const auto& s : shards_)
        out.push_back(s.primary.address);
    for (const auto& n : spares_)
        out.push_back(n.address);
    for (const auto& s : shards_) {
        for (const auto& r : s.replicas)
            out.push_back(r.address);
    }
    return out;
}

topology_diff diff(const topology& before, const topology& after) {
    topology_diff d;
    const auto primaries = [](const topology& t) {
        std::map<std::string, node_info> m;
        for (const auto& s : t.shards())
            m.emplace(s.primary.address.to_string(), s.primary);
        return m;
    };
    const auto replicas = [](const topology& t) {
        std::map<std::string, node_info> m;
        for (const auto& s : t.shards()) {
            for (const auto& r : s.replicas)
                m.emplace(r.address.to_string(), r);
        }
        return m;
    };
    const auto p0 = primaries(before), p1 = primaries(after);
    const auto r0 = replicas(before), r1 = replicas(after);
    for (const auto& [name, n] : p1) {
        if (p0.count(name)) continue;
        d.added.push_back(n);
        if (r0.count(name)) d.promoted.push_back(n);
    }
    for (const auto& [name, n] : p0) {
        if (p1.count(name)) continue;
        d.removed.push_back(n);
        if (r1.count(name)) d.demoted.push_back(n);
    }
    // Slot moves, as ranges of equal (from, to).
    const auto name_of = [](const shard* s) {
        return s ? s->primary.address.to_string() : std::string();
    };
    for (std::uint32_t slot = 0; slot < slot_count;) {
        const std::string from = name_of(before.owner(static_cast<std::uint16_t>(slot)));
        const std::string to = name_of(after.owner(static_cast<std::uint16_t>(slot)));
        std::uint32_t end = slot;
        while (end + 1 < slot_count &&
               name_of(before.owner(static_cast<std::uint16_t>(end + 1))) == from &&
               name_of(after.owner(static_cast<std::uint16_t>(end + 1))) == to) {
            ++end;
        }
        if (from != to) {
            d.moved.push_back(
                {{static_cast<std::uint16_t>(slot), static_cast<std::uint16_t>(end)}, from, to});
        }
        slot = end + 1;
    }
    return d;
}

std::optional<topology> parse_cluster_slots(const value& reply, const net::endpoint& asked,
                                            std::string& error) {
    if (reply.type != resp_type::array) {
        error = reply.is_error() ? "CLUSTER SLOTS refused: " + reply.data
                                 : "CLUSTER SLOTS reply is not an array";
        return std::nullopt;
    }
    const auto parse_node = [&](const value& n, node_info& out) {
        if (n.type != resp_type::array || n.elements.size() < 2) return false;
        const value& host = n.elements[0];
        if (!host.is_string() && !host.is_null()) return false;
        out.address.host = host_or_asked(host.data, asked);
        if (!as_port(n.elements[1], out.address.port)) return false;
        if (n.elements.size() >= 3 && n.elements[2].is_string()) out.id = n.elements[2].data;
        return true;
    };
    std::vector<shard> shards;
    for (const value& e : reply.elements) {
        if (e.type != resp_type::array || e.elements.size() < 3 ||
            e.elements[0].type != resp_type::integer || e.elements[1].type != resp_type::integer) {
            error = "CLUSTER SLOTS entry is not [start, end, primary, replicas...]";
            return std::nullopt;
        }
        const auto first = e.elements[0].integer, last = e.elements[1].integer;
        if (first < 0 || last < first || last >= slot_count) {
            error = "CLUSTER SLOTS range out of bounds";
            return std::nullopt;
        }
        shard s;
        s.slots.push_back({static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)});
        if (!parse_node(e.elements[2], s.primary)) {
            error = "CLUSTER SLOTS primary is not [host, port, ...]";
            return std::nullopt;
        }
        for (std::size_t i = 3; i < e.elements.size(); ++i) {
            node_info r;
            if (!parse_node(e.elements[i], r)) {
                error = "CLUSTER SLOTS replica is not [host, port, ...]";
                return std::nullopt;
            }
            s.replicas.push_back(std::move(r));
        }
        shards.push_back(std::move(s));
    }
    return topology(std::move(shards));
}

std::optional<topology> parse_cluster_shards(const value& reply, const net::endpoint& asked,
                                             std::string& error, bool tls) {
    if (reply.type != resp_type::array) {
        error = reply.is_error() ? "CLUSTER SHARDS refused: " + reply.data
                                 : "CLUSTER SHARDS reply is not an array";
        return std::nullopt;
    }
    std::vector<shard> shards;
    std::vector<node_info> spares;
    for (const value& e : reply.elements) {
        const value* slots = field(e, "slots");
        const value* nodes = field(e, "nodes");
        if (!slots || !nodes || slots->type != resp_type::array ||
            nodes->type != resp_type::array || slots->elements.size() % 2 != 0) {
            error = "CLUSTER SHARDS entry lacks slots or nodes";
            return std::nullopt;
        }
        shard s;
        bool have_primary = false, primary_online = false;
        for (std::size_t i = 0; i + 1 < slots->elements.size(); i += 2) {
            const auto first = slots->elements[i].integer, last = slots->elements[i + 1].integer;
            if (slots->elements[i].type != resp_type::integer || first < 0 || last < first ||
                last >= slot_count) {
                error = "CLUSTER SHARDS slot range out of bounds";
                return std::nullopt;
            }
            s.slots.push_back(
                {static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)});
        }
        for (const value& n : nodes->elements) {
            node_info info;
            const value* id = field(n, "id");
            const value* endpoint = field(n, "endpoint");
            const value* ip = field(n, "ip");
            const value* port = field(n, "port");
            const value* tls_port = field(n, "tls-port");
            if (tls && tls_port) port = tls_port;
            const value* role = field(n, "role");
            const value* health = field(n, "health");
            if (!port || !as_port(*port, info.address.port) || !role) {
                error = "CLUSTER SHARDS node lacks port or role";
                return std::nullopt;
            }
            if (id) info.id = id->data;
            info.address.host = host_or_asked(endpoint ? endpoint->data
                                              : ip     ? ip->data
                                                       : std::string(),
                                              asked);
            const bool online = !health || health->data == "online";
            if (role->data == "master" || role->data == "primary") {
                // A shard has one primary; a failed one keeps its slots until replaced.
                if (!have_primary || online) {
                    s.primary = std::move(info);
                    have_primary = true;
                    primary_online = online;
                }
            } else if (online) {
                s.replicas.push_back(std::move(info));
            }
        }
        if (!have_primary) continue;  // a shard being created or emptied
        if (s.slots.empty()) {
            // Serves no keys yet; a failed one (a primary failed over, not back yet) is
            // not worth a subscription.
            if (primary_online) spares.push_back(std::move(s.primary));
            continue;
        }
        shards.push_back(std::move(s));
    }
    return topology(std::move(shards), std::move(spares));
}

std::string retire_reason(const std::error_code& ec, std::string_view reply) {
    if (ec) return ec == net::errc::connect_failed ? std::string(retired_gone) : "";
    const auto own = parse_myself(reply);
    if (!own) return {};
    if (!own->primary) return "it is a replica now";
    if (!own->serves_slots) return "it serves no slot";
    return {};
}

std::optional<own_view> parse_myself(std::string_view text) {
    while (!text.empty()) {
        const auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        std::vector<std::string_view> fields;
        while (!line.empty()) {
            const auto sp = line.find(' ');
            if (sp != 0) fields.push_back(line.substr(0, sp));
            line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        }
        if (fields.size() < 8) continue;
        bool myself = false, primary = false;
        std::string_view flags = fields[2];
        while (!flags.empty()) {
            const auto comma = flags.find(',');
            const auto flag = flags.substr(0, comma);
            myself = myself || flag == "myself";
            primary = primary || flag == "master";
            flags = comma == std::string_view::npos ? std::string_view() : flags.substr(comma + 1);
        }
        if (!myself) continue;
        own_view v;
        v.primary = primary;
        for (std::size_t i = 8; i < fields.size(); ++i) {
            if (!fields[i].starts_with('[')) v.serves_slots = primary;
        }
        return v;
    }
    return std::nullopt;
}

}  // namespace ksn::cluster
