#include "notifications/engine/handover.hpp"

#include <charconv>

namespace ksn::detail {

namespace {

std::int64_t to_offset(std::string_view v) {
    std::int64_t out = -1;
    const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
    return r.ec == std::errc() && r.ptr == v.data() + v.size() ? out : -1;
}

bool all_zeros(std::string_view id) {
    return id.find_first_not_of('0') == std::string_view::npos;
}

}  // namespace

replication_info parse_replication_info(std::string_view info) {
    replication_info out;
    while (!info.empty()) {
        const auto end = info.find('\n');
        std::string_view line = info.substr(0, end);
        info = end == std::string_view::npos ? std::string_view() : info.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        const auto name = line.substr(0, colon);
        const auto value = line.substr(colon + 1);
        if (name == "role") {
            out.role = value;
        } else if (name == "master_replid") {
            out.replid = value;
        } else if (name == "master_replid2") {
            out.replid2 = value;
        } else if (name == "master_repl_offset") {
            out.offset = to_offset(value);
        } else if (name == "slave_repl_offset") {
            out.applied = to_offset(value);
        }
    }
    return out;
}

std::string not_caught_up(const replication_info& n, const replication_info& o,
                          std::string_view continued_replid) {
    if (n.role != "master" || n.replid.empty() || n.offset < 0)
        return "the new primary's replication state is unknown";
    if (o.role != "slave") return "it is not a replica (yet)";
    if (o.replid != n.replid) return "it does not replicate from the new primary (yet)";
    if (!continued_replid.empty()) {
        if (n.replid != continued_replid) {
            return "the primary's replication id changed (it restarted or was reset), so its "
                   "replica resynchronized in full (the writes of a snapshot publish nothing)";
        }
    } else if (all_zeros(n.replid2) || o.replid2 != n.replid2) {
        return "it resynchronized in full (its writes from the snapshot publish nothing)";
    }
    if (o.applied < n.offset) {
        return "it applied replication offset " + std::to_string(o.applied) + " of " +
               std::to_string(n.offset);
    }
    return {};
}

handover::action handover::finish(action a, std::string why) {
    stage_ = stage::over;
    failure_ = std::move(why);
    return a;
}

handover::action handover::on_tick(clock::time_point now, bool new_covered, bool old_unbroken,
                                   std::optional<clock::time_point> old_ping_answered) {
    if (stage_ == stage::over) return action::wait;
    if (!old_unbroken) return finish(action::fail, "the connection to " + from_ + " broke");
    if (!started_) started_ = now;
    if (stage_ == stage::covering && now >= *started_ + 3 * timeout_) {
        return finish(action::fail, to_ + " was not subscribed within " +
                                        std::to_string(3 * timeout_.count()) + " ms");
    }
    if (deadline_ && now >= *deadline_) {
        const auto ms = std::to_string(timeout_.count());
        return finish(action::fail, from_ + " did not catch up within " + ms + " ms" +
                                        (behind_.empty() ? "" : ": " + behind_));
    }
    switch (stage_) {
        case stage::covering:
            if (!new_covered) return action::wait;
            deadline_ = now + timeout_;
            stage_ = stage::asking_new;
            asked_ = true;
            return action::ask_new;
        case stage::asking_new:
            return action::wait;
        case stage::catching_up:
            if (asked_) return action::wait;
            asked_ = true;
            return action::ask_old;
        case stage::pinging:
            if (ping_due_) {
                ping_due_ = false;
                return action::ping_old;
            }
            if (old_ping_answered && *old_ping_answered >= caught_up_at_) {
                return finish(action::succeed);
            }
            return action::wait;
        case stage::over:
            break;
    }
    return action::wait;
}

void handover::new_answered(const std::optional<replication_info>& info, clock::time_point) {
    if (stage_ != stage::asking_new) return;
    asked_ = false;
    if (!info) {  // asked again at the next tick
        stage_ = stage::covering;
        deadline_.reset();
        return;
    }
    new_ = *info;
    stage_ = stage::catching_up;
}

void handover::old_answered(const std::optional<replication_info>& info, clock::time_point now) {
    if (stage_ != stage::catching_up) return;
    asked_ = false;
    if (!info) {
        behind_ = "it did not answer INFO replication";
        return;
    }
    behind_ = not_caught_up(new_, *info, continued_replid_);
    if (!behind_.empty()) return;
    // Caught up: a PING sent from now on is answered after everything it published.
    caught_up_at_ = now;
    stage_ = stage::pinging;
    ping_due_ = true;
}

}  // namespace ksn::detail
