#include "notifications/notifier_options.hpp"

#include <string>

namespace ksn {

namespace {

class notifier_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "ksn.notifier"; }
    std::string message(int ev) const override {
        switch (static_cast<notifier_errc>(ev)) {
            case notifier_errc::subscribe_timeout:
                return "subscription not confirmed in time";
            case notifier_errc::not_connected:
                return "not connected";
            case notifier_errc::subscribe_refused:
                return "subscription refused by the server";
            case notifier_errc::closed:
                return "closed";
            case notifier_errc::notifications_disabled:
                return "keyspace notifications are disabled on the server";
            case notifier_errc::command_failed:
                return "server command failed";
            case notifier_errc::no_answer:
                return "the notifier's I/O thread did not answer";
        }
        return "unknown notifier error " + std::to_string(ev);
    }
};

}  // namespace

const std::error_category& notifier_category() noexcept {
    static const notifier_category_impl instance;
    return instance;
}

std::string_view to_string(severity s) noexcept {
    switch (s) {
        case severity::info:
            return "info";
        case severity::warning:
            return "warning";
        case severity::error:
            return "error";
    }
    return "unknown";
}

std::string_view to_string(overflow_policy p) noexcept {
    switch (p) {
        case overflow_policy::drop_newest:
            return "drop_newest";
        case overflow_policy::drop_oldest:
            return "drop_oldest";
        case overflow_policy::disconnect:
            return "disconnect";
    }
    return "unknown";
}

}  // namespace ksn
