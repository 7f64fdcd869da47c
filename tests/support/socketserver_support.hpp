// tests/support/socketserver_support.hpp — what the socketserver tests share:
// a server serving on a thread, Unix socket paths, bounded clients.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "mpx/net/socket.hpp"
#include "mpx/socketserver.hpp"

namespace mpx::test {

using namespace std::chrono_literals;

/// Every client call in the tests is bounded by this.
inline constexpr auto kClientTimeout = 10s;

/// serve_forever on its own thread; the destructor shuts it down and joins
/// (Python's test: a thread, then server.shutdown(); t.join()).
class ServeThread {
 public:
  explicit ServeThread(socketserver::BaseServer& server, std::chrono::nanoseconds poll_interval = 10ms)
      : server_(server), thread_([this, poll_interval] { server_.serve_forever(poll_interval); }) {}
  ~ServeThread() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    server_.shutdown();
    thread_.join();
  }

 private:
  socketserver::BaseServer& server_;
  std::thread thread_;
};

/// A fresh Unix socket path in /tmp, removed by the destructor (Python's
/// test_socketserver pickaddr for AF_UNIX).
class UnixPath {
 public:
  UnixPath() {
    static std::atomic<int> n{0};
    path_ = "/tmp/mpx-ss-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".sock";
    ::unlink(path_.c_str());
  }
  ~UnixPath() { ::unlink(path_.c_str()); }
  const std::string& str() const noexcept { return path_; }
  net::UnixAddress address() const { return {path_}; }

 private:
  std::string path_;
};

/// A client socket that shuts its connection down when it goes. A forked
/// server child (Forking, Prefork) inherits a copy of every descriptor the
/// test process has at fork time, other clients' sockets included; close()
/// alone would then not reach the server, shutdown() does.
class ClientSocket : public net::Socket {
 public:
  explicit ClientSocket(net::Socket s) : net::Socket(std::move(s)) {}
  ClientSocket(ClientSocket&&) noexcept = default;
  ClientSocket& operator=(ClientSocket&&) noexcept = default;
  ~ClientSocket() { close(); }
  void close() noexcept {
    if (closed()) return;
    try {
      shutdown(net::SHUT_RDWR);
    } catch (const OSError&) {  // the server may have gone first
    }
    net::Socket::close();
  }
};

/// A client connected to a stream server's address, with kClientTimeout.
inline ClientSocket connect_to(const net::Address& address) {
  net::Socket s(address.index() == 2 ? AF_UNIX : AF_INET, net::SOCK_STREAM);
  s.settimeout(kClientTimeout);
  s.connect(address);
  return ClientSocket(std::move(s));
}

/// Reads until a '\n' (or EOF); bounded by the socket's timeout.
inline std::string recv_line(net::Socket& s) {
  std::string got;
  char buf[256];
  while (got.find('\n') == std::string::npos) {
    std::size_t n = s.recv_into(std::as_writable_bytes(std::span(buf)));
    if (n == 0) break;
    got.append(buf, n);
  }
  return got;
}

}  // namespace mpx::test
