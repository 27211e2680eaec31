#include "notifications/engine/node_link.hpp"

#include <asio/post.hpp>
#include <atomic>
#include <type_traits>
#include <utility>

#include "notifications/engine/notifier_core.hpp"

namespace ksn::detail {

namespace {

node_subscriber::settings settings_of(const notifier_options& o) {
    return {o.check, o.subscribe_when_disconnected, o.notify_check_interval};
}

std::atomic<std::uint64_t> next_serial{1};

}  // namespace

node_link::node_link(notifier_core& core, const net::endpoint& address)
    : core_(core),
      options_(core.options().connection),
      machine_(address.to_string(), core.registry(), settings_of(core.options())),
      timer_(core.io()),
      serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) {
    options_.address = address;
    stats_.node = machine_.name();
}

node_link::~node_link() {
    if (conn_) conn_->close();
    if (flags_conn_) flags_conn_->close();
}

void node_link::start() {
    connect();
}

void node_link::connect() {
    if (conn_) bytes_before_ += conn_->counters().bytes_read;
    conn_ = net::connection::create(core_.io(), options_, this);
    conn_->start();
}

void node_link::close(bool retired) {
    run(machine_.close(retired));
}

void node_link::send(const std::vector<subscription_key>& keys, bool unsubscribe,
                     std::uint64_t op) {
    run(machine_.send(keys, unsubscribe, op, clock::now()));
}

void node_link::pause_for_overflow(clock::time_point when) {
    run(machine_.pause_for_overflow(when));
}

void node_link::resume() {
    run(machine_.resume());
}

void node_link::expect_gap(gap_event gap) {
    run(machine_.expect_gap(std::move(gap), clock::now()));
}

void node_link::expect_unreachable(clock::time_point lost, const std::string& why) {
    run(machine_.expect_unreachable(lost, why, clock::now()));
}

std::optional<gap_event> node_link::gap_until_now(const std::string& why) const {
    std::optional<gap_event> gap = machine_.open_gap();
    if (!gap) return gap;
    gap->restored = clock::now();
    if (gap->slots.empty()) gap->slots = machine_.slots();
    gap->detail += "; closed: " + why;
    return gap;
}

void node_link::flags_set(notify_flags f) {
    run(machine_.on_flags(to_letters(f), clock::now(), delivered_until()));
}

node_stats node_link::stats() const {
    node_stats s = stats_;
    s.state = conn_ ? conn_->state() : net::connection_state::closed;
    s.reconnects = machine_.reconnects();
    s.gaps = machine_.gaps();
    s.standby = standby_;
    if (conn_) {
        s.bytes = bytes_before_ + conn_->counters().bytes_read;
        s.protocol_errors = stats_.protocol_errors + conn_->counters().protocol_errors;
        s.resp = ever_ready_ ? conn_->resp() : 0;
    }
    return s;
}

void node_link::on_state(net::connection_state state, const std::error_code& ec,
                         const std::string& detail) {
    switch (state) {
        case net::connection_state::connecting:
        case net::connection_state::handshaking:
            return;
        case net::connection_state::ready:
            ever_ready_ = true;
            ready_at_ = clock::now();
            run(machine_.on_ready(*ready_at_));
            return;
        case net::connection_state::disconnected:
            if (flags_conn_) flags_conn_->close();
            flags_conn_.reset();
            run(machine_.on_disconnected(ec, detail, clock::now(), delivered_until()));
            return;
        case net::connection_state::closed:
            run(machine_.on_closed(ec, detail, clock::now()));
            return;
    }
}

void node_link::on_message(const protocol::pubsub_frame& frame, clock::time_point received) {
    last_message_ = received;
    bool again = repeats_ && repeats_->repeat(repeat_side_, frame.channel, frame.payload);
    if (window_) {
        window_->expire(received);
        if (!standby_) {
            again = window_->from_primary(frame, received) || again;
        } else {
            const auto v = window_->from_replica(frame, received);
            if (v == replica_window::verdict::hold) {
                ++stats_.held;
                return;
            }
            again = again || v == replica_window::verdict::redeliver;
        }
    }
    if (core_.dispatch(frame, received, stats_, again) == event_queue::push_result::full) {
        pause_for_overflow(received);
    }
}

void node_link::on_confirmation(const protocol::pubsub_frame& frame) {
    run(machine_.on_confirmation(frame.kind, frame.channel, clock::now()));
    if (core_.options().deliver_confirmations) core_.emit_confirmation(frame, name());
}

