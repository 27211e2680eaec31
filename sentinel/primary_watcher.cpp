#include "sentinel/primary_watcher.hpp"

#include <type_traits>
#include <utility>

namespace ksn::sentinel {

/// The +switch-master subscription on one sentinel: a reconnecting net::connection that
/// subscribes again after every handshake.
class primary_watcher::listener final : public net::connection_observer {
  public:
    listener(asio::io_context& io, net::connection_options options,
             std::weak_ptr<primary_watcher> owner)
        : owner_(std::move(owner)), address_(options.address) {
        conn_ = net::connection::create(io, std::move(options), this);
    }
    ~listener() override { conn_->close(); }
    void start() { conn_->start(); }
    const net::endpoint& address() const noexcept { return address_; }
    bool ready() const noexcept { return conn_->state() == net::connection_state::ready; }

    void on_state(net::connection_state state, const std::error_code&,
                  const std::string&) override {
        if (state != net::connection_state::ready) return;
        static constexpr std::string_view args[] = {"SUBSCRIBE", "+switch-master"};
        conn_->subscribe_command(args, [](const std::error_code&, const protocol::value&) {});
        // A switch may have been announced while this connection was down.
        if (auto owner = owner_.lock()) owner->refresh_now(false);
    }
    void on_message(const protocol::pubsub_frame& frame, clock::time_point) override {
        if (frame.channel != "+switch-master") return;
        if (auto owner = owner_.lock()) owner->announced(address_, frame.payload);
    }
    void on_confirmation(const protocol::pubsub_frame&) override {}

  private:
    std::weak_ptr<primary_watcher> owner_;
    net::endpoint address_;
    std::shared_ptr<net::connection> conn_;
};

std::shared_ptr<primary_watcher> primary_watcher::create(
    asio::io_context& io, watcher_options options, primary_handler on_primary,
    retired_handler on_retired, error_handler on_error, announce_handler on_announce) {
    return std::shared_ptr<primary_watcher>(
        new primary_watcher(io, std::move(options), std::move(on_primary), std::move(on_retired),
                            std::move(on_error), std::move(on_announce)));
}

primary_watcher::primary_watcher(asio::io_context& io, watcher_options options,
                                 primary_handler on_primary, retired_handler on_retired,
                                 error_handler on_error, announce_handler on_announce)
    : io_(io),
      options_(std::move(options)),
      on_primary_(std::move(on_primary)),
      on_retired_(std::move(on_retired)),
      on_error_(std::move(on_error)),
      on_announce_(std::move(on_announce)),
      resolver_(options_.resolver),
      timer_(io) {}

primary_watcher::~primary_watcher() {
    for (auto& c : lanes_) {
        if (c) c->close();
    }
    listener_.reset();
}

void primary_watcher::start() {
    stopped_ = false;
    resolver_.start(clock::now());
    drive();
}

void primary_watcher::stop() {
    stopped_ = true;
    resolver_.stop();
    drive();
    listener_.reset();
    timer_.cancel();
}

void primary_watcher::refresh_now(bool recheck) {
    if (stopped_) return;
    resolver_.refresh(clock::now(), recheck);
    drive();
}

void primary_watcher::announced(const net::endpoint& sentinel, std::string_view payload) {
    // "<name> <old ip> <old port> <new ip> <new port>": ours only.
    const auto& name = options_.resolver.primary_name;
    if (payload.size() <= name.size() || !payload.starts_with(name) || payload[name.size()] != ' ')
        return;
    if (on_announce_) on_announce_(sentinel, payload);
    refresh_now(true);
}

void primary_watcher::drive() {
    // A handler we call may feed the resolver again; this loop performs what that queued.
    if (driving_) return;
    driving_ = true;
    while (auto a = resolver_.next_action())
        perform(*a);
    driving_ = false;
    if (!stopped_) {
        follow_sentinel();
        arm_timer();
    }
}

void primary_watcher::follow_sentinel() {
    if (!resolver_.primary()) return;  // not before a sentinel has answered
    const auto& first = resolver_.sentinels().front();
    // A listener that works stays where it is; one that does not moves to the sentinel
    // that answered last. (Never replaced while ready: its own handlers call drive().)
    if (listener_ && (listener_->address() == first || listener_->ready())) return;
    auto opts = options_.sentinel_connection;
    opts.address = first;
    listener_ = std::make_shared<listener>(io_, std::move(opts), weak_from_this());
    listener_->start();
}

void primary_watcher::perform(primary_resolver::action& a) {
    using R = primary_resolver;
    std::weak_ptr<primary_watcher> weak = weak_from_this();
    std::visit(
        [&](auto& act) {
            using T = std::decay_t<decltype(act)>;
            if constexpr (std::is_same_v<T, R::connect>) {
                const auto which = act.which;
                auto opts = which == R::lane::sentinel ? options_.sentinel_connection
                                                       : options_.node_connection;
                opts.address = act.address;
                auto& slot = lanes_[static_cast<std::size_t>(which)];
                if (slot) slot->close();
                slot = net::command_connection::create(
                    io_, std::move(opts),
                    [weak, which] {
                        if (auto self = weak.lock()) {
                            self->resolver_.on_connected(which, clock::now());
                            self->drive();
                        }
                    },
                    [weak, which](const std::error_code& ec, const std::string& detail) {
                        if (auto self = weak.lock()) {
                            const bool refused = ec == net::errc::connect_failed;
                            self->resolver_.on_connection_failed(which, detail, refused,
                                                                 clock::now());
                            self->drive();
                        }
                    });
                slot->start();
            } else if constexpr (std::is_same_v<T, R::send>) {
                const auto which = act.which;
                auto& slot = lanes_[static_cast<std::size_t>(which)];
                if (!slot) return;
                std::vector<std::string_view> args(act.args.begin(), act.args.end());
                slot->command(args,
                              [weak, which](const std::error_code& ec, const protocol::value& v) {
                                  auto self = weak.lock();
                                  if (!self) return;
                                  // Another failure than an error reply: the connection went away,
                                  // and its failure handler follows with a sentence that says why.
                                  if (ec && ec != net::errc::server_error) return;
                                  self->resolver_.on_reply(which, v, clock::now());
                                  self->drive();
                              });
            } else if constexpr (std::is_same_v<T, R::close>) {
                auto& slot = lanes_[static_cast<std::size_t>(act.which)];
                if (slot) {
                    // Closed before it is dropped, so none of its handlers runs again.
                    auto dead = std::move(slot);
                    dead->close();
                }
            } else if constexpr (std::is_same_v<T, R::report_primary>) {
                if (on_primary_) on_primary_(act);
            } else if constexpr (std::is_same_v<T, R::report_retired>) {
                if (on_retired_) on_retired_(act.address, act.why);
            } else if constexpr (std::is_same_v<T, R::report_error>) {
                if (on_error_) on_error_(act.sentence);
            }
        },
        a);
}

void primary_watcher::arm_timer() {
    const auto deadline = resolver_.next_deadline();
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
        self->resolver_.on_timer(clock::now());
        self->drive();
    });
}

}  // namespace ksn::sentinel
