// mpx::net::Socket: Python's socket object over one owned descriptor.
//
// Timeouts as CPython's sock_call: with a timeout the descriptor is
// O_NONBLOCK, a call that gets EAGAIN waits in poll(2) until the one
// deadline taken at the call's start, then tries again; EINTR is retried
// (PEP 475). Unlike CPython the call is tried before polling, not after:
// when data is already there that saves one poll per call.
#include "mpx/net/socket.hpp"

// Captured before <sys/socket.h> turns these names into macros, to check
// below that mpx's constants are the kernel's.
namespace {
namespace mine {
constexpr int af_unix = mpx::net::AF_UNIX, af_inet = mpx::net::AF_INET, af_inet6 = mpx::net::AF_INET6;
constexpr int sol_socket = mpx::net::SOL_SOCKET, so_reuseaddr = mpx::net::SO_REUSEADDR;
constexpr int so_reuseport = mpx::net::SO_REUSEPORT, so_sndbuf = mpx::net::SO_SNDBUF;
constexpr int so_rcvbuf = mpx::net::SO_RCVBUF, so_keepalive = mpx::net::SO_KEEPALIVE;
constexpr int so_type = mpx::net::SO_TYPE, so_error = mpx::net::SO_ERROR, tcp_nodelay = mpx::net::TCP_NODELAY;
}  // namespace mine
}  // namespace

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <exception>
#include <memory>

#include "mpx/detail/deadline.hpp"
#include "net/address.hpp"
#include "os/sys.hpp"

static_assert(mine::af_unix == AF_UNIX && mine::af_inet == AF_INET && mine::af_inet6 == AF_INET6);
static_assert(mine::sol_socket == SOL_SOCKET && mine::so_reuseaddr == SO_REUSEADDR);
static_assert(mine::so_reuseport == SO_REUSEPORT && mine::so_sndbuf == SO_SNDBUF && mine::so_rcvbuf == SO_RCVBUF);
static_assert(mine::so_keepalive == SO_KEEPALIVE && mine::so_type == SO_TYPE && mine::so_error == SO_ERROR);
static_assert(mine::tcp_nodelay == TCP_NODELAY);
static_assert(mpx::net::SOCK_STREAM == SOCK_STREAM && mpx::net::SOCK_DGRAM == SOCK_DGRAM);
static_assert(mpx::net::SHUT_RD == SHUT_RD && mpx::net::SHUT_WR == SHUT_WR && mpx::net::SHUT_RDWR == SHUT_RDWR);
static_assert(mpx::net::IPPROTO_TCP == IPPROTO_TCP);

namespace mpx::net {

using mpx::detail::Deadline;
using mpx::detail::Fd;
using mpx::detail::throw_os_error;

namespace {

std::atomic<std::int64_t> g_default_timeout_ns{-1};

std::int64_t to_timeout_ns(std::optional<std::chrono::nanoseconds> timeout) {
  if (!timeout || *timeout == std::chrono::nanoseconds::max()) return -1;
  if (timeout->count() < 0) throw ValueError("Timeout value out of range");
  return timeout->count();
}

[[noreturn]] void timed_out() { throw TimeoutError("timed out"); }

Deadline deadline_of(std::int64_t timeout_ns) {
  return timeout_ns > 0 ? Deadline::after(std::chrono::nanoseconds(timeout_ns)) : Deadline::never();
}

// Waits for `events` on fd until the deadline; false once it has passed.
bool wait_ready(int fd, short events, const Deadline& deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = mpx::detail::sys::poll(&p, 1, deadline.poll_timeout_ms());
    if (n > 0) return true;
    if (n == 0 && deadline.expired()) return false;
    if (n < 0 && errno != EINTR) throw_os_error("poll");
  }
}

// One socket call in the socket's mode: `op` is the raw call (-1 + errno).
template <class Op>
ssize_t sock_call(int fd, std::int64_t timeout_ns, const Deadline& deadline, short events, const char* what, Op op) {
  for (;;) {
    ssize_t r = op();
    if (r >= 0) return r;
    int err = errno;
    if (err == EINTR) continue;
    if (timeout_ns > 0 && (err == EAGAIN || err == EWOULDBLOCK)) {
      if (!wait_ready(fd, events, deadline)) timed_out();
      continue;
    }
    throw_os_error(what, err);
  }
}

int getsockopt_int(int fd, int level, int optname) {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, level, optname, &value, &len) != 0) throw_os_error("getsockopt");
  return value;
}

}  // namespace

