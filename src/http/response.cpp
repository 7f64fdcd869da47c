// src/http/response.cpp — status phrases, header validation, the Date cache.
#include <ctime>

#include "mpx/detail/http_response.hpp"
#include "mpx/errors.hpp"

namespace mpx::http {
namespace {

struct Status {
  int code;
  std::string_view phrase, description;
};
// Python's http.HTTPStatus (Lib/http/__init__.py), the codes a server sends.
constexpr Status kStatuses[] = {
    {100, "Continue", "Request received, please continue"},
    {101, "Switching Protocols", "Switching to new protocol; obey Upgrade header"},
    {200, "OK", "Request fulfilled, document follows"},
    {201, "Created", "Document created, URL follows"},
    {202, "Accepted", "Request accepted, processing continues off-line"},
    {203, "Non-Authoritative Information", "Request fulfilled from cache"},
    {204, "No Content", "Request fulfilled, nothing follows"},
    {205, "Reset Content", "Clear input form for further input"},
    {206, "Partial Content", "Partial content follows"},
    {300, "Multiple Choices", "Object has several resources -- see URI list"},
    {301, "Moved Permanently", "Object moved permanently -- see URI list"},
    {302, "Found", "Object moved temporarily -- see URI list"},
    {303, "See Other", "Object moved -- see Method and URL list"},
    {304, "Not Modified", "Document has not changed since given time"},
    {307, "Temporary Redirect", "Object moved temporarily -- see URI list"},
    {308, "Permanent Redirect", "Object moved permanently -- see URI list"},
    {400, "Bad Request", "Bad request syntax or unsupported method"},
    {401, "Unauthorized", "No permission -- see authorization schemes"},
    {403, "Forbidden", "Request forbidden -- authorization will not help"},
    {404, "Not Found", "Nothing matches the given URI"},
    {405, "Method Not Allowed", "Specified method is invalid for this resource"},
    {406, "Not Acceptable", "URI not available in preferred format"},
    {408, "Request Timeout", "Request timed out; try again later"},
    {409, "Conflict", "Request conflict"},
    {410, "Gone", "URI no longer exists and has been permanently removed"},
    {411, "Length Required", "Client must specify Content-Length"},
    {412, "Precondition Failed", "Precondition in headers is false"},
    {413, "Content Too Large", "Content is too large"},
    {414, "URI Too Long", "URI is too long"},
    {415, "Unsupported Media Type", "Entity body in unsupported format"},
    {416, "Range Not Satisfiable", "Cannot satisfy request range"},
    {417, "Expectation Failed", "Expect condition could not be satisfied"},
    {421, "Misdirected Request", "Server is not able to produce a response"},
    {426, "Upgrade Required", "Client should switch to a different protocol"},
    {429, "Too Many Requests", "The user has sent too many requests in a given amount of time (\"rate limiting\")"},
    {431, "Request Header Fields Too Large",
     "The server is unwilling to process the request because its header fields are too large"},
    {500, "Internal Server Error", "Server got itself in trouble"},
    {501, "Not Implemented", "Server does not support this operation"},
    {502, "Bad Gateway", "Invalid responses from another server/proxy"},
    {503, "Service Unavailable", "The server cannot process the request due to a high load"},
    {504, "Gateway Timeout", "The gateway server did not receive a timely response"},
    {505, "HTTP Version Not Supported", "Cannot fulfill request"},
};

const Status* find_status(int code) noexcept {
  for (const auto& s : kStatuses)
    if (s.code == code) return &s;
  return nullptr;
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}
bool has_line_break(std::string_view s) noexcept { return s.find_first_of(std::string_view("\r\n\0", 3)) != s.npos; }

}  // namespace

std::string_view reason_phrase(int status) noexcept {
  const Status* s = find_status(status);
  return s ? s->phrase : std::string_view{};
}
std::string_view status_description(int status) noexcept {
  const Status* s = find_status(status);
  return s ? s->description : std::string_view{};
}

namespace detail {

void append_html_escaped(std::string& out, std::string_view s) {
  for (char c : s) {
    if (c == '&')
      out += "&amp;";
    else if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else
      out += c;
  }
}

void append_decimal(std::string& out, std::uint64_t n) {
  char buf[20];
  char* p = buf + sizeof buf;
  do {
    *--p = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n != 0);
  out.append(p, static_cast<std::size_t>(buf + sizeof buf - p));
}

void append_status_line(std::string& out, std::string_view version, int status, std::string_view reason) {
  if (status < 100 || status > 999) throw ValueError("HTTP status out of range: " + std::to_string(status));
  if (reason.empty()) reason = reason_phrase(status);
  if (has_line_break(reason)) throw ValueError("line break in an HTTP reason phrase");
  out += version;
  out += ' ';
  append_decimal(out, static_cast<std::uint64_t>(status));
  out += ' ';
  out += reason;
  out += "\r\n";
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  if (!is_token(name)) throw ValueError("invalid HTTP header name: " + std::string(name));
  if (has_line_break(value)) throw ValueError("line break in the value of HTTP header " + std::string(name));
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_date_header(std::string& out) {
  // Formatting a date costs more than a small response; a second is the header's resolution.
  thread_local std::time_t cached_at = -1;
  thread_local char line[64];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    if (gmtime_r(&now, &tm) == nullptr) throw ValueError("gmtime_r failed");
    len = std::strftime(line, sizeof line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    cached_at = now;
  }
  out.append(line, len);
}

std::string error_page(int status, std::string_view message, std::string_view explain) {
  std::string out =
      "<!DOCTYPE HTML>\n<html lang=\"en\">\n    <head>\n        <meta charset=\"utf-8\">\n"
      "        <title>Error response</title>\n    </head>\n    <body>\n        <h1>Error response</h1>\n"
      "        <p>Error code: ";
  append_decimal(out, static_cast<std::uint64_t>(status));
  out += "</p>\n        <p>Message: ";
  append_html_escaped(out, message);
  out += ".</p>\n        <p>Error code explanation: ";
  append_decimal(out, static_cast<std::uint64_t>(status));
  out += " - ";
  append_html_escaped(out, explain);
  out += ".</p>\n    </body>\n</html>\n";
  return out;
}

}  // namespace detail
}  // namespace mpx::http
