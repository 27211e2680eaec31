#include "notifications/delivery.hpp"

#include <new>

namespace ksn {

std::string_view to_string(gap_reason r) noexcept {
    switch (r) {
        case gap_reason::connection_lost:
            return "connection_lost";
        case gap_reason::server_restarted:
            return "server_restarted";
        case gap_reason::server_closed_connection:
            return "server_closed_connection";
        case gap_reason::health_check_timeout:
            return "health_check_timeout";
        case gap_reason::protocol_error:
            return "protocol_error";
        case gap_reason::queue_overflow:
            return "queue_overflow";
        case gap_reason::slow_consumer_disconnect:
            return "slow_consumer_disconnect";
        case gap_reason::node_closed:
            return "node_closed";
        case gap_reason::topology_change:
            return "topology_change";
        case gap_reason::node_unreachable:
            return "node_unreachable";
        case gap_reason::notifications_disabled:
            return "notifications_disabled";
    }
    return "unknown";
}

void delivery::rebuild() noexcept {
    if (type_ != type::notification) return;
    try {
        // Only the pull path gets here; the storage grows once to the largest message.
        layout_.restore(bytes_, view_, subkey_storage_);
    } catch (const std::bad_alloc&) {
        return;
    }
    view_.set_origin(node_, received_, layout_.extra_in(bytes_), redelivered_);
}

delivery::delivery(const delivery& other)
    : type_(other.type_),
      bytes_(other.bytes_),
      layout_(other.layout_),
      node_(other.node_),
      received_(other.received_),
      redelivered_(other.redelivered_),
      gap_(other.gap_),
      confirmation_(other.confirmation_),
      invalid_(other.invalid_) {
    rebuild();
}

delivery::delivery(delivery&& other) noexcept
    : type_(other.type_),
      bytes_(std::move(other.bytes_)),
      layout_(other.layout_),
      node_(std::move(other.node_)),
      received_(other.received_),
      redelivered_(other.redelivered_),
      subkey_storage_(std::move(other.subkey_storage_)),
      gap_(std::move(other.gap_)),
      confirmation_(std::move(other.confirmation_)),
      invalid_(std::move(other.invalid_)) {
    rebuild();
}

delivery& delivery::operator=(const delivery& other) {
    if (this != &other) *this = delivery(other);
    return *this;
}

delivery& delivery::operator=(delivery&& other) noexcept {
    if (this == &other) return *this;
    type_ = other.type_;
    bytes_ = std::move(other.bytes_);
    layout_ = other.layout_;
    node_ = std::move(other.node_);
    received_ = other.received_;
    redelivered_ = other.redelivered_;
    subkey_storage_ = std::move(other.subkey_storage_);
    view_ = received_notification{};
    gap_ = std::move(other.gap_);
    confirmation_ = std::move(other.confirmation_);
    invalid_ = std::move(other.invalid_);
    rebuild();
    return *this;
}

}  // namespace ksn
