// mpx::socketserver: rfile/wfile, the serving loop's contract (shutdown,
// handle_request's timeout, handle_error, verify_request), the policies
// Python lacks (Prefork), and Python's pitfalls fixed: the listen backlog of
// 5, ForkingMixIn's stall at max_children, Nagle between writes.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <future>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "mpx/context.hpp"
#include "mpx/socketserver.hpp"
#include "support/socketserver_support.hpp"

namespace ss = mpx::socketserver;
namespace net = mpx::net;
using namespace std::chrono_literals;
using mpx::test::connect_to;
using mpx::test::recv_line;
using mpx::test::ServeThread;
using mpx::test::UnixPath;

namespace {

// Lines back, uppercased, until the client closes; the reply names the
// process that served it (for Prefork).
struct EchoLines : ss::StreamRequestHandler {
  void handle() override {
    for (std::string_view line : rfile) {
      wfile.write(line);
    }
  }
};
struct PidEcho : ss::StreamRequestHandler {
  void handle() override {
    for (std::string_view line : rfile) {
      wfile.write(std::to_string(::getpid()) + " ");
      wfile.write(line);
    }
  }
};
struct DatagramEcho : ss::DatagramRequestHandler {
  void handle() override { wfile.write(rfile.read()); }
};

std::string round_trip(net::Socket& s, std::string_view line) {
  s.sendall(line);
  return recv_line(s);
}

std::pair<net::Socket, net::Socket> pair() { return net::socketpair(); }

}  // namespace

// ---- rfile / wfile -------------------------------------------------------------

TEST(SocketReader, ReadlineReadPeekAndIteration) {
  auto [a, b] = pair();
  a.sendall("one\ntwo\nthree-without-newline");
  a.shutdown(net::SHUT_WR);
  ss::SocketReader r(b, 4);  // a tiny buffer: lines span refills
  EXPECT_EQ(r.peek().substr(0, 1), "o");
  EXPECT_EQ(r.readline(), "one\n");
  EXPECT_EQ(r.readline(2), "tw");  // limit
  EXPECT_EQ(r.readline(), "o\n");
  EXPECT_EQ(r.read(5), "three");
  std::vector<std::string> rest;
  for (std::string_view line : r) rest.emplace_back(line);
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0], "-without-newline");
  EXPECT_EQ(r.readline(), "");  // EOF
  EXPECT_EQ(r.read(), "");
}

TEST(SocketReader, ReadAllReadintoRead1) {
  auto [a, b] = pair();
  std::string big(100000, 'x');
  std::thread writer([&, &a = a] {
    a.sendall(big);
    a.shutdown(net::SHUT_WR);
  });
  ss::SocketReader r(b, 1024);
  EXPECT_EQ(r.read1(10).size(), 10u);
  std::string buf(50000, '\0');
  EXPECT_EQ(r.readinto(std::as_writable_bytes(std::span(buf.data(), buf.size()))), 50000u);
  EXPECT_EQ(r.read().size(), 100000u - 50010u);
  writer.join();
}

TEST(SocketReader, ReadlineViewGrowsForALongLineUpToTheLimit) {
  auto [a, b] = pair();
  std::string line(5000, 'y');
  a.sendall(line + "\nnext\n");
  ss::SocketReader r(b, 64);
  EXPECT_EQ(r.readline_view(10000), line + "\n");
  EXPECT_EQ(r.readline_view(3), "nex");  // cut at the limit
  EXPECT_EQ(r.readline_view(), "t\n");
}

TEST(SocketReader, OverAPacketAndClosed) {
  std::string packet = "a\nb";
  ss::SocketReader r(std::as_bytes(std::span(packet.data(), packet.size())));
  EXPECT_EQ(r.readlines(), (std::vector<std::string>{"a\n", "b"}));
  r.close();
  EXPECT_TRUE(r.closed());
  EXPECT_THROW(r.readline(), mpx::ValueError);
}

