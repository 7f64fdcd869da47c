// src/aio/sockets.cpp — loop.sock_*: one attempt, then a readiness wait.
//
// The wait (FdReady) is a DirectWait rather than a Future: cancelling it
// removes the reader/writer at once, not when the task next runs, so a
// cancelled sock_recv cannot remove the reader a newer call on the same
// socket has added meanwhile (asyncio gets the same effect by cancelling the
// old handle in add_reader).
#include "mpx/aio/sockets.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "mpx/detail/fd.hpp"
#include "mpx/detail/future_core.hpp"

namespace mpx::aio {
namespace {

/// Readiness of one descriptor, through add_reader / add_writer.
class FdReady final : public detail::DirectWait {
 public:
  FdReady(int fd, bool write) noexcept : fd_(fd), write_(write) {}
  FdReady(const FdReady& o) noexcept : DirectWait(o), fd_(o.fd_), write_(o.write_) {}
  ~FdReady() override { release(); }

 private:
  void arm() override {
    if (write_) {
      loop().add_writer(fd_, [this] { wake(); });
    } else {
      loop().add_reader(fd_, [this] { wake(); });
    }
  }
  void disarm() noexcept override {
    try {
      if (write_) {
        loop().remove_writer(fd_);
      } else {
        loop().remove_reader(fd_);
      }
    } catch (...) {
      // Only epoll_ctl can fail here, on a descriptor already closed: nothing is watched then.
      mpx::detail::log_exception("removing a sock_* wait", std::current_exception());
    }
  }

  int fd_;
  bool write_;
};

void check_nonblocking(const net::Socket& sock) {
  if (sock.getblocking()) throw ValueError("the socket must be non-blocking");
}

}  // namespace

Task<> detail::wait_fd(int fd, int events) { co_await FdReady(fd, (events & EV_WRITE) != 0); }

Task<Bytes> sock_recv(net::Socket& sock, std::size_t nbytes) {
  check_nonblocking(sock);
  Bytes buf(nbytes);
  for (;;) {
    if (auto n = sock.try_recv(buf)) {
      buf.resize(*n);
      co_return buf;
    }
    co_await FdReady(sock.fileno(), false);
  }
}

Task<std::size_t> sock_recv_into(net::Socket& sock, std::span<std::byte> buf) {
  check_nonblocking(sock);
  for (;;) {
    if (auto n = sock.try_recv(buf)) co_return *n;
    co_await FdReady(sock.fileno(), false);
  }
}

Task<> sock_sendall(net::Socket& sock, std::span<const std::byte> data) {
  check_nonblocking(sock);
  std::size_t sent = 0;
  while (sent < data.size()) {
    if (auto n = sock.try_send(data.subspan(sent))) {
      sent += *n;
    } else {
      co_await FdReady(sock.fileno(), true);
    }
  }
}

Task<> sock_sendall(net::Socket& sock, std::string_view data) {
  return sock_sendall(sock, std::as_bytes(std::span(data.data(), data.size())));
}

Task<std::pair<net::Socket, net::Address>> sock_accept(net::Socket& sock) {
  check_nonblocking(sock);
  for (;;) {
    net::Address peer;
    if (auto conn = sock.try_accept(&peer)) co_return std::pair<net::Socket, net::Address>(std::move(*conn), peer);
    co_await FdReady(sock.fileno(), false);
  }
}

Task<> sock_connect(net::Socket& sock, const net::Address& address) {
  check_nonblocking(sock);
  int err = sock.connect_ex(address);
  if (err == EINPROGRESS || err == EAGAIN) {
    co_await FdReady(sock.fileno(), true);
    err = sock.getsockopt(SOL_SOCKET, SO_ERROR);
  }
  if (err != 0) mpx::detail::throw_os_error("connect to " + net::to_string(address), err);
}

}  // namespace mpx::aio
