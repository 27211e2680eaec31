// notify-keyspace-events letters <-> flags, which flags a subscription needs, and the
// event name constants.
#include <gtest/gtest.h>

#include <bit>
#include <random>
#include <set>
#include <string>

#include "notifications/event.hpp"
#include "notifications/flags.hpp"

namespace ksn {
namespace {

using f = notify_flags;

TEST(notify_flags, every_letter_of_the_server) {
    // notify.c keyspaceEventsStringToFlags, letter by letter.
    const std::pair<char, notify_flags> letters[] = {
        {'K', f::keyspace},
        {'E', f::keyevent},
        {'g', f::generic},
        {'$', f::string},
        {'l', f::list},
        {'s', f::set},
        {'h', f::hash},
        {'z', f::zset},
        {'x', f::expired},
        {'e', f::evicted},
        {'t', f::stream},
        {'m', f::key_miss},
        {'d', f::module},
        {'n', f::new_key},
        {'o', f::overwritten},
        {'c', f::type_changed},
        {'r', f::rate_limit},
        {'S', f::subkeyspace},
        {'T', f::subkeyevent},
        {'I', f::subkeyspaceitem},
        {'V', f::subkeyspaceevent},
    };
    notify_flags seen = f::none;
    for (const auto& [c, flag] : letters) {
        SCOPED_TRACE(c);
        EXPECT_EQ(std::popcount(static_cast<std::uint32_t>(flag)), 1);
        EXPECT_FALSE(has_any(seen, flag));  // distinct bits
        seen |= flag;
        EXPECT_EQ(from_letters(std::string(1, c)), flag);
        EXPECT_EQ(flag_of_letter(c), flag);
        EXPECT_EQ(to_letters(flag), std::string(1, c));
    }
    EXPECT_EQ(seen, every_notify_flag);
}

TEST(notify_flags, a_covers_the_classes_and_nothing_else) {
    const notify_flags a = *from_letters("A");
    EXPECT_EQ(a, f::all);
    EXPECT_EQ(to_letters(a), "A");
    for (const notify_flags cls : {f::generic, f::string, f::list, f::set, f::hash, f::zset,
                                   f::expired, f::evicted, f::stream, f::module}) {
        EXPECT_TRUE(has_all(a, cls));
    }
    for (const notify_flags out :
         {f::keyspace, f::keyevent, f::key_miss, f::new_key, f::overwritten, f::type_changed,
          f::rate_limit, f::subkeyspace, f::subkeyevent, f::subkeyspaceitem, f::subkeyspaceevent}) {
        EXPECT_FALSE(has_any(a, out));
    }
    // The commonest configuration delivers no key-miss, new-key or subkey notification.
    const notify_flags kea = *from_letters("KEA");
    EXPECT_FALSE(has_any(kea, f::key_miss | f::new_key | f::subkeyspace | f::subkeyevent |
                                  f::subkeyspaceitem | f::subkeyspaceevent));
}

TEST(notify_flags, letters_are_read_like_the_server_reads_them) {
    EXPECT_EQ(from_letters(""), f::none);
    EXPECT_EQ(from_letters("EK"), f::keyspace | f::keyevent);
    EXPECT_EQ(from_letters("KKK"), f::keyspace);
    EXPECT_EQ(from_letters("Ag"), f::all);
    EXPECT_EQ(from_letters("STIVh"),
              f::subkeyspace | f::subkeyevent | f::subkeyspaceitem | f::subkeyspaceevent | f::hash);
    EXPECT_EQ(from_letters("KEAq"), std::nullopt);
    EXPECT_EQ(from_letters("a"), std::nullopt);  // `a` exists only in a fork, not upstream
    EXPECT_EQ(from_letters("k"), std::nullopt);  // case matters
    EXPECT_EQ(from_letters(std::string("K\0", 2)), std::nullopt);
    EXPECT_EQ(from_letters(" K"), std::nullopt);
    EXPECT_EQ(flag_of_letter('?'), f::none);
}

TEST(notify_flags, letters_are_written_in_a_canonical_order) {
    EXPECT_EQ(to_letters(f::none), "");
    EXPECT_EQ(to_letters(*from_letters("KEA")), "AKE");
    EXPECT_EQ(to_letters(*from_letters("g$lshzxetd")), "A");
    EXPECT_EQ(to_letters(*from_letters("EKg")), "gKE");
    EXPECT_EQ(to_letters(*from_letters("VITSmEKrconhx$")), "$hxnocrKEmSTIV");
    // Unlike the server's keyspaceEventsFlagsToString, n o c r survive next to A.
    EXPECT_EQ(to_letters(*from_letters("KEAn")), "AnKE");
    EXPECT_EQ(to_letters(*from_letters("crAo")), "Aocr");
    // Bits without a letter are ignored.
    EXPECT_EQ(to_letters(static_cast<notify_flags>(1u << 12 | 1u << 30)), "");
}

TEST(notify_flags, round_trip_for_every_pair_and_random_sets) {
    std::vector<notify_flags> singles;
    for (std::uint32_t bit = 0; bit < 32; ++bit) {
        const auto flag = static_cast<notify_flags>(1u << bit);
        if (has_any(every_notify_flag, flag)) singles.push_back(flag);
    }
    ASSERT_EQ(singles.size(), 21u);
    for (const notify_flags a : singles) {
        for (const notify_flags b : singles) {
            const notify_flags set = a | b;
            ASSERT_EQ(from_letters(to_letters(set)), set) << to_letters(set);
        }
    }
    std::mt19937 rng(3);
    for (int round = 0; round < 20000; ++round) {
        const notify_flags set = static_cast<notify_flags>(rng()) & every_notify_flag;
        const std::string letters = to_letters(set);
        ASSERT_EQ(from_letters(letters), set) << letters;
        // And letters -> flags -> letters is canonical: writing it again changes nothing.
        ASSERT_EQ(to_letters(*from_letters(letters)), letters);
    }
}

TEST(notify_flags, operators) {
    EXPECT_EQ(~f::none, every_notify_flag);
    EXPECT_EQ(~every_notify_flag, f::none);
    EXPECT_EQ(~f::all & f::hash, f::none);
    EXPECT_EQ((f::keyspace | f::hash) ^ f::hash, f::keyspace);
    notify_flags x = f::keyspace;
    x |= f::hash;
    x &= f::hash;
    EXPECT_EQ(x, f::hash);
    EXPECT_TRUE(has_all(f::all, f::hash | f::set));
    EXPECT_FALSE(has_all(f::hash, f::hash | f::set));
    EXPECT_TRUE(has_any(f::hash, f::hash | f::set));
    EXPECT_TRUE(has_all(f::hash, f::none));
    EXPECT_FALSE(has_any(f::hash, f::none));
}

TEST(required_flags, by_kind_and_event) {
    // A subkeyspace channel on hashes needs h and S.
    EXPECT_EQ(required_flags(channel_kind::subkeyspace),
              (flag_requirement{.all_of = f::subkeyspace | f::hash}));
    EXPECT_EQ(required_flags(channel_kind::subkeyspaceevent, event::hset),
              (flag_requirement{.all_of = f::subkeyspaceevent | f::hash}));
    EXPECT_EQ(required_flags(channel_kind::subkeyevent, event::hexpired),
              (flag_requirement{.all_of = f::subkeyevent | f::hash}));
    EXPECT_EQ(required_flags(channel_kind::subkeyspaceitem),
              (flag_requirement{.all_of = f::subkeyspaceitem | f::hash}));
    EXPECT_EQ(required_flags(channel_kind::keyevent, event::keymiss),
              (flag_requirement{.all_of = f::keyevent | f::key_miss}));
    EXPECT_EQ(required_flags(channel_kind::keyevent, event::new_),
              (flag_requirement{.all_of = f::keyevent | f::new_key}));
    EXPECT_EQ(required_flags(channel_kind::keyevent, event::expired),
              (flag_requirement{.all_of = f::keyevent | f::expired}));
    EXPECT_EQ(required_flags(channel_kind::keyspace),
              (flag_requirement{.all_of = f::keyspace, .any_of = every_event_class}));
    EXPECT_EQ(required_flags(channel_kind::keyevent, "my-module-event"),
              (flag_requirement{.all_of = f::keyevent, .any_of = every_event_class}));
}

TEST(required_flags, satisfied_by_a_configuration) {
    const auto cfg = [](const char* letters) { return *from_letters(letters); };
    const flag_requirement keyspace_any = required_flags(channel_kind::keyspace);
    EXPECT_TRUE(keyspace_any.satisfied_by(cfg("KEA")));
    EXPECT_TRUE(keyspace_any.satisfied_by(cfg("Kn")));
    EXPECT_FALSE(keyspace_any.satisfied_by(cfg("K")));
    EXPECT_FALSE(keyspace_any.satisfied_by(cfg("EA")));

    const flag_requirement sub = required_flags(channel_kind::subkeyspace);
    EXPECT_FALSE(sub.satisfied_by(cfg("KEA")));  // the commonest mistake
    EXPECT_FALSE(sub.satisfied_by(cfg("ST")));
    EXPECT_TRUE(sub.satisfied_by(cfg("Sh")));
    EXPECT_TRUE(sub.satisfied_by(cfg("KEASTIV")));

    EXPECT_FALSE(required_flags(channel_kind::keyevent, event::keymiss).satisfied_by(cfg("KEA")));
    EXPECT_TRUE(required_flags(channel_kind::keyevent, event::keymiss).satisfied_by(cfg("Em")));
    EXPECT_TRUE(flag_requirement{}.satisfied_by(f::none));
}

TEST(required_flags, of_built_channels) {
    EXPECT_EQ(required_flags(channel::keyevent(event::set)),
              (flag_requirement{.all_of = f::keyevent | f::string}));
    EXPECT_EQ(required_flags(channel::all_keyevents()),
              (flag_requirement{.all_of = f::keyevent, .any_of = every_event_class}));
    EXPECT_EQ(required_flags(channel::keyevent("h*")),
              (flag_requirement{.all_of = f::keyevent, .any_of = every_event_class}));
    EXPECT_EQ(required_flags(channel::subkeyspaceevent(event::hdel, "user:*")),
              (flag_requirement{.all_of = f::subkeyspaceevent | f::hash}));
    EXPECT_EQ(required_flags(channel::subkeyspace("h")),
              (flag_requirement{.all_of = f::subkeyspace | f::hash}));
    EXPECT_EQ(required_flags(channel::keyspace("user:*")), required_flags(channel_kind::keyspace));
}

TEST(event, constants_are_distinct_and_classified) {
    std::set<std::string_view> names;
    for (const event::info& e : event::known) {
        SCOPED_TRACE(e.name);
        EXPECT_TRUE(names.insert(e.name).second) << "duplicate";
        EXPECT_FALSE(e.name.empty());
        // No '|': the subkeyspace grammar relies on it (the server skips such events).
        EXPECT_EQ(e.name.find('|'), std::string_view::npos);
        const notify_flags cls = flag_of_letter(e.class_letter);
        EXPECT_EQ(std::popcount(static_cast<std::uint32_t>(cls)), 1) << e.class_letter;
        EXPECT_TRUE(has_all(every_event_class, cls));
        EXPECT_EQ(event_class(e.name), cls);
    }
    EXPECT_EQ(event::new_, "new");
    EXPECT_EQ(event::xgroup_create, "xgroup-create");
    EXPECT_EQ(event::keymiss, "keymiss");
    EXPECT_EQ(event_class(event::hexpired), f::hash);
    EXPECT_EQ(event_class(event::type_changed), f::type_changed);
    EXPECT_EQ(event_class(event::overwritten), f::overwritten);
    EXPECT_EQ(event_class("SET"), f::none);
    EXPECT_EQ(event_class(""), f::none);
}

TEST(event, covers_the_reference_list) {
    // redis-py EventType (keyspace_notifications.py lines 121-220).
    const char* reference[] = {
        "set",
        "setex",
        "setnx",
        "setrange",
        "incr",
        "incrby",
        "incrbyfloat",
        "decr",
        "decrby",
        "append",
        "del",
        "unlink",
        "rename",
        "rename_from",
        "rename_to",
        "copy_to",
        "move",
        "restore",
        "expire",
        "expireat",
        "pexpire",
        "pexpireat",
        "expired",
        "persist",
        "evicted",
        "lpush",
        "rpush",
        "lpop",
        "rpop",
        "linsert",
        "lset",
        "ltrim",
        "lmove",
        "blpop",
        "brpop",
        "blmove",
        "sadd",
        "srem",
        "spop",
        "smove",
        "sinterstore",
        "sunionstore",
        "sdiffstore",
        "zadd",
        "zincrby",
        "zrem",
        "zremrangebyrank",
        "zremrangebyscore",
        "zremrangebylex",
        "zpopmin",
        "zpopmax",
        "bzpopmin",
        "bzpopmax",
        "zinterstore",
        "zunionstore",
        "zdiffstore",
        "zrangestore",
        "hset",
        "hsetnx",
        "hdel",
        "hincrby",
        "hincrbyfloat",
        "xadd",
        "xtrim",
        "xdel",
        "xgroup-create",
        "xgroup-createconsumer",
        "xgroup-delconsumer",
        "xgroup-destroy",
        "xgroup-setid",
        "xsetid",
        "xclaim",
        "xautoclaim",
        "xreadgroup",
        "new",
        "sortstore",
        "getex",
        "getdel",
        "setifgt",
        "setiflt",
        "setifeq",
        "setifne",
    };
    for (const char* name : reference) {
        EXPECT_NE(event_class(name), f::none) << name;
    }
    // And what the server publishes beyond it.
    for (const std::string_view name :
         {event::hexpire, event::hexpired, event::hpersist, event::keymiss, event::overwritten,
          event::type_changed, event::move_from, event::move_to, event::lrem, event::zincr}) {
        EXPECT_NE(event_class(name), f::none) << name;
    }
}

}  // namespace
}  // namespace ksn
