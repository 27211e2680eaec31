// notifier_core::configure(): CONFIG SET notify-keyspace-events on every node, adding the
// flags to what CONFIG GET reports (see notifier_core.hpp).
//
// CONFIG SET is not allowed on a RESP2 connection in subscribed mode, so each node gets a
// one-shot net::command_connection of its own.
#include <asio/post.hpp>
#include <memory>
#include <utility>

#include "net/command_connection.hpp"
#include "notifications/engine/notifier_core.hpp"

namespace ksn::detail {

namespace {

// One configure_notifications() call: the answer once every node has answered.
struct configure_state {
    std::size_t waiting = 0;
    std::error_code ec;
    std::string detail;
    completion done;
    // The connections' handlers hold this state and the state holds the connections: each
    // connection is closed (which releases its handlers) when its node has answered.
    std::vector<std::shared_ptr<net::command_connection>> conns;
};

}  // namespace

void notifier_core::configure(notify_flags flags, completion done) {
    auto st = std::make_shared<configure_state>();
    st->waiting = nodes_.size();
    st->done = std::move(done);
    if (nodes_.empty()) {
        complete(st->done, {}, {});
        return;
    }
    std::weak_ptr<notifier_core> weak = weak_from_this();
    for (auto& node : nodes_) {
        auto opts = options_.connection;
        opts.address = node->address();
        const std::string name = node->name();
        node_link* raw = node.get();
        auto conn_slot = std::make_shared<std::weak_ptr<net::command_connection>>();
        // The node's answer: counted once (a lost connection fails its pending command and
        // then calls the failure handler), then its connection is closed.
        auto answered = std::make_shared<bool>(false);
        auto finish_one = [st, conn_slot, weak, answered](const std::error_code& ec,
                                                          const std::string& detail) {
            if (*answered) return;
            *answered = true;
            if (ec && !st->ec) {
                st->ec = ec;
                st->detail = detail;
            }
            if (auto c = conn_slot->lock()) c->close();
            if (--st->waiting > 0) return;
            auto self = weak.lock();
            if (self) {
                self->complete(st->done, st->ec, st->detail);
                // Drop the closed connections outside the handler running now.
                asio::post(self->io(), [st] { st->conns.clear(); });
            } else {
                st->conns.clear();
            }
        };
        auto conn = net::command_connection::create(
            *io_, opts,
            [conn_slot, finish_one, flags, name, raw, weak] {
                auto c = conn_slot->lock();
                if (!c) return;
                c->command(
                    {"CONFIG", "GET", "notify-keyspace-events"},
                    [conn_slot, finish_one, flags, name, raw, weak](const std::error_code& ec,
                                                                    const protocol::value& v) {
                        auto c2 = conn_slot->lock();
                        if (!c2) return;
                        if (ec) {
                            // A lost connection is the failure handler's to report.
                            if (ec == net::errc::server_error) {
                                finish_one(make_error_code(notifier_errc::command_failed),
                                           name + ": CONFIG GET refused: " + v.data);
                            }
                            return;
                        }
                        notify_flags now = notify_flags::none;
                        if (v.elements.size() >= 2) {
                            now = from_letters(v.elements[1].data).value_or(notify_flags::none);
                        }
                        const notify_flags wanted = now | flags;
                        c2->command({"CONFIG", "SET", "notify-keyspace-events", to_letters(wanted)},
                                    [finish_one, name, raw, wanted, weak](
                                        const std::error_code& ec2, const protocol::value& v2) {
                                        if (ec2 && ec2 != net::errc::server_error) return;
                                        if (ec2) {
                                            finish_one(
                                                make_error_code(notifier_errc::command_failed),
                                                name +
                                                    ": CONFIG SET notify-keyspace-events "
                                                    "refused: " +
                                                    v2.data);
                                            return;
                                        }
                                        // The node may have been removed meanwhile.
                                        auto self = weak.lock();
                                        if (self && self->find_node(name) == raw) {
                                            raw->flags_set(wanted);
                                        }
                                        finish_one({}, {});
                                    });
                    });
            },
            [finish_one](const std::error_code&, const std::string& detail) {
                finish_one(make_error_code(notifier_errc::command_failed), detail);
            });
        *conn_slot = conn;
        st->conns.push_back(conn);
        conn->start();
    }
}

}  // namespace ksn::detail
