// mpx/socketserver/aio_handler.hpp — the coroutine handler of the Aio policy.
//
//   struct Echo : mpx::socketserver::AioRequestHandler {
//     mpx::aio::Task<> handle(mpx::aio::StreamReader reader, mpx::aio::StreamWriter writer) override {
//       for (std::string line; !(line = co_await reader.readline()).empty();) {
//         writer.write(line);
//         co_await writer.drain();
//       }
//     }
//   };
//   mpx::socketserver::AioTCPServer server({"127.0.0.1", 0}, mpx::socketserver::aio_handler<Echo>());
//
// A blocking handler would stop the loop and every connection on it, so the
// Aio policy takes this coroutine counterpart of StreamRequestHandler:
// asyncio's client_connected_cb(reader, writer) as a class, one object per
// connection, alive until handle() finishes.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "mpx/aio/streams.hpp"
#include "mpx/aio/task.hpp"
#include "mpx/net/socket.hpp"

namespace mpx::socketserver {

class BaseServer;

/// Subclass it and override handle(); aio_handler<H>() makes the server
/// construct an H per connection.
class AioRequestHandler {
 public:
  AioRequestHandler() = default;
  AioRequestHandler(const AioRequestHandler&) = delete;
  AioRequestHandler& operator=(const AioRequestHandler&) = delete;
  virtual ~AioRequestHandler() = default;

  /// Serves one connection. The connection closes when the last copy of
  /// `writer` goes. An exception reaches the server's handle_error.
  virtual aio::Task<> handle(aio::StreamReader reader, aio::StreamWriter writer) = 0;

  /// Python: self.client_address, self.server (set before handle() runs).
  net::Address client_address;
  BaseServer* server = nullptr;
};

/// What the Aio policy calls per connection (Python: client_connected_cb).
using AioHandlerClass = std::function<aio::Task<>(aio::StreamReader, aio::StreamWriter, BaseServer&)>;

namespace detail {
/// Runs `h` on one connection; reports its error to server.handle_error.
aio::Task<> serve_aio(std::unique_ptr<AioRequestHandler> h, aio::StreamReader reader, aio::StreamWriter writer,
                      BaseServer* server);
}  // namespace detail

/// The AioHandlerClass that constructs an H(args...) per connection.
template <class H, class... Args>
AioHandlerClass aio_handler(Args... args) {
  static_assert(std::is_base_of_v<AioRequestHandler, H>, "aio_handler<H>(): H must derive from AioRequestHandler");
  return [... args = std::move(args)](aio::StreamReader reader, aio::StreamWriter writer, BaseServer& server) {
    return detail::serve_aio(std::make_unique<H>(args...), std::move(reader), std::move(writer), &server);
  };
}

}  // namespace mpx::socketserver
