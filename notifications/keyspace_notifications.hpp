// KeyspaceNotifications for a standalone Redis server: subscribe to notification
// channels and receive them through handlers, a pull API (next(), listen()), a worker
// thread (run_in_thread()), or inline on an io_context the service already runs.
//
// Everything redis-py's KeyspaceNotifications does, plus what its users need: gap
// events whenever a subscription was interrupted (disconnect, server restart, stalled
// server, slow consumer), a bounded queue with an overflow policy, receive timestamps
// and per-connection counters, RESP3 with RESP2 fallback, ACL users, automatic
// reconnect and resubscription, and a check that the server's notify-keyspace-events
// actually publishes what the subscriptions need.
//
// Threads. By default a notifier runs its own I/O thread (one io_context) that reads the
// socket, parses and routes notifications, and never blocks: notifications go into the
// bounded queue, and handlers run in whichever thread pulls (next(), listen(), or the
// run_in_thread() worker) — like redis-py, where get_message() calls the handlers. With
// dispatch_mode::io_thread, handlers run on the I/O thread itself with zero-copy views
// (fastest, but a slow handler stalls the socket, and the server may then cut the
// connection: a gap reports it). With dispatch_mode::caller there is no thread at all:
// next(), listen() and the blocking calls run the connections on the calling thread, and
// handlers run inline inside them (one thread drives at a time; see notifier_options.hpp).
// The constructor taking an asio::io_context runs the notifier on that context instead
// of a thread of its own; then use the async_ calls.
//
// Errors. subscribe()/unsubscribe() throw ksn::error (a std::system_error whose what()
// names the node and channel) or, in the overloads taking a std::error_code&, report
// instead of throwing. Misuse (run_in_thread() with a subscription that has no handler,
// a blocking call from the notifier's own I/O thread) throws std::logic_error at once.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "channel.hpp"
#include "delivery.hpp"
#include "flags.hpp"
#include "notifier_options.hpp"

// The io_context constructors take Asio's io_context by reference, so this header needs
// no Asio: code that runs a notifier on its own io_context includes <ksn/io_context.hpp>.
namespace asio {
class io_context;
}

namespace ksn {

namespace detail {
class notifier_core;
}

/// A background thread running handlers; stop() (or destruction) stops and joins it.
class worker {
  public:
    worker() = default;
    worker(worker&&) noexcept = default;
    worker& operator=(worker&&) noexcept;
    ~worker();
    void stop();
    bool running() const noexcept { return thread_.joinable(); }

  private:
    friend class notifier_base;
    std::shared_ptr<std::atomic<bool>> stop_;
    std::thread thread_;
};

/// The API shared by the standalone and the cluster notifier.
class notifier_base {
  public:
    notifier_base(const notifier_base&) = delete;
    notifier_base& operator=(const notifier_base&) = delete;
    virtual ~notifier_base();

    // --- subscribing (blocking; see the file comment for errors) -----------------------
    void subscribe(const channel& c, notification_handler handler = {});
    void subscribe(std::span<const channel> channels, notification_handler handler = {});
    void subscribe(std::span<const channel> channels, notification_handler handler,
                   std::error_code& ec);
    /// A raw channel name; with match::detect, glob characters make it a pattern.
    void subscribe(std::string_view name, notification_handler handler = {},
                   match m = match::detect);
    void unsubscribe(const channel& c);
    void unsubscribe(std::span<const channel> channels);
    void unsubscribe(std::span<const channel> channels, std::error_code& ec);
    void unsubscribe(std::string_view name, match m = match::detect);

    void subscribe_keyspace(std::string_view key_or_pattern, std::int32_t db = 0,
                            notification_handler handler = {}, match m = match::detect);
    void subscribe_keyevent(std::string_view event, std::int32_t db = 0,
                            notification_handler handler = {}, match m = match::detect);
    void subscribe_subkeyspace(std::string_view key_or_pattern, std::int32_t db = 0,
                               notification_handler handler = {}, match m = match::detect);
    void subscribe_subkeyevent(std::string_view event, std::int32_t db = 0,
                               notification_handler handler = {}, match m = match::detect);
    void subscribe_subkeyspaceitem(std::string_view key_or_pattern,
                                   std::string_view subkey_or_pattern, std::int32_t db = 0,
                                   notification_handler handler = {}, match m = match::detect);
    void subscribe_subkeyspaceevent(std::string_view event, std::string_view key_or_pattern,
                                    std::int32_t db = 0, notification_handler handler = {},
                                    match m = match::detect);

