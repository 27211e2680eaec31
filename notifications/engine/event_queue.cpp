#include "notifications/engine/event_queue.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace ksn {

event_queue::event_queue(std::size_t capacity, overflow_policy policy)
    : capacity_(capacity), policy_(policy) {
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
std::size_t event_queue::slots_allocated() const {
    std::lock_guard lock(mutex_);
    return slots_.size();
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

event_queue::rare& event_queue::more(slot& s) {
    if (!s.more) s.more = std::make_unique<rare>();
    return *s.more;
}

void event_queue::grow() {
    // Doubling keeps the moves amortized O(1) per push; the ring is unrolled first so
    // that the new slots come after its newest one.
    std::rotate(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(head_), slots_.end());
    head_ = 0;
    slots_.resize(std::min(capacity_, std::max<std::size_t>(16, slots_.size() * 2)));
}

event_queue::slot& event_queue::claim_tail() {
    if (count_ == slots_.size()) grow();
    slot& s = slots_[(head_ + count_) % slots_.size()];
    ++count_;
    high_water_ = std::max(high_water_, count_);
    // Gaps that happened since the previous slot precede this one.
    if (s.more) s.more->gaps_before.clear();
    if (!tail_gaps_.empty()) more(s).gaps_before.swap(tail_gaps_);
    return s;
}

const std::string* event_queue::intern(std::string_view node) {
    if (last_node_ != nullptr && *last_node_ == node) return last_node_;
    auto it = nodes_.find(node);
    if (it == nodes_.end()) it = nodes_.emplace(node).first;
    last_node_ = &*it;
    return last_node_;
}

detail::handler_pin* event_queue::pin(const std::shared_ptr<const notification_handler>& handler) {
    if (!handler) return nullptr;
    if (last_pin_ == nullptr || last_pin_->handler != handler) {
        auto& p = pins_[handler.get()];
        if (!p.handler) p.handler = handler;
        last_pin_ = &p;
    }
    ++last_pin_->uses;
    return last_pin_;
}

void event_queue::unpin(detail::handler_pin* p,
                        std::shared_ptr<const notification_handler>& doomed) {
    if (p == nullptr || --p->uses > 0) return;
    if (last_pin_ == p) last_pin_ = nullptr;
    doomed = std::move(p->handler);
    pins_.erase(doomed.get());
}

const notification_handler* event_queue::handler_of(const delivery& out) noexcept {
    return out.pin_ != nullptr ? out.pin_->handler.get() : nullptr;
}

void event_queue::release(delivery& out) {
    if (out.pin_ == nullptr) return;
    std::shared_ptr<const notification_handler> doomed;
    std::lock_guard lock(mutex_);
    unpin(std::exchange(out.pin_, nullptr), doomed);
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
               std::to_string(capacity_) + ") overflowed; notifications were dropped";
    into.push_back(std::move(g));
}

event_queue::push_result event_queue::push_notification(
    const key_notification& parsed, std::string_view pattern, std::string_view node,
    clock::time_point received, const std::shared_ptr<const notification_handler>& handler,
    bool redelivered) {
    std::shared_ptr<const notification_handler> doomed;  // destroyed after the lock
    std::unique_lock lock(mutex_);
    if (count_ == capacity_) {
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
                if (old.more) carry.swap(old.more->gaps_before);
                if (old.type == delivery::type::notification) {
                    record_drop(carry, *old.node, old.received);
                    unpin(std::exchange(old.pin, nullptr), doomed);
                }
                head_ = (head_ + 1) % slots_.size();
                --count_;
                if (!carry.empty()) {
                    std::vector<gap_event>& next =
                        count_ > 0 ? more(slots_[head_]).gaps_before : tail_gaps_;
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
    s.layout = detail::notification_layout::store(parsed, pattern, s.bytes);
    s.node = intern(node);
    s.received = received;
    s.redelivered = redelivered;
    s.pin = pin(handler);
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
    if (count_ == capacity_) return;  // confirmations are informational; never evict for one
    slot& s = claim_tail();
    s.type = delivery::type::confirmation;
    more(s).conf = c;
    wake();
}

void event_queue::push_invalid(invalid_notification i) {
    std::lock_guard lock(mutex_);
    if (count_ == capacity_) return;
    slot& s = claim_tail();
    s.type = delivery::type::invalid;
    more(s).invalid = std::move(i);
    wake();
}

bool event_queue::pop(delivery& out, clock::duration timeout,
                      std::optional<clock::time_point>& deadline) {
    std::function<void()> drained;
    std::shared_ptr<const notification_handler> doomed;  // destroyed after the lock
    {
        std::unique_lock lock(mutex_);
        unpin(std::exchange(out.pin_, nullptr), doomed);
        const auto available = [&] { return count_ > 0 || !tail_gaps_.empty() || closed_; };
        if (!available()) {
            // Nothing to wait for: no clock read, no timed wait (a futex call that can
            // sleep until its already-due timeout fires).
            if (!deadline && timeout <= clock::duration::zero()) return false;
            if (!deadline) deadline = clock::now() + timeout;
            ++waiting_;
            const bool ready = cv_.wait_until(lock, *deadline, available);
            --waiting_;
            if (!ready) return false;
        }
        if (count_ == 0 && tail_gaps_.empty()) return false;  // closed and drained

        std::vector<gap_event>* gaps = &tail_gaps_;
        if (count_ > 0) gaps = slots_[head_].more ? &slots_[head_].more->gaps_before : nullptr;
        if (gaps != nullptr && !gaps->empty()) {
            out.type_ = delivery::type::gap;
            out.gap_ = std::move(gaps->front());
            gaps->erase(gaps->begin());
            return true;
        }
        slot& s = slots_[head_];
        out.type_ = s.type;
        if (s.type == delivery::type::confirmation) {
            out.confirmation_ = std::move(s.more->conf);
        } else if (s.type == delivery::type::invalid) {
            out.invalid_ = std::move(s.more->invalid);
        } else {
            out.bytes_.swap(s.bytes);
            out.layout_ = s.layout;
            if (out.node_ != *s.node) out.node_.assign(*s.node);
            out.received_ = s.received;
            out.redelivered_ = s.redelivered;
            out.pin_ = std::exchange(s.pin, nullptr);
        }
        --count_;
        // Empty: start again at the front, so that a consumer that keeps up cycles through
        // a few slots that stay in cache instead of walking the whole ring (a cold slot
        // and cold string buffers per notification).
        head_ = count_ == 0 ? 0 : (head_ + 1) % slots_.size();
        if (wants_drained_ && count_ <= capacity_ / 2) {
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
