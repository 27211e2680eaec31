#include "notifications/notifier_core.hpp"

#include <asio/post.hpp>
#include <future>
#include <iostream>
#include <stdexcept>
#include <utility>

#include "notifications/glob.hpp"
#include "notifications/notification.hpp"

namespace ksn::detail {

using protocol::pubsub_kind;

namespace {

std::string join_names(const std::vector<subscription_key>& keys) {
    std::string out;
    for (const auto& k : keys) {
        if (!out.empty()) out += ", ";
        out += (k.pattern ? "PSUBSCRIBE " : "SUBSCRIBE ") + k.name;
    }
    return out;
}

gap_reason reason_of(const std::error_code& ec) {
    if (ec == net::errc::health_check_timeout) return gap_reason::health_check_timeout;
    if (ec == net::errc::protocol_error || ec == net::errc::unexpected_reply) {
        return gap_reason::protocol_error;
    }
    return gap_reason::connection_lost;
}

// "run_id:<hex>" from an INFO server reply.
std::string run_id_of(std::string_view info) {
    const auto at = info.find("run_id:");
    if (at == std::string_view::npos) return {};
    const auto begin = at + 7;
    const auto end = info.find_first_of("\r\n", begin);
    return std::string(info.substr(begin, end == std::string_view::npos ? end : end - begin));
}

// The first requirement `configured` does not meet, as a sentence naming the letters to
// set: what is configured plus what is missing (`shown` is how the server spelled it).
std::optional<std::string> unmet_flags(std::string_view shown, notify_flags configured,
                                       const std::vector<flag_requirement>& requirements) {
    for (const auto& req : requirements) {
        if (req.satisfied_by(configured)) continue;
        notify_flags wanted = configured | req.all_of;
        if (req.any_of != notify_flags::none && !has_any(configured, req.any_of)) {
            const notify_flags classes = req.any_of & notify_flags::all;
            wanted = wanted | (classes != notify_flags::none ? classes : req.any_of);
        }
        std::string need = to_letters(req.all_of);
        if (req.any_of != notify_flags::none) need += " and one of " + to_letters(req.any_of);
        return "notify-keyspace-events is \"" + std::string(shown) +
               "\" but the subscriptions need " + need + " (CONFIG SET notify-keyspace-events " +
               to_letters(wanted) + ", or configure_notifications())";
    }
    return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// node_subscriber

node_subscriber::node_subscriber(notifier_core& core, const net::endpoint& address)
    : core_(core), options_(core.options().connection), name_(address.to_string()) {
    options_.address = address;
    stats_.node = name_;
}

node_subscriber::~node_subscriber() {
    if (conn_) conn_->close();
}

bool node_subscriber::ready() const noexcept {
    return conn_ && conn_->state() == net::connection_state::ready;
}

void node_subscriber::start() {
    connect();
}

void node_subscriber::connect() {
    if (conn_) bytes_before_ += conn_->counters().bytes_read;
    conn_ = net::connection::create(core_.io(), options_, this);
    conn_->start();
}

void node_subscriber::close(bool retired) {
    if (closed_) return;
    closed_ = true;
    retired_ = retired;
    if (conn_) conn_->close();
}

node_stats node_subscriber::stats() const {
    node_stats s = stats_;
    s.state = conn_ ? conn_->state() : net::connection_state::closed;
    if (conn_) {
        s.bytes = bytes_before_ + conn_->counters().bytes_read;
        s.protocol_errors = stats_.protocol_errors + conn_->counters().protocol_errors;
        s.resp = ever_ready_ ? conn_->resp() : 0;
    }
    return s;
}

void node_subscriber::on_state(net::connection_state state, const std::error_code& ec,
                               const std::string& detail) {
    const auto now = clock::now();
    switch (state) {
        case net::connection_state::connecting:
        case net::connection_state::handshaking:
            return;
        case net::connection_state::ready:
            on_ready();
            return;
        case net::connection_state::disconnected: {
            last_error_ = detail;
            first_attempt_ = false;
            covered_ = false;
            lost_by_eof_ = ec == net::errc::closed_by_peer;
            if (!gap_ && !core_.registry().empty()) {
                gap_event g;
                g.node = name_;
                g.reason = reason_of(ec);
                g.detail = detail;
                g.lost = now;
                gap_ = std::move(g);
            }
            core_.report(severity::warning, detail);
            fail_waiters(make_error_code(notifier_errc::not_connected), detail,
                         core_.options().subscribe_when_disconnected == when_disconnected::queue);
            if (core_.on_node_lost) core_.on_node_lost(name_);
            return;
        }
        case net::connection_state::closed: {
            if (paused_) return;  // our own doing: resume() reconnects
            first_attempt_ = false;
            const bool by_user = ec == net::errc::closed;
            if (!by_user) last_error_ = detail;
            if (!by_user) core_.report(severity::error, detail);
            if (!core_.registry().empty() && !by_user) {
                gap_event g = gap_ ? std::move(*gap_) : gap_event{};
                if (!gap_) g.lost = now;
                g.node = name_;
                g.reason = gap_reason::node_closed;
                g.detail = detail;
                g.restored.reset();
                if (g.slots.empty()) g.slots = slots_;
                gap_.reset();
                ++stats_.gaps;
                core_.emit_gap(std::move(g));
            }
            if (retired_) {
                fail_waiters({}, {}, true);  // completes them: this node needs nothing more
            } else {
                fail_waiters(make_error_code(notifier_errc::closed), detail, false);
            }
            if (core_.on_node_lost && !by_user) core_.on_node_lost(name_);
            return;
        }
    }
}

void node_subscriber::on_ready() {
    first_attempt_ = false;
    covered_ = false;
    if (ever_ready_) ++stats_.reconnects;
    ever_ready_ = true;

    // Who answered: a new run_id after a loss means the server restarted.
    conn_->command({"INFO", "server"}, [this](const std::error_code& ec, const protocol::value& v) {
        if (ec) return;  // INFO refused (ACL): the reason stays as it was
        const std::string id = run_id_of(v.data);
        if (gap_ && gap_->reason == gap_reason::connection_lost && !run_id_.empty() &&
            !id.empty()) {
            if (id != run_id_) {
                gap_->reason = gap_reason::server_restarted;
                gap_->detail = name_ + ": the server restarted (new run_id); " + gap_->detail;
            } else if (lost_by_eof_) {
                gap_->reason = gap_reason::server_closed_connection;
                gap_->detail = name_ +
                               ": the server stayed up and closed the connection (most often "
                               "client-output-buffer-limit pubsub: the consumer was too slow; "
                               "else CLIENT KILL or client eviction)";
            }
        }
        if (!id.empty()) run_id_ = id;
    });
    if (core_.options().check != notify_check::off) {
        conn_->command({"CONFIG", "GET", "notify-keyspace-events"},
                       [this](const std::error_code& ec, const protocol::value& v) {
                           if (ec == net::errc::server_error) {
                               configured_.reset();
                               if (!core_.registry().empty()) {
                                   core_.report(severity::warning,
                                                name_ +
                                                    ": cannot check notify-keyspace-events "
                                                    "(CONFIG GET refused: " +
                                                    v.data +
                                                    "); if notifications are off on the server, "
                                                    "nothing will arrive");
                               }
                               return;
                           }
                           if (!ec) check_flags(v);
                       });
    }
    // Replay every subscription; the node is covered once all are confirmed.
    std::vector<subscription_key> keys;
    for (const bool pattern : {false, true}) {
        for (auto& n : core_.registry().names(pattern))
            keys.push_back({std::move(n), pattern});
    }
    if (keys.empty()) {
        covered();
        return;
    }
    send_commands(keys, false, 0);
    waiters_.push_back(
        waiter{0, false, std::move(keys), [this](const std::error_code& ec, const std::string&) {
                   if (!ec) covered();
               }});
}

void node_subscriber::check_flags(const protocol::value& reply) {
    // RESP3: a map; RESP2: an array [name, value].
    if (reply.elements.size() < 2) return;
    const std::string& letters = reply.elements[1].data;
    configured_ = from_letters(letters);
    if (!configured_) return;
    if (auto why = unmet_flags(letters, *configured_, core_.registry().requirements())) {
        core_.warn_flags(name_ + ": " + *why + "; nothing will arrive for those subscriptions");
    }
}

void node_subscriber::covered() {
    covered_ = true;
    if (!gap_) return;
    gap_->restored = clock::now();
    if (gap_->slots.empty()) gap_->slots = slots_;
    ++stats_.gaps;
    core_.emit_gap(std::move(*gap_));
    gap_.reset();
}

void node_subscriber::expect_gap(gap_event gap) {
    if (gap_) {
        // Already interrupted: one gap covers both, from the earlier start.
        gap.lost = std::min(gap.lost, gap_->lost);
    }
    gap.node = name_;
    gap_ = std::move(gap);
    if (covered_ && ready()) covered();
}

void node_subscriber::send_commands(const std::vector<subscription_key>& keys, bool unsubscribe,
                                    std::uint64_t op) {
    for (const bool pattern : {false, true}) {
        std::vector<std::string_view> args;
        args.push_back(unsubscribe ? (pattern ? "PUNSUBSCRIBE" : "UNSUBSCRIBE")
                                   : (pattern ? "PSUBSCRIBE" : "SUBSCRIBE"));
        for (const auto& k : keys) {
            if (k.pattern == pattern) args.push_back(k.name);
        }
        if (args.size() == 1) continue;
        conn_->subscribe_command(args, [this, op, cmd = std::string(args.front())](
                                           const std::error_code& ec, const protocol::value& v) {
            if (ec != net::errc::server_error) return;  // disconnects: see on_state()
            for (std::size_t i = 0; i < waiters_.size(); ++i) {
                if (waiters_[i].op != op) continue;
                finish_waiter(i, make_error_code(notifier_errc::subscribe_refused),
                              name_ + ": " + cmd + " " + join_names(waiters_[i].remaining) +
                                  " refused: " + v.data);
                return;
            }
        });
    }
}

void node_subscriber::send(const std::vector<subscription_key>& keys, bool unsubscribe,
                           std::uint64_t op, completion done) {
    if (closed_) {
        done(make_error_code(notifier_errc::closed), name_ + ": closed");
        return;
    }
    if (!ready()) {
        if (unsubscribe) {
            done({}, {});  // the next connection will not subscribe them
            return;
        }
        // Before the first connection, wait for it; afterwards, the user's choice.
        if (!first_attempt_ && !paused_ &&
            core_.options().subscribe_when_disconnected == when_disconnected::fail) {
            done(make_error_code(notifier_errc::not_connected),
                 name_ + ": not connected (" + std::string(net::to_string(conn_->state())) +
                     (last_error_.empty() ? std::string() : ": " + last_error_) +
                     "); not subscribed: " + join_names(keys));
            return;
        }
        if (!first_attempt_ || paused_) {
            done({}, {});  // queued: replayed by the next connection
            return;
        }
        waiters_.push_back(waiter{op, false, keys, std::move(done)});
        return;
    }
    send_commands(keys, unsubscribe, op);
    waiters_.push_back(waiter{op, unsubscribe, keys, std::move(done)});
}

std::vector<subscription_key> node_subscriber::cancel(std::uint64_t op) {
    for (std::size_t i = 0; i < waiters_.size(); ++i) {
        if (waiters_[i].op != op) continue;
        auto keys = std::move(waiters_[i].remaining);
        waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(i));
        return keys;
    }
    return {};
}

void node_subscriber::finish_waiter(std::size_t index, const std::error_code& ec,
                                    const std::string& detail) {
    completion done = std::move(waiters_[index].done);
    waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(index));
    if (done) done(ec, detail);
}

void node_subscriber::fail_waiters(const std::error_code& ec, const std::string& detail,
                                   bool keep_subscribes) {
    for (std::size_t i = 0; i < waiters_.size();) {
        waiter& w = waiters_[i];
        if (w.op == 0) {
            waiters_.erase(waiters_.begin() + static_cast<std::ptrdiff_t>(i));  // replay
        } else if (w.unsubscribe) {
            finish_waiter(i, {}, {});  // a lost connection unsubscribes everything anyway
        } else if (keep_subscribes) {
            finish_waiter(i, {}, {});  // queued: the next connection replays them
        } else {
            finish_waiter(i, ec, detail + "; not subscribed: " + join_names(w.remaining));
        }
    }
}

void node_subscriber::on_message(const protocol::pubsub_frame& frame, clock::time_point received) {
    core_.dispatch(frame, received, *this);
}

void node_subscriber::on_confirmation(const protocol::pubsub_frame& frame) {
    const bool pattern =
        frame.kind == pubsub_kind::psubscribe || frame.kind == pubsub_kind::punsubscribe;
    const bool unsubscribe =
        frame.kind == pubsub_kind::unsubscribe || frame.kind == pubsub_kind::punsubscribe;
    for (std::size_t i = 0; i < waiters_.size();) {
        waiter& w = waiters_[i];
        if (w.unsubscribe == unsubscribe) {
            for (auto it = w.remaining.begin(); it != w.remaining.end(); ++it) {
                if (it->pattern == pattern && it->name == frame.channel) {
                    w.remaining.erase(it);
                    break;
                }
            }
            if (w.remaining.empty()) {
                finish_waiter(i, {}, {});
                continue;
            }
        }
        ++i;
    }
    if (core_.options().deliver_confirmations) core_.emit_confirmation(frame, *this);
}

void node_subscriber::pause_for_overflow(clock::time_point when) {
    if (paused_ || closed_) return;
    paused_ = true;
    if (!gap_) {
        gap_event g;
        g.node = name_;
        g.reason = gap_reason::slow_consumer_disconnect;
        g.detail = name_ +
                   ": the queue was full (overflow_policy::disconnect): disconnected until the "
                   "consumer caught up";
        g.lost = when;
        gap_ = std::move(g);
    }
    conn_->close();
}

void node_subscriber::resume() {
    if (!paused_ || closed_) return;
    paused_ = false;
    connect();
}

// ---------------------------------------------------------------------------------------
// notifier_core

notifier_core::notifier_core(asio::io_context* external, notifier_options options)
    : own_io_(external ? nullptr : std::make_unique<asio::io_context>(1)),
      io_(external ? external : own_io_.get()),
      options_(std::move(options)),
      queue_(options_.queue_capacity, options_.overflow) {
    diagnostic_handler_ =
        options_.diagnostics ? options_.diagnostics : [](severity s, const std::string& m) {
            if (s != severity::info) {
                std::cerr << "ksn: " << to_string(s) << ": " << m << '\n';
            }
        };
}

notifier_core::~notifier_core() {
    if (thread_.joinable() && thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // released by a handler on the I/O thread itself
    } else if (thread_.joinable()) {
        stop_thread();
    }
}

void notifier_core::start(std::function<void()> init) {
    std::weak_ptr<notifier_core> weak = shared_from_this();
    queue_.set_drained_callback([this, weak] {
        // Runs on a consumer thread; the nodes live on the I/O thread.
        if (auto self = weak.lock()) {
            asio::post(*io_, [self] {
                for (auto& n : self->nodes_)
                    n->resume();
            });
        }
    });
    asio::post(*io_, [self = shared_from_this(), init = std::move(init)] { init(); });
    if (own_io_) {
        guard_.emplace(own_io_->get_executor());
        auto finished = std::make_shared<std::promise<void>>();
        run_finished_ = finished->get_future();
        thread_ = std::thread([io = own_io_.get(), finished] {
            io->run();
            finished->set_value();
        });
    }
}

void notifier_core::stop_thread() {
    // Let the loop run out of work (everything is closed, so what is left are handlers of
    // cancelled operations): handlers left in a stopped io_context would keep what they
    // hold, the core included, alive for good. stop() only if something lingers.
    guard_.reset();
    if (run_finished_.valid() &&
        run_finished_.wait_for(std::chrono::seconds(3)) != std::future_status::ready) {
        io_->stop();
    }
    thread_.join();
}

void notifier_core::shutdown() {
    if (closed_.exchange(true)) return;
    queue_.close();
    auto close_all = [self = shared_from_this()] {
        if (self->on_shutdown) self->on_shutdown();
        for (auto& [id, op] : self->operations_) {
            if (op.timer) op.timer->cancel();
        }
        for (auto& n : self->nodes_)
            n->close();
        self->nodes_.clear();
    };
    if (on_io_thread()) {
        close_all();
    } else if (own_io_) {
        auto done = std::make_shared<std::promise<void>>();
        auto f = done->get_future();
        asio::post(*io_, [done, close_all] {
            close_all();
            done->set_value();
        });
        f.wait_for(std::chrono::seconds(5));
    } else {
        asio::post(*io_, close_all);
    }
    if (thread_.joinable() && !on_io_thread()) stop_thread();
}

bool notifier_core::on_io_thread() const noexcept {
    return io_->get_executor().running_in_this_thread();
}

node_subscriber& notifier_core::add_node(const net::endpoint& address) {
    nodes_.push_back(std::make_unique<node_subscriber>(*this, address));
    nodes_.back()->start();
    return *nodes_.back();
}

node_subscriber* notifier_core::find_node(const std::string& name) noexcept {
    for (auto& n : nodes_) {
        if (n->name() == name) return n.get();
    }
    return nullptr;
}

void notifier_core::remove_node(const std::string& name, std::optional<gap_event> gap) {
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
        if ((*it)->name() != name) continue;
        (*it)->close(true);
        // Keep the object alive until handlers queued for it have run.
        asio::post(*io_, [n = std::shared_ptr<node_subscriber>(std::move(*it))] {});
        nodes_.erase(it);
        break;
    }
    if (gap) emit_gap(std::move(*gap));
}

