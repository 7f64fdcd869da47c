// bench/net/mpx.cpp -> bench_net_mpx: the echo server a user writes with
// mpx::net: DefaultSelector (epoll) over Sockets, with the try_ calls an
// event loop uses (no exception per EAGAIN), one thread.
#include <mpx/net/selectors.hpp>
#include <mpx/net/socket.hpp>
#include <unordered_map>

#include "drive.hpp"

namespace {

namespace net = mpx::net;

class SelectorsEchoServer {
 public:
  SelectorsEchoServer() : listener_(net::create_server(net::InetAddress{"127.0.0.1", 0})) {
    listener_.setblocking(false);
  }
  std::uint16_t port() const { return net::port(listener_.getsockname()); }

  void run(int stop_fd) {
    net::DefaultSelector sel;
    sel.register_(listener_, net::EVENT_READ);
    sel.register_(stop_fd, net::EVENT_READ);
    std::unordered_map<int, net::Socket> conns;
    std::byte buf[4096];
    for (;;) {
      for (const auto& [key, events] : sel.select()) {
        if (key->fd == stop_fd) return;
        auto* sock = key->fileobj_as<net::Socket>();
        if (sock == &listener_) {
          while (auto conn = listener_.try_accept()) {
            int fd = conn->fileno();
            sel.register_(conns.emplace(fd, std::move(*conn)).first->second, net::EVENT_READ);
          }
          continue;
        }
        auto n = sock->try_recv(buf);
        if (!n) continue;
        if (*n == 0) {
          sel.unregister(*sock);
          conns.erase(key->fd);
          continue;
        }
        sock->sendall(std::span(buf, *n));
      }
    }
  }

 private:
  net::Socket listener_;
};

}  // namespace

int main(int argc, char** argv) { return netbench::drive<SelectorsEchoServer>(argc, argv); }
