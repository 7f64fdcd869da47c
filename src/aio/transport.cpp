// src/aio/transport.cpp — the socket transport (Python's
// _SelectorSocketTransport), connecting, and waiting for a descriptor.
//
// Reads go into one buffer per thread (the data is handed to the protocol
// and must be copied by it), so 1000 idle connections cost no read buffers.
// The watch is edge-triggered: a read stops at EAGAIN or at a short read
// (the socket was drained then; later data makes a new edge), a write
// stops at EAGAIN or when all is sent. Under io_uring the same rules hold,
// the watch being re-armed while it wants a direction.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "mpx/aio/protocols.hpp"
#include "mpx/aio/sockets.hpp"
#include "mpx/detail/future_core.hpp"

namespace mpx::aio::detail {
namespace {

constexpr std::size_t kReadSize = 256 * 1024;
constexpr int kReadsPerEvent = 16;  // then yield to other connections

std::exception_ptr os_error(const char* what, int err) {
  try {
    mpx::detail::throw_os_error(what, err);
  } catch (...) {
    return std::current_exception();
  }
}

class SocketTransport final : public Transport, public IoHandler, public std::enable_shared_from_this<SocketTransport> {
 public:
  SocketTransport(EventLoop& loop, net::Socket sock, std::unique_ptr<Protocol> protocol, std::function<void()> on_lost)
      : loop_(loop), sock_(std::move(sock)), protocol_(std::move(protocol)), on_lost_(std::move(on_lost)) {}

  void start() {
    fd_ = sock_.fileno();
    w_ = loop_.watch(fd_, this, true);
    loop_.track(shared_from_this(), [](void* p) { static_cast<SocketTransport*>(p)->close_now(); });
    protocol_->connection_made(*this);
    if (!closing_) update_wanted();
  }

  // ---- Transport ----
  void write(std::span<const std::byte> data) override {
    if (eof_requested_) throw RuntimeError("Cannot call write() after write_eof()");
    if (data.empty() || lost_scheduled_) return;
    if (wbuf_.size() == wpos_) {
      std::size_t n = 0;
      if (!send_some(data, n)) return;
      if (n == data.size()) return;
      data = data.subspan(n);
      wbuf_.clear();
      wpos_ = 0;
    }
    wbuf_.insert(wbuf_.end(), data.begin(), data.end());
    update_wanted();
    maybe_pause_protocol();
  }
  void write_eof() override {
    if (closing_ || eof_requested_) return;
    eof_requested_ = true;
    if (wbuf_.size() == wpos_) ::shutdown(fd_, SHUT_WR);
  }
  void close() override {
    if (closing_) return;
    closing_ = true;
    update_wanted();
    if (wbuf_.size() == wpos_) schedule_lost(nullptr);
  }
  void abort() override { force_close(nullptr); }
  bool is_closing() const noexcept override { return closing_; }
  void pause_reading() override {
    if (closing_ || paused_reading_) return;
    paused_reading_ = true;
    update_wanted();
  }
  void resume_reading() override {
    if (closing_ || !paused_reading_) return;
    paused_reading_ = false;
    update_wanted();
    // Edge-triggered: data that came while paused made no new edge; look now.
    auto self = shared_from_this();
    loop_.call_soon([self] {
      if (self->reading()) self->read_ready();
    });
  }
  bool is_reading() const noexcept override { return !closing_ && !paused_reading_; }
  std::size_t get_write_buffer_size() const noexcept override { return wbuf_.size() - wpos_; }
  void set_write_buffer_limits(std::optional<std::size_t> high, std::optional<std::size_t> low) override {
    if (!high) high = low ? 4 * *low : 64 * 1024;
    if (!low) low = *high / 4;
    if (*high < *low) throw ValueError("high must be >= low");
    high_ = *high;
    low_ = *low;
    maybe_pause_protocol();
  }
  std::pair<std::size_t, std::size_t> get_write_buffer_limits() const noexcept override { return {low_, high_}; }
  net::Address get_peername() const override { return sock_.getpeername(); }
  net::Address get_sockname() const override { return sock_.getsockname(); }
  int fileno() const noexcept override { return sock_.fileno(); }
  Protocol& get_protocol() noexcept override { return *protocol_; }

