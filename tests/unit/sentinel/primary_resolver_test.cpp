// The Sentinel resolver's decisions, driven event by event without a socket: the test
// owns the clock, plays the sentinels and the data nodes (connections ready, refused or
// timing out; GET-MASTER-ADDR-BY-NAME and ROLE replies) and reads back the actions the
// resolver asks of its driver.
#include "sentinel/primary_resolver.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace ksn::sentinel {
namespace {

using namespace std::chrono_literals;
using protocol::resp_type;
using protocol::value;
using R = primary_resolver;
using lines = std::vector<std::string>;

const clock::time_point t0 = clock::time_point{} + 1000s;

net::endpoint ep(std::uint16_t port) {
    return {"127.0.0.1", port};
}
std::string name(std::uint16_t port) {
    return ep(port).to_string();
}

value bulk(std::string s) {
    value v;
    v.type = resp_type::bulk_string;
    v.data = std::move(s);
    return v;
}
value integer(std::int64_t i) {
    value v;
    v.type = resp_type::integer;
    v.integer = i;
    return v;
}
value array(std::vector<value> elements) {
    value v;
    v.type = resp_type::array;
    v.elements = std::move(elements);
    return v;
}
value null() {
    return value{};
}
value error(std::string text) {
    value v;
    v.type = resp_type::simple_error;
    v.data = std::move(text);
    return v;
}
// GET-MASTER-ADDR-BY-NAME's answer: [host, port].
value named(std::uint16_t port) {
    return array({bulk("127.0.0.1"), bulk(std::to_string(port))});
}
value role_master() {
    return array({bulk("master"), integer(100), array({})});
}
value role_replica_of(std::uint16_t port) {
    return array({bulk("slave"), bulk("127.0.0.1"), integer(port), bulk("connected"), integer(90)});
}

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

std::string lane_name(R::lane l) {
    switch (l) {
        case R::lane::sentinel:
            return "sentinel";
        case R::lane::candidate:
            return "candidate";
        case R::lane::retiring:
            return "retiring";
    }
    return "?";
}

constexpr auto S = R::lane::sentinel;
constexpr auto C = R::lane::candidate;
constexpr auto X = R::lane::retiring;

// Sentinels 26379..26381 monitor "mymaster"; data nodes are 7000 (primary) and 7001.
class PrimaryResolverTest : public testing::Test {
  protected:
    void make(std::vector<std::uint16_t> sentinels = {26379, 26380, 26381},
              std::chrono::milliseconds interval = 1000ms,
              std::chrono::milliseconds reply_timeout = 2000ms) {
        resolver_options o;
        for (const auto p : sentinels)
            o.sentinels.push_back(ep(p));
        o.primary_name = "mymaster";
        o.check_interval = interval;
        o.reply_timeout = reply_timeout;
        r_.emplace(std::move(o));
    }
    R& r() { return *r_; }

    // The actions queued since the last call, one line each; reports are kept whole.
    lines take() {
        lines out;
        while (auto a = r().next_action()) {
            out.push_back(std::visit(
                overloaded{
                    [](const R::connect& c) {
                        return "connect " + lane_name(c.which) + " " + c.address.to_string();
                    },
                    [](const R::send& s) {
                        std::string line = "send " + lane_name(s.which);
                        for (const auto& a : s.args)
                            line += " " + a;
                        return line;
                    },
                    [](const R::close& c) { return "close " + lane_name(c.which); },
                    [this](R::report_primary& p) {
                        primaries_.push_back(p);
                        return "primary " + p.address.to_string();
                    },
                    [this](R::report_retired& x) {
                        retired_.push_back(x);
                        return "retired " + x.address.to_string();
                    },
                    [this](R::report_error& e) {
                        errors_.push_back(e.sentence);
                        return std::string("error");
                    },
                },
                *a));
        }
        return out;
    }

    static std::string ask() { return "send sentinel SENTINEL GET-MASTER-ADDR-BY-NAME mymaster"; }

