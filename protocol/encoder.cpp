#include "protocol/encoder.hpp"

#include <charconv>
#include <cstring>

namespace ksn::protocol {
namespace {

constexpr std::size_t decimal_digits(std::size_t v) noexcept {
    std::size_t n = 1;
    while (v >= 10) {
        v /= 10;
        ++n;
    }
    return n;
}

char* write_header(char* p, char type, std::size_t n) noexcept {
    *p++ = type;
    p = std::to_chars(p, p + 20, n).ptr;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

}  // namespace

std::size_t command_size(std::span<const std::string_view> args) noexcept {
    std::size_t size = 3 + decimal_digits(args.size());
    for (const auto arg : args)
        size += 5 + decimal_digits(arg.size()) + arg.size();
    return size;
}

void append_command(std::string& out, std::span<const std::string_view> args) {
    const std::size_t old_size = out.size();
    const std::size_t size = command_size(args);
    out.resize(old_size + size);
    char* p = out.data() + old_size;
    p = write_header(p, '*', args.size());
    for (const auto arg : args) {
        p = write_header(p, '$', arg.size());
        if (!arg.empty()) std::memcpy(p, arg.data(), arg.size());
        p += arg.size();
        *p++ = '\r';
        *p++ = '\n';
    }
}

}  // namespace ksn::protocol
