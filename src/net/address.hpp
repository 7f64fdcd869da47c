// src/net/address.hpp — between mpx::net::Address and struct sockaddr.
//
// Python turns an address tuple into a sockaddr according to the socket's
// family, not the tuple's shape (getsockaddrarg in socketmodule.c): an
// AF_INET6 socket takes a (host, port) pair too. These do the same, and
// resolve host names with getaddrinfo as Python's setipaddr does.
#pragma once

#include <sys/socket.h>

#include "mpx/net/socket.hpp"

namespace mpx::net::impl {

struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = sizeof(sockaddr_storage);

  sockaddr* get() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
  const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// `address` as a sockaddr for a socket of `family`.
/// Throws: ValueError (wrong kind of address, path too long), OSError naming
///   getaddrinfo if a host name does not resolve.
SockAddr to_sockaddr(int family, const Address& address);

/// The kernel's sockaddr back as Python's tuple for `family`.
Address from_sockaddr(const SockAddr& sa);

}  // namespace mpx::net::impl
