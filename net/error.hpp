// Error codes of the connection layer.
//
// A connection reports each failure with one of these codes plus a detail string (the
// server's own error text where there is one) and the node it concerns. Protocol errors
// keep their own code from protocol::errc in the detail.
#pragma once

#include <system_error>

namespace ksn::net {

enum class errc : int {
    resolve_failed = 1,    ///< the host name did not resolve
    connect_failed,        ///< TCP connect refused or unreachable
    connect_timeout,       ///< resolve + connect + handshake took longer than connect_timeout
    auth_failed,           ///< wrong password, unknown user or ACL refusal (not retried)
    handshake_failed,      ///< HELLO / AUTH / CLIENT SETNAME refused for another reason
    protocol_error,        ///< the peer sent malformed RESP (the connection is reset)
    unexpected_reply,      ///< a reply that answers no command sent
    health_check_timeout,  ///< PING not answered within health_check_timeout
    connection_lost,       ///< the socket failed (reset, unreachable, ...)
    closed_by_peer,        ///< the server closed the connection (EOF, or a reset on read)
    not_connected,         ///< a command was sent while the connection was down
    closed,                ///< the connection was closed by the user
    server_error,          ///< the server answered a command with an error reply
    reconnect_exhausted,   ///< the reconnect policy's max_attempts were used up
    tls_config,            ///< a CA, certificate or key file could not be loaded (not retried)
    tls_failed,            ///< the TLS handshake failed (retried)
    tls_verify_failed,     ///< the server's certificate was not trusted (not retried)
    bad_address,           ///< the endpoint cannot be used (a socket path too long, TLS on a
                           ///< Unix socket; not retried)
    credentials_failed,    ///< the credentials callback threw (retried)
};

const std::error_category& net_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), net_category()};
}

}  // namespace ksn::net

template <>
struct std::is_error_code_enum<ksn::net::errc> : std::true_type {};