void notifier_core::dispatch(const protocol::pubsub_frame& frame, clock::time_point received,
                             node_subscriber& node) {
    const bool pattern = frame.kind == pubsub_kind::pmessage;
    const auto* entry = registry_.find(pattern ? frame.pattern : frame.channel, pattern);
    node_stats& stats = node.counters();
    if (entry == nullptr) {
        ++stats.other_messages;  // unsubscribed while in flight
        return;
    }
    const auto r = parse_notification(frame.channel, frame.payload, scratch_, scratch_storage_,
                                      options_.key_prefix);
    switch (r.status) {
        case parse_status::ok:
            break;
        case parse_status::filtered:
            ++stats.filtered;
            return;
        case parse_status::not_notification:
            ++stats.other_messages;
            return;
        case parse_status::malformed:
        case parse_status::storage_too_small:
            ++stats.invalid;
            report(severity::warning,
                   node.name() + ": malformed notification on channel of " +
                       std::to_string(frame.channel.size()) +
                       " bytes: " + r.error_code().message() + " (" +
                       (r.part == notification_part::channel ? "channel" : "payload") + " byte " +
                       std::to_string(r.offset) + ")");
            if (options_.deliver_invalid) {
                queue_.push_invalid({node.name(), std::string(frame.channel),
                                     std::string(frame.payload), r.error_code(), r.part, r.offset});
            }
            return;
    }
    ++stats.notifications;
    if (options_.dispatch == dispatch_mode::io_thread && entry->handler) {
        scratch_.set_origin(node.name(), received, pattern ? frame.pattern : std::string_view());
        try {
            (*entry->handler)(scratch_);
        } catch (const std::exception& e) {
            ++stats.handler_exceptions;
            report(severity::error, std::string("handler threw: ") + e.what());
        } catch (...) {
            ++stats.handler_exceptions;
            report(severity::error, "handler threw a non-std::exception");
        }
        return;
    }
    if (!wakes_held_) {
        // Consumers are woken once for the frames of this read, after they are all queued.
        wakes_held_ = true;
        queue_.hold_wakes();
        asio::post(*io_, [self = shared_from_this()] {
            self->wakes_held_ = false;
            self->queue_.release_wakes();
        });
    }
    const auto res = queue_.push_notification(frame.channel, frame.payload,
                                              pattern ? frame.pattern : std::string_view(),
                                              node.name(), received, entry->handler);
    if (res == event_queue::push_result::full) node.pause_for_overflow(received);
}

