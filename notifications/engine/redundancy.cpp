#include "notifications/engine/redundancy.hpp"

#include <asio/post.hpp>

#include "notifications/engine/handover.hpp"
#include "notifications/engine/notifier_core.hpp"

namespace ksn::detail {

namespace {

std::string ms_ago(clock::time_point t) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t);
    return std::to_string(ms.count()) + " ms ago";
}

}  // namespace

std::shared_ptr<redundancy> redundancy::create(notifier_core& core, std::string who,
                                               replica_window::limits limits,
                                               std::chrono::milliseconds switch_back) {
    auto r = std::make_shared<redundancy>(core, std::move(who), limits, switch_back);
    std::weak_ptr<redundancy> weak = r;
    r->switch_back_->on_end = [weak](const std::string&, const std::string& to, bool ok) {
        if (auto self = weak.lock()) self->handed_back(to, ok);
    };
    return r;
}

redundancy::redundancy(notifier_core& core, std::string who, replica_window::limits limits,
                       std::chrono::milliseconds switch_back)
    : core_(core),
      who_(std::move(who)),
      limits_(limits),
      // A switch back needs a timeout even when handovers are off.
      switch_back_(handover_runner::create(
          core, who_, switch_back.count() > 0 ? switch_back : std::chrono::milliseconds(5000), 0,
          true)) {}

void redundancy::pair(const std::string& primary, const net::endpoint& replica) {
    if (stopped_) return;
    const std::string name = replica.to_string();
    if (auto it = pairs_.find(primary); it != pairs_.end()) {
        if (it->second.replica == name) {
            if (it->second.replid.empty() && !it->second.conn) ask_replid(primary);
            return;
        }
        unpair(primary);
    }
    auto* p = core_.find_node(primary);
    if (p == nullptr || name == primary || core_.find_node(name) != nullptr) return;
    pair_state s;
    s.replica = name;
    s.window = std::make_shared<replica_window>(limits_);
    p->set_window(s.window, false);
    auto& r = core_.add_node(replica);
    r.set_window(s.window, true);
    pairs_.emplace(primary, std::move(s));
    core_.report(severity::info, who_ + ": " + name + " stands by for " + primary +
                                     " (redundancy: its stream is held, and continues " + primary +
                                     "'s if that one stops)");
    ask_replid(primary);
}

void redundancy::unpair(const std::string& primary) {
    auto it = pairs_.find(primary);
    if (it == pairs_.end()) return;
    auto s = std::move(it->second);
    pairs_.erase(it);
    if (s.conn) s.conn->close();
    switch_back_->cancel(primary);
    if (auto* p = core_.find_node(primary)) p->set_window(nullptr, false);
    core_.remove_node(s.replica, std::nullopt);
}

const std::string* redundancy::standby_of(const std::string& primary) const {
    const auto it = pairs_.find(primary);
    return it == pairs_.end() ? nullptr : &it->second.replica;
}

bool redundancy::following(const std::string& primary) const {
    const auto it = pairs_.find(primary);
    return it != pairs_.end() && it->second.st != state::holding;
}

std::vector<std::string> redundancy::primaries() const {
    std::vector<std::string> out;
    for (const auto& [name, p] : pairs_)
        out.push_back(name);
    return out;
}

redundancy::iterator redundancy::pair_of_standby(const std::string& replica) {
    for (auto it = pairs_.begin(); it != pairs_.end(); ++it) {
        if (it->second.replica == replica) return it;
    }
    return pairs_.end();
}

