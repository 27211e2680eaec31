// The connection's protocol conversation, driven byte by byte without a socket.
#include "net/session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/encoder.hpp"

namespace ksn::net {
namespace {

using namespace std::chrono_literals;
using protocol::pubsub_kind;

std::string cmd(std::initializer_list<std::string_view> args) {
    std::string out;
    protocol::append_command(out, args);
    return out;
}

struct recorded_message {
    pubsub_kind kind;
    std::string pattern, channel, payload;
    clock::time_point received;
};

class recording_sink : public session_sink {
  public:
    void on_message(const protocol::pubsub_frame& f, clock::time_point t) override {
        messages.push_back(
            {f.kind, std::string(f.pattern), std::string(f.channel), std::string(f.payload), t});
    }
    void on_confirmation(const protocol::pubsub_frame& f) override {
        confirmations.push_back(std::string(protocol::to_string(f.kind)) + " " +
                                std::string(f.channel) + " " + std::to_string(f.count));
    }
    void on_push(const protocol::value& v) override { pushes.push_back(v); }

    std::vector<recorded_message> messages;
    std::vector<std::string> confirmations;
    std::vector<protocol::value> pushes;
};

const clock::time_point t0 = clock::time_point{} + 1000s;

class SessionTest : public testing::Test {
  protected:
    // Feeds everything, keeping unconsumed bytes like the driver's read buffer does.
    void feed(std::string_view bytes, clock::time_point t = t0) {
        pending_.append(bytes);
        const std::size_t used = s_->feed(pending_, t, sink_);
        pending_.erase(0, used);
    }
    // Feeds one byte at a time.
    void feed_bytewise(std::string_view bytes, clock::time_point t = t0) {
        for (const char c : bytes)
            feed(std::string_view(&c, 1), t);
    }
    std::string output() {
        std::string out;
        s_->take_output(out);
        return out;
    }
    void make(connection_options o = {}) { s_ = std::make_unique<session>(o); }
    void ready_resp3() {
        make(options_);
        s_->start(t0);
        ASSERT_EQ(output(), cmd({"HELLO", "3"}));
        feed("%1\r\n+proto\r\n:3\r\n");
        ASSERT_EQ(s_->state(), session_state::ready);
    }
    void ready_resp2() {
        options_.resp = resp_version::resp2;
        make(options_);
        s_->start(t0);
        ASSERT_EQ(s_->state(), session_state::ready);  // nothing to negotiate
        ASSERT_EQ(output(), "");
    }