// The buffered wfile coalesces writes into one send, and a tied rfile
// flushes it before waiting: a request/response loop never deadlocks.
TEST(SocketWriter, CoalescesAndTheTiedReaderFlushes) {
  auto [a, b] = pair();
  ss::SocketWriter w(b, 1024);
  ss::SocketReader r(b);
  r.tie(&w);
  w.write("HTTP/1.1 200 OK\r\n");
  w.write("Content-Length: 5\r\n\r\n");
  w.write("hello");
  EXPECT_EQ(w.buffered(), 43u);
  a.setblocking(false);
  EXPECT_FALSE(a.try_recv(std::as_writable_bytes(std::span(std::array<char, 8>{}.data(), 8))).has_value());
  a.setblocking(true);
  std::thread peer([&, &a = a] {
    char buf[128];
    std::size_t n = a.recv_into(std::as_writable_bytes(std::span(buf)));
    EXPECT_EQ(n, 43u);  // one send: everything in one read
    a.sendall("next\n");
  });
  EXPECT_EQ(r.readline(), "next\n");  // flushed wfile before it waited
  peer.join();
  EXPECT_EQ(w.buffered(), 0u);
}

TEST(SocketWriter, LargeWritesGoStraightThrough) {
  auto [a, b] = pair();
  ss::SocketWriter w(b, 16);
  std::string big(100000, 'z');
  std::thread reader([&, &a = a] {
    ss::SocketReader r(a);
    EXPECT_EQ(r.read(6 + 100000).size(), 100006u);
  });
  w.write("head: ");
  w.write(big);
  w.flush();
  reader.join();
}

TEST(SocketWriter, CollectsWithoutASocketAndRefusesWhenClosed) {
  ss::SocketWriter w;
  std::vector<std::string> lines{"a", "b", "c"};
  w.writelines(lines);
  EXPECT_EQ(w.getvalue(), "abc");
  w.close();
  EXPECT_THROW(w.write("x"), mpx::ValueError);
}

TEST(BaseRequestHandler, IsConstructedOnlyByAServer) { EXPECT_THROW(ss::StreamRequestHandler(), mpx::RuntimeError); }

TEST(BaseRequestHandler, FinishRunsWhenHandleThrows) {
  static std::atomic<int> finished{0};
  struct H : ss::BaseRequestHandler {
    void handle() override { throw std::runtime_error("boom"); }
    void finish() override { ++finished; }
  };
  struct Quiet : ss::TCPServer {
    using ss::TCPServer::TCPServer;
    int errors = 0;
    void handle_error(ss::Request&, const net::Address&) override { ++errors; }
  };
  finished = 0;  // a static: --gtest_repeat runs this again
  Quiet server(net::InetAddress{"127.0.0.1", 0}, ss::handler<H>());
  { auto c = connect_to(server.server_address); }
  server.handle_request();
  EXPECT_EQ(finished.load(), 1);
  EXPECT_EQ(server.errors, 1);
}

// ---- the serving loop ---------------------------------------------------------------

TEST(Server, HandlerSeesRequestClientAddressAndServer) {
  struct H : ss::BaseRequestHandler {
    void handle() override {
      auto peer = request.getpeername();
      request.sendall(peer == client_address && server.is_stream() ? "yes\n" : "no\n");
    }
  };
  ss::TCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<H>());
  EXPECT_NE(net::port(server.server_address), 0);  // port 0 resolved
  auto c = connect_to(server.server_address);
  server.handle_request();
  EXPECT_EQ(recv_line(c), "yes\n");
}

TEST(Server, HandlerClassWithConstructorArguments) {
  struct Greeter : ss::BaseRequestHandler {
    std::string greeting;
    explicit Greeter(std::string g) : greeting(std::move(g)) {}
    void handle() override { request.sendall(greeting + "\n"); }
  };
  ss::TCPServer server({"127.0.0.1", 0}, ss::handler<Greeter>(std::string("bonjour")));
  auto c = connect_to(server.server_address);
  server.handle_request();
  EXPECT_EQ(recv_line(c), "bonjour\n");
}

// Python: data, sock = self.request in a BaseRequestHandler of a UDPServer.
TEST(Server, DatagramBaseHandlerSeesPacketAndServerSocket) {
  struct H : ss::BaseRequestHandler {
    void handle() override {
      EXPECT_EQ(&request, &server.socket);
      request.sendto(std::string(net::as_text(packet)) + "!", client_address);
    }
  };
  ss::UDPServer server({"127.0.0.1", 0}, ss::handler<H>());
  net::Socket c(AF_INET, net::SOCK_DGRAM);
  c.settimeout(mpx::test::kClientTimeout);
  c.sendto("hey", server.server_address);
  server.handle_request();
  EXPECT_EQ(net::as_text(c.recvfrom(100).first), "hey!");
}

