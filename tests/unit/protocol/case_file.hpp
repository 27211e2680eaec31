// Reader of the table-driven parser cases in tests/unit/protocol/data/*.txt.
//
// A file is a list of cases:
//
//   # a comment (a line starting with '#')
//   case: bulk string with CRLF inside
//   opt: max_bulk_length=16 skip_attributes      (optional; limits of the parser)
//   in: $4\r\na\r\nb\r\n                          (input bytes; repeated lines concatenate)
//   in x3: *1\r\n                                 (the bytes repeated 3 times)
//     $ d=0 "a\r\nb" end                          (expected node log, indented)
//
// Input escapes: \r \n \t \0 \\ \xHH, and \s for a space at the end of a line (spaces
// elsewhere are literal). The log format is the one parse_driver.hpp writes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/parser.hpp"

namespace ksn::protocol::test {

struct parse_case {
    std::string where;  ///< file:line of the `case:` line
    std::string name;
    limits lim;
    std::string input;
    std::vector<std::string> log;
    /// Non-empty when the case could not be read; the test reports it.
    std::string format_error;
};

/// How GoogleTest names a case in its messages.
inline void PrintTo(const parse_case& c, std::ostream* os) {
    *os << c.where << " (" << c.name << ")";
}

/// Decodes the escapes of an `in:` line; sets `error` on a malformed escape.
inline std::string unescape(std::string_view s, std::string& error) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\') {
            out += s[i];
            continue;
        }
        if (++i == s.size()) {
            error = "dangling backslash";
            return out;
        }
        switch (s[i]) {
            case 'r':
                out += '\r';
                break;
            case 'n':
                out += '\n';
                break;
            case 't':
                out += '\t';
                break;
            case '0':
                out += '\0';
                break;
            case 's':
                out += ' ';
                break;
            case '\\':
                out += '\\';
                break;
            case 'x': {
                const auto hex = [](char c) {
                    if (c >= '0' && c <= '9') return c - '0';
                    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                    return -1;
                };
                if (i + 2 >= s.size()) {
                    error = "short \\x escape";
                    return out;
                }
                const int hi = hex(s[i + 1]);
                const int lo = hex(s[i + 2]);
                if (hi < 0 || lo < 0) {
                    error = "bad \\x escape";
                    return out;
                }
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                break;
            }
            default:
                error = std::string("unknown escape \\") + s[i];
                return out;
        }
    }
    return out;
}

/// Applies one `opt:` word to `lim`; false if the word is not an option.
inline bool apply_option(std::string_view word, limits& lim) {
    if (word == "skip_attributes") {
        lim.skip_attributes = true;
        return true;
    }
    const auto eq = word.find('=');
    if (eq == std::string_view::npos) return false;
    const std::string_view key = word.substr(0, eq);
    const std::string value(word.substr(eq + 1));
    if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos) return false;
    const std::uint64_t v = std::stoull(value);
    if (key == "max_bulk_length") {
        lim.max_bulk_length = v;
    } else if (key == "max_aggregate_size") {
        lim.max_aggregate_size = v;
    } else if (key == "max_depth") {
        lim.max_depth = static_cast<std::uint32_t>(v);
    } else if (key == "max_line_length") {
        lim.max_line_length = v;
    } else {
        return false;
    }
    return true;
}

inline void read_case_file(const std::filesystem::path& path, std::vector<parse_case>& cases) {
    std::ifstream in(path, std::ios::binary);
    const std::string file = path.filename().string();
    if (!in) {
        cases.push_back({file, "unreadable", {}, {}, {}, "cannot open " + path.string()});
        return;
    }
    std::string line;
    int number = 0;
    parse_case* current = nullptr;
    const auto bad = [&](const std::string& why) {
        if (current && current->format_error.empty()) {
            current->format_error = file + ":" + std::to_string(number) + ": " + why;
        } else if (!current) {
            cases.push_back({file + ":" + std::to_string(number),
                             "format_error",
                             {},
                             {},
                             {},
                             file + ":" + std::to_string(number) + ": " + why});
        }
    };
    while (std::getline(in, line)) {
        ++number;
        const std::string_view l = line;
        if (l.empty() || l[0] == '#') continue;
        if (l.starts_with("case: ")) {
            cases.push_back({file + ":" + std::to_string(number), line.substr(6), {}, {}, {}, {}});
            current = &cases.back();
            continue;
        }
        if (!current) {
            bad("text before the first case");
            continue;
        }
        if (l.starts_with("  ")) {
            current->log.push_back(line.substr(2));
        } else if (l.starts_with("opt: ")) {
            std::string_view rest = l.substr(5);
            while (!rest.empty()) {
                const auto sp = rest.find(' ');
                const std::string_view word = rest.substr(0, sp);
                if (!word.empty() && !apply_option(word, current->lim)) {
                    bad("unknown option " + std::string(word));
                }
                rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
            }
        } else if (l.starts_with("in")) {
            const auto colon = l.find(": ");
            if (colon == std::string_view::npos) {
                bad("expected 'in: ' or 'in xN: '");
                continue;
            }
            std::size_t times = 1;
            const std::string_view head = l.substr(0, colon);
            if (head != "in") {
                if (!head.starts_with("in x") || head.size() == 4 ||
                    head.substr(4).find_first_not_of("0123456789") != std::string_view::npos) {
                    bad("expected 'in: ' or 'in xN: '");
                    continue;
                }
                times = std::stoul(std::string(head.substr(4)));
            }
            const std::string_view text = l.substr(colon + 2);
            if (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
                bad("trailing whitespace in input (write \\s)");
            }
            std::string error;
            const std::string bytes = unescape(text, error);
            if (!error.empty()) bad(error);
            for (std::size_t i = 0; i < times; ++i)
                current->input += bytes;
        } else {
            bad("unexpected line: " + line);
        }
    }
}

/// Every case of every *.txt file in `dir`, files in name order.
inline std::vector<parse_case> load_cases(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
        if (e.path().extension() == ".txt") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<parse_case> cases;
    for (const auto& f : files)
        read_case_file(f, cases);
    if (cases.empty()) {
        cases.push_back({dir.string(), "no_cases", {}, {}, {}, "no cases in " + dir.string()});
    }
    return cases;
}

}  // namespace ksn::protocol::test
