// Ports of CPython's Lib/test/test_httpservers.py for mpx::http's
// BaseHTTPRequestHandler, SimpleHTTPRequestHandler and HTTPServer, each
// over a real socket on 127.0.0.1 port 0 (Python's BaseHTTPRequestHandlerTestCase
// used a socketless handler; here the same bytes cross a connection), and
// mpx's own cases: limits, timeouts, pipelining, chunked bodies.
//
// Deliberate difference: mpx does not speak HTTP/0.9, so a request line
// without a version is a 400 (Python answers test_version_none_get and
// test_http_0_9 in HTTP/0.9).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <thread>

#include "mpx/http.hpp"
#include "support/http_client.hpp"

namespace http = mpx::http;
namespace ss = mpx::socketserver;
using mpx::test::HttpClient;

namespace {

// Python: NoLogRequestHandler.
template <class Base>
struct NoLog : Base {
  using Base::Base;
  void log_message(std::string_view) override {}
};

// Python: TestServerThread — HTTPServer(('localhost', 0), handler).serve_forever(0.05) on a thread.
class ServerThread {
 public:
  explicit ServerThread(ss::HandlerClass handler) : server_({"127.0.0.1", 0}, std::move(handler)) {
    server_.daemon_threads = false;  // the test joins every handler thread
    thread_ = std::thread([this] { server_.serve_forever(std::chrono::milliseconds(50)); });
  }
  ~ServerThread() {
    server_.shutdown();
    thread_.join();
  }
  std::uint16_t port() const { return server_.server_port; }

