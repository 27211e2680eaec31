// `ksn bench`'s load description: the command mix (parsing, picking, the event classes it
// needs) and the typed key space (split, names, ids, errors).
#include "tools/bench_load.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace ksn::tools::bench {
namespace {

// The message of the std::invalid_argument that parse() throws, or "" when it does not.
std::string mix_error(std::string_view text) {
    try {
        (void)command_mix::parse(text);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

std::string key_space_error(std::uint64_t keys, const command_mix& mix, std::uint32_t writers) {
    try {
        key_space ks("p:", keys, mix, writers);
    } catch (const std::invalid_argument& e) {
        return e.what();
    }
    return "";
}

// --- op ---------------------------------------------------------------------------------

TEST(BenchOp, NamesAreTheEvents) {
    EXPECT_EQ(name(op::set), "set");
    EXPECT_EQ(name(op::del), "del");
    EXPECT_EQ(name(op::expire), "expire");
    EXPECT_EQ(name(op::hset), "hset");
    EXPECT_EQ(name(op::lpush), "lpush");
}

TEST(BenchOp, OpOfEventIsTheInverseOfName) {
    for (const op o : all_ops) {
        const auto back = op_of_event(name(o));
        ASSERT_TRUE(back.has_value()) << name(o);
        EXPECT_EQ(*back, o);
    }
}

TEST(BenchOp, OpOfEventRejectsOtherEvents) {
    EXPECT_FALSE(op_of_event("expired").has_value());  // the x class, not EXPIRE
    EXPECT_FALSE(op_of_event("new").has_value());
    EXPECT_FALSE(op_of_event("SET").has_value());  // events are lower case
    EXPECT_FALSE(op_of_event("se").has_value());
    EXPECT_FALSE(op_of_event("sets").has_value());
    EXPECT_FALSE(op_of_event("").has_value());
}

// --- command_mix::parse -----------------------------------------------------------------

TEST(BenchCommandMix, ParsesEveryCommand) {
    const auto m = command_mix::parse("set=50,del=10,expire=5,hset=20,lpush=15");
    EXPECT_EQ(m.of(op::set), 50u);
    EXPECT_EQ(m.of(op::del), 10u);
    EXPECT_EQ(m.of(op::expire), 5u);
    EXPECT_EQ(m.of(op::hset), 20u);
    EXPECT_EQ(m.of(op::lpush), 15u);
    EXPECT_EQ(m.total(), 100u);
}

TEST(BenchCommandMix, LeftOutCommandsWeighZero) {
    const auto m = command_mix::parse("lpush=3");
    EXPECT_EQ(m.of(op::lpush), 3u);
    EXPECT_EQ(m.of(op::set), 0u);
    EXPECT_EQ(m.of(op::del), 0u);
    EXPECT_EQ(m.of(op::expire), 0u);
    EXPECT_EQ(m.of(op::hset), 0u);
    EXPECT_EQ(m.total(), 3u);
}

TEST(BenchCommandMix, AcceptsZeroAndTheMaximumWeight) {
    const auto m =
        command_mix::parse("set=1000000,del=0,hset=1000000,lpush=1000000,expire=1000000");
    EXPECT_EQ(m.of(op::set), 1000000u);
    EXPECT_EQ(m.of(op::del), 0u);
    EXPECT_EQ(m.total(), 4000000u);
}

TEST(BenchCommandMix, DefaultMixParses) {
    const auto m = command_mix::parse(default_mix);
    EXPECT_EQ(m.of(op::set), 50u);
    EXPECT_EQ(m.of(op::hset), 20u);
    EXPECT_EQ(m.of(op::lpush), 10u);
    EXPECT_EQ(m.of(op::expire), 10u);
    EXPECT_EQ(m.of(op::del), 10u);
    EXPECT_EQ(m.total(), 100u);
}

TEST(BenchCommandMix, ToStringIsInOpOrderAndLeavesOutZeroWeights) {
    EXPECT_EQ(command_mix::parse("lpush=3,set=2,del=0").to_string(), "set=2,lpush=3");
    EXPECT_EQ(command_mix::parse(default_mix).to_string(),
              "set=50,del=10,expire=10,hset=20,lpush=10");
    EXPECT_EQ(command_mix::parse("hset=7").to_string(), "hset=7");
}

TEST(BenchCommandMix, ToStringParsesBackToTheSameMix) {
    for (const char* text : {"set=1", "lpush=3,set=2,del=0", "expire=4,hset=9,del=1,lpush=2,set=8",
                             "set=1000000,del=999999"}) {
        const auto m = command_mix::parse(text);
        const auto again = command_mix::parse(m.to_string());
        EXPECT_EQ(again.weight, m.weight) << text;
    }
}

TEST(BenchCommandMix, PickFollowsTheWeightsInOpOrder) {
    const auto m = command_mix::parse("set=2,del=1,expire=0,hset=3,lpush=1");
    ASSERT_EQ(m.total(), 7u);
    EXPECT_EQ(m.pick(0), op::set);
    EXPECT_EQ(m.pick(1), op::set);
    EXPECT_EQ(m.pick(2), op::del);
    EXPECT_EQ(m.pick(3), op::hset);
    EXPECT_EQ(m.pick(4), op::hset);
    EXPECT_EQ(m.pick(5), op::hset);
    EXPECT_EQ(m.pick(6), op::lpush);
}

TEST(BenchCommandMix, PickOverTheWholeRangeCountsEachOpByItsWeight) {
    const auto m = command_mix::parse(default_mix);
    std::array<std::uint64_t, op_count> seen{};
    for (std::uint64_t r = 0; r < m.total(); ++r)
        ++seen[static_cast<std::size_t>(m.pick(r))];
    for (const op o : all_ops)
        EXPECT_EQ(seen[static_cast<std::size_t>(o)], m.of(o)) << name(o);
}

TEST(BenchCommandMix, PickNeverReturnsAnOpOfWeightZero) {
    const auto m = command_mix::parse("del=0,expire=5,lpush=0,set=0,hset=1");
    for (std::uint64_t r = 0; r < m.total(); ++r) {
        const op o = m.pick(r);
        EXPECT_GT(m.of(o), 0u) << r;
    }
    EXPECT_EQ(m.pick(0), op::expire);
    EXPECT_EQ(m.pick(4), op::expire);
    EXPECT_EQ(m.pick(5), op::hset);
}

TEST(BenchCommandMix, EventClassesAreTheClassesOfTheOpsInTheMix) {
    EXPECT_EQ(command_mix::parse("set=1").event_classes(), notify_flags::string);
    EXPECT_EQ(command_mix::parse("hset=1").event_classes(), notify_flags::hash);
    EXPECT_EQ(command_mix::parse("lpush=1").event_classes(), notify_flags::list);
    EXPECT_EQ(command_mix::parse("set=1,del=1").event_classes(),
              notify_flags::string | notify_flags::generic);
    EXPECT_EQ(command_mix::parse("hset=1,expire=1").event_classes(),
              notify_flags::hash | notify_flags::generic);
    EXPECT_EQ(
        command_mix::parse(default_mix).event_classes(),
        notify_flags::string | notify_flags::generic | notify_flags::hash | notify_flags::list);
    // A weight of 0 publishes nothing.
    EXPECT_EQ(command_mix::parse("set=1,del=0,expire=0,hset=0").event_classes(),
              notify_flags::string);
}

// --- command_mix::parse errors ----------------------------------------------------------

TEST(BenchCommandMixErrors, UnknownCommand) {
    EXPECT_EQ(mix_error("set=1,get=2"),
              "--mix set=1,get=2: unknown command \"get\" (known: set, del, expire, hset, lpush)");
    EXPECT_EQ(mix_error("SET=1"),
              "--mix SET=1: unknown command \"SET\" (known: set, del, expire, hset, lpush)");
    EXPECT_EQ(
        mix_error("set=1, del=1"),
        "--mix set=1, del=1: unknown command \" del\" (known: set, del, expire, hset, lpush)");
    EXPECT_EQ(mix_error("=1"),
              "--mix =1: unknown command \"\" (known: set, del, expire, hset, lpush)");
}

TEST(BenchCommandMixErrors, MissingEquals) {
    EXPECT_EQ(mix_error("set=1,del"), "--mix set=1,del: expected NAME=WEIGHT, got \"del\"");
    EXPECT_EQ(mix_error("set"), "--mix set: expected NAME=WEIGHT, got \"set\"");
    EXPECT_EQ(mix_error(""), "--mix : expected NAME=WEIGHT, got \"\"");
    EXPECT_EQ(mix_error("set=1,"), "--mix set=1,: expected NAME=WEIGHT, got \"\"");
    EXPECT_EQ(mix_error("set=1,,del=1"), "--mix set=1,,del=1: expected NAME=WEIGHT, got \"\"");
}

TEST(BenchCommandMixErrors, BadWeight) {
    for (const char* w : {"", "abc", "-1", "+1", "1x", " 1", "1 ", "1.5", "1000001", "4294967296",
                          "99999999999999999999"}) {
        const std::string text = std::string("del=1,set=") + w;
        EXPECT_EQ(mix_error(text),
                  "--mix " + text + ": the weight of set must be a whole number from 0 to 1000000")
            << text;
    }
    EXPECT_EQ(mix_error("set=1,hset==2"),
              "--mix set=1,hset==2: the weight of hset must be a whole number from 0 to 1000000");
}

TEST(BenchCommandMixErrors, Duplicate) {
    EXPECT_EQ(mix_error("set=1,set=2"), "--mix set=1,set=2: set is given twice");
    EXPECT_EQ(mix_error("del=0,set=1,del=0"), "--mix del=0,set=1,del=0: del is given twice");
}

TEST(BenchCommandMixErrors, AllZero) {
    EXPECT_EQ(mix_error("set=0"), "--mix set=0: every weight is 0");
    EXPECT_EQ(mix_error("set=0,del=0,expire=0,hset=0,lpush=0"),
              "--mix set=0,del=0,expire=0,hset=0,lpush=0: every weight is 0");
}

TEST(BenchCommandMixErrors, OnlyDelAndExpire) {
    const std::string why =
        ": del and expire need keys to act on: give set, hset or lpush a weight too";
    EXPECT_EQ(mix_error("del=1"), "--mix del=1" + why);
    EXPECT_EQ(mix_error("expire=3"), "--mix expire=3" + why);
    EXPECT_EQ(mix_error("del=1,expire=2,set=0"), "--mix del=1,expire=2,set=0" + why);
}

// --- key_space ----------------------------------------------------------------------------

TEST(BenchKeySpace, CreatesIsTheTypeEachOpWrites) {
    EXPECT_EQ(key_space::creates(op::set), key_type::string);
    EXPECT_EQ(key_space::creates(op::hset), key_type::hash);
    EXPECT_EQ(key_space::creates(op::lpush), key_type::list);
    EXPECT_FALSE(key_space::creates(op::del).has_value());
    EXPECT_FALSE(key_space::creates(op::expire).has_value());
}

TEST(BenchKeySpace, SplitsTheKeysInProportionToTheCreatingWeights) {
    // del and expire do not count: the split is by set : hset : lpush = 50 : 30 : 20.
    const key_space ks("p:", 100, command_mix::parse("set=50,del=40,hset=30,lpush=20,expire=7"), 2);
    EXPECT_EQ(ks.prefix(), "p:");
    EXPECT_EQ(ks.size(key_type::string), 50u);
    EXPECT_EQ(ks.size(key_type::hash), 30u);
    EXPECT_EQ(ks.size(key_type::list), 20u);
    EXPECT_EQ(ks.size(), 100u);
    EXPECT_EQ(ks.id(key_type::string, 0), 0u);
    EXPECT_EQ(ks.id(key_type::string, 49), 49u);
    EXPECT_EQ(ks.id(key_type::hash, 0), 50u);
    EXPECT_EQ(ks.id(key_type::list, 19), 99u);
}

TEST(BenchKeySpace, DefaultMixSplit) {
    // set=50, hset=20, lpush=10: 5/8, 2/8, 1/8 of the keys.
    const key_space ks("bench:", 1000, command_mix::parse(default_mix), 4);
    EXPECT_EQ(ks.size(key_type::string), 625u);
    EXPECT_EQ(ks.size(key_type::hash), 250u);
    EXPECT_EQ(ks.size(key_type::list), 125u);
    EXPECT_EQ(ks.size(), 1000u);
}

TEST(BenchKeySpace, EachTypeGetsAtLeastOneKeyPerWriter) {
    // 10 * 98 / 100 = 9 strings; hashes and lists round to 0 and are raised to 3.
    const key_space ks("p:", 10, command_mix::parse("set=98,hset=1,lpush=1"), 3);
    EXPECT_EQ(ks.size(key_type::string), 9u);
    EXPECT_EQ(ks.size(key_type::hash), 3u);
    EXPECT_EQ(ks.size(key_type::list), 3u);
    EXPECT_EQ(ks.size(), 15u);
}

TEST(BenchKeySpace, TypesTheMixDoesNotCreateGetNoKeys) {
    const key_space only_strings("p:", 10, command_mix::parse("set=1,del=1,expire=1"), 2);
    EXPECT_EQ(only_strings.size(key_type::string), 10u);
    EXPECT_EQ(only_strings.size(key_type::hash), 0u);
    EXPECT_EQ(only_strings.size(key_type::list), 0u);
    EXPECT_EQ(only_strings.size(), 10u);
    for (std::uint32_t id = 0; id < only_strings.size(); ++id)
        EXPECT_EQ(only_strings.type_of(id), key_type::string) << id;
    EXPECT_FALSE(only_strings.id_of_suffix("h:0").has_value());
    EXPECT_FALSE(only_strings.id_of_suffix("l:0").has_value());

    // No hashes: the lists follow the strings directly.
    const key_space no_hashes("p:", 10, command_mix::parse("set=1,lpush=1"), 1);
    EXPECT_EQ(no_hashes.size(key_type::string), 5u);
    EXPECT_EQ(no_hashes.size(key_type::hash), 0u);
    EXPECT_EQ(no_hashes.size(key_type::list), 5u);
    EXPECT_EQ(no_hashes.type_of(4), key_type::string);
    EXPECT_EQ(no_hashes.type_of(5), key_type::list);
    EXPECT_EQ(no_hashes.name(4), "p:s:4");
    EXPECT_EQ(no_hashes.name(5), "p:l:0");
    EXPECT_EQ(no_hashes.name(9), "p:l:4");
    EXPECT_FALSE(no_hashes.id_of_suffix("h:0").has_value());
    EXPECT_EQ(no_hashes.id_of_suffix("l:0"), 5u);

    // Only lists.
    const key_space only_lists("q", 4, command_mix::parse("lpush=1,del=5"), 2);
    EXPECT_EQ(only_lists.size(), 4u);
    EXPECT_EQ(only_lists.type_of(0), key_type::list);
    EXPECT_EQ(only_lists.name(0), "ql:0");
    EXPECT_EQ(only_lists.name(3), "ql:3");
    EXPECT_EQ(only_lists.id(key_type::list, 2), 2u);
}

TEST(BenchKeySpace, NamesAreTypedWithAnIndexPerType) {
    const key_space ks("bench:", 30, command_mix::parse("set=1,hset=1,lpush=1"), 1);
    EXPECT_EQ(ks.name(0), "bench:s:0");
    EXPECT_EQ(ks.name(9), "bench:s:9");
    EXPECT_EQ(ks.name(10), "bench:h:0");
    EXPECT_EQ(ks.name(19), "bench:h:9");
    EXPECT_EQ(ks.name(20), "bench:l:0");
    EXPECT_EQ(ks.name(29), "bench:l:9");
    EXPECT_EQ(ks.type_of(0), key_type::string);
    EXPECT_EQ(ks.type_of(9), key_type::string);
    EXPECT_EQ(ks.type_of(10), key_type::hash);
    EXPECT_EQ(ks.type_of(19), key_type::hash);
    EXPECT_EQ(ks.type_of(20), key_type::list);
    EXPECT_EQ(ks.type_of(29), key_type::list);
}

TEST(BenchKeySpace, AppendSuffixAppendsWithoutThePrefix) {
    const key_space ks("bench:", 300, command_mix::parse("set=1,hset=1,lpush=1"), 1);
    std::string out = "x";
    ks.append_suffix(out, 0);
    EXPECT_EQ(out, "xs:0");
    ks.append_suffix(out, 123);
    EXPECT_EQ(out, "xs:0h:23");
    out.clear();
    ks.append_suffix(out, 299);
    EXPECT_EQ(out, "l:99");
}

TEST(BenchKeySpace, EmptyPrefix) {
    const key_space ks("", 4, command_mix::parse("set=1,hset=1"), 2);
    EXPECT_EQ(ks.name(0), "s:0");
    EXPECT_EQ(ks.name(3), "h:1");
}

TEST(BenchKeySpace, IdOfSuffixIsTheInverseOfAppendSuffix) {
    const key_space ks("p:", 1234, command_mix::parse("set=5,hset=3,lpush=2"), 7);
    ASSERT_GT(ks.size(), 1200u);
    for (std::uint32_t id = 0; id < ks.size(); ++id) {
        std::string suffix;
        ks.append_suffix(suffix, id);
        const auto back = ks.id_of_suffix(suffix);
        ASSERT_TRUE(back.has_value()) << suffix;
        EXPECT_EQ(*back, id) << suffix;
        EXPECT_EQ(ks.name(id), "p:" + suffix);
    }
}

TEST(BenchKeySpace, IdOfSuffixRejectsWhatIsNotOneOfItsKeys) {
    const key_space ks("p:", 30, command_mix::parse("set=1,hset=1,lpush=1"), 1);
    ASSERT_EQ(ks.size(key_type::string), 10u);
    EXPECT_EQ(ks.id_of_suffix("s:9"), 9u);
    for (const char* bad :
         {"",     "s",    "s:",   "s9",    "x:1",           "S:1",          "s:10",
          "h:10", "l:10", "s:01", "s:00",  "s:-1",          "s:+1",         "s:1a",
          "s: 1", "s:1 ", "s::1", "p:s:1", "s:99999999999", "s:4294967296", "ss:1"}) {
        EXPECT_FALSE(ks.id_of_suffix(bad).has_value()) << '"' << bad << '"';
    }
}

// --- key_space errors ---------------------------------------------------------------------

TEST(BenchKeySpaceErrors, TooFewKeys) {
    const auto two_types = command_mix::parse("set=1,hset=1,del=1");
    EXPECT_EQ(key_space_error(3, two_types, 2),
              "--keys 3 is too small: each of the 2 writers needs a key of each of the 2 key "
              "types in the mix (at least 4 keys)");
    EXPECT_EQ(key_space_error(0, command_mix::parse("set=1"), 1),
              "--keys 0 is too small: each of the 1 writers needs a key of each of the 1 key "
              "types in the mix (at least 1 keys)");
    EXPECT_EQ(key_space_error(23, command_mix::parse(default_mix), 8),
              "--keys 23 is too small: each of the 8 writers needs a key of each of the 3 key "
              "types in the mix (at least 24 keys)");
}

TEST(BenchKeySpaceErrors, ExactlyOneKeyPerWriterAndTypeIsEnough) {
    const key_space ks("p:", 4, command_mix::parse("set=1,hset=1,del=1"), 2);
    EXPECT_EQ(ks.size(key_type::string), 2u);
    EXPECT_EQ(ks.size(key_type::hash), 2u);
    EXPECT_EQ(ks.size(key_type::list), 0u);
    EXPECT_EQ(ks.size(), 4u);
}

TEST(BenchKeySpaceErrors, NoWriters) {
    EXPECT_EQ(key_space_error(10, command_mix::parse("set=1"), 0), "--writers must be at least 1");
}

TEST(BenchKeySpaceErrors, TooManyKeys) {
    EXPECT_EQ(key_space_error(100'000'001, command_mix::parse("set=1"), 1),
              "--keys must be at most 100000000");
    EXPECT_EQ(key_space_error(100'000'000, command_mix::parse("set=1"), 1), "");
}

TEST(BenchKeySpaceErrors, MixThatCreatesNoKeys) {
    // parse() refuses such a mix; a hand-built one is refused here.
    command_mix m;
    m.weight[static_cast<std::size_t>(op::del)] = 1;
    m.weight[static_cast<std::size_t>(op::expire)] = 1;
    EXPECT_EQ(key_space_error(10, m, 1), "the command mix creates no keys");
}

}  // namespace
}  // namespace ksn::tools::bench
