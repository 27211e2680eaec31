// The command-line options that say where and how to connect, shared by `ksn watch` and
// `ksn bench`: host, port, ACL user and password, RESP version, cluster seeds and TLS.
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
    std::string user;
    std::string password;
    int resp = 0;  // 0: 3, falling back to 2
    bool cluster = false;
    std::vector<std::string> seeds;
    bool tls = false;
    std::string cacert;
    std::string cert;
    std::string key;
    std::string sni;
    bool insecure = false;

    /// Adds --host --port --user --pass (or KSN_PASSWORD) --resp --cluster --seed --tls
    /// --cacert --cert --key --sni --insecure to `app`.
    void add_to(CLI::App& app);

    /// Address, credentials, RESP version and TLS as connection options.
    [[nodiscard]] net::connection_options connection(std::string client_name) const;

    /// --host/--port then every --seed (throws std::invalid_argument naming a malformed
    /// one).
    [[nodiscard]] std::vector<net::endpoint> seed_endpoints() const;
};

/// "host:port" or "[v6]:port" as an endpoint; throws std::invalid_argument naming `option`.
[[nodiscard]] net::endpoint parse_endpoint(const std::string& text,
                                           const std::string& option = "--seed");

}  // namespace ksn::tools