    // --- asynchronous (any thread, including the I/O thread) ---------------------------
    /// `done` runs on the I/O thread with an empty error_code once every node confirmed,
    /// or the error and a sentence naming node and channel.
    using completion = ksn::completion;
    void async_subscribe(std::vector<channel> channels, notification_handler handler,
                         completion done);
    void async_unsubscribe(std::vector<channel> channels, completion done);

    // --- pulling ------------------------------------------------------------------------
    /// Waits up to `timeout` for the next notification, gap or confirmation. Handlers of
    /// subscriptions that have one (and the gap handler) are called here, in this thread,
    /// and are not returned. Returns false on timeout or once closed and drained.
    bool next(delivery& out, clock::duration timeout);
    std::optional<delivery> next(clock::duration timeout);

    /// A range over next(): iteration ends when nothing is subscribed or the notifier is
    /// closed. Each element is valid until the iterator is incremented.
    class listen_range;
    listen_range listen();

    /// Starts a thread that pulls and runs handlers. Every subscription must have a
    /// handler (else std::logic_error naming the ones without). A handler exception goes
    /// to `on_exception` if given, else to the diagnostic handler; the thread goes on.
    [[nodiscard]] worker run_in_thread(std::function<void(std::exception_ptr)> on_exception = {});

    // --- observing ------------------------------------------------------------------------
    /// Gap events go to `handler` instead of the pull API (set before subscribing; with
    /// dispatch_mode::io_thread it runs on the I/O thread).
    void on_gap(gap_handler handler);
    void on_diagnostic(diagnostic_handler handler);
    /// Asks the I/O thread; like the blocking calls, throws ksn::error
    /// (notifier_errc::no_answer) when it does not answer within subscribe_timeout +
    /// connect_timeout + 2 s (a handler blocks it, or the caller's io_context is not run).
    [[nodiscard]] notifier_stats stats() const;
    /// True while something is subscribed and the notifier is open.
    [[nodiscard]] bool subscribed() const;

    /// CONFIG SET notify-keyspace-events on every node, adding `flags` to what is set
    /// (for users who own the server). Throws ksn::error naming the node that refused.
    void configure_notifications(notify_flags flags);
    /// The flags each node has configured, as CONFIG GET reported on the last connect
    /// (nullopt where it was refused or not yet known).
    [[nodiscard]] std::vector<std::pair<std::string, std::optional<notify_flags>>>
    configured_notifications() const;

    /// Closes every connection and wakes pullers. Idempotent; the destructor calls it.
    void close();

  protected:
    explicit notifier_base(std::shared_ptr<detail::notifier_core> core);
    std::shared_ptr<detail::notifier_core> core_;
};

class notifier_base::listen_range {
  public:
    class iterator {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = delivery;
        using difference_type = std::ptrdiff_t;
        using pointer = const delivery*;
        using reference = const delivery&;

        iterator() = default;
        reference operator*() const { return *item_; }
        pointer operator->() const { return item_.get(); }
        iterator& operator++();
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator& a, const iterator& b) noexcept {
            return a.owner_ == b.owner_;
        }

      private:
        friend class listen_range;
        explicit iterator(notifier_base* owner);
        notifier_base* owner_ = nullptr;
        std::shared_ptr<delivery> item_;
    };
    iterator begin() { return iterator(owner_); }
    iterator end() { return iterator(); }

  private:
    friend class notifier_base;
    explicit listen_range(notifier_base* owner) : owner_(owner) {}
    notifier_base* owner_;
};

/// Keyspace notifications from one standalone Redis server.
class keyspace_notifications : public notifier_base {
  public:
    /// Runs on a thread of its own. Connecting starts at once; subscribe() waits for the
    /// first connection as needed (bounded by subscribe_timeout).
    explicit keyspace_notifications(notifier_options options = {});
    /// Runs on `io`, which the caller runs; handlers (and the gap handler) run there,
    /// inline with zero-copy views (options.dispatch is set to io_thread). Use the async_
    /// calls from the io_context's thread; the blocking ones work from other threads.
    keyspace_notifications(asio::io_context& io, notifier_options options);
    ~keyspace_notifications() override;
};

}  // namespace ksn