Socket::Socket(int family, int type, int proto) {
  fd_.reset(::socket(family, type | SOCK_CLOEXEC, proto));
  if (!fd_) throw_os_error("socket");
  family_ = family;
  type_ = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
  proto_ = proto;
  apply_timeout((type & SOCK_NONBLOCK) ? 0 : g_default_timeout_ns.load(std::memory_order_relaxed));
}

Socket::Socket(Fd fd, int family, int type, int proto, std::int64_t timeout_ns)
    : fd_(std::move(fd)), family_(family), type_(type), proto_(proto), timeout_ns_(timeout_ns) {}

Socket Socket::adopt(int fd) {
  Fd owned(fd);
  int family = getsockopt_int(fd, SOL_SOCKET, SO_DOMAIN);
  int type = getsockopt_int(fd, SOL_SOCKET, SO_TYPE);
  int proto = getsockopt_int(fd, SOL_SOCKET, SO_PROTOCOL);
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) throw_os_error("fcntl(F_GETFL)");
  Socket s(std::move(owned), family, type, proto, (fl & O_NONBLOCK) ? 0 : -1);
  if (s.timeout_ns_ < 0) s.apply_timeout(g_default_timeout_ns.load(std::memory_order_relaxed));
  return s;
}

Socket::Socket(Socket&& other) noexcept = default;
Socket& Socket::operator=(Socket&& other) noexcept = default;
Socket::~Socket() = default;

void Socket::close() noexcept { fd_.reset(); }
int Socket::detach() noexcept { return fd_.release(); }

int Socket::fd_or_throw() const {
  // Python raises EBADF for a closed socket; checking here also keeps a -1
  // out of poll(2), which would ignore it and wait out the whole timeout.
  if (!fd_) throw_os_error("socket is closed", EBADF);
  return fd_.get();
}

void Socket::apply_timeout(std::int64_t timeout_ns) {
  int fd = fd_or_throw();
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) throw_os_error("fcntl(F_GETFL)");
  // The descriptor blocks only for timeout None; with a timeout mpx polls.
  int want = timeout_ns < 0 ? (fl & ~O_NONBLOCK) : (fl | O_NONBLOCK);
  if (want != fl && ::fcntl(fd, F_SETFL, want) != 0) throw_os_error("fcntl(F_SETFL)");
  timeout_ns_ = timeout_ns;
}

void Socket::setblocking(bool flag) { apply_timeout(flag ? -1 : 0); }
void Socket::settimeout(std::optional<std::chrono::nanoseconds> timeout) { apply_timeout(to_timeout_ns(timeout)); }

std::optional<std::chrono::nanoseconds> Socket::gettimeout() const noexcept {
  if (timeout_ns_ < 0) return std::nullopt;
  return std::chrono::nanoseconds(timeout_ns_);
}

void Socket::bind(const Address& address) {
  auto sa = impl::to_sockaddr(family_, address);
  if (::bind(fd_or_throw(), sa.get(), sa.len) != 0) throw_os_error("bind");
}

void Socket::listen() { listen(SOMAXCONN); }

void Socket::listen(int backlog) {
  if (::listen(fd_or_throw(), backlog < 0 ? 0 : backlog) != 0) throw_os_error("listen");
}

std::pair<Socket, Address> Socket::accept() {
  int fd = fd_or_throw();
  impl::SockAddr sa;
  auto deadline = deadline_of(timeout_ns_);
  auto nfd = sock_call(fd, timeout_ns_, deadline, POLLIN, "accept", [&] {
    sa.len = sizeof sa.storage;
    return static_cast<ssize_t>(::accept4(fd, sa.get(), &sa.len, SOCK_CLOEXEC));
  });
  Socket conn(Fd(static_cast<int>(nfd)), family_, type_, proto_, -1);
  if (auto t = g_default_timeout_ns.load(std::memory_order_relaxed); t >= 0) conn.apply_timeout(t);
  return {std::move(conn), impl::from_sockaddr(sa)};
}