void notifier_core::emit_gap(gap_event gap) {
    gap_handler h;
    {
        std::lock_guard lock(handlers_mutex_);
        h = gap_handler_;
    }
    if (h && options_.dispatch == dispatch_mode::io_thread) {
        try {
            h(gap);
        } catch (const std::exception& e) {
            report(severity::error, std::string("gap handler threw: ") + e.what());
        }
        return;
    }
    queue_.push_gap(std::move(gap));
}

void notifier_core::emit_confirmation(const protocol::pubsub_frame& frame,
                                      const node_subscriber& node) {
    confirmation c;
    c.node = node.name();
    c.kind = std::string(protocol::to_string(frame.kind));
    c.channel = std::string(frame.channel);
    c.count = frame.count;
    queue_.push_confirmation(c);
}

void notifier_core::report(severity s, const std::string& message) {
    diagnostic_handler h;
    {
        std::lock_guard lock(handlers_mutex_);
        h = diagnostic_handler_;
    }
    if (h) h(s, message);
}

void notifier_core::warn_flags(const std::string& message) {
    // The connect-time check and the subscribe-time check often find the same thing.
    if (message == last_flags_warning_) return;
    last_flags_warning_ = message;
    report(severity::warning, message);
}

void notifier_core::set_gap_handler(gap_handler h) {
    std::lock_guard lock(handlers_mutex_);
    gap_handler_ = std::move(h);
}

