// mpx/net/socket.hpp — Python's socket module: TCP, UDP and Unix sockets.
//
//   using namespace mpx::net;
//   Socket server = create_server(InetAddress{"127.0.0.1", 0});
//   auto port = net::port(server.getsockname());
//   Socket client = create_connection("127.0.0.1", port);
//   auto [conn, peer] = server.accept();          // peer prints as ('127.0.0.1', 51234)
//   client.sendall("ping");
//   Bytes reply = conn.recv(1024);                // as_text(reply) == "ping"
//
// Blocking follows Python exactly: a socket is blocking (timeout None), has a
// timeout (the call raises mpx::TimeoutError "timed out" after it), or is
// non-blocking (timeout 0: a call that would wait raises BlockingIOError).
// With a timeout the descriptor is O_NONBLOCK and waits happen in poll(2),
// as CPython's sock_call does; the call is tried first and polled only on
// EAGAIN, which saves a syscall whenever data is already there.
//
// Event loops (selectors, aio, socketserver) use the try_ calls instead: one
// syscall, "would block" as std::nullopt — never an exception on EAGAIN.
//
// SIGPIPE never kills the process: every send passes MSG_NOSIGNAL, and a
// peer that is gone raises BrokenPipeError or ConnectionResetError.
//
// The constants carry Linux's values and Python's names. <sys/socket.h>
// defines AF_INET and friends as macros: after including it, write the bare
// macro (AF_INET, same value) rather than mpx::net::AF_INET.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "mpx/detail/bytes.hpp"
#include "mpx/detail/fd.hpp"
#include "mpx/errors.hpp"

