// bench/aio/peer_boost_asio.cpp -> bench_aio_peer_boost_asio: the echo server
// an Asio user writes (PEERS.md, P4): one io_context(1) run by one thread,
// async_read_some then async_write per connection. It serves every aio figure
// (Asio has one way to write it, so the streams figure gets the same server).
#include <utility>  // Boost 1.74's asio/awaitable.hpp misses it under -std=c++20
// clang-format off
#include <boost/asio.hpp>
// clang-format on
#include <memory>

#include "drive.hpp"

namespace {

namespace asio = boost::asio;
using asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : sock_(std::move(s)) {}
  void read() {
    sock_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      asio::async_write(self->sock_, asio::buffer(self->buf_, n), [self](boost::system::error_code wec, std::size_t) {
        if (!wec) self->read();
      });
    });
  }

 private:
  tcp::socket sock_;
  char buf_[4096];
};

void do_accept(tcp::acceptor& acc) {
  acc.async_accept([&acc](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s))->read();
    }
    do_accept(acc);
  });
}

}  // namespace

int main(int argc, char** argv) {
  return aiobench::drive(argc, argv, [](const aiobench::Figure&, int stop_fd, std::promise<std::uint16_t>& port) {
    asio::io_context io(1);  // concurrency hint 1: one thread, no locking
    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acc.listen(1024);
    asio::posix::stream_descriptor stop(io, stop_fd);
    stop.async_wait(asio::posix::stream_descriptor::wait_read, [&](boost::system::error_code) { io.stop(); });
    do_accept(acc);
    port.set_value(acc.local_endpoint().port());
    io.run();
    stop.release();  // the driver owns stop_fd and closes it
  });
}
