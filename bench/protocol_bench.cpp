// Parse throughput of the RESP protocol layer: the generic pull parser, the pub/sub fast
// path, and side by side the hiredis reader (Debian's libhiredis) on the same bytes.
//
// Corpora are generated in-process with a fixed seed: RESP2 `message`/`pmessage`
// notification frames and the same as RESP3 pushes (keys of 8-64 bytes on realistic
// `__keyspace@0__:`/`__keyevent@0__:` channels), a mixed corpus of general replies (bulk
// strings of 16 B-4 KiB, arrays, maps, integers, doubles) in a RESP2 and a RESP3 flavour,
// node-dense replies (bulks of 8-64 B, mostly aggregates), and a corpus of large bulk
// strings; each of the first three also as 64 MiB (`_64MiB`: out of cache). hiredis runs
// as a client uses it (reply objects built and freed) and parse-only (reply functions that
// build nothing). Each is fed in 16 KiB chunks, like socket reads, into
// the connection's read buffer (net::read_buffer), which keeps the unconsumed tail and
// moves it only when the block is full, never after every message.
//
// Reported per benchmark: bytes/s, messages/s (items_per_second), time per message and, for
// ksn, heap allocations per message (bench/alloc_counter.hpp counts operator new; hiredis
// allocates with malloc, which it does not see).
#include <hiredis/hiredis.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

// GCC 12 inlines the counting operator new/delete (malloc/free) into the static
// initializers of BENCHMARK() and then reports the pair as mismatched: a false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
#include "alloc_counter.hpp"
#include "net/read_buffer.hpp"
#include "protocol/parser.hpp"
#include "protocol/pubsub.hpp"