  // ---- IoHandler ----
  void on_ready(int events) noexcept override {
    auto self = shared_from_this();  // a callback may drop the loop's reference
    if ((events & EV_WRITE) && wbuf_.size() != wpos_) write_ready();
    if ((events & EV_READ) && reading()) read_ready();
  }

  /// EventLoop::close(): no more loop iterations, so connection_lost runs now.
  void close_now() noexcept {
    if (lost_done_) return;
    wbuf_.clear();
    wpos_ = 0;
    closing_ = true;
    call_connection_lost(nullptr);
  }

 private:
  bool reading() const noexcept { return !closing_ && !paused_reading_ && !eof_received_; }
  void update_wanted() {
    if (!w_) return;
    int want = (reading() ? EV_READ : 0) | (wbuf_.size() != wpos_ ? EV_WRITE : 0);
    if (want != w_->wanted) loop_.set_wanted(w_, want);
  }

  void read_ready() noexcept {
    static thread_local std::array<std::byte, kReadSize> buf;
    for (int i = 0; i < kReadsPerEvent; ++i) {
      ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT);
      if (n > 0) {
        try {
          protocol_->data_received(std::span<const std::byte>(buf.data(), static_cast<std::size_t>(n)));
        } catch (...) {
          mpx::detail::log_exception("Fatal error: protocol.data_received() call failed.", std::current_exception());
          return force_close(std::current_exception());
        }
        if (!reading()) return;
        if (static_cast<std::size_t>(n) < buf.size()) return;  // drained
        continue;
      }
      if (n == 0) return eof();
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return force_close(os_error("recv", errno));
    }
    // Still data after kReadsPerEvent reads: come back after the others had a turn.
    auto self = shared_from_this();
    loop_.call_soon([self] {
      if (self->reading()) self->read_ready();
    });
  }

  void eof() noexcept {
    eof_received_ = true;
    bool keep_open = false;
    try {
      keep_open = protocol_->eof_received();
    } catch (...) {
      mpx::detail::log_exception("Fatal error: protocol.eof_received() call failed.", std::current_exception());
      return force_close(std::current_exception());
    }
    if (keep_open) {
      update_wanted();
    } else {
      close();
    }
  }

  /// Sends until done or EAGAIN; false if the connection failed (closed now).
  bool send_some(std::span<const std::byte> data, std::size_t& sent) noexcept {
    while (sent < data.size()) {
      ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n >= 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      force_close(os_error("send", errno));
      return false;
    }
    return true;
  }

  void write_ready() noexcept {
    std::size_t n = 0;
    auto pending = std::span<const std::byte>(wbuf_.data() + wpos_, wbuf_.size() - wpos_);
    if (!send_some(pending, n)) return;
    wpos_ += n;
    if (wpos_ == wbuf_.size()) {
      wbuf_.clear();
      wpos_ = 0;
    } else if (wpos_ > 64 * 1024 && wpos_ * 2 > wbuf_.size()) {
      wbuf_.erase(wbuf_.begin(), wbuf_.begin() + static_cast<std::ptrdiff_t>(wpos_));
      wpos_ = 0;
    }
    try {
      update_wanted();
    } catch (...) {
      return force_close(std::current_exception());
    }
    maybe_resume_protocol();
    if (wbuf_.empty()) {
      if (closing_) {
        schedule_lost(nullptr);
      } else if (eof_requested_) {
        ::shutdown(fd_, SHUT_WR);
      }
    }
  }

