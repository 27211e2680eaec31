#include "notifications/engine/node_subscriber.hpp"

#include <utility>

#include "net/error.hpp"

namespace ksn::detail {

using protocol::pubsub_kind;

std::string join_names(const std::vector<subscription_key>& keys) {
    std::string out;
    for (const auto& k : keys) {
        if (!out.empty()) out += ", ";
        out += (k.pattern ? "PSUBSCRIBE " : "SUBSCRIBE ") + k.name;
    }
    return out;
}

std::string run_id_of(std::string_view info) {
    const auto at = info.find("run_id:");
    if (at == std::string_view::npos) return {};
    const auto begin = at + 7;
    const auto end = info.find_first_of("\r\n", begin);
    return std::string(info.substr(begin, end == std::string_view::npos ? end : end - begin));
}

std::optional<std::string> unmet_flags(std::string_view shown, notify_flags configured,
                                       const std::vector<flag_requirement>& requirements) {
    for (const auto& req : requirements) {
        if (req.satisfied_by(configured)) continue;
        notify_flags wanted = configured | req.all_of;
        if (req.any_of != notify_flags::none && !has_any(configured, req.any_of)) {
            const notify_flags classes = req.any_of & notify_flags::all;
            wanted = wanted | (classes != notify_flags::none ? classes : req.any_of);
        }
        std::string need = to_letters(req.all_of);
        if (req.any_of != notify_flags::none) need += " and one of " + to_letters(req.any_of);
        return "notify-keyspace-events is \"" + std::string(shown) +
               "\" but the subscriptions need " + need + " (CONFIG SET notify-keyspace-events " +
               to_letters(wanted) + ", or configure_notifications())";
    }
    return std::nullopt;
}

namespace {

gap_reason reason_of(const std::error_code& ec) {
    if (ec == net::errc::health_check_timeout) return gap_reason::health_check_timeout;
    if (ec == net::errc::protocol_error || ec == net::errc::unexpected_reply) {
        return gap_reason::protocol_error;
    }
    return gap_reason::connection_lost;
}

}  // namespace

node_subscriber::node_subscriber(std::string name, const subscription_registry& registry,
                                 settings s)
    : name_(std::move(name)), registry_(registry), settings_(s) {}

std::size_t node_subscriber::waiting() const noexcept {
    std::size_t n = 0;
    for (const auto& w : waiters_)
        n += w.op != 0 ? 1 : 0;
    return n;
}

node_subscriber::actions node_subscriber::on_ready(clock::time_point now) {
    actions out;
    if (link_ == link::closed || link_ == link::paused) return out;
    link_ = link::ready;
    covered_ = false;
    if (ever_ready_) ++reconnects_;
    ever_ready_ = true;
    // Who answered: a new run_id after a loss means the server restarted. INFO and
    // CONFIG GET go first: on RESP2 no other command is allowed once subscribed.
    out.emplace_back(ask_run_id{});
    flags_refused_ = false;
    flags_asked_ = settings_.check != notify_check::off;
    if (flags_asked_) out.emplace_back(ask_flags{false});
    // Replay every subscription; the node is covered once all are confirmed.
    std::vector<subscription_key> keys;
    for (const bool pattern : {false, true}) {
        for (auto& n : registry_.names(pattern))
            keys.push_back({std::move(n), pattern});
    }
    if (keys.empty()) {
        become_covered(now, out);
        return out;
    }
    send_commands(keys, false, 0, out);
    waiters_.push_back(waiter{0, false, std::move(keys)});
    return out;
}

node_subscriber::actions node_subscriber::on_run_id(std::string_view id) {
    if (gap_ && gap_->reason == gap_reason::connection_lost && !run_id_.empty() && !id.empty()) {
        if (id != run_id_) {
            gap_->reason = gap_reason::server_restarted;
            gap_->detail = name_ + ": the server restarted (new run_id); " + gap_->detail;
        } else if (lost_by_eof_) {
            gap_->reason = gap_reason::server_closed_connection;
            gap_->detail = name_ +
                           ": the server stayed up and closed the connection (most often "
                           "client-output-buffer-limit pubsub: the consumer was too slow; "
                           "else CLIENT KILL or client eviction)";
        }
    }
    if (!id.empty()) run_id_ = std::string(id);
    return {};
}

node_subscriber::actions node_subscriber::on_flags(
    std::string_view letters, clock::time_point now,
    std::optional<clock::time_point> delivered_until) {
    actions out;
    flags_asked_ = false;
    flags_checked_at_ = now;
    configured_ = from_letters(letters);
    if (!configured_) return out;
    auto why = unmet_flags(letters, *configured_, registry_.requirements());
    if (!why) {
        flags_ok_at_ = now;
        if (flags_off_) {
            // Set again: the notifications_disabled gap ends here (or, after a reconnect,
            // once the replay is confirmed).
            flags_off_ = false;
            if (covered_ && ready()) become_covered(now, out);
        }
        return out;
    }
    std::string sentence = name_ + ": " + *why + "; nothing will arrive for those subscriptions";
    out.emplace_back(warn_flags{sentence});
    if (flags_off_ || registry_.empty()) return out;
    flags_off_ = true;
    if (gap_) {
        // After a reconnect (a restart without notifications): one gap, from the loss.
        gap_->detail = sentence + "; the gap began with: " + gap_->detail;
    } else {
        gap_event g;
        g.node = name_;
        // Delivery was whole until the last check that found the flags set, or the last
        // notification read after it.
        clock::time_point since = now;
        if (flags_ok_at_) {
            since = *flags_ok_at_;
            if (delivered_until && *delivered_until > since) since = *delivered_until;
            if (since > now) since = now;
        }
        g.lost = since;
        g.detail = std::move(sentence);
        gap_ = std::move(g);
    }
    gap_->reason = gap_reason::notifications_disabled;
    return out;
}

node_subscriber::actions node_subscriber::on_flags_unanswered(clock::time_point now) {
    flags_asked_ = false;
    flags_checked_at_ = now;
    return {};
}

node_subscriber::actions node_subscriber::on_flags_refused(std::string_view error) {
    actions out;
    configured_.reset();
    flags_asked_ = false;
    flags_refused_ = true;  // not asked again on this connection
    if (!registry_.empty()) {
        out.emplace_back(report{
            severity::warning,
            name_ +
                ": cannot check notify-keyspace-events (CONFIG GET refused: " + std::string(error) +
                "); if notifications are off on the server, nothing will "
                "arrive"});
    }
    return out;
}

node_subscriber::actions node_subscriber::on_confirmation(pubsub_kind kind,
                                                          std::string_view channel,
                                                          clock::time_point now) {
    actions out;
    const bool pattern = kind == pubsub_kind::psubscribe || kind == pubsub_kind::punsubscribe;
    const bool unsubscribe = kind == pubsub_kind::unsubscribe || kind == pubsub_kind::punsubscribe;
    // One confirmation counts for every waiter of the same direction that wants it: an
    // operation waiting for the first connection and that connection's replay both do.
    for (std::size_t i = 0; i < waiters_.size();) {
        waiter& w = waiters_[i];
        if (w.unsubscribe == unsubscribe) {
            for (auto it = w.remaining.begin(); it != w.remaining.end(); ++it) {
                if (it->pattern == pattern && it->name == channel) {
                    w.remaining.erase(it);
                    break;
                }
            }
            if (w.remaining.empty()) {
                finish_waiter(i, {}, {}, now, out);
                continue;
            }
        }
        ++i;
    }
    return out;
}

node_subscriber::actions node_subscriber::on_refused(std::uint64_t op, std::string_view command,
                                                     std::string_view error) {
    actions out;
    for (std::size_t i = 0; i < waiters_.size(); ++i) {
        if (waiters_[i].op != op) continue;
        std::string detail = name_ + ": " + std::string(command) + " " +
                             join_names(waiters_[i].remaining) + " refused: " + std::string(error);
        if (op == 0) {
            // The replay of a new connection: no caller waits for it, so say it; the node
            // stays uncovered (its gap stays open) until a later connection succeeds.
            out.emplace_back(report{severity::error, detail});
        }
        finish_waiter(i, make_error_code(notifier_errc::subscribe_refused), std::move(detail), {},
                      out);
        break;
    }
    return out;
}

node_subscriber::actions node_subscriber::on_disconnected(
    const std::error_code& ec, const std::string& detail, clock::time_point now,
    std::optional<clock::time_point> delivered_until) {
    actions out;
    if (link_ == link::closed || link_ == link::paused) return out;
    // A failed reconnect attempt of an outage already reported: the connection retries
    // fast for a short outage (reconnect_policy::fast_retry_for), so say it at info
    // level, and ask for a topology refresh at most once a second.
    const bool again = link_ == link::down;
    const bool was_covered = covered_ && link_ == link::ready;
    link_ = link::down;
    last_error_ = detail;
    covered_ = false;
    flags_asked_ = false;
    lost_by_eof_ = ec == net::errc::closed_by_peer;
    if (!again) lost_covered_at_ = was_covered ? std::optional(covered_at_) : std::nullopt;
    if (!gap_ && !registry_.empty()) {
        gap_event g;
        g.node = name_;
        // A node never reached: nothing was lost from a connection, it was never served.
        g.reason = ever_ready_ ? reason_of(ec) : gap_reason::node_unreachable;
        g.detail = detail;
        // Delivery stopped with the last thing read, not when the loss was noticed (a
        // stalled node is noticed by the health check seconds later).
        g.lost = now;
        if (was_covered) {
            g.lost = std::max(covered_at_, delivered_until.value_or(covered_at_));
            if (g.lost > now) g.lost = now;
        }
        gap_ = std::move(g);
    }
    out.emplace_back(report{again ? severity::info : severity::warning, detail});
    fail_waiters(make_error_code(notifier_errc::not_connected), detail,
                 settings_.subscribe_when_disconnected == when_disconnected::queue, out);
    if (!again || now - last_lost_ >= std::chrono::seconds(1)) {
        last_lost_ = now;
        out.emplace_back(lost{});
    }
    return out;
}

node_subscriber::actions node_subscriber::on_closed(const std::error_code& ec,
                                                    const std::string& detail,
                                                    clock::time_point now) {
    // A close of our own (close(), an overflow pause) was decided here already.
    if (link_ == link::closed || link_ == link::paused) return {};
    if (ec == net::errc::closed) return close(false);
    actions out;
    link_ = link::closed;
    covered_ = false;
    last_error_ = detail;
    gave_up_ = detail;
    out.emplace_back(report{severity::error, detail});
    if (!registry_.empty()) {
        gap_event g = gap_ ? std::move(*gap_) : gap_event{};
        if (!gap_) g.lost = now;
        g.node = name_;
        g.reason = gap_reason::node_closed;
        g.detail = detail;
        g.restored.reset();
        if (g.slots.empty()) g.slots = slots_;
        gap_.reset();
        ++gaps_;
        out.emplace_back(emit_gap{std::move(g)});
    }
    fail_waiters(make_error_code(notifier_errc::closed), detail, false, out);
    out.emplace_back(lost{});
    return out;
}

std::optional<clock::time_point> node_subscriber::next_deadline() const noexcept {
    if (link_ != link::ready || settings_.check == notify_check::off || flags_asked_ ||
        flags_refused_ || settings_.flags_check_interval.count() <= 0 || registry_.empty()) {
        return std::nullopt;
    }
    return flags_checked_at_ + settings_.flags_check_interval;
}

node_subscriber::actions node_subscriber::on_timer(clock::time_point now) {
    actions out;
    const auto due = next_deadline();
    if (!due || now < *due) return out;
    flags_asked_ = true;
    out.emplace_back(ask_flags{true});
    return out;
}

node_subscriber::actions node_subscriber::send(const std::vector<subscription_key>& keys,
                                               bool unsubscribe, std::uint64_t op,
                                               clock::time_point now) {
    actions out;
    if (link_ == link::closed) {
        // Given up (auth, TLS files, attempts exhausted): say why, it is what the caller
        // needs to fix.
        out.emplace_back(complete{
            op, make_error_code(notifier_errc::closed),
            gave_up_.empty()
                ? name_ + ": closed"
                : gave_up_ + " (given up); not " +
                      (unsubscribe ? std::string("unsubscribed: ") : std::string("subscribed: ")) +
                      join_names(keys)});
        return out;
    }
    if (link_ != link::ready) {
        if (unsubscribe) {
            out.emplace_back(complete{op, {}, {}});  // the next connection will not subscribe them
            return out;
        }
        switch (link_) {
            case link::first_attempt:
                // Before the first connection, wait for it (its replay sends them).
                waiters_.push_back(waiter{op, false, keys});
                return out;
            case link::paused:
                out.emplace_back(complete{op, {}, {}});  // replayed on resume
                return out;
            default:
                break;
        }
        if (settings_.subscribe_when_disconnected == when_disconnected::fail) {
            out.emplace_back(
                complete{op, make_error_code(notifier_errc::not_connected),
                         name_ + ": not connected (disconnected" +
                             (last_error_.empty() ? std::string() : ": " + last_error_) +
                             "); not subscribed: " + join_names(keys)});
        } else {
            // Queued: replayed by the next connection, and what the node publishes until
            // then is lost to it. The loss of the connection opened a gap only if something
            // was subscribed then; open it here otherwise, so that whether the outage began
            // before or after this subscribe, its replay is announced by a gap.
            if (!gap_) {
                gap_event g;
                g.node = name_;
                g.reason = ever_ready_ ? gap_reason::connection_lost : gap_reason::node_unreachable;
                g.detail = (last_error_.empty() ? name_ + ": not connected" : last_error_) +
                           "; subscribed while disconnected: notifications are lost until "
                           "the next connection subscribes";
                g.lost = now;
                gap_ = std::move(g);
            }
            out.emplace_back(complete{op, {}, {}});
        }
        return out;
    }
    send_commands(keys, unsubscribe, op, out);
    waiters_.push_back(waiter{op, unsubscribe, keys});
    return out;
}

std::vector<subscription_key> node_subscriber::cancel(std::uint64_t op) {
    for (std::size_t i = 0; i < waiters_.size(); ++i) {
        if (waiters_[i].op != op) continue;
        auto keys = std::move(waiters_[i].remaining);
        waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(i));
        return keys;
    }
    return {};
}

