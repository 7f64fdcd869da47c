// bench/net/limit_epoll_server.cpp -> bench_net_limit: the limit of the net
// group, a single-threaded echo server written straight on epoll in C style
// (no mpx, no exceptions, no allocation per event): level-triggered epoll,
// accept4 non-blocking, read then write back what was read.
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "drive.hpp"

namespace {

class EpollEchoServer {
 public:
  EpollEchoServer() {
    lfd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (lfd_ < 0) bench::die("socket");
    int one = 1;
    setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) bench::die("bind");
    if (listen(lfd_, SOMAXCONN) != 0) bench::die("listen");
    socklen_t len = sizeof addr;
    if (getsockname(lfd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) bench::die("getsockname");
    port_ = ntohs(addr.sin_port);
  }
  ~EpollEchoServer() { close(lfd_); }
  std::uint16_t port() const { return port_; }

  void run(int stop_fd) {
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) bench::die("epoll_create1");
    add(ep, lfd_);
    add(ep, stop_fd);
    epoll_event events[256];
    char buf[4096];
    for (;;) {
      int n = epoll_wait(ep, events, 256, -1);
      if (n < 0) {
        if (errno == EINTR) continue;
        bench::die("epoll_wait");
      }
      for (int i = 0; i < n; ++i) {
        int fd = events[i].data.fd;
        if (fd == stop_fd) {
          close(ep);  // the connections the client closed are closed already
          return;
        }
        if (fd == lfd_) {
          int c;
          while ((c = accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) add(ep, c);
          continue;
        }
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
          if (send(fd, buf, static_cast<std::size_t>(r), MSG_NOSIGNAL) != r) bench::die("send");
        } else if (r == 0 || errno != EAGAIN) {
          close(fd);  // closing removes it from the epoll set
        }
      }
    }
  }

 private:
  static void add(int ep, int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) bench::die("epoll_ctl");
  }
  int lfd_;
  std::uint16_t port_ = 0;
};

/// The limit server as a netbench::drive_served server: bench/aio and
/// bench/socketserver measure it under their own figures' names.
[[maybe_unused]] void serve_epoll_limit(const netbench::Figure&, int stop_fd, std::promise<std::uint16_t>& port) {
  EpollEchoServer server;
  port.set_value(server.port());
  server.run(stop_fd);
}

}  // namespace

int main(int argc, char** argv) { return netbench::drive<EpollEchoServer>(argc, argv); }
