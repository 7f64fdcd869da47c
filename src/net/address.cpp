// Address <-> sockaddr, and Python's printing of address tuples.
#include "net/address.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>

namespace mpx::net {

namespace {

// Python's repr of a str: single quotes, backslash escapes for the rest.
void quote(std::ostream& out, const std::string& s, bool as_bytes) {
  if (as_bytes) out << 'b';
  out << '\'';
  for (unsigned char c : s) {
    if (c == '\'' || c == '\\') {
      out << '\\' << c;
    } else if (c >= 0x20 && c < 0x7f) {
      out << c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out << "\\x" << kHex[c >> 4] << kHex[c & 15];
    }
  }
  out << '\'';
}

}  // namespace

std::string to_string(const Address& address) {
  std::ostringstream out;
  out << address;
  return out.str();
}

std::ostream& operator<<(std::ostream& out, const Address& address) {
  if (auto* a = std::get_if<InetAddress>(&address)) {
    out << '(';
    quote(out, a->host, false);
    out << ", " << a->port << ')';
  } else if (auto* a6 = std::get_if<Inet6Address>(&address)) {
    out << '(';
    quote(out, a6->host, false);
    out << ", " << a6->port << ", " << a6->flowinfo << ", " << a6->scope_id << ')';
  } else {
    const auto& path = std::get<UnixAddress>(address).path;
    // Python returns an abstract-namespace name as bytes, a path as str.
    quote(out, path, !path.empty() && path[0] == '\0');
  }
  return out;
}

std::uint16_t port(const Address& address) {
  if (auto* a = std::get_if<InetAddress>(&address)) return a->port;
  if (auto* a6 = std::get_if<Inet6Address>(&address)) return a6->port;
  throw ValueError("an AF_UNIX address has no port");
}

const std::string& host(const Address& address) {
  if (auto* a = std::get_if<InetAddress>(&address)) return a->host;
  if (auto* a6 = std::get_if<Inet6Address>(&address)) return a6->host;
  return std::get<UnixAddress>(address).path;
}

namespace impl {

namespace {

// Python's setipaddr: "" is the any address, "<broadcast>" the broadcast
// one, numeric forms are parsed without a lookup, anything else resolved.
void set_ip(int family, const std::string& host, void* out) {
  if (host.empty()) {
    if (family == AF_INET) {
      static_cast<in_addr*>(out)->s_addr = htonl(INADDR_ANY);
    } else {
      *static_cast<in6_addr*>(out) = in6addr_any;
    }
    return;
  }
  if (family == AF_INET && host == "<broadcast>") {
    static_cast<in_addr*>(out)->s_addr = htonl(INADDR_BROADCAST);
    return;
  }
  if (::inet_pton(family, host.c_str(), out) == 1) return;
  addrinfo hints{};
  hints.ai_family = family;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) {
    // gaierror in Python: an OSError carrying getaddrinfo's own message.
    throw OSError(rc == EAI_SYSTEM ? errno : 0, "getaddrinfo " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, ::freeaddrinfo);
  if (family == AF_INET) {
    *static_cast<in_addr*>(out) = reinterpret_cast<const sockaddr_in*>(res->ai_addr)->sin_addr;
  } else {
    *static_cast<in6_addr*>(out) = reinterpret_cast<const sockaddr_in6*>(res->ai_addr)->sin6_addr;
  }
}

std::string ip_text(int family, const void* addr) {
  char buf[INET6_ADDRSTRLEN];
  if (!::inet_ntop(family, addr, buf, sizeof buf)) mpx::detail::throw_os_error("inet_ntop");
  return buf;
}

}  // namespace

SockAddr to_sockaddr(int family, const Address& address) {
  SockAddr sa;
  if (family == AF_INET) {
    auto* a = std::get_if<InetAddress>(&address);
    if (!a) throw ValueError("AF_INET address must be a (host, port) InetAddress, got " + to_string(address));
    auto* in = reinterpret_cast<sockaddr_in*>(&sa.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(a->port);
    set_ip(AF_INET, a->host, &in->sin_addr);
    sa.len = sizeof(sockaddr_in);
  } else if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&sa.storage);
    in6->sin6_family = AF_INET6;
    if (auto* a = std::get_if<InetAddress>(&address)) {
      in6->sin6_port = htons(a->port);
      set_ip(AF_INET6, a->host, &in6->sin6_addr);
    } else if (auto* a6 = std::get_if<Inet6Address>(&address)) {
      in6->sin6_port = htons(a6->port);
      in6->sin6_flowinfo = htonl(a6->flowinfo);
      in6->sin6_scope_id = a6->scope_id;
      set_ip(AF_INET6, a6->host, &in6->sin6_addr);
    } else {
      throw ValueError("AF_INET6 address must be an Inet6Address or an InetAddress pair, got " + to_string(address));
    }
    sa.len = sizeof(sockaddr_in6);
  } else if (family == AF_UNIX) {
    auto* u = std::get_if<UnixAddress>(&address);
    if (!u) throw ValueError("AF_UNIX address must be a UnixAddress path, got " + to_string(address));
    auto* un = reinterpret_cast<sockaddr_un*>(&sa.storage);
    un->sun_family = AF_UNIX;
    // A path needs its terminating NUL; an abstract name (leading NUL) does not.
    bool abstract = !u->path.empty() && u->path[0] == '\0';
    if (u->path.size() + (abstract ? 0 : 1) > sizeof un->sun_path) {
      throw OSError(ENAMETOOLONG, "AF_UNIX path too long");
    }
    std::memcpy(un->sun_path, u->path.data(), u->path.size());
    sa.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + u->path.size() + (abstract ? 0 : 1));
  } else {
    throw ValueError("unsupported address family " + std::to_string(family));
  }
  return sa;
}

Address from_sockaddr(const SockAddr& sa) {
  switch (sa.storage.ss_family) {
    case AF_INET: {
      auto* in = reinterpret_cast<const sockaddr_in*>(&sa.storage);
      return InetAddress{ip_text(AF_INET, &in->sin_addr), ntohs(in->sin_port)};
    }
    case AF_INET6: {
      auto* in6 = reinterpret_cast<const sockaddr_in6*>(&sa.storage);
      return Inet6Address{ip_text(AF_INET6, &in6->sin6_addr), ntohs(in6->sin6_port), ntohl(in6->sin6_flowinfo),
                          in6->sin6_scope_id};
    }
    case AF_UNIX: {
      auto* un = reinterpret_cast<const sockaddr_un*>(&sa.storage);
      // The kernel's length bounds the name; never read past it or past sun_path.
      std::size_t off = offsetof(sockaddr_un, sun_path);
      std::size_t n = sa.len > off ? sa.len - off : 0;
      if (n > sizeof un->sun_path) n = sizeof un->sun_path;
      std::string path(un->sun_path, n);
      if (!path.empty() && path[0] != '\0') path.resize(::strnlen(path.data(), path.size()));
      return UnixAddress{std::move(path)};
    }
    default:
      // An unnamed AF_UNIX peer is reported with family AF_UNSPEC (len 0 or 2).
      return UnixAddress{};
  }
}

}  // namespace impl
}  // namespace mpx::net
