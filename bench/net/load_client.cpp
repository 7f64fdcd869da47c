// bench/net/load_client.cpp — the one load generator every net contender is
// measured with: N connections to 127.0.0.1:PORT, each doing 64-byte
// request/response round trips, one request in flight per connection (a
// closed loop, like wrk's connections). Prints the round trips per second.
//
//   bench_net_load_client --port P [--conns 50] [--requests 200000]
//
// The requests are split evenly over the connections. Raw epoll and libc
// only, no mpx: the client must cost every server the same. It exits
// non-zero if the server closes a connection, answers wrongly, or stalls 10 s.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "bench.hpp"

namespace {

constexpr int kMessage = 64;

struct Conn {
  int fd = -1;
  long left = 0;  // round trips still to do
  int got = 0;    // bytes of the current reply received
};

void send_request(const Conn& c, const char* msg) {
  // 64 bytes always fit an empty send buffer: one send, never partial.
  if (send(c.fd, msg, kMessage, MSG_NOSIGNAL) != kMessage) bench::die("send");
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args(argc, argv);
  long port = args.option("port", 0);
  long nconns = args.option("conns", 1);
  long requests = args.option("requests", 1000);
  if (port < 1 || port > 65535) bench::fail("--port is required");
  long per = (requests + nconns - 1) / nconns;

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) bench::die("epoll_create1");
  std::vector<Conn> conns(static_cast<std::size_t>(nconns));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (std::size_t i = 0; i < conns.size(); ++i) {
    Conn& c = conns[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c.fd < 0) bench::die("socket");
    if (connect(c.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) bench::die("connect");
    int one = 1;
    if (setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) bench::die("setsockopt");
    if (fcntl(c.fd, F_SETFL, O_NONBLOCK) != 0) bench::die("fcntl");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev) != 0) bench::die("epoll_ctl");
    c.left = per;
  }

  char msg[kMessage];
  std::memset(msg, 'r', sizeof msg);
  char buf[kMessage];
  std::vector<epoll_event> events(conns.size());
  long done = 0;
  long long t0 = bench::now_ns();
  for (const Conn& c : conns) send_request(c, msg);
  while (done < nconns) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10000);
    if (n < 0) {
      if (errno == EINTR) continue;
      bench::die("epoll_wait");
    }
    if (n == 0) bench::fail("the server stalled for 10 s");
    for (int k = 0; k < n; ++k) {
      Conn& c = conns[events[static_cast<std::size_t>(k)].data.u64];
      ssize_t r = recv(c.fd, buf, static_cast<std::size_t>(kMessage - c.got), 0);
      if (r < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        bench::die("recv");
      }
      if (r == 0) bench::fail("the server closed a connection");
      if (buf[0] != 'r') bench::fail("the server answered something else");
      c.got += static_cast<int>(r);
      if (c.got < kMessage) continue;
      c.got = 0;
      if (--c.left == 0) {
        ++done;
      } else {
        send_request(c, msg);
      }
    }
  }
  double seconds = bench::seconds_since(t0);
  for (const Conn& c : conns) close(c.fd);
  close(ep);
  std::printf("%.1f\n", static_cast<double>(per * nconns) / seconds);
  return 0;
}
