// mpx/http/handlers.hpp — Python's http.server on mpx::socketserver:
// BaseHTTPRequestHandler, SimpleHTTPRequestHandler, HTTPServer.
//
//   struct Hello : mpx::http::BaseHTTPRequestHandler {
//     Hello() { protocol_version = "HTTP/1.1"; }      // keep-alive
//     void do_GET() override {
//       send_response(200);
//       send_header("Content-Type", "text/plain");
//       send_header("Content-Length", "5");
//       end_headers();
//       wfile.write("hello");
//     }
//   };
//   mpx::http::ThreadingHTTPServer server({"127.0.0.1", 8000}, mpx::socketserver::handler<Hello>());
//   server.serve_forever();
//
// Requests are read by the RequestParser of the aio server (same limits,
// same statuses), fed from rfile's buffer. Differences from Python, each a
// fix: the parser reads the body too (Content-Length or chunked, bounded by
// Limits::max_body) — a handler finds it in body(), not in rfile; the head
// built by send_response/send_header goes into wfile's buffer with the body
// and leaves in one send (Python's wfile is unbuffered); `timeout` bounds
// the whole request, not each recv, so a client sending a byte at a time
// cannot hold a thread for ever.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "mpx/detail/http_parser.hpp"
#include "mpx/socketserver.hpp"

namespace mpx::http {

/// Python: http.client.HTTPMessage as BaseHTTPRequestHandler.headers —
/// read-only, case-insensitive lookup, fields in order.
class Headers {
 public:
  explicit Headers(const Request& r) noexcept : r_(&r) {}
  /// Python: headers.get(name) — the first field so named, or nullopt.
  std::optional<std::string_view> get(std::string_view name) const noexcept { return r_->header(name); }
  /// Python: headers.get(name, default).
  std::string_view get(std::string_view name, std::string_view fallback) const noexcept {
    return r_->header(name).value_or(fallback);
  }
  /// Python: len(headers), and the i-th (name, value) of headers.items().
  std::size_t size() const noexcept { return r_->header_count(); }
  std::pair<std::string_view, std::string_view> item(std::size_t i) const noexcept {
    return {r_->header_name(i), r_->header_value(i)};
  }

 private:
  const Request* r_;
};

/// Python: http.server.BaseHTTPRequestHandler. Override do_GET, do_POST...
/// (a method without an override answers 501, as Python's missing do_X).
class BaseHTTPRequestHandler : public socketserver::StreamRequestHandler {
  // First: `headers` below refers into it.
  RequestParser parser_;

 public:
  BaseHTTPRequestHandler() : headers(parser_.request()) {}

  // ---- Python's class attributes (set them in the subclass's constructor) --
  /// Python: server_version, sys_version — joined in the Server header.
  std::string server_version = "BaseHTTP/0.6";
  std::string sys_version = "mpx/0.1";
  /// Python: protocol_version — "HTTP/1.0" closes after each response;
  /// "HTTP/1.1" keeps the connection for the next (send Content-Length then).
  std::string protocol_version = "HTTP/1.0";
  /// Python: error_content_type; error_message_format is detail::error_page.
  std::string error_content_type = "text/html;charset=utf-8";
  /// Bounds on a request (Python: 65536-byte lines, 100 headers).
  Limits limits{};

  // ---- Python's per-request attributes ----------------------------------
  /// Python: command, path, request_version, requestline.
  std::string command, path, request_version = "HTTP/0.9", requestline;
  /// Python: close_connection — set by parse_request and by send_header("Connection", ...).
  bool close_connection = true;
  /// Python: headers (valid while the request is served).
  Headers headers;
  /// The request's body, de-chunked (Python's handlers read it from rfile).
  std::string_view body() const noexcept { return parser_.request().body(); }

  // ---- handlers ------------------------------------------------------------
  virtual void do_GET() { unsupported(); }
  virtual void do_HEAD() { unsupported(); }
  virtual void do_POST() { unsupported(); }
  virtual void do_PUT() { unsupported(); }
  virtual void do_DELETE() { unsupported(); }
  virtual void do_PATCH() { unsupported(); }
  virtual void do_OPTIONS() { unsupported(); }
  /// A method other than those above (Python finds do_<command> by name);
  /// the default answers 501.
  virtual void do_method(std::string_view method);

