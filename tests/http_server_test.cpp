// mpx::http's aio server over real sockets on 127.0.0.1: keep-alive,
// pipelining, chunked bodies, 100-continue, every failure status with a
// closed connection, the idle timeout, and serve() with worker processes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <future>
#include <thread>

#include "mpx/aio.hpp"
#include "mpx/detail/fd.hpp"
#include "mpx/http.hpp"
#include "support/http_client.hpp"

namespace aio = mpx::aio;
namespace http = mpx::http;
using mpx::test::HttpClient;

namespace {

// Echoes what it saw: "<method> <target> <body>".
void echo_handler(const http::Request& req, http::Response& resp) {
  if (req.target() == "/throw") throw mpx::ValueError("handler failed");
  resp.set_header("Content-Type", "text/plain");
  resp.body = std::string(req.method()) + " " + std::string(req.target()) + " " + std::string(req.body());
  if (req.target() == "/close") resp.close = true;
}

// An http::start_server running on its own thread's loop for one test.
class LoopServer {
 public:
  explicit LoopServer(http::ServeOptions options = {}, http::Handler handler = echo_handler) {
    std::promise<std::uint16_t> ready;
    auto port = ready.get_future();
    thread_ = std::thread([&, options, handler] { aio::run(main(handler, options, ready)); });
    port_ = port.get();
  }
  ~LoopServer() {
    loop_->call_soon_threadsafe([this] { stop_.set(); });
    thread_.join();
  }
  std::uint16_t port() const { return port_; }

 private:
  aio::Task<> main(http::Handler handler, http::ServeOptions options, std::promise<std::uint16_t>& ready) {
    try {
      std::string host = "127.0.0.1";  // named: g++ 12 destroys a converted coroutine argument twice
      aio::Server server = co_await http::start_server(handler, host, 0, options);
      loop_ = &aio::get_running_loop();
      ready.set_value(server.port());
      co_await stop_.wait();
      server.close();
    } catch (...) {
      ready.set_exception(std::current_exception());
    }
  }
  std::thread thread_;
  aio::EventLoop* loop_ = nullptr;
  aio::Event stop_;
  std::uint16_t port_ = 0;
};

// The children of `pid`, from /proc (Linux 3.5+: task/<tid>/children).
std::vector<int> children_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  std::vector<int> out;
  for (int child; in >> child;) out.push_back(child);
  return out;
}

}  // namespace

TEST(HttpServer, KeepAliveServesManyRequestsOnOneConnection) {
  LoopServer server;
  HttpClient c(server.port());
  for (int i = 0; i < 3; ++i) {
    auto r = c.request("GET /k" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "GET /k" + std::to_string(i) + " ");
    EXPECT_TRUE(r.has("\r\nServer: mpx\r\n"));
    EXPECT_TRUE(r.has("\r\nDate: "));
    EXPECT_TRUE(r.has("\r\nContent-Type: text/plain\r\n"));
    EXPECT_FALSE(r.has("Connection: close"));
  }
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  LoopServer server;
  HttpClient c(server.port());
  std::string batch;
  for (int i = 0; i < 20; ++i) batch += "GET /p" + std::to_string(i) + " HTTP/1.1\r\n\r\n";
  c.send(batch);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(c.read().body, "GET /p" + std::to_string(i) + " ");
}