namespace mpx::net {

struct CreateConnectionOptions;

// Python: socket.AF_*, SOCK_*, SHUT_*, SOL_*, SO_*, IPPROTO_*, TCP_NODELAY.
#ifndef AF_UNIX
inline constexpr int AF_UNIX = 1;
#endif
#ifndef AF_INET
inline constexpr int AF_INET = 2;
#endif
#ifndef AF_INET6
inline constexpr int AF_INET6 = 10;
#endif
inline constexpr int SOCK_STREAM = 1;
inline constexpr int SOCK_DGRAM = 2;
inline constexpr int SHUT_RD = 0;
inline constexpr int SHUT_WR = 1;
inline constexpr int SHUT_RDWR = 2;
inline constexpr int IPPROTO_TCP = 6;
#ifndef SOL_SOCKET
inline constexpr int SOL_SOCKET = 1;
#endif
#ifndef SO_REUSEADDR
inline constexpr int SO_REUSEADDR = 2;
inline constexpr int SO_TYPE = 3;
inline constexpr int SO_ERROR = 4;
inline constexpr int SO_SNDBUF = 7;
inline constexpr int SO_RCVBUF = 8;
inline constexpr int SO_KEEPALIVE = 9;
inline constexpr int SO_REUSEPORT = 15;
#endif
#ifndef TCP_NODELAY
inline constexpr int TCP_NODELAY = 1;
#endif

/// Python's (host, port) tuple of AF_INET; also accepted by AF_INET6 sockets.
/// `host` may be a numeric address, "" (any), or a name to resolve.
struct InetAddress {
  std::string host;
  std::uint16_t port = 0;
  bool operator==(const InetAddress&) const = default;
};
/// Python's (host, port, flowinfo, scope_id) tuple of AF_INET6.
struct Inet6Address {
  std::string host;
  std::uint16_t port = 0;
  std::uint32_t flowinfo = 0;
  std::uint32_t scope_id = 0;
  bool operator==(const Inet6Address&) const = default;
};
/// Python's str path of AF_UNIX; a leading '\0' is Linux's abstract namespace,
/// "" an unnamed socket (one end of a socketpair).
struct UnixAddress {
  std::string path;
  bool operator==(const UnixAddress&) const = default;
};
/// What bind/connect take and getsockname/accept/recvfrom return.
using Address = std::variant<InetAddress, Inet6Address, UnixAddress>;

/// Prints as Python prints the tuple: ('127.0.0.1', 8080), ('::1', 8080, 0, 0), '/tmp/s'.
std::string to_string(const Address& address);
std::ostream& operator<<(std::ostream& out, const Address& address);
/// The port of an inet address; Throws: ValueError for a Unix address.
std::uint16_t port(const Address& address);
/// The host (or the path of a Unix address).
const std::string& host(const Address& address);
/// Received bytes viewed as text (Python: data.decode() for ASCII).
inline std::string_view as_text(std::span<const std::byte> data) noexcept {
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

/// Python: socket.socket. Owns its descriptor (close-on-exec); movable, not copyable.
/// Each Socket may be used by one thread at a time, as in Python.
class Socket {
 public:
  /// Python: socket.socket(family=AF_INET, type=SOCK_STREAM, proto=0). The
  /// new socket takes getdefaulttimeout(). Throws: OSError.
  explicit Socket(int family = AF_INET, int type = SOCK_STREAM, int proto = 0);
  /// Takes ownership of an open socket descriptor; family, type and proto are
  /// read from the kernel. Python: socket.socket(fileno=fd). Throws: OSError.
  static Socket adopt(int fd);
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  ~Socket();

  int family() const noexcept { return family_; }
  int type() const noexcept { return type_; }
  int proto() const noexcept { return proto_; }
  /// Python: fileno(); -1 once closed or detached.
  int fileno() const noexcept { return fd_.get(); }
  bool closed() const noexcept { return !fd_; }
  /// Python: close(). Idempotent; the destructor calls it.
  void close() noexcept;
  /// Gives up the descriptor without closing it. Python: detach().
  int detach() noexcept;

  /// Python: bind(address). Throws: OSError (e.g. EADDRINUSE), ValueError for
  ///   an address of another family.
  void bind(const Address& address);
  /// Python: listen(). The backlog is SOMAXCONN: the kernel clamps it to
  /// net.core.somaxconn anyway, and a short queue turns a burst of connects
  /// into SYN retransmits (a 1 s stall each) — Python's 128 is a 1990s figure.
  void listen();
  /// Python: listen(backlog); negative means 0, as in Python.
  void listen(int backlog);
  /// Python: accept() -> (conn, address). The new socket has getdefaulttimeout().
  /// Blocks: per this socket's timeout. Throws: TimeoutError, BlockingIOError, OSError.
  std::pair<Socket, Address> accept();
  /// Python: connect(address). Blocks: per the timeout (a non-blocking
  /// connect is polled for completion). Throws: ConnectionRefusedError,
  ///   TimeoutError, BlockingIOError (EINPROGRESS) at timeout 0, OSError.
  void connect(const Address& address);
  /// Python: connect_ex(address): the errno instead of an exception (0 on success).
  int connect_ex(const Address& address);

  /// Python: send(data[, flags]) -> bytes sent (maybe fewer than given).
  /// Blocks: per the timeout. Throws: BrokenPipeError, ConnectionResetError,
  ///   TimeoutError, BlockingIOError, OSError.
  std::size_t send(std::span<const std::byte> data, int flags = 0);
  std::size_t send(std::string_view data, int flags = 0) { return send(bytes_of(data), flags); }
  /// Python: sendall(data[, flags]); the timeout bounds the whole call.
  /// Throws: as send; on error an unknown prefix of `data` may have been sent.
  void sendall(std::span<const std::byte> data, int flags = 0);
  void sendall(std::string_view data, int flags = 0) { sendall(bytes_of(data), flags); }
  /// Python: recv(bufsize[, flags]); empty at EOF. Throws: as send.
  Bytes recv(std::size_t bufsize, int flags = 0);
  /// Python: recv_into(buffer, nbytes=0[, flags]) -> bytes received, at most
  /// nbytes (0: the whole buffer). Throws: ValueError if nbytes > buffer size.
  std::size_t recv_into(std::span<std::byte> buffer, std::size_t nbytes = 0, int flags = 0);
  /// Python: sendto(data[, flags], address). Throws: as send.
  std::size_t sendto(std::span<const std::byte> data, const Address& address, int flags = 0);
  std::size_t sendto(std::string_view data, const Address& address, int flags = 0) {
    return sendto(bytes_of(data), address, flags);
  }
  /// Python: recvfrom(bufsize[, flags]) -> (data, address). A datagram longer
  /// than bufsize is truncated, as in Python.
  std::pair<Bytes, Address> recvfrom(std::size_t bufsize, int flags = 0);
  /// Python: recvfrom_into(buffer, nbytes=0[, flags]) -> (nbytes, address).
  std::pair<std::size_t, Address> recvfrom_into(std::span<std::byte> buffer, std::size_t nbytes = 0, int flags = 0);
  /// Python: shutdown(how), how = SHUT_RD, SHUT_WR or SHUT_RDWR. Throws: OSError.
  void shutdown(int how);

  /// Non-throwing-on-EAGAIN calls for event loops: one attempt, whatever the
  /// timeout. std::nullopt means "would block"; errors other than EAGAIN
  /// still throw (they end the connection, so their cost does not matter).
  /// try_recv: 0 at EOF. try_accept: the new socket is non-blocking (timeout 0);
  /// `peer` (if given) receives its address.
  std::optional<std::size_t> try_recv(std::span<std::byte> buffer, int flags = 0);
  std::optional<std::size_t> try_send(std::span<const std::byte> data, int flags = 0);
  std::optional<Socket> try_accept(Address* peer = nullptr);

  /// Python: setblocking(flag): True = settimeout(None), False = settimeout(0).
  void setblocking(bool flag);
  /// Python: getblocking(): false only at timeout 0.
  bool getblocking() const noexcept { return timeout_ns_ != 0; }
  /// Python: settimeout(value): std::nullopt (or mpx::forever) = None =
  /// blocking; 0 = non-blocking. Throws: ValueError for a negative timeout.
  void settimeout(std::optional<std::chrono::nanoseconds> timeout);
  template <class Rep, class Period>
  void settimeout(std::chrono::duration<Rep, Period> timeout) {
    settimeout(std::optional<std::chrono::nanoseconds>(clamp_timeout(timeout)));
  }
  /// Python: gettimeout(); std::nullopt for None.
  std::optional<std::chrono::nanoseconds> gettimeout() const noexcept;

  /// Python: setsockopt(level, optname, int value). Throws: OSError.
  void setsockopt(int level, int optname, int value);
  /// Python: getsockopt(level, optname) for an int option. Throws: OSError.
  int getsockopt(int level, int optname) const;
  /// Python: getsockname(), getpeername(). Throws: OSError (ENOTCONN).
  Address getsockname() const;
  Address getpeername() const;

 private:
  Socket(detail::Fd fd, int family, int type, int proto, std::int64_t timeout_ns);
  static std::span<const std::byte> bytes_of(std::string_view s) noexcept {
    return std::as_bytes(std::span(s.data(), s.size()));
  }
  template <class Rep, class Period>
  static std::chrono::nanoseconds clamp_timeout(std::chrono::duration<Rep, Period> t) {
    if (std::chrono::duration<double>(t) >= std::chrono::duration<double>(std::chrono::nanoseconds::max()))
      return std::chrono::nanoseconds::max();
    return std::chrono::ceil<std::chrono::nanoseconds>(t);
  }
  void apply_timeout(std::int64_t timeout_ns);
  // connect(2) in the socket's mode; the errno (0: connected). `addr` is a sockaddr.
  int connect_raw(const void* addr, unsigned len);
  friend Socket create_connection(const std::string&, std::uint16_t, const CreateConnectionOptions&);
  int fd_or_throw() const;

  detail::Fd fd_;
  int family_ = 0;
  int type_ = 0;
  int proto_ = 0;
  std::int64_t timeout_ns_ = -1;  // -1: None (blocking), 0: non-blocking, >0: timeout
};

/// Python: socket.getdefaulttimeout() / setdefaulttimeout(): the timeout new
/// sockets start with (std::nullopt, blocking, unless changed). Process-wide.
std::optional<std::chrono::nanoseconds> getdefaulttimeout() noexcept;
void setdefaulttimeout(std::optional<std::chrono::nanoseconds> timeout);

/// Python: socket.socketpair(family=AF_UNIX, type=SOCK_STREAM, proto=0). Throws: OSError.
std::pair<Socket, Socket> socketpair(int family = AF_UNIX, int type = SOCK_STREAM, int proto = 0);

struct CreateConnectionOptions {
  /// The new socket's timeout, used for the connect too; unset: getdefaulttimeout().
  std::optional<std::chrono::nanoseconds> timeout = std::nullopt;
  /// Bound before connecting, if set.
  std::optional<Address> source_address = std::nullopt;
};
/// Resolves `host` (IPv4 and IPv6) and connects to the first address that
/// answers. Python: socket.create_connection((host, port), timeout, source_address)
/// Blocks: per the timeout, for each address tried.
/// Throws: the last address's error (ConnectionRefusedError, TimeoutError...);
///   OSError naming getaddrinfo if the name does not resolve.
Socket create_connection(const std::string& host, std::uint16_t port, const CreateConnectionOptions& options = {});

struct CreateServerOptions {
  /// 0: from the address (InetAddress -> AF_INET, Inet6Address -> AF_INET6,
  /// UnixAddress -> AF_UNIX); AF_INET6 makes an InetAddress an IPv6 pair.
  int family = 0;
  /// Unset: listen()'s default (SOMAXCONN).
  std::optional<int> backlog = std::nullopt;
  bool reuse_port = false;
  /// AF_INET6 only: also accept IPv4 connections (IPV6_V6ONLY off).
  bool dualstack_ipv6 = false;
};
/// A listening TCP (or Unix stream) socket with SO_REUSEADDR, as Python's
/// socket.create_server(address, family, backlog, reuse_port, dualstack_ipv6).
/// Throws: OSError (EADDRINUSE...), ValueError for dualstack without AF_INET6.
Socket create_server(const Address& address, const CreateServerOptions& options = {});

/// Python: socket.has_ipv6 is compile-time; this asks the kernel whether an
/// IPv6 socket can be bound to ::1 (false in containers without IPv6).
bool has_ipv6_loopback();
/// Python: socket.has_dualstack_ipv6().
bool has_dualstack_ipv6();

}  // namespace mpx::net