namespace {

using namespace ksn::protocol;

constexpr std::size_t read_size = 16 * 1024;

struct corpus {
    std::string bytes;
    std::size_t messages = 0;
};

// Appends the parts to `out` (operator+ chains trip a GCC 12 -Wrestrict false positive).
void cat(std::string& out, std::initializer_list<std::string_view> parts) {
    for (const auto part : parts)
        out += part;
}

std::string bulk(std::string_view s) {
    std::string out;
    cat(out, {"$", std::to_string(s.size()), "\r\n", s, "\r\n"});
    return out;
}

std::string header(char type, std::size_t n) {
    std::string out;
    cat(out, {std::string_view(&type, 1), std::to_string(n), "\r\n"});
    return out;
}

std::string random_text(std::mt19937_64& rng, std::size_t n) {
    static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789:_-.";
    std::string s(n, ' ');
    for (auto& c : s)
        c = alphabet[rng() % (sizeof alphabet - 1)];
    return s;
}

std::string random_key(std::mt19937_64& rng) {
    static constexpr const char* prefixes[] = {
        "user:", "session:", "cart:", "cache:page:", "rate:ip:", "lock:order:"};
    std::string key = prefixes[rng() % std::size(prefixes)];
    const std::size_t length = 8 + rng() % 57;  // 8-64 bytes
    if (key.size() < length) key += random_text(rng, length - key.size());
    key.resize(length);
    return key;
}

constexpr std::size_t MiB = 1024 * 1024;

// Notification frames (2 MiB in cache, 64 MiB out of it): keyspace `message`s from a
// SUBSCRIBE to one key's channel and `pmessage`s from a PSUBSCRIBE to keyspace and
// keyevent patterns.
corpus make_notifications(bool resp3, std::size_t size) {
    static constexpr const char* events[] = {"set",         "del",   "expire",  "expired",
                                             "hset",        "lpush", "incrby",  "evicted",
                                             "rename_from", "sadd",  "zincrby", "xadd"};
    std::mt19937_64 rng(resp3 ? 3 : 2);
    corpus c;
    const std::string head3 = header(resp3 ? '>' : '*', 3);
    const std::string head4 = header(resp3 ? '>' : '*', 4);
    std::string& out = c.bytes;
    while (out.size() < size) {
        const std::string key = random_key(rng);
        const std::string event = events[rng() % std::size(events)];
        const std::string keyspace = bulk(std::string("__keyspace@0__:").append(key));
        const std::string keyevent = bulk(std::string("__keyevent@0__:").append(event));
        switch (rng() % 4) {
            case 0:  // SUBSCRIBE __keyspace@0__:<key>
                cat(out, {head3, bulk("message"), keyspace, bulk(event)});
                break;
            case 1:  // PSUBSCRIBE __keyspace@0__:*
                cat(out,
                    {head4, bulk("pmessage"), bulk("__keyspace@0__:*"), keyspace, bulk(event)});
                break;
            case 2:  // PSUBSCRIBE __keyevent@*__:*
                cat(out, {head4, bulk("pmessage"), bulk("__keyevent@*__:*"), keyevent, bulk(key)});
                break;
            default:  // SUBSCRIBE __keyevent@0__:<event>
                cat(out, {head3, bulk("message"), keyevent, bulk(key)});
                break;
        }
        ++c.messages;
    }
    return c;
}

// General replies (4 MiB in cache, 64 MiB out of it). RESP2 writes maps as flat arrays and
// doubles as bulk strings, as a RESP2 server does; RESP3 uses `%` and `,`.
corpus make_mixed(bool resp3, std::size_t size) {
    std::mt19937_64 rng(7);
    const auto bulk_length = [&rng] {
        // 16 B to 4 KiB, most of them short: log-uniform.
        return static_cast<std::size_t>(16.0 * std::pow(256.0, (rng() % 1000) / 999.0));
    };
    const auto a_double = [&](std::string& out) {
        const std::string text = std::to_string(static_cast<double>(rng() % 1000000) / 1000.0);
        if (resp3) {
            cat(out, {",", text, "\r\n"});
        } else {
            out += bulk(text);
        }
    };
    corpus c;
    while (c.bytes.size() < size) {
        std::string& out = c.bytes;
        const auto kind = rng() % 20;
        if (kind < 6) {  // GET
            out += bulk(random_text(rng, bulk_length()));
        } else if (kind < 9) {  // INCR, DEL, ...
            cat(out, {":", std::to_string(rng() % 100000000), "\r\n"});
        } else if (kind < 11) {  // SET
            out += "+OK\r\n";
        } else if (kind < 14) {  // MGET / LRANGE
            const std::size_t n = 1 + rng() % 10;
            out += header('*', n);
            for (std::size_t i = 0; i < n; ++i)
                out += bulk(random_text(rng, 16 + rng() % 241));
        } else if (kind < 16) {  // HGETALL
            const std::size_t n = 1 + rng() % 8;
            out += resp3 ? header('%', n) : header('*', 2 * n);
            for (std::size_t i = 0; i < n; ++i) {
                out += bulk(random_text(rng, 4 + rng() % 12));
                out += bulk(random_text(rng, 16 + rng() % 113));
            }
        } else if (kind < 18) {  // ZSCORE
            a_double(out);
        } else if (kind < 19) {  // GET of a missing key
            out += resp3 ? "_\r\n" : "$-1\r\n";
        } else {  // SCAN: [cursor, [keys...]] and ZRANGE WITHSCORES
            const std::size_t n = 1 + rng() % 10;
            cat(out, {"*2\r\n", bulk(std::to_string(rng() % 100000)), header('*', n)});
            for (std::size_t i = 0; i < n; ++i)
                out += bulk(random_key(rng));
        }
        ++c.messages;
    }
    return c;
}

// Node-dense replies (4 MiB in cache, 64 MiB out of it): every bulk string 8-64 B, most
// replies aggregates of them (MGET, HGETALL, SMEMBERS, ZRANGE WITHSCORES, XRANGE entries),
// so a node is about 20 bytes: the parser's cost per node, not per byte, decides. RESP3
// uses maps, sets, doubles, booleans and `_`; RESP2 writes the same as arrays, bulk
// strings, integers and `$-1`, as a RESP2 server does.
corpus make_dense(bool resp3, std::size_t size) {
    std::mt19937_64 rng(resp3 ? 13 : 12);
    const auto short_bulk = [&](std::string& out) {
        out += bulk(random_text(rng, 8 + rng() % 57));
    };
    const auto a_double = [&](std::string& out) {
        const std::string text = std::to_string(static_cast<double>(rng() % 1000000) / 1000.0);
        if (resp3) {
            cat(out, {",", text, "\r\n"});
        } else {
            out += bulk(text);
        }
    };
    corpus c;
    std::string& out = c.bytes;
    while (out.size() < size) {
        const auto kind = rng() % 16;
        const std::size_t n = 1 + rng() % 16;
        if (kind < 4) {  // MGET / LRANGE
            out += header('*', n);
            for (std::size_t i = 0; i < n; ++i)
                short_bulk(out);
        } else if (kind < 7) {  // HGETALL
            out += resp3 ? header('%', n) : header('*', 2 * n);
            for (std::size_t i = 0; i < 2 * n; ++i)
                short_bulk(out);
        } else if (kind < 9) {  // SMEMBERS
            out += header(resp3 ? '~' : '*', n);
            for (std::size_t i = 0; i < n; ++i)
                short_bulk(out);
        } else if (kind < 11) {  // ZRANGE WITHSCORES: RESP3 pairs, RESP2 flat
            out += header('*', resp3 ? n : 2 * n);
            for (std::size_t i = 0; i < n; ++i) {
                if (resp3) out += "*2\r\n";
                short_bulk(out);
                a_double(out);
            }
        } else if (kind < 12) {  // XRANGE: [[id, [field, value, ...]], ...]
            const std::size_t entries = 1 + n / 4;
            out += header('*', entries);
            for (std::size_t e = 0; e < entries; ++e) {
                out += "*2\r\n";
                out += bulk(std::to_string(rng() % 10000000000000) + "-0");
                out += header('*', 4);
                for (int i = 0; i < 4; ++i)
                    short_bulk(out);
            }
        } else if (kind < 13) {  // GET
            short_bulk(out);
        } else if (kind < 14) {  // INCR, SISMEMBER (a boolean in RESP3)
            if (resp3 && rng() % 2 == 0) {
                out += rng() % 2 ? "#t\r\n" : "#f\r\n";
            } else {
                cat(out, {":", std::to_string(rng() % 100000000), "\r\n"});
            }
        } else if (kind < 15) {  // GET of a missing key
            out += resp3 ? "_\r\n" : "$-1\r\n";
        } else {  // SET
            out += "+OK\r\n";
        }
        ++c.messages;
    }
    return c;
}

// 16 bulk strings of 128 KiB to 1 MiB (about 8 MiB): large GETs, DUMP payloads.
corpus make_large_bulks() {
    std::mt19937_64 rng(11);
    corpus c;
    for (int i = 0; i < 16; ++i) {
        const std::size_t n = (128 + rng() % 897) * 1024;
        std::string data(n, 'x');
        for (std::size_t j = 0; j < n; j += 61)
            data[j] = static_cast<char>(rng());  // any byte, CR and LF included
        c.bytes += bulk(data);
        ++c.messages;
    }
    return c;
}

// In cache: 2-8 MiB, which stay in L2/L3 from one pass to the next. Out of cache: 64 MiB
// (the `_64MiB` rows), larger than the L2 of any core here, read once per pass the way a
// busy socket's bytes arrive: fresh memory.
enum class corpus_id {
    resp2_notifications,
    resp3_notifications,
    resp2_mixed,
    resp3_mixed,
    resp2_dense,
    resp3_dense,
    large,
    resp2_notifications_64,
    resp3_notifications_64,
    resp2_mixed_64,
    resp3_mixed_64,
    resp2_dense_64,
    resp3_dense_64,
};

corpus make(corpus_id id) {
    switch (id) {
        case corpus_id::resp2_notifications:
            return make_notifications(false, 2 * MiB);
        case corpus_id::resp3_notifications:
            return make_notifications(true, 2 * MiB);
        case corpus_id::resp2_mixed:
            return make_mixed(false, 4 * MiB);
        case corpus_id::resp3_mixed:
            return make_mixed(true, 4 * MiB);
        case corpus_id::resp2_dense:
            return make_dense(false, 4 * MiB);
        case corpus_id::resp3_dense:
            return make_dense(true, 4 * MiB);
        case corpus_id::large:
            return make_large_bulks();
        case corpus_id::resp2_notifications_64:
            return make_notifications(false, 64 * MiB);
        case corpus_id::resp3_notifications_64:
            return make_notifications(true, 64 * MiB);
        case corpus_id::resp2_mixed_64:
            return make_mixed(false, 64 * MiB);
        case corpus_id::resp3_mixed_64:
            return make_mixed(true, 64 * MiB);
        case corpus_id::resp2_dense_64:
            return make_dense(false, 64 * MiB);
        case corpus_id::resp3_dense_64:
            return make_dense(true, 64 * MiB);
    }
    return {};
}

// Built on first use, so a filtered run builds only the corpora it needs (the 64 MiB ones
// take about a second each).
const corpus& get(corpus_id id) {
    static std::map<corpus_id, corpus> built;
    auto it = built.find(id);
    if (it == built.end()) it = built.emplace(id, make(id)).first;
    return it->second;
}

// Sets the figures every benchmark reports; `allocations` < 0: not counted.
void report(benchmark::State& state, const corpus& c, double allocations) {
    const auto total = static_cast<double>(state.iterations() * c.messages);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * c.bytes.size()));
    state.SetItemsProcessed(static_cast<std::int64_t>(total));
    // An inverted rate: seconds per message (printed as e.g. "45n" for 45 ns).
    state.counters["time/msg"] =
        benchmark::Counter(total, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    if (allocations >= 0) state.counters["allocs/msg"] = allocations / total;
    state.counters["msg_bytes"] = static_cast<double>(c.bytes.size()) / c.messages;
}

