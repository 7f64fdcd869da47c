// src/aio/server.cpp — asyncio.Server: a listening socket on the loop.
//
// Accepting drains the backlog (edge-triggered watch) and wraps each new
// connection in a transport. Running out of descriptors (EMFILE, ENFILE,
// ENOBUFS, ENOMEM) does not kill the server: it stops accepting for 100 ms
// and tries again (Python waits ACCEPT_RETRY_DELAY = 1 s and logs).
#include <cerrno>

#include "mpx/aio/protocols.hpp"
#include "mpx/detail/future_core.hpp"

namespace mpx::aio::detail {

class ServerState final : public IoHandler, public std::enable_shared_from_this<ServerState> {
 public:
  ServerState(EventLoop& loop, net::Socket sock, ProtocolFactory factory)
      : loop_(loop), sock_(std::move(sock)), factory_(std::move(factory)) {
    sock_.setblocking(false);
  }

  void start_serving() {
    if (serving_ || closed_) return;
    serving_ = true;
    w_ = loop_.watch(sock_.fileno(), this, true);
    loop_.set_wanted(w_, EV_READ);
    accept_ready();  // connections queued before the watch made no edge
  }
  bool is_serving() const noexcept { return serving_; }

  void on_ready(int) noexcept override { accept_ready(); }

  void accept_ready() noexcept {
    auto self = shared_from_this();
    while (serving_) {
      std::optional<net::Socket> conn;
      try {
        conn = sock_.try_accept();
      } catch (const OSError& e) {
        int err = e.errno_value();
        if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
          // Out of descriptors: back off, then look again.
          try {
            loop_.call_later(std::chrono::milliseconds(100), [self] { self->accept_ready(); });
          } catch (...) {
          }
        } else {
          mpx::detail::log_exception("socket.accept() out of system resource", std::current_exception());
        }
        return;
      }
      if (!conn) return;
      try {
        auto protocol = factory_();
        ++active_;
        std::weak_ptr<ServerState> weak = self;
        make_transport(loop_, std::move(*conn), std::move(protocol), [weak] {
          if (auto s = weak.lock()) s->detach();
        });
      } catch (...) {
        mpx::detail::log_exception("Error on transport creation for incoming connection", std::current_exception());
      }
    }
  }

  void detach() {
    if (active_ > 0) --active_;
    if (active_ == 0 && closed_) wakeup();
  }

  void close() noexcept {
    if (closed_) return;
    closed_ = true;
    serving_ = false;
    loop_.unwatch(w_);
    w_ = nullptr;
    sock_.close();
    if (forever_ && !forever_->done()) forever_->cancel();
    forever_.reset();
    if (active_ == 0) wakeup();
    loop_.untrack(this);
  }

  void wakeup() {
    woken_ = true;
    for (auto& w : waiters_) {
      if (!w.done()) w.set_result();
    }
    waiters_.clear();
  }

  /// The future wait_closed() waits on (none once woken).
  std::optional<Future<>> closed_waiter() {
    if (woken_) return std::nullopt;
    waiters_.emplace_back(loop_);
    return waiters_.back();
  }
  /// serve_forever's future. Throws: RuntimeError if one is active or closed.
  Future<> begin_forever() {
    if (forever_) throw RuntimeError("server is already being awaited on serve_forever()");
    if (closed_) throw RuntimeError("server is closed");
    start_serving();
    forever_.emplace(loop_);
    return *forever_;
  }
  void end_forever() noexcept { forever_.reset(); }

  std::vector<net::Address> sockets() const {
    if (closed_) return {};
    return {sock_.getsockname()};
  }
  std::size_t active() const noexcept { return active_; }

 private:
  EventLoop& loop_;
  net::Socket sock_;
  ProtocolFactory factory_;
  IoWatch* w_ = nullptr;
  std::vector<Future<>> waiters_;
  std::optional<Future<>> forever_;
  std::size_t active_ = 0;
  bool serving_ = false, closed_ = false, woken_ = false;
};

namespace {
// Free coroutines holding the state: a Server handle may be dropped while they run.
Task<> wait_closed(std::shared_ptr<ServerState> st) {
  if (auto f = st->closed_waiter()) co_await *f;
}

Task<> serve_forever(std::shared_ptr<ServerState> st) {
  Future<> f = st->begin_forever();
  bool cancelled = false;
  try {
    co_await f;
  } catch (const CancelledError&) {
    cancelled = true;
  }
  st->end_forever();
  if (cancelled) {
    st->close();
    co_await wait_closed(st);
    throw CancelledError("");
  }
}

Server serve_socket(ProtocolFactory factory, net::Socket sock, const ServerOptions& options) {
  EventLoop& loop = get_running_loop();
  auto st = std::make_shared<ServerState>(loop, std::move(sock), std::move(factory));
  loop.track(st, [](void* p) { static_cast<ServerState*>(p)->close(); });
  if (options.start_serving) st->start_serving();
  return Server(st);
}

Task<Server> serve(ProtocolFactory factory, net::Address address, ServerOptions options) {
  net::Socket sock = net::create_server(address, {.backlog = options.backlog, .reuse_port = options.reuse_port});
  co_return serve_socket(std::move(factory), std::move(sock), options);
}

Task<Server> serve_existing(ProtocolFactory factory, net::Socket sock, ServerOptions options) {
  co_return serve_socket(std::move(factory), std::move(sock), options);
}
}  // namespace

}  // namespace mpx::aio::detail

namespace mpx::aio {

void Server::close() { st_->close(); }
Task<> Server::wait_closed() { return detail::wait_closed(st_); }
Task<> Server::serve_forever() { return detail::serve_forever(st_); }
void Server::start_serving() { st_->start_serving(); }
bool Server::is_serving() const noexcept { return st_->is_serving(); }
std::vector<net::Address> Server::sockets() const { return st_->sockets(); }
std::uint16_t Server::port() const {
  auto s = sockets();
  if (s.empty()) throw RuntimeError("server is closed");
  return net::port(s.front());
}
std::size_t Server::active_count() const noexcept { return st_->active(); }

Task<Server> create_server(ProtocolFactory factory, std::string host, std::uint16_t port, ServerOptions options) {
  net::Address address = host.find(':') != std::string::npos ? net::Address(net::Inet6Address{host, port})
                                                             : net::Address(net::InetAddress{host, port});
  return detail::serve(std::move(factory), std::move(address), options);
}

Task<Server> create_unix_server(ProtocolFactory factory, std::string path, ServerOptions options) {
  return detail::serve(std::move(factory), net::UnixAddress{std::move(path)}, options);
}

Task<Server> create_server(ProtocolFactory factory, net::Socket sock, ServerOptions options) {
  return detail::serve_existing(std::move(factory), std::move(sock), options);
}

}  // namespace mpx::aio
