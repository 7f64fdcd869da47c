// src/http/parser.cpp — RequestParser's state machine (RFC 9112).
//
// Each pass of the loop handles one state; the states that collect text scan
// a run of acceptable bytes and append it at once, so a request arriving in
// one read costs a handful of appends, not one per byte. A scan never goes
// further than one byte past its limit: the check after the pass then fails
// the request before anything more is stored.
#include <array>

#include "mpx/detail/http_parser.hpp"

namespace mpx::http {
namespace {

// RFC 9110 tchar: the bytes of methods and field names.
constexpr std::array<bool, 256> make_tchar() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 'a' + 'A'] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr std::array<bool, 256> kTchar = make_tchar();

bool is_tchar(char c) noexcept { return kTchar[static_cast<unsigned char>(c)]; }
// Visible bytes, and obs-text (0x80-0xFF) that some clients send unescaped.
bool is_target_byte(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}
bool is_value_byte(char c) noexcept {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}
int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}
std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr std::size_t kMaxBlankLines = 16;  // before a request line (RFC 9112 2.2 tolerates some)
constexpr std::size_t kMaxChunkSizeDigits = 32;

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < fields_.size(); ++i)
    if (iequals(header_name(i), name)) return header_value(i);
  return std::nullopt;
}

void Request::clear() noexcept {
  method_.clear();
  target_.clear();
  version_.clear();
  text_.clear();
  fields_.clear();
  body_.clear();
  minor_ = 1;
  keep_alive_ = true;
  expect_continue_ = false;
  chunked_ = false;
}

void RequestParser::reset() noexcept {
  req_.clear();
  state_ = State::start;
  in_trailer_ = saw_cr_ = false;
  blank_lines_ = line_bytes_ = header_bytes_ = field_count_ = 0;
  remaining_ = 0;
  chunk_digits_ = 0;
  error_status_ = 0;
  error_reason_ = "";
}

bool RequestParser::reading_body() const noexcept {
  switch (state_) {
    case State::body:
    case State::chunk_size:
    case State::chunk_ext:
    case State::chunk_size_lf:
    case State::chunk_data:
    case State::chunk_data_cr:
    case State::chunk_data_lf:
      return true;
    default:
      return in_trailer_ && state_ != State::complete && state_ != State::failed;
  }
}

std::size_t RequestParser::fail(std::size_t consumed, int status, const char* reason) noexcept {
  state_ = State::failed;
  error_status_ = status;
  error_reason_ = reason;
  return consumed;
}

bool RequestParser::finish_version() noexcept {
  std::string_view v = req_.version_;
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
      v[7] > '9') {
    fail(0, 400, "bad request version");
    return false;
  }
  if (v[5] != '1') {
    fail(0, 505, "HTTP version not supported");
    return false;
  }
  req_.minor_ = v[7] - '0';
  return true;
}

bool RequestParser::end_field() noexcept {
  if (in_trailer_) return true;
  auto& f = req_.fields_.back();
  std::size_t len = req_.text_.size() - f.value;
  while (len > 0 && (req_.text_[f.value + len - 1] == ' ' || req_.text_[f.value + len - 1] == '\t')) --len;
  req_.text_.resize(f.value + len);
  f.value_len = static_cast<std::uint32_t>(len);
  return true;
}

bool RequestParser::finish_headers() noexcept {
  std::optional<std::uint64_t> length;
  bool chunked = false, close = false, keep_alive = false;
  for (std::size_t i = 0; i < req_.header_count(); ++i) {
    std::string_view name = req_.header_name(i), value = req_.header_value(i);
    if (iequals(name, "content-length")) {
      if (value.empty()) return fail(0, 400, "bad Content-Length"), false;
      std::uint64_t n = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return fail(0, 400, "bad Content-Length"), false;
        if (n > limits_.max_body || n > UINT64_MAX / 10 - 1) return fail(0, 413, "body too large"), false;
        n = n * 10 + static_cast<std::uint64_t>(c - '0');
      }
      if (length && *length != n) return fail(0, 400, "conflicting Content-Length"), false;
      length = n;
    } else if (iequals(name, "transfer-encoding")) {
      // Only "chunked" alone: anything else cannot be decoded (RFC 9112 6.1: 501).
      if (!iequals(value, "chunked")) return fail(0, 501, "unsupported Transfer-Encoding"), false;
      if (chunked) return fail(0, 400, "repeated Transfer-Encoding"), false;
      chunked = true;
    } else if (iequals(name, "connection")) {
      while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view token = trim(value.substr(0, comma));
        if (iequals(token, "close")) close = true;
        if (iequals(token, "keep-alive")) keep_alive = true;
        value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
      }
    } else if (iequals(name, "expect")) {
      if (iequals(value, "100-continue")) req_.expect_continue_ = true;
    }
  }
  // Both framings at once is how requests are smuggled past proxies (RFC 9112 6.3).
  if (chunked && length) return fail(0, 400, "both Transfer-Encoding and Content-Length"), false;
  req_.keep_alive_ = req_.minor_ >= 1 ? !close : (keep_alive && !close);
  if (chunked) {
    req_.chunked_ = true;
    // A chunked body in HTTP/1.0 may come from a proxy that got it wrong: answer, then close.
    if (req_.minor_ == 0) req_.keep_alive_ = false;
    state_ = State::chunk_size;
    chunk_digits_ = line_bytes_ = 0;
    remaining_ = 0;
  } else if (length && *length > 0) {
    if (*length > limits_.max_body) return fail(0, 413, "body too large"), false;
    remaining_ = *length;
    state_ = State::body;
  } else {
    state_ = State::complete;
  }
  return true;
}