TEST(HttpServer, Http10ClosesUnlessKeepAlive) {
  LoopServer server;
  {
    HttpClient c(server.port());
    auto r = c.request("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_TRUE(r.has("Connection: keep-alive"));
    EXPECT_EQ(c.request("GET /b HTTP/1.0\r\n\r\n").body, "GET /b ");
    EXPECT_TRUE(c.closed_by_server());
  }
  HttpClient c(server.port());
  auto r = c.request("GET /c HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(r.has("Connection: close"));
  EXPECT_TRUE(c.closed_by_server());
}

TEST(HttpServer, HandlerAsksToClose) {
  LoopServer server;
  HttpClient c(server.port());
  c.send("GET /close HTTP/1.1\r\n\r\nGET /never HTTP/1.1\r\n\r\n");
  EXPECT_TRUE(c.read().has("Connection: close"));
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_TRUE(c.pending().empty());  // the pipelined request after it is not answered
}

TEST(HttpServer, BodiesByLengthAndChunked) {
  LoopServer server;
  HttpClient c(server.port());
  EXPECT_EQ(c.request("POST /l HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").body, "POST /l hello");
  EXPECT_EQ(
      c.request("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;e=1\r\nde\r\n0\r\n\r\n").body,
      "POST /c abcde");
  // A body split over many sends.
  c.send("PUT /s HTTP/1.1\r\nContent-Length: 6\r\n\r\nab");
  c.send("cd");
  c.send("ef");
  EXPECT_EQ(c.read().body, "PUT /s abcdef");
}

TEST(HttpServer, ExpectContinueGets100BeforeTheBody) {
  LoopServer server;
  HttpClient c(server.port());
  auto interim = c.request("PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(interim.status, 100);
  EXPECT_EQ(c.request("xyz").body, "PUT /e xyz");
}

TEST(HttpServer, HeadHasALengthAndNoBody) {
  LoopServer server;
  HttpClient c(server.port());
  auto r = c.request("HEAD /h HTTP/1.1\r\n\r\n", true);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.has("Content-Length: 8"));  // "HEAD /h "
  EXPECT_EQ(c.request("GET /after HTTP/1.1\r\n\r\n").body, "GET /after ");
}

TEST(HttpServer, HandlerExceptionIs500AndClose) {
  LoopServer server;
  HttpClient c(server.port());
  auto r = c.request("GET /throw HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 500);
  EXPECT_TRUE(c.closed_by_server());
}

TEST(HttpServer, BadRequestsGetTheirStatusAndAClosedConnection) {
  http::ServeOptions options;
  options.limits = {.max_request_line = 256, .max_headers = 10, .max_header_bytes = 1024, .max_body = 100};
  LoopServer server(options);
  struct Case {
    std::string request;
    int status;
  };
  std::vector<Case> cases = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400},
      {"GET /" + std::string(300, 'u') + " HTTP/1.1\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nX: " + std::string(2000, 'v') + "\r\n\r\n", 431},
      {"GET / HTTP/1.1\r\n" +
           std::string(11 * 5, 'x')
               .replace(0, 55,
                        "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n"
                        "A: 1\r\nA: 1\r\nA: 1\r\nA: 1\r\n") +
           "\r\n",
       431},
      {"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", 413},
      {"GET / HTTP/2.0\r\n\r\n", 505},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: br\r\n\r\n", 501},
  };
  for (const auto& k : cases) {
    HttpClient c(server.port());
    auto r = c.request(k.request);
    EXPECT_EQ(r.status, k.status) << k.request.substr(0, 60);
    EXPECT_TRUE(r.has("Connection: close"));
    EXPECT_TRUE(c.closed_by_server());
  }
  // The server is still serving.
  HttpClient c(server.port());
  EXPECT_EQ(c.request("GET /ok HTTP/1.1\r\n\r\n").status, 200);
}

TEST(HttpServer, AFloodOfHeaderBytesIsCutOff) {
  LoopServer server;
  HttpClient c(server.port());
  c.send("GET / HTTP/1.1\r\n");
  std::string junk = "X-Junk: " + std::string(8192, 'j') + "\r\n";
  int status = 0;
  try {
    for (int i = 0; i < 64; ++i) c.send(junk);  // 512 KiB, far over 64 KiB
  } catch (const mpx::ConnectionError&) {
    // The server answered and closed while we were still sending.
  }
  try {
    status = c.read().status;
  } catch (const mpx::Error&) {
    status = 431;  // reset before the answer could be read: closed all the same
  }
  EXPECT_EQ(status, 431);
}

TEST(HttpServer, IdleAndSlowClientsAreClosedAfterTheTimeout) {
  http::ServeOptions options;
  options.timeout = std::chrono::milliseconds(100);
  LoopServer server(options);
  HttpClient idle(server.port());
  HttpClient slow(server.port());
  slow.send("GET / HT");  // and never the rest
  HttpClient kept(server.port());
  EXPECT_EQ(kept.request("GET /k HTTP/1.1\r\n\r\n").status, 200);
  EXPECT_TRUE(idle.closed_by_server());
  EXPECT_TRUE(slow.closed_by_server());
  EXPECT_TRUE(kept.closed_by_server());
}

TEST(HttpServer, ServeWithWorkerProcesses) {
  auto [r, w] = mpx::detail::Fd::pipe();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    r.reset();
    int fd = w.get();
    try {
      http::serve("127.0.0.1", 0, echo_handler, {.workers = 2, .ready = [fd](std::uint16_t port) {
                                                   if (::write(fd, &port, sizeof port) != sizeof port) ::_exit(3);
                                                 }});
    } catch (...) {
      ::_exit(2);
    }
    ::_exit(0);
  }
  w.reset();
  std::uint16_t port = 0;
  ASSERT_TRUE(mpx::detail::wait_readable(r.get(), 20000));
  ASSERT_EQ(::read(r.get(), &port, sizeof port), static_cast<ssize_t>(sizeof port));
  for (int i = 0; i < 20; ++i) {
    HttpClient c(port);
    EXPECT_EQ(c.request("GET /w" + std::to_string(i) + " HTTP/1.1\r\n\r\n").body, "GET /w" + std::to_string(i) + " ");
  }
  // A worker killed with SIGKILL: the other serves meanwhile, and it is replaced.
  std::vector<int> workers = children_of(pid);
  ASSERT_EQ(workers.size(), 2u);
  {
    auto gone = mpx::detail::Fd::pidfd_open(workers[0]);
    ASSERT_EQ(::kill(workers[0], SIGKILL), 0);
    ASSERT_TRUE(mpx::detail::wait_readable(gone.get(), 20000));  // exited: its listener is closed
  }
  for (int i = 0; i < 20; ++i) {
    HttpClient c(port);
    EXPECT_EQ(c.request("GET /after HTTP/1.1\r\n\r\n").status, 200);
  }
  // The master's replacement shows up in /proc (no event says "forked"; bounded wait).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::vector<int> now;
  while ((now = children_of(pid)).size() != 2 || now[0] == workers[0] || now[1] == workers[0]) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the killed worker was not replaced";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
}