  // ---- Python's methods ------------------------------------------------------
  /// Python: handle() — handle_one_request() until close_connection.
  void handle() override;
  /// Python: handle_one_request(). Timeouts end the connection (logged).
  virtual void handle_one_request();
  /// Python: handle_expect_100() — answers "100 Continue"; false refuses the body.
  virtual bool handle_expect_100();
  /// Python: send_error(code, message=None, explain=None) — logs, then an
  /// HTML error page (none for HEAD, 1xx, 204, 205, 304) and Connection: close.
  void send_error(int code, std::string_view message = {}, std::string_view explain = {});
  /// Python: send_response(code, message=None) — logs, status line, Server and Date.
  void send_response(int code, std::string_view message = {});
  /// Python: send_response_only(code, message=None) — the status line alone.
  void send_response_only(int code, std::string_view message = {});
  /// Python: send_header(keyword, value) — buffered until end_headers().
  /// Throws: ValueError for a bad name or a line break in the value.
  void send_header(std::string_view keyword, std::string_view value);
  /// Python: end_headers() — the blank line, then flush_headers().
  void end_headers();
  /// Python: flush_headers() — the buffered head into wfile (which sends it
  /// with what follows, or before rfile next waits for the client).
  void flush_headers();
  /// Python: log_request(code='-', size='-').
  void log_request(std::string_view code = "-", std::string_view size = "-");
  void log_request(int code, std::string_view size = "-");
  /// Python: log_error(...) — log_message.
  void log_error(std::string_view message);
  /// Python: log_message(format, *args) with the message already formatted:
  /// "host - - [date] message\n" on stderr, control characters escaped.
  virtual void log_message(std::string_view message);
  /// Python: version_string(), date_time_string(timestamp=None),
  /// log_date_time_string(), address_string().
  std::string version_string() const;
  static std::string date_time_string(std::optional<std::int64_t> timestamp = std::nullopt);
  static std::string log_date_time_string();
  std::string address_string() const;

 private:
  bool read_request();  // false: no request (EOF, timeout or an error already sent)
  void dispatch();
  void unsupported();
  void consume(std::size_t n);
  void set_request_fields();
  std::string headers_buffer_;
  bool in_unsupported_ = false;
};

/// Python: http.server.SimpleHTTPRequestHandler — files under `directory`,
/// an index.html (or a listing) for a directory, 404 for the rest, HEAD too.
/// Paths are resolved as Python's translate_path: ".." cannot leave `directory`.
class SimpleHTTPRequestHandler : public BaseHTTPRequestHandler {
 public:
  /// Python: SimpleHTTPRequestHandler(..., directory=None) — "" is the current directory.
  explicit SimpleHTTPRequestHandler(std::string directory = {});
  /// Python: directory, index_pages.
  std::string directory;
  std::vector<std::string> index_pages = {"index.html", "index.htm"};
  /// false: a directory without an index page is a 404, not a listing.
  bool list_directories = true;

  void do_GET() override;
  void do_HEAD() override;
  /// Python: translate_path(path) — the file for a URL path, inside `directory`.
  std::string translate_path(std::string_view url_path) const;
  /// Python: guess_type(path) — by extension; "application/octet-stream" if unknown.
  virtual std::string guess_type(std::string_view file_path) const;

 private:
  // Python's send_head(): the head sent, and the file to copy (or -1).
  int send_head();
  bool list_directory(const std::string& dir);
};

/// Python: http.server.HTTPServer and ThreadingHTTPServer (and mpx's
/// PreforkHTTPServer): a TCP server that knows its name and port.
template <class Policy>
class BasicHTTPServer : public socketserver::Server<socketserver::TCP, Policy> {
 public:
  BasicHTTPServer(net::InetAddress address, socketserver::HandlerClass handler, bool bind_and_activate = true)
      : socketserver::Server<socketserver::TCP, Policy>(address, std::move(handler), bind_and_activate),
        server_name(address.host) {
    if constexpr (std::is_same_v<Policy, socketserver::Threading>) this->daemon_threads = true;  // as Python
    if (bind_and_activate) server_port = net::port(this->server_address);
  }
  /// Python: server_name (the host given; Python asks getfqdn), server_port.
  std::string server_name;
  std::uint16_t server_port = 0;
};
using HTTPServer = BasicHTTPServer<socketserver::Sync>;
using ThreadingHTTPServer = BasicHTTPServer<socketserver::Threading>;
using PreforkHTTPServer = BasicHTTPServer<socketserver::Prefork>;

}  // namespace mpx::http