    // Starts at t0: 26379 names `primary`, which confirms it.
    void start_on(std::uint16_t primary) {
        r().start(t0);
        EXPECT_EQ(take(), lines{"connect sentinel " + name(26379)});
        r().on_connected(S, t0);
        EXPECT_EQ(take(), lines{ask()});
        r().on_reply(S, named(primary), t0);
        EXPECT_EQ(take(), lines{"connect candidate " + name(primary)});
        r().on_connected(C, t0);
        EXPECT_EQ(take(), lines{"send candidate ROLE"});
        r().on_reply(C, role_master(), t0);
        EXPECT_EQ(take(), (lines{"close candidate", "primary " + name(primary)}));
    }

    // A switch from 7000 to 7001 announced at `at`: the sentinel (still open) names 7001.
    void switch_to(std::uint16_t primary, clock::time_point at) {
        r().refresh(at);
        EXPECT_EQ(take(), lines{ask()});
        r().on_reply(S, named(primary), at);
        EXPECT_EQ(take(), lines{"connect candidate " + name(primary)});
        r().on_connected(C, at);
        EXPECT_EQ(take(), lines{"send candidate ROLE"});
        r().on_reply(C, role_master(), at);
        EXPECT_EQ(take(), (lines{"close candidate", "primary " + name(primary)}));
    }

