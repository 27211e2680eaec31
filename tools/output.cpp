#include "tools/output.hpp"

#include <ctime>

#include "tools/json.hpp"

namespace ksn::tools {

namespace {

bool plain(std::string_view bytes) noexcept {
    if (bytes.empty()) return false;
    for (std::size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        if (c <= 0x20 || c == 0x7F || c == '"' || c == '\\' || c == '[' || c == ']') return false;
        const std::size_t n = utf8_sequence_length(bytes.substr(i));
        if (n == 0) return false;
        i += n;
    }
    return true;
}

/// "HH:MM:SS.mmm" of local wall time for a steady-clock time point.
void append_time_of_day(std::string& out, clock::time_point t) {
    using namespace std::chrono;
    const auto wall = system_clock::now() - duration_cast<system_clock::duration>(clock::now() - t);
    const auto secs = system_clock::to_time_t(wall);
    const auto ms = duration_cast<milliseconds>(wall.time_since_epoch()).count() % 1000;
    std::tm tm{};
    localtime_r(&secs, &tm);
    char buf[32];
    const auto n = std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    out.append(buf, n);
    out += '.';
    out += static_cast<char>('0' + ms / 100);
    out += static_cast<char>('0' + ms / 10 % 10);
    out += static_cast<char>('0' + ms % 10);
    out += ' ';
}

std::string_view part_name(notification_part p) noexcept {
    return p == notification_part::channel ? "channel" : "payload";
}

}  // namespace

std::int64_t monotonic_ns(clock::time_point t) noexcept {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void append_quoted(std::string& out, std::string_view bytes) {
    if (plain(bytes)) {
        out += bytes;
        return;
    }
    static constexpr std::string_view hex = "0123456789abcdef";
    out += '"';
    for (std::size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                ++i;
                continue;
            case '\\':
                out += "\\\\";
                ++i;
                continue;
            case '\n':
                out += "\\n";
                ++i;
                continue;
            case '\r':
                out += "\\r";
                ++i;
                continue;
            case '\t':
                out += "\\t";
                ++i;
                continue;
            default:
                break;
        }
        const std::size_t n = utf8_sequence_length(bytes.substr(i));
        if (n == 0 || c < 0x20 || c == 0x7F) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
            ++i;
        } else {
            out.append(bytes, i, n);
            i += n;
        }
    }
    out += '"';
}

void append_slot_ranges(std::string& out,
                        std::span<const std::pair<std::uint16_t, std::uint16_t>> ranges) {
    bool first = true;
    for (const auto& [from, to] : ranges) {
        if (!first) out += ',';
        first = false;
        append_integer(out, std::uint64_t{from});
        if (to != from) {
            out += '-';
            append_integer(out, std::uint64_t{to});
        }
    }
}

void format_notification(std::string& line, output_format f, const key_notification& n,
                         const origin* from) {
    if (f == output_format::json) {
        json_object o(line);
        o.text("type", to_string(n.kind()))
            .number("db", std::int64_t{n.db()})
            .bytes("key", n.key())
            .bytes("event", n.event())
            .bytes_array("subkeys", n.subkeys())
            .bytes("channel", n.channel());
        if (from != nullptr) {
            o.text("node", from->node).number("ts_ns", monotonic_ns(from->received));
            if (from->redelivered) o.boolean("redelivered", true);
        }
        o.end_line();
        return;
    }
    line.clear();
    if (from != nullptr) append_time_of_day(line, from->received);
    line += to_string(n.kind());
    line += '@';
    if (n.db() == any_db) {
        line += '*';
    } else {
        append_integer(line, std::int64_t{n.db()});
    }
    line += ' ';
    append_quoted(line, n.event());
    line += ' ';
    append_quoted(line, n.key());
    if (!n.subkeys().empty()) {
        line += " [";
        bool first = true;
        for (const auto s : n.subkeys()) {
            if (!first) line += ' ';
            first = false;
            append_quoted(line, s);
        }
        line += ']';
    }
    if (from != nullptr && from->redelivered) line += " redelivered";
    line += '\n';
}

std::string_view line_template::fields() noexcept {
    return "{ts_ns} {time} {node} {kind} {db} {event} {key} {subkeys} {channel} {redelivered}";
}

