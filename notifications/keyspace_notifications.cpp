#include "notifications/keyspace_notifications.hpp"

#include <stdexcept>
#include <utility>

#include "notifications/engine/notifier_core.hpp"
#include "notifications/glob.hpp"

namespace ksn {

// ---------------------------------------------------------------------------------------
// errors and names

namespace {

void throw_if(const std::pair<std::error_code, std::string>& r) {
    if (r.first) throw error(r.first, r.second);
}

std::vector<subscription_key> keys_of(std::span<const channel> channels) {
    std::vector<subscription_key> keys;
    keys.reserve(channels.size());
    for (const auto& c : channels)
        keys.push_back({c.name(), c.is_pattern()});
    return keys;
}

subscription_key key_of(std::string_view name, match m) {
    const bool pattern = m == match::pattern || (m == match::detect && is_glob_pattern(name));
    return {std::string(name), pattern};
}

using outcome = std::pair<std::error_code, std::string>;

outcome blocking_subscribe(detail::notifier_core& core, std::vector<subscription_key> keys,
                           notification_handler handler) {
    return core.run_blocking(
        [&core, keys = std::move(keys), handler = std::move(handler)](completion done) mutable {
            core.subscribe(std::move(keys), std::move(handler), std::move(done));
        },
        core.blocking_bound());
}

outcome blocking_unsubscribe(detail::notifier_core& core, std::vector<subscription_key> keys) {
    return core.run_blocking(
        [&core, keys = std::move(keys)](completion done) mutable {
            core.unsubscribe(std::move(keys), std::move(done));
        },
        core.blocking_bound());
}

}  // namespace

// ---------------------------------------------------------------------------------------
// worker

worker& worker::operator=(worker&& other) noexcept {
    if (this != &other) {
        stop();
        stop_ = std::move(other.stop_);
        thread_ = std::move(other.thread_);
    }
    return *this;
}

worker::~worker() {
    stop();
}

void worker::stop() {
    if (stop_) stop_->store(true);
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

// ---------------------------------------------------------------------------------------
// notifier_base

notifier_base::notifier_base(std::shared_ptr<detail::notifier_core> core)
    : core_(std::move(core)) {}

notifier_base::~notifier_base() {
    close();
}

void notifier_base::close() {
    if (core_) core_->shutdown();
}

void notifier_base::subscribe(const channel& c, notification_handler handler) {
    subscribe(std::span<const channel>(&c, 1), std::move(handler));
}

void notifier_base::subscribe(std::span<const channel> channels, notification_handler handler) {
    throw_if(blocking_subscribe(*core_, keys_of(channels), std::move(handler)));
}

void notifier_base::subscribe(std::span<const channel> channels, notification_handler handler,
                              std::error_code& ec) {
    ec = blocking_subscribe(*core_, keys_of(channels), std::move(handler)).first;
}

void notifier_base::subscribe(std::string_view name, notification_handler handler, match m) {
    throw_if(blocking_subscribe(*core_, {key_of(name, m)}, std::move(handler)));
}

void notifier_base::unsubscribe(const channel& c) {
    unsubscribe(std::span<const channel>(&c, 1));
}

void notifier_base::unsubscribe(std::span<const channel> channels) {
    throw_if(blocking_unsubscribe(*core_, keys_of(channels)));
}

void notifier_base::unsubscribe(std::span<const channel> channels, std::error_code& ec) {
    ec = blocking_unsubscribe(*core_, keys_of(channels)).first;
}

void notifier_base::unsubscribe(std::string_view name, match m) {
    throw_if(blocking_unsubscribe(*core_, {key_of(name, m)}));
}

void notifier_base::subscribe_keyspace(std::string_view key_or_pattern, std::int32_t db,
                                       notification_handler handler, match m) {
    subscribe(channel::keyspace(key_or_pattern, db, m), std::move(handler));
}
void notifier_base::subscribe_keyevent(std::string_view event, std::int32_t db,
                                       notification_handler handler, match m) {
    subscribe(channel::keyevent(event, db, m), std::move(handler));
}
void notifier_base::subscribe_subkeyspace(std::string_view key_or_pattern, std::int32_t db,
                                          notification_handler handler, match m) {
    subscribe(channel::subkeyspace(key_or_pattern, db, m), std::move(handler));
}
void notifier_base::subscribe_subkeyevent(std::string_view event, std::int32_t db,
                                          notification_handler handler, match m) {
    subscribe(channel::subkeyevent(event, db, m), std::move(handler));
}
void notifier_base::subscribe_subkeyspaceitem(std::string_view key_or_pattern,
                                              std::string_view subkey_or_pattern, std::int32_t db,
                                              notification_handler handler, match m) {
    subscribe(channel::subkeyspaceitem(key_or_pattern, subkey_or_pattern, db, m),
              std::move(handler));
}
void notifier_base::subscribe_subkeyspaceevent(std::string_view event,
                                               std::string_view key_or_pattern, std::int32_t db,
                                               notification_handler handler, match m) {
    subscribe(channel::subkeyspaceevent(event, key_or_pattern, db, m), std::move(handler));
}

namespace {

// The user's completion of an async call, run guarded on the I/O thread (what it throws
// is counted and reported, never escapes into the I/O loop).
completion guarded_completion(const std::shared_ptr<detail::notifier_core>& core, completion done,
                              std::string_view what) {
    if (!done) return [](const std::error_code&, const std::string&) {};
    return [weak = std::weak_ptr<detail::notifier_core>(core), done = std::move(done),
            what = std::string(what)](const std::error_code& ec, const std::string& detail) {
        if (auto c = weak.lock()) {
            c->events().guarded(what, [&] { done(ec, detail); });
        } else {
            try {
                done(ec, detail);
            } catch (...) {
                // The notifier is gone: nobody is left to report to.
            }
        }
    };
}

}  // namespace

void notifier_base::async_subscribe(std::vector<channel> channels, notification_handler handler,
                                    completion done) {
    asio::post(core_->io(),
               [core = core_, keys = keys_of(channels), handler = std::move(handler),
                done = guarded_completion(core_, std::move(done),
                                          "the async_subscribe() completion")]() mutable {
                   core->subscribe(std::move(keys), std::move(handler), std::move(done));
               });
}

void notifier_base::async_unsubscribe(std::vector<channel> channels, completion done) {
    asio::post(core_->io(),
               [core = core_, keys = keys_of(channels),
                done = guarded_completion(core_, std::move(done),
                                          "the async_unsubscribe() completion")]() mutable {
                   core->unsubscribe(std::move(keys), std::move(done));
               });
}

bool notifier_base::next(delivery& out, clock::duration timeout) {
    return core_->next(out, timeout);
}

std::optional<delivery> notifier_base::next(clock::duration timeout) {
    delivery d;
    if (!core_->next(d, timeout)) return std::nullopt;
    return d;
}

notifier_base::listen_range notifier_base::listen() {
    return listen_range(this);
}

notifier_base::listen_range::iterator::iterator(notifier_base* owner)
    : owner_(owner), item_(std::make_shared<delivery>()) {
    ++*this;
}

notifier_base::listen_range::iterator& notifier_base::listen_range::iterator::operator++() {
    // Like redis-py's listen(): wait in steps of a second while subscribed.
    while (owner_ != nullptr) {
        if (!owner_->subscribed()) {
            owner_ = nullptr;
            break;
        }
        if (owner_->next(*item_, std::chrono::seconds(1))) break;
    }
    return *this;
}

worker notifier_base::run_in_thread(std::function<void(std::exception_ptr)> on_exception) {
    const auto missing =
        core_->query([core = core_.get()] { return core->registry().without_handler(); });
    if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing)
            list += (list.empty() ? "" : ", ") + m;
        throw std::logic_error(
            "ksn: run_in_thread() needs a handler on every subscription; "
            "these have none: " +
            list);
    }
    worker w;
    w.stop_ = std::make_shared<std::atomic<bool>>(false);
    w.thread_ = std::thread([core = core_, stop = w.stop_, on_exception = std::move(on_exception)] {
        delivery d;
        while (!stop->load() && !core->closed()) {
            try {
                if (!core->next(d, std::chrono::milliseconds(100))) continue;
                // Handlers ran inside next(); what comes back has none.
                if (d.is_gap()) core->report(severity::warning, "gap: " + d.gap().detail);
            } catch (...) {
                ++core->handler_exceptions;
                if (on_exception) {
                    on_exception(std::current_exception());
                } else {
                    try {
                        throw;
                    } catch (const std::exception& e) {
                        core->report(severity::error, std::string("handler threw: ") + e.what());
                    } catch (...) {
                        core->report(severity::error, "handler threw a non-std::exception");
                    }
                }
            }
        }
    });
    return w;
}