    std::optional<R> r_;
    std::vector<R::report_primary> primaries_;
    std::vector<R::report_retired> retired_;
    std::vector<std::string> errors_;
};

TEST_F(PrimaryResolverTest, NeedsASentinelAndAName) {
    EXPECT_THROW(R(resolver_options{{}, "mymaster"}), std::invalid_argument);
    EXPECT_THROW(R(resolver_options{{ep(26379)}, ""}), std::invalid_argument);
    // Duplicates are ignored.
    R dup(resolver_options{{ep(26379), ep(26379), ep(26380)}, "m"});
    EXPECT_EQ(dup.sentinels(), (std::vector<net::endpoint>{ep(26379), ep(26380)}));
}

TEST_F(PrimaryResolverTest, StartAsksASentinelAndConfirmsWithRole) {
    make();
    EXPECT_EQ(r().next_deadline(), std::nullopt);  // not started
    start_on(7000);
    ASSERT_EQ(primaries_.size(), 1u);
    EXPECT_EQ(primaries_[0].address, ep(7000));
    EXPECT_FALSE(primaries_[0].previous);
    EXPECT_EQ(primaries_[0].named_by, ep(26379));
    EXPECT_EQ(r().primary(), ep(7000));
    EXPECT_EQ(r().confirmations(), 1u);
    EXPECT_FALSE(r().resolving());
    EXPECT_EQ(r().next_deadline(), t0 + 1s);  // the sentinel stays open for the next round
}

TEST_F(PrimaryResolverTest, TimerRoundsAskTheOpenSentinelAndSkipRoleWhileUnchanged) {
    make();
    start_on(7000);
    for (int i = 1; i <= 3; ++i) {
        const auto due = t0 + i * 1s;
        EXPECT_EQ(r().next_deadline(), due);
        r().on_timer(due - 1ms);  // early: nothing is due
        EXPECT_EQ(take(), lines{});
        r().on_timer(due);
        EXPECT_EQ(take(), lines{ask()}) << i;
        r().on_reply(S, named(7000), due);
        EXPECT_EQ(take(), lines{}) << "the same primary: no ROLE, nothing reported";
    }
    EXPECT_EQ(r().confirmations(), 4u);
    EXPECT_EQ(primaries_.size(), 1u);
}

TEST_F(PrimaryResolverTest, RecheckConfirmsTheSamePrimaryWithRoleAndReportsNothing) {
    make();
    start_on(7000);
    r().refresh(t0 + 100ms, true);  // the primary's connection was lost
    EXPECT_EQ(take(), lines{ask()});
    r().on_reply(S, named(7000), t0 + 100ms);
    EXPECT_EQ(take(), lines{"connect candidate " + name(7000)});
    r().on_connected(C, t0 + 100ms);
    EXPECT_EQ(take(), lines{"send candidate ROLE"});
    r().on_reply(C, role_master(), t0 + 100ms);
    EXPECT_EQ(take(), lines{"close candidate"});
    EXPECT_EQ(primaries_.size(), 1u);
    EXPECT_EQ(r().confirmations(), 2u);
}

TEST_F(PrimaryResolverTest, ASwitchReportsTheNewPrimaryAndKeepsTheOldOneRetiring) {
    make();
    start_on(7000);
    switch_to(7001, t0 + 200ms);
    ASSERT_EQ(primaries_.size(), 2u);
    EXPECT_EQ(primaries_[1].address, ep(7001));
    EXPECT_EQ(primaries_[1].previous, ep(7000));
    EXPECT_EQ(r().retiring(), (std::vector<net::endpoint>{ep(7000)}));
    EXPECT_TRUE(retired_.empty()) << "not given up until it says it is a replica";
}

TEST_F(PrimaryResolverTest, ARetiringPrimaryThatStillSaysMasterIsKeptAndCheckedAgain) {
    make();
    start_on(7000);
    switch_to(7001, t0);
    // The retiring check is due with the first interval.
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), (lines{ask(), "connect retiring " + name(7000)}));
    r().on_reply(S, named(7001), t0 + 1s);
    EXPECT_EQ(take(), lines{});
    r().on_connected(X, t0 + 1s);
    EXPECT_EQ(take(), lines{"send retiring ROLE"});
    r().on_reply(X, role_master(), t0 + 1s);  // resumed after SIGSTOP: still a primary
    EXPECT_EQ(take(), lines{"close retiring"});
    EXPECT_EQ(r().retiring(), (std::vector<net::endpoint>{ep(7000)}));
    // Checked again one interval later; now the sentinels have made it a replica.
    EXPECT_EQ(r().next_deadline(), t0 + 2s);
    r().on_timer(t0 + 2s);
    EXPECT_EQ(take(), (lines{ask(), "connect retiring " + name(7000)}));
    r().on_connected(X, t0 + 2s);
    EXPECT_EQ(take(), lines{"send retiring ROLE"});
    r().on_reply(X, role_replica_of(7001), t0 + 2s);
    EXPECT_EQ(take(), (lines{"close retiring", "retired " + name(7000)}));
    ASSERT_EQ(retired_.size(), 1u);
    EXPECT_EQ(retired_[0].why, "it is a replica of " + name(7001));
    EXPECT_TRUE(r().retiring().empty());
}

TEST_F(PrimaryResolverTest, ARetiringPrimaryThatRefusesConnectionsIsGone) {
    make();
    start_on(7000);
    switch_to(7001, t0);
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), (lines{ask(), "connect retiring " + name(7000)}));
    r().on_connection_failed(X, "127.0.0.1:7000: connect failed: Connection refused", true,
                             t0 + 1s);
    EXPECT_EQ(take(), (lines{"close retiring", "retired " + name(7000)}));
    ASSERT_EQ(retired_.size(), 1u);
    EXPECT_NE(retired_[0].why.find("gone"), std::string::npos) << retired_[0].why;
    EXPECT_NE(retired_[0].why.find("Connection refused"), std::string::npos) << retired_[0].why;
}

