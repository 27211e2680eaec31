#include "notifications/engine/notifier_core.hpp"

#include <asio/post.hpp>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>

namespace ksn::detail {

notifier_core::notifier_core(asio::io_context* external, notifier_options options)
    : own_io_(external ? nullptr : std::make_unique<asio::io_context>(1)),
      io_(external ? external : own_io_.get()),
      caller_driven_(!external && options.dispatch == dispatch_mode::caller),
      options_(std::move(options)),
      dispatcher_(options_, registry_),
      operations_(options_.subscribe_timeout),
      deadline_timer_(*io_) {}

notifier_core::~notifier_core() {
    if (thread_.joinable() && thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();  // released by a handler on the I/O thread itself
    } else if (thread_.joinable()) {
        stop_thread();
    }
}

void notifier_core::start(std::function<void()> init) {
    std::weak_ptr<notifier_core> weak = shared_from_this();
    if (!caller_driven_) {
        // Pullers wait on other threads: wake them once per read. A caller-driven
        // notifier's puller drives the loop itself (a push wakes only a thread that
        // waits while another drives).
        dispatcher_.set_release_scheduler([this, weak] {
            asio::post(*io_, [weak] {
                if (auto self = weak.lock()) self->dispatcher_.release_wakes();
            });
        });
    }
    queue().set_drained_callback([this, weak] {
        // Runs on a consumer thread; the nodes live on the I/O thread.
        if (auto self = weak.lock()) {
            asio::post(*io_, [self] {
                for (auto& n : self->nodes_)
                    n->resume();
            });
        }
    });
    asio::post(*io_, [self = shared_from_this(), init = std::move(init)] {
        self->dispatcher_.guarded("the notifier's start-up", init);
    });
    if (caller_driven_) {
        // The loop waits for work in next() instead of returning at once.
        guard_.emplace(own_io_->get_executor());
    } else if (own_io_) {
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
    queue().close();
    auto close_all = [self = shared_from_this()] {
        if (self->on_shutdown) self->on_shutdown();
        for (auto& n : self->nodes_)
            n->close();
        self->nodes_.clear();
        // What no node completed (parked subscribes of a cluster that never found a node).
        self->fail_all(make_error_code(notifier_errc::closed), "the notifier is closed");
    };
    if (on_io_thread()) {
        close_all();
    } else if (caller_driven_) {
        // Close on the loop, then run it until nothing is left (handlers of cancelled
        // operations hold the core), bounded: the thread that drives now may be this one
        // or another, which gives the loop up once it sees the notifier closed.
        asio::post(*io_, close_all);
        guard_.reset();
        const auto until = clock::now() + std::chrono::seconds(5);
        while (clock::now() < until) {
            if (try_drive()) {
                io_->restart();
                io_->run_until(until);
                stop_driving();
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
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

node_link& notifier_core::add_node(const net::endpoint& address) {
    nodes_.push_back(std::make_unique<node_link>(*this, address));
    nodes_.back()->start();
    return *nodes_.back();
}

node_link* notifier_core::find_node(const std::string& name) noexcept {
    for (auto& n : nodes_) {
        if (n->name() == name) return n.get();
    }
    return nullptr;
}

void notifier_core::remove_node(const std::string& name, std::optional<gap_event> gap) {
    for (auto it = nodes_.begin(); it != nodes_.end(); ++it) {
        if ((*it)->name() != name) continue;
        // Out of the list first: completions run by close() must not find it there.
        std::shared_ptr<node_link> node(std::move(*it));
        nodes_.erase(it);
        node->close(true);
        // Keep the object alive until handlers queued for it have run.
        asio::post(*io_, [node] {});
        break;
    }
    if (gap) emit_gap(std::move(*gap));
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
    const bool answered =
        caller_driven_
            ? drive_until(
                  [&] {
                      return future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
                  },
                  clock::now() + bound, [&](clock::duration d) { future.wait_for(d); })
            : future.wait_for(bound) == std::future_status::ready;
    if (!answered) {
        return {make_error_code(notifier_errc::no_answer),
                "the notifier's I/O thread did not answer within " + std::to_string(bound.count()) +
                    " ms (a handler blocks it, or the io_context given to the notifier is not "
                    "running)"};
    }
    return future.get();
}

bool notifier_core::try_drive() noexcept {
    std::thread::id none{};
    return driver_.compare_exchange_strong(none, std::this_thread::get_id(),
                                           std::memory_order_acquire);
}

void notifier_core::stop_driving() noexcept {
    driver_.store(std::thread::id{}, std::memory_order_release);
}

bool notifier_core::next(delivery& out, clock::duration timeout) {
    if (!caller_driven_) return dispatcher_.next(out, timeout);
    if (on_io_thread()) {
        throw std::logic_error(
            "ksn: next() was called from a handler of the same notifier: with "
            "dispatch_mode::caller, handlers run inside next()");
    }
    // Take what is queued; else drive the loop (handlers run inline meanwhile) until a
    // delivery is queued or the timeout passes.
    if (dispatcher_.next(out, clock::duration::zero())) return true;
    bool got = false;
    drive_until([&] { return got || (got = dispatcher_.next(out, clock::duration::zero())); },
                clock::now() + timeout, [&](clock::duration d) { got = dispatcher_.next(out, d); });
    return got;
}

void notifier_core::complete(completion& done, const std::error_code& ec,
                             const std::string& detail) {
    if (!done) return;
    auto d = std::move(done);
    dispatcher_.guarded("a completion handler", [&] { d(ec, detail); });
}

}  // namespace ksn::detail