void notifier_base::on_gap(gap_handler handler) {
    core_->set_gap_handler(std::move(handler));
}

void notifier_base::on_diagnostic(diagnostic_handler handler) {
    core_->set_diagnostic_handler(std::move(handler));
}

notifier_stats notifier_base::stats() const {
    notifier_stats s = core_->query([core = core_.get()] {
        notifier_stats out;
        for (const auto& n : core->nodes())
            out.nodes.push_back(n->stats());
        return out;
    });
    // One set of counters: the queue's drops and overflow gaps count for their node.
    for (auto& n : s.nodes) {
        const auto lost = core_->queue().losses_of(n.node);
        n.dropped += lost.dropped;
        n.gaps += lost.gaps;
    }
    s.queue_depth = core_->queue().size();
    s.queue_high_water = core_->queue().high_water();
    s.queue_slots = core_->queue().slots_allocated();
    s.queue_dropped = core_->queue().dropped();
    s.callback_exceptions = core_->events().callback_exceptions();
    if (!s.nodes.empty()) s.nodes.front().handler_exceptions += core_->handler_exceptions.load();
    return s;
}

bool notifier_base::subscribed() const {
    return !core_->closed() && core_->subscription_count() > 0;
}

void notifier_base::configure_notifications(notify_flags flags) {
    throw_if(core_->run_blocking(
        [core = core_.get(), flags](completion done) { core->configure(flags, std::move(done)); },
        core_->blocking_bound()));
}

std::vector<std::pair<std::string, std::optional<notify_flags>>>
notifier_base::configured_notifications() const {
    return core_->query([core = core_.get()] {
        std::vector<std::pair<std::string, std::optional<notify_flags>>> out;
        for (const auto& n : core->nodes())
            out.emplace_back(n->name(), n->configured_flags());
        return out;
    });
}

// ---------------------------------------------------------------------------------------
// keyspace_notifications

keyspace_notifications::keyspace_notifications(notifier_options options)
    : notifier_base(std::make_shared<detail::notifier_core>(nullptr, std::move(options))) {
    core_->start([core = core_.get()] { core->add_node(core->options().connection.address); });
}

namespace {
notifier_options on_caller_thread(notifier_options o) {
    o.dispatch = dispatch_mode::io_thread;
    return o;
}
}  // namespace

keyspace_notifications::keyspace_notifications(asio::io_context& io, notifier_options options)
    : notifier_base(
          std::make_shared<detail::notifier_core>(&io, on_caller_thread(std::move(options)))) {
    core_->start([core = core_.get()] { core->add_node(core->options().connection.address); });
}

keyspace_notifications::~keyspace_notifications() = default;

}  // namespace ksn
