#include "net/session.hpp"

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "protocol/encoder.hpp"

namespace ksn::net {

using protocol::pubsub_kind;
using protocol::pubsub_status;

namespace {

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
    return s.substr(0, prefix.size()) == prefix;
}

// Error replies that mean "who you are is not accepted": retrying cannot help.
// https://redis.io/docs/latest/commands/auth/ and /commands/hello/
bool is_auth_error(std::string_view msg) noexcept {
    return starts_with(msg, "WRONGPASS") || starts_with(msg, "NOAUTH") ||
           starts_with(msg, "NOPERM") || starts_with(msg, "ERR invalid password") ||
           starts_with(msg, "ERR AUTH") || starts_with(msg, "ERR Client sent AUTH");
}

// What a server older than Redis 6 (no HELLO) or one with HELLO renamed away answers.
bool is_unknown_hello(std::string_view msg) noexcept {
    return starts_with(msg, "NOPROTO") || starts_with(msg, "ERR unknown command");
}

// The confirmation kind a subscribe-family command produces, from its name.
std::optional<pubsub_kind> confirmation_kind(std::string_view cmd) noexcept {
    std::string lower(cmd);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const auto k :
         {pubsub_kind::subscribe, pubsub_kind::psubscribe, pubsub_kind::ssubscribe,
          pubsub_kind::unsubscribe, pubsub_kind::punsubscribe, pubsub_kind::sunsubscribe}) {
        if (lower == protocol::to_string(k)) return k;
    }
    return std::nullopt;
}

const protocol::value& null_value() {
    static const protocol::value v;
    return v;
}

}  // namespace

session::session(const connection_options& options) : options_(options), reader_(options.limits) {}

void session::start(clock::time_point now) {
    abandon(make_error_code(errc::connection_lost));
    output_.clear();
    reader_.reset();
    mid_generic_ = false;
    offset_ = 0;
    message_offset_ = 0;
    error_.clear();
    error_detail_.clear();
    resp_ = 2;
    now_ = now;
    next_ping_.reset();
    ping_deadline_.reset();
    ping_answered_.reset();
    ping_again_ = false;
    handshake_deadline_ = now + options_.connect_timeout;
    state_ = session_state::handshaking;
    if (options_.resp == resp_version::resp2) {
        begin_resp2();
    } else {
        send_hello();
    }
}

void session::queue(std::span<const std::string_view> args, entry e, bool internal) {
    // User commands wait for the handshake; the handshake's own go first.
    if (state_ == session_state::handshaking && !internal) {
        protocol::append_command(held_, args);
        held_fifo_.push_back(std::move(e));
        return;
    }
    protocol::append_command(output_, args);
    fifo_.push_back(std::move(e));
}

void session::command(std::span<const std::string_view> args, reply_handler handler) {
    if (state_ != session_state::handshaking && state_ != session_state::ready) {
        if (handler) handler(make_error_code(errc::not_connected), null_value());
        return;
    }
    queue(args, entry{entry_kind::reply, pubsub_kind::message, 0, std::move(handler)}, false);
}

void session::subscribe_command(std::span<const std::string_view> args, reply_handler on_error) {
    const auto kind = args.empty() ? std::nullopt : confirmation_kind(args.front());
    if (!kind || args.size() < 2) {
        // A programming error of the layer above, not a server condition.
        if (on_error) on_error(make_error_code(errc::unexpected_reply), null_value());
        return;
    }
    if (state_ != session_state::handshaking && state_ != session_state::ready) {
        if (on_error) on_error(make_error_code(errc::not_connected), null_value());
        return;
    }
    queue(args, entry{entry_kind::subscribe, *kind, args.size() - 1, std::move(on_error)}, false);
}

bool session::take_output(std::string& out) {
    if (output_.empty()) return false;
    if (out.empty()) {
        out.swap(output_);
    } else {
        out.append(output_);
        output_.clear();
    }
    return true;
}

std::optional<clock::time_point> session::next_deadline() const noexcept {
    if (state_ == session_state::handshaking) return handshake_deadline_;
    if (state_ != session_state::ready) return std::nullopt;
    return ping_deadline_ ? ping_deadline_ : next_ping_;
}