std::optional<line_template> line_template::compile(std::string_view text, std::string& error) {
    struct named_field {
        std::string_view name;
        field id;
    };
    static constexpr named_field names[] = {
        {"ts_ns", field::ts_ns},     {"time", field::time},
        {"node", field::node},       {"kind", field::kind},
        {"db", field::db},           {"event", field::event},
        {"key", field::key},         {"subkeys", field::subkeys},
        {"channel", field::channel}, {"redelivered", field::redelivered},
    };
    line_template t;
    std::string literal;
    const auto flush = [&] {
        if (literal.empty()) return;
        t.parts_.push_back({field::literal, literal});
        literal.clear();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '}') {
            if (i + 1 < text.size() && text[i + 1] == '}') {
                literal += '}';
                ++i;
                continue;
            }
            error =
                "a '}' at byte " + std::to_string(i) + " closes no field (write }} for a brace)";
            return std::nullopt;
        }
        if (c != '{') {
            literal += c;
            continue;
        }
        if (i + 1 < text.size() && text[i + 1] == '{') {
            literal += '{';
            ++i;
            continue;
        }
        const auto close = text.find('}', i + 1);
        if (close == std::string_view::npos) {
            error = "the '{' at byte " + std::to_string(i) + " has no '}' (write {{ for a brace)";
            return std::nullopt;
        }
        const auto name = text.substr(i + 1, close - i - 1);
        const named_field* found = nullptr;
        for (const auto& n : names) {
            if (n.name == name) found = &n;
        }
        if (found == nullptr) {
            error =
                "unknown field {" + std::string(name) + "} (fields: " + std::string(fields()) + ")";
            return std::nullopt;
        }
        flush();
        t.parts_.push_back({found->id, {}});
        i = close;
    }
    flush();
    return t;
}

void line_template::render(std::string& line, const key_notification& n, const origin& from) const {
    line.clear();
    for (const part& p : parts_) {
        switch (p.what) {
            case field::literal:
                line += p.text;
                break;
            case field::ts_ns:
                append_integer(line, monotonic_ns(from.received));
                break;
            case field::time:
                append_time_of_day(line, from.received);
                line.pop_back();  // its trailing space
                break;
            case field::node:
                line += from.node;
                break;
            case field::kind:
                line += to_string(n.kind());
                break;
            case field::db:
                if (n.db() == any_db) {
                    line += '*';
                } else {
                    append_integer(line, std::int64_t{n.db()});
                }
                break;
            case field::event:
                append_quoted(line, n.event());
                break;
            case field::key:
                append_quoted(line, n.key());
                break;
            case field::subkeys: {
                bool first = true;
                for (const auto sk : n.subkeys()) {
                    if (!first) line += ' ';
                    first = false;
                    append_quoted(line, sk);
                }
                break;
            }
            case field::channel:
                append_quoted(line, n.channel());
                break;
            case field::redelivered:
                line += from.redelivered ? "true" : "false";
                break;
        }
    }
    line += '\n';
}

void format_gap(std::string& line, output_format f, const gap_event& g) {
    if (f == output_format::json) {
        json_object o(line);
        o.text("type", "gap")
            .text("node", g.node)
            .text("reason", to_string(g.reason))
            .bytes("detail", g.detail)
            .number("lost_ts_ns", monotonic_ns(g.lost));
        if (g.restored) {
            o.number("restored_ts_ns", monotonic_ns(*g.restored));
        } else {
            o.null("restored_ts_ns");
        }
        o.number("dropped", g.dropped).number_pairs("slots", g.slots).end_line();
        return;
    }
    line.clear();
    append_time_of_day(line, g.restored.value_or(g.lost));
    line += "gap ";
    line += g.node;
    line += ' ';
    line += to_string(g.reason);
    if (g.restored) {
        const auto ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(*g.restored - g.lost).count();
        line += " (";
        append_integer(line, static_cast<std::int64_t>(ms));
        line += " ms)";
    } else {
        line += " (not restored)";
    }
    if (g.dropped > 0) {
        line += " dropped=";
        append_integer(line, g.dropped);
    }
    if (!g.slots.empty()) {
        line += " slots=";
        append_slot_ranges(line, g.slots);
    }
    if (!g.detail.empty()) {
        line += ": ";
        line += g.detail;
    }
    line += '\n';
}

void format_invalid(std::string& line, output_format f, std::string_view channel,
                    std::string_view payload, const parse_result& r) {
    if (f == output_format::json) {
        json_object(line)
            .text("type", "invalid")
            .bytes("channel", channel)
            .bytes("payload", payload)
            .text("error", r.error_code().message())
            .text("part", part_name(r.part))
            .number("offset", static_cast<std::uint64_t>(r.offset))
            .end_line();
        return;
    }
    line = "invalid ";
    append_quoted(line, channel);
    line += ' ';
    append_quoted(line, payload);
    line += ": ";
    line += r.error_code().message();
    line += " at ";
    line += part_name(r.part);
    line += " byte ";
    append_integer(line, static_cast<std::uint64_t>(r.offset));
    line += '\n';
}

}  // namespace ksn::tools
