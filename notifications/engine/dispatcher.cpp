#include "notifications/engine/dispatcher.hpp"

#include <exception>
#include <iostream>
#include <utility>

#include "notifications/notification.hpp"

namespace ksn::detail {

using protocol::pubsub_kind;

namespace {

/// "what threw: <e.what()>", or "what threw a non-std::exception".
std::string describe(std::string_view what, const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return std::string(what) + " threw: " + x.what();
    } catch (...) {
        return std::string(what) + " threw a non-std::exception";
    }
}

}  // namespace

dispatcher::dispatcher(const notifier_options& options, const subscription_registry& registry)
    : options_(options), registry_(registry), queue_(options.queue_capacity, options.overflow) {
    diagnostic_handler_ =
        options_.diagnostics ? options_.diagnostics : [](severity s, const std::string& m) {
            if (s != severity::info) std::cerr << "ksn: " << to_string(s) << ": " << m << '\n';
        };
}

void dispatcher::release_wakes() {
    wakes_held_ = false;
    queue_.release_wakes();
}

event_queue::push_result dispatcher::dispatch(const protocol::pubsub_frame& frame,
                                              clock::time_point received, node_stats& stats,
                                              std::string_view node, bool redelivered) {
    const bool pattern = frame.kind == pubsub_kind::pmessage;
    const auto* entry = registry_.find(pattern ? frame.pattern : frame.channel, pattern);
    if (entry == nullptr) {
        ++stats.other_messages;  // unsubscribed while in flight
        return event_queue::push_result::dropped;
    }
    const auto r = parse_notification(frame.channel, frame.payload, scratch_, scratch_storage_,
                                      options_.key_prefix);
    switch (r.status) {
        case parse_status::ok:
            break;
        case parse_status::filtered:
            ++stats.filtered;
            return event_queue::push_result::dropped;
        case parse_status::not_notification:
            ++stats.other_messages;
            return event_queue::push_result::dropped;
        case parse_status::malformed:
        case parse_status::storage_too_small:
            ++stats.invalid;
            report(severity::warning,
                   std::string(node) + ": malformed notification on channel of " +
                       std::to_string(frame.channel.size()) +
                       " bytes: " + r.error_code().message() + " (" +
                       (r.part == notification_part::channel ? "channel" : "payload") + " byte " +
                       std::to_string(r.offset) + ")");
            if (options_.deliver_invalid) {
                queue_.push_invalid({std::string(node), std::string(frame.channel),
                                     std::string(frame.payload), r.error_code(), r.part, r.offset});
            }
            return event_queue::push_result::dropped;
    }
    ++stats.notifications;
    if (redelivered) ++stats.redelivered;
    if (options_.dispatch != dispatch_mode::queued && entry->handler) {
        scratch_.set_origin(node, received, pattern ? frame.pattern : std::string_view(),
                            redelivered);
        try {
            (*entry->handler)(scratch_);
        } catch (...) {
            ++stats.handler_exceptions;
            report(severity::error, describe("handler", std::current_exception()));
        }
        return event_queue::push_result::queued;
    }
    if (!wakes_held_ && schedule_release_) {
        // Consumers are woken once for the frames of this read, after they are all queued.
        wakes_held_ = true;
        queue_.hold_wakes();
        schedule_release_();
    }
    return queue_.push_notification(scratch_, pattern ? frame.pattern : std::string_view(), node,
                                    received, entry->handler, redelivered);
}

void dispatcher::emit_gap(gap_event gap) {
    gap_handler h;
    {
        std::lock_guard lock(handlers_mutex_);
        h = gap_handler_;
    }
    if (h && options_.dispatch != dispatch_mode::queued) {
        guarded("gap handler", [&] { h(gap); });
        return;
    }
    queue_.push_gap(std::move(gap));
}

void dispatcher::emit_confirmation(const protocol::pubsub_frame& frame, std::string_view node) {
    confirmation c;
    c.node = std::string(node);
    c.kind = std::string(protocol::to_string(frame.kind));
    c.channel = std::string(frame.channel);
    c.count = frame.count;
    queue_.push_confirmation(c);
}

void dispatcher::threw(std::string_view what, std::exception_ptr e) noexcept {
    ++callback_exceptions_;
    try {
        report(severity::error, describe(what, e));
    } catch (...) {
        // Out of memory while reporting: the count above is all that is left.
    }
}

void dispatcher::report(severity s, const std::string& message) {
    diagnostic_handler h;
    {
        std::lock_guard lock(handlers_mutex_);
        h = diagnostic_handler_;
    }
    if (!h) return;
    try {
        h(s, message);
    } catch (...) {
        // The diagnostic handler itself failed: it cannot be told, so stderr is.
        ++callback_exceptions_;
        std::cerr << "ksn: " << describe("the diagnostic handler", std::current_exception())
                  << " (reporting: " << message << ")\n";
    }
}

void dispatcher::warn_flags(const std::string& message) {
    // The connect-time check and the subscribe-time check often find the same thing.
    if (message == last_flags_warning_) return;
    last_flags_warning_ = message;
    report(severity::warning, message);
}

void dispatcher::set_gap_handler(gap_handler h) {
    std::lock_guard lock(handlers_mutex_);
    gap_handler_ = std::move(h);
}

void dispatcher::set_diagnostic_handler(diagnostic_handler h) {
    std::lock_guard lock(handlers_mutex_);
    diagnostic_handler_ = std::move(h);
}

bool dispatcher::next(delivery& out, clock::duration timeout) {
    // The deadline is set when first needed: when the queue has to be waited for, or
    // when a handler ran and the loop goes on. Pulling what is already queued reads no
    // clock. Handlers run here, in the caller's thread: what they throw reaches the
    // caller of next() (run_in_thread() catches it).
    std::optional<clock::time_point> deadline;
    const auto set_deadline = [&] {
        if (!deadline) deadline = clock::now() + timeout;
    };
    // A handler that throws leaves its pin in `out`: let go of it on the way out.
    struct release_on_exit {
        event_queue& queue;
        delivery& out;
        ~release_on_exit() { queue.release(out); }
    } guard{queue_, out};
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
        out.rebuild();
        if (const notification_handler* handler = event_queue::handler_of(out)) {
            (*handler)(out.view_);
            set_deadline();
            continue;
        }
        return true;
    }
    return false;
}

}  // namespace ksn::detail
