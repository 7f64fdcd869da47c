// tests/support/http_client.hpp — a blocking HTTP/1.1 client for the server
// tests: raw bytes out, responses read back by their Content-Length.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "mpx/errors.hpp"
#include "mpx/net/socket.hpp"

namespace mpx::test {

struct HttpReply {
  int status = 0;
  std::string head;  // status line and headers, up to the blank line
  std::string body;
  bool has(std::string_view header_line) const { return head.find(header_line) != std::string::npos; }
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::chrono::seconds timeout = std::chrono::seconds(10)) {
    sock_.settimeout(timeout);
    sock_.connect(net::InetAddress{"127.0.0.1", port});
  }
  void send(std::string_view bytes) { sock_.sendall(bytes); }
  /// Reads one response; `head_only` for the answer to HEAD (no body despite Content-Length).
  /// Throws: EOFError if the server closed first, TimeoutError.
  HttpReply read(bool head_only = false) {
    HttpReply r;
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) fill();
    r.head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    r.status = std::stoi(r.head.substr(9, 3));
    std::size_t length = 0;
    if (auto at = lower(r.head).find("\r\ncontent-length:"); at != std::string::npos)
      length = std::stoul(r.head.substr(at + 17));
    if (head_only || r.status == 100 || r.status == 204 || r.status == 304) length = 0;
    while (buf_.size() < length) fill();
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }
  HttpReply request(std::string_view bytes, bool head_only = false) {
    send(bytes);
    return read(head_only);
  }
  /// True once the server has closed the connection (reads until EOF, dropping bytes).
  bool closed_by_server() {
    try {
      for (;;) fill();
    } catch (const EOFError&) {
      return true;
    } catch (const ConnectionResetError&) {
      return true;
    }
  }
  /// Everything until the server closes (a body without Content-Length).
  std::string read_to_eof() {
    try {
      for (;;) fill();
    } catch (const EOFError&) {
    }
    return std::exchange(buf_, {});
  }
  /// What is left unread after the last response.
  const std::string& pending() const { return buf_; }
  net::Socket& socket() { return sock_; }

 private:
  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
    return s;
  }
  void fill() {
    auto data = sock_.recv(65536);
    if (data.empty()) throw EOFError("server closed the connection");
    buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  net::Socket sock_;
  std::string buf_;
};

}  // namespace mpx::test
