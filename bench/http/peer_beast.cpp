// bench/http/peer_beast.cpp -> bench_http_peer_beast: a minimal Boost.Beast
// HTTP/1.1 server on one thread (PEERS.md, P5): async_read a request,
// async_write "200 OK" with the body "hello", keep-alive, as Beast's examples
// write it.
// clang-format off
#include "asio_server.hpp"
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
// clang-format on
#include "drive.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : stream_(std::move(s)) {}
  void start() { read(); }

 private:
  void read() {
    req_ = {};
    http::async_read(stream_, buf_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->respond();
    });
  }

  void respond() {
    res_ = {};
    res_.version(req_.version());
    res_.result(http::status::ok);
    res_.set(http::field::server, "beast");
    res_.set(http::field::content_type, "text/plain");
    res_.keep_alive(req_.keep_alive());
    res_.body() = "hello";
    res_.prepare_payload();
    http::async_write(stream_, res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec || !self->res_.keep_alive()) return self->close();
      self->read();
    });
  }
  void close() {
    beast::error_code ec;
    stream_.shutdown(tcp::socket::shutdown_send, ec);
  }
  tcp::socket stream_;
  beast::flat_buffer buf_;
  http::request<http::empty_body> req_;
  http::response<http::string_body> res_;
};

}  // namespace

int main(int argc, char** argv) { return httpbench::drive(argc, argv, asio_server::serve<Session>); }