void Socket::connect(const Address& address) {
  auto sa = impl::to_sockaddr(family_, address);
  if (int err = connect_raw(sa.get(), sa.len)) throw_os_error("connect", err);
}

int Socket::connect_ex(const Address& address) {
  auto sa = impl::to_sockaddr(family_, address);
  return connect_raw(sa.get(), sa.len);
}

int Socket::connect_raw(const void* addr, unsigned len) {
  int fd = fd_or_throw();
  auto deadline = deadline_of(timeout_ns_);
  int err = ::connect(fd, static_cast<const sockaddr*>(addr), len) == 0 ? 0 : errno;
  // An interrupted blocking connect goes on in the kernel, and a timed one
  // is in progress: either way wait for writability, then read the outcome
  // (CPython's internal_connect does the same).
  bool wait = (err == EINTR && timeout_ns_ != 0) || (err == EINPROGRESS && timeout_ns_ > 0);
  if (!wait) return err;
  if (!wait_ready(fd, POLLOUT, deadline)) return EWOULDBLOCK;  // Python's connect_ex on timeout
  return getsockopt_int(fd, SOL_SOCKET, SO_ERROR);
}

std::size_t Socket::send(std::span<const std::byte> data, int flags) {
  int fd = fd_or_throw();
  auto deadline = deadline_of(timeout_ns_);
  auto send = mpx::detail::sys::table().send;
  return static_cast<std::size_t>(sock_call(fd, timeout_ns_, deadline, POLLOUT, "send",
                                            [&] { return send(fd, data.data(), data.size(), flags | MSG_NOSIGNAL); }));
}

