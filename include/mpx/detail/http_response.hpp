// mpx/detail/http_response.hpp — building a response head into one buffer.
//
// Every server of mpx::http appends status line, headers and body to one
// string and sends it with one write: a head sent apart from its body is
// how Python's http.server meets Nagle's algorithm and a 40 ms stall.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mpx::http {

/// Python: http.HTTPStatus(status).phrase — "" for a code it does not know.
std::string_view reason_phrase(int status) noexcept;
/// Python: http.HTTPStatus(status).description — "" for a code it does not know.
std::string_view status_description(int status) noexcept;

namespace detail {

/// "HTTP/1.1 200 OK\r\n"; `reason` defaults to reason_phrase(status).
/// Throws: ValueError for a status outside 100..999 or a CR/LF in `reason`.
void append_status_line(std::string& out, std::string_view version, int status, std::string_view reason = {});
/// "Name: value\r\n". Throws: ValueError if the name is not a token or the
/// value holds CR, LF or NUL (header injection).
void append_header(std::string& out, std::string_view name, std::string_view value);
/// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", formatted once a second per thread.
void append_date_header(std::string& out);
void append_decimal(std::string& out, std::uint64_t n);
/// Python: html.escape(s, quote=False) appended to `out`.
void append_html_escaped(std::string& out, std::string_view s);
/// Python's BaseHTTPRequestHandler.error_message_format, filled in (HTML-escaped).
std::string error_page(int status, std::string_view message, std::string_view explain);

}  // namespace detail
}  // namespace mpx::http