// Feeds `c` through a read buffer in 16 KiB reads; `parse(readable)` parses what it can,
// returns the bytes it consumed and adds the messages it completed to `messages`.
// Returns false if the parse failed.
template <class Parse>
bool feed(const corpus& c, ksn::net::read_buffer& buffer, std::size_t& messages, Parse&& parse) {
    const char* src = c.bytes.data();
    std::size_t left = c.bytes.size();
    while (left > 0) {
        const std::size_t n = std::min(read_size, left);
        const auto room = buffer.writable(read_size);
        std::memcpy(room.data(), src, n);  // stands for recv()
        buffer.commit(n);
        src += n;
        left -= n;
        const std::size_t consumed = parse(buffer.readable(), messages);
        if (consumed == SIZE_MAX) return false;
        buffer.consume(consumed);
    }
    return buffer.readable().empty();
}

template <class Parse>
void run(benchmark::State& state, const corpus& c, Parse parse) {
    ksn::net::read_buffer buffer;
    std::size_t messages = 0;
    // Passes outside the timing: check that the whole corpus parses, and grow the buffer
    // to its steady-state size (until a pass allocates nothing).
    for (int warm_up = 0; warm_up < 8; ++warm_up) {
        const std::uint64_t before = ksn::bench::allocations();
        messages = 0;
        if (!feed(c, buffer, messages, parse) || messages != c.messages) {
            state.SkipWithError("the corpus did not parse");
            return;
        }
        if (ksn::bench::allocations() == before) break;
    }
    messages = 0;
    const std::uint64_t allocations_before = ksn::bench::allocations();
    for (auto _ : state) {
        if (!feed(c, buffer, messages, parse)) {
            state.SkipWithError("parse error");
            return;
        }
    }
    report(state, c, static_cast<double>(ksn::bench::allocations() - allocations_before));
}