std::size_t RequestParser::feed(std::string_view data) noexcept {
  const char* const begin = data.data();
  const char* const end = begin + data.size();
  const char* p = begin;
  auto done = [&] { return static_cast<std::size_t>(p - begin); };
  // The end of a scan of at most `room + 1` bytes, `room` being what the limit still allows.
  auto scan_end = [&](std::size_t used, std::size_t max) {
    std::size_t room = used < max ? max - used : 0;
    return static_cast<std::size_t>(end - p) > room ? p + room + 1 : end;
  };

  while (p < end) {
    const State s = state_;
    const char* const before = p;
    switch (s) {
      case State::start:
        if (*p == '\r' || *p == '\n') {
          if (++blank_lines_ > kMaxBlankLines) return fail(done(), 400, "blank lines instead of a request");
          ++p;
        } else {
          state_ = State::method;
        }
        break;
      case State::method: {
        const char* q = p;
        const char* lim = scan_end(line_bytes_, limits_.max_request_line);
        while (q < lim && is_tchar(*q)) ++q;
        req_.method_.append(p, static_cast<std::size_t>(q - p));
        p = q;
        if (p == end || p == lim) break;
        if (*p != ' ' || req_.method_.empty()) return fail(done(), 400, "bad request line");
        ++p;
        state_ = State::target;
        break;
      }
      case State::target: {
        const char* q = p;
        const char* lim = scan_end(line_bytes_, limits_.max_request_line);
        while (q < lim && is_target_byte(*q)) ++q;
        req_.target_.append(p, static_cast<std::size_t>(q - p));
        p = q;
        if (p == end || p == lim) break;
        if (*p != ' ' || req_.target_.empty()) return fail(done(), 400, "bad request line");
        ++p;
        state_ = State::version;
        break;
      }
      case State::version: {
        const char* q = p;
        const char* lim = scan_end(line_bytes_, limits_.max_request_line);
        while (q < lim && is_target_byte(*q) && req_.version_.size() + static_cast<std::size_t>(q - p) <= 8) ++q;
        req_.version_.append(p, static_cast<std::size_t>(q - p));
        p = q;
        if (p == end || p == lim) break;
        if (req_.version_.size() > 8) return fail(done(), 400, "bad request version");
        if (*p == '\r') {
          ++p;
          state_ = State::line_lf;
        } else if (*p == '\n') {
          ++p;
          if (!finish_version()) return done();
          state_ = State::field_start;
        } else {
          return fail(done(), 400, "bad request line");
        }
        break;
      }
      case State::line_lf:
        if (*p != '\n') return fail(done(), 400, "CR without LF");
        ++p;
        if (!finish_version()) return done();
        state_ = State::field_start;
        break;
      case State::field_start:
        if (*p == '\r') {
          ++p;
          state_ = State::headers_lf;
          break;
        }
        if (*p == '\n') {
          state_ = State::headers_lf;  // which consumes this LF
          break;
        }
        if (*p == ' ' || *p == '\t') return fail(done(), 400, "obsolete line folding");
        if (++field_count_ > limits_.max_headers) return fail(done(), 431, "too many headers");
        // Trailer fields are read and bounded, not kept.
        if (in_trailer_)
          trailer_name_len_ = 0;
        else
          req_.fields_.push_back({static_cast<std::uint32_t>(req_.text_.size()), 0, 0, 0});
        state_ = State::field_name;
        break;
      case State::field_name: {
        const char* q = p;
        const char* lim = scan_end(header_bytes_, limits_.max_header_bytes);
        while (q < lim && is_tchar(*q)) ++q;
        if (in_trailer_)
          trailer_name_len_ += static_cast<std::size_t>(q - p);
        else
          req_.text_.append(p, static_cast<std::size_t>(q - p));
        p = q;
        if (p == end || p == lim) break;
        std::size_t name_len = trailer_name_len_;
        if (!in_trailer_) {
          auto& f = req_.fields_.back();
          name_len = f.name_len = static_cast<std::uint32_t>(req_.text_.size() - f.name);
        }
        if (*p != ':' || name_len == 0) return fail(done(), 400, "bad header line");
        ++p;
        state_ = State::field_ows;
        break;
      }
      case State::field_ows:
        if (*p == ' ' || *p == '\t') {
          ++p;
        } else {
          if (!in_trailer_) req_.fields_.back().value = static_cast<std::uint32_t>(req_.text_.size());
          state_ = State::field_value;
        }
        break;
      case State::field_value: {
        const char* q = p;
        const char* lim = scan_end(header_bytes_, limits_.max_header_bytes);
        while (q < lim && is_value_byte(*q)) ++q;
        if (!in_trailer_) req_.text_.append(p, static_cast<std::size_t>(q - p));
        p = q;
        if (p == end || p == lim) break;
        if (*p == '\r') {
          ++p;
          state_ = State::field_lf;
        } else if (*p == '\n') {
          ++p;
          end_field();
          state_ = State::field_start;
        } else {
          return fail(done(), 400, "control character in a header");
        }
        break;
      }
      case State::field_lf:
        if (*p != '\n') return fail(done(), 400, "CR without LF");
        ++p;
        end_field();
        state_ = State::field_start;
        break;
      case State::headers_lf:
        if (*p != '\n') return fail(done(), 400, "CR without LF");
        ++p;
        if (in_trailer_) {
          state_ = State::complete;
          return done();
        }
        if (!finish_headers()) return done();
        if (state_ == State::complete) return done();
        break;
      case State::body: {
        std::size_t n = static_cast<std::size_t>(end - p);
        if (n > remaining_) n = static_cast<std::size_t>(remaining_);
        req_.body_.append(p, n);
        p += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          state_ = State::complete;
          return done();
        }
        break;
      }
      case State::chunk_size: {
        int d = hex_value(*p);
        if (d >= 0) {
          if (++chunk_digits_ > kMaxChunkSizeDigits) return fail(done(), 400, "bad chunk size");
          if (remaining_ > (UINT64_MAX >> 4)) return fail(done(), 413, "body too large");
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(d);
          if (remaining_ > limits_.max_body) return fail(done(), 413, "body too large");
          ++p;
          break;
        }
        if (chunk_digits_ == 0) return fail(done(), 400, "bad chunk size");
        if (*p == ';' || *p == ' ' || *p == '\t') {
          state_ = State::chunk_ext;
        } else if (*p == '\r') {
          ++p;
          state_ = State::chunk_size_lf;
        } else if (*p == '\n') {
          state_ = State::chunk_size_lf;
        } else {
          return fail(done(), 400, "bad chunk size");
        }
        break;
      }
      case State::chunk_ext: {
        // Extensions are skipped, bounded like a request line.
        const char* q = p;
        const char* lim = scan_end(line_bytes_, limits_.max_request_line);
        while (q < lim && *q != '\r' && *q != '\n') ++q;
        p = q;
        if (p == end || p == lim) break;
        if (*p == '\r') ++p;
        state_ = State::chunk_size_lf;
        break;
      }
      case State::chunk_size_lf:
        if (*p != '\n') return fail(done(), 400, "CR without LF");
        ++p;
        if (req_.body_.size() + remaining_ > limits_.max_body) return fail(done(), 413, "body too large");
        if (remaining_ == 0) {
          in_trailer_ = true;
          header_bytes_ = field_count_ = 0;
          state_ = State::field_start;
        } else {
          state_ = State::chunk_data;
        }
        break;
      case State::chunk_data: {
        std::size_t n = static_cast<std::size_t>(end - p);
        if (n > remaining_) n = static_cast<std::size_t>(remaining_);
        req_.body_.append(p, n);
        p += n;
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::chunk_data_cr;
        break;
      }
      case State::chunk_data_cr:
        if (*p == '\r') {
          ++p;
          state_ = State::chunk_data_lf;
          break;
        }
        [[fallthrough]];
      case State::chunk_data_lf:
        if (*p != '\n') return fail(done(), 400, "chunk without CRLF");
        ++p;
        chunk_digits_ = line_bytes_ = 0;
        state_ = State::chunk_size;
        break;
      case State::complete:
      case State::failed:
        return done();
    }
    // Limits, counted over what this pass consumed.
    auto n = static_cast<std::size_t>(p - before);
    switch (s) {
      case State::method:
      case State::target:
      case State::version:
      case State::line_lf:
        line_bytes_ += n;
        if (line_bytes_ > limits_.max_request_line) return fail(done(), 414, "request line too long");
        break;
      case State::chunk_size:
      case State::chunk_ext:
        line_bytes_ += n;
        if (line_bytes_ > limits_.max_request_line) return fail(done(), 400, "chunk extension too long");
        break;
      case State::field_start:
      case State::field_name:
      case State::field_ows:
      case State::field_value:
      case State::field_lf:
      case State::headers_lf:
        header_bytes_ += n;
        if (header_bytes_ > limits_.max_header_bytes) return fail(done(), 431, "headers too large");
        break;
      default:
        break;
    }
  }
  return done();
}

}  // namespace mpx::http
