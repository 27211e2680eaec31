#include "net/error.hpp"

#include <string>

namespace ksn::net {
namespace {

class net_category_impl final : public std::error_category {
  public:
    const char* name() const noexcept override { return "ksn.net"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::resolve_failed:
                return "host name did not resolve";
            case errc::connect_failed:
                return "connection failed";
            case errc::connect_timeout:
                return "connect timed out";
            case errc::auth_failed:
                return "authentication failed";
            case errc::handshake_failed:
                return "handshake failed";
            case errc::protocol_error:
                return "protocol error";
            case errc::unexpected_reply:
                return "unexpected reply from server";
            case errc::health_check_timeout:
                return "health check timed out (PING not answered)";
            case errc::connection_lost:
                return "connection lost";
            case errc::closed_by_peer:
                return "connection closed by the server";
            case errc::not_connected:
                return "not connected";
            case errc::closed:
                return "connection closed";
            case errc::server_error:
                return "server replied with an error";
            case errc::reconnect_exhausted:
                return "reconnect attempts exhausted";
            case errc::tls_config:
                return "TLS configuration error";
            case errc::tls_failed:
                return "TLS handshake failed";
            case errc::tls_verify_failed:
                return "TLS certificate verification failed";
            case errc::bad_address:
                return "invalid address";
            case errc::credentials_failed:
                return "the credentials callback failed";
        }
        return "unknown connection error " + std::to_string(ev);
    }
};

}  // namespace

const std::error_category& net_category() noexcept {
    static const net_category_impl instance;
    return instance;
}

}  // namespace ksn::net