void notifier_core::set_diagnostic_handler(diagnostic_handler h) {
    std::lock_guard lock(handlers_mutex_);
    diagnostic_handler_ = std::move(h);
}

bool notifier_core::flags_missing(std::string& why) const {
    const auto requirements = registry_.requirements();
    for (const auto& n : nodes_) {
        const auto configured = n->configured_flags();
        if (!configured) continue;
        if (auto unmet = unmet_flags(to_letters(*configured), *configured, requirements)) {
            why = n->name() + ": " + *unmet;
            return true;
        }
    }
    return false;
}

void notifier_core::subscribe(std::vector<subscription_key> keys, notification_handler handler,
                              completion done) {
    if (closed_) {
        done(make_error_code(notifier_errc::closed), "the notifier is closed");
        return;
    }
    const std::uint64_t id = next_op_++;
    operation op{id, nodes_.size(), {}, false, std::move(done), nullptr, {}, {}};
    for (const auto& k : keys) {
        if (registry_.add(k, handler)) op.added.push_back(k);
    }
    subscription_count_ = registry_.size();
    const bool park = nodes_.empty() && awaiting_nodes_;
    if (op.added.empty() || (nodes_.empty() && !park)) {
        // Only handlers changed, or no node (every node was given up): nothing to wait for.
        auto d = std::move(op.done);
        d({}, {});
        return;
    }
    op.parked = park;
    arm_timeout(op);
    const auto added = op.added;
    operations_.emplace(id, std::move(op));
    if (park) return;  // nodes_ready() sends it
    send_to_nodes(id, added, false);
}

