// Options of one connection to one Redis node: where, who, which protocol, how fast to
// give up, and how to come back. Every default is named here.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "../protocol/parser.hpp"

namespace ksn::net {

/// A node's address: TCP (a host name or an IPv4/IPv6 literal, and a port) or, when
/// socket_path is set, a Unix domain socket (Redis's `unixsocket`; host and port are then
/// ignored).
struct endpoint {
    endpoint() = default;
    endpoint(std::string h, std::uint16_t p) : host(std::move(h)), port(p) {}

    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    /// A Unix domain socket's path; empty: TCP. At most max_socket_path bytes (the size of
    /// sockaddr_un's sun_path less its terminating NUL); TLS is not available on it (Redis
    /// serves TLS on its TCP tls-port only).
    std::string socket_path;

    /// The longest socket_path the system accepts (107 bytes on Linux).
    static const std::size_t max_socket_path;

    /// A Unix domain socket endpoint.
    static endpoint unix_socket(std::string path) {
        endpoint e;
        e.host.clear();
        e.port = 0;
        e.socket_path = std::move(path);
        return e;
    }
    bool is_unix() const noexcept { return !socket_path.empty(); }

    /// "host:port", "[v6]:port" for an IPv6 literal, "unix:PATH" for a Unix socket.
    std::string to_string() const;
    friend bool operator==(const endpoint&, const endpoint&) = default;
};

/// What a credentials callback answers.
struct credentials {
    /// ACL user; empty means the default user.
    std::string username;
    /// Password or token; empty means no authentication.
    std::string password;
};

/// Asked on every connection attempt (first connect and each reconnect) for the
/// credentials to send, e.g. a short-lived token of a managed service. Runs on the
/// connection's thread and must not block for long. An exception fails that attempt
/// (errc::credentials_failed, with the exception's message), which is retried under the
/// reconnect policy like a refused connect.
using credentials_callback = std::function<credentials(const endpoint&)>;

enum class resp_version : std::uint8_t {
    automatic = 0,  ///< HELLO 3, falling back to RESP2 when the server refuses HELLO
    resp2 = 2,      ///< RESP2 only (AUTH, no HELLO)
    resp3 = 3,      ///< RESP3 only: a server that refuses HELLO 3 is an error
};

struct reconnect_policy {
    /// Delay before the first reconnect attempt; doubles with each failed attempt.
    std::chrono::milliseconds initial_delay{100};
    /// Upper bound of the delay.
    std::chrono::milliseconds max_delay{5000};
    /// Fraction of each delay drawn at random (0: none, 1: anywhere in [0, delay]), so
    /// that many clients cut off at once do not come back at once.
    double jitter = 0.5;
    /// 0 reconnects forever; otherwise the connection closes for good after this many
    /// consecutive failed attempts.
    std::uint32_t max_attempts = 0;
    /// While the node has been gone less than this, every attempt comes initial_delay
    /// (jittered) after the one before, without doubling: a server back from a restart is
    /// reached within about initial_delay of its return. After it, delays double up to
    /// max_delay, so a node that stays down is not hammered. 0: double from the start.
    std::chrono::milliseconds fast_retry_for{10000};
};

/// TLS (Asio's SSL support on OpenSSL). Verification is on by default.
struct tls_options {
    bool enabled = false;
    /// PEM file and/or directory of trusted CA certificates; both empty: the system's
    /// default trust store.
    std::string ca_file;
    std::string ca_dir;
    /// Client certificate chain and private key (PEM), for servers that require mutual
    /// TLS (tls-auth-clients yes).
    std::string cert_file;
    std::string key_file;
    /// Name sent as SNI and verified against the server's certificate; empty: the host
    /// (a name, or an IP address matched against the certificate's IP SANs; no SNI for an
    /// IP address).
    std::string server_name;
    /// false is the explicit insecure switch: the server's certificate is not verified.
    bool verify = true;
};

struct connection_options {
    endpoint address;
    /// ACL user; empty means the default user.
    std::string username;
    /// Password; empty means no authentication.
    std::string password;
    /// When set, asked on every connection attempt instead of username and password.
    credentials_callback credentials_provider;
    /// CLIENT SETNAME; empty sets none.
    std::string client_name;
    resp_version resp = resp_version::automatic;
    /// Budget for resolve + TCP connect, and again for the handshake.
    std::chrono::milliseconds connect_timeout{5000};
    /// A PING is sent this long after the previous one was answered; zero disables the
    /// health check.
    std::chrono::milliseconds health_check_interval{3000};
    /// A PING not answered within this time declares the peer dead, so a stalled peer is
    /// noticed within health_check_interval + health_check_timeout.
    std::chrono::milliseconds health_check_timeout{2000};
    reconnect_policy reconnect;
    /// Parser limits for everything the node sends.
    protocol::limits limits;
    /// Initial read buffer; it grows for frames that do not fit.
    std::size_t read_buffer_size = 64 * 1024;
    tls_options tls;
};

/// Where a connection is in its life (notifier_stats reports it per node).
enum class connection_state : std::uint8_t {
    connecting,    ///< resolving and connecting
    handshaking,   ///< HELLO / AUTH
    ready,         ///< commands and pub/sub flow; the observer replays its subscriptions
    disconnected,  ///< lost; a reconnect is scheduled
    closed,        ///< for good: close() was called, authentication failed, or the
                   ///< reconnect policy gave up
};

std::string_view to_string(connection_state s) noexcept;

}  // namespace ksn::net
