// src/http/base_handler.cpp — BaseHTTPRequestHandler: Python's
// http.server request loop over RequestParser and the socketserver files.
#include <cstdio>
#include <ctime>

#include "mpx/errors.hpp"
#include "mpx/http.hpp"

namespace mpx::http {
namespace {

constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace

void BaseHTTPRequestHandler::handle() {
  parser_ = RequestParser(limits);
  close_connection = true;
  handle_one_request();
  while (!close_connection) handle_one_request();
}

void BaseHTTPRequestHandler::handle_one_request() {
  try {
    if (!read_request()) return;
    dispatch();
    // Keep-alive answers wait in wfile: rfile flushes them before it waits
    // for the client, so pipelined requests are answered in one send.
    if (close_connection) wfile.flush();
  } catch (const TimeoutError& e) {
    log_error(std::string("Request timed out: ") + e.what());
    close_connection = true;
  }
}

void BaseHTTPRequestHandler::consume(std::size_t n) {
  char scratch[4096];
  while (n > 0) {
    std::size_t k = n < sizeof scratch ? n : sizeof scratch;
    rfile.readinto(std::as_writable_bytes(std::span(scratch, k)));
    n -= k;
  }
}

void BaseHTTPRequestHandler::set_request_fields() {
  const Request& r = parser_.request();
  command = r.method();
  path = r.target();
  request_version = r.version().empty() ? "HTTP/0.9" : std::string(r.version());
  requestline = command;
  if (!path.empty()) requestline += " " + path;
  if (!r.version().empty()) requestline += " " + std::string(r.version());
}

bool BaseHTTPRequestHandler::read_request() {
  parser_.reset();
  command.clear();
  path.clear();
  requestline.clear();
  request_version = "HTTP/0.9";
  // `timeout` bounds the whole request: each wait gets what is left of it.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (timeout) deadline = std::chrono::steady_clock::now() + *timeout;
  bool continued = false;
  for (;;) {
    if (deadline) {
      auto left = *deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) throw TimeoutError("timed out");
      request.settimeout(std::chrono::duration_cast<std::chrono::nanoseconds>(left));
    }
    std::string_view avail = rfile.peek(1);
    if (avail.empty()) {  // EOF: the client is done (or gave up mid-request)
      close_connection = true;
      return false;
    }
    consume(parser_.feed(avail));
    if (parser_.complete()) break;
    if (parser_.failed()) {
      set_request_fields();
      close_connection = true;
      send_error(parser_.error_status(), parser_.error_reason());
      wfile.flush();
      return false;
    }
    const Request& r = parser_.request();
    if (!continued && parser_.reading_body() && r.expect_continue() && r.version_minor() >= 1 &&
        protocol_version >= "HTTP/1.1") {
      set_request_fields();
      continued = true;
      if (!handle_expect_100()) {
        close_connection = true;
        wfile.flush();
        return false;
      }
    }
  }
  if (deadline) request.settimeout(*timeout);
  set_request_fields();
  // Python's parse_request: HTTP/1.1 on both sides keeps the connection unless "Connection: close".
  close_connection = !(protocol_version >= "HTTP/1.1" && parser_.request().keep_alive());
  return true;
}

void BaseHTTPRequestHandler::dispatch() {
  if (command == "GET")
    do_GET();
  else if (command == "HEAD")
    do_HEAD();
  else if (command == "POST")
    do_POST();
  else if (command == "PUT")
    do_PUT();
  else if (command == "DELETE")
    do_DELETE();
  else if (command == "PATCH")
    do_PATCH();
  else if (command == "OPTIONS")
    do_OPTIONS();
  else
    do_method(command);
}

void BaseHTTPRequestHandler::do_method(std::string_view) { unsupported(); }

void BaseHTTPRequestHandler::unsupported() { send_error(501, "Unsupported method ('" + command + "')"); }

bool BaseHTTPRequestHandler::handle_expect_100() {
  send_response_only(100);
  end_headers();
  return true;
}

void BaseHTTPRequestHandler::send_error(int code, std::string_view message, std::string_view explain) {
  std::string_view phrase = reason_phrase(code), description = status_description(code);
  if (message.empty()) message = phrase.empty() ? "???" : phrase;
  if (explain.empty()) explain = description.empty() ? "???" : description;
  log_error("code " + std::to_string(code) + ", message " + std::string(message));
  send_response(code, message);
  send_header("Connection", "close");
  std::string body;
  if (code >= 200 && code != 204 && code != 205 && code != 304) {
    body = detail::error_page(code, message, explain);
    send_header("Content-Type", error_content_type);
    send_header("Content-Length", std::to_string(body.size()));
  }
  end_headers();
  if (command != "HEAD" && !body.empty()) wfile.write(body);
}

void BaseHTTPRequestHandler::send_response(int code, std::string_view message) {
  log_request(code);
  send_response_only(code, message);
  send_header("Server", version_string());
  send_header("Date", date_time_string());
}

void BaseHTTPRequestHandler::send_response_only(int code, std::string_view message) {
  // A reason with a line break would split the head: Python lets it through, mpx drops it.
  if (message.find_first_of("\r\n") != std::string_view::npos) message = {};
  detail::append_status_line(headers_buffer_, protocol_version, code, message);
}

void BaseHTTPRequestHandler::send_header(std::string_view keyword, std::string_view value) {
  detail::append_header(headers_buffer_, keyword, value);
  if (lower(keyword) == "connection") {
    std::string v = lower(value);
    if (v == "close")
      close_connection = true;
    else if (v == "keep-alive")
      close_connection = false;
  }
}

void BaseHTTPRequestHandler::end_headers() {
  headers_buffer_ += "\r\n";
  flush_headers();
}

void BaseHTTPRequestHandler::flush_headers() {
  wfile.write(headers_buffer_);
  headers_buffer_.clear();
}

void BaseHTTPRequestHandler::log_request(std::string_view code, std::string_view size) {
  log_message("\"" + requestline + "\" " + std::string(code) + " " + std::string(size));
}
void BaseHTTPRequestHandler::log_request(int code, std::string_view size) { log_request(std::to_string(code), size); }

void BaseHTTPRequestHandler::log_error(std::string_view message) { log_message(message); }

void BaseHTTPRequestHandler::log_message(std::string_view message) {
  // Python 3.12 escapes control characters: a request line cannot forge log lines or drive a terminal.
  std::string line = address_string() + " - - [" + log_date_time_string() + "] ";
  for (char c : message) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || (u >= 0x7f && u <= 0x9f)) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", u);
      line += esc;
    } else {
      line += c;
    }
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

std::string BaseHTTPRequestHandler::version_string() const { return server_version + " " + sys_version; }

std::string BaseHTTPRequestHandler::date_time_string(std::optional<std::int64_t> timestamp) {
  std::time_t t = timestamp ? static_cast<std::time_t>(*timestamp) : std::time(nullptr);
  std::tm tm{};
  char buf[64];
  if (gmtime_r(&t, &tm) == nullptr) throw ValueError("timestamp out of range");
  std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return {buf, n};
}

std::string BaseHTTPRequestHandler::log_date_time_string() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  char buf[64];
  if (localtime_r(&t, &tm) == nullptr) throw ValueError("time out of range");
  std::snprintf(buf, sizeof buf, "%02d/%s/%04d %02d:%02d:%02d", tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

std::string BaseHTTPRequestHandler::address_string() const {
  if (const auto* inet = std::get_if<net::InetAddress>(&client_address)) return inet->host;
  return net::to_string(client_address);
}

}  // namespace mpx::http