node_subscriber::actions node_subscriber::pause_for_overflow(clock::time_point now) {
    actions out;
    if (link_ == link::paused || link_ == link::closed) return out;
    link_ = link::paused;
    covered_ = false;
    if (!gap_) {
        gap_event g;
        g.node = name_;
        g.reason = gap_reason::slow_consumer_disconnect;
        g.detail = name_ +
                   ": the queue was full (overflow_policy::disconnect): disconnected until the "
                   "consumer caught up";
        g.lost = now;
        gap_ = std::move(g);
    }
    // Waiting operations stay: the connection after resume() replays every subscription.
    out.emplace_back(disconnect{});
    return out;
}

node_subscriber::actions node_subscriber::resume() {
    actions out;
    if (link_ != link::paused) return out;
    link_ = link::down;
    // The replay of the connection that was paused will never be confirmed.
    for (std::size_t i = 0; i < waiters_.size();) {
        if (waiters_[i].op == 0) {
            waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
            ++i;
        }
    }
    out.emplace_back(reconnect{});
    return out;
}

node_subscriber::actions node_subscriber::expect_gap(gap_event gap, clock::time_point now) {
    actions out;
    // Already interrupted: one gap covers both, from the earlier start.
    if (gap_) gap.lost = std::min(gap.lost, gap_->lost);
    gap.node = name_;
    gap_ = std::move(gap);
    if (covered_ && ready()) become_covered(now, out);
    return out;
}