TEST_F(PrimaryResolverTest, AStalledRetiringPrimaryStaysRetiringAndNeverDelaysTheSentinels) {
    make();
    start_on(7000);
    switch_to(7001, t0);
    // 7000 is stopped: connecting succeeds (the kernel accepts), ROLE never answers.
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), (lines{ask(), "connect retiring " + name(7000)}));
    r().on_connected(X, t0 + 1s);
    EXPECT_EQ(take(), lines{"send retiring ROLE"});
    // Meanwhile a switch back is announced and resolved at once on the other lanes.
    r().on_reply(S, named(7001), t0 + 1s);
    EXPECT_EQ(take(), lines{});
    r().refresh(t0 + 1500ms);
    EXPECT_EQ(take(), lines{ask()});
    r().on_reply(S, named(7001), t0 + 1500ms);
    EXPECT_EQ(take(), lines{"connect candidate " + name(7001)});
    // ROLE on the retiring lane times out: it stays retiring.
    EXPECT_EQ(r().next_deadline(), t0 + 3s);
    r().on_timer(t0 + 3s);
    EXPECT_EQ(take(), lines{"close retiring"});
    EXPECT_EQ(r().retiring(), (std::vector<net::endpoint>{ep(7000)}));
    EXPECT_TRUE(retired_.empty());
    // A connect that times out (not refused) is not "gone" either.
    r().on_connected(C, t0 + 3s);
    EXPECT_EQ(take(), lines{"send candidate ROLE"});
    r().on_reply(C, role_master(), t0 + 3s);
    EXPECT_EQ(take(), lines{"close candidate"});
    r().on_timer(t0 + 4s);
    EXPECT_EQ(take(), (lines{ask(), "connect retiring " + name(7000)}));
    r().on_connection_failed(X, "127.0.0.1:7000: connect timed out", false, t0 + 4s);
    EXPECT_EQ(take(), lines{"close retiring"});
    EXPECT_EQ(r().retiring(), (std::vector<net::endpoint>{ep(7000)}));
}

TEST_F(PrimaryResolverTest, AFailBackTakesTheNodeOutOfRetiring) {
    make();
    start_on(7000);
    switch_to(7001, t0 + 200ms);
    EXPECT_EQ(r().retiring(), (std::vector<net::endpoint>{ep(7000)}));
    switch_to(7000, t0 + 300ms);
    EXPECT_EQ(primaries_.back().previous, ep(7001));
    EXPECT_EQ(r().retiring(), (std::vector<net::endpoint>{ep(7001)}));
}

TEST_F(PrimaryResolverTest, AStaleSentinelNamingAReplicaIsPassedOver) {
    make();
    start_on(7000);
    // 26379 still names 7000, which says it is a replica of 7001 now; 26380 names 7001.
    r().refresh(t0 + 100ms);
    EXPECT_EQ(take(), lines{ask()});
    r().on_reply(S, named(7000), t0 + 100ms);
    EXPECT_EQ(take(), lines{"connect candidate " + name(7000)});
    r().on_connected(C, t0 + 100ms);
    EXPECT_EQ(take(), lines{"send candidate ROLE"});
    r().on_reply(C, role_replica_of(7001), t0 + 100ms);
    EXPECT_EQ(take(),
              (lines{"close candidate", "close sentinel", "connect sentinel " + name(26380)}));
    r().on_connected(S, t0 + 100ms);
    EXPECT_EQ(take(), lines{ask()});
    r().on_reply(S, named(7001), t0 + 100ms);
    EXPECT_EQ(take(), lines{"connect candidate " + name(7001)});
    r().on_connected(C, t0 + 100ms);
    EXPECT_EQ(take(), lines{"send candidate ROLE"});
    r().on_reply(C, role_master(), t0 + 100ms);
    EXPECT_EQ(take(), (lines{"close candidate", "primary " + name(7001)}));
    EXPECT_EQ(primaries_.back().named_by, ep(26380));
    // The sentinel that answered is asked first from now on.
    EXPECT_EQ(r().sentinels(), (std::vector<net::endpoint>{ep(26380), ep(26379), ep(26381)}));
    EXPECT_TRUE(errors_.empty());
}