TEST(Server, HandleRequestTimesOutAndCallsHandleTimeout) {
  struct S : ss::TCPServer {
    using ss::TCPServer::TCPServer;
    int timeouts = 0;
    void handle_timeout() override { ++timeouts; }
  };
  S server(net::InetAddress{"127.0.0.1", 0}, ss::handler<EchoLines>());
  server.timeout = 10ms;
  server.handle_request();
  EXPECT_EQ(server.timeouts, 1);
}

TEST(Server, HandleErrorKeepsServing) {
  struct Flaky : ss::StreamRequestHandler {
    void handle() override {
      std::string line = rfile.readline();
      if (line == "fail\n") throw mpx::ValueError("bad request");
      wfile.write(line);
    }
  };
  struct S : ss::ThreadingTCPServer {
    using ss::ThreadingTCPServer::ThreadingTCPServer;
    ~S() override { server_close(); }  // handle_error runs on handler threads
    std::atomic<int> errors{0};
    void handle_error(ss::Request& r, const net::Address& a) override {
      ++errors;
      ss::ThreadingTCPServer::handle_error(r, a);  // prints, as Python's
    }
  };
  S server(net::InetAddress{"127.0.0.1", 0}, ss::handler<Flaky>());
  ServeThread serving(server);
  {
    auto c = connect_to(server.server_address);
    EXPECT_EQ(round_trip(c, "fail\n"), "");  // the connection is closed
  }
  auto c = connect_to(server.server_address);
  EXPECT_EQ(round_trip(c, "ok\n"), "ok\n");
  EXPECT_EQ(server.errors.load(), 1);
}

TEST(Server, VerifyRequestRejectionClosesWithoutServing) {
  static std::atomic<int> served{0};
  struct H : ss::BaseRequestHandler {
    void handle() override { ++served; }
  };
  struct S : ss::TCPServer {
    using ss::TCPServer::TCPServer;
    bool verify_request(ss::Request&, const net::Address&) override { return false; }
  };
  S server(net::InetAddress{"127.0.0.1", 0}, ss::handler<H>());
  auto c = connect_to(server.server_address);
  server.handle_request();
  EXPECT_EQ(recv_line(c), "");  // EOF
  EXPECT_EQ(served.load(), 0);
}

TEST(Server, ShutdownBeforeServeForeverReturnsAndTheNextServeEndsAtOnce) {
  ss::TCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<EchoLines>());
  server.shutdown();  // Python: returns (nothing is serving)
  server.serve_forever();
  SUCCEED();
}

TEST(Server, ShutdownWhileClientsAreConnected) {
  ss::ThreadingTCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<EchoLines>());
  std::vector<mpx::test::ClientSocket> clients;
  {
    ServeThread serving(server, 10s);  // shutdown must not wait for the poll interval
    for (int i = 0; i < 5; ++i) {
      clients.push_back(connect_to(server.server_address));
      EXPECT_EQ(round_trip(clients.back(), "hi\n"), "hi\n");
    }
  }  // shutdown() returned with 5 clients connected
  for (auto& c : clients) EXPECT_EQ(round_trip(c, "still served\n"), "still served\n");
  clients.clear();        // they leave...
  server.server_close();  // ...and block_on_close joins their threads
}

// Python's daemon threads outlive server_close and die with the interpreter.
// Here the destructor must stop them: a handler still running would call
// into the destroyed server (shutdown_request after handle returns). The
// clients stay connected through the destruction; their handlers must all
// have returned, and their connections ended, when it is over.
namespace {
std::atomic<int> g_daemon_handlers_running{0};
struct CountedEcho : ss::StreamRequestHandler {
  void setup() override {
    ++g_daemon_handlers_running;
    StreamRequestHandler::setup();
  }
  void handle() override {
    for (std::string_view line : rfile) wfile.write(line);
  }
  void finish() override {
    StreamRequestHandler::finish();
    --g_daemon_handlers_running;
  }
};
}  // namespace

