#include "net/command_connection.hpp"

#include <chrono>
#include <utility>

#include "net/error.hpp"

namespace ksn::net {

std::shared_ptr<command_connection> command_connection::create(asio::io_context& io,
                                                               connection_options options,
                                                               ready_handler on_ready,
                                                               failure_handler on_failure) {
    return std::make_shared<command_connection>(private_tag{}, io, std::move(options),
                                                std::move(on_ready), std::move(on_failure));
}

command_connection::command_connection(private_tag, asio::io_context& io,
                                       connection_options options, ready_handler on_ready,
                                       failure_handler on_failure)
    : on_ready_(std::move(on_ready)), on_failure_(std::move(on_failure)) {
    options.reconnect.max_attempts = 1;
    options.health_check_interval = std::chrono::milliseconds(0);
    conn_ = connection::create(io, std::move(options), &observer_);
}

command_connection::~command_connection() {
    // No shared_from_this() here: close() copes without one.
    close();
}

void command_connection::start() {
    if (*closed_ || failed_) return;
    // A synchronous failure (a bad TLS file) runs the failure handler inside start(),
    // which may drop the last reference to this object.
    const auto self = weak_from_this().lock();
    const auto conn = conn_;
    conn->start();
}

void command_connection::command(std::initializer_list<std::string_view> args,
                                 reply_handler handler) {
    command(std::span<const std::string_view>(args.begin(), args.size()), std::move(handler));
}

void command_connection::command(std::span<const std::string_view> args, reply_handler handler) {
    if (*closed_) {
        if (handler) handler(make_error_code(errc::not_connected), protocol::value{});
        return;
    }
    const auto s = conn_->state();
    if (!failed_ && (s == connection_state::disconnected || s == connection_state::connecting)) {
        // The session takes commands once the handshake has begun; until then, keep them.
        early_.push_back(early_command{{args.begin(), args.end()}, std::move(handler)});
        return;
    }
    send(args, std::move(handler));
}

void command_connection::send(std::span<const std::string_view> args, reply_handler handler) {
    // The connection may call the handler at once (not_connected after a failure), and
    // that handler may drop the last reference to this object.
    const auto self = weak_from_this().lock();
    const auto conn = conn_;
    conn->command(args, [closed = closed_, h = std::move(handler)](const std::error_code& ec,
                                                                   const protocol::value& v) {
        if (*closed || !h) return;
        h(ec, v);
    });
}

void command_connection::close() {
    if (*closed_) return;
    *closed_ = true;
    // Keep everything alive until the end: releasing the handlers (here, and the pending
    // reply handlers inside connection::close()) may drop the last reference to us.
    const auto self = weak_from_this().lock();
    const auto conn = conn_;
    auto ready = std::move(on_ready_);
    auto failure = std::move(on_failure_);
    auto early = std::move(early_);
    on_ready_ = nullptr;
    on_failure_ = nullptr;
    early_.clear();
    conn->close();
}

const endpoint& command_connection::address() const noexcept {
    return conn_->address();
}

connection_state command_connection::state() const noexcept {
    return conn_->state();
}

void command_connection::on_state(connection_state state, const std::error_code& ec,
                                  const std::string& detail) {
    if (*closed_ || failed_) return;
    const auto self = weak_from_this().lock();
    switch (state) {
        case connection_state::connecting:
            return;
        case connection_state::handshaking: {
            // The session queues commands behind HELLO / AUTH from now on.
            auto early = std::move(early_);
            early_.clear();
            for (auto& e : early) {
                if (*closed_ || failed_) return;  // a handler closed us, or the send failed
                const std::vector<std::string_view> args(e.args.begin(), e.args.end());
                send(args, std::move(e.handler));
            }
            return;
        }
        case connection_state::ready: {
            auto ready = std::move(on_ready_);
            on_ready_ = nullptr;
            if (ready) ready();
            return;
        }
        case connection_state::disconnected:
        case connection_state::closed: {
            // disconnected: the connection would try again; a command connection does not.
            // closed: it gave up by itself (authentication, TLS configuration).
            failed_ = true;
            auto failure = std::move(on_failure_);
            on_failure_ = nullptr;
            on_ready_ = nullptr;
            const auto conn = conn_;
            if (state == connection_state::disconnected) conn->close();
            // Commands never sent fail like those the connection had (already failed).
            auto early = std::move(early_);
            early_.clear();
            for (auto& e : early) {
                if (*closed_) return;
                if (e.handler) e.handler(ec, protocol::value{});
            }
            if (failure && !*closed_) failure(ec, detail);
            return;
        }
    }
}

void command_connection::observer::on_state(connection_state state, const std::error_code& ec,
                                            const std::string& detail) {
    owner_.on_state(state, ec, detail);
}

// Nothing unprompted is expected on a command connection (no SUBSCRIBE goes out); a RESP3
// push (CLIENT TRACKING invalidations, say) is ignored.
void command_connection::observer::on_message(const protocol::pubsub_frame&, clock::time_point) {}
void command_connection::observer::on_confirmation(const protocol::pubsub_frame&) {}
void command_connection::observer::on_push(const protocol::value&) {}

}  // namespace ksn::net
