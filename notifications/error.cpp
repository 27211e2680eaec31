#include "error.hpp"

namespace ksn {
namespace {

class notification_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "ksn.notification"; }

    std::string message(int ev) const override {
        switch (static_cast<notification_errc>(ev)) {
            case notification_errc::bad_db:
                return "db is not a canonical decimal number below 2^31 or '*'";
            case notification_errc::missing_db_terminator:
                return "expected '__:' after the db";
            case notification_errc::empty_event:
                return "empty event name";
            case notification_errc::missing_pipe:
                return "expected '|'";
            case notification_errc::missing_newline:
                return "expected '\\n' between key and subkey";
            case notification_errc::bad_length:
                return "length is not a canonical decimal number (empty, sign, leading zero "
                       "or non-digit)";
            case notification_errc::length_overflow:
                return "length out of range";
            case notification_errc::missing_colon:
                return "expected ':' after a length";
            case notification_errc::length_past_end:
                return "length runs past the end of the input";
            case notification_errc::trailing_garbage:
                return "unexpected bytes after a subkey (expected ',' or the end)";
            case notification_errc::dangling_comma:
                return "subkey list ends with ','";
            case notification_errc::no_subkeys:
                return "empty subkey list";
            case notification_errc::too_many_subkeys:
                return "more subkeys than the storage given to the parser";
        }
        return "unknown notification error " + std::to_string(ev);
    }
};

}  // namespace

const std::error_category& notification_category() noexcept {
    static const notification_category_impl instance;
    return instance;
}

}  // namespace ksn
