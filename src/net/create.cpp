// The socket module's convenience functions: create_connection,
// create_server, and the IPv6 probes (Lib/socket.py's versions, in C++).
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <exception>
#include <memory>

#include "mpx/net/socket.hpp"
#include "net/address.hpp"

namespace mpx::net {

using mpx::detail::throw_os_error;

Socket create_connection(const std::string& host, std::uint16_t port, const CreateConnectionOptions& options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
    throw OSError(rc == EAI_SYSTEM ? errno : 0, "getaddrinfo " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  // As Python: try each address in getaddrinfo's order, raise the last error.
  std::exception_ptr last;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    try {
      Socket sock(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
      if (options.timeout) sock.settimeout(*options.timeout);
      if (options.source_address) sock.bind(*options.source_address);
      if (int err = sock.connect_raw(ai->ai_addr, ai->ai_addrlen)) {
        if (err == EWOULDBLOCK && sock.gettimeout() && sock.gettimeout()->count() > 0) throw TimeoutError("timed out");
        throw_os_error("connect", err);
      }
      return sock;
    } catch (const Error&) {
      last = std::current_exception();
    }
  }
  if (last) std::rethrow_exception(last);
  throw OSError(0, "getaddrinfo returns an empty list");
}

Socket create_server(const Address& address, const CreateServerOptions& options) {
  static constexpr int kFamilyOf[] = {AF_INET, AF_INET6, AF_UNIX};
  int family = options.family ? options.family : kFamilyOf[address.index()];
  if (options.dualstack_ipv6 && family != AF_INET6) throw ValueError("dualstack_ipv6 requires AF_INET6 family");
  Socket sock(family, SOCK_STREAM);
  // Python sets SO_REUSEADDR on POSIX: a restarted server can rebind while
  // the old connections sit in TIME_WAIT.
  if (family != AF_UNIX) sock.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  if (options.reuse_port) sock.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
  if (family == AF_INET6) sock.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, options.dualstack_ipv6 ? 0 : 1);
  try {
    sock.bind(address);
  } catch (const OSError& e) {
    throw_os_error(std::string(e.what()) + " (while attempting to bind on address " + to_string(address) + ")",
                   e.errno_value());
  }
  if (options.backlog) {
    sock.listen(*options.backlog);
  } else {
    sock.listen();
  }
  return sock;
}

bool has_ipv6_loopback() {
  try {
    Socket s(AF_INET6, SOCK_STREAM);
    s.bind(Inet6Address{"::1", 0});
    return true;
  } catch (const Error&) {
    return false;
  }
}

bool has_dualstack_ipv6() {
  try {
    Socket s(AF_INET6, SOCK_STREAM);
    s.setsockopt(IPPROTO_IPV6, IPV6_V6ONLY, 0);
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace mpx::net
