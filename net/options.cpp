#include "net/options.hpp"

#include <sys/un.h>

namespace ksn::net {

const std::size_t endpoint::max_socket_path = sizeof(sockaddr_un::sun_path) - 1;

std::string endpoint::to_string() const {
    if (is_unix()) return "unix:" + socket_path;
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

}  // namespace ksn::net
