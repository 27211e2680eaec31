#include "sentinel/primary_resolver.hpp"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <utility>

namespace ksn::sentinel {

namespace {

// Connection details from net:: already start with the node ("127.0.0.1:26379: connect
// failed: ..."); anything else is given the node's name, so that a round's sentence names
// every sentinel exactly once.
std::string naming(const net::endpoint& address, std::string_view why) {
    const std::string name = address.to_string();
    if (why.starts_with(name + ":")) return std::string(why);
    return name + ": " + std::string(why);
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    unsigned value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end || value == 0 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

}  // namespace

std::optional<net::endpoint> parse_primary_address(const protocol::value& reply,
                                                   std::string& error) {
    if (reply.is_error()) {
        error = "refused: " + reply.data;
        return std::nullopt;
    }
    if (reply.is_null()) {
        error = "does not know the primary";
        return std::nullopt;
    }
    if (!reply.is_aggregate() || reply.elements.size() != 2 || !reply.elements[0].is_string() ||
        !reply.elements[1].is_string() || reply.elements[0].data.empty()) {
        error = "answered something other than a host and a port";
        return std::nullopt;
    }
    const auto port = parse_port(reply.elements[1].data);
    if (!port) {
        error = "answered a port that is not one: '" + reply.elements[1].data + "'";
        return std::nullopt;
    }
    return net::endpoint(reply.elements[0].data, *port);
}

std::string parse_role(const protocol::value& reply, std::optional<net::endpoint>& primary) {
    primary.reset();
    if (!reply.is_aggregate() || reply.elements.empty() || !reply.elements[0].is_string())
        return {};
    const std::string& role = reply.elements[0].data;
    if (role != "master" && role != "slave" && role != "sentinel") return {};
    // A replica: ["slave", host, port, state, offset].
    if (role == "slave" && reply.elements.size() >= 3 && reply.elements[1].is_string()) {
        std::optional<std::uint16_t> port;
        if (reply.elements[2].type == protocol::resp_type::integer) {
            const auto p = reply.elements[2].integer;
            if (p > 0 && p <= 65535) port = static_cast<std::uint16_t>(p);
        } else if (reply.elements[2].is_string()) {
            port = parse_port(reply.elements[2].data);
        }
        if (port) primary = net::endpoint(reply.elements[1].data, *port);
    }
    return role;
}

std::vector<net::endpoint> parse_role_replicas(const protocol::value& reply) {
    std::vector<net::endpoint> out;
    if (!reply.is_aggregate() || reply.elements.size() < 3 || !reply.elements[0].is_string() ||
        reply.elements[0].data != "master" || !reply.elements[2].is_aggregate()) {
        return out;
    }
    for (const auto& r : reply.elements[2].elements) {
        if (!r.is_aggregate() || r.elements.size() < 2 || !r.elements[0].is_string() ||
            r.elements[0].data.empty() || !r.elements[1].is_string()) {
            continue;
        }
        if (const auto port = parse_port(r.elements[1].data))
            out.emplace_back(r.elements[0].data, *port);
    }
    return out;
}

primary_resolver::primary_resolver(resolver_options options) : options_(std::move(options)) {
    for (const auto& s : options_.sentinels) {
        if (std::find(sentinels_.begin(), sentinels_.end(), s) == sentinels_.end())
            sentinels_.push_back(s);
    }
    if (sentinels_.empty()) throw std::invalid_argument("sentinel: no sentinel address given");
    if (options_.primary_name.empty())
        throw std::invalid_argument("sentinel: no primary name given");
}

// --- lanes -------------------------------------------------------------------------------

void primary_resolver::open(lane which, const net::endpoint& address) {
    auto& l = at(which);
    if (l.state != link::none && l.address == address) return;
    shut(which);
    l.state = link::connecting;
    l.address = address;
    actions_.emplace_back(connect{which, address});
}

void primary_resolver::shut(lane which) {
    auto& l = at(which);
    l.reply_deadline.reset();
    if (l.state == link::none) return;
    l.state = link::none;
    actions_.emplace_back(close{which});
}

void primary_resolver::ask(lane which, std::vector<std::string> args, clock::time_point now) {
    at(which).reply_deadline = now + options_.reply_timeout;
    actions_.emplace_back(send{which, std::move(args)});
}

// --- events ------------------------------------------------------------------------------

void primary_resolver::start(clock::time_point now) {
    if (running_) return;
    running_ = true;
    next_retiring_ = now + options_.check_interval;
    begin_round(now);
}

void primary_resolver::stop() {
    if (!running_) return;
    actions_.clear();  // nothing reported after stop(); only the closes below
    for (std::size_t i = 0; i < lane_count; ++i)
        shut(static_cast<lane>(i));
    running_ = false;
    round_active_ = false;
    retiring_active_ = false;
    again_ = false;
    next_round_.reset();
    next_retiring_.reset();
}

void primary_resolver::refresh(clock::time_point now, bool recheck) {
    if (!running_) return;
    if (round_active_) {
        again_ = true;
        again_recheck_ = again_recheck_ || recheck;
        return;
    }
    recheck_ = recheck;
    begin_round(now);
}

void primary_resolver::on_timer(clock::time_point now) {
    if (!running_) return;
    // Replies overdue first: each fails its lane.
    for (std::size_t i = 0; i < lane_count; ++i) {
        const auto which = static_cast<lane>(i);
        auto& l = at(which);
        if (!l.reply_deadline || now < *l.reply_deadline) continue;
        l.reply_deadline.reset();
        const std::string why =
            "no answer within " + std::to_string(options_.reply_timeout.count()) + " ms";
        switch (which) {
            case lane::sentinel:
                if (round_active_) sentinel_failed(why, now);
                break;
            case lane::candidate:
                if (round_active_) candidate_failed(candidate_.to_string() + ": " + why, now);
                break;
            case lane::retiring:
                shut(lane::retiring);
                if (retiring_active_) retiring_done(std::nullopt, now);
                break;
        }
    }
    if (!round_active_ && next_round_ && now >= *next_round_) {
        recheck_ = false;
        begin_round(now);
    }
    if (!retiring_active_ && next_retiring_ && now >= *next_retiring_) {
        if (!retiring_.empty()) {
            retiring_index_ %= retiring_.size();
            check_next_retiring(now);
        }
    }
}

void primary_resolver::on_connected(lane which, clock::time_point now) {
    if (!running_) return;
    auto& l = at(which);
    if (l.state != link::connecting) return;
    l.state = link::ready;
    switch (which) {
        case lane::sentinel:
            if (round_active_)
                ask(lane::sentinel, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", options_.primary_name},
                    now);
            break;
        case lane::candidate:
        case lane::retiring:
            ask(which, {"ROLE"}, now);
            break;
    }
}

void primary_resolver::on_connection_failed(lane which, std::string_view detail, bool refused,
                                            clock::time_point now) {
    if (!running_) return;
    auto& l = at(which);
    if (l.state == link::none) return;
    const bool was_asking = l.reply_deadline.has_value() || l.state == link::connecting;
    shut(which);
    switch (which) {
        case lane::sentinel:
            if (round_active_ && was_asking) sentinel_failed(detail, now);
            break;
        case lane::candidate:
            if (round_active_) candidate_failed(naming(candidate_, detail), now);
            break;
        case lane::retiring:
            if (!retiring_active_) break;
            if (refused) {
                retiring_done("it is gone (" + std::string(detail) + ")", now);
            } else {
                retiring_done(std::nullopt, now);
            }
            break;
    }
}

void primary_resolver::on_reply(lane which, const protocol::value& reply, clock::time_point now) {
    if (!running_) return;
    auto& l = at(which);
    if (!l.reply_deadline) return;  // timed out already
    l.reply_deadline.reset();
    switch (which) {
        case lane::sentinel:
            if (round_active_) sentinel_answered(reply, now);
            break;
        case lane::candidate:
            shut(lane::candidate);
            if (round_active_) candidate_answered(reply, now);
            break;
        case lane::retiring: {
            shut(lane::retiring);
            if (!retiring_active_) break;
            std::optional<net::endpoint> of;
            const std::string role = parse_role(reply, of);
            if (role == "slave") {
                retiring_done("it is a replica" + (of ? " of " + of->to_string() : std::string()),
                              now);
            } else if (role == "sentinel") {
                retiring_done("it is a sentinel", now);
            } else {
                retiring_done(std::nullopt, now);  // still a primary, or an unusable answer
            }
            break;
        }
    }
}

std::optional<primary_resolver::action> primary_resolver::next_action() {
    if (actions_.empty()) return std::nullopt;
    action a = std::move(actions_.front());
    actions_.pop_front();
    return a;
}

std::optional<clock::time_point> primary_resolver::next_deadline() const noexcept {
    if (!running_) return std::nullopt;
    std::optional<clock::time_point> d;
    const auto consider = [&d](const std::optional<clock::time_point>& t) {
        if (t && (!d || *t < *d)) d = t;
    };
    if (!round_active_) consider(next_round_);
    if (!retiring_active_ && !retiring_.empty()) consider(next_retiring_);
    for (const auto& l : lanes_)
        consider(l.reply_deadline);
    return d;
}

// --- rounds ------------------------------------------------------------------------------

void primary_resolver::begin_round(clock::time_point now) {
    round_active_ = true;
    next_round_.reset();
    round_ = sentinels_;
    round_index_ = 0;
    round_errors_.clear();
    named_current_ = false;
    ask_sentinel(now);
}

void primary_resolver::ask_sentinel(clock::time_point now) {
    if (round_index_ >= round_.size()) {
        // Nobody confirmed a primary. The current one stays; that is news only when no
        // sentinel named it (each may still be electing, or all may be unreachable).
        if (!named_current_) {
            std::string sentence =
                "no sentinel named a primary for '" + options_.primary_name + "'";
            if (primary_)
                sentence += " that answers as one (still using " + primary_->to_string() + ")";
            sentence += ": ";
            for (std::size_t i = 0; i < round_errors_.size(); ++i) {
                if (i > 0) sentence += "; ";
                sentence += round_errors_[i];
            }
            actions_.emplace_back(report_error{std::move(sentence)});
        }
        end_round(now);
        return;
    }
    const auto& s = round_[round_index_];
    auto& l = at(lane::sentinel);
    if (l.state == link::ready && l.address == s) {
        ask(lane::sentinel, {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", options_.primary_name}, now);
    } else {
        open(lane::sentinel, s);  // asks once connected
    }
}

void primary_resolver::sentinel_failed(std::string_view why, clock::time_point now) {
    round_errors_.push_back(naming(round_[round_index_], why));
    shut(lane::sentinel);
    ++round_index_;
    ask_sentinel(now);
}

void primary_resolver::sentinel_answered(const protocol::value& reply, clock::time_point now) {
    std::string error;
    const auto named = parse_primary_address(reply, error);
    if (!named) {
        sentinel_failed(error, now);
        return;
    }
    candidate_ = *named;
    if (primary_ && *primary_ == candidate_) {
        named_current_ = true;
        if (!recheck_) {
            ++confirmations_;
            end_round(now);
            return;
        }
    }
    open(lane::candidate, candidate_);  // ROLE once connected
}

void primary_resolver::candidate_failed(std::string why, clock::time_point now) {
    shut(lane::candidate);
    round_errors_.push_back(naming(round_[round_index_], "names " + why));
    ++round_index_;
    ask_sentinel(now);
}

void primary_resolver::candidate_answered(const protocol::value& reply, clock::time_point now) {
    std::optional<net::endpoint> of;
    const std::string role = parse_role(reply, of);
    if (role != "master") {
        std::string why;
        if (reply.is_error()) {
            why = "which refused ROLE: " + reply.data;
        } else if (role == "slave") {
            why = "which is a replica" + (of ? " of " + of->to_string() : std::string());
        } else if (role.empty()) {
            why = "which answered ROLE with something other than a role";
        } else {
            why = "which is a " + role;
        }
        candidate_failed(candidate_.to_string() + ", " + why, now);
        return;
    }
    const net::endpoint named_by = round_[round_index_];
    // The sentinel that answered is asked first from now on.
    sentinels_.erase(std::find(sentinels_.begin(), sentinels_.end(), named_by));
    sentinels_.insert(sentinels_.begin(), named_by);
    ++confirmations_;
    if (!primary_ || *primary_ != candidate_) {
        auto previous = primary_;
        primary_ = candidate_;
        // A primary again (failed back): not retiring any more.
        const auto again = std::find(retiring_.begin(), retiring_.end(), candidate_);
        if (again != retiring_.end()) {
            const bool checking =
                retiring_active_ &&
                static_cast<std::size_t>(again - retiring_.begin()) == retiring_index_;
            retiring_.erase(again);
            if (checking) {
                shut(lane::retiring);
                retiring_active_ = false;
            }
        }
        if (previous &&
            std::find(retiring_.begin(), retiring_.end(), *previous) == retiring_.end()) {
            retiring_.push_back(*previous);
        }
        actions_.emplace_back(report_primary{candidate_, std::move(previous), named_by});
    }
    end_round(now);
}

void primary_resolver::end_round(clock::time_point now) {
    round_active_ = false;
    next_round_ = now + options_.check_interval;
    if (again_) {
        again_ = false;
        recheck_ = again_recheck_;
        again_recheck_ = false;
        begin_round(now);
    }
}

// --- former primaries --------------------------------------------------------------------

void primary_resolver::check_next_retiring(clock::time_point) {
    retiring_active_ = true;
    open(lane::retiring, retiring_[retiring_index_]);  // ROLE once connected
}

void primary_resolver::retiring_done(std::optional<std::string> retired_why,
                                     clock::time_point now) {
    retiring_active_ = false;
    next_retiring_ = now + options_.check_interval;  // the next check, one interval after
    if (retiring_index_ >= retiring_.size()) return;
    if (retired_why) {
        const auto address = retiring_[retiring_index_];
        retiring_.erase(retiring_.begin() + static_cast<std::ptrdiff_t>(retiring_index_));
        actions_.emplace_back(report_retired{address, std::move(*retired_why)});
    } else {
        ++retiring_index_;
    }
    if (!retiring_.empty()) retiring_index_ %= retiring_.size();
}

}  // namespace ksn::sentinel
