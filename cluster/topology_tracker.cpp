#include "cluster/topology_tracker.hpp"

#include <algorithm>
#include <asio/post.hpp>

namespace ksn::cluster {

class topology_tracker::observer final : public net::connection_observer {
  public:
    explicit observer(topology_tracker& t) : t_(t) {}
    void on_state(net::connection_state s, const std::error_code& ec,
                  const std::string& detail) override {
        if (s == net::connection_state::ready) {
            t_.ask();
        } else if (s == net::connection_state::disconnected ||
                   (s == net::connection_state::closed && ec != net::errc::closed)) {
            // Do not wait for this node's reconnect: ask the next one.
            t_.failed(detail);
        }
    }
    void on_message(const protocol::pubsub_frame&, clock::time_point) override {}
    void on_confirmation(const protocol::pubsub_frame&) override {}

  private:
    topology_tracker& t_;
};

std::shared_ptr<topology_tracker> topology_tracker::create(asio::io_context& io,
                                                           tracker_options options,
                                                           change_handler on_change,
                                                           error_handler on_error) {
    return std::shared_ptr<topology_tracker>(
        new topology_tracker(io, std::move(options), std::move(on_change), std::move(on_error)));
}

topology_tracker::topology_tracker(asio::io_context& io, tracker_options options,
                                   change_handler on_change, error_handler on_error)
    : io_(io),
      options_(std::move(options)),
      on_change_(std::move(on_change)),
      on_error_(std::move(on_error)),
      timer_(io),
      observer_(std::make_unique<observer>(*this)),
      candidates_(options_.seeds) {
    options_.connection.health_check_interval = std::chrono::milliseconds(0);
    options_.connection.reconnect.max_attempts = 1;
}

topology_tracker::~topology_tracker() {
    if (conn_) conn_->close();
}

void topology_tracker::start() {
    stopped_ = false;
    refresh();
    schedule();
}

void topology_tracker::stop() {
    stopped_ = true;
    timer_.cancel();
    if (conn_) conn_->close();
    conn_.reset();
}

void topology_tracker::schedule() {
    if (stopped_) return;
    timer_.expires_after(options_.refresh_interval);
    timer_.async_wait([weak = weak_from_this()](const std::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || self->stopped_) return;
        self->refresh();
        self->schedule();
    });
}

void topology_tracker::refresh_now() {
    if (stopped_) return;
    refresh();
}

void topology_tracker::refresh() {
    if (in_flight_) {
        again_ = true;
        return;
    }
    in_flight_ = true;
    if (conn_ && conn_->state() == net::connection_state::ready) {
        ask();
    } else if (!conn_ || conn_->state() == net::connection_state::closed) {
        connect_next();
    }
    // Otherwise a connection is being made; ask() runs when it is ready.
}

void topology_tracker::connect_next() {
    if (candidates_.empty()) {
        in_flight_ = false;
        if (on_error_) on_error_("no seed node to ask for the cluster topology");
        return;
    }
    if (conn_) conn_->close();
    auto opts = options_.connection;
    opts.address = candidates_[next_candidate_ % candidates_.size()];
    conn_ = net::connection::create(io_, opts, observer_.get());
    conn_->start();
}

void topology_tracker::failed(const std::string& why) {
    if (stopped_) return;
    if (!in_flight_) {
        // Lost between refreshes: the next refresh starts with the next node.
        ++next_candidate_;
        auto dead = std::move(conn_);
        asio::post(io_, [dead] {
            if (dead) dead->close();
        });
        return;
    }
    round_errors_ += (round_errors_.empty() ? "" : "; ") + why;
    ++failures_in_round_;
    ++next_candidate_;
    auto dead = conn_;
    conn_.reset();
    // Close outside the connection's own callback.
    asio::post(io_, [dead] {
        if (dead) dead->close();
    });
    if (failures_in_round_ >= candidates_.size()) {
        const std::string sentence = "no cluster node answered (" + round_errors_ + ")";
        failures_in_round_ = 0;
        round_errors_.clear();
        in_flight_ = false;
        again_ = false;
        if (on_error_) on_error_(sentence);
        return;  // the timer tries again
    }
    asio::post(io_, [weak = weak_from_this()] {
        if (auto self = weak.lock(); self && !self->stopped_ && self->in_flight_) {
            self->connect_next();
        }
    });
}

void topology_tracker::ask() {
    if (!in_flight_ || !conn_) return;
    const net::endpoint asked = conn_->address();
    conn_->command({"CLUSTER", "SLOTS"}, [weak = weak_from_this(), asked](
                                             const std::error_code& ec, const protocol::value& v) {
        auto self = weak.lock();
        if (!self || self->stopped_) return;
        if (ec && ec != net::errc::server_error) return;  // the observer moves on
        std::string error;
        auto t = ec ? std::nullopt : parse_cluster_slots(v, asked, error);
        if (!t) {
            self->failed(asked.to_string() + ": " +
                         (ec ? "CLUSTER SLOTS refused: " + v.data : error));
            return;
        }
        ++self->refreshes_;
        self->failures_in_round_ = 0;
        self->round_errors_.clear();
        const auto previous = self->last_refresh_;
        self->last_refresh_ = clock::now();
        // Ask any node we know of next time one fails, seeds first.
        std::vector<net::endpoint> candidates = self->options_.seeds;
        for (auto& e : t->endpoints()) {
            if (std::find(candidates.begin(), candidates.end(), e) == candidates.end()) {
                candidates.push_back(std::move(e));
            }
        }
        const auto asked_index = static_cast<std::size_t>(
            std::find(candidates.begin(), candidates.end(), asked) - candidates.begin());
        self->candidates_ = std::move(candidates);
        self->next_candidate_ = asked_index % self->candidates_.size();
        const bool changed = !self->current_ || self->current_->signature() != t->signature();
        if (changed) {
            std::optional<topology> before = std::move(self->current_);
            self->current_ = std::move(t);
            if (self->on_change_) {
                self->on_change_(*self->current_, before ? &*before : nullptr, previous);
            }
        }
        self->done();
    });
}

void topology_tracker::done() {
    in_flight_ = false;
    if (again_) {
        again_ = false;
        refresh();
    }
}

}  // namespace ksn::cluster
