// src/http/aio_server.cpp — mpx::http's fast server: an aio::Protocol per
// connection, and the worker processes of serve().
//
// A read may hold several pipelined requests: each is parsed and answered
// into the connection's output buffer, and the buffer leaves in one write
// after the read is used up. The parser, the Response and the buffer are
// the connection's and keep their capacity, so a keep-alive connection
// answers without allocating. Idle connections are found by a sweep that
// runs a few times per timeout and compares a tick count, so a request
// costs no timer and no clock read.
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <vector>

#include "mpx/aio/loop.hpp"
#include "mpx/aio/task.hpp"
#include "mpx/detail/fd.hpp"
#include "mpx/detail/future_core.hpp"
#include "mpx/errors.hpp"
#include "mpx/http.hpp"
#include "os/sys.hpp"

namespace mpx::http {
namespace {

class HttpProtocol;

struct Shared {
  Handler handler;
  Limits limits;
  std::string server_line;  // "Server: mpx\r\n"
  std::uint64_t tick = 0, idle_ticks = 0;
  std::vector<HttpProtocol*> connections;  // for the idle sweep
};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

class HttpProtocol final : public aio::Protocol {
 public:
  explicit HttpProtocol(std::shared_ptr<Shared> shared) : shared_(std::move(shared)), parser_(shared_->limits) {}
  ~HttpProtocol() override { unlink(); }

  void connection_made(aio::Transport& t) override {
    t_ = &t;
    last_ = shared_->tick;
    if (shared_->idle_ticks != 0) {
      index_ = shared_->connections.size();
      shared_->connections.push_back(this);
    }
  }
  void connection_lost(std::exception_ptr) override {
    unlink();
    t_ = nullptr;
  }
  void pause_writing() override { t_->pause_reading(); }
  void resume_writing() override { t_->resume_reading(); }

  void data_received(std::span<const std::byte> data) override {
    if (closing_) return;
    last_ = shared_->tick;
    std::string_view in(reinterpret_cast<const char*>(data.data()), data.size());
    while (!in.empty()) {
      in.remove_prefix(parser_.feed(in));
      if (parser_.complete()) {
        respond();
        parser_.reset();
        continued_ = false;
        if (closing_) break;
      } else if (parser_.failed()) {
        respond_error(parser_.error_status(), parser_.error_reason());
        break;
      } else {
        const Request& req = parser_.request();
        if (parser_.reading_body() && req.expect_continue() && req.version_minor() >= 1 && !continued_) {
          out_ += kContinue;
          continued_ = true;
        }
      }
    }
    if (!out_.empty()) {
      t_->write(std::string_view(out_));
      out_.clear();
    }
    if (closing_) t_->close();
  }

  bool idle(std::uint64_t tick) const noexcept { return tick - last_ > shared_->idle_ticks; }
  void abort() {
    if (t_ != nullptr) t_->abort();
  }

 private:
  void unlink() noexcept {
    if (index_ == kNoIndex) return;
    auto& v = shared_->connections;
    v[index_] = v.back();
    v[index_]->index_ = index_;
    v.pop_back();
    index_ = kNoIndex;
  }

  void respond() {
    const Request& req = parser_.request();
    resp_.clear();
    try {
      shared_->handler(req, resp_);
    } catch (...) {
      mpx::detail::log_exception("http: exception in the handler", std::current_exception());
      resp_.clear();
      resp_.status = 500;
      resp_.close = true;
      resp_.set_header("Content-Type", "text/plain");
      resp_.body = "Internal Server Error\n";
    }
    bool keep = req.keep_alive() && !resp_.close;
    // 1xx, 204 and 304 have no body and no length (RFC 9110 8.6).
    bool bodiless = resp_.status < 200 || resp_.status == 204 || resp_.status == 304;
    detail::append_status_line(out_, "HTTP/1.1", resp_.status);
    out_ += shared_->server_line;
    detail::append_date_header(out_);
    out_ += resp_.headers();
    if (!bodiless) {
      out_ += "Content-Length: ";
      detail::append_decimal(out_, resp_.body.size());
      out_ += "\r\n";
    }
    if (!keep) {
      out_ += "Connection: close\r\n";
    } else if (req.version_minor() == 0) {
      out_ += "Connection: keep-alive\r\n";
    }
    out_ += "\r\n";
    if (!bodiless && req.method() != "HEAD") out_ += resp_.body;
    if (!keep) closing_ = true;
  }

