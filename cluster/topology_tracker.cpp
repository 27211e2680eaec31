#include "cluster/topology_tracker.hpp"

#include <type_traits>
#include <utility>

namespace ksn::cluster {

namespace {

refresher_options refresher_options_of(const tracker_options& o) {
    refresher_options r;
    r.seeds = o.seeds;
    r.refresh_interval = o.refresh_interval;
    r.reply_timeout = o.reply_timeout;
    r.tls = o.connection.tls.enabled;
    return r;
}

}  // namespace

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
      connection_options_(std::move(options.connection)),
      on_change_(std::move(on_change)),
      on_error_(std::move(on_error)),
      refresher_(refresher_options_of(options)),
      timer_(io) {}

topology_tracker::~topology_tracker() {
    if (conn_) conn_->close();
}

void topology_tracker::start() {
    refresher_.start(clock::now());
    drive();
}

void topology_tracker::stop() {
    refresher_.stop();
    drive();
}

void topology_tracker::refresh_now() {
    refresher_.refresh(clock::now());
    drive();
}

void topology_tracker::drive() {
    // A handler we call (the change or error handler, or a connection's handler run
    // inside start() or close()) may feed the refresher again; the loop below performs
    // what that queued, in order, so a nested call has nothing to do.
    if (driving_) return;
    driving_ = true;
    while (auto a = refresher_.next_action())
        perform(*a);
    driving_ = false;
    arm_timer();
}

void topology_tracker::perform(topology_refresher::action& a) {
    using R = topology_refresher;
    std::weak_ptr<topology_tracker> weak = weak_from_this();
    std::visit(
        [&](auto& act) {
            using T = std::decay_t<decltype(act)>;
            if constexpr (std::is_same_v<T, R::connect>) {
                auto opts = connection_options_;
                opts.address = act.address;
                const net::endpoint address = act.address;
                conn_ = net::command_connection::create(
                    io_, std::move(opts),
                    [weak, address] {
                        if (auto self = weak.lock()) {
                            self->refresher_.on_connected(address, clock::now());
                            self->drive();
                        }
                    },
                    [weak, address](const std::error_code&, const std::string& detail) {
                        if (auto self = weak.lock()) {
                            self->refresher_.on_connection_failed(address, detail, clock::now());
                            self->drive();
                        }
                    });
                conn_->start();
            } else if constexpr (std::is_same_v<T, R::send_query>) {
                if (!conn_) return;
                const net::endpoint address = act.address;
                const char* what = act.query == topology_query::shards ? "SHARDS" : "SLOTS";
                conn_->command({"CLUSTER", what}, [weak, address](const std::error_code& ec,
                                                                  const protocol::value& v) {
                    auto self = weak.lock();
                    if (!self) return;
                    if (!ec) {
                        self->refresher_.on_reply(address, v, clock::now());
                    } else if (ec == net::errc::server_error) {
                        self->refresher_.on_refused(address, v.data, clock::now());
                    } else {
                        // The connection went away; its failure handler follows with a
                        // sentence that says why.
                        return;
                    }
                    self->drive();
                });
            } else if constexpr (std::is_same_v<T, R::close>) {
                if (conn_ && conn_->address() == act.address) {
                    // Closed before it is dropped, so none of its handlers runs again.
                    auto dead = std::move(conn_);
                    dead->close();
                }
            } else if constexpr (std::is_same_v<T, R::report_change>) {
                if (on_change_) {
                    on_change_(act.now, act.before ? &*act.before : nullptr, act.previous_refresh);
                }
            } else if constexpr (std::is_same_v<T, R::report_error>) {
                if (on_error_) on_error_(act.sentence);
            }
        },
        a);
}

void topology_tracker::arm_timer() {
    const auto deadline = refresher_.next_deadline();
    if (deadline == armed_) return;
    armed_ = deadline;
    const std::uint64_t generation = ++timer_generation_;
    timer_.cancel();
    if (!deadline) return;
    timer_.expires_at(*deadline);
    timer_.async_wait([weak = weak_from_this(), generation](const std::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self || generation != self->timer_generation_) return;
        self->armed_.reset();
        self->refresher_.on_timer(clock::now());
        self->drive();
    });
}

}  // namespace ksn::cluster
