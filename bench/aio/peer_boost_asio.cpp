// bench/aio/peer_boost_asio.cpp -> bench_aio_peer_boost_asio: the echo server
// an Asio user writes (PEERS.md, P4): one io_context(1) run by one thread,
// async_read_some then async_write per connection. It serves every aio figure
// (Asio has one way to write it, so the streams figure gets the same server).
#include "asio_server.hpp"
#include "drive.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class Session : public std::enable_shared_from_this<Session> {
 public:
  explicit Session(tcp::socket s) : sock_(std::move(s)) {}
  void start() { read(); }

 private:
  void read() {
    sock_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
      if (ec) return;
      asio::async_write(self->sock_, asio::buffer(self->buf_, n), [self](boost::system::error_code wec, std::size_t) {
        if (!wec) self->read();
      });
    });
  }

  tcp::socket sock_;
  char buf_[4096];
};

}  // namespace

int main(int argc, char** argv) {
  return aiobench::drive(argc, argv, [](const aiobench::Figure&, int stop_fd, std::promise<std::uint16_t>& port) {
    asio_server::serve<Session>(stop_fd, port);
  });
}
