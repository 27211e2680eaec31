#include "tools/server_flags.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace ksn::tools {

void server_flags::add_to(CLI::App& app) {
    auto* host_opt =
        app.add_option("--host", host, "Server host name or IP address")->capture_default_str();
    auto* port_opt = app.add_option("--port", port, "Server port")->capture_default_str();
    auto* socket_opt =
        app.add_option("--socket", socket,
                       "The server's Unix domain socket (its unixsocket), instead of --host and "
                       "--port; not with --tls or --cluster")
            ->type_name("PATH")
            ->check(CLI::Validator(
                [](std::string& path) -> std::string {
                    if (path.empty()) return "the socket path is empty";
                    if (path.size() > net::endpoint::max_socket_path) {
                        return "the socket path is " + std::to_string(path.size()) +
                               " bytes long; the system allows at most " +
                               std::to_string(net::endpoint::max_socket_path);
                    }
                    return {};
                },
                "PATH"));
    socket_opt->excludes(host_opt)->excludes(port_opt);
    app.add_option("--user", user, "ACL user name");
    auto* pass_opt = app.add_option("--pass", password, "Password (or set KSN_PASSWORD)")
                         ->envname("KSN_PASSWORD");
    app.add_option("--pass-file", password_file,
                   "Read the password (or token) from FILE on every connection attempt, so a "
                   "rotated one is used at the next reconnect (one line; the line break is "
                   "dropped)")
        ->type_name("FILE")
        ->check(CLI::ExistingFile)
        ->excludes(pass_opt);
    app.add_option("--resp", resp, "Force RESP 2 or 3 (default: 3, falling back to 2)")
        ->check(CLI::IsMember({2, 3}));
    auto* cluster_opt =
        app.add_flag("--cluster", cluster,
                     "Redis Cluster: every primary, found from --host/--port and --seed")
            ->excludes(socket_opt);
    auto* seed_opt = app.add_option("--seed", seeds, "More cluster seed nodes (with --cluster)")
                         ->type_name("HOST:PORT");
    app.add_flag("--require-every-primary", require_every_primary,
                 "--cluster: fail unless every primary can be reached (default: go on with "
                 "the ones reachable, a node_unreachable gap for each other)")
        ->needs(cluster_opt);
    auto* redundancy_opt =
        app.add_option("--redundancy", redundancy,
                       "--cluster or --sentinel: none (default), or replica: also subscribe one "
                       "replica of each primary and hold its stream, so that it continues the "
                       "primary's when that stops (crash, CLIENT KILL, disconnect); replays are "
                       "marked redelivered and a gap is reported only where neither delivered")
            ->type_name("MODE")
            ->check(CLI::IsMember({"none", "replica"}));
    app.add_flag("--tls", tls, "Connect with TLS (verifying the server's certificate)")
        ->excludes(socket_opt);
    app.add_option("--cacert", cacert, "Trusted CA certificates (PEM; default: the system's)")
        ->type_name("FILE");
    app.add_option("--cert", cert, "Client certificate (PEM) for mutual TLS")->type_name("FILE");
    app.add_option("--key", key, "Client private key (PEM) for mutual TLS")->type_name("FILE");
    app.add_option("--sni", sni, "Server name to send and verify (default: --host)")
        ->type_name("NAME");
    app.add_flag("--insecure", insecure,
                 "Do not verify the server's certificate (TLS without authentication)");

    // Redis Sentinel. The sentinels' password has no needs(): one from the environment
    // counts as given to the parser, and must not make every other mode a usage error.
    auto* sentinel_opt =
        app.add_option("--sentinel", sentinels,
                       "Redis Sentinel: a sentinel to ask where the primary --primary is "
                       "(repeat for each); the primary they name is watched and followed "
                       "through failovers. --user, --pass, --tls... are the data nodes'")
            ->type_name("HOST:PORT")
            ->check(CLI::Validator(
                [](std::string& text) -> std::string {
                    // CLI11 puts the option's name in front.
                    try {
                        (void)parse_endpoint(text, "--sentinel");
                    } catch (const std::invalid_argument&) {
                        return text + ": expected HOST:PORT";
                    }
                    return {};
                },
                ""));  // no name: the help shows the type name alone
    auto* primary_opt =
        app.add_option("--primary", primary_name,
                       "With --sentinel: the primary's name (as in `sentinel monitor NAME ...`)")
            ->type_name("NAME");
    sentinel_opt->needs(primary_opt);
    // --redundancy needs one of two modes (CLI11's needs() would ask for both).
    app.parse_complete_callback([this, redundancy_opt] {
        if (redundancy_opt->count() > 0 && !cluster && sentinels.empty()) {
            throw CLI::ValidationError("--redundancy", "needs --cluster or --sentinel");
        }
    });
    primary_opt->needs(sentinel_opt);
    sentinel_opt->excludes(cluster_opt)
        ->excludes(seed_opt)
        ->excludes(socket_opt)
        ->excludes(host_opt)
        ->excludes(port_opt);
    app.add_option("--sentinel-user", sentinel_user,
                   "ACL user name on the sentinels (default: none, whatever --user is)")
        ->needs(sentinel_opt);
    app.add_option("--sentinel-pass", sentinel_password,
                   "The sentinels' password (their requirepass; or set KSN_SENTINEL_PASSWORD; "
                   "default: none, whatever --pass is)")
        ->envname("KSN_SENTINEL_PASSWORD");
    app.add_flag("--sentinel-tls", sentinel_tls,
                 "Connect to the sentinels with TLS, with the same --cacert, --cert, --key and "
                 "--insecure as the data nodes (each sentinel's host is the name verified)")
        ->needs(sentinel_opt);
}

