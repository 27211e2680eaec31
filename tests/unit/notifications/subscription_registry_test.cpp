// subscription_registry: subscriptions (name + exact/pattern) with their handlers, lookups
// by string_view, the listings the notifier replays and reports, and the
// notify-keyspace-events flags each subscription needs.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "notifications/engine/subscription_registry.hpp"

namespace ksn {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;
using f = notify_flags;

subscription_key exact(std::string name) {
    return {std::move(name), false};
}
subscription_key pattern(std::string name) {
    return {std::move(name), true};
}

// A handler that records a tag when called.
notification_handler recorder(std::vector<std::string>& calls, std::string tag) {
    return [&calls, tag = std::move(tag)](const received_notification&) { calls.push_back(tag); };
}

// The flags of a subscription, nullopt when it is absent.
std::optional<flag_requirement> flags_of(const subscription_registry& r, std::string_view name,
                                         bool pattern) {
    const auto* e = r.find(name, pattern);
    if (!e) return std::nullopt;
    return e->flags;
}

void call(const subscription_registry::entry& e) {
    ASSERT_TRUE(e.handler);
    (*e.handler)(received_notification{});
}

TEST(subscription_registry, starts_empty) {
    const subscription_registry r;
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.size(), 0u);
    EXPECT_EQ(r.find("a", false), nullptr);
    EXPECT_EQ(r.find("a", true), nullptr);
    EXPECT_TRUE(r.names(false).empty());
    EXPECT_TRUE(r.names(true).empty());
    EXPECT_TRUE(r.without_handler().empty());
    EXPECT_TRUE(r.requirements().empty());
}

TEST(subscription_registry, add_returns_true_only_when_new_and_replaces_the_handler) {
    subscription_registry r;
    std::vector<std::string> calls;
    EXPECT_TRUE(r.add(exact("__keyspace@0__:k"), recorder(calls, "first")));
    EXPECT_FALSE(r.add(exact("__keyspace@0__:k"), recorder(calls, "second")));
    EXPECT_EQ(r.size(), 1u);
    const auto* e = r.find("__keyspace@0__:k", false);
    ASSERT_NE(e, nullptr);
    call(*e);
    EXPECT_EQ(calls, (std::vector<std::string>{"second"}));

    // Replacing with no handler makes it a pull subscription.
    EXPECT_FALSE(r.add(exact("__keyspace@0__:k"), nullptr));
    e = r.find("__keyspace@0__:k", false);
    ASSERT_NE(e, nullptr);
    EXPECT_FALSE(e->handler);
    EXPECT_EQ(r.without_handler(), (std::vector<std::string>{"SUBSCRIBE __keyspace@0__:k"}));
    // And back.
    EXPECT_FALSE(r.add(exact("__keyspace@0__:k"), recorder(calls, "third")));
    EXPECT_TRUE(r.without_handler().empty());
    EXPECT_EQ(r.size(), 1u);
}

TEST(subscription_registry, a_replaced_handler_stays_alive_where_it_was_copied) {
    // Queue slots hold a copy of the shared_ptr: replacing the handler must not free it.
    subscription_registry r;
    std::vector<std::string> calls;
    ASSERT_TRUE(r.add(pattern("__keyspace@0__:*"), recorder(calls, "old")));
    const auto* e = r.find("__keyspace@0__:*", true);
    ASSERT_NE(e, nullptr);
    const auto held = e->handler;
    ASSERT_FALSE(r.add(pattern("__keyspace@0__:*"), recorder(calls, "new")));
    ASSERT_TRUE(r.remove(pattern("__keyspace@0__:*")));
    ASSERT_TRUE(held);
    (*held)(received_notification{});
    EXPECT_EQ(calls, (std::vector<std::string>{"old"}));
}

TEST(subscription_registry, remove_answers_whether_it_was_present) {
    subscription_registry r;
    ASSERT_TRUE(r.add(exact("a"), nullptr));
    EXPECT_FALSE(r.remove(exact("b")));
    EXPECT_FALSE(r.remove(pattern("a")));  // the pattern "a" is another subscription
    EXPECT_EQ(r.size(), 1u);
    EXPECT_TRUE(r.remove(exact("a")));
    EXPECT_FALSE(r.remove(exact("a")));
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.find("a", false), nullptr);
    // Removed, it can be added again as new.
    EXPECT_TRUE(r.add(exact("a"), nullptr));
}