TEST_F(PrimaryResolverTest, ARoundInWhichNoSentinelAnswersIsOneSentenceNamingEach) {
    make();
    r().start(t0);
    EXPECT_EQ(take(), lines{"connect sentinel " + name(26379)});
    r().on_connection_failed(S, "127.0.0.1:26379: connect failed: Connection refused", true, t0);
    EXPECT_EQ(take(), (lines{"close sentinel", "connect sentinel " + name(26380)}));
    r().on_connected(S, t0);
    EXPECT_EQ(take(), lines{ask()});
    r().on_reply(S, null(), t0);  // does not know the name
    EXPECT_EQ(take(), (lines{"close sentinel", "connect sentinel " + name(26381)}));
    r().on_connected(S, t0);
    EXPECT_EQ(take(), lines{ask()});
    // The third never answers.
    EXPECT_EQ(r().next_deadline(), t0 + 2s);
    r().on_timer(t0 + 2s);
    EXPECT_EQ(take(), (lines{"close sentinel", "error"}));
    ASSERT_EQ(errors_.size(), 1u);
    const auto& e = errors_[0];
    EXPECT_NE(e.find("no sentinel named a primary for 'mymaster'"), std::string::npos) << e;
    EXPECT_NE(e.find("127.0.0.1:26379: connect failed: Connection refused"), std::string::npos)
        << e;
    EXPECT_NE(e.find("127.0.0.1:26380: does not know the primary"), std::string::npos) << e;
    EXPECT_NE(e.find("127.0.0.1:26381: no answer within 2000 ms"), std::string::npos) << e;
    EXPECT_FALSE(r().primary());
    // The timer tries again.
    EXPECT_EQ(r().next_deadline(), t0 + 3s);
    r().on_timer(t0 + 3s);
    EXPECT_EQ(take(), lines{"connect sentinel " + name(26379)});
}

TEST_F(PrimaryResolverTest, ADeadPrimaryTheSentinelsStillNameIsKeptWithoutAnError) {
    make();
    start_on(7000);
    // 7000 was killed: its connection is lost, the sentinels have not failed over yet.
    r().refresh(t0 + 100ms, true);
    EXPECT_EQ(take(), lines{ask()});
    r().on_reply(S, named(7000), t0 + 100ms);
    EXPECT_EQ(take(), lines{"connect candidate " + name(7000)});
    r().on_connection_failed(C, "127.0.0.1:7000: connect failed: Connection refused", true,
                             t0 + 100ms);
    EXPECT_EQ(take(),
              (lines{"close candidate", "close sentinel", "connect sentinel " + name(26380)}));
    r().on_connected(S, t0 + 100ms);
    r().on_reply(S, named(7000), t0 + 100ms);
    EXPECT_EQ(take(), (lines{ask(), "connect candidate " + name(7000)}));
    r().on_connection_failed(C, "127.0.0.1:7000: connect failed: Connection refused", true,
                             t0 + 100ms);
    EXPECT_EQ(take(),
              (lines{"close candidate", "close sentinel", "connect sentinel " + name(26381)}));
    r().on_connected(S, t0 + 100ms);
    r().on_reply(S, named(7000), t0 + 100ms);
    r().on_connection_failed(C, "127.0.0.1:7000: connect failed: Connection refused", true,
                             t0 + 100ms);
    // Every sentinel named the current primary: no error (the primary's own connection
    // reports its failures), and it stays the primary.
    EXPECT_EQ(take(), (lines{ask(), "connect candidate " + name(7000), "close candidate"}));
    EXPECT_TRUE(errors_.empty());
    EXPECT_EQ(r().primary(), ep(7000));
}

