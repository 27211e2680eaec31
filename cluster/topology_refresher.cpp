#include "cluster/topology_refresher.hpp"

#include <algorithm>
#include <utility>

namespace ksn::cluster {

namespace {

void add_unique(std::vector<net::endpoint>& to, const net::endpoint& e) {
    if (std::find(to.begin(), to.end(), e) == to.end()) to.push_back(e);
}

// Connection details from net:: already start with the node ("127.0.0.1:7000: connect
// failed: ..."); anything else is given the node's name, so that the round's sentence
// names every node exactly once.
std::string naming(const net::endpoint& address, std::string_view why) {
    const std::string name = address.to_string();
    if (why.starts_with(name + ":")) return std::string(why);
    return name + ": " + std::string(why);
}

}  // namespace

std::string_view command_name(topology_query q) noexcept {
    return q == topology_query::shards ? "CLUSTER SHARDS" : "CLUSTER SLOTS";
}

topology_refresher::topology_refresher(refresher_options options) : options_(std::move(options)) {
    for (const auto& s : options_.seeds)
        add_unique(known_, s);
}

void topology_refresher::start(clock::time_point now) {
    if (phase_ != phase::stopped) return;
    phase_ = phase::idle;
    next_refresh_ = now + options_.refresh_interval;
    begin_round(now);
}

void topology_refresher::stop() {
    if (phase_ == phase::stopped) return;
    // Nothing reported after stop(): the driver's owner is shutting down.
    actions_.clear();
    close_link();
    phase_ = phase::stopped;
    awaiting_reply_ = false;
    again_ = false;
    next_refresh_.reset();
    reply_deadline_.reset();
}

void topology_refresher::refresh(clock::time_point now) {
    if (phase_ == phase::stopped) return;
    if (phase_ == phase::asking) {
        again_ = true;
        return;
    }
    begin_round(now);
}

void topology_refresher::on_timer(clock::time_point now) {
    if (phase_ == phase::stopped) return;
    if (reply_deadline_ && now >= *reply_deadline_) {
        const auto ms = options_.reply_timeout.count();
        node_failed(link_address_,
                    "no reply to " + std::string(command_name(asked_)) + " within " +
                        std::to_string(ms) + " ms",
                    now);
    }
    if (next_refresh_ && now >= *next_refresh_) {
        next_refresh_ = now + options_.refresh_interval;
        // A tick during a round is that round. Unlike refresh(), the timer polls: no
        // event prompted it that the reply under way might predate, so it asks for no
        // other.
        if (phase_ == phase::idle) begin_round(now);
    }
}

void topology_refresher::on_connected(const net::endpoint& address, clock::time_point now) {
    if (phase_ == phase::stopped || link_ != link::connecting || link_address_ != address) return;
    link_ = link::ready;
    if (asking(address) && !awaiting_reply_) ask_current(now);
}

void topology_refresher::on_connection_failed(const net::endpoint& address, std::string_view detail,
                                              clock::time_point now) {
    if (phase_ == phase::stopped || link_ == link::none || link_address_ != address) return;
    // It may come back another server (upgraded): CLUSTER SHARDS is worth asking again.
    std::erase(slots_only_, address);
    if (asking(address)) {
        node_failed(address, detail, now);
        return;
    }
    // Lost between rounds: the connection is gone for good, and the node may be too, so
    // the next round starts with the seeds instead of it.
    close_link();
    if (preferred_ == address) preferred_.reset();
}

void topology_refresher::on_reply(const net::endpoint& address, const protocol::value& reply,
                                  clock::time_point now) {
    if (!awaiting_reply_ || !asking(address)) return;
    awaiting_reply_ = false;
    reply_deadline_.reset();
    std::string error;
    auto t = asked_ == topology_query::shards
                 ? parse_cluster_shards(reply, address, error, options_.tls)
                 : parse_cluster_slots(reply, address, error);
    if (!t) {
        node_failed(address, error, now);  // the error names the command
        return;
    }
    if (!shards_refusal_.empty()) {
        add_unique(slots_only_, address);
        shards_refusal_.clear();
    }
    answered(address, std::move(*t), now);
}

void topology_refresher::on_refused(const net::endpoint& address, std::string_view text,
                                    clock::time_point now) {
    if (!awaiting_reply_ || !asking(address)) return;
    awaiting_reply_ = false;
    reply_deadline_.reset();
    if (asked_ == topology_query::shards) {
        // An older server, or an ACL without cluster|shards: CLUSTER SLOTS may do.
        shards_refusal_ = text.empty() ? std::string("(no text)") : std::string(text);
        send(address, topology_query::slots, now);
        return;
    }
    const std::string slots(text);
    node_failed(address,
                shards_refusal_ == slots ? "CLUSTER SHARDS and CLUSTER SLOTS refused: " + slots
                                         : "CLUSTER SHARDS refused: " + shards_refusal_ +
                                               "; CLUSTER SLOTS refused: " + slots,
                now);
}

std::optional<topology_refresher::action> topology_refresher::next_action() {
    if (actions_.empty()) return std::nullopt;
    action a = std::move(actions_.front());
    actions_.pop_front();
    return a;
}

std::optional<clock::time_point> topology_refresher::next_deadline() const noexcept {
    if (phase_ == phase::stopped) return std::nullopt;
    if (next_refresh_ && reply_deadline_) return std::min(*next_refresh_, *reply_deadline_);
    return next_refresh_ ? next_refresh_ : reply_deadline_;
}

void topology_refresher::begin_round(clock::time_point now) {
    round_.clear();
    // The node that answered last first: its connection is still open.
    if (preferred_) round_.push_back(*preferred_);
    for (const auto& e : known_)
        add_unique(round_, e);
    if (round_.empty()) {
        actions_.push_back(report_error{"no seed node to ask for the cluster topology"});
        return;
    }
    phase_ = phase::asking;
    round_index_ = 0;
    round_errors_.clear();
    ask_current(now);
}

void topology_refresher::ask_current(clock::time_point now) {
    const net::endpoint& next = round_[round_index_];
    if (link_ != link::none && link_address_ == next) {
        if (link_ == link::ready) {
            const bool old =
                std::find(slots_only_.begin(), slots_only_.end(), next) != slots_only_.end();
            shards_refusal_.clear();
            send(next, old ? topology_query::slots : topology_query::shards, now);
        }
        // Still connecting: on_connected() sends.
        return;
    }
    close_link();
    actions_.push_back(connect{next});
    link_ = link::connecting;
    link_address_ = next;
}

void topology_refresher::send(const net::endpoint& address, topology_query q,
                              clock::time_point now) {
    actions_.push_back(send_query{address, q});
    asked_ = q;
    awaiting_reply_ = true;
    reply_deadline_ = now + options_.reply_timeout;
}

void topology_refresher::node_failed(net::endpoint address, std::string_view why,
                                     clock::time_point now) {
    round_errors_.push_back(naming(address, why));
    shards_refusal_.clear();
    awaiting_reply_ = false;
    reply_deadline_.reset();
    // Whatever failed (connection, refusal, garbage, silence), this connection is of no
    // more use, and the node is no longer the one to ask first.
    close_link();
    if (preferred_ == address) preferred_.reset();
    if (++round_index_ < round_.size()) {
        ask_current(now);
        return;
    }
    std::string sentence = "no cluster node answered CLUSTER SHARDS or CLUSTER SLOTS (";
    for (std::size_t i = 0; i < round_errors_.size(); ++i)
        sentence += (i ? "; " : "") + round_errors_[i];
    sentence += ")";
    phase_ = phase::idle;
    round_errors_.clear();
    // Requests made during the round are answered by the timer's next try: every node
    // just failed, so asking again at once would fail the same way.
    again_ = false;
    actions_.push_back(report_error{std::move(sentence)});
}

void topology_refresher::answered(const net::endpoint& address, topology t, clock::time_point now) {
    ++refreshes_;
    const clock::time_point previous = last_refresh_;
    last_refresh_ = now;
    preferred_ = address;
    // Seeds first: they are what the user vouched for; then every node we now know of.
    known_.clear();
    for (const auto& s : options_.seeds)
        add_unique(known_, s);
    for (const auto& e : t.endpoints())
        add_unique(known_, e);
    if (!current_ || current_->signature() != t.signature()) {
        std::optional<topology> before = std::move(current_);
        current_ = std::move(t);
        actions_.push_back(report_change{*current_, std::move(before), previous});
    }
    phase_ = phase::idle;
    round_errors_.clear();
    if (again_) {
        again_ = false;
        begin_round(now);
    }
}

void topology_refresher::close_link() {
    if (link_ == link::none) return;
    actions_.push_back(close{link_address_});
    link_ = link::none;
}

bool topology_refresher::asking(const net::endpoint& address) const noexcept {
    return phase_ == phase::asking && round_[round_index_] == address;
}

}  // namespace ksn::cluster