TEST(subscription_registry, exact_and_pattern_of_the_same_name_are_two_subscriptions) {
    subscription_registry r;
    std::vector<std::string> calls;
    EXPECT_TRUE(r.add(exact("__keyspace@0__:a*b"), recorder(calls, "exact")));
    EXPECT_TRUE(r.add(pattern("__keyspace@0__:a*b"), recorder(calls, "pattern")));
    EXPECT_EQ(r.size(), 2u);
    EXPECT_FALSE(r.empty());
    const auto* e = r.find("__keyspace@0__:a*b", false);
    const auto* p = r.find("__keyspace@0__:a*b", true);
    ASSERT_NE(e, nullptr);
    ASSERT_NE(p, nullptr);
    EXPECT_NE(e, p);
    call(*e);
    call(*p);
    EXPECT_EQ(calls, (std::vector<std::string>{"exact", "pattern"}));
    EXPECT_EQ(r.names(false), (std::vector<std::string>{"__keyspace@0__:a*b"}));
    EXPECT_EQ(r.names(true), (std::vector<std::string>{"__keyspace@0__:a*b"}));

    ASSERT_TRUE(r.remove(exact("__keyspace@0__:a*b")));
    EXPECT_EQ(r.find("__keyspace@0__:a*b", false), nullptr);
    EXPECT_NE(r.find("__keyspace@0__:a*b", true), nullptr);
}

TEST(subscription_registry, find_takes_a_string_view_of_any_buffer) {
    subscription_registry r;
    ASSERT_TRUE(r.add(exact("__keyspace@0__:user:1"), nullptr));
    ASSERT_TRUE(r.add(pattern("__keyspace@0__:user:*"), nullptr));
    // Views into a larger buffer, not NUL-terminated where they end.
    const std::string frame = "xx__keyspace@0__:user:1yy__keyspace@0__:user:*zz";
    const std::string_view channel = std::string_view(frame).substr(2, 21);
    const std::string_view pat = std::string_view(frame).substr(25, 21);
    ASSERT_EQ(channel, "__keyspace@0__:user:1");
    ASSERT_EQ(pat, "__keyspace@0__:user:*");
    EXPECT_NE(r.find(channel, false), nullptr);
    EXPECT_NE(r.find(pat, true), nullptr);
    EXPECT_EQ(r.find(channel, true), nullptr);
    EXPECT_EQ(r.find(pat, false), nullptr);
    // No prefix or longer match: the name is compared whole.
    EXPECT_EQ(r.find(channel.substr(0, 20), false), nullptr);
    EXPECT_EQ(r.find(std::string_view(frame).substr(2, 22), false), nullptr);
    EXPECT_EQ(r.find("", false), nullptr);
}

TEST(subscription_registry, names_are_sorted_per_kind) {
    subscription_registry r;
    for (const char* n : {"c", "a", "b", "__keyspace@0__:z", "B"})
        ASSERT_TRUE(r.add(exact(n), nullptr));
    for (const char* n : {"p2*", "p1*", "P*"})
        ASSERT_TRUE(r.add(pattern(n), nullptr));
    EXPECT_EQ(r.names(false), (std::vector<std::string>{"B", "__keyspace@0__:z", "a", "b", "c"}));
    EXPECT_EQ(r.names(true), (std::vector<std::string>{"P*", "p1*", "p2*"}));
}

TEST(subscription_registry, without_handler_names_the_command_of_each_pull_subscription) {
    subscription_registry r;
    std::vector<std::string> calls;
    ASSERT_TRUE(r.add(exact("__keyevent@0__:set"), nullptr));
    ASSERT_TRUE(r.add(exact("__keyevent@0__:del"), recorder(calls, "del")));
    ASSERT_TRUE(r.add(pattern("__keyspace@0__:*"), nullptr));
    ASSERT_TRUE(r.add(pattern("__keyevent@0__:*"), recorder(calls, "p")));
    ASSERT_TRUE(r.add(pattern("__keyevent@0__:set"), nullptr));  // a pattern of an exact's name
    EXPECT_EQ(r.without_handler(), (std::vector<std::string>{
                                       "PSUBSCRIBE __keyevent@0__:set",
                                       "PSUBSCRIBE __keyspace@0__:*",
                                       "SUBSCRIBE __keyevent@0__:set",
                                   }));
}

// --- flags -----------------------------------------------------------------------------

const flag_requirement any_event_on_keyspace{.all_of = f::keyspace, .any_of = every_event_class};
const flag_requirement any_event_on_keyevent{.all_of = f::keyevent, .any_of = every_event_class};

