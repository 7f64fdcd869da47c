// bench/common/asio_server.hpp — how the Boost.Asio-based peers (bench/aio's
// echo, bench/http's Beast) run: one io_context(1) on one thread, the usual
// accept loop making a Session per connection, until stop_fd is readable.
// A Session is constructed from its tcp::socket and started with start().
#pragma once

#include <utility>  // Boost 1.74's asio/awaitable.hpp misses it under -std=c++20
// clang-format off
#include <boost/asio.hpp>
// clang-format on
#include <cstdint>
#include <future>
#include <memory>

namespace asio_server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

template <class Session>
void accept_loop(tcp::acceptor& acc) {
  acc.async_accept([&acc](boost::system::error_code ec, tcp::socket s) {
    if (!ec) {
      s.set_option(tcp::no_delay(true));
      std::make_shared<Session>(std::move(s))->start();
    }
    accept_loop<Session>(acc);
  });
}

/// Serves on 127.0.0.1 port 0 (told through `port`) until stop_fd is readable.
template <class Session>
void serve(int stop_fd, std::promise<std::uint16_t>& port) {
  asio::io_context io(1);  // concurrency hint 1: one thread, no locking
  tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  acc.listen(1024);
  asio::posix::stream_descriptor stop(io, stop_fd);
  stop.async_wait(asio::posix::stream_descriptor::wait_read, [&](boost::system::error_code) { io.stop(); });
  accept_loop<Session>(acc);
  port.set_value(acc.local_endpoint().port());
  io.run();
  stop.release();  // the driver owns stop_fd and closes it
}

}  // namespace asio_server