  void maybe_pause_protocol() {
    if (get_write_buffer_size() <= high_ || protocol_paused_) return;
    protocol_paused_ = true;
    try {
      protocol_->pause_writing();
    } catch (...) {
      mpx::detail::log_exception("protocol.pause_writing() failed", std::current_exception());
    }
  }
  void maybe_resume_protocol() noexcept {
    if (!protocol_paused_ || get_write_buffer_size() > low_) return;
    protocol_paused_ = false;
    try {
      protocol_->resume_writing();
    } catch (...) {
      mpx::detail::log_exception("protocol.resume_writing() failed", std::current_exception());
    }
  }

  void force_close(std::exception_ptr exc) noexcept {
    if (lost_scheduled_) return;
    wbuf_.clear();
    wpos_ = 0;
    closing_ = true;
    schedule_lost(std::move(exc));
  }
  void schedule_lost(std::exception_ptr exc) noexcept {
    if (lost_scheduled_) return;
    lost_scheduled_ = true;
    if (w_) {
      // Nothing more to wait for; the watch goes when connection_lost runs.
      try {
        loop_.set_wanted(w_, 0);
      } catch (...) {
      }
    }
    auto self = shared_from_this();
    try {
      loop_.call_soon([self, exc] { self->call_connection_lost(exc); });
    } catch (...) {
      call_connection_lost(exc);  // the loop is closed: now, then
    }
  }
  void call_connection_lost(std::exception_ptr exc) noexcept {
    if (lost_done_) return;
    lost_done_ = lost_scheduled_ = true;
    auto self = shared_from_this();
    try {
      protocol_->connection_lost(exc);
    } catch (...) {
      mpx::detail::log_exception("protocol.connection_lost() failed", std::current_exception());
    }
    loop_.unwatch(w_);
    w_ = nullptr;
    sock_.close();
    if (on_lost_) on_lost_();
    loop_.untrack(this);
  }

  EventLoop& loop_;
  net::Socket sock_;
  std::unique_ptr<Protocol> protocol_;
  std::function<void()> on_lost_;
  IoWatch* w_ = nullptr;
  int fd_ = -1;
  std::vector<std::byte> wbuf_;
  std::size_t wpos_ = 0;
  std::size_t high_ = 64 * 1024, low_ = 16 * 1024;
  bool closing_ = false, paused_reading_ = false, eof_received_ = false, eof_requested_ = false;
  bool protocol_paused_ = false, lost_scheduled_ = false, lost_done_ = false;
};

}  // namespace

std::shared_ptr<Transport> share(Transport& t) { return static_cast<SocketTransport&>(t).shared_from_this(); }

std::shared_ptr<Transport> make_transport(EventLoop& loop, net::Socket sock, std::unique_ptr<Protocol> protocol,
                                          std::function<void()> on_lost) {
  sock.setblocking(false);
  if (sock.family() != AF_UNIX) sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1);
  auto t = std::make_shared<SocketTransport>(loop, std::move(sock), std::move(protocol), std::move(on_lost));
  t->start();
  return t;
}

}  // namespace mpx::aio::detail

namespace mpx::aio {

namespace {
Task<Connection> connect_to(ProtocolFactory factory, int family, net::Address address) {
  net::Socket sock(family, net::SOCK_STREAM);
  sock.setblocking(false);
  co_await sock_connect(sock, address);
  auto protocol = factory();
  Protocol* p = protocol.get();
  auto t = detail::make_transport(get_running_loop(), std::move(sock), std::move(protocol));
  co_return Connection{std::move(t), p};
}
}  // namespace

Task<Connection> create_connection(ProtocolFactory factory, std::string host, std::uint16_t port) {
  int family = host.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  net::Address address =
      family == AF_INET6 ? net::Address(net::Inet6Address{host, port}) : net::Address(net::InetAddress{host, port});
  return connect_to(std::move(factory), family, std::move(address));
}

Task<Connection> create_unix_connection(ProtocolFactory factory, std::string path) {
  return connect_to(std::move(factory), AF_UNIX, net::UnixAddress{std::move(path)});
}

}  // namespace mpx::aio