void session::on_timer(clock::time_point now) {
    now_ = now;
    if (state_ == session_state::handshaking) {
        if (handshake_deadline_ && now >= *handshake_deadline_) {
            fail(errc::connect_timeout, "handshake not answered in time");
        }
        return;
    }
    if (state_ != session_state::ready) return;
    if (ping_deadline_) {
        if (now >= *ping_deadline_) fail(errc::health_check_timeout, "PING not answered in time");
        return;
    }
    if (next_ping_ && now >= *next_ping_) send_ping(now);
}

void session::ping_soon(clock::time_point now) {
    if (state_ != session_state::ready) return;
    now_ = now;
    if (ping_deadline_) {
        ping_again_ = true;
        return;
    }
    send_ping(now);
}

void session::pong() {
    ping_deadline_.reset();
    ping_answered_ = ping_sent_;
    if (ping_again_) {
        ping_again_ = false;
        next_ping_ = now_;
    } else if (options_.health_check_interval.count() > 0) {
        next_ping_ = now_ + options_.health_check_interval;
    }
}

void session::send_ping(clock::time_point now) {
    next_ping_.reset();
    ping_sent_ = now;
    ping_deadline_ = now + options_.health_check_timeout;
    static constexpr std::string_view ping[] = {"PING"};
    queue(ping, entry{entry_kind::ping, pubsub_kind::pong, 0, nullptr}, true);
}

void session::abandon(const std::error_code& ec) {
    // Handlers may queue new commands; those fail at once since the state is idle.
    state_ = state_ == session_state::failed ? state_ : session_state::idle;
    std::deque<entry> pending;
    pending.swap(fifo_);
    for (auto& e : held_fifo_)
        pending.push_back(std::move(e));
    held_fifo_.clear();
    held_.clear();
    for (auto& e : pending) {
        if (e.handler) e.handler(ec, null_value());
    }
    ping_deadline_.reset();
    next_ping_.reset();
    ping_again_ = false;
    handshake_deadline_.reset();
}

void session::fail(errc code, std::string detail) {
    if (state_ == session_state::failed) return;
    state_ = session_state::failed;
    error_ = make_error_code(code);
    error_detail_ = std::move(detail);
}

std::size_t session::feed(std::string_view bytes, clock::time_point received, session_sink& sink) {
    now_ = received;
    std::size_t pos = 0;
    while (pos < bytes.size() && state_ != session_state::failed && state_ != session_state::idle) {
        const std::string_view in = bytes.substr(pos);
        if (!mid_generic_) {
            protocol::pubsub_frame frame;
            const auto r = protocol::decode_pubsub(in, frame, options_.limits);
            if (r.status == pubsub_status::need_more) break;
            // On RESP3 only pushes are pub/sub; an array of the same shape is a reply.
            if (r.status == pubsub_status::complete && (frame.push || resp_ == 2)) {
                pos += r.consumed;
                offset_ += r.consumed;
                handle_frame(frame, received, sink);
                continue;
            }
            reader_.reset();
            message_offset_ = offset_;
        }
        protocol::value v;
        const auto r = reader_.read(in, v);
        pos += r.consumed;
        offset_ += r.consumed;
        if (r.status == protocol::parse_status::error) {
            fail(errc::protocol_error,
                 reader_.error().message() + " at byte " +
                     std::to_string(message_offset_ + reader_.error_offset()));
            break;
        }
        if (r.status == protocol::parse_status::need_more) {
            mid_generic_ = mid_generic_ || r.consumed > 0;
            break;
        }
        mid_generic_ = false;
        handle_value(v, sink);
    }
    return pos;
}

