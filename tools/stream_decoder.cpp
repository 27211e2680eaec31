#include "tools/stream_decoder.hpp"

#include "protocol/pubsub.hpp"

namespace ksn::tools {

stream_decoder::stream_decoder(std::string key_prefix) : key_prefix_(std::move(key_prefix)) {}

std::uint64_t stream_decoder::pending() const noexcept {
    return buffer_.size() + (in_value_ ? value_taken_ : 0);
}

bool stream_decoder::feed(std::string_view bytes, sink& out) {
    if (error_) return false;
    buffer_ += bytes;
    std::string_view rest = buffer_;
    const auto take = [&](std::size_t n) {
        rest.remove_prefix(n);
        offset_ += n;
    };
    while (!rest.empty()) {
        if (!in_value_) {
            protocol::pubsub_frame frame;
            const auto r = protocol::decode_pubsub(rest, frame);
            if (r.status == protocol::pubsub_status::need_more) break;
            if (r.status == protocol::pubsub_status::complete) {
                resp3_ = resp3_ || frame.push;
                if (!protocol::is_message(frame.kind)) {
                    ++counters_.confirmations;
                } else if (resp3_ && !frame.push) {
                    ++counters_.replies;  // a RESP3 reply that looks like a message
                } else {
                    message(frame.channel, frame.payload, out);
                }
                take(r.consumed);
                continue;
            }
            // Not a pub/sub frame: the generic reader skips it or finds the error.
            reader_.reset();
            in_value_ = true;
            value_start_ = offset_;
            value_taken_ = 0;
        }
        const auto r = reader_.read(rest, value_);
        value_taken_ += r.consumed;
        take(r.consumed);
        if (r.status == protocol::parse_status::error) {
            error_ = reader_.error();
            error_offset_ = value_start_ + reader_.error_offset();
            break;
        }
        if (r.status == protocol::parse_status::need_more) break;
        in_value_ = false;
        reply(value_);
    }
    buffer_.erase(0, buffer_.size() - rest.size());
    return !error_;
}

void stream_decoder::message(std::string_view channel, std::string_view payload, sink& out) {
    const auto r = parse_notification(channel, payload, notification_, subkeys_, key_prefix_);
    switch (r.status) {
        case parse_status::ok:
            ++counters_.notifications;
            out.notification(notification_);
            break;
        case parse_status::filtered:
            ++counters_.filtered;
            break;
        case parse_status::not_notification:
            ++counters_.other_messages;
            break;
        case parse_status::malformed:
        case parse_status::storage_too_small:
            ++counters_.invalid;
            out.invalid(channel, payload, r);
            break;
    }
}

void stream_decoder::reply(const protocol::value& v) {
    ++counters_.replies;
    if (v.type == protocol::resp_type::map || v.type == protocol::resp_type::push) resp3_ = true;
}

}  // namespace ksn::tools