net::connection_options server_flags::connection(std::string client_name) const {
    net::connection_options o;
    o.address = socket.empty() ? net::endpoint{host, port} : net::endpoint::unix_socket(socket);
    o.username = user;
    o.password = password;
    if (!password_file.empty()) {
        o.credentials_provider = [file = password_file, user = user](const net::endpoint&) {
            return net::credentials{user, read_password_file(file)};
        };
    }
    o.client_name = std::move(client_name);
    o.resp = static_cast<net::resp_version>(resp);
    o.tls.enabled = tls;
    o.tls.ca_file = cacert;
    o.tls.cert_file = cert;
    o.tls.key_file = key;
    o.tls.server_name = sni;
    o.tls.verify = !insecure;
    return o;
}

net::connection_options server_flags::sentinel_connection(std::string client_name) const {
    net::connection_options o;
    o.username = sentinel_user;
    o.password = sentinel_password;
    o.client_name = std::move(client_name);
    o.resp = static_cast<net::resp_version>(resp);
    o.tls.enabled = sentinel_tls;
    o.tls.ca_file = cacert;
    o.tls.cert_file = cert;
    o.tls.key_file = key;
    o.tls.verify = !insecure;
    return o;
}

std::vector<net::endpoint> server_flags::sentinel_endpoints() const {
    std::vector<net::endpoint> out;
    for (const auto& s : sentinels)
        out.push_back(parse_endpoint(s, "--sentinel"));
    return out;
}

std::string read_password_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw std::runtime_error("cannot read --pass-file " + path + ": " + std::strerror(errno));
    }
    std::string line;
    std::getline(in, line);
    if (in.bad()) throw std::runtime_error("cannot read --pass-file " + path);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

std::vector<net::endpoint> server_flags::seed_endpoints() const {
    std::vector<net::endpoint> out{{host, port}};
    for (const auto& s : seeds)
        out.push_back(parse_endpoint(s));
    return out;
}

net::endpoint parse_endpoint(const std::string& text, const std::string& option) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 == text.size()) {
        throw std::invalid_argument(option + " " + text + ": expected HOST:PORT");
    }
    std::string h = text.substr(0, colon);
    if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
    const std::string p = text.substr(colon + 1);
    char* end = nullptr;
    const long n = std::strtol(p.c_str(), &end, 10);
    if (h.empty() || *end != '\0' || n <= 0 || n > 65535) {
        throw std::invalid_argument(option + " " + text + ": expected HOST:PORT");
    }
    return {h, static_cast<std::uint16_t>(n)};
}

}  // namespace ksn::tools
