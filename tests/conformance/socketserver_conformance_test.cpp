// Port of CPython's Lib/test/test_socketserver.py (3.12): each test names
// its source. Python's servers are Server<Transport, Policy> aliases here;
// every transport × policy pair of SocketServerTest is run. Where the
// Python test re-raises from handle_error inside serve_forever's thread, the
// port records a failure instead (a C++ exception leaving a thread ends the
// process).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "mpx/detail/fd.hpp"
#include "mpx/socketserver.hpp"
#include "support/socketserver_support.hpp"

namespace ss = mpx::socketserver;
namespace net = mpx::net;
using namespace std::chrono_literals;
using mpx::test::connect_to;
using mpx::test::kClientTimeout;
using mpx::test::ServeThread;
using mpx::test::UnixPath;

namespace {

constexpr std::string_view kTestStr = "hello world\n";

// Python: make_server's MyHandler — echo one line.
struct LineHandlerStream : ss::StreamRequestHandler {
  void handle() override { wfile.write(rfile.readline()); }
};
struct LineHandlerDatagram : ss::DatagramRequestHandler {
  void handle() override { wfile.write(rfile.readline()); }
};

// Python: make_server's MyServer — an error in the handler fails the test.
template <class S>
struct MyServer : S {
  using S::S;
  void handle_error(ss::Request& request, const net::Address&) override {
    ADD_FAILURE() << "handle_error called";
    this->close_request(request);
  }
};

std::string stream_examine(const net::Address& address) {
  auto s = connect_to(address);
  s.sendall(kTestStr);
  return mpx::test::recv_line(s);
}

// Python: dgram_examine — an AF_UNIX client binds a path of its own so the
// server has an address to answer to.
std::string dgram_examine(const net::Address& address) {
  bool unix_ = address.index() == 2;
  net::Socket s(unix_ ? AF_UNIX : AF_INET, net::SOCK_DGRAM);
  s.settimeout(kClientTimeout);
  UnixPath own;
  if (unix_) s.bind(own.address());
  s.sendto(kTestStr, address);
  auto [data, from] = s.recvfrom(100);
  return std::string(net::as_text(data));
}

template <class S>
typename S::address_type pickaddr(const UnixPath& path) {
  if constexpr (std::is_same_v<typename S::address_type, net::UnixAddress>) {
    return path.address();
  } else {
    return net::InetAddress{"127.0.0.1", 0};
  }
}

// Python: SocketServerTest.run_server — serve on a thread, three clients, shutdown.
template <class S, class H>
void run_server(std::string (*examine)(const net::Address&)) {
  UnixPath path;
  MyServer<S> server(pickaddr<S>(path), ss::handler<H>());
  EXPECT_EQ(server.server_address, server.socket.getsockname());
  {
    ServeThread serving(server);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(examine(server.server_address), kTestStr);
  }
  server.server_close();
}

}  // namespace

// Port of SocketServerTest.test_TCPServer and its siblings.
TEST(SocketServerTest, test_TCPServer) { run_server<ss::TCPServer, LineHandlerStream>(stream_examine); }
TEST(SocketServerTest, test_ThreadingTCPServer) {
  run_server<ss::ThreadingTCPServer, LineHandlerStream>(stream_examine);
}
TEST(SocketServerTest, test_ForkingTCPServer) { run_server<ss::ForkingTCPServer, LineHandlerStream>(stream_examine); }
TEST(SocketServerTest, test_UnixStreamServer) { run_server<ss::UnixStreamServer, LineHandlerStream>(stream_examine); }
TEST(SocketServerTest, test_ThreadingUnixStreamServer) {
  run_server<ss::ThreadingUnixStreamServer, LineHandlerStream>(stream_examine);
}
TEST(SocketServerTest, test_ForkingUnixStreamServer) {
  run_server<ss::ForkingUnixStreamServer, LineHandlerStream>(stream_examine);
}
TEST(SocketServerTest, test_UDPServer) { run_server<ss::UDPServer, LineHandlerDatagram>(dgram_examine); }
TEST(SocketServerTest, test_ThreadingUDPServer) {
  run_server<ss::ThreadingUDPServer, LineHandlerDatagram>(dgram_examine);
}
TEST(SocketServerTest, test_ForkingUDPServer) { run_server<ss::ForkingUDPServer, LineHandlerDatagram>(dgram_examine); }
TEST(SocketServerTest, test_UnixDatagramServer) {
  run_server<ss::UnixDatagramServer, LineHandlerDatagram>(dgram_examine);
}
TEST(SocketServerTest, test_ThreadingUnixDatagramServer) {
  run_server<ss::ThreadingUnixDatagramServer, LineHandlerDatagram>(dgram_examine);
}
TEST(SocketServerTest, test_ForkingUnixDatagramServer) {
  run_server<ss::ForkingUnixDatagramServer, LineHandlerDatagram>(dgram_examine);
}