TEST_F(PrimaryResolverTest, RefreshDuringARoundIsFollowedByExactlyOneMore) {
    make();
    start_on(7000);
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), lines{ask()});
    r().refresh(t0 + 1s + 1ms, false);
    r().refresh(t0 + 1s + 2ms, true);
    EXPECT_EQ(take(), lines{});  // one round at a time
    r().on_reply(S, named(7000), t0 + 1s + 3ms);
    // The next round runs at once, with the re-check one of the requests asked for.
    EXPECT_EQ(take(), lines{ask()});
    r().on_reply(S, named(7000), t0 + 1s + 4ms);
    EXPECT_EQ(take(), lines{"connect candidate " + name(7000)});
    r().on_connected(C, t0 + 1s + 4ms);
    r().on_reply(C, role_master(), t0 + 1s + 4ms);
    EXPECT_EQ(take(), (lines{"send candidate ROLE", "close candidate"}));
    EXPECT_FALSE(r().resolving());
    EXPECT_EQ(r().next_deadline(), t0 + 2s + 4ms);
}

TEST_F(PrimaryResolverTest, StopClosesEveryLaneAndIgnoresLaterEvents) {
    make();
    start_on(7000);
    switch_to(7001, t0);
    r().on_timer(t0 + 1s);
    EXPECT_EQ(take(), (lines{ask(), "connect retiring " + name(7000)}));
    r().stop();
    EXPECT_EQ(take(), (lines{"close sentinel", "close retiring"}));
    EXPECT_EQ(r().next_deadline(), std::nullopt);
    r().on_reply(S, named(7000), t0 + 1s);
    r().on_connected(X, t0 + 1s);
    r().refresh(t0 + 1s);
    EXPECT_EQ(take(), lines{});
}

TEST(ParsePrimaryAddress, AcceptsAHostAndAPortOnly) {
    std::string e;
    EXPECT_EQ(parse_primary_address(named(7000), e), ep(7000));
    EXPECT_FALSE(parse_primary_address(null(), e));
    EXPECT_EQ(e, "does not know the primary");
    EXPECT_FALSE(parse_primary_address(error("NOAUTH Authentication required."), e));
    EXPECT_EQ(e, "refused: NOAUTH Authentication required.");
    EXPECT_FALSE(parse_primary_address(array({bulk("127.0.0.1")}), e));
    EXPECT_FALSE(parse_primary_address(array({bulk("127.0.0.1"), bulk("70000")}), e));
    EXPECT_NE(e.find("'70000'"), std::string::npos);
    EXPECT_FALSE(parse_primary_address(array({bulk("127.0.0.1"), bulk("7x")}), e));
    EXPECT_FALSE(parse_primary_address(array({bulk(""), bulk("7000")}), e));
}

TEST(ParseRole, NamesTheRoleAndAReplicasPrimary) {
    std::optional<net::endpoint> of;
    EXPECT_EQ(parse_role(role_master(), of), "master");
    EXPECT_FALSE(of);
    EXPECT_EQ(parse_role(role_replica_of(7001), of), "slave");
    EXPECT_EQ(of, ep(7001));
    EXPECT_EQ(parse_role(array({bulk("sentinel"), array({bulk("mymaster")})}), of), "sentinel");
    EXPECT_EQ(parse_role(array({bulk("leader")}), of), "");
    EXPECT_EQ(parse_role(error("ERR unknown command"), of), "");
}

TEST(ParseRole, ListsAPrimarysReplicasInItsOrder) {
    const auto replica = [](std::string host, std::string port) {
        return array({bulk(std::move(host)), bulk(std::move(port)), bulk("100")});
    };
    // As Redis 7.0 answers: host, port and offset as bulk strings.
    const auto reply =
        array({bulk("master"), integer(100),
               array({replica("127.0.0.1", "7002"), replica("127.0.0.1", "7x"),
                      array({bulk("127.0.0.1")}), replica("", "7004"), replica("::1", "7003")})});
    EXPECT_EQ(parse_role_replicas(reply),
              (std::vector<net::endpoint>{ep(7002), net::endpoint("::1", 7003)}));
    EXPECT_TRUE(parse_role_replicas(role_master()).empty());
    EXPECT_TRUE(parse_role_replicas(role_replica_of(7001)).empty());
    EXPECT_TRUE(parse_role_replicas(error("ERR unknown command")).empty());
}

}  // namespace
}  // namespace ksn::sentinel