std::optional<redundancy::promotion> redundancy::promoted(const std::string& replica) {
    auto it = pair_of_standby(replica);
    if (it == pairs_.end()) return std::nullopt;
    promotion out;
    out.primary = it->first;
    auto s = std::move(it->second);
    pairs_.erase(it);
    if (s.conn) s.conn->close();
    switch_back_->cancel(out.primary);
    if (auto* p = core_.find_node(out.primary)) p->set_window(nullptr, false);
    auto* r = core_.find_node(replica);
    if (r == nullptr) return std::nullopt;
    if (s.st == state::holding) {
        // Promoted while its primary seemed whole: a stalled primary is found out by the
        // health check only later, a demoted one goes on publishing what it replicates. The
        // window is replayed from where the primary's stream was last known whole; what the
        // primary delivers later is marked by the handover (cluster controller).
        const auto* p = core_.find_node(out.primary);
        auto whole = clock::now();
        if (p != nullptr) {
            whole = p->covered() ? p->covered_at() : p->gap_start().value_or(whole);
            if (const auto m = p->last_message(); m && *m > whole) whole = *m;
            if (const auto ping = p->ping_answered(); ping && *ping > whole) whole = *ping;
        }
        const auto since = s.window->complete_since();
        std::string why_not;
        if (s.followed_until && clock::now() - *s.followed_until <= limits_.age) {
            // It followed the primary until its own stream broke, and the primary's stream
            // was covered again since (its gap counts from that break): what the standby
            // acknowledged as a primary before it was subscribed again may be lost, from
            // the break (a primary stalled past its promotion and resumed before the
            // promotion was known: the sentinels cut the standby as they promote it).
            whole = *s.followed_until;
            out.continued = !since || *since <= whole;
            out.cut = s.followed_until;
            if (!out.continued) why_not = "its window forgot messages since its stream broke";
        } else {
            const bool window_whole = !since || *since <= whole;
            // Its own stream whole since before that: unbroken, or until the server cut it.
            const bool unbroken = r->covered() && !r->gap_start() && r->covered_at() <= whole;
            const bool until_cut = !unbroken && s.cut && s.cut_whole_since &&
                                   *s.cut_whole_since <= whole && whole <= *s.cut;
            out.continued = window_whole && (unbroken || until_cut);
            if (until_cut) out.cut = s.cut;
            if (!window_whole) {
                why_not = "its window forgot messages since " + ms_ago(*since);
            } else if (!out.continued) {
                why_not =
                    "its own stream is whole only since " +
                    (r->covered() ? ms_ago(r->covered_at()) : std::string("(not subscribed)"));
            }
        }
        std::size_t replayed = 0;
        if (out.continued) {
            const auto replay = s.window->take_over(whole);
            for (const auto& m : replay)
                (void)core_.dispatch(m.frame, m.received, r->counters(), true);
            replayed = replay.size();
        }
        r->set_window(nullptr, false);
        if (out.continued) {
            core_.report(severity::info,
                         who_ + ": " + replica + ", standby of " + out.primary +
                             ", is a primary now; its stream continues " + out.primary +
                             "'s from where that was last known whole (" + ms_ago(whole) +
                             (out.cut ? ") until its own was cut (" + ms_ago(*out.cut) : "") +
                             "), " + std::to_string(replayed) +
                             " notifications replayed as redelivered");
        } else {
            core_.report(severity::warning,
                         who_ + ": " + replica + ", standby of " + out.primary +
                             ", is a primary now, but its stream does not continue " + out.primary +
                             "'s from where that was last known whole (" + ms_ago(whole) +
                             "): " + why_not);
        }
        return out;
    }
    r->set_window(nullptr, false);
    const bool unbroken = !s.replica_lost && r->serial() == s.serial &&
                          r->reconnects() == s.reconnects && r->covered() && !r->gap_start();
    out.continued = unbroken || s.replica_lost.has_value();
    out.cut = s.replica_lost;
    return out;
}

void redundancy::ask_replid(const std::string& primary) {
    auto it = pairs_.find(primary);
    auto* p = core_.find_node(primary);
    if (it == pairs_.end() || p == nullptr) return;
    auto opts = core_.options().connection;
    opts.address = p->address();
    auto conn = net::command_connection::create(core_.io(), opts, nullptr, nullptr);
    it->second.conn = conn;
    std::weak_ptr<redundancy> weak = shared_from_this();
    conn->command(
        {"INFO", "replication"},
        [weak, primary, c = conn.get()](const std::error_code& ec, const protocol::value& v) {
            auto self = weak.lock();
            if (!self) return;
            self->core_.events().guarded("redundancy", [&] {
                auto it = self->pairs_.find(primary);
                if (it == self->pairs_.end() || it->second.conn.get() != c) return;
                // Drop the one-shot connection outside its own handler.
                asio::post(self->core_.io(), [conn = std::move(it->second.conn)] {
                    if (conn) conn->close();
                });
                if (ec) return;  // asked again at the next pair()
                const auto info = parse_replication_info(v.data);
                if (info.role == "master") it->second.replid = info.replid;
            });
        });
    conn->start();
}

void redundancy::lost(const std::string& node) {
    if (stopped_) return;
    if (auto it = pairs_.find(node); it != pairs_.end()) {
        if (it->second.st == state::holding) take_over(node, it->second);
        return;
    }
    auto it = pair_of_standby(node);
    if (it == pairs_.end()) return;
    auto* r = core_.find_node(node);
    if (it->second.st == state::holding) {
        // Cut by the server (as the sentinels do when they promote it): its stream was
        // whole until now, from when that connection was covered.
        if (r && r->lost_by_eof() && r->lost_covered_at()) {
            it->second.cut = clock::now();
            it->second.cut_whole_since = r->lost_covered_at();
        } else {
            it->second.cut.reset();
            it->second.cut_whole_since.reset();
        }
        return;
    }
    // A connection the server closed (CLIENT KILL: the sentinels cut a replica's
    // subscribers when they promote it; or its process ended) delivered everything sent
    // before the close, so the stream was whole until the close was read: now. Any other
    // loss counts from where the stream was last known whole.
    auto at = clock::now();
    if (r && r->open_gap() && !r->lost_by_eof()) at = r->open_gap()->lost;
    if (!it->second.replica_lost) it->second.replica_lost = at;
    core_.report(severity::warning, who_ + ": " + node + ", delivering for " + it->first +
                                        ", lost its connection too: what neither delivers "
                                        "from now on is reported as " +
                                        it->first + "'s gap");
}

