// bench/common/server_thread.hpp — a contender's server running in a thread
// of its process while the main thread drives the load (bench/net, aio,
// socketserver, http). `serve(stop_fd, port)` sets `port` once it listens,
// then serves until stop_fd is readable; the destructor makes it readable and
// joins the thread.
//
//   bench::ServerThread server([](int stop_fd, std::promise<std::uint16_t>& port) { ... });
//   run_client(server.port());
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <future>
#include <thread>
#include <utility>

#include "bench.hpp"

namespace bench {

class ServerThread {
 public:
  template <class Serve>
  explicit ServerThread(Serve serve) {
    if (pipe2(stop_, O_CLOEXEC) != 0) die("pipe2");
    std::promise<std::uint16_t> port;
    auto port_f = port.get_future();
    thread_ = std::thread(
        [stop_fd = stop_[0], serve = std::move(serve), port = std::move(port)]() mutable { serve(stop_fd, port); });
    port_ = port_f.get();
  }
  ~ServerThread() {
    if (write(stop_[1], "x", 1) != 1) die("write");
    thread_.join();
    close(stop_[0]);
    close(stop_[1]);
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  int stop_[2] = {-1, -1};
  std::thread thread_;
  std::uint16_t port_ = 0;
};

}  // namespace bench