  void respond_error(int status, std::string_view reason) {
    std::string_view phrase = reason_phrase(status);
    detail::append_status_line(out_, "HTTP/1.1", status);
    out_ += shared_->server_line;
    detail::append_date_header(out_);
    out_ += "Content-Type: text/plain\r\nConnection: close\r\nContent-Length: ";
    detail::append_decimal(out_, phrase.size() + reason.size() + 3);
    out_ += "\r\n\r\n";
    out_ += phrase;
    out_ += ": ";
    out_ += reason;
    out_ += "\n";
    closing_ = true;
  }

  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
  std::shared_ptr<Shared> shared_;
  aio::Transport* t_ = nullptr;
  RequestParser parser_;
  Response resp_;
  std::string out_;
  std::uint64_t last_ = 0;
  std::size_t index_ = kNoIndex;
  bool closing_ = false, continued_ = false;
};

void sweep(const std::weak_ptr<Shared>& weak, std::chrono::milliseconds interval) {
  auto shared = weak.lock();
  if (!shared) return;
  ++shared->tick;
  std::vector<HttpProtocol*> idle;
  for (HttpProtocol* c : shared->connections)
    if (c->idle(shared->tick)) idle.push_back(c);
  for (HttpProtocol* c : idle) c->abort();
  aio::get_running_loop().call_later(interval, [weak, interval] { sweep(weak, interval); });
}

aio::Task<> serve_here(Handler handler, std::string host, std::uint16_t port, ServeOptions options, int ready_fd) {
  aio::Server server = co_await start_server(std::move(handler), std::move(host), port, options);
  if (ready_fd >= 0) {
    char byte = 1;
    while (mpx::detail::sys::write(ready_fd, &byte, 1) < 0)
      if (errno != EINTR) mpx::detail::throw_os_error("write");
    ::close(ready_fd);
  } else if (options.ready) {
    options.ready(server.port());
  }
  co_await server.serve_forever();
}

// One worker: runs until killed; dies with its parent.
[[noreturn]] void worker_main(pid_t parent, const Handler& handler, const std::string& host, std::uint16_t port,
                              const ServeOptions& options, int ready_fd) {
  int code = 0;
  try {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) mpx::detail::throw_os_error("prctl");
    if (::getppid() != parent) ::_exit(0);  // the parent died before prctl
    aio::run(serve_here(handler, host, port, options, ready_fd), aio::LoopOptions{.backend = options.backend});
  } catch (...) {
    mpx::detail::log_exception("http.serve: worker failed", std::current_exception());
    code = 1;
  }
  ::_exit(code);
}

struct Worker {
  pid_t pid;
  mpx::detail::Fd pidfd;
};

Worker spawn_worker(const Handler& handler, const std::string& host, std::uint16_t port, const ServeOptions& options,
                    mpx::detail::Fd* ready_read, int ready_fd) {
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) mpx::detail::throw_os_error("fork");
  if (pid == 0) {
    if (ready_read != nullptr) ready_read->reset();
    worker_main(parent, handler, host, port, options, ready_fd);
  }
  return {pid, mpx::detail::Fd::pidfd_open(pid)};
}

void stop_workers(std::vector<Worker>& workers) noexcept {
  for (auto& w : workers) ::kill(w.pid, SIGKILL);
  for (auto& w : workers) {
    int status = 0;
    while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  workers.clear();
}

void serve_workers(const std::string& host, std::uint16_t port, const Handler& handler, ServeOptions options) {
  // A bound socket that never listens holds the port (port 0 picks it once)
  // and takes no connections: the workers' SO_REUSEPORT listeners share it.
  net::Socket holder(AF_INET, SOCK_STREAM);
  holder.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1);
  holder.setsockopt(SOL_SOCKET, SO_REUSEPORT, 1);
  holder.bind(net::InetAddress{host, port});
  port = net::port(holder.getsockname());
  options.reuse_port = true;

  std::vector<Worker> workers;
  try {
    auto [ready_r, ready_w] = mpx::detail::Fd::pipe();
    for (int i = 0; i < options.workers; ++i)
      workers.push_back(spawn_worker(handler, host, port, options, &ready_r, ready_w.get()));
    ready_w.reset();
    int started = 0;
    while (started < options.workers) {
      char buf[64];
      ssize_t n = mpx::detail::sys::read(ready_r.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) mpx::detail::throw_os_error("read");
      if (n == 0) throw RuntimeError("http.serve: a worker failed to start");
      started += static_cast<int>(n);
    }
    if (options.ready) options.ready(port);

    // Supervise: a worker killed by a signal is replaced (nginx's master does
    // the same); one that exits on its own is not.
    while (!workers.empty()) {
      std::vector<pollfd> fds;
      for (auto& w : workers) fds.push_back({w.pidfd.get(), POLLIN, 0});
      if (mpx::detail::sys::poll(fds.data(), fds.size(), -1) < 0) {
        if (errno == EINTR) continue;
        mpx::detail::throw_os_error("poll");
      }
      for (std::size_t i = fds.size(); i-- > 0;) {
        if (fds[i].revents == 0) continue;
        int status = 0;
        if (::waitpid(workers[i].pid, &status, 0) < 0 && errno != EINTR) mpx::detail::throw_os_error("waitpid");
        if (WIFSIGNALED(status))
          workers[i] = spawn_worker(handler, host, port, options, nullptr, -1);
        else
          workers.erase(workers.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
  } catch (...) {
    stop_workers(workers);
    throw;
  }
}

}  // namespace

aio::Task<aio::Server> start_server(Handler handler, std::string host, std::uint16_t port, ServeOptions options) {
  auto shared = std::make_shared<Shared>();
  shared->handler = std::move(handler);
  shared->limits = options.limits;
  detail::append_header(shared->server_line, "Server", options.server_name);
  std::chrono::milliseconds interval{0};
  if (options.timeout.count() > 0) {
    interval = std::clamp(options.timeout / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(1000));
    shared->idle_ticks = static_cast<std::uint64_t>(std::max<std::int64_t>(1, options.timeout / interval));
  }
  // Named, not temporaries: g++ 12 destroys a converted temporary argument of a coroutine twice.
  aio::ProtocolFactory factory = [shared] { return std::make_unique<HttpProtocol>(shared); };
  aio::ServerOptions server_options{.backlog = options.backlog, .reuse_port = options.reuse_port};
  aio::Server server = co_await aio::create_server(std::move(factory), std::move(host), port, server_options);
  if (interval.count() > 0) {
    std::weak_ptr<Shared> weak = shared;
    aio::get_running_loop().call_later(interval, [weak, interval] { sweep(weak, interval); });
  }
  co_return server;
}

void serve(std::string host, std::uint16_t port, Handler handler, ServeOptions options) {
  if (options.workers <= 1) {
    aio::LoopOptions loop_options{.backend = options.backend};
    aio::run(serve_here(std::move(handler), std::move(host), port, std::move(options), -1), loop_options);
  } else {
    serve_workers(host, port, handler, std::move(options));
  }
}

}  // namespace mpx::http