void session::handle_frame(const protocol::pubsub_frame& f, clock::time_point received,
                           session_sink& sink) {
    if (protocol::is_message(f.kind)) {
        sink.on_message(f, received);
        return;
    }
    if (f.kind == pubsub_kind::pong) {
        // PING on a RESP2 connection in subscribed mode.
        if (fifo_.empty() || fifo_.front().kind != entry_kind::ping) {
            fail(errc::unexpected_reply, "pong frame without a PING");
            return;
        }
        fifo_.pop_front();
        pong();
        return;
    }
    // A confirmation. The server also sends some unprompted (e.g. sunsubscribe when a
    // shard channel's slot moves), so one that matches no command is still delivered.
    if (!fifo_.empty() && fifo_.front().kind == entry_kind::subscribe &&
        fifo_.front().confirms == f.kind) {
        if (--fifo_.front().remaining == 0) fifo_.pop_front();
    }
    sink.on_confirmation(f);
}

void session::handle_value(const protocol::value& v, session_sink& sink) {
    if (v.type == protocol::resp_type::push) {
        sink.on_push(v);
        return;
    }
    if (fifo_.empty()) {
        fail(errc::unexpected_reply, "reply without a command");
        return;
    }
    entry e = std::move(fifo_.front());
    fifo_.pop_front();
    switch (e.kind) {
        case entry_kind::ping:
            pong();
            return;
        case entry_kind::subscribe:
            if (!v.is_error()) {
                fail(errc::unexpected_reply, "subscribe answered by a non-confirmation reply");
                return;
            }
            [[fallthrough]];
        case entry_kind::reply:
            if (e.handler) {
                e.handler(v.is_error() ? make_error_code(errc::server_error) : std::error_code{},
                          v);
            }
            return;
    }
}

void session::send_hello() {
    std::vector<std::string_view> args{"HELLO", "3"};
    if (!options_.password.empty()) {
        args.insert(args.end(), {"AUTH",
                                 options_.username.empty() ? std::string_view("default")
                                                           : std::string_view(options_.username),
                                 options_.password});
    }
    if (!options_.client_name.empty()) args.insert(args.end(), {"SETNAME", options_.client_name});
    queue(
        args,
        entry{entry_kind::reply, pubsub_kind::message, 0,
              [this](const std::error_code& ec, const protocol::value& v) {
                  if (ec && ec != errc::server_error) return;  // connection went away
                  if (!v.is_error()) {
                      resp_ = 3;
                      become_ready();
                  } else if (options_.resp == resp_version::automatic && is_unknown_hello(v.data)) {
                      begin_resp2();
                  } else if (is_auth_error(v.data)) {
                      fail(errc::auth_failed, v.data);
                  } else {
                      fail(errc::handshake_failed, "HELLO 3: " + v.data);
                  }
              }},
        true);
}

void session::begin_resp2() {
    if (options_.password.empty()) {
        after_auth();
        return;
    }
    std::vector<std::string_view> args{"AUTH"};
    if (!options_.username.empty()) args.push_back(options_.username);
    args.push_back(options_.password);
    queue(args,
          entry{entry_kind::reply, pubsub_kind::message, 0,
                [this](const std::error_code& ec, const protocol::value& v) {
                    if (ec && ec != errc::server_error) return;
                    if (v.is_error()) {
                        fail(errc::auth_failed, v.data);
                    } else {
                        after_auth();
                    }
                }},
          true);
}

void session::after_auth() {
    if (options_.client_name.empty()) {
        become_ready();
        return;
    }
    const std::string_view args[] = {"CLIENT", "SETNAME", options_.client_name};
    queue(args,
          entry{entry_kind::reply, pubsub_kind::message, 0,
                [this](const std::error_code& ec, const protocol::value& v) {
                    if (ec && ec != errc::server_error) return;
                    if (v.is_error()) {
                        // NOAUTH here: the server wants a password and none was given.
                        fail(is_auth_error(v.data) ? errc::auth_failed : errc::handshake_failed,
                             "CLIENT SETNAME: " + v.data);
                    } else {
                        become_ready();
                    }
                }},
          true);
}

void session::become_ready() {
    if (state_ != session_state::handshaking) return;
    state_ = session_state::ready;
    handshake_deadline_.reset();
    output_.append(held_);
    held_.clear();
    for (auto& e : held_fifo_)
        fifo_.push_back(std::move(e));
    held_fifo_.clear();
    if (options_.health_check_interval.count() > 0) {
        next_ping_ = now_ + options_.health_check_interval;
    }
}

}  // namespace ksn::net
