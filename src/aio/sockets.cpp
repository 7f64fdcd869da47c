// src/aio/sockets.cpp — loop.sock_*: one attempt, then a readiness wait.
//
// The wait (FdReady) is a Waiter of its own rather than a Future: cancelling
// it removes the reader/writer at once, not when the task next runs, so a
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

class FdReady final : public detail::Waiter {
 public:
  FdReady(int fd, bool write) noexcept : Waiter(&cancel_wait), fd_(fd), write_(write) {}
  // Moved only before it is awaited (the coroutine machinery may copy the operand).
  FdReady(FdReady&& o) noexcept : Waiter(&cancel_wait), fd_(o.fd_), write_(o.write_) {}
  FdReady& operator=(const FdReady&) = delete;
  ~FdReady() { disarm(); }

  bool await_ready() const noexcept { return false; }
  template <class P>
  void await_suspend(std::coroutine_handle<P> h) {
    suspend(h.promise().root, h);
  }
  void await_resume() {
    task_->resumed();
    if (cancelled_) throw CancelledError(msg_);
  }

 private:
  void suspend(detail::TaskCore* t, std::coroutine_handle<> h) {
    task_ = t;
    loop_ = t->loop();
    auto ready = [this] {
      disarm();
      loop_->schedule(task_);
    };
    if (write_) {
      loop_->add_writer(fd_, ready);
    } else {
      loop_->add_reader(fd_, ready);
    }
    armed_ = true;
    t->suspend_at(h, this);
    // Python's __step: a task cancelled while running cancels what it awaits next.
    if (t->must_cancel && cancel(t->cancel_msg())) t->must_cancel = false;
  }
  void disarm() noexcept {
    if (!armed_) return;
    armed_ = false;
    try {
      if (write_) {
        loop_->remove_writer(fd_);
      } else {
        loop_->remove_reader(fd_);
      }
    } catch (...) {
      // Only epoll_ctl can fail here, on a descriptor already closed: nothing is watched then.
      mpx::detail::log_exception("removing a sock_* wait", std::current_exception());
    }
  }
  static bool cancel_wait(detail::Waiter* w, const std::string& msg) noexcept {
    auto* self = static_cast<FdReady*>(w);
    if (!self->armed_) return false;  // already woken: the task gets it at resumption
    self->disarm();
    self->cancelled_ = true;
    self->msg_ = msg;
    self->loop_->schedule(self->task_);
    return true;
  }

  int fd_;
  bool write_;
  bool armed_ = false;
  bool cancelled_ = false;
  detail::TaskCore* task_ = nullptr;
  EventLoop* loop_ = nullptr;
  std::string msg_;
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