// Port of SocketServerTest.test_shutdown: ten servers, each serving on its
// thread, are shut down (Python issue #2302: shutdown() must not hang).
TEST(SocketServerTest, test_shutdown) {
  std::vector<std::unique_ptr<ss::TCPServer>> servers;
  std::vector<std::thread> threads;
  for (int i = 0; i < 10; ++i) {
    servers.push_back(
        std::make_unique<ss::TCPServer>(net::InetAddress{"127.0.0.1", 0}, ss::handler<ss::StreamRequestHandler>()));
    threads.emplace_back([s = servers.back().get()] { s->serve_forever(50ms); });
  }
  for (auto& s : servers) s->shutdown();
  for (auto& t : threads) t.join();
  for (auto& s : servers) s->server_close();
}

// Port of SocketServerTest.test_close_immediately: server_close() without
// ever serving (ThreadingMixIn with nothing to join).
TEST(SocketServerTest, test_close_immediately) {
  ss::ThreadingTCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<ss::StreamRequestHandler>());
  server.server_close();
  EXPECT_EQ(server.fileno(), -1);
}

// Port of SocketServerTest.test_tcpserver_bind_leak: a constructor whose
// bind fails closes its socket (the leak guard sees every descriptor).
TEST(SocketServerTest, test_tcpserver_bind_leak) {
  // Python binds an invalid port; here the port is taken (EADDRINUSE).
  ss::TCPServer taken(net::InetAddress{"127.0.0.1", 0}, ss::handler<ss::StreamRequestHandler>());
  for (int i = 0; i < 256; ++i) {
    EXPECT_THROW(ss::TCPServer(net::InetAddress{"127.0.0.1", net::port(taken.server_address)},
                               ss::handler<ss::StreamRequestHandler>()),
                 mpx::OSError);
  }
}

// Port of SocketServerTest.test_context_manager: leaving the scope closes.
TEST(SocketServerTest, test_context_manager) {
  int fd = -1;
  {
    ss::TCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<ss::StreamRequestHandler>());
    fd = server.fileno();
    EXPECT_GE(fd, 0);
  }
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // closed (nothing else opens descriptors meanwhile)
  EXPECT_EQ(errno, EBADF);
}

// Port of SocketServerTest.test_context_manager's second half: the server
// closes in its destructor even after serve_forever ran.
TEST(SocketServerTest, test_context_manager_after_serving) {
  ss::ThreadingTCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<LineHandlerStream>());
  {
    ServeThread serving(server);
    EXPECT_EQ(stream_examine(server.server_address), kTestStr);
  }
}