void notifier_core::send_to_nodes(std::uint64_t id, const std::vector<subscription_key>& keys,
                                  bool unsubscribe) {
    // A node's send() may answer at once; the operation counts every node in advance.
    const std::size_t count = nodes_.size();
    for (std::size_t i = 0; i < count && i < nodes_.size(); ++i) {
        nodes_[i]->send(
            keys, unsubscribe, id,
            [self = shared_from_this(), id](const std::error_code& ec, const std::string& detail) {
                self->node_done(id, ec, detail);
            });
    }
}

void notifier_core::nodes_ready() {
    awaiting_nodes_ = false;
    std::vector<std::uint64_t> parked;
    for (auto& [id, op] : operations_) {
        if (op.parked) parked.push_back(id);
    }
    for (const auto id : parked) {
        auto it = operations_.find(id);
        if (it == operations_.end()) continue;
        it->second.parked = false;
        it->second.waiting = nodes_.size();
        if (nodes_.empty()) {
            finish(id);
            continue;
        }
        send_to_nodes(id, it->second.added, false);
    }
}

void notifier_core::fail_parked(const std::string& detail) {
    std::vector<std::uint64_t> parked;
    for (auto& [id, op] : operations_) {
        if (op.parked) parked.push_back(id);
    }
    for (const auto id : parked) {
        auto it = operations_.find(id);
        if (it == operations_.end()) continue;
        it->second.ec = make_error_code(notifier_errc::not_connected);
        it->second.detail = detail;
        finish(id);
    }
}

