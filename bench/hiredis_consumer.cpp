// The baseline consumer: a bare hiredis loop, one connection per node, poll(). Each
// node's connection PSUBSCRIBEs the pattern; each pmessage is counted and, with --print,
// written as "<CLOCK_MONOTONIC ns> <key>" (the key: the channel after its "__:"), as
// `ksn watch --format '{ts_ns} {key}'` does. Exits 0 after COUNT notifications, 1 on a
// connection error. What consumer_bench runs beside ksn's consumers.
//
//   hiredis_consumer COUNT PATTERN [--print] HOST:PORT...
#include <hiredis/hiredis.h>
#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: hiredis_consumer COUNT PATTERN [--print] HOST:PORT...\n");
        return 2;
    }
    const unsigned long long count = std::strtoull(argv[1], nullptr, 10);
    const char* pattern = argv[2];
    int first = 3;
    const bool print = std::strcmp(argv[3], "--print") == 0;
    if (print) ++first;
    std::vector<redisContext*> nodes;
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        const auto colon = a.rfind(':');
        redisContext* c =
            redisConnect(a.substr(0, colon).c_str(), std::atoi(a.c_str() + colon + 1));
        if (c == nullptr || c->err) return 1;
        auto* r = static_cast<redisReply*>(redisCommand(c, "PSUBSCRIBE %s", pattern));
        if (r == nullptr) return 1;
        freeReplyObject(r);
        nodes.push_back(c);
    }
    std::vector<pollfd> fds;
    for (auto* c : nodes)
        fds.push_back({c->fd, POLLIN, 0});
    unsigned long long seen = 0;
    while (seen < count) {
        if (::poll(fds.data(), fds.size(), 60'000) <= 0) return 1;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if ((fds[i].revents & POLLIN) == 0) continue;
            if (redisBufferRead(nodes[i]) != REDIS_OK) return 1;
            void* reply = nullptr;
            while (redisGetReplyFromReader(nodes[i], &reply) == REDIS_OK && reply != nullptr) {
                auto* r = static_cast<redisReply*>(reply);
                if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
                    ++seen;
                    if (print) {
                        const redisReply* ch = r->element[2];
                        const char* sep =
                            static_cast<const char*>(memmem(ch->str, ch->len, "__:", 3));
                        const char* key = sep != nullptr ? sep + 3 : ch->str;
                        timespec ts{};
                        ::clock_gettime(CLOCK_MONOTONIC, &ts);
                        std::printf("%lld %.*s\n",
                                    static_cast<long long>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec,
                                    static_cast<int>(ch->len - (key - ch->str)), key);
                    }
                }
                freeReplyObject(r);
            }
        }
    }
    std::fflush(stdout);
    for (auto* c : nodes)
        redisFree(c);
    return 0;
}