TEST(Server, DestructorStopsDaemonThreadsStillServing) {
  std::vector<mpx::test::ClientSocket> clients;
  {
    ss::ThreadingTCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<CountedEcho>());
    server.daemon_threads = true;
    ServeThread serving(server, 10s);
    for (int i = 0; i < 5; ++i) {
      clients.push_back(connect_to(server.server_address));
      EXPECT_EQ(round_trip(clients.back(), "hi\n"), "hi\n");
    }
    EXPECT_EQ(g_daemon_handlers_running.load(), 5);
    serving.stop();
    server.server_close();  // does not wait for daemon threads (Python)...
    for (auto& c : clients) EXPECT_EQ(round_trip(c, "after close\n"), "after close\n");
  }  // ...the destructor does
  EXPECT_EQ(g_daemon_handlers_running.load(), 0);
  for (auto& c : clients) EXPECT_EQ(recv_line(c), "");  // the server's end is shut down
}

TEST(Server, ServerCloseIsIdempotentAndAllowReuseAddressIsOn) {
  ss::TCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<EchoLines>());
  EXPECT_TRUE(server.allow_reuse_address);
  EXPECT_EQ(server.socket.getsockopt(SOL_SOCKET, SO_REUSEADDR), 1);
  EXPECT_GE(server.request_queue_size, 128);
  server.server_close();
  server.server_close();
  EXPECT_EQ(server.fileno(), -1);
}

TEST(Server, BindAndActivateLater) {
  ss::TCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<EchoLines>(), false);
  server.allow_reuse_port = true;
  server.server_bind();
  server.server_activate();
  EXPECT_EQ(server.socket.getsockopt(SOL_SOCKET, SO_REUSEPORT), 1);
  auto c = connect_to(server.server_address);
  c.sendall("x\n");
  c.shutdown(net::SHUT_WR);
  server.handle_request();
  EXPECT_EQ(recv_line(c), "x\n");
}

// ---- Prefork: every transport ------------------------------------------------------

template <class S>
void prefork_echo(typename S::address_type address) {
  S server(std::move(address), ss::handler<PidEcho>());
  server.processes = 2;
  {
    ServeThread serving(server);
    for (int i = 0; i < 6; ++i) {
      auto c = connect_to(server.server_address);
      std::string reply = round_trip(c, "ping\n");
      EXPECT_TRUE(reply.ends_with(" ping\n")) << reply;
      EXPECT_NE(reply.substr(0, reply.find(' ')), std::to_string(::getpid()));  // a worker served it
    }
  }
  server.server_close();
  EXPECT_EQ(server.respawned(), 0u);
}

TEST(Prefork, TCPEcho) { prefork_echo<ss::PreforkTCPServer>({"127.0.0.1", 0}); }
TEST(Prefork, UnixStreamEcho) {
  UnixPath path;
  prefork_echo<ss::PreforkUnixStreamServer>(path.address());
}
TEST(Prefork, OneConnectionAtATimePerWorker) {
  ss::PreforkTCPServer server({"127.0.0.1", 0}, ss::handler<EchoLines>());
  server.processes = 1;
  server.worker_threads = false;
  ServeThread serving(server);
  auto c = connect_to(server.server_address);
  EXPECT_EQ(round_trip(c, "a\n"), "a\n");
}
TEST(Prefork, UDPEcho) {
  ss::PreforkUDPServer server({"127.0.0.1", 0}, ss::handler<DatagramEcho>());
  server.processes = 2;
  ServeThread serving(server);
  net::Socket c(AF_INET, net::SOCK_DGRAM);
  c.settimeout(mpx::test::kClientTimeout);
  for (int i = 0; i < 4; ++i) {
    c.sendto("dgram", server.server_address);
    EXPECT_EQ(net::as_text(c.recvfrom(100).first), "dgram");
  }
}

// ---- Python's pitfalls, fixed --------------------------------------------------------

