#include "notifications/engine/event_queue.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace ksn {

event_queue::event_queue(std::size_t capacity, overflow_policy policy)
    : slots_(capacity), policy_(policy) {
    if (capacity == 0) throw std::invalid_argument("ksn: queue_capacity must be at least 1");
}

void event_queue::set_drained_callback(std::function<void()> cb) {
    std::lock_guard lock(mutex_);
    drained_ = std::move(cb);
}

std::size_t event_queue::size() const {
    std::lock_guard lock(mutex_);
    return count_;
}
std::size_t event_queue::high_water() const {
    std::lock_guard lock(mutex_);
    return high_water_;
}
std::uint64_t event_queue::dropped() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

event_queue::node_losses event_queue::losses_of(std::string_view node) const {
    std::lock_guard lock(mutex_);
    const auto it = losses_.find(node);
    return it == losses_.end() ? node_losses{} : it->second;
}

event_queue::node_losses& event_queue::losses(std::string_view node) {
    auto it = losses_.find(node);
    if (it == losses_.end()) it = losses_.emplace(std::string(node), node_losses{}).first;
    return it->second;
}

void event_queue::wake() {
    if (hold_) {
        ++held_;
        return;
    }
    if (waiting_ > 0) cv_.notify_one();
}

void event_queue::release_wakes() {
    std::lock_guard lock(mutex_);
    hold_ = false;
    if (held_ > 0 && waiting_ > 0) {
        // One push woke one consumer before; several may now feed several consumers.
        if (held_ > 1) {
            cv_.notify_all();
        } else {
            cv_.notify_one();
        }
    }
    held_ = 0;
}

event_queue::slot& event_queue::claim_tail() {
    slot& s = slots_[(head_ + count_) % slots_.size()];
    ++count_;
    high_water_ = std::max(high_water_, count_);
    // Gaps that happened since the previous slot precede this one.
    s.gaps_before.clear();
    s.gaps_before.swap(tail_gaps_);
    return s;
}

void event_queue::record_drop(std::vector<gap_event>& into, std::string_view node,
                              clock::time_point when) {
    ++dropped_;
    node_losses& mine = losses(node);
    ++mine.dropped;
    if (!into.empty()) {
        gap_event& last = into.back();
        if (last.reason == gap_reason::queue_overflow && last.node == node) {
            ++last.dropped;
            last.restored = when;
            return;
        }
    }
    ++mine.gaps;
    gap_event g;
    g.node.assign(node);
    g.reason = gap_reason::queue_overflow;
    g.lost = when;
    g.restored = when;
    g.dropped = 1;
    g.detail = std::string(node) + ": the consumer fell behind and ksn's queue (capacity " +
               std::to_string(slots_.size()) + ") overflowed; notifications were dropped";
    into.push_back(std::move(g));
}

event_queue::push_result event_queue::push_notification(
    std::string_view channel, std::string_view payload, std::string_view pattern,
    std::string_view node, clock::time_point received,
    const std::shared_ptr<const notification_handler>& handler, bool redelivered) {
    std::unique_lock lock(mutex_);
    if (count_ == slots_.size()) {
        switch (policy_) {
            case overflow_policy::drop_newest:
                record_drop(tail_gaps_, node, received);
                return push_result::dropped;
            case overflow_policy::disconnect:
                // Its gap is the node's slow_consumer_disconnect one.
                ++dropped_;
                ++losses(node).dropped;
                wants_drained_ = true;
                return push_result::full;
            case overflow_policy::drop_oldest: {
                slot& old = slots_[head_];
                // The evicted slot's gaps and the loss itself now precede the next slot.
                std::vector<gap_event> carry;
                carry.swap(old.gaps_before);
                const std::string_view lost_node = old.type == delivery::type::notification
                                                       ? std::string_view(old.node)
                                                       : std::string_view();
                if (old.type == delivery::type::notification) {
                    record_drop(carry, lost_node, old.received);
                }
                head_ = (head_ + 1) % slots_.size();
                --count_;
                std::vector<gap_event>& next = count_ > 0 ? slots_[head_].gaps_before : tail_gaps_;
                if (!carry.empty()) {
                    carry.insert(carry.end(), std::make_move_iterator(next.begin()),
                                 std::make_move_iterator(next.end()));
                    next.swap(carry);
                }
                break;
            }
        }
    }
    slot& s = claim_tail();
    s.type = delivery::type::notification;
    s.channel.assign(channel);
    s.payload.assign(payload);
    s.pattern.assign(pattern);
    s.node.assign(node);
    s.received = received;
    s.redelivered = redelivered;
    s.handler = handler;
    wake();
    return push_result::queued;
}

void event_queue::push_gap(gap_event gap) {
    std::lock_guard lock(mutex_);
    tail_gaps_.push_back(std::move(gap));
    wake();
}

void event_queue::push_confirmation(const confirmation& c) {
    std::lock_guard lock(mutex_);
    if (count_ == slots_.size()) return;  // confirmations are informational; never evict for one
    slot& s = claim_tail();
    s.type = delivery::type::confirmation;
    s.conf = c;
    s.handler.reset();
    wake();
}

void event_queue::push_invalid(invalid_notification i) {
    std::lock_guard lock(mutex_);
    if (count_ == slots_.size()) return;
    slot& s = claim_tail();
    s.type = delivery::type::invalid;
    s.invalid = std::move(i);
    s.handler.reset();
    wake();
}

bool event_queue::pop(delivery& out, clock::duration timeout,
                      std::optional<clock::time_point>& deadline) {
    std::function<void()> drained;
    {
        std::unique_lock lock(mutex_);
        const auto available = [&] { return count_ > 0 || !tail_gaps_.empty() || closed_; };
        if (!available()) {
            if (!deadline) deadline = clock::now() + timeout;
            ++waiting_;
            const bool ready = cv_.wait_until(lock, *deadline, available);
            --waiting_;
            if (!ready) return false;
        }
        if (count_ == 0 && tail_gaps_.empty()) return false;  // closed and drained

        std::vector<gap_event>& gaps = count_ > 0 ? slots_[head_].gaps_before : tail_gaps_;
        if (!gaps.empty()) {
            out.type_ = delivery::type::gap;
            out.gap_ = std::move(gaps.front());
            gaps.erase(gaps.begin());
            out.handler_.reset();
            return true;
        }
        slot& s = slots_[head_];
        out.type_ = s.type;
        if (s.type == delivery::type::confirmation) {
            out.confirmation_ = std::move(s.conf);
        } else if (s.type == delivery::type::invalid) {
            out.invalid_ = std::move(s.invalid);
        } else {
            out.channel_.swap(s.channel);
            out.payload_.swap(s.payload);
            out.pattern_.swap(s.pattern);
            out.node_.swap(s.node);
            out.received_ = s.received;
            out.redelivered_ = s.redelivered;
            out.handler_ = std::move(s.handler);
        }
        --count_;
        // Empty: start again at the front, so that a consumer that keeps up cycles through
        // a few slots that stay in cache instead of walking the whole ring (a cold slot
        // and cold string buffers per notification).
        head_ = count_ == 0 ? 0 : (head_ + 1) % slots_.size();
        if (wants_drained_ && count_ <= slots_.size() / 2) {
            wants_drained_ = false;
            drained = drained_;
        }
    }
    if (drained) drained();
    return true;
}

void event_queue::close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
}

}  // namespace ksn
