// BaseServer: Python's BaseServer, TCPServer and UDPServer in one.
//
//   serve_forever ──► selector_.select(poll_interval)
//                       ├─ wakeup_ (eventfd)  shutdown() wrote it: leave the loop
//                       ├─ socket             handle_request_noblock(): get_request,
//                       │                     verify_request, process_request (the policy)
//                       └─ watches_           a policy's descriptors (children's pidfds)
//                     service_actions()
//
// The listening socket is non-blocking: after select says "readable",
// another thread or worker process may have taken the client first, and
// get_request must then come back empty rather than block (Python's
// listener is blocking and would hang in accept there).
#include <cstdint>
#include <cstdio>
#include <exception>

#include "mpx/detail/remote_exception.hpp"
#include "mpx/errors.hpp"
#include "mpx/socketserver.hpp"
#include "os/sys.hpp"

static_assert(mpx::socketserver::detail::kAfUnix == AF_UNIX && mpx::socketserver::detail::kAfInet == AF_INET);

namespace mpx::socketserver {

using mpx::detail::Deadline;

BaseServer::BaseServer(detail::TransportInfo transport, net::Address address, HandlerClass handler,
                       bool bind_and_activate)
    : server_address(std::move(address)),
      RequestHandlerClass(std::move(handler)),
      socket(transport.family, transport.type),
      allow_reuse_address(transport.type == net::SOCK_STREAM),
      transport_(transport),
      wakeup_(mpx::detail::Fd::eventfd(0, true)) {
  socket.setblocking(false);
  selector_.register_(wakeup_.get(), net::EVENT_READ);
  selector_.register_(socket.fileno(), net::EVENT_READ);
  if (bind_and_activate) {
    try {
      server_bind();
      server_activate();
    } catch (...) {
      BaseServer::server_close();
      throw;
    }
  }
}

BaseServer::~BaseServer() { BaseServer::server_close(); }

void BaseServer::server_bind() {
  // Bare macros: <sys/socket.h> (via os/sys.hpp) defines these names.
  if (transport_.family != AF_UNIX) {
    if (allow_reuse_address) socket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
    if (allow_reuse_port) socket.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
  }
  socket.bind(server_address);
  server_address = socket.getsockname();
}

void BaseServer::server_activate() {
  if (is_stream()) socket.listen(request_queue_size);
}

void BaseServer::server_close() {
  if (closed_) return;
  closed_ = true;
  if (!socket.closed() && !paused_ && !selector_.closed()) selector_.unregister(socket.fileno());
  socket.close();
}

bool BaseServer::verify_request(Request&, const net::Address&) { return true; }

void BaseServer::process_request(Request& request, const net::Address& client_address) {
  finish_request(request, client_address);
  shutdown_request(request);
}

void BaseServer::finish_request(Request& request, const net::Address& client_address) {
  RequestHandlerClass(request, client_address, *this);
}

void BaseServer::shutdown_request(Request& request) {
  if (!request.is_datagram() && !request.connection.closed()) {
    try {
      // Python: "explicitly shutdown" so the client sees EOF even if a
      // forked child still holds a copy of the descriptor.
      request.connection.shutdown(net::SHUT_WR);
    } catch (const OSError&) {  // the client may have gone already
    }
  }
  close_request(request);
}

void BaseServer::close_request(Request& request) {
  if (!request.is_datagram()) request.connection.close();
}

void BaseServer::handle_error(Request&, const net::Address& client_address) {
  auto what = mpx::detail::capture_exception(std::current_exception());
  std::string line(40, '-');
  std::fprintf(stderr, "%s\nException occurred during processing of request from %s\n%s: %s\n%s\n", line.c_str(),
               net::to_string(client_address).c_str(), what.type.c_str(), what.message.c_str(), line.c_str());
  std::fflush(stderr);
}

std::optional<std::pair<Request, net::Address>> BaseServer::get_request() {
  Request request;
  if (is_stream()) {
    try {
      auto [conn, address] = socket.accept();
      request.connection = std::move(conn);
      return std::pair{std::move(request), std::move(address)};
    } catch (const BlockingIOError&) {
      return std::nullopt;  // another thread or worker took it
    }
  }
  try {
    auto [data, address] = socket.recvfrom(max_packet_size);
    request.packet = std::move(data);
    request.server_socket = &socket;
    return std::pair{std::move(request), std::move(address)};
  } catch (const BlockingIOError&) {
    return std::nullopt;
  }
}

void BaseServer::handle_request_noblock() {
  std::optional<std::pair<Request, net::Address>> got;
  try {
    got = get_request();
  } catch (const OSError&) {
    return;  // Python: a failed accept is not the server's end (ECONNABORTED, EMFILE)
  }
  if (!got) return;
  auto& [request, client_address] = *got;
  if (!verify_request(request, client_address)) {
    shutdown_request(request);
    return;
  }
  try {
    process_request(request, client_address);
  } catch (const std::exception&) {
    handle_error(request, client_address);
    shutdown_request(request);
  } catch (...) {
    // Not an error a server reports (mpx::exit's unwinding in a child, a
    // thread being cancelled): Python's BaseException.
    shutdown_request(request);
    throw;
  }
}

void BaseServer::watch(int fd, std::function<void()> on_ready) {
  selector_.register_(fd, net::EVENT_READ);
  watches_[fd] = std::move(on_ready);
}

void BaseServer::unwatch(int fd) {
  if (watches_.erase(fd) != 0) selector_.unregister(fd);
}

void BaseServer::pause_accepting(bool paused) {
  if (paused == paused_ || closed_) return;
  paused_ = paused;
  if (paused) {
    selector_.unregister(socket.fileno());
  } else {
    selector_.register_(socket.fileno(), net::EVENT_READ);
  }
}

void BaseServer::drain_wakeup() noexcept {
  std::uint64_t count = 0;
  // Non-blocking; EAGAIN means nothing was there.
  (void)mpx::detail::sys::read(wakeup_.get(), &count, sizeof count);
}

void BaseServer::dispatch(net::Ready& ready, bool& socket_ready) {
  for (auto& [key, events] : ready) {
    int fd = key->fd;
    if (fd == wakeup_.get()) {
      drain_wakeup();
    } else if (fd == socket.fileno()) {
      socket_ready = true;
    } else if (auto it = watches_.find(fd); it != watches_.end()) {
      auto on_ready = it->second;  // the callback may unwatch itself
      on_ready();
    }
  }
}

void BaseServer::serve_loop(std::chrono::nanoseconds poll_interval) {
  while (!shutdown_request_.load(std::memory_order_acquire)) {
    net::Ready ready = selector_.select(poll_interval);
    if (shutdown_request_.load(std::memory_order_acquire)) break;
    bool socket_ready = false;
    dispatch(ready, socket_ready);
    if (socket_ready) handle_request_noblock();
    service_actions();
  }
}

void BaseServer::serve_forever(std::chrono::nanoseconds poll_interval) {
  {
    std::lock_guard lk(mu_);
    is_shut_down_ = false;
  }
  struct Finally {
    BaseServer& s;
    ~Finally() {
      s.shutdown_request_.store(false, std::memory_order_release);
      try {
        s.serve_stopping();
      } catch (...) {  // NOLINT: a destructor must not throw; the loop's own error wins
      }
      std::lock_guard lk(s.mu_);
      s.is_shut_down_ = true;
      s.cv_.notify_all();
    }
  } finally{*this};
  serve_starting();
  serve_loop(poll_interval);
}

void BaseServer::shutdown() {
  shutdown_request_.store(true, std::memory_order_release);
  std::uint64_t one = 1;
  if (mpx::detail::sys::write(wakeup_.get(), &one, sizeof one) < 0 && errno != EAGAIN) {
    mpx::detail::throw_os_error("write(eventfd)");
  }
  std::unique_lock lk(mu_);
  cv_.wait(lk, [this] { return is_shut_down_; });
}

void BaseServer::handle_request() {
  Deadline deadline = timeout ? Deadline::after(*timeout) : Deadline::never();
  for (;;) {
    net::Ready ready = selector_.select_until(deadline);
    bool socket_ready = false;
    dispatch(ready, socket_ready);
    if (socket_ready) {
      handle_request_noblock();
      return;
    }
    if (deadline.expired()) {
      handle_timeout();
      return;
    }
  }
}

}  // namespace mpx::socketserver