void notifier_core::unsubscribe(std::vector<subscription_key> keys, completion done) {
    if (closed_) {
        done(make_error_code(notifier_errc::closed), "the notifier is closed");
        return;
    }
    std::vector<subscription_key> removed;
    for (const auto& k : keys) {
        if (registry_.remove(k)) removed.push_back(k);
    }
    subscription_count_ = registry_.size();
    if (removed.empty() || nodes_.empty()) {
        done({}, {});
        return;
    }
    const std::uint64_t id = next_op_++;
    operation op{id, nodes_.size(), {}, true, std::move(done), nullptr, {}, {}};
    arm_timeout(op);
    operations_.emplace(id, std::move(op));
    send_to_nodes(id, removed, true);
}

void notifier_core::arm_timeout(operation& op) {
    op.timer = std::make_unique<asio::steady_timer>(*io_, options_.subscribe_timeout);
    // A weak reference: a cancelled timer's handler may outlive the notifier's I/O loop,
    // and must not keep the core (and so the io_context that holds it) alive.
    op.timer->async_wait([weak = weak_from_this(), id = op.id](const std::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        auto it = self->operations_.find(id);
        if (it == self->operations_.end()) return;
        std::string late;
        for (auto& n : self->nodes_) {
            const auto keys = n->cancel(id);
            if (!keys.empty())
                late += (late.empty() ? "" : "; ") + n->name() + ": " + join_names(keys);
        }
        if (late.empty()) late = "any node (the cluster topology is not known yet)";
        it->second.ec = make_error_code(notifier_errc::subscribe_timeout);
        it->second.detail =
            std::string(it->second.unsubscribe ? "unsubscribe: " : "") + "no confirmation within " +
            std::to_string(self->options_.subscribe_timeout.count()) + " ms from " + late;
        self->finish(id);
    });
}

