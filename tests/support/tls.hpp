// Throwaway TLS material for tests, made with the openssl command-line tool: a CA, a
// server certificate for 127.0.0.1 and localhost, a client certificate, and a second,
// unrelated CA (for "wrong CA" tests). Removed with the object.
#pragma once

#include <cstdint>
#include <string>

namespace ksn::test {

class tls_material {
  public:
    tls_material();
    ~tls_material();
    tls_material(const tls_material&) = delete;
    tls_material& operator=(const tls_material&) = delete;

    const std::string& dir() const noexcept { return dir_; }
    std::string ca_cert() const { return dir_ + "/ca.crt"; }
    std::string server_cert() const { return dir_ + "/server.crt"; }
    std::string server_key() const { return dir_ + "/server.key"; }
    std::string client_cert() const { return dir_ + "/client.crt"; }
    std::string client_key() const { return dir_ + "/client.key"; }
    std::string other_ca_cert() const { return dir_ + "/other-ca.crt"; }

    /// redis.conf lines for a TLS port beside the plain one (`tls-port`), with client
    /// certificates required or not.
    std::string server_config(std::uint16_t tls_port, bool require_client_cert) const;

  private:
    std::string dir_;
};

}  // namespace ksn::test