namespace {

// Python: ErrorHandlerTest's BadHandler and BaseErrorTestServer; the log is
// a pipe (handlers of the forking server write from the child).
struct ErrorLog {
  std::pair<mpx::detail::Fd, mpx::detail::Fd> pipe = mpx::detail::Fd::pipe();
  void write(std::string_view s) const { EXPECT_EQ(::write(pipe.second.get(), s.data(), s.size()), ssize_t(s.size())); }
  std::string read_all() {
    pipe.second.reset();
    std::string out;
    char buf[256];
    while (ssize_t n = ::read(pipe.first.get(), buf, sizeof buf)) {
      if (n < 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
};

struct TestError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct NotAnError {};  // Python's SystemExit: not an Exception, so not handled

template <class Policy>
struct ErrorTestServer : ss::Server<ss::TCP, Policy> {
  ErrorLog* log;
  bool raise_error;
  ErrorTestServer(ErrorLog* l, bool error, ss::HandlerClass h)
      : ss::Server<ss::TCP, Policy>(net::InetAddress{"127.0.0.1", 0}, std::move(h)), log(l), raise_error(error) {}
  void handle_error(ss::Request&, const net::Address&) override { log->write("Error handled\n"); }
};

template <class Policy>
struct BadHandler : ss::BaseRequestHandler {
  void handle() override {
    auto& s = static_cast<ErrorTestServer<Policy>&>(server);
    s.log->write("Handler called\n");
    if (s.raise_error) throw TestError("Test error");
    throw NotAnError{};
  }
};

template <class Policy>
std::string run_error_test(bool raise_error) {
  ErrorLog log;
  {
    ErrorTestServer<Policy> server(&log, raise_error, ss::handler<BadHandler<Policy>>());
    { auto c = connect_to(server.server_address); }
    if (raise_error) {
      server.handle_request();
    } else {
      EXPECT_THROW(server.handle_request(), NotAnError);
    }
    server.server_close();  // joins the thread, waits for the child
  }
  return log.read_all();
}

}  // namespace

// Port of ErrorHandlerTest.test_sync_handled.
TEST(ErrorHandlerTest, test_sync_handled) {
  EXPECT_EQ(run_error_test<ss::Sync>(true), "Handler called\nError handled\n");
}
// Port of ErrorHandlerTest.test_sync_not_handled.
TEST(ErrorHandlerTest, test_sync_not_handled) { EXPECT_EQ(run_error_test<ss::Sync>(false), "Handler called\n"); }
// Port of ErrorHandlerTest.test_threading_handled.
TEST(ErrorHandlerTest, test_threading_handled) {
  EXPECT_EQ(run_error_test<ss::Threading>(true), "Handler called\nError handled\n");
}
// Port of ErrorHandlerTest.test_forking_handled.
TEST(ErrorHandlerTest, test_forking_handled) {
  EXPECT_EQ(run_error_test<ss::Forking>(true), "Handler called\nError handled\n");
}

// Port of SocketWriterTest.test_basics: with wbufsize = 0 (Python's
// default) wfile.write sends at once and returns the length.
TEST(SocketWriterTest, test_basics) {
  struct Handler : ss::StreamRequestHandler {
    Handler() { wbufsize = 0; }
    void handle() override {
      EXPECT_EQ(wfile.write("write data\n"), 11u);
      EXPECT_EQ(wfile.buffered(), 0u);
    }
  };
  ss::TCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<Handler>());
  auto c = connect_to(server.server_address);
  server.handle_request();
  EXPECT_EQ(mpx::test::recv_line(c), "write data\n");
}

// Port of MiscTestCase.test_shutdown_request_called_if_verify_request_false.
TEST(MiscTestCase, test_shutdown_request_called_if_verify_request_false) {
  struct Server : ss::TCPServer {
    using ss::TCPServer::TCPServer;
    int shutdown_called = 0;
    bool verify_request(ss::Request&, const net::Address&) override { return false; }
    void shutdown_request(ss::Request& r) override {
      ++shutdown_called;
      ss::TCPServer::shutdown_request(r);
    }
  };
  Server server(net::InetAddress{"127.0.0.1", 0}, ss::handler<ss::StreamRequestHandler>());
  { auto c = connect_to(server.server_address); }
  server.handle_request();
  EXPECT_EQ(server.shutdown_called, 1);
}

namespace {
std::size_t thread_count() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}
}  // namespace

// Port of MiscTestCase.test_threads_reaped: the threads of finished
// requests do not pile up, and server_close() leaves none behind.
TEST(MiscTestCase, test_threads_reaped) {
  std::size_t before = thread_count();
  ss::ThreadingTCPServer server(net::InetAddress{"127.0.0.1", 0}, ss::handler<ss::StreamRequestHandler>());
  for (int n = 0; n < 10; ++n) {
    auto c = connect_to(server.server_address);
    server.handle_request();
  }
  server.server_close();
  EXPECT_EQ(thread_count(), before);
}
