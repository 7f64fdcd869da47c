// mpx/http.hpp — a small HTTP/1.1 server layer (Python: http.server).
//
//   // The fast server: one aio loop per worker process, keep-alive, pipelining.
//   mpx::http::serve("127.0.0.1", 8080, [](const mpx::http::Request& req, mpx::http::Response& resp) {
//     resp.set_header("Content-Type", "text/plain");
//     resp.body = "hello";
//   }, {.workers = 2});
//
// Pieces, one mechanism under all of them:
//   RequestParser (detail/http_parser.hpp)  bytes -> Request, with Limits;
//       malformed -> 400, too large: body 413, headers 431, request line 414,
//       HTTP/2+ -> 505, unknown Transfer-Encoding -> 501.
//   detail/http_response.hpp                status line + headers + body
//       appended to one buffer, sent with one write.
//   start_server / serve (src/http/aio_server.cpp)  an aio::Protocol per
//       connection: every request parsed from one read is answered, and the
//       answers leave in one write; idle or slow clients are closed after
//       ServeOptions::timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mpx/aio/protocols.hpp"
#include "mpx/detail/http_parser.hpp"
#include "mpx/detail/http_response.hpp"
#include "mpx/http/handlers.hpp"

namespace mpx::http {

/// What a Handler fills in; the server adds Date, Server, Content-Length and
/// Connection. One Response per connection, cleared (not freed) between requests.
class Response {
 public:
  int status = 200;
  std::string body;
  /// Closes the connection after this response.
  bool close = false;
  /// Adds a header line. Throws: ValueError for a bad name or a line break in the value.
  void set_header(std::string_view name, std::string_view value) { detail::append_header(headers_, name, value); }
  /// The header lines set so far, CRLF-terminated.
  std::string_view headers() const noexcept { return headers_; }
  void clear() noexcept {
    status = 200;
    body.clear();
    close = false;
    headers_.clear();
  }

 private:
  std::string headers_;
};

/// Runs on the loop's thread for every request; an exception gives a 500.
using Handler = std::function<void(const Request& request, Response& response)>;

struct ServeOptions {
  /// serve(): processes, each running its own aio loop on a SO_REUSEPORT
  /// listener (a dead one is replaced); 1: serve on the calling thread.
  int workers = 1;
  Limits limits{};
  /// A connection idle this long (or a request arriving slower) is closed;
  /// zero: never. Checked once per timeout/4 at most every second.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// serve(): called in the calling process once every worker listens, with the port.
  std::function<void(std::uint16_t port)> ready = {};
  /// listen() backlog; unset: SOMAXCONN.
  std::optional<int> backlog = std::nullopt;
  bool reuse_port = false;
  /// Value of the Server header.
  std::string server_name = "mpx";
  /// serve(): the aio backend of each loop ("epoll", "io_uring", "": the
  /// loop's default). epoll by default: with wrk -c50 on 2 cores, io_uring's
  /// p99 was 3-5x epoll's (7-33 ms vs 4-9 ms) for the same throughput.
  std::string backend = "epoll";
};

/// Starts an HTTP server on the running aio loop (Python's loop.create_server
/// with an HTTP protocol). Throws: OSError (EADDRINUSE...).
aio::Task<aio::Server> start_server(Handler handler, std::string host, std::uint16_t port, ServeOptions options = {});

/// Serves forever in this process (workers <= 1) or in `workers` child
/// processes; the workers die with the calling process (PR_SET_PDEATHSIG).
/// Throws: OSError; RuntimeError if a worker cannot start.
void serve(std::string host, std::uint16_t port, Handler handler, ServeOptions options = {});

}  // namespace mpx::http
