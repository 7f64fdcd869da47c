// mpx/detail/http_parser.hpp — the incremental HTTP/1.1 request parser.
//
// A state machine over bytes: feed() takes whatever arrived (one byte or
// many pipelined requests) and stops at the end of one request, so the same
// parser serves a blocking handler reading a stream and the aio protocol
// handed a buffer. What it keeps is copied into strings that reset() clears
// but does not free: after the first requests a connection parses without
// allocating. Every limit is checked as bytes arrive, so a hostile peer
// never makes it hold more than the limits allow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mpx::http {

/// Bounds on one request; beyond them the request fails with the status given.
struct Limits {
  /// Request line (method, target, version) in bytes: 414 URI Too Long.
  std::size_t max_request_line = 8190;
  /// Header fields per request: 431 Request Header Fields Too Large.
  std::size_t max_headers = 100;
  /// Bytes of the whole header section (and of a chunked body's trailers): 431.
  std::size_t max_header_bytes = 65536;
  /// Body bytes (Content-Length or the sum of the chunks): 413 Content Too Large.
  std::size_t max_body = 1 << 20;
};

/// One parsed request. Views stay valid until the parser's next reset().
class Request {
 public:
  std::string_view method() const noexcept { return method_; }
  /// The request target as sent ("/index.html?q=1").
  std::string_view target() const noexcept { return target_; }
  /// "HTTP/1.0" or "HTTP/1.1" as sent.
  std::string_view version() const noexcept { return version_; }
  /// 0 for HTTP/1.0, 1 for HTTP/1.1 (and later 1.x).
  int version_minor() const noexcept { return minor_; }
  std::size_t header_count() const noexcept { return fields_.size(); }
  std::string_view header_name(std::size_t i) const noexcept { return view(fields_[i].name, fields_[i].name_len); }
  std::string_view header_value(std::size_t i) const noexcept { return view(fields_[i].value, fields_[i].value_len); }
  /// The first field named `name` (case-insensitive), without surrounding blanks.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  /// The body, de-chunked.
  std::string_view body() const noexcept { return body_; }
  /// Whether the connection may serve another request after this one:
  /// HTTP/1.1 unless "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive() const noexcept { return keep_alive_; }
  /// "Expect: 100-continue" was sent.
  bool expect_continue() const noexcept { return expect_continue_; }
  bool chunked() const noexcept { return chunked_; }

 private:
  friend class RequestParser;
  struct Field {
    std::uint32_t name, name_len, value, value_len;  // offsets into text_
  };
  std::string_view view(std::uint32_t off, std::uint32_t len) const noexcept { return {text_.data() + off, len}; }
  void clear() noexcept;

  std::string method_, target_, version_;
  std::string text_;  // every field's name and value, back to back
  std::vector<Field> fields_;
  std::string body_;
  int minor_ = 1;
  bool keep_alive_ = true, expect_continue_ = false, chunked_ = false;
};

/// Python has no such class (http.server reads lines with rfile.readline()):
/// the parser under every mpx::http server.
class RequestParser {
 public:
  explicit RequestParser(Limits limits = {}) : limits_(limits) {}

  /// Consumes bytes of `data` up to the end of one request (or the first
  /// error) and returns how many. Call again with the rest once reset().
  std::size_t feed(std::string_view data) noexcept;
  /// A whole request is parsed: request() is ready.
  bool complete() const noexcept { return state_ == State::complete; }
  /// The request is malformed or over a limit: error_status() says how.
  bool failed() const noexcept { return state_ == State::failed; }
  /// Some byte of a request arrived (so a close now cuts a request short).
  bool started() const noexcept { return state_ != State::start || blank_lines_ != 0; }
  /// The header section is parsed and the body is still coming (the moment
  /// to answer "Expect: 100-continue").
  bool reading_body() const noexcept;
  /// 400, 413, 414, 431, 501 or 505 once failed().
  int error_status() const noexcept { return error_status_; }
  /// Why, in a few words ("header line without a colon").
  std::string_view error_reason() const noexcept { return error_reason_; }
  const Request& request() const noexcept { return req_; }
  Request& request() noexcept { return req_; }
  /// Back to the start of a request, keeping the buffers' capacity.
  void reset() noexcept;
  const Limits& limits() const noexcept { return limits_; }

 private:
  enum class State : std::uint8_t {
    start,
    method,
    target,
    version,
    line_lf,
    field_start,
    field_name,
    field_ows,
    field_value,
    field_lf,
    headers_lf,
    body,
    chunk_size,
    chunk_ext,
    chunk_size_lf,
    chunk_data,
    chunk_data_cr,
    chunk_data_lf,
    complete,
    failed
  };
  std::size_t fail(std::size_t consumed, int status, const char* reason) noexcept;
  bool finish_headers() noexcept;
  bool finish_version() noexcept;
  bool end_field() noexcept;

  Limits limits_;
  Request req_;
  State state_ = State::start;
  bool in_trailer_ = false;
  bool saw_cr_ = false;  // the line ending being read began with CR
  std::size_t blank_lines_ = 0, line_bytes_ = 0, header_bytes_ = 0, field_count_ = 0;
  std::uint64_t remaining_ = 0;  // body or chunk bytes still to come
  std::size_t chunk_digits_ = 0;
  std::size_t trailer_name_len_ = 0;  // trailer fields are not stored
  int error_status_ = 0;
  const char* error_reason_ = "";
};

}  // namespace mpx::http