 private:
  http::ThreadingHTTPServer server_;
  std::thread thread_;
};

// Python: BaseHTTPServerTestCase.request_handler.
struct BaseHandler : NoLog<http::BaseHTTPRequestHandler> {
  BaseHandler() { protocol_version = "HTTP/1.1"; }
  void do_method(std::string_view m) override {
    if (m == "TEST") {
      send_response(204);
      send_header("Content-Type", "text/html");
      send_header("Connection", "close");
      end_headers();
    } else if (m == "KEEP") {
      send_response(204);
      send_header("Content-Type", "text/html");
      send_header("Connection", "keep-alive");
      end_headers();
    } else if (m == "KEYERROR") {
      send_error(999);
    } else if (m == "NOTFOUND") {
      send_error(404);
    } else if (m == "EXPLAINERROR") {
      send_error(999, "Short Message", "This is a long \n explanation");
    } else if (m == "CUSTOM") {
      send_response(999);
      send_header("Content-Type", "text/html");
      send_header("Connection", "close");
      end_headers();
    } else if (m == "LATINONEHEADER") {
      send_response(999);
      send_header("X-Special", "D\xc3\xa4ngerous Mind");
      send_header("Connection", "close");
      end_headers();
      wfile.write(headers.get("x-special-incoming", ""));
    } else {
      BaseHTTPRequestHandler::do_method(m);
    }
  }
};

class BaseHTTPServerTest : public ::testing::Test {
 protected:
  ServerThread server{ss::handler<BaseHandler>()};
  HttpClient con{server.port()};
};

// Python: BaseHTTPServerTestCase.test_command — no do_GET: 501.
TEST_F(BaseHTTPServerTest, Command) { EXPECT_EQ(con.request("GET / HTTP/1.1\r\n\r\n").status, 501); }
// Python: BaseHTTPServerTestCase.test_request_line_trimming — a bare LF ends the line.
TEST_F(BaseHTTPServerTest, RequestLineTrimming) { EXPECT_EQ(con.request("XYZBOGUS / HTTP/1.1\n\r\n").status, 501); }
// Python: BaseHTTPServerTestCase.test_version_bogus.
TEST_F(BaseHTTPServerTest, VersionBogus) { EXPECT_EQ(con.request("GET / FUBAR\r\n\r\n").status, 400); }
// Python: BaseHTTPServerTestCase.test_version_digits.
TEST_F(BaseHTTPServerTest, VersionDigits) { EXPECT_EQ(con.request("GET / HTTP/9.9.9\r\n\r\n").status, 400); }
// Python: BaseHTTPServerTestCase.test_version_none.
TEST_F(BaseHTTPServerTest, VersionNone) { EXPECT_EQ(con.request("CUSTOM /\r\n\r\n").status, 400); }
// Python: BaseHTTPServerTestCase.test_version_invalid.
TEST_F(BaseHTTPServerTest, VersionInvalid) { EXPECT_EQ(con.request("GET / HTTP/9.9\r\n\r\n").status, 505); }
// Python: BaseHTTPServerTestCase.test_send_blank.
TEST_F(BaseHTTPServerTest, SendBlank) { EXPECT_EQ(con.request(" \r\n\r\n").status, 400); }
// Python: BaseHTTPServerTestCase.test_header_close.
TEST_F(BaseHTTPServerTest, HeaderClose) {
  EXPECT_EQ(con.request("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").status, 501);
  EXPECT_TRUE(con.closed_by_server());
}
// Python: BaseHTTPServerTestCase.test_head_keep_alive.
TEST_F(BaseHTTPServerTest, HeadKeepAlive) {
  EXPECT_EQ(con.request("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n").status, 501);
}
// Python: BaseHTTPServerTestCase.test_handler.
TEST_F(BaseHTTPServerTest, Handler) { EXPECT_EQ(con.request("TEST / HTTP/1.1\r\n\r\n").status, 204); }
// Python: BaseHTTPServerTestCase.test_return_header_keep_alive.
TEST_F(BaseHTTPServerTest, ReturnHeaderKeepAlive) {
  EXPECT_TRUE(con.request("KEEP / HTTP/1.1\r\n\r\n").has("\r\nConnection: keep-alive\r\n"));
  EXPECT_EQ(con.request("TEST / HTTP/1.1\r\n\r\n").status, 204);
}
// Python: BaseHTTPServerTestCase.test_internal_key_error.
TEST_F(BaseHTTPServerTest, InternalKeyError) { EXPECT_EQ(con.request("KEYERROR / HTTP/1.1\r\n\r\n").status, 999); }
// Python: BaseHTTPServerTestCase.test_return_custom_status.
TEST_F(BaseHTTPServerTest, ReturnCustomStatus) { EXPECT_EQ(con.request("CUSTOM / HTTP/1.1\r\n\r\n").status, 999); }
// Python: BaseHTTPServerTestCase.test_return_explain_error.
TEST_F(BaseHTTPServerTest, ReturnExplainError) {
  auto r = con.request("EXPLAINERROR / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 999);
  EXPECT_FALSE(r.body.empty());
  EXPECT_NE(r.body.find("This is a long \n explanation"), std::string::npos);
}
// Python: BaseHTTPServerTestCase.test_latin1_header.
TEST_F(BaseHTTPServerTest, Latin1Header) {
  auto r = con.request("LATINONEHEADER / HTTP/1.1\r\nX-Special-Incoming: \xc3\x84rger mit Unicode\r\n\r\n");
  EXPECT_TRUE(r.has("X-Special: D\xc3\xa4ngerous Mind"));
  EXPECT_EQ(con.read_to_eof(), "\xc3\x84rger mit Unicode");  // no Content-Length: the body ends at the close
}
// Python: BaseHTTPServerTestCase.test_error_content_length (issue #16088).
TEST_F(BaseHTTPServerTest, ErrorContentLength) {
  auto r = con.request("NOTFOUND / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(r.has("Content-Length: " + std::to_string(r.body.size())));
}
// Python: BaseHTTPServerTestCase.test_send_error — no body for 204, 205, 304, HEAD.
TEST_F(BaseHTTPServerTest, HeadViaSendError) {
  auto r = con.request("HEAD / HTTP/1.1\r\n\r\n", true);
  EXPECT_EQ(r.status, 501);
  EXPECT_FALSE(r.has("Content-Length: 0"));
  EXPECT_TRUE(con.closed_by_server());
  EXPECT_TRUE(con.pending().empty());  // no body followed the head
}
// Python: BaseHTTPServerTestCase.test_request_length — a request line over the limit: 414.
TEST_F(BaseHTTPServerTest, RequestLength) {
  EXPECT_EQ(con.request("GET /" + std::string(70000, 'x') + " HTTP/1.1\r\n\r\n").status, 414);
  EXPECT_TRUE(con.closed_by_server());
}
// Python: BaseHTTPServerTestCase.test_header_length — 431.
TEST_F(BaseHTTPServerTest, HeaderLength) {
  EXPECT_EQ(con.request("GET / HTTP/1.1\r\nX-Foo: " + std::string(70000, 'b') + "\r\n\r\n").status, 431);
}
// Python: BaseHTTPServerTestCase.test_too_many_headers — 431.
TEST_F(BaseHTTPServerTest, TooManyHeaders) {
  std::string req = "GET / HTTP/1.1\r\n";
  for (int i = 0; i < 101; ++i) req += "X-Foo: bar\r\n";
  EXPECT_EQ(con.request(req + "\r\n").status, 431);
}
// Python: BaseHTTPServerTestCase.test_html_escape_on_error.
TEST_F(BaseHTTPServerTest, HtmlEscapeOnError) {
  auto r = con.request("<script>alert('hello')</script> / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(r.status, 400);  // not a token: mpx refuses it before any handler runs
  EXPECT_EQ(r.body.find("<script>"), std::string::npos);
}

// Python: RequestHandlerLoggingTestCase.request_handler.
struct LoggingHandler : http::BaseHTTPRequestHandler {
  LoggingHandler() { protocol_version = "HTTP/1.1"; }
  void do_GET() override {
    send_response(200);
    end_headers();
  }
  void do_method(std::string_view m) override {
    if (m == "ERROR") send_error(404, "File not found");
  }
};

// Runs `fn` with stderr (fd 2) sent to a file; returns what was written.
std::string capture_stderr(const std::function<void()>& fn) {
  std::fflush(stderr);
  char path[] = "/tmp/mpx-http-stderr-XXXXXX";
  int fd = ::mkstemp(path);
  EXPECT_GE(fd, 0);
  int saved = ::dup(2);
  ::dup2(fd, 2);
  fn();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path);
  return text;
}

// Python: RequestHandlerLoggingTestCase.test_get.
TEST(RequestHandlerLogging, Get) {
  std::string err = capture_stderr([] {
    ServerThread server(ss::handler<LoggingHandler>());
    HttpClient con(server.port());
    con.request("GET / HTTP/1.1\r\n\r\n");
    con.send("GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
    con.read();
    con.closed_by_server();  // the handler has logged both requests
  });
  EXPECT_NE(err.find("\"GET / HTTP/1.1\" 200 -\n"), std::string::npos) << err;
  EXPECT_EQ(err.rfind("127.0.0.1 - - [", 0), 0u) << err;
}

// Python: RequestHandlerLoggingTestCase.test_err.
TEST(RequestHandlerLogging, Err) {
  std::string err = capture_stderr([] {
    ServerThread server(ss::handler<LoggingHandler>());
    HttpClient con(server.port());
    con.request("ERROR / HTTP/1.1\r\n\r\n");
    con.closed_by_server();
  });
  auto first_end = err.find('\n');
  ASSERT_NE(first_end, std::string::npos);
  std::string first = err.substr(0, first_end), second = err.substr(first_end + 1);
  EXPECT_TRUE(first.ends_with("code 404, message File not found")) << err;
  EXPECT_TRUE(second.starts_with("127.0.0.1") && second.find("\"ERROR / HTTP/1.1\" 404 -\n") != std::string::npos)
      << err;
}

// Python 3.12 test_httpservers: control characters in a request line are escaped in the log.
TEST(RequestHandlerLogging, ControlCharactersAreEscaped) {
  std::string err = capture_stderr([] {
    ServerThread server(ss::handler<LoggingHandler>());
    HttpClient con(server.port());
    con.request("GET /\x1b[31mred HTTP/1.1\r\n\r\n");
    con.closed_by_server();
  });
  EXPECT_EQ(err.find('\x1b'), std::string::npos);
}

// Python: SocketlessRequestHandler (with a real socket).
struct DataHandler : NoLog<http::BaseHTTPRequestHandler> {
  DataHandler() { protocol_version = "HTTP/1.1"; }
  void do_GET() override {
    send_response(200);
    send_header("Content-Type", "text/html");
    send_header("Content-Length", "32");
    end_headers();
    wfile.write("<html><body>Data</body></html>\r\n");
  }
  void do_POST() override {
    send_response(200);
    send_header("Content-Length", std::to_string(body().size()));
    end_headers();
    wfile.write(body());
  }
};
// Python: RejectingSocketlessRequestHandler.
struct RejectingHandler : DataHandler {
  bool handle_expect_100() override {
    send_error(417);
    return false;
  }
};

// Python: BaseHTTPRequestHandlerTestCase.test_http_1_1 / test_http_1_0.
TEST(BaseHTTPRequestHandler, Http11And10) {
  ServerThread server(ss::handler<DataHandler>());
  for (const char* version : {"HTTP/1.1", "HTTP/1.0"}) {
    HttpClient con(server.port());
    auto r = con.request(std::string("GET / ") + version + "\r\n\r\n");
    EXPECT_EQ(r.head.substr(0, 15), "HTTP/1.1 200 OK");
    EXPECT_TRUE(r.has("\r\nServer: BaseHTTP/0.6 ") && r.has("\r\nDate: ") && r.has("\r\nContent-Type: text/html"));
    EXPECT_EQ(r.body, "<html><body>Data</body></html>\r\n");
  }
}

// Python: BaseHTTPRequestHandlerTestCase.test_with_continue_1_1.
TEST(BaseHTTPRequestHandler, WithContinue11) {
  ServerThread server(ss::handler<DataHandler>());
  HttpClient con(server.port());
  auto interim = con.request("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(interim.head, "HTTP/1.1 100 Continue\r\n");
  auto r = con.request("data");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "data");
}

// Python: BaseHTTPRequestHandlerTestCase.test_with_continue_1_0 — no 100 for HTTP/1.0.
TEST(BaseHTTPRequestHandler, WithContinue10) {
  ServerThread server(ss::handler<DataHandler>());
  HttpClient con(server.port());
  auto r = con.request("GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(r.status, 200);
}

// Python: BaseHTTPRequestHandlerTestCase.test_with_continue_rejected.
TEST(BaseHTTPRequestHandler, WithContinueRejected) {
  ServerThread server(ss::handler<RejectingHandler>());
  HttpClient con(server.port());
  auto r = con.request("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(r.status, 417);
  EXPECT_TRUE(con.closed_by_server());
}

// mpx: pipelined keep-alive requests, answered in order (batched in wfile).
TEST(BaseHTTPRequestHandler, KeepAlivePipelining) {
  ServerThread server(ss::handler<DataHandler>());
  HttpClient con(server.port());
  std::string batch;
  for (int i = 0; i < 10; ++i) batch += "POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\n" + std::to_string(10 + i);
  con.send(batch);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(con.read().body, std::to_string(10 + i));
}

// mpx: a chunked request body reaches the handler de-chunked.
TEST(BaseHTTPRequestHandler, ChunkedRequestBody) {
  ServerThread server(ss::handler<DataHandler>());
  HttpClient con(server.port());
  auto r = con.request("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n");
  EXPECT_EQ(r.body, "Wikipedia");
}

// mpx: malformed and oversized requests get their status and a closed connection; the server goes on.
TEST(BaseHTTPRequestHandler, BadRequestsCloseTheConnection) {
  struct Small : DataHandler {
    Small() { limits = {.max_request_line = 128, .max_headers = 5, .max_header_bytes = 512, .max_body = 16}; }
  };
  ServerThread server(ss::handler<Small>());
  std::vector<std::pair<std::string, int>> cases = {
      {"GET / HTTP/1.1\r\nBad header\r\n\r\n", 400},
      {"GET /" + std::string(200, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"GET / HTTP/1.1\r\nA: " + std::string(600, 'a') + "\r\n\r\n", 431},
      {"POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n", 413},
      {"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
  };
  for (const auto& [req, status] : cases) {
    HttpClient con(server.port());
    auto r = con.request(req);
    EXPECT_EQ(r.status, status) << req.substr(0, 40);
    EXPECT_TRUE(r.has("Connection: close"));
    EXPECT_TRUE(con.closed_by_server());
  }
  HttpClient con(server.port());
  EXPECT_EQ(con.request("GET / HTTP/1.1\r\n\r\n").status, 200);
}

// mpx: `timeout` bounds a request that never completes (and an idle keep-alive connection).
TEST(BaseHTTPRequestHandler, SlowClientTimesOut) {
  struct Impatient : DataHandler {
    Impatient() { timeout = std::chrono::milliseconds(200); }
  };
  ServerThread server(ss::handler<Impatient>());
  HttpClient slow(server.port());
  slow.send("GET / HTTP/1.1\r\nHost: a\r\n");  // and never the blank line
  HttpClient idle(server.port());
  EXPECT_EQ(idle.request("GET / HTTP/1.1\r\n\r\n").status, 200);
  EXPECT_TRUE(slow.closed_by_server());
  EXPECT_TRUE(idle.closed_by_server());
}

// Python: SimpleHTTPServerTestCase — a temporary directory served by
// SimpleHTTPRequestHandler(directory=...) (Python chdirs to its parent).
class SimpleHTTPServerTest : public ::testing::Test {
 protected:
  SimpleHTTPServerTest() {
    char templ[] = "/tmp/mpx-http-XXXXXX";
    root_ = ::mkdtemp(templ);
    tempdir_name = "sub";
    base_url = "/" + tempdir_name;
    ::mkdir((root_ + "/sub").c_str(), 0755);
    write(root_ + "/sub/test", data);
    ::mkdir((root_ + "/outside").c_str(), 0755);
    write(root_ + "/outside/secret", "secret");
    server_ = std::make_unique<ServerThread>(ss::handler<NoLog<http::SimpleHTTPRequestHandler>>(root_ + "/sub/.."));
    // The served directory is root_/sub/..: "outside" is beside "sub", both inside it;
    // traversal tests below aim above root_.
  }
  ~SimpleHTTPServerTest() override {
    server_.reset();
    std::string cmd = "rm -rf '" + root_ + "'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
  static void write(const std::string& path, std::string_view text) { std::ofstream(path, std::ios::binary) << text; }
  // Python: check_status_and_reason — HTTP/1.0, connection closed, no extra data.
  std::string check(std::string_view target, int status, std::optional<std::string_view> body = {},
                    std::string method = "GET") {
    HttpClient con(server_->port());
    auto r = con.request(method + " " + std::string(target) + " HTTP/1.1\r\n\r\n", method == "HEAD");
    EXPECT_EQ(r.status, status) << target;
    EXPECT_EQ(r.head.substr(0, 8), "HTTP/1.0");
    if (body) {
      EXPECT_EQ(r.body, *body) << target;
    }
    EXPECT_TRUE(con.closed_by_server());
    EXPECT_TRUE(con.pending().empty());
    last_head = r.head;
    return r.body;
  }
  std::string root_, tempdir_name, base_url, last_head;
  std::string data = "We are the knights who say Ni!";
  std::unique_ptr<ServerThread> server_;
};

// Python: SimpleHTTPServerTestCase.test_get.
TEST_F(SimpleHTTPServerTest, Get) {
  check(base_url + "/test", 200, data);
  check(base_url + "/test/", 404);  // issue17324
  check(base_url + "/", 200);
  check(base_url, 301);
  check(base_url + "/?hi=2", 200);
  check(base_url + "?hi=1", 301);
  EXPECT_NE(last_head.find("\r\nLocation: " + base_url + "/?hi=1\r\n"), std::string::npos) << last_head;
  check("/ThisDoesNotExist", 404);
  check("/ThisDoesNotExist/", 404);
  write(root_ + "/sub/index.html", "Dummy index file\r\n");
  check(base_url + "/", 200, "Dummy index file\r\n");
}

// Python: SimpleHTTPServerTestCase.test_head.
TEST_F(SimpleHTTPServerTest, Head) {
  check(base_url + "/test", 200, "", "HEAD");
  EXPECT_NE(last_head.find("\r\nContent-Length: " + std::to_string(data.size()) + "\r\n"), std::string::npos);
  EXPECT_NE(last_head.find("\r\nContent-type: application/octet-stream\r\n"), std::string::npos);
}

// Python: SimpleHTTPServerTestCase.test_invalid_requests.
TEST_F(SimpleHTTPServerTest, InvalidRequests) {
  check("/", 501, {}, "FOO");
  check("/", 501, {}, "custom");  // methods are case-sensitive
  check("/", 501, {}, "GETs");
}

// Python: SimpleHTTPServerTestCase.test_path_without_leading_slash.
TEST_F(SimpleHTTPServerTest, PathWithoutLeadingSlash) {
  check(tempdir_name + "/test", 200, data);
  check(tempdir_name + "/test/", 404);
  check(tempdir_name + "/", 200);
  check(tempdir_name, 301);
  check(tempdir_name + "/?hi=2", 200);
  check(tempdir_name + "?hi=1", 301);
  EXPECT_NE(last_head.find("\r\nLocation: " + tempdir_name + "/?hi=1\r\n"), std::string::npos);
}

// Python: SimpleHTTPServerTestCase.test_html_escape_filename.
TEST_F(SimpleHTTPServerTest, HtmlEscapeFilename) {
  write(root_ + "/sub/<test&>.txt", "");
  std::string body = check(base_url + "/", 200);
  EXPECT_NE(last_head.find("text/html; charset=utf-8"), std::string::npos);
  EXPECT_NE(body.find(">&lt;test&amp;&gt;.txt<"), std::string::npos) << body;
  EXPECT_NE(body.find("href=\"%3Ctest%26%3E.txt\""), std::string::npos) << body;
}

// Python: SimpleHTTPServerTestCase.test_last_modified, test_browser_cache,
// test_browser_cache_file_changed, test_browser_cache_with_If_None_Match_header.
TEST_F(SimpleHTTPServerTest, BrowserCache) {
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/sub/test").c_str(), &st), 0);
  std::string last_modif = http::BaseHTTPRequestHandler::date_time_string(st.st_mtime);
  auto get = [&](const std::string& extra) {
    HttpClient con(server_->port());
    auto r = con.request("GET " + base_url + "/test HTTP/1.1\r\n" + extra + "\r\n");
    EXPECT_TRUE(con.closed_by_server());
    return r;
  };
  // test_last_modified
  auto r = get("");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.has("\r\nLast-Modified: " + last_modif + "\r\n")) << r.head;
  // test_browser_cache: the date itself, and an hour later
  EXPECT_EQ(get("If-Modified-Since: " + last_modif + "\r\n").status, 304);
  std::string later = http::BaseHTTPRequestHandler::date_time_string(st.st_mtime + 3600);
  EXPECT_EQ(get("If-Modified-Since: " + later + "\r\n").status, 304);
  // test_browser_cache_file_changed: a year before
  std::string before = http::BaseHTTPRequestHandler::date_time_string(st.st_mtime - 365 * 86400);
  EXPECT_EQ(get("If-Modified-Since: " + before + "\r\n").status, 200);
  // test_browser_cache_with_If_None_Match_header
  EXPECT_EQ(get("If-Modified-Since: " + last_modif + "\r\nIf-None-Match: *\r\n").status, 200);
  // A date that does not parse is ignored (Python too).
  EXPECT_EQ(get("If-Modified-Since: yesterday\r\n").status, 200);
}

// mpx: ".." (plain or percent-encoded) never leaves the directory; types by extension.
TEST_F(SimpleHTTPServerTest, TraversalIsRefusedAndTypesFollowExtensions) {
  std::string top = root_.substr(root_.rfind('/') + 1);  // root_'s own name, one level up
  check("/../" + top + "/outside/secret", 404);
  check("/%2e%2e/%2e%2e/" + top + "/outside/secret", 404);
  check("/sub/../../../../etc/passwd", 404);
  check("/outside/secret", 200, "secret");  // inside the served directory: fine
  write(root_ + "/sub/page.HTML", "<p>x</p>");
  write(root_ + "/sub/style.css", "p{}");
  check("/sub/page.HTML", 200, "<p>x</p>");
  EXPECT_NE(last_head.find("\r\nContent-type: text/html\r\n"), std::string::npos);
  check("/sub/style.css", 200);
  EXPECT_NE(last_head.find("\r\nContent-type: text/css\r\n"), std::string::npos);
  check("/sub/te%73t", 200, data);  // percent-decoded
}

}  // namespace
