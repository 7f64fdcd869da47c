// bench/socketserver/mpx.cpp -> bench_socketserver_mpx: the echo server a
// user writes with mpx::socketserver — a BaseRequestHandler doing
// recv_into/sendall, as in Python — under each server model the figure names:
// ThreadingTCPServer, ForkingTCPServer, PreforkTCPServer (its defaults: a
// worker process per CPU, a thread per connection in each worker).
#include <mpx/socketserver.hpp>

#include "drive.hpp"

namespace {

namespace ss = mpx::socketserver;
namespace net = mpx::net;

struct EchoHandler : ss::BaseRequestHandler {
  void handle() override {
    std::byte buf[4096];
    while (std::size_t n = request.recv_into(buf)) request.sendall(std::span<const std::byte>(buf, n));
  }
};

/// Serves until stop_fd is readable: serve_forever here, shutdown() from a
/// thread that waits for the stop byte.
template <class Server>
void serve(int stop_fd, std::promise<std::uint16_t>& port) {
  Server server(net::InetAddress{"127.0.0.1", 0}, ss::handler<EchoHandler>());
  if constexpr (requires { server.daemon_threads; }) server.daemon_threads = true;
  port.set_value(net::port(server.socket.getsockname()));
  std::thread stopper([&] {
    char c;
    while (read(stop_fd, &c, 1) < 0 && errno == EINTR) {
    }
    server.shutdown();
  });
  server.serve_forever();
  stopper.join();
}

}  // namespace

int main(int argc, char** argv) {
  return sockserverbench::drive(argc, argv,
                                [](const netbench::Figure& f, int stop_fd, std::promise<std::uint16_t>& port) {
                                  std::string name = f.name;
                                  if (name.ends_with(".threading")) {
                                    serve<ss::ThreadingTCPServer>(stop_fd, port);
                                  } else if (name.ends_with(".forking")) {
                                    serve<ss::ForkingTCPServer>(stop_fd, port);
                                  } else {
                                    serve<ss::PreforkTCPServer>(stop_fd, port);
                                  }
                                });
}