// Python's request_queue_size = 5: 50 clients connecting while the server is
// busy overflow the backlog and their SYNs are dropped. Here 50 connects
// complete before the server accepts any, then all are served.
TEST(Pitfalls, BacklogHoldsFiftyConnectsBeforeAnyAccept) {
  ss::ThreadingTCPServer server({"127.0.0.1", 0}, ss::handler<EchoLines>());
  std::vector<mpx::test::ClientSocket> clients;
  for (int i = 0; i < 50; ++i) {
    net::Socket s(AF_INET, net::SOCK_STREAM);
    s.settimeout(500ms);  // a dropped SYN is retried after 1 s: this would time out
    s.connect(server.server_address);
    s.settimeout(mpx::test::kClientTimeout);
    clients.emplace_back(std::move(s));
  }
  ServeThread serving(server);
  for (auto& c : clients) EXPECT_EQ(round_trip(c, "x\n"), "x\n");
}

// 50 clients at once, each holding its connection until all 50 have their
// reply: every one must be served concurrently. Python's ForkingMixIn
// (max_children = 40) blocks in waitpid with 40 alive and never serves the
// 41st — this test would hang there.
// The clients run in a child process started before the server serves
// (their connections wait in the backlog), so a Forking or Prefork server
// never forks while other threads of its process allocate: GCC 12's libasan
// keeps no allocator lock across fork(), and a child forked mid-malloc hangs
// on it for ever. The child reports through its exit code.
template <class S>
void fifty_concurrent_clients(S& server) {
  mpx::Process clients = mpx::get_context("fork").Process([address = server.server_address] {
    constexpr int kClients = 50;
    std::latch all_replied(kClients);
    std::vector<std::future<bool>> results;
    for (int i = 0; i < kClients; ++i) {
      results.push_back(std::async(std::launch::async, [&, i] {
        bool counted = false;
        try {
          auto c = connect_to(address);
          std::string line = "client " + std::to_string(i) + "\n";
          const bool ok = round_trip(c, line) == line;
          all_replied.count_down();
          counted = true;
          all_replied.wait();  // bounded: every client gets its reply or fails its recv timeout
          return ok && round_trip(c, line) == line;
        } catch (const std::exception&) {
          if (!counted) all_replied.count_down();
          return false;
        }
      }));
    }
    bool all_ok = true;
    for (auto& r : results) all_ok = r.get() && all_ok;
    mpx::exit(all_ok ? 0 : 1);
  });
  clients.start();
  ServeThread serving(server);
  if (!clients.join(60s)) {
    clients.kill();
    clients.join();
    FAIL() << "the clients did not finish in 60 s";
  }
  EXPECT_EQ(clients.exitcode(), 0);
}
template <class S>
void fifty_concurrent_clients() {
  S server({"127.0.0.1", 0}, ss::handler<EchoLines>());
  fifty_concurrent_clients(server);
}
TEST(Pitfalls, FiftyConcurrentClientsThreading) { fifty_concurrent_clients<ss::ThreadingTCPServer>(); }
TEST(Pitfalls, FiftyConcurrentClientsForking) { fifty_concurrent_clients<ss::ForkingTCPServer>(); }
TEST(Pitfalls, FiftyConcurrentClientsPrefork) { fifty_concurrent_clients<ss::PreforkTCPServer>(); }

// At max_children the forking server stops accepting, but its loop goes on:
// a third client waits in the backlog and is served as soon as a child
// exits, and shutdown() returns while two children still serve.
TEST(Pitfalls, ForkingAtMaxChildrenKeepsTheLoopResponsive) {
  ss::ForkingTCPServer server({"127.0.0.1", 0}, ss::handler<EchoLines>());
  server.max_children = 2;
  {
    ServeThread serving(server);
    auto a = connect_to(server.server_address);
    auto b = connect_to(server.server_address);
    EXPECT_EQ(round_trip(a, "a\n"), "a\n");
    EXPECT_EQ(round_trip(b, "b\n"), "b\n");
    auto c = connect_to(server.server_address);  // in the backlog
    c.sendall("c\n");
    a.close();  // its child exits; its pidfd wakes the loop
    EXPECT_EQ(recv_line(c), "c\n");
  }  // shutdown() with b's child alive
  server.server_close();
  EXPECT_TRUE(server.active_children().empty());
}

