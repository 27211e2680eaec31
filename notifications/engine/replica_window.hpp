// Redundancy: a replica publishes keyspace notifications for the writes it applies from
// its primary (docs/notifications.md, "What a replica publishes"). The replica_window
// holds that stream while the primary's is whole, matched against what the primary
// delivers, so that when the primary's stream stops the replica's continues it from
// where it stopped.
//
// Each message read from either side is matched, by its bytes (kind, pattern, channel and
// payload), against the other side's messages not matched yet:
// - A primary message matches the oldest such replica message, or waits for its copy
//   (the replica lags its primary).
// - While the primary delivers (holding), a replica message that is the copy of a
//   waiting primary message is dropped; any other is held: its primary may still deliver
//   it, or it is something only the replica publishes (an expiry arrives as `del`).
// - take_over(whole_until) is called when the primary's stream stopped, whole up to
//   `whole_until`: it answers the held messages read at or after that instant, oldest
//   first, to deliver as redelivered (the primary may have delivered some of them under
//   other bytes), and switches to following: from then on every replica message is
//   delivered, as redelivered when it is the copy of a primary message already
//   delivered. A primary message that is the copy of a replica message delivered is
//   redelivered too, whichever mode it arrives in.
// - hand_back() returns to holding once the replica has caught up with the primary's
//   stream again.
//
// Bounded by age (a message is forgotten `age` after it was read) and by bytes (the
// oldest are forgotten first). complete_since() says from when the held stream is whole:
// a take_over earlier than that cannot replay what was forgotten.
//
// Pure code: no I/O; the caller passes every time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../../protocol/pubsub.hpp"
#include "../delivery.hpp"

namespace ksn::detail {

class replica_window {
  public:
    struct limits {
        clock::duration age = std::chrono::seconds(10);
        std::size_t bytes = 32u << 20;
    };
    /// What each message costs beyond its bytes (its entry and index).
    static constexpr std::size_t entry_overhead = 96;

    explicit replica_window(limits l) : limits_(l) {}

    /// A message the primary delivers: true when it repeats one the replica delivered.
    bool from_primary(const protocol::pubsub_frame& f, clock::time_point received);

    enum class verdict : std::uint8_t {
        hold,       ///< holding: not delivered (held, or the copy of a primary message)
        deliver,    ///< following: deliver it
        redeliver,  ///< following: deliver it, marked redelivered
    };
    verdict from_replica(const protocol::pubsub_frame& f, clock::time_point received);

    /// One message to replay: views into the window, valid until the next call on it.
    struct replayed {
        protocol::pubsub_frame frame;
        clock::time_point received;
    };
    /// The primary's stream stopped, whole up to `whole_until`: switches to following and
    /// answers the held messages read at or after `whole_until`, oldest first.
    std::vector<replayed> take_over(clock::time_point whole_until);
    /// The primary is subscribed again, on a connection ready at `since`: replica messages
    /// delivered before that instant were published for writes before its subscription,
    /// which it will never repeat; they no longer match its messages (a later write with
    /// the same bytes would be taken for their repeat). Those read between `since` and
    /// the confirmation may be either: they stay matchable.
    void primary_resumed(clock::time_point since);
    /// Back to holding: the replica's stream caught up with the primary's again.
    void hand_back() noexcept { following_ = false; }
    bool following() const noexcept { return following_; }

    /// Forgets what is older than the age limit.
    void expire(clock::time_point now);

    /// Held messages are whole from this instant on (nullopt: nothing forgotten yet that
    /// the primary had not delivered).
    std::optional<clock::time_point> complete_since() const noexcept { return complete_since_; }

    std::size_t bytes() const noexcept { return bytes_; }
    /// Held messages the primary did not deliver, forgotten by age or bytes (what only
    /// the replica published, or a loss on the primary's stream).
    std::uint64_t unmatched_replica() const noexcept { return unmatched_replica_; }
    /// Primary messages whose copy the replica never sent within the age limit.
    std::uint64_t unmatched_primary() const noexcept { return unmatched_primary_; }

  private:
    enum class state : std::uint8_t { held, matched, delivered };
    struct entry {
        std::string key;
        clock::time_point received;
        state st;
        bool replica;  // a replica message (else a primary one waiting for its copy)
    };
    struct hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    /// Unmatched entries by key, oldest first, as sequence numbers into entries_.
    using index = std::unordered_map<std::string, std::deque<std::uint64_t>, hash, std::equal_to<>>;

    void make_key(const protocol::pubsub_frame& f);
    /// The oldest unmatched entry of `idx` under key_ (its sequence number), removed from
    /// the index; nullopt when none.
    std::optional<std::uint64_t> take(index& idx);
    void push(bool replica, state st, clock::time_point received, index* idx);
    entry& at(std::uint64_t seq) { return entries_[static_cast<std::size_t>(seq - first_)]; }
    /// Drops the oldest entry, with its index slot if it still has one.
    void pop_front();
    static protocol::pubsub_frame frame_of(std::string_view key);

    limits limits_;
    bool following_ = false;
    std::deque<entry> entries_;  // in the order read; sequence numbers first_...
    std::uint64_t first_ = 0;
    index replica_unmatched_;  // held or delivered replica messages no primary one matched
    index primary_unmatched_;  // primary messages waiting for their replica copy
    std::string key_;          // scratch
    std::size_t bytes_ = 0;
    std::optional<clock::time_point> complete_since_;
    std::uint64_t unmatched_replica_ = 0;
    std::uint64_t unmatched_primary_ = 0;
};

}  // namespace ksn::detail