TEST(required_flags_for_name, keyspace_and_keyevent) {
    EXPECT_EQ(required_flags_for_name("__keyspace@0__:user:1"), any_event_on_keyspace);
    EXPECT_EQ(required_flags_for_name("__keyspace@*__:*"), any_event_on_keyspace);
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:set"),
              (flag_requirement{.all_of = f::keyevent | f::string}));
    EXPECT_EQ(required_flags_for_name("__keyevent@5__:expired"),
              (flag_requirement{.all_of = f::keyevent | f::expired}));
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:keymiss"),
              (flag_requirement{.all_of = f::keyevent | f::key_miss}));
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:new"),
              (flag_requirement{.all_of = f::keyevent | f::new_key}));
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:hset"),
              (flag_requirement{.all_of = f::keyevent | f::hash}));
    // A glob or an unknown event: any event class. Case counts: "SET" is not "set".
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:*"), any_event_on_keyevent);
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:s?t"), any_event_on_keyevent);
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:SET"), any_event_on_keyevent);
    EXPECT_EQ(required_flags_for_name("__keyevent@0__:my_module_event"), any_event_on_keyevent);
}

TEST(required_flags_for_name, subkey_channels_need_their_letter_and_h) {
    EXPECT_EQ(required_flags_for_name("__subkeyspace@0__:myhash"),
              (flag_requirement{.all_of = f::subkeyspace | f::hash}));
    EXPECT_EQ(required_flags_for_name("__subkeyevent@0__:hset"),
              (flag_requirement{.all_of = f::subkeyevent | f::hash}));
    EXPECT_EQ(required_flags_for_name("__subkeyevent@0__:*"),
              (flag_requirement{.all_of = f::subkeyevent | f::hash}));
    EXPECT_EQ(required_flags_for_name("__subkeyspaceitem@0__:myhash\nfield"),
              (flag_requirement{.all_of = f::subkeyspaceitem | f::hash}));
    // subkeyspaceevent names "<event>|<key>": the event is the part before the '|'.
    EXPECT_EQ(required_flags_for_name("__subkeyspaceevent@0__:hset|myhash"),
              (flag_requirement{.all_of = f::subkeyspaceevent | f::hash}));
    EXPECT_EQ(required_flags_for_name("__subkeyspaceevent@0__:hexpired|myhash"),
              (flag_requirement{.all_of = f::subkeyspaceevent | f::hash}));
    EXPECT_EQ(required_flags_for_name("__subkeyspaceevent@0__:*|myhash"),
              (flag_requirement{.all_of = f::subkeyspaceevent | f::hash}));
    // Every hash event is 'h', so only an event of another class shows which part was
    // taken as the event: "expired" before the first '|' (the key may hold more '|').
    EXPECT_EQ(required_flags_for_name("__subkeyspaceevent@0__:expired|my|hash"),
              (flag_requirement{.all_of = f::subkeyspaceevent | f::expired}));
}

TEST(required_flags_for_name, non_notification_channels_need_nothing) {
    for (const std::string_view name :
         {"news"sv, ""sv, "__keyspac@0__:k"sv, "keyspace@0__:k"sv, "\0__keyspace@0__:k"sv}) {
        SCOPED_TRACE(std::string(name));
        const flag_requirement need = required_flags_for_name(name);
        EXPECT_EQ(need, flag_requirement{});
        EXPECT_TRUE(need.satisfied_by(f::none));
    }
    // Only the prefix decides, as for received channels: a bare prefix is a keyspace name.
    EXPECT_EQ(required_flags_for_name("__keyspace@"), any_event_on_keyspace);
}

TEST(subscription_registry, each_entry_carries_the_flags_of_its_name) {
    subscription_registry r;
    ASSERT_TRUE(r.add(pattern("__keyevent@*__:expired"), nullptr));
    ASSERT_TRUE(r.add(exact("news"), nullptr));
    ASSERT_TRUE(r.add(exact("__subkeyspace@0__:h"), nullptr));
    EXPECT_EQ(flags_of(r, "__keyevent@*__:expired", true),
              (flag_requirement{.all_of = f::keyevent | f::expired}));
    EXPECT_EQ(flags_of(r, "news", false), flag_requirement{});
    EXPECT_EQ(flags_of(r, "__subkeyspace@0__:h", false),
              (flag_requirement{.all_of = f::subkeyspace | f::hash}));
    // Replacing the handler keeps them.
    ASSERT_FALSE(r.add(pattern("__keyevent@*__:expired"), [](const received_notification&) {}));
    EXPECT_EQ(flags_of(r, "__keyevent@*__:expired", true),
              (flag_requirement{.all_of = f::keyevent | f::expired}));
}

// requirements() in any order, compared as a set.
void expect_same_set(const std::vector<flag_requirement>& got,
                     const std::vector<flag_requirement>& want) {
    EXPECT_EQ(got.size(), want.size());
    for (const auto& w : want) {
        EXPECT_NE(std::find(got.begin(), got.end(), w), got.end())
            << "missing all_of=" << to_letters(w.all_of) << " any_of=" << to_letters(w.any_of);
    }
}