    connection_options options_;
    std::unique_ptr<session> s_;
    recording_sink sink_;
    std::string pending_;
};

TEST_F(SessionTest, Resp3HandshakeSendsHelloAndBecomesReady) {
    make();
    s_->start(t0);
    EXPECT_EQ(s_->state(), session_state::handshaking);
    EXPECT_EQ(output(), cmd({"HELLO", "3"}));
    feed_bytewise("%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n");
    EXPECT_EQ(s_->state(), session_state::ready);
    EXPECT_EQ(s_->resp(), 3);
}

TEST_F(SessionTest, HelloCarriesAuthAndSetname) {
    options_.username = "alice";
    options_.password = "s3cret";
    options_.client_name = "ksn-test";
    make(options_);
    s_->start(t0);
    EXPECT_EQ(output(), cmd({"HELLO", "3", "AUTH", "alice", "s3cret", "SETNAME", "ksn-test"}));
}

TEST_F(SessionTest, PasswordWithoutUserAuthenticatesAsDefault) {
    options_.password = "pw";
    make(options_);
    s_->start(t0);
    EXPECT_EQ(output(), cmd({"HELLO", "3", "AUTH", "default", "pw"}));
}

TEST_F(SessionTest, FallsBackToResp2WhenHelloIsUnknown) {
    options_.password = "pw";
    options_.client_name = "n";
    make(options_);
    s_->start(t0);
    output();
    feed("-ERR unknown command 'HELLO', with args beginning with: '3' \r\n");
    EXPECT_EQ(s_->state(), session_state::handshaking);
    EXPECT_EQ(output(), cmd({"AUTH", "pw"}));
    feed("+OK\r\n");
    EXPECT_EQ(output(), cmd({"CLIENT", "SETNAME", "n"}));
    feed("+OK\r\n");
    EXPECT_EQ(s_->state(), session_state::ready);
    EXPECT_EQ(s_->resp(), 2);
}

TEST_F(SessionTest, FallbackAuthUsesUserWhenGiven) {
    options_.username = "bob";
    options_.password = "pw";
    make(options_);
    s_->start(t0);
    output();
    feed("-NOPROTO unsupported protocol version\r\n");
    EXPECT_EQ(output(), cmd({"AUTH", "bob", "pw"}));
}

TEST_F(SessionTest, ForcedResp3FailsWhenHelloIsRefused) {
    options_.resp = resp_version::resp3;
    make(options_);
    s_->start(t0);
    feed("-ERR unknown command 'HELLO'\r\n");
    EXPECT_EQ(s_->state(), session_state::failed);
    EXPECT_EQ(s_->error(), errc::handshake_failed);
    EXPECT_NE(s_->error_detail().find("unknown command"), std::string::npos);
}

TEST_F(SessionTest, ForcedResp2NeverSendsHello) {
    options_.resp = resp_version::resp2;
    options_.password = "pw";
    make(options_);
    s_->start(t0);
    EXPECT_EQ(output(), cmd({"AUTH", "pw"}));
    feed("+OK\r\n");
    EXPECT_EQ(s_->state(), session_state::ready);
}

TEST_F(SessionTest, WrongPasswordIsAnAuthFailureWithTheServerText) {
    options_.password = "bad";
    make(options_);
    s_->start(t0);
    feed("-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    EXPECT_EQ(s_->state(), session_state::failed);
    EXPECT_EQ(s_->error(), errc::auth_failed);
    EXPECT_EQ(s_->error_detail(), "WRONGPASS invalid username-password pair or user is disabled.");
}

TEST_F(SessionTest, Resp2AuthRefusalIsAnAuthFailure) {
    options_.resp = resp_version::resp2;
    options_.password = "bad";
    make(options_);
    s_->start(t0);
    feed("-ERR invalid password\r\n");
    EXPECT_EQ(s_->error(), errc::auth_failed);
}

TEST_F(SessionTest, CommandsWaitForTheHandshakeAndKeepTheirOrder) {
    make();
    s_->start(t0);
    std::vector<std::string> replies;
    s_->command({"CONFIG", "GET", "notify-keyspace-events"},
                [&](const std::error_code& ec, const protocol::value& v) {
                    EXPECT_FALSE(ec);
                    replies.push_back("config:" + std::to_string(v.elements.size()));
                });
    s_->command({"ECHO", "x"}, [&](const std::error_code& ec, const protocol::value& v) {
        EXPECT_FALSE(ec);
        replies.push_back("echo:" + v.data);
    });
    EXPECT_EQ(output(), cmd({"HELLO", "3"}));  // held back
    feed("%0\r\n");
    EXPECT_EQ(output(), cmd({"CONFIG", "GET", "notify-keyspace-events"}) + cmd({"ECHO", "x"}));
    feed("%1\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nKEA\r\n$1\r\nx\r\n");
    EXPECT_EQ(replies, (std::vector<std::string>{"config:2", "echo:x"}));
}

TEST_F(SessionTest, ErrorReplyReachesTheHandlerAsServerError) {
    ready_resp3();
    std::error_code got;
    std::string text;
    s_->command({"CONFIG", "GET", "x"}, [&](const std::error_code& ec, const protocol::value& v) {
        got = ec;
        text = v.data;
    });
    feed("-NOPERM this user has no permissions to run the 'config|get' command\r\n");
    EXPECT_EQ(got, errc::server_error);
    EXPECT_EQ(text, "NOPERM this user has no permissions to run the 'config|get' command");
    EXPECT_EQ(s_->state(), session_state::ready);
}

TEST_F(SessionTest, Resp2ConfirmationsAndMessagesReachTheSink) {
    ready_resp2();
    const std::string_view sub[] = {"SUBSCRIBE", "a", "b"};
    s_->subscribe_command(sub, nullptr);
    const std::string_view psub[] = {"PSUBSCRIBE", "__keyspace@0__:*"};
    s_->subscribe_command(psub, nullptr);
    EXPECT_EQ(output(), cmd({"SUBSCRIBE", "a", "b"}) + cmd({"PSUBSCRIBE", "__keyspace@0__:*"}));
    EXPECT_EQ(s_->pending(), 2u);
    feed_bytewise(
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"
        "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"
        "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"
        "*3\r\n$10\r\npsubscribe\r\n$16\r\n__keyspace@0__:*\r\n:3\r\n"
        "*4\r\n$8\r\npmessage\r\n$16\r\n__keyspace@0__:*\r\n$17\r\n__keyspace@0__:k1\r\n$"
        "3\r\nset\r\n",
        t0 + 5ms);
    EXPECT_EQ(s_->pending(), 0u);
    EXPECT_EQ(sink_.confirmations, (std::vector<std::string>{"subscribe a 1", "subscribe b 2",
                                                             "psubscribe __keyspace@0__:* 3"}));
    ASSERT_EQ(sink_.messages.size(), 2u);
    EXPECT_EQ(sink_.messages[0].kind, pubsub_kind::message);
    EXPECT_EQ(sink_.messages[0].payload, "hi");
    EXPECT_EQ(sink_.messages[1].kind, pubsub_kind::pmessage);
    EXPECT_EQ(sink_.messages[1].pattern, "__keyspace@0__:*");
    EXPECT_EQ(sink_.messages[1].channel, "__keyspace@0__:k1");
    EXPECT_EQ(sink_.messages[1].payload, "set");
    EXPECT_EQ(sink_.messages[1].received, t0 + 5ms);
}

TEST_F(SessionTest, Resp3PushesAreMessagesButArraysAreReplies) {
    ready_resp3();
    protocol::value reply;
    s_->command({"LRANGE", "l", "0", "-1"},
                [&](const std::error_code&, const protocol::value& v) { reply = v; });
    feed(
        ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\np\r\n"
        "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n");
    ASSERT_EQ(sink_.messages.size(), 1u);
    EXPECT_EQ(sink_.messages[0].channel, "ch");
    ASSERT_EQ(reply.type, protocol::resp_type::array);
    ASSERT_EQ(reply.elements.size(), 3u);
    EXPECT_EQ(reply.elements[0].data, "message");
}

TEST_F(SessionTest, OtherPushesGoToOnPush) {
    ready_resp3();
    feed(">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n");
    ASSERT_EQ(sink_.pushes.size(), 1u);
    EXPECT_EQ(sink_.pushes[0].elements[0].data, "invalidate");
    EXPECT_EQ(s_->state(), session_state::ready);
}

TEST_F(SessionTest, RefusedSubscribeCallsItsErrorHandlerAndKeepsOrder) {
    ready_resp3();
    std::error_code sub_error;
    const std::string_view sub[] = {"SUBSCRIBE", "secret"};
    s_->subscribe_command(
        sub, [&](const std::error_code& ec, const protocol::value&) { sub_error = ec; });
    std::string echoed;
    s_->command({"ECHO", "after"},
                [&](const std::error_code&, const protocol::value& v) { echoed = v.data; });
    feed("-NOPERM this user has no permissions to access one of the channels\r\n$5\r\nafter\r\n");
    EXPECT_EQ(sub_error, errc::server_error);
    EXPECT_EQ(echoed, "after");
}

TEST_F(SessionTest, UnsolicitedConfirmationIsDeliveredWithoutDisturbingReplies) {
    ready_resp3();
    std::string echoed;
    s_->command({"ECHO", "x"},
                [&](const std::error_code&, const protocol::value& v) { echoed = v.data; });
    feed(">3\r\n$12\r\nsunsubscribe\r\n$2\r\nsc\r\n:0\r\n$1\r\nx\r\n");
    EXPECT_EQ(sink_.confirmations, (std::vector<std::string>{"sunsubscribe sc 0"}));
    EXPECT_EQ(echoed, "x");
}

TEST_F(SessionTest, HealthCheckPingsAfterTheIntervalAndFailsAfterTheTimeout) {
    options_.health_check_interval = 3s;
    options_.health_check_timeout = 2s;
    ready_resp3();
    ASSERT_TRUE(s_->next_deadline());
    EXPECT_EQ(*s_->next_deadline(), t0 + 3s);
    s_->on_timer(t0 + 2s);
    EXPECT_EQ(output(), "");
    s_->on_timer(t0 + 3s);
    EXPECT_EQ(output(), cmd({"PING"}));
    EXPECT_EQ(*s_->next_deadline(), t0 + 5s);
    s_->on_timer(t0 + 4900ms);
    EXPECT_EQ(s_->state(), session_state::ready);
    s_->on_timer(t0 + 5s);
    EXPECT_EQ(s_->state(), session_state::failed);
    EXPECT_EQ(s_->error(), errc::health_check_timeout);
}

TEST_F(SessionTest, PongInEitherFormRearmsTheHealthCheck) {
    options_.health_check_interval = 1s;
    options_.health_check_timeout = 1s;
    ready_resp2();
    s_->on_timer(t0 + 1s);
    EXPECT_EQ(output(), cmd({"PING"}));
    EXPECT_FALSE(s_->ping_answered());
    feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", t0 + 1100ms);  // subscribed RESP2 form
    EXPECT_EQ(*s_->next_deadline(), t0 + 2100ms);
    // The stream was whole until the PING was sent, not until its answer was read.
    EXPECT_EQ(s_->ping_answered(), t0 + 1s);
    s_->on_timer(t0 + 2100ms);
    EXPECT_EQ(output(), cmd({"PING"}));
    EXPECT_EQ(s_->ping_answered(), t0 + 1s);  // sent, not answered yet
    feed("+PONG\r\n", t0 + 2200ms);           // plain form
    EXPECT_EQ(*s_->next_deadline(), t0 + 3200ms);
    EXPECT_EQ(s_->state(), session_state::ready);
    EXPECT_EQ(s_->ping_answered(), t0 + 2100ms);
    // Kept once the connection is gone (the gap starts there); a new start forgets it.
    s_->abandon(make_error_code(errc::connection_lost));
    EXPECT_EQ(s_->ping_answered(), t0 + 2100ms);
    s_->start(t0 + 5s);
    EXPECT_FALSE(s_->ping_answered());
}

TEST_F(SessionTest, PingSoonSendsNowOrRightAfterThePingInFlight) {
    options_.health_check_interval = 3s;
    options_.health_check_timeout = 2s;
    ready_resp2();
    s_->ping_soon(t0 + 500ms);  // none in flight: sent at once
    EXPECT_EQ(output(), cmd({"PING"}));
    s_->ping_soon(t0 + 600ms);  // one in flight: nothing more yet
    EXPECT_EQ(output(), "");
    feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", t0 + 700ms);
    EXPECT_EQ(s_->ping_answered(), t0 + 500ms);
    // The one asked for while the first was in flight is due at once, not 3 s later.
    ASSERT_TRUE(s_->next_deadline());
    EXPECT_EQ(*s_->next_deadline(), t0 + 700ms);
    s_->on_timer(t0 + 700ms);
    EXPECT_EQ(output(), cmd({"PING"}));
    feed("+PONG\r\n", t0 + 800ms);
    EXPECT_EQ(s_->ping_answered(), t0 + 700ms);
    EXPECT_EQ(*s_->next_deadline(), t0 + 3800ms);  // back to the health-check interval
}

TEST_F(SessionTest, PingSoonBeforeReadyDoesNothing) {
    make(options_);
    s_->start(t0);
    (void)output();
    s_->ping_soon(t0 + 1ms);
    EXPECT_EQ(output(), "");
}

TEST_F(SessionTest, HandshakeTimesOut) {
    options_.connect_timeout = 500ms;
    make(options_);
    s_->start(t0);
    EXPECT_EQ(*s_->next_deadline(), t0 + 500ms);
    s_->on_timer(t0 + 500ms);
    EXPECT_EQ(s_->error(), errc::connect_timeout);
}

TEST_F(SessionTest, MalformedBytesFailWithTheOffset) {
    ready_resp3();
    s_->command({"GET", "k"}, nullptr);
    feed(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n$3x\r\n");
    EXPECT_EQ(sink_.messages.size(), 1u);
    EXPECT_EQ(s_->state(), session_state::failed);
    EXPECT_EQ(s_->error(), errc::protocol_error);
    // The stream offset counts the HELLO reply (16 bytes) and the message (31 bytes); the
    // 'x' of "$3x" is byte 49.
    EXPECT_NE(s_->error_detail().find("at byte 49"), std::string::npos) << s_->error_detail();
}

TEST_F(SessionTest, ReplyWithoutCommandIsUnexpected) {
    ready_resp3();
    feed("+OK\r\n");
    EXPECT_EQ(s_->error(), errc::unexpected_reply);
}

TEST_F(SessionTest, AbandonFailsEveryPendingHandler) {
    make();
    s_->start(t0);
    int called = 0;
    s_->command({"ECHO", "held"}, [&](const std::error_code& ec, const protocol::value& v) {
        EXPECT_EQ(ec, errc::connection_lost);
        EXPECT_TRUE(v.is_null());
        ++called;
    });
    feed("%0\r\n");
    s_->command({"ECHO", "sent"}, [&](const std::error_code& ec, const protocol::value&) {
        EXPECT_EQ(ec, errc::connection_lost);
        ++called;
    });
    s_->abandon(make_error_code(errc::connection_lost));
    EXPECT_EQ(called, 2);
    EXPECT_EQ(s_->pending(), 0u);
    bool refused = false;
    s_->command({"PING"}, [&](const std::error_code& ec, const protocol::value&) {
        refused = ec == errc::not_connected;
    });
    EXPECT_TRUE(refused);
}

TEST_F(SessionTest, LargeGenericReplySplitAcrossFeedsArrivesWhole) {
    ready_resp3();
    protocol::value reply;
    s_->command({"GET", "big"},
                [&](const std::error_code&, const protocol::value& v) { reply = v; });
    const std::string body(100000, 'z');
    const std::string frame = "*2\r\n$100000\r\n" + body + "\r\n:7\r\n";
    for (std::size_t i = 0; i < frame.size(); i += 4096)
        feed(frame.substr(i, 4096));
    ASSERT_EQ(reply.elements.size(), 2u);
    EXPECT_EQ(reply.elements[0].data, body);
    EXPECT_EQ(reply.elements[1].integer, 7);
}

}  // namespace
}  // namespace ksn::net