void notifier_core::node_done(std::uint64_t id, const std::error_code& ec,
                              const std::string& detail) {
    auto it = operations_.find(id);
    if (it == operations_.end()) return;
    operation& op = it->second;
    if (ec && !op.ec) {
        op.ec = ec;
        op.detail = detail;
    }
    if (--op.waiting == 0 || ec) finish(id);
}

void notifier_core::finish(std::uint64_t id) {
    auto it = operations_.find(id);
    if (it == operations_.end()) return;
    operation op = std::move(it->second);
    operations_.erase(it);
    if (op.timer) op.timer->cancel();
    for (auto& n : nodes_)
        (void)n->cancel(id);
    // New subscriptions may need flags the connect-time check did not ask about. (Nodes
    // whose CONFIG GET has not answered yet are checked when it does.)
    if (!op.ec && !op.unsubscribe && options_.check != notify_check::off) {
        std::string why;
        if (flags_missing(why)) {
            if (options_.check == notify_check::require) {
                op.ec = make_error_code(notifier_errc::notifications_disabled);
                op.detail = why;
            } else {
                warn_flags(why + "; nothing will arrive for those subscriptions");
            }
        }
    }
    if (op.ec && !op.unsubscribe && !op.added.empty()) {
        // Undo: the caller learns the subscribe failed, so nothing of it may stay.
        for (const auto& k : op.added)
            registry_.remove(k);
        subscription_count_ = registry_.size();
        for (auto& n : nodes_) {
            if (n->ready()) {
                n->send(op.added, true, next_op_++,
                        [](const std::error_code&, const std::string&) {});
            }
        }
    }
    if (op.done) op.done(op.ec, op.detail);
}