// The generic parser: every node of every message, views only.
std::size_t parse_generic(parser& p, std::string_view in, std::size_t& messages) {
    std::size_t pos = 0;
    node n;
    std::size_t bytes = 0;
    for (;;) {
        const parse_result r = p.next(in.substr(pos), n);
        if (r.status != parse_status::complete) {
            if (r.status == parse_status::error) return SIZE_MAX;
            pos += r.consumed;
            break;
        }
        pos += r.consumed;
        bytes += n.data.size();
        if (p.message_complete()) ++messages;
    }
    benchmark::DoNotOptimize(bytes);
    return pos;
}

// The pub/sub fast path: one decode_pubsub() per frame.
std::size_t parse_pubsub(std::string_view in, std::size_t& messages) {
    std::size_t pos = 0;
    pubsub_frame f;
    for (;;) {
        const pubsub_result r = decode_pubsub(in.substr(pos), f);
        if (r.status != pubsub_status::complete) {
            if (r.status == pubsub_status::not_pubsub) return SIZE_MAX;
            break;
        }
        pos += r.consumed;
        benchmark::DoNotOptimize(f);
        ++messages;
    }
    return pos;
}

void generic(benchmark::State& state, corpus_id id) {
    parser p;
    run(state, get(id), [&p](std::string_view in, std::size_t& messages) {
        return parse_generic(p, in, messages);
    });
}

