// libFuzzer target for the RESP parser and the pub/sub fast path.
//
// For three parser configurations (default limits, skipped attributes, small limits) the
// input is parsed whole and at split points derived from the input (and byte by byte
// when it is short); the node logs, error codes and error offsets must be identical, every
// view must lie inside the bytes given, and no call may consume past them (parse_driver
// reports those as "BUG" lines). decode_pubsub must agree with the generic parser whenever
// it takes a frame, answer need_more on every strict prefix of that frame, and never say
// need_more where the generic parser has already found an error.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/parser.hpp"
#include "protocol/pubsub.hpp"
#include "tests/unit/protocol/parse_driver.hpp"

namespace {

using namespace ksn::protocol;

[[noreturn]] void fail(const char* what, const std::vector<std::string>& a,
                       const std::vector<std::string>& b) {
    std::fprintf(stderr, "fuzz_parser: %s\n--- first\n", what);
    for (const auto& l : a)
        std::fprintf(stderr, "%s\n", l.c_str());
    std::fprintf(stderr, "--- second\n");
    for (const auto& l : b)
        std::fprintf(stderr, "%s\n", l.c_str());
    std::abort();
}

void check_log(const std::vector<std::string>& log) {
    for (const auto& l : log) {
        if (l.starts_with("BUG")) fail(l.c_str(), log, {});
    }
}

std::uint64_t hash(std::string_view s) noexcept {
    std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
    for (const char c : s)
        h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    return h;
}

// Up to 16 ascending cut points inside the input, from a generator seeded by its bytes.
std::vector<std::size_t> cuts_for(std::string_view input, std::uint64_t salt) {
    std::vector<std::size_t> cuts;
    if (input.size() < 2) return cuts;
    std::uint64_t x = hash(input) ^ salt;
    const auto next = [&x] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x;
    };
    const std::size_t count = 1 + next() % 16;
    for (std::size_t i = 0; i < count; ++i)
        cuts.push_back(1 + next() % (input.size() - 1));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    return cuts;
}

void check_parser(std::string_view input, const limits& lim, std::uint64_t salt) {
    const auto whole = test::run_parser(input, lim);
    check_log(whole);
    const auto split = test::run_parser(input, lim, cuts_for(input, salt));
    if (split != whole) fail("split and whole parses differ", whole, split);
    if (input.size() <= 512) {
        const auto bytewise = test::run_parser_bytewise(input, lim);
        if (bytewise != whole) fail("bytewise and whole parses differ", whole, bytewise);
    }
}

// An exactly sized heap copy, so that AddressSanitizer sees a read past its end.
struct exact_copy {
    explicit exact_copy(std::string_view s) : bytes(std::make_unique<char[]>(s.size() + 1)) {
        std::copy(s.begin(), s.end(), bytes.get());
        view = {bytes.get(), s.size()};
    }
    std::unique_ptr<char[]> bytes;
    std::string_view view;
};

void check_pubsub(std::string_view input) {
    pubsub_frame f;
    const pubsub_result r = decode_pubsub(input, f);
    if (r.status == pubsub_status::need_more) {
        // The generic parser must not have found an error in these bytes.
        const auto log = test::run_parser(input, limits{});
        if (!log.empty() && log.back().starts_with("error ")) {
            fail("decode_pubsub needs more where the parser failed", log, {});
        }
        return;
    }
    if (r.status != pubsub_status::complete) {
        if (r.consumed != 0) fail("not_pubsub consumed bytes", {}, {});
        return;
    }
    if (r.consumed == 0 || r.consumed > input.size()) fail("bad consumed count", {}, {});
    for (const auto v : {f.pattern, f.channel, f.payload}) {
        if (!test::inside(v, input)) fail("decode_pubsub view outside the input", {}, {});
    }
    const std::string why = test::pubsub_disagreement(input, f, r.consumed);
    if (!why.empty()) fail(("decode_pubsub and the parser disagree: " + why).c_str(), {}, {});
    if (r.consumed <= 2048) {
        for (std::size_t k = 0; k < r.consumed; ++k) {
            const exact_copy prefix(input.substr(0, k));
            pubsub_frame g;
            if (decode_pubsub(prefix.view, g).status != pubsub_status::need_more) {
                fail("a strict prefix of a frame is not need_more", {}, {});
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    check_parser(input, limits{}, 1);

    limits skip;
    skip.skip_attributes = true;
    check_parser(input, skip, 2);

    limits small;
    small.max_bulk_length = 16;
    small.max_aggregate_size = 4;
    small.max_depth = 3;
    small.max_line_length = 8;
    check_parser(input, small, 3);

    check_pubsub(input);
    return 0;
}