// Python's StreamRequestHandler writes unbuffered with Nagle on: headers
// and body in two writes wait ~40 ms for the delayed ACK. Here wfile
// coalesces them into one send, and TCP_NODELAY is set anyway.
TEST(Pitfalls, HeadersAndBodyLeaveTogetherWithNagleOff) {
  struct Http : ss::StreamRequestHandler {
    void handle() override {
      rfile.readline();
      EXPECT_EQ(request.getsockopt(IPPROTO_TCP, TCP_NODELAY), 1);
      wfile.write("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n");
      wfile.write("hello");
    }
  };
  ss::TCPServer server({"127.0.0.1", 0}, ss::handler<Http>());
  auto c = connect_to(server.server_address);
  c.sendall("GET / HTTP/1.0\n");
  server.handle_request();
  char buf[256];
  std::size_t n = c.recv_into(std::as_writable_bytes(std::span(buf)));
  EXPECT_EQ(std::string_view(buf, n), "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello");
}

// ---- Aio: coroutine handlers on an aio loop -------------------------------------------

namespace {
struct AioEcho : ss::AioRequestHandler {
  mpx::aio::Task<> handle(mpx::aio::StreamReader reader, mpx::aio::StreamWriter writer) override {
    for (;;) {
      std::string line = co_await reader.readline();
      if (line.empty()) break;
      if (line == "fail\n") throw mpx::ValueError("bad line");
      writer.write(std::to_string(::getpid()) + " " + line);
      co_await writer.drain();
    }
  }
};

template <class S>
void aio_echo(typename S::address_type address, int processes) {
  S server(std::move(address), ss::aio_handler<AioEcho>());
  server.processes = processes;
  ServeThread serving(server);
  for (int i = 0; i < 4; ++i) {
    auto c = connect_to(server.server_address);
    std::string reply = round_trip(c, "ping\n");
    EXPECT_TRUE(reply.ends_with(" ping\n")) << reply;
    EXPECT_EQ(reply.substr(0, reply.find(' ')) == std::to_string(::getpid()), processes == 0);
  }
}
}  // namespace

TEST(Aio, TCPEchoOnOneLoop) { aio_echo<ss::AioTCPServer>({"127.0.0.1", 0}, 0); }
TEST(Aio, UnixStreamEchoOnOneLoop) {
  UnixPath path;
  aio_echo<ss::AioUnixStreamServer>(path.address(), 0);
}
TEST(Aio, TCPEchoOnALoopPerWorkerWithReusePort) { aio_echo<ss::AioTCPServer>({"127.0.0.1", 0}, 2); }
TEST(Aio, UnixStreamEchoOnALoopPerWorker) {
  UnixPath path;
  aio_echo<ss::AioUnixStreamServer>(path.address(), 2);
}

TEST(Aio, FiftyConcurrentClientsOnOneLoop) {
  struct Lines : ss::AioRequestHandler {
    mpx::aio::Task<> handle(mpx::aio::StreamReader reader, mpx::aio::StreamWriter writer) override {
      for (std::string line; !(line = co_await reader.readline()).empty();) {
        writer.write(line);
        co_await writer.drain();
      }
    }
  };
  ss::AioTCPServer server({"127.0.0.1", 0}, ss::aio_handler<Lines>());
  fifty_concurrent_clients(server);
}

TEST(Aio, HandlerErrorReachesHandleErrorAndTheLoopGoesOn) {
  struct S : ss::AioTCPServer {
    using ss::AioTCPServer::AioTCPServer;
    std::atomic<int> errors{0};
    void handle_error(ss::Request&, const net::Address& client) override {
      EXPECT_NE(net::port(client), 0);
      ++errors;
    }
  };
  S server({"127.0.0.1", 0}, ss::aio_handler<AioEcho>());
  ServeThread serving(server);
  {
    auto c = connect_to(server.server_address);
    EXPECT_EQ(round_trip(c, "fail\n"), "");  // closed
  }
  auto c = connect_to(server.server_address);
  EXPECT_TRUE(round_trip(c, "ok\n").ends_with(" ok\n"));
  EXPECT_EQ(server.errors.load(), 1);
}

TEST(Aio, ShutdownOfTheOneLoopClosesOpenConnections) {
  ss::AioTCPServer server({"127.0.0.1", 0}, ss::aio_handler<AioEcho>());
  auto c = connect_to(server.server_address);
  {
    ServeThread serving(server);
    EXPECT_TRUE(round_trip(c, "a\n").ends_with(" a\n"));
  }
  EXPECT_EQ(recv_line(c), "");  // EOF: the loop ended with serve_forever
}