void pubsub(benchmark::State& state, corpus_id id) {
    run(state, get(id), parse_pubsub);
}

// hiredis's reader parse-only: reply functions that build nothing, so what is measured is
// its parsing (every node still goes through a function pointer, as with real replies).
char hiredis_no_reply;
void* no_string(const redisReadTask*, char*, std::size_t) {
    return &hiredis_no_reply;
}
void* no_array(const redisReadTask*, int) {
    return &hiredis_no_reply;
}
void* no_integer(const redisReadTask*, long long) {
    return &hiredis_no_reply;
}
void* no_nil(const redisReadTask*) {
    return &hiredis_no_reply;
}
void no_free(void*) {}
redisReplyObjectFunctions hiredis_parse_only = {no_string, no_array, no_integer, no_nil, no_free};

// The hiredis reader, fed the same 16 KiB reads the way a hiredis connection does
// (redisBufferRead): recv() into a 16 KiB buffer, here a memcpy as on the ksn side, then
// redisReaderFeed(), which appends it to the reader's own buffer. With `functions` null it
// builds its reply objects (and frees each); else it calls those.
void run_hiredis(benchmark::State& state, corpus_id id, redisReplyObjectFunctions* functions) {
    const corpus& c = get(id);
    redisReader* reader =
        functions != nullptr ? redisReaderCreateWithFunctions(functions) : redisReaderCreate();
    std::vector<char> read_buffer(read_size);
    const auto pass = [&](std::size_t& messages) {
        for (std::size_t off = 0; off < c.bytes.size(); off += read_size) {
            const std::size_t n = std::min(read_size, c.bytes.size() - off);
            std::memcpy(read_buffer.data(), c.bytes.data() + off, n);  // stands for recv()
            if (redisReaderFeed(reader, read_buffer.data(), n) != REDIS_OK) return false;
            for (;;) {
                void* reply = nullptr;
                if (redisReaderGetReply(reader, &reply) != REDIS_OK) return false;
                if (reply == nullptr) break;
                if (functions == nullptr) freeReplyObject(reply);
                ++messages;
            }
        }
        return true;
    };
    std::size_t messages = 0;
    if (!pass(messages) || messages != c.messages) {
        state.SkipWithError("hiredis did not parse the corpus");
        redisReaderFree(reader);
        return;
    }
    for (auto _ : state) {
        if (!pass(messages)) {
            state.SkipWithError("hiredis parse error");
            break;
        }
    }
    redisReaderFree(reader);
    report(state, c, -1);
}

