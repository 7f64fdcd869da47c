// Fuzz target: mpx::http::RequestParser on hostile bytes. The parser must
// never consume more than it was given, never store more than its limits
// allow, and must not depend on how the bytes are split: the same input fed
// at once and fed byte by byte gives the same requests, or fails at the same
// request with the same status.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_target.hpp"
#include "mpx/detail/http_parser.hpp"

namespace {

constexpr mpx::http::Limits kLimits{.max_request_line = 64, .max_headers = 8, .max_header_bytes = 256, .max_body = 512};

// One line per request ("GET /x HTTP/1.1 k=1 c=0 h=Host:a| body=...") or "error 400" at the end.
std::string summary(const mpx::http::Request& r) {
  std::string s(r.method());
  s += ' ';
  s += r.target();
  s += ' ';
  s += r.version();
  s += r.keep_alive() ? " k=1" : " k=0";
  s += r.chunked() ? " c=1" : " c=0";
  s += " h=";
  for (std::size_t i = 0; i < r.header_count(); ++i) {
    s += r.header_name(i);
    s += ':';
    s += r.header_value(i);
    s += '|';
  }
  s += " body=";
  s += r.body();
  return s;
}

void check_bounds(const mpx::http::Request& r) {
  if (r.body().size() > kLimits.max_body || r.header_count() > kLimits.max_headers ||
      r.method().size() + r.target().size() + r.version().size() > kLimits.max_request_line + 1) {
    std::fprintf(stderr, "a request is over the limits\n");
    std::abort();
  }
}

// Feeds `input` in pieces of `step` bytes (0: all at once); returns the summaries.
std::vector<std::string> parse(std::string_view input, std::size_t step) {
  mpx::http::RequestParser parser(kLimits);
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t len = step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
    std::string_view piece = input.substr(pos, len);
    std::size_t n = parser.feed(piece);
    if (n > piece.size()) {
      std::fprintf(stderr, "feed consumed more than it was given\n");
      std::abort();
    }
    pos += n;
    check_bounds(parser.request());
    if (parser.complete()) {
      out.push_back(summary(parser.request()));
      parser.reset();
    } else if (parser.failed()) {
      int st = parser.error_status();
      if (st != 400 && st != 413 && st != 414 && st != 431 && st != 501 && st != 505) {
        std::fprintf(stderr, "unexpected status %d\n", st);
        std::abort();
      }
      out.push_back("error " + std::to_string(st));
      return out;
    } else if (n != piece.size()) {
      std::fprintf(stderr, "feed stopped early without a result\n");
      std::abort();
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto whole = parse(input, 0);
  auto bytewise = parse(input, 1);
  auto sevens = parse(input, 7);
  if (whole != bytewise || whole != sevens) {
    std::fprintf(stderr, "the result depends on how the input is split\n");
    std::abort();
  }
  return 0;
}

std::vector<std::vector<std::uint8_t>> mpx_fuzz_seeds() {
  auto bytes = [](std::string_view s) { return std::vector<std::uint8_t>(s.begin(), s.end()); };
  return {
      bytes("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
      bytes("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
      bytes("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n"),
      bytes("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n"),
      bytes("PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"),
      bytes("GET / HTTP/2.0\r\n\r\n"),
  };
}
