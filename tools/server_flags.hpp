// The command-line options that say where and how to connect, shared by `ksn watch` and
// `ksn bench`: host and port or a Unix socket, ACL user and password (fixed, or read from a
// file on every connection attempt), RESP version, cluster seeds, TLS, and Redis Sentinel
// (the sentinels, the primary's name and the sentinels' own credentials and TLS).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/cluster_keyspace_notifications.hpp"
#include "net/options.hpp"

namespace ksn::tools {

struct server_flags {
    std::string host = "127.0.0.1";
    std::uint16_t port = 6379;
    std::string socket;  // a Unix socket path instead of host and port
    std::string user;
    std::string password;
    std::string password_file;  // read on every connection attempt
    int resp = 0;               // 0: 3, falling back to 2
    bool cluster = false;
    std::vector<std::string> seeds;
    bool tls = false;
    std::string cacert;
    std::string cert;
    std::string key;
    std::string sni;
    bool insecure = false;
    bool require_every_primary = false;  // --cluster: all primaries or nothing
    std::string redundancy = "none";     // --cluster/--sentinel: none, or replica (a standby each)
    // Redis Sentinel: the data nodes' credentials and TLS stay --user, --pass, --tls...
    std::vector<std::string> sentinels;  // HOST:PORT each (validated by the parser)
    std::string primary_name;            // the name the sentinels monitor it by
    std::string sentinel_user;
    std::string sentinel_password;
    bool sentinel_tls = false;  // with the --cacert, --cert, --key and --insecure files

    /// Adds --host --port --socket --user --pass (or KSN_PASSWORD) --pass-file --resp
    /// --cluster --seed --require-every-primary --redundancy --tls --cacert --cert --key --sni
    /// --insecure
    /// --sentinel --primary --sentinel-user --sentinel-pass (or KSN_SENTINEL_PASSWORD)
    /// --sentinel-tls to `app`. The parser refuses --sentinel without --primary (and the
    /// reverse), --sentinel with --cluster, --seed, --socket, --host or --port,
    /// --sentinel-user or --sentinel-tls without --sentinel, and --require-every-primary
    /// without --cluster, and --redundancy without --cluster or --sentinel.
    void add_to(CLI::App& app);

    /// True with --sentinel: the sentinels name the primary.
    [[nodiscard]] bool sentinel() const noexcept { return !sentinels.empty(); }

    /// Address, credentials, RESP version and TLS as connection options (with --sentinel,
    /// those of the data nodes; the address is then the sentinels' to say).
    [[nodiscard]] net::connection_options connection(std::string client_name) const;

    /// The sentinels' own connection options: --sentinel-user and --sentinel-pass, the RESP
    /// version, and with --sentinel-tls the TLS files and --insecure of the data nodes (the
    /// server name checked is each sentinel's host: --sni is the data nodes'). The address is
    /// left to the caller.
    [[nodiscard]] net::connection_options sentinel_connection(std::string client_name) const;

    /// Every --sentinel (throws std::invalid_argument naming a malformed one).
    [[nodiscard]] std::vector<net::endpoint> sentinel_endpoints() const;

    /// --redundancy as the library's mode.
    [[nodiscard]] ksn::redundancy_mode redundancy_choice() const noexcept {
        return redundancy == "replica" ? ksn::redundancy_mode::replica : ksn::redundancy_mode::none;
    }

    /// --host/--port then every --seed (throws std::invalid_argument naming a malformed
    /// one).
    [[nodiscard]] std::vector<net::endpoint> seed_endpoints() const;
};

/// The password in `path` without its trailing line break (CR LF or LF); throws
/// std::runtime_error naming the file when it cannot be read.
[[nodiscard]] std::string read_password_file(const std::string& path);

/// "host:port" or "[v6]:port" as an endpoint; throws std::invalid_argument naming `option`.
[[nodiscard]] net::endpoint parse_endpoint(const std::string& text,
                                           const std::string& option = "--seed");

}  // namespace ksn::tools
