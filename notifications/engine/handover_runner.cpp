#include "notifications/engine/handover_runner.hpp"

#include <asio/post.hpp>
#include <vector>

#include "notifications/engine/notifier_core.hpp"

namespace ksn::detail {

namespace {
constexpr std::chrono::milliseconds tick{250};
}  // namespace

std::shared_ptr<handover_runner> handover_runner::create(notifier_core& core, std::string who,
                                                         std::chrono::milliseconds timeout,
                                                         std::size_t window, bool switch_back) {
    return std::make_shared<handover_runner>(core, std::move(who), timeout, window, switch_back);
}

handover_runner::handover_runner(notifier_core& core, std::string who,
                                 std::chrono::milliseconds timeout, std::size_t window,
                                 bool switch_back)
    : core_(core),
      who_(std::move(who)),
      timeout_(timeout),
      window_(window),
      switch_back_(switch_back),
      timer_(core.io()) {}

bool handover_runner::start(const std::string& to, const std::string& from, const gap_event& gap,
                            std::string continued_replid, bool quiet) {
    if (stopped_ || timeout_.count() <= 0 || to == from || running_.count(to) ||
        running_.count(from) || handing_over(from) || handing_over(to)) {
        return false;
    }
    auto* old_node = core_.find_node(from);
    auto* new_node = core_.find_node(to);
    if (old_node == nullptr || new_node == nullptr || !old_node->covered() ||
        old_node->gap_start()) {
        return false;
    }
    entry e{handover(to, from, gap, timeout_, std::move(continued_replid)),
            old_node->serial(),
            old_node->reconnects(),
            nullptr,
            nullptr,
            quiet};
    if (switch_back_) {
        core_.report(severity::info, who_ + ": " + to + " is subscribed again; its replica " +
                                         from + " goes on delivering until it has caught up");
    } else {
        e.window = std::make_shared<repeat_window>(window_);
        new_node->set_repeats(e.window, 0);
        old_node->set_repeats(e.window, 1);
        core_.report(severity::info, who_ + ": " + to + " took over from " + from + "; keeping " +
                                         from + " subscribed until it has caught up (handover)");
    }
    running_.emplace(to, std::move(e));
    arm();
    return true;
}

bool handover_runner::handing_over(const std::string& from) const {
    for (const auto& [to, e] : running_) {
        if (e.h.from() == from) return true;
    }
    return false;
}

void handover_runner::cancel(const std::string& to) {
    auto it = running_.find(to);
    if (it == running_.end()) return;
    if (it->second.conn) it->second.conn->close();
    if (it->second.window) {
        if (auto* n = core_.find_node(to)) n->set_repeats(nullptr, 0);
        if (auto* o = core_.find_node(it->second.h.from())) o->set_repeats(nullptr, 0);
    }
    running_.erase(it);
}

void handover_runner::stop() {
    stopped_ = true;
    timer_.cancel();
    for (auto& [to, e] : running_) {
        if (e.conn) e.conn->close();
    }
    running_.clear();
}

void handover_runner::arm() {
    if (armed_ || stopped_ || running_.empty()) return;
    armed_ = true;
    timer_.expires_after(tick);
    std::weak_ptr<handover_runner> weak = shared_from_this();
    timer_.async_wait([weak](const std::error_code& ec) {
        auto self = weak.lock();
        if (ec || !self) return;
        self->armed_ = false;
        self->core_.events().guarded("the handover", [&] {
            std::vector<std::string> names;
            for (const auto& [to, e] : self->running_)
                names.push_back(to);
            for (const auto& to : names)
                self->step(to);
        });
        self->arm();
    });
}

void handover_runner::step(const std::string& to) {
    using A = handover::action;
    for (int i = 0; i < 4; ++i) {  // at most a question, or a PING and its check
        auto it = running_.find(to);
        if (it == running_.end()) return;
        auto& e = it->second;
        auto* new_node = core_.find_node(to);
        auto* old_node = core_.find_node(e.h.from());
        const bool unbroken = old_node != nullptr && old_node->serial() == e.from_serial &&
                              old_node->ready() && !old_node->gap_start() &&
                              old_node->reconnects() == e.from_reconnects;
        const auto a = e.h.on_tick(clock::now(), new_node != nullptr && new_node->covered(),
                                   unbroken, old_node ? old_node->ping_answered() : std::nullopt);
        switch (a) {
            case A::wait:
                return;
            case A::ask_new:
                if (new_node == nullptr) return end(to, false);
                return ask(to, new_node->address(), true);
            case A::ask_old:
                return ask(to, old_node->address(), false);
            case A::ping_old:
                old_node->ping_soon();
                continue;
            case A::succeed:
                return end(to, true);
            case A::fail:
                return end(to, false);
        }
    }
}

void handover_runner::ask(const std::string& to, const net::endpoint& address, bool of_new) {
    auto& e = running_.at(to);
    if (e.conn) e.conn->close();
    auto opts = core_.options().connection;
    opts.address = address;
    e.conn = net::command_connection::create(core_.io(), opts, nullptr, nullptr);
    std::weak_ptr<handover_runner> weak = shared_from_this();
    e.conn->command({"INFO", "replication"},
                    [weak, to, of_new](const std::error_code& ec, const protocol::value& v) {
                        auto self = weak.lock();
                        if (!self) return;
                        self->core_.events().guarded("the handover", [&] {
                            auto it = self->running_.find(to);
                            if (it == self->running_.end()) return;
                            // Drop the one-shot connection outside its own handler.
                            asio::post(self->core_.io(), [conn = std::move(it->second.conn)] {
                                if (conn) conn->close();
                            });
                            std::optional<replication_info> info;
                            if (!ec) info = parse_replication_info(v.data);
                            if (of_new) {
                                it->second.h.new_answered(info, clock::now());
                            } else {
                                it->second.h.old_answered(info, clock::now());
                            }
                            self->step(to);
                        });
                    });
    e.conn->start();
}

void handover_runner::end(const std::string& to, bool ok) {
    auto it = running_.find(to);
    if (it == running_.end()) return;
    auto e = std::move(it->second);
    running_.erase(it);
    if (e.conn) e.conn->close();
    const std::string from = e.h.from();
    auto* new_node = core_.find_node(to);
    // A quiet one that failed keeps marking: the old node, kept until it retires, may
    // come back and publish what it replicates from the new one (the caller clears it).
    if (e.window && !(e.quiet && !ok)) {
        if (new_node != nullptr) new_node->set_repeats(nullptr, 0);
        if (auto* old_node = core_.find_node(from)) old_node->set_repeats(nullptr, 0);
    }
    const std::string offset = std::to_string(e.h.offset());
    if (ok && switch_back_) {
        core_.report(severity::info, who_ + ": " + to + " delivers again, its replica " + from +
                                         " covered its interruption without loss: it applied " +
                                         to + "'s writes up to replication offset " + offset +
                                         " (no gap)");
    } else if (ok) {
        core_.report(severity::info, who_ + ": " + to + " took over from " + from +
                                         " without loss: " + from +
                                         " applied its writes up to replication offset " + offset +
                                         " over an unbroken subscription (no gap)");
    } else if (e.quiet) {
        core_.report(severity::info, who_ + ": no handover from " + from + " to " + to + " (" +
                                         e.h.failure() + "); " + to +
                                         "'s stream covered it already (no gap)");
    } else {
        gap_event gap = e.h.gap();
        gap.detail += (switch_back_ ? "; its replica " + from + " could not cover it: "
                                    : "; no handover from " + from + ": ") +
                      e.h.failure();
        if (new_node != nullptr) {
            new_node->expect_gap(std::move(gap));
        } else {
            gap.restored = clock::now();
            core_.emit_gap(std::move(gap));
        }
    }
    if (on_end) on_end(from, to, ok);
}

}  // namespace ksn::detail
