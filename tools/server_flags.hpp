// The command-line options that say where and how to connect, shared by `ksn watch` and
// `ksn bench`: host and port or a Unix socket, ACL user and password (fixed, or read from a
// file on every connection attempt), RESP version, cluster seeds and TLS.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

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

    /// Adds --host --port --socket --user --pass (or KSN_PASSWORD) --pass-file --resp
    /// --cluster --seed --tls --cacert --cert --key --sni --insecure to `app`.
    void add_to(CLI::App& app);

    /// Address, credentials, RESP version and TLS as connection options.
    [[nodiscard]] net::connection_options connection(std::string client_name) const;

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
