// mpx/socketserver/handlers.hpp — Python's request handler classes.
//
//   struct EchoHandler : mpx::socketserver::StreamRequestHandler {
//     void handle() override {
//       for (std::string_view line : rfile) wfile.write(line);
//     }
//   };
//   mpx::socketserver::ThreadingTCPServer server({"127.0.0.1", 0}, mpx::socketserver::handler<EchoHandler>());
//
// As in Python the server makes one handler object per request and its
// construction serves the request: setup(), handle(), then finish() — which
// runs even when handle() throws. The members Python's __init__ sets
// (request, client_address, server) are references bound before the
// subclass's constructor body runs, so a handler needs no constructor of its
// own: handler<H>() makes the server construct an H for each request inside
// a scope that tells BaseRequestHandler's constructor what to bind.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "mpx/detail/bytes.hpp"
#include "mpx/net/socket.hpp"
#include "mpx/socketserver/files.hpp"

namespace mpx::socketserver {

class BaseServer;

/// One request as the server sees it (Python's `request`): a stream
/// server's accepted connection, or a datagram server's packet with the
/// server's socket (Python's (data, socket) tuple).
struct Request {
  /// Stream: the accepted connection (owned). Datagram: unused.
  net::Socket connection;
  /// Datagram: the packet received. Stream: empty.
  Bytes packet;
  /// Datagram: the server's socket, which replies go through. Stream: null.
  net::Socket* server_socket = nullptr;

  /// What the handler talks through: the connection, or the server's socket.
  net::Socket& socket() noexcept { return server_socket != nullptr ? *server_socket : connection; }
  bool is_datagram() const noexcept { return server_socket != nullptr; }
};

/// Python: the RequestHandlerClass argument — called once per request to
/// serve it. handler<H>() makes one from a handler class; any callable with
/// this signature will do.
using HandlerClass = std::function<void(Request&, const net::Address&, BaseServer&)>;

namespace detail {
/// What the next BaseRequestHandler constructed on this thread binds to.
struct HandlerContext {
  Request* request = nullptr;
  const net::Address* client_address = nullptr;
  BaseServer* server = nullptr;
};
/// Sets this thread's context for one handler construction; restores the previous one.
class HandlerScope {
 public:
  HandlerScope(Request& request, const net::Address& client_address, BaseServer& server) noexcept;
  ~HandlerScope();
  HandlerScope(const HandlerScope&) = delete;
  HandlerScope& operator=(const HandlerScope&) = delete;

 private:
  HandlerContext saved_;
};
const HandlerContext& bound_context();
}  // namespace detail

/// Python: socketserver.BaseRequestHandler. Subclass it and override handle()
/// (and setup()/finish() if needed); the server constructs it per request.
class BaseRequestHandler {
 public:
  /// Binds to the request the server is serving on this thread.
  /// Throws: RuntimeError outside a server's handler<H>() call.
  BaseRequestHandler() : BaseRequestHandler(detail::bound_context()) {}
  virtual ~BaseRequestHandler() = default;
  BaseRequestHandler(const BaseRequestHandler&) = delete;
  BaseRequestHandler& operator=(const BaseRequestHandler&) = delete;

  /// Python: setup(), handle(), finish(). Defaults do nothing.
  virtual void setup() {}
  virtual void handle() {}
  virtual void finish() {}

  /// Python: self.request — the connection (stream) or the server's socket
  /// (datagram: Python's request[1]).
  net::Socket& request;
  /// Datagram: the packet (Python's request[0]); empty for a stream.
  std::span<const std::byte> packet;
  /// Python: self.client_address.
  const net::Address& client_address;
  /// Python: self.server (static_cast it to your server class for its members).
  BaseServer& server;

  /// setup(), handle(), finish() — finish() also when handle() throws.
  /// Python: BaseRequestHandler.__init__'s body. The server calls it.
  void serve();

 private:
  explicit BaseRequestHandler(const detail::HandlerContext& c)
      : request(c.request->socket()), packet(c.request->packet), client_address(*c.client_address), server(*c.server) {}
};

/// Python: socketserver.StreamRequestHandler — rfile and wfile over the
/// connection. Set the knobs in the subclass's constructor (Python sets them
/// as class attributes); setup() applies them.
class StreamRequestHandler : public BaseRequestHandler {
 public:
  /// rfile's buffer; <= 0: kDefaultBufferSize (Python: -1, the default buffering).
  long rbufsize = -1;
  /// wfile's buffer; 0: every write is a send (Python's default). mpx's
  /// default buffers, and rfile flushes wfile before it waits for the peer.
  long wbufsize = static_cast<long>(kDefaultBufferSize);
  /// The connection's timeout (Python: timeout = None).
  std::optional<std::chrono::nanoseconds> timeout = std::nullopt;
  /// TCP_NODELAY on the connection. Python's default is false; mpx's is true:
  /// a reply that does not fit in wfile's buffer leaves in several sends, and
  /// with Nagle on the last one waits for the peer's delayed ACK (~40 ms).
  bool disable_nagle_algorithm = true;

  /// Python: self.connection (the same socket as request).
  net::Socket& connection = request;
  /// Python: self.rfile, self.wfile (bound by setup()).
  SocketReader rfile;
  SocketWriter wfile;

  void setup() override;
  /// Flushes wfile (errors ignored, as Python) and closes both files.
  void finish() override;
};

/// Python: socketserver.DatagramRequestHandler — rfile reads the packet,
/// what is written to wfile is sent back to the client by finish().
class DatagramRequestHandler : public BaseRequestHandler {
 public:
  /// Python: self.socket (the server's socket; also `request`).
  net::Socket& socket = request;
  SocketReader rfile;
  SocketWriter wfile;

  void setup() override;
  /// Sends wfile's bytes to client_address with sendto (even none: an empty
  /// datagram, as Python).
  void finish() override;
};

/// The HandlerClass that constructs an H(args...) per request and serves it.
/// Python: passing the class object MyHandler.
template <class H, class... Args>
HandlerClass handler(Args... args) {
  static_assert(std::is_base_of_v<BaseRequestHandler, H>, "handler<H>(): H must derive from BaseRequestHandler");
  return [... args = std::move(args)](Request& request, const net::Address& client_address, BaseServer& server) {
    std::optional<H> h;
    {
      detail::HandlerScope scope(request, client_address, server);
      h.emplace(args...);
    }
    h->serve();
  };
}

}  // namespace mpx::socketserver