void hiredis(benchmark::State& state, corpus_id id) {
    run_hiredis(state, id, nullptr);
}

void hiredis_parse_only_(benchmark::State& state, corpus_id id) {
    run_hiredis(state, id, &hiredis_parse_only);
}

// In cache.
BENCHMARK_CAPTURE(pubsub, resp2_notifications, corpus_id::resp2_notifications);
BENCHMARK_CAPTURE(pubsub, resp3_notifications, corpus_id::resp3_notifications);
BENCHMARK_CAPTURE(generic, resp2_notifications, corpus_id::resp2_notifications);
BENCHMARK_CAPTURE(generic, resp3_notifications, corpus_id::resp3_notifications);
BENCHMARK_CAPTURE(hiredis, resp2_notifications, corpus_id::resp2_notifications);
BENCHMARK_CAPTURE(hiredis_parse_only_, resp2_notifications, corpus_id::resp2_notifications)
    ->Name("hiredis_parse_only/resp2_notifications");
BENCHMARK_CAPTURE(generic, resp2_mixed, corpus_id::resp2_mixed);
BENCHMARK_CAPTURE(generic, resp3_mixed, corpus_id::resp3_mixed);
BENCHMARK_CAPTURE(hiredis, resp2_mixed, corpus_id::resp2_mixed);
BENCHMARK_CAPTURE(hiredis_parse_only_, resp2_mixed, corpus_id::resp2_mixed)
    ->Name("hiredis_parse_only/resp2_mixed");
BENCHMARK_CAPTURE(generic, resp2_dense, corpus_id::resp2_dense);
BENCHMARK_CAPTURE(generic, resp3_dense, corpus_id::resp3_dense);
BENCHMARK_CAPTURE(hiredis_parse_only_, resp2_dense, corpus_id::resp2_dense)
    ->Name("hiredis_parse_only/resp2_dense");
BENCHMARK_CAPTURE(generic, large_bulks, corpus_id::large);
BENCHMARK_CAPTURE(hiredis, large_bulks, corpus_id::large);

// Out of cache: 64 MiB corpora. (hiredis 0.14 reads RESP2 only: no RESP3 rows for it.)
BENCHMARK_CAPTURE(pubsub, resp2_notifications_64MiB, corpus_id::resp2_notifications_64);
BENCHMARK_CAPTURE(pubsub, resp3_notifications_64MiB, corpus_id::resp3_notifications_64);
BENCHMARK_CAPTURE(hiredis, resp2_notifications_64MiB, corpus_id::resp2_notifications_64);
BENCHMARK_CAPTURE(hiredis_parse_only_, resp2_notifications_64MiB, corpus_id::resp2_notifications_64)
    ->Name("hiredis_parse_only/resp2_notifications_64MiB");
BENCHMARK_CAPTURE(generic, resp2_mixed_64MiB, corpus_id::resp2_mixed_64);
BENCHMARK_CAPTURE(generic, resp3_mixed_64MiB, corpus_id::resp3_mixed_64);
BENCHMARK_CAPTURE(hiredis_parse_only_, resp2_mixed_64MiB, corpus_id::resp2_mixed_64)
    ->Name("hiredis_parse_only/resp2_mixed_64MiB");
BENCHMARK_CAPTURE(generic, resp2_dense_64MiB, corpus_id::resp2_dense_64);
BENCHMARK_CAPTURE(generic, resp3_dense_64MiB, corpus_id::resp3_dense_64);
BENCHMARK_CAPTURE(hiredis_parse_only_, resp2_dense_64MiB, corpus_id::resp2_dense_64)
    ->Name("hiredis_parse_only/resp2_dense_64MiB");

}  // namespace

BENCHMARK_MAIN();