void node_link::run(node_subscriber::actions actions) {
    using N = node_subscriber;
    for (auto& a : actions) {
        std::visit(
            [this](auto& act) {
                using T = std::decay_t<decltype(act)>;
                if constexpr (std::is_same_v<T, N::send_command>) {
                    std::vector<std::string_view> args(act.args.begin(), act.args.end());
                    conn_->subscribe_command(
                        args, [this, op = act.op, cmd = act.args.front()](
                                  const std::error_code& ec, const protocol::value& v) {
                            // Disconnects reach the machine through on_state().
                            if (ec == net::errc::server_error)
                                run(machine_.on_refused(op, cmd, v.data));
                        });
                } else if constexpr (std::is_same_v<T, N::ask_run_id>) {
                    conn_->command({"INFO", "server"},
                                   [this](const std::error_code& ec, const protocol::value& v) {
                                       if (ec == net::errc::server_error) {
                                           run(machine_.on_run_id({}));  // refused (ACL)
                                       } else if (!ec) {
                                           run(machine_.on_run_id(run_id_of(v.data)));
                                       }
                                   });
                } else if constexpr (std::is_same_v<T, N::ask_flags>) {
                    ask_flags(act.subscribed);
                } else if constexpr (std::is_same_v<T, N::emit_gap>) {
                    core_.emit_node_gap(*this, std::move(act.gap));
                } else if constexpr (std::is_same_v<T, N::complete>) {
                    core_.node_done(act.op, act.ec, act.detail, name());
                } else if constexpr (std::is_same_v<T, N::report>) {
                    core_.report(act.level, act.message);
                } else if constexpr (std::is_same_v<T, N::warn_flags>) {
                    core_.warn_flags(act.message);
                } else if constexpr (std::is_same_v<T, N::disconnect>) {
                    if (conn_) conn_->close();
                    if (flags_conn_) flags_conn_->close();
                } else if constexpr (std::is_same_v<T, N::reconnect>) {
                    connect();
                } else if constexpr (std::is_same_v<T, N::lost>) {
                    if (core_.on_node_lost) core_.on_node_lost(name());
                }
            },
            a);
    }
    arm_timer();
}

void node_link::ask_flags(bool subscribed) {
    if (flags_conn_) flags_conn_->close();  // a re-check of an earlier connection
    flags_conn_.reset();
    if (!subscribed || conn_->resp() != 2) {
        conn_->command(
            {"CONFIG", "GET", "notify-keyspace-events"},
            [this](const std::error_code& ec, const protocol::value& v) { on_flags_reply(ec, v); });
        return;
    }
    // RESP2 allows no CONFIG in subscribed mode: one connection for this one question. Its
    // reply handler also gets the failure, if the connection fails.
    flags_conn_ = net::command_connection::create(core_.io(), options_, nullptr, nullptr);
    flags_conn_->command({"CONFIG", "GET", "notify-keyspace-events"},
                         [this](const std::error_code& ec, const protocol::value& v) {
                             // Drop the connection outside its own handler.
                             asio::post(core_.io(),
                                        [conn = std::move(flags_conn_)] { conn->close(); });
                             if (ec && ec != net::errc::server_error) {
                                 run(machine_.on_flags_unanswered(clock::now()));
                                 return;
                             }
                             on_flags_reply(ec, v);
                         });
    flags_conn_->start();
}

void node_link::on_flags_reply(const std::error_code& ec, const protocol::value& v) {
    if (ec == net::errc::server_error) {
        run(machine_.on_flags_refused(v.data));
    } else if (!ec && v.elements.size() >= 2) {
        // RESP3: a map; RESP2: an array [name, value].
        run(machine_.on_flags(v.elements[1].data, clock::now(), delivered_until()));
    }
    // Other errors: the connection is lost, and on_state() tells the machine.
}

void node_link::arm_timer() {
    const auto deadline = machine_.next_deadline();
    if (deadline == armed_) return;
    armed_ = deadline;
    if (!deadline) {
        timer_.cancel();
        return;
    }
    timer_.expires_at(*deadline);
    // A wait that completed just before this node_link was destroyed still runs: the
    // token says whether it is alive.
    timer_.async_wait([this, alive = std::weak_ptr<int>(alive_)](const std::error_code& ec) {
        if (ec || alive.expired()) return;
        armed_.reset();
        run(machine_.on_timer(clock::now()));
    });
}

std::optional<clock::time_point> node_link::delivered_until() const {
    std::optional<clock::time_point> t = last_message_;
    if (conn_) {
        const auto ping = conn_->ping_answered();
        if (ping && (!t || *ping > *t)) t = ping;
    }
    return t;
}

}  // namespace ksn::detail