TEST(subscription_registry, requirements_are_deduplicated) {
    subscription_registry r;
    // Three keyspace subscriptions, exact and pattern: one requirement.
    ASSERT_TRUE(r.add(exact("__keyspace@0__:a"), nullptr));
    ASSERT_TRUE(r.add(exact("__keyspace@0__:b"), nullptr));
    ASSERT_TRUE(r.add(pattern("__keyspace@0__:*"), nullptr));
    expect_same_set(r.requirements(), {any_event_on_keyspace});

    // set and setrange are both '$'; del is 'g'.
    ASSERT_TRUE(r.add(exact("__keyevent@0__:set"), nullptr));
    ASSERT_TRUE(r.add(pattern("__keyevent@*__:setrange"), nullptr));
    ASSERT_TRUE(r.add(exact("__keyevent@0__:del"), nullptr));
    ASSERT_TRUE(r.add(pattern("__keyevent@0__:*"), nullptr));
    ASSERT_TRUE(r.add(exact("__subkeyspaceitem@0__:h\nf"), nullptr));
    ASSERT_TRUE(r.add(pattern("__subkeyspaceitem@0__:h\n*"), nullptr));
    ASSERT_TRUE(r.add(exact("news"), nullptr));
    ASSERT_TRUE(r.add(pattern("chat.*"), nullptr));
    expect_same_set(r.requirements(), {
                                          any_event_on_keyspace,
                                          {.all_of = f::keyevent | f::string},
                                          {.all_of = f::keyevent | f::generic},
                                          any_event_on_keyevent,
                                          {.all_of = f::subkeyspaceitem | f::hash},
                                          flag_requirement{},  // news and chat.*: nothing
                                      });

    // Removing the last subscription of a requirement removes it.
    ASSERT_TRUE(r.remove(exact("__keyevent@0__:del")));
    ASSERT_TRUE(r.remove(exact("news")));
    ASSERT_TRUE(r.remove(pattern("chat.*")));
    expect_same_set(r.requirements(), {
                                          any_event_on_keyspace,
                                          {.all_of = f::keyevent | f::string},
                                          any_event_on_keyevent,
                                          {.all_of = f::subkeyspaceitem | f::hash},
                                      });
}

TEST(subscription_registry, binary_names) {
    subscription_registry r;
    const std::string nul = "__keyspace@0__:a\0b"s;
    const std::string ff = "__keyspace@0__:a\xff"s;
    const std::string nul_pattern = "__keyspace@0__:\0*"s;
    ASSERT_TRUE(r.add(exact(nul), nullptr));
    ASSERT_TRUE(r.add(exact(ff), nullptr));
    ASSERT_TRUE(r.add(exact("__keyspace@0__:a"), nullptr));  // a prefix of both
    ASSERT_TRUE(r.add(pattern(nul_pattern), nullptr));
    EXPECT_FALSE(r.add(exact(nul), nullptr));
    EXPECT_EQ(r.size(), 4u);

    EXPECT_NE(r.find(nul, false), nullptr);
    EXPECT_NE(r.find(ff, false), nullptr);
    EXPECT_NE(r.find(nul_pattern, true), nullptr);
    EXPECT_EQ(r.find("__keyspace@0__:a\0c"s, false), nullptr);
    EXPECT_EQ(r.find("__keyspace@0__:a\xfe"s, false), nullptr);
    EXPECT_EQ(r.find(nul, true), nullptr);

    // Sorted as bytes: "a" < "a\0b" < "a\xff" (std::string compares as unsigned char).
    EXPECT_EQ(r.names(false), (std::vector<std::string>{"__keyspace@0__:a", nul, ff}));
    EXPECT_EQ(r.names(true), (std::vector<std::string>{nul_pattern}));
    EXPECT_EQ(r.without_handler(),
              (std::vector<std::string>{"PSUBSCRIBE " + nul_pattern, "SUBSCRIBE __keyspace@0__:a",
                                        "SUBSCRIBE " + nul, "SUBSCRIBE " + ff}));
    EXPECT_EQ(flags_of(r, nul, false), any_event_on_keyspace);
    expect_same_set(r.requirements(), {any_event_on_keyspace});

    EXPECT_TRUE(r.remove(exact(nul)));
    EXPECT_NE(r.find(ff, false), nullptr);
    EXPECT_NE(r.find("__keyspace@0__:a", false), nullptr);
    EXPECT_EQ(r.find(nul, false), nullptr);
}

}  // namespace
}  // namespace ksn