void redundancy::take_over(const std::string& primary, pair_state& s) {
    auto* p = core_.find_node(primary);
    auto* r = core_.find_node(s.replica);
    if (p == nullptr) return;
    const auto whole_until = p->open_gap() ? p->open_gap()->lost : clock::now();
    std::string why_not;
    if (r == nullptr || !r->covered()) {
        why_not = "it is not subscribed";
    } else if (r->open_gap()) {
        why_not = "its own stream is interrupted (" + r->open_gap()->detail + ")";
    } else if (r->covered_at() > whole_until) {
        why_not = "its own stream is whole only since " + ms_ago(r->covered_at());
    } else if (const auto since = s.window->complete_since(); since && *since > whole_until) {
        why_not = "its window lost messages since the stop (redundancy_window_bytes)";
    }
    if (!why_not.empty()) {
        core_.report(severity::warning, who_ + ": " + primary + "'s stream stopped; its standby " +
                                            s.replica + " cannot continue it: " + why_not);
        return;
    }
    const auto replay = s.window->take_over(whole_until);
    for (const auto& m : replay)
        (void)core_.dispatch(m.frame, m.received, r->counters(), true);
    s.st = state::following;
    s.serial = r->serial();
    s.reconnects = r->reconnects();
    s.replica_lost.reset();
    s.followed_until.reset();
    s.since = whole_until;
    core_.report(severity::info, who_ + ": " + primary + "'s stream stopped; its standby " +
                                     s.replica + " continues it from where it was last whole (" +
                                     ms_ago(whole_until) + "), " + std::to_string(replay.size()) +
                                     " notifications replayed as redelivered");
}

void redundancy::cover(const std::string& former, clock::time_point until) {
    covered_[former] = until;
}

bool redundancy::covers(const std::string& former) const {
    return covered_.count(former) != 0;
}

std::optional<gap_event> redundancy::retired(const std::string& former,
                                             std::optional<gap_event> gap, bool gone) {
    const auto c = covered_.find(former);
    if (c == covered_.end()) return gap;
    if (gap && gone) {
        gap.reset();
    } else if (gap) {
        gap->lost = std::max(gap->lost, c->second);
        gap->detail += "; its standby delivered in its place until it was promoted";
    }
    covered_.erase(c);
    return gap;
}

std::optional<gap_event> redundancy::filter(node_link& node, gap_event gap) {
    if (node.standby()) return std::nullopt;  // only a stream that delivers can lose
    if (const auto c = covered_.find(node.name()); c != covered_.end()) {
        // A former primary covered until its standby's promotion: only what came after.
        if (gap.restored && *gap.restored <= c->second) return std::nullopt;
        gap.lost = std::max(gap.lost, c->second);
        gap.detail += "; its standby delivered in its place until it was promoted";
        return gap;
    }
    auto it = pairs_.find(node.name());
    if (it == pairs_.end()) return gap;
    auto& s = it->second;
    if (s.st != state::following) return gap;  // holding, or a switch back that failed
    if (s.replica_lost) {
        gap.lost = std::max(gap.lost, *s.replica_lost);
        gap.detail += "; its standby " + s.replica + " delivered in its place until it broke too";
        s.window->hand_back();
        s.st = state::holding;
        s.followed_until = s.replica_lost;
        return gap;
    }
    s.st = state::switching_back;
    s.window->primary_resumed(node.ready_at().value_or(clock::now()));
    gap.detail += "; its standby " + s.replica + " delivered in its place";
    // An unknown replication id never matches: without it the switch back cannot prove
    // that the replica followed this primary's history throughout.
    if (!switch_back_->start(node.name(), s.replica, gap,
                             s.replid.empty() ? std::string("(unknown)") : s.replid)) {
        s.window->hand_back();
        s.st = state::holding;
        gap.detail += ", but could not be checked against it";
        return gap;
    }
    return std::nullopt;
}

void redundancy::filter_gaps() {
    std::weak_ptr<redundancy> weak = shared_from_this();
    core_.gap_filter = [weak](node_link& node, gap_event gap) -> std::optional<gap_event> {
        auto self = weak.lock();
        if (!self) return gap;
        return self->filter(node, std::move(gap));
    };
}

void redundancy::handed_back(const std::string& primary, bool) {
    auto it = pairs_.find(primary);
    if (it == pairs_.end()) return;
    // A failure's gap was given to the primary already (handover_runner).
    it->second.window->hand_back();
    it->second.st = state::holding;
}

void redundancy::stop() {
    stopped_ = true;
    switch_back_->stop();
    covered_.clear();
    for (auto& [name, s] : pairs_) {
        if (s.conn) s.conn->close();
    }
    pairs_.clear();
}

}  // namespace ksn::detail
