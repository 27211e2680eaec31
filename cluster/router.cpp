#include "cluster/router.hpp"

namespace ksn::cluster {

namespace {

/// Decimal digits only, not empty, at most `max` (which bounds the value as it is read,
/// so no length overflows).
std::optional<std::uint32_t> parse_decimal(std::string_view s, std::uint32_t max) noexcept {
    if (s.empty()) return std::nullopt;
    std::uint32_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint32_t>(c - '0');
        if (v > max) return std::nullopt;
    }
    return v;
}

bool valid_host_byte(char c) noexcept {
    const auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
}

/// `message` is `word` alone or `word` followed by a space.
bool first_word_is(std::string_view message, std::string_view word) noexcept {
    return message.starts_with(word) &&
           (message.size() == word.size() || message[word.size()] == ' ');
}

}  // namespace

net::endpoint redirect::target(const net::endpoint& answered) const {
    if (host.empty() || host == "?") return net::endpoint{answered.host, port};
    return net::endpoint{std::string(host), port};
}

std::optional<redirect> parse_redirect(std::string_view message) noexcept {
    redirect r;
    std::string_view rest;
    if (message.starts_with("MOVED ")) {
        r.kind = redirect_kind::moved;
        rest = message.substr(6);
    } else if (message.starts_with("ASK ")) {
        r.kind = redirect_kind::ask;
        rest = message.substr(4);
    } else {
        return std::nullopt;
    }
    const auto space = rest.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    const auto slot = parse_decimal(rest.substr(0, space), slot_count - 1);
    if (!slot) return std::nullopt;
    r.slot = static_cast<std::uint16_t>(*slot);

    const auto target = rest.substr(space + 1);
    const auto colon = target.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    const auto port = parse_decimal(target.substr(colon + 1), 65535);
    if (!port || *port == 0) return std::nullopt;
    r.port = static_cast<std::uint16_t>(*port);

    auto host = target.substr(0, colon);
    for (const char c : host)
        if (!valid_host_byte(c)) return std::nullopt;
    if (host.starts_with('[')) {
        // "[::1]": an IPv6 literal in the URI form (Redis itself prints it bare).
        if (host.size() < 3 || !host.ends_with(']')) return std::nullopt;
        host = host.substr(1, host.size() - 2);
    }
    if (host.find_first_of("[]") != std::string_view::npos) return std::nullopt;
    r.host = host;
    return r;
}

error_class classify_error(std::string_view message) noexcept {
    if (first_word_is(message, "MOVED") || first_word_is(message, "ASK")) {
        const auto r = parse_redirect(message);
        if (!r) return error_class::other;
        return r->kind == redirect_kind::moved ? error_class::moved : error_class::ask;
    }
    for (const std::string_view word : {"TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN"})
        if (first_word_is(message, word)) return error_class::retry_later;
    return error_class::other;
}

router::router(net::endpoint node) : nodes_{std::move(node)}, owner_{0} {}

router::router(const topology& t) : owner_(slot_count, no_node), clustered_(true) {
    update(t);
}

std::uint32_t router::node_of(std::uint16_t slot) const noexcept {
    if (!clustered_) return 0;
    return slot < owner_.size() ? owner_[slot] : no_node;
}

void router::update(const topology& t) {
    if (!clustered_) return;
    owner_.assign(slot_count, no_node);
    for (const auto& s : t.shards()) {
        const auto n = add(s.primary.address);
        for (const auto& r : s.slots)
            for (std::uint32_t slot = r.first; slot <= r.last && slot < slot_count; ++slot)
                owner_[slot] = n;
    }
}

std::uint32_t router::follow(const redirect& r, const net::endpoint& answered) {
    const auto n = add(r.target(answered));
    if (clustered_ && r.kind == redirect_kind::moved && r.slot < owner_.size()) owner_[r.slot] = n;
    return n;
}

std::uint32_t router::add(const net::endpoint& e) {
    if (const auto n = find(e)) return *n;
    nodes_.push_back(e);
    return static_cast<std::uint32_t>(nodes_.size() - 1);
}

std::optional<std::uint32_t> router::find(const net::endpoint& e) const noexcept {
    for (std::size_t i = 0; i < nodes_.size(); ++i)
        if (nodes_[i] == e) return static_cast<std::uint32_t>(i);
    return std::nullopt;
}

}  // namespace ksn::cluster