node_subscriber::actions node_subscriber::expect_unreachable(clock::time_point lost,
                                                             const std::string& why,
                                                             clock::time_point now) {
    actions out;
    if (link_ == link::closed) return out;  // given up: its node_closed gap was reported
    if (!gap_) {
        gap_event g;
        g.node = name_;
        g.reason = gap_reason::node_unreachable;
        g.detail = name_ + ": subscribed without this node (" + why +
                   "); its notifications may be lost until it is subscribed";
        g.lost = lost;
        gap_ = std::move(g);
    }
    if (covered_ && ready()) become_covered(now, out);
    return out;
}

node_subscriber::actions node_subscriber::close(bool retired) {
    actions out;
    if (link_ == link::closed) return out;
    link_ = link::closed;
    covered_ = false;
    // Retired: completes them, this node needs nothing more.
    if (retired) {
        fail_waiters({}, {}, true, out);
    } else {
        fail_waiters(make_error_code(notifier_errc::closed), name_ + ": closed", false, out);
    }
    out.emplace_back(disconnect{});
    return out;
}

void node_subscriber::send_commands(const std::vector<subscription_key>& keys, bool unsubscribe,
                                    std::uint64_t op, actions& out) const {
    for (const bool pattern : {false, true}) {
        send_command cmd;
        cmd.op = op;
        cmd.args.emplace_back(unsubscribe ? (pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE")
                                          : (pattern ? "PSUBSCRIBE" : "SUBSCRIBE"));
        for (const auto& k : keys) {
            if (k.pattern == pattern) cmd.args.push_back(k.name);
        }
        if (cmd.args.size() > 1) out.emplace_back(std::move(cmd));
    }
}

void node_subscriber::become_covered(clock::time_point now, actions& out) {
    if (!covered_) covered_at_ = now;
    covered_ = true;
    // Subscribed, but the server publishes nothing: the gap stays open until the flags
    // are set again.
    if (!gap_ || flags_off_) return;
    gap_->restored = now;
    if (gap_->slots.empty()) gap_->slots = slots_;
    ++gaps_;
    out.emplace_back(emit_gap{std::move(*gap_)});
    gap_.reset();
}

void node_subscriber::finish_waiter(std::size_t index, const std::error_code& ec,
                                    std::string detail, clock::time_point now, actions& out) {
    const std::uint64_t op = waiters_[index].op;
    waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(index));
    if (op == 0) {
        if (!ec) become_covered(now, out);  // the replay is confirmed
        return;
    }
    out.emplace_back(complete{op, ec, std::move(detail)});
}

void node_subscriber::fail_waiters(const std::error_code& ec, const std::string& detail,
                                   bool keep_subscribes, actions& out) {
    std::vector<waiter> waiters;
    waiters.swap(waiters_);
    for (auto& w : waiters) {
        if (w.op == 0) continue;  // the replay: the next connection replays again
        if (w.unsubscribe || keep_subscribes) {
            // A lost connection unsubscribes everything anyway; a kept subscribe is
            // replayed by the next connection.
            out.emplace_back(complete{w.op, {}, {}});
        } else {
            out.emplace_back(
                complete{w.op, ec, detail + "; not subscribed: " + join_names(w.remaining)});
        }
    }
}

}  // namespace ksn::detail
