#include "tests/support/tls.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <vector>

#include "tests/support/redis_cluster.hpp"

namespace ksn::test {

namespace {

void openssl(const std::string& dir, std::vector<std::string> args) {
    std::vector<std::string> argv{"/usr/bin/openssl"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (auto& a : argv) {
        if (a.rfind("@", 0) == 0) a = dir + "/" + a.substr(1);
    }
    std::string out;
    if (run_command(argv, out, std::chrono::seconds(30)) != 0) {
        throw std::runtime_error("openssl failed (is Debian's openssl installed?): " + out);
    }
}

void key(const std::string& dir, const std::string& name) {
    openssl(dir, {"ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "@" + name});
}

}  // namespace

tls_material::tls_material() {
    char tmpl[] = "/tmp/ksn-tls-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    for (const char* ca : {"ca", "other-ca"}) {
        key(dir_, std::string(ca) + ".key");
        openssl(dir_, {"req", "-x509", "-new", "-key", "@" + std::string(ca) + ".key", "-days", "2",
                       "-subj", "/CN=ksn test " + std::string(ca), "-out",
                       "@" + std::string(ca) + ".crt"});
    }
    std::ofstream(dir_ + "/server.ext")
        << "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        << "extendedKeyUsage=serverAuth,clientAuth\n";  // the cluster bus uses it both ways
    std::ofstream(dir_ + "/client.ext") << "extendedKeyUsage=clientAuth\n";
    for (const char* who : {"server", "client"}) {
        const std::string w = who;
        key(dir_, w + ".key");
        openssl(dir_, {"req", "-new", "-key", "@" + w + ".key", "-subj", "/CN=ksn test " + w,
                       "-out", "@" + w + ".csr"});
        openssl(dir_, {"x509", "-req", "-in", "@" + w + ".csr", "-CA", "@ca.crt", "-CAkey",
                       "@ca.key", "-CAcreateserial", "-days", "2", "-extfile", "@" + w + ".ext",
                       "-out", "@" + w + ".crt"});
    }
}

tls_material::~tls_material() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

std::string tls_material::server_config(std::uint16_t tls_port, bool require_client_cert) const {
    return "tls-port " + std::to_string(tls_port) + "\ntls-cert-file " + server_cert() +
           "\ntls-key-file " + server_key() + "\ntls-ca-cert-file " + ca_cert() +
           "\ntls-auth-clients " + (require_client_cert ? "yes" : "no");
}

}  // namespace ksn::test