void notifier_core::configure(notify_flags flags, completion done) {
    // CONFIG SET is not allowed on a RESP2 connection in subscribed mode, so each node
    // gets a short-lived command connection.
    struct state {
        std::size_t waiting;
        std::error_code ec;
        std::string detail;
        completion done;
        std::vector<std::shared_ptr<net::connection>> conns;
        std::vector<std::unique_ptr<net::connection_observer>> observers;
    };
    auto st = std::make_shared<state>();
    st->waiting = nodes_.size();
    st->done = std::move(done);
    if (nodes_.empty()) {
        st->done({}, {});
        return;
    }
    class once final : public net::connection_observer {
      public:
        std::function<void()> ready;
        std::function<void(const std::string&)> failed;
        void on_state(net::connection_state s, const std::error_code& ec,
                      const std::string& detail) override {
            if (s == net::connection_state::ready && ready) ready();
            // Closed by finish_one() itself after the answer, or given up by the driver.
            if (s == net::connection_state::closed && ec != net::errc::closed && failed) {
                failed(detail);
            }
        }
        void on_message(const protocol::pubsub_frame&, clock::time_point) override {}
        void on_confirmation(const protocol::pubsub_frame&) override {}
    };
    for (auto& node : nodes_) {
        auto opts = options_.connection;
        opts.address = node->address();
        opts.reconnect.max_attempts = 1;
        opts.health_check_interval = std::chrono::milliseconds(0);
        auto obs = std::make_unique<once>();
        auto conn = net::connection::create(*io_, opts, obs.get());
        const std::string name = node->name();
        node_subscriber* raw = node.get();
        auto finish_one = [st, conn_w = std::weak_ptr<net::connection>(conn), io = io_](
                              const std::error_code& ec, const std::string& detail) {
            if (ec && !st->ec) {
                st->ec = ec;
                st->detail = detail;
            }
            if (auto c = conn_w.lock()) c->close();
            if (--st->waiting == 0) {
                auto d = std::move(st->done);
                if (d) d(st->ec, st->detail);
                // The state owns the observers, whose callbacks own the state (and the
                // core): a cycle that leaked the whole notifier. Break it once every
                // connection is closed, outside the observer callback running now.
                asio::post(*io, [st] {
                    for (auto& c : st->conns)
                        c->close();
                    st->conns.clear();
                    st->observers.clear();
                });
            }
        };
        obs->failed = [finish_one, name](const std::string& detail) {
            finish_one(make_error_code(notifier_errc::command_failed), detail);
        };
        obs->ready = [conn_w = std::weak_ptr<net::connection>(conn), finish_one, flags, name, raw,
                      self = shared_from_this()] {
            auto c = conn_w.lock();
            if (!c) return;
            c->command({"CONFIG", "GET", "notify-keyspace-events"},
                       [c, finish_one, flags, name, raw, self](const std::error_code& ec,
                                                               const protocol::value& v) {
                           if (ec) {
                               finish_one(make_error_code(notifier_errc::command_failed),
                                          name + ": CONFIG GET refused: " + v.data);
                               return;
                           }
                           notify_flags now = notify_flags::none;
                           if (v.elements.size() >= 2) {
                               now = from_letters(v.elements[1].data).value_or(notify_flags::none);
                           }
                           const notify_flags wanted = now | flags;
                           const std::string letters = to_letters(wanted);
                           c->command({"CONFIG", "SET", "notify-keyspace-events", letters},
                                      [finish_one, name, raw, wanted, self](
                                          const std::error_code& ec2, const protocol::value& v2) {
                                          if (ec2) {
                                              finish_one(
                                                  make_error_code(notifier_errc::command_failed),
                                                  name +
                                                      ": CONFIG SET notify-keyspace-events "
                                                      "refused: " +
                                                      v2.data);
                                              return;
                                          }
                                          if (self->find_node(name) == raw) {
                                              raw->set_configured_flags(wanted);
                                          }
                                          finish_one({}, {});
                                      });
                       });
        };
        // The observer must outlive the connection's callbacks: the state keeps both.
        st->observers.push_back(std::move(obs));
        st->conns.push_back(conn);
        conn->start();
    }
}

std::pair<std::error_code, std::string> notifier_core::run_blocking(
    const std::function<void(completion)>& op, std::chrono::milliseconds bound) {
    if (on_io_thread()) {
        throw std::logic_error(
            "ksn: a blocking call was made on the notifier's own I/O thread (from a handler, "
            "or on the io_context given to the notifier): use the async_ calls there");
    }
    if (closed_) return {make_error_code(notifier_errc::closed), "the notifier is closed"};
    auto result = std::make_shared<std::promise<std::pair<std::error_code, std::string>>>();
    auto future = result->get_future();
    asio::post(*io_, [op, result] {
        op([result](const std::error_code& ec, const std::string& detail) {
            result->set_value({ec, detail});
        });
    });
    if (future.wait_for(bound) != std::future_status::ready) {
        return {make_error_code(notifier_errc::subscribe_timeout),
                "the notifier's I/O did not answer within " + std::to_string(bound.count()) +
                    " ms (is the io_context running?)"};
    }
    return future.get();
}

void notifier_core::prepare(delivery& d) const {
    d.key_prefix_.assign(options_.key_prefix);
    d.rebuild();
}

bool notifier_core::next(delivery& out, clock::duration timeout) {
    // The deadline is set when first needed: when the queue has to be waited for, or
    // when a handler ran and the loop goes on. Pulling what is already queued reads no
    // clock.
    std::optional<clock::time_point> deadline;
    const auto set_deadline = [&] {
        if (!deadline) deadline = clock::now() + timeout;
    };
    while (queue_.pop(out, timeout, deadline)) {
        if (out.is_gap()) {
            gap_handler h;
            {
                std::lock_guard lock(handlers_mutex_);
                h = gap_handler_;
            }
            if (h) {
                h(out.gap_);
                set_deadline();
                continue;
            }
            return true;
        }
        if (out.is_confirmation()) return true;
        prepare(out);
        if (out.handler_) {
            const auto handler = std::move(out.handler_);
            (*handler)(out.view_);
            set_deadline();
            continue;
        }
        return true;
    }
    return false;
}

}  // namespace ksn::detail
