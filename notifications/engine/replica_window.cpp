#include "notifications/engine/replica_window.hpp"

#include <algorithm>
#include <charconv>

namespace ksn::detail {

namespace {

void append_sized(std::string& out, std::string_view part) {
    out += std::to_string(part.size());
    out += ':';
    out += part;
}

/// Reads a part written by append_sized() from the front of `rest`.
std::string_view read_sized(std::string_view& rest) {
    std::size_t n = 0;
    const auto colon = rest.find(':');
    std::from_chars(rest.data(), rest.data() + colon, n);
    const auto part = rest.substr(colon + 1, n);
    rest.remove_prefix(colon + 1 + n);
    return part;
}

}  // namespace

void replica_window::make_key(const protocol::pubsub_frame& f) {
    // The kind, then each part's length before it: no two frames share a key.
    key_.clear();
    key_ += static_cast<char>(f.kind);
    append_sized(key_, f.pattern);
    append_sized(key_, f.channel);
    key_ += f.payload;
}

protocol::pubsub_frame replica_window::frame_of(std::string_view key) {
    protocol::pubsub_frame f;
    f.kind = static_cast<protocol::pubsub_kind>(key.front());
    key.remove_prefix(1);
    f.pattern = read_sized(key);
    f.channel = read_sized(key);
    f.payload = key;
    return f;
}

std::optional<std::uint64_t> replica_window::take(index& idx) {
    const auto it = idx.find(std::string_view(key_));
    if (it == idx.end()) return std::nullopt;
    const auto seq = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) idx.erase(it);
    return seq;
}

void replica_window::push(bool replica, state st, clock::time_point received, index* idx) {
    const auto seq = first_ + entries_.size();
    entries_.push_back({key_, received, st, replica});
    bytes_ += key_.size() + entry_overhead;
    if (idx != nullptr) (*idx)[key_].push_back(seq);
    while (bytes_ > limits_.bytes && !entries_.empty())
        pop_front();
}

void replica_window::pop_front() {
    auto& e = entries_.front();
    const auto seq = first_;
    if (e.st != state::matched) {
        auto& idx = e.replica ? replica_unmatched_ : primary_unmatched_;
        if (const auto it = idx.find(std::string_view(e.key));
            it != idx.end() && it->second.front() == seq) {
            it->second.pop_front();
            if (it->second.empty()) idx.erase(it);
        }
        if (e.replica && e.st == state::held) {
            ++unmatched_replica_;
            complete_since_ = std::max(complete_since_.value_or(e.received), e.received);
        } else if (!e.replica) {
            ++unmatched_primary_;
        }
    }
    bytes_ -= e.key.size() + entry_overhead;
    entries_.pop_front();
    ++first_;
}

bool replica_window::from_primary(const protocol::pubsub_frame& f, clock::time_point received) {
    make_key(f);
    if (const auto seq = take(replica_unmatched_)) {
        auto& e = at(*seq);
        const bool again = e.st == state::delivered;
        e.st = state::matched;
        return again;
    }
    push(false, state::held, received, &primary_unmatched_);
    return false;
}

replica_window::verdict replica_window::from_replica(const protocol::pubsub_frame& f,
                                                     clock::time_point received) {
    make_key(f);
    if (const auto seq = take(primary_unmatched_)) {
        at(*seq).st = state::matched;
        return following_ ? verdict::redeliver : verdict::hold;
    }
    push(true, following_ ? state::delivered : state::held, received, &replica_unmatched_);
    return following_ ? verdict::deliver : verdict::hold;
}

std::vector<replica_window::replayed> replica_window::take_over(clock::time_point whole_until) {
    following_ = true;
    // Held messages read before the primary's stream stopped count as delivered by it
    // (their copies had other bytes): they are neither replayed nor matched any more.
    replica_unmatched_.clear();
    std::vector<replayed> out;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        auto& e = entries_[i];
        if (!e.replica || e.st == state::matched) continue;
        if (e.st == state::held) {
            if (e.received < whole_until) {
                e.st = state::matched;
                continue;
            }
            e.st = state::delivered;
            out.push_back({frame_of(e.key), e.received});
        }
        replica_unmatched_[e.key].push_back(first_ + i);
    }
    return out;
}

void replica_window::primary_resumed(clock::time_point since) {
    for (auto it = replica_unmatched_.begin(); it != replica_unmatched_.end();) {
        auto& seqs = it->second;
        while (!seqs.empty() && at(seqs.front()).received < since) {
            at(seqs.front()).st = state::matched;  // delivered, and no longer a candidate
            seqs.pop_front();
        }
        it = seqs.empty() ? replica_unmatched_.erase(it) : std::next(it);
    }
}

void replica_window::expire(clock::time_point now) {
    while (!entries_.empty() && now - entries_.front().received > limits_.age)
        pop_front();
}

}  // namespace ksn::detail