void Socket::sendall(std::span<const std::byte> data, int flags) {
  int fd = fd_or_throw();
  auto deadline = deadline_of(timeout_ns_);
  auto send = mpx::detail::sys::table().send;
  while (!data.empty()) {
    auto n = sock_call(fd, timeout_ns_, deadline, POLLOUT, "send",
                       [&] { return send(fd, data.data(), data.size(), flags | MSG_NOSIGNAL); });
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

Bytes Socket::recv(std::size_t bufsize, int flags) {
  Bytes buf(bufsize);
  buf.resize(recv_into(buf, 0, flags));
  return buf;
}

std::size_t Socket::recv_into(std::span<std::byte> buffer, std::size_t nbytes, int flags) {
  if (nbytes > buffer.size()) throw ValueError("buffer too small for requested bytes");
  if (nbytes == 0) nbytes = buffer.size();
  int fd = fd_or_throw();
  auto deadline = deadline_of(timeout_ns_);
  return static_cast<std::size_t>(
      sock_call(fd, timeout_ns_, deadline, POLLIN, "recv", [&] { return ::recv(fd, buffer.data(), nbytes, flags); }));
}

std::size_t Socket::sendto(std::span<const std::byte> data, const Address& address, int flags) {
  auto sa = impl::to_sockaddr(family_, address);
  int fd = fd_or_throw();
  auto deadline = deadline_of(timeout_ns_);
  return static_cast<std::size_t>(sock_call(fd, timeout_ns_, deadline, POLLOUT, "sendto", [&] {
    return ::sendto(fd, data.data(), data.size(), flags | MSG_NOSIGNAL, sa.get(), sa.len);
  }));
}

std::pair<Bytes, Address> Socket::recvfrom(std::size_t bufsize, int flags) {
  Bytes buf(bufsize);
  auto [n, address] = recvfrom_into(buf, 0, flags);
  buf.resize(n);
  return {std::move(buf), std::move(address)};
}

std::pair<std::size_t, Address> Socket::recvfrom_into(std::span<std::byte> buffer, std::size_t nbytes, int flags) {
  if (nbytes > buffer.size()) throw ValueError("nbytes is greater than the length of the buffer");
  if (nbytes == 0) nbytes = buffer.size();
  int fd = fd_or_throw();
  impl::SockAddr sa;
  auto deadline = deadline_of(timeout_ns_);
  auto n = sock_call(fd, timeout_ns_, deadline, POLLIN, "recvfrom", [&] {
    sa.len = sizeof sa.storage;
    sa.storage.ss_family = AF_UNSPEC;
    return ::recvfrom(fd, buffer.data(), nbytes, flags, sa.get(), &sa.len);
  });
  return {static_cast<std::size_t>(n), impl::from_sockaddr(sa)};
}

void Socket::shutdown(int how) {
  if (::shutdown(fd_or_throw(), how) != 0) throw_os_error("shutdown");
}

std::optional<std::size_t> Socket::try_recv(std::span<std::byte> buffer, int flags) {
  int fd = fd_or_throw();
  for (;;) {
    ssize_t n = ::recv(fd, buffer.data(), buffer.size(), flags | MSG_DONTWAIT);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
    if (errno != EINTR) throw_os_error("recv");
  }
}

std::optional<std::size_t> Socket::try_send(std::span<const std::byte> data, int flags) {
  int fd = fd_or_throw();
  auto send = mpx::detail::sys::table().send;
  for (;;) {
    ssize_t n = send(fd, data.data(), data.size(), flags | MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
    if (errno != EINTR) throw_os_error("send");
  }
}

std::optional<Socket> Socket::try_accept(Address* peer) {
  int fd = fd_or_throw();
  // accept has no MSG_DONTWAIT: on a blocking listener, look before leaping.
  if (timeout_ns_ < 0 && !wait_ready(fd, POLLIN, Deadline::now())) return std::nullopt;
  impl::SockAddr sa;
  for (;;) {
    sa.len = sizeof sa.storage;
    int nfd = ::accept4(fd, peer ? sa.get() : nullptr, peer ? &sa.len : nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (nfd >= 0) {
      Socket conn(Fd(nfd), family_, type_, proto_, 0);
      if (peer) *peer = impl::from_sockaddr(sa);
      return conn;
    }
    // ECONNABORTED: that connection died in the queue; the next may be fine.
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::nullopt;
    throw_os_error("accept");
  }
}

void Socket::setsockopt(int level, int optname, int value) {
  if (::setsockopt(fd_or_throw(), level, optname, &value, sizeof value) != 0) throw_os_error("setsockopt");
}

int Socket::getsockopt(int level, int optname) const { return getsockopt_int(fd_or_throw(), level, optname); }

Address Socket::getsockname() const {
  impl::SockAddr sa;
  sa.storage.ss_family = static_cast<sa_family_t>(family_);
  if (::getsockname(fd_or_throw(), sa.get(), &sa.len) != 0) throw_os_error("getsockname");
  return impl::from_sockaddr(sa);
}

Address Socket::getpeername() const {
  impl::SockAddr sa;
  sa.storage.ss_family = static_cast<sa_family_t>(family_);
  if (::getpeername(fd_or_throw(), sa.get(), &sa.len) != 0) throw_os_error("getpeername");
  return impl::from_sockaddr(sa);
}

std::optional<std::chrono::nanoseconds> getdefaulttimeout() noexcept {
  auto t = g_default_timeout_ns.load(std::memory_order_relaxed);
  if (t < 0) return std::nullopt;
  return std::chrono::nanoseconds(t);
}

void setdefaulttimeout(std::optional<std::chrono::nanoseconds> timeout) {
  g_default_timeout_ns.store(to_timeout_ns(timeout), std::memory_order_relaxed);
}

std::pair<Socket, Socket> socketpair(int family, int type, int proto) {
  int fds[2];
  if (::socketpair(family, type | SOCK_CLOEXEC, proto, fds) != 0) throw_os_error("socketpair");
  Fd second(fds[1]);
  Socket a = Socket::adopt(fds[0]);
  return {std::move(a), Socket::adopt(second.release())};
}

}  // namespace mpx::net
