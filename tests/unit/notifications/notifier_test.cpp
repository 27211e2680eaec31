// The notifier's cross-thread calls when its I/O thread does not answer: an io_context
// that nobody runs (no socket is ever opened, since nothing runs the connect).
#include <gtest/gtest.h>

#include <chrono>

#include "notifications/keyspace_notifications.hpp"

namespace ksn {
namespace {

using namespace std::chrono_literals;

notifier_options short_bounds() {
    notifier_options o;
    o.subscribe_timeout = 50ms;
    o.connection.connect_timeout = 50ms;
    o.diagnostics = [](severity, const std::string&) {};
    return o;
}

TEST(NotifierWithoutIo, QueriesThrowKsnErrorWithTheReason) {
    asio::io_context io;  // never run
    keyspace_notifications n(io, short_bounds());
    try {
        (void)n.stats();
        FAIL() << "stats() answered without an I/O thread";
    } catch (const ksn::error& e) {
        EXPECT_EQ(e.code(), make_error_code(notifier_errc::no_answer));
        EXPECT_NE(std::string(e.what()).find("did not answer within 2100 ms"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("not running"), std::string::npos) << e.what();
    }
}

TEST(NotifierWithoutIo, BlockingSubscribeReportsNoAnswer) {
    asio::io_context io;  // never run
    keyspace_notifications n(io, short_bounds());
    std::error_code ec;
    const channel c = channel::keyspace("k");
    n.subscribe(std::span<const channel>(&c, 1), {}, ec);
    EXPECT_EQ(ec, make_error_code(notifier_errc::no_answer));
    EXPECT_EQ(ec.message(), "the notifier's I/O thread did not answer");
}

}  // namespace
}  // namespace ksn
